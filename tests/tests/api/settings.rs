//! The owner's settings through the API, on a fresh table: read, refused when wrong or stale,
//! saved, and followed by the scan on records already in the table.

use chrono::{DateTime, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Key, Store};
use relance_tests::{api, token};
use serde_json::{Value, json};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// `PUT /admin/settings` with `If-Match: version` (none: no header).
async fn save(router: &axum::Router, admin: &str, version: Option<&str>, body: &Value) -> relance_tests::Answer {
    let mut request = axum::http::Request::builder()
        .method("PUT")
        .uri("/admin/settings")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json");
    if let Some(version) = version {
        request = request.header("if-match", version);
    }
    relance_tests::send(router, request.body(axum::body::Body::from(body.to_string())).unwrap()).await
}

async fn scan_at(context: &scan::ScanContext, now: &str) -> scan::ScanSummary {
    scan::handle(context, json!({ "now": now }), at(now)).await.unwrap()
}

/// The invoice's notifications, as (kind, step, status).
async fn reminders(store: &Store, customer: &CustomerId) -> Vec<(String, u32, NotificationStatus)> {
    let notes: Vec<Notification> = store.list_all(&Key::customer_partition(customer)).await.unwrap();
    notes.iter().map(|n| (n.kind.as_str().to_string(), n.step, n.status)).collect()
}

#[tokio::test]
async fn an_owner_adds_a_ladder_step_and_the_invoice_already_in_the_table_gets_it_once() {
    let store = relance_tests::fresh_store("settings-ladder").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let email = format!("settings-{}@example.org", ulid::Ulid::new()).to_lowercase();
    let mut customer = relance_tests::customer("c-settings", "Camille Martin", Some(&email));
    // Due Thursday 14 January 2027: courtesy notice Monday 11, due+1 Friday 15.
    let mut invoice = relance_tests::invoice(&customer.id, "i-settings", "F-2027-001", 12_000);
    invoice.due_date = NaiveDate::from_ymd_opt(2027, 1, 14).unwrap();
    invoice.follow_up.schedule(at("2027-01-11T08:00:00Z"));
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut invoice).await.unwrap();
    let context = relance_tests::scan_context(&store);
    scan_at(&context, "2027-01-11T09:00:00Z").await;
    scan_at(&context, "2027-01-15T09:00:00Z").await;
    assert_eq!(reminders(&store, &customer.id).await.len(), 2, "the courtesy notice and due+1, on the deployment's ladder");

    // The deployment's settings, as version 0.
    let read = api(&router, "GET", "/admin/settings", &admin, None).await;
    assert_eq!((read.status, read.headers["etag"].to_str().unwrap()), (200, "\"0\""));
    let file = read.json();
    assert_eq!((file["version"].as_u64(), file["source"].as_str()), (Some(0), Some("default")));
    assert_eq!(file["settings"]["email_thresholds"], json!({"EUR": 5000}));
    let mut settings = file["settings"].clone();

    // Refused, naming what to fix, and nothing saved.
    assert_eq!(save(&router, &admin, None, &settings).await.status, 428, "no If-Match");
    let mut unordered = settings.clone();
    unordered["invoice"][2]["offset_days"] = json!(30);
    let refused = save(&router, &admin, Some("\"0\""), &unordered).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(
        (refused.json()["error"].as_str(), refused.json()["field"].as_str()),
        (Some("invalid_settings"), Some("invoice[3].offset_days"))
    );
    let mut misspelt = settings.clone();
    misspelt["invoice"][1]["offset_days"] = json!("one");
    assert_eq!(save(&router, &admin, Some("\"0\""), &misspelt).await.json()["field"], json!("invoice[1].offset_days"));
    assert_eq!(api(&router, "GET", "/admin/settings", &admin, None).await.json()["version"], json!(0));
    let member = token("u-member", &["member"]);
    assert_eq!(save(&router, &member, Some("\"0\""), &settings).await.status, 403);

    // A step at due+4 (Monday 18), between the one sent and due+7.
    settings["invoice"].as_array_mut().unwrap().insert(2, json!({"offset_days": 4, "kind": "invoice_overdue"}));
    let saved = save(&router, &admin, Some("\"0\""), &settings).await;
    assert_eq!((saved.status, saved.headers["etag"].to_str().unwrap()), (200, "\"1\""), "{}", saved.text());
    assert_eq!(saved.json()["source"], json!("custom"));
    // A second admin, still on version 0, cannot overwrite it.
    let stale = save(&router, &admin, Some("\"0\""), &settings).await;
    assert_eq!((stale.status, stale.json()["error"].as_str()), (412, Some("stale_version")));
    let history = api(&router, "GET", "/admin/settings/history", &admin, None).await.json();
    assert_eq!(history["entries"].as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history["entries"][0]["by"], json!("u-admin"));

    // The next scan brings the invoice to the new ladder: its next look is the new step.
    let summary = scan_at(&context, "2027-01-15T09:30:00Z").await;
    let rescheduled = summary.rescheduled.expect("the settings changed since the last run");
    assert_eq!((rescheduled.settings_version, rescheduled.moved), (1, 1));
    let stored: Invoice = store.get(&Key::of_customer::<Invoice>(&customer.id, "i-settings")).await.unwrap().unwrap();
    assert_eq!(stored.follow_up.next_action_at, Some(at("2027-01-18T08:00:00Z")));
    assert!(scan_at(&context, "2027-01-15T10:00:00Z").await.rescheduled.is_none(), "once per version");
    scan_at(&context, "2027-01-18T09:00:00Z").await;
    scan_at(&context, "2027-01-21T09:00:00Z").await;
    scan_at(&context, "2027-01-21T12:00:00Z").await;
    let pending = NotificationStatus::Pending;
    assert_eq!(
        reminders(&store, &customer.id).await,
        vec![
            ("invoice_due_soon".into(), 1, pending),
            ("invoice_overdue".into(), 2, pending),
            ("invoice_overdue".into(), 3, pending),
            ("invoice_overdue".into(), 4, pending),
        ],
        "the new step once, due+7 once, nothing sent twice"
    );

    // And they go out: four emails to Camille, the reminders numbered in order.
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    let notes: Vec<Notification> = store.list_all(&Key::customer_partition(&customer.id)).await.unwrap();
    let keys: Vec<Key> = notes.iter().map(relance::store::Record::key).collect();
    dispatch::handle(&dispatch, relance_tests::stream_batch(&keys)).await;
    let subjects: Vec<String> = relance_tests::sent_emails()
        .await
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == email.as_str())
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    assert!(subjects[3].starts_with("Relance n°3"), "{subjects:?}");
}

