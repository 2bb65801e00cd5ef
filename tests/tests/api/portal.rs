//! The portal API against moto: who may call, and what each caller sees.

use axum::body::Body;
use axum::http::Request;
use chrono::{Duration, NaiveDate, Utc};
use portal::auth::local_token;
use relance::domain::*;
use relance::store::Store;
use relance_tests::{JWT_SECRET, eur, token};
use serde_json::Value;

async fn setup() -> (Store, axum::Router) {
    let store = relance_tests::fresh_store("portal").await;
    for (user, customer, invoices) in [("user-camille", "c-camille", 3), ("user-hugo", "c-hugo", 1)] {
        let mut c = relance_tests::customer(customer, format!("Customer {customer}"), Some(&format!("{customer}@example.org")));
        store.insert(&mut c).await.unwrap();
        store.insert(&mut Account::new(user, Some(c.id.clone()))).await.unwrap();
        for n in 0..invoices {
            let mut inv = relance_tests::invoice(&c.id, &format!("{customer}-i{n}"), &format!("F-{customer}-{n}"), 2900);
            store.insert(&mut inv).await.unwrap();
            store.insert(&mut relance_tests::overdue_notice(&inv, 2)).await.unwrap();
        }
        let mut card = relance_tests::card(&format!("{customer}-card"), &c.id);
        card.provider_ref = Some(ProviderRef::new(Provider::Stripe, "pm_secret_reference").unwrap());
        store.insert(&mut card).await.unwrap();
    }
    store.insert(&mut Account::new("user-admin", None)).await.unwrap();
    let router = portal::router(relance_tests::portal_state(&store));
    (store, router)
}

/// A GET, with a bearer token or without any.
async fn get(router: &axum::Router, path: &str, token: Option<&str>) -> (u16, Value) {
    match token {
        Some(token) => relance_tests::call(router, "GET", path, token, None).await,
        None => {
            let answer = relance_tests::send(router, Request::get(path).body(Body::empty()).unwrap()).await;
            (answer.status, answer.json())
        }
    }
}

