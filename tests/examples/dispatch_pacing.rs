//! Benchmark 4, dispatch pacing (not a test: `infra/bench/pacing.sh` runs it for
//! `make bench`). N email notifications go through dispatch in stream batches of ten, as
//! Lambda delivers them, with a sending rate of R per second, against moto. Prints, as
//! JSON, how long they took against the ideal N/R, and the most emails sent in any one
//! second (by the `sent_at` each notification records), sliding window and calendar second.

use chrono::{Duration, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Key, Record};

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("PACING_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let rate: u32 = std::env::var("PACING_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(14);
    let store = relance_tests::fresh_store("pacing").await;
    let mut keys = Vec::new();
    let run = CustomerId::generate().to_string().to_lowercase();
    for i in 0..n {
        let id = CustomerId::parse(&format!("pace-{run}-{i}")).unwrap();
        let mut customer = Customer::new(id.clone(), format!("Member {i}"), Locale::french(), chrono_tz::Europe::Paris, Utc::now());
        customer.email = Some(Email::parse(&format!("pace-{run}-{i}@example.org")).unwrap());
        store.insert(&mut customer).await.unwrap();
        let mut invoice = Invoice::open(
            InvoiceId::parse(&format!("pace-{run}-{i}")).unwrap(),
            id.clone(),
            InvoiceNumber::parse(&format!("P-{i}")).unwrap(),
            Money::from_minor(12_000, Currency::EUR),
            Utc::now() - Duration::days(20),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        );
        store.insert(&mut invoice).await.unwrap();
        let mut notification = Notification::pending(id, Target { kind: TargetKind::Invoice, id: invoice.id.to_string() }, NotificationKind::InvoiceOverdue, None, 2, Some(invoice.balance()), Utc::now()).unwrap();
        store.insert(&mut notification).await.unwrap();
        keys.push(notification.key());
    }
    let mut context = relance_tests::dispatch_context(store.clone()).await;
    context.max_emails_per_second = rate;
    let started = std::time::Instant::now();
    for batch in keys.chunks(10) {
        let response = dispatch::handle(&context, relance_tests::stream_batch(batch)).await;
        assert!(response.batch_item_failures.is_empty(), "a batch failed");
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut sent = Vec::new();
    for key in &keys {
        let notification: Notification = store.get(&Key { pk: key.pk.clone(), sk: key.sk.clone() }).await.unwrap().unwrap();
        assert_eq!(notification.status, NotificationStatus::Sent, "every email is sent");
        sent.push(notification.sent_at.unwrap());
    }
    sent.sort();
    let first = sent[0];
    let offsets: Vec<f64> = sent.iter().map(|at| (*at - first).num_microseconds().unwrap() as f64 / 1e6).collect();
    // The most sends in any one-second window starting at a send (sliding), and in any
    // calendar second counted from the first send.
    let sliding = offsets.iter().enumerate().map(|(i, start)| offsets[i..].iter().take_while(|t| **t < start + 1.0).count()).max().unwrap_or(0);
    let mut per_second = std::collections::BTreeMap::new();
    for t in &offsets {
        *per_second.entry(*t as u64).or_insert(0usize) += 1;
    }
    let calendar = per_second.values().copied().max().unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({"n": n, "rate": rate, "seconds": seconds, "ideal_seconds": n as f64 / f64::from(rate),
                           "worst_second_sliding": sliding, "worst_second_calendar": calendar})
    );
}
