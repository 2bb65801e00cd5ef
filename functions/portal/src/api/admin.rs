//! The admin's tools. Only the `admin` role reaches them (403 for everyone else).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Attempt, Key, until_done};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::PortalState;
use crate::api::input::{Body, Params};
use crate::api::me::PageQuery;
use crate::auth::{Caller, Role};
use relance::api_error::ApiError;

/// Something that waits for a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FollowUpItem {
    /// A notification held (no way to reach the customer) or failed.
    Notification {
        id: NotificationId,
        customer_id: CustomerId,
        kind: NotificationKind,
        status: NotificationStatus,
        target: Target,
        amount: Option<Money>,
        reason: String,
        since: DateTime<Utc>,
    },
    /// An invoice past its final notice and still owed.
    Invoice {
        id: InvoiceId,
        customer_id: CustomerId,
        number: InvoiceNumber,
        balance: Money,
        due_date: NaiveDate,
        reason: String,
        since: DateTime<Utc>,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpPage {
    /// Oldest first.
    pub items: Vec<FollowUpItem>,
    pub next: Option<String>,
}

/// What waits for a person, oldest first: notifications held (no channel) or failed, and
/// invoices past their final notice or disputed and still owed, each with the reason.
#[utoipa::path(get, path = "/admin/follow-up", tag = "admin", summary = "Held notifications and invoices flagged for a person",
    params(PageQuery), responses((status = 200, body = FollowUpPage)))]
pub async fn follow_up(
    State(state): State<PortalState>,
    caller: Caller,
    Params(page): Params<PageQuery>,
) -> Result<Json<FollowUpPage>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let (items, next) = state.store.follow_up_page(page.cursor()?.as_ref(), page.limit()).await?;
    let mut entries = Vec::new();
    for item in items {
        let entry = match item.record_type.as_str() {
            "Notification" => {
                let n: Notification = item.decode()?;
                if n.status == NotificationStatus::Sending && !n.claim_abandoned(Utc::now()) {
                    continue; // on its way right now
                }
                let reason = match &n.channel {
                    _ if n.status == NotificationStatus::Sending => {
                        "outcome unknown: its sending stopped before the answer was recorded; send it again if the customer did not get it"
                            .to_string()
                    }
                    Some(ChannelDecision::Held { reason }) => reason.clone(),
                    _ => n.error.clone().unwrap_or_else(|| "failed".into()),
                };
                FollowUpItem::Notification {
                    id: n.id,
                    customer_id: n.customer_id,
                    kind: n.kind,
                    status: n.status,
                    target: n.target,
                    amount: n.amount,
                    reason,
                    since: n.created_at,
                }
            }
            "Invoice" => {
                let i: Invoice = item.decode()?;
                FollowUpItem::Invoice {
                    balance: i.balance(),
                    id: i.id,
                    customer_id: i.customer_id,
                    number: i.number,
                    due_date: i.due_date,
                    reason: if i.disputed {
                        "disputed by the customer: no reminder until the dispute is settled".into()
                    } else {
                        "final notice sent, still owed".into()
                    },
                    since: i.issued_at,
                }
            }
            _ => continue,
        };
        entries.push(entry);
    }
    Ok(Json(FollowUpPage { items: entries, next: next.map(|c| c.as_str().to_string()) }))
}

/// The invoice whose id is `id`, or 404.
async fn invoice_by_id(state: &PortalState, id: &str) -> Result<Invoice, ApiError> {
    let id = InvoiceId::parse(id).map_err(|_| ApiError::not_found())?;
    let key = state.store.find_by_id::<Invoice>(id.as_str()).await?.ok_or_else(ApiError::not_found)?;
    state.store.get::<Invoice>(&key).await?.ok_or_else(ApiError::not_found)
}

/// An invoice's follow-up state after an admin's change.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceFollowUp {
    pub id: InvoiceId,
    pub number: InvoiceNumber,
    pub status: InvoiceStatus,
    pub balance: Money,
    pub reminders_paused: bool,
    /// When the scan looks at it next; none while paused or settled.
    pub next_action_at: Option<DateTime<Utc>>,
}

