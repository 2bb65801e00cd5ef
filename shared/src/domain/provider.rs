//! Where a record came from: the payment or shop system that owns it, and that system's id.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{InvalidId, check_key_part};

/// The systems Relance takes records from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Stripe,
    Braintree,
    Shopify,
    Holded,
    /// Our own signed JSON format, for any other billing system.
    Generic,
    /// Entered by hand (the portal's admin tools, the demo data).
    Manual,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Braintree => "braintree",
            Provider::Shopify => "shopify",
            Provider::Holded => "holded",
            Provider::Generic => "generic",
            Provider::Manual => "manual",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record's id in a provider's system: Stripe's `cus_NffrFeUfNV2Hib`, Shopify's `207119551`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProviderRef {
    pub provider: Provider,
    pub id: String,
}

impl ProviderRef {
    pub fn new(provider: Provider, id: impl Into<String>) -> Result<ProviderRef, InvalidId> {
        let id = id.into();
        check_key_part("provider id", &id)?;
        Ok(ProviderRef { provider, id })
    }
}

impl fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.id)
    }
}

/// True when facts the provider stamped `at` are older than the last ones applied to a record
/// (its `provider_updated_at`). Deliveries arrive late and out of order; an older one must not
/// undo a newer change. Facts of the same instant are not older: they apply.
pub(super) fn is_stale(last_applied: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    last_applied.is_some_and(|last| at < last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_facts_older_than_the_last_applied_are_stale() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        assert!(!is_stale(None, t("2026-11-25T10:00:00Z")), "a record no provider changed yet takes anything");
        assert!(is_stale(Some(t("2026-11-25T10:00:00Z")), t("2026-11-25T09:59:59Z")));
        assert!(!is_stale(Some(t("2026-11-25T10:00:00Z")), t("2026-11-25T10:00:00Z")));
        assert!(!is_stale(Some(t("2026-11-25T10:00:00Z")), t("2026-11-25T10:00:01Z")));
    }
}

/// A provider's delivery as one customer's history shows it: what the provider said
/// happened (`invoice.paid`) and which of the customer's records it changed. Kept in the
/// customer's partition for a year and a month, for the timeline ("did Stripe tell us?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderDelivery {
    pub customer_id: super::ids::CustomerId,
    pub provider: Provider,
    /// The provider's id for the delivery (Stripe's event id).
    pub delivery_id: String,
    /// The provider's name for what happened.
    pub kind: String,
    /// When the provider says it happened, and when we applied it.
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// What it changed, as a clerk reads it: `invoice F-2026-001`, `payment`, `card`.
    pub changed: Vec<String>,
    #[serde(default)]
    pub version: u64,
}

impl ProviderDelivery {
    /// How long a customer's timeline shows a delivery.
    pub const KEPT_DAYS: i64 = 400;
}
