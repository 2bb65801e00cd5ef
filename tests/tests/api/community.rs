//! The member space's community and self-service routes against moto: gardens, harvests,
//! news, events with registrations (capacity, confirmation sent by dispatch, eve-of-event
//! reminder by the scan), messages, profile changes, GDPR export and erasure, payment links
//! and the admin's "send again".

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use relance::domain::*;
use relance::store::{Key, Record, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

struct World {
    store: Store,
    router: axum::Router,
    /// Unique per test, so addresses in moto's shared sent-mail list are told apart.
    tag: String,
}

impl World {
    fn token(&self, user: &str, roles: &[&str]) -> String {
        portal::auth::local_token(relance_tests::JWT_SECRET, &self.user(user), Some(&format!("{user}@example.org")), roles, 1).unwrap()
    }

    fn user(&self, name: &str) -> String {
        format!("{}-{name}", self.tag)
    }

    fn email(&self, name: &str) -> String {
        format!("{}.{name}@example.org", self.tag)
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        relance_tests::call(&self.router, method, path, token, body).await
    }
}

/// Two gardens, a farmer each, two members with plots in the north garden, a B2B member,
/// an admin.
async fn world(test: &str) -> World {
    let store = relance_tests::fresh_store(test).await;
    let router = portal::router(relance_tests::portal_state(&store).with_billing_portal("https://billing.example.org/p/login/demo"));
    // Unique per run too: moto keeps every email sent since it started.
    let run = relance_tests::unique();
    let w = World { store, router, tag: format!("{test}-{}", &run[run.len() - 6..]) };
    for (site, farmer) in [("north", "farmer-n"), ("south", "farmer-s")] {
        let mut s = Site {
            id: SiteId::parse(site).unwrap(),
            name: format!("Jardin {site}"),
            address: "12 rue des Lilas".into(),
            farmers: [w.user(farmer)].into(),
            farmer_names: vec![format!("Farmer {site}")],
            time_zone: None,
            version: 0,
        };
        w.store.insert(&mut s).await.unwrap();
        w.store.insert(&mut Account::new(w.user(farmer), None)).await.unwrap();
    }
    for (name, garden) in [("camille", Some("north")), ("hugo", Some("north")), ("bea", None)] {
        let mut c = relance_tests::customer(&w.user(name), format!("Customer {name}"), Some(&w.email(name)));
        c.locale = Locale::parse("fr-FR").unwrap();
        w.store.insert(&mut c).await.unwrap();
        let id = c.id.clone();
        let mut account = Account::new(w.user(name), Some(id));
        account.garden = garden.map(|g| Plot { site: SiteId::parse(g).unwrap(), plot: "B12".into() });
        w.store.insert(&mut account).await.unwrap();
    }
    w.store.insert(&mut Account::new(w.user("admin"), None)).await.unwrap();
    w
}

/// A start ten days ahead at 10:00 in Paris whose eve is a weekday (the sending window is
/// closed on Sundays).
fn event_start() -> DateTime<Utc> {
    let mut day = (Utc::now() + Duration::days(10)).date_naive();
    while matches!(day.weekday(), Weekday::Mon | Weekday::Sun) {
        day += Duration::days(1);
    }
    chrono_tz::Europe::Paris.from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap()).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn gardens_and_harvests_are_seen_by_their_people_and_posted_by_their_farmers() {
    let w = world("garden").await;
    let camille = w.token("camille", &["member"]);
    let farmer_n = w.token("farmer-n", &["farmer"]);

    let (status, site) = w.call("GET", "/sites/north", &camille, None).await;
    assert_eq!(status, 200);
    assert_eq!((site["plot"].as_str(), site["farmers"][0].as_str()), (Some("B12"), Some("Farmer north")));
    // Another garden is "not found", not "forbidden": its existence is not told.
    assert_eq!(w.call("GET", "/sites/south", &camille, None).await.0, 404);
    assert_eq!(w.call("GET", "/sites/south/harvests", &camille, None).await.0, 404);

    let harvest = json!({"date": Utc::now().date_naive(), "crop": "Courges", "grams": 12500});
    assert_eq!(w.call("POST", "/sites/north/harvests", &farmer_n, Some(harvest.clone())).await.0, 201);
    // Not their site; a member may not post; an admin may.
    assert_eq!(w.call("POST", "/sites/south/harvests", &farmer_n, Some(harvest.clone())).await.0, 404);
    assert_eq!(w.call("POST", "/sites/north/harvests", &camille, Some(harvest.clone())).await.0, 403);
    assert_eq!(w.call("POST", "/sites/south/harvests", &w.token("admin", &["admin"]), Some(harvest)).await.0, 201);
    // Bad input: a clear 400, nothing written.
    for bad in [
        json!({"date": "2026-13-01", "crop": "Courges", "grams": 1}),
        json!({"date": "2026-11-01", "crop": "  ", "grams": 1}),
        json!({"date": "2026-11-01", "crop": "Courges", "grams": 0}),
        json!({"date": "2026-11-01", "crop": "Courges", "grams": 1, "price": 3}),
    ] {
        let (status, body) = w.call("POST", "/sites/north/harvests", &farmer_n, Some(bad.clone())).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")), "{bad}");
    }
    let (_, list) = w.call("GET", "/sites/north/harvests", &camille, None).await;
    let crops: Vec<&str> = list["harvests"].as_array().unwrap().iter().map(|h| h["crop"].as_str().unwrap()).collect();
    assert_eq!(crops, vec!["Courges"]);
}

#[tokio::test]
async fn news_for_everyone_from_admins_and_for_a_site_from_its_farmer() {
    let w = world("news").await;
    let admin = w.token("admin", &["admin"]);
    let farmer_n = w.token("farmer-n", &["farmer"]);
    let camille = w.token("camille", &["member"]);
    assert_eq!(w.call("POST", "/news", &admin, Some(json!({"title": "Fermeture", "body": "Fermé le 25 décembre"}))).await.0, 201);
    assert_eq!(w.call("POST", "/news", &farmer_n, Some(json!({"title": "Global", "body": "x"}))).await.0, 403);
    assert_eq!(w.call("POST", "/news", &farmer_n, Some(json!({"title": "Courges", "body": "Servez-vous", "site": "north"}))).await.0, 201);
    assert_eq!(w.call("POST", "/news", &farmer_n, Some(json!({"title": "x", "body": "x", "site": "south"}))).await.0, 404);
    assert_eq!(w.call("POST", "/news", &camille, Some(json!({"title": "x", "body": "x"}))).await.0, 403);
    let (_, global) = w.call("GET", "/news", &camille, None).await;
    assert_eq!(global["news"][0]["title"], "Fermeture");
    let (_, site) = w.call("GET", "/news?site=north", &camille, None).await;
    assert_eq!(site["news"][0]["title"], "Courges");
    assert_eq!(w.call("GET", "/news?site=south", &camille, None).await.0, 404);
    let (_, page) = w.call("GET", "/sites/north", &camille, None).await;
    assert_eq!(page["news"][0]["title"], "Courges");
}

#[tokio::test]
async fn registrations_respect_capacity_confirm_by_email_and_remind_on_the_eve() {
    let w = world("events").await;
    let farmer_n = w.token("farmer-n", &["farmer"]);
    let camille = w.token("camille", &["member"]);
    let hugo = w.token("hugo", &["member"]);
    let starts_at = event_start();
    let new_event = json!({"title": "Atelier compost", "starts_at": starts_at, "location": "Jardin Nord",
                           "audience": {"kind": "site", "site": "north"}, "capacity": 1});
    // A farmer creates events only for a site they farm.
    let other_site = json!({"title": "x", "starts_at": starts_at, "location": "x", "audience": {"kind": "site", "site": "south"}});
    assert_eq!(w.call("POST", "/events", &farmer_n, Some(other_site)).await.0, 404);
    let public = json!({"title": "x", "starts_at": starts_at, "location": "x", "audience": {"kind": "public"}});
    assert_eq!(w.call("POST", "/events", &farmer_n, Some(public)).await.0, 403);
    let past = json!({"title": "x", "starts_at": "2020-01-01T10:00:00Z", "location": "x", "audience": {"kind": "site", "site": "north"}});
    assert_eq!(w.call("POST", "/events", &farmer_n, Some(past)).await.0, 400);
    let (status, event) = w.call("POST", "/events", &farmer_n, Some(new_event)).await;
    assert_eq!(status, 201, "{event}");
    let id = event["id"].as_str().unwrap().to_string();

    // Visible to the north garden's members, not to a member of no garden.
    let (_, listed) = w.call("GET", "/events", &camille, None).await;
    assert!(listed["events"].as_array().unwrap().iter().any(|e| e["id"] == id.as_str()));
    let bea = w.token("bea", &["member"]);
    let (_, listed) = w.call("GET", "/events", &bea, None).await;
    assert!(!listed["events"].as_array().unwrap().iter().any(|e| e["id"] == id.as_str()));
    assert_eq!(w.call("POST", &format!("/events/{id}/registrations"), &bea, None).await.0, 404);

    // One place: Camille takes it, Hugo finds the event full, Camille's second click changes nothing.
    let (status, registered) = w.call("POST", &format!("/events/{id}/registrations"), &camille, None).await;
    assert_eq!(status, 201, "{registered}");
    let confirmation = registered["confirmation"].as_str().unwrap().to_string();
    assert_eq!(w.call("POST", &format!("/events/{id}/registrations"), &camille, None).await.0, 200);
    let (status, full) = w.call("POST", &format!("/events/{id}/registrations"), &hugo, None).await;
    assert_eq!((status, full["message"].as_str()), (409, Some("the event is full")));

    // The farmer sees who comes; members do not.
    let (status, people) = w.call("GET", &format!("/events/{id}/registrations"), &farmer_n, None).await;
    assert_eq!(status, 200);
    assert_eq!(people["registrations"][0]["name"], "Customer camille");
    assert_eq!(w.call("GET", &format!("/events/{id}/registrations"), &camille, None).await.0, 403);
    assert_eq!(w.call("GET", &format!("/events/{id}/registrations"), &w.token("farmer-s", &["farmer"]), None).await.0, 404);

    // Dispatch sends the confirmation queued with the registration.
    let camille_id = CustomerId::parse(&w.user("camille")).unwrap();
    let key = Key::of_customer::<Notification>(&camille_id, &confirmation);
    let context = relance_tests::dispatch_context(w.store.clone()).await;
    let response = dispatch::handle(&context, relance_tests::stream_batch(&[key])).await;
    assert!(response.batch_item_failures.is_empty());
    let sent: Vec<Value> = relance_tests::sent_emails()
        .await
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == w.email("camille").as_str())
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["subject"], "Inscription confirmée : Atelier compost");
    assert!(sent[0]["body"].as_str().unwrap().contains("10:00"), "the time in Paris: {}", sent[0]["body"]);

    // Camille cancels: the place goes to Hugo.
    assert_eq!(w.call("DELETE", &format!("/events/{id}/registrations/me"), &camille, None).await.0, 200);
    assert_eq!(w.call("DELETE", &format!("/events/{id}/registrations/me"), &camille, None).await.0, 404);
    assert_eq!(w.call("POST", &format!("/events/{id}/registrations"), &hugo, None).await.0, 201);

    // The eve: the scan reminds Hugo (registered), not Camille (cancelled), once.
    let ladders = relance::schedule::Ladders::default();
    let eve = starts_at - Duration::hours(24) + Duration::minutes(5);
    let report = scan::run::scan(&w.store, &ladders, eve, false).await.unwrap();
    assert_eq!(report.notifications.get("event_reminder"), Some(&1), "{report:?}");
    let again = scan::run::scan(&w.store, &ladders, eve + Duration::minutes(1), false).await.unwrap();
    assert_eq!(again.notifications.get("event_reminder"), None);
    let hugo_id = CustomerId::parse(&w.user("hugo")).unwrap();
    let reminder: Option<Notification> =
        w.store.get(&Key::of_customer::<Notification>(&hugo_id, &format!("event.{id}.event_reminder.{hugo_id}.1"))).await.unwrap();
    assert_eq!(reminder.map(|n| n.status), Some(NotificationStatus::Pending));
    let camille_reminder: Option<Notification> =
        w.store.get(&Key::of_customer::<Notification>(&camille_id, &format!("event.{id}.event_reminder.{camille_id}.1"))).await.unwrap();
    assert!(camille_reminder.is_none());
}

