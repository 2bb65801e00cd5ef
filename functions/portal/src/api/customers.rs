//! The customer file an admin keeps: `GET /admin/customers` (search and filters over every
//! customer, newest first, through the ledger index), `POST /admin/customers`,
//! `GET /admin/customers/{id}` (with the timeline: every invoice, payment, card,
//! subscription and notification, newest first) and `PATCH /admin/customers/{id}`.
//!
//! A change of a date, a tag or a list reschedules the customer's date rules; a new email or
//! mobile on a customer whose notifications were held for want of one sends them again, once.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use relance::api_error::ApiError;
use relance::domain::time::parse_time_zone;
use relance::domain::*;
use relance::schedule::decide;
use relance::store::{Attempt, Key, Ledger, Record, until_done};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::audit;
use crate::api::input::{Body, Params, text};
use crate::api::me::PageQuery;
use crate::auth::{Caller, Role};

/// A customer as the back office sees and edits it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminCustomer {
    pub id: CustomerId,
    /// The id the business's own files gave it (an import's `id` column).
    pub external_id: Option<String>,
    pub name: String,
    pub email: Option<Email>,
    /// The address bounced or complained: nothing more goes to it.
    pub email_undeliverable: bool,
    pub phone: Option<PhoneE164>,
    pub locale: Locale,
    /// An IANA time zone.
    pub time_zone: String,
    pub business: bool,
    pub tags: BTreeSet<String>,
    pub lists: BTreeSet<String>,
    /// The customer's own dates, by field (`lease_start`), for date rules.
    pub dates: BTreeMap<String, NaiveDate>,
    /// No reminder of any kind goes while set.
    pub reminders_paused: bool,
    pub opt_outs: OptOuts,
    pub created_at: DateTime<Utc>,
    /// Erased (GDPR) or deleted at the provider: kept for the books, never reminded.
    pub erased: bool,
}

impl AdminCustomer {
    fn of(c: &Customer) -> AdminCustomer {
        AdminCustomer {
            id: c.id.clone(),
            external_id: c.external_id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            email_undeliverable: c.email_undeliverable,
            phone: c.phone.clone(),
            locale: c.locale.clone(),
            time_zone: c.time_zone.name().to_string(),
            business: c.business,
            tags: c.tags.clone(),
            lists: c.lists.clone(),
            dates: c.custom_dates.clone(),
            reminders_paused: c.reminders_paused,
            opt_outs: c.opt_outs.clone(),
            created_at: c.created_at,
            erased: c.deleted_at.is_some(),
        }
    }
}

/// What is owed and what comes next, from the customer's invoices.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Standing {
    /// Still owed, per currency (none when nothing is).
    pub balance_owed: Vec<Money>,
    /// An owed invoice is past its due date.
    pub overdue: bool,
    /// When the scan next looks at one of the customer's records (a reminder may go then).
    pub next_reminder: Option<DateTime<Utc>>,
}

impl Standing {
    fn of(customer: &Customer, invoices: &[Invoice], today: NaiveDate) -> Standing {
        let mut owed: BTreeMap<Currency, i64> = BTreeMap::new();
        for invoice in invoices.iter().filter(|i| i.is_owed()) {
            *owed.entry(invoice.currency()).or_default() += invoice.balance().minor_units();
        }
        let next = invoices.iter().filter_map(|i| i.follow_up.next_action_at).chain(customer.follow_up.next_action_at).min();
        Standing {
            balance_owed: owed.into_iter().filter(|(_, minor)| *minor > 0).map(|(c, minor)| Money::from_minor(minor, c)).collect(),
            overdue: invoices.iter().any(|i| i.is_owed() && i.due_date < today),
            next_reminder: if customer.reminders_paused { None } else { next },
        }
    }
}

/// One line of the customer list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerLine {
    pub customer: AdminCustomer,
    pub standing: Standing,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    /// Newest first. A page may hold fewer than `limit` lines (those the filters leave out);
    /// `next` continues.
    pub customers: Vec<CustomerLine>,
    pub next: Option<String>,
}

