//! Payment facts: a charge or transaction as the provider reports it, with the refunds its
//! running total reveals, and a refund on a shop order we already know.

use super::{Work, find_or_create, lookup};
use crate::domain::{
    CustomerId, InvoiceId, Money, Notification, NotificationKind, Payment, PaymentId, PaymentStatus, ProviderRef, Target, TargetKind,
};
use crate::facts::PaymentFacts;
use crate::store::{Record, StoreError};

use super::customer::Authority;

/// How old a refund may be, by the provider's event time, and still be news to the customer.
/// Providers deliver within hours (Stripe retries for three days, Shopify for two); a week
/// covers an outage of ours too.
const REFUND_NEWS_DAYS: i64 = 7;

impl Work<'_> {
    pub(super) async fn payment(&mut self, facts: &PaymentFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, _) = self.customer_zone(&customer_key);
        let invoice_id = match &facts.invoice {
            Some(reference) => {
                let key = lookup(self.store, &mut self.refs, &mut self.invoices, reference).await?;
                key.and_then(|k| self.invoices.get(&k)).map(|t| t.record.id.clone())
            }
            None => None,
        };
        let occurred_at = self.at;
        let linked_invoice = invoice_id.clone();
        let make = || {
            Some(Payment {
                id: PaymentId::generate(),
                customer_id,
                version: 0,
                invoice_id: linked_invoice,
                amount: facts.amount,
                status: facts.status,
                provider: facts.reference.provider,
                provider_ref: Some(facts.reference.clone()),
                failure_reason: None,
                refunds: Vec::new(),
                occurred_at,
                provider_updated_at: None,
            })
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.payments, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) };
        let at = self.at;
        let Some(tracked) = self.payments.get_mut(&key) else { return Ok(()) };
        let payment = &mut tracked.record;
        if payment.apply_provider_state(facts.amount, facts.status, facts.failure_reason.as_deref(), invoice_id, at) {
            // A refund the payment cannot take (it did not succeed, or more than is left) does
            // not stop the rest: the payment is recorded, and the log says what was not.
            let refunded = match payment.record_refunded_total(facts.amount_refunded, &facts.reference.id, at) {
                Ok(refunded) => refunded,
                Err(e) => {
                    tracing::warn!(error = %e, payment = %payment.id, "refund not recorded");
                    None
                }
            };
            tracked.changed = true;
            if let Some(refund) = refunded {
                let (customer, invoice) = (payment.customer_id.clone(), payment.invoice_id.clone());
                self.refund_notice(customer, invoice, refund.id.as_str(), refund.amount).await?;
            }
        }
        Ok(())
    }

    /// Tells the customer about money given back, once per refund: the notice's id comes
    /// from the refund's, so a refund reported again (a retried delivery, a later running
    /// total) finds it already written. A refund the provider reports from long ago (a
    /// backfill, an archived delivery replayed, a payment first seen already refunded) is
    /// recorded without a notice: the customer heard of it when it happened.
    async fn refund_notice(
        &mut self,
        customer: CustomerId,
        invoice: Option<InvoiceId>,
        refund: &str,
        amount: Money,
    ) -> Result<(), StoreError> {
        if self.now - self.at > chrono::Duration::days(REFUND_NEWS_DAYS) {
            tracing::info!(refund, at = %self.at, "an old refund: recorded, not announced");
            return Ok(());
        }
        let target = match invoice {
            Some(invoice) => Target { kind: TargetKind::Invoice, id: invoice.to_string() },
            None => Target { kind: TargetKind::Customer, id: customer.to_string() },
        };
        let Ok(notice) =
            Notification::pending(customer, target, NotificationKind::RefundIssued, Some(refund.to_string()), 1, Some(amount), self.now)
        else {
            return Ok(()); // a provider id that cannot be part of a key: recorded, not announced
        };
        if self.store.get::<Notification>(&notice.key()).await?.is_none() && !self.notifications.iter().any(|n| n.id == notice.id) {
            self.notifications.push(notice);
        }
        Ok(())
    }

    pub(super) async fn refund(&mut self, invoice: &ProviderRef, refund: &ProviderRef, amount: Money) -> Result<(), StoreError> {
        let Some(invoice_key) = lookup(self.store, &mut self.refs, &mut self.invoices, invoice).await? else {
            return Ok(()); // a refund on an order we never saw
        };
        let Some(invoice) = self.invoices.get(&invoice_key).map(|t| t.record.clone()) else { return Ok(()) };
        let at = self.at;
        // A refund already recorded is found, not created again (and not announced again).
        let mut created = false;
        let make = || {
            created = true;
            Some(Payment {
                id: PaymentId::generate(),
                customer_id: invoice.customer_id.clone(),
                version: 0,
                invoice_id: Some(invoice.id.clone()),
                amount,
                status: PaymentStatus::Refunded,
                provider: refund.provider,
                provider_ref: Some(refund.clone()),
                failure_reason: None,
                refunds: Vec::new(),
                occurred_at: at,
                provider_updated_at: Some(at),
            })
        };
        find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.payments, refund, make).await?;
        if created {
            self.refund_notice(invoice.customer_id, Some(invoice.id), &refund.id, amount).await?;
        }
        Ok(())
    }
}
