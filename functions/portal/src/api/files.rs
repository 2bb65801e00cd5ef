//! Leaving Airtable takes one file: `POST /admin/import/customers` and
//! `POST /admin/import/invoices` take the CSV a spreadsheet saves, and
//! `GET /admin/export/{customers,invoices,notifications}.csv` give the same columns back.
//!
//! An import reads the whole file first ([`relance::ingest::import_file`] names each bad row by
//! line and column), reads the records its rows name in batches of 100, plans every row, and
//! only then writes: a file with a bad row writes nothing unless `skip_errors=true`, and
//! `dry_run=true` answers the plan without writing. Rows are written in transactions of up to
//! 96 items (each change with its audit entry), so the table's capacity goes to one batch at a
//! time; the import's own record ([`ImportRun`]) tells its progress and outcome to the import
//! page and the admin home.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, Utc};
use relance::api_error::ApiError;
use relance::domain::{
    Customer, CustomerId, ImportKind, ImportRun, ImportStatus, Invoice, LineError, Mission, Notification, import_run::KEPT_ERRORS,
};
use relance::ingest::import_file::{
    self, Change, CustomerRow, FileError, InvoiceContext, InvoiceRow, NewCustomer, Parsed, parse_customers, parse_invoices,
};
use relance::store::{Attempt, Key, Ledger, Record, WRITE_ATTEMPTS};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::input::{CsvFile, Params};
use crate::api::{audit, customers};
use crate::auth::{Caller, Role};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Answer what the import would do, writing nothing.
    pub dry_run: Option<bool>,
    /// Import the good rows of a file that has bad ones (by default nothing is written).
    pub skip_errors: Option<bool>,
}

/// What an import did, or (dry run) would do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Whether rows were written.
    pub imported: bool,
    /// Rows read (blank lines aside).
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Every row refused, by line (the header is line 1).
    pub errors: Vec<LineError>,
    /// The import's record, when rows were written (`GET /admin/imports`).
    pub import_id: Option<String>,
}

/// One kind of file row: how it names its record, and how a batch of rows is planned against
/// the table (one read per 100 rows for each kind of record the rows name).
trait FileRow: Sized + Sync {
    type Target: Record + Clone + Serialize + Send + Sync;
    const KIND: ImportKind;
    fn id(&self) -> &str;
    async fn plan(
        state: &PortalState,
        rows: &[&Self],
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Change<Self::Target>, LineError>>, ApiError>;

    /// The customer a written change made reachable (a new email or mobile), whose held
    /// notifications then go, as a change through the customer page sends them.
    fn made_reachable(_change: &Change<Self::Target>) -> Option<CustomerId> {
        None
    }
}

impl FileRow for CustomerRow {
    type Target = Customer;
    const KIND: ImportKind = ImportKind::Customers;
    fn id(&self) -> &str {
        self.id.as_str()
    }
    async fn plan(state: &PortalState, rows: &[&Self], now: DateTime<Utc>) -> Result<Vec<Result<Change<Customer>, LineError>>, ApiError> {
        let keys: Vec<Key> = rows.iter().map(|r| Key::customer(&r.id)).collect();
        let stored = state.store.get_many::<Customer>(&keys).await?;
        let defaults = NewCustomer { locale: state.defaults.locale.clone(), time_zone: state.defaults.time_zone };
        let settings = state.settings.current().await?;
        Ok(rows.iter().zip(&keys).map(|(row, key)| row.plan(stored.get(key), &defaults, &settings.ladders, now)).collect())
    }

