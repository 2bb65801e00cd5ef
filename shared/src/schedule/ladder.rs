//! Reminder ladders as data: which steps, how many days from the date that matters, and
//! which message each step sends. Defaults are what the businesses we serve do today; a
//! deployment overrides them with `RELANCE_LADDERS` (JSON, same shape), read by `crate::config`
//! and checked at start-up.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::domain::{CardExpiry, NotificationKind};

/// One step: `offset_days` from the ladder's reference date (negative: before it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub offset_days: i64,
    pub kind: NotificationKind,
}

/// A date rule: a date field of a customer, shifted by `offset_days`, sends its message (the
/// owner writes it as the `date_rule` template of the rule's name) to the customers the
/// audience keeps, unless its stop condition holds, and optionally tells a team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRule {
    /// Names the rule in notification ids: letters, digits, `-` and `_`.
    pub name: String,
    /// The customer's custom date field (`lease_start`, `plot_start`).
    pub date_field: String,
    pub offset_days: i64,
    /// Only customers with this tag or in this list (none: everyone with the date).
    #[serde(default)]
    pub audience_tag: Option<String>,
    #[serde(default)]
    pub audience_list: Option<String>,
    /// Only customers whose member-space users hold this role (`member_b2b`, `client`…).
    #[serde(default)]
    pub audience_role: Option<crate::domain::Role>,
    /// Only businesses (`true`) or only consumers (`false`); none: both.
    #[serde(default)]
    pub audience_business: Option<bool>,
    /// Once this holds for a customer, the rule sends them nothing more (the member registered
    /// to the welcome workshop the reminders were about).
    #[serde(default)]
    pub stop_when: Option<StopWhen>,
    /// Also send the team an internal notification with the customer's details.
    #[serde(default)]
    pub notify_team: bool,
    /// Where that notification goes (the bike workshop, not the general inbox); none: the
    /// business's team address.
    #[serde(default)]
    pub team_email: Option<crate::domain::Email>,
}

/// What ends a date rule for a customer; any one that is set and holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopWhen {
    /// The customer registered to an event of this kind (`welcome_workshop`).
    #[serde(default)]
    pub registered_to: Option<String>,
    /// The customer has this tag.
    #[serde(default)]
    pub tagged: Option<String>,
    /// This date field of the customer is set (`workshop_done`).
    #[serde(default)]
    pub field_set: Option<String>,
}

impl StopWhen {
    pub fn holds(&self, customer: &crate::domain::Customer) -> bool {
        self.registered_to.as_ref().is_some_and(|kind| customer.registered_kinds.contains(kind))
            || self.tagged.as_ref().is_some_and(|tag| customer.tags.contains(tag))
            || self.field_set.as_ref().is_some_and(|field| customer.custom_dates.contains_key(field))
    }
}

/// When messages may go out, in the customer's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendingWindow {
    pub opens: NaiveTime,
    pub closes: NaiveTime,
    pub days: Vec<Weekday>,
}

impl SendingWindow {
    /// Reads `08:00-20:00`.
    pub fn set_hours(&mut self, text: &str) -> Result<(), LadderError> {
        let bad = || LadderError::BadWindow(text.to_string());
        let (opens, closes) = text.trim().split_once('-').ok_or_else(bad)?;
        self.opens = NaiveTime::parse_from_str(opens.trim(), "%H:%M").map_err(|_| bad())?;
        self.closes = NaiveTime::parse_from_str(closes.trim(), "%H:%M").map_err(|_| bad())?;
        Ok(())
    }