/// Applies `change` to the invoice and saves it, from a fresh read again if a webhook or the
/// scan changed it meanwhile (store::until_done); still contended after that, a 409.
async fn change_invoice(
    state: &PortalState,
    caller: &Caller,
    id: &str,
    change: impl Fn(&mut Invoice) -> Result<(), ApiError>,
) -> Result<Json<InvoiceFollowUp>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let change = &change;
    let saved = until_done(|_| async move {
        let before = invoice_by_id(state, id).await?;
        let mut invoice = before.clone();
        change(&mut invoice)?;
        if invoice == before {
            return Ok(Attempt::Done(invoice)); // nothing to save, nothing to audit
        }
        // Every change an admin makes is in the audit trail, written with it.
        let tx = crate::api::audit::change(state, caller, before.id.as_str(), &before, &mut invoice, Utc::now())?;
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| invoice))
    })
    .await?;
    let invoice = saved.ok_or_else(|| ApiError::conflict("changed meanwhile; read it again and retry"))?;
    Ok(Json(InvoiceFollowUp {
        balance: invoice.balance(),
        id: invoice.id,
        number: invoice.number,
        status: invoice.status,
        reminders_paused: invoice.reminders_paused,
        next_action_at: invoice.follow_up.next_action_at,
    }))
}

/// What an admin may change on an invoice itself (its amounts and status are the provider's).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceChange {
    /// The agency mission it bills (one of the same client's); `null` unlinks it.
    #[serde(default, deserialize_with = "crate::api::input::present")]
    #[schema(value_type = Option<String>, nullable)]
    pub mission_id: Option<Option<String>>,
    /// The customer disputes it (`true`): no reminder until the dispute is settled (`false`),
    /// and meanwhile it waits in the follow-up list.
    pub disputed: Option<bool>,
}

/// Links an invoice to the mission it bills (the client and sales dashboards count it
/// there), or records that the customer disputes it.
#[utoipa::path(patch, path = "/admin/invoices/{id}", tag = "admin", summary = "Link an invoice to its mission; record a dispute",
    params(("id" = String, Path, description = "The invoice's id")), request_body = InvoiceChange,
    responses((status = 200, body = InvoiceFollowUp)))]
pub async fn change(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<InvoiceChange>,
) -> Result<Json<InvoiceFollowUp>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let disputed = input.disputed;
    let dispute = move |invoice: &mut Invoice| {
        if let Some(disputed) = disputed.filter(|d| *d != invoice.disputed) {
            invoice.disputed = disputed;
            if disputed {
                invoice.follow_up.clear();
            } else if invoice.accepts_reminders() {
                // Settled in the business's favour: the ladder goes on from where it stood.
                invoice.follow_up.schedule(Utc::now());
            }
        }
    };
    let mission = match input.mission_id {
        None => {
            return change_invoice(&state, &caller, &id, |invoice| {
                dispute(invoice);
                Ok(())
            })
            .await;
        }
        Some(None) => None,
        Some(Some(mission)) => {
            let invoice = invoice_by_id(&state, &id).await?;
            let mission = MissionId::parse(&mission).map_err(|_| ApiError::bad_request("mission_id: not a mission id"))?;
            let key = Key::of_customer::<Mission>(&invoice.customer_id, mission.as_str());
            state.store.get::<Mission>(&key).await?.ok_or_else(|| ApiError::bad_request("mission_id: no such mission for this client"))?;
            Some(mission)
        }
    };
    change_invoice(&state, &caller, &id, |invoice| {
        invoice.mission_id = mission.clone();
        dispute(invoice);
        Ok(())
    })
    .await
}

/// Stops reminders for this invoice ("Mahnstopp") until resumed.
#[utoipa::path(post, path = "/admin/invoices/{id}/pause", tag = "admin", summary = "Stop reminders for an invoice",
    params(("id" = String, Path, description = "The invoice's id")), responses((status = 200, body = InvoiceFollowUp)))]
pub async fn pause_invoice(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InvoiceFollowUp>, ApiError> {
    change_invoice(&state, &caller, &id, |invoice| {
        invoice.reminders_paused = true;
        invoice.follow_up.clear();
        Ok(())
    })
    .await
}

/// Resumes reminders: the scan looks at the invoice on its next run and sends the step due
/// by then (earlier steps missed while paused are recorded as skipped).
#[utoipa::path(post, path = "/admin/invoices/{id}/resume", tag = "admin", summary = "Resume reminders for an invoice",
    params(("id" = String, Path, description = "The invoice's id")), responses((status = 200, body = InvoiceFollowUp)))]
pub async fn resume_invoice(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InvoiceFollowUp>, ApiError> {
    change_invoice(&state, &caller, &id, |invoice| {
        invoice.reminders_paused = false;
        invoice.follow_up.needs_manual_action = false;
        if invoice.accepts_reminders() {
            invoice.follow_up.schedule(Utc::now());
        }
        Ok(())
    })
    .await
}

/// Records the balance as paid (a transfer or cash the provider does not know about).
#[utoipa::path(post, path = "/admin/invoices/{id}/mark-paid", tag = "admin", summary = "Record the balance as paid",
    params(("id" = String, Path, description = "The invoice's id")), responses((status = 200, body = InvoiceFollowUp)))]