    fn made_reachable(change: &Change<Customer>) -> Option<CustomerId> {
        match change {
            Change::Updated { before, after } if customers::newly_reachable(before, after) => Some(after.id.clone()),
            _ => None,
        }
    }
}

impl FileRow for InvoiceRow {
    type Target = Invoice;
    const KIND: ImportKind = ImportKind::Invoices;
    fn id(&self) -> &str {
        self.id.as_str()
    }
    async fn plan(state: &PortalState, rows: &[&Self], now: DateTime<Utc>) -> Result<Vec<Result<Change<Invoice>, LineError>>, ApiError> {
        // An invoice is found by our id alone (its customer might differ from the row's).
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let found = state.store.find_many_by_id::<Invoice>(&ids).await?;
        let invoice_keys: Vec<Key> = found.values().cloned().collect();
        let invoices = state.store.get_many::<Invoice>(&invoice_keys).await?;
        let customer_keys: Vec<Key> = rows.iter().map(|r| Key::customer(&r.customer_id)).collect();
        let customers = state.store.get_many::<Customer>(&customer_keys).await?;
        // A mission is the client's own, in the client's partition (as `PATCH /admin/invoices` checks).
        let mission_keys: Vec<Key> = rows
            .iter()
            .filter_map(|r| r.mission_id.as_ref()?.as_ref().map(|m| Key::of_customer::<Mission>(&r.customer_id, m.as_str())))
            .collect();
        let settings = state.settings.current().await?;
        let missions = if mission_keys.is_empty() { HashMap::new() } else { state.store.get_many::<Mission>(&mission_keys).await? };
        Ok(rows
            .iter()
            .map(|row| {
                let existing = found.get(row.id.as_str()).and_then(|key| invoices.get(key));
                let context = InvoiceContext {
                    customer: customers.get(&Key::customer(&row.customer_id)),
                    mission_known: row
                        .mission_id
                        .as_ref()
                        .and_then(Option::as_ref)
                        .is_some_and(|m| missions.contains_key(&Key::of_customer::<Mission>(&row.customer_id, m.as_str()))),
                    ladders: &settings.ladders,
                    now,
                };
                row.plan(existing, &context)
            })
            .collect())
    }
}

fn file_error(e: FileError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_file", e.to_string())
}

/// Rows read per batch: one `BatchGetItem` of each kind of record they name.
const READ_BATCH: usize = 100;
/// Items per transaction: DynamoDB's limit is 100; a row writes at most 3 (record, id
/// lookup, audit entry).
const WRITE_BATCH: usize = 96;
/// The import's record is brought up to date after this many transactions.
const PROGRESS_EVERY: usize = 10;
/// How long an import writes before it stops (the portal's Lambda timeout is 29 s).
const WRITE_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// One row's planned change.
struct Planned<'a, R: FileRow> {
    row: &'a R,
    change: Change<R::Target>,
}

/// Plans every row, 100 at a time.
async fn plan_all<'a, R: FileRow>(
    state: &PortalState,
    rows: &'a [R],
    now: DateTime<Utc>,
) -> Result<(Vec<Planned<'a, R>>, Vec<LineError>), ApiError> {
    let mut planned = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for batch in rows.chunks(READ_BATCH) {
        let batch: Vec<&R> = batch.iter().collect();
        for (row, change) in batch.iter().zip(R::plan(state, &batch, now).await?) {
            match change {
                Ok(change) => planned.push(Planned { row: *row, change }),
                Err(e) => errors.push(e),
            }
        }
    }
    Ok((planned, errors))
}

/// Imports `file` as a file of `kind` (the API's routes and the import page): 200 with what
/// was done (or, dry run, would be), 422 when rows have errors and nothing was written.
pub async fn run(
    state: &PortalState,
    caller: &Caller,
    query: &ImportQuery,
    kind: ImportKind,
    file: &[u8],
) -> Result<(StatusCode, ImportReport), ApiError> {
    caller.require_any(&[Role::Admin])?;
    match kind {
        ImportKind::Customers => {
            import(state, caller, query, parse_customers(file, Some(state.defaults.phone_country())).map_err(file_error)?).await
        }
        ImportKind::Invoices => import(state, caller, query, parse_invoices(file).map_err(file_error)?).await,
    }
}

