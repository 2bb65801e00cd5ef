//! The four functions as Lambda runs them: each real binary under a local Runtime API
//! (`relance_tests::lambda`), fed events in AWS's shapes (the samples of `events/`, and HTTP
//! API payload 2.0 requests with base64 bodies and authorizer claims), against moto. The
//! other tests call the routers and handlers directly; these catch what lies between.

use base64::Engine;
use relance::domain::*;
use relance::providers::stripe;
use relance::store::Record;
use relance_tests::lambda::{self, Answer, Function};
use serde_json::{Value, json};

fn event(file: &str) -> Value {
    let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An HTTP API (payload 2.0) request as API Gateway gives it, from the sample's frame.
fn http_request(method: &str, path: &str, headers: Value, body: Option<&[u8]>) -> Value {
    let mut request = event("portal-health.json");
    request["rawPath"] = path.into();
    request["requestContext"]["http"]["method"] = method.into();
    request["requestContext"]["http"]["path"] = path.into();
    request["routeKey"] = "ANY /{proxy+}".into();
    request["headers"] = headers;
    if let Some(body) = body {
        // API Gateway encodes any body that is not text it knows: the bytes are what count.
        request["body"] = base64(body).into();
        request["isBase64Encoded"] = true.into();
    }
    request
}

/// The response body of an HTTP API answer, decoded.
fn body_of(answer: &Value) -> Value {
    let body = answer["body"].as_str().unwrap_or_default();
    let bytes = if answer["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// The provider secret as the template's stack keeps it, in moto's Secrets Manager: its ARN.
async fn provider_secret(values: Value) -> String {
    let sdk = relance_tests::sdk().await;
    let created = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(format!("relance-lambda-{}", relance_tests::unique()))
        .secret_string(values.to_string())
        .send()
        .await
        .expect("moto keeps the secret");
    created.arn().unwrap_or_default().to_string()
}

/// A client of `service` signing as `function`'s role.
fn as_role<C>(function: &str, sdk: &aws_config::SdkConfig, build: impl Fn(&aws_config::SdkConfig) -> C) -> C {
    let role = relance_tests::iam::role_credentials(function);
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        role.access_key_id,
        role.secret_access_key,
        Some(role.session_token),
        None,
        "the role, assumed in moto",
    );
    build(&sdk.to_builder().credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials)).build())
}

#[tokio::test]
async fn moto_refuses_each_role_what_the_template_does_not_grant_it() {
    let store = relance_tests::fresh_store("lambda-iam").await;
    let sdk = relance_tests::sdk().await;
    // The scan reads and writes the table…
    let scan_table = as_role("ScanFunction", &sdk, aws_sdk_dynamodb::Client::new);
    let read = scan_table.get_item().table_name(store.table()).key("pk", aws_sdk_dynamodb::types::AttributeValue::S("X".into()));
    let read = read.key("sk", aws_sdk_dynamodb::types::AttributeValue::S("X".into())).send().await;
    assert!(read.is_ok(), "the scan's role may read the table: {read:?}");
    // …but never sends: only dispatch's role may.
    let scan_email = as_role("ScanFunction", &sdk, aws_sdk_sesv2::Client::new);
    let refused = scan_email.list_email_identities().send().await.expect_err("the scan's role lists no SES identity");
    let text = format!("{:?}", aws_sdk_sesv2::error::DisplayErrorContext(&refused));
    assert!(text.contains("AccessDenied"), "moto refuses it as IAM does: {text}");
    // No function may drop the table.
    for function in ["WebhookFunction", "ScanFunction", "DispatchFunction", "PortalFunction"] {
        let table = as_role(function, &sdk, aws_sdk_dynamodb::Client::new);
        let refused = table.delete_table().table_name(store.table()).send().await.expect_err("no role deletes the table");
        let text = format!("{:?}", aws_sdk_dynamodb::error::DisplayErrorContext(&refused));
        assert!(text.contains("AccessDenied"), "{function}: {text}");
    }
}

