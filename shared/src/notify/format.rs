//! Amounts and dates as a customer reads them: `1 234,56 €` in French, `€1,234.56` in
//! English, dates in the customer's time zone.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::domain::Money;

/// Groups of three digits joined by `separator`.
fn group(digits: &str, separator: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(c);
    }
    out
}

/// `amount` for a reader of `language` (`fr`, `en`; anything else reads as English).
/// `sms_safe` uses a plain space where French typography wants a no-break space, which
/// GSM-7 text messages cannot carry.
pub fn money(amount: Money, language: &str, sms_safe: bool) -> String {
    let text = amount.to_decimal_string();
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = unsigned.split_once('.').map_or((unsigned, None), |(w, f)| (w, Some(f)));
    let symbol = amount.currency().symbol();
    match language {
        "fr" => {
            let space = if sms_safe { " " } else { "\u{202f}" };
            let mut out = format!("{sign}{}", group(whole, space));
            if let Some(f) = fraction {
                out.push(',');
                out.push_str(f);
            }
            format!("{out} {symbol}")
        }
        _ => {
            let mut out = format!("{sign}{symbol}{}", group(whole, ","));
            if let Some(f) = fraction {
                out.push('.');
                out.push_str(f);
            }
            out
        }
    }
}

/// A yearly rate given in hundredths of a percent: `14,15 %` in French, `14.15%` in English.
pub fn percent(basis_points: u32, language: &str) -> String {
    let (whole, hundredths) = (basis_points / 100, basis_points % 100);
    match language {
        "fr" => format!("{whole},{hundredths:02}\u{a0}%"),
        _ => format!("{whole}.{hundredths:02}%"),
    }
}

/// A date as written in letters: `2 décembre 2026`, `2 December 2026`.
pub fn date(day: NaiveDate, language: &str) -> String {
    const FR: [&str; 12] =
        ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];
    const EN: [&str; 12] =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let month = (day.month0() as usize).min(11);
    match language {
        "fr" => format!("{} {} {}", day.day(), FR[month], day.year()),
        _ => format!("{} {} {}", day.day(), EN[month], day.year()),
    }
}

/// A moment in the customer's zone, in words: `5 décembre 2026 à 10:00`, `5 December 2026 at 10:00`.
pub fn when(at: DateTime<Utc>, tz: Tz, language: &str) -> String {
    let local = at.with_timezone(&tz);
    let joiner = if language == "fr" { "à" } else { "at" };
    format!("{} {joiner} {}", date(local.date_naive(), language), local.format("%H:%M"))
}

/// The customer's calendar date at `at`.
pub fn local_day(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn moments_are_written_in_the_customers_zone() {
        let at: DateTime<Utc> = "2026-12-05T09:00:00Z".parse().unwrap();
        assert_eq!(when(at, chrono_tz::Europe::Paris, "fr"), "5 décembre 2026 à 10:00");
        assert_eq!(when(at, chrono_tz::America::New_York, "en"), "5 December 2026 at 04:00");
    }

    #[test]
    fn rates_read_as_each_language_writes_them() {
        assert_eq!(percent(1415, "fr"), "14,15\u{a0}%");
        assert_eq!(percent(1005, "en"), "10.05%");
        assert_eq!(percent(7, "en"), "0.07%");
    }

    #[test]
    fn amounts_read_as_each_language_writes_them() {
        let m = Money::from_minor(123456, Currency::EUR);
        assert_eq!(money(m, "fr", true), "1 234,56 €");
        assert_eq!(money(m, "fr", false), "1\u{202f}234,56 €");
        assert_eq!(money(m, "en", true), "€1,234.56");
        assert_eq!(money(Money::from_minor(4500, Currency::EUR), "fr", true), "45,00 €");
        assert_eq!(money(Money::from_minor(1234567, Currency::JPY), "en", true), "¥1,234,567");
        assert_eq!(money(Money::from_minor(-5, Currency::EUR), "en", true), "-€0.05");
        assert_eq!(money(Money::from_minor(100_000_000, Currency::EUR), "fr", true), "1 000 000,00 €");
    }

    #[test]
    fn dates_in_letters_and_in_the_customers_zone() {
        assert_eq!(date(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), "fr"), "2 décembre 2026");
        assert_eq!(date(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), "en"), "2 December 2026");
        let late = "2026-12-31T23:30:00Z".parse().unwrap();
        assert_eq!(local_day(late, chrono_tz::Europe::Paris), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
    }
}
