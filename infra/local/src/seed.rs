//! Demo data: "Les Potagers de Belleville", an urban garden company with 100 members.
//!
//! Deterministic (the same members every run) and dated relative to `today`, so the demo
//! always has invoices about to fall due, overdue ones, cards about to expire and
//! renewals coming. Every invoice state appears, and some members have no email, no mobile,
//! or neither, so every channel decision can be seen.

// The demo's values are fixed patterns (see `crate::demo::parsed`); the seed test writes all
// of them, so a pattern that stopped parsing fails there.
#![allow(clippy::expect_used, reason = "fixed demo values, all written by the seed test")]

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use relance::domain::time::{add_days, local_date, local_to_utc};
use relance::domain::{
    Account, BillingInterval, CardExpiry, Channel, Currency, Customer, CustomerId, Email, FollowUp, Invoice, InvoiceNumber, InvoiceStatus,
    Last4, Locale, Money, Payment, PaymentMethod, PaymentMethodId, PaymentStatus, PhoneE164, Provider, ProviderRef, Role, Subscription,
    SubscriptionStatus,
};
use relance::schedule::{DateRule, Ladders, decide};
use relance::store::{BulkLoad, Key, Record, Store, StoreError};

use crate::demo::parsed;
pub use crate::demo::{MEMBERS, demo_customer_id};

const FIRST_NAMES: [&str; 20] = [
    "Camille", "Léa", "Hugo", "Manon", "Lucas", "Chloé", "Louis", "Inès", "Jules", "Sarah", "Arthur", "Emma", "Nathan", "Zoé", "Tom",
    "Alice", "Gabriel", "Jade", "Raphaël", "Lina",
];
const LAST_NAMES: [&str; 10] = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"];

/// What the seed wrote, for `make run` to print.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub customers: usize,
    pub subscriptions: usize,
    pub invoices: usize,
    pub payment_methods: usize,
    pub payments: usize,
    /// Records with a next action at or before `now`.
    pub due_now: usize,
    pub already_seeded: bool,
}

/// The demo business's ladders: the defaults, plus the welcome workshop its new members are
/// invited to two weeks after they get their plot (and the team told who is coming).
pub fn demo_ladders() -> Ladders {
    let mut ladders = Ladders::default();
    ladders.date_rules.push(DateRule {
        name: "atelier-bienvenue".into(),
        date_field: "plot_start".into(),
        offset_days: 14,
        audience_tag: Some("atelier-bienvenue".into()),
        audience_list: None,
        audience_role: None,
        notify_team: true,
        ..Default::default()
    });
    ladders
}

/// Everything one member has.
struct Member {
    customer: Customer,
    subscription: Subscription,
    invoices: Vec<Invoice>,
    card: PaymentMethod,
    payments: Vec<Payment>,
}

