//! Relance's common crate. The four Lambda functions are thin shells over it.
//!
//! - [`domain`]: money, contact details, time and the billing records, pure and tested alone.
//! - [`facts`]: what a provider told us, in our words: the layer between providers and ingest.
//! - [`providers`]: each provider's signature scheme and payloads, turned into facts.
//! - [`ingest`]: facts applied to the table, once, in order.
//! - [`notify`]: the channel policy and the messages customers read.
//! - [`schedule`]: reminder ladders, quiet hours, and the scan's decisions (pure).
//! - [`reports`]: dashboard series and KPIs from records already read (pure).
//! - [`store`]: the single DynamoDB table and its key design.
//! - [`config`]: settings read from the environment once, at cold start.
//! - [`secrets`]: provider keys, from Secrets Manager in AWS and the environment locally.
//! - [`telemetry`]: logging set-up.
//! - [`http`]: the HTTPS client for the few calls that are not AWS APIs.

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
pub mod store;
pub mod telemetry;
