//! The portal function: the member space API behind the Cognito JWT authorizer.
//!
//! An axum router, served by API Gateway in AWS (through `lambda_http`) and by `make run`
//! locally; tests call it in-process.

use axum::routing::get;
use axum::{Json, Router};
use relance::store::Store;
use serde_json::{Value, json};

/// What every portal route needs, built once at cold start.
#[derive(Clone)]
pub struct PortalState {
    pub store: Store,
}

pub fn router(state: PortalState) -> Router {
    Router::new().route("/health", get(health)).with_state(state)
}

/// Liveness for load balancers and `make run`: answers without touching the table.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
