//! The portal function: the member space API behind the Cognito JWT authorizer.
//!
//! An axum router, served by API Gateway in AWS (through `lambda_http`) and by `make run`
//! locally; tests call it in-process. Every route takes the [`identity::Caller`] extractor,
//! so no route can forget to authenticate.

pub mod error;
pub mod identity;
mod admin;
mod me;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use relance::store::Store;
use serde_json::{Value, json};

pub use identity::{Caller, IdentitySource, Role};

/// Request bodies are small JSON documents.
const MAX_BODY: usize = 64 * 1024;

/// What every portal route needs, built once at cold start.
#[derive(Clone)]
pub struct PortalState {
    pub store: Store,
    pub identity: IdentitySource,
}

pub fn router(state: PortalState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/me", get(me::me))
        .route("/me/invoices", get(me::invoices))
        .route("/me/subscriptions", get(me::subscriptions))
        .route("/me/payment-methods", get(me::payment_methods))
        .route("/admin/follow-up", get(admin::follow_up))
        .route("/admin/invoices/{id}/pause", post(admin::pause_invoice))
        .route("/admin/invoices/{id}/resume", post(admin::resume_invoice))
        .route("/admin/invoices/{id}/mark-paid", post(admin::mark_invoice_paid))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Liveness for load balancers and `make run`: answers without touching the table.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
