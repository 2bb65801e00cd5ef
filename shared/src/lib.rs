//! Relance's common crate. The four Lambda functions are thin shells over it.
//!
//! In layers, each module importing only those listed before it (and `config`, which
//! every layer may read):
//! - [`domain`]: money, contact details, time, roles and the billing records with their
//!   rules, pure and tested alone.
//! - [`facts`]: what a provider told us, in our words: the layer between providers and ingest.
//! - [`providers`]: each provider's signature scheme and payloads, turned into facts (pure).
//! - [`schedule`]: reminder ladders (the only source of when), quiet hours, and the scan's
//!   decisions (pure).
//! - [`notify`]: the channel policy and the messages customers read.
//! - [`reports`]: dashboard series and KPIs from records already read (pure).
//! - [`store`]: the single DynamoDB table; its key design stays inside it.
//! - [`ingest`]: facts applied to the table, once, in order.
//! - [`settings`]: the owner's ladders, window, thresholds and date rules, stored and versioned.
//! - [`config`]: every setting read from the environment, once, at cold start.
//! - [`secrets`]: provider keys, from Secrets Manager in AWS and the environment locally.
//! - [`telemetry`]: logging set-up.
//! - [`http`]: the HTTPS client for the few calls that are not AWS APIs.
//! - [`api_error`]: the one error answer of the two HTTP functions (webhook and portal).

pub mod api_error;
pub mod config;
pub mod domain;
pub mod facts;
pub mod http;
pub mod ingest;
pub mod notify;
pub mod providers;
pub mod reports;
pub mod schedule;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod telemetry;
