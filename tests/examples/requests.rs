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

/// One unit of work's count, for the summary `make bench` reads (`infra/bench/cost.py`).
#[derive(serde::Serialize)]
struct Unit {
    unit: &'static str,
    /// Calls per unit, by service and operation.
    calls: std::collections::BTreeMap<String, f64>,
    /// DynamoDB items read and written per unit; those written in transactions (billed twice).
    items_read: f64,
    /// Of those, read by Queries (billed by their total size, not per item).
    items_read_in_queries: f64,
    items_written: f64,
    items_written_in_transactions: f64,
    /// What the unit is counted over (one delivery, 20 messages, 10,000 due items…).
    over: usize,
}

impl Unit {
    fn of(unit: &'static str, recorder: &Recorder, over: usize) -> Unit {
        let per = |n: u64| n as f64 / over as f64;
        let calls = recorder.counts().into_iter().map(|(op, n)| (op, per(n))).collect();
        let recorded = recorder.calls();
        let sum = |f: &dyn Fn(&relance_tests::calls::Call) -> u64| per(recorded.iter().map(f).sum());
        Unit {
            unit,
            calls,
            items_read: sum(&|c| c.items_read),
            items_read_in_queries: sum(&|c| if c.operation == "dynamodb:Query" { c.items_read } else { 0 }),
            items_written: sum(&|c| c.items_written),
            items_written_in_transactions: sum(&|c| if c.operation == "dynamodb:TransactWriteItems" { c.items_written } else { 0 }),
            over,
        }
    }

    fn total(&self) -> f64 {
        self.calls.values().sum()
    }
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
    let mut units = Vec::new();
    println!("{}", deliver(failed.clone()).await);
    print("webhook delivery, known customer (Stripe invoice.payment_failed)", &recorder);
    units.push(Unit::of("webhook_delivery", &recorder, 1));
    recorder.clear();
    println!("{}", deliver(failed).await);
    print("the same delivery again", &recorder);
    units.push(Unit::of("webhook_delivery_again", &recorder, 1));

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
    let records = relance_tests::lambda::dispatch_records(store.table()).await;
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
    units.push(Unit::of("dispatch_message", &recorder, messages));

    units.extend(member_pages(&recorder).await);
    units.push(scan_per_due_item(&recorder).await);
    units.extend(import_per_row(&recorder).await);
    // The summary `make bench` reads (`infra/bench/cost.py`): the last line.
    for unit in &units {
        eprintln!("{:<26} {:>7.3} calls per unit (over {})", unit.unit, unit.total(), unit.over);
    }
    println!("{}", serde_json::to_string(&json!({"units": units})).unwrap());
}

/// A member with 50 invoices and 200 reminders: the invoices page and the home page, with
/// the settings already read (they are read once a minute, not per page).
async fn member_pages(recorder: &Recorder) -> Vec<Unit> {
    use relance::domain::{Account, Harvest, HarvestId, Plot, Site, SiteId};
    let table = relance_tests::fresh_store("requests-pages").await.table().to_string();
    let store = Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), table);
    let mut customer = relance_tests::customer("req-pages", "Inès Pages", Some("ines.pages@example.org"));
    store.insert(&mut customer).await.unwrap();
    // She rents a plot in a garden that posted a harvest every other day for two months.
    let site = SiteId::parse("req-garden").unwrap();
    let mut garden = Site {
        id: site.clone(),
        name: "Jardin des requêtes".into(),
        address: "1 rue du Compte".into(),
        farmers: ["req-farmer".to_string()].into(),
        farmer_names: vec!["Léa".into()],
        time_zone: None,
        version: 0,
    };
    store.insert(&mut garden).await.unwrap();
    let mut account = Account::new("req-pages-user", Some(customer.id.clone()));
    account.garden = Some(Plot { site: site.clone(), plot: "B12".into() });
    store.insert(&mut account).await.unwrap();
    let mut load = relance::store::BulkLoad::new();
    let today = chrono::Utc::now().date_naive();
    for day in (0..60).step_by(2) {
        let date = today - chrono::Duration::days(day);
        let mut harvest = Harvest {
            id: HarvestId::generate(),
            site_id: site.clone(),
            date,
            crop: format!("Récolte {day}"),
            grams: 1_000,
            note: String::new(),
            posted_by: "req-farmer".into(),
            posted_at: chrono::Utc::now(),
            version: 0,
            available_from: Some(date),
            available_until: Some(date + chrono::Duration::days(6)),
        };
        load.add(&mut harvest).unwrap();
    }
    relance_tests::records::invoices_with_reminders(&mut load, &customer.id, "rp", 50);
    store.write_bulk(load).await.unwrap();
    let state = relance_tests::portal_state(&store).with_web(portal::web::WebSignIn::Local { choices: vec![] });
    let router = portal::router(state);
    let cookie = format!("relance_session={}", relance_tests::token("req-pages-user", &["member"]));
    let page = |path: &'static str| {
        let (router, cookie) = (router.clone(), cookie.clone());
        async move {
            let request = axum::http::Request::get(path).header("cookie", cookie).body(axum::body::Body::empty()).unwrap();
            assert_eq!(relance_tests::send(&router, request).await.status, 200, "{path}");
        }
    };
    page("/").await;
    let mut units = Vec::new();
    for (unit, path) in [("member_invoices_page", "/app/invoices"), ("member_home_page", "/"), ("member_garden_page", "/app/garden")] {
        recorder.clear();
        page(path).await;
        print(path, recorder);
        units.push(Unit::of(unit, recorder, 1));
    }
    // The admin's page of the same customer (details, standing, timeline, audit trail), and
    // the admin's list of customers (a page of 50: the ledger, then each one's standing).
    let mut others = relance::store::BulkLoad::new();
    for i in 0..49 {
        let mut other = relance_tests::customer(&format!("req-list-{i:02}"), format!("Client {i}"), Some(&format!("list{i}@example.org")));
        let mut invoice = relance_tests::invoice(&other.id, &format!("req-list-{i:02}"), &format!("RL-{i:02}"), 2_000);
        others.add(&mut other).unwrap();
        others.add(&mut invoice).unwrap();
    }
    store.write_bulk(others).await.unwrap();
    let admin = format!("relance_session={}", relance_tests::token("req-pages-admin", &["admin"]));
    for (unit, path) in
        [("admin_customer_page", format!("/app/admin/customers/{}", customer.id)), ("admin_customer_list", "/app/admin/customers".into())]
    {
        let request = axum::http::Request::get(&path).header("cookie", &admin).body(axum::body::Body::empty()).unwrap();
        assert_eq!(relance_tests::send(&router, request).await.status, 200, "{path}");
        recorder.clear();
        let request = axum::http::Request::get(&path).header("cookie", &admin).body(axum::body::Body::empty()).unwrap();
        assert_eq!(relance_tests::send(&router, request).await.status, 200, "{path}");
        print(&path, recorder);
        units.push(Unit::of(unit, recorder, 1));
    }
    units
}

