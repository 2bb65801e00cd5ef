//! The webhook function end to end: HTTP requests into the router, the real DynamoDB SDK
//! against moto behind it, and the table's final state asserted after each scenario.

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, NaiveDate, Utc};
use relance::domain::*;
use relance::ingest::{ArchivedDelivery, Ingest};
use relance::providers::{braintree, generic, shopify, stripe};
use relance::secrets::{self, BraintreeKeys, Secrets};
use relance::store::{DUE_SHARDS, Key, Record, Store};
use relance_tests::{fixture, now};
use serde_json::{Value, json};

const STRIPE_SECRET: &str = "whsec_test_current";
const STRIPE_OLD_SECRET: &str = "whsec_test_previous";
const SHOPIFY_SECRET: &str = "test_secret_key";
const GENERIC_SECRET: &str = "relance_test_secret";

fn secrets() -> Secrets {
    let stripe = format!("{STRIPE_SECRET},{STRIPE_OLD_SECRET}");
    relance_tests::secrets(&[
        (secrets::STRIPE_WEBHOOK_SECRET, stripe.as_str()),
        (secrets::SHOPIFY_WEBHOOK_SECRET, SHOPIFY_SECRET),
        (secrets::RELANCE_WEBHOOK_SECRET, GENERIC_SECRET),
        (secrets::BRAINTREE_PUBLIC_KEY, "integration_public_key"),
        (secrets::BRAINTREE_PRIVATE_KEY, "integration_private_key"),
    ])
}

/// The webhook function on a fresh table, on the tests' clock: signatures, archive dates and
/// replays use that instant, so no test depends on when (or across which midnight) it runs.
struct Harness {
    store: Store,
    router: axum::Router,
}

impl Harness {
    async fn new(test: &str) -> Harness {
        let store = relance_tests::fresh_store(test).await;
        let router = relance_tests::webhook_router(Ingest::new(store.clone(), Default::default(), Default::default()), secrets());
        Harness { store, router }
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
        let answer = relance_tests::post(&self.router, path, headers, body).await;
        (answer.status, answer.json())
    }

    /// A Shopify delivery of `topic`, signed, with the headers Shopify sends.
    async fn shopify(&self, webhook_id: &str, topic: &str, body: Vec<u8>) -> (u16, Value) {
        let hmac = shopify::sign(&body, SHOPIFY_SECRET);
        let headers = [
            ("x-shopify-hmac-sha256", hmac.as_str()),
            ("x-shopify-topic", topic),
            ("x-shopify-webhook-id", webhook_id),
            ("x-shopify-shop-domain", "potagers.myshopify.com"),
            ("x-shopify-triggered-at", "2026-11-25T09:00:00Z"),
        ];
        self.post("/webhooks/shopify", &headers, body).await
    }

    async fn stripe(&self, event: &Value) -> (u16, Value) {
        self.stripe_signed(event, STRIPE_SECRET, now().timestamp()).await
    }

    async fn stripe_signed(&self, event: &Value, secret: &str, t: i64) -> (u16, Value) {
        let body = serde_json::to_vec(event).unwrap();
        let header = stripe::sign(&body, secret, t);
        self.post("/webhooks/stripe", &[("stripe-signature", &header), ("content-type", "application/json")], body).await
    }

    async fn record<R: Record>(&self, record_type: &str, provider: Provider, id: &str) -> Option<R> {
        let reference = ProviderRef::new(provider, id).unwrap();
        let key = self.store.find_by_provider_ref(record_type, &reference).await.unwrap()?;
        self.store.get(&key).await.unwrap()
    }

    async fn invoice(&self, id: &str) -> Invoice {
        self.record("Invoice", Provider::Stripe, id).await.expect("the invoice was recorded")
    }

    /// Every key in the due index, whenever due.
    async fn due(&self) -> Vec<Key> {
        let far_future: DateTime<Utc> = "2100-01-01T00:00:00Z".parse().unwrap();
        let mut keys = Vec::new();
        for shard in 0..DUE_SHARDS {
            keys.extend(self.store.due_page(&format!("{shard:02}"), far_future, None, 100).await.unwrap().items.into_iter().map(|i| i.key));
        }
        keys
    }

    async fn archived(&self, provider: Provider) -> Vec<ArchivedDelivery> {
        let pk = ArchivedDelivery::partition(provider, now().date_naive());
        self.store.list::<ArchivedDelivery>(&pk, None, 100).await.unwrap().records
    }
}

fn event(id: &str, kind: &str, created: &str, object: Value) -> Value {
    let created: DateTime<Utc> = created.parse().unwrap();
    json!({"id": id, "object": "event", "type": kind, "created": created.timestamp(), "data": {"object": object}})
}

fn stripe_invoice(status: &str, amount_paid: i64) -> Value {
    json!({
        "id": "in_1", "object": "invoice", "customer": "cus_1", "customer_email": "Marie@Example.org",
        "customer_name": "Marie Dupont", "number": "ABC-0001", "currency": "eur", "amount_due": 12000,
        "amount_paid": amount_paid, "status": status, "created": 1764000000, "due_date": 1798675200,
        "next_payment_attempt": null,
    })
}

#[tokio::test]
async fn an_invoice_from_finalized_to_failed_to_paid() {
    let h = Harness::new("wh-lifecycle").await;
    let (status, body) = h.stripe(&event("evt_1", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0))).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("applied")));

    let invoice = h.invoice("in_1").await;
    assert_eq!(invoice.status, InvoiceStatus::Open);
    assert_eq!(invoice.amount_due, Money::from_minor(12000, Currency::EUR));
    assert_eq!(invoice.number.as_str(), "ABC-0001");
    // Due 31 Dec 2026 (UTC date of the due instant): courtesy notice 3 days before at 09:00 Paris.
    assert_eq!(invoice.due_date, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
    assert_eq!(invoice.follow_up.next_action_at, Some("2026-12-28T08:00:00Z".parse().unwrap()));
    assert!(h.due().await.contains(&invoice.key()));
    assert_eq!(h.store.find_by_id::<Invoice>(invoice.id.as_str()).await.unwrap(), Some(invoice.key()), "findable by our id");
    let customer: Customer = h.record("Customer", Provider::Stripe, "cus_1").await.unwrap();
    assert_eq!(customer.email.as_ref().map(|e| e.as_str()), Some("Marie@example.org"));
    assert_eq!(customer.name, "Marie Dupont");

    let mut failed = stripe_invoice("open", 0);
    failed["next_payment_attempt"] = json!(1764300000);
    let (status, _) = h.stripe(&event("evt_2", "invoice.payment_failed", "2026-11-21T10:00:00Z", failed)).await;
    assert_eq!(status, 200);
    let invoice = h.invoice("in_1").await;
    assert_eq!(invoice.follow_up.next_action_at, Some("2026-11-21T10:00:00Z".parse().unwrap()), "the first reminder is due at once");
    assert!(invoice.autopay_retry_pending);

    let (status, _) = h.stripe(&event("evt_3", "invoice.paid", "2026-11-22T10:00:00Z", stripe_invoice("paid", 12000))).await;
    assert_eq!(status, 200);
    let invoice = h.invoice("in_1").await;
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.follow_up.next_action_at, None);
    assert!(!h.due().await.contains(&invoice.key()), "paying cancels pending reminders");
    assert_eq!(h.archived(Provider::Stripe).await.len(), 3);
    // Each delivery is on the customer's timeline with what it changed.
    let notes: Vec<ProviderDelivery> = h.store.list_all(&relance::store::Key::customer_partition(&customer.id)).await.unwrap();
    let seen: Vec<(&str, &str, Vec<String>)> = notes.iter().map(|d| (d.delivery_id.as_str(), d.kind.as_str(), d.changed.clone())).collect();
    assert_eq!(
        seen,
        [
            ("evt_1", "invoice.finalized", vec!["customer".to_string(), "invoice ABC-0001".to_string()]),
            ("evt_2", "invoice.payment_failed", vec!["invoice ABC-0001".to_string()]),
            ("evt_3", "invoice.paid", vec!["invoice ABC-0001".to_string()]),
        ]
    );
}

#[tokio::test]
async fn the_same_delivery_twice_changes_nothing_the_second_time() {
    let h = Harness::new("wh-duplicate").await;
    let delivery = event("evt_dup", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0));
    assert_eq!(h.stripe(&delivery).await.1["outcome"], "applied");
    let before = h.invoice("in_1").await;
    let (status, body) = h.stripe(&delivery).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("already_applied")));
    let after = h.invoice("in_1").await;
    assert_eq!(after.version, before.version);
    assert_eq!(after, before);
}

