//! The scan against moto: what it reads, what it writes, and that it writes it once.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use relance::domain::*;
use relance::schedule::Ladders;
use relance::store::{BulkLoad, Key, Record, Store};
use relance_tests::{eur, now};
use scan::run::{ScanReport, scan};

fn customer(i: usize) -> Customer {
    relance_tests::customer(&format!("c{i:05}"), format!("Member {i}"), Some(&format!("member{i}@example.org")))
}

/// An invoice of customer `c`; `due` ones fell due yesterday, after their courtesy notice.
fn invoice(c: &Customer, n: usize, state: State) -> Invoice {
    let mut invoice = relance_tests::invoice(&c.id, &format!("{}-i{n}", c.id), &format!("F-{}-{n}", c.id), 4500);
    (invoice.issued_at, invoice.due_date) = (now() - Duration::days(30), NaiveDate::from_ymd_opt(2026, 12, 20).unwrap());
    match state {
        State::Due => {
            invoice.due_date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
            invoice.follow_up.step = 1;
            invoice.follow_up.schedule("2026-11-25T08:00:00Z".parse().unwrap());
        }
        State::Later => invoice.follow_up.schedule("2026-12-17T08:00:00Z".parse().unwrap()),
        State::Paid => {
            invoice.record_payment(eur(4500)).unwrap();
        }
    }
    invoice
}

#[derive(Clone, Copy)]
enum State {
    Due,
    Later,
    Paid,
}

/// `customers` customers with five invoices each; the first `due` invoices are due.
async fn load(store: &Store, customers: usize, due: usize) -> Vec<Invoice> {
    let mut load = BulkLoad::new();
    let mut due_invoices = Vec::new();
    for i in 0..customers {
        let mut c = customer(i);
        for n in 0..5 {
            let index = i * 5 + n;
            let state = if index < due {
                State::Due
            } else if index % 2 == 0 {
                State::Later
            } else {
                State::Paid
            };
            let mut inv = invoice(&c, n, state);
            if matches!(state, State::Due) {
                due_invoices.push(inv.clone());
            }
            load.add(&mut inv).unwrap();
        }
        load.add(&mut c).unwrap();
    }
    store.write_bulk(load).await.unwrap();
    due_invoices
}

async fn notifications_of(store: &Store, customer: &CustomerId) -> Vec<Notification> {
    store.list::<Notification>(&Key::customer_partition(customer), None, 100).await.unwrap().records
}

fn total(report: &ScanReport) -> u32 {
    report.notifications.values().sum()
}

#[tokio::test]
async fn ten_thousand_invoices_two_hundred_due_two_hundred_reminders() {
    let store = relance_tests::fresh_store("scan-10k").await;
    // Due invoices are spread over the first 40 customers (5 each).
    let due = load(&store, 2_000, 200).await;
    let ladders = Ladders::default();

    let report = scan(&store, &ladders, now(), false).await.unwrap();
    assert_eq!(report.read, 200, "the scan read the due items only, not the 10,000 invoices");
    assert_eq!(report.notifications.get("invoice_overdue"), Some(&200));
    assert_eq!(total(&report), 200);

    for invoice in due.iter().step_by(17) {
        let stored: Invoice = store.get(&invoice.key()).await.unwrap().unwrap();
        assert_eq!(stored.follow_up.step, 2);
        // Next: due+7 = 1 December, 09:00 Paris.
        assert_eq!(stored.follow_up.next_action_at, Some("2026-12-01T08:00:00Z".parse().unwrap()));
        let sent = notifications_of(&store, &invoice.customer_id).await;
        let for_this: Vec<_> = sent.iter().filter(|n| n.target.id == invoice.id.as_str()).collect();
        assert_eq!(for_this.len(), 1);
        assert_eq!(for_this[0].id.as_str(), format!("invoice.{}.invoice_overdue.2", invoice.id));
        assert_eq!(for_this[0].status, NotificationStatus::Pending);
        assert_eq!(for_this[0].amount, Some(eur(4500)));
    }

    // The same scan again (a retry, a second schedule firing): nothing is due, nothing written.
    let again = scan(&store, &ladders, now(), false).await.unwrap();
    assert_eq!((again.read, total(&again)), (0, 0));
}

