//! Quiet hours: a message may go out only inside the sending window, in the customer's own
//! time zone (default 08:00–20:00, not on Sunday). A step that falls due outside it waits for
//! the window's next opening, computed on the local calendar so that DST changes move it
//! with the clocks.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::ladder::SendingWindow;
use crate::domain::time::{add_days, local_to_utc};

impl SendingWindow {
    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        let time = local.time();
        self.days.contains(&local.weekday()) && time >= self.opens && time < self.closes
    }

    /// `at` itself when the window is open, else the next instant it opens.
    pub fn next_open(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.is_open(at, tz) {
            return at;
        }
        let today = at.with_timezone(&tz).date_naive();
        for days_ahead in 0..=7 {
            let Some(date) = add_days(today, days_ahead) else { break };
            if !self.days.contains(&date.weekday()) {
                continue;
            }
            let opens = local_to_utc(date, self.opens, tz);
            if opens > at {
                return opens;
            }
        }
        at // unreachable with at least one day in the window (validated at start-up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Ladders;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn night_and_sunday_wait_for_the_next_opening() {
        let window = Ladders::default().window;
        let paris = chrono_tz::Europe::Paris;
        // Wednesday 25 Nov 2026, 22:30 in Paris (21:30 UTC): Thursday 08:00 Paris.
        assert_eq!(window.next_open(utc("2026-11-25T21:30:00Z"), paris), utc("2026-11-26T07:00:00Z"));
        // Wednesday 10:00 Paris: open now.
        assert_eq!(window.next_open(utc("2026-11-25T09:00:00Z"), paris), utc("2026-11-25T09:00:00Z"));
        // Saturday 28 Nov, 21:00 Paris: not Sunday, Monday 08:00.
        assert_eq!(window.next_open(utc("2026-11-28T20:00:00Z"), paris), utc("2026-11-30T07:00:00Z"));
        // 07:59 on a weekday: 08:00 the same day.
        assert_eq!(window.next_open(utc("2026-11-25T06:59:00Z"), paris), utc("2026-11-25T07:00:00Z"));
    }

    #[test]
    fn the_window_follows_the_clocks_across_dst() {
        let window = Ladders::default().window;
        let paris = chrono_tz::Europe::Paris;
        // Saturday 28 March 2026 at 23:00 Paris; clocks go forward on Sunday 29; window reopens
        // Monday 30 March 08:00 CEST = 06:00 UTC.
        assert_eq!(window.next_open(utc("2026-03-28T22:00:00Z"), paris), utc("2026-03-30T06:00:00Z"));
        // Saturday 24 October 2026 at 21:00 CEST; clocks go back on Sunday 25; Monday 08:00 CET = 07:00 UTC.
        assert_eq!(window.next_open(utc("2026-10-24T19:00:00Z"), paris), utc("2026-10-26T07:00:00Z"));
        // The same instant is night in Paris and evening in New York.
        let at = utc("2026-11-25T23:00:00Z");
        assert!(!window.is_open(at, paris));
        assert!(window.is_open(at, chrono_tz::America::New_York));
    }
}