/// A design property, not a timing: a delivery reads what it names in two batched calls and
/// writes once (changes, idempotency key and archive together); a copy is refused from the
/// first read. Counted by a proxy in front of moto.
#[tokio::test]
async fn a_delivery_costs_three_dynamodb_calls_and_its_copy_one() {
    let recorder = relance_tests::calls::Recorder::start(&relance_tests::moto_url()).await;
    let table = relance_tests::fresh_store("wh-calls").await.table().to_string();
    let store = Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), table);
    let h = Harness {
        router: relance_tests::webhook_router(Ingest::new(store.clone(), Default::default(), Default::default()), secrets()),
        store,
    };
    h.stripe(&event("evt_calls_0", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0))).await;
    recorder.clear();
    let failed = event("evt_calls_1", "invoice.payment_failed", "2026-11-21T10:00:00Z", stripe_invoice("open", 0));
    assert_eq!(h.stripe(&failed).await.1["outcome"], "applied");
    let counts = recorder.counts();
    assert_eq!(counts, [("dynamodb:BatchGetItem".to_string(), 2), ("dynamodb:TransactWriteItems".to_string(), 1)].into(), "{counts:?}");
    recorder.clear();
    assert_eq!(h.stripe(&failed).await.1["outcome"], "already_applied");
    assert_eq!(recorder.counts(), [("dynamodb:BatchGetItem".to_string(), 1)].into());
    // Archived once, with the changes.
    let archived = h.archived(Provider::Stripe).await;
    assert_eq!(archived.iter().filter(|a| a.delivery_id == "evt_calls_1").count(), 1);
    assert_eq!(h.invoice("in_1").await.status, InvoiceStatus::Open);
}

#[tokio::test]
async fn an_older_failure_never_overwrites_a_payment() {
    let h = Harness::new("wh-order").await;
    h.stripe(&event("evt_paid", "invoice.paid", "2026-11-22T10:00:00Z", stripe_invoice("paid", 12000))).await;
    // The failure happened first but is delivered last; and one stamped the same second.
    let (status, _) = h.stripe(&event("evt_failed", "invoice.payment_failed", "2026-11-21T10:00:00Z", stripe_invoice("open", 0))).await;
    assert_eq!(status, 200);
    let (status, _) = h.stripe(&event("evt_same", "invoice.payment_failed", "2026-11-22T10:00:00Z", stripe_invoice("open", 0))).await;
    assert_eq!(status, 200);
    let invoice = h.invoice("in_1").await;
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.amount_paid, Money::from_minor(12000, Currency::EUR));
    assert_eq!(invoice.follow_up.next_action_at, None);
    assert!(h.due().await.is_empty());
}

#[tokio::test]
async fn bad_signatures_are_refused_and_write_nothing() {
    let h = Harness::new("wh-signatures").await;
    let delivery = event("evt_sig", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0));
    let body = serde_json::to_vec(&delivery).unwrap();
    let now = now().timestamp();

    // Tampered: signed, then changed.
    let header = stripe::sign(&body, STRIPE_SECRET, now);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (status, answer) = h.post("/webhooks/stripe", &[("stripe-signature", &header)], tampered).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_signature")));
    // Expired: a genuine signature from ten minutes ago.
    let (status, _) = h.stripe_signed(&delivery, STRIPE_SECRET, now - 600).await;
    assert_eq!(status, 401);
    // Unknown secret, missing header.
    assert_eq!(h.stripe_signed(&delivery, "whsec_attacker", now).await.0, 401);
    assert_eq!(h.post("/webhooks/stripe", &[], body.clone()).await.0, 401);

    assert!(h.record::<Invoice>("Invoice", Provider::Stripe, "in_1").await.is_none());
    assert!(h.archived(Provider::Stripe).await.is_empty(), "nothing unverified is archived");

    // The previous secret still works while it is rotated out.
    assert_eq!(h.stripe_signed(&delivery, STRIPE_OLD_SECRET, now).await.0, 200);
    assert!(h.record::<Invoice>("Invoice", Provider::Stripe, "in_1").await.is_some());
}

#[tokio::test]
async fn malformed_oversized_unknown_and_unrouted_deliveries() {
    let h = Harness::new("wh-edges").await;
    let now = now().timestamp();

    // Signed but not an event: 400, kept for inspection.
    let junk = b"{\"not\": \"an event\"}".to_vec();
    let header = stripe::sign(&junk, STRIPE_SECRET, now);
    let (status, answer) = h.post("/webhooks/stripe", &[("stripe-signature", &header)], junk).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("malformed_payload")));
    let archived = h.archived(Provider::Stripe).await;
    assert_eq!(archived.len(), 1);
    assert!(matches!(archived[0].outcome, relance::ingest::DeliveryOutcome::Malformed { .. }));
    assert_eq!(archived[0].body, "{\"not\": \"an event\"}");

    // A kind we do not act on: 200, recorded as ignored.
    let (status, answer) = h.stripe(&event("evt_plan", "plan.created", "2026-11-20T10:00:00Z", json!({"id": "plan_1"}))).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
    assert_eq!(h.archived(Provider::Stripe).await.len(), 2);

    // Over 1 MiB: 413 before anything is read.
    let huge = vec![b' '; webhook::MAX_BODY + 1];
    let header = stripe::sign(&huge, STRIPE_SECRET, now);
    let (status, answer) = h.post("/webhooks/stripe", &[("stripe-signature", &header)], huge).await;
    assert_eq!((status, answer["error"].as_str()), (413, Some("too_large")));

    let (status, answer) = h.post("/webhooks/paypal", &[], b"{}".to_vec()).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("unknown_provider")));
}