/// A scan killed mid-run (its Lambda invocation timed out, or was stopped) and run again: each
/// record's decision and notification are one transaction, so the second run finds the records
/// the first finished no longer due and does the rest: each reminder written exactly once.
#[tokio::test]
async fn a_scan_killed_mid_run_resumes_and_writes_each_reminder_once() {
    let store = relance_tests::fresh_store("scan-killed").await;
    let due = load(&store, 60, 300).await;
    let customers: std::collections::BTreeSet<_> = due.iter().map(|i| i.customer_id.clone()).collect();
    let written = |store: Store, customers: std::collections::BTreeSet<CustomerId>| async move {
        let mut n = 0;
        for customer in &customers {
            n += notifications_of(&store, customer).await.len();
        }
        n
    };
    let ladders = Ladders::default();
    // The first run goes through the fault proxy with every DynamoDB call delayed, so that it
    // is surely in the middle of its work when it is killed: once its first reminders have
    // landed (a fixed five seconds once saw none land on a loaded machine).
    let slow = relance_tests::faults::FaultProxy::start(&relance_tests::moto_url(), 1, &[relance_tests::faults::Fault::Delay], 7).await;
    let slow_store = slow.store(store.table()).await;
    let running = {
        let ladders = ladders.clone();
        tokio::spawn(async move { scan(&slow_store, &ladders, now(), false).await })
    };
    for _ in 0..300 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if written(store.clone(), customers.clone()).await > 0 {
            break;
        }
    }
    running.abort();
    let _ = running.await;
    // Requests it had already sent still land (as they would in DynamoDB): wait until the
    // count stops moving.
    let mut at_kill = written(store.clone(), customers.clone()).await;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        let now_written = written(store.clone(), customers.clone()).await;
        if now_written == at_kill {
            break;
        }
        at_kill = now_written;
    }
    assert!((1..300).contains(&at_kill), "killed mid-run ({at_kill} written)");

    let resumed = scan(&store, &ladders, now(), false).await.unwrap();
    assert_eq!(at_kill + total(&resumed) as usize, 300, "the second run did exactly the rest: {resumed:?}");
    assert_eq!(written(store.clone(), customers.clone()).await, 300, "each reminder once");
    for invoice in &due {
        let stored: Invoice = store.get(&invoice.key()).await.unwrap().unwrap();
        assert_eq!(stored.follow_up.step, 2, "{} moved on exactly one step", invoice.id);
    }
}

#[tokio::test]
async fn two_scans_at_once_write_each_notification_once() {
    let store = relance_tests::fresh_store("scan-race").await;
    let due = load(&store, 40, 100).await;
    let ladders = Ladders::default();
    let (a, b) = tokio::join!(scan(&store, &ladders, now(), false), scan(&store, &ladders, now(), false));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(total(&a) + total(&b), 100, "between them the two scans decided each reminder once: {a:?} {b:?}");
    let mut stored = 0;
    for customer in due.iter().map(|i| i.customer_id.clone()).collect::<std::collections::BTreeSet<_>>() {
        stored += notifications_of(&store, &customer).await.len();
    }
    assert_eq!(stored, 100);
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let store = relance_tests::fresh_store("scan-dry").await;
    let due = load(&store, 4, 10).await;
    let report = scan(&store, &Ladders::default(), now(), true).await.unwrap();
    assert_eq!(report.would_write.len(), 10);
    assert!(report.would_write.iter().all(|n| n.kind == "invoice_overdue"));
    for invoice in &due {
        assert!(notifications_of(&store, &invoice.customer_id).await.is_empty());
        let stored: Invoice = store.get(&invoice.key()).await.unwrap().unwrap();
        assert_eq!(stored.follow_up, invoice.follow_up);
    }
}

#[tokio::test]
async fn at_night_everything_waits_for_the_morning() {
    let store = relance_tests::fresh_store("scan-night").await;
    let due = load(&store, 2, 10).await;
    // 23:30 in Paris.
    let night: DateTime<Utc> = "2026-11-25T22:30:00Z".parse().unwrap();
    let report = scan(&store, &Ladders::default(), night, false).await.unwrap();
    assert_eq!(total(&report), 0);
    assert_eq!(report.held.get("quiet hours"), Some(&10));
    let stored: Invoice = store.get(&due[0].key()).await.unwrap().unwrap();
    assert_eq!(stored.follow_up.next_action_at, Some("2026-11-26T07:00:00Z".parse().unwrap()));
    // The morning scan sends them.
    let morning = scan(&store, &Ladders::default(), "2026-11-26T07:05:00Z".parse().unwrap(), false).await.unwrap();
    assert_eq!(total(&morning), 10);
}

#[tokio::test]
async fn the_demo_business_gets_the_expected_mix_of_reminders() {
    let store = relance_tests::fresh_store("scan-demo").await;
    let ladders = relance_local::seed::demo_ladders();
    let seeded = relance_local::seed::seed(&store, &ladders, now()).await.unwrap();
    let report = scan(&store, &ladders, now(), false).await.unwrap();
    assert_eq!(report.read as usize, seeded.due_now);
    for kind in ["invoice_overdue", "payment_failed", "card_expiring", "card_expired", "renewal_upcoming", "date_rule", "internal"] {
        assert!(report.notifications.get(kind).copied().unwrap_or(0) > 0, "no {kind} in {report:?}");
    }
    assert!(report.held.contains_key("customer paused") || report.held.contains_key("invoice paused"), "{report:?}");
    assert!(report.held.contains_key("disputed"), "{report:?}");
    // Nothing is decided twice.
    let again = scan(&store, &ladders, now(), false).await.unwrap();
    assert_eq!(total(&again), 0, "{again:?}");
}

