//! The webhook function: provider deliveries in, records changed.
//!
//! Each route checks the provider's signature, reads the payload into facts, applies them
//! once (idempotency key in the same transaction as the changes), archives the delivery,
//! and answers so that the provider does the right thing:
//! - 200 for applied, already applied and ignored deliveries (no retry needed);
//! - 401 for a missing or wrong signature or an expired timestamp (nothing written);
//! - 400 for a signed but unreadable payload (archived for inspection);
//! - 404 for an unknown provider, 413 for a body over 1 MiB;
//! - 503 when the store fails or a secret is not configured, so the provider retries.
//!
//! An axum router, so the same code serves API Gateway in AWS (through `lambda_http`) and
//! plain HTTP on a laptop (`make run`) and in tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use relance::api_error::ApiError;
use relance::domain::Provider;
use relance::facts::Delivery;
use relance::ingest::apply::Mode;
use relance::ingest::braintree_api::BraintreeApi;
use relance::ingest::{ArchivedDelivery, DeliveryOutcome, Ingest, Outcome};
use relance::providers::shopify::ShopifyHeaders;
use relance::providers::{PayloadError, SignatureError, braintree, generic, shopify, stripe};
use relance::secrets::Secrets;
use relance::store::StoreError;
use serde_json::json;

/// Bodies larger than this are refused with 413 (providers' deliveries are far smaller).
pub const MAX_BODY: usize = 1024 * 1024;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What every webhook route needs, built once at cold start.
#[derive(Clone)]
pub struct WebhookState {
    pub ingest: Ingest,
    pub secrets: Arc<Secrets>,
    /// "Now", for signature tolerances and archive times; tests set it.
    pub clock: Clock,
    /// Braintree's API, to find the customer of a subscription notified without one; none:
    /// such a notification changes only what we already know.
    pub braintree_api: Option<BraintreeApi>,
}

impl WebhookState {
    pub fn new(ingest: Ingest, secrets: Secrets) -> WebhookState {
        WebhookState { ingest, secrets: Arc::new(secrets), clock: Arc::new(Utc::now), braintree_api: None }
    }

    /// With Braintree's API as the environment configures it (`BRAINTREE_MERCHANT_ID`,
    /// `BRAINTREE_ENVIRONMENT`, `BRAINTREE_API_URL`) and the first pair of API keys.
    pub fn with_braintree_api_from_env(mut self) -> Result<WebhookState, relance::config::ConfigError> {
        if let Some((url, merchant)) = relance::config::braintree_api_url()?
            && !self.secrets.braintree.is_empty()
        {
            self.braintree_api = Some(BraintreeApi::new(url, merchant, &self.secrets.braintree));
        }
        Ok(self)
    }
}

pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/webhooks/stripe", post(stripe_delivery))
        .route("/webhooks/braintree", post(braintree_delivery).get(braintree_challenge))
        .route("/webhooks/shopify", post(shopify_delivery))
        .route("/webhooks/generic", post(generic_delivery))
        .route("/webhooks/{provider}", post(unknown_provider))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(count_outcome))
        .with_state(state)
}

/// Every delivery's outcome as a CloudWatch metric per provider (the alarms read them): a
/// rise in rejected signatures is a secret out of step, in failures an outage of ours.
async fn count_outcome(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let provider = request.uri().path().trim_start_matches("/webhooks/").to_string();
    let response = next.run(request).await;
    let metric = outcome_metric(response.status());
    let provider = if matches!(provider.as_str(), "stripe" | "braintree" | "shopify" | "generic") { provider.as_str() } else { "unknown" };
    relance::telemetry::metrics::emit(&[("Provider", provider)], &[(metric, 1)]);
    response
}

/// The metric a webhook answer counts under.
fn outcome_metric(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "DeliveriesAccepted",
        401 => "DeliveriesRejected",
        500..=599 => "DeliveriesFailed",
        _ => "DeliveriesRefused",
    }
}

fn body_or_413(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("bodies are limited to {MAX_BODY} bytes"))
        }
        other => ApiError::new(other.status(), "unreadable_body", other.body_text()),
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The headers worth keeping with an archived delivery (a replay needs Shopify's topic).
fn kept_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    const KEPT: [&str; 8] = [
        "content-type",
        "stripe-signature",
        "relance-signature",
        "x-shopify-topic",
        "x-shopify-webhook-id",
        "x-shopify-shop-domain",
        "x-shopify-api-version",
        "x-shopify-triggered-at",
    ];
    KEPT.iter().filter_map(|name| header(headers, name).map(|v| (name.to_string(), v.to_string()))).collect()
}

