//! An invoice: what a customer owes, what they have paid, and where its follow-up stands.
//!
//! Status follows from the amounts: recording payments moves an open invoice to partially
//! paid and then paid, and a paid invoice has nothing left to remind about. Void and
//! uncollectible ("written off") are final decisions of the business.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::follow_up::FollowUp;
use super::ids::{CustomerId, InvoiceId, InvoiceNumber, MissionId, SubscriptionId};
use super::money::{Currency, Money, MoneyError};
use super::provider::{ProviderRef, is_stale};

/// How long after a provider's announced retry reminders still wait for its outcome.
pub const RETRY_GRACE: chrono::Duration = chrono::Duration::days(1);
/// How long a retry hold with no announced time lasts (one stored before the time was kept).
pub const RETRY_HOLD_WITHOUT_TIME: chrono::Duration = chrono::Duration::days(8);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Not yet sent to the customer; nothing is owed yet.
    Draft,
    Open,
    PartiallyPaid,
    Paid,
    /// Cancelled by the business; nothing is owed.
    Void,
    /// Written off by the business; no more reminders.
    Uncollectible,
}

impl InvoiceStatus {
    /// Paid, void and uncollectible invoices never change again (short of a refund).
    pub fn is_closed(self) -> bool {
        matches!(self, InvoiceStatus::Paid | InvoiceStatus::Void | InvoiceStatus::Uncollectible)
    }

    /// Issued and not cancelled: counts in billing figures (drafts and voided invoices do not).
    pub fn counts_as_billed(self) -> bool {
        !matches!(self, InvoiceStatus::Draft | InvoiceStatus::Void)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("invoice is {0:?} and cannot take this change")]
    Closed(InvoiceStatus),
    #[error("a payment must be a positive amount")]
    NonPositivePayment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: InvoiceId,
    pub customer_id: CustomerId,
    #[serde(default)]
    pub version: u64,
    pub number: InvoiceNumber,
    /// The total to pay, taxes included.
    pub amount_due: Money,
    /// What has been received so far; may exceed `amount_due` (an overpayment).
    pub amount_paid: Money,
    pub status: InvoiceStatus,
    pub issued_at: DateTime<Utc>,
    /// The date payment is due, as printed on the invoice.
    pub due_date: NaiveDate,
    pub subscription_id: Option<SubscriptionId>,
    pub provider_ref: Option<ProviderRef>,
    /// The provider will retry the card itself: reminders wait for that retry's outcome, but
    /// only until the retry's announced time and a grace day ([`Invoice::retry_hold_until`]).
    #[serde(default)]
    pub autopay_retry_pending: bool,
    /// When the provider said it would try again (Stripe's `next_payment_attempt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopay_retry_at: Option<DateTime<Utc>>,
    /// The customer disputes the invoice: reminders stop until it is resolved.
    #[serde(default)]
    pub disputed: bool,
    /// Reminders stopped by hand for this invoice ("Mahnstopp").
    #[serde(default)]
    pub reminders_paused: bool,
    #[serde(default)]
    pub follow_up: FollowUp,
    /// When the provider last changed this record (its event time): older deliveries are ignored.
    #[serde(default)]
    pub provider_updated_at: Option<DateTime<Utc>>,
    /// The provider's hosted page where the customer pays (Stripe's `hosted_invoice_url`).
    #[serde(default)]
    pub payment_link: Option<String>,
    /// When it was first seen paid in full: the KPIs' days to pay.
    #[serde(default)]
    pub paid_at: Option<DateTime<Utc>>,
    /// The agency mission it bills, if any.
    #[serde(default)]
    pub mission_id: Option<MissionId>,
}

