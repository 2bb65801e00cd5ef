//! What the system keeps and what it lets slip, over a full demo run: the demo business seeded,
//! deliveries from every provider (good, forged and malformed), a scan, every notification
//! dispatched, the portal read. The logs of all of it hold no secret, email address, phone
//! number or card number; and only the items meant to expire carry the table's TTL attribute.
//!
//! The log capture is this test's thread's default subscriber, not the process's: the other
//! tests of the binary run on other threads at the same time, and their lines are not this
//! run's. (`#[tokio::test]` runs the test and every task it spawns on that one thread.)

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};

use relance::ingest::Ingest;
use relance::providers::{braintree, generic, shopify, stripe};
use relance::secrets::{self, BraintreeKeys, Secrets};
use relance::store::Key;
use relance_tests::{fixture, now};
use serde_json::json;

const STRIPE_SECRET: &str = "whsec_logscan_7f3a9c";
const SHOPIFY_SECRET: &str = "shpss_logscan_51be02";
const GENERIC_SECRET: &str = "relance_logscan_c0ffee";
const BRAINTREE_PRIVATE: &str = "bt_private_logscan_9d1e";
const JWT_SECRET: &str = "jwt_logscan_secret_44aa";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn secrets() -> Secrets {
    relance_tests::secrets(&[
        (secrets::STRIPE_WEBHOOK_SECRET, STRIPE_SECRET),
        (secrets::SHOPIFY_WEBHOOK_SECRET, SHOPIFY_SECRET),
        (secrets::RELANCE_WEBHOOK_SECRET, GENERIC_SECRET),
        (secrets::BRAINTREE_PUBLIC_KEY, "bt_public_logscan"),
        (secrets::BRAINTREE_PRIVATE_KEY, BRAINTREE_PRIVATE),
    ])
}

