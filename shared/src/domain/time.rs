//! Time. Everything is stored as a UTC instant; a customer's IANA time zone decides what
//! "the 3rd at 9 o'clock" means for them, including on the two nights a year when clocks jump.
//!
//! The two awkward cases are decided here, once:
//! - a local time that does not exist (the spring gap, 02:30 in Paris on the last Sunday of
//!   March) is moved forward by the length of the gap (03:30), as a wall clock would show it;
//! - a local time that happens twice (the autumn fold) means the first occurrence, so a
//!   reminder is never later than the customer expects.

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IANA time zone such as Europe/Paris")]
pub struct UnknownTimeZone(pub String);

/// Parses an IANA time zone name (`Europe/Paris`).
pub fn parse_time_zone(name: &str) -> Result<Tz, UnknownTimeZone> {
    name.trim().parse::<Tz>().map_err(|_| UnknownTimeZone(name.to_string()))
}

/// The UTC instant at which clocks in `tz` show `date` at `time`.
pub fn local_to_utc(date: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => shift_out_of_gap(local, tz),
    }
}

/// In a gap, read the wall-clock time with the offset in force just before the jump: the
/// result lands after the gap by exactly as much as `local` was into it.
fn shift_out_of_gap(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    // Gaps are at most a few hours; the offset three hours earlier is the one before the jump.
    let before = local - chrono::Duration::hours(3);
    let offset_before = match tz.from_local_datetime(&before) {
        LocalResult::Single(at) | LocalResult::Ambiguous(_, at) => *at.offset(),
        // Two gaps within three hours do not occur in the tz database.
        LocalResult::None => return Utc.from_utc_datetime(&local),
    };
    let utc_naive = local - chrono::Duration::seconds(i64::from(chrono::Offset::fix(&offset_before).local_minus_utc()));
    Utc.from_utc_datetime(&utc_naive)
}

/// The calendar date in `tz` at `instant`.
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// `days` calendar days after (or before, if negative) `date`, or `None` past the calendar's end.
pub fn add_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    let magnitude = Days::new(days.unsigned_abs());
    if days >= 0 { date.checked_add_days(magnitude) } else { date.checked_sub_days(magnitude) }
}

/// The last day of a month, for card expiry ("valid through 02/28" ends on the 28th or 29th).
pub fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn nine_in_paris_is_eight_utc_in_winter_and_seven_in_summer() {
        let paris = parse_time_zone("Europe/Paris").unwrap();
        assert_eq!(local_to_utc(date(2026, 1, 15), time(9, 0), paris), utc("2026-01-15T08:00:00Z"));
        assert_eq!(local_to_utc(date(2026, 7, 15), time(9, 0), paris), utc("2026-07-15T07:00:00Z"));
    }

    #[test]
    fn the_same_wall_time_either_side_of_the_spring_change() {
        // Clocks in Paris go from 02:00 to 03:00 on Sunday 29 March 2026.
        let paris = parse_time_zone("Europe/Paris").unwrap();
        let saturday = local_to_utc(date(2026, 3, 28), time(9, 0), paris);
        let sunday = local_to_utc(date(2026, 3, 29), time(9, 0), paris);
        assert_eq!(saturday, utc("2026-03-28T08:00:00Z"));
        assert_eq!(sunday, utc("2026-03-29T07:00:00Z"));
        // 24 wall-clock hours apart, 23 real ones.
        assert_eq!((sunday - saturday).num_hours(), 23);
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward_by_the_gap() {
        let paris = parse_time_zone("Europe/Paris").unwrap();
        // 02:30 does not exist; it is read as 03:30 CEST = 01:30 UTC.
        assert_eq!(local_to_utc(date(2026, 3, 29), time(2, 30), paris), utc("2026-03-29T01:30:00Z"));
        assert_eq!(local_to_utc(date(2026, 3, 29), time(2, 0), paris), utc("2026-03-29T01:00:00Z"));
        assert_eq!(local_to_utc(date(2026, 3, 29), time(3, 0), paris), utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn a_time_in_the_autumn_fold_means_its_first_occurrence() {
        // Clocks go from 03:00 back to 02:00 on Sunday 25 October 2026; 02:30 happens twice.
        let paris = parse_time_zone("Europe/Paris").unwrap();
        assert_eq!(local_to_utc(date(2026, 10, 25), time(2, 30), paris), utc("2026-10-25T00:30:00Z"));
        assert_eq!(local_to_utc(date(2026, 10, 25), time(9, 0), paris), utc("2026-10-25T08:00:00Z"));
    }

    #[test]
    fn local_date_depends_on_the_zone() {
        let instant = utc("2026-12-31T23:30:00Z");
        assert_eq!(local_date(instant, parse_time_zone("Europe/Paris").unwrap()), date(2027, 1, 1));
        assert_eq!(local_date(instant, parse_time_zone("America/New_York").unwrap()), date(2026, 12, 31));
        assert_eq!(local_date(instant, parse_time_zone("UTC").unwrap()), date(2026, 12, 31));
    }

    #[test]
    fn day_arithmetic_and_month_ends() {
        assert_eq!(add_days(date(2026, 1, 31), 30), Some(date(2026, 3, 2)));
        assert_eq!(add_days(date(2028, 3, 1), -1), Some(date(2028, 2, 29)));
        assert_eq!(add_days(date(2026, 3, 1), -1), Some(date(2026, 2, 28)));
        assert_eq!(last_day_of_month(2028, 2), Some(date(2028, 2, 29)));
        assert_eq!(last_day_of_month(2026, 2), Some(date(2026, 2, 28)));
        assert_eq!(last_day_of_month(2026, 12), Some(date(2026, 12, 31)));
        assert_eq!(last_day_of_month(2026, 13), None);
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(parse_time_zone("Europe/Pariss").is_err());
        assert!(parse_time_zone("").is_err());
        assert!(parse_time_zone("CET").is_ok());
    }
}
