//! A payment: one attempt to collect money (a charge, a transaction), its outcome and refunds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, InvoiceId, PaymentId, RefundId};
use super::money::{Money, MoneyError};
use super::provider::{Provider, ProviderRef, is_stale};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    PartiallyRefunded,
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("only a succeeded payment can be refunded (this one is {0:?})")]
    NotRefundable(PaymentStatus),
    #[error("refund of {requested} exceeds the {refundable} left to refund")]
    RefundTooLarge { requested: Money, refundable: Money },
    #[error("a refund must be a positive amount")]
    NonPositiveRefund,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: RefundId,
    pub amount: Money,
    pub refunded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub customer_id: CustomerId,
    #[serde(default)]
    pub version: u64,
    pub invoice_id: Option<InvoiceId>,
    pub amount: Money,
    pub status: PaymentStatus,
    pub provider: Provider,
    pub provider_ref: Option<ProviderRef>,
    /// The provider's reason for a failure (`card_declined`, `insufficient_funds`).
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    pub occurred_at: DateTime<Utc>,
    /// When the provider last changed this record (its event time): older deliveries are ignored.
    #[serde(default)]
    pub provider_updated_at: Option<DateTime<Utc>>,
}

impl Payment {
    pub fn refunded(&self) -> Result<Money, MoneyError> {
        Money::sum(self.amount.currency(), self.refunds.iter().map(|r| r.amount))
    }

    /// What the business keeps: the amount less refunds.
    pub fn net_amount(&self) -> Result<Money, MoneyError> {
        self.amount.checked_sub(self.refunded()?)
    }

    /// Records a refund, refusing one that would give back more than was taken. A refund
    /// already recorded (same id, as a provider resends it) changes nothing.
    pub fn refund(&mut self, refund: Refund) -> Result<(), PaymentError> {
        if self.refunds.iter().any(|r| r.id == refund.id) {
            return Ok(());
        }
        if !refund.amount.is_positive() {
            return Err(PaymentError::NonPositiveRefund);
        }
        if !matches!(self.status, PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded) {
            return Err(PaymentError::NotRefundable(self.status));
        }
        let refundable = self.net_amount()?;
        if refund.amount.checked_cmp(refundable)? == std::cmp::Ordering::Greater {
            return Err(PaymentError::RefundTooLarge { requested: refund.amount, refundable });
        }
        self.refunds.push(refund);
        self.status = if self.net_amount()?.is_zero() { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
        Ok(())
    }

    /// Takes the provider's view of the payment as of `at`: amount, failure reason, and the
    /// invoice it pays when the provider names one we know (`None` keeps ours). Its status too,
    /// until a refund is recorded: from then on ours says how much went back, which the
    /// provider's (a charge stays `succeeded`) does not. Facts older than the last ones applied
    /// are ignored. Returns whether they were applied.
    pub fn apply_provider_state(
        &mut self,
        amount: Money,
        status: PaymentStatus,
        failure_reason: Option<&str>,
        invoice_id: Option<InvoiceId>,
        at: DateTime<Utc>,
    ) -> bool {
        if is_stale(self.provider_updated_at, at) {
            return false;
        }
        if self.refunds.is_empty() {
            self.status = status;
        }
        self.amount = amount;
        self.failure_reason = failure_reason.map(str::to_string);
        if invoice_id.is_some() {
            self.invoice_id = invoice_id;
        }
        self.provider_updated_at = Some(at);
        true
    }

    /// Records the refunded total the provider reports at `at` (providers report the running
    /// total, not each refund). What it adds to the refunds we hold is a new refund, named
    /// after the payment's provider id (`provider_id`) and the total it brings us to, so that
    /// the same report twice adds nothing. A total no larger than ours, in another currency,
    /// or making an id that cannot be a key, adds nothing either.
    /// The refund recorded, if the total revealed a new one.
    pub fn record_refunded_total(&mut self, total: Money, provider_id: &str, at: DateTime<Utc>) -> Result<Option<Refund>, PaymentError> {
        let refunded = self.refunded().unwrap_or(Money::zero(self.amount.currency()));
        let Ok(extra) = total.checked_sub(refunded) else { return Ok(None) };
        if !extra.is_positive() {
            return Ok(None);
        }
        let Ok(id) = RefundId::parse(&format!("{provider_id}-refunded-{}", total.minor_units())) else { return Ok(None) };
        let refund = Refund { id, amount: extra, refunded_at: at };
        self.refund(refund.clone())?;
        Ok(Some(refund))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn refund(id: &str, minor: i64) -> Refund {
        Refund { id: RefundId::parse(id).unwrap(), amount: eur(minor), refunded_at: "2026-11-02T00:00:00Z".parse().unwrap() }
    }

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            id: PaymentId::generate(),
            customer_id: CustomerId::generate(),
            version: 0,
            invoice_id: None,
            amount: eur(5000),
            status,
            provider: Provider::Stripe,
            provider_ref: None,
            failure_reason: None,
            refunds: vec![],
            occurred_at: "2026-11-01T00:00:00Z".parse().unwrap(),
            provider_updated_at: None,
        }
    }

