//! The agency's records kept by the admins: missions (`POST /admin/missions`, `PATCH
//! /admin/missions/{id}`, listed by `GET /admin/missions`) and the decisions on leads
//! (`PATCH /admin/leads/{id}`). The client, sales and ambassador dashboards read these. Every
//! change is in the audit trail.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use relance::api_error::ApiError;
use relance::domain::*;
use relance::store::{Attempt, Key, Ledger, Record, check_user, until_done};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::PortalState;
use crate::api::audit;
use crate::api::dashboards::{LeadView, MissionView};
use crate::api::input::{Body, Params, text};
use crate::api::me::PageQuery;
use crate::auth::{Caller, Role};

#[derive(Debug, Serialize, ToSchema)]
pub struct MissionList {
    /// By start, oldest first.
    pub missions: Vec<AdminMission>,
}

/// A mission as the back office shows it: with its client's and sales owner's ids.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminMission {
    #[serde(flatten)]
    pub mission: MissionView,
    pub client_id: CustomerId,
    /// The sales person (user id) whose figures it counts in.
    pub sales: String,
}

impl AdminMission {
    fn of(m: &Mission) -> AdminMission {
        AdminMission { mission: MissionView::of(m), client_id: m.client.clone(), sales: m.sales.clone() }
    }
}

#[utoipa::path(get, path = "/admin/missions", tag = "admin", summary = "Every agency mission", responses((status = 200, body = MissionList)))]
pub async fn list(State(state): State<PortalState>, caller: Caller) -> Result<Json<MissionList>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    // The ledger sorts by instants written as text (`2026-09-01T00:00:00Z`): bounds in the
    // same four-digit years, not chrono's extremes.
    let (from, to) = (DateTime::<Utc>::UNIX_EPOCH, Utc::now() + chrono::Duration::days(100 * 366));
    let all = state.store.ledger::<Mission>(Ledger::MISSIONS, from, to).await?;
    Ok(Json(MissionList { missions: all.iter().map(AdminMission::of).collect() }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"client": "client-atelier-nord", "title": "Refonte du site", "sales": "sales-nina", "freelancers": ["Noor"],
    "starts_on": "2026-09-01", "monthly_fee": {"minor_units": 450000, "currency": "EUR"}}))]
pub struct NewMission {
    /// The client: our id for the customer.
    #[schema(value_type = CustomerId)]
    pub client: String,
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub title: String,
    /// The sales person's user id.
    pub sales: String,
    #[serde(default)]
    pub freelancers: Vec<String>,
    pub starts_on: NaiveDate,
    /// None: open-ended.
    pub ends_on: Option<NaiveDate>,
    /// What it bills each month it runs: the sales dashboard's projected revenue.
    pub monthly_fee: Money,
}

/// The freelancers' names, trimmed, none empty, at most 50.
fn freelancers(names: &[String]) -> Result<Vec<String>, ApiError> {
    if names.len() > 50 {
        return Err(ApiError::bad_request("freelancers: at most 50"));
    }
    names.iter().map(|n| text("freelancers", n, 200)).collect()
}

/// A user with an account here (the sales owner), or a 404 naming the field.
async fn existing_user(state: &PortalState, field: &str, user: &str) -> Result<(), ApiError> {
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{field}: no account for user {user:?}"));
    check_user(user).map_err(|_| missing())?;
    match state.store.get::<Account>(&Key::account(user)).await? {
        Some(account) if !account.closed => Ok(()),
        _ => Err(missing()),
    }
}

#[utoipa::path(post, path = "/admin/missions", tag = "admin", summary = "Record a mission sold to a client",
    request_body(content = NewMission, example = json!({"client": "client-atelier-nord", "title": "Refonte du site", "sales": "sales-nina",
        "starts_on": "2026-09-01", "monthly_fee": {"minor_units": 450000, "currency": "EUR"}})),
    responses((status = 201, body = AdminMission)))]
