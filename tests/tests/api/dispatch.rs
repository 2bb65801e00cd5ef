//! Dispatch against moto: the channel chosen for each kind of customer and amount, the
//! email or text message moto's SES/SNS received (from /moto-api/data.json), and the outcome
//! recorded on the notification.

use chrono::Utc;
use relance::domain::*;
use relance::store::{Key, Record, Store};
use relance_tests::{dispatch_context, fresh_store, sent_emails, sent_sms, stream_batch};

struct Case {
    name: &'static str,
    email: bool,
    phone: bool,
    sms_opt_out: bool,
    amount: i64,
    locale: &'static str,
}

/// A customer with unique contact details (data.json is shared by the whole test run) and an
/// overdue invoice, and the notification the scan would have written for it.
async fn setup(store: &Store, case: &Case, n: usize) -> (Customer, Invoice, Notification, String) {
    let unique = relance_tests::unique();
    let email = format!("{unique}@example.org");
    let mut customer =
        relance_tests::customer(&format!("c-{unique}"), format!("Client {}", case.name), case.email.then_some(email.as_str()));
    customer.locale = Locale::parse(case.locale).unwrap();
    if case.phone {
        customer.phone = Some(relance_tests::unique_mobile());
    }
    customer.opt_outs.sms = case.sms_opt_out;
    let number = format!("T-{n}-{}", &unique[unique.len() - 6..]);
    let mut invoice = relance_tests::invoice(&customer.id, &format!("i-{unique}"), &number, case.amount);
    let notification = relance_tests::insert_overdue(store, &mut customer, &mut invoice).await;
    (customer, invoice, notification, number)
}

#[derive(Debug, PartialEq)]
enum Expect {
    Email,
    Sms,
    Held,
}