async fn import<R: FileRow>(
    state: &PortalState,
    caller: &Caller,
    query: &ImportQuery,
    parsed: Parsed<R>,
) -> Result<(StatusCode, ImportReport), ApiError> {
    let now = Utc::now();
    let (planned, plan_errors) = plan_all(state, &parsed.rows, now).await?;
    // Each line refused while reading is a row too (at most one error per line).
    let rows = parsed.rows.len() + parsed.errors.len();
    let mut errors = parsed.errors;
    errors.extend(plan_errors);
    errors.sort_by_key(|e| e.line);
    let count = |f: fn(&Change<R::Target>) -> bool| planned.iter().filter(|p| f(&p.change)).count();
    let mut report = ImportReport {
        dry_run: query.dry_run.unwrap_or(false),
        imported: false,
        rows,
        created: count(|c| matches!(c, Change::Created(_))),
        updated: count(|c| matches!(c, Change::Updated { .. })),
        unchanged: count(|c| matches!(c, Change::Unchanged)),
        errors,
        import_id: None,
    };
    if report.dry_run {
        return Ok((StatusCode::OK, report));
    }
    if !report.errors.is_empty() && !query.skip_errors.unwrap_or(false) {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, report));
    }
    let mut run = ImportRun::start(R::KIND, &caller.user, now);
    run.rows = report.rows;
    run.unchanged = report.unchanged;
    run.error_count = report.errors.len();
    run.errors = report.errors.iter().take(KEPT_ERRORS).cloned().collect();
    save_run(state, &mut run).await?;
    report.import_id = Some(run.id.clone());
    let mut late_errors = Vec::new();
    match write_all(state, caller, &mut run, planned, &mut late_errors).await {
        Ok(()) => {
            run.status = if run.error_count > 0 { ImportStatus::DoneWithErrors } else { ImportStatus::Done };
            run.finished_at = Some(Utc::now());
            save_run(state, &mut run).await?;
            report.imported = true;
            (report.created, report.updated, report.unchanged) = (run.created, run.updated, run.unchanged);
            // Rows that another writer changed meanwhile, planned again and refused then.
            report.errors.extend(late_errors);
            report.errors.sort_by_key(|e| e.line);
            Ok((StatusCode::OK, report))
        }
        Err(e) => {
            run.status = ImportStatus::Failed;
            run.failure = Some(e.message().to_string());
            run.finished_at = Some(Utc::now());
            if let Err(store) = save_run(state, &mut run).await {
                tracing::error!(error = %store, import = %run.id, "the failed import could not be recorded as failed");
            }
            Err(e)
        }
    }
}

/// Writes the import's own record. Only this import writes it, so a version conflict can
/// only be its own earlier write, applied but answered as failed (a connection reset after
/// DynamoDB applied it): the stored version is taken and the record written again.
async fn save_run(state: &PortalState, run: &mut ImportRun) -> Result<(), ApiError> {
    for _ in 0..WRITE_ATTEMPTS {
        let result = if run.version == 0 { state.store.insert(run).await } else { state.store.update(run).await };
        match result {
            Err(relance::store::StoreError::Conflict(_)) => {
                let stored: Option<ImportRun> = state.store.get(&run.key()).await?;
                run.set_version(stored.map_or(0, |s| s.version));
            }
            done => return Ok(done?),
        }
    }
    Err(ApiError::unavailable("the import's record could not be saved; import the same file again"))
}

