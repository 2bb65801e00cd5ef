//! What `make run` sets up: the demo business in the table, the sender identity, and the
//! local HTTP server with `/health` and the Lambda Invoke API.

use axum::body::Body;
use axum::http::Request;
use relance::domain::{Customer, Invoice, InvoiceStatus};
use relance::store::{DUE_SHARDS, Key};
use relance_local::seed::{MEMBERS, demo_customer_id, seed};

#[tokio::test]
async fn the_demo_business_is_seeded_once_and_queryable() {
    let store = relance_tests::fresh_store("seed").await;
    let now = relance_tests::now();
    let summary = seed(&store, &relance_local::seed::demo_ladders(), now).await.unwrap();
    assert_eq!(summary.customers, MEMBERS);
    assert_eq!(summary.invoices, MEMBERS * 3);

    // Every invoice state is represented, and contact gaps exist.
    let mut statuses = std::collections::BTreeSet::new();
    let (mut no_email, mut no_phone, mut neither) = (0, 0, 0);
    for index in 0..MEMBERS {
        let id = demo_customer_id(index);
        let customer: Customer = store.get(&Key::customer(&id)).await.unwrap().unwrap();
        no_email += usize::from(customer.email.is_none());
        no_phone += usize::from(customer.phone.is_none());
        neither += usize::from(customer.email.is_none() && customer.phone.is_none());
        let invoices = store.list::<Invoice>(&Key::customer_partition(&id), None, 10).await.unwrap();
        statuses.extend(invoices.records.iter().map(|i| format!("{:?}", i.status)));
    }
    for status in
        [InvoiceStatus::Open, InvoiceStatus::PartiallyPaid, InvoiceStatus::Paid, InvoiceStatus::Void, InvoiceStatus::Uncollectible]
    {
        assert!(statuses.contains(&format!("{status:?}")), "no {status:?} invoice in {statuses:?}");
    }
    assert!(no_email > 0 && no_phone > 0 && neither > 0);

    // The due index holds exactly what the seed says is due now.
    let mut due = 0;
    for shard in 0..DUE_SHARDS {
        let mut cursor = None;
        loop {
            let page = store.due_page(&format!("{shard:02}"), now, cursor.as_ref(), 100).await.unwrap();
            due += page.items.len();
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    assert!(due > 0);
    assert_eq!(due, summary.due_now);

    // Seeding again changes nothing.
    assert!(seed(&store, &relance_local::seed::demo_ladders(), now).await.unwrap().already_seeded);
}

#[tokio::test]
async fn the_sender_identity_lets_ses_send() {
    use aws_sdk_sesv2::types::{Body as EmailBody, Content, Destination, EmailContent, Message};
    let sdk = relance_tests::sdk().await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let send = |from: &'static str| {
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(Content::builder().data("Identity check").build().unwrap())
                    .body(EmailBody::builder().text(Content::builder().data("hello").build().unwrap()).build())
                    .build(),
            )
            .build();
        ses.send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses("member@example.org").build())
            .content(content)
            .send()
    };
    // SES refuses to send from an address that is not a verified identity.
    assert!(send("unverified-sender@example.org").await.is_err());

    relance_local::ses::verify_sender(&ses, "relance-test@example.org").await.unwrap();
    // Twice is fine: make run may be restarted against the same moto.
    relance_local::ses::verify_sender(&ses, "relance-test@example.org").await.unwrap();
    let sent = send("relance-test@example.org").await.unwrap();
    let message_id = sent.message_id().unwrap().to_string();

    let messages = relance_tests::sent_emails().await;
    assert!(
        messages.iter().any(|m| m["id"] == message_id.as_str() && m["source"] == "relance-test@example.org"),
        "moto's data.json lists the message: {messages:?}"
    );
}

async fn call(router: axum::Router, request: Request<Body>) -> (u16, axum::http::HeaderMap, serde_json::Value) {
    let answer = relance_tests::send(&router, request).await;
    let body = answer.json();
    (answer.status, answer.headers, body)
}

#[tokio::test]
async fn the_local_server_serves_health_and_the_invoke_api() {
    let store = relance_tests::fresh_store("server").await;
    let dispatch = std::sync::Arc::new(relance_tests::dispatch_context(store.clone()).await);
    let router = relance_local::server::router(
        store.clone(),
        Default::default(),
        Default::default(),
        relance::settings::LiveSettings::fixed(Default::default(), Default::default()),
        dispatch,
        relance_local::server::local_portal(store, "test-jwt-secret").unwrap(),
    )
    .unwrap();

    let (status, _, body) = call(router.clone(), Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok"})));

    let invoke = |name: &str, body: &str| {
        Request::post(format!("/2015-03-31/functions/{name}/invocations")).body(Body::from(body.to_string())).unwrap()
    };
    let (status, _, body) = call(router.clone(), invoke("scan", r#"{"now":"2026-11-25T08:00:00Z","dry_run":true}"#)).await;
    assert_eq!(status, 200);
    assert_eq!(body["now"], "2026-11-25T08:00:00Z");
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["scan"]["read"], 0, "an empty table has nothing due");

    let stream_batch = relance_tests::sample_event("dispatch-stream.json");
    let (status, _, body) = call(router.clone(), invoke("dispatch", &stream_batch)).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"batchItemFailures": []}));

    // A function error is reported the way Lambda reports it.
    let (status, headers, body) = call(router.clone(), invoke("scan", "not json")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-amz-function-error"], "Unhandled");
    assert!(body["errorMessage"].as_str().unwrap().contains("not JSON"));

    let (status, headers, _) = call(router, invoke("nope", "{}")).await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-amzn-errortype"], "ResourceNotFoundException");
}
