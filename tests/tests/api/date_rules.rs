//! The seeds' date rules and renewal reminders, set up as an owner would (settings through the
//! API, customers through the back office, a registration by the member), on a fresh table;
//! what each person got is read from moto.

use chrono::{DateTime, Utc};
use relance::domain::*;
use relance::store::{Key, Record, Store};
use relance_tests::{call, token};
use serde_json::{Value, json};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Scans at `now`, then dispatches what is pending for `customers`.
async fn scan_and_send(store: &Store, customers: &[CustomerId], now: &str) {
    scan::handle(&relance_tests::scan_context(store), json!({ "now": now }), at(now)).await.unwrap();
    let mut keys = Vec::new();
    for customer in customers {
        let notes: Vec<Notification> = store.list_all(&Key::customer_partition(customer)).await.unwrap();
        keys.extend(notes.iter().filter(|n| n.status == NotificationStatus::Pending).map(Record::key));
    }
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&keys)).await;
}

/// The subjects of the emails moto accepted for `address`.
async fn subjects_to(address: &str) -> Vec<String> {
    relance_tests::sent_emails()
        .await
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == address)
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn bodies_to(address: &str) -> Vec<String> {
    relance_tests::sent_emails()
        .await
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == address)
        .map(|m| m["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_campaign_for_one_list_with_a_note_to_the_workshop_and_welcome_reminders_that_stop_on_registration() {
    let store = relance_tests::fresh_store("date-rules").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let run = relance_tests::unique();
    let address = |who: &str| format!("{who}-{run}@example.org");
    let workshop = address("atelier");

    // The owner's rules, from the settings API.
    let (_, file) = call(&router, "GET", "/admin/settings", &admin, None).await;
    let mut settings = file["settings"].clone();
    settings["date_rules"] = json!([
        {"name": "lease-80", "date_field": "lease_start", "offset_days": 80, "audience_list": "Clients",
         "notify_team": true, "team_email": workshop},
        {"name": "welcome-7", "date_field": "subscription_start", "offset_days": 7, "stop_when": {"registered_to": "welcome_workshop"}},
        {"name": "welcome-21", "date_field": "subscription_start", "offset_days": 21, "stop_when": {"registered_to": "welcome_workshop"}},
    ]);
    let request = axum::http::Request::builder()
        .method("PUT")
        .uri("/admin/settings")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .header("if-match", "\"0\"")
        .body(axum::body::Body::from(settings.to_string()))
        .unwrap();
    let saved = relance_tests::send(&router, request).await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    // Its own words for the first welcome reminder.
    let (status, body) = call(
        &router,
        "PUT",
        "/admin/templates/date_rule/fr?rule=welcome-7",
        &admin,
        Some(json!({
        "subject": "Atelier de bienvenue : on vous attend !",
        "text": "Bonjour {{ name }},\n\nInscrivez-vous à l'atelier de bienvenue depuis votre espace.",
        "sms": "{{ business }} : inscrivez-vous à l'atelier de bienvenue : {{ sms_link }}"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Customers, through the back office.
    let mut ids = Vec::new();
    let mut add = async |name: &str, details: Value| -> CustomerId {
        let mut body = json!({"name": name});
        body.as_object_mut().unwrap().extend(details.as_object().unwrap().clone());
        let (status, file) = call(&router, "POST", "/admin/customers", &admin, Some(body)).await;
        assert_eq!(status, 201, "{file}");
        let id = CustomerId::parse(file["customer"]["id"].as_str().or(file["id"].as_str()).unwrap()).unwrap();
        ids.push(id.clone());
        id
    };
    // 25 October + 80 days = Wednesday 13 January 2027.
    let _alice = add(
        "Alice",
        json!({"email": address("alice"), "phone": "+33612000001", "lists": ["Clients"], "dates": {"lease_start": "2026-10-25"}}),
    )
    .await;
    let _bruno = add("Bruno", json!({"email": address("bruno"), "lists": ["Prospects"], "dates": {"lease_start": "2026-10-25"}})).await;
    // Joined Monday 4 January: reminders on the 11th and the 25th.
    let _chloe = add("Chloé", json!({"email": address("chloe"), "dates": {"subscription_start": "2027-01-04"}})).await;
    let damien = add("Damien", json!({"email": address("damien"), "dates": {"subscription_start": "2027-01-04"}})).await;

    scan_and_send(&store, &ids, "2027-01-11T10:00:00Z").await;
    scan_and_send(&store, &ids, "2027-01-13T10:00:00Z").await;
    // Damien registers to the welcome workshop (an event of that kind).
    let (status, event) = call(
        &router,
        "POST",
        "/events",
        &admin,
        Some(json!({"title": "Atelier de bienvenue", "kind": "welcome_workshop",
        "starts_at": "2027-02-06T10:00:00Z", "location": "Jardin Nord", "audience": {"kind": "public"}})),
    )
    .await;
    assert_eq!(status, 201, "{event}");
    store.insert(&mut Account::new(format!("u-damien-{run}"), Some(damien.clone()))).await.unwrap();
    let member = token(&format!("u-damien-{run}"), &["member"]);
    let (status, registered) =
        call(&router, "POST", &format!("/events/{}/registrations", event["id"].as_str().unwrap()), &member, None).await;
    assert_eq!(status, 201, "{registered}");
    let registered: Customer = store.get(&Key::customer(&damien)).await.unwrap().unwrap();
    assert!(registered.registered_kinds.contains("welcome_workshop"), "the registration is on Damien's record: {registered:?}");
    scan_and_send(&store, &ids, "2027-01-25T10:00:00Z").await;

    let alice = subjects_to(&address("alice")).await;
    assert_eq!(alice.len(), 1, "the campaign, once: {alice:?}");
    assert!(subjects_to(&address("bruno")).await.is_empty(), "not in the Clients list");
    let note = bodies_to(&workshop).await;
    assert_eq!(note.len(), 1, "the workshop's own note: {note:?}");
    for detail in ["Alice", &address("alice"), "+33612000001", "13 janvier 2027"] {
        assert!(note[0].contains(detail), "the note holds {detail}: {}", note[0]);
    }
    let chloe = subjects_to(&address("chloe")).await;
    assert_eq!(chloe.len(), 2, "both welcome reminders: {chloe:?}");
    assert!(chloe.contains(&"Atelier de bienvenue : on vous attend !".to_string()), "the owner's words for the first: {chloe:?}");
    assert!(chloe.iter().any(|s| s.contains("un rendez-vous pour vous")), "the second in the default words: {chloe:?}");
    // Damien registered after the first: his registration's confirmation, and no second reminder.
    let damien = subjects_to(&address("damien")).await;
    assert!(damien.contains(&"Atelier de bienvenue : on vous attend !".to_string()), "{damien:?}");
    assert!(!damien.iter().any(|s| s.contains("un rendez-vous pour vous")), "registered: no second reminder: {damien:?}");
    assert_eq!(damien.len(), 2, "the first reminder and the confirmation: {damien:?}");
}

#[tokio::test]
async fn renewal_reminders_go_only_to_subscriptions_that_will_not_renew_by_themselves() {
    let store = relance_tests::fresh_store("renewals").await;
    let run = relance_tests::unique();
    let mut ids = Vec::new();
    let mut addresses = Vec::new();
    for (i, (cancelling, manual)) in [(false, false), (true, false), (false, true)].into_iter().enumerate() {
        let email = format!("renewal-{i}-{run}@example.org");
        let mut customer = relance_tests::customer(&format!("c-renewal-{i}-{run}"), format!("Member {i}"), Some(&email));
        store.insert(&mut customer).await.unwrap();
        let mut subscription = relance_tests::subscription(&format!("s-renewal-{i}-{run}"), &customer.id);
        // A yearly plan ending Friday 29 January 2027 (Paris): notices 30, 15 and 3 days
        // before, on 30 December, 14 and 26 January, at 09:00.
        subscription.price = relance_tests::eur(120_000);
        subscription.interval = BillingInterval::Year;
        subscription.current_period_start = at("2026-01-28T23:00:00Z");
        subscription.current_period_end = at("2027-01-28T23:00:00Z");
        subscription.cancel_at_period_end = cancelling;
        subscription.manual_renewal = manual;
        // As the webhook leaves an older record: looked at from the first notice.
        subscription.follow_up.schedule(at("2026-12-30T08:00:00Z"));
        store.insert(&mut subscription).await.unwrap();
        ids.push(customer.id.clone());
        addresses.push(email);
    }
    renewal_reminders_over_january(&store, &ids, &addresses, "prend fin le 29 janvier 2027").await;
}

/// Three scans around a yearly plan ending 29 January 2027: the first customer's renews by
/// itself (no message), the others get the alert and two reminders, each saying `ends`.
async fn renewal_reminders_over_january(store: &Store, ids: &[CustomerId], addresses: &[String], ends: &str) {
    for now in ["2026-12-30T10:00:00Z", "2027-01-14T10:00:00Z", "2027-01-26T10:00:00Z"] {
        scan_and_send(store, ids, now).await;
    }
    assert!(subjects_to(&addresses[0]).await.is_empty(), "renews by itself: no \"nothing to do\" message");
    for address in &addresses[1..] {
        let subjects = subjects_to(address).await;
        assert_eq!(subjects.len(), 3, "the alert and two reminders: {subjects:?}");
        assert!(subjects.iter().all(|s| s.contains(ends)), "{subjects:?}");
    }
}

/// A business on another billing tool sends its subscriptions in the generic format: the
/// same renewal reminders follow, with nothing written to the table but the signed document.
#[tokio::test]
async fn subscriptions_from_the_generic_format_get_the_same_renewal_reminders() {
    let store = relance_tests::fresh_store("generic-renewals").await;
    let run = relance_tests::unique();
    let secrets = relance_tests::secrets(&[(relance::secrets::RELANCE_WEBHOOK_SECRET, "generic-renewal-secret")]);
    let router =
        relance_tests::webhook_router(relance::ingest::Ingest::new(store.clone(), Default::default(), Default::default()), secrets);
    let addresses: Vec<String> = (0..3).map(|i| format!("generic-renewal-{i}-{run}@example.org")).collect();
    let customers: Vec<Value> = addresses
        .iter()
        .enumerate()
        .map(|(i, email)| json!({"id": format!("G-{i}"), "name": format!("Member {i}"), "email": email}))
        .collect();
    // A yearly plan ending Friday 29 January 2027 (Paris), renewing by itself, set to cancel,
    // and renewed by hand.
    let subscriptions: Vec<Value> = [(false, false), (true, false), (false, true)]
        .iter()
        .enumerate()
        .map(|(i, (cancelling, manual))| {
            json!({"id": format!("GS-{i}"), "customer_id": format!("G-{i}"), "plan": "Parcelle annuelle", "currency": "EUR",
                   "amount": "1200.00", "interval": "year", "status": "active", "current_period_start": "2026-01-28T23:00:00Z",
                   "current_period_end": "2027-01-28T23:00:00Z", "cancel_at_period_end": cancelling, "manual_renewal": manual})
        })
        .collect();
    let document = json!({"id": format!("erp-subs-{run}"), "occurred_at": "2026-11-25T08:00:00Z",
                          "customers": customers, "subscriptions": subscriptions});
    let body = serde_json::to_vec(&document).unwrap();
    let header = relance::providers::generic::sign(&body, "generic-renewal-secret", relance_tests::now().timestamp());
    let answer = relance_tests::post(&router, "/webhooks/generic", &[("relance-signature", &header)], body).await;
    assert_eq!((answer.status, answer.json()["outcome"].as_str()), (200, Some("applied")), "{}", answer.text());
    let mut ids = Vec::new();
    for i in 0..3 {
        let reference = ProviderRef::new(Provider::Generic, format!("G-{i}")).unwrap();
        let key = store.find_by_provider_ref("Customer", &reference).await.unwrap().unwrap();
        ids.push(store.get::<Customer>(&key).await.unwrap().unwrap().id);
    }
    renewal_reminders_over_january(&store, &ids, &addresses, "Parcelle annuelle prend fin le 29 janvier 2027").await;
}

/// The business's own calendar: a monthly VAT deadline on the 19th and a yearly one, reminded
/// to the accountant's address 7 days and 1 day before, from the reminder time on in Paris,
/// once each however many scans run, about no customer; a deadline that is not due is not.
#[tokio::test]
async fn the_business_calendar_reminds_the_team_of_its_deadlines_once_each() {
    let store = relance_tests::fresh_store("calendar").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let accountant = format!("compta-{}@example.org", relance_tests::unique());
    let (_, file) = call(&router, "GET", "/admin/settings", &admin, None).await;
    let mut settings = file["settings"].clone();
    settings["calendar"] = json!([
        {"name": "tva", "every": "month", "day": 19, "days_before": [7, 1], "note": "Déclarer et payer la TVA (CA3)",
         "team_email": accountant},
        {"name": "cfe", "every": "year", "day": 15, "month": 12, "days_before": [30], "note": "Payer la CFE"},
    ]);
    let put = |body: Value, version: &str| {
        let request = axum::http::Request::builder()
            .method("PUT")
            .uri("/admin/settings")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .header("if-match", version.to_string())
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        relance_tests::send(&router, request)
    };
    let mut wrong = settings.clone();
    wrong["calendar"][1]["month"] = json!(13);
    let refused = put(wrong, "\"0\"").await;
    assert_eq!((refused.status, refused.json()["field"].as_str()), (400, Some("calendar[1].month")), "{}", refused.text());
    let saved = put(settings, "\"0\"").await;
    assert_eq!(saved.status, 200, "{}", saved.text());

    let calendar = CustomerId::parse(relance::schedule::calendar::CALENDAR).unwrap();
    let scan = |now: &'static str| {
        let store = store.clone();
        async move { scan::handle(&relance_tests::scan_context(&store), json!({ "now": now }), at(now)).await.unwrap() }
    };
    let reminders = || async { store.list_all::<Notification>(&Key::customer_partition(&calendar)).await.unwrap() };
    // 12 December, 8:00 in Paris: before the reminder time (9:00), nothing yet.
    assert_eq!(scan("2026-12-12T07:00:00Z").await.scan.unwrap().team_deadlines, 0);
    assert!(reminders().await.is_empty());
    // 9:30: the VAT deadline of the 19th, 7 days ahead; the CFE (15 December) was due on
    // 15 November, long gone, and is not sent late.
    assert_eq!(scan("2026-12-12T08:30:00Z").await.scan.unwrap().team_deadlines, 1);
    assert_eq!(scan("2026-12-12T09:30:00Z").await.scan.unwrap().team_deadlines, 0, "once, however many scans");
    let written = reminders().await;
    assert_eq!(written.len(), 1);
    assert_eq!((written[0].kind, written[0].rule.as_deref()), (NotificationKind::TeamDeadline, Some("tva-2026-12-19")));

    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[written[0].key()])).await;
    let sent: Notification = store.get(&written[0].key()).await.unwrap().unwrap();
    assert_eq!(sent.status, NotificationStatus::Sent, "{sent:?}");
    let emails = relance_tests::sent_emails().await;
    let to_accountant: Vec<_> = emails.iter().filter(|m| m["destinations"]["ToAddresses"][0] == accountant.as_str()).collect();
    assert_eq!(to_accountant.len(), 1);
    assert!(to_accountant[0]["subject"].as_str().unwrap().contains("19 décembre 2026"), "{}", to_accountant[0]);
    assert!(to_accountant[0]["body"].as_str().unwrap().contains("Déclarer et payer la TVA (CA3)"), "{}", to_accountant[0]);

    // No scan ran on the 18th: the first one on the 19th still tells of the deadline that day.
    assert_eq!(scan("2026-12-19T05:00:00Z").await.scan.unwrap().team_deadlines, 1);
    let written = reminders().await;
    assert_eq!(written.len(), 2);
    assert!(written.iter().any(|n| n.step == 2 && n.rule.as_deref() == Some("tva-2026-12-19")), "the day-before one: {written:?}");
}