/// Writes the planned changes, a transaction at a time; a batch that lost a race to another
/// writer is planned again from fresh reads.
async fn write_all<R: FileRow>(
    state: &PortalState,
    caller: &Caller,
    run: &mut ImportRun,
    planned: Vec<Planned<'_, R>>,
    late_errors: &mut Vec<LineError>,
) -> Result<(), ApiError> {
    let mut changes: Vec<Planned<'_, R>> = planned.into_iter().filter(|p| !matches!(p.change, Change::Unchanged)).collect();
    let mut transactions = 0;
    let started = std::time::Instant::now();
    while !changes.is_empty() {
        // Stop cleanly well before the function's time limit (29 s): what is written stays
        // (each row is whole), and importing the same file again finishes it.
        if started.elapsed() > WRITE_BUDGET {
            return Err(ApiError::unavailable(format!(
                "stopped after {} rows to stay within the time limit; import the same file again to finish",
                run.created + run.updated
            )));
        }
        // As many rows as fit one transaction: the record and its audit entry, and for a new
        // record its id lookup when it has one (an invoice).
        let mut items = 0;
        let mut take = 0;
        for p in &changes {
            let cost = match &p.change {
                Change::Created(record) => 2 + usize::from(record.lookup_id().is_some()),
                _ => 2,
            };
            if items + cost > WRITE_BATCH {
                break;
            }
            items += cost;
            take += 1;
        }
        let mut batch: Vec<Planned<'_, R>> = changes.drain(..take).collect();
        // Customers the rows make reachable, as first planned: a transaction applied but
        // answered as failed is planned again as unchanged, and its customers are still owed
        // what was held for them (sending what is held is idempotent).
        let mut reachable: std::collections::BTreeSet<CustomerId> = batch.iter().filter_map(|p| R::made_reachable(&p.change)).collect();
        let mut written = false;
        for _ in 0..WRITE_ATTEMPTS {
            let now = Utc::now();
            let mut tx = state.store.transaction();
            let (mut created, mut updated) = (0, 0);
            for p in &mut batch {
                match &mut p.change {
                    Change::Created(record) => {
                        let mut entry = audit::entry(caller, p.row.id(), None, record, now)?;
                        tx.insert(record)?.insert(&mut entry)?;
                        created += 1;
                    }
                    Change::Updated { before, after } => {
                        let mut entry = audit::entry(caller, p.row.id(), Some(&*before), after, now)?;
                        tx.update(after)?.insert(&mut entry)?;
                        updated += 1;
                    }
                    Change::Unchanged => {}
                }
            }
            if let Attempt::Done(()) = Attempt::of(state.store.commit(tx).await)? {
                run.created += created;
                run.updated += updated;
                run.unchanged += batch.len() - created - updated;
                written = true;
                reachable.extend(batch.iter().filter_map(|p| R::made_reachable(&p.change)));
                for customer in &reachable {
                    send_held(state, customer, now).await;
                }
                break;
            }
            // Someone changed one of these records meanwhile: plan them again from what is stored.
            let rows: Vec<&R> = batch.iter().map(|p| p.row).collect();
            let mut again = Vec::new();
            for (row, change) in rows.iter().zip(R::plan(state, &rows, now).await?) {
                match change {
                    Ok(change) => again.push(Planned { row: *row, change }),
                    Err(e) => {
                        run.error_count += 1;
                        if run.errors.len() < KEPT_ERRORS {
                            run.errors.push(e.clone());
                        }
                        late_errors.push(e);
                    }
                }
            }
            batch = again;
        }
        if !written {
            return Err(ApiError::conflict("these records kept changing while the file was imported; import it again"));
        }
        run.written = run.created + run.updated + run.unchanged;
        transactions += 1;
        if transactions % PROGRESS_EVERY == 0 {
            save_run(state, run).await?;
        }
    }
    run.written = run.rows - run.error_count;
    Ok(())
}

