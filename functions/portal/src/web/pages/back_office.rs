//! The back office's pages: the customer file (search, a customer's details, timeline and
//! history), file imports, gardens and their farmers, missions and leads. Each reads and
//! writes through the API's handlers, like every page.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::Multipart;
use relance::domain::ImportKind;

use super::*;
use crate::api::agency::{self, LeadDecision, NewMission};
use crate::api::audit::{self, AuditQuery};
use crate::api::customers::{self, CustomerDetails, CustomerQuery, CustomerStatus};
use crate::api::files::{self, ImportQuery};
use crate::api::sites::{self, Farmers, NewSite};

/// Blank form fields are "not given".
fn given(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// Tags or lists typed as `b2b, vip` (or `b2b|vip`, as files write them).
fn label_list(value: &str) -> BTreeSet<String> {
    value.split([',', '|']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomerSearch {
    q: Option<String>,
    tag: Option<String>,
    list: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

pub async fn admin_customers(
    State(state): State<PortalState>,
    visitor: Visitor,
    Query(search): Query<CustomerSearch>,
    Query(note): Query<Note>,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let status = given(&search.status).and_then(|s| serde_json::from_value::<CustomerStatus>(Value::String(s)).ok());
    let query = CustomerQuery {
        q: given(&search.q),
        tag: given(&search.tag),
        list: given(&search.list),
        status,
        cursor: given(&search.cursor),
        limit: Some(50),
    };
    let list = customers::list(State(state.clone()), visitor.caller.clone(), Params(query)).await?.0;
    let filters = json!({"q": search.q, "tag": search.tag, "list": search.list, "status": search.status});
    render(
        &state,
        &visitor,
        None,
        "admin_customers.html",
        &note,
        json!({"customers": list.customers, "next": list.next, "filters": filters}),
    )
    .await
}

#[derive(Deserialize)]
pub struct NewCustomerForm {
    csrf: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
}

pub async fn admin_create_customer(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<NewCustomerForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let details = CustomerDetails {
        name: Some(form.name),
        email: given(&form.email).map(Some),
        phone: given(&form.phone).map(Some),
        ..CustomerDetails::default()
    };
    match customers::create(State(state), visitor.caller, Body(details)).await {
        Ok((_, file)) => Ok(redirect(&format!("/app/admin/customers/{}?done=1", url_encode(file.0.customer.id.as_str())))),
        Err(e) => Ok(back("/app/admin/customers", Err(e))),
    }
}

pub async fn admin_customer(
    State(state): State<PortalState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(note): Query<Note>,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let file = customers::get(State(state.clone()), visitor.caller.clone(), Path(id.clone())).await?.0;
    let history = audit::history(
        State(state.clone()),
        visitor.caller.clone(),
        Params(AuditQuery { record: format!("Customer/{id}"), cursor: None, limit: Some(20) }),
    )
    .await?
    .0;
    let dates: String = file.customer.dates.iter().map(|(field, date)| format!("{field}: {date}\n")).collect();
    render(&state, &visitor, None, "admin_customer.html", &note, json!({"file": file, "history": history.entries, "dates": dates})).await
}

#[derive(Deserialize)]
pub struct CustomerForm {
    csrf: String,
    name: String,
    email: String,
    phone: String,
    locale: String,
    time_zone: String,
    tags: String,
    lists: String,
    /// One date a line: `lease_start: 2026-09-01`.
    dates: String,
    paused: Option<String>,
    business: Option<String>,
}

pub async fn admin_save_customer(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CustomerForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let to = format!("/app/admin/customers/{}", url_encode(&id));
    let current = customers::get(State(state.clone()), visitor.caller.clone(), Path(id.clone())).await?.0.customer;
    let mut dates: BTreeMap<String, Option<NaiveDate>> = current.dates.keys().map(|field| (field.clone(), None)).collect();
    for line in form.dates.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parsed = line.split_once([':', '=']).and_then(|(field, date)| Some((field.trim().to_string(), date.trim().parse().ok()?)));
        let Some((field, date)) = parsed else {
            return Ok(back(&to, Err(ApiError::bad_request("dates: one `field: 2026-09-01` a line"))));
        };
        dates.insert(field, Some(date));
    }
    let optional = |value: &str| Some(Some(value.trim().to_string()).filter(|v| !v.is_empty()));
    let details = CustomerDetails {
        name: Some(form.name),
        email: optional(&form.email),
        phone: optional(&form.phone),
        locale: given(&Some(form.locale)),
        time_zone: given(&Some(form.time_zone)),
        tags: Some(label_list(&form.tags)),
        lists: Some(label_list(&form.lists)),
        dates: Some(dates),
        reminders_paused: Some(form.paused.is_some()),
        business: Some(form.business.is_some()),
        ..CustomerDetails::default()
    };
    let result = customers::update(State(state), visitor.caller, Path(id), Body(details)).await.map(|_| ());
    Ok(back(&to, result))
}

pub async fn admin_import(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    import_page(&state, &visitor, &note, json!(null)).await
}

async fn import_page(state: &PortalState, visitor: &Visitor, note: &Note, outcome: Value) -> Result<Response, PageError> {
    let imports = files::recent_imports(state).await?;
    render(state, visitor, None, "admin_import.html", note, json!({"imports": imports, "outcome": outcome})).await
}

/// Past this size the checked file is not carried back in the page (escaped, it could pass
/// the 6 MB a Lambda may answer): the admin chooses it again, and its digest proves it is
/// the file that was checked.
const CARRIED_BACK: usize = 512 * 1024;

fn digest(content: &[u8]) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(content))
}

/// The import form: a file (or, after the check, the file's text carried back, or the same
/// file chosen again) and what to do with it. `check` runs the dry run and shows it with the
/// rows' errors; `import` writes.
pub async fn admin_run_import(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let (mut csrf, mut kind, mut content, mut action, mut skip_errors) = (String::new(), String::new(), Vec::new(), String::new(), false);
    let mut checked = String::new();
    let unreadable = |e: axum::extract::multipart::MultipartError| PageError::from(ApiError::bad_request(e.body_text()));
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.map_err(unreadable)?,
            "kind" => kind = field.text().await.map_err(unreadable)?,
            "action" => action = field.text().await.map_err(unreadable)?,
            "skip_errors" => skip_errors = true,
            "checked" => checked = field.text().await.map_err(unreadable)?,
            // The file chosen, or its text carried from the check to the import.
            "file" | "content" => {
                let bytes = field.bytes().await.map_err(unreadable)?;
                if !bytes.is_empty() {
                    content = bytes.to_vec();
                }
            }
            _ => {}
        }
    }
    check_csrf(&headers, &csrf)?;
    let kind = if kind == "invoices" { ImportKind::Invoices } else { ImportKind::Customers };
    let dry_run = action != "import";
    let query = ImportQuery { dry_run: Some(dry_run), skip_errors: Some(skip_errors) };
    let note = Note::default();
    if !dry_run && !checked.is_empty() && checked != digest(&content) {
        let refused = ApiError::bad_request("this is not the file that was checked: choose the same file, or check this one first");
        return import_page(&state, &visitor, &note, json!({"kind": kind, "refused": refused.message()})).await;
    }
    let outcome = match files::run(&state, &visitor.caller, &query, kind, &content).await {
        Ok((_, report)) => {
            // The file's text goes back in the form only when it is readable text to import,
            // and small enough; a larger one is chosen again, and checked by its digest.
            let small = content.len() <= CARRIED_BACK;
            let digest = (dry_run && !small).then(|| digest(&content));
            let text = if dry_run && small { String::from_utf8(content).ok() } else { None };
            json!({"kind": kind, "report": report, "content": text, "digest": digest})
        }
        Err(e) => json!({"kind": kind, "refused": e.message()}),
    };
    import_page(&state, &visitor, &note, outcome).await
}