/// Saves `ladders` as the business's settings, unless settings were saved already: answers
/// whether it did.
pub async fn save_settings(store: &Store, ladders: &Ladders, now: DateTime<Utc>) -> Result<bool, StoreError> {
    if relance::settings::read(store).await?.is_some() {
        return Ok(false);
    }
    let settings = relance::settings::Settings::from_parts(ladders, &relance::notify::ChannelPolicy::default());
    let mut stored =
        relance::settings::StoredSettings { settings, version: 0, updated_at: Some(now), updated_by: Some("demo seed".into()) };
    match store.insert(&mut stored).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes the demo business, unless it is there already.
pub async fn seed(store: &Store, ladders: &Ladders, now: DateTime<Utc>) -> Result<SeedSummary, StoreError> {
    if store.get::<Customer>(&Key::customer(&demo_customer_id(0))).await?.is_some() {
        return Ok(SeedSummary { already_seeded: true, ..SeedSummary::default() });
    }
    let mut summary = SeedSummary::default();
    let mut load = BulkLoad::new();
    for index in 0..MEMBERS {
        let mut member = member(index, now);
        // Date rules (the welcome workshop) put the member in the due index when one applies.
        member.customer.follow_up.next_action_at = decide::next_date_rule(&member.customer, ladders, now);
        summary.customers += 1;
        summary.subscriptions += 1;
        summary.invoices += member.invoices.len();
        summary.payment_methods += 1;
        summary.payments += member.payments.len();
        let due = |f: &FollowUp| f.is_due(now);
        summary.due_now += member.invoices.iter().filter(|i| due(&i.follow_up)).count()
            + usize::from(due(&member.customer.follow_up))
            + usize::from(due(&member.subscription.follow_up))
            + usize::from(due(&member.card.follow_up));

        load.add(&mut member.customer)?;
        // Each member signs in as their customer id (`make token ROLE=member USER=demo-0002`).
        let mut account = Account::new(member.customer.id.to_string(), Some(member.customer.id.clone()));
        account.garden = Some(crate::demo_space::garden_of(index));
        load.add(&mut account)?;
        load.add_id("CustomerAccount", member.customer.id.as_str(), &account.key());
        for provider_ref in &member.customer.provider_refs {
            load.add_provider_ref("Customer", provider_ref, &Key::customer(&member.customer.id));
        }
        // The provider ids the demo records carry are linked, so that webhooks about them
        // (the README's curl examples) find them.
        member.subscription.note_lifecycle(now);
        load.add(&mut member.subscription)?;
        if let Some(reference) = &member.subscription.provider_ref {
            load.add_provider_ref("Subscription", reference, &member.subscription.key());
        }
        for invoice in &mut member.invoices {
            // Paid demo invoices were paid a week after they were issued.
            invoice.note_settlement(invoice.issued_at + chrono::Duration::days(7));
            load.add(invoice)?;
            if let Some(reference) = &invoice.provider_ref {
                load.add_provider_ref("Invoice", reference, &invoice.key());
            }
        }
        load.add(&mut member.card)?;
        if let Some(reference) = &member.card.provider_ref {
            load.add_provider_ref("PaymentMethod", reference, &member.card.key());
        }
        for payment in &mut member.payments {
            load.add(payment)?;
        }
    }
    crate::demo_space::add(&mut load, now)?;
    store.write_bulk(load).await?;
    Ok(summary)
}

fn member(index: usize, now: DateTime<Utc>) -> Member {
    let id = demo_customer_id(index);
    let english = index % 5 == 4;
    let time_zone: Tz = match index % 10 {
        4 => chrono_tz::Europe::London,
        9 => chrono_tz::Europe::Brussels,
        _ => chrono_tz::Europe::Paris,
    };
    let today = local_date(now, time_zone);
    let name = format!("{} {}", FIRST_NAMES[index % FIRST_NAMES.len()], LAST_NAMES[(index / 2) % LAST_NAMES.len()]);
    let locale = if english { Locale::english() } else { Locale::french() };
    let mut customer = Customer::new(id.clone(), name.clone(), locale, time_zone, now);
    let b2b = index.is_multiple_of(12);

    let email_local = name.to_lowercase().replace(' ', ".").replace(['é', 'ë'], "e").replace('ï', "i");
    let no_email = index % 10 == 3 || index.is_multiple_of(25);
    let no_phone = index % 10 == 7 || index.is_multiple_of(25);
    if !no_email {
        customer.email = Email::parse(&format!("{email_local}.{}@example.org", index + 1)).ok();
    }
    if !no_phone {
        // 06 10 00 00 01 … : valid French mobile numbers.
        customer.phone =
            PhoneE164::parse(&format!("06 10 {:02} {:02} {:02}", index / 100, (index / 10) % 10, index % 100), Some("FR")).ok();
    }
    customer.tags.insert(if b2b { "member_b2b" } else { "member" }.to_string());
    customer.roles.insert(if b2b { Role::MemberB2b } else { Role::Member });
    if index.is_multiple_of(3) {
        customer.lists.insert("newsletter".into());
    }
    if index.is_multiple_of(8) {
        customer.tags.insert("atelier-bienvenue".into());
    }
    // Plots handed over in the last three weeks: some members' welcome workshop is this week.
    if let Some(start) = add_days(today, -(i64::try_from(index % 20).unwrap_or(0))) {
        customer.custom_dates.insert("plot_start".into(), start);
    }
    customer.opt_outs.sms = index.is_multiple_of(17);
    customer.preferred_channel = if index % 6 == 1 { Some(Channel::Sms) } else { None };
    customer.reminders_paused = index == 42;
    if let Ok(stripe) = ProviderRef::new(Provider::Stripe, format!("cus_demo{:04}", index + 1)) {
        customer.provider_refs.insert(stripe);
    }

    let eur = |minor: i64| Money::from_minor(minor, Currency::EUR);
    let (plan, price, interval) = if b2b {
        ("Jardin d'entreprise", eur(120_000), BillingInterval::Year)
    } else if index % 4 == 1 {
        ("Potager duo", eur(4_500), BillingInterval::Month)
    } else {
        ("Potager solo", eur(2_900), BillingInterval::Month)
    };
    let at_nine = |date: NaiveDate| local_to_utc(date, NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(), time_zone);
    let period_start_date = add_days(today, -(i64::try_from(index % 28).unwrap_or(0))).unwrap_or(today);
    let months = if interval == BillingInterval::Year { 12 } else { 1 };
    let period_end_date = period_start_date.checked_add_months(Months::new(months)).unwrap_or(period_start_date);
    let mut subscription = Subscription {
        id: parsed(format!("demo-sub-{:04}", index + 1)),
        customer_id: id.clone(),
        version: 0,
        plan: plan.into(),
        price,
        interval,
        status: match index % 20 {
            5 => SubscriptionStatus::PastDue,
            _ if index % 33 == 2 => SubscriptionStatus::Canceled,
            _ => SubscriptionStatus::Active,
        },
        current_period_start: at_nine(period_start_date),
        current_period_end: at_nine(period_end_date),
        cancel_at_period_end: index % 30 == 9,
        // Businesses and a third of the members renew by paying an invoice themselves.
        manual_renewal: b2b || index.is_multiple_of(3),
        payment_method_id: None,
        provider_ref: ProviderRef::new(Provider::Stripe, format!("sub_demo{:04}", index + 1)).ok(),
        follow_up: FollowUp::default(),
        provider_updated_at: None,
        started_at: None,
        ended_at: None,
        failure_count: None,
        days_past_due: None,
    };
    if subscription.needs_renewal_reminders() {
        // As the webhook does: the renewal ladder is looked at from 30 days before the end of
        // the period (or its start, for monthly plans); the scan picks the step.
        let first_look = at_nine(add_days(period_end_date, -30).unwrap_or(period_start_date)).max(at_nine(period_start_date));
        subscription.follow_up.schedule(first_look);
    }

    let card_id: PaymentMethodId = parsed(format!("demo-card-{:04}", index + 1));
    let (expiry_month, expiry_year) = match index % 9 {
        0 => (today.month(), today.year()),               // expires this month
        1 => next_month(today.month(), today.year()),     // expires next month
        2 => previous_month(today.month(), today.year()), // already expired
        n => (1 + (index as u32 % 12), today.year() + 1 + (n as i32 % 4)),
    };
    let expiry = CardExpiry::new(expiry_month, expiry_year).expect("month and year come from a real date"); // ok: see parsed()
    let mut card = PaymentMethod {
        id: card_id.clone(),
        customer_id: id.clone(),
        version: 0,
        brand: if index.is_multiple_of(2) { "visa" } else { "mastercard" }.into(),
        last4: Last4::parse(&format!("{:04}", 4242 + index)).expect("four digits"), // ok: 4242..4341
        expiry,
        is_default: true,
        provider_ref: ProviderRef::new(Provider::Stripe, format!("pm_demo{:04}", index + 1)).ok(),
        added_at: now,
        removed: false,
        follow_up: FollowUp::default(),
        provider_updated_at: None,
    };
    // Warn 30 days before the card's last valid day (at once if that is already past).
    let warn_on = add_days(expiry.last_valid_day(), -30).unwrap_or(today);
    card.follow_up.schedule(at_nine(warn_on));
    subscription.payment_method_id = Some(card_id);

    let mut invoices = Vec::new();
    let mut payments = Vec::new();
    let number = |n: usize| -> InvoiceNumber { parsed(format!("PB-{}-{:04}", today.year(), n)) };
    for (age, months_ago) in [(1, 2), (2, 1)] {
        // Two past invoices, paid on time.
        let issued = today.checked_sub_months(Months::new(months_ago)).unwrap_or(today);
        let mut invoice = Invoice::open(
            parsed(format!("demo-inv-{:04}-{age}", index + 1)),
            id.clone(),
            number(index * 3 + age),
            price,
            at_nine(issued),
            add_days(issued, 14).unwrap_or(issued),
        );
        invoice.subscription_id = Some(subscription.id.clone());
        let _ = invoice.record_payment(price);
        payments.push(payment(&id, &invoice, price, PaymentStatus::Succeeded, at_nine(issued), None));
        invoices.push(invoice);
    }

    // The current invoice, in a state that depends on the member.
    let (issued_days_ago, due_in_days): (i64, i64) = match index % 7 {
        0 => (4, 10),  // open, due in 10 days
        1 => (19, -5), // overdue by 5 days
        2 => (34, -20),
        3 => (10, 4),
        4 => (12, 2),
        5 => (74, -60),
        _ => (16, -2),
    };
    let issued = add_days(today, -issued_days_ago).unwrap_or(today);
    let due_date = add_days(today, due_in_days).unwrap_or(today);
    let mut current =
        Invoice::open(parsed(format!("demo-inv-{:04}-3", index + 1)), id.clone(), number(index * 3 + 3), price, at_nine(issued), due_date);
    current.subscription_id = Some(subscription.id.clone());
    current.provider_ref = ProviderRef::new(Provider::Stripe, format!("in_demo{:04}", index + 1)).ok();
    match index % 7 {
        2 => {
            let part = Money::from_minor(price.minor_units() / 2, Currency::EUR);
            let _ = current.record_payment(part);
            payments.push(payment(&id, &current, part, PaymentStatus::Succeeded, at_nine(issued), None));
        }
        3 => {
            let _ = current.record_payment(price);
            payments.push(payment(&id, &current, price, PaymentStatus::Succeeded, at_nine(issued), None));
        }
        4 => {
            let _ = current.void();
        }
        5 => {
            let _ = current.mark_uncollectible();
        }
        6 => {
            payments.push(payment(&id, &current, price, PaymentStatus::Failed, at_nine(issued), Some("card_declined")));
            current.disputed = index == 13;
            // The card was declined and the provider gave up retrying: the failure notice is owed.
            current.follow_up.failure_pending = true;
        }
        _ => {}
    }
    current.reminders_paused = index == 20;
    if matches!(current.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid) {
        // Courtesy notice three days before the due date; overdue invoices are due at once.
        let courtesy = at_nine(add_days(due_date, -3).unwrap_or(due_date));
        current.follow_up.schedule(courtesy);
    }
    invoices.push(current);

    Member { customer, subscription, invoices, card, payments }
}

fn payment(
    customer: &CustomerId,
    invoice: &Invoice,
    amount: Money,
    status: PaymentStatus,
    at: DateTime<Utc>,
    failure: Option<&str>,
) -> Payment {
    Payment {
        id: parsed(format!("pay-{}-{}", invoice.id, at.timestamp())),
        customer_id: customer.clone(),
        version: 0,
        invoice_id: Some(invoice.id.clone()),
        amount,
        status,
        provider: Provider::Stripe,
        provider_ref: None,
        failure_reason: failure.map(str::to_string),
        refunds: Vec::new(),
        occurred_at: at,
        provider_updated_at: None,
    }
}

fn next_month(month: u32, year: i32) -> (u32, i32) {
    if month == 12 { (1, year + 1) } else { (month + 1, year) }
}

fn previous_month(month: u32, year: i32) -> (u32, i32) {
    if month == 1 { (12, year - 1) } else { (month - 1, year) }
}
