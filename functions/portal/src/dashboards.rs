//! The agency dashboards (client, sales, ambassador), the ambassador's lead form, and the
//! admin's KPIs. Records are read through their owners' partitions and the ledger index;
//! the figures are computed by `relance::reports`, tested on hand-computed data.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use relance::domain::*;
use relance::reports::{AmbassadorDashboard, ClientDashboard, Kpis, Month, SalesDashboard};
use relance::store::{Key, Ledger};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::PortalState;
use crate::error::ApiError;
use crate::identity::{Caller, Role};
use crate::input::{Body, Params, text};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthRange {
    /// First month shown (`2026-01`); defaults to eleven months before `to`.
    pub from: Option<Month>,
    /// Last month shown; defaults to the current month.
    pub to: Option<Month>,
}

/// At most this many months in one chart.
const MAX_MONTHS: usize = 36;

impl MonthRange {
    fn months(&self) -> Result<Vec<Month>, ApiError> {
        let to = self.to.unwrap_or_else(|| Month::of(Utc::now().date_naive()));
        let from = self.from.unwrap_or_else(|| {
            let first = to.first_day();
            let back = NaiveDate::from_ymd_opt(first.year() - 1, first.month(), 1).unwrap_or(first);
            Month::of(back).next()
        });
        let months = Month::range(from, to);
        if months.is_empty() {
            return Err(ApiError::bad_request("from must not be after to"));
        }
        if months.len() > MAX_MONTHS {
            return Err(ApiError::bad_request(format!("at most {MAX_MONTHS} months at a time")));
        }
        Ok(months)
    }
}

fn mission_view(m: &Mission) -> Value {
    json!({"id": m.id, "title": m.title, "client": m.client_name, "freelancers": m.freelancers,
           "starts_on": m.starts_on, "ends_on": m.ends_on, "monthly_fee": m.monthly_fee})
}

/// A client's missions, billing history and totals per month.
pub async fn client(State(state): State<PortalState>, caller: Caller, Params(range): Params<MonthRange>) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[Role::Client])?;
    let months = range.months()?;
    let account: Account = state.store.get(&Key::account(&caller.user)).await?.ok_or_else(ApiError::not_found)?;
    let customer_id = account.customer_id.ok_or_else(ApiError::not_found)?;
    let partition = Key::customer_partition(&customer_id);
    let missions: Vec<Mission> = state.store.list_all(&partition).await?;
    let mut invoices: Vec<Invoice> = state.store.list_all(&partition).await?;
    let figures = ClientDashboard::compute(&invoices, &months);
    invoices.sort_by_key(|i| std::cmp::Reverse(i.issued_at));
    let history: Vec<Value> = invoices
        .iter()
        .filter(|i| i.status.counts_as_billed())
        .take(24)
        .map(|i| {
            json!({"id": i.id, "number": i.number, "issued_at": i.issued_at, "status": i.status,
                        "amount_due": i.amount_due, "balance": i.balance(), "mission": i.mission_id})
        })
        .collect();
    Ok(Json(json!({
        "missions": missions.iter().map(mission_view).collect::<Vec<_>>(),
        "billing_history": history,
        "billed": figures.billed, "paid": figures.paid, "outstanding": figures.outstanding,
    })))
}

/// A sales person's projected and actual revenue, bonus estimate, freelancers on mission and
/// peak periods: their own missions only.
pub async fn sales(State(state): State<PortalState>, caller: Caller, Params(range): Params<MonthRange>) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[Role::Sales])?;
    let months = range.months()?;
    let links: Vec<MissionLink> = state.store.list_all(&Key::sales_partition(&caller.user)).await?;
    let mut missions = Vec::new();
    for link in &links {
        if let Some(mission) = state.store.get::<Mission>(&Key::of_customer::<Mission>(&link.client, link.mission.as_str())).await? {
            missions.push(mission);
        }
    }
    let ours: BTreeSet<&MissionId> = missions.iter().map(|m| &m.id).collect();
    let clients: BTreeSet<&CustomerId> = missions.iter().map(|m| &m.client).collect();
    let mut invoices = Vec::new();
    for client in clients {
        let theirs: Vec<Invoice> = state.store.list_all(&Key::customer_partition(client)).await?;
        invoices.extend(theirs.into_iter().filter(|i| i.mission_id.as_ref().is_some_and(|m| ours.contains(m))));
    }
    let today = Utc::now().date_naive();
    let figures = SalesDashboard::compute(&missions, &invoices, &months, &state.bonus_rates, today)
        .map_err(|e| ApiError::conflict(format!("figures cannot be added up: {e}")))?;
    Ok(Json(json!({
        "missions": missions.iter().map(mission_view).collect::<Vec<_>>(),
        "projected": figures.projected, "actual": figures.actual,
        "bonus": figures.bonus, "bonus_total": figures.bonus_total, "bonus_rates": state.bonus_rates,
        "freelancers_on_mission": figures.freelancers_on_mission, "peak_periods": figures.peak_periods,
    })))
}

