//! `make bench`'s request counts: each unit of work run once through the real code (the
//! functions' routers and handlers) against moto, every AWS call recorded by a proxy
//! ([`relance_tests::calls::Recorder`]), and printed by operation next to the physical minimum.

use relance::ingest::Ingest;
use relance::providers::stripe;
use relance::store::Store;
use relance_tests::calls::Recorder;
use serde_json::{Value, json};

const STRIPE_SECRET: &str = "whsec_requests_bench";

fn stripe_event(id: &str, kind: &str, status: &str, paid: i64) -> Vec<u8> {
    let invoice = json!({
        "id": "in_req_1", "object": "invoice", "customer": "cus_req_1", "customer_email": "marie@example.org",
        "customer_name": "Marie Dupont", "number": "REQ-0001", "currency": "eur", "amount_due": 12000,
        "amount_paid": paid, "status": status, "created": 1764000000, "due_date": 1798675200, "next_payment_attempt": null,
    });
    serde_json::to_vec(&json!({"id": id, "object": "event", "type": kind, "created": 1764100000, "data": {"object": invoice}})).unwrap()
}

fn print(unit: &str, recorder: &Recorder) {
    let calls = recorder.calls();
    let read: u64 = calls.iter().map(|c| c.items_read).sum();
    let written: u64 = calls.iter().map(|c| c.items_written).sum();
    println!("{unit}: {} calls ({read} items read, {written} written)", calls.len());
    for call in &calls {
        println!("    {} read {} wrote {}", call.operation, call.items_read, call.items_written);
    }
}

#[tokio::main]
async fn main() {
    let recorder = Recorder::start(&relance_tests::moto_url()).await;
    let table = relance_tests::fresh_store("requests").await.table().to_string();
    let store = Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), table);
    let secrets = relance_tests::secrets(&[("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)]);
    let router = relance_tests::webhook_router(Ingest::new(store.clone(), Default::default(), Default::default()), secrets);
    let deliver = |body: Vec<u8>| {
        let router = router.clone();
        async move {
            let header = stripe::sign(&body, STRIPE_SECRET, relance_tests::now().timestamp());
            let answer = relance_tests::post(
                &router,
                "/webhooks/stripe",
                &[("stripe-signature", &header), ("content-type", "application/json")],
                body,
            )
            .await;
            let json: Value = answer.json();
            assert_eq!(answer.status, 200, "{json}");
            json
        }
    };
    // The customer becomes known with the invoice's first event.
    deliver(stripe_event("evt_req_0", "invoice.finalized", "open", 0)).await;
    recorder.clear();
    let failed = stripe_event("evt_req_1", "invoice.payment_failed", "open", 0);
    println!("{}", deliver(failed.clone()).await);
    print("webhook delivery, known customer (Stripe invoice.payment_failed)", &recorder);
    recorder.clear();
    println!("{}", deliver(failed).await);
    print("the same delivery again", &recorder);

    // Dispatch: reminders for known customers, handed over as the stream delivers them (new
    // images included), sending through the recorder too.
    let messages = 20;
    for i in 0..messages {
        let mut customer = relance_tests::customer(&format!("req-{i}"), format!("Client {i}"), Some(&format!("req-{i}@example.org")));
        let mut invoice = relance_tests::invoice(&customer.id, &format!("req-{i}"), &format!("RQ-{i}"), 9_000);
        relance_tests::insert_overdue(&store, &mut customer, &mut invoice).await;
    }
    let mut context = relance_tests::dispatch_context(store.clone()).await;
    let sender =
        relance::notify::send::SenderSettings { from: relance_tests::TEST_SENDER.into(), configuration_set: None, sms_sender_id: None };
    context.senders = relance::notify::send::Senders::new(&recorder.sdk().await, sender);
    let filter = relance_tests::lambda::dispatch_stream_filter();
    let records: Vec<Value> = relance_tests::lambda::stream_records(store.table())
        .await
        .into_iter()
        .filter(|r| relance_tests::lambda::passes(&filter, r))
        .collect();
    // Settings are read once a minute: the first message pays for them, as in AWS.
    recorder.clear();
    let event = serde_json::from_value(json!({"Records": records})).unwrap();
    let (_, outcomes) = dispatch::handle_with_outcomes(&context, event).await;
    let calls = recorder.calls();
    let dynamodb = calls.iter().filter(|c| c.operation.starts_with("dynamodb:")).count();
    let sends = calls.len() - dynamodb;
    println!(
        "dispatch, per message: {:.2} DynamoDB calls, {:.2} SES/SNS calls ({} messages, {:?})",
        dynamodb as f64 / messages as f64,
        sends as f64 / messages as f64,
        outcomes.len(),
        recorder.counts()
    );

    scan_per_due_item(&recorder).await;
}

/// The scan over `REQUESTS_SCAN_DUE` due invoices (default 10,000), each of its own customer
/// (the worst case for the customer reads): every call per due item.
async fn scan_per_due_item(recorder: &Recorder) {
    use chrono::{Duration, TimeZone, Utc};
    use relance::domain::*;
    let due: usize = std::env::var("REQUESTS_SCAN_DUE").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let mut load = relance::store::BulkLoad::new();
    for i in 0..due {
        let id = CustomerId::parse(&format!("scan-{i:06}")).unwrap();
        let mut customer =
            Customer::new(id.clone(), format!("Client {i}"), Locale::french(), chrono_tz::Europe::Paris, now - Duration::days(400));
        customer.email = Some(Email::parse(&format!("scan{i}@example.org")).unwrap());
        // Due in three days: today is the ladder's first step ("due soon").
        let mut invoice = Invoice::open(
            InvoiceId::parse(&format!("scan-{i:06}")).unwrap(),
            id,
            InvoiceNumber::parse(&format!("S-{i:06}")).unwrap(),
            Money::from_minor(4_900, Currency::EUR),
            now - Duration::days(30),
            now.date_naive() + Duration::days(3),
        );
        invoice.follow_up.schedule(now - Duration::hours(1));
        load.add(&mut customer).unwrap();
        load.add(&mut invoice).unwrap();
    }
    // A table of its own, written to moto directly: only the scan's calls are counted.
    let direct = relance_tests::fresh_store("requests-scan").await;
    direct.write_bulk(load).await.unwrap();
    let store = Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), direct.table());
    recorder.clear();
    let report = scan::run::scan(&store, &relance::schedule::Ladders::default(), now, false).await.unwrap();
    let calls = recorder.calls().len();
    let written: u32 = report.notifications.values().sum();
    println!(
        "scan, per due item: {:.3} calls ({calls} calls for {due} due; {written} reminders written; {} customers read; {:?})",
        calls as f64 / due as f64,
        report.customers_read,
        recorder.counts()
    );
}