#[tokio::test]
async fn a_member_sees_their_own_bills_and_nothing_more() {
    let (_, router) = setup().await;
    let camille = token("user-camille", &["member"]);
    let (status, me) = get(&router, "/me", Some(&camille)).await;
    assert_eq!(status, 200);
    assert_eq!(me["customer"]["id"], "c-camille");
    assert_eq!(me["roles"], serde_json::json!(["member"]));

    // Paginated with an opaque cursor.
    let (status, page) = get(&router, "/me/invoices?limit=2", Some(&camille)).await;
    assert_eq!(status, 200);
    assert_eq!(page["invoices"].as_array().unwrap().len(), 2);
    let cursor = page["next"].as_str().unwrap();
    let (_, rest) = get(&router, &format!("/me/invoices?limit=2&cursor={cursor}"), Some(&camille)).await;
    assert_eq!(rest["invoices"].as_array().unwrap().len(), 1);
    assert!(rest["next"].is_null());
    // An empty cursor (a form's empty field) is the first page, not an error.
    let (status, again) = get(&router, "/me/invoices?limit=2&cursor=", Some(&camille)).await;
    assert_eq!((status, &again["invoices"]), (200, &page["invoices"]));
    let first = &page["invoices"][0];
    assert_eq!(first["number"], "F-c-camille-0");
    assert_eq!(first["balance"], serde_json::json!({"minor_units": 2900, "currency": "EUR"}));
    assert_eq!(first["reminders"][0]["kind"], "invoice_overdue");
    // Whether it is owed is the domain's answer, given with it.
    assert_eq!(first["owed"], true);

    // Hugo's token only ever shows Hugo's records.
    let (_, hugo) = get(&router, "/me/invoices", Some(&token("user-hugo", &["member"]))).await;
    let numbers: Vec<&str> = hugo["invoices"].as_array().unwrap().iter().map(|i| i["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec!["F-c-hugo-0"]);
    // A cursor from Camille's listing does not open Camille's partition to Hugo.
    let (status, _) = get(&router, &format!("/me/invoices?cursor={cursor}"), Some(&token("user-hugo", &["member"]))).await;
    assert_eq!(status, 400);

    // Cards: brand, last four and expiry, never the provider's reference.
    let (status, cards) = get(&router, "/me/payment-methods", Some(&camille)).await;
    assert_eq!(status, 200);
    assert_eq!(cards["payment_methods"][0]["last4"], "4242");
    assert!(!cards.to_string().contains("pm_secret_reference"));
}

#[tokio::test]
async fn roles_and_accounts_decide_403_and_404() {
    let (_, router) = setup().await;
    // A farmer has no bills to see.
    let (status, body) = get(&router, "/me/invoices", Some(&token("user-camille", &["farmer"]))).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    // An admin account that is nobody's customer: /me works, billing is 404.
    let admin = token("user-admin", &["admin", "member"]);
    let (status, me) = get(&router, "/me", Some(&admin)).await;
    assert_eq!((status, me["customer"].is_null()), (200, true));
    assert_eq!(get(&router, "/me/invoices", Some(&admin)).await.0, 404);
    // A valid token for a user with no account at all.
    assert_eq!(get(&router, "/me/subscriptions", Some(&token("user-stranger", &["member"]))).await.0, 404);
    // Unknown query fields are refused.
    assert_eq!(get(&router, "/me/invoices?customer=c-hugo", Some(&token("user-camille", &["member"]))).await.0, 400);
}

#[tokio::test]
async fn only_valid_local_tokens_identify_a_caller() {
    let (_, router) = setup().await;
    assert_eq!(get(&router, "/me", None).await.0, 401);
    assert_eq!(get(&router, "/me", Some("not-a-jwt")).await.0, 401);
    // Signed with another secret.
    let forged = local_token("another-secret", "user-camille", None, &["admin"], 1).unwrap();
    assert_eq!(get(&router, "/me", Some(&forged)).await.0, 401);
    // Expired.
    let expired = local_token(JWT_SECRET, "user-camille", None, &["member"], -2).unwrap();
    assert_eq!(get(&router, "/me", Some(&expired)).await.0, 401);
    // "alg": "none", unsigned.
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = serde_json::json!({"sub": "user-camille", "cognito:groups": ["admin"], "exp": Utc::now().timestamp() + 3600,
        "iss": portal::auth::LOCAL_ISSUER, "aud": portal::auth::LOCAL_AUDIENCE});
    let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})), b64(&claims));
    assert_eq!(get(&router, "/me", Some(&none)).await.0, 401);
    // A header naming a user is not identity.
    let answer = relance_tests::send(&router, Request::get("/me").header("x-user", "user-camille").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn the_admin_follow_up_list_shows_what_waits_for_a_person() {
    let (store, router) = setup().await;
    let customer = CustomerId::parse("c-hugo").unwrap();
    let target = |id: &str| Target { kind: TargetKind::Invoice, id: id.into() };
    let notice = |id: &str, step| {
        Notification::pending(customer.clone(), target(id), NotificationKind::InvoiceOverdue, None, step, None, Utc::now()).unwrap()
    };
    let mut held = notice("c-hugo-i0", 3);
    held.hold("no email address or mobile number we may use").unwrap();
    let mut failed = notice("c-hugo-i0", 4);
    failed.begin_sending(Channel::Sms, chrono::Utc::now()).unwrap();
    failed.mark_failed("InvalidParameter").unwrap();
    let mut pending = notice("c-hugo-i0", 5);
    for n in [&mut held, &mut failed, &mut pending] {
        store.insert(n).await.unwrap();
    }
    let mut flagged = relance_tests::invoice(&customer, "c-hugo-flagged", "F-FLAG", 9900);
    (flagged.issued_at, flagged.due_date) = (Utc::now() - Duration::days(60), NaiveDate::from_ymd_opt(2026, 9, 30).unwrap());
    flagged.follow_up.needs_manual_action = true;
    store.insert(&mut flagged).await.unwrap();
    let mut settled = flagged.clone();
    settled.id = InvoiceId::parse("c-hugo-settled").unwrap();
    settled.version = 0;
    settled.record_payment(eur(9900)).unwrap();
    store.insert(&mut settled).await.unwrap();

    let admin = token("user-admin", &["admin"]);
    let (status, list) = get(&router, "/admin/follow-up", Some(&admin)).await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    let reasons: Vec<(&str, &str)> = items.iter().map(|i| (i["type"].as_str().unwrap(), i["reason"].as_str().unwrap())).collect();
    assert_eq!(items.len(), 3, "{reasons:?}");
    assert!(reasons.contains(&("notification", "no email address or mobile number we may use")));
    assert!(reasons.contains(&("notification", "InvalidParameter")));
    assert!(reasons.contains(&("invoice", "final notice sent, still owed")));

    // Resolving a held notice takes it off the list.
    held.release().unwrap();
    store.update(&mut held).await.unwrap();
    assert_eq!(get(&router, "/admin/follow-up", Some(&admin)).await.1["items"].as_array().unwrap().len(), 2);

    assert_eq!(get(&router, "/admin/follow-up", Some(&token("user-camille", &["member", "farmer"]))).await.0, 403);
}

async fn post(router: &axum::Router, path: &str, token: &str) -> (u16, Value) {
    relance_tests::call(router, "POST", path, token, None).await
}

#[tokio::test]
async fn admins_pause_resume_and_mark_invoices_paid() {
    let (store, router) = setup().await;
    // Inserting the invoice registered its id lookup: the admin's route finds it.
    let key = relance::store::Key::of_customer::<Invoice>(&CustomerId::parse("c-camille").unwrap(), "c-camille-i0");
    assert_eq!(store.find_by_id::<Invoice>("c-camille-i0").await.unwrap(), Some(key.clone()));
    let admin = token("user-admin", &["admin"]);

    let (status, paused) = post(&router, "/admin/invoices/c-camille-i0/pause", &admin).await;
    assert_eq!(status, 200);
    assert_eq!((paused["reminders_paused"].as_bool(), paused["next_action_at"].is_null()), (Some(true), true));
    let (_, resumed) = post(&router, "/admin/invoices/c-camille-i0/resume", &admin).await;
    assert_eq!(resumed["reminders_paused"], false);
    assert!(!resumed["next_action_at"].is_null(), "the scan looks at it on its next run");

    let (status, paid) = post(&router, "/admin/invoices/c-camille-i0/mark-paid", &admin).await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("paid")));
    let stored: Invoice = store.get(&key).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.follow_up.next_action_at), (InvoiceStatus::Paid, None));
    assert_eq!(post(&router, "/admin/invoices/c-camille-i0/mark-paid", &admin).await.0, 409);

    assert_eq!(post(&router, "/admin/invoices/c-camille-i0/pause", &token("user-camille", &["member"])).await.0, 403);
    assert_eq!(post(&router, "/admin/invoices/no-such-invoice/pause", &admin).await.0, 404);
}
