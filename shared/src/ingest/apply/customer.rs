//! Customer facts: the customer every other record hangs on, created on first sight, and
//! the details a provider tells us about them.
//!
//! A customer's own delivery (Stripe's `customer.updated`) is news about them and may
//! overwrite what we hold; the copy of their address an invoice or an order carries is a
//! snapshot and only fills blanks.

use chrono_tz::Tz;

use super::{Work, find_or_create, is_stale, lookup};
use crate::domain::{Customer, CustomerId, ProviderRef};
use crate::facts::CustomerFacts;
use crate::store::{Key, StoreError};

/// Whether customer facts may overwrite what we hold, or only fill blanks (an invoice's
/// copy of the customer's email is a snapshot, not news about the customer).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Authority {
    Overwrite,
    FillBlanks,
}

impl Work<'_> {
    /// Our customer for `facts.reference`, created on first sight.
    pub(super) async fn customer(&mut self, facts: &CustomerFacts, authority: Authority) -> Result<Key, StoreError> {
        let (defaults, now) = (self.defaults, self.now);
        let make = || {
            let name = facts
                .name
                .clone()
                .or_else(|| facts.email.as_ref().map(|e| e.to_string()))
                .unwrap_or_else(|| format!("{} customer {}", facts.reference.provider, facts.reference.id));
            let locale = facts.locale.clone().unwrap_or_else(|| defaults.locale.clone());
            let mut customer = Customer::new(CustomerId::generate(), name, locale, defaults.time_zone, now);
            customer.provider_refs.insert(facts.reference.clone());
            Some(customer)
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.customers, &facts.reference, make).await?;
        let Some(key) = found else {
            return Err(StoreError::Encode { record_type: "Customer", reason: "no customer could be made".into() });
        };
        let at = self.at;
        if let Some(tracked) = self.customers.get_mut(&key) {
            let customer = &mut tracked.record;
            let mut changed = false;
            match authority {
                Authority::Overwrite if !is_stale(customer.provider_updated_at, at) => {
                    if let Some(name) = &facts.name {
                        changed |= customer.name != *name;
                        customer.name = name.clone();
                    }
                    if facts.email.is_some() && customer.email != facts.email {
                        customer.email = facts.email.clone();
                        customer.email_undeliverable = false;
                        changed = true;
                    }
                    if facts.phone.is_some() && customer.phone != facts.phone {
                        customer.phone = facts.phone.clone();
                        changed = true;
                    }
                    if let Some(locale) = &facts.locale {
                        changed |= customer.locale != *locale;
                        customer.locale = locale.clone();
                    }
                    for (field, date) in &facts.dates {
                        changed |= customer.custom_dates.insert(field.clone(), *date) != Some(*date);
                    }
                    customer.provider_updated_at = Some(at);
                    changed |= tracked.is_new;
                }
                Authority::Overwrite => {}
                Authority::FillBlanks => {
                    if customer.email.is_none() && facts.email.is_some() {
                        customer.email = facts.email.clone();
                        changed = true;
                    }
                    if customer.phone.is_none() && facts.phone.is_some() {
                        customer.phone = facts.phone.clone();
                        changed = true;
                    }
                }
            }
            tracked.changed |= changed;
        }
        Ok(key)
    }

    /// The id and time zone of the customer at `key`, which [`Work::customer`] just found or made.
    pub(super) fn customer_zone(&self, key: &Key) -> (CustomerId, Tz) {
        match self.customers.get(key) {
            Some(t) => (t.record.id.clone(), t.record.time_zone),
            None => (CustomerId::generate(), self.defaults.time_zone),
        }
    }

    pub(super) async fn customer_deleted(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let Some(key) = lookup(self.store, &mut self.refs, &mut self.customers, reference).await? else {
            return Ok(()); // never heard of them: nothing to stop
        };
        let at = self.at;
        if let Some(tracked) = self.customers.get_mut(&key) {
            let customer = &mut tracked.record;
            if !is_stale(customer.provider_updated_at, at) && customer.deleted_at.is_none() {
                customer.deleted_at = Some(at);
                customer.reminders_paused = true;
                customer.provider_updated_at = Some(at);
                tracked.changed = true;
            }
        }
        Ok(())
    }
}
