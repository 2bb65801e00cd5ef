//! Helpers for the end-to-end tests: the real SDK clients against the one moto server that
//! `make test` starts for the run, and a fresh table per test so tests never see each
//! other's items.

pub mod faults;

use aws_config::SdkConfig;
use relance::store::Store;
use relance_local::table::TableDefinition;

/// The SDK configuration `make test` exported (AWS_ENDPOINT_URL pointing at moto).
pub async fn sdk() -> SdkConfig {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `make test`, which starts moto"
    );
    relance::config::aws_sdk_config().await
}

/// moto's base URL.
pub fn moto_url() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_default()
}

/// The table definition from `template.yaml`.
pub fn table_definition() -> TableDefinition {
    TableDefinition::from_template_file(&relance_local::template_path()).expect("template.yaml defines the table")
}

/// A new, empty table named after the test, created exactly as the template defines it.
pub async fn fresh_store(test: &str) -> Store {
    let sdk = sdk().await;
    let name = format!("{test}-{}", ulid::Ulid::new()).to_lowercase();
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    table_definition().create(&client, &name).await.expect("moto creates the table");
    Store::new(client, name)
}

/// moto's record of everything sent: `/moto-api/data.json`.
pub async fn moto_data() -> serde_json::Value {
    relance::http::https_client().get(format!("{}/moto-api/data.json", moto_url())).send()
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("data.json is JSON")
}

/// The emails moto's SES has accepted (`ses.Message` in data.json: id, source,
/// destinations, subject, body).
pub async fn sent_emails() -> Vec<serde_json::Value> {
    moto_data().await["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

/// The text messages moto's SNS has accepted (`sns.SMS` in data.json).
pub async fn sent_sms() -> Vec<serde_json::Value> {
    moto_data().await["sns"]["SMS"].as_array().cloned().unwrap_or_default()
}

/// The sender identity tests send from, verified in moto's SES.
pub const TEST_SENDER: &str = "relance-test@example.org";

/// A dispatch context over `store`, sending through moto from [`TEST_SENDER`].
pub async fn dispatch_context(store: Store) -> dispatch::DispatchContext {
    let sdk = sdk().await;
    relance_local::ses::verify_sender(&aws_sdk_sesv2::Client::new(&sdk), TEST_SENDER).await.expect("moto verifies the sender");
    let settings = relance::notify::send::SenderSettings { from: TEST_SENDER.into(), configuration_set: None, sms_sender_id: Some("Potagers".into()) };
    dispatch::DispatchContext {
        store,
        senders: relance::notify::send::Senders::new(&sdk, settings),
        renderer: relance::notify::Renderer::new(),
        policy: relance::notify::ChannelPolicy::default(),
        branding: relance::notify::compose::Branding { business: "Les Potagers de Belleville".into(), portal_url: "https://espace.example.org".into() },
        default_language: "fr".into(),
        team_email: Some(relance::domain::Email::parse("equipe@example.org").unwrap()),
        max_emails_per_second: 1000,
        send_rate: Default::default(),
    }
}

/// A DynamoDB stream batch announcing new items with these keys, as Lambda delivers it.
pub fn stream_batch(keys: &[relance::store::Key]) -> aws_lambda_events::event::dynamodb::Event {
    let records: Vec<(relance::store::Key, String)> = keys.iter().enumerate().map(|(i, k)| (k.clone(), format!("{}", 100 + i))).collect();
    relance_local::stream::lambda_event(&records)
}
