//! A subscription: a plan billed every period until cancelled.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::follow_up::FollowUp;
use super::ids::{CustomerId, PaymentMethodId, SubscriptionId};
use super::money::Money;
use super::provider::{ProviderRef, is_stale};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The customer asked to stop at the end of this period: it will not renew by itself, so
    /// they are told before it ends (and may change their mind).
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// Renewed by the customer's own payment (an invoice to pay, a transfer), not charged by
    /// the provider: without reminders it would lapse.
    #[serde(default)]
    pub manual_renewal: bool,
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
    /// Charges failed in a row, and days the balance has been owed, as the provider counts
    /// them (Braintree's `failure-count` and `days-past-due`): shown to the team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_past_due: Option<u32>,
}

impl Subscription {
    /// True when the subscription will renew by itself at the end of the current period (the
    /// provider charges the card on file): a renewal will need the card, and nobody needs
    /// telling about it.
    pub fn renews(&self) -> bool {
        self.status.is_live() && !self.cancel_at_period_end && !self.manual_renewal
    }

    /// Live, but will not renew by itself (set to cancel, or renewed by hand): the renewal
    /// ladder tells the customer before the period ends. A subscription that renews by itself
    /// gets no "nothing to do" message.
    pub fn needs_renewal_reminders(&self) -> bool {
        self.status.is_live() && !self.renews()
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

    /// Takes the provider's description of the subscription as of `at` (`latest`, built from
    /// its facts as a first sight would store it): plan, price, interval, status, period and
    /// the cancellation flag follow the provider; ids, card and follow-up stay ours. A new
    /// period (another end), or a renewing subscription with nothing planned, starts its
    /// renewal reminders afresh at `renewal_notice`, the ladder's first notice for that period.
    /// Facts older than the last ones applied are ignored. Returns whether they were applied.
    pub fn apply_provider_state(&mut self, latest: &Subscription, renewal_notice: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
        if is_stale(self.provider_updated_at, at) {
            return false;
        }
        let renewed = self.current_period_end != latest.current_period_end;
        self.plan = latest.plan.clone();
        self.price = latest.price;
        self.interval = latest.interval;
        self.status = latest.status;
        self.current_period_start = latest.current_period_start;
        self.current_period_end = latest.current_period_end;
        self.cancel_at_period_end = latest.cancel_at_period_end;
        self.manual_renewal = latest.manual_renewal;
        self.failure_count = latest.failure_count;
        self.days_past_due = latest.days_past_due;
        if latest.payment_method_id.is_some() {
            self.payment_method_id.clone_from(&latest.payment_method_id);
        }
        self.provider_updated_at = Some(at);
        if self.settle_follow_up() && (renewed || self.follow_up.next_action_at.is_none()) {
            // A new period starts its own renewal reminders.
            self.follow_up = FollowUp::default();
            if let Some(notice) = renewal_notice {
                self.follow_up.schedule(notice);
            }
        }
        true
    }

    /// Takes a status the provider reports at `at` on its own (Braintree's notifications carry
    /// nothing else). Paid again after being past due, the past-due reminders stop and the
    /// renewal ones resume: the scan looks at `at` and climbs the period's notices in the
    /// customer's zone, waiting for the next one. Facts older than the last ones applied are
    /// ignored. Returns whether it was applied.
    pub fn apply_provider_status(&mut self, status: SubscriptionStatus, at: DateTime<Utc>) -> bool {
        if is_stale(self.provider_updated_at, at) {
            return false;
        }
        let was_past_due = self.status == SubscriptionStatus::PastDue;
        self.status = status;
        self.provider_updated_at = Some(at);
        if self.settle_follow_up() && was_past_due && status == SubscriptionStatus::Active {
            self.follow_up = FollowUp::default();
            self.follow_up.schedule(at);
        }
        true
    }

    /// The provider announces a renewal or a trial end at `at`: a renewal notice is due by
    /// then, if the subscription renews. Returns whether one was made due.
    pub fn renewal_due_by(&mut self, at: DateTime<Utc>) -> bool {
        if !self.needs_renewal_reminders() {
            return false;
        }
        self.follow_up.due_by(at);
        true
    }

    /// A renewal payment failed at `at`: a live subscription is past due. Its failure notice is
    /// due now when it carries it (`notify`): not when an invoice of it does, so that one
    /// failure makes one notice. Ignored when older than the last facts applied. Returns
    /// whether it was recorded.
    pub fn record_payment_failure(&mut self, notify: bool, at: DateTime<Utc>) -> bool {
        if !self.status.is_live() || is_stale(self.provider_updated_at, at) {
            return false;
        }
        self.status = SubscriptionStatus::PastDue;
        if notify {
            self.follow_up.failure_pending = true;
            self.follow_up.due_by(at);
        }
        true
    }

    /// Drops what the current status ends: a failure notice not sent yet once no longer past
    /// due (paid again before the notice went), every reminder once it is over, the renewal
    /// reminders once it renews by itself. Returns whether renewal reminders are owed.
    fn settle_follow_up(&mut self) -> bool {
        if self.status != SubscriptionStatus::PastDue {
            self.follow_up.failure_pending = false;
        }
        let reminders = self.needs_renewal_reminders();
        if !self.status.is_live() || (!reminders && !self.follow_up.failure_pending) {
            self.follow_up.clear();
        }
        reminders
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn subscription() -> Subscription {
        Subscription {
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
            manual_renewal: false,
            payment_method_id: None,
            provider_ref: None,
            follow_up: FollowUp::default(),
            provider_updated_at: None,
            started_at: None,
            ended_at: None,
            failure_count: None,
            days_past_due: None,
        }
    }

    #[test]
    fn only_live_subscriptions_without_a_pending_cancellation_renew() {
        let mut sub = subscription();
        assert!(sub.renews());
        sub.cancel_at_period_end = true;
        assert!(!sub.renews());
        assert!(sub.needs_renewal_reminders(), "set to cancel: told before it ends");
        sub.cancel_at_period_end = false;
        sub.manual_renewal = true;
        assert!(!sub.renews() && sub.needs_renewal_reminders(), "renewed by hand: told before it ends");
        sub.manual_renewal = false;
        assert!(!sub.needs_renewal_reminders(), "renews by itself: nothing to tell");
        sub.status = SubscriptionStatus::PastDue;
        assert!(sub.renews());
        sub.follow_up.schedule("2026-11-20T08:00:00Z".parse().unwrap());
        sub.cancel();
        assert!(!sub.renews());
        assert_eq!(sub.follow_up.next_action_at, None);
    }

    #[test]
    fn a_new_period_starts_its_renewal_reminders_afresh() {
        let mut sub = Subscription { manual_renewal: true, ..subscription() };
        sub.follow_up.step = 2;
        sub.follow_up.schedule(t("2026-11-28T08:00:00Z"));
        let same_period = sub.clone();
        assert!(sub.apply_provider_state(&same_period, Some(t("2026-11-24T08:00:00Z")), t("2026-11-20T10:00:00Z")));
        assert_eq!(
            (sub.follow_up.step, sub.follow_up.next_action_at),
            (2, Some(t("2026-11-28T08:00:00Z"))),
            "same period: reminders go on"
        );

        let mut next = sub.clone();
        next.plan = "Jardin d'entreprise".into();
        next.current_period_start = t("2026-12-01T00:00:00Z");
        next.current_period_end = t("2027-01-01T00:00:00Z");
        next.follow_up = FollowUp::default();
        assert!(sub.apply_provider_state(&next, Some(t("2026-12-25T08:00:00Z")), t("2026-12-01T00:05:00Z")));
        assert_eq!((sub.plan.as_str(), sub.current_period_end), ("Jardin d'entreprise", t("2027-01-01T00:00:00Z")));
        assert_eq!((sub.follow_up.step, sub.follow_up.next_action_at), (0, Some(t("2026-12-25T08:00:00Z"))));
        assert_eq!(sub.provider_updated_at, Some(t("2026-12-01T00:05:00Z")));

        // An older description changes nothing; renewing by itself stops the reminders.
        let mut automatic = next.clone();
        automatic.manual_renewal = false;
        assert!(!sub.apply_provider_state(&automatic, None, t("2026-11-30T00:00:00Z")));
        assert!(sub.needs_renewal_reminders());
        assert!(sub.apply_provider_state(&automatic, None, t("2026-12-02T00:00:00Z")));
        assert_eq!(sub.follow_up.next_action_at, None);
    }

    #[test]
    fn paid_again_after_past_due_the_renewal_reminders_resume_now() {
        let mut sub = Subscription { manual_renewal: true, ..subscription() };
        sub.status = SubscriptionStatus::PastDue;
        sub.follow_up.step = 1;
        sub.follow_up.failure_pending = true;
        sub.provider_updated_at = Some(t("2026-11-10T10:00:00Z"));
        assert!(!sub.apply_provider_status(SubscriptionStatus::Active, t("2026-11-10T09:00:00Z")), "older");
        assert!(sub.apply_provider_status(SubscriptionStatus::Active, t("2026-11-12T10:00:00Z")));
        assert_eq!(sub.follow_up, FollowUp { next_action_at: Some(t("2026-11-12T10:00:00Z")), ..FollowUp::default() });

        assert!(sub.apply_provider_status(SubscriptionStatus::Canceled, t("2026-11-13T10:00:00Z")));
        assert_eq!(sub.follow_up.next_action_at, None);
        assert!(!sub.renewal_due_by(t("2026-11-14T10:00:00Z")), "a cancelled subscription does not renew");
    }

    #[test]
    fn a_renewal_announced_is_due_by_then() {
        let mut sub = Subscription { cancel_at_period_end: true, ..subscription() };
        sub.follow_up.schedule(t("2026-11-28T08:00:00Z"));
        assert!(sub.renewal_due_by(t("2026-11-25T10:00:00Z")));
        assert_eq!(sub.follow_up.next_action_at, Some(t("2026-11-25T10:00:00Z")));
    }

    #[test]
    fn a_failed_renewal_makes_a_live_subscription_past_due() {
        let mut sub = subscription();
        sub.follow_up.schedule(t("2026-11-28T08:00:00Z"));
        assert!(sub.record_payment_failure(false, t("2026-12-01T10:00:00Z")));
        assert_eq!(sub.status, SubscriptionStatus::PastDue);
        assert_eq!(sub.follow_up.next_action_at, Some(t("2026-11-28T08:00:00Z")), "the invoice carries the notice");
        assert!(!sub.follow_up.failure_pending);
        assert!(sub.record_payment_failure(true, t("2026-12-01T10:00:00Z")));
        assert!(sub.follow_up.failure_pending);

        let mut sub = subscription();
        sub.follow_up.schedule(t("2026-12-28T08:00:00Z"));
        assert!(sub.record_payment_failure(true, t("2026-12-01T10:00:00Z")));
        assert_eq!(sub.follow_up.next_action_at, Some(t("2026-12-01T10:00:00Z")), "its own notice is due now");

        let mut sub = subscription();
        sub.provider_updated_at = Some(t("2026-12-02T00:00:00Z"));
        assert!(!sub.record_payment_failure(true, t("2026-12-01T10:00:00Z")), "older");
        sub.cancel();
        assert!(!sub.record_payment_failure(true, t("2026-12-03T10:00:00Z")), "no longer live");
        assert_eq!(sub.status, SubscriptionStatus::Canceled);
    }
}