/// Applies a verified delivery (or records why it could not be read) and answers.
async fn receive(
    state: &WebhookState,
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
    parsed: Result<Delivery, PayloadError>,
) -> Result<Response, ApiError> {
    let now = (state.clock)();
    let archive = |id: String, outcome: DeliveryOutcome| ArchivedDelivery::new(provider, id, now, kept_headers(headers), body, outcome);
    let mut delivery = match parsed {
        Ok(delivery) => delivery,
        Err(e) => {
            let id = relance::providers::body_digest(body);
            store_archive(state, archive(id, DeliveryOutcome::Malformed { reason: e.0.clone() })).await?;
            tracing::warn!(%provider, reason = %e, "malformed delivery kept for inspection");
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "malformed_payload", e.0));
        }
    };
    // A time in the future would make the record ignore every genuine delivery until then.
    delivery.occurred_at = delivery.occurred_at.min(now + chrono::Duration::minutes(5));
    // Archived in the transaction that applies it; a copy applied before is not archived
    // again (the first copy's archive holds the same body).
    let applied_archive = archive(delivery.id.clone(), DeliveryOutcome::Applied);
    let applied = state.ingest.apply_archiving(&delivery, Mode::Once, now, Some(applied_archive)).await.map_err(|e| match e {
        relance::ingest::IngestError::Store(e) => ApiError::retry_later(e),
        other => {
            tracing::error!(error = %other, "delivery not applied; the provider will retry");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", other.to_string())
        }
    })?;
    // The customers it erased: what the providers sent of them before is withheld too, and
    // the texts we sent them are forgotten.
    for customer in &applied.erased {
        relance::ingest::erasure::forget_around(state.ingest.store(), customer).await.map_err(ApiError::retry_later)?;
    }
    let answer = match applied.outcome {
        Outcome::Applied => "applied",
        Outcome::AlreadyApplied => "already_applied",
        Outcome::Ignored => {
            // Nothing in it for us: kept for inspection all the same.
            store_archive(state, archive(delivery.id.clone(), DeliveryOutcome::Ignored)).await?;
            "ignored"
        }
    };
    tracing::info!(%provider, kind = %delivery.kind, delivery = %delivery.id, outcome = answer, "delivery received");
    Ok(Json(json!({ "outcome": answer, "delivery": delivery.id, "kind": delivery.kind })).into_response())
}

async fn store_archive(state: &WebhookState, mut archived: ArchivedDelivery) -> Result<(), ApiError> {
    match state.ingest.store().insert(&mut archived).await {
        // The same delivery received twice in the same second: archived once is enough.
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(ApiError::retry_later(e)),
    }
}

async fn stripe_delivery(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_413(body)?;
    let now = (state.clock)();
    stripe::verify(header(&headers, "stripe-signature"), &body, &state.secrets.stripe_webhook, now, stripe::DEFAULT_TOLERANCE_SECS)?;
    receive(&state, Provider::Stripe, &headers, &body, stripe::parse(&body)).await
}

async fn braintree_delivery(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_413(body)?;
    let (signature, payload) = braintree::form_fields(&body)?;
    braintree::verify(&signature, &payload, &state.secrets.braintree)?;
    let parsed = match braintree::read(&payload) {
        Ok(notice) => {
            let found = braintree_customer(&state, &notice).await?;
            notice.into_delivery(found, state.ingest.defaults())
        }
        Err(e) => Err(e),
    };
    receive(&state, Provider::Braintree, &headers, &body, parsed).await
}

/// The customer of a subscription the notification describes without one: ours when we
/// follow the subscription already, else Braintree's answer through its API. A lookup that
/// may succeed later is a 503, for Braintree to send the notification again; one that cannot
/// (keys refused, an unreadable answer) is logged and the notification applied with what it
/// says: answering 5xx forever would only get the endpoint disabled.
async fn braintree_customer(state: &WebhookState, notice: &braintree::Notice) -> Result<Option<braintree::Found>, ApiError> {
    let Some(token) = notice.payment_method_to_look_up() else { return Ok(None) };
    let store = state.ingest.store();
    if let Some(known) = relance::ingest::braintree_api::known_customer(store, notice).await.map_err(ApiError::retry_later)? {
        return Ok(Some(known));
    }
    let Some(api) = &state.braintree_api else { return Ok(None) };
    match api.find_by_payment_method(token, notice.merchant_account_to_look_up()).await {
        Ok(found) => Ok(found),
        Err(e) if e.is_transient() => {
            tracing::error!(error = %e, "Braintree lookup failed; Braintree will send the notification again");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable", e.to_string()))
        }
        Err(e) => {
            tracing::error!(error = %e, "Braintree lookup cannot succeed; the notification is applied with what it says");
            Ok(None)
        }
    }
}

/// Braintree checks a new endpoint with `GET ?bt_challenge=…` and expects the signed answer.
async fn braintree_challenge(
    State(state): State<WebhookState>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let challenge = query.get("bt_challenge").ok_or(SignatureError::Missing("bt_challenge"))?;
    let keys = state.secrets.braintree.first().ok_or(SignatureError::NoSecret)?;
    Ok(braintree::answer_challenge(challenge, keys)?.into_response())
}

async fn shopify_delivery(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_413(body)?;
    shopify::verify(header(&headers, "x-shopify-hmac-sha256"), &body, &state.secrets.shopify_webhook)?;
    let shopify_headers = ShopifyHeaders {
        topic: header(&headers, "x-shopify-topic").map(str::to_string),
        webhook_id: header(&headers, "x-shopify-webhook-id").map(str::to_string),
        triggered_at: header(&headers, "x-shopify-triggered-at").map(str::to_string),
    };
    receive(&state, Provider::Shopify, &headers, &body, shopify::parse(&shopify_headers, &body)).await
}

async fn generic_delivery(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_413(body)?;
    let now = (state.clock)();
    generic::verify(header(&headers, "relance-signature"), &body, &state.secrets.generic_webhook, now)?;
    receive(&state, Provider::Generic, &headers, &body, generic::parse(&body)).await
}

async fn unknown_provider(Path(provider): Path<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "unknown_provider", format!("no webhook route for {provider:?}"))
}