#[tokio::test]
async fn the_scan_binary_answers_the_schedules_and_names_its_failures() {
    let store = relance_tests::fresh_store("lambda-scan").await;
    // As deployed: the secret exists, its Holded key still empty.
    let secret = provider_secret(json!({"HOLDED_API_KEY": "", "STRIPE_WEBHOOK_SECRET": ""})).await;
    let scan = Function::start("scan", &[("RELANCE_TABLE", store.table().to_string()), ("RELANCE_SECRETS_ARN", secret)]).await;
    // The Scheduler's hourly event, and a run by hand with its own clock.
    let hourly = scan.invoke(event("scan-schedule.json")).await.response();
    assert!(hourly["scan"].is_object(), "{hourly}");
    let manual = scan.invoke(event("scan-manual.json")).await.response();
    assert_eq!(manual["dry_run"], true, "{manual}");
    // The Holded schedule's exact input without a key: an error Lambda reports by its name.
    let answer = scan.invoke(json!({"import": "holded"})).await;
    assert!(matches!(&answer, Answer::Error { error_type, .. } if error_type == "HoldedNotConfigured"), "{answer:?}");
    let answer = scan.invoke(json!({"backfill": "everything"})).await;
    assert!(matches!(&answer, Answer::Error { error_type, .. } if error_type == "UnknownBackfill"), "{answer:?}");
    assert_eq!(
        scan.metric("ScanRuns", ("Function", "scan")),
        1,
        "the hourly run (a dry run counts nothing): ScanNotRunAlarm reads its invocations"
    );
    scan.assert_least_privilege("ScanFunction");
    eprintln!("scan called: {:?}", scan.actions());
}

#[tokio::test]
async fn the_dispatch_binary_sends_a_stream_batch_and_reads_ses_feedback() {
    let store = relance_tests::fresh_store("lambda-dispatch").await;
    // moto's SES knows the sender (dispatch_context verifies it).
    let _ = relance_tests::dispatch_context(store.clone()).await;
    let email = format!("lambda-{}@example.org", relance_tests::unique());
    let mut customer = relance_tests::customer(&format!("c-lambda-{}", relance_tests::unique()), "Camille Lambda", Some(&email));
    let mut invoice = relance_tests::invoice(&customer.id, &format!("i-lambda-{}", relance_tests::unique()), "F-LAMBDA-1", 12_000);
    let notification = relance_tests::insert_overdue(&store, &mut customer, &mut invoice).await;
    // And one whose reminder goes by text: a small amount, a mobile and no email.
    let mobile = relance_tests::unique_mobile();
    let mut texted = relance_tests::customer(&format!("c-lambda-sms-{}", relance_tests::unique()), "Karim Lambda", None);
    texted.phone = Some(mobile.clone());
    let mut small = relance_tests::invoice(&texted.id, &format!("i-lambda-sms-{}", relance_tests::unique()), "F-LAMBDA-2", 1_500);
    let text_notice = relance_tests::insert_overdue(&store, &mut texted, &mut small).await;
    let dispatch = Function::start(
        "dispatch",
        &[
            ("RELANCE_TABLE", store.table().to_string()),
            ("RELANCE_SENDER", relance_tests::TEST_SENDER.to_string()),
            ("RELANCE_PORTAL_URL", "https://espace.example.org".to_string()),
        ],
    )
    .await;
    // The stream's records as moto recorded the writes, through the template's FilterCriteria
    // (a filter that dropped our notification would fail here): only the new pending
    // notification passes, not the customer or the invoice written with it.
    let filter = lambda::dispatch_stream_filter();
    let records = lambda::stream_records(store.table()).await;
    assert!(records.len() >= 3, "{records:#?}");
    let passed: Vec<Value> = records.into_iter().filter(|r| lambda::passes(&filter, r)).collect();
    let keys: Vec<&str> = passed.iter().filter_map(|r| r["dynamodb"]["Keys"]["sk"]["S"].as_str()).collect();
    let mut expected = [notification.key().sk, text_notice.key().sk];
    expected.sort();
    let mut keys: Vec<String> = keys.into_iter().map(str::to_string).collect();
    keys.sort();
    assert_eq!(keys, expected, "{filter}");
    let answer = dispatch.invoke(json!({ "Records": passed })).await.response();
    assert_eq!(answer["batchItemFailures"], json!([]), "ReportBatchItemFailures: nothing to retry: {answer}");
    let sent: Notification = store.get(&notification.key()).await.unwrap().unwrap();
    assert_eq!(sent.status, NotificationStatus::Sent, "{sent:?}");
    let emails = relance_tests::sent_emails().await;
    assert!(emails.iter().any(|m| m["id"].as_str() == sent.provider_message_id.as_deref()), "moto has the email");
    let texted: Notification = store.get(&text_notice.key()).await.unwrap().unwrap();
    assert_eq!((texted.status, texted.channel.clone()), (NotificationStatus::Sent, Some(ChannelDecision::Send { channel: Channel::Sms })));
    let sms = relance_tests::sent_sms().await;
    assert!(sms.iter().any(|m| m["phone_number"].as_str() == Some(mobile.as_str())), "moto has the text");
    // SES's feedback through SNS, as the sample has it.
    let feedback = dispatch.invoke(event("dispatch-ses-feedback.json")).await.response();
    assert!(feedback["marked_undeliverable"].is_number(), "{feedback}");
    // Not an event dispatch takes: named, not a type path.
    let answer = dispatch.invoke(json!(42)).await;
    assert!(matches!(&answer, Answer::Error { error_type, .. } if error_type == "BadEvent"), "{answer:?}");
    // Its metrics, as CloudWatch reads them from its log lines (the dashboard and the alarms'
    // Relance namespace): one email and one text sent.
    assert_eq!(
        (dispatch.metric("NotificationsSent", ("Channel", "email")), dispatch.metric("NotificationsSent", ("Channel", "sms"))),
        (1, 1)
    );
    dispatch.assert_least_privilege("DispatchFunction");
    eprintln!("dispatch called: {:?}", dispatch.actions());
}