#[tokio::test]
async fn a_store_failure_is_a_5xx_so_the_provider_retries() {
    let store = relance_tests::store_without_table().await;
    let h = Harness {
        store: store.clone(),
        router: relance_tests::webhook_router(Ingest::new(store, Default::default(), Default::default()), secrets()),
    };
    let (status, _) = h.stripe(&event("evt_x", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0))).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn stripe_subscriptions_cards_and_charges() {
    let h = Harness::new("wh-stripe-more").await;
    let mut subscription: Value = serde_json::from_slice(&fixture("stripe_mock_subscription.json")).unwrap();
    subscription["status"] = "past_due".into();
    subscription["cancel_at_period_end"] = false.into();
    let (status, _) = h.stripe(&event("evt_s1", "customer.subscription.updated", "2026-11-20T10:00:00Z", subscription)).await;
    assert_eq!(status, 200);
    let sub: Subscription = h.record("Subscription", Provider::Stripe, "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw").await.unwrap();
    assert_eq!(sub.status, SubscriptionStatus::PastDue);
    // The failure notice comes with the failed invoice's invoice.payment_failed, not twice.
    assert!(!sub.follow_up.failure_pending);

    let mut pm: Value = serde_json::from_slice(&fixture("stripe_mock_payment_method.json")).unwrap();
    pm["customer"] = "cus_QXg1o8vcGmoR32".into();
    h.stripe(&event("evt_pm1", "payment_method.attached", "2026-11-20T11:00:00Z", pm.clone())).await;
    let card: PaymentMethod = h.record("PaymentMethod", Provider::Stripe, "pm_1Pgc75B7WZ01zgkWlHVgdEGJ").await.unwrap();
    assert_eq!((card.last4.as_str(), card.expiry), ("4242", CardExpiry::new(8, 2030).unwrap()));
    // Warned 30 days before the end of August 2030, at 09:00 in Paris.
    assert_eq!(card.follow_up.next_action_at, Some("2030-08-01T07:00:00Z".parse().unwrap()));
    assert_eq!(card.customer_id, sub.customer_id, "the card and the subscription belong to the same customer");
    h.stripe(&event("evt_pm2", "payment_method.detached", "2026-11-20T12:00:00Z", pm)).await;
    let card: PaymentMethod = h.record("PaymentMethod", Provider::Stripe, "pm_1Pgc75B7WZ01zgkWlHVgdEGJ").await.unwrap();
    assert!(card.removed);
    assert_eq!(card.follow_up.next_action_at, None);

    let mut charge: Value = serde_json::from_slice(&fixture("stripe_mock_charge.json")).unwrap();
    charge["customer"] = "cus_QXg1o8vcGmoR32".into();
    h.stripe(&event("evt_c1", "charge.succeeded", "2026-11-20T13:00:00Z", charge.clone())).await;
    charge["amount_refunded"] = 40.into();
    charge["refunded"] = false.into();
    h.stripe(&event("evt_c2", "charge.refunded", "2026-11-20T14:00:00Z", charge.clone())).await;
    // The same refund total reported again adds nothing.
    h.stripe(&event("evt_c3", "charge.refunded", "2026-11-20T15:00:00Z", charge)).await;
    let payment: Payment = h.record("Payment", Provider::Stripe, "ch_1PgafuB7WZ01zgkWXYmPNZs8").await.unwrap();
    assert_eq!(payment.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(payment.net_amount().unwrap(), Money::from_minor(60, Currency::USD));
    assert_eq!(payment.refunds.len(), 1);
    // The customer is told of that refund once, for its amount.
    let notifications = h.store.list::<Notification>(&Key::customer_partition(&payment.customer_id), None, 50).await.unwrap().records;
    let refunds: Vec<Option<Money>> = notifications.iter().filter(|n| n.kind == NotificationKind::RefundIssued).map(|n| n.amount).collect();
    assert_eq!(refunds, [Some(Money::from_minor(40, Currency::USD))]);

    // A charge first seen already refunded, in an event from two months ago (a backfill):
    // recorded as refunded, and the customer is not told again of a refund made back then.
    let mut old: Value = serde_json::from_slice(&fixture("stripe_mock_charge.json")).unwrap();
    (old["id"], old["customer"], old["amount_refunded"], old["refunded"]) =
        ("ch_old".into(), "cus_QXg1o8vcGmoR32".into(), 100.into(), true.into());
    assert_eq!(h.stripe(&event("evt_c4", "charge.refunded", "2026-09-20T13:00:00Z", old)).await.0, 200);
    let payment: Payment = h.record("Payment", Provider::Stripe, "ch_old").await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    let notifications = h.store.list::<Notification>(&Key::customer_partition(&payment.customer_id), None, 50).await.unwrap().records;
    assert_eq!(notifications.iter().filter(|n| n.kind == NotificationKind::RefundIssued).count(), 1, "only the recent refund's notice");
}

#[tokio::test]
async fn braintree_notifications_update_known_subscriptions() {
    let h = Harness::new("wh-braintree").await;
    // A subscription we already follow, known to Braintree as sub_past_due_id.
    let customer = relance_tests::customer("c1", "Léa Martin", None);
    let mut subscription = Subscription {
        plan: "Potager solo".into(),
        current_period_start: "2025-01-01T00:00:00Z".parse().unwrap(),
        current_period_end: "2025-02-01T00:00:00Z".parse().unwrap(),
        ..relance_tests::subscription("s1", &customer.id)
    };
    let reference = ProviderRef::new(Provider::Braintree, "sub_past_due_id").unwrap();
    let mut tx = h.store.transaction();
    tx.insert(&mut customer.clone())
        .unwrap()
        .insert(&mut subscription)
        .unwrap()
        .link_provider_ref("Subscription", &reference, &subscription.key())
        .unwrap();
    h.store.commit(tx).await.unwrap();

    let form = |kind: &str| {
        let payload = String::from_utf8(fixture(&format!("braintree_sample_{kind}.bt_payload.txt"))).unwrap();
        let keys = BraintreeKeys { public_key: "integration_public_key".into(), private_key: "integration_private_key".into() };
        let signature = braintree::sign(&payload, &keys);
        form_urlencoded::Serializer::new(String::new())
            .append_pair("bt_signature", &signature)
            .append_pair("bt_payload", &payload)
            .finish()
            .into_bytes()
    };
    let content_type = [("content-type", "application/x-www-form-urlencoded")];
    let (status, answer) = h.post("/webhooks/braintree", &content_type, form("subscription_went_past_due")).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")));
    let stored: Subscription = h.store.get(&subscription.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, SubscriptionStatus::PastDue);
    assert_eq!(stored.follow_up.next_action_at, Some("2025-01-15T12:00:00Z".parse().unwrap()));
    // Braintree retries with the same payload: recognised by its digest.
    assert_eq!(h.post("/webhooks/braintree", &content_type, form("subscription_went_past_due")).await.1["outcome"], "already_applied");
    // The endpoint check answers 200 and changes nothing.
    assert_eq!(h.post("/webhooks/braintree", &content_type, form("check")).await.1["outcome"], "ignored");
    // A bad signature is refused.
    let mut forged = form("subscription_expired");
    forged.extend_from_slice(b"AA");
    assert_eq!(h.post("/webhooks/braintree", &content_type, forged).await.0, 401);

    let challenge = Request::get("/webhooks/braintree?bt_challenge=20f9f8ed05f77439fe955c977e4c8a53").body(Body::empty()).unwrap();
    let answer = relance_tests::send(&h.router, challenge).await;
    assert_eq!(answer.body, b"integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4");
}

/// The owner turns the thank-you coupon on from the settings (a list of two codes): each
/// order's thank-you takes the next code, once, a third order gets none, and the code is in
/// the email as moto's SES took it. A list with a code twice is refused, naming it.
#[tokio::test]
async fn each_order_thank_you_takes_the_next_code_of_the_owners_list() {
    let mut h = Harness::new("wh-shopify-coupon").await;
    let portal = portal::router(relance_tests::portal_state(&h.store));
    let admin = relance_tests::token("u-admin", &["admin"]);
    let put = |settings: Value| {
        let request = Request::put("/admin/settings")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .header("if-match", "\"0\"")
            .body(Body::from(settings.to_string()))
            .unwrap();
        relance_tests::send(&portal, request)
    };
    let mut settings = relance_tests::api(&portal, "GET", "/admin/settings", &admin, None).await.json()["settings"].clone();
    settings["thank_you_coupon"] = json!({"kind": "per_order", "codes": ["MERCI-A1", "MERCI-A1"]});
    let refused = put(settings.clone()).await;
    assert_eq!((refused.status, refused.json()["field"].as_str()), (400, Some("thank_you_coupon.codes[1]")), "{:?}", refused.json());
    settings["thank_you_coupon"] = json!({"kind": "per_order", "codes": ["MERCI-A1", "MERCI-B2"]});
    assert_eq!(put(settings).await.status, 200);
    let live = relance::settings::LiveSettings::stored(
        h.store.clone(),
        relance::settings::Settings::from_parts(&Default::default(), &Default::default()),
        std::time::Duration::ZERO,
    );
    h.router = relance_tests::webhook_router(Ingest::live(h.store.clone(), Default::default(), live), secrets());

    let order = |id: u64| {
        let mut body: Value = serde_json::from_slice(&fixture("shopify_order_450789469.unwrapped.json")).unwrap();
        body["id"] = id.into();
        body["name"] = format!("#{id}").into();
        serde_json::to_vec(&body).unwrap()
    };
    let mut coupons = Vec::new();
    for id in [7001_u64, 7002, 7003] {
        assert_eq!(h.shopify(&format!("wh-coupon-{id}"), "orders/create", order(id)).await.1["outcome"], "applied");
        // The same order told again, changed (another webhook id): no second thank-you, no
        // second code.
        let mut again: Value = serde_json::from_slice(&order(id)).unwrap();
        again["note"] = "livraison mardi".into();
        let again = serde_json::to_vec(&again).unwrap();
        assert_eq!(h.shopify(&format!("wh-coupon-again-{id}"), "orders/create", again).await.1["outcome"], "applied");
        let customer: Customer = h.record("Customer", Provider::Shopify, "207119551").await.unwrap();
        let notes: Vec<Notification> = h.store.list_all(&Key::customer_partition(&customer.id)).await.unwrap();
        let thank_you = notes.iter().find(|n| n.kind == NotificationKind::ThankYou && n.target.id == id.to_string()).expect("a thank-you");
        coupons.push((thank_you.key(), thank_you.coupon.clone()));
    }
    let handed: Vec<Option<&str>> = coupons.iter().map(|(_, c)| c.as_deref()).collect();
    assert_eq!(handed, [Some("MERCI-A1"), Some("MERCI-B2"), None], "each code once, then none");

    let dispatch = relance_tests::dispatch_context(h.store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[coupons[1].0.clone(), coupons[2].0.clone()])).await;
    let emails = relance_tests::sent_emails().await;
    let text_of = |key: Key| {
        let h = &h;
        let emails = &emails;
        async move {
            let key = &key;
            let sent: Notification = h.store.get(key).await.unwrap().unwrap();
            assert_eq!(sent.status, NotificationStatus::Sent, "{sent:?}");
            let email = emails.iter().find(|m| m["id"].as_str() == sent.provider_message_id.as_deref()).expect("moto has the email");
            email["body"].as_str().unwrap_or_default().to_string()
        }
    };
    assert!(text_of(coupons[1].0.clone()).await.contains("MERCI-B2"), "the second order's thank-you gives its code");
    let third = text_of(coupons[2].0.clone()).await;
    assert!(!third.contains("MERCI-"), "the used-up list gives no code: {third}");
}

