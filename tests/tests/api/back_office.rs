//! The back office on a fresh table: nothing of the demo seed, only an admin and the API.
//! Gardens and their farmers, missions and their invoices, decisions on leads, each change
//! in the audit trail; the dashboards and the farmer's rights then follow from them.

use relance::domain::*;
use relance::store::Store;
use relance_tests::{call, token};
use serde_json::{Value, json};

fn router(store: &Store) -> axum::Router {
    portal::router(relance_tests::portal_state(store))
}

/// A person with an account (as an invitation leaves them), known by `name`.
async fn person(store: &Store, user: &str, customer: &str, name: &str) {
    store.insert(&mut relance_tests::customer(customer, name, Some(&format!("{customer}@example.org")))).await.unwrap();
    store.insert(&mut Account::new(user, Some(CustomerId::parse(customer).unwrap()))).await.unwrap();
}

#[tokio::test]
async fn an_admin_opens_a_garden_and_its_farmer_posts_a_harvest() {
    let store = relance_tests::fresh_store("back-office-sites").await;
    let router = router(&store);
    let admin = token("u-admin", &["admin"]);
    person(&store, "u-lea", "c-lea", "Léa").await;
    let lea = token("u-lea", &["farmer"]);

    let (status, site) =
        call(&router, "POST", "/sites", &admin, Some(json!({"name": "Jardin des Lilas", "address": "3 rue des Lilas"}))).await;
    assert_eq!(status, 201, "{site}");
    let id = site["id"].as_str().unwrap().to_string();
    assert_eq!((site["time_zone"].as_str(), site["farmers"].clone()), (Some("Europe/Paris"), json!([])), "the business's zone by default");
    let harvest = json!({"date": chrono::Utc::now().date_naive(), "crop": "Radis", "grams": 1200});

    // Before she is its farmer, the garden is not Léa's to see or post to.
    assert_eq!(call(&router, "POST", &format!("/sites/{id}/harvests"), &lea, Some(harvest.clone())).await.0, 404);
    let (status, body) = call(&router, "PUT", &format!("/sites/{id}/farmers"), &admin, Some(json!({"farmers": ["u-nobody"]}))).await;
    assert_eq!((status, body["message"].as_str()), (400, Some("farmers: no account for user \"u-nobody\"")));
    let (status, site) = call(&router, "PUT", &format!("/sites/{id}/farmers"), &admin, Some(json!({"farmers": ["u-lea"]}))).await;
    assert_eq!((status, &site["farmer_names"]), (200, &json!(["Léa"])), "{site}");
    let (status, posted) = call(&router, "POST", &format!("/sites/{id}/harvests"), &lea, Some(harvest.clone())).await;
    assert_eq!(status, 201, "{posted}");
    // On offer a week from the day it was picked unless she says otherwise.
    let today = chrono::Utc::now().date_naive();
    assert_eq!(posted["available_until"], json!(today + chrono::Duration::days(6)));
    let later = json!({"date": today, "crop": "Courges", "grams": 9000, "available_from": today + chrono::Duration::days(2),
        "available_until": today + chrono::Duration::days(20)});
    assert_eq!(call(&router, "POST", &format!("/sites/{id}/harvests"), &lea, Some(later)).await.0, 201);
    for (wrong, field) in [
        (json!({"available_from": today - chrono::Duration::days(1)}), "available_from:"),
        (
            json!({"available_from": today + chrono::Duration::days(3), "available_until": today + chrono::Duration::days(2)}),
            "available_until:",
        ),
        (json!({"available_until": today + chrono::Duration::days(61)}), "available_until:"),
        (json!({"available_from": chrono::NaiveDate::MAX}), "available_from:"),
    ] {
        let mut body = harvest.clone();
        body.as_object_mut().unwrap().extend(wrong.as_object().unwrap().clone());
        let (status, answer) = call(&router, "POST", &format!("/sites/{id}/harvests"), &lea, Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"].as_str().unwrap().starts_with(field), "the error names the field: {answer}");
    }
    // What members may pick today: the radishes, not yet the squashes; both in the history.
    let (status, current) = call(&router, "GET", &format!("/sites/{id}/harvests?current=true"), &admin, None).await;
    assert_eq!(status, 200, "{current}");
    let crops =
        |page: &Value| page["harvests"].as_array().unwrap().iter().map(|h| h["crop"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(crops(&current), ["Radis"]);
    let (_, all) = call(&router, "GET", &format!("/sites/{id}/harvests"), &admin, None).await;
    assert_eq!(crops(&all).len(), 2, "{all}");
    // Only admins keep gardens.
    assert_eq!(call(&router, "PATCH", &format!("/sites/{id}"), &lea, Some(json!({"name": "Mine"}))).await.0, 403);
    let (status, site) = call(
        &router,
        "PATCH",
        &format!("/sites/{id}"),
        &admin,
        Some(json!({"address": "5 rue des Lilas", "time_zone": "Europe/Brussels"})),
    )
    .await;
    assert_eq!((status, site["address"].as_str(), site["time_zone"].as_str()), (200, Some("5 rue des Lilas"), Some("Europe/Brussels")));
    let (status, body) = call(&router, "PATCH", &format!("/sites/{id}"), &admin, Some(json!({"time_zone": "Paris"}))).await;
    assert_eq!(status, 400, "{body}");
    // Léa sees her garden in her list, without the farmers' user ids.
    let (_, list) = call(&router, "GET", "/sites", &lea, None).await;
    assert_eq!(list["sites"].as_array().unwrap().len(), 1);
    assert!(list["sites"][0].get("farmers").is_none(), "{list}");

    // Every change is in the audit trail, newest first, with who and what.
    let (status, audit) = call(&router, "GET", &format!("/admin/audit?record=Site/{id}"), &admin, None).await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit["entries"].as_array().unwrap();
    let changed: Vec<&Value> = entries.iter().map(|e| &e["changed"]).collect();
    assert_eq!(
        changed,
        [
            &json!(["address", "time_zone"]),
            &json!(["farmer_names", "farmers"]),
            &json!(["address", "farmer_names", "farmers", "id", "name", "time_zone"])
        ]
    );
    assert_eq!((entries[0]["by"].as_str(), entries[2]["action"].as_str()), (Some("u-admin"), Some("create")));
    assert_eq!(call(&router, "GET", &format!("/admin/audit?record=Site/{id}"), &lea, None).await.0, 403);
    assert_eq!(call(&router, "GET", "/admin/audit?record=Secret/x", &admin, None).await.0, 400);
}

#[tokio::test]
async fn missions_and_leads_kept_by_an_admin_fill_the_dashboards() {
    let store = relance_tests::fresh_store("back-office-agency").await;
    let router = router(&store);
    let admin = token("u-admin", &["admin"]);
    person(&store, "u-client", "c-client", "Atelier Nord").await;
    person(&store, "u-sales", "c-sales", "Samir").await;
    person(&store, "u-amb", "c-amb", "Alix").await;
    let mut invoice = relance_tests::invoice(&CustomerId::parse("c-client").unwrap(), "inv-nord-1", "F-NORD-1", 450_000);
    invoice.issued_at = chrono::Utc::now();
    // Paid: the sales dashboard's "actual" is what was paid on the missions' invoices.
    invoice.record_payment(relance_tests::eur(450_000)).unwrap();
    store.insert(&mut invoice).await.unwrap();

    let mission = json!({"client": "c-client", "title": "Refonte", "sales": "u-sales", "freelancers": ["Nina"],
        "starts_on": chrono::Utc::now().date_naive(), "monthly_fee": {"minor_units": 450_000, "currency": "EUR"}});
    let mut ghost = mission.clone();
    ghost["sales"] = json!("u-ghost");
    let (status, body) = call(&router, "POST", "/admin/missions", &admin, Some(ghost)).await;
    assert_eq!((status, body["message"].as_str()), (404, Some("sales: no account for user \"u-ghost\"")));
    let (status, created) = call(&router, "POST", "/admin/missions", &admin, Some(mission.clone())).await;
    assert_eq!(status, 201, "{created}");
    let mission_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(call(&router, "POST", "/admin/missions", &token("u-sales", &["sales"]), Some(mission)).await.0, 403);

    // The sales dashboard projects it; once the invoice is linked, it is billed there too.
    let sales = token("u-sales", &["sales"]);
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let range = format!("/dashboards/sales?from={month}&to={month}");
    let (_, before) = call(&router, "GET", &range, &sales, None).await;
    let billed = |figures: &Value| figures["actual"][0]["points"][0]["value"].as_i64().unwrap_or(0);
    assert_eq!((before["projected"][0]["points"][0]["value"].as_i64(), billed(&before)), (Some(450_000), 0), "{before}");
    let (status, body) = call(&router, "PATCH", "/admin/invoices/inv-nord-1", &admin, Some(json!({"mission_id": "m-elsewhere"}))).await;
    assert_eq!((status, body["message"].as_str()), (400, Some("mission_id: no such mission for this client")));
    let (status, _) = call(&router, "PATCH", "/admin/invoices/inv-nord-1", &admin, Some(json!({"mission_id": mission_id}))).await;
    assert_eq!(status, 200);
    let (_, after) = call(&router, "GET", &range, &sales, None).await;
    assert_eq!(billed(&after), 450_000, "{after}");

    // Handed to another sales person, it leaves Samir's figures.
    person(&store, "u-sales-2", "c-sales-2", "Sacha").await;
    let (status, changed) =
        call(&router, "PATCH", &format!("/admin/missions/{mission_id}"), &admin, Some(json!({"sales": "u-sales-2", "ends_on": null})))
            .await;
    assert_eq!((status, changed["sales"].as_str()), (200, Some("u-sales-2")), "{changed}");
    let (_, samir) = call(&router, "GET", &range, &sales, None).await;
    assert_eq!(samir["missions"], json!([]));
    let (_, sacha) = call(&router, "GET", &range, &token("u-sales-2", &["sales"]), None).await;
    assert_eq!(sacha["missions"].as_array().map(Vec::len), Some(1));
    let (_, missions) = call(&router, "GET", "/admin/missions", &admin, None).await;
    assert_eq!(missions["missions"][0]["client_id"], "c-client");

    // An ambassador's lead, qualified then won with its commission, then paid.
    let amb = token("u-amb", &["ambassador"]);
    let (_, lead) = call(
        &router,
        "POST",
        "/leads",
        &amb,
        Some(json!({"company": "Café Lune", "contact_name": "Mme Lune", "email": "lune@example.org"})),
    )
    .await;
    let lead_path = format!("/admin/leads/{}", lead["id"].as_str().unwrap());
    assert_eq!(call(&router, "PATCH", &lead_path, &admin, Some(json!({"status": "qualified"}))).await.1["status"], "qualified");
    let (status, body) = call(&router, "PATCH", &lead_path, &admin, Some(json!({"status": "won"}))).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("lead_decision")), "a win needs its commission: {body}");
    let (status, won) = call(&router, "PATCH", &lead_path, &admin, Some(json!({"status": "won", "commission": "150,00"}))).await;
    assert_eq!((status, &won["commission"]), (200, &json!({"minor_units": 15_000, "currency": "EUR"})));
    let (_, dashboard) = call(&router, "GET", "/dashboards/ambassador", &amb, None).await;
    assert_eq!((dashboard["owed"][0]["minor_units"].as_i64(), dashboard["leads_by_status"]["won"].as_i64()), (Some(15_000), Some(1)));
    // A corrected commission is a change of its own, not a second win.
    let (status, corrected) = call(&router, "PATCH", &lead_path, &admin, Some(json!({"commission": "175.00"}))).await;
    assert_eq!((status, corrected["commission"]["minor_units"].as_i64()), (200, Some(17_500)), "{corrected}");
    let (_, paid) = call(&router, "PATCH", &lead_path, &admin, Some(json!({"commission_paid": true}))).await;
    assert_eq!(paid["commission_paid"], true);
    let (_, dashboard) = call(&router, "GET", "/dashboards/ambassador", &amb, None).await;
    assert_eq!(dashboard["owed"][0]["minor_units"].as_i64(), Some(0), "{dashboard}");
    let (status, body) = call(&router, "PATCH", &lead_path, &admin, Some(json!({"status": "lost"}))).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("lead_decision")));

    // Alix heard of each change once, by email, in her language.
    let alix = CustomerId::parse("c-amb").unwrap();
    let notices: Vec<Notification> = store.list_all(&relance::store::Key::customer_partition(&alix)).await.unwrap();
    let notices: Vec<&Notification> = notices.iter().filter(|n| n.kind == NotificationKind::LeadChanged).collect();
    assert_eq!(notices.len(), 4, "qualified, won, corrected, paid: {notices:?}");
    let keys: Vec<relance::store::Key> =
        notices.iter().map(|n| relance::store::Key::of_customer::<Notification>(&alix, n.id.as_str())).collect();
    let context = relance_tests::dispatch_context(store.clone()).await;
    let response = dispatch::handle(&context, relance_tests::stream_batch(&keys)).await;
    assert!(response.batch_item_failures.is_empty());
    let mut subjects: Vec<String> = relance_tests::sent_emails()
        .await
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == "c-amb@example.org")
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Café Lune est devenu client",
            "Café Lune est qualifié",
            "Votre commission pour Café Lune est corrigée",
            "Votre commission pour Café Lune est versée"
        ]
    );
    let won_mail = relance_tests::sent_emails().await.into_iter().find(|m| m["subject"] == "Café Lune est devenu client").unwrap();
    // Sent after the correction, it gives the commission as it stands then.
    assert!(won_mail["body"].as_str().unwrap().contains("175,00"), "the commission: {}", won_mail["body"]);

    // Who did it: the invoice's link and the lead's decisions are in the audit trail.
    let (_, audit) = call(&router, "GET", "/admin/audit?record=Invoice/inv-nord-1", &admin, None).await;
    assert_eq!(audit["entries"][0]["changed"], json!(["mission_id"]));
    let (_, audit) = call(&router, "GET", &format!("/admin/audit?record=Lead/{}", lead["id"].as_str().unwrap()), &admin, None).await;
    assert_eq!(audit["entries"].as_array().map(Vec::len), Some(4), "qualified, won, corrected, paid: {audit}");
}

