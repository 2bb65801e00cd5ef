//! What is owed and what the reminders brought back, for the admin's KPI page:
//!
//! - the **aging balance**: what customers owe today, by how long it has been past its due
//!   date (not yet due, 1–30, 31–60, 61–90, over 90 days), per currency;
//! - **what the reminders recovered**: an invoice paid in full within 7 days after a reminder
//!   counts the amount that reminder asked for, credited to the last reminder sent before the
//!   payment (its step and channel), in the month the reminder went. A payment after two
//!   reminders is counted once, for the one that came last.
//!
//! The first reminder may be only the nudge that came last: no figure here proves a reminder
//! caused a payment. It is what a business reads in its sending tool's "conversions".

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::month::Month;
use crate::domain::{Channel, ChannelDecision, Currency, Invoice, InvoiceStatus, Money, Notification, TargetKind};

/// How long after a reminder a payment is credited to it.
pub const RECOVERY_WINDOW_DAYS: i64 = 7;

/// Upper bounds of the overdue buckets, in days past the due date (the last is open-ended).
const BUCKETS: [(AgeBucket, i64); 4] =
    [(AgeBucket::Days1To30, 30), (AgeBucket::Days31To60, 60), (AgeBucket::Days61To90, 90), (AgeBucket::Over90, i64::MAX)];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgeBucket {
    NotDue,
    #[serde(rename = "1_30")]
    Days1To30,
    #[serde(rename = "31_60")]
    Days31To60,
    #[serde(rename = "61_90")]
    Days61To90,
    #[serde(rename = "over_90")]
    Over90,
}

impl AgeBucket {
    pub const ALL: [AgeBucket; 5] =
        [AgeBucket::NotDue, AgeBucket::Days1To30, AgeBucket::Days31To60, AgeBucket::Days61To90, AgeBucket::Over90];

    /// The bucket of an invoice `days_late` days past its due date (0 or less: not yet due).
    pub fn of(days_late: i64) -> AgeBucket {
        if days_late <= 0 {
            return AgeBucket::NotDue;
        }
        BUCKETS.iter().find(|(_, upto)| days_late <= *upto).map_or(AgeBucket::Over90, |(bucket, _)| *bucket)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgeBucket::NotDue => "not_due",
            AgeBucket::Days1To30 => "1_30",
            AgeBucket::Days31To60 => "31_60",
            AgeBucket::Days61To90 => "61_90",
            AgeBucket::Over90 => "over_90",
        }
    }
}

/// One bucket's total in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgeLine {
    pub bucket: AgeBucket,
    pub invoices: u32,
    pub owed: Money,
}

/// Per bucket: how many invoices and what they owe, in minor units.
type BucketTotals = BTreeMap<AgeBucket, (u32, i64)>;

/// The aging balance in one currency: every bucket, empty ones included, in age order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Aging {
    pub currency: Currency,
    pub as_of: NaiveDate,
    pub lines: Vec<AgeLine>,
    pub total: Money,
}

impl Aging {
    /// Per currency (in code order), from invoices still owed on `today`. Drafts, void,
    /// written-off and paid invoices owe nothing and are left out; a disputed invoice is
    /// still owed and counts.
    pub fn compute(today: NaiveDate, invoices: &[Invoice]) -> Vec<Aging> {
        let mut by_currency: BTreeMap<&'static str, (Currency, BucketTotals)> = BTreeMap::new();
        for invoice in invoices.iter().filter(|i| i.is_owed() && i.balance().is_positive()) {
            let bucket = AgeBucket::of((today - invoice.due_date).num_days());
            let (_, buckets) = by_currency.entry(invoice.currency().code()).or_insert_with(|| (invoice.currency(), BTreeMap::new()));
            let (count, owed) = buckets.entry(bucket).or_default();
            *count = count.saturating_add(1);
            *owed = owed.saturating_add(invoice.balance().minor_units());
        }
        by_currency
            .into_values()
            .map(|(currency, buckets)| {
                let lines: Vec<AgeLine> = AgeBucket::ALL
                    .iter()
                    .map(|bucket| {
                        let (invoices, owed) = buckets.get(bucket).copied().unwrap_or_default();
                        AgeLine { bucket: *bucket, invoices, owed: Money::from_minor(owed, currency) }
                    })
                    .collect();
                let total = lines.iter().fold(0i64, |sum, l| sum.saturating_add(l.owed.minor_units()));
                Aging { currency, as_of: today, lines, total: Money::from_minor(total, currency) }
            })
            .collect()
    }
}

/// What the reminders of one step sent by one channel recovered in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Recovered {
    pub month: Month,
    pub step: u32,
    pub channel: Channel,
    /// Reminders of this step and channel sent that month.
    pub reminders: u32,
    /// Of those, how many were followed within 7 days by the payment in full, as the last
    /// reminder before it.
    pub paid: u32,
    pub amount: Money,
}

