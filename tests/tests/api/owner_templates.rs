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
