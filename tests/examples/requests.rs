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
}