#[tokio::test]
async fn concurrent_registrations_never_exceed_capacity() {
    let w = world("capacity").await;
    let admin = w.token("admin", &["admin"]);
    let (_, event) = w
        .call(
            "POST",
            "/events",
            &admin,
            Some(json!({"title": "Visite", "starts_at": event_start(), "location": "Nord", "audience": {"kind": "public"}, "capacity": 3})),
        )
        .await;
    let id = event["id"].as_str().unwrap().to_string();
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (router, token) = (w.router.clone(), w.token(&format!("walker{n}"), &["member"]));
        let path = format!("/events/{id}/registrations");
        calls.spawn(async move {
            let request = Request::post(path).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
            router.oneshot(request).await.unwrap().status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = calls.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| [201, 409].contains(s)), "{statuses:?}");
    let key = w.store.find_by_id::<Event>(&id).await.unwrap().unwrap();
    let stored: Event = w.store.get(&key).await.unwrap().unwrap();
    assert_eq!(stored.registered, 3);
}

#[tokio::test]
async fn b2b_events_are_for_business_members() {
    let w = world("b2b").await;
    let admin = w.token("admin", &["admin"]);
    let (_, event) = w
        .call(
            "POST",
            "/events",
            &admin,
            Some(json!({"title": "Team day", "starts_at": event_start(), "location": "Nord", "audience": {"kind": "b2b"}})),
        )
        .await;
    let id = event["id"].as_str().unwrap();
    assert_eq!(w.call("POST", &format!("/events/{id}/registrations"), &w.token("camille", &["member"]), None).await.0, 404);
    assert_eq!(w.call("POST", &format!("/events/{id}/registrations"), &w.token("bea", &["member_b2b"]), None).await.0, 201);
}