/// French law for business customers: with penalties turned on in the settings, the final
/// notice to a business states the penalties to the day and the 40 € indemnity; a consumer's
/// says nothing of them.
#[tokio::test]
async fn a_business_final_notice_states_penalties_and_the_indemnity_and_a_consumers_does_not() {
    let store = relance_tests::fresh_store("settings-penalties").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let mut settings = api(&router, "GET", "/admin/settings", &admin, None).await.json()["settings"].clone();
    settings["late_payment"] = json!({"rate_basis_points": 1415});
    assert_eq!(save(&router, &admin, Some("\"0\""), &settings).await.status, 200);
    let run = relance_tests::unique();
    let mut ids = Vec::new();
    let mut emails = Vec::new();
    for business in [true, false] {
        let email = format!("penalties-{business}-{run}@example.org");
        let mut customer = relance_tests::customer(&format!("c-pen-{business}-{run}"), "Atelier Dupont", Some(&email));
        customer.business = business;
        // 1 234,56 € due 1 October 2026, its final notice due 30 days later, still owed.
        let mut invoice = relance_tests::invoice(&customer.id, &format!("i-pen-{business}-{run}"), "F-2026-030", 123_456);
        invoice.due_date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        invoice.follow_up.step = 4;
        invoice.follow_up.schedule(at("2026-10-31T08:00:00Z"));
        store.insert(&mut customer).await.unwrap();
        store.insert(&mut invoice).await.unwrap();
        ids.push(customer.id.clone());
        emails.push(email);
    }
    let context = relance_tests::scan_context(&store);
    let before = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    scan_at(&context, "2026-11-02T09:00:00Z").await;
    let mut keys = Vec::new();
    for id in &ids {
        let notes: Vec<Notification> = store.list_all(&Key::customer_partition(id)).await.unwrap();
        assert_eq!(notes.iter().map(|n| n.kind).collect::<Vec<_>>(), [NotificationKind::InvoiceFinalNotice]);
        keys.extend(notes.iter().map(relance::store::Record::key));
    }
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&keys)).await;
    let body = |address: String| async move {
        let sent = relance_tests::sent_emails().await;
        sent.iter()
            .find(|m| m["destinations"]["ToAddresses"][0] == address.as_str())
            .map(|m| m["body"].as_str().unwrap_or_default().to_string())
    };
    // The penalties are counted to the day the notice goes (today, in Paris: it may have
    // turned midnight during the test), at 14.15 % a year on 1 234,56 €.
    let after = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let business = body(emails[0].clone()).await.expect("the business's final notice");
    let terms = relance::domain::LatePaymentTerms { rate_basis_points: 1415, indemnity_minor: 4000 };
    let due = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let stated = [before, after].iter().any(|day| {
        let charges = terms.charges(relance_tests::eur(123_456), due, *day).unwrap().unwrap();
        let penalties = relance::notify::format::money(charges.penalties, "fr", false);
        let total = relance::notify::format::money(charges.total_with(relance_tests::eur(123_456)).unwrap(), "fr", false);
        business.contains(&penalties) && business.contains(&total)
    });
    assert!(stated && business.contains("L441-10") && business.contains("40,00"), "{business}");
    let consumer = body(emails[1].clone()).await.expect("the consumer's final notice");
    assert!(!consumer.contains("L441-10"), "consumers never get penalties: {consumer}");
}

