//! The JSON API: one module per family of routes, each handler with its `#[utoipa::path]`
//! beside it, the request and response types it reads and returns, and the checks it makes.
//! The web pages call these same handlers, so a page shows what the API answers.

pub mod admin;
pub mod agency;
pub mod audit;
pub mod community;
pub mod customers;
pub mod dashboards;
pub mod files;
pub mod input;
pub mod me;
pub mod messages;
pub mod openapi;
pub mod profile;
pub mod settings;
pub mod sites;
pub mod templates;
pub mod users;

use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::PortalState;

/// The JSON API: every route with its documentation, from one list of handlers (each
/// handler's `#[utoipa::path]` names its method and path, so the two cannot disagree).
pub fn api() -> OpenApiRouter<PortalState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health))
        .routes(routes!(me::me, profile::update_me, profile::erase_me))
        .routes(routes!(profile::export))
        .routes(routes!(profile::admin_export))
        .routes(routes!(me::invoices))
        .routes(routes!(me::pay_invoice))
        .routes(routes!(me::subscriptions))
        .routes(routes!(me::renew_subscription))
        .routes(routes!(me::payment_methods))
        .routes(routes!(sites::list, sites::create))
        .routes(routes!(community::get_site, sites::update))
        .routes(routes!(sites::set_farmers))
        .routes(routes!(community::list_harvests, community::post_harvest))
        .routes(routes!(community::list_news, community::post_news))
        .routes(routes!(community::list_events, community::create_event))
        .routes(routes!(community::list_registrations, community::register))
        .routes(routes!(community::unregister))
        .routes(routes!(community::update_event))
        .routes(routes!(community::cancel_event))
        .routes(routes!(messages::list, messages::to_support))
        .routes(routes!(messages::to_member))
        .routes(routes!(dashboards::client))
        .routes(routes!(dashboards::sales))
        .routes(routes!(dashboards::ambassador))
        .routes(routes!(dashboards::submit_lead))
        .routes(routes!(dashboards::kpis))
        .routes(routes!(users::invite))
        .routes(routes!(admin::follow_up))
        .routes(routes!(admin::change))
        .routes(routes!(admin::pause_invoice))
        .routes(routes!(admin::resume_invoice))
        .routes(routes!(admin::mark_invoice_paid))
        .routes(routes!(admin::resend_notification))
        .routes(routes!(admin::formal_notice))
        .routes(routes!(agency::list, agency::create))
        .routes(routes!(agency::update))
        .routes(routes!(agency::leads))
        .routes(routes!(agency::decide))
        .routes(routes!(audit::history))
        .routes(routes!(settings::get, settings::put))
        .routes(routes!(settings::history))
        .routes(routes!(templates::list))
        .routes(routes!(templates::put, templates::reset))
        .routes(routes!(templates::preview))
        .routes(routes!(templates::test))
        .routes(routes!(templates::history))
        .routes(routes!(templates::revert))
        .routes(routes!(customers::list, customers::create))
        .routes(routes!(customers::get, customers::update))
        .routes(with_file(routes!(files::import_customers)))
        .routes(with_file(routes!(files::import_invoices)))
        .routes(routes!(files::imports))
        .routes(routes!(files::export_customers))
        .routes(routes!(files::export_invoices))
        .routes(routes!(files::export_notifications))
}

/// A route that takes a file: its body may be up to [`input::MAX_FILE`] (the others' limit is
/// [`crate::MAX_BODY`]).
fn with_file(
    (schemas, paths, method): utoipa_axum::router::UtoipaMethodRouter<PortalState>,
) -> utoipa_axum::router::UtoipaMethodRouter<PortalState> {
    (schemas, paths, method.layer(axum::extract::DefaultBodyLimit::max(input::MAX_FILE)))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`: an answer at all is the news.
    pub status: &'static str,
}

/// Liveness for load balancers and `make run`: answers without touching the table.
#[utoipa::path(get, path = "/health", tag = "meta", summary = "Liveness", security(()), responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}
