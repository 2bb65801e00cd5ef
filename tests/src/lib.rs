//! Helpers for the end-to-end tests (`tests/api`, one test binary) and the benchmarks in
//! `examples/`: the real SDK clients against the one moto server that `make test` starts for
//! the run, a fresh table per test so tests never see each other's items, the records tests
//! build ([`records`]), and requests into the functions' routers ([`http`]).

pub mod calls;
pub mod faults;
pub mod http;
pub mod iam;
pub mod lambda;
pub mod records;

pub use http::{Answer, JWT_SECRET, api, call, portal_state, post, secrets, send, token, webhook_router};
pub use records::{card, customer, eur, invoice, now, overdue_notice, subscription, unique, unique_mobile};

use aws_config::SdkConfig;
use relance::domain::{Customer, Invoice, Notification};
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

/// Writes `customer`, their overdue `invoice` and the reminder the scan would have written for
/// it at step 2 ([`overdue_notice`]); returns the reminder.
pub async fn insert_overdue(store: &Store, customer: &mut Customer, invoice: &mut Invoice) -> Notification {
    let mut notification = overdue_notice(invoice, 2);
    store.insert(customer).await.unwrap();
    store.insert(invoice).await.unwrap();
    store.insert(&mut notification).await.unwrap();
    notification
}

/// A store whose table does not exist: every call fails, as when DynamoDB cannot be reached.
pub async fn store_without_table() -> Store {
    Store::new(aws_sdk_dynamodb::Client::new(&sdk().await), "no-such-table")
}

/// A provider's sample delivery from `fixtures/webhooks/`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/webhooks/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A function's sample event from the repository's `events/` (what `sam local invoke` reads).
pub fn sample_event(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// moto's record of everything sent: `/moto-api/data.json`.
pub async fn moto_data() -> serde_json::Value {
    relance::http::https_client()
        .get(format!("{}/moto-api/data.json", moto_url()))
        .send()
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
    let settings =
        relance::notify::send::SenderSettings { from: TEST_SENDER.into(), configuration_set: None, sms_sender_id: Some("Potagers".into()) };
    dispatch::DispatchContext {
        // The table's settings, kept a minute as in AWS: a test that changes them builds its
        // dispatch context afterwards.
        settings: relance::settings::LiveSettings::stored(
            store.clone(),
            relance::settings::Settings::from_parts(&Default::default(), &Default::default()),
            relance::settings::CACHE_FOR,
        ),
        store,
        senders: relance::notify::send::Senders::new(&sdk, settings),
        renderer: relance::notify::Renderer::new(),
        branding: relance::notify::compose::Branding {
            business: "Les Potagers de Belleville".into(),
            portal_url: "https://espace.example.org".into(),
        },
        default_language: "fr".into(),
        team_email: Some(relance::domain::Email::parse("equipe@example.org").unwrap()),
        max_emails_per_second: 1000,
        send_rate: Default::default(),
    }
}

/// The scan over `store` as it runs in AWS: the table's settings, read on every run.
pub fn scan_context(store: &Store) -> scan::ScanContext {
    scan::ScanContext {
        ingest: relance::ingest::Ingest::new(store.clone(), Default::default(), Default::default()),
        store: store.clone(),
        holded: None,
        settings: relance::settings::LiveSettings::stored(
            store.clone(),
            relance::settings::Settings::from_parts(&Default::default(), &Default::default()),
            std::time::Duration::ZERO,
        ),
    }
}

/// A DynamoDB stream batch announcing new items with these keys, as Lambda delivers it.
pub fn stream_batch(keys: &[relance::store::Key]) -> aws_lambda_events::event::dynamodb::Event {
    let records: Vec<(relance::store::Key, String)> = keys.iter().enumerate().map(|(i, k)| (k.clone(), format!("{}", 100 + i))).collect();
    relance_local::stream::lambda_event(&records)
}
