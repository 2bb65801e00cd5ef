//! Calendar months and the (period, value) series charts are drawn from.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Currency, Money};

/// A calendar month, written `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

impl utoipa::PartialSchema for Month {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::domain::string_schema("A calendar month.", "^[0-9]{4}-(0[1-9]|1[0-2])$", "2026-11")
    }
}
impl utoipa::ToSchema for Month {}

impl Month {
    pub fn of(day: NaiveDate) -> Month {
        Month { first: day.with_day(1).unwrap_or(day) }
    }

    pub fn of_instant(at: DateTime<Utc>) -> Month {
        Month::of(at.date_naive())
    }

    /// Reads `2026-11`.
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1).map(Month::of)
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first.pred_opt().unwrap_or(self.first)
    }

    pub fn next(self) -> Month {
        Month { first: self.first.checked_add_months(Months::new(1)).unwrap_or(self.first) }
    }

    /// `from` to `to`, both included; empty when `to` is before `from`.
    pub fn range(from: Month, to: Month) -> Vec<Month> {
        let mut months = Vec::new();
        let mut month = from;
        while month <= to && months.len() < 1200 {
            months.push(month);
            month = month.next();
        }
        months
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let text = String::deserialize(deserializer)?;
        Month::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a month (YYYY-MM)")))
    }
}

/// One point of a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Point {
    pub period: Month,
    /// Minor units of the series' currency, or a count.
    pub value: i64,
}

/// A monthly money series in one currency, every month of the range present (zeros included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub currency: Currency,
    pub points: Vec<Point>,
}

impl Series {
    /// Adds up `amounts` by month over `months`; amounts in another currency are left out
    /// (the caller makes one series per currency).
    pub fn monthly(currency: Currency, months: &[Month], amounts: impl IntoIterator<Item = (Month, Money)>) -> Series {
        let mut totals: BTreeMap<Month, i64> = months.iter().map(|m| (*m, 0)).collect();
        for (month, amount) in amounts {
            if amount.currency() != currency {
                continue;
            }
            if let Some(total) = totals.get_mut(&month) {
                *total = total.saturating_add(amount.minor_units());
            }
        }
        Series { currency, points: totals.into_iter().map(|(period, value)| Point { period, value }).collect() }
    }

    pub fn total(&self) -> i64 {
        self.points.iter().map(|p| p.value).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_print_and_run_over_year_ends() {
        let nov = Month::parse("2026-11").unwrap();
        assert_eq!(nov.to_string(), "2026-11");
        assert_eq!(
            Month::range(nov, Month::parse("2027-02").unwrap()).iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            ["2026-11", "2026-12", "2027-01", "2027-02"]
        );
        assert_eq!(Month::parse("2028-02").unwrap().last_day(), NaiveDate::from_ymd_opt(2028, 2, 29).unwrap());
        for bad in ["2026-13", "2026-1", "26-11", "november", "2026-11-01"] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }
}