#[tokio::test]
async fn each_customer_gets_the_channel_the_policy_says_and_exactly_one_message() {
    use Expect::*;
    let store = fresh_store("dispatch").await;
    let context = dispatch_context(store.clone()).await;
    let case = |name, email, phone, sms_opt_out, amount, locale| Case { name, email, phone, sms_opt_out, amount, locale };
    let cases = [
        (case("above-both", true, true, false, 12_000, "fr"), Email),
        (case("equal-both", true, true, false, 5_000, "fr"), Email),
        (case("below-both", true, true, false, 4_999, "fr"), Sms),
        (case("above-phone-only", false, true, false, 12_000, "en"), Sms),
        (case("below-email-only", true, false, false, 2_900, "en"), Email),
        (case("below-sms-opted-out", true, true, true, 2_900, "fr"), Email),
        (case("nothing", false, false, false, 12_000, "fr"), Held),
        (case("phone-opted-out-only", false, true, true, 2_900, "en"), Held),
    ];
    let mut prepared = Vec::new();
    for (n, (case, expect)) in cases.iter().enumerate() {
        prepared.push((setup(&store, case, n).await, expect, case));
    }
    let batch = stream_batch(&prepared.iter().map(|((_, _, n, _), _, _)| n.key()).collect::<Vec<_>>());
    let response = dispatch::handle(&context, batch.clone()).await;
    assert!(response.batch_item_failures.is_empty());

    let emails = sent_emails().await;
    let texts = sent_sms().await;
    for ((customer, _, notification, number), expect, case) in &prepared {
        let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
        let to_email: Vec<_> =
            emails.iter().filter(|m| customer.email.as_ref().is_some_and(|e| m["destinations"]["ToAddresses"][0] == e.as_str())).collect();
        let to_phone: Vec<_> = texts.iter().filter(|m| customer.phone.as_ref().is_some_and(|p| m["phone_number"] == p.as_str())).collect();
        match expect {
            Email => {
                assert_eq!((to_email.len(), to_phone.len()), (1, 0), "{}", case.name);
                assert_eq!(stored.status, NotificationStatus::Sent, "{}", case.name);
                assert_eq!(stored.channel, Some(ChannelDecision::Send { channel: Channel::Email }));
                let subject = to_email[0]["subject"].as_str().unwrap();
                assert!(subject.contains(number.as_str()), "{}: {subject}", case.name);
                let expected_word = if case.locale == "fr" { "Relance" } else { "Reminder" };
                assert!(subject.starts_with(expected_word), "{}: {subject}", case.name);
                assert_eq!(stored.provider_message_id.as_deref(), to_email[0]["id"].as_str());
            }
            Sms => {
                assert_eq!((to_email.len(), to_phone.len()), (0, 1), "{}", case.name);
                assert_eq!(stored.status, NotificationStatus::Sent);
                let text = to_phone[0]["message"].as_str().unwrap();
                assert!(text.contains(number.as_str()) && text.chars().count() <= 160, "{text}");
                let amount = relance::notify::format::money(Money::from_minor(case.amount, Currency::EUR), case.locale, true);
                assert!(text.contains(&amount), "{amount} in {text}");
            }
            Held => {
                assert_eq!((to_email.len(), to_phone.len()), (0, 0), "{}", case.name);
                assert_eq!(stored.status, NotificationStatus::Held);
                assert!(matches!(stored.channel, Some(ChannelDecision::Held { .. })));
            }
        }
    }

    // The stream delivers the same batch again: nothing new is sent. Only what went to these
    // customers is counted: the other tests of the binary are sending at the same time.
    let addresses: Vec<&str> = prepared.iter().filter_map(|((c, ..), ..)| c.email.as_ref().map(|e| e.as_str())).collect();
    let phones: Vec<&str> = prepared.iter().filter_map(|((c, ..), ..)| c.phone.as_ref().map(|p| p.as_str())).collect();
    let to_them = |emails: &[serde_json::Value], texts: &[serde_json::Value]| {
        let emails = emails.iter().filter(|m| addresses.iter().any(|a| m["destinations"]["ToAddresses"][0] == *a)).count();
        let texts = texts.iter().filter(|m| phones.iter().any(|p| m["phone_number"] == *p)).count();
        (emails, texts)
    };
    let before = to_them(&emails, &texts);
    assert_eq!(before, (4, 2), "one message each to the six customers with a channel");
    let response = dispatch::handle(&context, batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(to_them(&sent_emails().await, &sent_sms().await), before);
}

#[tokio::test]
async fn internal_notes_go_to_the_team_and_amounts_read_in_the_customers_language() {
    let store = fresh_store("dispatch-team").await;
    let context = dispatch_context(store.clone()).await;
    let case = Case { name: "team", email: true, phone: false, sms_opt_out: false, amount: 123_456, locale: "fr" };
    let (customer, _, overdue, number) = setup(&store, &case, 99).await;
    let mut internal = Notification::pending(
        customer.id.clone(),
        Target { kind: TargetKind::Customer, id: customer.id.to_string() },
        NotificationKind::Internal,
        Some("atelier-bienvenue-2026-11-25".into()),
        1,
        None,
        Utc::now(),
    )
    .unwrap();
    store.insert(&mut internal).await.unwrap();
    let response = dispatch::handle(&context, stream_batch(&[overdue.key(), internal.key()])).await;
    assert!(response.batch_item_failures.is_empty());
    let emails = sent_emails().await;
    let to_customer = emails.iter().find(|m| m["subject"].as_str().is_some_and(|s| s.contains(number.as_str()))).unwrap();
    assert!(to_customer["body"].as_str().unwrap().contains("1\u{202f}234,56 €"), "{to_customer}");
    let to_team = emails
        .iter()
        .find(|m| {
            m["destinations"]["ToAddresses"][0] == "equipe@example.org" && m["body"].as_str().is_some_and(|b| b.contains(&customer.name))
        })
        .expect("the team was told");
    assert!(to_team["subject"].as_str().unwrap().contains("atelier-bienvenue"));
    let stored: Notification = store.get(&Key::of_customer::<Notification>(&customer.id, internal.id.as_str())).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Sent);
}

#[tokio::test]
async fn the_local_stream_feed_hands_new_notifications_to_dispatch() {
    let store = fresh_store("dispatch-feed").await;
    let context = std::sync::Arc::new(dispatch_context(store.clone()).await);
    let sdk = relance_tests::sdk().await;
    let table = store.table().to_string();
    let totals = std::sync::Arc::new(std::sync::Mutex::new(relance_local::stream::Totals::default()));
    let seen = totals.clone();
    let feed =
        tokio::spawn(async move { relance_local::stream::feed(&sdk, &table, context, move |t| *seen.lock().unwrap() = t.clone()).await });
    // Let the feed take its position at the end of the stream, then write a notification.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let case = Case { name: "feed", email: true, phone: false, sms_opt_out: false, amount: 12_000, locale: "en" };
    let (customer, _, notification, number) = setup(&store, &case, 7).await;

    let mut sent = None;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
        if stored.status == NotificationStatus::Sent {
            sent = Some(stored);
            break;
        }
    }
    feed.abort();
    let sent = sent.expect("the feed delivered the notification to dispatch");
    assert_eq!(sent.channel, Some(ChannelDecision::Send { channel: Channel::Email }));
    let to = customer.email.unwrap();
    let emails: Vec<_> = sent_emails().await.into_iter().filter(|m| m["destinations"]["ToAddresses"][0] == to.as_str()).collect();
    assert_eq!(emails.len(), 1);
    assert!(emails[0]["subject"].as_str().unwrap().contains(number.as_str()));
    assert_eq!(totals.lock().unwrap().emails, 1);
}

