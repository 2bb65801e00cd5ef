//! Requests into the functions' routers, as API Gateway hands them over, and what the
//! routers need from a test: local portal tokens, provider secrets, the tests' clock.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use relance::ingest::Ingest;
use relance::secrets::Secrets;
use relance::store::Store;
use serde_json::Value;
use tower::ServiceExt;

/// The secret local portal tokens are signed with (`IdentitySource::LocalJwt`).
pub const JWT_SECRET: &str = "relance-test-jwt-secret";

/// The portal over `store`, identifying callers by local tokens signed with [`JWT_SECRET`].
pub fn portal_state(store: &Store) -> portal::PortalState {
    portal::PortalState::new(store.clone(), portal::IdentitySource::LocalJwt { secret: JWT_SECRET.into() })
}

/// A local portal token for `user` in the groups `roles`, valid for an hour.
pub fn token(user: &str, roles: &[&str]) -> String {
    portal::auth::local_token(JWT_SECRET, user, None, roles, 1).unwrap()
}

/// What a router answered.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; `null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `location` header; empty when there is none.
    pub fn location(&self) -> String {
        self.headers.get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default()
    }
}

/// `request` through `router`, and the whole answer.
pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap().to_vec();
    Answer { status, headers, body }
}

/// `method path` with `token` as the bearer and `body`, if any, as JSON.
pub async fn api(router: &Router, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
    let mut request = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    send(router, request.body(body).unwrap()).await
}

/// [`api`]'s status and JSON answer (`null` when it is not JSON).
pub async fn call(router: &Router, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let answer = api(router, method, path, token, body).await;
    (answer.status, answer.json())
}

/// A POST of `body` as it is, with `headers`, as a provider delivers a webhook.
pub async fn post(router: &Router, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut request = Request::post(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(router, request.body(Body::from(body)).unwrap()).await
}

/// The provider secrets, as the functions read them from Secrets Manager, from `(name, value)`
/// pairs (names from `relance::secrets`).
pub fn secrets(values: &[(&str, &str)]) -> Secrets {
    let values: HashMap<String, String> = values.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
    Secrets::from_values(&values)
}

/// The webhook function's router over `ingest`, checking signatures with `secrets`, on the
/// tests' clock ([`crate::now`]).
pub fn webhook_router(ingest: Ingest, secrets: Secrets) -> Router {
    let mut state = webhook::WebhookState::new(ingest, secrets);
    state.clock = std::sync::Arc::new(crate::now);
    webhook::router(state)
}
