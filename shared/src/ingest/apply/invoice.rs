//! Invoice facts: an invoice's amounts, status and descriptive fields as the provider
//! reports them, its first reminder, and a failed collection that makes a notice due.

use super::{Tracked, Work, change_known, find_or_create, lookup};
use crate::domain::time::local_date;
use crate::domain::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus, ProviderRef};
use crate::facts::InvoiceFacts;
use crate::schedule::decide;
use crate::store::{Key, Record, StoreError};

use super::customer::Authority;

impl Work<'_> {
    pub(super) async fn invoice(&mut self, facts: &InvoiceFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, tz) = self.customer_zone(&customer_key);
        let subscription_id = self.subscription_id(facts.subscription.as_ref()).await?;
        let number =
            facts.number.as_deref().and_then(|n| InvoiceNumber::parse(n).ok()).or_else(|| InvoiceNumber::parse(&facts.reference.id).ok());
        let due_date = facts.due_date.unwrap_or_else(|| local_date(facts.issued_at, tz));
        let make = || {
            let mut invoice =
                Invoice::open(InvoiceId::generate(), customer_id, number.clone()?, facts.amount_due, facts.issued_at, due_date);
            invoice.provider_ref = Some(facts.reference.clone());
            Some(invoice)
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.invoices, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) }; // no number to give it
        let at = self.at;
        let first_reminder = decide::invoice_rungs(self.ladders, due_date, tz).first().map(|rung| rung.at);
        let Some(tracked) = self.invoices.get_mut(&key) else { return Ok(()) };
        let invoice = &mut tracked.record;
        let mut changed = invoice.apply_provider_state(facts.amount_due, facts.amount_paid, facts.status, at);
        if invoice.provider_updated_at == Some(at) {
            // Accepted: the descriptive fields and the retries follow the provider too. Our
            // number is replaced only when the provider gives one (its id names a new invoice).
            let number = number.filter(|_| facts.number.is_some());
            changed |= invoice.apply_provider_details(number, due_date, facts.payment_link.as_deref(), subscription_id);
            changed |= invoice.apply_provider_retry(facts.retry_at, at);
            changed |= invoice.link_mission(facts.mission.as_ref());
            changed |= first_reminder.is_some_and(|first| invoice.schedule_first_reminder(first));
        }
        tracked.changed |= changed;
        Ok(())
    }

    /// Every unpaid invoice of the subscription is settled (`Paid`: what was owed is now
    /// received) or no longer owed (`Void`), by the provider's word alone. The subscription's
    /// invoices are found in its customer's partition (one Query); those this delivery already
    /// holds are changed where they are.
    pub(super) async fn subscription_debts_closed(&mut self, subscription: &ProviderRef, status: InvoiceStatus) -> Result<(), StoreError> {
        let Some(key) = lookup(self.store, &mut self.refs, &mut self.subscriptions, subscription).await? else { return Ok(()) };
        let Some((subscription_id, customer_id)) =
            self.subscriptions.get(&key).map(|t| (t.record.id.clone(), t.record.customer_id.clone()))
        else {
            return Ok(());
        };
        for invoice in self.store.list_all::<Invoice>(&Key::customer_partition(&customer_id)).await? {
            if invoice.subscription_id.as_ref() == Some(&subscription_id) {
                self.invoices.entry(invoice.key()).or_insert(Tracked { record: invoice, is_new: false, changed: false });
            }
        }
        let at = self.at;
        for tracked in self.invoices.values_mut() {
            let invoice = &mut tracked.record;
            if invoice.subscription_id.as_ref() != Some(&subscription_id) || !invoice.is_owed() {
                continue;
            }
            let paid = if status == InvoiceStatus::Paid { invoice.amount_due } else { invoice.amount_paid };
            tracked.changed |= invoice.apply_provider_state(invoice.amount_due, paid, status, at);
        }
        Ok(())
    }

    /// The provider no longer has the invoice: whatever is still owed on it is not.
    pub(super) async fn invoice_withdrawn(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let at = self.at;
        change_known(self.store, &mut self.refs, &mut self.invoices, reference, |invoice| {
            invoice.is_owed() && invoice.apply_provider_state(invoice.amount_due, invoice.amount_paid, InvoiceStatus::Void, at)
        })
        .await
    }

    /// A collection failed on an invoice: its failure notice is due now.
    pub(super) async fn invoice_payment_failed(
        &mut self,
        reference: &ProviderRef,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), StoreError> {
        let at = self.at;
        change_known(self.store, &mut self.refs, &mut self.invoices, reference, |invoice| invoice.record_payment_failure(retry_at, at))
            .await
    }
}
