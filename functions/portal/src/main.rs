use portal::auth::cognito::HostedUi;
use portal::users::Directory;
use portal::web::WebSignIn;
use portal::{IdentitySource, PortalState, router};
use relance::config::{BusinessDefaults, Config, PortalSettings, aws_sdk_config};
use relance::notify::send::{SenderSettings, Senders};
use relance::store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let store = Store::connect(&sdk, config.table);
    let settings = PortalSettings::from_env()?;
    let mut state = PortalState::new(store, IdentitySource::Authorizer);
    // An admin's test of a template goes from the business's address, as dispatch sends.
    if let Some(from) = relance::config::var("RELANCE_SENDER") {
        let senders = SenderSettings { from, configuration_set: None, sms_sender_id: relance::config::var("RELANCE_SMS_SENDER_ID") };
        state = state.with_senders(Senders::new(&sdk, senders));
    }
    // Behind API Gateway's JWT authorizer: identity comes from the checked token's claims.
    lambda_http::run(router(
        state
            .with_settings(&settings, BusinessDefaults::from_env()?, relance::config::initial_settings()?)
            .with_directory(Directory::new(&sdk, settings.user_pool_id))
            // The pages sign in through Cognito's hosted UI when the template configured it.
            .with_web(settings.hosted_ui.as_ref().map(HostedUi::from_settings).map_or(WebSignIn::Off, WebSignIn::Cognito)),
    ))
    .await
}