/// Which customers: the ones a person needs to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// An owed invoice is past due.
    Overdue,
    /// Reminders paused.
    Paused,
    /// A notification waits for contact details.
    Held,
    /// The email address bounced.
    Bounced,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Part of a name, an email, a phone number or an invoice number (case does not matter).
    pub q: Option<String>,
    pub tag: Option<String>,
    pub list: Option<String>,
    #[param(inline)]
    pub status: Option<CustomerStatus>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Customers read per page (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
}

/// Does `needle` (lower case) appear in the customer's name, email, phone or an invoice number?
fn matches_search(customer: &Customer, invoices: &[Invoice], needle: &str) -> bool {
    // A national number (06 12…) is found in its E.164 form (+336 12…): its leading 0 dropped.
    let digits: String = needle.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    customer.name.to_lowercase().contains(needle)
        || customer.email.as_ref().is_some_and(|e| e.as_str().to_lowercase().contains(needle))
        || (digits.len() >= 4 && customer.phone.as_ref().is_some_and(|p| p.as_str().contains(digits)))
        || invoices.iter().any(|i| i.number.as_str().to_lowercase().contains(needle))
}

#[utoipa::path(get, path = "/admin/customers", tag = "admin", summary = "Find customers: search, tags, lists, who needs a look",
    params(CustomerQuery), responses((status = 200, body = CustomerList)))]
pub async fn list(
    State(state): State<PortalState>,
    caller: Caller,
    Params(query): Params<CustomerQuery>,
) -> Result<Json<CustomerList>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let page = PageQuery { cursor: query.cursor.clone(), limit: query.limit };
    let listed = state.store.ledger_page::<Customer>(Ledger::CUSTOMERS, page.cursor()?.as_ref(), page.limit()).await?;
    let needle = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_lowercase);
    let today = Utc::now().date_naive();
    let mut customers = Vec::new();
    for customer in listed.records {
        if query.tag.as_ref().is_some_and(|t| !customer.tags.contains(t))
            || query.list.as_ref().is_some_and(|l| !customer.lists.contains(l))
        {
            continue;
        }
        let partition = Key::customer_partition(&customer.id);
        let invoices: Vec<Invoice> = state.store.list_all(&partition).await?;
        if needle.as_deref().is_some_and(|n| !matches_search(&customer, &invoices, n)) {
            continue;
        }
        let standing = Standing::of(&customer, &invoices, today);
        let keep = match query.status {
            None => true,
            Some(CustomerStatus::Overdue) => standing.overdue,
            Some(CustomerStatus::Paused) => customer.reminders_paused,
            Some(CustomerStatus::Bounced) => customer.email_undeliverable,
            Some(CustomerStatus::Held) => {
                state.store.list_all::<Notification>(&partition).await?.iter().any(|n| n.status == NotificationStatus::Held)
            }
        };
        if keep {
            customers.push(CustomerLine { customer: AdminCustomer::of(&customer), standing });
        }
    }
    Ok(Json(CustomerList { customers, next: listed.next.map(|c| c.as_str().to_string()) }))
}

/// What happened, in the customer's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    InvoiceIssued,
    InvoicePaid,
    Payment,
    PaymentFailed,
    Refund,
    SubscriptionStarted,
    SubscriptionEnded,
    CardAdded,
    CardRemoved,
    Notification,
    /// A provider told us something about this customer (Stripe's `invoice.paid`).
    ProviderDelivery,
}

