//! A card on file: enough to tell the customer which card ("Visa ending 4242, expires
//! 03/27") and to warn before it expires. Never more: no full number, no CVC.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::follow_up::FollowUp;
use super::ids::{CustomerId, PaymentMethodId};
use super::provider::ProviderRef;
use super::time::last_day_of_month;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("{0:?} is not the last four digits of a card")]
    InvalidLast4(String),
    #[error("{month}/{year} is not a card expiry date")]
    InvalidExpiry { month: u32, year: i32 },
}

/// The last four digits of a card number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
}
