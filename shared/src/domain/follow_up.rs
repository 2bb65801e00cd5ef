//! The follow-up state a record carries: which reminder step it has reached and when it next
//! needs attention.
//!
//! `next_action_at` is what puts a record in the store's sparse due index: a record with
//! `Some(instant)` is found by the scan once `instant` has passed, a record with `None` is
//! absent from the index and costs the scan nothing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Reminder steps already decided (0: none yet).
    pub step: u32,
    /// When the scan should next look at this record; `None` when nothing is pending.
    pub next_action_at: Option<DateTime<Utc>>,
    /// Set when the ladder ran out and a person must take over (the final notice).
    #[serde(default)]
    pub needs_manual_action: bool,
    /// A payment failed and the customer has not been told yet: the scan's next pass sends
    /// the failure notice before any ladder step.
    #[serde(default)]
    pub failure_pending: bool,
    /// Date rules already applied, as `rule@date` (a customer's follow-up only).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub rules_done: std::collections::BTreeSet<String>,
    /// The day (in the customer's zone) of the last ladder step decided. The ladder is the
    /// owner's to change: after a change, the steps on or before this day count as done, so
    /// none is sent twice, and `step` (the count of steps decided) keeps numbering the next
    /// ones, so no notification id is used twice either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step_day: Option<NaiveDate>,
}

impl FollowUp {
    /// Asks the scan to look at this record at `at`.
    pub fn schedule(&mut self, at: DateTime<Utc>) {
        self.next_action_at = Some(at);
    }

    /// Asks the scan to look at this record by `at`: a look already planned earlier stays, a
    /// later one (or none) moves to `at`. A failure known now is due now, whatever the ladder
    /// had planned.
    pub fn due_by(&mut self, at: DateTime<Utc>) {
        if self.next_action_at.is_none_or(|current| at < current) {
            self.schedule(at);
        }
    }

    /// Nothing is pending any more (paid, voided, cancelled): leaves the due index.
    pub fn clear(&mut self) {
        self.next_action_at = None;
    }

    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.next_action_at.is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_by_moves_a_look_earlier_never_later() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let mut follow_up = FollowUp::default();
        follow_up.due_by(t("2026-11-25T10:00:00Z"));
        assert_eq!(follow_up.next_action_at, Some(t("2026-11-25T10:00:00Z")), "nothing planned: due at the time given");
        follow_up.due_by(t("2026-11-26T10:00:00Z"));
        assert_eq!(follow_up.next_action_at, Some(t("2026-11-25T10:00:00Z")), "an earlier look stays");
        follow_up.due_by(t("2026-11-24T10:00:00Z"));
        assert_eq!(follow_up.next_action_at, Some(t("2026-11-24T10:00:00Z")));
    }
}
