//! The scan's decisions, pure: given a record with an action due, the customer, the ladders
//! and "now", what to write. Nothing here reads the clock or the table.
//!
//! Every ladder works the same way: its steps fall due at known instants (a number of days
//! from a date, at the reminder time in the customer's zone). `step` counts the steps already
//! decided. When several steps have fallen due since the last look (missed runs), only the
//! latest is sent; the ones it overtook are recorded as skipped, so nobody gets three
//! reminders in one morning. Outside the sending window nothing is decided: the record waits
//! for the window's next opening.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::ladder::{DateRule, Ladders};
use crate::domain::time::{add_days, local_to_utc};
use crate::domain::*;

/// What the scan does with one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// New notifications: pending ones to send, skipped ones for the record.
    pub notifications: Vec<Notification>,
    /// The record's follow-up after this decision.
    pub follow_up: FollowUp,
    /// Why nothing was sent, when nothing was (for the scan's summary).
    pub held_because: Option<&'static str>,
}

/// One step of a ladder for one record: the day it falls on (in the customer's zone) and
/// the instant it falls due.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    pub kind: NotificationKind,
}

/// A rung to decide: its place in the ladder and the step number its notification carries.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decided {
    index: usize,
    step: u32,
}

enum Climb {
    /// Send `send`; the rungs in `skipped` were overtaken.
    Step {
        send: Decided,
        skipped: Vec<Decided>,
        next: Option<DateTime<Utc>>,
    },
    Wait {
        next: Option<DateTime<Utc>>,
    },
}

/// The first rung not yet decided. While the ladder is the one the steps were decided on,
/// that is rung `step`; once the last step's day is known it is the first rung after that
/// day, so a ladder changed since (a step added, moved or removed) neither repeats a step
/// nor skips one still ahead.
///
/// A step is known by its day: one moved to another day is a new step. One exception: a
/// final notice moved before the last step decided still goes (once), since it is what hands
/// the invoice to a person.
fn first_undecided(rungs: &[Rung], follow_up: &FollowUp) -> usize {
    match follow_up.last_step_day {
        Some(day) => match rungs.iter().position(|r| r.day > day) {
            Some(next) => next,
            None if !follow_up.needs_manual_action
                && rungs.last().is_some_and(|r| r.kind == NotificationKind::InvoiceFinalNotice && r.day < day) =>
            {
                rungs.len() - 1
            }
            None => rungs.len(),
        },
        None => (follow_up.step as usize).min(rungs.len()),
    }
}

fn climb(rungs: &[Rung], follow_up: &FollowUp, now: DateTime<Utc>) -> Climb {
    let from = first_undecided(rungs, follow_up);
    // Step numbers go on from the count decided: unique per record whatever the ladder became.
    let due: Vec<Decided> = (from..rungs.len())
        .filter(|i| rungs[*i].at <= now)
        .enumerate()
        .map(|(k, index)| Decided { index, step: follow_up.step + k as u32 + 1 })
        .collect();
    match due.split_last() {
        None => Climb::Wait { next: rungs.get(from).map(|r| r.at) },
        Some((&last, overtaken)) => Climb::Step { send: last, skipped: overtaken.to_vec(), next: rungs.get(last.index + 1).map(|r| r.at) },
    }
}

/// When the first rung not yet decided falls due, after a ladder change: where the record
/// should next be looked at, if the new ladder has a step before the look already planned.
pub fn next_rung(rungs: &[Rung], follow_up: &FollowUp) -> Option<DateTime<Utc>> {
    rungs.get(first_undecided(rungs, follow_up)).map(|r| r.at)
}

/// A record's follow-up once the ladder changed from `previous` to `current` (both as rungs
/// for this record): a step decided on the old ladder is placed by its day, and the record is
/// looked at by the new ladder's next step if that comes before the look already planned (a
/// later step is found when the scan looks and finds nothing due yet). Never earlier than
/// `now`'s look for what is already due: the scan decides that on its next run. A look the
/// old ladder would have planned as well is left alone (it may wait on purpose: the final
/// notice held to the day after a payment failure notice).
pub fn rescheduled(follow_up: &FollowUp, previous: &[Rung], current: &[Rung]) -> FollowUp {
    let mut follow_up = follow_up.clone();
    if follow_up.last_step_day.is_none() && follow_up.step > 0 {
        follow_up.last_step_day = previous.get(follow_up.step as usize - 1).map(|rung| rung.day);
    }
    let next = next_rung(current, &follow_up);
    if follow_up.next_action_at.is_some()
        && next != next_rung(previous, &follow_up)
        && let Some(next) = next
    {
        follow_up.due_by(next);
    }
    follow_up
}

/// `days` from `date`, at the ladders' reminder time in `tz`.
fn moment(ladders: &Ladders, date: NaiveDate, days: i64, tz: Tz) -> Option<DateTime<Utc>> {
    add_days(date, days).map(|d| local_to_utc(d, ladders.reminder_time, tz))
}

// The ladders' steps as instants. The scan climbs them and ingest schedules a new record's
// first look at the first of them, so both read the one configuration (`Ladders`).

/// The steps of an invoice's ladder, from its due date, in the customer's zone `tz`.
pub fn invoice_rungs(ladders: &Ladders, due_date: NaiveDate, tz: Tz) -> Vec<Rung> {
    ladders.invoice.iter().filter_map(|s| rung(ladders, due_date, s.offset_days, tz, s.kind)).collect()
}

fn rung(ladders: &Ladders, date: NaiveDate, days: i64, tz: Tz, kind: NotificationKind) -> Option<Rung> {
    let day = add_days(date, days)?;
    Some(Rung { day, at: local_to_utc(day, ladders.reminder_time, tz), kind })
}