/// One thing that happened, with what a person asks about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    /// Our id of the record it is about.
    pub record: String,
    /// What a clerk reads: an invoice number and status, a plan, a card, a message kind.
    pub summary: String,
    pub amount: Option<Money>,
    /// For a notification: the channel it went (or was to go) by.
    pub channel: Option<Channel>,
    /// For a notification: sent, held, failed, skipped…
    pub status: Option<NotificationStatus>,
    /// Why: a held notification's reason, a failure's error, a declined card's reason.
    pub reason: Option<String>,
    /// For a sent email: delivered, bounced or complained, as SES reported it (none yet, or
    /// for a text message, whose delivery SNS does not report back).
    pub outcome: Option<EmailOutcomeKind>,
    /// For a final notice that carried a formal notice: its file name, the copy kept at
    /// `GET /admin/notifications/{record}/formal-notice`.
    pub formal_notice: Option<String>,
}

/// A customer with their standing and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerFile {
    pub customer: AdminCustomer,
    pub standing: Standing,
    /// Newest first.
    pub timeline: Vec<TimelineEntry>,
}

fn entry(at: DateTime<Utc>, kind: TimelineKind, record: &str, summary: String) -> TimelineEntry {
    TimelineEntry {
        at,
        kind,
        record: record.to_string(),
        summary,
        amount: None,
        channel: None,
        status: None,
        reason: None,
        outcome: None,
        formal_notice: None,
    }
}

