//! The records the tests build, with the values most of them want: a French-speaking customer
//! in Paris, an open invoice in euros, a monthly subscription, a card, an overdue reminder. A
//! test that needs something else changes the field, or says only what differs with struct
//! update syntax: `Subscription { plan: "Potager solo".into(), ..subscription("s1", &id) }`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use relance::domain::*;

/// The tests' clock: Wednesday 25 November 2026, 10:00 UTC (11:00 in Paris: a weekday,
/// inside the sending window). Handlers that take a clock are given this one, so that no test
/// depends on when (or across which midnight) it runs.
pub fn now() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

pub fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// A French-speaking customer in Paris, created at [`now`], with `email` if given.
pub fn customer(id: &str, name: impl Into<String>, email: Option<&str>) -> Customer {
    let mut customer = Customer::new(CustomerId::parse(id).unwrap(), name, Locale::french(), chrono_tz::Europe::Paris, now());
    customer.email = email.map(|e| Email::parse(e).unwrap());
    customer
}

/// An open invoice of `customer` for `minor` cents of euro, issued 20 days before [`now`] and
/// due on 20 November 2026.
pub fn invoice(customer: &CustomerId, id: &str, number: &str, minor: i64) -> Invoice {
    Invoice::open(
        InvoiceId::parse(id).unwrap(),
        customer.clone(),
        InvoiceNumber::parse(number).unwrap(),
        eur(minor),
        now() - Duration::days(20),
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
    )
}

/// An active subscription of `customer` to the "Parcelle" plan at 29 € a month, ten days into
/// its period.
pub fn subscription(id: &str, customer: &CustomerId) -> Subscription {
    Subscription {
        id: SubscriptionId::parse(id).unwrap(),
        customer_id: customer.clone(),
        version: 0,
        plan: "Parcelle".into(),
        price: eur(2900),
        interval: BillingInterval::Month,
        status: SubscriptionStatus::Active,
        current_period_start: now() - Duration::days(10),
        current_period_end: now() + Duration::days(20),
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

/// The default card of `customer`: a Visa ending in 4242 that expires in December 2027,
/// added at [`now`].
pub fn card(id: &str, customer: &CustomerId) -> PaymentMethod {
    PaymentMethod {
        id: PaymentMethodId::parse(id).unwrap(),
        customer_id: customer.clone(),
        version: 0,
        brand: "visa".into(),
        last4: Last4::parse("4242").unwrap(),
        expiry: CardExpiry::new(12, 2027).unwrap(),
        is_default: true,
        provider_ref: None,
        added_at: now(),
        removed: false,
        follow_up: FollowUp::default(),
        provider_updated_at: None,
    }
}

/// A customer's partition of a realistic size, added to `load`: `invoices` invoices (ids and
/// numbers `prefix-00`…, 10.00 € and up), each with the reminders of steps 1 to 4.
pub fn invoices_with_reminders(load: &mut relance::store::BulkLoad, customer: &CustomerId, prefix: &str, invoices: i64) {
    for i in 0..invoices {
        let mut invoice = crate::invoice(customer, &format!("{prefix}-{i:02}"), &format!("{}-{i:02}", prefix.to_uppercase()), 1_000 + i);
        for step in 1..=4 {
            load.add(&mut overdue_notice(&invoice, step)).unwrap();
        }
        load.add(&mut invoice).unwrap();
    }
}

/// The reminder the scan writes at step `step` of an overdue `invoice`: pending, for its
/// balance, created (and so sendable) now, by the wall clock, as dispatch will see it.
pub fn overdue_notice(invoice: &Invoice, step: u32) -> Notification {
    let target = Target { kind: TargetKind::Invoice, id: invoice.id.to_string() };
    Notification::pending(
        invoice.customer_id.clone(),
        target,
        NotificationKind::InvoiceOverdue,
        None,
        step,
        Some(invoice.balance()),
        Utc::now(),
    )
    .unwrap()
}

/// A lowercase ULID, for names no other test and no earlier run uses: every table, address
/// and number the tests send to is named after one, since moto keeps every message sent since
/// it started, for the whole run.
pub fn unique() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

/// A French mobile number (06 12 …, a range the numbering plan assigns to mobiles: not every
/// 06 range is) that no other test of this process sends to: one counter for the whole test
/// binary, started from the clock so that a later run against the same moto starts elsewhere.
pub fn unique_mobile() -> PhoneE164 {
    static START: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64);
    let n = (start + NEXT.fetch_add(1, Ordering::SeqCst)) % 1_000_000;
    PhoneE164::parse(&format!("0612{n:06}"), Some("FR")).unwrap()
}
