//! Bulk loading: many new records written with `BatchWriteItem`, 25 at a time.
//!
//! For filling an empty table (the demo business, an initial import, benchmark data sets),
//! where the per-item existence checks of [`super::Store::insert`] buy nothing and
//! transactions would cost far more. Batch writes carry no conditions: never use this to
//! change records that may already exist.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::dynamo::Store;
use super::error::StoreError;
use super::item::{Item, encode, id_lookup_item, provider_ref_item};
use super::keys::Key;
use super::record::Record;
use crate::domain::ProviderRef;

/// Items collected for [`Store::write_bulk`].
#[derive(Default, Clone)]
pub struct BulkLoad {
    pub(crate) items: Vec<Item>,
}

impl BulkLoad {
    pub fn new() -> BulkLoad {
        BulkLoad::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items as the table will hold them (for loaders that write them another way, such
    /// as the scale benchmark's, which fills moto from inside its own process).
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Adds a new record (saved as version 1).
    pub fn add<R: Record>(&mut self, record: &mut R) -> Result<&mut Self, StoreError> {
        record.set_version(1);
        self.items.push(encode(record)?);
        if let Some(id) = record.lookup_id() {
            self.items.push(id_lookup_item(R::TYPE, id, &record.key()));
        }
        Ok(self)
    }

    /// Adds the reference from a provider's id to our record.
    /// Adds a lookup item from `id` to `target` (one the records' own inserts do not write).
    pub fn add_id(&mut self, record_type: &str, id: &str, target: &Key) -> &mut Self {
        self.items.push(id_lookup_item(record_type, id, target));
        self
    }

    pub fn add_provider_ref(&mut self, record_type: &str, provider_ref: &ProviderRef, target: &Key) -> &mut Self {
        self.items.push(provider_ref_item(record_type, provider_ref, target));
        self
    }
}

impl Store {
    /// Writes every item of `load`, retrying what DynamoDB leaves unprocessed (throttling).
    pub async fn write_bulk(&self, load: BulkLoad) -> Result<(), StoreError> {
        let mut requests: Vec<WriteRequest> = Vec::with_capacity(load.items.len());
        for item in load.items {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::Encode { record_type: "bulk item", reason: e.to_string() })?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for attempt in 0..8u32 {
                let output = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), pending)
                    .send()
                    .await
                    .map_err(|e| StoreError::Unavailable(DisplayErrorContext(e).to_string()))?;
                pending = output.unprocessed_items.and_then(|mut u| u.remove(self.table())).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(format!("{} items left unprocessed after retries", pending.len())));
            }
        }
        Ok(())
    }
}