/// The customer's history from their partition's records, newest first.
fn timeline(
    invoices: &[Invoice],
    payments: &[Payment],
    subscriptions: &[Subscription],
    cards: &[PaymentMethod],
    notes: &[Notification],
    deliveries: &[ProviderDelivery],
) -> Vec<TimelineEntry> {
    let mut lines = Vec::new();
    for d in deliveries {
        let summary = format!("{} {}: {}", d.provider, d.kind, d.changed.join(", "));
        lines.push(entry(d.received_at, TimelineKind::ProviderDelivery, &d.delivery_id, summary));
    }
    for i in invoices {
        let status = serde_json::to_value(i.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        lines.push(TimelineEntry {
            amount: Some(i.amount_due),
            ..entry(i.issued_at, TimelineKind::InvoiceIssued, i.id.as_str(), format!("{} ({status})", i.number))
        });
        if let Some(paid_at) = i.paid_at {
            lines.push(TimelineEntry {
                amount: Some(i.amount_paid),
                ..entry(paid_at, TimelineKind::InvoicePaid, i.id.as_str(), i.number.to_string())
            });
        }
    }
    for p in payments {
        let failed = p.failure_reason.is_some();
        let kind = if failed { TimelineKind::PaymentFailed } else { TimelineKind::Payment };
        let about = p.invoice_id.as_ref().map_or_else(String::new, |i| format!("invoice {i}"));
        lines.push(TimelineEntry {
            amount: Some(p.amount),
            reason: p.failure_reason.clone(),
            ..entry(p.occurred_at, kind, p.id.as_str(), about)
        });
        for r in &p.refunds {
            lines.push(TimelineEntry {
                amount: Some(r.amount),
                ..entry(r.refunded_at, TimelineKind::Refund, r.id.as_str(), format!("payment {}", p.id))
            });
        }
    }
    for s in subscriptions {
        let started = s.started_at.unwrap_or(s.current_period_start);
        lines.push(TimelineEntry {
            amount: Some(s.price),
            ..entry(started, TimelineKind::SubscriptionStarted, s.id.as_str(), s.plan.clone())
        });
        if let Some(ended) = s.ended_at {
            lines.push(entry(ended, TimelineKind::SubscriptionEnded, s.id.as_str(), s.plan.clone()));
        }
    }
    for c in cards {
        let card = format!("{} ••{} {:02}/{}", c.brand, c.last4.as_str(), c.expiry.month(), c.expiry.year());
        let kind = if c.removed { TimelineKind::CardRemoved } else { TimelineKind::CardAdded };
        lines.push(entry(c.added_at, kind, c.id.as_str(), card));
    }
    for n in notes {
        let kind = serde_json::to_value(n.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let (channel, held) = match &n.channel {
            Some(ChannelDecision::Send { channel }) => (Some(*channel), None),
            Some(ChannelDecision::Held { reason }) => (None, Some(reason.clone())),
            None => (None, None),
        };
        lines.push(TimelineEntry {
            amount: n.amount,
            channel,
            status: Some(n.status),
            // A message that went with the default text because the owner's failed says so.
            reason: held.or_else(|| n.error.clone()).or_else(|| n.template_fallback.as_ref().map(|e| format!("default text sent: {e}"))),
            outcome: n.email_outcome.map(|o| o.outcome),
            formal_notice: n.formal_notice.clone(),
            ..entry(n.sent_at.unwrap_or(n.created_at), TimelineKind::Notification, n.id.as_str(), format!("{kind}, step {}", n.step))
        });
    }
    lines.sort_by_key(|line| std::cmp::Reverse(line.at));
    lines
}

async fn customer(state: &PortalState, id: &str) -> Result<Customer, ApiError> {
    let id = CustomerId::parse(id).map_err(|_| ApiError::not_found())?;
    state.store.get(&Key::customer(&id)).await?.ok_or_else(ApiError::not_found)
}

/// The customer's file from one Query of their partition (the customer and every record the
/// timeline shows, filtered on type), whatever the number of invoices and notices.
async fn file_of(state: &PortalState, id: &CustomerId) -> Result<Option<CustomerFile>, ApiError> {
    let key = Key::customer(id);
    let shown =
        [Customer::TYPE, Invoice::TYPE, Payment::TYPE, Subscription::TYPE, PaymentMethod::TYPE, Notification::TYPE, ProviderDelivery::TYPE];
    let partition = state.store.partition(&key.pk, &shown).await?;
    CustomerFile::of(&partition, id, Utc::now().date_naive())
}

impl CustomerFile {
    /// The file of customer `id` from their partition's records, as of `today`; none when the
    /// partition holds no customer record.
    pub fn of(partition: &relance::store::Partition, id: &CustomerId, today: chrono::NaiveDate) -> Result<Option<CustomerFile>, ApiError> {
        let Some(customer) = partition.record::<Customer>(&Key::customer(id))? else { return Ok(None) };
        let invoices: Vec<Invoice> = partition.records()?;
        let timeline = timeline(
            &invoices,
            &partition.records()?,
            &partition.records()?,
            &partition.records()?,
            &partition.records()?,
            &partition.records()?,
        );
        Ok(Some(CustomerFile { standing: Standing::of(&customer, &invoices, today), timeline, customer: AdminCustomer::of(&customer) }))
    }
}

/// The file of a customer just written.
async fn file(state: &PortalState, customer: Customer) -> Result<CustomerFile, ApiError> {
    file_of(state, &customer.id).await?.ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/admin/customers/{id}", tag = "admin", summary = "A customer's file: details, standing, timeline",
    params(("id" = String, Path, description = "Our id for the customer")), responses((status = 200, body = CustomerFile)))]
pub async fn get(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<CustomerFile>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let id = CustomerId::parse(&id).map_err(|_| ApiError::not_found())?;
    Ok(Json(file_of(&state, &id).await?.ok_or_else(ApiError::not_found)?))
}

/// A customer's details, to create or (every field optional) to change. In a change, `null`
/// removes an email, a phone or a date.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Mme Martin", "email": "martin@example.org", "phone": "06 12 34 56 78", "tags": ["b2b"],
    "lists": ["Clients"], "dates": {"lease_start": "2026-09-01"}}))]
pub struct CustomerDetails {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub name: Option<String>,
    /// The id in the business's own files.
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "crate::api::input::present")]
    #[schema(value_type = Option<String>, format = Email, nullable)]
    pub email: Option<Option<String>>,
    /// E.164 (`+33612345678`) or a national number of the customer's country.
    #[serde(default, deserialize_with = "crate::api::input::present")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    #[schema(value_type = Option<Locale>)]
    pub locale: Option<String>,
    /// Where a national phone number is read (`FR`); by default the region of the customer's
    /// locale, else of the business's (a number in international form needs none).
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub country: Option<String>,
    /// An IANA zone (`Europe/Paris`).
    pub time_zone: Option<String>,
    pub business: Option<bool>,
    pub tags: Option<BTreeSet<String>>,
    pub lists: Option<BTreeSet<String>>,
    /// Dates by field; `null` removes one.
    #[schema(value_type = Option<BTreeMap<String, Option<NaiveDate>>>)]
    pub dates: Option<BTreeMap<String, Option<NaiveDate>>>,
    pub reminders_paused: Option<bool>,
}

