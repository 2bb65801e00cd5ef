//! The owner's own words through the API, on a fresh table: refused when they would break a
//! message, previewed for a real customer, sent by the next scan and dispatch, and taken back.

use chrono::{DateTime, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Key, Record};
use relance_tests::{call, token};
use serde_json::json;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn an_owner_rewrites_the_first_reminder_in_french_and_the_next_scan_sends_it() {
    let store = relance_tests::fresh_store("owner-templates").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let email = format!("templates-{}@example.org", ulid::Ulid::new()).to_lowercase();
    let mut customer = relance_tests::customer("c-templates", "Camille Martin", Some(&email));
    let mut invoice = relance_tests::invoice(&customer.id, "i-templates", "F-2027-007", 12_000);
    invoice.due_date = NaiveDate::from_ymd_opt(2027, 1, 14).unwrap();
    invoice.follow_up.step = 1;
    invoice.follow_up.schedule(at("2027-01-15T08:00:00Z"));
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut invoice).await.unwrap();

    // Every kind and language is listed, with what it may use and the text in force.
    let (status, list) = call(&router, "GET", "/admin/templates", &admin, None).await;
    assert_eq!(status, 200, "{list}");
    let overdue =
        list["templates"].as_array().unwrap().iter().find(|t| t["kind"] == "invoice_overdue" && t["locale"] == "fr").unwrap().clone();
    assert_eq!((overdue["source"].as_str(), overdue["version"].as_u64()), (Some("default"), Some(0)));
    assert!(overdue["variables"].as_array().unwrap().contains(&json!("amount")));
    assert!(overdue["draft"]["subject"].as_str().unwrap().contains("{{ number }}"));

    // Refused, naming the part: an unknown variable, a reminder SMS without its pay link.
    let path = "/admin/templates/invoice_overdue/fr?step=2";
    let draft = json!({
        "subject": "{{ business }} : votre facture {{ number }} attend",
        "text": "Bonjour {{ name }},\n\nPetit rappel amical : il reste {{ amount }} à régler sur la facture {{ number }}.",
        "sms": "{{ business }} : il reste {{ amount_sms }} sur {{ number }}. Payer : {{ sms_link }}",
    });
    let mut unknown = draft.clone();
    unknown["text"] = json!("Bonjour {{ prenom }}");
    let (status, refused) = call(&router, "PUT", path, &admin, Some(unknown)).await;
    assert_eq!((status, refused["error"].as_str(), refused["field"].as_str()), (400, Some("invalid_template"), Some("text")), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("{{ prenom }}"), "{refused}");
    let mut no_link = draft.clone();
    no_link["sms"] = json!("{{ business }} : il reste {{ amount_sms }}.");
    let (status, refused) = call(&router, "PUT", path, &admin, Some(no_link)).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("sms")), "{refused}");
    let (status, _) = call(&router, "PUT", "/admin/templates/invoice_overdue/de", &admin, Some(draft.clone())).await;
    assert_eq!(status, 400, "no German texts to write");

    // The preview is Camille's message: her amount, her invoice, her pay link, by email.
    let (status, preview) = call(
        &router,
        "POST",
        "/admin/templates/preview",
        &admin,
        Some(json!({"kind": "invoice_overdue", "draft": draft, "customer_id": "c-templates", "invoice_id": "i-templates"})),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert!(
        preview["text"].as_str().unwrap().contains("120,00\u{a0}€") || preview["text"].as_str().unwrap().contains("120,00"),
        "{preview}"
    );
    assert!(preview["html"].as_str().unwrap().contains("go&#x2f;i&#x2f;i-templates"), "the pay link, escaped: {preview}");
    assert_eq!(
        (preview["channel"].as_str(), preview["sms_encoding"].as_str(), preview["sms_segments"].as_u64()),
        (Some("email"), Some("GSM-7"), Some(1))
    );
    let mut emoji = draft.clone();
    emoji["sms"] = json!("🌱 {{ business }} : {{ amount_sms }} {{ sms_link }}");
    let (_, preview) = call(
        &router,
        "POST",
        "/admin/templates/preview",
        &admin,
        Some(json!({"kind": "invoice_overdue", "draft": emoji, "customer_id": "c-templates", "invoice_id": "i-templates"})),
    )
    .await;
    assert_eq!(preview["sms_encoding"], json!("UCS-2"), "an emoji moves the SMS to UCS-2: {preview}");

    let (status, saved) = call(&router, "PUT", path, &admin, Some(draft.clone())).await;
    assert_eq!((status, saved["source"].as_str(), saved["version"].as_u64()), (200, Some("custom"), Some(1)), "{saved}");
    let (_, history) = call(&router, "GET", "/admin/audit?record=Template/invoice_overdue.fr.step-2", &admin, None).await;
    assert_eq!(history["entries"].as_array().map(Vec::len), Some(1), "{history}");

    // The next scan and dispatch send the owner's words.
    let context = relance_tests::scan_context(&store);
    scan::handle(&context, json!({"now": "2027-01-15T09:00:00Z"}), at("2027-01-15T09:00:00Z")).await.unwrap();
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    let notes: Vec<Notification> = store.list_all(&Key::customer_partition(&customer.id)).await.unwrap();
    assert_eq!(notes.len(), 1);
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[notes[0].key()])).await;
    let sent: Vec<serde_json::Value> =
        relance_tests::sent_emails().await.into_iter().filter(|m| m["destinations"]["ToAddresses"][0] == email.as_str()).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["subject"], json!("Les Potagers de Belleville : votre facture F-2027-007 attend"), "{}", sent[0]);
    assert!(sent[0]["body"].as_str().unwrap().contains("Petit rappel amical"), "{}", sent[0]);

    // And back to the default.
    let (status, reset) = call(&router, "DELETE", path, &admin, None).await;
    assert_eq!((status, reset["source"].as_str(), reset["version"].as_u64()), (200, Some("default"), Some(2)), "{reset}");
}