#[tokio::test]
async fn shopify_orders_become_invoices_with_one_thank_you() {
    let h = Harness::new("wh-shopify").await;
    let body = fixture("shopify_order_450789469.unwrapped.json");
    let hmac = shopify::sign(&body, SHOPIFY_SECRET);
    let headers = |id: &'static str, topic: &'static str, hmac: &str| -> Vec<(&'static str, String)> {
        vec![
            ("x-shopify-hmac-sha256", hmac.to_string()),
            ("x-shopify-topic", topic.into()),
            ("x-shopify-webhook-id", id.into()),
            ("x-shopify-shop-domain", "potagers.myshopify.com".into()),
            ("x-shopify-api-version", "2026-07".into()),
        ]
    };
    let send = |id: &'static str, topic: &'static str, body: Vec<u8>| {
        let hmac = shopify::sign(&body, SHOPIFY_SECRET);
        let owned = headers(id, topic, &hmac);
        let h = &h;
        async move {
            let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.post("/webhooks/shopify", &refs, body).await
        }
    };
    assert_eq!(send("wh-1", "orders/create", body.clone()).await.1["outcome"], "applied");
    assert_eq!(send("wh-1", "orders/create", body.clone()).await.1["outcome"], "already_applied");
    // orders/paid for the same order, another webhook id: still one thank-you.
    assert_eq!(send("wh-2", "orders/paid", body.clone()).await.0, 200);

    let invoice: Invoice = h.record("Invoice", Provider::Shopify, "450789469").await.unwrap();
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.amount_due, Money::from_minor(59894, Currency::USD));
    let customer: Customer = h.record("Customer", Provider::Shopify, "207119551").await.unwrap();
    assert_eq!(customer.name, "Bob Norman");
    let notifications = h.store.list::<Notification>(&Key::customer_partition(&customer.id), None, 10).await.unwrap().records;
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0].kind, NotificationKind::ThankYou);
    assert_eq!(notifications[0].amount, Some(Money::from_minor(59894, Currency::USD)));
    // No threshold is configured for USD (they are for money owed): the thank-you still goes,
    // by email, as moto's SES took it.
    let dispatch = relance_tests::dispatch_context(h.store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[notifications[0].key()])).await;
    let sent: Notification = h.store.get(&notifications[0].key()).await.unwrap().unwrap();
    assert_eq!((sent.status, sent.channel.clone()), (NotificationStatus::Sent, Some(ChannelDecision::Send { channel: Channel::Email })));
    let emails = relance_tests::sent_emails().await;
    let email = emails.iter().find(|m| m["id"].as_str() == sent.provider_message_id.as_deref()).expect("moto has the email");
    assert_eq!(email["destinations"]["ToAddresses"][0], "bob.norman@mail.example.com");

    let refund = json!({"id": 509562969, "order_id": 450789469, "created_at": "2026-11-24T11:00:00+01:00",
        "transactions": [{"kind": "refund", "status": "success", "amount": "41.94", "currency": "USD"}]});
    assert_eq!(send("wh-3", "refunds/create", serde_json::to_vec(&refund).unwrap()).await.0, 200);
    let refunded: Payment = h.record("Payment", Provider::Shopify, "refund:509562969").await.unwrap();
    assert_eq!((refunded.status, refunded.amount), (PaymentStatus::Refunded, Money::from_minor(4194, Currency::USD)));
    // The same refund under another webhook id (Shopify sends a topic again on a retry of
    // its own): one notice, sent once, as moto's SES took it.
    assert_eq!(send("wh-3b", "refunds/create", serde_json::to_vec(&refund).unwrap()).await.0, 200);
    let notifications = h.store.list::<Notification>(&Key::customer_partition(&customer.id), None, 10).await.unwrap().records;
    let notices: Vec<&Notification> = notifications.iter().filter(|n| n.kind == NotificationKind::RefundIssued).collect();
    assert_eq!(notices.len(), 1, "{notifications:?}");
    assert_eq!(notices[0].amount, Some(Money::from_minor(4194, Currency::USD)));
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[notices[0].key()])).await;
    let sent: Notification = h.store.get(&notices[0].key()).await.unwrap().unwrap();
    assert_eq!(sent.status, NotificationStatus::Sent);
    let emails = relance_tests::sent_emails().await;
    let email = emails.iter().find(|m| m["id"].as_str() == sent.provider_message_id.as_deref()).expect("moto has the refund notice");
    assert_eq!(email["destinations"]["ToAddresses"][0], "bob.norman@mail.example.com");
    let said = email["body"].as_str().unwrap_or_default().to_string() + email["subject"].as_str().unwrap_or_default();
    assert!(said.contains("41.94") || said.contains("41,94"), "the refunded amount is in the message: {email}");
    assert!(said.contains(invoice.number.as_str()), "and the order's number: {email}");

    // A wrong HMAC, or a signed body without a topic.
    let bad = headers("wh-4", "orders/create", &hmac.replace('a', "b"));
    let refs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tampered = [&body[..], b" "].concat();
    assert_eq!(h.post("/webhooks/shopify", &refs, tampered).await.0, 401);
    let signed = shopify::sign(&body, SHOPIFY_SECRET);
    assert_eq!(h.post("/webhooks/shopify", &[("x-shopify-hmac-sha256", &signed)], body.clone()).await.0, 400);
}

#[tokio::test]
async fn the_generic_format_from_any_billing_system() {
    let h = Harness::new("wh-generic").await;
    let document = json!({
        "id": "erp-0001", "occurred_at": "2026-11-25T08:00:00Z",
        "customers": [{"id": "C-42", "name": "Camille Martin", "email": "camille@example.org", "phone": "06 12 34 56 78", "country": "FR"}],
        "invoices": [{"id": "F-2026-042", "customer_id": "C-42", "number": "F-2026-042", "currency": "EUR", "amount_due": "120.00",
                      "amount_paid": "20.00", "status": "open", "issued_at": "2026-11-01T09:00:00Z", "due_date": "2026-12-01"}],
        "payments": [{"id": "P-9", "customer_id": "C-42", "invoice_id": "F-2026-042", "currency": "EUR", "amount": "100.00",
                      "status": "failed", "failure_reason": "insufficient_funds"}]
    });
    let body = serde_json::to_vec(&document).unwrap();
    let header = generic::sign(&body, GENERIC_SECRET, now().timestamp());
    let (status, answer) = h.post("/webhooks/generic", &[("relance-signature", &header)], body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")));
    let invoice: Invoice = h.record("Invoice", Provider::Generic, "F-2026-042").await.unwrap();
    assert_eq!(invoice.status, InvoiceStatus::PartiallyPaid);
    assert_eq!(invoice.balance(), Money::from_minor(10000, Currency::EUR));
    assert_eq!(invoice.follow_up.next_action_at, Some("2026-11-25T08:00:00Z".parse().unwrap()), "the failed payment makes it due now");
    let customer: Customer = h.record("Customer", Provider::Generic, "C-42").await.unwrap();
    assert_eq!(customer.phone.as_ref().map(|p| p.as_str()), Some("+33612345678"));
    assert_eq!(invoice.customer_id, customer.id);

    let typo = serde_json::to_vec(&json!({"id": "erp-2", "occurred_at": "2026-11-25T08:00:00Z", "invoice": []})).unwrap();
    let header = generic::sign(&typo, GENERIC_SECRET, now().timestamp());
    assert_eq!(h.post("/webhooks/generic", &[("relance-signature", &header)], typo).await.0, 400);
}

#[tokio::test]
async fn archived_deliveries_can_be_replayed() {
    let h = Harness::new("wh-replay").await;
    h.stripe(&event("evt_r1", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0))).await;
    h.stripe(&event("evt_r2", "invoice.paid", "2026-11-22T10:00:00Z", stripe_invoice("paid", 12000))).await;
    let junk = b"{\"still\": \"junk\"}".to_vec();
    let header = stripe::sign(&junk, STRIPE_SECRET, now().timestamp());
    h.post("/webhooks/stripe", &[("stripe-signature", &header)], junk).await;

    // Lose the invoice's state (as a restore from an old backup would), then replay the day.
    let mut invoice = h.invoice("in_1").await;
    invoice.status = InvoiceStatus::Open;
    invoice.amount_paid = Money::zero(Currency::EUR);
    invoice.provider_updated_at = None;
    h.store.update(&mut invoice).await.unwrap();

    let ingest = Ingest::new(h.store.clone(), Default::default(), Default::default());
    let summary = relance::ingest::replay::replay_day(&ingest, Provider::Stripe, now().date_naive(), now()).await.unwrap();
    assert_eq!(summary.read, 3);
    assert_eq!(summary.applied, 2);
    assert_eq!(summary.unreadable.len(), 1);
    let invoice = h.invoice("in_1").await;
    assert_eq!(invoice.status, InvoiceStatus::Paid, "replayed in arrival order, the newest state wins");
}

