//! The webhook function: provider deliveries in, records changed.
//!
//! An axum router, so the same code serves API Gateway in AWS (through `lambda_http`) and
//! plain HTTP on a laptop (`make run`) and in tests.

use axum::Router;
use relance::store::Store;

/// What every webhook route needs, built once at cold start.
#[derive(Clone)]
pub struct WebhookState {
    pub store: Store,
}

/// The webhook routes. Provider routes (`/webhooks/stripe`, `/webhooks/braintree`,
/// `/webhooks/shopify`, `/webhooks/generic`) are added by the webhook ingestion work; until
/// then every delivery gets the router's 404.
pub fn router(state: WebhookState) -> Router {
    Router::new().with_state(state)
}
