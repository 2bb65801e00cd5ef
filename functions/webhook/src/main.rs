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
    let store = Store::connect(&sdk, config.table);
    let settings = relance::config::live_settings(store.clone(), relance::settings::CACHE_FOR)?;
    let ingest = Ingest::live(store, BusinessDefaults::from_env()?, settings);
    lambda_http::run(router(WebhookState::new(ingest, secrets).with_braintree_api_from_env()?)).await
}