#[tokio::test]
async fn customer_dates_and_subscription_starts_schedule_date_rules() {
    let store = relance_tests::fresh_store("wh-date-rules").await;
    let mut ladders = relance::schedule::Ladders::default();
    for (name, field, days) in [("lease-80", "lease_start", 80), ("welcome", "subscription_start", 7)] {
        ladders.date_rules.push(relance::schedule::DateRule {
            name: name.into(),
            date_field: field.into(),
            offset_days: days,
            audience_tag: None,
            audience_list: None,
            audience_role: None,
            notify_team: false,
            ..Default::default()
        });
    }
    let ingest = Ingest::new(store.clone(), Default::default(), ladders);
    let h = Harness { store: store.clone(), router: relance_tests::webhook_router(ingest, secrets()) };

    // A bike rental pushes the lease start through the generic format.
    let document = json!({"id": "erp-dates", "occurred_at": "2026-11-25T08:00:00Z",
        "customers": [{"id": "C-7", "name": "Rider", "email": "rider@example.org", "dates": {"lease_start": "2026-10-01"}}]});
    let body = serde_json::to_vec(&document).unwrap();
    let header = generic::sign(&body, GENERIC_SECRET, now().timestamp());
    assert_eq!(h.post("/webhooks/generic", &[("relance-signature", &header)], body).await.0, 200);
    let rider: Customer = h.record("Customer", Provider::Generic, "C-7").await.unwrap();
    // 1 October + 80 days = 20 December, 09:00 in Paris.
    assert_eq!(rider.follow_up.next_action_at, Some("2026-12-20T08:00:00Z".parse().unwrap()));

    // A new Stripe subscription records when the member started.
    let mut subscription: Value = serde_json::from_slice(&fixture("stripe_mock_subscription.json")).unwrap();
    subscription["items"]["data"][0]["current_period_start"] = json!(1796083200); // 1 December 2026
    h.stripe(&event("evt_sub", "customer.subscription.created", "2026-11-25T09:00:00Z", subscription)).await;
    let member: Customer = h.record("Customer", Provider::Stripe, "cus_QXg1o8vcGmoR32").await.unwrap();
    assert_eq!(member.custom_dates.get("subscription_start"), Some(&NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()));
    assert_eq!(member.follow_up.next_action_at, Some("2026-12-08T08:00:00Z".parse().unwrap()));
}

/// The generic format carries tags, lists and the agency mission an invoice bills: a date
/// rule for one list applies from the delivery that puts the customer in it.
#[tokio::test]
async fn the_generic_format_sets_tags_lists_and_an_invoices_mission() {
    let store = relance_tests::fresh_store("wh-generic-labels").await;
    let mut ladders = relance::schedule::Ladders::default();
    ladders.date_rules.push(relance::schedule::DateRule {
        name: "lease-80".into(),
        date_field: "lease_start".into(),
        offset_days: 80,
        audience_tag: None,
        audience_list: Some("Clients".into()),
        audience_role: None,
        notify_team: false,
        ..Default::default()
    });
    let ingest = Ingest::new(store.clone(), Default::default(), ladders);
    let h = Harness { store: store.clone(), router: relance_tests::webhook_router(ingest, secrets()) };
    let send = |document: Value| {
        let body = serde_json::to_vec(&document).unwrap();
        let header = generic::sign(&body, GENERIC_SECRET, now().timestamp());
        (body, header)
    };

    let (body, header) = send(json!({"id": "erp-labels-1", "occurred_at": "2026-11-25T08:00:00Z",
        "customers": [{"id": "C-8", "name": "Rider", "email": "rider@example.org", "dates": {"lease_start": "2026-10-01"},
                       "tags": ["b2b"], "lists": ["Prospects"]}]}));
    assert_eq!(h.post("/webhooks/generic", &[("relance-signature", &header)], body).await.0, 200);
    let rider: Customer = h.record("Customer", Provider::Generic, "C-8").await.unwrap();
    assert_eq!(
        (rider.tags.iter().map(String::as_str).collect::<Vec<_>>(), rider.follow_up.next_action_at),
        (vec!["b2b"], None),
        "not in the rule's list"
    );

    let (body, header) = send(json!({"id": "erp-labels-2", "occurred_at": "2026-11-25T09:00:00Z",
        "customers": [{"id": "C-8", "lists": ["Clients"]}],
        "invoices": [{"id": "F-8", "customer_id": "C-8", "number": "F-8", "currency": "EUR", "amount_due": "90.00",
                      "status": "open", "issued_at": "2026-11-25T09:00:00Z", "due_date": "2026-12-25", "mission_id": "m-refonte"}]}));
    assert_eq!(h.post("/webhooks/generic", &[("relance-signature", &header)], body).await.0, 200);
    let rider: Customer = h.record("Customer", Provider::Generic, "C-8").await.unwrap();
    assert_eq!(rider.lists.iter().map(String::as_str).collect::<Vec<_>>(), vec!["Clients"]);
    assert_eq!(rider.tags.len(), 1, "tags not sent: kept");
    assert_eq!(rider.follow_up.next_action_at, Some("2026-12-20T08:00:00Z".parse().unwrap()), "1 October + 80 days, 09:00 in Paris");
    let invoice: Invoice = h.record("Invoice", Provider::Generic, "F-8").await.unwrap();
    assert_eq!(invoice.mission_id.as_ref().map(|m| m.as_str()), Some("m-refonte"));

    // Still no unknown field.
    let (body, header) = send(json!({"id": "erp-labels-3", "occurred_at": "2026-11-25T10:00:00Z",
        "customers": [{"id": "C-8", "labels": ["x"]}]}));
    assert_eq!(h.post("/webhooks/generic", &[("relance-signature", &header)], body).await.0, 400);
}

#[tokio::test]
async fn an_older_failure_with_a_retry_pending_does_not_pause_reminders_again() {
    let h = Harness::new("wh-retry-order").await;
    // Final failure (Stripe gives up: no next attempt) applied first...
    h.stripe(&event("evt_final", "invoice.payment_failed", "2026-11-24T10:00:00Z", stripe_invoice("open", 0))).await;
    // ...then the first failure, which still had a retry coming, arrives late.
    let mut early = stripe_invoice("open", 0);
    early["next_payment_attempt"] = json!(1764300000);
    h.stripe(&event("evt_early", "invoice.payment_failed", "2026-11-21T10:00:00Z", early)).await;
    let invoice = h.invoice("in_1").await;
    assert!(!invoice.autopay_retry_pending, "the newer 'no retry left' stands");
    assert_eq!(invoice.follow_up.next_action_at, Some("2026-11-24T10:00:00Z".parse().unwrap()));
}

