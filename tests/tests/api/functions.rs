//! Each function's handler called directly with the sample events in `events/`.

use axum::body::Body;
use relance_tests::sample_event;
use tower::ServiceExt;

/// An API Gateway HTTP API event turned into the request `lambda_http` hands the router.
fn http_request(name: &str) -> axum::http::Request<Body> {
    let request = lambda_http::request::from_str(&sample_event(name)).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    axum::http::Request::from_parts(parts, Body::from(body.to_vec()))
}

#[tokio::test]
async fn portal_answers_health_from_an_api_gateway_event() {
    let store = relance_tests::fresh_store("fn-portal").await;
    let state = portal::PortalState::new(store, portal::IdentitySource::Authorizer);
    let response = portal::router(state).oneshot(http_request("portal-health.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn webhook_takes_an_api_gateway_event() {
    let store = relance_tests::fresh_store("fn-webhook").await;
    let request = http_request("webhook-stripe.json");
    assert_eq!(request.uri().path(), "/webhooks/stripe");
    assert_eq!(request.method(), "POST");
    let ingest = relance::ingest::Ingest::new(store, Default::default(), Default::default());
    let secrets = relance::secrets::Secrets { stripe_webhook: vec!["whsec_sample".into()], ..Default::default() };
    let response = webhook::router(webhook::WebhookState::new(ingest, secrets)).oneshot(request).await.unwrap();
    // The sample's signature is a placeholder: refused before anything is read or written.
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn scan_reads_now_and_dry_run_and_ignores_the_envelope() {
    let store = relance_tests::fresh_store("fn-scan").await;
    let context = scan::ScanContext {
        ingest: relance::ingest::Ingest::new(store.clone(), Default::default(), Default::default()),
        store,
        holded: None,
        settings: relance::settings::LiveSettings::fixed(Default::default(), Default::default()),
    };
    let store = &context;
    let invoked_at = relance_tests::now();

    let scheduled: serde_json::Value = serde_json::from_str(&sample_event("scan-schedule.json")).unwrap();
    let summary = scan::handle(store, scheduled, invoked_at).await.unwrap();
    assert_eq!((summary.now, summary.dry_run), (invoked_at, false));
    assert_eq!(summary.scan.unwrap().read, 0);

    let manual: serde_json::Value = serde_json::from_str(&sample_event("scan-manual.json")).unwrap();
    let summary = scan::handle(store, manual, invoked_at).await.unwrap();
    assert_eq!((summary.now, summary.dry_run), ("2026-11-25T08:00:00Z".parse().unwrap(), true));

    let bad = serde_json::json!({ "now": "yesterday" });
    assert!(scan::handle(store, bad, invoked_at).await.is_err());
    let unconfigured = serde_json::json!({ "import": "holded" });
    assert!(matches!(scan::handle(store, unconfigured, invoked_at).await, Err(scan::ScanError::HoldedNotConfigured)));
}

#[tokio::test]
async fn dispatch_acknowledges_a_stream_batch() {
    let store = relance_tests::fresh_store("fn-dispatch").await;
    let batch: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&sample_event("dispatch-stream.json")).unwrap();
    assert_eq!(batch.records.len(), 1);
    let context = relance_tests::dispatch_context(store).await;
    // The sample's notification is not in this table: nothing to send, nothing to retry.
    let response = dispatch::handle(&context, batch).await;
    assert!(response.batch_item_failures.is_empty());
}

#[tokio::test]
async fn dispatch_tells_its_two_event_sources_apart_and_reads_the_feedback_sample() {
    let stream: serde_json::Value = serde_json::from_str(&sample_event("dispatch-stream.json")).unwrap();
    let feedback: serde_json::Value = serde_json::from_str(&sample_event("dispatch-ses-feedback.json")).unwrap();
    assert!(!dispatch::is_feedback(&stream));
    assert!(dispatch::is_feedback(&feedback));
    let sns: aws_lambda_events::event::sns::SnsEvent = serde_json::from_value(feedback).unwrap();
    let parsed = relance::notify::feedback::parse(&sns.records[0].sns.message);
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].customer.as_str(), "demo-0002");
    // demo-0002 is not in this fresh table: nothing to mark, no error.
    let store = relance_tests::fresh_store("fn-feedback").await;
    assert_eq!(dispatch::handle_feedback(&store, sns).await.unwrap(), 0);
}