/// The final step can carry a formal notice: with it turned on, a business's final notice is
/// emailed with the PDF attached (the email as moto's SES took it, read as a mail client
/// would), the PDF states the invoice, the charges and the total, and the copy kept with the
/// notification is byte for byte what was sent, with its fingerprint.
#[tokio::test]
async fn a_final_notice_carries_the_formal_notice_as_a_pdf_and_the_same_copy_is_kept() {
    use base64::Engine;
    use mail_parser::MimeHeaders;
    let store = relance_tests::fresh_store("settings-formal-notice").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let mut settings = api(&router, "GET", "/admin/settings", &admin, None).await.json()["settings"].clone();
    settings["late_payment"] = json!({"rate_basis_points": 1415});
    settings["formal_notice"] = json!(true);
    assert_eq!(save(&router, &admin, Some("\"0\""), &settings).await.status, 200);
    let run = relance_tests::unique();
    let email = format!("formal-notice-{run}@example.org");
    let mut customer = relance_tests::customer(&format!("c-fn-{run}"), "Atelier Dupont", Some(&email));
    customer.business = true;
    let mut invoice = relance_tests::invoice(&customer.id, &format!("i-fn-{run}"), "F-2026-031", 123_456);
    invoice.due_date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    invoice.follow_up.step = 4;
    invoice.follow_up.schedule(at("2026-10-31T08:00:00Z"));
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut invoice).await.unwrap();
    let before = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    scan_at(&relance_tests::scan_context(&store), "2026-11-02T09:00:00Z").await;
    let notes: Vec<Notification> = store.list_all(&Key::customer_partition(&customer.id)).await.unwrap();
    assert_eq!(notes.iter().map(|n| n.kind).collect::<Vec<_>>(), [NotificationKind::InvoiceFinalNotice]);
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&[relance::store::Record::key(&notes[0])])).await;
    let after = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();

    let sent: Notification = store.get(&relance::store::Record::key(&notes[0])).await.unwrap().unwrap();
    assert_eq!(sent.status, NotificationStatus::Sent, "{sent:?}");
    assert_eq!(sent.formal_notice.as_deref(), Some("mise-en-demeure-F-2026-031.pdf"));

    // The email as SES took it: MIME with the text, the HTML and the PDF.
    let raw = relance_tests::moto_data().await["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["destinations"].to_string().contains(&email))
        .map(|m| m["raw_data"].as_str().unwrap().to_string())
        .expect("the final notice went as a raw email");
    let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a MIME message");
    assert!(message.subject().unwrap_or_default().contains("F-2026-031"), "{:?}", message.subject());
    assert!(message.body_text(0).unwrap().contains("L441-10"));
    let attachment = message.attachments().next().expect("one attachment");
    assert_eq!(attachment.attachment_name(), Some("mise-en-demeure-F-2026-031.pdf"));
    assert!(attachment.is_content_type("application", "pdf"));
    let pdf = attachment.contents().to_vec();

    // What the PDF says, read by another library than the one that wrote it.
    let document = lopdf::Document::load_mem(&pdf).expect("a PDF");
    let text = document.extract_text(&[1]).unwrap().replace(['\u{a0}', '\u{202f}'], " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let terms = relance::domain::LatePaymentTerms { rate_basis_points: 1415, indemnity_minor: 4000 };
    let stated = [before, after].iter().any(|day| {
        let charges = terms.charges(relance_tests::eur(123_456), invoice.due_date, *day).unwrap().unwrap();
        let total = relance::notify::format::money(charges.total_with(relance_tests::eur(123_456)).unwrap(), "fr", false);
        text.contains(&total.replace('\u{202f}', " ")) && text.contains(&format!("{} jours", charges.days_late))
    });
    assert!(stated, "{text}");
    for expected in ["Mise en demeure de payer", "F-2026-031", "1 234,56 €", "40,00 €", "L441-10", "14,15 %", sent.id.as_str()] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }

    // The copy kept is what went, and its fingerprint is given with it.
    let path = format!("/admin/notifications/{}/formal-notice", sent.id.as_str());
    let copy = api(&router, "GET", &path, &admin, None).await;
    assert_eq!(copy.status, 200);
    assert_eq!(copy.headers["content-type"], "application/pdf");
    assert_eq!(copy.body, pdf, "the kept copy differs from the one sent");
    let kept: FormalNoticeCopy = store.get(&Key::of_customer::<FormalNoticeCopy>(&customer.id, sent.id.as_str())).await.unwrap().unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&kept.pdf).unwrap(), pdf);
    assert_eq!(copy.headers["x-content-sha256"], kept.sha256.as_str());
    let member = token("u-member", &["member"]);
    assert_eq!(api(&router, "GET", &path, &member, None).await.status, 403);
    let none = format!("/admin/notifications/{}/formal-notice", "N-nothing-here");
    assert_eq!(api(&router, "GET", &none, &admin, None).await.status, 404);
}

