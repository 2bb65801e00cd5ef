//! Private conversations between each member and the support team. A member reads and
//! writes only their own; admins read the inbox and any conversation, and answer one member.
//! The other side is notified: the team by an internal email, the member by a notice.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use relance::domain::*;
use relance::store::{Key, check_user};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::input::{Body, Params, text};
use crate::api::me::PageQuery;
use crate::auth::{Caller, Role};
use relance::api_error::ApiError;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub author: Author,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}

impl MessageView {
    fn of(m: &Message) -> MessageView {
        MessageView { id: m.id.clone(), author: m.author, body: m.body.clone(), sent_at: m.sent_at }
    }
}

/// The latest message of one member, in the admins' inbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxLine {
    pub member: String,
    pub message_id: MessageId,
    pub excerpt: String,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Inbox {
    pub inbox: Vec<InboxLine>,
    pub next: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Conversation {
    pub member: String,
    pub messages: Vec<MessageView>,
    pub next: Option<String>,
}

/// A conversation, or (admins, without `?member=`) the inbox.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Messages {
    Inbox(Inbox),
    Conversation(Conversation),
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Admins: one member's conversation instead of the inbox.
    pub member: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
}

/// A member's own conversation, newest first; for admins, the inbox of members' messages
/// (or one member's conversation with `?member=`).
#[utoipa::path(get, path = "/messages", tag = "messages", summary = "My conversation with support; admins: the inbox",
    params(MessagesQuery), responses((status = 200, body = Messages)))]
pub async fn list(
    State(state): State<PortalState>,
    caller: Caller,
    Params(query): Params<MessagesQuery>,
) -> Result<Json<Messages>, ApiError> {
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let member = match query.member {
        Some(member) if caller.has(Role::Admin) => member,
        // Only admins read someone else's conversation; for anyone else the parameter is
        // refused rather than silently ignored.
        Some(_) => return Err(ApiError::forbidden()),
        None if caller.has(Role::Admin) => {
            let listed = state.store.list_latest::<InboxEntry>(Key::INBOX, page.cursor()?.as_ref(), page.limit()).await?;
            let inbox = listed
                .records
                .iter()
                .map(|e| InboxLine {
                    member: e.member.clone(),
                    message_id: e.message_id.clone(),
                    excerpt: e.excerpt.clone(),
                    sent_at: e.sent_at,
                })
                .collect();
            return Ok(Json(Messages::Inbox(Inbox { inbox, next: listed.next.map(|c| c.as_str().to_string()) })));
        }
        None => caller.user.clone(),
    };
    check_user(&member).map_err(|_| ApiError::not_found())?;
    let listed = state.store.list_latest::<Message>(&Key::conversation(&member), page.cursor()?.as_ref(), page.limit()).await?;
    Ok(Json(Messages::Conversation(Conversation {
        member,
        messages: listed.records.iter().map(MessageView::of).collect(),
        next: listed.next.map(|c| c.as_str().to_string()),
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    #[schema(schema_with = crate::api::input::text_schema::<5000>)]
    pub body: String,
}

const MAX_MESSAGE: usize = 5000;

/// A member writes to support. The team gets an internal email naming the member.
#[utoipa::path(post, path = "/messages", tag = "messages", summary = "Write to support", request_body = NewMessage,
    responses((status = 201, body = MessageView)))]
pub async fn to_support(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(MessageView::of(&message))))
}

/// An answer written, and whether the member was notified.
#[derive(Debug, Serialize, ToSchema)]
pub struct Answered {
    pub message: MessageView,
    pub member: String,
    /// False when the account names no customer to write to.
    pub notified: bool,
}

/// An admin answers one member, privately; the member is notified.
#[utoipa::path(post, path = "/messages/{member}", tag = "messages", summary = "Answer one member, privately (admins)",
    params(("member" = String, Path, description = "The member's user id")), request_body = NewMessage,
    responses((status = 201, body = Answered)))]
pub async fn to_member(
    State(state): State<PortalState>,
    caller: Caller,
    Path(member): Path<String>,
    Body(input): Body<NewMessage>,
) -> Result<(StatusCode, Json<Answered>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(Answered { message: MessageView::of(&message), member, notified })))
}
