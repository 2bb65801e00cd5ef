//! The Holded pull import: contacts and invoices read from Holded's REST API and applied
//! like any delivery, so they merge by Holded's ids into our customers and invoices.
//!
//! Holded's list endpoints are paginated with `?page=N` and an empty array marks the end.
//! Each contact and each document becomes one delivery whose id is the digest of what Holded
//! returned for it, so an unchanged one costs one refused idempotency claim on the next run,
//! and a changed one is applied again.
//!
//! Holded's document list filters by document date (`starttmp`, `endtmp`) and by payment
//! state (`paid`: 0 not paid, 1 paid, 2 partly paid), not by when a document last changed.
//! So a run after the first is incremental by what reminders act on: the documents dated
//! since the last run (new ones), and every document not paid or partly paid (those whose
//! balance moves). A document we held unpaid that is in neither list was paid or removed
//! since: it is read alone (`GET /documents/invoice/{id}`), and one Holded no longer has (a
//! deleted or cancelled invoice answers 404) is void and leaves the ladder. A full pull (the
//! first run, the daily schedule, or `"full": true`) reads every document. What was unpaid
//! is kept in one record ([`HoldedSync`]) between runs.
//!
//! Contacts have no such filter and are read whole; a supplier or creditor contact with no
//! invoice of ours is not a customer and is left out.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::{Ingest, IngestError, Mode, Outcome};
use crate::domain::{InvoiceStatus, Provider, ProviderRef};
use crate::facts::{Delivery, Fact};
use crate::providers::{body_digest, holded};
use crate::store::{Key, Record, StoreError};

/// How far before the last run the next one looks for new documents: a document may be
/// dated a day or two back when it is made (and clocks differ).
const NEW_DOCUMENTS_MARGIN_DAYS: i64 = 3;

/// What the last Holded pull left: when it ran, and which documents were still owed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldedSync {
    pub pulled_at: Option<DateTime<Utc>>,
    pub unpaid: BTreeSet<String>,
    #[serde(default)]
    pub version: u64,
}

impl Record for HoldedSync {
    const TYPE: &'static str = "HoldedSync";
    const SK_PREFIX: &'static str = "HOLDED#SYNC";
    fn key(&self) -> Key {
        Key { pk: Key::IMPORTS.into(), sk: Self::SK_PREFIX.into() }
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

/// A safety stop for a misbehaving pager (Holded pages are 500 documents).
const MAX_PAGES: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("Holded refused the API key (HTTP {0})")]
    Unauthorized(u16),
    #[error("Holded answered HTTP {status} for {path}")]
    Http { status: u16, path: String },
    #[error("cannot reach Holded: {0}")]
    Unreachable(String),
    #[error("Holded's answer for {path} is not a JSON array")]
    NotAList { path: String },
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl ImportError {
    /// A stable name for the kind of failure (Lambda's `errorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            ImportError::Unauthorized(_) => "HoldedUnauthorized",
            ImportError::Http { .. } => "HoldedHttpError",
            ImportError::Unreachable(_) => "HoldedUnreachable",
            ImportError::NotAList { .. } => "HoldedUnreadable",
            ImportError::Ingest(IngestError::Store(e)) => e.error_type(),
            ImportError::Ingest(IngestError::Contended) => "StoreContended",
        }
    }
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> ImportError {
        ImportError::Ingest(IngestError::Store(e))
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub contacts: usize,
    pub invoices: usize,
    pub applied: usize,
    pub unchanged: usize,
    /// Documents that could not be read, by Holded id, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Lists where Holded answered a page already seen (it ignored `page`): read up to there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeated_pages: Vec<String>,
    /// Whether every document was read, or only the new and the unpaid ones.
    pub full: bool,
    /// Documents we held unpaid that Holded no longer has: void, out of the ladder.
    pub withdrawn: usize,
    /// Contacts left out: suppliers and creditors with no invoice of ours.
    pub not_customers: usize,
}

/// A list as read: its items, each once, and whether the pager repeated itself.
struct Listed {
    items: Vec<Value>,
    repeated: bool,
}

#[derive(Clone)]
pub struct HoldedClient {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl HoldedClient {
    /// `base_url` is [`crate::config::HOLDED_API_URL`] in production (the `HOLDED_API_URL`
    /// setting overrides it, for a stand-in).
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> HoldedClient {
        HoldedClient { http: crate::http::https_client(), base_url: base_url.into(), api_key: api_key.into() }
    }

