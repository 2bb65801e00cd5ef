//! Webhook deliveries while DynamoDB misbehaves: a fault-injecting proxy (relance_tests::faults)
//! sits between the webhook function's SDK client and moto and breaks one call in three —
//! dropped connections, delays, 500s, `ProvisionedThroughputExceededException`,
//! `ThrottlingException`, and connections reset after moto applied the write. Each delivery is
//! retried the way providers do, until it is accepted. The table must end exactly as a run
//! without faults left it: nothing lost, nothing applied twice; and no fault may ever be
//! answered as the sender's mistake (a 4xx would make a provider give up on the delivery).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use relance::domain::*;
use relance::ingest::Ingest;
use relance::providers::stripe;
use relance::secrets;
use relance::store::{Key, Record, Store};
use relance_tests::faults::{Fault, FaultProxy};
use relance_tests::now;
use serde_json::{Value, json};

const SECRET: &str = "whsec_chaos";
const INVOICES: usize = 30;

/// The deliveries of a month for `INVOICES` invoices: finalized, a failed payment for half of
/// them, paid for a third; a fifth delivered twice; in a shuffled order (seeded).
fn deliveries() -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for i in 0..INVOICES {
        let invoice = |status: &str, paid: i64| {
            json!({"id": format!("in_chaos_{i}"), "object": "invoice", "customer": format!("cus_chaos_{i}"),
                   "customer_email": format!("chaos{i}@example.org"), "customer_name": format!("Client {i}"),
                   "number": format!("CH-{i:04}"), "currency": "eur", "amount_due": 10_000 + i as i64 * 100,
                   "amount_paid": paid, "status": status, "created": 1_763_000_000, "due_date": 1_798_675_200,
                   "next_payment_attempt": null})
        };
        let event = |n: usize, kind: &str, at: i64, object: Value| json!({"id": format!("evt_chaos_{i}_{n}"), "object": "event", "type": kind, "created": at, "data": {"object": object}});
        events.push(event(0, "invoice.finalized", 1_763_100_000, invoice("open", 0)));
        if i % 2 == 0 {
            events.push(event(1, "invoice.payment_failed", 1_763_200_000, invoice("open", 0)));
        }
        if i % 3 == 0 {
            events.push(event(2, "invoice.paid", 1_763_300_000, invoice("paid", 10_000 + i as i64 * 100)));
        }
    }
    let mut bodies: Vec<Vec<u8>> = events.iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
    let duplicates: Vec<Vec<u8>> = bodies.iter().step_by(5).cloned().collect();
    bodies.extend(duplicates);
    // The same order in both runs.
    relance_tests::faults::shuffle(&mut bodies, 0x9e37_79b9_7f4a_7c15);
    bodies
}

fn router(store: Store) -> axum::Router {
    relance_tests::webhook_router(
        Ingest::new(store, Default::default(), Default::default()),
        relance_tests::secrets(&[(secrets::STRIPE_WEBHOOK_SECRET, SECRET)]),
    )
}

/// Delivers every body, each retried until accepted; returns the attempts made and every
/// status seen.
async fn deliver_all(router: &axum::Router) -> (usize, BTreeMap<u16, usize>) {
    let mut attempts = 0;
    let mut statuses = BTreeMap::new();
    for body in deliveries() {
        let header = stripe::sign(&body, SECRET, now().timestamp());
        for _ in 0..50 {
            attempts += 1;
            let status = relance_tests::post(router, "/webhooks/stripe", &[("stripe-signature", &header)], body.clone()).await.status;
            *statuses.entry(status).or_default() += 1;
            if status < 300 {
                break;
            }
            assert!(status >= 500, "a fault was answered {status}: the provider would drop the delivery");
        }
    }
    (attempts, statuses)
}

/// What the run left: each invoice's state, and the notifications queued for its customer.
async fn state_of(store: &Store) -> BTreeMap<String, (String, i64, u64, Option<DateTime<Utc>>, Vec<String>)> {
    let mut state = BTreeMap::new();
    for i in 0..INVOICES {
        let reference = ProviderRef::new(Provider::Stripe, format!("in_chaos_{i}")).unwrap();
        let key = store.find_by_provider_ref("Invoice", &reference).await.unwrap().expect("every invoice arrived");
        let invoice: Invoice = store.get(&key).await.unwrap().unwrap();
        let partition = Key::customer_partition(&invoice.customer_id);
        let mut notifications: Vec<String> = store
            .list_all::<Notification>(&partition)
            .await
            .unwrap()
            .iter()
            .map(|n| format!("{} step {} {:?}", n.kind.as_str(), n.step, n.status))
            .collect();
        notifications.sort();
        let customers = store.list_all::<Customer>(&partition).await.unwrap().len();
        assert_eq!(customers, 1, "one customer record for in_chaos_{i}");
        state.insert(
            format!("in_chaos_{i}"),
            (
                format!("{:?}", invoice.status),
                invoice.amount_paid.minor_units(),
                invoice.version,
                invoice.follow_up.next_action_at,
                notifications,
            ),
        );
    }
    state
}

