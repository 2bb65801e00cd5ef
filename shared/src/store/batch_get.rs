//! Many records read at once (DynamoDB `BatchGetItem`, 100 keys a call): an import reads the
//! records its rows name in a few calls instead of one per row.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::dynamo::Store;
use super::error::StoreError;
use super::item::{Item, decode, key_attributes, key_of};
use super::keys::Key;
use super::record::Record;

/// DynamoDB's limit of keys per `BatchGetItem`.
const KEYS_PER_CALL: usize = 100;

/// Items of several record types read in one go ([`Store::fetch`]).
#[derive(Debug, Default)]
pub struct Fetched {
    items: HashMap<Key, Item>,
}

impl Fetched {
    /// The record of type `R` at `key`, if it was read (each is handed out once); an item of
    /// another type there is [`StoreError::Corrupt`].
    pub fn take<R: Record>(&mut self, key: &Key) -> Result<Option<R>, StoreError> {
        self.items.remove(key).map(|item| decode(key, item)).transpose()
    }
}

impl Store {
    /// The records of type `R` stored at `keys` (strongly consistent), by key; a key with no
    /// item is absent from the answer. Keys may repeat.
    pub async fn get_many<R: Record>(&self, keys: &[Key]) -> Result<HashMap<Key, R>, StoreError> {
        let mut found = HashMap::with_capacity(keys.len());
        for (key, item) in self.items(keys).await? {
            let record = decode(&key, item)?;
            found.insert(key, record);
        }
        Ok(found)
    }

    /// The keys of the records of type `R` whose ids are `ids` (see [`Store::find_by_id`]),
    /// by id; an id never registered is absent.
    pub async fn find_many_by_id<R: Record>(&self, ids: &[&str]) -> Result<HashMap<String, Key>, StoreError> {
        let lookups: Vec<Key> = ids.iter().map(|id| Key::by_id(R::TYPE, id)).collect();
        let by_lookup: HashMap<Key, &str> = lookups.iter().cloned().zip(ids.iter().copied()).collect();
        let mut found = HashMap::new();
        for (lookup, item) in self.items(&lookups).await? {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let (Some(pk), Some(sk)) = (text("target_pk"), text("target_sk")) else {
                return Err(StoreError::Corrupt { key: lookup.pk.clone(), record_type: "pointer", reason: "no target".into() });
            };
            if let Some(id) = by_lookup.get(&lookup) {
                found.insert((*id).to_string(), Key { pk, sk });
            }
        }
        Ok(found)
    }

    /// One read of small items of any kind, many at a time: for each key found, the key it
    /// points to (a provider reference or an id lookup), or `None` for an item that points
    /// nowhere (an idempotency key: it is there). A key with no item is absent.
    pub async fn peek(&self, keys: &[Key]) -> Result<HashMap<Key, Option<Key>>, StoreError> {
        let mut found = HashMap::with_capacity(keys.len());
        for (key, item) in self.items(keys).await? {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let target = text("target_pk").zip(text("target_sk")).map(|(pk, sk)| Key { pk, sk });
            found.insert(key, target);
        }
        Ok(found)
    }

    /// The items at `keys`, of whatever record types, read together and decoded one by one
    /// as their readers ask ([`Fetched::take`]).
    pub async fn fetch(&self, keys: &[Key]) -> Result<Fetched, StoreError> {
        Ok(Fetched { items: self.items(keys).await?.into_iter().collect() })
    }

    /// The raw items at `keys`, 100 keys a call, retrying what DynamoDB leaves unprocessed.
    async fn items(&self, keys: &[Key]) -> Result<Vec<(Key, Item)>, StoreError> {
        let mut unique: Vec<&Key> = keys.iter().collect();
        unique.sort();
        unique.dedup();
        let mut items = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(KEYS_PER_CALL) {
            let mut pending: Vec<Item> = chunk.iter().map(|key| key_attributes(key)).collect();
            for attempt in 0..8u32 {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let output = self
                    .client()
                    .batch_get_item()
                    .request_items(self.table(), request)
                    .send()
                    .await
                    .map_err(|e| StoreError::Unavailable(DisplayErrorContext(e).to_string()))?;
                for item in output.responses.and_then(|mut r| r.remove(self.table())).unwrap_or_default() {
                    items.push((key_of(&item), item));
                }
                pending = output.unprocessed_keys.and_then(|mut u| u.remove(self.table())).map(|k| k.keys).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(format!("{} keys left unprocessed after retries", pending.len())));
            }
        }
        Ok(items)
    }
}
