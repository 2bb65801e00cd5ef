use relance::config::{Config, aws_sdk_config};
use relance::store::Store;
use webhook::{WebhookState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let store = Store::connect(&aws_sdk_config().await, config.table);
    lambda_http::run(router(WebhookState { store })).await
}
