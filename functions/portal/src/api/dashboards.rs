//! The agency dashboards (client, sales, ambassador), the ambassador's lead form, and the
//! admin's KPIs. Records are read through their owners' partitions and the ledger index;
//! the figures are computed by `relance::reports`, tested on hand-computed data.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use relance::domain::*;
use relance::reports::{Aging, AmbassadorDashboard, BonusRates, ClientDashboard, Kpis, Month, Recovered, SalesDashboard, Series};
use relance::store::{Key, Ledger};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::input::{Body, Params, text};
use crate::auth::{Caller, Role};
use relance::api_error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MissionView {
    pub id: MissionId,
    pub title: String,
    /// The client's name.
    pub client: String,
    pub freelancers: Vec<String>,
    pub starts_on: NaiveDate,
    /// None: open-ended.
    pub ends_on: Option<NaiveDate>,
    pub monthly_fee: Money,
}

impl MissionView {
    pub(crate) fn of(m: &Mission) -> MissionView {
        MissionView {
            id: m.id.clone(),
            title: m.title.clone(),
            client: m.client_name.clone(),
            freelancers: m.freelancers.clone(),
            starts_on: m.starts_on,
            ends_on: m.ends_on,
            monthly_fee: m.monthly_fee,
        }
    }
}

/// An invoice in a client's billing history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BilledInvoice {
    pub id: InvoiceId,
    pub number: InvoiceNumber,
    pub issued_at: chrono::DateTime<Utc>,
    pub status: InvoiceStatus,
    pub amount_due: Money,
    pub balance: Money,
    pub mission: Option<MissionId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub missions: Vec<MissionView>,
    /// The 24 latest invoices, newest first.
    pub billing_history: Vec<BilledInvoice>,
    /// Invoiced per month of issue, one series per currency.
    pub billed: Vec<Series>,
    /// Paid on those invoices, per month of issue.
    pub paid: Vec<Series>,
    /// Still owed, per currency.
    pub outstanding: Vec<Money>,
}

/// A client's missions, billing history and totals per month.
#[utoipa::path(get, path = "/dashboards/client", tag = "dashboards", summary = "A client's missions and billing by month",
    params(MonthRange), responses((status = 200, body = ClientView)))]
