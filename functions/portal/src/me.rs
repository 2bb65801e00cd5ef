//! The member's own records: `/me` and the billing routes. The customer is always the one
//! the caller's account names; no id in the request can point elsewhere.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Cursor, Key};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::PortalState;
use crate::error::ApiError;
use crate::identity::{Caller, Role};
use crate::input::Params;

/// Roles that have bills to see.
const BILLED: [Role; 3] = [Role::Member, Role::MemberB2b, Role::Client];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<i32>,
}

impl PageQuery {
    pub fn cursor(&self) -> Result<Option<Cursor>, ApiError> {
        self.cursor.as_deref().map(Cursor::parse).transpose().map_err(ApiError::from)
    }

    pub fn limit(&self) -> i32 {
        self.limit.unwrap_or(20).clamp(1, 50)
    }
}

/// The caller's customer record, or 404 when the account is nobody's customer.
async fn my_customer(state: &PortalState, caller: &Caller) -> Result<Customer, ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let customer_id = account.and_then(|a| a.customer_id).ok_or_else(ApiError::not_found)?;
    state.store.get(&Key::customer(&customer_id)).await?.ok_or_else(ApiError::not_found)
}

pub async fn me(State(state): State<PortalState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let customer = match account.and_then(|a| a.customer_id) {
        Some(id) => state.store.get::<Customer>(&Key::customer(&id)).await?,
        None => None,
    };
    Ok(Json(json!({
        "user": caller.user,
        "email": caller.email,
        "roles": caller.roles,
        "customer": customer.as_ref().map(customer_view),
    })))
}

/// The customer as the member sees and edits it.
pub fn customer_view(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "email_undeliverable": c.email_undeliverable,
        "phone": c.phone,
        "locale": c.locale,
        "time_zone": c.time_zone.name(),
        "opt_outs": c.opt_outs,
        "preferred_channel": c.preferred_channel,
    })
}

#[derive(Serialize)]
struct Reminder {
    kind: NotificationKind,
    step: u32,
    status: NotificationStatus,
    sent_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct InvoiceView {
    id: InvoiceId,
    number: InvoiceNumber,
    status: InvoiceStatus,
    amount_due: Money,
    amount_paid: Money,
    balance: Money,
    issued_at: DateTime<Utc>,
    due_date: NaiveDate,
    reminders: Vec<Reminder>,
}

pub async fn invoices(State(state): State<PortalState>, caller: Caller, Params(page): Params<PageQuery>) -> Result<Json<Value>, ApiError> {
    caller.require_any(&BILLED)?;
    let customer = my_customer(&state, &caller).await?;
    let partition = Key::customer_partition(&customer.id);
    let listed = state.store.list::<Invoice>(&partition, page.cursor()?.as_ref(), page.limit()).await?;
    // Every invoice's reminders in one read of the customer's partition (not one query per
    // invoice): notification ids begin with what they are about (`invoice.<id>.`).
    let mut reminders_of: std::collections::HashMap<String, Vec<Notification>> = Default::default();
    if !listed.records.is_empty() {
        let mut cursor = None;
        loop {
            let about_invoices = NotificationId::prefix_about(TargetKind::Invoice, None);
            let page = state.store.list_within::<Notification>(&partition, &about_invoices, cursor.as_ref(), 500).await?;
            for notification in page.records {
                reminders_of.entry(notification.target.id.clone()).or_default().push(notification);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let mut views = Vec::new();
    for invoice in listed.records {
        let reminders = reminders_of.remove(invoice.id.as_str()).unwrap_or_default();
        views.push(InvoiceView {
            balance: invoice.balance(),
            reminders: reminders
                .into_iter()
                .filter(|n| n.status != NotificationStatus::Skipped)
                .map(|n| Reminder { kind: n.kind, step: n.step, status: n.status, sent_at: n.sent_at })
                .collect(),
            id: invoice.id,
            number: invoice.number,
            status: invoice.status,
            amount_due: invoice.amount_due,
            amount_paid: invoice.amount_paid,
            issued_at: invoice.issued_at,
            due_date: invoice.due_date,
        });
    }
    Ok(Json(json!({ "invoices": views, "next": listed.next.map(|c| c.as_str().to_string()) })))
}

pub async fn subscriptions(
    State(state): State<PortalState>,
    caller: Caller,
    Params(page): Params<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&BILLED)?;
    let customer = my_customer(&state, &caller).await?;
    let listed = state.store.list::<Subscription>(&Key::customer_partition(&customer.id), page.cursor()?.as_ref(), page.limit()).await?;
    let views: Vec<Value> = listed
        .records
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "plan": s.plan, "price": s.price, "interval": s.interval, "status": s.status,
                "current_period_end": s.current_period_end, "cancel_at_period_end": s.cancel_at_period_end,
            })
        })
        .collect();
    Ok(Json(json!({ "subscriptions": views, "next": listed.next.map(|c| c.as_str().to_string()) })))
}