/// The scan over `REQUESTS_SCAN_DUE` due invoices (default 10,000), each of its own customer
/// (the worst case for the customer reads): every call per due item.
async fn scan_per_due_item(recorder: &Recorder) -> Unit {
    use chrono::{Duration, TimeZone, Utc};
    use relance::domain::*;
    let due: usize = std::env::var("REQUESTS_SCAN_DUE").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    // A table of its own, written to moto directly: only the scan's calls are counted.
    let direct = relance_tests::fresh_store("requests-scan").await;
    for chunk in (0..due).collect::<Vec<_>>().chunks(500) {
        let mut load = relance::store::BulkLoad::new();
        for &i in chunk {
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
        // moto's threaded server now and then fails a batch ("dictionary changed size
        // during iteration"); the puts are idempotent, so the chunk is written again.
        let mut attempts = 0;
        while let Err(e) = direct.write_bulk(load.clone()).await {
            attempts += 1;
            assert!(attempts < 5, "moto keeps refusing the load: {e}");
        }
    }
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
    Unit::of("scan_due_item", recorder, due)
}

/// A customer file and an invoice file of `REQUESTS_IMPORT_ROWS` rows each (default 10,000),
/// imported through the portal's routes into an empty table: every call per row.
async fn import_per_row(recorder: &Recorder) -> Vec<Unit> {
    let rows: usize = std::env::var("REQUESTS_IMPORT_ROWS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let table = relance_tests::fresh_store("requests-import").await.table().to_string();
    let store = Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), table);
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = relance_tests::token("requests-admin", &["admin"]);
    let mut customers = String::from("id,name,email\n");
    let mut invoices = String::from("id,customer_id,number,currency,amount_due,issued_at,due_date\n");
    for i in 0..rows {
        customers.push_str(&format!("imp-{i:06},Client {i},imp{i}@example.org\n"));
        invoices.push_str(&format!("imp-{i:06},imp-{i:06},I-{i:06},EUR,49.00,2026-11-01,2026-12-15\n"));
    }
    let mut units = Vec::new();
    for (unit, path, file) in
        [("import_customer_row", "/admin/import/customers", customers), ("import_invoice_row", "/admin/import/invoices", invoices)]
    {
        recorder.clear();
        let request = axum::http::Request::post(path)
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "text/csv")
            .body(axum::body::Body::from(file))
            .unwrap();
        let started = std::time::Instant::now();
        let answer = relance_tests::send(&router, request).await;
        let json: Value = answer.json();
        assert_eq!(answer.status, 200, "{json}");
        let calls = recorder.calls().len();
        println!(
            "CSV import {path}, per row: {:.3} calls ({calls} calls for {rows} rows in {:.1} s against moto; {:?})",
            calls as f64 / rows as f64,
            started.elapsed().as_secs_f64(),
            recorder.counts()
        );
        units.push(Unit::of(unit, recorder, rows));
    }
    units
}