impl Recovered {
    /// `sent`: reminders sent from `from` up to at least 7 days past `to` (a later reminder
    /// takes the credit from an earlier one); only those sent in `[from, to)` are reported.
    /// `invoices`: the invoices those reminders are about (others are ignored).
    pub fn compute(from: DateTime<Utc>, to: DateTime<Utc>, sent: &[Notification], invoices: &[Invoice]) -> Vec<Recovered> {
        let invoices: HashMap<&str, &Invoice> = invoices.iter().map(|i| (i.id.as_str(), i)).collect();
        let reminders: Vec<(&Notification, DateTime<Utc>, Channel)> = sent
            .iter()
            .filter(|n| n.kind.is_about_money_owed() && n.target.kind == TargetKind::Invoice)
            .filter_map(|n| {
                let channel = match &n.channel {
                    Some(ChannelDecision::Send { channel }) => *channel,
                    _ => return None,
                };
                Some((n, n.sent_at?, channel))
            })
            .collect();
        // The last reminder before each invoice's payment, if it came within the window.
        let mut credited: HashMap<&str, (&Notification, DateTime<Utc>)> = HashMap::new();
        for (n, sent_at, _) in &reminders {
            let Some(invoice) = invoices.get(n.target.id.as_str()) else { continue };
            let Some(paid_at) = invoice.paid_at.filter(|_| invoice.status == InvoiceStatus::Paid) else { continue };
            if *sent_at >= paid_at || paid_at - *sent_at > Duration::days(RECOVERY_WINDOW_DAYS) {
                continue;
            }
            let later = credited.get(n.target.id.as_str()).is_none_or(|(_, best)| sent_at > best);
            if later {
                credited.insert(n.target.id.as_str(), (n, *sent_at));
            }
        }
        let mut lines: BTreeMap<(Month, u32, Channel, &'static str), Recovered> = BTreeMap::new();
        for (n, sent_at, channel) in reminders.iter().filter(|(_, at, _)| *at >= from && *at < to) {
            let Some(invoice) = invoices.get(n.target.id.as_str()) else { continue };
            let month = Month::of_instant(*sent_at);
            let currency = invoice.currency();
            let line = lines.entry((month, n.step, *channel, currency.code())).or_insert_with(|| Recovered {
                month,
                step: n.step,
                channel: *channel,
                reminders: 0,
                paid: 0,
                amount: Money::zero(currency),
            });
            line.reminders = line.reminders.saturating_add(1);
            let is_credited = credited.get(n.target.id.as_str()).is_some_and(|(c, _)| c.id == n.id);
            if is_credited {
                // What the reminder asked for; the invoice's total when it did not say.
                let asked = n.amount.filter(|a| a.currency() == currency).unwrap_or(invoice.amount_due);
                line.paid = line.paid.saturating_add(1);
                line.amount = Money::from_minor(line.amount.minor_units().saturating_add(asked.minor_units()), currency);
            }
        }
        lines.into_values().collect()
    }
}

/// Days sales outstanding over a period of `days`: what is still owed on the period's
/// invoices over what they billed, times the period's length, in tenths of a day rounded
/// half-up. None when nothing was billed.
pub fn days_sales_outstanding(unpaid: Money, billed: Money, days: i64) -> Option<f64> {
    if billed.minor_units() <= 0 || unpaid.currency() != billed.currency() {
        return None;
    }
    let tenths = (i128::from(unpaid.minor_units()) * i128::from(days) * 20 + i128::from(billed.minor_units()))
        / (2 * i128::from(billed.minor_units()));
    Some(tenths as f64 / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CustomerId, InvoiceId, InvoiceNumber, NotificationKind, Target};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn invoice(id: &str, due: &str, amount: i64, paid: i64) -> Invoice {
        let mut i = Invoice::open(
            InvoiceId::parse(id).unwrap(),
            CustomerId::parse("c").unwrap(),
            InvoiceNumber::parse(id).unwrap(),
            eur(amount),
            at("2026-01-01T00:00:00Z"),
            day(due),
        );
        if paid > 0 {
            i.record_payment(eur(paid)).unwrap();
        }
        i
    }

    #[test]
    fn buckets_are_days_past_the_due_date() {
        assert_eq!(AgeBucket::of(-3), AgeBucket::NotDue);
        assert_eq!(AgeBucket::of(0), AgeBucket::NotDue);
        assert_eq!(AgeBucket::of(1), AgeBucket::Days1To30);
        assert_eq!(AgeBucket::of(30), AgeBucket::Days1To30);
        assert_eq!(AgeBucket::of(31), AgeBucket::Days31To60);
        assert_eq!(AgeBucket::of(90), AgeBucket::Days61To90);
        assert_eq!(AgeBucket::of(91), AgeBucket::Over90);
    }

    /// 1 December 2026, worked out by hand.
    #[test]
    fn the_aging_balance_adds_what_is_owed_by_age() {
        let mut void = invoice("v", "2026-01-01", 5_000, 0);
        void.void().unwrap();
        let mut usd = invoice("u", "2026-11-01", 1_000, 0);
        usd.amount_due = Money::from_minor(1_000, Currency::USD);
        usd.amount_paid = Money::zero(Currency::USD);
        let invoices = [
            invoice("a", "2026-12-10", 10_000, 0),    // not due
            invoice("b", "2026-11-20", 8_000, 3_000), // 11 days, 50.00 left
            invoice("c", "2026-10-02", 4_000, 0),     // 60 days
            invoice("d", "2026-01-15", 2_500, 0),     // over 90
            invoice("e", "2026-11-01", 2_000, 2_000), // paid
            void,
            usd,
        ];
        let aging = Aging::compute(day("2026-12-01"), &invoices);
        assert_eq!(aging.len(), 2);
        let eur_lines = &aging[0];
        assert_eq!(eur_lines.currency, Currency::EUR);
        let owed: Vec<(AgeBucket, u32, i64)> = eur_lines.lines.iter().map(|l| (l.bucket, l.invoices, l.owed.minor_units())).collect();
        assert_eq!(
            owed,
            [
                (AgeBucket::NotDue, 1, 10_000),
                (AgeBucket::Days1To30, 1, 5_000),
                (AgeBucket::Days31To60, 1, 4_000),
                (AgeBucket::Days61To90, 0, 0),
                (AgeBucket::Over90, 1, 2_500)
            ]
        );
        assert_eq!(eur_lines.total, eur(21_500));
        assert_eq!(aging[1].total, Money::from_minor(1_000, Currency::USD));
    }

    fn reminder(invoice: &str, step: u32, channel: Channel, when: &str, asked: i64) -> Notification {
        let mut n = Notification::pending(
            CustomerId::parse("c").unwrap(),
            Target { kind: TargetKind::Invoice, id: invoice.into() },
            NotificationKind::InvoiceOverdue,
            None,
            step,
            Some(eur(asked)),
            at(when),
        )
        .unwrap();
        n.channel = Some(ChannelDecision::Send { channel });
        n.sent_at = Some(at(when));
        n
    }

    fn paid_on(mut i: Invoice, when: &str) -> Invoice {
        let owed = i.balance();
        i.record_payment(owed).unwrap();
        i.paid_at = Some(at(when));
        i
    }

    #[test]
    fn a_payment_is_credited_once_to_the_last_reminder_within_seven_days() {
        let from = at("2026-03-01T00:00:00Z");
        let to = at("2026-05-01T00:00:00Z");
        let invoices = [
            // Two reminders, paid 2 days after the SMS: the SMS gets it.
            paid_on(invoice("i1", "2026-03-01", 10_000, 0), "2026-03-12T10:00:00Z"),
            // Paid 8 days after its reminder: nobody's.
            paid_on(invoice("i2", "2026-03-01", 5_000, 0), "2026-03-18T10:00:00Z"),
            // Still owed.
            invoice("i3", "2026-03-01", 7_000, 0),
            // Partly paid before the reminder, the rest 1 day after: the 30.00 asked.
            paid_on(invoice("i4", "2026-03-01", 5_000, 2_000), "2026-04-03T09:00:00Z"),
        ];
        let sent = [
            reminder("i1", 1, Channel::Email, "2026-03-05T09:00:00Z", 10_000),
            reminder("i1", 2, Channel::Sms, "2026-03-10T09:00:00Z", 10_000),
            reminder("i2", 1, Channel::Email, "2026-03-10T09:00:00Z", 5_000),
            reminder("i3", 1, Channel::Email, "2026-03-10T09:00:00Z", 7_000),
            reminder("i4", 1, Channel::Email, "2026-04-02T09:00:00Z", 3_000),
            // Sent after the period: reported nowhere, credited nothing.
            reminder("i3", 2, Channel::Email, "2026-05-02T09:00:00Z", 7_000),
        ];
        let lines = Recovered::compute(from, to, &sent, &invoices);
        let got: Vec<(String, u32, Channel, u32, u32, i64)> =
            lines.iter().map(|l| (l.month.to_string(), l.step, l.channel, l.reminders, l.paid, l.amount.minor_units())).collect();
        assert_eq!(
            got,
            [
                ("2026-03".into(), 1, Channel::Email, 3, 0, 0),
                ("2026-03".into(), 2, Channel::Sms, 1, 1, 10_000),
                ("2026-04".into(), 1, Channel::Email, 1, 1, 3_000),
            ]
        );
    }

    #[test]
    fn days_sales_outstanding_is_the_owed_share_of_the_period() {
        // 130.00 owed of 300.00 billed over 31 days: 13.43 days.
        assert_eq!(days_sales_outstanding(eur(13_000), eur(30_000), 31), Some(13.4));
        assert_eq!(days_sales_outstanding(eur(0), eur(30_000), 31), Some(0.0));
        assert_eq!(days_sales_outstanding(eur(10), eur(0), 31), None);
    }
}
