//! Helpers for the end-to-end tests: the real SDK clients against the one moto server that
//! `make test` starts for the run, and a fresh table per test so tests never see each
//! other's items.

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
    reqwest::get(format!("{}/moto-api/data.json", moto_url()))
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