/// SES's report of an email, as the configuration set publishes it to the feedback topic and
/// SNS hands it to dispatch: tagged by dispatch with the customer and the notification.
fn ses_report(
    kind: &str,
    detail: serde_json::Value,
    customer: &Customer,
    notification: &Notification,
) -> aws_lambda_events::event::sns::SnsEvent {
    let address = customer.email.clone().unwrap();
    let tag = relance::notify::feedback::notification_tag(&notification.id).unwrap();
    let mut message = serde_json::json!({"eventType": kind,
        "mail": {"messageId": "m1", "timestamp": "2026-11-25T10:00:00.000Z", "destination": [address.as_str()],
            "tags": {"customer": [customer.id.as_str()], "notification": [tag]}}});
    message[kind.to_lowercase()] = detail;
    serde_json::from_value(serde_json::json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:eu-west-3:123456789012:feedback:1",
        "Sns": {"Type": "Notification", "MessageId": "n1", "TopicArn": "arn:aws:sns:eu-west-3:123456789012:feedback",
                "Subject": null, "Message": message.to_string(), "Timestamp": "2026-11-25T10:00:00.000Z",
                "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://example.org/cert.pem",
                "UnsubscribeUrl": "https://example.org/unsubscribe", "MessageAttributes": {}}}]}))
    .unwrap()
}

#[tokio::test]
async fn a_bounce_stops_email_and_the_next_notice_goes_by_sms() {
    let store = fresh_store("dispatch-bounce").await;
    let context = dispatch_context(store.clone()).await;
    let case = Case { name: "bounce", email: true, phone: true, sms_opt_out: false, amount: 12_000, locale: "fr" };
    let (customer, invoice, first, number) = setup(&store, &case, 11).await;
    let address = customer.email.clone().unwrap();
    dispatch::handle(&context, stream_batch(&[first.key()])).await;
    assert!(sent_emails().await.iter().any(|m| m["destinations"]["ToAddresses"][0] == address.as_str()), "the first went by email");

    // SES reports it delivered, then (the mailbox closed since) a later report bounces.
    let delivered = ses_report("Delivery", serde_json::json!({"timestamp": "2026-11-25T10:00:02.000Z"}), &customer, &first);
    assert_eq!(dispatch::handle_feedback(&store, delivered.clone()).await.unwrap(), 0, "a delivery marks no address");
    let stored: Notification = store.get(&first.key()).await.unwrap().unwrap();
    assert_eq!(stored.email_outcome.map(|o| o.outcome), Some(EmailOutcomeKind::Delivered));
    let event = ses_report(
        "Bounce",
        serde_json::json!({"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": address.as_str()}]}),
        &customer,
        &first,
    );
    assert_eq!(dispatch::handle_feedback(&store, event.clone()).await.unwrap(), 1);
    assert_eq!(dispatch::handle_feedback(&store, event).await.unwrap(), 0, "marked once");
    dispatch::handle_feedback(&store, delivered).await.unwrap();
    let stored: Notification = store.get(&first.key()).await.unwrap().unwrap();
    assert_eq!(stored.email_outcome.map(|o| o.outcome), Some(EmailOutcomeKind::Bounced), "a late delivery report does not undo it");
    // The customer's file says so, next to the message.
    let router = portal::router(relance_tests::portal_state(&store));
    let (_, file) = relance_tests::call(
        &router,
        "GET",
        &format!("/admin/customers/{}", customer.id),
        &relance_tests::token("u-admin", &["admin"]),
        None,
    )
    .await;
    let line = file["timeline"].as_array().unwrap().iter().find(|e| e["record"] == first.id.as_str()).unwrap().clone();
    assert_eq!((line["status"].as_str(), line["outcome"].as_str()), (Some("sent"), Some("bounced")), "{line}");
    let stored: Customer = store.get(&customer.key()).await.unwrap().unwrap();
    assert!(stored.email_undeliverable);

    // 120 € would go by email; with the address bounced, it goes by SMS.
    let mut next = relance_tests::overdue_notice(&invoice, 3);
    store.insert(&mut next).await.unwrap();
    dispatch::handle(&context, stream_batch(&[next.key()])).await;
    let stored: Notification = store.get(&next.key()).await.unwrap().unwrap();
    assert_eq!(stored.channel, Some(ChannelDecision::Send { channel: Channel::Sms }));
    let phone = customer.phone.unwrap();
    assert!(
        sent_sms().await.iter().any(|m| m["phone_number"] == phone.as_str() && m["message"].as_str().unwrap().contains(number.as_str()))
    );
}

