//! A subscription: a plan billed every period until cancelled.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::follow_up::FollowUp;
use super::ids::{CustomerId, PaymentMethodId, SubscriptionId};
use super::money::Money;
use super::provider::ProviderRef;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    /// A renewal payment failed and the provider is still retrying.
    PastDue,
    /// Retries are exhausted; the subscription is kept but unpaid.
    Unpaid,
    Paused,
    Canceled,
    /// Reached its end date without renewal (Braintree's "expired").
    Expired,
}

impl SubscriptionStatus {
    pub fn is_live(self) -> bool {
        matches!(self, SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingInterval {
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub customer_id: CustomerId,
    #[serde(default)]
    pub version: u64,
    /// The plan as the business names it ("Potager solo", "Jardin d'entreprise").
    pub plan: String,
    /// The price of one period.
    pub price: Money,
    pub interval: BillingInterval,
    pub status: SubscriptionStatus,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    /// The customer asked to stop at the end of this period: no renewal reminders.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    pub payment_method_id: Option<PaymentMethodId>,
    pub provider_ref: Option<ProviderRef>,
    #[serde(default)]
    pub follow_up: FollowUp,
    /// When the provider last changed this record (its event time): older deliveries are ignored.
    #[serde(default)]
    pub provider_updated_at: Option<DateTime<Utc>>,
    /// When the subscriber signed up: the KPIs' retention and MRR.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it was cancelled or expired: the KPIs' churn.
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// True when the subscription will renew at the end of the current period, so renewal
    /// reminders make sense.
    pub fn renews(&self) -> bool {
        self.status.is_live() && !self.cancel_at_period_end
    }

    /// The customer or the provider cancelled: no more renewal reminders.
    /// Notes the start (the first period's start, at the latest `at`) and the end (when it
    /// stopped being live). Writers call it with the time of the change they apply.
    pub fn note_lifecycle(&mut self, at: DateTime<Utc>) {
        self.started_at.get_or_insert(self.current_period_start.min(at));
        if self.status.is_live() {
            self.ended_at = None;
        } else if matches!(self.status, SubscriptionStatus::Canceled | SubscriptionStatus::Expired) {
            self.ended_at.get_or_insert(at);
        }
    }

    /// Live at `at`: started, and not yet cancelled or expired (unpaid and paused
    /// subscribers still count as subscribers).
    pub fn live_at(&self, at: DateTime<Utc>) -> bool {
        let started = self.started_at.unwrap_or(self.current_period_start);
        if started > at {
            return false;
        }
        match self.ended_at {
            Some(end) => end > at,
            None => !matches!(self.status, SubscriptionStatus::Canceled | SubscriptionStatus::Expired),
        }
    }

    /// The price brought to one month, rounded half-even: a yearly plan counts a twelfth.
    pub fn monthly_value(&self) -> Result<Money, crate::domain::MoneyError> {
        let (n, d) = match self.interval {
            BillingInterval::Week => (52, 12),
            BillingInterval::Month => (1, 1),
            BillingInterval::Quarter => (1, 3),
            BillingInterval::Year => (1, 12),
        };
        self.price.mul_ratio(n, d, crate::domain::Rounding::HalfEven)
    }

    pub fn cancel(&mut self) {
        self.status = SubscriptionStatus::Canceled;
        self.follow_up.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    #[test]
    fn only_live_subscriptions_without_a_pending_cancellation_renew() {
        let mut sub = Subscription {
            id: SubscriptionId::generate(),
            customer_id: CustomerId::generate(),
            version: 0,
            plan: "Potager solo".into(),
            price: Money::from_minor(2900, Currency::EUR),
            interval: BillingInterval::Month,
            status: SubscriptionStatus::Active,
            current_period_start: "2026-11-01T00:00:00Z".parse().unwrap(),
            current_period_end: "2026-12-01T00:00:00Z".parse().unwrap(),
            cancel_at_period_end: false,
            payment_method_id: None,
            provider_ref: None,
            follow_up: FollowUp::default(),
            provider_updated_at: None,
            started_at: None,
            ended_at: None,
        };
        assert!(sub.renews());
        sub.cancel_at_period_end = true;
        assert!(!sub.renews());
        sub.cancel_at_period_end = false;
        sub.status = SubscriptionStatus::PastDue;
        assert!(sub.renews());
        sub.follow_up.schedule("2026-11-20T08:00:00Z".parse().unwrap());
        sub.cancel();
        assert!(!sub.renews());
        assert_eq!(sub.follow_up.next_action_at, None);
    }
}
