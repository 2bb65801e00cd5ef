//! The business's own deadlines: reminders to the team ahead of fixed dates that are no
//! customer's (the VAT return each month or quarter, the yearly tax payment), in the owner's
//! settings beside the date rules.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::{CustomerId, Email, InvalidId, Notification, NotificationKind, Target, TargetKind};

/// Where the calendar's reminders are kept, in place of a customer's id: the business's own
/// partition (`CUSTOMER#_calendar`). Made of what an SES message tag may carry (letters,
/// digits, `_`, `-`: dispatch tags each email with its customer), and beginning with `_`,
/// which neither our ids (ULIDs) nor the providers' take.
pub const CALENDAR: &str = "_calendar";

/// How often a deadline comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    Month,
    Quarter,
    Year,
}

/// One deadline of the business's calendar, and when the team hears of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarRule {
    /// Its name (letters, digits, `-`, `_`): `tva-mensuelle`.
    pub name: String,
    pub every: Every,
    /// The deadline's day of the month (1 to 31; past a month's end, its last day).
    pub day: u32,
    /// For a yearly deadline, its month; for a quarterly one, the quarter's month it falls in
    /// (1: January, April, July, October; 2: February…); none for a monthly one (1 if omitted).
    #[serde(default)]
    pub month: Option<u32>,
    /// Days before the deadline each reminder goes (0: on the day), `[7, 1]`.
    pub days_before: Vec<u32>,
    /// What the team has to do, as the reminder says it: "Déclarer et payer la TVA (CA3)".
    pub note: String,
    /// Where the reminders go; none: the team's address.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub team_email: Option<Email>,
}

/// Why a rule was refused: the field (within the rule) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    pub field: &'static str,
    pub message: String,
}

impl CalendarRule {
    pub fn validate(&self) -> Result<(), CalendarError> {
        let refuse = |field, message: &str| Err(CalendarError { field, message: message.to_string() });
        if self.name.is_empty() || self.name.len() > 64 || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return refuse("name", "a name of letters, digits, - and _ (tva-mensuelle)");
        }
        if !(1..=31).contains(&self.day) {
            return refuse("day", "the deadline's day of the month: 1 to 31");
        }
        let months = match self.every {
            Every::Month => 1..=1,
            Every::Quarter => 1..=3,
            Every::Year => 1..=12,
        };
        if self.month.is_some_and(|m| !months.contains(&m)) || (self.every == Every::Year && self.month.is_none()) {
            return refuse("month", "monthly: none; quarterly: 1, 2 or 3 (the quarter's month); yearly: its month, 1 to 12");
        }
        if self.days_before.is_empty() || self.days_before.len() > 5 || self.days_before.iter().any(|d| *d > 60) {
            return refuse("days_before", "one to five reminders, each 0 to 60 days before the deadline");
        }
        if self.note.trim().is_empty() || self.note.len() > 500 {
            return refuse("note", "what the team has to do, in up to 500 characters");
        }
        Ok(())
    }

    /// Whether `day` is one of this rule's deadlines.
    pub fn falls_on(&self, day: NaiveDate) -> bool {
        let first = self.month.unwrap_or(1);
        let month_matches = match self.every {
            Every::Month => true,
            Every::Quarter => (day.month() + 12 - first).is_multiple_of(3),
            Every::Year => day.month() == first,
        };
        month_matches && day.day() == self.day.min(last_day(day))
    }

    /// The reminders due on `day`: each as its deadline and how many days before it.
    pub fn reminders_on(&self, day: NaiveDate) -> Vec<(NaiveDate, u32)> {
        self.days_before
            .iter()
            .filter_map(|before| day.checked_add_days(chrono::Days::new(u64::from(*before))).map(|deadline| (deadline, *before)))
            .filter(|(deadline, _)| self.falls_on(*deadline))
            .collect()
    }

    /// The reminder's id within the rule (`tva-mensuelle-2026-12-19`): the deadline, as the
    /// message's planned date.
    pub fn reminder_rule_id(&self, deadline: NaiveDate) -> String {
        format!("{}-{deadline}", self.name)
    }
}

