//! A customer: whom we remind, how to reach them, in which language and time zone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::contact::{Email, Locale, PhoneE164};
use super::follow_up::FollowUp;
use super::ids::CustomerId;
use super::provider::{Provider, ProviderRef, is_stale};

/// A way of reaching a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

/// The channels a customer said no to. Transactional notices still respect these: a customer
/// who opted out of SMS gets an email or nothing, never a text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The id the business's own files gave this customer (an Airtable row, a CSV import).
    #[serde(default)]
    pub external_id: Option<String>,
    /// A business (B2B) rather than a consumer: the tone of its messages, its payment terms.
    #[serde(default)]
    pub business: bool,
    /// The kinds of events the customer registered to (`welcome_workshop`), as each
    /// registration records it: what a date rule's stop condition reads.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub registered_kinds: BTreeSet<String>,
    /// The person asked to be forgotten (GDPR art. 17): their contact details and dates are
    /// gone, and no later delivery may bring them back ([`Customer::erase`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
}

/// The name an erased customer keeps, for the books' "invoice to (erased)".
pub const ERASED_NAME: &str = "(erased)";

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
            external_id: None,
            business: false,
            registered_kinds: BTreeSet::new(),
            erased_at: None,
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

    /// Forgets the person (GDPR art. 17): name, email, phone, dates, tags and lists go, the
    /// reminders stop, and from now on the provider's facts change nothing personal here
    /// (the invoices and payments, which the books must keep, still follow the provider).
    pub fn erase(&mut self, now: DateTime<Utc>) {
        self.name = ERASED_NAME.into();
        self.email = None;
        self.phone = None;
        self.custom_dates.clear();
        self.tags.clear();
        self.lists.clear();
        self.registered_kinds.clear();
        self.external_id = None;
        self.deleted_at.get_or_insert(now);
        self.erased_at = Some(now);
        self.reminders_paused = true;
        self.follow_up.clear();
    }

    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }

    /// True when no reminder may go to this customer (paused, or deleted at the provider).
    pub fn reminders_stopped(&self) -> bool {
        self.reminders_paused || self.deleted_at.is_some()
    }

    /// The mobile number we may text, if any.
    pub fn reachable_phone(&self) -> Option<&PhoneE164> {
        self.phone.as_ref().filter(|p| p.can_receive_sms() && self.opt_outs.allows(Channel::Sms))
    }

    /// The sender's tags and lists replace ours when it keeps them (None: it says nothing).
    /// True when anything changed; an older delivery changes nothing.
    pub fn apply_provider_labels(&mut self, tags: Option<&BTreeSet<String>>, lists: Option<&BTreeSet<String>>, at: DateTime<Utc>) -> bool {
        if self.is_erased() || is_stale(self.provider_updated_at, at) {
            return false;
        }
        let mut changed = false;
        if let Some(tags) = tags.filter(|tags| self.tags != **tags) {
            self.tags = tags.clone();
            changed = true;
        }
        if let Some(lists) = lists.filter(|lists| self.lists != **lists) {
            self.lists = lists.clone();
            changed = true;
        }
        changed
    }

    /// Takes what the provider says of the customer as of `at` (a delivery about the customer
    /// itself, which is news): each detail given replaces ours, one left out (`None`) is kept,
    /// and each date given is set. Facts older than the last ones applied are ignored.
    ///
    /// Returns whether a detail changed; the new stamp alone is not worth a write.
    pub fn apply_provider_details(
        &mut self,
        name: Option<&str>,
        email: Option<&Email>,
        phone: Option<&PhoneE164>,
        locale: Option<&Locale>,
        dates: &[(String, NaiveDate)],
        at: DateTime<Utc>,
    ) -> bool {
        if self.is_erased() || is_stale(self.provider_updated_at, at) {
            return false;
        }
        let mut changed = false;
        if let Some(name) = name.filter(|name| self.name != *name) {
            self.name = name.to_string();
            changed = true;
        }
        if let Some(email) = email.filter(|email| self.email.as_ref() != Some(*email)) {
            self.email = Some(email.clone());
            // A bounce said nothing about the new address.
            self.email_undeliverable = false;
            changed = true;
        }
        if let Some(phone) = phone.filter(|phone| self.phone.as_ref() != Some(*phone)) {
            self.phone = Some(phone.clone());
            changed = true;
        }
        if let Some(locale) = locale.filter(|locale| self.locale != **locale) {
            self.locale = locale.clone();
            changed = true;
        }
        for (field, date) in dates {
            changed |= self.custom_dates.insert(field.clone(), *date) != Some(*date);
        }
        self.provider_updated_at = Some(at);
        changed
    }

    /// A person sets (or removes) the email address. A new address has not bounced yet: the
    /// undeliverable mark goes with the old one.
    pub fn set_email(&mut self, email: Option<Email>) {
        if email != self.email {
            self.email_undeliverable = false;
        }
        self.email = email;
    }

    /// Fills in the name, email and phone we lack from a snapshot of them (the copy an invoice,
    /// an order or a transaction carries), never replacing one we hold, whatever the
    /// snapshot's date. A name we lack is the stand-in given to a customer first known by
    /// reference only ([`Customer::has_stand_in_name`]). Returns whether anything was filled.
    pub fn fill_blank_contact(&mut self, name: Option<&str>, email: Option<&Email>, phone: Option<&PhoneE164>) -> bool {
        if self.is_erased() {
            return false;
        }
        let mut changed = false;
        if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty() && self.has_stand_in_name() && *n != self.name) {
            self.name = name.to_string();
            changed = true;
        }
        if let Some(email) = email.filter(|_| self.email.is_none()) {
            self.email = Some(email.clone());
            changed = true;
        }
        if let Some(phone) = phone.filter(|_| self.phone.is_none()) {
            self.phone = Some(phone.clone());
            changed = true;
        }
        changed
    }

    /// The name is one we made up, for want of one: the provider and its id
    /// (`braintree customer cust-1`), or the email address.
    pub fn has_stand_in_name(&self) -> bool {
        self.provider_refs.iter().any(|r| self.name == stand_in_name(r)) || self.email.as_ref().is_some_and(|e| e.as_str() == self.name)
    }

    /// Deleted in the provider's system at `at`: kept for history, never reminded again.
    /// Returns whether that is news (not already deleted, nor undone by a newer change).
    pub fn mark_deleted(&mut self, at: DateTime<Utc>) -> bool {
        if self.deleted_at.is_some() || is_stale(self.provider_updated_at, at) {
            return false;
        }
        self.deleted_at = Some(at);
        self.reminders_paused = true;
        self.provider_updated_at = Some(at);
        true
    }

    /// Sets the date `field` unless the customer already has one: the first time a thing
    /// happened (a first subscription's start) stays the first. Returns whether it was set.
    pub fn note_first_date(&mut self, field: &str, date: NaiveDate) -> bool {
        if self.is_erased() || self.custom_dates.contains_key(field) {
            return false;
        }
        self.custom_dates.insert(field.to_string(), date);
        true
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

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn provider_details_replace_ours_unless_older_or_left_out() {
        let mut c = customer();
        c.email_undeliverable = true;
        let email = Email::parse("marie.dupont@example.fr").unwrap();
        let dates = [("lease_start".to_string(), date(2026, 3, 1))];
        assert!(c.apply_provider_details(Some("Marie D."), Some(&email), None, None, &dates, t("2026-02-01T10:00:00Z")));
        assert_eq!(c.name, "Marie D.");
        assert_eq!(c.email, Some(email.clone()));
        assert!(!c.email_undeliverable, "a new address is worth trying");
        assert!(c.phone.is_some(), "a phone left out is kept");
        assert_eq!(c.locale, Locale::french());
        assert_eq!(c.custom_dates.get("lease_start"), Some(&date(2026, 3, 1)));
        assert_eq!(c.provider_updated_at, Some(t("2026-02-01T10:00:00Z")));

        // The same details again, later: nothing to write, but the stamp moves.
        assert!(!c.apply_provider_details(Some("Marie D."), Some(&email), None, None, &dates, t("2026-02-02T10:00:00Z")));
        assert_eq!(c.provider_updated_at, Some(t("2026-02-02T10:00:00Z")));

        // Older details change nothing.
        let older = [("lease_start".to_string(), date(2025, 3, 1))];
        assert!(!c.apply_provider_details(Some("Marie"), None, None, Some(&Locale::english()), &older, t("2026-02-01T12:00:00Z")));
        assert_eq!((c.name.as_str(), c.custom_dates["lease_start"]), ("Marie D.", date(2026, 3, 1)));
        assert_eq!(c.locale, Locale::french());
    }

    #[test]
    fn a_snapshot_only_fills_blank_contact_details() {
        let mut c = customer();
        let other = Email::parse("compta@example.fr").unwrap();
        let (held, name) = (c.email.clone(), c.name.clone());
        assert!(!c.fill_blank_contact(Some("Someone Else"), Some(&other), None));
        assert_eq!((&c.email, &c.name), (&held, &name), "a real name and an email we hold stay");
        c.email = None;
        c.phone = None;
        let phone = PhoneE164::parse("06 98 76 54 32", Some("FR")).unwrap();
        assert!(c.fill_blank_contact(None, Some(&other), Some(&phone)));
        assert_eq!((c.email, c.phone), (Some(other), Some(phone)));
    }

    #[test]
    fn a_snapshot_names_a_customer_known_only_by_reference() {
        let reference = ProviderRef::new(Provider::Braintree, "cust-1").unwrap();
        let mut c = customer();
        c.provider_refs.insert(reference.clone());
        c.name = stand_in_name(&reference);
        assert!(c.has_stand_in_name());
        assert!(c.fill_blank_contact(Some("Léa Martin"), None, None));
        assert_eq!(c.name, "Léa Martin");
        assert!(!c.has_stand_in_name());
    }

    #[test]
    fn deletion_stops_reminders_once() {
        let mut c = customer();
        c.provider_updated_at = Some(t("2026-02-01T10:00:00Z"));
        assert!(!c.mark_deleted(t("2026-02-01T09:00:00Z")), "an older deletion was undone since");
        assert!(!c.reminders_stopped());
        assert!(c.mark_deleted(t("2026-02-01T11:00:00Z")));
        assert!(c.reminders_stopped());
        assert_eq!(c.deleted_at, Some(t("2026-02-01T11:00:00Z")));
        assert!(!c.mark_deleted(t("2026-02-01T12:00:00Z")), "deleted once is enough");
        assert_eq!(c.deleted_at, Some(t("2026-02-01T11:00:00Z")));
    }

    #[test]
    fn a_first_date_stays_the_first() {
        let mut c = customer();
        assert!(c.note_first_date("subscription_start", date(2026, 12, 1)));
        assert!(!c.note_first_date("subscription_start", date(2027, 1, 1)));
        assert_eq!(c.custom_dates.get("subscription_start"), Some(&date(2026, 12, 1)));
    }

    #[test]
    fn finds_provider_ids() {
        let mut c = customer();
        c.provider_refs.insert(ProviderRef::new(Provider::Stripe, "cus_123").unwrap());
        assert_eq!(c.provider_id(Provider::Stripe), Some("cus_123"));
        assert_eq!(c.provider_id(Provider::Shopify), None);
    }
}