#[tokio::test]
async fn a_custom_ladder_schedules_first_reminders_at_its_own_first_steps() {
    // A business whose courtesy notice goes 5 days before the due date and whose card warning
    // goes 45 days before expiry, at 10:30. Ingest used to schedule both on hard-coded
    // defaults (3 and 30 days, 09:00), so the ladder's first step came late or not at all.
    let store = relance_tests::fresh_store("wh-custom-ladder").await;
    let mut ladders = relance::schedule::Ladders::default();
    ladders.invoice[0].offset_days = -5;
    ladders.card_days_before_expiry = vec![45, 7];
    ladders.reminder_time = chrono::NaiveTime::from_hms_opt(10, 30, 0).unwrap();
    let ingest = Ingest::new(store.clone(), Default::default(), ladders);
    let h = Harness { store: store.clone(), router: relance_tests::webhook_router(ingest, secrets()) };

    let (status, _) = h.stripe(&event("evt_c1", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0))).await;
    assert_eq!(status, 200);
    // Due 31 December 2026: 26 December at 10:30 in Paris (UTC+1).
    assert_eq!(h.invoice("in_1").await.follow_up.next_action_at, Some("2026-12-26T09:30:00Z".parse().unwrap()));

    let mut pm: Value = serde_json::from_slice(&fixture("stripe_mock_payment_method.json")).unwrap();
    pm["customer"] = "cus_1".into();
    h.stripe(&event("evt_c2", "payment_method.attached", "2026-11-20T11:00:00Z", pm)).await;
    let card: PaymentMethod = h.record("PaymentMethod", Provider::Stripe, "pm_1Pgc75B7WZ01zgkWlHVgdEGJ").await.unwrap();
    // Expires end of August 2030: 17 July at 10:30 in Paris (UTC+2).
    assert_eq!(card.follow_up.next_action_at, Some("2030-07-17T08:30:00Z".parse().unwrap()));
}

#[tokio::test]
async fn a_card_ladder_without_warnings_still_schedules_the_after_expiry_notice() {
    // With no warning before expiry, the card's only rung is the notice the day after; the
    // first look used to be taken from the warnings alone, so the card never became due.
    let store = relance_tests::fresh_store("wh-card-no-warnings").await;
    let ladders = relance::schedule::Ladders { card_days_before_expiry: vec![], ..Default::default() };
    ladders.validate().unwrap();
    let ingest = Ingest::new(store.clone(), Default::default(), ladders);
    let h = Harness { store: store.clone(), router: relance_tests::webhook_router(ingest, secrets()) };
    let mut pm: Value = serde_json::from_slice(&fixture("stripe_mock_payment_method.json")).unwrap();
    pm["customer"] = "cus_1".into();
    h.stripe(&event("evt_n1", "payment_method.attached", "2026-11-20T11:00:00Z", pm)).await;
    let card: PaymentMethod = h.record("PaymentMethod", Provider::Stripe, "pm_1Pgc75B7WZ01zgkWlHVgdEGJ").await.unwrap();
    // Expires end of August 2030: 1 September at 09:00 in Paris (UTC+2).
    assert_eq!(card.follow_up.next_action_at, Some("2030-09-01T07:00:00Z".parse().unwrap()));
}

/// Stripe's announced retry holds the ladder only until its time and a grace day: with no
/// news by then (the final event lost, retries turned off after the fact), the scan sends the
/// reminder that is due; before then, nothing goes.
#[tokio::test]
async fn an_announced_retry_with_no_news_lets_the_ladder_resume_a_day_after_it() {
    let h = Harness::new("wh-retry-bound").await;
    // Due 1 November 2026, failed on 20 November, Stripe to try again on 23 November 10:00.
    let mut failed = stripe_invoice("open", 0);
    failed["due_date"] = json!(1_793_491_200);
    failed["next_payment_attempt"] = json!(1_795_428_000);
    let (status, _) = h.stripe(&event("evt_r1", "invoice.payment_failed", "2026-11-20T10:00:00Z", failed)).await;
    assert_eq!(status, 200);
    let invoice = h.invoice("in_1").await;
    assert_eq!(invoice.autopay_retry_at, Some("2026-11-23T10:00:00Z".parse().unwrap()));
    let context = relance_tests::scan_context(&h.store);
    let scan = |now: &'static str| {
        let context = &context;
        async move { scan::handle(context, json!({ "now": now }), now.parse().unwrap()).await.unwrap() }
    };
    let notes = || async {
        let customer = h.invoice("in_1").await.customer_id;
        h.store.list_all::<Notification>(&Key::customer_partition(&customer)).await.unwrap()
    };
    // The failure notice at once; the ladder waits, and its next look is the hold's end.
    scan("2026-11-20T10:05:00Z").await;
    assert_eq!(notes().await.iter().map(|n| n.kind).collect::<Vec<_>>(), [NotificationKind::PaymentFailed]);
    assert_eq!(h.invoice("in_1").await.follow_up.next_action_at, Some("2026-11-24T10:00:00Z".parse().unwrap()));
    scan("2026-11-24T09:00:00Z").await;
    assert_eq!(notes().await.len(), 1, "still waiting for the retry's outcome");
    // The retry's day and its grace day gone, no word from Stripe: the reminder due goes.
    scan("2026-11-24T10:00:00Z").await;
    let kinds: Vec<_> = notes().await.iter().filter(|n| n.status == NotificationStatus::Pending).map(|n| n.kind).collect();
    assert!(kinds.contains(&NotificationKind::InvoiceOverdue), "{kinds:?}");
}

