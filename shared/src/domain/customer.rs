//! A customer: whom we remind, how to reach them, in which language and time zone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::contact::{Email, Locale, PhoneE164};
use super::follow_up::FollowUp;
use super::ids::CustomerId;
use super::provider::{Provider, ProviderRef};

/// A way of reaching a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

/// The channels a customer said no to. Transactional notices still respect these: a customer
/// who opted out of SMS gets an email or nothing, never a text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOuts {
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub sms: bool,
}

impl OptOuts {
    pub fn allows(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => !self.email,
            Channel::Sms => !self.sms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    /// Optimistic-concurrency counter, owned by the store: 0 until first saved.
    #[serde(default)]
    pub version: u64,
    pub name: String,
    pub email: Option<Email>,
    /// Set by an SES bounce or complaint: the address exists but must not be written to.
    #[serde(default)]
    pub email_undeliverable: bool,
    pub phone: Option<PhoneE164>,
    pub locale: Locale,
    pub time_zone: Tz,
    /// Free labels ("b2b", "atelier-bienvenue") used by date rules' audience filters.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// The member-space roles of this customer's users, as recorded when they were invited:
    /// date rules' role audience. (Roles themselves come with each token.)
    #[serde(default)]
    pub roles: BTreeSet<super::Role>,
    /// Mailing lists the customer belongs to.
    #[serde(default)]
    pub lists: BTreeSet<String>,
    /// Business-specific dates ("lease_start" for a bike rental, "birthday").
    #[serde(default)]
    pub custom_dates: BTreeMap<String, NaiveDate>,
    #[serde(default)]
    pub opt_outs: OptOuts,
    /// The channel for notices that carry no amount; email when unset.
    pub preferred_channel: Option<Channel>,
    /// "Mahnstopp": no reminder of any kind goes to this customer while set.
    #[serde(default)]
    pub reminders_paused: bool,
    #[serde(default)]
    pub provider_refs: BTreeSet<ProviderRef>,
    pub created_at: DateTime<Utc>,
    /// Deleted in the provider's system: kept for history, never reminded.
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// When the provider last changed this record (its event time): older deliveries are ignored.
    #[serde(default)]
    pub provider_updated_at: Option<DateTime<Utc>>,
    /// Date rules on the customer's own dates (a lease anniversary, a welcome workshop).
    #[serde(default)]
    pub follow_up: FollowUp,
}

impl Customer {
    pub fn new(id: CustomerId, name: impl Into<String>, locale: Locale, time_zone: Tz, now: DateTime<Utc>) -> Customer {
        Customer {
            id,
            version: 0,
            name: name.into(),
            email: None,
            email_undeliverable: false,
            phone: None,
            locale,
            time_zone,
            tags: BTreeSet::new(),
            roles: BTreeSet::new(),
            lists: BTreeSet::new(),
            custom_dates: BTreeMap::new(),
            opt_outs: OptOuts::default(),
            preferred_channel: None,
            reminders_paused: false,
            provider_refs: BTreeSet::new(),
            created_at: now,
            deleted_at: None,
            provider_updated_at: None,
            follow_up: FollowUp::default(),
        }
    }

    /// The customer's id in `provider`'s system, if we know it.
    pub fn provider_id(&self, provider: Provider) -> Option<&str> {
        self.provider_refs.iter().find(|r| r.provider == provider).map(|r| r.id.as_str())
    }

    /// The email address we may write to, if any.
    pub fn reachable_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| !self.email_undeliverable && self.opt_outs.allows(Channel::Email))
    }

    /// True when no reminder may go to this customer (paused, or deleted at the provider).
    pub fn reminders_stopped(&self) -> bool {
        self.reminders_paused || self.deleted_at.is_some()
    }

    /// The mobile number we may text, if any.
    pub fn reachable_phone(&self) -> Option<&PhoneE164> {
        self.phone.as_ref().filter(|p| p.can_receive_sms() && self.opt_outs.allows(Channel::Sms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> Customer {
        let mut c = Customer::new(
            CustomerId::generate(),
            "Marie Dupont",
            Locale::french(),
            chrono_tz::Europe::Paris,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        c.email = Some(Email::parse("marie@example.fr").unwrap());
        c.phone = Some(PhoneE164::parse("06 12 34 56 78", Some("FR")).unwrap());
        c
    }

    #[test]
    fn opt_outs_and_bounces_make_a_channel_unreachable() {
        let mut c = customer();
        assert!(c.reachable_email().is_some());
        assert!(c.reachable_phone().is_some());
        c.opt_outs.sms = true;
        assert!(c.reachable_phone().is_none());
        c.email_undeliverable = true;
        assert!(c.reachable_email().is_none());
    }

    #[test]
    fn landlines_cannot_be_texted() {
        let mut c = customer();
        c.phone = Some(PhoneE164::parse("01 42 68 53 00", Some("FR")).unwrap());
        assert!(c.reachable_phone().is_none());
    }

    #[test]
    fn finds_provider_ids() {
        let mut c = customer();
        c.provider_refs.insert(ProviderRef::new(Provider::Stripe, "cus_123").unwrap());
        assert_eq!(c.provider_id(Provider::Stripe), Some("cus_123"));
        assert_eq!(c.provider_id(Provider::Shopify), None);
    }
}
