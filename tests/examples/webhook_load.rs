//! `make load` (infra/local/load.sh): 10,000 Stripe deliveries against `make run`'s stack —
//! a fifth of them sent twice, all in a shuffled order, 16 at a time over HTTP — then the
//! table read back and compared with what the deliveries say. Prints throughput and latency.
//!
//! Settings: LOAD_URL (http://127.0.0.1:3000), LOAD_DELIVERIES (10000), LOAD_CONCURRENCY (16),
//! RELANCE_TABLE (relance), and the stack's Stripe secret (whsec_relance_local).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relance::domain::*;
use relance::providers::stripe;
use relance::store::{Key, Store};
use serde_json::{Value, json};

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One invoice's events, newest last: finalized; then a failed payment for half of them;
/// then paid for a third.
fn events_of(run: &str, i: usize) -> Vec<Value> {
    let amount = 5_000 + (i as i64 % 40) * 250;
    let invoice = |status: &str, paid: i64| {
        json!({"id": format!("in_{run}_{i}"), "object": "invoice", "customer": format!("cus_{run}_{i}"),
               "customer_email": format!("load{i}@example.org"), "customer_name": format!("Client {i}"),
               "number": format!("L-{i:05}"), "currency": "eur", "amount_due": amount, "amount_paid": paid,
               "status": status, "created": 1_763_000_000, "due_date": 1_798_675_200, "next_payment_attempt": null})
    };
    let event = |n: usize, kind: &str, at: i64, object: Value| json!({"id": format!("evt_{run}_{i}_{n}"), "object": "event", "type": kind, "created": at, "data": {"object": object}});
    let mut events = vec![event(0, "invoice.finalized", 1_763_100_000, invoice("open", 0))];
    if i.is_multiple_of(2) {
        events.push(event(1, "invoice.payment_failed", 1_763_200_000, invoice("open", 0)));
    }
    if i.is_multiple_of(3) {
        events.push(event(2, "invoice.paid", 1_763_300_000, invoice("paid", amount)));
    }
    events
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let url = setting("LOAD_URL", "http://127.0.0.1:3000".to_string());
    let total: usize = setting("LOAD_DELIVERIES", 10_000);
    let concurrency: usize = setting("LOAD_CONCURRENCY", 16);
    let table = setting("RELANCE_TABLE", "relance".to_string());
    let secret = setting("LOAD_STRIPE_SECRET", "whsec_relance_local".to_string());
    let run = ulid::Ulid::new().to_string().to_lowercase();

    // Unique deliveries, invoice by invoice, until the unique ones plus their 20 % repeats make
    // `total`.
    let unique_target = total * 5 / 6;
    let mut unique: Vec<Vec<u8>> = Vec::new();
    let mut invoices = 0;
    while unique.len() < unique_target {
        unique.extend(events_of(&run, invoices).iter().map(|e| serde_json::to_vec(e).unwrap()));
        invoices += 1;
    }
    let repeats = total - unique.len();
    let mut deliveries: Vec<Vec<u8>> = unique.clone();
    deliveries.extend(unique.iter().step_by((unique.len() / repeats).max(1)).take(repeats).cloned());
    relance_tests::faults::shuffle(&mut deliveries, 0x2545_f491_4f6c_dd1d);

    let queue = Arc::new(Mutex::new(deliveries.into_iter().collect::<VecDeque<_>>()));
    let results = Arc::new(Mutex::new((Vec::<Duration>::new(), BTreeMap::<String, usize>::new(), 0usize)));
    let client = relance::http::https_client();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (queue, results, client, url, secret) = (queue.clone(), results.clone(), client.clone(), url.clone(), secret.clone());
        workers.spawn(async move {
            loop {
                let Some(body) = queue.lock().unwrap().pop_front() else { return };
                loop {
                    let header = stripe::sign(&body, &secret, chrono::Utc::now().timestamp());
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{url}/webhooks/stripe"))
                        .header("stripe-signature", header)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let elapsed = sent.elapsed();
                    let (status, answer) = match response {
                        Ok(r) => (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default()),
                        Err(_) => (0, Value::Null),
                    };
                    let mut results = results.lock().unwrap();
                    results.0.push(elapsed);
                    if status == 200 {
                        *results.1.entry(answer["outcome"].as_str().unwrap_or("?").to_string()).or_default() += 1;
                        break;
                    }
                    assert!(status == 0 || status >= 500, "a delivery was refused with {status}: {answer}");
                    results.2 += 1; // retried, as a provider would
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let (mut latencies, outcomes, retries) = std::mem::take(&mut *results.lock().unwrap());
    latencies.sort();

    // The table against what the deliveries say: each invoice once, in its newest event's state.
    let store = Store::new(aws_sdk_dynamodb::Client::new(&relance::config::aws_sdk_config().await), table);
    let mut wrong = Vec::new();
    for i in 0..invoices {
        let newest = events_of(&run, i).pop().unwrap();
        let object = &newest["data"]["object"];
        let reference = ProviderRef::new(Provider::Stripe, object["id"].as_str().unwrap()).unwrap();
        let Some(key) = store.find_by_provider_ref("Invoice", &reference).await.unwrap() else {
            wrong.push(format!("{} lost", object["id"]));
            continue;
        };
        let invoice: Invoice = store.get(&key).await.unwrap().unwrap();
        let want_status = if object["status"] == "paid" { InvoiceStatus::Paid } else { InvoiceStatus::Open };
        if invoice.status != want_status || invoice.amount_paid.minor_units() != object["amount_paid"].as_i64().unwrap() {
            wrong.push(format!("{}: {:?} paid {}", object["id"], invoice.status, invoice.amount_paid.minor_units()));
        }
        // One customer record for the invoice's customer: the one its provider reference names.
        // (A second invoice record cannot exist: an invoice and the lookup item of its reference
        // are written in one transaction, the lookup only if absent. Point reads only: moto
        // answers a partition query by walking the whole table.)
        let customer_ref = ProviderRef::new(Provider::Stripe, object["customer"].as_str().unwrap()).unwrap();
        match store.find_by_provider_ref("Customer", &customer_ref).await.unwrap() {
            Some(customer) if customer == Key::customer(&invoice.customer_id) => {}
            other => wrong.push(format!("{}: its customer is {:?}, the reference names {other:?}", object["id"], invoice.customer_id)),
        }
    }
    let duplicates_answered = outcomes.get("already_applied").copied().unwrap_or(0);
    println!(
        "{}",
        json!({
            "deliveries": total, "unique": unique.len(), "sent_twice": repeats, "invoices": invoices, "concurrency": concurrency,
            "seconds": seconds, "per_second": total as f64 / seconds, "p50_ms": percentile(&latencies, 0.5),
            "p99_ms": percentile(&latencies, 0.99), "max_ms": latencies.last().map(|d| d.as_secs_f64() * 1000.0),
            "outcomes": outcomes, "retried": retries, "duplicates_answered": duplicates_answered, "wrong": wrong.len(),
        })
    );
    assert!(wrong.is_empty(), "the table differs from the deliveries:\n{}", wrong.join("\n"));
    assert_eq!(duplicates_answered, repeats, "each repeat, and only the repeats, recognised as already applied");
}