#[tokio::test]
async fn deliveries_through_a_failing_dynamodb_end_as_without_faults() {
    // Without faults: the reference.
    let calm = relance_tests::fresh_store("chaos-calm").await;
    let (calm_attempts, _) = deliver_all(&router(calm.clone())).await;
    let expected = state_of(&calm).await;
    assert_eq!(calm_attempts, deliveries().len(), "without faults every delivery is accepted at once");

    // One DynamoDB call in three broken, every kind of fault.
    let chaotic = relance_tests::fresh_store("chaos-faults").await;
    let proxy = FaultProxy::start(&relance_tests::moto_url(), 3, &Fault::ALL, 20261126).await;
    let (attempts, statuses) = deliver_all(&router(proxy.store(chaotic.table()).await)).await;
    let log = proxy.log();
    println!(
        "{} deliveries, {attempts} attempts, statuses {statuses:?}; {} DynamoDB calls, faults {:?}",
        deliveries().len(),
        log.calls,
        log.injected
    );
    for fault in Fault::ALL {
        assert!(log.injected.get(&format!("{fault:?}")).copied().unwrap_or(0) > 0, "{fault:?} was injected");
    }
    assert!(attempts > deliveries().len(), "some deliveries had to be retried");

    assert_eq!(state_of(&chaotic).await, expected, "the same final state as without faults");
}

/// Dispatch while DynamoDB misbehaves the same way (SES answers normally): every reminder is
/// sent exactly once, however its reads, its claim and its record fare. Batches are delivered
/// again for the records dispatch reports failed, as Lambda does.
#[tokio::test]
async fn dispatch_through_a_failing_dynamodb_sends_each_reminder_exactly_once() {
    let store = relance_tests::fresh_store("chaos-dispatch").await;
    let mut customers = Vec::new();
    let mut keys = Vec::new();
    let run = relance_tests::unique();
    for i in 0..24 {
        let mut customer =
            relance_tests::customer(&format!("chaos-{run}-{i}"), format!("Client {i}"), Some(&format!("chaos-{run}-{i}@example.org")));
        let mut invoice = relance_tests::invoice(&customer.id, &format!("chaos-{run}-{i}"), &format!("CH-{i}"), 9_000);
        keys.push(relance_tests::insert_overdue(&store, &mut customer, &mut invoice).await.key());
        customers.push(customer);
    }
    let proxy = FaultProxy::start(&relance_tests::moto_url(), 3, &Fault::ALL, 4242).await;
    let context = relance_tests::dispatch_context(proxy.store(store.table()).await).await;
    let mut pending = keys.clone();
    let mut rounds = 0;
    while !pending.is_empty() && rounds < 30 {
        rounds += 1;
        let response = dispatch::handle(&context, relance_tests::stream_batch(&pending)).await;
        let failed: std::collections::BTreeSet<String> =
            response.batch_item_failures.iter().filter_map(|f| f.item_identifier.clone()).collect();
        let batch = relance_tests::stream_batch(&pending);
        pending = batch
            .records
            .iter()
            .zip(&pending)
            .filter(|(record, _)| record.change.sequence_number.as_ref().is_some_and(|s| failed.contains(s)))
            .map(|(_, key)| key.clone())
            .collect();
    }
    let log = proxy.log();
    let emails = relance_tests::sent_emails().await;
    let mut statuses = BTreeMap::new();
    for (customer, key) in customers.iter().zip(&keys) {
        let to = customer.email.as_ref().unwrap().as_str();
        let received = emails.iter().filter(|m| m["destinations"]["ToAddresses"][0] == to).count();
        assert_eq!(received, 1, "{to} got {received} emails");
        let stored: Notification = store.get(key).await.unwrap().unwrap();
        *statuses.entry(format!("{:?}", stored.status)).or_insert(0usize) += 1;
    }
    println!("{} reminders in {rounds} rounds; {} DynamoDB calls, faults {:?}; statuses {statuses:?}", keys.len(), log.calls, log.injected);
    assert!(log.injected.len() >= 5, "most kinds of fault were injected: {:?}", log.injected);
    assert_eq!(statuses.get("Sent"), Some(&keys.len()), "every outcome recorded: {statuses:?}");
}

