//! The local stack behind `make run` and the end-to-end tests: the table created from
//! `template.yaml`, the SES sender identity, the demo business, and one HTTP server for the
//! functions. Everything AWS is moto server, reached through `AWS_ENDPOINT_URL`.

pub mod demo;
pub mod demo_space;
pub mod seed;
pub mod server;
pub mod ses;
pub mod stream;
pub mod table;

use std::path::PathBuf;

/// `template.yaml` at the root of the repository.
pub fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}