    /// Reads `Mon,Tue,Wed,Thu,Fri,Sat`.
    pub fn set_days(&mut self, text: &str) -> Result<(), LadderError> {
        self.days = text
            .split(',')
            .map(|d| d.trim().parse::<Weekday>().map_err(|_| LadderError::BadWindow(text.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladders {
    /// Steps from the invoice's due date.
    pub invoice: Vec<Step>,
    /// Days before a card's last valid day.
    pub card_days_before_expiry: Vec<i64>,
    /// Days before a subscription's period ends.
    pub renewal_days_before_end: Vec<i64>,
    #[serde(default)]
    pub date_rules: Vec<DateRule>,
    /// The local time of day a step falls due.
    pub reminder_time: NaiveTime,
    pub window: SendingWindow,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    #[error("the invoice ladder has no steps")]
    NoInvoiceSteps,
    /// `ladder` names the list (`invoice`, `card`, `renewal`), `index` its first step out of
    /// order.
    #[error("{}: {}", unordered_field(.ladder, *.index), unordered_reason(.ladder))]
    Unordered { ladder: &'static str, index: usize },
    #[error("the sending window must open before it closes, on at least one day")]
    EmptyWindow,
    #[error("the reminder time {0} is outside the sending window")]
    ReminderOutsideWindow(NaiveTime),
    #[error("date rule {name:?}: names use letters, digits, '-' and '_'")]
    BadRuleName { index: usize, name: String },
    #[error("two date rules are named {name:?}")]
    DuplicateRule { index: usize, name: String },
    #[error("sending window {0:?}: write hours as 08:00-20:00 and days as Mon,Tue,Wed")]
    BadWindow(String),
    #[error("invoice[{index}].kind: an invoice ladder sends invoice_due_soon, invoice_overdue or invoice_final_notice")]
    NotAnInvoiceMessage { index: usize },
    #[error("{ladder}[{index}]: days before the date are 0 or more")]
    NegativeDaysBefore { ladder: &'static str, index: usize },
}

fn unordered_field(ladder: &str, index: usize) -> String {
    match ladder {
        "invoice" => format!("invoice[{index}].offset_days"),
        "card" => format!("card_days_before_expiry[{index}]"),
        _ => format!("renewal_days_before_end[{index}]"),
    }
}

fn unordered_reason(ladder: &str) -> &'static str {
    if ladder == "invoice" {
        "steps go in strictly increasing order of days from the due date"
    } else {
        "days before the date go in strictly decreasing order (the first warning has the most days)"
    }
}

impl LadderError {
    /// Where in the settings' JSON the problem is, as a person editing them would point at
    /// it (`invoice[2].offset_days`, `date_rules[0].name`): the `field` of a 400.
    pub fn field(&self) -> String {
        match self {
            LadderError::NoInvoiceSteps => "invoice".into(),
            LadderError::Unordered { ladder, index } => unordered_field(ladder, *index),
            LadderError::EmptyWindow | LadderError::BadWindow(_) => "window".into(),
            LadderError::ReminderOutsideWindow(_) => "reminder_time".into(),
            LadderError::BadRuleName { index, .. } | LadderError::DuplicateRule { index, .. } => format!("date_rules[{index}].name"),
            LadderError::NotAnInvoiceMessage { index } => format!("invoice[{index}].kind"),
            LadderError::NegativeDaysBefore { ladder, index } => format!("{ladder}[{index}]"),
        }
    }
}

impl Default for Ladders {
    fn default() -> Self {
        let step = |offset_days, kind| Step { offset_days, kind };
        Ladders {
            invoice: vec![
                step(-3, NotificationKind::InvoiceDueSoon),
                step(1, NotificationKind::InvoiceOverdue),
                step(7, NotificationKind::InvoiceOverdue),
                step(15, NotificationKind::InvoiceOverdue),
                step(30, NotificationKind::InvoiceFinalNotice),
            ],
            card_days_before_expiry: vec![30, 7],
            renewal_days_before_end: vec![30, 15, 3],
            date_rules: Vec::new(),
            reminder_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            window: SendingWindow {
                opens: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
                closes: NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default(),
                days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat],
            },
        }
    }
}

impl DateRule {
    /// The rule's name in a notification's `rule`, which adds the day it fell on
    /// (`welcome-7-2026-12-02` → `welcome-7`).
    pub fn name_in(notification_rule: &str) -> Option<&str> {
        let cut = notification_rule.len().checked_sub(11)?;
        let (name, day) = (notification_rule.get(..cut)?, notification_rule.get(cut + 1..)?);
        (notification_rule.get(cut..cut + 1) == Some("-") && NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()).then_some(name)
    }
}

impl Ladders {
    /// The date rule a notification's `rule` names, if it is one of these.
    pub fn rule_of(&self, notification_rule: &str) -> Option<&DateRule> {
        let name = DateRule::name_in(notification_rule)?;
        self.date_rules.iter().find(|r| r.name == name)
    }

    /// The card is in its warning period on `today` (its first warning is due; with no
    /// warning before expiry, from its last valid day on): what the member is told about, on
    /// the pages as by the reminders.
    pub fn card_is_expiring(&self, expiry: CardExpiry, today: NaiveDate) -> bool {
        let earliest = self.card_days_before_expiry.iter().copied().max().unwrap_or(0).max(0);
        let from = expiry.last_valid_day().checked_sub_days(Days::new(earliest.unsigned_abs())).unwrap_or(NaiveDate::MIN);
        today >= from
    }

    /// A period ending at `period_end` is within the first renewal reminder's reach at `now`.
    pub fn renewal_is_near(&self, period_end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let earliest = self.renewal_days_before_end.iter().copied().max().unwrap_or(0).max(0);
        // A ladder reaching past the calendar's end reaches every renewal.
        chrono::Duration::try_days(earliest).and_then(|reach| now.checked_add_signed(reach)).is_none_or(|horizon| period_end <= horizon)
    }

    /// Checks the configuration; a deployment with a broken ladder must not start.
    pub fn validate(&self) -> Result<(), LadderError> {
        if self.invoice.is_empty() {
            return Err(LadderError::NoInvoiceSteps);
        }
        // The index of the first step that breaks the order, if one does.
        let first_out = |days: &[i64], ordered: fn(i64, i64) -> bool| days.windows(2).position(|w| !ordered(w[0], w[1])).map(|i| i + 1);
        let invoice_message = |k: NotificationKind| {
            matches!(k, NotificationKind::InvoiceDueSoon | NotificationKind::InvoiceOverdue | NotificationKind::InvoiceFinalNotice)
        };
        if let Some(index) = self.invoice.iter().position(|s| !invoice_message(s.kind)) {
            return Err(LadderError::NotAnInvoiceMessage { index });
        }
        for (ladder, days) in
            [("card_days_before_expiry", &self.card_days_before_expiry), ("renewal_days_before_end", &self.renewal_days_before_end)]
        {
            if let Some(index) = days.iter().position(|d| *d < 0) {
                return Err(LadderError::NegativeDaysBefore { ladder, index });
            }
        }
        let invoice_days: Vec<i64> = self.invoice.iter().map(|s| s.offset_days).collect();
        if let Some(index) = first_out(&invoice_days, |a, b| a < b) {
            return Err(LadderError::Unordered { ladder: "invoice", index });
        }
        // Days *before* a date: the first warning has the most days.
        if let Some(index) = first_out(&self.card_days_before_expiry, |a, b| a > b) {
            return Err(LadderError::Unordered { ladder: "card", index });
        }
        if let Some(index) = first_out(&self.renewal_days_before_end, |a, b| a > b) {
            return Err(LadderError::Unordered { ladder: "renewal", index });
        }
        if self.window.opens >= self.window.closes || self.window.days.is_empty() {
            return Err(LadderError::EmptyWindow);
        }
        if self.reminder_time < self.window.opens || self.reminder_time >= self.window.closes {
            return Err(LadderError::ReminderOutsideWindow(self.reminder_time));
        }
        let mut names = std::collections::BTreeSet::new();
        for (index, rule) in self.date_rules.iter().enumerate() {
            let ok = !rule.name.is_empty() && rule.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(LadderError::BadRuleName { index, name: rule.name.clone() });
            }
            if !names.insert(rule.name.clone()) {
                return Err(LadderError::DuplicateRule { index, name: rule.name.clone() });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_expiring_from_its_first_warning_on() {
        // Valid through 03/2027: last day 31 March; the default first warning is 30 days before.
        let ladders = Ladders::default();
        let expiry = CardExpiry::new(3, 2027).unwrap();
        let day = |m, d| NaiveDate::from_ymd_opt(2027, m, d).unwrap();
        assert!(!ladders.card_is_expiring(expiry, day(2, 28)));
        assert!(ladders.card_is_expiring(expiry, day(3, 1)));
        assert!(ladders.card_is_expiring(expiry, day(4, 2)), "expired is still to be replaced");
        let no_warnings = Ladders { card_days_before_expiry: vec![], ..Ladders::default() };
        assert!(!no_warnings.card_is_expiring(expiry, day(3, 30)));
        assert!(no_warnings.card_is_expiring(expiry, day(3, 31)));
    }

    #[test]
    fn a_renewal_is_near_within_the_first_reminders_reach() {
        let ladders = Ladders { renewal_days_before_end: vec![15, 3], ..Ladders::default() };
        let end = DateTime::parse_from_rfc3339("2027-01-31T00:00:00Z").unwrap().with_timezone(&Utc);
        assert!(!ladders.renewal_is_near(end, end - chrono::Duration::days(16)));
        assert!(ladders.renewal_is_near(end, end - chrono::Duration::days(15)));
    }

    #[test]
    fn quiet_hours_read_from_the_templates_parameters() {
        let mut window = Ladders::default().window;
        window.set_hours("09:30-18:00").unwrap();
        window.set_days("Mon,Tue,Wed,Thu,Fri").unwrap();
        assert_eq!((window.opens, window.closes), (NaiveTime::from_hms_opt(9, 30, 0).unwrap(), NaiveTime::from_hms_opt(18, 0, 0).unwrap()));
        assert_eq!(window.days.len(), 5);
        assert!(window.set_hours("9h-18h").is_err());
        assert!(window.set_days("Lundi").is_err());
    }

    #[test]
    fn the_defaults_are_valid_and_round_trip_as_json() {
        let ladders = Ladders::default();
        ladders.validate().unwrap();
        let json = serde_json::to_string(&ladders).unwrap();
        assert_eq!(serde_json::from_str::<Ladders>(&json).unwrap(), ladders);
    }

    #[test]
    fn the_readme_example_is_a_valid_configuration() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        let start = readme.find("{\"invoice\": [{\"offset_days\"").expect("the README shows a ladder configuration");
        let end = start + readme[start..].find("```").unwrap();
        let ladders: Ladders = serde_json::from_str(&readme[start..end]).unwrap();
        ladders.validate().unwrap();
        assert_eq!(ladders.invoice, Ladders::default().invoice);
        assert_eq!(ladders.window, Ladders::default().window);
        assert_eq!(ladders.date_rules[0].offset_days, 80);
    }

    #[test]
    fn broken_ladders_are_refused() {
        // Each refusal names the place in the JSON a person would fix.
        let field = |l: &Ladders| l.validate().map_err(|e| (e.field(), e.to_string())).unwrap_err();
        let mut l = Ladders::default();
        l.invoice[2].offset_days = 30; // -3, 1, 30, 15, 30
        assert_eq!(field(&l).0, "invoice[3].offset_days", "{}", field(&l).1);
        assert!(field(&l).1.starts_with("invoice[3].offset_days: steps go in strictly increasing order"), "{}", field(&l).1);
        let l = Ladders { card_days_before_expiry: vec![7, 30], ..Ladders::default() };
        assert_eq!(field(&l).0, "card_days_before_expiry[1]");
        let l = Ladders { renewal_days_before_end: vec![30, 15, 15], ..Ladders::default() };
        assert_eq!(field(&l).0, "renewal_days_before_end[2]");
        let mut l = Ladders::default();
        l.window.days.clear();
        assert_eq!(l.validate(), Err(LadderError::EmptyWindow));
        assert_eq!(field(&l).0, "window");
        let l = Ladders { reminder_time: NaiveTime::from_hms_opt(22, 0, 0).unwrap(), ..Ladders::default() };
        assert!(matches!(l.validate(), Err(LadderError::ReminderOutsideWindow(_))));
        assert_eq!(field(&l).0, "reminder_time");
        let mut l = Ladders::default();
        let rule = DateRule {
            name: "lease 80".into(),
            date_field: "lease_start".into(),
            offset_days: 80,
            audience_tag: None,
            audience_list: None,
            audience_role: None,
            notify_team: false,
            ..Default::default()
        };
        l.date_rules.push(rule);
        assert!(matches!(l.validate(), Err(LadderError::BadRuleName { index: 0, .. })));
        assert_eq!(field(&l).0, "date_rules[0].name");
        assert!(serde_json::from_str::<Ladders>(r#"{"invoice": []}"#).is_err());
    }
}
