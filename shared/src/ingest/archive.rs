//! The archive of accepted deliveries: the raw body and the headers that matter, kept for
//! 90 days (DynamoDB TTL) so that a delivery can be inspected, and replayed after a fix.
//!
//! Items live in one partition per provider and day (`ARCHIVE#stripe#2026-11-25`), sorted
//! by arrival, so "replay yesterday's Stripe deliveries" is one paginated Query.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CustomerId, Provider, ProviderDelivery};
use crate::store::{Key, Record, Store, StoreError, WRITE_ATTEMPTS};

/// What an archived body becomes once it names a customer who asked to be erased.
pub const WITHHELD: &str = "(withheld: this delivery named a customer who asked to be erased)";

/// How long deliveries are kept.
pub const RETENTION_DAYS: i64 = 90;

/// DynamoDB items hold at most 400 KB; larger bodies are kept truncated, for inspection only.
pub const MAX_ARCHIVED_BODY: usize = 350 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Applied,
    /// The same delivery was applied before; nothing changed.
    AlreadyApplied,
    /// A kind we do not act on.
    Ignored,
    /// Signed correctly but unreadable; kept so a person can look.
    Malformed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedDelivery {
    pub provider: Provider,
    /// The provider's delivery id, or a digest of the body when it could not be read.
    pub delivery_id: String,
    pub received_at: DateTime<Utc>,
    /// The headers a replay needs (topic, signature), lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    #[serde(default)]
    pub body_truncated: bool,
    #[serde(flatten)]
    pub outcome: DeliveryOutcome,
    #[serde(default)]
    pub version: u64,
}

impl ArchivedDelivery {
    pub fn new(
        provider: Provider,
        delivery_id: String,
        received_at: DateTime<Utc>,
        headers: BTreeMap<String, String>,
        body: &[u8],
        outcome: DeliveryOutcome,
    ) -> ArchivedDelivery {
        let body_truncated = body.len() > MAX_ARCHIVED_BODY;
        let kept = &body[..body.len().min(MAX_ARCHIVED_BODY)];
        ArchivedDelivery {
            provider,
            delivery_id,
            received_at,
            headers,
            body: String::from_utf8_lossy(kept).into_owned(),
            body_truncated,
            outcome,
            version: 0,
        }
    }

    /// The archived copy of the delivery a customer's timeline `note` records.
    pub fn key_of(note: &ProviderDelivery) -> Key {
        Key {
            pk: ArchivedDelivery::partition(note.provider, note.received_at.date_naive()),
            sk: format!("{}#{}", crate::store::format_instant(note.received_at), note.delivery_id),
        }
    }

    /// Keeps what the delivery was (provider, id, time, outcome) and drops what it said: the
    /// body and the signature that went with it. Returns whether anything was left to drop.
    pub fn withhold(&mut self) -> bool {
        if self.body == WITHHELD {
            return false;
        }
        self.body = WITHHELD.into();
        self.body_truncated = false;
        self.headers.retain(|name, _| !name.contains("signature") && !name.contains("hmac"));
        true
    }

    /// The partition holding `provider`'s deliveries received on `date` (UTC).
    pub fn partition(provider: Provider, date: NaiveDate) -> String {
        format!("ARCHIVE#{provider}#{date}")
    }
}

/// Withholds the archived body of every delivery that named `customer` (the deliveries their
/// timeline lists): after an erasure the archive keeps no copy of what the providers said of
/// them. Returns how many bodies were withheld.
pub async fn withhold_for(store: &Store, customer: &CustomerId) -> Result<u32, StoreError> {
    let notes: Vec<ProviderDelivery> = store.list_all(&Key::customer_partition(customer)).await?;
    let mut withheld = 0;
    for note in &notes {
        let key = ArchivedDelivery::key_of(note);
        for _ in 0..WRITE_ATTEMPTS {
            let Some(mut archived) = store.get::<ArchivedDelivery>(&key).await? else { break };
            if !archived.withhold() {
                break;
            }
            match store.update(&mut archived).await {
                Ok(()) => {
                    withheld += 1;
                    break;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(withheld)
}

impl Record for ArchivedDelivery {
    const TYPE: &'static str = "Delivery";
    /// A day's partition holds deliveries only.
    const SK_PREFIX: &'static str = "";

    fn key(&self) -> Key {
        Key {
            pk: ArchivedDelivery::partition(self.provider, self.received_at.date_naive()),
            sk: format!("{}#{}", crate::store::format_instant(self.received_at), self.delivery_id),
        }
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.received_at + Duration::days(RETENTION_DAYS))
    }
}
