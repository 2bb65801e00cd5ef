//! The end-to-end tests, one test binary: every module below is linked once with the AWS SDK,
//! instead of once per file. Run one module with a filter: `cargo test -p relance-tests
//! --test api chaos::`.
//!
//! All of them share one process and run on parallel threads, against the one moto server
//! of the run: each test works in a table of its own (`relance_tests::fresh_store`), names
//! the addresses and numbers it sends to uniquely (moto's list of sent messages is shared),
//! and installs nothing process-wide (the log capture in `data_safety` is scoped to its
//! thread).

mod agency;
mod authorisation;
mod back_office;
mod braintree_business;
mod browser;
mod chaos;
mod community;
mod data_safety;
mod date_rules;
mod dispatch;
mod dispatch_faults;
mod files;
mod functions;
mod holded_import;
mod lambda_shape;
mod local_stack;
mod openapi;
mod owner_templates;
mod pages;
mod portal;
mod scan;
mod secrets;
mod settings;
mod store;
mod template;
mod webhooks;
