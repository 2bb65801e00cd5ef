//! Several writes that succeed or fail together (DynamoDB `TransactWriteItems`): a webhook's
//! idempotency key with the records it changes, a scan's notification with the step it moves.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::item::{condition_expected_version, encode, id_lookup_item, key_attributes, provider_ref_item};
use super::keys::{EXPIRES_AT, Key, PK, TYPE};
use super::record::Record;
use crate::domain::ProviderRef;

/// The proof that something was done once: a provider's delivery id, a decision's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// What the key is unique within (`stripe`, `braintree`, `scan`).
    pub scope: String,
    pub key: String,
    /// When the key may be forgotten (the provider will not redeliver after that).
    pub expires_at: DateTime<Utc>,
}

/// Writes collected to be committed at once by [`super::Store::commit`]; start one with
/// [`super::Store::transaction`].
///
/// Each record write bumps the record's version immediately; if the commit fails, the caller
/// must re-read the records before trying again (which a conflict calls for anyway).
pub struct Transaction {
    table: String,
    pub(crate) items: Vec<TransactWriteItem>,
    /// What each item is, in order, to explain a cancellation.
    pub(crate) labels: Vec<ItemLabel>,
}

#[derive(Debug, Clone)]
pub(crate) enum ItemLabel {
    Record(String),
    Claim(String),
}

impl Transaction {
    pub(crate) fn new(table: &str) -> Transaction {
        Transaction { table: table.to_string(), items: Vec::new(), labels: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Creates `record`; fails the transaction if it already exists.
    pub fn insert<R: Record>(&mut self, record: &mut R) -> Result<&mut Self, StoreError> {
        record.set_version(1);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        self.push_put(put, ItemLabel::Record(format!("new {} {}", R::TYPE, record.key().sk)))?;
        if let Some(id) = record.lookup_id() {
            self.register_id(R::TYPE, id, &record.key())?;
        }
        Ok(self)
    }

    /// Replaces `record`; fails the transaction if someone else wrote it since it was read.
    pub fn update<R: Record>(&mut self, record: &mut R) -> Result<&mut Self, StoreError> {
        let expected = record.version();
        record.set_version(expected + 1);
        let (condition, names, values) = condition_expected_version(expected);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(record)?))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values);
        self.push_put(put, ItemLabel::Record(format!("{} {} v{expected}", R::TYPE, record.key().sk)))
    }

    /// Moves `record`, read at `old`, to its new key (an event whose start, part of its key,
    /// changed): deletes the old item if nobody wrote it since it was read, writes the new
    /// one, and points its id lookup there. All or nothing, like every write here.
    pub fn relocate<R: Record>(&mut self, record: &mut R, old: &Key) -> Result<&mut Self, StoreError> {
        if record.key() == *old {
            return self.update(record);
        }
        let expected = record.version();
        let (condition, names, values) = condition_expected_version(expected);
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_attributes(old)))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .build()
            .map_err(|e| StoreError::Encode { record_type: R::TYPE, reason: e.to_string() })?;
        self.items.push(TransactWriteItem::builder().delete(delete).build());
        self.labels.push(ItemLabel::Record(format!("{} {} v{expected} (moved)", R::TYPE, old.sk)));
        record.set_version(expected + 1);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        self.push_put(put, ItemLabel::Record(format!("{} {} (moved here)", R::TYPE, record.key().sk)))?;
        if let Some(id) = record.lookup_id() {
            // The lookup exists already: overwritten to name the new key.
            let put = Put::builder().table_name(&self.table).set_item(Some(id_lookup_item(R::TYPE, id, &record.key())));
            self.push_put(put, ItemLabel::Record(format!("id {} {id}", R::TYPE)))?;
        }
        Ok(self)
    }

    /// Records that `provider_ref` (a `record_type` in the provider's system) is our `target`.
    /// Fails the transaction if that provider id already points somewhere.
    pub fn link_provider_ref(&mut self, record_type: &str, provider_ref: &ProviderRef, target: &Key) -> Result<&mut Self, StoreError> {
        let item = provider_ref_item(record_type, provider_ref, target);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        self.push_put(put, ItemLabel::Record(format!("reference {provider_ref}")))
    }

    /// Registers `id` as the id of the `record_type` at `target`, for lookups by our id.
    pub fn register_id(&mut self, record_type: &str, id: &str, target: &Key) -> Result<&mut Self, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(id_lookup_item(record_type, id, target)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        self.push_put(put, ItemLabel::Record(format!("id {record_type} {id}")))
    }

    /// Claims an idempotency key: the transaction fails with [`StoreError::Duplicate`] if the
    /// key was claimed before, so the change it guards is applied at most once.
    pub fn claim(&mut self, key: &IdempotencyKey) -> Result<&mut Self, StoreError> {
        let table_key = Key::idempotency(&key.scope, &key.key);
        let mut item = key_attributes(&table_key);
        item.insert(TYPE.into(), AttributeValue::S("IdempotencyKey".into()));
        item.insert(EXPIRES_AT.into(), AttributeValue::N(key.expires_at.timestamp().to_string()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        self.push_put(put, ItemLabel::Claim(format!("{}:{}", key.scope, key.key)))
    }

    fn push_put(&mut self, put: aws_sdk_dynamodb::types::builders::PutBuilder, label: ItemLabel) -> Result<&mut Self, StoreError> {
        let put = put.build().map_err(|e| StoreError::Encode { record_type: "transaction item", reason: e.to_string() })?;
        self.items.push(TransactWriteItem::builder().put(put).build());
        self.labels.push(label);
        Ok(self)
    }
}