#[derive(Deserialize)]
pub struct HistoryOf {
    /// `Site/<id>`, as `GET /admin/audit` takes it.
    record: String,
    /// The page of older changes (the `next` of the one before).
    cursor: Option<String>,
}

/// A value as the history shows it: text as itself, anything else as compact JSON, nothing
/// as a dash.
fn shown(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => "—".into(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// The change history of a site, mission, lead, event or invoice: each change with who made
/// it, when, and each field before and after.
pub async fn admin_history(
    State(state): State<PortalState>,
    visitor: Visitor,
    Query(of): Query<HistoryOf>,
    Query(note): Query<Note>,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let page = audit::history(
        State(state.clone()),
        visitor.caller.clone(),
        Params(AuditQuery { record: of.record.clone(), cursor: of.cursor.clone(), limit: Some(50) }),
    )
    .await?
    .0;
    let entries: Vec<serde_json::Value> = page
        .entries
        .iter()
        .map(|e| {
            let fields: Vec<serde_json::Value> = e
                .changed
                .iter()
                .map(|f| {
                    let before = shown(e.before.as_ref().and_then(|b| b.get(f)));
                    let after = shown(e.after.as_ref().and_then(|a| a.get(f)));
                    json!({"field": f, "before": before, "after": after})
                })
                .collect();
            json!({"at": e.at, "by": e.by, "action": e.action, "fields": fields})
        })
        .collect();
    render(&state, &visitor, None, "admin_history.html", &note, json!({"record": of.record, "entries": entries, "next": page.next})).await
}

pub async fn admin_sites(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let sites = sites::list(State(state.clone()), visitor.caller.clone()).await?.0;
    render(&state, &visitor, None, "admin_sites.html", &note, json!({"sites": sites.sites, "zone": state.defaults.time_zone.name()})).await
}

#[derive(Deserialize)]
pub struct SiteForm {
    csrf: String,
    name: String,
    address: String,
    time_zone: Option<String>,
}

pub async fn admin_create_site(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<SiteForm>,
) -> Result<Response, PageError> {
    let input = NewSite { name: form.name, address: form.address, time_zone: given(&form.time_zone) };
    submit(&headers, &form.csrf, "/app/admin/sites", sites::create(State(state), visitor.caller, Body(input))).await
}

#[derive(Deserialize)]
pub struct FarmersForm {
    csrf: String,
    /// User ids, separated by commas or spaces.
    farmers: String,
}

pub async fn admin_set_farmers(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FarmersForm>,
) -> Result<Response, PageError> {
    let farmers = form.farmers.split([',', ' ', '\n']).map(str::trim).filter(|f| !f.is_empty()).map(str::to_string).collect();
    submit(&headers, &form.csrf, "/app/admin/sites", sites::set_farmers(State(state), visitor.caller, Path(id), Body(Farmers { farmers })))
        .await
}

#[derive(Deserialize)]
pub struct LeadsPage {
    /// The leads' page to show (the `next` of the one before).
    leads: Option<String>,
}

pub async fn admin_agency(
    State(state): State<PortalState>,
    visitor: Visitor,
    Query(page): Query<LeadsPage>,
    Query(note): Query<Note>,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let missions = agency::list(State(state.clone()), visitor.caller.clone()).await?.0;
    let page = Params(PageQuery { cursor: page.leads, limit: Some(50) });
    let leads = agency::leads(State(state.clone()), visitor.caller.clone(), page).await?.0;
    let today = Utc::now().date_naive();
    render(
        &state,
        &visitor,
        None,
        "admin_agency.html",
        &note,
        json!({"missions": missions.missions, "leads": leads.leads, "next_leads": leads.next, "today": today, "currency": state.defaults.currency}),
    )
    .await
}

#[derive(Deserialize)]
pub struct MissionForm {
    csrf: String,
    client: String,
    title: String,
    sales: String,
    starts_on: NaiveDate,
    /// A decimal amount in the business's currency (`4500.00`).
    monthly_fee: String,
}

pub async fn admin_create_mission(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<MissionForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let fee = relance::domain::Money::parse_decimal(&form.monthly_fee.replace(',', "."), state.defaults.currency);
    let Ok(monthly_fee) = fee else { return Ok(back("/app/admin/agency", Err(ApiError::bad_request("monthly_fee: an amount")))) };
    let input = NewMission {
        client: form.client.trim().to_string(),
        title: form.title,
        sales: form.sales.trim().to_string(),
        freelancers: Vec::new(),
        starts_on: form.starts_on,
        ends_on: None,
        monthly_fee,
    };
    let result = agency::create(State(state), visitor.caller, Body(input)).await.map(|_| ());
    Ok(back("/app/admin/agency", result))
}

#[derive(Deserialize)]
pub struct LinkForm {
    csrf: String,
    invoice: String,
    mission: String,
}

/// Links an invoice (by our id) to a mission, or unlinks it (no mission chosen).
pub async fn admin_link_invoice(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Result<Response, PageError> {
    let mission = Some(form.mission.trim().to_string()).filter(|m| !m.is_empty());
    let change = admin::InvoiceChange { mission_id: Some(mission), disputed: None };
    let action = admin::change(State(state), visitor.caller, Path(form.invoice.trim().to_string()), Body(change));
    submit(&headers, &form.csrf, "/app/admin/agency", action).await
}

#[derive(Deserialize)]
pub struct LeadForm {
    csrf: String,
    status: String,
    commission: Option<String>,
    paid: Option<String>,
}

pub async fn admin_decide_lead(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<LeadForm>,
) -> Result<Response, PageError> {
    let status = serde_json::from_value(Value::String(form.status.clone())).ok();
    let decision = LeadDecision { status, commission: given(&form.commission), currency: None, commission_paid: form.paid.map(|_| true) };
    submit(&headers, &form.csrf, "/app/admin/agency", agency::decide(State(state), visitor.caller, Path(id), Body(decision))).await
}

/// A farmer (or an admin) cancels an event from the farm page: the registered are told.
pub async fn cancel_event(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    submit(&headers, &form.csrf, "/app/farm", community::cancel_event(State(state), visitor.caller, Path(id))).await
}

/// The export files, for a signed-in admin's browser (the API's routes take a bearer token).
/// The formal notice a final notice carried, from the customer's timeline.
pub async fn formal_notice(State(state): State<PortalState>, visitor: Visitor, Path(id): Path<String>) -> Result<Response, PageError> {
    Ok(crate::api::admin::formal_notice(State(state), visitor.caller, Path(id)).await?)
}

pub async fn admin_export(State(state): State<PortalState>, visitor: Visitor, Path(file): Path<String>) -> Result<Response, PageError> {
    let (state, caller) = (State(state), visitor.caller);
    let period = || Params(files::PeriodQuery { from: None, to: None });
    Ok(match file.as_str() {
        "customers.csv" => files::export_customers(state, caller).await?,
        "invoices.csv" => files::export_invoices(state, caller, period()).await?,
        "notifications.csv" => files::export_notifications(state, caller, period()).await?,
        _ => return Err(PageError::from(ApiError::not_found())),
    })
}
