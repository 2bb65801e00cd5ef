//! The KPIs our users track, for a period `[from, to)`:
//!
//! - **retention**: subscribers live at `from` still live at `to`;
//! - **churn**: subscribers live at `from` who ended before `to`;
//! - **MRR** at `to`: live subscriptions' prices brought to a month, per currency;
//! - **unpaid rate** of the invoices issued in the period, by count and by amount: what is
//!   still owed today on them;
//! - **average days to pay** of those invoices paid in full;
//! - **reminders sent** in the period, by kind;
//! - **paid after each step**: of the period's paid invoices, how many were paid before any
//!   reminder (step 0) or after the ladder reached step 1, 2…
//! - **days sales outstanding** per currency: what is still owed on the period's invoices over
//!   what they billed, times the period's days;
//! - the **aging balance** and **what the reminders recovered** (`receivables.rs`), which the
//!   caller adds from their own records.
//!
//! Rates are percentages with two decimals, computed from integers; amounts stay money.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::receivables::{Aging, Recovered, days_sales_outstanding};
use crate::domain::{Currency, Invoice, InvoiceStatus, Money, MoneyError, Notification, Subscription};

/// `numerator / denominator` as a percentage rounded half-up to two decimals; none of nothing.
pub fn percent(numerator: i64, denominator: i64) -> Option<f64> {
    if denominator <= 0 {
        return None;
    }
    // Hundredths of a percent, rounded half-up in integers; one division by 100 at the end.
    let hundredths = (i128::from(numerator) * 20_000 + i128::from(denominator)) / (2 * i128::from(denominator));
    Some(hundredths as f64 / 100.0)
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Kpis {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub subscribers_at_start: u32,
    pub subscribers_at_end: u32,
    pub new_subscribers: u32,
    pub retained: u32,
    pub retention_rate: Option<f64>,
    pub churned: u32,
    pub churn_rate: Option<f64>,
    pub mrr: Vec<Money>,
    pub invoices_issued: u32,
    pub invoices_unpaid: u32,
    pub unpaid_rate_by_count: Option<f64>,
    pub billed: Vec<Money>,
    pub unpaid: Vec<Money>,
    /// Per currency, in the order of `billed`.
    pub unpaid_rate_by_amount: Vec<CurrencyRate>,
    pub average_days_to_pay: Option<f64>,
    pub reminders_sent: BTreeMap<String, u32>,
    pub paid_after_step: Vec<StepShare>,
    /// Days sales outstanding, per currency in the order of `billed`.
    pub days_sales_outstanding: Vec<CurrencyDays>,
    /// What is owed today by age, per currency (whatever the period).
    pub aging: Vec<Aging>,
    /// What the period's reminders recovered, month by month, per step and channel.
    pub recovered: Vec<Recovered>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CurrencyDays {
    pub currency: Currency,
    pub days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CurrencyRate {
    pub currency: Currency,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepShare {
    /// 0: paid before any reminder.
    pub step: u32,
    pub invoices: u32,
    pub share: Option<f64>,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn by_currency(amounts: impl IntoIterator<Item = Money>) -> Result<BTreeMap<&'static str, Money>, MoneyError> {
    let mut totals: BTreeMap<&'static str, Money> = BTreeMap::new();
    for amount in amounts {
        let code = amount.currency().code();
        let total = totals.entry(code).or_insert_with(|| Money::zero(amount.currency()));
        *total = total.checked_add(amount)?;
    }
    Ok(totals)
}

impl Kpis {
    /// `invoices`: those issued in the period; `subscriptions`: every one started before
    /// `to`; `sent`: notifications sent in the period.
    pub fn compute(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        invoices: &[Invoice],
        subscriptions: &[Subscription],
        sent: &[Notification],
    ) -> Result<Kpis, MoneyError> {
        let at_start: Vec<&Subscription> = subscriptions.iter().filter(|s| s.live_at(from)).collect();
        let at_end: Vec<&Subscription> = subscriptions.iter().filter(|s| s.live_at(to)).collect();
        let retained = count(at_start.iter().filter(|s| s.live_at(to)).count());
        let churned = count(at_start.iter().filter(|s| s.ended_at.is_some_and(|end| end < to)).count());
        let new_subscribers =
            count(subscriptions.iter().filter(|s| s.started_at.unwrap_or(s.current_period_start) >= from && s.live_at(to)).count());
        let starting = count(at_start.len());
        let mrr = by_currency(at_end.iter().map(|s| s.monthly_value()).collect::<Result<Vec<_>, _>>()?)?.into_values().collect();

        let billed_invoices: Vec<&Invoice> =
            invoices.iter().filter(|i| i.status.counts_as_billed() && i.issued_at >= from && i.issued_at < to).collect();
        let unpaid_invoices: Vec<&&Invoice> = billed_invoices.iter().filter(|i| i.balance().is_positive()).collect();
        let billed = by_currency(billed_invoices.iter().map(|i| i.amount_due))?;
        let unpaid = by_currency(unpaid_invoices.iter().map(|i| i.balance()))?;
        let unpaid_rate_by_amount = billed
            .iter()
            .map(|(code, total)| CurrencyRate {
                currency: total.currency(),
                rate: percent(unpaid.get(code).map_or(0, |m| m.minor_units()), total.minor_units()),
            })
            .collect();
        let period_days = (to - from).num_days();
        let days_sales_outstanding = billed
            .iter()
            .map(|(code, total)| CurrencyDays {
                currency: total.currency(),
                days: days_sales_outstanding(unpaid.get(code).copied().unwrap_or(Money::zero(total.currency())), *total, period_days),
            })
            .collect();

        let paid: Vec<&&Invoice> = billed_invoices.iter().filter(|i| i.status == InvoiceStatus::Paid).collect();
        let days: Vec<i64> = paid.iter().filter_map(|i| i.paid_at.map(|at| (at - i.issued_at).num_seconds().max(0))).collect();
        let average_days_to_pay = (!days.is_empty()).then(|| {
            let seconds: i128 = days.iter().map(|d| i128::from(*d)).sum();
            // Tenths of a day, rounded half-up.
            let tenths = (seconds * 10 * 2 + 86_400 * days.len() as i128) / (2 * 86_400 * days.len() as i128);
            tenths as f64 / 10.0
        });
        let mut steps: BTreeMap<u32, u32> = BTreeMap::new();
        for invoice in &paid {
            *steps.entry(invoice.follow_up.step).or_default() += 1;
        }
        let paid_count = i64::try_from(paid.len()).unwrap_or(i64::MAX);
        let paid_after_step =
            steps.into_iter().map(|(step, n)| StepShare { step, invoices: n, share: percent(i64::from(n), paid_count) }).collect();

        let mut reminders_sent = BTreeMap::new();
        for n in sent.iter().filter(|n| n.sent_at.is_some_and(|at| at >= from && at < to)) {
            *reminders_sent.entry(n.kind.as_str().to_string()).or_default() += 1;
        }
        Ok(Kpis {
            from,
            to,
            subscribers_at_start: starting,
            subscribers_at_end: count(at_end.len()),
            new_subscribers,
            retained,
            retention_rate: percent(i64::from(retained), i64::from(starting)),
            churned,
            churn_rate: percent(i64::from(churned), i64::from(starting)),
            mrr,
            invoices_issued: count(billed_invoices.len()),
            invoices_unpaid: count(unpaid_invoices.len()),
            unpaid_rate_by_count: percent(unpaid_invoices.len() as i64, billed_invoices.len() as i64),
            billed: billed.into_values().collect(),
            unpaid: unpaid.into_values().collect(),
            unpaid_rate_by_amount,
            average_days_to_pay,
            reminders_sent,
            paid_after_step,
            days_sales_outstanding,
            aging: Vec::new(),
            recovered: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_half_up_from_integers() {
        assert_eq!(percent(1, 3), Some(33.33));
        assert_eq!(percent(2, 3), Some(66.67));
        assert_eq!(percent(1, 8), Some(12.5));
        assert_eq!(percent(0, 5), Some(0.0));
        assert_eq!(percent(1, 0), None);
    }

    use crate::domain::{
        BillingInterval, CustomerId, FollowUp, InvoiceId, InvoiceNumber, NotificationKind, SubscriptionId, SubscriptionStatus, Target,
        TargetKind,
    };

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn subscription(id: &str, started: &str, ended: Option<&str>, price: i64, interval: BillingInterval) -> Subscription {
        Subscription {
            id: SubscriptionId::parse(id).unwrap(),
            customer_id: CustomerId::parse("c").unwrap(),
            version: 0,
            plan: "Parcelle".into(),
            price: eur(price),
            interval,
            status: if ended.is_some() { SubscriptionStatus::Canceled } else { SubscriptionStatus::Active },
            current_period_start: at(started),
            current_period_end: at("2026-05-01T00:00:00Z"),
            cancel_at_period_end: false,
            manual_renewal: false,
            payment_method_id: None,
            provider_ref: None,
            follow_up: FollowUp::default(),
            provider_updated_at: None,
            started_at: Some(at(started)),
            ended_at: ended.map(at),
            failure_count: None,
            days_past_due: None,
        }
    }

    fn invoice(id: &str, issued: &str, due: i64, paid: i64, paid_at: Option<&str>, step: u32) -> Invoice {
        let mut i = Invoice::open(
            InvoiceId::parse(id).unwrap(),
            CustomerId::parse("c").unwrap(),
            InvoiceNumber::parse(id).unwrap(),
            eur(due),
            at(issued),
            at(issued).date_naive(),
        );
        if paid > 0 {
            i.record_payment(eur(paid)).unwrap();
        }
        i.paid_at = paid_at.map(at);
        i.follow_up.step = step;
        i
    }

    fn sent(id: &str, kind: NotificationKind, when: &str) -> Notification {
        let mut n = Notification::pending(
            CustomerId::parse("c").unwrap(),
            Target { kind: TargetKind::Invoice, id: id.into() },
            kind,
            None,
            1,
            None,
            at(when),
        )
        .unwrap();
        n.sent_at = Some(at(when));
        n
    }

    /// March 2026, worked out by hand.
    #[test]
    fn march_figures_match_the_hand_computed_ones() {
        let from = at("2026-03-01T00:00:00Z");
        let to = at("2026-04-01T00:00:00Z");
        let subscriptions = [
            subscription("s1", "2026-01-01T00:00:00Z", None, 2900, BillingInterval::Month),
            subscription("s2", "2026-02-01T00:00:00Z", Some("2026-03-15T00:00:00Z"), 2900, BillingInterval::Month),
            subscription("s3", "2026-03-10T00:00:00Z", None, 24_000, BillingInterval::Year),
            subscription("s4", "2026-02-20T00:00:00Z", None, 1000, BillingInterval::Week),
        ];
        let mut void = invoice("i5", "2026-03-21T10:00:00Z", 3000, 0, None, 0);
        void.void().unwrap();
        let invoices = [
            invoice("i1", "2026-03-02T09:00:00Z", 10_000, 10_000, Some("2026-03-12T09:00:00Z"), 0),
            invoice("i2", "2026-03-05T09:00:00Z", 5_000, 5_000, Some("2026-03-25T09:00:00Z"), 2),
            invoice("i3", "2026-03-10T09:00:00Z", 8_000, 0, None, 1),
            invoice("i4", "2026-03-20T09:00:00Z", 7_000, 2_000, None, 0),
            void,
            invoice("i6", "2026-02-28T09:00:00Z", 9_000, 0, None, 0),
        ];
        let notifications = [
            sent("i3", NotificationKind::InvoiceOverdue, "2026-03-11T09:00:00Z"),
            sent("i2", NotificationKind::InvoiceOverdue, "2026-03-20T09:00:00Z"),
            sent("i4", NotificationKind::PaymentFailed, "2026-03-21T09:00:00Z"),
            sent("i3", NotificationKind::InvoiceOverdue, "2026-04-02T09:00:00Z"),
        ];
        let k = Kpis::compute(from, to, &invoices, &subscriptions, &notifications).unwrap();
        // Live on 1 March: s1, s2, s4; on 1 April: s1, s3, s4.
        assert_eq!((k.subscribers_at_start, k.subscribers_at_end, k.new_subscribers), (3, 3, 1));
        assert_eq!((k.retained, k.retention_rate), (2, Some(66.67)));
        assert_eq!((k.churned, k.churn_rate), (1, Some(33.33)));
        // 29.00 + 240.00/12 + 10.00×52/12 (43.33) = 92.33.
        assert_eq!(k.mrr, [eur(9_233)]);
        // i1..i4 (i5 void, i6 February): 2 of 4 unpaid; 130.00 of 300.00 owed.
        assert_eq!((k.invoices_issued, k.invoices_unpaid, k.unpaid_rate_by_count), (4, 2, Some(50.0)));
        assert_eq!((k.billed.clone(), k.unpaid.clone()), (vec![eur(30_000)], vec![eur(13_000)]));
        assert_eq!(k.unpaid_rate_by_amount[0].rate, Some(43.33));
        // 10 and 20 days.
        assert_eq!(k.average_days_to_pay, Some(15.0));
        // 130.00 of 300.00 still owed over March's 31 days: 13.4 days.
        assert_eq!(k.days_sales_outstanding, [CurrencyDays { currency: Currency::EUR, days: Some(13.4) }]);
        assert_eq!(
            k.paid_after_step,
            [StepShare { step: 0, invoices: 1, share: Some(50.0) }, StepShare { step: 2, invoices: 1, share: Some(50.0) }]
        );
        assert_eq!(k.reminders_sent, BTreeMap::from([("invoice_overdue".to_string(), 2), ("payment_failed".to_string(), 1)]));
    }
}