/// The right to be forgotten holds against the providers: once a member has erased their
/// data, a later delivery from Stripe, the generic format, Shopify or Braintree still changes the books
/// (an invoice's amounts and status) but never stores their name, email or phone again; the
/// archive keeps no copy of what any delivery said of them, before the erasure or after; what
/// they wrote to support is gone.
#[tokio::test]
async fn an_erased_customer_stays_erased_whatever_a_provider_sends_next() {
    let h = Harness::new("wh-erasure").await;
    let portal = portal::router(relance_tests::portal_state(&h.store));
    let shopify_send = |id: &'static str, topic: &'static str, body: Vec<u8>| {
        let h = &h;
        async move { h.shopify(id, topic, body).await }
    };
    let generic_send = |document: Value| {
        let body = serde_json::to_vec(&document).unwrap();
        let header = generic::sign(&body, GENERIC_SECRET, now().timestamp());
        let h = &h;
        async move { h.post("/webhooks/generic", &[("relance-signature", &header)], body).await }
    };
    let generic_doc = |id: &str, invoice: &str, status: &str, paid: &str, hours_later: i64| {
        json!({"id": id, "occurred_at": (now() + chrono::Duration::hours(hours_later)).to_rfc3339(),
            "customers": [{"id": "C-E", "name": "Camille Martin", "email": "camille@example.org", "phone": "06 12 34 56 78", "country": "FR"}],
            "invoices": [{"id": invoice, "customer_id": "C-E", "number": invoice, "currency": "EUR", "amount_due": "120.00",
                          "amount_paid": paid, "status": status, "issued_at": "2026-11-01T09:00:00Z", "due_date": "2026-12-01"}]})
    };
    // Each provider's customer, with everything settled (erasure waits for debts to be paid).
    let mut paid = stripe_invoice("paid", 12000);
    paid["customer"] = json!("cus_e");
    assert_eq!(h.stripe(&event("evt_e1", "invoice.paid", "2026-11-20T10:00:00Z", paid)).await.0, 200);
    assert_eq!(generic_send(generic_doc("erp-e1", "F-E", "paid", "120.00", -2)).await.0, 200);
    let order = fixture("shopify_order_450789469.unwrapped.json");
    assert_eq!(shopify_send("wh-e1", "orders/create", order.clone()).await.0, 200);
    // Braintree: a charge that went through, in the gateway's shape (the customer in its
    // transaction's details).
    let braintree_send = |xml: String| {
        use base64::Engine;
        let payload = base64::engine::general_purpose::STANDARD.encode(xml);
        let keys = BraintreeKeys { public_key: "integration_public_key".into(), private_key: "integration_private_key".into() };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("bt_signature", &braintree::sign(&payload, &keys))
            .append_pair("bt_payload", &payload)
            .finish();
        let h = &h;
        async move { h.post("/webhooks/braintree", &[("content-type", "application/x-www-form-urlencoded")], body.into_bytes()).await }
    };
    let charged = String::from_utf8(fixture("braintree_gateway_subscription_charged_unsuccessfully.xml"))
        .unwrap()
        .replace("subscription_charged_unsuccessfully", "subscription_charged_successfully")
        .replace("Past Due", "Active")
        .replace("processor_declined", "submitted_for_settlement")
        .replace("<balance>25.00</balance>", "<balance>0.00</balance>")
        .replace("2027-01-01T06:12:44Z", "2026-11-20T10:00:00Z");
    let (status, answer) = braintree_send(charged.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")), "{answer}");
    let customers = [
        h.record::<Customer>("Customer", Provider::Stripe, "cus_e").await.unwrap(),
        h.record::<Customer>("Customer", Provider::Generic, "C-E").await.unwrap(),
        h.record::<Customer>("Customer", Provider::Shopify, "207119551").await.unwrap(),
        h.record::<Customer>("Customer", Provider::Braintree, "cust-lea").await.unwrap(),
    ];
    assert_eq!(customers[3].name, "Léa Martin", "Braintree's customer, before");
    let mut settle = h.record::<Invoice>("Invoice", Provider::Shopify, "450789469").await.unwrap();
    settle.amount_paid = settle.amount_due;
    settle.status = InvoiceStatus::Paid;
    h.store.update(&mut settle).await.unwrap();

    // Each member erases their data (one wrote to support first).
    for (i, customer) in customers.iter().enumerate() {
        let user = format!("u-erased-{i}");
        h.store.insert(&mut Account::new(user.clone(), Some(customer.id.clone()))).await.unwrap();
        let member = relance_tests::token(&user, &["member"]);
        if i == 0 {
            let (status, _) =
                relance_tests::call(&portal, "POST", "/messages", &member, Some(json!({"body": "Je suis Marie Dupont, 06 11 22 33 44"})))
                    .await;
            assert_eq!(status, 201);
        }
        let (status, erased) = relance_tests::call(&portal, "DELETE", "/me", &member, None).await;
        assert_eq!(status, 202, "{erased}");
    }
    let conversation: Vec<Message> = h.store.list_all(&Key::conversation("u-erased-0")).await.unwrap();
    assert!(!conversation.is_empty() && conversation.iter().all(|m| !m.body.contains("Dupont")), "{conversation:?}");

    // Later deliveries: the provider renames the customer and bills again.
    let mut renamed =
        json!({"id": "cus_e", "object": "customer", "email": "marie.new@example.org", "name": "Marie Dupont", "phone": "+33611111111"});
    renamed["created"] = json!(1764000000);
    assert_eq!(h.stripe(&event("evt_e2", "customer.updated", "2026-11-21T10:00:00Z", renamed)).await.0, 200);
    let mut second = stripe_invoice("open", 0);
    (second["id"], second["customer"], second["number"]) = (json!("in_e2"), json!("cus_e"), json!("ABC-0002"));
    assert_eq!(h.stripe(&event("evt_e3", "invoice.finalized", "2026-11-21T11:00:00Z", second)).await.0, 200);
    assert_eq!(generic_send(generic_doc("erp-e2", "F-E2", "open", "20.00", -1)).await.0, 200);
    let mut shopify_customer = serde_json::from_slice::<Value>(&order).unwrap()["customer"].clone();
    (shopify_customer["first_name"], shopify_customer["email"]) = (json!("Robert"), json!("robert.norman@example.org"));
    let (status, answer) = shopify_send("wh-e2", "customers/update", serde_json::to_vec(&shopify_customer).unwrap()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(shopify_send("wh-e3", "orders/updated", order.clone()).await.0, 200);
    // Braintree charges the next month, and its customer details have changed.
    let next_month = charged
        .replace("2026-11-20T10:00:00Z", "2026-11-21T12:00:00Z")
        .replace("<id>txn-lea-2</id>", "<id>txn-lea-3</id>")
        .replace("<first-name>Léa</first-name>", "<first-name>Léonie</first-name>")
        .replace("lea@example.org", "leonie@example.org");
    let (status, answer) = braintree_send(next_month).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")), "{answer}");

    for (customer, provider, id) in [
        (&customers[0], Provider::Stripe, "cus_e"),
        (&customers[1], Provider::Generic, "C-E"),
        (&customers[2], Provider::Shopify, "207119551"),
        (&customers[3], Provider::Braintree, "cust-lea"),
    ] {
        let now: Customer = h.record("Customer", provider, id).await.unwrap();
        assert_eq!(now.id, customer.id, "the same record, not a new one");
        assert_eq!(
            (now.name.as_str(), now.email.as_ref(), now.phone.as_ref()),
            (relance::domain::customer::ERASED_NAME, None, None),
            "{provider}: {now:?}"
        );
        assert!(now.custom_dates.is_empty() && now.tags.is_empty() && now.is_erased());
        // The archive: every delivery of this provider named them (the table is this test's
        // own), and each is withheld, those before the erasure and those after.
        let archived = h.archived(provider).await;
        assert!(archived.len() >= 2, "{provider}: {archived:?}");
        for delivery in &archived {
            assert_eq!(delivery.body, relance::ingest::archive::WITHHELD, "{provider} {}", delivery.delivery_id);
            assert!(!delivery.headers.keys().any(|k| k.contains("signature") || k.contains("hmac")), "{:?}", delivery.headers);
        }
    }
    // The books still follow the providers.
    let second = h.invoice("in_e2").await;
    assert_eq!((second.status, second.amount_due.minor_units(), &second.customer_id), (InvoiceStatus::Open, 12000, &customers[0].id));
    let generic: Invoice = h.record("Invoice", Provider::Generic, "F-E2").await.unwrap();
    assert_eq!(
        (generic.status, generic.amount_paid.minor_units(), &generic.customer_id),
        (InvoiceStatus::PartiallyPaid, 2000, &customers[1].id)
    );
    let payment: Payment = h.record("Payment", Provider::Braintree, "txn-lea-3").await.unwrap();
    assert_eq!((payment.status, &payment.customer_id), (PaymentStatus::Succeeded, &customers[3].id), "Braintree's charge is recorded");
}

/// Braintree's own SDK signs a sample of every notification kind it knows with our keys
/// (`infra/local/braintree_samples.py`, the `braintree` package from PyPI): our check agrees
/// with its signatures, and every kind is answered 200, acted on or `ignored`, never an error
/// that would make Braintree retry and then disable the endpoint.
#[tokio::test]
async fn every_notification_braintree_s_sdk_samples_is_verified_and_answered_200() {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .args([&format!("{root}/infra/local/braintree_samples.py"), "integration_public_key", "integration_private_key"])
        .output()
        .expect("the test tools' Python (infra/local/tools.sh installs it)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let samples: Vec<Value> = String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(samples.len() >= 40, "{} kinds", samples.len());
    let h = Harness::new("wh-braintree-sdk").await;
    let content_type = [("content-type", "application/x-www-form-urlencoded")];
    let form = |signature: &str, payload: &str| {
        form_urlencoded::Serializer::new(String::new()).append_pair("bt_signature", signature).append_pair("bt_payload", payload).finish()
    };
    let mut wrong = Vec::new();
    let mut acted_on = Vec::new();
    for sample in &samples {
        let (kind, signature, payload) =
            (sample["kind"].as_str().unwrap(), sample["bt_signature"].as_str().unwrap(), sample["bt_payload"].as_str().unwrap());
        let (status, answer) = h.post("/webhooks/braintree", &content_type, form(signature, payload).into_bytes()).await;
        match answer["outcome"].as_str() {
            Some("applied") if status == 200 => acted_on.push(kind),
            Some("ignored" | "already_applied") if status == 200 => {}
            _ => wrong.push(format!("{kind}: {status} {answer}")),
        }
    }
    assert!(wrong.is_empty(), "{} of {} kinds not answered 200:\n{}", wrong.len(), samples.len(), wrong.join("\n"));
    for kind in ["subscription_went_past_due", "subscription_canceled", "subscription_expired"] {
        assert!(acted_on.contains(&kind), "{kind} is acted on: {acted_on:?}");
    }
    // The SDK's signature over another payload is ours to refuse.
    let (signature, payload) = (samples[0]["bt_signature"].as_str().unwrap(), samples[1]["bt_payload"].as_str().unwrap());
    assert_eq!(h.post("/webhooks/braintree", &content_type, form(signature, payload).into_bytes()).await.0, 401);
}

/// The `Stripe-Signature` header Stripe's official Node library makes (its test-header
/// helper, `infra/local/stripe/stripe_header.mjs`) for `body`, signed with `secret` at `t`.
fn stripe_official_header(body: &[u8], secret: &str, t: i64) -> String {
    use std::io::Write;
    let dir = format!("{}/../infra/local/stripe", env!("CARGO_MANIFEST_DIR"));
    let mut child = std::process::Command::new("node")
        .args(["stripe_header.mjs", secret, &t.to_string()])
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node (infra/local/tools.sh installs Stripe's library beside the script)");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Deliveries signed by Stripe's own library are accepted, including during a secret's
/// rotation, when Stripe sends one `v1` signature per secret (the new one we may not hold
/// yet, the old one we do); a header whose signatures are all by secrets we do not hold is
/// refused.
#[tokio::test]
async fn deliveries_signed_by_stripe_s_own_library_are_accepted_during_a_rotation_too() {
    let h = Harness::new("wh-stripe-official").await;
    let t = now().timestamp();
    let post = |header: String, body: Vec<u8>| {
        let h = &h;
        async move { h.post("/webhooks/stripe", &[("stripe-signature", &header), ("content-type", "application/json")], body).await }
    };
    let body = serde_json::to_vec(&event("evt_off1", "invoice.finalized", "2026-11-20T10:00:00Z", stripe_invoice("open", 0))).unwrap();
    let (status, answer) = post(stripe_official_header(&body, STRIPE_SECRET, t), body).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")), "{answer}");

    let body = serde_json::to_vec(&event("evt_off2", "invoice.paid", "2026-11-21T10:00:00Z", stripe_invoice("paid", 12000))).unwrap();
    let signature = |secret: &str| stripe_official_header(&body, secret, t).split_once(",v1=").unwrap().1.to_string();
    let rotating = format!("t={t},v1={},v1={}", signature("whsec_rolled_not_yet_ours"), signature(STRIPE_OLD_SECRET));
    let (status, answer) = post(rotating, body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")), "{answer}");
    assert_eq!(h.invoice("in_1").await.status, InvoiceStatus::Paid);
    let strangers = format!("t={t},v1={},v1={}", signature("whsec_someone_else"), signature("whsec_rolled_not_yet_ours"));
    assert_eq!(post(strangers, body).await.0, 401);
}

/// Shopify's mandatory privacy topics are acted on: `customers/redact` erases the customer (and
/// withholds what Shopify sent of them before), `customers/data_request` tells the team with
/// the request's id, `shop/redact` erases every customer the shop sent. All answered 200.
#[tokio::test]
async fn shopify_s_privacy_topics_erase_and_tell_the_team() {
    let h = Harness::new("wh-shopify-privacy").await;
    let send = |id: &'static str, topic: &'static str, body: Vec<u8>| {
        let h = &h;
        async move { h.shopify(id, topic, body).await }
    };
    let order = fixture("shopify_order_450789469.unwrapped.json");
    assert_eq!(send("wh-p1", "orders/create", order).await.0, 200);
    let customer =
        |id: u64, email: &str| json!({"id": id, "email": email, "first_name": "Ana", "last_name": "Lima", "phone": "+33611223344"});
    for (n, (id, email)) in [(301u64, "ana@example.org"), (302, "leo@example.org")].iter().enumerate() {
        let webhook = ["wh-p2", "wh-p3"][n];
        assert_eq!(send(webhook, "customers/create", serde_json::to_vec(&customer(*id, email)).unwrap()).await.0, 200);
    }
    let privacy = |customer: Value| {
        json!({"shop_id": 954889, "shop_domain": "potagers.myshopify.com", "customer": customer,
        "orders_requested": [450789469], "orders_to_redact": [450789469], "data_request": {"id": 9999}})
    };

    let bob: Customer = h.record("Customer", Provider::Shopify, "207119551").await.unwrap();
    let thank_you: Notification = h.store.list_all(&Key::customer_partition(&bob.id)).await.unwrap().pop().expect("Bob's thank-you");
    let dispatch = relance_tests::dispatch_context(h.store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[thank_you.key()])).await;
    let sent: Notification = h.store.get(&thank_you.key()).await.unwrap().unwrap();
    assert!(sent.sent_copy.as_ref().is_some_and(|c| c.text.contains("Bob")), "{sent:?}");

    // customers/redact: Bob, who placed the order, is forgotten; the order stays in the books.
    let redact = privacy(json!({"id": 207119551, "email": "bob.norman@mail.example.com", "phone": "555-625-1199"}));
    let (status, answer) = send("wh-p4", "customers/redact", serde_json::to_vec(&redact).unwrap()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")), "{answer}");
    let bob: Customer = h.record("Customer", Provider::Shopify, "207119551").await.unwrap();
    assert!(bob.is_erased() && bob.email.is_none() && bob.name == relance::domain::customer::ERASED_NAME, "{bob:?}");
    assert!(h.record::<Invoice>("Invoice", Provider::Shopify, "450789469").await.is_some(), "the order stays in the books");
    let archived = h.archived(Provider::Shopify).await;
    let order_delivery = archived.iter().find(|a| a.headers.get("x-shopify-topic").map(String::as_str) == Some("orders/create")).unwrap();
    assert_eq!(order_delivery.body, relance::ingest::archive::WITHHELD, "what Shopify sent of Bob before");
    let forgotten: Notification = h.store.get(&thank_you.key()).await.unwrap().unwrap();
    assert_eq!((forgotten.status, forgotten.sent_copy), (NotificationStatus::Sent, None), "the words we sent him");

    // customers/data_request: the team is told, naming the request.
    let request = privacy(json!({"id": 301, "email": "ana@example.org", "phone": "+33611223344"}));
    assert_eq!(send("wh-p5", "customers/data_request", serde_json::to_vec(&request).unwrap()).await.1["outcome"], "applied");
    let ana: Customer = h.record("Customer", Provider::Shopify, "301").await.unwrap();
    let notes: Vec<Notification> = h.store.list_all(&Key::customer_partition(&ana.id)).await.unwrap();
    let note = notes
        .iter()
        .find(|n| n.kind == NotificationKind::Internal && n.rule.as_deref() == Some("shopify-data-request-9999"))
        .unwrap_or_else(|| panic!("{notes:?}"));
    assert!(!ana.is_erased());
    // The team's email, as SES took it, opens Ana's file; her export is ready there.
    let dispatch = relance_tests::dispatch_context(h.store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[note.key()])).await;
    let sent: Notification = h.store.get(&note.key()).await.unwrap().unwrap();
    let email = relance_tests::sent_emails()
        .await
        .into_iter()
        .find(|m| m["id"].as_str() == sent.provider_message_id.as_deref())
        .unwrap_or_else(|| panic!("moto has the team's email: {sent:?}"));
    assert_eq!(email["destinations"]["ToAddresses"][0], "equipe@example.org");
    let file = format!("https://espace.example.org/app/admin/customers/{}", ana.id);
    assert!(sent.sent_copy.as_ref().is_some_and(|c| c.text.contains(&file)), "{sent:?}");
    assert!(email["body"].as_str().unwrap_or_default().contains(ana.id.as_str()), "{email}");
    let portal = portal::router(relance_tests::portal_state(&h.store));
    let admin = relance_tests::token("u-admin", &["admin"]);
    let export = relance_tests::api(&portal, "GET", &format!("/admin/customers/{}/export", ana.id), &admin, None).await;
    assert_eq!(export.status, 200);
    assert_eq!(export.json()["customer"]["email"], "ana@example.org");
    assert_eq!(export.json()["notifications"][0]["rule"], "shopify-data-request-9999");
    let member = relance_tests::token("u-ana", &["member"]);
    assert_eq!(relance_tests::api(&portal, "GET", &format!("/admin/customers/{}/export", ana.id), &member, None).await.status, 403);

    // shop/redact: everyone the shop sent is forgotten.
    let shop = json!({"shop_id": 954889, "shop_domain": "potagers.myshopify.com"});
    assert_eq!(send("wh-p6", "shop/redact", serde_json::to_vec(&shop).unwrap()).await.0, 200);
    for id in ["301", "302", "207119551"] {
        let c: Customer = h.record("Customer", Provider::Shopify, id).await.unwrap();
        assert!(c.is_erased() && c.email.is_none() && c.phone.is_none(), "{id}: {c:?}");
    }
    // Sent again (Shopify retries), still 200.
    assert_eq!(send("wh-p7", "shop/redact", serde_json::to_vec(&shop).unwrap()).await.0, 200);
    // Its own archived body is withheld, as every delivery's that erases someone.
    let archived = h.archived(Provider::Shopify).await;
    let redacts: Vec<_> = archived.iter().filter(|a| a.headers.get("x-shopify-topic").map(String::as_str) == Some("shop/redact")).collect();
    assert!(!redacts.is_empty(), "shop/redact archived: {:?}", archived.iter().map(|a| (&a.delivery_id, &a.headers)).collect::<Vec<_>>());
    assert!(redacts.iter().all(|a| a.body == relance::ingest::archive::WITHHELD), "{redacts:?}");
}
