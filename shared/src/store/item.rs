//! The item codec: how a record, a pointer (our id or a provider's id to a record's key) and
//! a version condition look as DynamoDB attributes. The store, its transactions and its bulk
//! loads all write through here, so an item has one shape whichever way it is written.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1 as codec;

use super::error::StoreError;
use super::keys::*;
use super::record::Record;
use crate::domain::ProviderRef;

/// One DynamoDB item, as the SDK holds it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The item for `record`: its fields, plus key, type and due-index attributes.
pub(crate) fn encode<R: Record>(record: &R) -> Result<Item, StoreError> {
    let mut item: Item = codec::to_item(record).map_err(|e| StoreError::Encode { record_type: R::TYPE, reason: e.to_string() })?;
    let key = record.key();
    item.extend(key_attributes(&key));
    item.insert(TYPE.into(), AttributeValue::S(R::TYPE.into()));
    item.insert(VERSION.into(), AttributeValue::N(record.version().to_string()));
    if let Some(at) = record.expires_at() {
        item.insert(EXPIRES_AT.into(), AttributeValue::N(at.timestamp().to_string()));
    }
    if let Some(since) = record.waiting_for_a_person_since() {
        item.insert(FOLLOWUP.into(), AttributeValue::S(FOLLOWUP_PARTITION.into()));
        item.insert(FOLLOWUP_AT.into(), AttributeValue::S(format!("{}#{}", format_instant(since), key.sk)));
    }
    if let Some((partition, at)) = record.ledger_entry() {
        item.insert(LEDGER.into(), AttributeValue::S(partition));
        item.insert(LEDGER_AT.into(), AttributeValue::S(format!("{}#{}#{}", format_instant(at), key.pk, key.sk)));
    }
    if let Some(at) = record.next_action_at() {
        item.insert(DUE_SHARD.into(), AttributeValue::S(due_shard(&key.pk)));
        item.insert(DUE_AT.into(), AttributeValue::S(format_instant(at)));
    }
    Ok(item)
}

pub(crate) fn decode<R: Record>(key: &Key, item: Item) -> Result<R, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key: format!("{}/{}", key.pk, key.sk), record_type: R::TYPE, reason };
    match item.get(TYPE).and_then(|v| v.as_s().ok()) {
        Some(t) if t == R::TYPE => {}
        other => return Err(corrupt(format!("type is {other:?}"))),
    }
    codec::from_item(item).map_err(|e| corrupt(e.to_string()))
}

/// A record from a DynamoDB stream record's image (what the dispatch function is handed): the
/// item as the table holds it, in the stream event's attribute type.
pub fn from_stream_image<R: Record>(key: &Key, image: serde_dynamo::Item) -> Result<R, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key: format!("{}/{}", key.pk, key.sk), record_type: R::TYPE, reason };
    match image.get(TYPE) {
        Some(serde_dynamo::AttributeValue::S(t)) if t == R::TYPE => {}
        other => return Err(corrupt(format!("type is {other:?}"))),
    }
    serde_dynamo::from_item(image).map_err(|e| corrupt(e.to_string()))
}

/// The item mapping our id for a `record_type` to the record's key.
pub(crate) fn id_lookup_item(record_type: &str, id: &str, target: &Key) -> Item {
    pointer_item(&Key::by_id(record_type, id), "IdLookup", target)
}

/// The item mapping a provider's id for a `record_type` to our record's key.
pub(crate) fn provider_ref_item(record_type: &str, provider_ref: &ProviderRef, target: &Key) -> Item {
    pointer_item(&Key::provider_ref(provider_ref.provider, record_type, &provider_ref.id), "ProviderRef", target)
}

/// An item at `key` that points to `target`.
fn pointer_item(key: &Key, item_type: &str, target: &Key) -> Item {
    let mut item = key_attributes(key);
    item.insert(TYPE.into(), AttributeValue::S(item_type.into()));
    item.insert("target_pk".into(), AttributeValue::S(target.pk.clone()));
    item.insert("target_sk".into(), AttributeValue::S(target.sk.clone()));
    item
}

pub(crate) fn key_attributes(key: &Key) -> Item {
    HashMap::from([(PK.to_string(), AttributeValue::S(key.pk.clone())), (SK.to_string(), AttributeValue::S(key.sk.clone()))])
}

pub(crate) fn key_of(item: &Item) -> Key {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    Key { pk: text(PK), sk: text(SK) }
}

/// The condition "the stored version is still `expected`".
pub(crate) fn condition_expected_version(expected: u64) -> (String, HashMap<String, String>, Option<Item>) {
    (
        "#version = :expected".to_string(),
        HashMap::from([("#version".to_string(), VERSION.to_string())]),
        Some(HashMap::from([(":expected".to_string(), AttributeValue::N(expected.to_string()))])),
    )
}