/// The team's reminder of `rule`'s `deadline`, `before` days ahead: one per deadline and
/// day, by its id, however many scans decide it.
pub fn reminder(
    rule: &CalendarRule,
    deadline: NaiveDate,
    before: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Notification, InvalidId> {
    let target = Target { kind: TargetKind::Customer, id: CALENDAR.to_string() };
    Notification::pending(
        CustomerId::parse(CALENDAR)?,
        target,
        NotificationKind::TeamDeadline,
        Some(rule.reminder_rule_id(deadline)),
        before.saturating_add(1),
        None,
        now,
    )
}

/// The last day of `day`'s month.
fn last_day(day: NaiveDate) -> u32 {
    day.with_day(1)
        .and_then(|first| first.checked_add_months(Months::new(1)))
        .and_then(|next| next.pred_opt())
        .map_or(28, |last| last.day())
}

/// The calendar rule a reminder's rule id (`tva-mensuelle-2026-12-19`) names.
pub fn rule_of<'a>(rules: &'a [CalendarRule], rule_id: &str) -> Option<&'a CalendarRule> {
    let name = rule_id.get(..rule_id.len().checked_sub(11)?)?;
    rules.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn rule(every: Every, day: u32, month: Option<u32>, days_before: &[u32]) -> CalendarRule {
        CalendarRule {
            name: "tva".into(),
            every,
            day,
            month,
            days_before: days_before.to_vec(),
            note: "Déclarer la TVA".into(),
            team_email: None,
        }
    }

    #[test]
    fn a_monthly_deadline_is_reminded_each_month_and_the_31st_means_the_month_s_end() {
        let vat = rule(Every::Month, 19, None, &[7, 1]);
        assert_eq!(vat.reminders_on(day(2026, 12, 12)), [(day(2026, 12, 19), 7)]);
        assert_eq!(vat.reminders_on(day(2026, 12, 18)), [(day(2026, 12, 19), 1)]);
        assert!(vat.reminders_on(day(2026, 12, 19)).is_empty(), "no reminder on the day unless asked");
        let end = rule(Every::Month, 31, None, &[0]);
        assert!(end.falls_on(day(2027, 2, 28)) && end.falls_on(day(2028, 2, 29)) && end.falls_on(day(2026, 4, 30)));
        assert!(!end.falls_on(day(2026, 4, 29)));
    }

    #[test]
    fn quarterly_and_yearly_deadlines_fall_in_their_months_only() {
        // The quarter's first month: 24 January, April, July, October.
        let quarterly = rule(Every::Quarter, 24, Some(1), &[3]);
        let on: Vec<u32> = (1..=12).filter(|m| quarterly.falls_on(day(2027, *m, 24))).collect();
        assert_eq!(on, [1, 4, 7, 10]);
        let second = rule(Every::Quarter, 15, Some(2), &[3]);
        assert_eq!((1..=12).filter(|m| second.falls_on(day(2027, *m, 15))).collect::<Vec<_>>(), [2, 5, 8, 11]);
        let yearly = rule(Every::Year, 15, Some(5), &[30, 7]);
        assert_eq!(yearly.reminders_on(day(2027, 4, 15)), [(day(2027, 5, 15), 30)]);
        assert_eq!(yearly.reminders_on(day(2027, 5, 8)), [(day(2027, 5, 15), 7)]);
        assert!(yearly.reminders_on(day(2027, 6, 8)).is_empty());
    }

    #[test]
    fn a_rule_id_names_its_rule_and_bad_rules_are_refused_by_field() {
        let rules = vec![rule(Every::Month, 19, None, &[7])];
        assert_eq!(rule_of(&rules, &rules[0].reminder_rule_id(day(2026, 12, 19))).map(|r| r.name.as_str()), Some("tva"));
        assert!(rule_of(&rules, "x").is_none());
        assert_eq!(rule(Every::Month, 32, None, &[1]).validate().unwrap_err().field, "day");
        assert_eq!(rule(Every::Quarter, 1, Some(4), &[1]).validate().unwrap_err().field, "month");
        assert_eq!(rule(Every::Year, 1, Some(12), &[]).validate().unwrap_err().field, "days_before");
        assert!(rule(Every::Year, 1, Some(12), &[0, 30]).validate().is_ok());
        assert_eq!(rule(Every::Year, 1, None, &[7]).validate().unwrap_err().field, "month", "a yearly deadline names its month");
    }
}