impl Invoice {
    /// A new open invoice with nothing paid.
    pub fn open(
        id: InvoiceId,
        customer_id: CustomerId,
        number: InvoiceNumber,
        amount_due: Money,
        issued_at: DateTime<Utc>,
        due_date: NaiveDate,
    ) -> Invoice {
        Invoice {
            id,
            customer_id,
            version: 0,
            number,
            amount_due,
            amount_paid: Money::zero(amount_due.currency()),
            status: InvoiceStatus::Open,
            issued_at,
            due_date,
            subscription_id: None,
            provider_ref: None,
            autopay_retry_pending: false,
            autopay_retry_at: None,
            disputed: false,
            reminders_paused: false,
            follow_up: FollowUp::default(),
            provider_updated_at: None,
            payment_link: None,
            paid_at: None,
            mission_id: None,
        }
    }

    pub fn currency(&self) -> Currency {
        self.amount_due.currency()
    }

    /// What is still owed; zero once paid in full (an overpayment is not a negative balance).
    pub fn balance(&self) -> Money {
        let owed = self.amount_due.minor_units().saturating_sub(self.amount_paid.minor_units());
        Money::from_minor(owed.max(0), self.currency())
    }

    /// Records money received. The status follows from the new total; when nothing is left to
    /// pay, pending reminders are cancelled.
    pub fn record_payment(&mut self, amount: Money) -> Result<(), InvoiceError> {
        if !amount.is_positive() {
            return Err(InvoiceError::NonPositivePayment);
        }
        if matches!(self.status, InvoiceStatus::Void | InvoiceStatus::Uncollectible | InvoiceStatus::Draft) {
            return Err(InvoiceError::Closed(self.status));
        }
        self.amount_paid = self.amount_paid.checked_add(amount)?;
        self.settle_status();
        Ok(())
    }

    /// Takes back part of what was paid (a refund): the invoice may become payable again.
    pub fn record_refund(&mut self, amount: Money) -> Result<(), InvoiceError> {
        if !amount.is_positive() {
            return Err(InvoiceError::NonPositivePayment);
        }
        let remaining = self.amount_paid.checked_sub(amount)?;
        self.amount_paid = if remaining.is_negative() { Money::zero(self.currency()) } else { remaining };
        if matches!(self.status, InvoiceStatus::Paid | InvoiceStatus::PartiallyPaid | InvoiceStatus::Open) {
            self.settle_status();
        }
        Ok(())
    }

    fn settle_status(&mut self) {
        self.status = if self.balance().is_zero() {
            InvoiceStatus::Paid
        } else if self.amount_paid.is_positive() {
            InvoiceStatus::PartiallyPaid
        } else {
            InvoiceStatus::Open
        };
        if self.status == InvoiceStatus::Paid {
            self.follow_up.clear();
            self.autopay_retry_pending = false;
            self.autopay_retry_at = None;
        }
    }

    pub fn void(&mut self) -> Result<(), InvoiceError> {
        if self.status == InvoiceStatus::Paid {
            return Err(InvoiceError::Closed(self.status));
        }
        self.status = InvoiceStatus::Void;
        self.follow_up.clear();
        Ok(())
    }

    pub fn mark_uncollectible(&mut self) -> Result<(), InvoiceError> {
        if matches!(self.status, InvoiceStatus::Paid | InvoiceStatus::Void) {
            return Err(InvoiceError::Closed(self.status));
        }
        self.status = InvoiceStatus::Uncollectible;
        self.follow_up.clear();
        Ok(())
    }

    /// Takes the provider's view of the invoice as of `at` (the provider is the source of truth
    /// for amounts and status). Returns whether anything changed.
    ///
    /// Deliveries arrive late and out of order, so two rules keep the newest truth:
    /// - facts older than the last ones applied are ignored;
    /// - a closed invoice is never reopened by provider state: a `payment_failed` that arrives
    ///   after `paid` (even stamped the same second) leaves it paid. The one move between
    ///   closed states is a written-off invoice that gets paid after all.
    pub fn apply_provider_state(&mut self, amount_due: Money, amount_paid: Money, status: InvoiceStatus, at: DateTime<Utc>) -> bool {
        if self.provider_updated_at.is_some_and(|last| at < last) {
            return false;
        }
        let allowed = match (self.status, status) {
            (current, new) if current == new => true,
            (InvoiceStatus::Uncollectible, InvoiceStatus::Paid) => true,
            (current, _) if current.is_closed() => false,
            _ => true,
        };
        if !allowed {
            return false;
        }
        let changed = self.amount_due != amount_due || self.amount_paid != amount_paid || self.status != status;
        self.amount_due = amount_due;
        self.amount_paid = amount_paid;
        self.status = status;
        self.provider_updated_at = Some(at);
        if status.is_closed() {
            self.follow_up.clear();
            self.autopay_retry_pending = false;
            self.autopay_retry_at = None;
        }
        changed
    }

