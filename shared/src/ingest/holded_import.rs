//! The Holded pull import: contacts and invoices read from Holded's REST API and applied
//! like any delivery, so they merge by Holded's ids into our customers and invoices.
//!
//! Holded's list endpoints are paginated with `?page=N` and an empty array marks the end.
//! Each document becomes one delivery whose id is the digest of what Holded returned for it
//! (document and contact), so an unchanged document costs one refused idempotency claim on
//! the next run, and a changed one is applied again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::apply::{Ingest, IngestError, Mode, Outcome};
use crate::domain::Provider;
use crate::facts::{Delivery, Fact};
use crate::providers::{body_digest, holded};

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
    async fn list(&self, path: &str) -> Result<Listed, ImportError> {
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page in 1..=MAX_PAGES {
            let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
            let response = self
                .http
                .get(&url)
                .query(&[("page", page)])
                .header("key", &self.api_key)
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| ImportError::Unreachable(e.to_string()))?;
            let status = response.status().as_u16();
            if status == 401 || status == 403 {
                return Err(ImportError::Unauthorized(status));
            }
            if !response.status().is_success() {
                return Err(ImportError::Http { status, path: path.to_string() });
            }
            let value: Value = response.json().await.map_err(|_| ImportError::NotAList { path: path.to_string() })?;
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
}

/// Imports every contact and invoice; `now` stamps the facts (Holded's state as of now).
pub async fn import(ingest: &Ingest, client: &HoldedClient, now: DateTime<Utc>) -> Result<ImportSummary, ImportError> {
    let (contacts, documents) = (client.list("/contacts").await?, client.list("/documents/invoice").await?);
    let repeated_pages = [("/contacts", &contacts), ("/documents/invoice", &documents)]
        .iter()
        .filter(|(_, listed)| listed.repeated)
        .map(|(path, _)| path.to_string())
        .collect();
    let (contacts, documents) = (contacts.items, documents.items);
    let mut summary = ImportSummary { contacts: contacts.len(), invoices: documents.len(), repeated_pages, ..ImportSummary::default() };
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
        let snapshot = serde_json::to_vec(&(document, contact)).unwrap_or_default();
        let delivery = Delivery {
            provider: Provider::Holded,
            id: format!("{id}:{}", &body_digest(&snapshot)[..16]),
            kind: "documents/invoice".into(),
            occurred_at: now,
            facts: vec![Fact::Customer(facts.customer.clone()), Fact::Invoice(facts)],
        };
        apply_counted(ingest, &delivery, now, &mut summary).await?;
    }
    // A contact with no invoice yet is still a customer of the business (date rules, the
    // member space, the next invoice): kept, each as its own delivery, like a document.
    let billed: std::collections::HashSet<&str> = documents.iter().filter_map(|d| d.get("contact").and_then(Value::as_str)).collect();
    for contact in contacts.iter().filter(|c| c.get("id").and_then(Value::as_str).is_none_or(|id| !billed.contains(id))) {
        let id = contact.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
        let facts = match holded::contact(contact) {
            Ok(facts) => facts,
            Err(e) => {
                summary.skipped.push((id, e.0));
                continue;
            }
        };
        let snapshot = serde_json::to_vec(contact).unwrap_or_default();
        let delivery = Delivery {
            provider: Provider::Holded,
            id: format!("{id}:{}", &body_digest(&snapshot)[..16]),
            kind: "contacts".into(),
            occurred_at: now,
            facts: vec![Fact::Customer(facts)],
        };
        apply_counted(ingest, &delivery, now, &mut summary).await?;
    }
    Ok(summary)
}

async fn apply_counted(ingest: &Ingest, delivery: &Delivery, now: DateTime<Utc>, summary: &mut ImportSummary) -> Result<(), ImportError> {
    match ingest.apply(delivery, Mode::Once, now).await? {
        Outcome::Applied => summary.applied += 1,
        Outcome::AlreadyApplied | Outcome::Ignored => summary.unchanged += 1,
    }
    Ok(())
}
