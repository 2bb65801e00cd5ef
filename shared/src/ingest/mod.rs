//! Ingestion: a provider's delivery (its [`crate::facts`]) applied to our records exactly once, whatever the order
//! and however often it arrives.
//!
//! - [`apply`]: reads the records the facts touch, decides the changes, and commits them
//!   with the delivery's idempotency key in one transaction. Its loop and shared lookups are
//!   in `apply/mod.rs`; what each kind of fact changes (customer, invoice, subscription,
//!   card, payment, order) is in that kind's file beside it.
//! - [`archive`]: every accepted delivery kept (with a TTL) so it can be inspected and replayed.
//! - [`erasure`]: what erasing a customer does to the archive and the texts sent to them.
//! - [`replay`]: archived deliveries applied again, after a fix.
//! - [`holded_import`]: Holded's invoices and contacts pulled from its API.
//! - [`braintree_api`]: the customer of a Braintree subscription looked up by its payment method.

pub mod apply;
pub mod archive;
pub mod braintree_api;
pub mod erasure;
pub mod holded_import;
pub mod import_file;
pub mod replay;

pub use apply::{Applied, Ingest, IngestError, Outcome};
pub use archive::{ArchivedDelivery, DeliveryOutcome};