/// A tag, a list or a date field, by the rule every input shares.
fn label(field: &str, value: &str) -> Result<String, ApiError> {
    relance::domain::label(value).map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

fn labels(field: &str, values: &BTreeSet<String>) -> Result<BTreeSet<String>, ApiError> {
    relance::domain::labels(values.iter().map(String::as_str)).map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

impl CustomerDetails {
    /// Applies the details to `customer`, or says which field is wrong (nothing is applied).
    fn apply(&self, customer: &mut Customer, business_country: Option<&str>) -> Result<(), ApiError> {
        let mut changed = customer.clone();
        fn bad(field: &'static str) -> impl Fn(ContactError) -> ApiError {
            move |e| ApiError::bad_request(format!("{field}: {e}"))
        }
        if let Some(name) = &self.name {
            changed.name = text("name", name, 200)?;
        }
        if let Some(external) = &self.external_id {
            let external = text("external_id", external, 200)?;
            changed.external_id = Some(external);
        }
        if let Some(locale) = &self.locale {
            changed.locale = Locale::parse(locale).map_err(bad("locale"))?;
        }
        if let Some(zone) = &self.time_zone {
            changed.time_zone = parse_time_zone(zone).map_err(|e| ApiError::bad_request(format!("time_zone: {e}")))?;
        }
        if let Some(email) = &self.email {
            changed.set_email(email.as_deref().map(Email::parse).transpose().map_err(bad("email"))?);
        }
        if let Some(phone) = &self.phone {
            let country = self
                .country
                .clone()
                .or_else(|| changed.locale.region().map(str::to_string))
                .or_else(|| business_country.map(str::to_string))
                .map(|c| c.to_ascii_uppercase());
            changed.phone = phone.as_deref().map(|p| PhoneE164::parse(p, country.as_deref())).transpose().map_err(bad("phone"))?;
        }
        if let Some(business) = self.business {
            changed.business = business;
        }
        if let Some(tags) = &self.tags {
            changed.tags = labels("tags", tags)?;
        }
        if let Some(lists) = &self.lists {
            changed.lists = labels("lists", lists)?;
        }
        for (field, date) in self.dates.iter().flatten() {
            let field = label("dates", field)?;
            match date {
                Some(date) => changed.custom_dates.insert(field, *date),
                None => changed.custom_dates.remove(&field),
            };
        }
        if let Some(paused) = self.reminders_paused {
            changed.reminders_paused = paused;
        }
        *customer = changed;
        Ok(())
    }
}

/// What the date rules read changed: they are planned again from `now`.
fn reschedule_date_rules(before: Option<&Customer>, after: &mut Customer, ladders: &relance::schedule::Ladders, now: DateTime<Utc>) {
    let read = |c: &Customer| (c.custom_dates.clone(), c.tags.clone(), c.lists.clone(), c.time_zone, c.business);
    if before.is_none_or(|b| read(b) != read(after)) {
        after.follow_up.next_action_at = decide::next_date_rule(after, ladders, now);
    }
}

#[utoipa::path(post, path = "/admin/customers", tag = "admin", summary = "Add a customer", request_body = CustomerDetails,
    responses((status = 201, body = CustomerFile)))]
