//! Dispatch when SES misbehaves: a fault-injecting proxy sits between the SDK and moto and
//! answers some calls itself (a 500, throttling, a rejected message), passing the rest on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use relance::domain::*;
use relance::store::{Record, Store};
use relance_tests::{dispatch_context, fresh_store, sent_emails, sent_sms, stream_batch};

/// How the proxy treats SES's SendEmail: fail the first `failures` calls with `status` and
/// `error_type`, then pass calls on to moto.
#[derive(Clone)]
struct Faults {
    failures: usize,
    status: StatusCode,
    error_type: &'static str,
    seen: Arc<AtomicUsize>,
    upstream: String,
    /// Pass SendEmail on to moto (the email goes), then never answer: the sender is stopped
    /// between sending and recording.
    hang: bool,
    /// After SendEmail, before answering it: record SES's delivery report on this
    /// notification, as a fast feedback topic would before dispatch records the send.
    report_first: Option<(Store, relance::store::Key)>,
}

async fn proxy(State(faults): State<Faults>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let send_email = method == Method::POST && uri.path() == "/v2/email/outbound-emails";
    if send_email && faults.seen.fetch_add(1, Ordering::SeqCst) < faults.failures {
        let mut response = (faults.status, format!("{{\"message\": \"injected {}\"}}", faults.error_type)).into_response();
        response.headers_mut().insert("x-amzn-errortype", faults.error_type.parse().unwrap());
        response.headers_mut().insert("content-type", "application/json".parse().unwrap());
        return response;
    }
    let url = format!("{}{}", faults.upstream, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let hang = send_email && faults.hang;
    let client = relance::http::https_client();
    let mut request = client.request(reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(), url).body(body.to_vec());
    // The host as the SDK signed it: moto checks each request's signature (IAM enforced).
    for (name, value) in &headers {
        if name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = request.send().await.unwrap();
    if hang {
        std::future::pending::<()>().await;
    }
    if let (true, Some((store, key))) = (send_email, &faults.report_first) {
        let delivered = EmailOutcome { outcome: EmailOutcomeKind::Delivered, at: Utc::now() };
        store.modify::<Notification>(key, |n| n.note_email_outcome(delivered)).await.unwrap();
    }
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let mut builder = Response::builder().status(status);
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    builder.body(Body::from(answer.bytes().await.unwrap())).unwrap()
}

/// A dispatch context whose SES and SNS calls go through the proxy.
async fn through_proxy(store: Store, faults: Faults) -> dispatch::DispatchContext {
    let app = axum::Router::new().fallback(proxy).with_state(faults);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut context = dispatch_context(store).await;
    let sdk = relance_tests::sdk().await;
    // Set on each client's own configuration: it takes precedence over AWS_ENDPOINT_URL.
    let proxy = format!("http://{address}");
    let ses = aws_sdk_sesv2::Client::from_conf(aws_sdk_sesv2::config::Builder::from(&sdk).endpoint_url(&proxy).build());
    let sns = aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(&sdk).endpoint_url(&proxy).build());
    let settings =
        relance::notify::send::SenderSettings { from: relance_tests::TEST_SENDER.into(), configuration_set: None, sms_sender_id: None };
    context.senders = relance::notify::send::Senders::from_clients(ses, sns, settings);
    context
}

async fn customer_with_invoice(store: &Store, phone: bool) -> (Customer, Notification, String) {
    let unique = relance_tests::unique();
    let mut customer = relance_tests::customer(&format!("f-{unique}"), "Faulty", Some(&format!("{unique}@example.org")));
    customer.locale = Locale::english();
    if phone {
        customer.phone = Some(relance_tests::unique_mobile());
    }
    let number = format!("FX-{}", &unique[unique.len() - 8..]);
    let mut invoice = relance_tests::invoice(&customer.id, &format!("fi-{unique}"), &number, 20_000);
    let notification = relance_tests::insert_overdue(store, &mut customer, &mut invoice).await;
    (customer, notification, number)
}

fn emails_to(emails: &[serde_json::Value], customer: &Customer) -> usize {
    let to = customer.email.as_ref().unwrap().as_str();
    emails.iter().filter(|m| m["destinations"]["ToAddresses"][0] == to).count()
}

fn faults(failures: usize, status: StatusCode, error_type: &'static str) -> Faults {
    Faults {
        failures,
        status,
        error_type,
        seen: Arc::new(AtomicUsize::new(0)),
        upstream: relance_tests::moto_url(),
        hang: false,
        report_first: None,
    }
}

/// SES's delivery report lands on the item before dispatch records the send (it moves the
/// item's version on): the send is still recorded, with the report, and the message is in
/// the sent ledger; nobody is asked to send a delivered email again.
#[tokio::test]
async fn a_delivery_report_faster_than_the_record_of_the_send_keeps_both() {
    let store = fresh_store("faults-report-first").await;
    let (customer, notification, _) = customer_with_invoice(&store, false).await;
    let racing = Faults { report_first: Some((store.clone(), notification.key())), ..faults(0, StatusCode::OK, "") };
    let context = through_proxy(store.clone(), racing).await;
    let response = dispatch::handle(&context, stream_batch(&[notification.key()])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(emails_to(&sent_emails().await, &customer), 1);
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Sent, "{stored:?}");
    assert_eq!(stored.email_outcome.map(|o| o.outcome), Some(EmailOutcomeKind::Delivered));
}

#[tokio::test]
async fn a_passing_ses_failure_ends_in_exactly_one_email() {
    let store = fresh_store("faults-transient").await;
    // One 500: the SDK's own retry gets through.
    let context = through_proxy(store.clone(), faults(1, StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure")).await;
    let (customer, notification, _) = customer_with_invoice(&store, false).await;
    let response = dispatch::handle(&context, stream_batch(&[notification.key()])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(emails_to(&sent_emails().await, &customer), 1);
}

#[tokio::test]
async fn throttling_beyond_the_sdks_retries_is_retried_by_the_stream_and_sent_once() {
    let store = fresh_store("faults-throttle").await;
    // More throttling answers than the SDK's three attempts: the record is reported failed,
    // the item goes back to pending, and the stream's next delivery sends it.
    let context = through_proxy(store.clone(), faults(3, StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException")).await;
    let (customer, notification, _) = customer_with_invoice(&store, false).await;
    let batch = stream_batch(&[notification.key()]);
    let first = dispatch::handle(&context, batch.clone()).await;
    assert_eq!(first.batch_item_failures.len(), 1);
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Pending);
    assert_eq!(stored.attempts, 1);
    let second = dispatch::handle(&context, batch.clone()).await;
    assert!(second.batch_item_failures.is_empty());
    let third = dispatch::handle(&context, batch).await;
    assert!(third.batch_item_failures.is_empty());
    assert_eq!(emails_to(&sent_emails().await, &customer), 1);
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.attempts), (NotificationStatus::Sent, 2));
}

#[tokio::test]
async fn a_rejected_email_falls_back_to_sms_once() {
    let store = fresh_store("faults-rejected").await;
    let context = through_proxy(store.clone(), faults(usize::MAX, StatusCode::BAD_REQUEST, "MessageRejected")).await;
    let (customer, notification, number) = customer_with_invoice(&store, true).await;
    let response = dispatch::handle(&context, stream_batch(&[notification.key()])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(emails_to(&sent_emails().await, &customer), 0);
    let phone = customer.phone.as_ref().unwrap().as_str().to_string();
    let texts: Vec<_> = sent_sms().await.into_iter().filter(|m| m["phone_number"] == phone.as_str()).collect();
    assert_eq!(texts.len(), 1);
    assert!(texts[0]["message"].as_str().unwrap().contains(&number));
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Sent);
    assert_eq!(stored.channel, Some(ChannelDecision::Send { channel: Channel::Sms }));

    // Without a mobile to fall back to, the notification is failed with the reason.
    let (_, alone, _) = customer_with_invoice(&store, false).await;
    dispatch::handle(&context, stream_batch(&[alone.key()])).await;
    let stored: Notification = store.get(&alone.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Failed);
    assert_eq!(stored.error.as_deref(), Some("MessageRejected"));
}

/// Dispatch stopped between sending and recording (its invocation killed while SES's answer is
/// on its way): the email went once; the stream's redelivery sends nothing more; once the claim
/// is older than any invocation can live, an admin sends it again: exactly one more email, and
/// both outcomes recorded.
#[tokio::test]
async fn dispatch_killed_between_send_and_record_sends_at_most_once_more_and_records_it() {
    let store = fresh_store("faults-killed").await;
    let hanging = Faults { hang: true, ..faults(0, StatusCode::OK, "") };
    let context = through_proxy(store.clone(), hanging).await;
    let (customer, notification, _) = customer_with_invoice(&store, false).await;
    let batch = stream_batch(&[notification.key()]);
    let killed = tokio::time::timeout(std::time::Duration::from_secs(3), dispatch::handle(&context, batch.clone())).await;
    assert!(killed.is_err(), "the invocation was stopped while waiting for SES");
    assert_eq!(emails_to(&sent_emails().await, &customer), 1, "the email went");
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Sending);
    assert!(!stored.claim_abandoned(Utc::now()));

    // Lambda delivers the batch again: the claim stands, nothing is sent.
    let calm = relance_tests::dispatch_context(store.clone()).await;
    assert!(dispatch::handle(&calm, batch).await.batch_item_failures.is_empty());
    assert_eq!(emails_to(&sent_emails().await, &customer), 1, "no second email from the retry");

    // An admin cannot send it again while the claim may still be alive…
    let portal = portal::router(relance_local::server::local_portal(store.clone(), relance_tests::JWT_SECRET).unwrap());
    let admin = relance_tests::token("admin", &["admin"]);
    let resend_path = format!("/admin/notifications/{}/resend", notification.id.as_str());
    let resend = async || relance_tests::call(&portal, "POST", &resend_path, &admin, None).await.0;
    assert_eq!(resend().await, 409);
    let follow_up = async || {
        let (_, body) = relance_tests::call(&portal, "GET", "/admin/follow-up", &admin, None).await;
        body["items"].as_array().unwrap().iter().filter(|i| i["id"] == notification.id.as_str()).cloned().collect::<Vec<_>>()
    };
    assert!(follow_up().await.is_empty(), "a live claim is not shown to the admin");
    // …and can once it is older than any invocation lives: it shows in the follow-up view.
    let mut stale = stored.clone();
    stale.sending_since = Some(Utc::now() - Duration::minutes(relance::domain::CLAIM_LIFETIME_MINUTES + 1));
    store.update(&mut stale).await.unwrap();
    let shown = follow_up().await;
    assert_eq!(shown.len(), 1, "the abandoned claim waits for a person");
    assert!(shown[0]["reason"].as_str().unwrap().starts_with("outcome unknown"), "{shown:?}");
    assert_eq!(resend().await, 202);
    assert_eq!(resend().await, 409, "sent again once only");
    let copies: Vec<Notification> = store
        .list_all::<Notification>(&relance::store::Key::customer_partition(&customer.id))
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.id != notification.id)
        .collect();
    assert_eq!(copies.len(), 1, "one copy to send");
    assert!(dispatch::handle(&calm, stream_batch(&[copies[0].key()])).await.batch_item_failures.is_empty());
    assert_eq!(emails_to(&sent_emails().await, &customer), 2, "exactly one more email");
    let copy: Notification = store.get(&copies[0].key()).await.unwrap().unwrap();
    assert_eq!(copy.status, NotificationStatus::Sent);
    let original: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(original.status, NotificationStatus::Skipped, "the abandoned claim is closed: {:?}", original.error);
    let reason = original.error.unwrap_or_default();
    assert!(reason.starts_with("outcome unknown") && reason.contains("sent again as"), "both recorded: {reason}");
}