/// The warnings before a card's last valid day, and one after it when a renewal will need
/// the card.
pub fn card_rungs(ladders: &Ladders, last_valid_day: NaiveDate, renewing: bool, tz: Tz) -> Vec<Rung> {
    let mut rungs: Vec<Rung> = ladders
        .card_days_before_expiry
        .iter()
        .filter_map(|days| rung(ladders, last_valid_day, -days, tz, NotificationKind::CardExpiring))
        .collect();
    if renewing {
        rungs.extend(rung(ladders, last_valid_day, 1, tz, NotificationKind::CardExpired));
    }
    rungs
}

/// The renewal notices of the period from `start` to `end`: only those that fall after the
/// period's first day, so a monthly plan is not told about its renewal on the day it renewed.
pub fn renewal_rungs(ladders: &Ladders, start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> Vec<Rung> {
    let end = end.with_timezone(&tz).date_naive();
    let start = start.with_timezone(&tz).date_naive();
    ladders
        .renewal_days_before_end
        .iter()
        .filter_map(|days| add_days(end, -days).filter(|day| *day > start))
        .map(|day| Rung { day, at: local_to_utc(day, ladders.reminder_time, tz), kind: NotificationKind::RenewalUpcoming })
        .collect()
}

fn stop(mut follow_up: FollowUp, reason: &'static str) -> Plan {
    follow_up.clear();
    Plan { notifications: Vec::new(), follow_up, held_because: Some(reason) }
}

/// Outside the window nothing is decided: the same record is looked at again when it opens.
fn quiet_hours(ladders: &Ladders, follow_up: &FollowUp, now: DateTime<Utc>, tz: Tz) -> Option<Plan> {
    if ladders.window.is_open(now, tz) {
        return None;
    }
    let mut follow_up = follow_up.clone();
    follow_up.schedule(ladders.window.next_open(now, tz));
    Some(Plan { notifications: Vec::new(), follow_up, held_because: Some("quiet hours") })
}

/// Climbs `rungs`, adding the notifications to `plan`. `told_today`: another message about
/// the same record goes in this plan (a payment failure notice), and the ladder must not add
/// a second one the same day; it holds when the final notice may go instead (the next day).
#[allow(clippy::too_many_arguments)]
fn apply_climb(
    plan: &mut Plan,
    rungs: &[Rung],
    customer: &Customer,
    target: &Target,
    rule: Option<&str>,
    amount: Option<Money>,
    now: DateTime<Utc>,
    told_today: Option<DateTime<Utc>>,
) -> Result<(), InvalidId> {
    let notice = |decided: Decided| {
        Notification::pending(
            customer.id.clone(),
            target.clone(),
            rungs[decided.index].kind,
            rule.map(str::to_string),
            decided.step,
            amount,
            now,
        )
    };
    match climb(rungs, &plan.follow_up, now) {
        Climb::Wait { next } => plan.follow_up.next_action_at = next,
        Climb::Step { send, .. } if told_today.is_some() && rungs[send.index].kind == NotificationKind::InvoiceFinalNotice => {
            // The final notice is not stood in for: it goes on its own, the next day.
            plan.follow_up.next_action_at = told_today;
        }
        Climb::Step { send, skipped, next } => {
            // With a failure notice today, it stands for the step due today; the ladder goes
            // on from the next.
            let (overtaken, stood_for) = match told_today {
                Some(_) => (skipped.into_iter().chain([send]).collect(), true),
                None => (skipped, false),
            };
            for decided in overtaken {
                let mut skipped = notice(decided)?;
                let _ = skipped.skip(if stood_for {
                    "the payment failure notice went the same day"
                } else {
                    "overtaken by a later step (missed runs)"
                });
                plan.notifications.push(skipped);
            }
            let kind = rungs[send.index].kind;
            if !stood_for {
                plan.notifications.push(notice(send)?);
                if kind == NotificationKind::InvoiceFinalNotice {
                    plan.follow_up.needs_manual_action = true;
                }
            }
            plan.follow_up.step = send.step;
            plan.follow_up.last_step_day = Some(rungs[send.index].day);
            plan.follow_up.next_action_at = next;
        }
    }
    Ok(())
}

/// The failure notice, sent once, before anything else, when a payment failed.
fn failure_notice(
    plan: &mut Plan,
    customer: &Customer,
    target: &Target,
    rule: Option<&str>,
    amount: Option<Money>,
    now: DateTime<Utc>,
) -> Result<(), InvalidId> {
    if plan.follow_up.failure_pending {
        plan.notifications.push(Notification::pending(
            customer.id.clone(),
            target.clone(),
            NotificationKind::PaymentFailed,
            rule.map(str::to_string),
            1,
            amount,
            now,
        )?);
        plan.follow_up.failure_pending = false;
    }
    Ok(())
}

/// An unpaid invoice: the failure notice if a payment just failed, then the ladder from the
/// due date, for the balance still owed.
pub fn invoice(invoice: &Invoice, customer: &Customer, ladders: &Ladders, now: DateTime<Utc>) -> Result<Plan, InvalidId> {
    let follow_up = invoice.follow_up.clone();
    if let Some(reason) = invoice.reminders_stopped_because() {
        return Ok(stop(follow_up, reason));
    }
    if customer.reminders_stopped() {
        return Ok(stop(follow_up, "customer paused"));
    }
    let tz = customer.time_zone;
    if let Some(wait) = quiet_hours(ladders, &follow_up, now, tz) {
        return Ok(wait);
    }
    let target = Target { kind: TargetKind::Invoice, id: invoice.id.to_string() };
    let balance = Some(invoice.balance());
    let mut plan = Plan { notifications: Vec::new(), follow_up, held_because: None };
    // One failure notice per invoice and day: a second failure on another day is told too.
    let failed_on = now.with_timezone(&tz).date_naive();
    failure_notice(&mut plan, customer, &target, Some(&failed_on.to_string()), balance, now)?;
    // One message per invoice and day: with a failure notice, a final notice due today waits
    // for tomorrow's reminder time.
    let told_today = (!plan.notifications.is_empty()).then(|| moment(ladders, failed_on, 1, tz)).flatten();
    if let Some(until) = invoice.retry_hold_until().filter(|until| now < *until) {
        // The provider retries the card itself; the ladder resumes when it gives up, or at
        // the retry's time and a grace day if no news came by then.
        plan.follow_up.next_action_at = Some(until);
        plan.held_because = plan.notifications.is_empty().then_some("automatic retry pending");
        return Ok(plan);
    }
    let rungs = invoice_rungs(ladders, invoice.due_date, tz);
    apply_climb(&mut plan, &rungs, customer, &target, None, balance, now, told_today)?;
    Ok(plan)
}

/// A card: warnings before it expires, and one after if a renewal will need it, unless a
/// newer card is on file.
pub fn card(
    card: &PaymentMethod,
    customer: &Customer,
    other_cards: &[PaymentMethod],
    renewing: bool,
    ladders: &Ladders,
    now: DateTime<Utc>,
) -> Result<Plan, InvalidId> {
    let follow_up = card.follow_up.clone();
    if card.removed {
        return Ok(stop(follow_up, "card removed"));
    }
    if other_cards.iter().any(|other| card.is_superseded_by(other)) {
        return Ok(stop(follow_up, "newer card on file"));
    }
    if customer.reminders_stopped() {
        return Ok(stop(follow_up, "customer paused"));
    }
    let tz = customer.time_zone;
    if let Some(wait) = quiet_hours(ladders, &follow_up, now, tz) {
        return Ok(wait);
    }
    let rungs = card_rungs(ladders, card.expiry.last_valid_day(), renewing, tz);
    // A card's warnings are about one expiry: a renewed card (new expiry) gets its own.
    let expiry = format!("{:04}-{:02}", card.expiry.year(), card.expiry.month());
    let target = Target { kind: TargetKind::PaymentMethod, id: card.id.to_string() };
    let mut plan = Plan { notifications: Vec::new(), follow_up, held_because: None };
    apply_climb(&mut plan, &rungs, customer, &target, Some(&expiry), None, now, None)?;
    Ok(plan)
}

/// A subscription: the failure notice when past due, and, when it will not renew by itself
/// (set to cancel, renewed by hand), renewal notices before the end of each period (only
/// those that fall after the period's first day). One that renews by itself gets none.
pub fn renewal(subscription: &Subscription, customer: &Customer, ladders: &Ladders, now: DateTime<Utc>) -> Result<Plan, InvalidId> {
    let follow_up = subscription.follow_up.clone();
    if !subscription.status.is_live() {
        return Ok(stop(follow_up, "ended"));
    }
    if customer.reminders_stopped() {
        return Ok(stop(follow_up, "customer paused"));
    }
    let tz = customer.time_zone;
    if let Some(wait) = quiet_hours(ladders, &follow_up, now, tz) {
        return Ok(wait);
    }
    // Each period has its own notices: the period's end names them.
    let period = subscription.current_period_end.date_naive().to_string();
    let target = Target { kind: TargetKind::Subscription, id: subscription.id.to_string() };
    let mut plan = Plan { notifications: Vec::new(), follow_up, held_because: None };
    if subscription.status == SubscriptionStatus::PastDue {
        failure_notice(&mut plan, customer, &target, Some(&period), Some(subscription.price), now)?;
    } else {
        plan.follow_up.failure_pending = false; // paid again before the notice went
    }
    if subscription.renews() {
        plan.follow_up.next_action_at = None;
        plan.held_because = plan.notifications.is_empty().then_some("renews by itself");
        return Ok(plan);
    }
    let rungs = renewal_rungs(ladders, subscription.current_period_start, subscription.current_period_end, tz);
    apply_climb(&mut plan, &rungs, customer, &target, Some(&period), None, now, None)?;
    Ok(plan)
}

/// How late a date rule may still be sent: a rule whose day passed longer ago than this
/// (a customer imported with a lease that started two years ago) is marked done silently.
pub const DATE_RULE_GRACE_DAYS: i64 = 7;

fn rule_applies(rule: &DateRule, customer: &Customer) -> Option<NaiveDate> {
    let date = *customer.custom_dates.get(&rule.date_field)?;
    let tag_ok = rule.audience_tag.as_ref().is_none_or(|t| customer.tags.contains(t));
    let list_ok = rule.audience_list.as_ref().is_none_or(|l| customer.lists.contains(l));
    let role_ok = rule.audience_role.as_ref().is_none_or(|r| customer.roles.contains(r));
    let kind_ok = rule.audience_business.is_none_or(|business| customer.business == business);
    let stopped = rule.stop_when.as_ref().is_some_and(|stop| stop.holds(customer));
    (tag_ok && list_ok && role_ok && kind_ok && !stopped).then_some(date)
}

/// The next instant a date rule falls due for `customer`, for scheduling.
pub fn next_date_rule(customer: &Customer, ladders: &Ladders, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let grace = chrono::Duration::days(DATE_RULE_GRACE_DAYS);
    ladders
        .date_rules
        .iter()
        .filter_map(|rule| {
            let date = rule_applies(rule, customer)?;
            let day = add_days(date, rule.offset_days)?;
            let at = local_to_utc(day, ladders.reminder_time, customer.time_zone);
            let done = customer.follow_up.rules_done.contains(&format!("{}@{day}", rule.name));
            (!done && at + grace > now).then_some(at)
        })
        .min()
}

/// A customer's date rules: each due rule sends its message (and tells the team, if asked).
pub fn date_rules(customer: &Customer, ladders: &Ladders, now: DateTime<Utc>) -> Result<Plan, InvalidId> {
    let follow_up = customer.follow_up.clone();
    if customer.reminders_stopped() {
        return Ok(stop(follow_up, "customer paused"));
    }
    if let Some(wait) = quiet_hours(ladders, &follow_up, now, customer.time_zone) {
        return Ok(wait);
    }
    let mut plan = Plan { notifications: Vec::new(), follow_up, held_because: None };
    let grace = chrono::Duration::days(DATE_RULE_GRACE_DAYS);
    for rule in &ladders.date_rules {
        let Some(date) = rule_applies(rule, customer) else { continue };
        let Some(day) = add_days(date, rule.offset_days) else { continue };
        let at = local_to_utc(day, ladders.reminder_time, customer.time_zone);
        let done_key = format!("{}@{day}", rule.name);
        if at > now || plan.follow_up.rules_done.contains(&done_key) {
            continue;
        }
        plan.follow_up.rules_done.insert(done_key);
        if at + grace <= now {
            continue; // too late to be useful: recorded as done, not sent
        }
        let target = Target { kind: TargetKind::Customer, id: customer.id.to_string() };
        let rule_id = format!("{}-{day}", rule.name);
        plan.notifications.push(Notification::pending(
            customer.id.clone(),
            target.clone(),
            NotificationKind::DateRule,
            Some(rule_id.clone()),
            1,
            None,
            now,
        )?);
        if rule.notify_team {
            plan.notifications.push(Notification::pending(
                customer.id.clone(),
                target,
                NotificationKind::Internal,
                Some(rule_id),
                1,
                None,
                now,
            )?);
        }
    }
    let mut probe = customer.clone();
    probe.follow_up = plan.follow_up.clone();
    plan.follow_up.next_action_at = next_date_rule(&probe, ladders, now);
    Ok(plan)
}

/// What the eve-of-event reminder does for one registered person.
#[derive(Debug, Clone, PartialEq)]
pub enum AttendeeReminder {
    Send(Box<Notification>),
    /// Night or Sunday where the person lives: their window opens then (before the event).
    Wait(DateTime<Utc>),
    /// Cancelled, erased, paused, or the event has started.
    Nothing,
}

/// The eve-of-event reminder (a date rule on the event's start) for one registration.
pub fn event_reminder(
    event: &Event,
    registration: &Registration,
    customer: &Customer,
    ladders: &Ladders,
    now: DateTime<Utc>,
) -> Result<AttendeeReminder, InvalidId> {
    if !registration.active || customer.reminders_stopped() || now >= event.starts_at || event.cancelled_at.is_some() {
        return Ok(AttendeeReminder::Nothing);
    }
    if !ladders.window.is_open(now, customer.time_zone) {
        let opens = ladders.window.next_open(now, customer.time_zone);
        return Ok(if opens < event.starts_at { AttendeeReminder::Wait(opens) } else { AttendeeReminder::Nothing });
    }
    // A moved event is reminded afresh: one reminder per time it was set for.
    Notification::for_attendee(customer.id.clone(), event.id.as_str(), NotificationKind::EventReminder, event.moves + 1, now)
        .map(|n| AttendeeReminder::Send(Box::new(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::ladder::DateRule;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn customer() -> Customer {
        Customer::new(CustomerId::parse("c1").unwrap(), "Camille", Locale::french(), chrono_tz::Europe::Paris, utc("2026-01-01T00:00:00Z"))
    }

    fn invoice(due: NaiveDate) -> Invoice {
        Invoice::open(
            InvoiceId::parse("i1").unwrap(),
            CustomerId::parse("c1").unwrap(),
            InvoiceNumber::parse("F-1").unwrap(),
            eur(12000),
            utc("2026-01-01T00:00:00Z"),
            due,
        )
    }

    /// The invoice as the scan leaves it after `plan`.
    fn plan_applied(mut invoice: Invoice, plan: &Plan) -> Invoice {
        invoice.follow_up = plan.follow_up.clone();
        invoice
    }

    fn kinds(plan: &Plan) -> Vec<(NotificationKind, u32, NotificationStatus)> {
        plan.notifications.iter().map(|n| (n.kind, n.step, n.status)).collect()
    }

    use NotificationKind::*;
    use NotificationStatus::{Pending, Skipped};

    /// (now, steps already decided) → (notifications, next action) for an invoice due
    /// Wednesday 2 December 2026, customer in Paris (09:00 = 08:00 UTC in winter).
    #[test]
    fn the_invoice_ladder_step_by_step() {
        let ladders = Ladders::default();
        let due = date(2026, 12, 2);
        type Case<'a> = (&'a str, u32, Vec<(NotificationKind, u32, NotificationStatus)>, Option<&'a str>);
        let cases: Vec<Case> = vec![
            // Before the courtesy notice: wait for it (29 Nov is a Sunday, but steps fall due by date).
            ("2026-11-28T10:00:00Z", 0, vec![], Some("2026-11-29T08:00:00Z")),
            // Courtesy notice due.
            ("2026-11-30T10:00:00Z", 0, vec![(InvoiceDueSoon, 1, Pending)], Some("2026-12-03T08:00:00Z")),
            // due+1.
            ("2026-12-03T08:00:00Z", 1, vec![(InvoiceOverdue, 2, Pending)], Some("2026-12-09T08:00:00Z")),
            // Missed runs: at due+8 nothing had been sent; only due+7 goes, the rest is skipped.
            (
                "2026-12-10T09:00:00Z",
                0,
                vec![(InvoiceDueSoon, 1, Skipped), (InvoiceOverdue, 2, Skipped), (InvoiceOverdue, 3, Pending)],
                Some("2026-12-17T08:00:00Z"),
            ),
            // The final notice ends the ladder.
            ("2027-01-01T09:00:00Z", 4, vec![(InvoiceFinalNotice, 5, Pending)], None),
            // Already decided: the same now decides nothing again.
            ("2026-12-03T08:00:00Z", 2, vec![], Some("2026-12-09T08:00:00Z")),
        ];
        for (now, done, expected, next) in cases {
            let mut inv = invoice(due);
            inv.follow_up.step = done;
            let plan = super::invoice(&inv, &customer(), &ladders, utc(now)).unwrap();
            assert_eq!(kinds(&plan), expected, "at {now} after {done} steps");
            assert_eq!(plan.follow_up.next_action_at, next.map(utc), "next after {now}");
        }
        let mut inv = invoice(due);
        inv.follow_up.step = 4;
        let plan = super::invoice(&inv, &customer(), &ladders, utc("2027-01-01T09:00:00Z")).unwrap();
        assert!(plan.follow_up.needs_manual_action, "the final notice flags the invoice");
    }

    #[test]
    fn a_changed_ladder_neither_repeats_a_step_nor_skips_one_ahead() {
        let due = date(2026, 12, 2);
        let mut inv = invoice(due);
        // Decided on the default ladder: the courtesy notice and due+1.
        for now in ["2026-11-30T10:00:00Z", "2026-12-03T08:00:00Z"] {
            let plan = super::invoice(&inv, &customer(), &Ladders::default(), utc(now)).unwrap();
            inv = plan_applied(inv, &plan);
        }
        assert_eq!((inv.follow_up.step, inv.follow_up.last_step_day), (2, Some(date(2026, 12, 3))));
        // The owner adds a step at due+3, and removes the one at due+1 (already sent).
        let mut changed = Ladders::default();
        changed.invoice.retain(|s| s.offset_days != 1);
        changed.invoice.insert(1, super::super::ladder::Step { offset_days: 3, kind: InvoiceOverdue });
        let rungs = invoice_rungs(&changed, due, chrono_tz::Europe::Paris);
        assert_eq!(next_rung(&rungs, &inv.follow_up), Some(utc("2026-12-05T08:00:00Z")), "the new step is the next look");
        let plan = super::invoice(&inv, &customer(), &changed, utc("2026-12-05T08:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(InvoiceOverdue, 3, Pending)], "a new number: step 3 was never used on this invoice");
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-12-09T08:00:00Z")));
        inv = plan_applied(inv, &plan);
        let plan = super::invoice(&inv, &customer(), &changed, utc("2026-12-09T08:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(InvoiceOverdue, 4, Pending)], "due+7 once, numbered after the others");
        inv = plan_applied(inv, &plan);
        // The final notice moved before the last step decided still goes, once.
        let mut early = Ladders::default();
        early.invoice.truncate(2);
        early.invoice.push(super::super::ladder::Step { offset_days: 5, kind: InvoiceFinalNotice });
        let plan = super::invoice(&inv, &customer(), &early, utc("2026-12-10T08:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(InvoiceFinalNotice, 5, Pending)]);
        assert!(plan.follow_up.needs_manual_action);
        let after = plan_applied(inv.clone(), &plan);
        assert!(super::invoice(&after, &customer(), &early, utc("2026-12-11T08:00:00Z")).unwrap().notifications.is_empty());
        // Back to the default ladder: due+1 and due+3 are behind the last step's day.
        let plan = super::invoice(&inv, &customer(), &Ladders::default(), utc("2026-12-10T08:00:00Z")).unwrap();
        assert_eq!((kinds(&plan), plan.follow_up.next_action_at), (vec![], Some(utc("2026-12-17T08:00:00Z"))));
    }

    #[test]
    fn partial_payments_remind_for_the_balance() {
        let mut inv = invoice(date(2026, 12, 2));
        inv.record_payment(eur(4500)).unwrap();
        let plan = super::invoice(&inv, &customer(), &Ladders::default(), utc("2026-12-03T09:00:00Z")).unwrap();
        assert_eq!(plan.notifications.last().unwrap().amount, Some(eur(7500)));
    }

    #[test]
    fn stops_at_once_for_paid_paused_disputed_and_deleted() {
        let now = utc("2026-12-03T09:00:00Z");
        let ladders = Ladders::default();
        let mut paid = invoice(date(2026, 12, 2));
        paid.follow_up.schedule(now);
        paid.record_payment(eur(12000)).unwrap();
        let mut paused = invoice(date(2026, 12, 2));
        paused.reminders_paused = true;
        let mut disputed = invoice(date(2026, 12, 2));
        disputed.disputed = true;
        for (inv, reason) in [(paid, "invoice no longer owed"), (paused, "invoice paused"), (disputed, "disputed")] {
            let plan = super::invoice(&inv, &customer(), &ladders, now).unwrap();
            assert!(plan.notifications.is_empty());
            assert_eq!(plan.follow_up.next_action_at, None);
            assert_eq!(plan.held_because, Some(reason));
        }
        let mut mahnstopp = customer();
        mahnstopp.reminders_paused = true;
        let plan = super::invoice(&invoice(date(2026, 12, 2)), &mahnstopp, &ladders, now).unwrap();
        assert_eq!(plan.held_because, Some("customer paused"));
    }

    #[test]
    fn an_announced_retry_holds_the_ladder_only_until_its_time_and_a_grace_day() {
        let ladders = Ladders::default();
        let mut inv = invoice(date(2026, 11, 20));
        inv.autopay_retry_pending = true;
        inv.autopay_retry_at = Some(utc("2026-11-24T10:00:00Z"));
        inv.provider_updated_at = Some(utc("2026-11-21T10:00:00Z"));
        // Before the retry and its grace day: held, looked at again when it runs out.
        let held = super::invoice(&inv, &customer(), &ladders, utc("2026-11-25T09:00:00Z")).unwrap();
        assert!(held.notifications.is_empty());
        assert_eq!(held.held_because, Some("automatic retry pending"));
        assert_eq!(held.follow_up.next_action_at, Some(utc("2026-11-25T10:00:00Z")));
        // No news by then (a lost event, retries turned off): the ladder resumes.
        let resumed = super::invoice(&inv, &customer(), &ladders, utc("2026-11-25T10:00:00Z")).unwrap();
        assert!(resumed.notifications.iter().any(|n| n.kind == InvoiceOverdue && n.status == Pending), "{:?}", kinds(&resumed));
        // A hold stored before the time was kept lasts 8 days from the provider's last word.
        inv.autopay_retry_at = None;
        inv.provider_updated_at = Some(utc("2026-11-17T10:00:00Z"));
        let legacy = super::invoice(&inv, &customer(), &ladders, utc("2026-11-24T10:00:00Z")).unwrap();
        assert_eq!(legacy.follow_up.next_action_at, Some(utc("2026-11-25T10:00:00Z")));
        let legacy = super::invoice(&inv, &customer(), &ladders, utc("2026-11-25T10:00:00Z")).unwrap();
        assert!(legacy.notifications.iter().any(|n| n.kind == InvoiceOverdue), "{:?}", kinds(&legacy));
    }

    #[test]
    fn a_failed_payment_is_told_at_once_and_the_ladder_waits_for_the_retries() {
        let ladders = Ladders::default();
        let now = utc("2026-11-25T10:00:00Z");
        let mut inv = invoice(date(2026, 12, 20));
        inv.follow_up.failure_pending = true;
        inv.autopay_retry_pending = true;
        inv.autopay_retry_at = Some(utc("2026-11-28T10:00:00Z"));
        let plan = super::invoice(&inv, &customer(), &ladders, now).unwrap();
        assert_eq!(kinds(&plan), vec![(PaymentFailed, 1, Pending)]);
        assert!(!plan.follow_up.failure_pending);
        assert_eq!(
            plan.follow_up.next_action_at,
            Some(utc("2026-11-29T10:00:00Z")),
            "the retry's outcome reschedules it; without news, the retry's time and a grace day"
        );

        // Retries exhausted (the provider says so): one message that day, the failure notice,
        // which stands for the overdue reminder due; the ladder goes on from the next step.
        inv.autopay_retry_pending = false;
        inv.due_date = date(2026, 11, 20);
        let plan = super::invoice(&inv, &customer(), &ladders, now).unwrap();
        assert_eq!(kinds(&plan), vec![(PaymentFailed, 1, Pending), (InvoiceDueSoon, 1, Skipped), (InvoiceOverdue, 2, Skipped)]);
        assert_eq!(plan.follow_up.step, 2);
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-11-27T08:00:00Z")), "the +7 reminder, on its day");
        let covered = &plan.notifications[2];
        assert_eq!(covered.error.as_deref(), Some("the payment failure notice went the same day"));

        // A failure on the day the final notice is due: the notice today, the final notice
        // tomorrow at the reminder time (never stood in for).
        let mut late = invoice(date(2026, 10, 26));
        late.follow_up.step = 4;
        late.follow_up.failure_pending = true;
        let plan = super::invoice(&late, &customer(), &ladders, now).unwrap();
        assert_eq!(kinds(&plan), vec![(PaymentFailed, 1, Pending)]);
        assert_eq!((plan.follow_up.step, plan.follow_up.next_action_at), (4, Some(utc("2026-11-26T08:00:00Z"))));
        let plan = super::invoice(&plan_applied(late, &plan), &customer(), &ladders, utc("2026-11-26T08:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(InvoiceFinalNotice, 5, Pending)]);
    }

    #[test]
    fn quiet_hours_defer_to_the_customers_next_window() {
        let ladders = Ladders::default();
        let inv = invoice(date(2026, 11, 20));
        // 22:30 in Paris on a Wednesday: nothing now, back at 08:00 Paris.
        let plan = super::invoice(&inv, &customer(), &ladders, utc("2026-11-25T21:30:00Z")).unwrap();
        assert!(plan.notifications.is_empty());
        assert_eq!(plan.held_because, Some("quiet hours"));
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-11-26T07:00:00Z")));
        // Sunday: Monday 08:00.
        let plan = super::invoice(&inv, &customer(), &ladders, utc("2026-11-29T10:00:00Z")).unwrap();
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-11-30T07:00:00Z")));
        // The same instant is a working afternoon in New York.
        let mut new_yorker = customer();
        new_yorker.time_zone = chrono_tz::America::New_York;
        let plan = super::invoice(&inv, &new_yorker, &ladders, utc("2026-11-25T21:30:00Z")).unwrap();
        assert!(!plan.notifications.is_empty());
    }

    #[test]
    fn steps_keep_their_local_hour_across_dst_month_ends_and_leap_years() {
        let ladders = Ladders::default();
        // Due Friday 27 March 2026: due+1 is Saturday 28 (CET, 08:00 UTC); due+7 is Friday
        // 3 April (CEST, 07:00 UTC).
        let inv = invoice(date(2026, 3, 27));
        let plan = super::invoice(&inv, &customer(), &ladders, utc("2026-03-28T08:30:00Z")).unwrap();
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-04-03T07:00:00Z")));
        // Due 31 January: +30 days is 2 March; in a leap year, due 29 February +1 is 1 March.
        let mut inv = invoice(date(2026, 1, 31));
        inv.follow_up.step = 4;
        let plan = super::invoice(&inv, &customer(), &ladders, utc("2026-02-20T10:00:00Z")).unwrap();
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-03-02T08:00:00Z")));
        let mut inv = invoice(date(2028, 2, 29));
        inv.follow_up.step = 1;
        let plan = super::invoice(&inv, &customer(), &ladders, utc("2028-02-29T10:00:00Z")).unwrap();
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2028-03-01T08:00:00Z")));
    }

    fn card(month: u32, year: i32, id: &str) -> PaymentMethod {
        PaymentMethod {
            id: PaymentMethodId::parse(id).unwrap(),
            customer_id: CustomerId::parse("c1").unwrap(),
            version: 0,
            brand: "visa".into(),
            last4: Last4::parse("4242").unwrap(),
            expiry: CardExpiry::new(month, year).unwrap(),
            is_default: true,
            provider_ref: None,
            added_at: utc("2026-01-01T00:00:00Z"),
            removed: false,
            follow_up: FollowUp::default(),
            provider_updated_at: None,
        }
    }

    #[test]
    fn card_warnings_and_the_newer_card_rule() {
        let ladders = Ladders::default();
        let old = card(12, 2026, "old");
        // 31 December - 30 days = 1 December; -7 = 24 December.
        let plan = super::card(&old, &customer(), &[], false, &ladders, utc("2026-12-01T09:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(CardExpiring, 1, Pending)]);
        assert_eq!(plan.notifications[0].id.as_str(), "payment_method.old.card_expiring.2026-12.1");
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-12-24T08:00:00Z")));
        // After the last warning: done, unless a renewal will need the card.
        let mut warned = old.clone();
        warned.follow_up.step = 2;
        let plan = super::card(&warned, &customer(), &[], false, &ladders, utc("2026-12-25T09:00:00Z")).unwrap();
        assert_eq!(plan.follow_up.next_action_at, None);
        let plan = super::card(&warned, &customer(), &[], true, &ladders, utc("2027-01-01T09:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(CardExpired, 3, Pending)]);
        // A newer card on file: nothing.
        let plan = super::card(&old, &customer(), &[card(12, 2029, "new")], true, &ladders, utc("2026-12-01T09:00:00Z")).unwrap();
        assert_eq!(plan.held_because, Some("newer card on file"));
        assert!(plan.notifications.is_empty());
    }

    fn subscription(start: &str, end: &str) -> Subscription {
        Subscription {
            id: SubscriptionId::parse("s1").unwrap(),
            customer_id: CustomerId::parse("c1").unwrap(),
            version: 0,
            plan: "Jardin d'entreprise".into(),
            price: eur(120_000),
            interval: BillingInterval::Year,
            status: SubscriptionStatus::Active,
            current_period_start: utc(start),
            current_period_end: utc(end),
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
    fn renewal_notices_only_when_it_will_not_renew_by_itself() {
        let ladders = Ladders::default();
        let auto = subscription("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
        // It renews by itself: no "nothing to do" message (there used to be three a period).
        let plan = super::renewal(&auto, &customer(), &ladders, utc("2026-12-02T09:00:00Z")).unwrap();
        assert_eq!((kinds(&plan), plan.held_because, plan.follow_up.next_action_at), (vec![], Some("renews by itself"), None));
        // Set to cancel, or renewed by hand: the alert, then two reminders.
        let mut cancelling = auto.clone();
        cancelling.cancel_at_period_end = true;
        let mut manual = auto.clone();
        manual.manual_renewal = true;
        for sub in [cancelling, manual] {
            // Period ends 1 January 2027 (Paris): notices 2 Dec, 17 Dec, 29 Dec.
            let plan = super::renewal(&sub, &customer(), &ladders, utc("2026-12-02T09:00:00Z")).unwrap();
            assert_eq!(kinds(&plan), vec![(RenewalUpcoming, 1, Pending)]);
            assert_eq!(plan.notifications[0].id.as_str(), "subscription.s1.renewal_upcoming.2027-01-01.1");
            assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-12-17T08:00:00Z")));
        }
        let mut ended = auto.clone();
        ended.status = SubscriptionStatus::Canceled;
        assert_eq!(super::renewal(&ended, &customer(), &ladders, utc("2026-12-02T09:00:00Z")).unwrap().held_because, Some("ended"));
        // A three-week period: the notice 30 days before would fall before the period began.
        // (And a 30-day period's 30-day notice would fall on its first day: not sent either.)
        let manual = |start, end| Subscription { manual_renewal: true, ..subscription(start, end) };
        let monthly = manual("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z");
        let plan = super::renewal(&monthly, &customer(), &ladders, utc("2026-12-01T09:00:00Z")).unwrap();
        assert!(plan.notifications.is_empty());
        let short = manual("2026-12-20T00:00:00Z", "2027-01-10T00:00:00Z");
        let plan = super::renewal(&short, &customer(), &ladders, utc("2026-12-21T09:00:00Z")).unwrap();
        assert!(plan.notifications.is_empty());
        assert_eq!(plan.follow_up.next_action_at, Some(utc("2026-12-26T08:00:00Z")));
        // Past due: the failure notice, whether or not it renews by itself.
        let mut past_due = auto.clone();
        past_due.status = SubscriptionStatus::PastDue;
        past_due.follow_up.failure_pending = true;
        let plan = super::renewal(&past_due, &customer(), &ladders, utc("2026-06-02T09:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(PaymentFailed, 1, Pending)]);
    }

    #[test]
    fn date_rules_with_audience_grace_and_team_copy() {
        let mut ladders = Ladders::default();
        ladders.date_rules.push(DateRule {
            name: "lease-80".into(),
            date_field: "lease_start".into(),
            offset_days: 80,
            audience_tag: Some("velo".into()),
            audience_list: None,
            audience_role: None,
            notify_team: true,
            ..Default::default()
        });
        let mut rider = customer();
        rider.custom_dates.insert("lease_start".into(), date(2026, 9, 1));
        rider.tags.insert("velo".into());
        // 1 Sep + 80 days = 20 Nov.
        assert_eq!(next_date_rule(&rider, &ladders, utc("2026-11-01T00:00:00Z")), Some(utc("2026-11-20T08:00:00Z")));
        let plan = date_rules(&rider, &ladders, utc("2026-11-20T09:00:00Z")).unwrap();
        assert_eq!(kinds(&plan), vec![(DateRule, 1, Pending), (Internal, 1, Pending)]);
        assert_eq!(plan.notifications[0].rule.as_deref(), Some("lease-80-2026-11-20"));
        assert_eq!(plan.follow_up.next_action_at, None);
        // Once done, never again.
        let mut done = rider.clone();
        done.follow_up = plan.follow_up.clone();
        assert!(date_rules(&done, &ladders, utc("2026-11-21T09:00:00Z")).unwrap().notifications.is_empty());
        // Outside the audience, or long past: nothing is sent.
        let mut walker = rider.clone();
        walker.tags.clear();
        assert!(date_rules(&walker, &ladders, utc("2026-11-20T09:00:00Z")).unwrap().notifications.is_empty());
        assert!(date_rules(&rider, &ladders, utc("2027-06-01T09:00:00Z")).unwrap().notifications.is_empty());
    }

    #[test]
    fn a_rule_for_businesses_only_and_its_stop_conditions() {
        let mut ladders = Ladders::default();
        ladders.date_rules.push(DateRule {
            name: "welcome-7".into(),
            date_field: "subscription_start".into(),
            offset_days: 7,
            audience_business: Some(true),
            stop_when: Some(super::super::ladder::StopWhen {
                registered_to: Some("welcome_workshop".into()),
                tagged: Some("atelier-fait".into()),
                field_set: Some("workshop_done".into()),
            }),
            ..Default::default()
        });
        let mut business = customer();
        business.business = true;
        business.custom_dates.insert("subscription_start".into(), date(2026, 11, 2));
        let at = utc("2026-11-09T09:00:00Z");
        let sent = |c: &Customer| !date_rules(c, &ladders, at).unwrap().notifications.is_empty();
        assert!(sent(&business));
        let consumer = Customer { business: false, ..business.clone() };
        assert!(!sent(&consumer), "businesses only");
        let mut registered = business.clone();
        registered.registered_kinds.insert("welcome_workshop".into());
        let mut tagged = business.clone();
        tagged.tags.insert("atelier-fait".into());
        let mut dated = business.clone();
        dated.custom_dates.insert("workshop_done".into(), date(2026, 11, 5));
        for stopped in [registered, tagged, dated] {
            assert!(!sent(&stopped), "{:?}", (stopped.registered_kinds, stopped.tags));
            assert_eq!(next_date_rule(&stopped, &ladders, utc("2026-11-03T00:00:00Z")), None, "and not scheduled either");
        }
    }

    #[test]
    fn a_role_audience_reaches_only_customers_whose_users_hold_the_role() {
        let mut ladders = Ladders::default();
        ladders.date_rules.push(DateRule {
            name: "b2b-review".into(),
            date_field: "contract_start".into(),
            offset_days: 30,
            audience_tag: None,
            audience_list: None,
            audience_role: Some(Role::MemberB2b),
            notify_team: false,
            ..Default::default()
        });
        assert_eq!(ladders.validate(), Ok(()));
        let mut business = customer();
        business.custom_dates.insert("contract_start".into(), date(2026, 10, 1));
        let mut classic = business.clone();
        business.roles.insert(Role::MemberB2b);
        classic.roles.insert(Role::Member);
        let at = utc("2026-10-31T09:00:00Z");
        assert_eq!(kinds(&date_rules(&business, &ladders, at).unwrap()), vec![(DateRule, 1, Pending)]);
        assert!(date_rules(&classic, &ladders, at).unwrap().notifications.is_empty());
        // A role that does not exist is refused when the configuration is read.
        let json = serde_json::to_string(&ladders).unwrap().replace("member_b2b", "owner");
        assert!(serde_json::from_str::<Ladders>(&json).is_err());
    }

    #[test]
    fn the_eve_of_event_reminder_waits_for_each_persons_window() {
        let ladders = Ladders::default();
        let event = Event {
            id: EventId::parse("ev1").unwrap(),
            title: "Atelier compost".into(),
            description: String::new(),
            starts_at: utc("2026-12-05T09:00:00Z"),
            location: "Jardin Nord".into(),
            audience: Audience::Public,
            kind: None,
            capacity: None,
            registered: 1,
            created_by: "farmer".into(),
            reminder_at: Some(utc("2026-12-04T09:00:00Z")),
            cancelled_at: None,
            moves: 0,
            version: 1,
        };
        let c = customer();
        let registration = Registration {
            event_id: event.id.clone(),
            user: "u1".into(),
            name: "Marie".into(),
            customer_id: Some(c.id.clone()),
            active: true,
            times: 1,
            registered_at: utc("2026-11-20T09:00:00Z"),
            version: 1,
        };
        // Friday 10:00 in Paris: sent, with an id naming the person.
        let AttendeeReminder::Send(n) = event_reminder(&event, &registration, &c, &ladders, utc("2026-12-04T09:00:00Z")).unwrap() else {
            panic!("expected a reminder")
        };
        assert_eq!(n.kind, EventReminder);
        assert_eq!(n.id.as_str(), format!("event.ev1.event_reminder.{}.1", c.id));
        // Friday 05:00 in Paris: waits for 08:00 local (07:00 UTC).
        assert_eq!(
            event_reminder(&event, &registration, &c, &ladders, utc("2026-12-04T04:00:00Z")).unwrap(),
            AttendeeReminder::Wait(utc("2026-12-04T07:00:00Z"))
        );
        // Cancelled, paused, or already started: nothing.
        let cancelled = Registration { active: false, ..registration.clone() };
        assert_eq!(event_reminder(&event, &cancelled, &c, &ladders, utc("2026-12-04T09:00:00Z")).unwrap(), AttendeeReminder::Nothing);
        let paused = Customer { reminders_paused: true, ..c.clone() };
        assert_eq!(
            event_reminder(&event, &registration, &paused, &ladders, utc("2026-12-04T09:00:00Z")).unwrap(),
            AttendeeReminder::Nothing
        );
        assert_eq!(event_reminder(&event, &registration, &c, &ladders, utc("2026-12-05T09:30:00Z")).unwrap(), AttendeeReminder::Nothing);
        // The event called off: nothing. Moved once: a reminder of its own for the new time.
        let called_off = Event { cancelled_at: Some(utc("2026-12-01T09:00:00Z")), ..event.clone() };
        assert_eq!(
            event_reminder(&called_off, &registration, &c, &ladders, utc("2026-12-04T09:00:00Z")).unwrap(),
            AttendeeReminder::Nothing
        );
        let moved = Event { moves: 1, ..event.clone() };
        let AttendeeReminder::Send(again) = event_reminder(&moved, &registration, &c, &ladders, utc("2026-12-04T09:00:00Z")).unwrap()
        else {
            panic!("expected a reminder")
        };
        assert_eq!(again.id.as_str(), format!("event.ev1.event_reminder.{}.2", c.id));
    }
}
