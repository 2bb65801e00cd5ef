use portal::users::Directory;
use portal::web::WebSignIn;
use portal::web::cognito::HostedUi;
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
    lambda_http::run(router(
        PortalState::new(store, IdentitySource::Authorizer)
            .with_settings_from_env()?
            .with_directory(Directory::from_env(&sdk))
            // The pages sign in through Cognito's hosted UI when the template configured it.
            .with_web(HostedUi::from_env().map_or(WebSignIn::Off, WebSignIn::Cognito)),
    )).await
}