pub async fn create(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewMission>,
) -> Result<(StatusCode, Json<AdminMission>), ApiError> {
    caller.require_any(&[Role::Admin])?;
    // A client or an owner who does not exist is not found (an id that cannot exist neither),
    // with the field named: the body is well formed, what it names is missing.
    let no_client = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "client: no such customer");
    let client_id = CustomerId::parse(&input.client).map_err(|_| no_client())?;
    let client: Customer = state.store.get(&Key::customer(&client_id)).await?.ok_or_else(no_client)?;
    existing_user(&state, "sales", &input.sales).await?;
    let mut mission = Mission {
        id: MissionId::generate(),
        client: client.id.clone(),
        client_name: client.name.clone(),
        sales: input.sales.clone(),
        title: text("title", &input.title, 200)?,
        freelancers: freelancers(&input.freelancers)?,
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        monthly_fee: input.monthly_fee,
        version: 0,
    };
    mission.check().map_err(ApiError::bad_request)?;
    let mut link = MissionLink { sales: mission.sales.clone(), client: mission.client.clone(), mission: mission.id.clone(), version: 0 };
    let id = mission.id.clone();
    let mut tx = audit::creation(&state, &caller, id.as_str(), &mut mission, Utc::now())?;
    tx.insert(&mut link)?;
    state.store.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(AdminMission::of(&mission))))
}

/// What may change about a mission; absent fields stay as they are, `ends_on: null` makes
/// it open-ended. The client does not change: a mission for another client is another mission.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MissionChange {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub title: Option<String>,
    pub sales: Option<String>,
    pub freelancers: Option<Vec<String>>,
    pub starts_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::api::input::present")]
    #[schema(value_type = Option<NaiveDate>, nullable)]
    pub ends_on: Option<Option<NaiveDate>>,
    pub monthly_fee: Option<Money>,
}

#[utoipa::path(patch, path = "/admin/missions/{id}", tag = "admin", summary = "Change a mission: title, owner, staff, dates, fee",
    params(("id" = String, Path, description = "The mission's id")), request_body = MissionChange,
    responses((status = 200, body = AdminMission)))]
pub async fn update(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<MissionChange>,
) -> Result<Json<AdminMission>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    if let Some(sales) = &input.sales {
        existing_user(&state, "sales", sales).await?;
    }
    let id = MissionId::parse(&id).map_err(|_| ApiError::not_found())?;
    let (state, caller, input, id) = (&state, &caller, &input, &id);
    let saved = until_done(|_| async move {
        let before: Mission = state.store.get_by_id::<Mission>(id.as_str()).await?.ok_or_else(ApiError::not_found)?;
        let mut after = before.clone();
        if let Some(title) = &input.title {
            after.title = text("title", title, 200)?;
        }
        if let Some(sales) = &input.sales {
            after.sales = sales.clone();
        }
        if let Some(names) = &input.freelancers {
            after.freelancers = freelancers(names)?;
        }
        after.starts_on = input.starts_on.unwrap_or(after.starts_on);
        if let Some(ends_on) = input.ends_on {
            after.ends_on = ends_on;
        }
        after.monthly_fee = input.monthly_fee.unwrap_or(after.monthly_fee);
        after.check().map_err(ApiError::bad_request)?;
        if after == before {
            return Ok(Attempt::Done(after));
        }
        let mut tx = audit::change(state, caller, before.id.as_str(), &before, &mut after, Utc::now())?;
        // A new owner gets the mission in their list; the old owner's pointer stays, and the
        // sales dashboard counts a mission for its current owner only.
        if after.sales != before.sales {
            let link_key = Key { pk: Key::sales_partition(&after.sales), sk: format!("{}{}", MissionLink::SK_PREFIX, after.id) };
            if state.store.get::<MissionLink>(&link_key).await?.is_none() {
                let mut link =
                    MissionLink { sales: after.sales.clone(), client: after.client.clone(), mission: after.id.clone(), version: 0 };
                tx.insert(&mut link)?;
            }
        }
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| after))
    })
    .await?;
    let mission = saved.ok_or_else(|| ApiError::conflict("changed meanwhile; read it again and retry"))?;
    Ok(Json(AdminMission::of(&mission)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadList {
    /// Newest first.
    pub leads: Vec<AdminLead>,
    pub next: Option<String>,
}

/// A lead as the back office decides it: with the ambassador who brought it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminLead {
    #[serde(flatten)]
    pub lead: LeadView,
    /// The ambassador (user id).
    pub ambassador: String,
}

#[utoipa::path(get, path = "/admin/leads", tag = "admin", summary = "Every ambassador's leads, newest first",
    params(PageQuery), responses((status = 200, body = LeadList)))]