/// Sends what was held for want of the contact details an imported row just gave, trying
/// again on a store failure (sending what is held is idempotent: a released notice names its
/// copy). Still failing, they stay held, in the follow-up list where a person sends them: the
/// rows are written and stay, and the import goes on.
async fn send_held(state: &PortalState, customer: &CustomerId, now: DateTime<Utc>) {
    let mut last = None;
    for _ in 0..WRITE_ATTEMPTS {
        match customers::send_held(state, customer, now).await {
            Ok(_) => return,
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        tracing::warn!(customer = %customer.as_str(), error = %e.message(), "held notifications not sent; they stay in the follow-up list");
    }
}

/// An import route's request: the role first, then the file (read only once the caller may
/// send it), then [`run`].
async fn receive(
    state: &PortalState,
    caller: &Caller,
    query: &ImportQuery,
    kind: ImportKind,
    request: Request,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    caller.require_any(&[Role::Admin])?;
    let CsvFile(file) = CsvFile::from_request(request, &()).await?;
    let (status, report) = run(state, caller, query, kind, &file).await?;
    Ok((status, Json(report)))
}

#[utoipa::path(post, path = "/admin/import/customers", tag = "admin", summary = "Import a customer file (CSV)",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "Columns: id,name,email,phone,locale,country,time_zone,business,tags,lists and any date:<field>; tags and lists separated by |",
        example = "id,name,email,tags\ncust-0001,Mme Martin,martin@example.org,b2b|vip\n"),
    responses((status = 200, body = ImportReport, description = "Imported, or the dry run's plan"),
        (status = 422, body = ImportReport, description = "Rows have errors: nothing was written")))]
pub async fn import_customers(
    State(state): State<PortalState>,
    caller: Caller,
    Params(query): Params<ImportQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    receive(&state, &caller, &query, ImportKind::Customers, request).await
}

#[utoipa::path(post, path = "/admin/import/invoices", tag = "admin", summary = "Import an invoice file (CSV)",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "Columns: id,customer_id,number,currency,amount_due,amount_paid,status,issued_at,due_date,mission_id",
        example = "id,customer_id,number,currency,amount_due,issued_at,due_date\ninv-0001,cust-0001,F-2026-001,EUR,120.00,2026-11-01,2026-11-30\n"),
    responses((status = 200, body = ImportReport, description = "Imported, or the dry run's plan"),
        (status = 422, body = ImportReport, description = "Rows have errors: nothing was written")))]
pub async fn import_invoices(
    State(state): State<PortalState>,
    caller: Caller,
    Params(query): Params<ImportQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    receive(&state, &caller, &query, ImportKind::Invoices, request).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRuns {
    /// Newest first.
    pub imports: Vec<ImportRun>,
}

#[utoipa::path(get, path = "/admin/imports", tag = "admin", summary = "Recent imports, their progress and outcome",
    responses((status = 200, body = ImportRuns)))]
pub async fn imports(State(state): State<PortalState>, caller: Caller) -> Result<Json<ImportRuns>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    Ok(Json(ImportRuns { imports: recent_imports(&state).await? }))
}

/// The 20 latest imports, newest first.
pub async fn recent_imports(state: &PortalState) -> Result<Vec<ImportRun>, ApiError> {
    Ok(state.store.list_latest::<ImportRun>(Key::IMPORTS, None, 20).await?.records)
}

