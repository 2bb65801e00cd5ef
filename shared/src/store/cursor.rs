//! Opaque pagination cursors: DynamoDB's `LastEvaluatedKey`, encoded so that callers can pass
//! it back without seeing or depending on our key design.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::StoreError;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// Our key attributes are all strings; anything else in a `LastEvaluatedKey` is unexpected.
    pub(crate) fn from_last_key(key: &HashMap<String, AttributeValue>) -> Option<Cursor> {
        let strings: BTreeMap<&str, &str> =
            key.iter().filter_map(|(name, value)| value.as_s().ok().map(|s| (name.as_str(), s.as_str()))).collect();
        let json = serde_json::to_vec(&strings).ok()?;
        Some(Cursor(URL_SAFE_NO_PAD.encode(json)))
    }

    pub(crate) fn to_start_key(&self) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let json = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| StoreError::BadCursor)?;
        let strings: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| StoreError::BadCursor)?;
        if strings.is_empty() || strings.len() > 4 {
            return Err(StoreError::BadCursor);
        }
        Ok(strings.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
    }

    /// The start key, refused unless `attribute` is `value`: a cursor issued for one
    /// partition (one customer's invoices, one due shard) must not open another.
    pub(crate) fn start_key_within(&self, attribute: &str, value: &str) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let key = self.to_start_key()?;
        match key.get(attribute).and_then(|v| v.as_s().ok()) {
            Some(found) if found == value => Ok(key),
            _ => Err(StoreError::BadCursor),
        }
    }

    /// The cursor of a page that ends with the record at `key`: for lists paged in memory
    /// (a member's invoices, read with the rest of their partition).
    pub fn after(key: &super::keys::Key) -> Cursor {
        let strings: BTreeMap<&str, &str> = [(super::keys::PK, key.pk.as_str()), (super::keys::SK, key.sk.as_str())].into();
        Cursor(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&strings).unwrap_or_default()))
    }

    /// The key a page ended with, refused unless it is in partition `pk` (see [`Cursor::after`]).
    pub fn key_within(&self, pk: &str) -> Result<super::keys::Key, StoreError> {
        let key = self.start_key_within(super::keys::PK, pk)?;
        let sk = key.get(super::keys::SK).and_then(|v| v.as_s().ok()).ok_or(StoreError::BadCursor)?;
        Ok(super::keys::Key { pk: pk.to_string(), sk: sk.clone() })
    }

    /// A cursor as received from a caller.
    pub fn parse(text: &str) -> Result<Cursor, StoreError> {
        let cursor = Cursor(text.to_string());
        cursor.to_start_key()?;
        Ok(cursor)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let key: HashMap<String, AttributeValue> =
            [("pk".to_string(), AttributeValue::S("CUSTOMER#1".into())), ("sk".to_string(), AttributeValue::S("INVOICE#2".into()))].into();
        let cursor = Cursor::from_last_key(&key).unwrap();
        assert_eq!(Cursor::parse(cursor.as_str()).unwrap().to_start_key().unwrap(), key);
        for bad in ["", "!!!", "bm90IGpzb24", "e30"] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(cursor.start_key_within("pk", "CUSTOMER#1").is_ok());
        assert!(matches!(cursor.start_key_within("pk", "CUSTOMER#2"), Err(StoreError::BadCursor)));
        let after = Cursor::after(&super::super::keys::Key { pk: "CUSTOMER#1".into(), sk: "INVOICE#2".into() });
        assert_eq!(after, cursor);
        assert_eq!(Cursor::parse(after.as_str()).unwrap().key_within("CUSTOMER#1").unwrap().sk, "INVOICE#2");
        assert!(after.key_within("CUSTOMER#2").is_err());
    }
}
