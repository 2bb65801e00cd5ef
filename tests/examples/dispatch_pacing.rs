//! Benchmark 4, dispatch pacing (not a test: `infra/bench/pacing.sh` runs it for
//! `make bench`). N email notifications go through dispatch in stream batches of ten, as
//! Lambda delivers them, with a sending rate of R per second, against moto. Prints, as
//! JSON, how long they took against the ideal N/R, and the most emails sent in any one
//! second (by the `sent_at` each notification records), sliding window and calendar second.

use relance::domain::*;
use relance::store::{Key, Record};

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("PACING_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let rate: u32 = std::env::var("PACING_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(14);
    let store = relance_tests::fresh_store("pacing").await;
    let mut keys = Vec::new();
    let run = relance_tests::unique();
    for i in 0..n {
        let mut customer =
            relance_tests::customer(&format!("pace-{run}-{i}"), format!("Member {i}"), Some(&format!("pace-{run}-{i}@example.org")));
        let mut invoice = relance_tests::invoice(&customer.id, &format!("pace-{run}-{i}"), &format!("P-{i}"), 12_000);
        keys.push(relance_tests::insert_overdue(&store, &mut customer, &mut invoice).await.key());
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
    let sliding =
        offsets.iter().enumerate().map(|(i, start)| offsets[i..].iter().take_while(|t| **t < start + 1.0).count()).max().unwrap_or(0);
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
