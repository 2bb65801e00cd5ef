//! The owner's settings, from the back office: `GET /admin/settings` reads the version in
//! force (the deployment's parameters until a first save, as version 0), `PUT` saves a new
//! one. Two admins never overwrite each other: a save names the version it was made from in
//! `If-Match`, and a stale one is refused with 412. Each save is in the audit trail
//! (`GET /admin/settings/history`), written in the same transaction.
//!
//! A saved version applies to the scan on its next run and to the other functions within
//! [`relance::settings::CACHE_FOR`]; the scan then brings the records already in the table to
//! the new ladders (`scan::run::reschedule`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use relance::api_error::ApiError;
use relance::settings::{Settings, StoredSettings};
use serde::Serialize;
use utoipa::ToSchema;

use crate::PortalState;
use crate::api::audit;
use crate::api::input::Params;
use crate::auth::{Caller, Role};

/// The audit trail's id for the settings (there is one set).
pub const AUDIT_ID: &str = "current";

/// The settings in force, and which version they are.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsFile {
    /// What `If-Match` names to save over them (also the `ETag`); 0: never saved.
    pub version: u64,
    /// `default`: the deployment's parameters; `custom`: saved from the back office.
    pub source: &'static str,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
    pub settings: Settings,
}

pub fn file(stored: StoredSettings) -> SettingsFile {
    let source = if stored.version == 0 { "default" } else { "custom" };
    SettingsFile {
        version: stored.version,
        source,
        updated_at: stored.updated_at,
        updated_by: stored.updated_by,
        settings: stored.settings,
    }
}

fn answer(status: StatusCode, file: SettingsFile) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", file.version)).unwrap_or(HeaderValue::from_static("\"0\""));
    (status, [(header::ETAG, etag)], Json(file)).into_response()
}

/// The stored settings, or the deployment's as version 0.
pub async fn in_force(state: &PortalState) -> Result<StoredSettings, ApiError> {
    Ok(match relance::settings::read(&state.store).await? {
        Some(stored) => stored,
        None => StoredSettings { settings: state.settings.initial().settings.clone(), version: 0, updated_at: None, updated_by: None },
    })
}

#[utoipa::path(get, path = "/admin/settings", tag = "admin", summary = "The ladders, sending window, thresholds and date rules in force",
    responses((status = 200, body = SettingsFile, headers(("ETag" = String, description = "The version, for If-Match")))))]
pub async fn get(State(state): State<PortalState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Admin])?;
    Ok(answer(StatusCode::OK, file(in_force(&state).await?)))
}

/// The version `If-Match` names: `"3"`, `3` or `W/"3"`.
fn if_match(headers: &HeaderMap) -> Result<u64, ApiError> {
    if_match_given(headers)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "If-Match: the version you read (GET /admin/settings's ETag), so that a save never overwrites another's",
        )
    })
}

/// The version `If-Match` names, if the request has one.
pub fn if_match_given(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::invalid("bad_request", "If-Match", "If-Match: a version number, as the ETag gave it (\"3\")"))
}

fn stale(version: u64) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "stale_version",
        format!("the settings were saved by someone else meanwhile (now version {version}): read them again and redo your change"),
    )
}

#[utoipa::path(put, path = "/admin/settings", tag = "admin", summary = "Save new settings (If-Match: the version read)",
    params(("If-Match" = String, Header, description = "The version read, as its ETag: \"3\"")),
    request_body = Settings,
    responses(
        (status = 200, body = SettingsFile, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid settings: `error` is `invalid_settings`, `field` the path (`invoice[2].offset_days`)", body = relance::api_error::ErrorBody),
        (status = 412, description = "Saved by someone else since the version named", body = relance::api_error::ErrorBody),
        (status = 428, description = "No If-Match", body = relance::api_error::ErrorBody),
    ))]
pub async fn put(State(state): State<PortalState>, caller: Caller, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let read = if_match(&headers)?;
    let settings = Settings::parse(&body).map_err(|e| ApiError::invalid("invalid_settings", e.field.clone(), e.to_string()))?;
    Ok(answer(StatusCode::OK, save(&state, &caller, read, settings).await?))
}

/// Saves `settings` over version `read` (checked: 412 when someone saved since), with its
/// audit entry: the API's `PUT` and the settings page.
pub async fn save(state: &PortalState, caller: &Caller, read: u64, settings: Settings) -> Result<SettingsFile, ApiError> {
    caller.require_any(&[Role::Admin])?;
    settings.validate().map_err(|e| ApiError::invalid("invalid_settings", e.field.clone(), e.to_string()))?;
    let before = in_force(state).await?;
    if before.version != read {
        return Err(stale(before.version));
    }
    let now = Utc::now();
    let mut after = StoredSettings { settings, version: before.version, updated_at: Some(now), updated_by: Some(caller.user.clone()) };
    let mut entry = audit::entry(caller, AUDIT_ID, (before.version > 0).then_some(&before), &after, now)?;
    let mut tx = state.store.transaction();
    if before.version == 0 {
        tx.insert(&mut after)?;
    } else {
        tx.update(&mut after)?;
    }
    tx.insert(&mut entry)?;
    match state.store.commit(tx).await {
        Ok(()) => {}
        // Another admin's save landed between our read and our write.
        Err(relance::store::StoreError::Conflict(_) | relance::store::StoreError::Duplicate(_)) => {
            return Err(stale(in_force(state).await?.version));
        }
        Err(e) => return Err(e.into()),
    }
    state.settings.forget();
    tracing::info!(version = after.version, "settings saved");
    Ok(file(after))
}

#[utoipa::path(get, path = "/admin/settings/history", tag = "admin", summary = "Every saved version of the settings: who, when, before and after",
    params(crate::api::me::PageQuery), responses((status = 200, body = audit::AuditPage)))]
pub async fn history(
    State(state): State<PortalState>,
    caller: Caller,
    Params(page): Params<crate::api::me::PageQuery>,
) -> Result<Json<audit::AuditPage>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    audit::page_of(&state, <StoredSettings as relance::store::Record>::TYPE, AUDIT_ID, &page).await.map(Json)
}
