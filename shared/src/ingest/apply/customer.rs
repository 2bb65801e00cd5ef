//! Customer facts: the customer every other record hangs on, created on first sight, the
//! details a provider tells us about them, and their deletion.
//!
//! A customer's own delivery (Stripe's `customer.updated`) is news about them and may
//! overwrite what we hold; the copy of their address an invoice or an order carries is a
//! snapshot and only fills blanks.

use chrono_tz::Tz;

use super::{Work, change_known, find_or_create};
use crate::domain::{Customer, CustomerId, Notification, NotificationKind, ProviderRef, Target, TargetKind};
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
                .unwrap_or_else(|| crate::domain::customer::stand_in_name(&facts.reference));
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
            let (customer, email, phone) = (&mut tracked.record, facts.email.as_ref(), facts.phone.as_ref());
            tracked.changed |= match authority {
                Authority::Overwrite => {
                    let labels = customer.apply_provider_labels(facts.tags.as_ref(), facts.lists.as_ref(), at);
                    customer.apply_provider_details(facts.name.as_deref(), email, phone, facts.locale.as_ref(), &facts.dates, at) | labels
                }
                Authority::FillBlanks => customer.fill_blank_contact(facts.name.as_deref(), email, phone),
            };
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

    /// The customer asked the provider for their data: the team gets a note (the customer's
    /// name, email and phone, and the request's id) to send them their export
    /// (`GET /admin/customers/{id}`, or the member's own `GET /me/export`).
    pub(super) async fn data_requested(&mut self, reference: &ProviderRef, request: &str) -> Result<(), StoreError> {
        let Some(key) = super::lookup(self.store, &mut self.refs, &mut self.customers, reference).await? else { return Ok(()) };
        let Some(tracked) = self.customers.get(&key) else { return Ok(()) };
        let request: String = request.chars().filter(|c| c.is_ascii_alphanumeric()).take(40).collect();
        let target = Target { kind: TargetKind::Customer, id: tracked.record.id.to_string() };
        let rule = format!("{}-data-request-{request}", reference.provider);
        let note = Notification::pending(tracked.record.id.clone(), target, NotificationKind::Internal, Some(rule), 1, None, self.now)
            .map_err(|e| StoreError::Encode { record_type: "Notification", reason: e.to_string() })?;
        self.notifications.push(note);
        Ok(())
    }

    /// Deleted at the provider: reminders stop (a customer we never heard of has none to stop).
    pub(super) async fn customer_deleted(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let at = self.at;
        change_known(self.store, &mut self.refs, &mut self.customers, reference, |customer| customer.mark_deleted(at)).await
    }
}