/// Brand, last four digits and expiry: never more.
pub async fn payment_methods(State(state): State<PortalState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_any(&BILLED)?;
    let customer = my_customer(&state, &caller).await?;
    let cards = state.store.list::<PaymentMethod>(&Key::customer_partition(&customer.id), None, 50).await?.records;
    let views: Vec<Value> = cards
        .iter()
        .filter(|c| !c.removed)
        .map(|c| json!({ "id": c.id, "brand": c.brand, "last4": c.last4, "expiry": c.expiry, "is_default": c.is_default }))
        .collect();
    Ok(Json(json!({ "payment_methods": views })))
}

/// An invoice of the caller's, by our id, or 404 (another member's invoice is "not found").
async fn my_invoice(state: &PortalState, customer: &Customer, id: &str) -> Result<Invoice, ApiError> {
    let id = InvoiceId::parse(id).map_err(|_| ApiError::not_found())?;
    state.store.get(&Key::of_customer::<Invoice>(&customer.id, id.as_str())).await?.ok_or_else(ApiError::not_found)
}

/// Where to pay an invoice: the provider's hosted page for it. 409 when nothing is owed or
/// the provider gave no page (the member writes to support instead).
pub async fn pay_invoice(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_any(&BILLED)?;
    let customer = my_customer(&state, &caller).await?;
    let invoice = my_invoice(&state, &customer, &id).await?;
    if !invoice.balance().is_positive() {
        return Err(ApiError::conflict_because("nothing_owed", "nothing is owed on this invoice"));
    }
    let url = invoice
        .payment_link
        .clone()
        .ok_or_else(|| ApiError::conflict_because("no_payment_page", "no online payment page for this invoice; write to support"))?;
    Ok(Json(json!({ "url": url, "invoice": invoice.id, "balance": invoice.balance() })))
}

/// Where to renew a subscription or update its card: the payment page of its oldest open
/// invoice if it has one (renewing means paying it), else the business's billing portal.
pub async fn renew_subscription(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_any(&BILLED)?;
    let customer = my_customer(&state, &caller).await?;
    let id = SubscriptionId::parse(&id).map_err(|_| ApiError::not_found())?;
    let partition = Key::customer_partition(&customer.id);
    let subscription: Subscription =
        state.store.get(&Key::of_customer::<Subscription>(&customer.id, id.as_str())).await?.ok_or_else(ApiError::not_found)?;
    let mut cursor = None;
    loop {
        let page = state.store.list::<Invoice>(&partition, cursor.as_ref(), 100).await?;
        let open = page.records.into_iter().filter(|i| i.subscription_id.as_ref() == Some(&subscription.id) && i.balance().is_positive());
        if let Some(invoice) = open.filter(|i| i.payment_link.is_some()).min_by_key(|i| i.issued_at) {
            return Ok(Json(json!({ "url": invoice.payment_link, "kind": "invoice", "invoice": invoice.id })));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let url = state
        .billing_portal_url
        .clone()
        .ok_or_else(|| ApiError::conflict_because("no_renewal_page", "no online renewal page is configured; write to support"))?;
    Ok(Json(json!({ "url": url, "kind": "billing_portal", "subscription": subscription.id })))
}
