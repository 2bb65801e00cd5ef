use relance::config::{Config, aws_sdk_config, business_defaults_from_env};
use relance::ingest::Ingest;
use relance::secrets::Secrets;
use relance::store::Store;
use webhook::{WebhookState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let secrets = Secrets::load(&sdk).await?;
    let ingest = Ingest::new(Store::connect(&sdk, config.table), business_defaults_from_env()?)
        .with_ladders(relance::schedule::Ladders::from_env()?);
    lambda_http::run(router(WebhookState::new(ingest, secrets))).await
}