pub async fn leads(State(state): State<PortalState>, caller: Caller, Params(page): Params<PageQuery>) -> Result<Json<LeadList>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let listed = state.store.ledger_page::<Lead>(Ledger::LEADS, page.cursor()?.as_ref(), page.limit()).await?;
    Ok(Json(LeadList {
        leads: listed.records.iter().map(|l| AdminLead { lead: LeadView::of(l), ambassador: l.ambassador.clone() }).collect(),
        next: listed.next.map(|c| c.as_str().to_string()),
    }))
}

/// An admin's decision on a lead.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "won", "commission": "150.00", "currency": "EUR"}))]
pub struct LeadDecision {
    /// `submitted → qualified → won | lost`.
    pub status: Option<LeadStatus>,
    /// On a win: the ambassador's commission, a decimal amount (`150.00`).
    #[schema(pattern = r"^[0-9]{1,12}([.,][0-9]{1,3})?$")]
    pub commission: Option<String>,
    /// The commission's currency; the business's own when absent.
    pub currency: Option<Currency>,
    /// True: the commission was paid out (once; recorded with the time).
    pub commission_paid: Option<bool>,
}

#[utoipa::path(patch, path = "/admin/leads/{id}", tag = "admin", summary = "Qualify, win or lose a lead; record its commission paid",
    params(("id" = String, Path, description = "The lead's id")), request_body = LeadDecision,
    responses((status = 200, body = LeadView)))]
pub async fn decide(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<LeadDecision>,
) -> Result<Json<LeadView>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let id = LeadId::parse(&id).map_err(|_| ApiError::not_found())?;
    let currency = input.currency.unwrap_or(state.defaults.currency);
    let commission = input
        .commission
        .as_deref()
        .map(|amount| Money::parse_decimal(&amount.replace(',', "."), currency))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("commission: {e}")))?;
    let (state, caller, input, id, commission) = (&state, &caller, &input, &id, &commission);
    let saved = until_done(|_| async move {
        let before: Lead = state.store.get_by_id::<Lead>(id.as_str()).await?.ok_or_else(ApiError::not_found)?;
        let mut after = before.clone();
        let now = Utc::now();
        let refused = |e: LeadError| ApiError::conflict_because("lead_decision", e.to_string());
        after.move_to(input.status.unwrap_or(before.status), *commission, now).map_err(refused)?;
        if input.commission_paid == Some(true) {
            after.mark_commission_paid(now).map_err(refused)?;
        }
        if after == before {
            return Ok(Attempt::Done(after));
        }
        let mut tx = audit::change(state, caller, before.id.as_str(), &before, &mut after, now)?;
        // The ambassador hears of each change once. The notice names the change (the new
        // status, `commission_changed` or `commission_paid`): dispatch may read the lead after
        // later changes. Its
        // step (in its id) is the lead's version after the change, so a retried request
        // cannot send it twice.
        let ambassador: Option<Account> = state.store.get(&Key::account(&before.ambassador)).await?;
        if let Some(customer_id) = ambassador.filter(|a| !a.closed).and_then(|a| a.customer_id) {
            let change = if after.commission_paid_at != before.commission_paid_at {
                "commission_paid"
            } else if after.status != before.status {
                after.status.as_str()
            } else {
                "commission_changed" // a won lead's commission corrected
            };
            let target = Target { kind: TargetKind::Lead, id: before.id.to_string() };
            let step = u32::try_from(before.version.saturating_add(1)).unwrap_or(u32::MAX);
            let mut notice =
                Notification::pending(customer_id, target, NotificationKind::LeadChanged, Some(change.to_string()), step, None, now)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            tx.insert(&mut notice)?;
        }
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| after))
    })
    .await?;
    let lead = saved.ok_or_else(|| ApiError::conflict("changed meanwhile; read it again and retry"))?;
    Ok(Json(LeadView::of(&lead)))
}
