//! Invoice facts: an invoice's amounts and status as the provider reports them, its
//! descriptive fields, its first reminder, and a failed collection that makes a reminder due.

use super::{Work, due_by, find_or_create, is_stale, lookup};
use crate::domain::time::local_date;
use crate::domain::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus, ProviderRef};
use crate::facts::InvoiceFacts;
use crate::schedule::decide;
use crate::store::StoreError;

use super::customer::Authority;

impl Work<'_> {
    pub(super) async fn invoice(&mut self, facts: &InvoiceFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, tz) = self.customer_zone(&customer_key);
        let subscription_id = self.subscription_id(facts.subscription.as_ref()).await?;
        let number = facts
            .number
            .as_deref()
            .and_then(|n| InvoiceNumber::parse(n).ok())
            .or_else(|| InvoiceNumber::parse(&facts.reference.id).ok());
        let due_date = facts.due_date.unwrap_or_else(|| local_date(facts.issued_at, tz));
        let make = || {
            let mut invoice = Invoice::open(InvoiceId::generate(), customer_id, number.clone()?, facts.amount_due, facts.issued_at, due_date);
            invoice.provider_ref = Some(facts.reference.clone());
            Some(invoice)
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.invoices, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) }; // no number to give it
        let at = self.at;
        let first_reminder = decide::invoice_rungs(self.ladders, due_date, tz).first().map(|rung| rung.at);
        let Some(tracked) = self.invoices.get_mut(&key) else { return Ok(()) };
        let invoice = &mut tracked.record;
        if is_stale(invoice.provider_updated_at, at) {
            return Ok(());
        }
        let mut changed = invoice.apply_provider_state(facts.amount_due, facts.amount_paid, facts.status, at);
        if invoice.provider_updated_at == Some(at) {
            // Accepted: the descriptive fields follow the provider too.
            if let Some(number) = number.filter(|n| facts.number.is_some() && *n != invoice.number) {
                invoice.number = number;
                changed = true;
            }
            if invoice.due_date != due_date {
                invoice.due_date = due_date;
                changed = true;
            }
            if facts.payment_link.is_some() && invoice.payment_link != facts.payment_link {
                invoice.payment_link = facts.payment_link.clone();
                changed = true;
            }
            if subscription_id.is_some() && invoice.subscription_id != subscription_id {
                invoice.subscription_id = subscription_id;
                changed = true;
            }
            if matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid) {
                changed |= invoice.autopay_retry_pending != facts.retry_pending;
                if invoice.autopay_retry_pending && !facts.retry_pending && invoice.follow_up.step > 0 {
                    // The provider stopped retrying: the paused ladder resumes now.
                    due_by(&mut invoice.follow_up, at);
                }
                invoice.autopay_retry_pending = facts.retry_pending;
                if invoice.follow_up.next_action_at.is_none() && invoice.follow_up.step == 0 {
                    if let Some(first) = first_reminder {
                        invoice.follow_up.schedule(first);
                        changed = true;
                    }
                }
            }
        }
        tracked.changed |= changed;
        Ok(())
    }

    /// A collection failed on an invoice: its failure notice is due now.
    pub(super) async fn invoice_payment_failed(&mut self, reference: &ProviderRef, retry_pending: bool) -> Result<(), StoreError> {
        let at = self.at;
        if let Some(key) = lookup(self.store, &mut self.refs, &mut self.invoices, reference).await? {
            if let Some(tracked) = self.invoices.get_mut(&key) {
                let invoice = &mut tracked.record;
                // An older failure (one that still had a retry coming) must not undo a newer state.
                if matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid) && !is_stale(invoice.provider_updated_at, at) {
                    invoice.autopay_retry_pending = retry_pending;
                    invoice.follow_up.failure_pending = true;
                    invoice.provider_updated_at = Some(at);
                    due_by(&mut invoice.follow_up, at);
                    tracked.changed = true;
                }
            }
        }
        Ok(())
    }
}