/// A date rule added after customers were written: the backfill schedules it for them
/// (reading customers through the ledger index), and the next scan sends it, once.
#[tokio::test]
async fn a_new_date_rule_is_backfilled_over_existing_customers() {
    let store = relance_tests::fresh_store("backfill").await;
    let mut with_date = Vec::new();
    for i in 0..30 {
        let mut c = customer(i);
        if i % 3 == 0 {
            c.custom_dates.insert("lease_start".into(), chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
            with_date.push(c.id.clone());
        }
        store.insert(&mut c).await.unwrap();
    }
    let mut ladders = relance::schedule::Ladders::default();
    ladders.date_rules.push(relance::schedule::DateRule {
        name: "lease-80".into(),
        date_field: "lease_start".into(),
        offset_days: 80,
        audience_tag: None,
        audience_list: None,
        audience_role: None,
        notify_team: false,
        ..Default::default()
    });
    let context = scan::ScanContext {
        ingest: relance::ingest::Ingest::new(store.clone(), Default::default(), Default::default()),
        store: store.clone(),
        holded: None,
        settings: relance::settings::LiveSettings::fixed(ladders.clone(), Default::default()),
    };
    let before: DateTime<Utc> = "2026-11-10T10:00:00Z".parse().unwrap();
    let dry = scan::handle(&context, serde_json::json!({"backfill": "date_rules", "now": before, "dry_run": true}), before).await.unwrap();
    assert_eq!(dry.backfill.as_ref().map(|b| (b.read, b.rescheduled)), Some((30, 10)));
    let done = scan::handle(&context, serde_json::json!({"backfill": "date_rules", "now": before}), before).await.unwrap();
    assert_eq!(done.backfill.map(|b| (b.read, b.rescheduled, b.conflicts)), Some((30, 10, 0)));
    let again = scan::handle(&context, serde_json::json!({"backfill": "date_rules", "now": before}), before).await.unwrap();
    assert_eq!(again.backfill.map(|b| b.rescheduled), Some(0), "nothing left to schedule");
    // 1 Sep + 80 days = 20 Nov, 09:00 in Paris.
    let due: DateTime<Utc> = "2026-11-20T09:00:00Z".parse().unwrap();
    let report = scan(&store, &ladders, due, false).await.unwrap();
    assert_eq!(report.notifications.get("date_rule"), Some(&10));
    assert!(scan::handle(&context, serde_json::json!({"backfill": "everything"}), before).await.is_err());
}

/// A design property, not a timing: the customers of a page of the due index are read in one
/// call, not one each, so the scan costs one transaction per reminder and a share of a page.
#[tokio::test]
async fn a_page_of_due_invoices_reads_its_customers_together() {
    use chrono::{Duration, TimeZone, Utc};
    use relance::domain::*;
    let recorder = relance_tests::calls::Recorder::start(&relance_tests::moto_url()).await;
    let direct = relance_tests::fresh_store("scan-calls").await;
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let mut load = relance::store::BulkLoad::new();
    for i in 0..40 {
        let id = CustomerId::parse(&format!("calls-{i:02}")).unwrap();
        let mut customer =
            Customer::new(id.clone(), format!("Client {i}"), Locale::french(), chrono_tz::Europe::Paris, now - Duration::days(400));
        customer.email = Some(Email::parse(&format!("calls{i}@example.org")).unwrap());
        let mut invoice = Invoice::open(
            InvoiceId::parse(&format!("calls-{i:02}")).unwrap(),
            id,
            InvoiceNumber::parse(&format!("C-{i:02}")).unwrap(),
            Money::from_minor(4_900, Currency::EUR),
            now - Duration::days(30),
            now.date_naive() + Duration::days(3),
        );
        invoice.follow_up.schedule(now - Duration::hours(1));
        load.add(&mut customer).unwrap();
        load.add(&mut invoice).unwrap();
    }
    direct.write_bulk(load).await.unwrap();
    let store = relance::store::Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), direct.table());
    recorder.clear();
    let report = scan::run::scan(&store, &relance::schedule::Ladders::default(), now, false).await.unwrap();
    assert_eq!(report.notifications.values().sum::<u32>(), 40);
    let counts = recorder.counts();
    assert_eq!(counts.get("dynamodb:GetItem"), None, "no customer read alone: {counts:?}");
    assert_eq!(counts["dynamodb:TransactWriteItems"], 40);
    assert!(counts["dynamodb:BatchGetItem"] <= u64::from(relance::store::DUE_SHARDS), "one per shard's page: {counts:?}");
}
