//! The portal function: the member space API behind the Cognito JWT authorizer, and the
//! server-rendered pages over it.
//!
//! An axum router, served by API Gateway in AWS (through `lambda_http`) and by `make run`
//! locally; tests call it in-process. Three rooms:
//! - [`api`]: the JSON routes, their typed answers and the OpenAPI document made from them.
//!   Every route takes the [`auth::Caller`] extractor, so no route can forget to
//!   authenticate, and reads its input through [`api::input`], so every malformed request
//!   gets the same kind of 400 (the one [`relance::api_error::ApiError`] of both HTTP functions).
//! - [`auth`]: who is calling: API Gateway's JWT claims, local tokens, Cognito's hosted UI.
//! - [`web`]: the pages, which call the API's handlers and render their answers.

pub mod api;
pub mod auth;
pub mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use relance::api_error::ApiError;
use relance::store::Store;

pub use api::{openapi, users};
pub use auth::{Caller, IdentitySource, Role};

/// Request bodies are small JSON documents.
pub const MAX_BODY: usize = 64 * 1024;

/// What every portal route needs, built once at cold start.
#[derive(Clone)]
pub struct PortalState {
    pub store: Store,
    pub identity: IdentitySource,
    /// The business's self-service billing page (Stripe's customer portal login link, say):
    /// where "renew" and "update my card" lead when no open invoice has its own payment page.
    pub billing_portal_url: Option<String>,
    /// The sales bonus table (`RELANCE_BONUS_RATES`).
    pub bonus_rates: relance::reports::BonusRates,
    /// Where invited users are created.
    pub directory: users::Directory,
    /// The business's locale and time zone, for the contacts of invited users.
    pub defaults: relance::config::BusinessDefaults,
    /// The settings in force (the owner's, else the deployment's): the home page tells of an
    /// expiring card or a renewal from the day the first reminder about it is due.
    pub settings: relance::settings::LiveSettings,
    /// How people sign in to the web pages.
    pub web: web::WebSignIn,
    /// SES and SNS, for an admin's test of a template sent to themselves; none: not set up
    /// (`RELANCE_SENDER` unset), and a test send answers 503.
    pub senders: Option<relance::notify::send::Senders>,
}

impl PortalState {
    pub fn new(store: Store, identity: IdentitySource) -> PortalState {
        PortalState {
            store: store.clone(),
            identity,
            billing_portal_url: None,
            bonus_rates: relance::reports::BonusRates::default(),
            directory: users::Directory::Local,
            defaults: Default::default(),
            settings: relance::settings::LiveSettings::stored(
                store.clone(),
                relance::settings::Settings::from_parts(&Default::default(), &Default::default()),
                relance::settings::CACHE_FOR,
            ),
            web: web::WebSignIn::Off,
            senders: None,
        }
    }

    pub fn with_senders(mut self, senders: relance::notify::send::Senders) -> PortalState {
        self.senders = Some(senders);
        self
    }

    pub fn with_web(mut self, web: web::WebSignIn) -> PortalState {
        self.web = web;
        self
    }

    pub fn with_directory(mut self, directory: users::Directory) -> PortalState {
        self.directory = directory;
        self
    }

    pub fn with_billing_portal(mut self, url: &str) -> PortalState {
        self.billing_portal_url = Some(url.to_string());
        self
    }

    /// The portal's settings ([`relance::config::PortalSettings`]: billing page, bonus rates),
    /// the business defaults and the deployment's settings, from the environment; invalid
    /// values stop the start.
    pub fn with_settings_from_env(self) -> Result<PortalState, relance::config::ConfigError> {
        Ok(self.with_settings(
            &relance::config::PortalSettings::from_env()?,
            relance::config::BusinessDefaults::from_env()?,
            relance::config::initial_settings()?,
        ))
    }

    /// The portal's settings, already read.
    pub fn with_settings(
        mut self,
        settings: &relance::config::PortalSettings,
        defaults: relance::config::BusinessDefaults,
        initial: relance::settings::Settings,
    ) -> PortalState {
        self.defaults = defaults;
        self.settings = relance::settings::LiveSettings::stored(self.store.clone(), initial, relance::settings::CACHE_FOR);
        self.billing_portal_url = settings.billing_portal_url.clone();
        self.bonus_rates = settings.bonus_rates.clone();
        self
    }
}

pub fn router(state: PortalState) -> Router {
    let (api, document) = api::api().split_for_parts();
    // Written once at start; each answer shares the bytes.
    #[allow(clippy::expect_used, reason = "the document is our own types: one that cannot be written is a bug to stop at start")]
    let document = axum::body::Bytes::from(serde_json::to_vec(&openapi::finish(document)).expect("the OpenAPI document serialises"));
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    let routes = api
        .route("/openapi.json", get(move || std::future::ready((json, document.clone()))))
        .merge(web::routes().layer(axum::middleware::from_fn_with_state(state.clone(), web::error_pages)))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(MAX_BODY));
    web::with_security_headers(routes).with_state(state)
}

/// Unknown paths answer in the same JSON shape as every other error.
async fn no_route() -> ApiError {
    ApiError::new(axum::http::StatusCode::NOT_FOUND, "no_route", "no such route")
}

async fn no_method() -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}
