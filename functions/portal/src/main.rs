use portal::{PortalState, router};
use relance::config::{Config, aws_sdk_config};
use relance::store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let store = Store::connect(&aws_sdk_config().await, config.table);
    lambda_http::run(router(PortalState { store })).await
}
