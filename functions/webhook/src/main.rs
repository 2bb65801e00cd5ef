use relance::config::{BusinessDefaults, Config, aws_sdk_config};
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
    let ingest = Ingest::new(Store::connect(&sdk, config.table), BusinessDefaults::from_env()?, relance::config::ladders()?);
    lambda_http::run(router(WebhookState::new(ingest, secrets))).await
}