    #[test]
    fn refunds_add_up_to_at_most_the_amount() {
        let mut p = payment(PaymentStatus::Succeeded);
        p.refund(refund("re_1", 2000)).unwrap();
        assert_eq!(p.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(p.net_amount().unwrap(), eur(3000));
        assert!(matches!(p.refund(refund("re_2", 3001)), Err(PaymentError::RefundTooLarge { .. })));
        p.refund(refund("re_2", 3000)).unwrap();
        assert_eq!(p.status, PaymentStatus::Refunded);
        assert_eq!(p.net_amount().unwrap(), eur(0));
    }

    #[test]
    fn the_same_refund_twice_counts_once() {
        let mut p = payment(PaymentStatus::Succeeded);
        p.refund(refund("re_1", 1000)).unwrap();
        p.refund(refund("re_1", 1000)).unwrap();
        assert_eq!(p.refunds.len(), 1);
        assert_eq!(p.net_amount().unwrap(), eur(4000));
    }

    #[test]
    fn failed_payments_and_odd_refunds_are_refused() {
        let mut p = payment(PaymentStatus::Failed);
        assert_eq!(p.refund(refund("re_1", 100)), Err(PaymentError::NotRefundable(PaymentStatus::Failed)));
        let mut p = payment(PaymentStatus::Succeeded);
        assert_eq!(p.refund(refund("re_1", 0)), Err(PaymentError::NonPositiveRefund));
        let usd = Refund { amount: Money::from_minor(100, Currency::USD), ..refund("re_2", 1) };
        assert!(matches!(p.refund(usd), Err(PaymentError::Money(MoneyError::CurrencyMismatch(..)))));
    }

    #[test]
    fn provider_state_sets_the_status_until_a_refund_is_ours() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let invoice = InvoiceId::generate();
        let mut p = payment(PaymentStatus::Pending);
        p.failure_reason = Some("card_declined".into());
        assert!(p.apply_provider_state(eur(5000), PaymentStatus::Succeeded, None, Some(invoice.clone()), t("2026-11-01T10:00:00Z")));
        assert_eq!((p.status, p.failure_reason.as_deref(), p.invoice_id.as_ref()), (PaymentStatus::Succeeded, None, Some(&invoice)));
        assert!(p.apply_provider_state(eur(5000), PaymentStatus::Succeeded, None, None, t("2026-11-01T11:00:00Z")));
        assert_eq!(p.invoice_id.as_ref(), Some(&invoice), "an invoice left out is kept");

        p.refund(refund("re_1", 1000)).unwrap();
        assert!(p.apply_provider_state(eur(5000), PaymentStatus::Succeeded, None, None, t("2026-11-02T10:00:00Z")));
        assert_eq!(p.status, PaymentStatus::PartiallyRefunded);
        assert!(!p.apply_provider_state(eur(4000), PaymentStatus::Failed, Some("expired_card"), None, t("2026-11-02T09:00:00Z")), "older");
        assert_eq!((p.amount, p.failure_reason.as_deref()), (eur(5000), None));
    }

    #[test]
    fn a_refunded_total_adds_the_difference_once() {
        let at: DateTime<Utc> = "2026-11-03T10:00:00Z".parse().unwrap();
        let mut p = payment(PaymentStatus::Succeeded);
        let first = p.record_refunded_total(eur(2000), "ch_1", at).unwrap();
        assert_eq!(p.refunds, vec![Refund { id: RefundId::parse("ch_1-refunded-2000").unwrap(), amount: eur(2000), refunded_at: at }]);
        assert_eq!(first.as_ref(), p.refunds.first(), "the new refund is handed back (to be announced)");
        assert_eq!(p.record_refunded_total(eur(2000), "ch_1", at).unwrap(), None);
        assert_eq!(p.record_refunded_total(eur(0), "ch_1", at).unwrap(), None);
        assert_eq!(p.record_refunded_total(Money::from_minor(9000, Currency::USD), "ch_1", at).unwrap(), None);
        assert_eq!(p.refunds.len(), 1, "the same total, a smaller one or another currency adds nothing");
        assert!(matches!(p.record_refunded_total(eur(6000), "ch_1", at), Err(PaymentError::RefundTooLarge { .. })), "more than was paid");
        p.record_refunded_total(eur(5000), "ch_1", at).unwrap();
        assert_eq!((p.refunds[1].id.as_str(), p.refunds[1].amount), ("ch_1-refunded-5000", eur(3000)));
        assert_eq!(p.status, PaymentStatus::Refunded);
    }
}