/// A stream image can be older than the item (a retried batch): a final notice skipped since
/// (the invoice was paid) must not be sent, nor leave a formal notice's copy behind, when its
/// old image, still pending, is dispatched.
#[tokio::test]
async fn a_stale_image_of_a_final_notice_skipped_since_keeps_no_formal_notice() {
    let store = relance_tests::fresh_store("settings-stale-formal").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let admin = token("u-admin", &["admin"]);
    let mut settings = api(&router, "GET", "/admin/settings", &admin, None).await.json()["settings"].clone();
    settings["formal_notice"] = json!(true);
    assert_eq!(save(&router, &admin, Some("\"0\""), &settings).await.status, 200);
    let run = relance_tests::unique();
    let email = format!("stale-formal-{run}@example.org");
    let mut customer = relance_tests::customer(&format!("c-sf-{run}"), "Atelier Tardif", Some(&email));
    let mut invoice = relance_tests::invoice(&customer.id, &format!("i-sf-{run}"), "F-2026-077", 50_000);
    invoice.due_date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    invoice.follow_up.step = 4;
    invoice.follow_up.schedule(at("2026-10-31T08:00:00Z"));
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut invoice).await.unwrap();
    scan_at(&relance_tests::scan_context(&store), "2026-11-02T09:00:00Z").await;
    let partition = Key::customer_partition(&customer.id);
    let mut notice = store.list_all::<Notification>(&partition).await.unwrap().remove(0);
    assert_eq!(notice.kind, NotificationKind::InvoiceFinalNotice);
    let records = relance_tests::lambda::dispatch_records(store.table()).await;
    assert_eq!(records.len(), 1);
    // Skipped after the stream recorded it as pending.
    notice.skip("paid meanwhile").unwrap();
    store.update(&mut notice).await.unwrap();

    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    let event = serde_json::from_value(json!({"Records": records})).unwrap();
    let (_, outcomes) = dispatch::handle_with_outcomes(&dispatch, event).await;
    assert_eq!(outcomes, vec![dispatch::Outcome::AlreadyHandled]);
    let copies: Vec<relance::domain::FormalNoticeCopy> = store.list_all(&partition).await.unwrap();
    assert!(copies.is_empty(), "no formal notice kept for a notice never sent: {copies:?}");
    let stored: Notification = store.get(&relance::store::Record::key(&notice)).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Skipped);
    assert!(relance_tests::sent_emails().await.iter().all(|m| m["destinations"]["ToAddresses"][0] != email.as_str()));
}
