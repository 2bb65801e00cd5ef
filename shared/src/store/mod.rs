//! The single DynamoDB table that holds everything, and the only code that talks to it.
//!
//! # Key design
//!
//! Every item has a partition key `pk` and a sort key `sk` (both strings) and a `type`
//! naming the record. A customer's records share the customer's partition, so "everything
//! about this customer" is one Query.
//!
//! | item                | `pk`                                   | `sk`                    |
//! |---------------------|----------------------------------------|-------------------------|
//! | Customer            | `CUSTOMER#<customer id>`               | `CUSTOMER`              |
//! | Invoice             | `CUSTOMER#<customer id>`               | `INVOICE#<invoice id>`  |
//! | Subscription        | `CUSTOMER#<customer id>`               | `SUBSCRIPTION#<id>`     |
//! | PaymentMethod       | `CUSTOMER#<customer id>`               | `PAYMENT_METHOD#<id>`   |
//! | Payment             | `CUSTOMER#<customer id>`               | `PAYMENT#<id>`          |
//! | Notification        | `CUSTOMER#<customer id>`               | `NOTIFICATION#<id>`     |
//! | Provider reference  | `REF#<provider>#<record type>#<their id>` | `REF`                |
//! | Idempotency key     | `IDEMPOTENCY#<scope>#<key>`            | `IDEMPOTENCY`           |
//! | Sign-in account     | `USER#<identity provider's sub>`       | `USER`                  |
//! | Lookup by our id    | `ID#<record type>#<our id>`            | `ID`                    |
//! | Archived delivery   | `ARCHIVE#<provider>#<UTC date>`        | `<received at>#<delivery id>` |
//! | Audit entry         | `AUDIT#<record type>#<our id>`         | `AUDIT#<at>#<entry id>` |
//! | File import         | `IMPORTS`                              | `IMPORT#<started>#<id>` |
//! | Owner's settings    | `SETTINGS`                             | `SETTINGS`; `RESCHEDULED` (what the scan applied) |
//!
//! Two more attributes exist only where they mean something:
//! - `due_shard` and `due_at` on a record whose follow-up has a next action: they put it in
//!   the sparse **`due`** index (partition `due_shard`, sort `due_at`). A record with nothing
//!   pending has neither and is not in the index, so the scan reads only what is due.
//!   `due_shard` (`00`…`15`, from a hash of `pk`) spreads the index over 16 partitions so an
//!   hourly scan of a large business does not hit one hot key; `due_at` is a UTC instant in
//!   the fixed format `2026-11-25T08:00:00Z`, which sorts as text in time order.
//! - `followup` (`FOLLOWUP`) and `followup_at` (`<since>#<sk>`) on what waits for a person
//!   (a held or failed notification, an invoice past its final notice): the sparse
//!   **`followup`** index behind the admin's follow-up list, oldest first.
//! - `expires_at` (epoch seconds) is the table's TTL attribute: idempotency keys and archived
//!   deliveries carry it and DynamoDB deletes them after it passes.
//!
//! Every record carries a `version`. An insert requires the item not to exist; an update
//! requires the stored version to be the one that was read, and writes the next. A lost race
//! is a [`StoreError::Conflict`], never a silent overwrite.
//!
//! # Access patterns
//!
//! | need                                              | served by                                        |
//! |---------------------------------------------------|--------------------------------------------------|
//! | a customer, an invoice… by our id                 | GetItem on `pk`/`sk`                              |
//! | a customer's invoices, subscriptions, cards, payments, notifications (portal, history) | Query `pk`, `sk` begins_with `INVOICE#` (etc.) |
//! | everything about a customer (GDPR export, erasure)| Query `pk`                                        |
//! | what a member's pages show (customer, invoices, reminders, cards, subscriptions) | one Query `pk`, filtered on `type` ([`Store::partition`]) |
//! | a card's decision: the rest of the wallet and the subscriptions | one Query `pk`, `sk` from `PAYMENT_METHOD#` through every `SUBSCRIPTION#…`, filtered on `type` ([`Store::partition_between`]) |
//! | a notification's reminders for one invoice        | Query `pk`, `sk` begins_with `NOTIFICATION#invoice.<id>.` |
//! | our record for a provider id (`cus_…`, Braintree customer, Shopify customer, `in_…`) | GetItem on the reference item, then GetItem on the record it names |
//! | what has an action due now (scan)                 | Query index `due`, each shard, `due_at <= now`    |
//! | the customer a signed-in user is (portal)         | GetItem on the account item                       |
//! | what waits for a person (admin follow-up list)    | Query index `followup`                            |
//! | an invoice by our id alone (admin actions)        | GetItem on the id lookup item, then on the record |
//! | a provider's deliveries of one day (replay)       | Query the archive partition                       |
//! | who changed a record through the back office      | Query the record's audit partition                |
//! | was this delivery / this decision already applied | conditional Put of the idempotency key, in the same transaction as the change |
//! | new notifications to send (dispatch)              | the table's stream, filtered on `type = Notification` and INSERT |
//!
//! No code path uses the Scan API.

mod batch_get;
mod bulk;
mod cursor;
mod dynamo;
mod error;
mod item;
pub mod keys;
mod partition;
mod record;
mod retry;
mod transaction;

pub use batch_get::Fetched;
pub use bulk::BulkLoad;
pub use cursor::Cursor;
pub use dynamo::{DueItem, DuePage, Page, Store};
pub use error::StoreError;
pub use item::from_stream_image;
pub use keys::{DUE_INDEX, DUE_SHARDS, Key, check_user, due_shard, format_instant};
pub use partition::Partition;
pub use record::{Ledger, Record};
pub use retry::{Attempt, WRITE_ATTEMPTS, until_done};
pub use transaction::{IdempotencyKey, Transaction};
