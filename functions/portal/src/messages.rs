//! Private conversations between each member and the support team. A member reads and
//! writes only their own; admins read the inbox and any conversation, and answer one member.
//! The other side is notified: the team by an internal email, the member by a notice.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use relance::domain::*;
use relance::store::{Key, check_user};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::PortalState;
use crate::error::ApiError;
use crate::identity::{Caller, Role};
use crate::input::{Body, Params, text};
use crate::me::PageQuery;

fn message_view(m: &Message) -> Value {
    json!({"id": m.id, "author": m.author, "body": m.body, "sent_at": m.sent_at})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Admins: one member's conversation instead of the inbox.
    pub member: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i32>,
}

/// A member's own conversation, newest first; for admins, the inbox of members' messages
/// (or one member's conversation with `?member=`).
pub async fn list(State(state): State<PortalState>, caller: Caller, Params(query): Params<MessagesQuery>) -> Result<Json<Value>, ApiError> {
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let member = match query.member {
        Some(member) if caller.has(Role::Admin) => member,
        // Only admins read someone else's conversation; for anyone else the parameter is
        // refused rather than silently ignored.
        Some(_) => return Err(ApiError::forbidden()),
        None if caller.has(Role::Admin) => {
            let listed = state.store.list_latest::<InboxEntry>(Key::INBOX, page.cursor()?.as_ref(), page.limit()).await?;
            let inbox: Vec<Value> = listed
                .records
                .iter()
                .map(|e| json!({"member": e.member, "message_id": e.message_id, "excerpt": e.excerpt, "sent_at": e.sent_at}))
                .collect();
            return Ok(Json(json!({ "inbox": inbox, "next": listed.next.map(|c| c.as_str().to_string()) })));
        }
        None => caller.user.clone(),
    };
    check_user(&member).map_err(|_| ApiError::not_found())?;
    let listed = state.store.list_latest::<Message>(&Key::conversation(&member), page.cursor()?.as_ref(), page.limit()).await?;
    Ok(Json(json!({
        "member": member,
        "messages": listed.records.iter().map(message_view).collect::<Vec<_>>(),
        "next": listed.next.map(|c| c.as_str().to_string()),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub body: String,
}

const MAX_MESSAGE: usize = 5000;

/// A member writes to support. The team gets an internal email naming the member.
pub async fn to_support(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewMessage>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = Utc::now();
    let mut message = Message {
        id: MessageId::generate(),
        member: caller.user.clone(),
        author: Author::Member,
        written_by: caller.user.clone(),
        body: text("body", &input.body, MAX_MESSAGE)?,
        sent_at: now,
        version: 0,
    };
    let mut entry = InboxEntry::of(&message);
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let mut tx = state.store.transaction();
    tx.insert(&mut message)?.insert(&mut entry)?;
    if let Some(customer_id) = account.and_then(|a| a.customer_id) {
        let target = Target { kind: TargetKind::Message, id: message.id.to_string() };
        let mut note = Notification::pending(customer_id, target, NotificationKind::Internal, Some("support-message".into()), 1, None, now)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        tx.insert(&mut note)?;
    }
    state.store.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(message_view(&message))))
}

/// An admin answers one member, privately; the member is notified.
pub async fn to_member(
    State(state): State<PortalState>,
    caller: Caller,
    Path(member): Path<String>,
    Body(input): Body<NewMessage>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_any(&[Role::Admin])?;
    check_user(&member).map_err(|_| ApiError::not_found())?;
    let account: Account =
        state.store.get(&Key::account(&member)).await?.filter(|a: &Account| !a.closed).ok_or_else(ApiError::not_found)?;
    let now = Utc::now();
    let mut message = Message {
        id: MessageId::generate(),
        member: member.clone(),
        author: Author::Support,
        written_by: caller.user.clone(),
        body: text("body", &input.body, MAX_MESSAGE)?,
        sent_at: now,
        version: 0,
    };
    let mut tx = state.store.transaction();
    tx.insert(&mut message)?;
    let mut notified = false;
    if let Some(customer_id) = account.customer_id {
        let target = Target { kind: TargetKind::Message, id: message.id.to_string() };
        let mut notice = Notification::pending(customer_id, target, NotificationKind::MessageReceived, None, 1, None, now)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        tx.insert(&mut notice)?;
        notified = true;
    }
    state.store.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(json!({"message": message_view(&message), "member": member, "notified": notified}))))
}