    /// The provider's descriptive fields, taken once its state is accepted (see
    /// [`Invoice::apply_provider_state`]): a number, payment link or subscription given
    /// replaces ours, one left out (`None`) is kept; the due date is always given. Returns
    /// whether anything changed.
    pub fn apply_provider_details(
        &mut self,
        number: Option<InvoiceNumber>,
        due_date: NaiveDate,
        payment_link: Option<&str>,
        subscription_id: Option<SubscriptionId>,
    ) -> bool {
        let mut changed = false;
        if let Some(number) = number.filter(|number| *number != self.number) {
            self.number = number;
            changed = true;
        }
        if self.due_date != due_date {
            self.due_date = due_date;
            changed = true;
        }
        if let Some(link) = payment_link.filter(|link| self.payment_link.as_deref() != Some(*link)) {
            self.payment_link = Some(link.to_string());
            changed = true;
        }
        if let Some(id) = subscription_id.filter(|id| self.subscription_id.as_ref() != Some(id)) {
            self.subscription_id = Some(id);
            changed = true;
        }
        changed
    }

    /// The sender names the agency mission this invoice bills (our generic format).
    pub fn link_mission(&mut self, mission: Option<&MissionId>) -> bool {
        match mission.filter(|m| self.mission_id.as_ref() != Some(*m)) {
            Some(mission) => {
                self.mission_id = Some(mission.clone());
                true
            }
            None => false,
        }
    }

    /// Whether the provider will retry the card itself, as it says at `at` while the invoice is
    /// owed. Reminders wait for a pending retry; when the provider stops retrying, a ladder
    /// already begun resumes at `at`. Returns whether that changed.
    pub fn apply_provider_retry(&mut self, retry_at: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
        if !self.is_owed() {
            return false;
        }
        let retry_pending = retry_at.is_some();
        if self.autopay_retry_pending && !retry_pending && self.follow_up.step > 0 {
            self.follow_up.due_by(at);
        }
        let changed = self.autopay_retry_pending != retry_pending || self.autopay_retry_at != retry_at;
        self.autopay_retry_pending = retry_pending;
        self.autopay_retry_at = retry_at;
        changed
    }

    /// Until when reminders wait for the provider's own retry: its announced time and a grace
    /// day for its outcome to reach us. With no news by then (a lost event, retries turned off
    /// afterwards), the ladder resumes. A hold recorded before the time was kept lasts
    /// [`RETRY_HOLD_WITHOUT_TIME`] from the provider's last word.
    pub fn retry_hold_until(&self) -> Option<DateTime<Utc>> {
        if !self.autopay_retry_pending {
            return None;
        }
        match self.autopay_retry_at {
            Some(retry) => retry.checked_add_signed(RETRY_GRACE),
            None => self.provider_updated_at.and_then(|at| at.checked_add_signed(RETRY_HOLD_WITHOUT_TIME)),
        }
    }

    /// Plans the first reminder (the ladder's first rung, `first`) of an owed invoice that has
    /// none yet: none planned and none decided. Returns whether it was planned.
    pub fn schedule_first_reminder(&mut self, first: DateTime<Utc>) -> bool {
        if !self.is_owed() || self.follow_up.next_action_at.is_some() || self.follow_up.step > 0 {
            return false;
        }
        self.follow_up.schedule(first);
        true
    }