#[tokio::test]
async fn an_admin_keeps_the_customer_file_and_new_contact_details_send_what_was_held() {
    let store = relance_tests::fresh_store("back-office-customers").await;
    // A date rule for lease anniversaries, for customers in the "Clients" list only.
    let mut state = relance_tests::portal_state(&store);
    let mut ladders = relance::schedule::Ladders::default();
    ladders.date_rules.push(relance::schedule::DateRule {
        name: "lease-year".into(),
        date_field: "lease_start".into(),
        offset_days: 365,
        audience_tag: None,
        audience_list: Some("Clients".into()),
        audience_role: None,
        notify_team: false,
        ..Default::default()
    });
    state.settings = relance::settings::LiveSettings::fixed(ladders, Default::default());
    let router = portal::router(state);
    let admin = token("u-admin", &["admin"]);

    // Created from what a clerk types: a national mobile number, tags, a list, a date.
    let lease = chrono::Utc::now().date_naive() - chrono::Duration::days(300);
    let details = json!({"name": "Mme Martin", "email": "martin@example.org", "phone": "06 12 34 56 78", "tags": ["b2b"],
        "country": "FR", "lists": ["Prospects"], "dates": {"lease_start": lease}, "external_id": "rec42"});
    let (status, file) = call(&router, "POST", "/admin/customers", &admin, Some(details)).await;
    assert_eq!(status, 201, "{file}");
    let id = file["customer"]["id"].as_str().unwrap().to_string();
    assert_eq!((file["customer"]["phone"].as_str(), file["customer"]["external_id"].as_str()), (Some("+33612345678"), Some("rec42")));
    assert!(file["standing"]["next_reminder"].is_null(), "not in the rule's list yet: {file}");
    let (status, body) = call(&router, "POST", "/admin/customers", &admin, Some(json!({"name": "X", "email": "not an address"}))).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("email:"), "the error names the field: {body}");

    // Into the "Clients" list: the lease anniversary is planned.
    let path = format!("/admin/customers/{id}");
    let (status, file) = call(&router, "PATCH", &path, &admin, Some(json!({"lists": ["Clients"]}))).await;
    assert_eq!(status, 200, "{file}");
    assert!(file["standing"]["next_reminder"].is_string(), "the date rule now applies: {file}");

    // A customer nobody can reach, with an overdue notice held for want of contact details.
    let (_, nobody) = call(&router, "POST", "/admin/customers", &admin, Some(json!({"name": "M. Sans Contact"}))).await;
    let nobody_id = CustomerId::parse(nobody["customer"]["id"].as_str().unwrap()).unwrap();
    let mut invoice = relance_tests::invoice(&nobody_id, "inv-sans-1", "F-SANS-1", 7_500);
    store.insert(&mut invoice).await.unwrap();
    let mut held = relance_tests::overdue_notice(&invoice, 1);
    held.hold("no email and no mobile").unwrap();
    store.insert(&mut held).await.unwrap();

    // Found by invoice number, by tag, and among those with something held.
    let (_, found) = call(&router, "GET", "/admin/customers?q=f-sans", &admin, None).await;
    assert_eq!(found["customers"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["customers"][0]["standing"]["balance_owed"], json!([{"minor_units": 7_500, "currency": "EUR"}]));
    let (_, tagged) = call(&router, "GET", "/admin/customers?tag=b2b", &admin, None).await;
    assert_eq!(tagged["customers"][0]["customer"]["name"], "Mme Martin");
    let (_, waiting) = call(&router, "GET", "/admin/customers?status=held", &admin, None).await;
    assert_eq!(waiting["customers"][0]["customer"]["name"], "M. Sans Contact", "{waiting}");

    // An email for him: the held notice goes now, as a fresh copy, once.
    let nobody_path = format!("/admin/customers/{nobody_id}");
    assert_eq!(call(&router, "PATCH", &nobody_path, &admin, Some(json!({"email": "sans@example.org"}))).await.0, 200);
    assert_eq!(call(&router, "PATCH", &nobody_path, &admin, Some(json!({"email": "sans2@example.org"}))).await.0, 200);
    let notes: Vec<Notification> = store.list_all(&relance::store::Key::customer_partition(&nobody_id)).await.unwrap();
    let statuses: Vec<NotificationStatus> = notes.iter().map(|n| n.status).collect();
    assert_eq!(notes.len(), 2, "one copy, not one per change: {statuses:?}");
    assert!(notes.iter().any(|n| n.status == NotificationStatus::Pending && n.id.as_str().contains("resend")));
    assert!(notes.iter().any(|n| n.status == NotificationStatus::Skipped && n.resent_as.is_some()));

    // His file: the invoice and both notices on the timeline, newest first.
    let (_, file) = call(&router, "GET", &nobody_path, &admin, None).await;
    let kinds: Vec<&str> = file["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "notification").count(), 2, "{kinds:?}");
    assert!(kinds.contains(&"invoice_issued"));
    assert_eq!(file["timeline"][0]["status"], "pending", "the copy is the newest: {file}");

    // Pausing is a change like any other, in the audit trail; members cannot reach any of it.
    let (_, paused) = call(&router, "PATCH", &nobody_path, &admin, Some(json!({"reminders_paused": true}))).await;
    assert!(paused["standing"]["next_reminder"].is_null());
    let (_, audit) = call(&router, "GET", &format!("/admin/audit?record=Customer/{nobody_id}"), &admin, None).await;
    assert_eq!(audit["entries"][0]["changed"], json!(["reminders_paused"]), "{audit}");
    assert_eq!(call(&router, "GET", &nobody_path, &token("u-member", &["member"]), None).await.0, 403);
}

/// A garden's farmer moves an event, then calls it off: the registered are told each time, by
/// email through dispatch (as moto recorded it), and their places are freed.
#[tokio::test]
async fn a_moved_then_cancelled_event_tells_each_registered_member_once() {
    let store = relance_tests::fresh_store("back-office-events").await;
    let router = router(&store);
    let admin = token("u-admin", &["admin"]);
    person(&store, "u-karim", "c-karim", "Karim").await;
    let (_, site) = call(&router, "POST", "/sites", &admin, Some(json!({"name": "Jardin du Canal", "address": "1 quai"}))).await;
    let site_id = site["id"].as_str().unwrap().to_string();
    call(&router, "PUT", &format!("/sites/{site_id}/farmers"), &admin, Some(json!({"farmers": ["u-karim"]}))).await;
    let karim = token("u-karim", &["farmer"]);
    let starts = chrono::Utc::now() + chrono::Duration::days(10);
    let (status, event) = call(
        &router,
        "POST",
        "/events",
        &karim,
        Some(json!({"title": "Semis d'hiver", "starts_at": starts,
        "location": "Serre", "audience": {"kind": "site", "site": site_id}, "capacity": 10})),
    )
    .await;
    assert_eq!(status, 201, "{event}");
    let id = event["id"].as_str().unwrap().to_string();
    // Two members of the garden, each with an email, take a place.
    let mut emails = Vec::new();
    for n in 1..=2 {
        let (user, customer) = (format!("u-canal-{n}"), format!("c-canal-{n}"));
        person(&store, &user, &customer, &format!("Membre {n}")).await;
        let mut account: Account = store.get(&relance::store::Key::account(&user)).await.unwrap().unwrap();
        account.garden = Some(Plot { site: SiteId::parse(&site_id).unwrap(), plot: format!("C{n}") });
        store.update(&mut account).await.unwrap();
        assert_eq!(call(&router, "POST", &format!("/events/{id}/registrations"), &token(&user, &["member"]), None).await.0, 201);
        emails.push(format!("{customer}@example.org"));
    }

    // Moved by two days: both are told, once, and "my events" shows the new time.
    let later = starts + chrono::Duration::days(2);
    let (status, moved) = call(&router, "PATCH", &format!("/events/{id}"), &karim, Some(json!({"starts_at": later}))).await;
    assert_eq!((status, moved["notified"].as_u64()), (200, Some(2)), "{moved}");
    let (_, again) = call(&router, "PATCH", &format!("/events/{id}"), &karim, Some(json!({"starts_at": later}))).await;
    assert_eq!(again["notified"].as_u64(), Some(0), "the same time again tells nobody again");
    let attendance: Attendance =
        store.get(&relance::store::Key::attendance("u-canal-1", &EventId::parse(&id).unwrap())).await.unwrap().unwrap();
    assert_eq!(attendance.starts_at.timestamp(), later.timestamp());
    // Another garden's farmer may not touch it; a member may not either.
    assert_eq!(call(&router, "POST", &format!("/events/{id}/cancel"), &token("u-canal-1", &["member"]), None).await.0, 403);

    // Dispatch sends what was queued so far: per member, the confirmation and the change.
    let queued = || async {
        let mut keys = Vec::new();
        for n in 1..=2 {
            let customer = CustomerId::parse(&format!("c-canal-{n}")).unwrap();
            for note in store.list_all::<Notification>(&relance::store::Key::customer_partition(&customer)).await.unwrap() {
                keys.push(relance::store::Key::of_customer::<Notification>(&customer, note.id.as_str()));
            }
        }
        keys
    };
    let context = relance_tests::dispatch_context(store.clone()).await;
    let keys = queued().await;
    assert_eq!(keys.len(), 4);
    assert!(dispatch::handle(&context, relance_tests::stream_batch(&keys)).await.batch_item_failures.is_empty());

    // Called off: places freed, both told, the event no longer listed, no new registration.
    let (status, cancelled) = call(&router, "POST", &format!("/events/{id}/cancel"), &karim, None).await;
    assert_eq!(
        (status, cancelled["notified"].as_u64(), cancelled["event"]["cancelled"].as_bool()),
        (200, Some(2), Some(true)),
        "{cancelled}"
    );
    assert_eq!(call(&router, "POST", &format!("/events/{id}/cancel"), &karim, None).await.1["notified"].as_u64(), Some(0));
    let (_, listed) = call(&router, "GET", "/events", &token("u-canal-1", &["member"]), None).await;
    assert!(!listed.to_string().contains(&id), "{listed}");
    let (status, body) = call(&router, "POST", &format!("/events/{id}/registrations"), &token("u-canal-2", &["member"]), None).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("event_cancelled")));

    // Then the cancellations (the batch holds everything again: what was sent is not sent twice).
    let keys = queued().await;
    assert_eq!(keys.len(), 6);
    assert!(dispatch::handle(&context, relance_tests::stream_batch(&keys)).await.batch_item_failures.is_empty());
    let sent = relance_tests::sent_emails().await;
    for email in &emails {
        let subjects: Vec<&str> =
            sent.iter().filter(|m| m["destinations"]["ToAddresses"][0] == email.as_str()).filter_map(|m| m["subject"].as_str()).collect();
        assert!(subjects.contains(&"Changement : Semis d'hiver"), "{email}: {subjects:?}");
        assert!(subjects.contains(&"Annulé : Semis d'hiver"), "{email}: {subjects:?}");
        assert_eq!(subjects.len(), 3, "{email}: {subjects:?}");
    }
}