    /// Every item of a paginated list. A page holding only items already read means Holded
    /// ignored `page` (it would answer the same page ten thousand times): the list stops there.
    async fn list(&self, path: &str, filters: &[(&str, String)]) -> Result<Listed, ImportError> {
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page in 1..=MAX_PAGES {
            let mut query: Vec<(&str, String)> = filters.to_vec();
            query.push(("page", page.to_string()));
            let Some(value) = self.get(path, &query).await? else { return Err(ImportError::Http { status: 404, path: path.to_string() }) };
            let Value::Array(batch) = value else { return Err(ImportError::NotAList { path: path.to_string() }) };
            if batch.is_empty() {
                break;
            }
            // Items without an id cannot be told apart: they count as new.
            let fresh: Vec<Value> = batch
                .into_iter()
                .filter(|item| item.get("id").and_then(Value::as_str).is_none_or(|id| seen.insert(id.to_string())))
                .collect();
            if fresh.is_empty() {
                tracing::warn!(path, page, "Holded answered a page already read: it ignores `page`; the list stops here");
                return Ok(Listed { items, repeated: true });
            }
            items.extend(fresh);
        }
        Ok(Listed { items, repeated: false })
    }

    /// The JSON answer to `GET {path}`, or None for a 404.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Option<Value>, ImportError> {
        let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
        let response = self
            .http
            .get(&url)
            .query(query)
            .header("key", &self.api_key)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| ImportError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            return Err(ImportError::Unauthorized(status));
        }
        if status == 404 {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(ImportError::Http { status, path: path.to_string() });
        }
        response.json().await.map(Some).map_err(|_| ImportError::NotAList { path: path.to_string() })
    }

    /// One invoice document; None when Holded no longer has it.
    async fn document(&self, id: &str) -> Result<Option<Value>, ImportError> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get(&format!("/documents/invoice/{id}"), &[]).await
    }
}

