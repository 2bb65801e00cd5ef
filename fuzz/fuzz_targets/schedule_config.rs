//! Ladder and channel-policy configuration, as an operator writes it (`RELANCE_LADDERS` JSON,
//! `RELANCE_SENDING_HOURS`, `RELANCE_SENDING_DAYS`, `RELANCE_EMAIL_THRESHOLDS`): refused with a
//! reason or accepted; and an accepted configuration then decides for an invoice and a
//! customer's date rules at instants spread over a year without a panic (offsets of any size
//! must not overflow the calendar).
#![no_main]
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use relance::domain::*;
use relance::schedule::{Ladders, decide};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.splitn(4, '\n');
    let (hours, days, thresholds, ladders_json) = (lines.next(), lines.next(), lines.next(), lines.next());
    if let Some(thresholds) = thresholds {
        let _ = relance::notify::policy::ChannelPolicy::parse_thresholds(thresholds);
    }
    let mut ladders = match ladders_json.map(serde_json::from_str::<Ladders>) {
        Some(Ok(ladders)) => ladders,
        Some(Err(_)) => return,
        None => Ladders::default(),
    };
    if let Some(hours) = hours
        && ladders.window.set_hours(hours).is_err()
    {
        return;
    }
    if let Some(days) = days
        && ladders.window.set_days(days).is_err()
    {
        return;
    }
    if ladders.validate().is_err() {
        return;
    }
    let tz = chrono_tz::Pacific::Chatham;
    // ok (the unwraps below): fixed, valid records the fuzzed configuration decides for.
    let mut customer = Customer::new(CustomerId::parse("c-fuzz").unwrap(), "Fuzz", Locale::french(), tz, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    customer.email = Some(Email::parse("fuzz@example.org").unwrap());
    customer.custom_dates.insert("lease_start".into(), NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
    let invoice = Invoice::open(
        InvoiceId::parse("inv-fuzz").unwrap(),
        customer.id.clone(),
        InvoiceNumber::parse("F-1").unwrap(),
        Money::from_minor(12_345, Currency::EUR),
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
    );
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    for day in (0..400).step_by(7) {
        let now = start + Duration::days(day) + Duration::hours(day % 24);
        let _ = decide::invoice(&invoice, &customer, &ladders, now);
        let _ = decide::date_rules(&customer, &ladders, now);
        let _ = decide::next_date_rule(&customer, &ladders, now);
        let next = ladders.window.next_open(now, tz);
        assert!(next >= now, "the window opens at or after now");
    }
});