#[tokio::test]
async fn an_invoice_paid_after_the_scan_is_not_reminded() {
    let store = fresh_store("dispatch-moot").await;
    let context = dispatch_context(store.clone()).await;
    let case = Case { name: "paid-meanwhile", email: true, phone: true, sms_opt_out: false, amount: 12_000, locale: "fr" };
    let (customer, mut invoice, notification, _) = setup(&store, &case, 21).await;
    invoice.record_payment(invoice.balance()).unwrap();
    store.update(&mut invoice).await.unwrap();
    dispatch::handle(&context, stream_batch(&[notification.key()])).await;
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Skipped);
    assert_eq!(stored.error.as_deref(), Some("invoice no longer owed"));
    let to = customer.email.unwrap();
    assert!(!sent_emails().await.iter().any(|m| m["destinations"]["ToAddresses"][0] == to.as_str()));
}

/// A design property, not a timing: a message handed over with the stream's image of it costs
/// one read (its customer and invoice together), the claim and the record, and one send;
/// counted by a proxy in front of moto, the settings already read (once a minute).
#[tokio::test]
async fn a_message_costs_three_dynamodb_calls_and_one_send() {
    let recorder = relance_tests::calls::Recorder::start(&relance_tests::moto_url()).await;
    let table = fresh_store("dispatch-calls").await.table().to_string();
    let store = relance::store::Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), table);
    let run = relance_tests::unique();
    let mut customer = relance_tests::customer(&format!("calls-{run}"), "Nina Calls", Some(&format!("calls-{run}@example.org")));
    let mut invoice = relance_tests::invoice(&customer.id, &format!("calls-{run}"), "CL-1", 9_000);
    let notification = relance_tests::insert_overdue(&store, &mut customer, &mut invoice).await;
    let mut context = dispatch_context(store.clone()).await;
    let sender =
        relance::notify::send::SenderSettings { from: relance_tests::TEST_SENDER.into(), configuration_set: None, sms_sender_id: None };
    context.senders = relance::notify::send::Senders::new(&recorder.sdk().await, sender);
    let records = relance_tests::lambda::dispatch_records(store.table()).await;
    assert_eq!(records.len(), 1);
    context.settings.current().await.unwrap();
    recorder.clear();
    let event = serde_json::from_value(serde_json::json!({"Records": records})).unwrap();
    let (_, outcomes) = dispatch::handle_with_outcomes(&context, event).await;
    assert_eq!(outcomes, vec![dispatch::Outcome::Sent(Channel::Email)]);
    let counts = recorder.counts();
    let expected = [("dynamodb:BatchGetItem", 1), ("dynamodb:PutItem", 2), ("ses:SendEmail", 1)];
    assert_eq!(counts, expected.iter().map(|(op, n)| (op.to_string(), *n)).collect(), "{counts:?}");
    let stored: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, NotificationStatus::Sent);
}

/// A retried batch hands dispatch a stream image older than the item: the write under the
/// image's version fails, the item is read afresh, and the message goes once.
#[tokio::test]
async fn a_stale_stream_image_is_read_afresh_and_sent_once() {
    let store = fresh_store("dispatch-stale-image").await;
    let run = relance_tests::unique();
    let email = format!("stale-{run}@example.org");
    let mut customer = relance_tests::customer(&format!("stale-{run}"), "Nina Stale", Some(&email));
    let mut invoice = relance_tests::invoice(&customer.id, &format!("stale-{run}"), "ST-1", 9_000);
    let mut notification = relance_tests::insert_overdue(&store, &mut customer, &mut invoice).await;
    let records = relance_tests::lambda::dispatch_records(store.table()).await;
    // The item moves on (still pending) after the stream recorded it.
    store.update(&mut notification).await.unwrap();
    let context = dispatch_context(store.clone()).await;
    let event = serde_json::from_value(serde_json::json!({"Records": records})).unwrap();
    let (_, outcomes) = dispatch::handle_with_outcomes(&context, event).await;
    assert_eq!(outcomes, vec![dispatch::Outcome::Sent(Channel::Email)]);
    assert_eq!(sent_emails().await.iter().filter(|m| m["destinations"]["ToAddresses"][0] == email.as_str()).count(), 1);
}