pub async fn create(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<CustomerDetails>,
) -> Result<(StatusCode, Json<CustomerFile>), ApiError> {
    caller.require_any(&[Role::Admin])?;
    let name = input.name.as_deref().ok_or_else(|| ApiError::bad_request("name: required"))?;
    let now = Utc::now();
    let mut customer =
        Customer::new(CustomerId::generate(), text("name", name, 200)?, state.defaults.locale.clone(), state.defaults.time_zone, now);
    input.apply(&mut customer, Some(state.defaults.phone_country()))?;
    reschedule_date_rules(None, &mut customer, &state.settings.current().await?.ladders, now);
    let id = customer.id.clone();
    state.store.commit(audit::creation(&state, &caller, id.as_str(), &mut customer, now)?).await?;
    Ok((StatusCode::CREATED, Json(file(&state, customer).await?)))
}

/// The change gave the customer an email or a mobile they did not have (an address known to
/// bounce does not count).
pub fn newly_reachable(before: &Customer, after: &Customer) -> bool {
    (after.email.is_some() && !after.email_undeliverable && before.email != after.email)
        || (after.phone.is_some() && before.phone != after.phone)
}

/// Held notifications released per transaction: each is three writes (the copy, its id
/// lookup, the original naming it), within DynamoDB's 100 items.
const HELD_PER_TRANSACTION: usize = 30;

/// What was held for want of contact details goes now, once: each held notification gets a
/// copy for dispatch, and names it, which takes it out of the follow-up list (so a second
/// call finds nothing to send). Answers how many. On an error some may stay held: they are
/// still in the follow-up list, where a person sends them.
pub async fn send_held(state: &PortalState, customer: &CustomerId, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let notes: Vec<Notification> = state.store.list_all(&Key::customer_partition(customer)).await?;
    let held: Vec<Notification> = notes.into_iter().filter(|n| n.status == NotificationStatus::Held && n.resent_as.is_none()).collect();
    let mut sent = 0;
    for chunk in held.chunks(HELD_PER_TRANSACTION) {
        let mut tx = state.store.transaction();
        for held in chunk {
            let mut held = held.clone();
            let copy_id = held.id.resend(now).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut copy = held.copy_for_resend(copy_id, now);
            held.superseded_by(&copy.id).map_err(|e| ApiError::conflict(e.to_string()))?;
            held.resent_as = Some(copy.id.clone());
            tx.insert(&mut copy)?.update(&mut held)?;
        }
        state.store.commit(tx).await?;
        sent += chunk.len();
    }
    Ok(sent)
}

#[utoipa::path(patch, path = "/admin/customers/{id}", tag = "admin", summary = "Change a customer: contact, language, tags, lists, dates, pause",
    params(("id" = String, Path, description = "Our id for the customer")), request_body = CustomerDetails,
    responses((status = 200, body = CustomerFile)))]
pub async fn update(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<CustomerDetails>,
) -> Result<Json<CustomerFile>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let (state_ref, caller, input, id) = (&state, &caller, &input, &id);
    let saved = until_done(|_| async move {
        let state = state_ref;
        let before = customer(state, id).await?;
        if before.deleted_at.is_some() {
            return Err(ApiError::conflict_because("erased", "this customer was erased; their details cannot be set again"));
        }
        let mut after = before.clone();
        input.apply(&mut after, Some(state.defaults.phone_country()))?;
        let now = Utc::now();
        reschedule_date_rules(Some(&before), &mut after, &state.settings.current().await?.ladders, now);
        if after == before {
            return Ok(Attempt::Done((after, false)));
        }
        let tx = audit::change(state, caller, before.id.as_str(), &before, &mut after, now)?;
        let reachable = newly_reachable(&before, &after);
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| (after, reachable)))
    })
    .await?;
    let (customer, reachable) = saved.ok_or_else(|| ApiError::conflict("changed meanwhile; read it again and retry"))?;
    // New contact details: what was held for want of them goes now, once.
    if reachable && let Err(e) = send_held(&state, &customer.id, Utc::now()).await {
        tracing::warn!(customer = %customer.id.as_str(), error = %e.message(), "held notifications not sent; they stay in the follow-up list");
    }
    Ok(Json(file(&state, customer).await?))
}