/// A stored template that cannot render after all (written before a check existed, or by
/// hand): the default goes, and the notification says why.
#[tokio::test]
async fn a_template_that_cannot_render_at_send_time_falls_back_to_the_default_and_says_so() {
    use relance::notify::owner_templates::{Draft, OwnerTemplate, Scope};
    let store = relance_tests::fresh_store("owner-templates-fallback").await;
    let email = format!("fallback-{}@example.org", ulid::Ulid::new()).to_lowercase();
    let mut customer = relance_tests::customer("c-fallback", "Camille Martin", Some(&email));
    let mut invoice = relance_tests::invoice(&customer.id, "i-fallback", "F-2026-008", 12_000);
    let notification = relance_tests::insert_overdue(&store, &mut customer, &mut invoice).await;
    let mut broken = OwnerTemplate {
        kind: NotificationKind::InvoiceOverdue,
        language: "fr".into(),
        scope: Scope::All,
        draft: Some(Draft { subject: "{{ nom }}".into(), html: None, text: "x".into(), sms: "y".into() }),
        updated_at: chrono::Utc::now(),
        updated_by: "someone".into(),
        version: 0,
    };
    store.insert(&mut broken).await.unwrap();
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[notification.key()])).await;
    let sent: Vec<serde_json::Value> =
        relance_tests::sent_emails().await.into_iter().filter(|m| m["destinations"]["ToAddresses"][0] == email.as_str()).collect();
    assert_eq!(sent.len(), 1);
    assert!(sent[0]["subject"].as_str().unwrap().contains("F-2026-008"), "the default's subject: {}", sent[0]);
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Sent);
    assert!(stored.template_fallback.as_deref().is_some_and(|why| why.contains("subject")), "{:?}", stored.template_fallback);
}