pub async fn mark_invoice_paid(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InvoiceFollowUp>, ApiError> {
    change_invoice(&state, &caller, &id, |invoice| {
        let balance = invoice.balance();
        if !balance.is_positive() {
            return Err(ApiError::conflict_because("nothing_owed", format!("invoice is {:?}: nothing left to pay", invoice.status)));
        }
        invoice.record_payment(balance).map_err(|e| ApiError::conflict(e.to_string()))
    })
    .await
}

/// The copy queued for dispatch.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resent {
    /// The copy's id.
    pub id: NotificationId,
    pub status: NotificationStatus,
    pub resent_from: NotificationId,
}

/// The formal notice a final notice carried, exactly as it was sent: the PDF kept with the
/// notification, with its SHA-256 in `X-Content-SHA256` for the owner to quote.
#[utoipa::path(get, path = "/admin/notifications/{id}/formal-notice", tag = "admin", summary = "The formal notice (PDF) a final notice carried",
    params(("id" = String, Path, description = "The notification's id")),
    responses((status = 200, content_type = "application/pdf", body = String, description = "The PDF as sent"),
        (status = 404, description = "No such notification, or it carried none", body = relance::api_error::ErrorBody)))]
pub async fn formal_notice(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    caller.require_any(&[Role::Admin])?;
    let id = NotificationId::try_from(id).map_err(|_| ApiError::not_found())?;
    let key = state.store.find_by_id::<Notification>(id.as_str()).await?.ok_or_else(ApiError::not_found)?;
    let notification: Notification = state.store.get(&key).await?.ok_or_else(ApiError::not_found)?;
    // Only a formal notice an email carried (or, its outcome unknown, may have carried).
    let carried =
        notification.formal_notice.is_some() && matches!(notification.status, NotificationStatus::Sent | NotificationStatus::Sending);
    if !carried {
        return Err(ApiError::not_found());
    }
    let copy_key =
        relance::store::Key { pk: key.pk, sk: format!("{}{}", <FormalNoticeCopy as relance::store::Record>::SK_PREFIX, id.as_str()) };
    let copy: FormalNoticeCopy = state.store.get(&copy_key).await?.ok_or_else(ApiError::not_found)?;
    let pdf = copy.pdf_bytes().map_err(|e| {
        tracing::error!(error = %e, notification = %id.as_str(), "a kept formal notice is not base64");
        ApiError::unavailable("the kept copy cannot be read")
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", copy.file_name)),
            (header::HeaderName::from_static("x-content-sha256"), copy.sha256),
        ],
        pdf,
    )
        .into_response())
}

/// Sends a notification again: a fresh pending copy that dispatch picks up (its id is the
/// original's with `.resend-<second>`, so a double click resends once). A held or failed
/// original leaves the follow-up list; one still pending or being sent is a 409.
#[utoipa::path(post, path = "/admin/notifications/{id}/resend", tag = "admin", summary = "Send a notification again",
    params(("id" = String, Path, description = "The notification's id")), responses((status = 202, body = Resent)))]
pub async fn resend_notification(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(axum::http::StatusCode, Json<Resent>), ApiError> {
    caller.require_any(&[Role::Admin])?;
    let id = NotificationId::try_from(id).map_err(|_| ApiError::not_found())?;
    let key = state.store.find_by_id::<Notification>(id.as_str()).await?.ok_or_else(ApiError::not_found)?;
    let mut original: Notification = state.store.get(&key).await?.ok_or_else(ApiError::not_found)?;
    let now = Utc::now();
    if original.resent_as.is_some() {
        return Err(ApiError::conflict_because("already_resent", "this notification was already sent again"));
    }
    if original.status == NotificationStatus::Pending || (original.status == NotificationStatus::Sending && !original.claim_abandoned(now))
    {
        return Err(ApiError::conflict_because("still_sending", "this notification is still on its way"));
    }
    if original.claim_abandoned(now) {
        // Its sender stopped before recording what happened: closed as failed, then replaced.
        let _ = original.mark_failed("outcome unknown: the sending stopped before its answer was recorded");
    }
    let copy_id = original.id.resend(now).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut copy = original.copy_for_resend(copy_id, now);
    let mut tx = state.store.transaction();
    tx.insert(&mut copy)?;
    // Held and failed ones become skipped; a sent one stays sent. Either way the original
    // names its copy, and the version check makes a second click (or a second admin) lose.
    let _ = original.superseded_by(&copy.id);
    original.resent_as = Some(copy.id.clone());
    tx.update(&mut original)?;
    state.store.commit(tx).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(Resent { id: copy.id, status: copy.status, resent_from: original.id })))
}
