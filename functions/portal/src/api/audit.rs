//! The back office's audit trail: each change an admin (or a farmer) makes through it is
//! written, in the same transaction as the change, as a [`relance::domain::AuditEntry`];
//! `GET /admin/audit?record=Site/belleville` reads one record's history, newest first.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use relance::api_error::ApiError;
use relance::domain::{AuditAction, AuditEntry};
use relance::store::{Key, Record, Transaction};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::input::Params;
use crate::auth::{Caller, Role};

/// The record types the back office changes, as `record=` names them.
const AUDITED: &[&str] = &["Customer", "Site", "Event", "Mission", "Lead", "Invoice", "Template", "Settings"];

/// The entry for `caller` changing `after` (from `before`, none for a creation).
pub fn entry<R: Record>(caller: &Caller, id: &str, before: Option<&R>, after: &R, now: DateTime<Utc>) -> Result<AuditEntry, ApiError> {
    AuditEntry::of(R::TYPE, id, &caller.user, now, before, after).map_err(|e| {
        tracing::error!(error = %e, "a record did not serialise for the audit trail");
        ApiError::unavailable("temporarily unavailable, try again")
    })
}

/// A transaction that creates `record` with its audit entry; the caller may add to it.
pub fn creation<R: Record>(
    state: &PortalState,
    caller: &Caller,
    id: &str,
    record: &mut R,
    now: DateTime<Utc>,
) -> Result<Transaction, ApiError> {
    let mut entry = entry(caller, id, None, record, now)?;
    let mut tx = state.store.transaction();
    tx.insert(record)?.insert(&mut entry)?;
    Ok(tx)
}

/// A transaction that saves `after` (read as `before`) with its audit entry; the caller may
/// add to it. The version check makes it lose, not overwrite, if someone wrote meanwhile.
pub fn change<R: Record>(
    state: &PortalState,
    caller: &Caller,
    id: &str,
    before: &R,
    after: &mut R,
    now: DateTime<Utc>,
) -> Result<Transaction, ApiError> {
    let mut entry = entry(caller, id, Some(before), after, now)?;
    let mut tx = state.store.transaction();
    tx.update(after)?.insert(&mut entry)?;
    Ok(tx)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The record: its type and our id, `Site/belleville`.
    #[param(pattern = "^(Customer|Site|Event|Mission|Lead|Invoice|Template|Settings)/[!-\"$-.0-~]{1,200}$", example = "Site/belleville")]
    pub record: String,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
}

/// One change, as the record's page lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLine {
    pub at: DateTime<Utc>,
    /// The user who made it.
    pub by: String,
    pub action: AuditAction,
    /// The fields that changed (all of them for a creation).
    pub changed: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditLine>,
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin", summary = "Who changed a record, when, from what to what",
    params(AuditQuery), responses((status = 200, body = AuditPage)))]
pub async fn history(
    State(state): State<PortalState>,
    caller: Caller,
    Params(query): Params<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let (record_type, id) = query
        .record
        .split_once('/')
        .filter(|(t, id)| AUDITED.contains(t) && relance::domain::ids::check_key_part("record", id).is_ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "record: a type (Customer, Site, Event, Mission, Lead, Invoice, Template, Settings) and an id, as Site/belleville",
            )
        })?;
    let page = crate::api::me::PageQuery { cursor: query.cursor, limit: query.limit };
    page_of(&state, record_type, id, &page).await.map(Json)
}

/// One page of a record's history, newest first.
pub async fn page_of(state: &PortalState, record_type: &str, id: &str, page: &crate::api::me::PageQuery) -> Result<AuditPage, ApiError> {
    let listed =
        state.store.list_latest::<AuditEntry>(&Key::audit_partition(record_type, id), page.cursor()?.as_ref(), page.limit()).await?;
    let entries = listed
        .records
        .into_iter()
        .map(|e| AuditLine { changed: e.changed_fields(), at: e.at, by: e.by, action: e.action, before: e.before, after: e.after })
        .collect();
    Ok(AuditPage { entries, next: listed.next.map(|c| c.as_str().to_string()) })
}