/// A template's versions: each save is in its history with the version it made; a save over
/// a version someone else replaced is refused (412); an earlier version comes back as a new
/// one, the default included.
#[tokio::test]
async fn a_template_s_history_lists_every_version_and_one_comes_back_in_one_call() {
    let store = relance_tests::fresh_store("owner-templates-history").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let path = "/admin/templates/card_expiring/en";
    let draft = |words: &str| {
        json!({"subject": format!("{words}: your {{{{ card }}}}"), "text": format!("Hello {{{{ name }}}}, {words}. {{{{ link }}}}"),
            "sms": format!("{{{{ business }}}}: {words} {{{{ sms_link }}}}")})
    };
    let put = |body: serde_json::Value, version: Option<&str>| {
        let mut request = axum::http::Request::builder()
            .method("PUT")
            .uri(path)
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json");
        if let Some(version) = version {
            request = request.header("if-match", version);
        }
        relance_tests::send(&router, request.body(axum::body::Body::from(body.to_string())).unwrap())
    };
    let first = put(draft("first words"), Some("\"0\"")).await;
    assert_eq!((first.status, first.json()["version"].as_u64()), (200, Some(1)), "{}", first.json());
    let second = put(draft("second words"), Some("1")).await;
    assert_eq!(second.json()["version"].as_u64(), Some(2));
    // An editor who read version 1 is told, not allowed to overwrite the second save.
    let stale = put(draft("a late edit"), Some("1")).await;
    assert_eq!((stale.status, stale.json()["error"].as_str()), (412, Some("stale_version")), "{}", stale.json());
    assert_eq!(call(&router, "DELETE", path, &admin, None).await.0, 200);

    let (status, history) = call(&router, "GET", &format!("{path}/history"), &admin, None).await;
    assert_eq!(status, 200, "{history}");
    let versions: Vec<_> = history["entries"].as_array().unwrap().iter().map(|e| e["after"]["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [3, 2, 1], "newest first: {history}");
    assert!(history["entries"][0]["after"]["draft"].is_null(), "version 3 is the default again");
    assert!(history["entries"][1]["changed"].as_array().unwrap().contains(&json!("draft")));

    // Back to version 1's words, as version 4; then back to the default (version 3).
    let (status, back) = call(&router, "POST", &format!("{path}/revert?version=1"), &admin, None).await;
    assert_eq!((status, back["version"].as_u64(), back["source"].as_str()), (200, Some(4), Some("custom")), "{back}");
    assert!(back["draft"]["text"].as_str().unwrap().contains("first words"), "{back}");
    let settings = relance::settings::LiveSettings::stored(
        store.clone(),
        relance::settings::Settings::from_parts(&Default::default(), &Default::default()),
        std::time::Duration::ZERO,
    );
    let current = settings.current().await.unwrap();
    let chosen = relance::notify::owner_templates::choose(&current.templates, NotificationKind::CardExpiring, "en", 1, None).unwrap();
    assert!(chosen.draft.as_ref().unwrap().text.contains("first words"), "dispatch reads version 1's words again");
    let (_, back) = call(&router, "POST", &format!("{path}/revert?version=3"), &admin, None).await;
    assert_eq!((back["version"].as_u64(), back["source"].as_str()), (Some(5), Some("default")), "{back}");
    let (status, missing) = call(&router, "POST", &format!("{path}/revert?version=40"), &admin, None).await;
    assert_eq!(status, 404, "{missing}");
    let member = token("u-member", &["member"]);
    assert_eq!(call(&router, "GET", &format!("{path}/history"), &member, None).await.0, 403);
}

/// `POST /admin/templates/test`: the draft, rendered for a real customer, goes to the signed-in
/// admin's own email or phone (as moto's SES and SNS took them), never to the customer.
#[tokio::test]
async fn a_test_of_a_draft_goes_to_the_admin_s_own_email_and_phone_not_to_the_customer() {
    let store = relance_tests::fresh_store("owner-templates-test").await;
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    let router = portal::router(relance_tests::portal_state(&store).with_senders(dispatch.senders.clone()));
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let (admin_email, customer_email) = (format!("owner-{run}@example.org"), format!("customer-{run}@example.org"));
    // A number of this run's own: moto keeps every text of the run, and of earlier runs on it.
    let mobile = relance_tests::unique_mobile();
    let phone = mobile.as_str();
    let admin =
        portal::auth::local_token_with_phone(relance_tests::JWT_SECRET, "u-owner", Some(&admin_email), Some(phone), &["admin"], 1).unwrap();
    let mut customer = relance_tests::customer("c-test-send", "Camille Martin", Some(&customer_email));
    let mut invoice = relance_tests::invoice(&customer.id, "i-test-send", "F-2027-099", 12_000);
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut invoice).await.unwrap();
    let draft = json!({
        "subject": "{{ business }} : facture {{ number }}",
        "text": "Bonjour {{ name }}, il reste {{ amount }}. {{ link }}",
        "sms": "{{ business }} : {{ amount_sms }} sur {{ number }}. {{ sms_link }}",
    });
    let body = |channel: &str| json!({"kind": "invoice_overdue", "draft": draft, "customer_id": "c-test-send", "invoice_id": "i-test-send", "channel": channel});
    let (status, sent) = call(&router, "POST", "/admin/templates/test", &admin, Some(body("email"))).await;
    assert_eq!((status, sent["to"].as_str()), (200, Some(admin_email.as_str())), "{sent}");
    let (status, sent) = call(&router, "POST", "/admin/templates/test", &admin, Some(body("sms"))).await;
    assert_eq!((status, sent["to"].as_str()), (200, Some(phone)), "{sent}");

    let emails = relance_tests::sent_emails().await;
    let to_admin: Vec<_> = emails.iter().filter(|m| m["destinations"]["ToAddresses"][0] == admin_email.as_str()).collect();
    assert_eq!(to_admin.len(), 1);
    assert!(to_admin[0]["subject"].as_str().unwrap().starts_with("[Test] "), "{}", to_admin[0]);
    assert!(to_admin[0]["body"].as_str().unwrap().contains("Camille Martin"), "rendered for the customer: {}", to_admin[0]);
    assert!(!emails.iter().any(|m| m["destinations"].to_string().contains(&customer_email)), "the customer got nothing");
    let texts = relance_tests::sent_sms().await;
    let to_phone: Vec<_> = texts.iter().filter(|m| m.to_string().contains(phone)).collect();
    assert_eq!(to_phone.len(), 1, "{texts:?}");
    assert!(to_phone[0].to_string().contains("F-2027-099"), "{}", to_phone[0]);

    // An admin whose sign-in has no phone is told so; a draft that does not render names the part.
    let plain = token("u-admin", &["admin"]);
    let (status, refused) = call(&router, "POST", "/admin/templates/test", &plain, Some(body("sms"))).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("channel")), "{refused}");
    let mut broken = body("email");
    broken["draft"]["text"] = json!("{{ prenom }}");
    let (status, refused) = call(&router, "POST", "/admin/templates/test", &admin, Some(broken)).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_template")), "{refused}");
    // Without a sender set up, 503 rather than a silent nothing.
    let unsent = portal::router(relance_tests::portal_state(&store));
    assert_eq!(call(&unsent, "POST", "/admin/templates/test", &admin, Some(body("email"))).await.0, 503);
}
