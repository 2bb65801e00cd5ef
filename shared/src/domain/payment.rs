//! A payment: one attempt to collect money (a charge, a transaction), its outcome and refunds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, InvoiceId, PaymentId, RefundId};
use super::money::{Money, MoneyError};
use super::provider::{Provider, ProviderRef};

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
        self.status = if self.net_amount()?.is_zero() {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        };
        Ok(())
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
}
