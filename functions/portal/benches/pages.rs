//! Server time of the busiest pages beyond their DynamoDB calls (issue 20: under 1 ms of
//! CPU): from the items a Query answered (encoded as the store writes them) to the HTML, for
//! a member with 50 invoices and 200 reminders and the admin's page of the same customer.
//! `make bench` runs these and writes the medians, with the target, into docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up, like a test's")]

use std::collections::BTreeSet;
use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use portal::api::customers::CustomerFile;
use portal::api::me::MemberFile;
use portal::auth::{Caller, Role};
use portal::web::{Note, html};
use relance::domain::*;
use relance::store::{BulkLoad, Partition};
use serde_json::json;

fn now() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

/// A member's partition: the customer, 50 invoices with four reminders each, a card and a
/// subscription, as the store's items.
fn partition() -> (Customer, BulkLoad) {
    let id = CustomerId::parse("c-bench").unwrap();
    let mut customer = Customer::new(id.clone(), "Inès Moreau", Locale::french(), chrono_tz::Europe::Paris, now() - Duration::days(400));
    customer.email = Some(Email::parse("ines@example.org").unwrap());
    customer.business = true;
    let mut load = BulkLoad::new();
    load.add(&mut customer).unwrap();
    for i in 0..50 {
        let mut invoice = Invoice::open(
            InvoiceId::parse(&format!("inv-{i:02}")).unwrap(),
            id.clone(),
            InvoiceNumber::parse(&format!("F-2026-{i:03}")).unwrap(),
            Money::from_minor(4_900 + i * 100, Currency::EUR),
            now() - Duration::days(60 - i),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + Duration::days(i),
        );
        if i % 3 == 0 {
            invoice.record_payment(invoice.amount_due).unwrap();
        }
        for step in 1..=4 {
            let target = Target { kind: TargetKind::Invoice, id: invoice.id.to_string() };
            let kind = if step == 1 { NotificationKind::InvoiceDueSoon } else { NotificationKind::InvoiceOverdue };
            let mut notice = Notification::pending(id.clone(), target, kind, None, step, Some(invoice.balance()), now()).unwrap();
            load.add(&mut notice).unwrap();
        }
        load.add(&mut invoice).unwrap();
    }
    (customer, load)
}

fn caller(user: &str, role: Role) -> Caller {
    Caller { user: user.into(), email: Some(format!("{user}@example.org")), phone: None, roles: BTreeSet::from([role]) }
}

fn pages(c: &mut Criterion) {
    let (customer, load) = partition();
    let items = load.items().to_vec();
    let member = caller("u-ines", Role::Member);
    let account = Account::new("u-ines", Some(customer.id.clone()));
    let terms = LatePaymentTerms { rate_basis_points: 1415, indemnity_minor: 4000 };
    let csrf = "0123456789abcdef0123456789abcdef";
    let note = Note::default();
    let mut group = c.benchmark_group("page (from the Query's items to the HTML)");
    group.bench_function("member invoices page, 50 invoices and 200 reminders", |b| {
        b.iter(|| {
            let partition = Partition::from_items(black_box(items.clone()));
            let file = MemberFile::of(account.clone(), partition, BTreeSet::new()).unwrap().unwrap();
            let invoices = file.invoice_page(Some(&terms), None, 50, now()).unwrap();
            let subscriptions = file.subscription_page(None, 20).unwrap();
            let cards = file.card_list().unwrap();
            let data = json!({"invoices": invoices.invoices, "subscriptions": subscriptions.subscriptions, "cards": cards.payment_methods});
            html(&member, "fr", file.me(&member), chrono_tz::Europe::Paris, csrf, "invoices.html", &note, data).unwrap()
        })
    });
    group.bench_function("member home page, the same member", |b| {
        b.iter(|| {
            let partition = Partition::from_items(black_box(items.clone()));
            let file = MemberFile::of(account.clone(), partition, BTreeSet::new()).unwrap().unwrap();
            let unpaid: Vec<_> =
                file.invoice_page(Some(&terms), None, 50, now()).unwrap().invoices.into_iter().filter(|i| i.owed).collect();
            let data = json!({"unpaid": unpaid, "cards": file.card_list().unwrap().payment_methods, "renewals": [], "next_event": null});
            html(&member, "fr", file.me(&member), chrono_tz::Europe::Paris, csrf, "home.html", &note, data).unwrap()
        })
    });
    let admin = caller("u-admin", Role::Admin);
    let me = portal::api::me::Me { user: "u-admin".into(), email: None, roles: vec![Role::Admin], customer: None };
    group.bench_function("admin customer page, the same customer", |b| {
        b.iter(|| {
            let partition = Partition::from_items(black_box(items.clone()));
            let file = CustomerFile::of(&partition, &customer.id, now().date_naive()).unwrap().unwrap();
            let data = json!({"file": file, "history": [], "dates": ""});
            html(&admin, "fr", me.clone(), chrono_tz::Europe::Paris, csrf, "admin_customer.html", &note, data).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
