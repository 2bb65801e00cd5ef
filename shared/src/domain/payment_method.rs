//! A card on file: enough to tell the customer which card ("Visa ending 4242, expires
//! 03/27") and to warn before it expires. Never more: no full number, no CVC.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::follow_up::FollowUp;
use super::ids::{CustomerId, PaymentMethodId};
use super::provider::{ProviderRef, is_stale};
use super::time::last_day_of_month;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("{0:?} is not the last four digits of a card")]
    InvalidLast4(String),
    #[error("{month}/{year} is not a card expiry date")]
    InvalidExpiry { month: u32, year: i32 },
}

/// The last four digits of a card number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Last4(String);

impl Last4 {
    pub fn parse(input: &str) -> Result<Last4, CardError> {
        if input.len() == 4 && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Last4(input.to_string()))
        } else {
            Err(CardError::InvalidLast4(input.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Last4 {
    type Error = CardError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Last4::parse(&s)
    }
}

impl From<Last4> for String {
    fn from(l: Last4) -> String {
        l.0
    }
}

/// A card's "valid through" month: the card works until the last day of that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "ExpiryParts", into = "ExpiryParts")]
pub struct CardExpiry {
    year: i32,
    month: u32,
}

#[derive(Serialize, Deserialize)]
struct ExpiryParts {
    year: i32,
    month: u32,
}

impl CardExpiry {
    /// Accepts two-digit years as cards print them (`27` is 2027).
    pub fn new(month: u32, year: i32) -> Result<CardExpiry, CardError> {
        let full_year = if (0..100).contains(&year) { 2000 + year } else { year };
        if !(1..=12).contains(&month) || !(2000..=2099).contains(&full_year) {
            return Err(CardError::InvalidExpiry { month, year });
        }
        Ok(CardExpiry { year: full_year, month })
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// The last day on which the card can be charged.
    pub fn last_valid_day(self) -> NaiveDate {
        // ok: month and year were checked at construction, so the date exists.
        last_day_of_month(self.year, self.month).unwrap_or(NaiveDate::MAX)
    }

    /// Expired on `today` (a date in the customer's time zone).
    pub fn is_expired_on(self, today: NaiveDate) -> bool {
        today > self.last_valid_day()
    }
}

impl TryFrom<ExpiryParts> for CardExpiry {
    type Error = CardError;
    fn try_from(p: ExpiryParts) -> Result<Self, Self::Error> {
        CardExpiry::new(p.month, p.year)
    }
}

impl From<CardExpiry> for ExpiryParts {
    fn from(e: CardExpiry) -> ExpiryParts {
        ExpiryParts { year: e.year, month: e.month }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub customer_id: CustomerId,
    #[serde(default)]
    pub version: u64,
    /// As the provider names it: `visa`, `mastercard`, `amex`…
    pub brand: String,
    pub last4: Last4,
    pub expiry: CardExpiry,
    /// The card subscriptions are charged to.
    #[serde(default)]
    pub is_default: bool,
    pub provider_ref: Option<ProviderRef>,
    pub added_at: DateTime<Utc>,
    /// Detached or revoked by the customer; kept for history.
    #[serde(default)]
    pub removed: bool,
    #[serde(default)]
    pub follow_up: FollowUp,
    /// When the provider last changed this record (its event time): older deliveries are ignored.
    #[serde(default)]
    pub provider_updated_at: Option<DateTime<Utc>>,
}

impl PaymentMethod {
    /// True when `other` replaces this card: a live card of the same customer that expires later.
    pub fn is_superseded_by(&self, other: &PaymentMethod) -> bool {
        other.id != self.id && other.customer_id == self.customer_id && !other.removed && other.expiry > self.expiry
    }

    /// Takes the card as the provider describes it at `at`: brand, last four and expiry, and
    /// attached (a card the provider reports is not removed). A new expiry (a renewed card), or
    /// a card with no warning planned nor given yet, starts its expiry warnings afresh at
    /// `warning`, the ladder's first rung. Facts older than the last ones applied are ignored.
    /// Returns whether they were applied.
    pub fn apply_provider_state(
        &mut self,
        brand: &str,
        last4: &Last4,
        expiry: CardExpiry,
        warning: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> bool {
        if is_stale(self.provider_updated_at, at) {
            return false;
        }
        let new_expiry = self.expiry != expiry;
        self.brand = brand.to_string();
        self.last4 = last4.clone();
        self.expiry = expiry;
        self.removed = false;
        self.provider_updated_at = Some(at);
        if new_expiry || self.follow_up.next_action_at.is_none() && self.follow_up.step == 0 {
            self.follow_up = FollowUp::default();
            if let Some(warning) = warning {
                self.follow_up.schedule(warning);
            }
        }
        true
    }

    /// Detached or revoked in the provider's system at `at`: kept for history, never warned
    /// about again. Returns whether that is news (not removed already, nor undone by a newer
    /// change).
    pub fn mark_removed(&mut self, at: DateTime<Utc>) -> bool {
        if self.removed || is_stale(self.provider_updated_at, at) {
            return false;
        }
        self.removed = true;
        self.follow_up.clear();
        self.provider_updated_at = Some(at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(month: u32, year: i32) -> PaymentMethod {
        PaymentMethod {
            id: PaymentMethodId::generate(),
            customer_id: CustomerId::parse("c1").unwrap(),
            version: 0,
            brand: "visa".into(),
            last4: Last4::parse("4242").unwrap(),
            expiry: CardExpiry::new(month, year).unwrap(),
            is_default: true,
            provider_ref: None,
            added_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            removed: false,
            follow_up: FollowUp::default(),
            provider_updated_at: None,
        }
    }

    #[test]
    fn a_card_works_through_the_last_day_of_its_month() {
        let expiry = CardExpiry::new(2, 28).unwrap();
        assert_eq!(expiry.year(), 2028);
        assert_eq!(expiry.last_valid_day(), NaiveDate::from_ymd_opt(2028, 2, 29).unwrap());
        assert!(!expiry.is_expired_on(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()));
        assert!(expiry.is_expired_on(NaiveDate::from_ymd_opt(2028, 3, 1).unwrap()));
        let december = CardExpiry::new(12, 2026).unwrap();
        assert_eq!(december.last_valid_day(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
    }

    #[test]
    fn impossible_expiries_and_last4_are_refused() {
        assert!(CardExpiry::new(0, 2027).is_err());
        assert!(CardExpiry::new(13, 2027).is_err());
        assert!(CardExpiry::new(1, 1999).is_err());
        assert!(Last4::parse("424").is_err());
        assert!(Last4::parse("42a2").is_err());
        assert!(Last4::parse("42424").is_err());
        assert!(serde_json::from_str::<CardExpiry>(r#"{"year":2027,"month":13}"#).is_err());
    }

    #[test]
    fn a_later_live_card_supersedes_an_older_one() {
        let old = card(12, 2026);
        let newer = card(12, 2029);
        assert!(old.is_superseded_by(&newer));
        assert!(!newer.is_superseded_by(&old));
        let mut removed = card(12, 2030);
        removed.removed = true;
        assert!(!old.is_superseded_by(&removed));
        assert!(!old.is_superseded_by(&old.clone()));
    }

    #[test]
    fn a_renewed_card_starts_its_warnings_afresh() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let last4 = Last4::parse("4242").unwrap();
        let mut c = card(12, 2026);
        assert!(c.apply_provider_state("visa", &last4, c.expiry, Some(t("2026-11-01T08:00:00Z")), t("2026-10-01T10:00:00Z")));
        assert_eq!(c.follow_up.next_action_at, Some(t("2026-11-01T08:00:00Z")), "never warned: the first warning is planned");

        // The warning went out (the scan took step 1 and planned nothing more): the same card again keeps it so.
        c.follow_up = FollowUp { step: 1, ..FollowUp::default() };
        assert!(c.apply_provider_state("visa", &last4, c.expiry, Some(t("2026-11-01T08:00:00Z")), t("2026-11-02T10:00:00Z")));
        assert_eq!((c.follow_up.step, c.follow_up.next_action_at), (1, None));

        c.removed = true;
        let renewed = CardExpiry::new(12, 2029).unwrap();
        let other = Last4::parse("1881").unwrap();
        assert!(c.apply_provider_state("mastercard", &other, renewed, Some(t("2029-11-01T08:00:00Z")), t("2026-11-20T10:00:00Z")));
        assert_eq!((c.brand.as_str(), &c.last4, c.expiry, c.removed), ("mastercard", &other, renewed, false));
        assert_eq!((c.follow_up.step, c.follow_up.next_action_at), (0, Some(t("2029-11-01T08:00:00Z"))));

        assert!(!c.apply_provider_state("visa", &last4, CardExpiry::new(12, 2026).unwrap(), None, t("2026-11-19T10:00:00Z")), "older");
        assert_eq!(c.expiry, renewed);
    }

    #[test]
    fn a_removed_card_is_never_warned_about_again() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let mut c = card(12, 2026);
        c.provider_updated_at = Some(t("2026-10-01T10:00:00Z"));
        c.follow_up.schedule(t("2026-11-01T08:00:00Z"));
        assert!(!c.mark_removed(t("2026-09-30T10:00:00Z")), "older");
        assert!(c.mark_removed(t("2026-10-02T10:00:00Z")));
        assert!(c.removed);
        assert_eq!(c.follow_up.next_action_at, None);
        assert!(!c.mark_removed(t("2026-10-03T10:00:00Z")), "removed once is enough");
        assert_eq!(c.provider_updated_at, Some(t("2026-10-02T10:00:00Z")));
    }
}
