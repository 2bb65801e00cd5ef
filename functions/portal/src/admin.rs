//! The admin's tools. Only the `admin` role reaches them (403 for everyone else).

use axum::Json;
use axum::extract::{Query, State};
use relance::domain::*;
use relance::store::Cursor;
use serde_json::{Value, json};

use crate::PortalState;
use crate::error::ApiError;
use crate::identity::{Caller, Role};
use crate::me::PageQuery;

/// What waits for a person, oldest first: notifications held (no channel) or failed, and
/// invoices past their final notice and still owed, each with the reason.
pub async fn follow_up(State(state): State<PortalState>, caller: Caller, Query(page): Query<PageQuery>) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let cursor = page.cursor.as_deref().map(Cursor::parse).transpose()?;
    let (items, next) = state.store.follow_up_page(cursor.as_ref(), page.limit.unwrap_or(20).clamp(1, 50)).await?;
    let mut entries = Vec::new();
    for item in items {
        let entry = match item.record_type.as_str() {
            "Notification" => {
                let n: Notification = item.decode()?;
                let reason = match &n.channel {
                    Some(ChannelDecision::Held { reason }) => reason.clone(),
                    _ => n.error.clone().unwrap_or_else(|| "failed".into()),
                };
                json!({"type": "notification", "id": n.id, "customer_id": n.customer_id, "kind": n.kind,
                       "status": n.status, "target": n.target, "amount": n.amount, "reason": reason, "since": n.created_at})
            }
            "Invoice" => {
                let i: Invoice = item.decode()?;
                json!({"type": "invoice", "id": i.id, "customer_id": i.customer_id, "number": i.number,
                       "balance": i.balance(), "due_date": i.due_date, "reason": "final notice sent, still owed", "since": i.issued_at})
            }
            _ => continue,
        };
        entries.push(entry);
    }
    Ok(Json(json!({ "items": entries, "next": next.map(|c| c.as_str().to_string()) })))
}