/// The documents to read this run: all of them, or the new and the unpaid ones (see the
/// module's notes). Answers the documents, each once, and whether a pager repeated itself.
async fn documents(client: &HoldedClient, since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<Listed, ImportError> {
    const PATH: &str = "/documents/invoice";
    let Some(since) = since else { return client.list(PATH, &[]).await };
    let window = [("starttmp", since.timestamp().to_string()), ("endtmp", (now + Duration::days(1)).timestamp().to_string())];
    let mut listed = Listed { items: Vec::new(), repeated: false };
    let mut seen = std::collections::HashSet::new();
    for filters in [&window[..], &[("paid", "0".to_string())], &[("paid", "2".to_string())]] {
        let part = client.list(PATH, filters).await?;
        listed.repeated |= part.repeated;
        let fresh = part.items.into_iter().filter(|d| d.get("id").and_then(Value::as_str).is_none_or(|id| seen.insert(id.to_string())));
        listed.items.extend(fresh);
    }
    Ok(listed)
}

/// Imports contacts and invoices: every one (`full`, or the first run), else the new and the
/// unpaid ones; `now` stamps the facts (Holded's state as of now).
pub async fn import(ingest: &Ingest, client: &HoldedClient, now: DateTime<Utc>, full: bool) -> Result<ImportSummary, ImportError> {
    let store = ingest.store();
    let mut sync = store.get::<HoldedSync>(&HoldedSync { pulled_at: None, unpaid: BTreeSet::new(), version: 0 }.key()).await?;
    let since = sync.as_ref().and_then(|s| s.pulled_at).filter(|_| !full).map(|at| at - Duration::days(NEW_DOCUMENTS_MARGIN_DAYS));
    let (contacts, listed) = (client.list("/contacts", &[]).await?, documents(client, since, now).await?);
    let repeated_pages = [("/contacts", &contacts), ("/documents/invoice", &listed)]
        .iter()
        .filter(|(_, listed)| listed.repeated)
        .map(|(path, _)| path.to_string())
        .collect();
    let (contacts, mut documents) = (contacts.items, listed.items);
    // Owed at the last run and in no list now: paid or removed since. Each is read alone.
    let listed_ids: BTreeSet<String> = documents.iter().filter_map(|d| d.get("id").and_then(Value::as_str).map(str::to_string)).collect();
    let mut withdrawn = Vec::new();
    let held_unpaid = sync.as_ref().map(|s| s.unpaid.clone()).unwrap_or_default();
    let mut unreadable = Vec::new();
    for id in held_unpaid.difference(&listed_ids) {
        match client.document(id).await? {
            Some(document) if document.get("id").and_then(Value::as_str) == Some(id.as_str()) => documents.push(document),
            // Not the document asked for: kept as unpaid, to be asked about again.
            Some(_) => unreadable.push((id.clone(), "Holded answered another document".to_string())),
            None => withdrawn.push(id.clone()),
        }
    }
    let mut summary = ImportSummary {
        contacts: contacts.len(),
        invoices: documents.len(),
        repeated_pages,
        full: since.is_none(),
        withdrawn: withdrawn.len(),
        skipped: unreadable,
        ..ImportSummary::default()
    };
    let mut unpaid = BTreeSet::new();
    // Each contact is its own delivery, news about the customer: a customer with no invoice
    // yet is still one (date rules, the member space, the next invoice). A supplier or a
    // creditor is not, unless this run bills them.
    let billed: std::collections::HashSet<&str> = documents.iter().filter_map(|d| d.get("contact").and_then(Value::as_str)).collect();
    for contact in &contacts {
        let id = contact.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
        if !holded::may_be_a_customer(contact) && !billed.contains(id.as_str()) {
            summary.not_customers += 1;
            continue;
        }
        let facts = match holded::contact(contact) {
            Ok(facts) => facts,
            Err(e) => {
                summary.skipped.push((id, e.0));
                continue;
            }
        };
        apply_counted(ingest, &snapshot_delivery(&id, contact, "contacts", Fact::Customer(facts), now), now, &mut summary).await?;
    }
    // Then each document, naming its contact (whose details the contact's delivery gave).
    let by_id: HashMap<&str, &Value> = contacts.iter().filter_map(|c| c.get("id").and_then(Value::as_str).map(|id| (id, c))).collect();
    for document in &documents {
        let id = document.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
        let contact = document.get("contact").and_then(Value::as_str).and_then(|c| by_id.get(c)).copied();
        let facts =
            contact.map(holded::contact).transpose().and_then(|customer| holded::invoice(document, customer, ingest.defaults().currency));
        let facts = match facts {
            Ok(facts) => facts,
            Err(e) => {
                summary.skipped.push((id, e.0));
                continue;
            }
        };
        if matches!(facts.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid) {
            unpaid.insert(facts.reference.id.clone());
        }
        let delivery = snapshot_delivery(&id, document, "documents/invoice", Fact::Invoice(facts), now);
        apply_counted(ingest, &delivery, now, &mut summary).await?;
    }
    // Gone from Holded (deleted, or cancelled by removing it): no longer owed.
    for id in &withdrawn {
        let Ok(invoice) = ProviderRef::new(Provider::Holded, id) else { continue };
        let delivery = Delivery {
            provider: Provider::Holded,
            id: format!("{id}:withdrawn"),
            kind: "documents/invoice/withdrawn".into(),
            occurred_at: now,
            facts: vec![Fact::InvoiceWithdrawn { invoice }],
        };
        apply_counted(ingest, &delivery, now, &mut summary).await?;
    }
    // What this run leaves for the next one. A document whose reading failed stays as it was
    // (unpaid if it was), to be asked about again.
    for (id, _) in &summary.skipped {
        if held_unpaid.contains(id) {
            unpaid.insert(id.clone());
        }
    }
    let record = sync.get_or_insert_with(HoldedSync::default);
    (record.pulled_at, record.unpaid) = (Some(now), unpaid);
    if record.version == 0 {
        store.insert(record).await?
    } else {
        store.update(record).await?
    }
    Ok(summary)
}

/// One item as Holded returned it, as a delivery: its id is the item's id and the digest of
/// what Holded said, so the same answer is applied once and a changed one again.
fn snapshot_delivery(id: &str, item: &Value, kind: &str, fact: Fact, now: DateTime<Utc>) -> Delivery {
    let snapshot = serde_json::to_vec(item).unwrap_or_default();
    Delivery {
        provider: Provider::Holded,
        id: format!("{id}:{}", &body_digest(&snapshot)[..16]),
        kind: kind.into(),
        occurred_at: now,
        facts: vec![fact],
    }
}

async fn apply_counted(ingest: &Ingest, delivery: &Delivery, now: DateTime<Utc>, summary: &mut ImportSummary) -> Result<(), ImportError> {
    match ingest.apply(delivery, Mode::Once, now).await? {
        Outcome::Applied => summary.applied += 1,
        Outcome::AlreadyApplied | Outcome::Ignored => summary.unchanged += 1,
    }
    Ok(())
}