/// The most tags (or lists) a customer carries, and the longest one.
pub const MAX_LABELS: usize = 50;
pub const MAX_LABEL_CHARS: usize = 50;

/// A tag, a list or a date field name that cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("{0:?} may hold letters, digits, spaces, '-' and '_', 1 to 50 of them")]
    Invalid(String),
    #[error("at most 50")]
    TooMany,
}

/// The name a customer first known only by a provider's reference goes by, until a provider
/// or a person gives theirs.
pub fn stand_in_name(reference: &ProviderRef) -> String {
    format!("{} customer {}", reference.provider, reference.id)
}

/// A tag, a list name or a date field as every input takes it (the back office, the generic
/// format, an import): trimmed, 1 to 50 letters, digits, spaces, `-` or `_`, so an audience
/// filter written in the settings finds it again.
pub fn label(value: &str) -> Result<String, LabelError> {
    let value = value.trim();
    let fits = (1..=MAX_LABEL_CHARS).contains(&value.chars().count());
    if fits && value.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_')) {
        Ok(value.to_string())
    } else {
        Err(LabelError::Invalid(value.to_string()))
    }
}

/// A set of tags or lists: each a [`label`], at most [`MAX_LABELS`].
pub fn labels<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<BTreeSet<String>, LabelError> {
    let labels = values.into_iter().map(label).collect::<Result<BTreeSet<String>, LabelError>>()?;
    if labels.len() > MAX_LABELS { Err(LabelError::TooMany) } else { Ok(labels) }
}