/// A file to download.
fn csv(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

/// Every customer kept, oldest first (erased customers are kept only for the books: they are
/// not in the file, so importing it leaves them alone).
async fn all_customers(state: &PortalState) -> Result<Vec<Customer>, ApiError> {
    let mut customers = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.store.ledger_page::<Customer>(Ledger::CUSTOMERS, cursor.as_ref(), 100).await?;
        customers.extend(page.records.into_iter().filter(|c| c.deleted_at.is_none()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    customers.sort_by_key(|c| c.created_at);
    Ok(customers)
}

#[utoipa::path(get, path = "/admin/export/customers.csv", tag = "admin", summary = "Every customer, as the import reads them",
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export_customers(State(state): State<PortalState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Admin])?;
    Ok(csv("customers.csv", import_file::write_customers(&all_customers(&state).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The first day (UTC). By default: for invoices, the first of January this year; for
    /// notifications, the first of this month.
    #[param(example = "2026-11-01")]
    pub from: Option<NaiveDate>,
    /// The last day (UTC), by default today; less than a year after `from`.
    #[param(example = "2026-11-30")]
    pub to: Option<NaiveDate>,
}

impl PeriodQuery {
    /// The period's first and last instants (UTC), `from` defaulting to `default_from`
    /// and `to` to today, at most `max_months` long.
    fn instants(&self, default_from: NaiveDate, max_months: u32) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let from = self.from.unwrap_or(default_from);
        let to = self.to.unwrap_or_else(|| Utc::now().date_naive());
        if to < from {
            return Err(ApiError::bad_request("to: before from"));
        }
        if from.checked_add_months(Months::new(max_months)).is_none_or(|limit| to >= limit) {
            return Err(ApiError::bad_request(format!("to: at most {max_months} months after from")));
        }
        let start = from.and_time(NaiveTime::MIN).and_utc();
        // The ledger's upper bound leaves out records at the bound itself: the next midnight.
        let end = to.succ_opt().map_or(start, |next| next.and_time(NaiveTime::MIN).and_utc());
        Ok((start, end))
    }
}

/// The records of type `R` in the monthly ledger partitions (`partition` of a month's first
/// instant) between `start` and `end`: one query per month.
async fn by_month<R: Record>(
    state: &PortalState,
    partition: fn(DateTime<Utc>) -> String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<R>, ApiError> {
    let mut records = Vec::new();
    let mut month = start.date_naive().with_day(1).unwrap_or(start.date_naive());
    while month <= end.date_naive() {
        records.extend(state.store.ledger::<R>(&partition(month.and_time(NaiveTime::MIN).and_utc()), start, end).await?);
        month = month.checked_add_months(Months::new(1)).unwrap_or(NaiveDate::MAX);
    }
    Ok(records)
}

#[utoipa::path(get, path = "/admin/export/invoices.csv", tag = "admin", summary = "The invoices issued in a period, as the import reads them",
    params(PeriodQuery), responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export_invoices(
    State(state): State<PortalState>,
    caller: Caller,
    Params(period): Params<PeriodQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Admin])?;
    // By default this year's books, from the first of January; a file holds a year at most
    // (one ledger query per month).
    let today = Utc::now().date_naive();
    let new_year = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let (start, end) = period.instants(new_year, 12)?;
    let mut invoices: Vec<Invoice> = by_month(&state, Ledger::invoices, start, end).await?;
    invoices.sort_by(|a, b| (a.issued_at, a.id.as_str()).cmp(&(b.issued_at, b.id.as_str())));
    // A business customer's late-payment charges to today, when the owner turned them on:
    // their customers read in batches, only for the invoices still owed.
    let terms = state.settings.current().await?.settings.late_payment;
    let mut customers = HashMap::new();
    if terms.is_some() {
        let mut keys: Vec<Key> = invoices.iter().filter(|i| i.is_owed()).map(|i| Key::customer(&i.customer_id)).collect();
        keys.sort();
        keys.dedup();
        for batch in keys.chunks(100) {
            let read: HashMap<Key, Customer> = state.store.get_many(batch).await?;
            customers.extend(read.into_values().map(|c| (c.id.clone(), c)));
        }
    }
    let charges = |invoice: &Invoice| {
        let customer = customers.get(&invoice.customer_id)?;
        let today = Utc::now().with_timezone(&customer.time_zone).date_naive();
        relance::domain::charges_for(terms.as_ref(), customer, invoice, today)
    };
    Ok(csv("invoices.csv", import_file::write_invoices_with(&invoices, charges)))
}

#[utoipa::path(get, path = "/admin/export/notifications.csv", tag = "admin", summary = "What was sent in a period: each notification, its channel and outcome",
    params(PeriodQuery), responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export_notifications(
    State(state): State<PortalState>,
    caller: Caller,
    Params(period): Params<PeriodQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let today = Utc::now().date_naive();
    let (start, end) = period.instants(today.with_day(1).unwrap_or(today), 12)?;
    let notes: Vec<Notification> = by_month(&state, Ledger::sent, start, end).await?;
    Ok(csv("notifications.csv", import_file::write_notifications(&notes)))
}