#[tokio::test]
async fn members_write_to_support_and_admins_answer_privately() {
    let w = world("messages").await;
    let camille = w.token("camille", &["member"]);
    let hugo = w.token("hugo", &["member"]);
    let admin = w.token("admin", &["admin"]);
    let (status, sent) = w.call("POST", "/messages", &camille, Some(json!({"body": "Mon robinet fuit, parcelle B12"}))).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(w.call("POST", "/messages", &camille, Some(json!({"body": ""}))).await.0, 400);
    assert_eq!(w.call("POST", "/messages", &camille, Some(json!({"text": "x"}))).await.0, 400);

    // The team is told by an internal note about Camille.
    let camille_id = CustomerId::parse(&w.user("camille")).unwrap();
    let notes = w.store.list_within::<Notification>(&Key::customer_partition(&camille_id), "message.", None, 10).await.unwrap().records;
    assert_eq!(notes.iter().map(|n| n.kind).collect::<Vec<_>>(), vec![NotificationKind::Internal]);

    // Admins read the inbox and the conversation; members only their own.
    let (_, inbox) = w.call("GET", "/messages", &admin, None).await;
    assert_eq!(inbox["inbox"][0]["member"], w.user("camille"));
    assert_eq!(w.call("GET", &format!("/messages?member={}", w.user("camille")), &hugo, None).await.0, 403);
    let (_, hugos) = w.call("GET", "/messages", &hugo, None).await;
    assert_eq!(hugos["messages"], json!([]));

    // The answer is private to Camille, and she is notified.
    let (status, answer) =
        w.call("POST", &format!("/messages/{}", w.user("camille")), &admin, Some(json!({"body": "Nous passons demain"}))).await;
    assert_eq!((status, answer["notified"].as_bool()), (201, Some(true)));
    assert_eq!(w.call("POST", &format!("/messages/{}", w.user("camille")), &hugo, Some(json!({"body": "x"}))).await.0, 403);
    assert_eq!(w.call("POST", "/messages/nobody-at-all", &admin, Some(json!({"body": "x"}))).await.0, 404);
    let (_, thread) = w.call("GET", "/messages", &camille, None).await;
    let authors: Vec<&str> = thread["messages"].as_array().unwrap().iter().map(|m| m["author"].as_str().unwrap()).collect();
    assert_eq!(authors, vec!["support", "member"], "newest first");
    let notes = w.store.list_within::<Notification>(&Key::customer_partition(&camille_id), "message.", None, 10).await.unwrap().records;
    assert!(notes.iter().any(|n| n.kind == NotificationKind::MessageReceived));
}