pub async fn client(
    State(state): State<PortalState>,
    caller: Caller,
    Params(range): Params<MonthRange>,
) -> Result<Json<ClientView>, ApiError> {
    caller.require_any(&[Role::Client])?;
    let months = range.months()?;
    let account: Account = state.store.get(&Key::account(&caller.user)).await?.ok_or_else(ApiError::not_found)?;
    let customer_id = account.customer_id.ok_or_else(ApiError::not_found)?;
    let partition = Key::customer_partition(&customer_id);
    let missions: Vec<Mission> = state.store.list_all(&partition).await?;
    let mut invoices: Vec<Invoice> = state.store.list_all(&partition).await?;
    let figures = ClientDashboard::compute(&invoices, &months);
    invoices.sort_by_key(|i| std::cmp::Reverse(i.issued_at));
    let billing_history = invoices
        .iter()
        .filter(|i| i.status.counts_as_billed())
        .take(24)
        .map(|i| BilledInvoice {
            id: i.id.clone(),
            number: i.number.clone(),
            issued_at: i.issued_at,
            status: i.status,
            amount_due: i.amount_due,
            balance: i.balance(),
            mission: i.mission_id.clone(),
        })
        .collect();
    Ok(Json(ClientView {
        missions: missions.iter().map(MissionView::of).collect(),
        billing_history,
        billed: figures.billed,
        paid: figures.paid,
        outstanding: figures.outstanding,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesView {
    pub missions: Vec<MissionView>,
    /// What the missions are planned to bill, month by month.
    pub projected: Vec<Series>,
    /// What was invoiced on them, by month of issue.
    pub actual: Vec<Series>,
    /// The bonus each month's actual revenue earns.
    pub bonus: Series,
    pub bonus_total: Money,
    pub bonus_rates: BonusRates,
    pub freelancers_on_mission: Vec<String>,
    /// Months whose projected revenue is at least 20 % above the range's average.
    pub peak_periods: Vec<Month>,
}

/// A sales person's projected and actual revenue, bonus estimate, freelancers on mission and
/// peak periods: their own missions only.
#[utoipa::path(get, path = "/dashboards/sales", tag = "dashboards", summary = "Projected and actual revenue, bonus, peaks",
    params(MonthRange), responses((status = 200, body = SalesView)))]
pub async fn sales(
    State(state): State<PortalState>,
    caller: Caller,
    Params(range): Params<MonthRange>,
) -> Result<Json<SalesView>, ApiError> {
    caller.require_any(&[Role::Sales])?;
    let months = range.months()?;
    let links: Vec<MissionLink> = state.store.list_all(&Key::sales_partition(&caller.user)).await?;
    let mut missions = Vec::new();
    for link in &links {
        // A mission handed to another owner leaves its old pointer behind: it counts for its
        // current owner only.
        if let Some(mission) = state.store.get::<Mission>(&Key::of_customer::<Mission>(&link.client, link.mission.as_str())).await?
            && mission.sales == caller.user
        {
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
    Ok(Json(SalesView {
        missions: missions.iter().map(MissionView::of).collect(),
        projected: figures.projected,
        actual: figures.actual,
        bonus: figures.bonus,
        bonus_total: figures.bonus_total,
        bonus_rates: state.bonus_rates.clone(),
        freelancers_on_mission: figures.freelancers_on_mission,
        peak_periods: figures.peak_periods,
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadView {
    pub id: LeadId,
    pub company: String,
    pub contact_name: String,
    pub status: LeadStatus,
    pub submitted_at: chrono::DateTime<Utc>,
    /// Set when the lead is won.
    pub commission: Option<Money>,
    pub commission_paid: bool,
}

impl LeadView {
    pub(crate) fn of(l: &Lead) -> LeadView {
        LeadView {
            id: l.id.clone(),
            company: l.company.clone(),
            contact_name: l.contact_name.clone(),
            status: l.status,
            submitted_at: l.submitted_at,
            commission: l.commission,
            commission_paid: l.commission_paid_at.is_some(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AmbassadorView {
    /// Newest first.
    pub leads: Vec<LeadView>,
    pub leads_by_status: std::collections::BTreeMap<String, u32>,
    /// Commissions on won leads, by month won.
    pub earned: Vec<Series>,
    /// Commissions paid out, by month paid.
    pub paid: Vec<Series>,
    /// Earned and not yet paid, per currency.
    pub owed: Vec<Money>,
}

/// An ambassador's leads and commissions.
#[utoipa::path(get, path = "/dashboards/ambassador", tag = "dashboards", summary = "Leads and commissions",
    params(MonthRange), responses((status = 200, body = AmbassadorView)))]
pub async fn ambassador(
    State(state): State<PortalState>,
    caller: Caller,
    Params(range): Params<MonthRange>,
) -> Result<Json<AmbassadorView>, ApiError> {
    caller.require_any(&[Role::Ambassador])?;
    let months = range.months()?;
    let mut leads: Vec<Lead> = state.store.list_all(&Key::ambassador_partition(&caller.user)).await?;
    let figures = AmbassadorDashboard::compute(&leads, &months);
    leads.reverse(); // newest first
    Ok(Json(AmbassadorView {
        leads: leads.iter().map(LeadView::of).collect(),
        leads_by_status: figures.leads_by_status,
        earned: figures.earned,
        paid: figures.paid,
        owed: figures.owed,
    }))
}

/// A lead: who, and how to reach them (an email or a phone at least).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLead {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub company: String,
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub contact_name: String,
    #[schema(format = Email)]
    pub email: Option<String>,
    /// E.164 (`+33612345678`) or a French national number.
    pub phone: Option<String>,
    /// Kept to its first 2,000 characters.
    #[serde(default)]
    pub note: String,
}

/// One call to submit a lead: who, and how to reach them (an email or a phone at least).
#[utoipa::path(post, path = "/leads", tag = "dashboards", summary = "Submit a lead (ambassadors)", request_body = NewLead,
    responses((status = 201, body = LeadView)))]
pub async fn submit_lead(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewLead>,
) -> Result<(StatusCode, Json<LeadView>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(LeadView::of(&lead))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// First day (`2026-03-01`), included.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
}

/// At most a year and a day per request: a year over year comparison is two calls.
const MAX_KPI_DAYS: i64 = 366;

/// How far back the aging balance looks for invoices still owed: older debts are past their
/// final notice long ago, in the admin's follow-up list, and written off or in court.
const AGING_MONTHS: u32 = 24;

/// The KPIs for `[from, to]` (whole UTC days), with what is owed today by age (invoices of
/// the last 24 months) and what the period's reminders recovered.
#[utoipa::path(get, path = "/admin/kpis", tag = "admin", summary = "The KPIs for a period", params(Period),
    responses((status = 200, body = Kpis)))]
pub async fn kpis(State(state): State<PortalState>, caller: Caller, Params(period): Params<Period>) -> Result<Json<Kpis>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    if period.to < period.from {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    if (period.to - period.from).num_days() >= MAX_KPI_DAYS {
        return Err(ApiError::bad_request(format!("at most {MAX_KPI_DAYS} days at a time")));
    }
    let start = Utc.from_utc_datetime(&period.from.and_hms_opt(0, 0, 0).unwrap_or_default());
    let day_after = period.to.checked_add_days(chrono::Days::new(1)).ok_or_else(|| ApiError::bad_request("to: too far in the future"))?;
    let end = Utc.from_utc_datetime(&day_after.and_hms_opt(0, 0, 0).unwrap_or_default());
    // Due dates are the business's days: so is "today" for the ages.
    let today = Utc::now().with_timezone(&state.defaults.time_zone).date_naive();
    // Invoice ledger months: the period's, and the last two years' for what is owed today.
    let aging_from = Month::of(today.checked_sub_months(chrono::Months::new(AGING_MONTHS)).unwrap_or(today));
    let mut months: BTreeSet<Month> = Month::range(Month::of(period.from), Month::of(period.to)).into_iter().collect();
    months.extend(Month::range(aging_from, Month::of(today)));
    let mut by_id: HashMap<String, Invoice> = HashMap::new();
    for month in months {
        let first = Utc.from_utc_datetime(&month.first_day().and_hms_opt(0, 0, 0).unwrap_or_default());
        let next = Utc.from_utc_datetime(&month.next().first_day().and_hms_opt(0, 0, 0).unwrap_or_default());
        for invoice in state.store.ledger::<Invoice>(&Ledger::invoices(first), first, next).await? {
            by_id.insert(invoice.id.as_str().to_string(), invoice);
        }
    }
    // Reminders sent in the period, and the week after it: a later reminder takes the credit
    // for a payment from an earlier one.
    let credit_end = end
        .checked_add_signed(chrono::Duration::days(relance::reports::receivables::RECOVERY_WINDOW_DAYS))
        .ok_or_else(|| ApiError::bad_request("to: too far in the future"))?;
    let mut sent: Vec<Notification> = Vec::new();
    for month in Month::range(Month::of(period.from), Month::of_instant(credit_end)) {
        let first = Utc.from_utc_datetime(&month.first_day().and_hms_opt(0, 0, 0).unwrap_or_default());
        sent.extend(state.store.ledger::<Notification>(&Ledger::sent(first), start, credit_end).await?);
    }
    // Invoices older than the ledger months read, that a reminder is about.
    let missing: BTreeSet<Key> = sent
        .iter()
        .filter(|n| n.target.kind == TargetKind::Invoice && !by_id.contains_key(&n.target.id))
        .map(|n| Key::of_customer::<Invoice>(&n.customer_id, &n.target.id))
        .collect();
    let missing: Vec<Key> = missing.into_iter().collect();
    for invoice in state.store.get_many::<Invoice>(&missing).await?.into_values() {
        by_id.insert(invoice.id.as_str().to_string(), invoice);
    }
    let invoices: Vec<Invoice> = by_id.into_values().collect();
    let issued: Vec<Invoice> = invoices.iter().filter(|i| i.issued_at >= start && i.issued_at < end).cloned().collect();
    let in_period: Vec<Notification> = sent.iter().filter(|n| n.sent_at.is_some_and(|at| at < end)).cloned().collect();
    let epoch = Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default().and_hms_opt(0, 0, 0).unwrap_or_default());
    let subscriptions: Vec<Subscription> = state.store.ledger(Ledger::SUBSCRIPTIONS, epoch, end).await?;
    let mut figures = Kpis::compute(start, end, &issued, &subscriptions, &in_period)
        .map_err(|e| ApiError::conflict(format!("figures cannot be added up: {e}")))?;
    figures.aging = Aging::compute(today, &invoices);
    figures.recovered = Recovered::compute(start, end, &sent, &invoices);
    Ok(Json(figures))
}
