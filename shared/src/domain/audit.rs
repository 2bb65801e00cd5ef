//! The back office's audit trail: every change a person makes through it (who, when, what
//! before and after), kept beside nothing else, so "who changed this?" has one answer.
//!
//! Changes by providers and by the scan are not here: their record is the delivery archive
//! and the notifications.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Create,
    Update,
}

/// One change to one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The record's type (`Site`, `Mission`…) and our id for it.
    pub record_type: String,
    pub record_id: String,
    pub action: AuditAction,
    /// The user (identity provider subject) who made it.
    pub by: String,
    pub at: DateTime<Utc>,
    /// The record as it was (none for a creation) and as it became, as stored.
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// Tells apart two changes in the same second.
    pub entry_id: String,
    #[serde(default)]
    pub version: u64,
}

impl AuditEntry {
    /// The entry for `by` changing a record from `before` to `after` at `at`.
    pub fn of<T: Serialize>(
        record_type: &str,
        record_id: &str,
        by: &str,
        at: DateTime<Utc>,
        before: Option<&T>,
        after: &T,
    ) -> Result<AuditEntry, serde_json::Error> {
        let before = before.map(serde_json::to_value).transpose()?;
        Ok(AuditEntry {
            record_type: record_type.to_string(),
            record_id: record_id.to_string(),
            action: if before.is_some() { AuditAction::Update } else { AuditAction::Create },
            by: by.to_string(),
            at,
            before,
            after: Some(serde_json::to_value(after)?),
            entry_id: ulid::Ulid::new().to_string(),
            version: 0,
        })
    }

    /// The fields whose value changed, top level, sorted: what the page shows first.
    pub fn changed_fields(&self) -> Vec<String> {
        let empty = serde_json::Map::new();
        let before = self.before.as_ref().and_then(|b| b.as_object()).unwrap_or(&empty);
        let after = self.after.as_ref().and_then(|a| a.as_object()).unwrap_or(&empty);
        let mut fields: Vec<String> =
            before.keys().chain(after.keys()).filter(|k| *k != "version" && before.get(*k) != after.get(*k)).cloned().collect();
        fields.sort();
        fields.dedup();
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_names_what_changed_and_not_the_version() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().with_timezone(&Utc);
        let before = serde_json::json!({"name": "Belleville", "address": "rue A", "version": 3});
        let after = serde_json::json!({"name": "Belleville", "address": "rue B", "version": 4});
        let entry = AuditEntry::of("Site", "belleville", "admin-1", at, Some(&before), &after).unwrap();
        assert_eq!(entry.action, AuditAction::Update);
        assert_eq!(entry.changed_fields(), vec!["address".to_string()]);
        let created = AuditEntry::of::<serde_json::Value>("Site", "belleville", "admin-1", at, None, &after).unwrap();
        assert_eq!(created.action, AuditAction::Create);
        assert_eq!(created.changed_fields(), vec!["address".to_string(), "name".to_string()]);
    }
}
