//! The local HTTP server of `make run`: the webhook and portal routers exactly as they run
//! in Lambda, plus the Lambda Invoke API for the functions that API Gateway does not front
//! (`aws lambda invoke --endpoint-url http://127.0.0.1:3000 --function-name scan out.json`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use std::sync::Arc;

use dispatch::DispatchContext;
use relance::config::BusinessDefaults;
use relance::ingest::Ingest;
use relance::secrets::Secrets;
use relance::store::Store;
use serde_json::{Value, json};

/// Every local route on one router.
/// Fails when a setting the functions read is invalid, as their start would in AWS.
pub fn router(
    store: Store,
    secrets: Secrets,
    defaults: BusinessDefaults,
    settings: relance::settings::LiveSettings,
    dispatch: Arc<DispatchContext>,
    portal: portal::PortalState,
) -> Result<Router, String> {
    let ingest = Ingest::live(store.clone(), defaults, settings.clone());
    let scan = scan::ScanContext {
        store: store.clone(),
        ingest: ingest.clone(),
        holded: scan::holded_client(&secrets).map_err(|e| e.to_string())?,
        settings: relance::settings::LiveSettings::stored(store.clone(), settings.initial().settings.clone(), std::time::Duration::ZERO),
    };
    // An admin's test of a template goes as dispatch sends: from the same address, to moto.
    let senders = dispatch.senders.clone();
    let invoke = Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke)).with_state((scan, dispatch));
    Ok(Router::new()
        .merge(webhook::router(webhook::WebhookState::new(ingest, secrets).with_braintree_api_from_env().map_err(|e| e.to_string())?))
        .merge(portal::router(portal.with_senders(senders)))
        .merge(invoke))
}

/// The portal as `make run` serves it: local HS256 tokens, settings from the environment.
pub fn local_portal(store: Store, jwt_secret: &str) -> Result<portal::PortalState, String> {
    let choices = crate::demo_space::DEMO_USERS.iter().map(|(user, role)| (user.to_string(), vec![role.to_string()])).collect();
    Ok(portal::PortalState::new(store, portal::IdentitySource::LocalJwt { secret: jwt_secret.to_string() })
        .with_settings_from_env()
        .map_err(|e| e.to_string())?
        .with_web(portal::web::WebSignIn::Local { choices }))
}

/// Runs one function as Lambda's Invoke API would: 200 with the function's result, or 200
/// with `X-Amz-Function-Error` and an error payload when the function fails.
async fn invoke(
    State((scan, dispatch)): State<(scan::ScanContext, Arc<DispatchContext>)>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let result: Result<Value, String> = match name.as_str() {
        "scan" => match serde_json::from_slice::<Value>(&body) {
            Ok(event) => scan::handle(&scan, event, chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())
                .and_then(|summary| serde_json::to_value(summary).map_err(|e| e.to_string())),
            Err(e) => Err(format!("the event is not JSON: {e}")),
        },
        "dispatch" => match serde_json::from_slice(&body) {
            Ok(event) => serde_json::to_value(dispatch::handle(&dispatch, event).await).map_err(|e| e.to_string()),
            Err(e) => Err(format!("the event is not a DynamoDB stream batch: {e}")),
        },
        _ => {
            let mut headers = HeaderMap::new();
            headers.insert("x-amzn-errortype", HeaderValue::from_static("ResourceNotFoundException"));
            let body = Json(json!({ "Type": "User", "Message": format!("Function not found: {name}") }));
            return (StatusCode::NOT_FOUND, headers, body).into_response();
        }
    };
    match result {
        Ok(value) => Json(value).into_response(),
        Err(message) => {
            let mut headers = HeaderMap::new();
            headers.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            (StatusCode::OK, headers, Json(json!({ "errorType": "FunctionError", "errorMessage": message }))).into_response()
        }
    }
}
