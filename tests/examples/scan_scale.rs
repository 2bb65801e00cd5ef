//! Benchmark 3, the scan at scale (not a test: `infra/bench/scan_scale.sh` runs it for
//! `make bench`).
//!
//! `scan_scale items <customers>` prints the items of `customers` customers, each with one
//! invoice, as the store writes them; `infra/bench/scan_scale.py` loads them into moto from
//! inside moto's own process (BatchWriteItem over HTTP managed 1,500 items a second: 1,000,000
//! customers are 3,000,000 items). Three groups of
//! invoices fall due on three consecutive days — 1,000, 10,000 and 100,000 of them — at the
//! first reminder step; a fifth of the others are unpaid but not due for weeks (in the due
//! index, past the scan's bound), the rest paid (not in the index at all).
//!
//! `scan_scale scan <table> <group>` runs one real scan on the day group `group` (0, 1, 2)
//! falls due, in a process of its own, and prints as JSON: what was due, the items the due
//! index returned (DynamoDB's `ScannedCount`, summed over pages), the customer records read,
//! the notifications written, the wall time, and the process's peak resident memory.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use relance::domain::*;
use relance::schedule::Ladders;
use relance::store::{BulkLoad, Store};

/// Invoices due in each group, in order.
const GROUPS: [usize; 3] = [1_000, 10_000, 100_000];

/// The day group `g` is scanned: Tuesday 1 December 2026 and the two days after, 10:00 UTC
/// (11:00 in Paris, inside the default sending window).
fn scan_day(group: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + Duration::days(group as i64)
}

fn invoice_for(i: usize, customer: &CustomerId, group: Option<usize>, unpaid_later: bool) -> Invoice {
    let issued = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
    let (due_date, next) = match group {
        // Due in three days: today is the ladder's first step ("due soon", 3 days before),
        // and the next step (1 day after) comes after the last group's day.
        Some(g) => (scan_day(g).date_naive() + Duration::days(3), Some(scan_day(g) - Duration::hours(1))),
        None if unpaid_later => (NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(), Some(Utc.with_ymd_and_hms(2027, 1, 29, 9, 0, 0).unwrap())),
        None => (NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(), None),
    };
    let mut invoice = Invoice::open(
        InvoiceId::parse(&format!("inv-{i:07}")).unwrap(),
        customer.clone(),
        InvoiceNumber::parse(&format!("F-{i:07}")).unwrap(),
        Money::from_minor(4_900 + (i as i64 % 50) * 100, Currency::EUR),
        issued,
        due_date,
    );
    match next {
        Some(at) => invoice.follow_up.schedule(at),
        None => {
            invoice.record_payment(invoice.amount_due).unwrap();
            invoice.note_settlement(Utc.with_ymd_and_hms(2026, 11, 10, 9, 0, 0).unwrap());
        }
    }
    invoice
}

/// Every item of the data set, one DynamoDB-JSON object per line on standard output, in
/// the exact form the store writes them (keys, index attributes, lookup items).
fn items(customers: usize) {
    use std::io::Write;
    let due_total: usize = GROUPS.iter().sum();
    assert!(customers >= due_total, "at least {due_total} customers: the groups are that large");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..customers {
        let group = {
            let mut end = 0;
            GROUPS.iter().position(|n| {
                end += n;
                i < end
            })
        };
        let id = CustomerId::parse(&format!("c-{i:07}")).unwrap();
        let mut customer =
            Customer::new(id.clone(), format!("Client {i}"), Locale::french(), chrono_tz::Europe::Paris, scan_day(0) - Duration::days(400));
        customer.email = Some(Email::parse(&format!("client{i}@example.org")).unwrap());
        let mut invoice = invoice_for(i, &id, group, i % 5 == 0);
        let mut load = BulkLoad::new();
        load.add(&mut customer).unwrap();
        load.add(&mut invoice).unwrap();
        for item in load.items() {
            let json: serde_json::Map<String, serde_json::Value> =
                item.iter().map(|(name, value)| (name.clone(), dynamodb_json(value))).collect();
            serde_json::to_writer(&mut out, &json).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    out.flush().unwrap();
}

/// An attribute value in DynamoDB's JSON form (`{"S": "…"}`, `{"M": {…}}`…).
fn dynamodb_json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::json;
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::L(v) => json!({"L": v.iter().map(dynamodb_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": m.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect::<serde_json::Map<_, _>>()}),
        other => panic!("no JSON form for {other:?} in this data set"),
    }
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

async fn scan(store: Store, group: usize) {
    let now = scan_day(group);
    let started = std::time::Instant::now();
    let report = scan::run::scan(&store, &Ladders::default(), now, false).await.expect("the scan runs");
    let seconds = started.elapsed().as_secs_f64();
    let written: u32 = report.notifications.values().sum();
    println!(
        "{}",
        serde_json::json!({
            "due": GROUPS[group], "index_items_read": report.read, "customers_read": report.customers_read,
            "notifications": written, "skipped_steps": report.skipped_steps, "held": report.held,
            "seconds": seconds, "per_due_ms": seconds * 1000.0 / GROUPS[group] as f64, "peak_rss_kib": peak_rss_kib(),
        })
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["items", customers] => items(customers.parse().expect("a number of customers")),
        ["create", table] => {
            let client = aws_sdk_dynamodb::Client::new(&relance_tests::sdk().await);
            relance_tests::table_definition().create(&client, table).await.expect("moto creates the table");
        }
        ["scan", table, group] => {
            let group: usize = group.parse().expect("group 0, 1 or 2");
            assert!(group < GROUPS.len(), "group 0, 1 or 2");
            let client = aws_sdk_dynamodb::Client::new(&relance_tests::sdk().await);
            scan(Store::new(client, *table), group).await;
        }
        _ => panic!("usage: scan_scale items <customers> | create <table> | scan <table> <group>"),
    }
}