/// A file import while DynamoDB misbehaves the same way: the admin imports the file again
/// on any 5xx, as the answer tells them to. The table ends as an import without faults left
/// it: every customer and invoice written once, each with one creation in its audit trail
/// (a transaction applied but answered as failed is planned again, and finds its rows done).
#[tokio::test]
async fn an_import_through_a_failing_dynamodb_writes_each_row_once() {
    use axum::body::Body;
    use axum::http::Request;
    let run = relance_tests::unique();
    let mut customers = String::from("id,name,email\n");
    let mut invoices = String::from("id,customer_id,number,currency,amount_due,issued_at,due_date\n");
    for i in 0..240 {
        customers.push_str(&format!("imp-{run}-{i},Client {i},imp-{run}-{i}@example.org\n"));
        if i % 3 == 0 {
            invoices.push_str(&format!("inv-{run}-{i},imp-{run}-{i},F-{i},EUR,{}.50,2026-11-02,2026-11-30\n", 10 + i));
        }
    }
    let admin = relance_tests::token("u-admin", &["admin"]);
    let import = |router: axum::Router, path: &'static str, file: String| {
        let admin = admin.clone();
        async move {
            let request = Request::post(path)
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "text/csv")
                .body(Body::from(file))
                .unwrap();
            relance_tests::send(&router, request).await
        }
    };
    let store = relance_tests::fresh_store("chaos-import").await;
    // The first ten are known already, without an email, each with a notice held for want of
    // one: the file's address sends it, once, whatever the faults.
    let mut held_notices = Vec::new();
    for i in 0..10 {
        let mut customer = relance_tests::customer(&format!("imp-{run}-{i}"), format!("Client {i}"), None);
        store.insert(&mut customer).await.unwrap();
        let mut invoice = relance_tests::invoice(&customer.id, &format!("held-{run}-{i}"), &format!("H-{i}"), 5_000);
        store.insert(&mut invoice).await.unwrap();
        let mut held = relance_tests::overdue_notice(&invoice, 1);
        held.hold("no email and no mobile").unwrap();
        store.insert(&mut held).await.unwrap();
        held_notices.push(customer.id);
    }
    let proxy = FaultProxy::start(&relance_tests::moto_url(), 3, &Fault::ALL, 2026).await;
    let chaotic = portal::router(relance_tests::portal_state(&proxy.store(store.table()).await));
    let mut statuses = BTreeMap::new();
    for (path, file) in [("/admin/import/customers", &customers), ("/admin/import/invoices", &invoices)] {
        let mut done = false;
        for _ in 0..40 {
            let answer = import(chaotic.clone(), path, file.clone()).await;
            *statuses.entry(answer.status).or_insert(0) += 1;
            assert!(answer.status == 200 || answer.status >= 500, "a fault is never the file's fault: {} {}", answer.status, answer.text());
            if answer.status == 200 {
                done = true;
                break;
            }
        }
        assert!(done, "{path} imported within 40 tries: {statuses:?}");
    }
    let log = proxy.log();
    println!("import statuses {statuses:?}; {} DynamoDB calls, faults {:?}", log.calls, log.injected_into);
    // The seed is chosen so that a transaction of rows is applied and answered as failed.
    assert!(log.injected_into.get("ResetMidResponse TransactWriteItems").copied().unwrap_or(0) > 0, "{:?}", log.injected_into);

    // Read back without faults: every row once, as the file says, created once.
    let calm = portal::router(relance_tests::portal_state(&store));
    for i in 0..240 {
        let id = CustomerId::parse(&format!("imp-{run}-{i}")).unwrap();
        let customer: Customer = store.get(&Key::customer(&id)).await.unwrap().unwrap_or_else(|| panic!("customer {i} was lost"));
        assert_eq!(customer.email.as_ref().map(|e| e.as_str().to_string()), Some(format!("imp-{run}-{i}@example.org")));
        let (_, audit) = relance_tests::call(&calm, "GET", &format!("/admin/audit?record=Customer/{id}"), &admin, None).await;
        assert_eq!(audit["entries"].as_array().map(Vec::len), Some(1), "customer {i}: one creation or change, {audit}");
        if i % 3 == 0 {
            let invoice: Invoice = store.get_by_id(&format!("inv-{run}-{i}")).await.unwrap().unwrap_or_else(|| panic!("invoice {i} lost"));
            assert_eq!(invoice.amount_due, Money::from_minor(1_050 + 100 * i as i64, Currency::EUR));
        }
    }
    // Each held notice is sent once (a copy, the original naming it) or, when the store kept
    // failing, still held where the follow-up list shows it: never twice, never lost.
    let mut released = 0;
    for id in &held_notices {
        let notes: Vec<Notification> = store.list_all(&Key::customer_partition(id)).await.unwrap();
        let statuses: Vec<(NotificationStatus, bool)> = notes.iter().map(|n| (n.status, n.resent_as.is_some())).collect();
        if statuses.len() == 2 {
            let once = statuses.contains(&(NotificationStatus::Pending, false)) && statuses.contains(&(NotificationStatus::Skipped, true));
            assert!(once, "{id}: {statuses:?}");
            released += 1;
        } else {
            assert_eq!(statuses, [(NotificationStatus::Held, false)], "{id}: never two copies, never lost");
        }
    }
    println!("{released} of {} held notices sent through the faults", held_notices.len());
    assert!(released > 0, "the faults let some through");
}