async fn post(router: &axum::Router, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> u16 {
    relance_tests::post(router, path, headers, body).await.status
}

fn refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// Every item of the table (a test's look at everything; no request path scans).
async fn all_items(store: &relance::store::Store) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = store.client().scan().table_name(store.table()).set_exclusive_start_key(start).send().await.unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// What kind of item this is: its record type, or for the store's own items their key prefix.
fn kind_of(item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> String {
    if let Some(kind) = item.get("type").and_then(|v| v.as_s().ok()) {
        return kind.clone();
    }
    let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    format!("{} / {}", pk.split('#').next().unwrap_or_default(), sk.split('#').next().unwrap_or_default())
}

#[tokio::test]
async fn a_demo_run_logs_no_contact_detail_or_secret_and_only_deliveries_expire() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(move || writer.clone())
        .finish();
    let _capturing = tracing::subscriber::set_default(subscriber);
    // tracing caches each log line's interest process-wide. With one registered subscriber
    // (this one), a line another test's thread logs first is judged by *that* thread's
    // default, which is none, and cached as "never": the capture then missed scan's and
    // dispatch's lines whenever `functions::` ran alongside. A second registered subscriber
    // (one that wants nothing) makes tracing combine them and ask each thread at log time.
    let _ask_each_thread = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());

    // A line that must be caught: proves the capture and the patterns work.
    tracing::info!(probe = "probe.logscan@example.org", phone = "+33600000000", "log scan probe");

    let store = relance_tests::fresh_store("data-safety").await;
    let seeded = relance_local::seed::seed(&store, &relance_local::seed::demo_ladders(), now()).await.unwrap();
    assert!(seeded.due_now > 0);

    // Deliveries from every provider: good ones, a forged one and a malformed one each.
    let hooks = relance_tests::webhook_router(Ingest::new(store.clone(), Default::default(), Default::default()), secrets());
    let t = now().timestamp();
    let invoice = json!({
        "id": "evt_log_1", "object": "event", "type": "invoice.payment_failed", "created": t - 60,
        "data": {"object": {
            "id": "in_log_1", "object": "invoice", "customer": "cus_log_1", "customer_email": "paul.logscan@example.org",
            "customer_name": "Paul Logscan", "customer_phone": "+33612349876", "number": "LOG-0001", "currency": "eur",
            "amount_due": 12000, "amount_paid": 0, "status": "open", "created": t - 86_400, "due_date": t + 86_400 * 10,
            "next_payment_attempt": null,
        }},
    });
    let body = serde_json::to_vec(&invoice).unwrap();
    let stripe_json = [("content-type", "application/json")];
    let mut statuses = BTreeMap::new();
    let header = stripe::sign(&body, STRIPE_SECRET, t);
    statuses.insert("stripe", post(&hooks, "/webhooks/stripe", &[("stripe-signature", &header), stripe_json[0]], body.clone()).await);
    let forged = stripe::sign(&body, "whsec_guess", t);
    statuses
        .insert("stripe forged", post(&hooks, "/webhooks/stripe", &[("stripe-signature", &forged), stripe_json[0]], body.clone()).await);
    let junk = b"{\"customer_email\": \"junk.logscan@example.org\", \"card\": \"4242424242424242\"".to_vec();
    let header = stripe::sign(&junk, STRIPE_SECRET, t);
    statuses.insert("stripe malformed", post(&hooks, "/webhooks/stripe", &[("stripe-signature", &header), stripe_json[0]], junk).await);

    let keys = BraintreeKeys { public_key: "bt_public_logscan".into(), private_key: BRAINTREE_PRIVATE.into() };
    let payload = String::from_utf8(fixture("braintree_sample_subscription_charged_unsuccessfully.bt_payload.txt")).unwrap();
    let form = |signature: &str| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("bt_signature", signature)
            .append_pair("bt_payload", &payload)
            .finish()
            .into_bytes()
    };
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    statuses.insert("braintree", post(&hooks, "/webhooks/braintree", &[form_type], form(&braintree::sign(&payload, &keys))).await);
    statuses.insert("braintree forged", post(&hooks, "/webhooks/braintree", &[form_type], form("bt_public_logscan|00ff")).await);

    let order = fixture("shopify_order_1073459976_paid.unwrapped.json");
    let hmac = shopify::sign(&order, SHOPIFY_SECRET);
    let shopify_headers = |hmac: &str| -> Vec<(String, String)> {
        [
            ("x-shopify-hmac-sha256", hmac),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", "log-1"),
            ("content-type", "application/json"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    };
    statuses.insert("shopify", post(&hooks, "/webhooks/shopify", &refs(&shopify_headers(&hmac)), order.clone()).await);
    statuses.insert("shopify forged", post(&hooks, "/webhooks/shopify", &refs(&shopify_headers("AAAA")), order).await);

    let document = json!({
        "id": "erp-log-0001", "occurred_at": "2026-11-25T08:00:00Z",
        "customers": [{"id": "C-LOG", "name": "Anne Logscan", "email": "anne.logscan@example.org", "phone": "06 12 34 00 11", "country": "FR"}],
        "invoices": [{"id": "F-LOG-1", "customer_id": "C-LOG", "number": "F-LOG-1", "currency": "EUR", "amount_due": "45.00",
                      "amount_paid": "0.00", "status": "open", "issued_at": "2026-11-01T09:00:00Z", "due_date": "2026-12-10"}],
        "payments": [{"id": "P-LOG", "customer_id": "C-LOG", "invoice_id": "F-LOG-1", "currency": "EUR", "amount": "45.00",
                      "status": "failed", "failure_reason": "insufficient_funds"}]
    });
    let body = serde_json::to_vec(&document).unwrap();
    let header = generic::sign(&body, GENERIC_SECRET, t);
    statuses.insert("generic", post(&hooks, "/webhooks/generic", &[("relance-signature", &header), stripe_json[0]], body).await);
    assert_eq!(statuses["stripe"], 200, "{statuses:?}");
    assert_eq!((statuses["stripe forged"], statuses["braintree forged"], statuses["shopify forged"]), (401, 401, 401), "{statuses:?}");
    assert_eq!(statuses["stripe malformed"], 400, "{statuses:?}");
    assert_eq!((statuses["braintree"], statuses["shopify"], statuses["generic"]), (200, 200, 200), "{statuses:?}");

    // The scan, then dispatch of everything it wrote.
    let report = scan::run::scan(&store, &relance_local::seed::demo_ladders(), now(), false).await.unwrap();
    assert!(report.notifications.values().sum::<u32>() > 0, "{report:?}");
    let notifications: Vec<Key> = all_items(&store)
        .await
        .iter()
        .filter(|item| item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.starts_with("NOTIFICATION#")))
        .map(|item| Key { pk: item["pk"].as_s().unwrap().clone(), sk: item["sk"].as_s().unwrap().clone() })
        .collect();
    let context = relance_tests::dispatch_context(store.clone()).await;
    for batch in notifications.chunks(10) {
        dispatch::handle(&context, relance_tests::stream_batch(batch)).await;
    }

    // The portal, as a member and an admin.
    let portal = portal::router(relance_local::server::local_portal(store.clone(), JWT_SECRET).unwrap());
    for (user, role) in [("demo-0002", "member"), ("admin", "admin")] {
        let token = portal::auth::local_token(JWT_SECRET, user, None, &[role], 1).unwrap();
        for path in ["/me", "/me/invoices", "/admin/notifications", "/admin/kpis?from=2026-01-01&to=2026-12-01"] {
            relance_tests::call(&portal, "GET", path, &token, None).await;
        }
    }

    // The logs: what a demo run wrote, line by line.
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.len() > 20, "the run logged ({} lines): {logs}", lines.len());
    let email = regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap();
    let phone = regex::Regex::new(r"\+\d{9,15}|\b0[1-9](?:[ .]?\d{2}){4}\b").unwrap();
    let card = regex::Regex::new(r"\b(?:\d[ -]?){13,19}\b").unwrap();
    let luhn = |digits: &str| {
        let digits: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| {
                if i % 2 == 1 {
                    let x = d * 2;
                    if x > 9 { x - 9 } else { x }
                } else {
                    *d
                }
            })
            .sum();
        digits.len() >= 13 && sum.is_multiple_of(10)
    };
    let mut leaks = Vec::new();
    for line in &lines {
        let mut found = |what: String| leaks.push(format!("{what}: {line}"));
        for secret in [STRIPE_SECRET, SHOPIFY_SECRET, GENERIC_SECRET, BRAINTREE_PRIVATE, JWT_SECRET] {
            if line.contains(secret) {
                found(format!("secret {secret}"));
            }
        }
        if let Some(m) = email.find(line) {
            found(format!("email {}", m.as_str()));
        }
        if let Some(m) = phone.find(line) {
            found(format!("phone {}", m.as_str()));
        }
        if let Some(m) = card.find_iter(line).find(|m| luhn(m.as_str())) {
            found(format!("card number {}", m.as_str()));
        }
        if line.contains("last4") || line.contains("last_four") {
            found("card digits".to_string());
        }
    }
    let probe: Vec<&String> = leaks.iter().filter(|l| l.contains("log scan probe")).collect();
    assert_eq!(probe.len(), 2, "the probe line is caught, for its email and its phone: {probe:?}");
    leaks.retain(|l| !l.contains("log scan probe"));
    assert!(leaks.is_empty(), "{} log lines give away what they should not:\n{}", leaks.len(), leaks.join("\n"));

    // Only the items meant to expire carry the TTL attribute.
    let mut expiring = BTreeSet::new();
    let mut kept = BTreeSet::new();
    for item in all_items(&store).await {
        if item.contains_key("expires_at") {
            expiring.insert(kind_of(&item));
        } else {
            kept.insert(kind_of(&item));
        }
    }
    // The archive of raw deliveries (90 days), their idempotency keys, and the customers'
    // timeline notes of them (400 days).
    let expected: BTreeSet<String> = ["Delivery", "IdempotencyKey", "ProviderDelivery"].into_iter().map(String::from).collect();
    assert_eq!(expiring, expected, "items with a TTL");
    for record in ["Customer", "Invoice", "Payment", "PaymentMethod", "Subscription", "Notification"] {
        assert!(kept.contains(record), "{record} items are kept for good ({kept:?})");
    }
}