#[test]
fn the_filter_is_evaluated_as_lambda_does() {
    let filter = lambda::dispatch_stream_filter();
    let record = |event: &str, kind: &str, status: &str| json!({"eventName": event, "dynamodb": {"NewImage": {"type": {"S": kind}, "status": {"S": status}}}});
    assert!(lambda::passes(&filter, &record("INSERT", "Notification", "pending")));
    assert!(!lambda::passes(&filter, &record("MODIFY", "Notification", "pending")), "a claim is not a new notice");
    assert!(!lambda::passes(&filter, &record("INSERT", "Notification", "held")));
    assert!(!lambda::passes(&filter, &record("INSERT", "Invoice", "pending")));
    assert!(!lambda::passes(&filter, &json!({"eventName": "INSERT"})), "no image, no match");
}

#[tokio::test]
async fn the_webhook_binary_checks_signatures_over_the_bytes_api_gateway_passes() {
    let store = relance_tests::fresh_store("lambda-webhook").await;
    let secret = provider_secret(json!({"STRIPE_WEBHOOK_SECRET": "whsec_lambda", "BRAINTREE_PUBLIC_KEY": "integration_public_key",
                                         "BRAINTREE_PRIVATE_KEY": "integration_private_key"}))
    .await;
    let webhook = Function::start("webhook", &[("RELANCE_TABLE", store.table().to_string()), ("RELANCE_SECRETS_ARN", secret)]).await;

    // A Stripe delivery, its body base64 as API Gateway passes it, signed over those bytes.
    let body = json!({"id": format!("evt_lambda_{}", relance_tests::unique()), "object": "event", "type": "customer.created",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": {"id": "cus_lambda", "object": "customer", "email": "lambda@example.org", "name": "Léa Lambda"}}})
    .to_string();
    let signature = stripe::sign(body.as_bytes(), "whsec_lambda", chrono::Utc::now().timestamp());
    let headers = json!({"content-type": "application/json; charset=utf-8", "stripe-signature": signature, "user-agent": "Stripe/1.0"});
    let answer = webhook.invoke(http_request("POST", "/webhooks/stripe", headers.clone(), Some(body.as_bytes()))).await.response();
    assert_eq!((answer["statusCode"].as_u64(), body_of(&answer)["outcome"].as_str()), (Some(200), Some("applied")), "{answer}");
    let reference = ProviderRef::new(Provider::Stripe, "cus_lambda").unwrap();
    assert!(store.find_by_provider_ref("Customer", &reference).await.unwrap().is_some());
    // One byte changed: refused.
    let tampered = body.replace("Léa", "Lea");
    let answer = webhook.invoke(http_request("POST", "/webhooks/stripe", headers, Some(tampered.as_bytes()))).await.response();
    assert_eq!(answer["statusCode"], 401, "{answer}");

    // A Braintree form post signed by Braintree's SDK (a fixture it generated), base64 too.
    let samples: Value = serde_json::from_str(include_str!("../../fixtures/webhooks/braintree_sample_notifications.json")).unwrap();
    let sample = &samples["notifications"][0];
    let payload_file = format!("{}/fixtures/webhooks/{}", env!("CARGO_MANIFEST_DIR"), sample["bt_payload_file"].as_str().unwrap());
    let payload = std::fs::read_to_string(payload_file).unwrap();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("bt_signature", sample["bt_signature"].as_str().unwrap())
        .append_pair("bt_payload", &payload)
        .finish();
    let headers = json!({"content-type": "application/x-www-form-urlencoded", "user-agent": "Braintree/1.0"});
    let answer = webhook.invoke(http_request("POST", "/webhooks/braintree", headers, Some(form.as_bytes()))).await.response();
    assert_eq!(answer["statusCode"], 200, "{answer}: {}", body_of(&answer));
    // One Stripe delivery accepted, one refused for its signature (WebhookRejectedAlarm's metric).
    let stripe = ("Provider", "stripe");
    assert_eq!((webhook.metric("DeliveriesAccepted", stripe), webhook.metric("DeliveriesRejected", stripe)), (1, 1));
    assert_eq!(webhook.metric("DeliveriesAccepted", ("Provider", "braintree")), 1);
    webhook.assert_least_privilege("WebhookFunction");
    eprintln!("webhook called: {:?}", webhook.actions());
}

#[tokio::test]
async fn the_portal_binary_reads_the_authorizers_claims_and_answers_cookies_as_payload_2_0() {
    let store = relance_tests::fresh_store("lambda-portal").await;
    let table = ("RELANCE_TABLE", store.table().to_string());
    let portal = Function::start("portal", std::slice::from_ref(&table)).await;
    // A cold start fetches nothing it can fetch when a request needs it (settings, the
    // pool's keys, secrets): its init is the binary's own.
    let at_init: Vec<String> = portal.calls().into_iter().map(|c| c.operation).collect();
    assert!(at_init.is_empty(), "the portal's init called {at_init:?}");
    let health = portal.invoke(event("portal-health.json")).await.response();
    assert_eq!(health["statusCode"], 200, "{health}");

    // The JWT authorizer's claims, `cognito:groups` in the string form API Gateway gives.
    let mut request = http_request("GET", "/admin/settings", json!({"accept": "application/json"}), None);
    let claims = |groups: &str| json!({"sub": "u-lambda-admin", "email": "admin@example.org", "cognito:groups": groups, "token_use": "id"});
    request["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims("[admin]"), "scopes": null}});
    let answer = portal.invoke(request.clone()).await.response();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let mut settings = body_of(&answer)["settings"].clone();
    assert!(settings.is_object(), "{answer}");
    // An owner's save, its JSON body base64 as API Gateway passes it, over If-Match.
    settings["formal_notice"] = true.into();
    let body = settings.to_string();
    let mut save =
        http_request("PUT", "/admin/settings", json!({"content-type": "application/json", "if-match": "\"0\""}), Some(body.as_bytes()));
    save["requestContext"]["authorizer"] = request["requestContext"]["authorizer"].clone();
    let saved = portal.invoke(save).await.response();
    assert_eq!(saved["statusCode"], 200, "{saved}: {}", body_of(&saved));
    assert_eq!(relance::settings::read(&store).await.unwrap().map(|s| s.settings.formal_notice), Some(true));
    request["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims("[member]"), "scopes": null}});
    assert_eq!(portal.invoke(request).await.response()["statusCode"], 403);
    portal.assert_least_privilege("PortalFunction");
    eprintln!("portal called: {:?}", portal.actions());
    drop(portal);

    // With Cognito's hosted UI configured, as the template sets it.
    let hosted = Function::start(
        "portal",
        &[
            table,
            ("RELANCE_COGNITO_DOMAIN", "https://potagers.auth.eu-west-3.amazoncognito.com".to_string()),
            ("RELANCE_COGNITO_CLIENT_ID", "lambda-client".to_string()),
            ("RELANCE_PORTAL_URL", "https://espace.example.org".to_string()),
            ("RELANCE_USER_POOL_ID", "eu-west-3_lambda".to_string()),
        ],
    )
    .await;

    // A page that sets a cookie: Cognito's sign-in sets the PKCE cookie, which payload 2.0
    // returns in the answer's `cookies`, not in a header.
    let mut page = http_request("GET", "/sign-in", json!({"accept": "text/html"}), None);
    page["cookies"] = json!(["relance_csrf=abcdefghijklmnopqrstuvwxyz"]);
    let answer = hosted.invoke(page).await.response();
    assert_eq!(answer["statusCode"], 303, "{answer}");
    let cookies: Vec<&str> = answer["cookies"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(cookies.iter().any(|c| c.starts_with("relance_pkce=") && c.contains("HttpOnly")), "{answer}");
    assert!(answer["headers"].get("set-cookie").is_none(), "{answer}");
    let location = answer["headers"]["location"].as_str().unwrap_or_default();
    assert!(location.starts_with("https://potagers.auth.eu-west-3.amazoncognito.com/oauth2/authorize"), "{answer}");
}

/// Moto checks actions, not resources or conditions: where the template narrows what a role
/// may do, the translated statements are evaluated here. Texts go to phone numbers, never to a
/// topic; email goes from the business's address only.
#[test]
fn the_roles_narrowings_hold() {
    use std::collections::BTreeMap;
    let context = BTreeMap::from([
        ("AWS::Partition", "aws"),
        ("AWS::Region", "eu-west-3"),
        ("AWS::AccountId", "123456789012"),
        ("SenderAddress", "relances@potagers.example.org"),
    ]);
    let none = BTreeMap::new();
    let identity = "arn:aws:ses:eu-west-3:123456789012:identity/potagers.example.org";
    let from = |address| BTreeMap::from([("ses:FromAddress", address)]);
    for role in ["DispatchFunction", "PortalFunction"] {
        assert!(relance_tests::iam::allows(role, "sns:Publish", "+33612345678", &none, &context), "{role}: a text to a phone number");
        let topic = "arn:aws:sns:eu-west-3:123456789012:anything";
        assert!(!relance_tests::iam::allows(role, "sns:Publish", topic, &none, &context), "{role}: never to a topic");
        assert!(relance_tests::iam::allows(role, "ses:SendEmail", identity, &from("relances@potagers.example.org"), &context), "{role}");
        assert!(
            !relance_tests::iam::allows(role, "ses:SendEmail", identity, &from("someone@else.example"), &context),
            "{role}: other senders"
        );
        assert!(!relance_tests::iam::allows(role, "ses:SendEmail", identity, &none, &context), "{role}: without the condition's key");
    }
    // Dispatch names the stack's configuration set on every email: SES checks it too.
    let with_set = BTreeMap::from([
        ("AWS::Partition", "aws"),
        ("AWS::Region", "eu-west-3"),
        ("AWS::AccountId", "123456789012"),
        ("SenderAddress", "relances@potagers.example.org"),
        ("EmailConfigurationSet", "relance-emails"),
    ]);
    let set = "arn:aws:ses:eu-west-3:123456789012:configuration-set/relance-emails";
    let business = from("relances@potagers.example.org");
    assert!(relance_tests::iam::allows("DispatchFunction", "ses:SendEmail", set, &business, &with_set), "the configuration set");
    let other_set = "arn:aws:ses:eu-west-3:123456789012:configuration-set/another";
    assert!(!relance_tests::iam::allows("DispatchFunction", "ses:SendEmail", other_set, &business, &with_set));
    // No function may Scan the table, nor touch another table.
    for role in ["WebhookFunction", "PortalFunction", "ScanFunction", "DispatchFunction"] {
        assert!(!relance_tests::iam::granted(role).iter().any(|a| a == "dynamodb:Scan" || a == "dynamodb:*"), "{role}");
    }
    let table = BTreeMap::from([("Table.Arn", "arn:aws:dynamodb:eu-west-3:123456789012:table/relance")]);
    let own = "arn:aws:dynamodb:eu-west-3:123456789012:table/relance/index/due";
    assert!(relance_tests::iam::allows("WebhookFunction", "dynamodb:Query", own, &none, &table));
    let other = "arn:aws:dynamodb:eu-west-3:123456789012:table/another";
    assert!(!relance_tests::iam::allows("WebhookFunction", "dynamodb:GetItem", other, &none, &table));
}

/// The operations the template gives, as CloudFormation receives them: the alarms on the
/// metrics the binaries write (checked above), JSON logs, and deploys by alias with a canary
/// rolled back by alarms for the functions people wait on.
#[test]
fn the_template_deploys_with_alarms_json_logs_and_canaries() {
    let resources = relance_tests::iam::translated_resources();
    let alarm = |name: &str| {
        let properties = &resources[name]["Properties"];
        assert_eq!(resources[name]["Type"], "AWS::CloudWatch::Alarm", "{name}");
        (
            properties["Namespace"].as_str().unwrap_or_default().to_string(),
            properties["MetricName"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(alarm("ApiServerErrorsAlarm"), ("AWS/ApiGateway".into(), "5xx".into()));
    assert_eq!(alarm("ScanNotRunAlarm"), ("AWS/Lambda".into(), "Invocations".into()));
    assert_eq!(resources["ScanNotRunAlarm"]["Properties"]["TreatMissingData"], "breaching", "no data is no run");
    assert_eq!(alarm("NotificationsHeldAlarm"), ("Relance".into(), "NotificationsHeld".into()));
    assert_eq!(alarm("DispatchFailuresAlarm"), ("Relance".into(), "NotificationsFailed".into()));
    assert_eq!(alarm("WebhookRejectedAlarm"), ("Relance".into(), "DeliveriesRejected".into()));
    assert_eq!(alarm("EmailComplaintRateAlarm"), ("AWS/SES".into(), "Reputation.ComplaintRate".into()));
    assert_eq!(alarm("EmailBounceRateAlarm"), ("AWS/SES".into(), "Reputation.BounceRate".into()));
    assert_eq!(resources["Dashboard"]["Type"], "AWS::CloudWatch::Dashboard");
    for (function, canary) in [("WebhookFunction", true), ("PortalFunction", true), ("ScanFunction", false), ("DispatchFunction", false)] {
        let logging = &resources[function]["Properties"]["LoggingConfig"];
        assert_eq!((logging["LogFormat"].as_str(), logging["ApplicationLogLevel"].as_str()), (Some("JSON"), Some("INFO")), "{function}");
        assert!(
            resources.as_object().unwrap().contains_key(&format!("{function}Aliaslive")),
            "{function}: published behind the live alias"
        );
        let group = &resources[format!("{function}DeploymentGroup")];
        let config = group["Properties"]["DeploymentConfigName"].to_string();
        assert!(config.contains(if canary { "Canary10Percent5Minutes" } else { "AllAtOnce" }), "{function}: {config}");
        if canary {
            let alarms = group["Properties"]["AlarmConfiguration"]["Alarms"].to_string();
            assert!(alarms.contains("ApiServerErrorsAlarm"), "{function}: rolled back by the API's 5xx alarm: {alarms}");
        }
    }
}