#[tokio::test]
async fn members_change_their_contact_details_and_choices() {
    let w = world("profile").await;
    let camille = w.token("camille", &["member"]);
    let (status, changed) = w
        .call(
            "PATCH",
            "/me",
            &camille,
            Some(json!({"phone": "06 12 34 56 78", "locale": "en-GB", "opt_outs": {"sms": true}, "preferred_channel": "sms"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["customer"]["phone"], "+33612345678", "read in the customer's own country before the locale changed");
    assert_eq!(changed["customer"]["locale"], "en-GB");
    assert_eq!(changed["customer"]["opt_outs"], json!({"email": false, "sms": true}));
    // null removes; a field left out stays.
    let (_, changed) = w.call("PATCH", "/me", &camille, Some(json!({"phone": null}))).await;
    assert!(changed["customer"]["phone"].is_null());
    assert_eq!(changed["customer"]["locale"], "en-GB");
    for bad in [
        json!({"email": "not-an-address"}),
        json!({"phone": "12"}),
        json!({"locale": "french"}),
        json!({"customer_id": "x"}),
        json!({"name": ""}),
    ] {
        let (status, body) = w.call("PATCH", "/me", &camille, Some(bad.clone())).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")), "{bad}");
    }
    // Not JSON at all.
    let request = Request::patch("/me")
        .header("authorization", format!("Bearer {camille}"))
        .header("content-type", "application/json")
        .body(Body::from("{"))
        .unwrap();
    assert_eq!(w.router.clone().oneshot(request).await.unwrap().status().as_u16(), 400);
    // Too large.
    let huge = json!({"name": "x".repeat(portal::MAX_BODY)});
    assert_eq!(w.call("PATCH", "/me", &camille, Some(huge)).await.0, 413);
    // An account that is nobody's customer has nothing to change.
    assert_eq!(w.call("PATCH", "/me", &w.token("admin", &["admin"]), Some(json!({"name": "x"}))).await.0, 404);
}

#[tokio::test]
async fn export_holds_everything_and_erasure_wipes_contact_details_but_keeps_the_books() {
    let w = world("gdpr").await;
    let camille = w.token("camille", &["member"]);
    let camille_id = CustomerId::parse(&w.user("camille")).unwrap();
    let mut invoice = relance_tests::invoice(&camille_id, InvoiceId::generate().as_str(), "F-2026-0001", 4200);
    (invoice.issued_at, invoice.due_date) = (Utc::now(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    invoice.follow_up.schedule(Utc::now());
    w.store.insert(&mut invoice).await.unwrap();
    w.call("POST", "/messages", &camille, Some(json!({"body": "Bonjour"}))).await;
    // A reminder about it, sent through moto's SES: the export shows the words that went.
    let target = Target { kind: TargetKind::Invoice, id: invoice.id.to_string() };
    let mut reminder =
        Notification::pending(camille_id.clone(), target, NotificationKind::InvoiceOverdue, None, 2, Some(invoice.balance()), Utc::now())
            .unwrap();
    w.store.insert(&mut reminder).await.unwrap();
    let dispatch = relance_tests::dispatch_context(w.store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[reminder.key()])).await;
    let sent: Notification = w.store.get(&reminder.key()).await.unwrap().unwrap();
    assert_eq!(sent.status, NotificationStatus::Sent, "{sent:?}");
    let email = relance_tests::sent_emails()
        .await
        .into_iter()
        .find(|m| m["id"].as_str() == sent.provider_message_id.as_deref())
        .expect("moto has the reminder");

    let (status, export) = w.call("GET", "/me/export", &camille, None).await;
    assert_eq!(status, 200);
    assert_eq!(export["customer"]["email"], w.email("camille"));
    assert_eq!(export["invoices"][0]["number"], "F-2026-0001");
    assert_eq!(export["messages"][0]["body"], "Bonjour");
    assert_eq!(export["garden"]["plot"], "B12");
    let exported = &export["notifications"][0];
    assert_eq!((exported["kind"].as_str(), exported["status"].as_str()), (Some("invoice_overdue"), Some("sent")));
    assert_eq!(exported["sent_copy"]["subject"], email["subject"], "the subject SES took");
    let words = exported["sent_copy"]["text"].as_str().unwrap_or_default();
    assert!(words.contains("42,00") && words.contains("F-2026-0001"), "the text as sent: {words}");
    assert!(email["body"].as_str().unwrap_or_default().contains(words.lines().next().unwrap_or("?")), "{email}");

    // Not while something is owed: the reminders would stop with nobody told.
    let (status, refused) = w.call("DELETE", "/me", &camille, None).await;
    assert_eq!(status, 409, "{refused}");
    invoice.record_payment(invoice.balance()).unwrap();
    w.store.update(&mut invoice).await.unwrap();
    let (status, erased) = w.call("DELETE", "/me", &camille, None).await;
    assert_eq!(status, 202, "{erased}");
    let customer: Customer = w.store.get(&Key::customer(&camille_id)).await.unwrap().unwrap();
    assert!(customer.email.is_none() && customer.phone.is_none() && customer.deleted_at.is_some());
    assert_eq!(customer.name, "(erased)");
    assert!(customer.reminders_stopped());
    let kept: Option<Invoice> = w.store.get(&invoice.key()).await.unwrap();
    assert_eq!(kept.map(|i| i.number.to_string()), Some("F-2026-0001".into()), "the books are kept");
    let reminder: Notification = w.store.get(&reminder.key()).await.unwrap().unwrap();
    assert_eq!((reminder.status, reminder.sent_copy.as_ref()), (NotificationStatus::Sent, None), "the words sent to them are forgotten");
    assert_eq!(erased["erased"].as_array().map(|e| e.contains(&json!("sent_texts"))), Some(true), "{erased}");
    let (_, me) = w.call("GET", "/me", &camille, None).await;
    assert!(me["customer"].is_null());
    assert_eq!(w.call("GET", "/me/invoices", &camille, None).await.0, 404);
}

#[tokio::test]
async fn pay_and_renew_lead_to_the_providers_pages() {
    let w = world("links").await;
    let camille = w.token("camille", &["member"]);
    let camille_id = CustomerId::parse(&w.user("camille")).unwrap();
    let mut subscription = Subscription {
        status: SubscriptionStatus::PastDue,
        current_period_start: Utc::now() - Duration::days(20),
        current_period_end: Utc::now() + Duration::days(10),
        ..relance_tests::subscription("sub-1", &camille_id)
    };
    w.store.insert(&mut subscription).await.unwrap();
    let open = |id: &str, link: Option<&str>| {
        let mut i = relance_tests::invoice(&camille_id, id, &format!("N-{id}"), 2900);
        (i.issued_at, i.due_date) = (Utc::now(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        i.payment_link = link.map(str::to_string);
        i
    };
    let mut with_link = open("inv-link", Some("https://invoice.stripe.com/i/acct_1/test_abc"));
    with_link.subscription_id = Some(subscription.id.clone());
    w.store.insert(&mut with_link).await.unwrap();
    w.store.insert(&mut open("inv-nolink", None)).await.unwrap();

    let (status, pay) = w.call("POST", "/me/invoices/inv-link/pay", &camille, None).await;
    assert_eq!((status, pay["url"].as_str()), (200, Some("https://invoice.stripe.com/i/acct_1/test_abc")));
    assert_eq!(w.call("POST", "/me/invoices/inv-nolink/pay", &camille, None).await.0, 409);
    // Someone else's invoice, guessed or not: not found.
    assert_eq!(w.call("POST", "/me/invoices/inv-link/pay", &w.token("hugo", &["member"]), None).await.0, 404);
    assert_eq!(w.call("POST", "/me/invoices/inv-link/pay", &w.token("farmer-n", &["farmer"]), None).await.0, 403);

    // Renewing pays the subscription's open invoice; with none, the billing portal.
    let (_, renew) = w.call("POST", "/me/subscriptions/sub-1/renew", &camille, None).await;
    assert_eq!((renew["kind"].as_str(), renew["invoice"].as_str()), (Some("invoice"), Some("inv-link")));
    with_link.record_payment(with_link.balance()).unwrap();
    w.store.update(&mut with_link).await.unwrap();
    let (_, renew) = w.call("POST", "/me/subscriptions/sub-1/renew", &camille, None).await;
    assert_eq!(renew["url"], "https://billing.example.org/p/login/demo");
    assert_eq!(w.call("POST", "/me/subscriptions/sub-1/renew", &w.token("hugo", &["member"]), None).await.0, 404);
}

#[tokio::test]
async fn admins_send_a_held_notice_again() {
    let w = world("resend").await;
    let admin = w.token("admin", &["admin"]);
    let camille_id = CustomerId::parse(&w.user("camille")).unwrap();
    let target = Target { kind: TargetKind::Invoice, id: "inv-held".into() };
    let mut held = Notification::pending(camille_id.clone(), target, NotificationKind::InvoiceOverdue, None, 2, None, Utc::now()).unwrap();
    held.hold("no channel: email bounced").unwrap();
    w.store.insert(&mut held).await.unwrap();
    let (_, before) = w.call("GET", "/admin/follow-up", &admin, None).await;
    assert!(before["items"].as_array().unwrap().iter().any(|i| i["id"] == held.id.as_str()));

    assert_eq!(
        w.call("POST", &format!("/admin/notifications/{}/resend", held.id.as_str()), &w.token("camille", &["member"]), None).await.0,
        403
    );
    let (status, copy) = w.call("POST", &format!("/admin/notifications/{}/resend", held.id.as_str()), &admin, None).await;
    assert_eq!(status, 202, "{copy}");
    let copy_id = copy["id"].as_str().unwrap();
    let stored: Notification = w.store.get(&Key::of_customer::<Notification>(&camille_id, copy_id)).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Pending);
    let original: Notification = w.store.get(&held.key()).await.unwrap().unwrap();
    assert_eq!(original.status, NotificationStatus::Skipped);
    let (_, after) = w.call("GET", "/admin/follow-up", &admin, None).await;
    assert!(!after["items"].as_array().unwrap().iter().any(|i| i["id"] == held.id.as_str()), "left the follow-up list");
    // A pending one is still on its way.
    assert_eq!(w.call("POST", &format!("/admin/notifications/{copy_id}/resend"), &admin, None).await.0, 409);
    assert_eq!(w.call("POST", "/admin/notifications/nothing.here.1/resend", &admin, None).await.0, 404);
}