fn lead_view(l: &Lead) -> Value {
    json!({"id": l.id, "company": l.company, "contact_name": l.contact_name, "status": l.status,
           "submitted_at": l.submitted_at, "commission": l.commission, "commission_paid": l.commission_paid_at.is_some()})
}

/// An ambassador's leads and commissions.
pub async fn ambassador(
    State(state): State<PortalState>,
    caller: Caller,
    Params(range): Params<MonthRange>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[Role::Ambassador])?;
    let months = range.months()?;
    let mut leads: Vec<Lead> = state.store.list_all(&Key::ambassador_partition(&caller.user)).await?;
    let figures = AmbassadorDashboard::compute(&leads, &months);
    leads.reverse(); // newest first
    Ok(Json(json!({
        "leads": leads.iter().map(lead_view).collect::<Vec<_>>(),
        "leads_by_status": figures.leads_by_status,
        "earned": figures.earned, "paid": figures.paid, "owed": figures.owed,
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLead {
    pub company: String,
    pub contact_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// One call to submit a lead: who, and how to reach them (an email or a phone at least).
pub async fn submit_lead(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewLead>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_any(&[Role::Ambassador])?;
    let email = input
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(Email::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let phone = input
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(|p| PhoneE164::parse(p, Some("FR")))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if email.is_none() && phone.is_none() {
        return Err(ApiError::bad_request("give an email or a phone number to reach the lead"));
    }
    let mut lead = Lead {
        id: LeadId::generate(),
        ambassador: caller.user.clone(),
        company: text("company", &input.company, 200)?,
        contact_name: text("contact_name", &input.contact_name, 200)?,
        email,
        phone,
        note: input.note.trim().chars().take(2000).collect(),
        status: LeadStatus::Submitted,
        submitted_at: Utc::now(),
        decided_at: None,
        commission: None,
        commission_paid_at: None,
        version: 0,
    };
    state.store.insert(&mut lead).await?;
    Ok((StatusCode::CREATED, Json(lead_view(&lead))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day (`2026-03-01`), included.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
}

/// At most a year and a day per request: a year over year comparison is two calls.
const MAX_KPI_DAYS: i64 = 366;

/// The KPIs for `[from, to]` (whole UTC days).
pub async fn kpis(State(state): State<PortalState>, caller: Caller, Params(period): Params<Period>) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    if period.to < period.from {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    if (period.to - period.from).num_days() >= MAX_KPI_DAYS {
        return Err(ApiError::bad_request(format!("at most {MAX_KPI_DAYS} days at a time")));
    }
    let start = Utc.from_utc_datetime(&period.from.and_hms_opt(0, 0, 0).unwrap_or_default());
    let end = Utc.from_utc_datetime(&(period.to + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default());
    let mut invoices: Vec<Invoice> = Vec::new();
    let mut sent: Vec<Notification> = Vec::new();
    for month in Month::range(Month::of(period.from), Month::of(period.to)) {
        let first = Utc.from_utc_datetime(&month.first_day().and_hms_opt(0, 0, 0).unwrap_or_default());
        invoices.extend(state.store.ledger::<Invoice>(&Ledger::invoices(first), start, end).await?);
        sent.extend(state.store.ledger::<Notification>(&Ledger::sent(first), start, end).await?);
    }
    let epoch = Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default().and_hms_opt(0, 0, 0).unwrap_or_default());
    let subscriptions: Vec<Subscription> = state.store.ledger(Ledger::SUBSCRIPTIONS, epoch, end).await?;
    let figures = Kpis::compute(start, end, &invoices, &subscriptions, &sent)
        .map_err(|e| ApiError::conflict(format!("figures cannot be added up: {e}")))?;
    Ok(Json(json!(figures)))
}
