//! Per-event CPU cost (issue "Performance"): what one webhook delivery, one ladder decision
//! and one rendered message cost, with the real fixture payloads. `make bench` runs these
//! and writes the medians, with their targets, into docs/benchmarks.md.

// A benchmark is a test of speed: a fixture that fails to load is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up, like a test's")]

use std::hint::black_box;

use chrono::{DateTime, NaiveDate, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use relance::domain::*;
use relance::notify::compose::{self, About, Branding};
use relance::notify::{ChannelPolicy, Renderer};
use relance::providers::braintree;
use relance::providers::shopify::{self, ShopifyHeaders};
use relance::providers::{generic, stripe};
use relance::schedule::{Ladders, decide};
use relance::secrets::BraintreeKeys;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/fixtures/webhooks/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn now() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

fn webhooks(c: &mut Criterion) {
    let mut group = c.benchmark_group("webhook event (verify + parse + normalise)");
    // Stripe: stripe-mock's invoice inside an invoice.payment_failed event.
    let invoice: serde_json::Value = serde_json::from_slice(&fixture("stripe_mock_invoice.json")).unwrap();
    let event = serde_json::json!({"id": "evt_bench", "object": "event", "type": "invoice.payment_failed", "created": now().timestamp(), "data": {"object": invoice}});
    let body = serde_json::to_vec(&event).unwrap();
    let secrets = vec!["whsec_bench".to_string()];
    let header = stripe::sign(&body, &secrets[0], now().timestamp());
    group.bench_function("stripe", |b| {
        b.iter(|| {
            stripe::verify(Some(black_box(&header)), black_box(&body), &secrets, now(), stripe::DEFAULT_TOLERANCE_SECS).unwrap();
            black_box(stripe::parse(black_box(&body)).unwrap())
        })
    });

    // Braintree: the SDK's sample subscription_charged_unsuccessfully notification.
    let payload =
        String::from_utf8(fixture("braintree_sample_subscription_charged_unsuccessfully.bt_payload.txt")).unwrap().trim().to_string();
    let keys = vec![BraintreeKeys { public_key: "bench_public".into(), private_key: "bench_private".into() }];
    let signature = braintree::sign(&payload, &keys[0]);
    group.bench_function("braintree", |b| {
        b.iter(|| {
            braintree::verify(black_box(&signature), black_box(&payload), &keys).unwrap();
            black_box(braintree::parse(black_box(&payload), &Default::default()).unwrap())
        })
    });

    // Shopify: the REST reference's paid order.
    let order = fixture("shopify_order_1073459976_paid.unwrapped.json");
    let shopify_secrets = vec!["shpss_bench".to_string()];
    let hmac = shopify::sign(&order, &shopify_secrets[0]);
    let headers = ShopifyHeaders {
        topic: Some("orders/create".into()),
        webhook_id: Some("wh-bench".into()),
        triggered_at: Some("2026-11-25T10:00:00Z".into()),
    };
    group.bench_function("shopify", |b| {
        b.iter(|| {
            shopify::verify(Some(black_box(&hmac)), black_box(&order), &shopify_secrets).unwrap();
            black_box(shopify::parse(&headers, black_box(&order)).unwrap())
        })
    });

    // The generic format: a customer, an invoice and a payment.
    let document = serde_json::json!({
        "id": "delivery-bench", "occurred_at": now(),
        "customers": [{"id": "c1", "name": "Marie Dupont", "email": "marie@example.org", "phone": "+33612345678", "locale": "fr"}],
        "invoices": [{"id": "i1", "customer_id": "c1", "number": "F-2026-0042", "currency": "EUR", "amount_due": "120.00", "status": "open",
                      "issued_at": "2026-11-01T09:00:00Z", "due_date": "2026-11-20"}],
        "payments": [{"id": "p1", "customer_id": "c1", "invoice_id": "i1", "currency": "EUR", "amount": "120.00", "status": "failed"}],
    });
    let generic_body = serde_json::to_vec(&document).unwrap();
    let generic_secrets = vec!["bench_secret".to_string()];
    let generic_header = generic::sign(&generic_body, &generic_secrets[0], now().timestamp());
    group.bench_function("generic", |b| {
        b.iter(|| {
            generic::verify(Some(black_box(&generic_header)), black_box(&generic_body), &generic_secrets, now()).unwrap();
            black_box(generic::parse(black_box(&generic_body)).unwrap())
        })
    });
    group.finish();
}

fn customer() -> Customer {
    let mut c =
        Customer::new(CustomerId::parse("c-bench").unwrap(), "Marie-Hélène Dupont", Locale::french(), chrono_tz::Europe::Paris, now());
    c.email = Some(Email::parse("marie@example.org").unwrap());
    c.phone = Some(PhoneE164::parse("+33612345678", None).unwrap());
    c
}

fn overdue_invoice() -> Invoice {
    let mut invoice = Invoice::open(
        InvoiceId::parse("01JD5Z4Q6W3XKCE2V1M9T8R7YB").unwrap(),
        CustomerId::parse("c-bench").unwrap(),
        InvoiceNumber::parse("PB-2026-0042").unwrap(),
        Money::from_minor(12_345, Currency::EUR),
        "2026-10-01T09:00:00Z".parse().unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 17).unwrap(),
    );
    invoice.follow_up.step = 1;
    invoice.follow_up.schedule("2026-11-18T08:00:00Z".parse().unwrap());
    invoice
}

fn ladder_decision(c: &mut Criterion) {
    let ladders = Ladders::default();
    let (invoice, customer) = (overdue_invoice(), customer());
    c.bench_function("ladder decision (one due invoice)", |b| {
        b.iter(|| black_box(decide::invoice(black_box(&invoice), &customer, &ladders, now()).unwrap()))
    });
}

fn rendering(c: &mut Criterion) {
    let (invoice, customer) = (overdue_invoice(), customer());
    let notification = Notification::pending(
        customer.id.clone(),
        Target { kind: TargetKind::Invoice, id: invoice.id.to_string() },
        NotificationKind::InvoiceOverdue,
        None,
        2,
        Some(invoice.balance()),
        now(),
    )
    .unwrap();
    let policy = ChannelPolicy::default();
    let renderer = Renderer::new();
    let branding = Branding { business: "Les Potagers de Belleville".into(), portal_url: "https://espace.potagers-belleville.fr".into() };
    let about = About::Invoice(invoice);
    c.bench_function("message (channel policy + render)", |b| {
        b.iter(|| {
            let channel = policy.choose(black_box(&notification), &customer);
            let context = compose::context(&notification, &customer, &about, &branding, "fr");
            black_box((channel, renderer.render(NotificationKind::InvoiceOverdue, &["fr"], &context).unwrap()))
        })
    });
}

criterion_group!(benches, webhooks, ladder_decision, rendering);
criterion_main!(benches);
