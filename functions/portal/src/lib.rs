//! The portal function: the member space API behind the Cognito JWT authorizer.
//!
//! An axum router, served by API Gateway in AWS (through `lambda_http`) and by `make run`
//! locally; tests call it in-process. Every route takes the [`identity::Caller`] extractor,
//! so no route can forget to authenticate, and reads its input through [`input`], so every
//! malformed request gets the same kind of 400.

mod admin;
mod community;
mod dashboards;
pub mod error;
pub mod identity;
pub mod input;
mod me;
mod messages;
pub mod openapi;
mod profile;
pub mod users;
pub mod web;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use relance::store::Store;
use serde_json::{Value, json};

pub use identity::{Caller, IdentitySource, Role};

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
    /// How people sign in to the web pages.
    pub web: web::WebSignIn,
}

impl PortalState {
    pub fn new(store: Store, identity: IdentitySource) -> PortalState {
        PortalState {
            store,
            identity,
            billing_portal_url: None,
            bonus_rates: relance::reports::BonusRates::default(),
            directory: users::Directory::Local,
            defaults: Default::default(),
            web: web::WebSignIn::Off,
        }
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

    /// The portal's settings ([`relance::config::PortalSettings`]: billing page, bonus rates)
    /// and the business defaults, from the environment; invalid values stop the start.
    pub fn with_settings_from_env(self) -> Result<PortalState, relance::config::ConfigError> {
        Ok(self.with_settings(&relance::config::PortalSettings::from_env()?, relance::config::BusinessDefaults::from_env()?))
    }

    /// The portal's settings, already read.
    pub fn with_settings(mut self, settings: &relance::config::PortalSettings, defaults: relance::config::BusinessDefaults) -> PortalState {
        self.defaults = defaults;
        self.billing_portal_url = settings.billing_portal_url.clone();
        self.bonus_rates = settings.bonus_rates.clone();
        self
    }
}

pub fn router(state: PortalState) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::serve))
        .route("/me", get(me::me).patch(profile::update_me).delete(profile::erase_me))
        .route("/me/export", get(profile::export))
        .route("/me/invoices", get(me::invoices))
        .route("/me/invoices/{id}/pay", post(me::pay_invoice))
        .route("/me/subscriptions", get(me::subscriptions))
        .route("/me/subscriptions/{id}/renew", post(me::renew_subscription))
        .route("/me/payment-methods", get(me::payment_methods))
        .route("/sites/{id}", get(community::get_site))
        .route("/sites/{id}/harvests", get(community::list_harvests).post(community::post_harvest))
        .route("/news", get(community::list_news).post(community::post_news))
        .route("/events", get(community::list_events).post(community::create_event))
        .route("/events/{id}/registrations", get(community::list_registrations).post(community::register))
        .route("/events/{id}/registrations/me", delete(community::unregister))
        .route("/messages", get(messages::list).post(messages::to_support))
        .route("/messages/{member}", post(messages::to_member))
        .route("/dashboards/client", get(dashboards::client))
        .route("/dashboards/sales", get(dashboards::sales))
        .route("/dashboards/ambassador", get(dashboards::ambassador))
        .route("/leads", post(dashboards::submit_lead))
        .route("/admin/kpis", get(dashboards::kpis))
        .route("/admin/users", post(users::invite))
        .route("/admin/follow-up", get(admin::follow_up))
        .route("/admin/invoices/{id}/pause", post(admin::pause_invoice))
        .route("/admin/invoices/{id}/resume", post(admin::resume_invoice))
        .route("/admin/invoices/{id}/mark-paid", post(admin::mark_invoice_paid))
        .route("/admin/notifications/{id}/resend", post(admin::resend_notification))
        .merge(web::routes().layer(axum::middleware::from_fn_with_state(state.clone(), web::error_pages)))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(MAX_BODY));
    web::with_security_headers(routes).with_state(state)
}

/// Unknown paths answer in the same JSON shape as every other error.
async fn no_route() -> error::ApiError {
    error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "no_route", "no such route")
}

async fn no_method() -> error::ApiError {
    error::ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// Liveness for load balancers and `make run`: answers without touching the table.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
