use portal::users::Directory;
use portal::{IdentitySource, PortalState, router};
use relance::config::{Config, aws_sdk_config};
use relance::store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let store = Store::connect(&sdk, config.table);
    // Behind API Gateway's JWT authorizer: identity comes from the checked token's claims.
    lambda_http::run(router(PortalState::new(store, IdentitySource::Authorizer).with_settings_from_env()?.with_directory(Directory::from_env(&sdk)))).await
}
