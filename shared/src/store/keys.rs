//! Key construction: the one place that knows how `pk`, `sk` and the due index attributes are
//! spelled. The table definition in `template.yaml` must agree with these names (a test checks).

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::{CustomerId, EventId, Provider, SiteId};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const TYPE: &str = "type";
pub const VERSION: &str = "version";
pub const DUE_SHARD: &str = "due_shard";
pub const DUE_AT: &str = "due_at";
pub const EXPIRES_AT: &str = "expires_at";
pub const FOLLOWUP: &str = "followup";
pub const FOLLOWUP_AT: &str = "followup_at";

pub const LEDGER: &str = "ledger";
pub const LEDGER_AT: &str = "ledger_at";
/// The sparse index of what the KPIs count, by period.
pub const LEDGER_INDEX: &str = "ledger";

/// The sparse index of what waits for a person (the admin's follow-up list).
pub const FOLLOWUP_INDEX: &str = "followup";
/// Its one partition: the list is short by nature (what needs a person).
pub const FOLLOWUP_PARTITION: &str = "FOLLOWUP";

/// The sparse index of records with a next action.
pub const DUE_INDEX: &str = "due";
/// How many partitions the due index is spread over.
pub const DUE_SHARDS: u8 = 16;

/// A record's primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn customer_partition(customer_id: &CustomerId) -> String {
        format!("CUSTOMER#{customer_id}")
    }

    /// The reference item that maps a provider's id for a record of type `record_type` to ours.
    pub fn provider_ref(provider: Provider, record_type: &str, their_id: &str) -> Key {
        Key { pk: format!("REF#{provider}#{record_type}#{their_id}"), sk: "REF".into() }
    }

    /// The lookup from our own id of a record to its key: the portal's `/admin/invoices/{id}`
    /// names an invoice without its customer.
    pub fn by_id(record_type: &str, id: &str) -> Key {
        Key { pk: format!("ID#{record_type}#{id}"), sk: "ID".into() }
    }

    /// A sign-in account, by the identity provider's user id.
    pub fn account(user: &str) -> Key {
        Key { pk: format!("USER#{user}"), sk: "USER".into() }
    }

    /// All sites live in one partition: a business has a handful, and a farmer's sites are
    /// found by reading it.
    pub const SITES: &'static str = "SITES";
    /// All events, sorted by start: a business runs a few a week.
    pub const EVENTS: &'static str = "EVENTS";
    /// Members' messages to support, newest first, for the admins.
    pub const INBOX: &'static str = "INBOX";
    /// The back office's file imports, by start.
    pub const IMPORTS: &'static str = "IMPORTS";

    pub fn site(site: &SiteId) -> Key {
        Key { pk: Key::SITES.into(), sk: format!("SITE#{site}") }
    }

    /// A site's harvests.
    pub fn site_partition(site: &SiteId) -> String {
        format!("SITE#{site}")
    }

    /// News for everyone (`None`) or for one site.
    pub fn news_partition(site: Option<&SiteId>) -> String {
        match site {
            Some(site) => format!("NEWS#{site}"),
            None => "NEWS#ALL".into(),
        }
    }

    /// An event's registrations.
    pub fn event_partition(event: &EventId) -> String {
        format!("EVENT#{event}")
    }

    /// The back office's changes to one record, oldest first.
    pub fn audit_partition(record_type: &str, id: &str) -> String {
        format!("AUDIT#{record_type}#{id}")
    }

    /// A sales person's missions.
    pub fn sales_partition(user: &str) -> String {
        format!("SALES#{user}")
    }

    /// An ambassador's leads.
    pub fn ambassador_partition(user: &str) -> String {
        format!("AMBASSADOR#{user}")
    }

    /// A member's conversation with support.
    pub fn conversation(user: &str) -> String {
        format!("THREAD#{user}")
    }

    pub fn idempotency(scope: &str, key: &str) -> Key {
        Key { pk: format!("IDEMPOTENCY#{scope}#{key}"), sk: "IDEMPOTENCY".into() }
    }
}

/// Checks that a user id (an identity provider's subject) can sit inside our keys.
pub fn check_user(user: &str) -> Result<(), crate::domain::InvalidId> {
    crate::domain::ids::check_key_part("user", user)
}

/// The due-index shard of a partition: a stable hash (FNV-1a), so a record keeps its shard.
pub fn due_shard(pk: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in pk.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{:02}", hash % u32::from(DUE_SHARDS))
}

/// The fixed-width text form of an instant used in sort keys: sorts as text in time order.
pub fn format_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(due_shard("CUSTOMER#a"), due_shard("CUSTOMER#a"));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let shard = due_shard(&format!("CUSTOMER#{i}"));
            assert_eq!(shard.len(), 2);
            seen.insert(shard);
        }
        assert_eq!(seen.len(), usize::from(DUE_SHARDS));
    }

    #[test]
    fn instants_sort_as_text() {
        let a: DateTime<Utc> = "2026-03-29T01:00:00Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-11-25T08:00:00.999Z".parse().unwrap();
        assert_eq!(format_instant(a), "2026-03-29T01:00:00Z");
        assert_eq!(format_instant(b), "2026-11-25T08:00:00Z");
        assert!(format_instant(a) < format_instant(b));
    }
}