    /// A collection failed at `at`: the failure notice is due now, and the ladder waits while
    /// the provider retries (until `retry_at`). Ignored unless the invoice is still owed, and
    /// when older than the last facts applied: a failure that still had a retry coming must
    /// not undo a newer state. Returns whether it was recorded.
    pub fn record_payment_failure(&mut self, retry_at: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
        if !self.is_owed() || is_stale(self.provider_updated_at, at) {
            return false;
        }
        self.autopay_retry_pending = retry_at.is_some();
        self.autopay_retry_at = retry_at;
        self.follow_up.failure_pending = true;
        self.provider_updated_at = Some(at);
        self.follow_up.due_by(at);
        true
    }

    /// Issued and not settled: the provider's retries and our reminders are about it.
    pub fn is_owed(&self) -> bool {
        matches!(self.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid)
    }

    /// Notes when the invoice became paid (kept while it stays paid; cleared if a refund
    /// reopens it). Writers call it with the time of the change they apply.
    pub fn note_settlement(&mut self, at: DateTime<Utc>) {
        match self.status {
            InvoiceStatus::Paid => {
                self.paid_at.get_or_insert(at);
            }
            _ => self.paid_at = None,
        }
    }

    /// Why no reminder about this invoice may go out, if anything says so: nothing is owed
    /// (paid, void, refunded, or not issued yet), a person paused it, or it is disputed. The
    /// scan asks before deciding a step and dispatch again just before sending.
    pub fn reminders_stopped_because(&self) -> Option<&'static str> {
        if self.status.is_closed() {
            Some("invoice no longer owed")
        } else if self.status == InvoiceStatus::Draft {
            Some("invoice not issued")
        } else if self.reminders_paused {
            Some("invoice paused")
        } else if self.disputed {
            Some("disputed")
        } else {
            None
        }
    }

    /// True when the next step of the ladder may be decided now: nothing stops reminders and
    /// the provider is not retrying the card itself (the failure notice still goes then).
    pub fn accepts_reminders(&self) -> bool {
        self.reminders_stopped_because().is_none() && !self.autopay_retry_pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn invoice(total: i64) -> Invoice {
        let mut invoice = Invoice::open(
            InvoiceId::generate(),
            CustomerId::generate(),
            InvoiceNumber::parse("F-2026-0001").unwrap(),
            eur(total),
            "2026-11-01T10:00:00Z".parse().unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        );
        invoice.follow_up.schedule("2026-11-27T08:00:00Z".parse().unwrap());
        invoice
    }

    #[test]
    fn partial_payments_leave_the_balance_due() {
        let mut inv = invoice(12000);
        inv.record_payment(eur(5000)).unwrap();
        assert_eq!(inv.status, InvoiceStatus::PartiallyPaid);
        assert_eq!(inv.balance(), eur(7000));
        assert!(inv.accepts_reminders());
        assert!(inv.follow_up.next_action_at.is_some());
        inv.record_payment(eur(7000)).unwrap();
        assert_eq!(inv.status, InvoiceStatus::Paid);
        assert_eq!(inv.balance(), eur(0));
        assert!(!inv.accepts_reminders());
        assert_eq!(inv.follow_up.next_action_at, None, "paying cancels pending reminders");
    }

    #[test]
    fn overpayment_is_paid_with_no_negative_balance() {
        let mut inv = invoice(1000);
        inv.record_payment(eur(1500)).unwrap();
        assert_eq!(inv.status, InvoiceStatus::Paid);
        assert_eq!(inv.balance(), eur(0));
        assert_eq!(inv.amount_paid, eur(1500));
    }

    #[test]
    fn payments_in_another_currency_or_not_positive_are_refused() {
        let mut inv = invoice(1000);
        assert!(matches!(
            inv.record_payment(Money::from_minor(1000, Currency::USD)),
            Err(InvoiceError::Money(MoneyError::CurrencyMismatch(..)))
        ));
        assert_eq!(inv.record_payment(eur(0)), Err(InvoiceError::NonPositivePayment));
        assert_eq!(inv.record_payment(eur(-5)), Err(InvoiceError::NonPositivePayment));
        assert_eq!(inv.amount_paid, eur(0));
    }

    #[test]
    fn a_refund_reopens_a_paid_invoice() {
        let mut inv = invoice(1000);
        inv.record_payment(eur(1000)).unwrap();
        inv.record_refund(eur(400)).unwrap();
        assert_eq!(inv.status, InvoiceStatus::PartiallyPaid);
        assert_eq!(inv.balance(), eur(400));
        inv.record_refund(eur(900)).unwrap();
        assert_eq!(inv.status, InvoiceStatus::Open);
        assert_eq!(inv.amount_paid, eur(0));
    }

    #[test]
    fn void_and_write_off_stop_reminders_and_refuse_payments() {
        let mut inv = invoice(1000);
        inv.void().unwrap();
        assert!(!inv.accepts_reminders());
        assert_eq!(inv.follow_up.next_action_at, None);
        assert_eq!(inv.record_payment(eur(10)), Err(InvoiceError::Closed(InvoiceStatus::Void)));

        let mut inv = invoice(1000);
        inv.mark_uncollectible().unwrap();
        assert!(inv.status.is_closed());
        assert_eq!(inv.void(), Ok(()));

        let mut inv = invoice(1000);
        inv.record_payment(eur(1000)).unwrap();
        assert_eq!(inv.void(), Err(InvoiceError::Closed(InvoiceStatus::Paid)));
        assert_eq!(inv.mark_uncollectible(), Err(InvoiceError::Closed(InvoiceStatus::Paid)));
    }

    #[test]
    fn provider_state_never_goes_back_in_time_or_reopens_a_closed_invoice() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let mut inv = invoice(1000);
        assert!(inv.apply_provider_state(eur(1000), eur(1000), InvoiceStatus::Paid, t("2026-11-25T10:00:00Z")));
        assert_eq!(inv.follow_up.next_action_at, None);
        // A payment failure stamped the same second, or earlier, arrives after the payment.
        assert!(!inv.apply_provider_state(eur(1000), eur(0), InvoiceStatus::Open, t("2026-11-25T10:00:00Z")));
        assert!(!inv.apply_provider_state(eur(1000), eur(0), InvoiceStatus::Open, t("2026-11-25T09:00:00Z")));
        assert!(!inv.apply_provider_state(eur(1000), eur(1000), InvoiceStatus::Void, t("2026-11-26T09:00:00Z")));
        assert_eq!(inv.status, InvoiceStatus::Paid);

        let mut inv = invoice(1000);
        assert!(inv.apply_provider_state(eur(1000), eur(0), InvoiceStatus::Uncollectible, t("2026-11-25T10:00:00Z")));
        assert!(inv.apply_provider_state(eur(1000), eur(1000), InvoiceStatus::Paid, t("2026-11-27T10:00:00Z")));
        assert_eq!(inv.status, InvoiceStatus::Paid);

        let mut inv = invoice(1000);
        assert!(inv.apply_provider_state(eur(1000), eur(400), InvoiceStatus::PartiallyPaid, t("2026-11-25T10:00:00Z")));
        assert!(inv.follow_up.next_action_at.is_some(), "a partial payment keeps the reminders for the balance");
        assert!(!inv.apply_provider_state(eur(1000), eur(0), InvoiceStatus::Open, t("2026-11-25T09:59:59Z")));
        assert_eq!(inv.balance(), eur(600));
    }

    #[test]
    fn descriptive_fields_follow_the_provider_unless_left_out() {
        let mut inv = invoice(1000);
        let number = InvoiceNumber::parse("F-2026-0002").unwrap();
        let subscription = SubscriptionId::generate();
        let due = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
        assert!(inv.apply_provider_details(Some(number.clone()), due, Some("https://pay.example/in_1"), Some(subscription.clone())));
        assert_eq!((&inv.number, inv.due_date), (&number, due));
        assert_eq!((inv.payment_link.as_deref(), inv.subscription_id.as_ref()), (Some("https://pay.example/in_1"), Some(&subscription)));
        assert!(!inv.apply_provider_details(Some(number.clone()), due, None, None), "the same, or left out, changes nothing");
        assert_eq!((inv.payment_link.as_deref(), inv.subscription_id.as_ref()), (Some("https://pay.example/in_1"), Some(&subscription)));
    }

    #[test]
    fn when_the_provider_stops_retrying_a_begun_ladder_resumes_now() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let mut inv = invoice(1000);
        assert!(inv.apply_provider_retry(Some(t("2026-12-05T10:00:00Z")), t("2026-12-01T10:00:00Z")));
        assert!(!inv.accepts_reminders());
        assert!(!inv.apply_provider_retry(Some(t("2026-12-05T10:00:00Z")), t("2026-12-02T10:00:00Z")));
        inv.follow_up.step = 1;
        inv.follow_up.schedule(t("2026-12-10T08:00:00Z"));
        assert!(inv.apply_provider_retry(None, t("2026-12-03T10:00:00Z")));
        assert_eq!(inv.follow_up.next_action_at, Some(t("2026-12-03T10:00:00Z")));

        // Before the first step, the first rung stands.
        let mut inv = invoice(1000);
        inv.autopay_retry_pending = true;
        assert!(inv.apply_provider_retry(None, t("2026-11-20T10:00:00Z")));
        assert_eq!(inv.follow_up.next_action_at, Some(t("2026-11-27T08:00:00Z")));

        let mut inv = invoice(1000);
        inv.record_payment(eur(1000)).unwrap();
        assert!(
            !inv.apply_provider_retry(Some(t("2026-12-05T10:00:00Z")), t("2026-12-01T10:00:00Z")),
            "a paid invoice has nothing to retry"
        );
        assert!(!inv.autopay_retry_pending);
    }

    #[test]
    fn only_an_owed_invoice_with_no_reminder_yet_gets_its_first() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let mut inv = invoice(1000);
        assert!(!inv.schedule_first_reminder(t("2026-11-28T08:00:00Z")), "one is planned already");
        inv.follow_up.clear();
        assert!(inv.schedule_first_reminder(t("2026-11-28T08:00:00Z")));
        assert_eq!(inv.follow_up.next_action_at, Some(t("2026-11-28T08:00:00Z")));

        inv.follow_up.clear();
        inv.follow_up.step = 1;
        assert!(!inv.schedule_first_reminder(t("2026-11-28T08:00:00Z")), "the ladder has begun");

        let mut inv = invoice(1000);
        inv.void().unwrap();
        assert!(!inv.schedule_first_reminder(t("2026-11-28T08:00:00Z")));
        assert_eq!(inv.follow_up.next_action_at, None);
    }

    #[test]
    fn a_failed_collection_makes_the_notice_due_unless_older_or_settled() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let mut inv = invoice(1000);
        assert!(inv.record_payment_failure(Some(t("2026-11-23T10:00:00Z")), t("2026-11-20T10:00:00Z")));
        assert!(inv.follow_up.failure_pending && inv.autopay_retry_pending);
        assert_eq!(inv.follow_up.next_action_at, Some(t("2026-11-20T10:00:00Z")), "due now, before the first rung");
        assert_eq!(inv.provider_updated_at, Some(t("2026-11-20T10:00:00Z")));
        assert!(!inv.record_payment_failure(None, t("2026-11-20T09:00:00Z")), "an older failure");
        assert!(inv.autopay_retry_pending);

        let mut inv = invoice(1000);
        assert!(inv.apply_provider_state(eur(1000), eur(1000), InvoiceStatus::Paid, t("2026-11-25T10:00:00Z")));
        assert!(!inv.record_payment_failure(None, t("2026-11-26T10:00:00Z")));
        assert!(!inv.follow_up.failure_pending);
    }

    #[test]
    fn pauses_disputes_and_pending_retries_hold_reminders() {
        for hold in [
            |i: &mut Invoice| i.reminders_paused = true,
            |i: &mut Invoice| i.disputed = true,
            |i: &mut Invoice| i.autopay_retry_pending = true,
        ] {
            let mut inv = invoice(1000);
            hold(&mut inv);
            assert!(!inv.accepts_reminders());
        }
    }
}
