//! Replaying archived deliveries: after a fix to an adapter, or to rebuild records, the
//! deliveries a provider sent on a given day are read again from the archive and applied.
//!
//! Signatures are not checked again (they were when the delivery arrived, and the timestamp
//! tolerance has long passed); idempotency keys are not claimed again (they were, or the
//! delivery was unreadable). The order rules keep a replay from undoing newer changes.

use chrono::{DateTime, NaiveDate, Utc};

use super::apply::{Ingest, IngestError, Mode, Outcome};
use super::archive::ArchivedDelivery;
use crate::domain::Provider;
use crate::facts::Delivery;
use crate::providers::shopify::ShopifyHeaders;
use crate::providers::{PayloadError, braintree, generic, shopify, stripe};
use crate::store::Cursor;

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplaySummary {
    pub read: usize,
    pub applied: usize,
    pub ignored: usize,
    /// Still unreadable (or truncated when archived): listed for a person to look at.
    pub unreadable: Vec<String>,
}

/// Reads an archived delivery with its provider's adapter, as it would be read on arrival.
pub fn parse_archived(archived: &ArchivedDelivery, ingest: &Ingest) -> Result<Delivery, PayloadError> {
    if archived.body_truncated {
        return Err(PayloadError::new("the body was too large to archive whole"));
    }
    let body = archived.body.as_bytes();
    match archived.provider {
        Provider::Stripe => stripe::parse(body),
        Provider::Generic => generic::parse(body),
        Provider::Braintree => {
            let (_, payload) = braintree::form_fields(body).map_err(|e| PayloadError::new(e.to_string()))?;
            braintree::parse(&payload, ingest.defaults())
        }
        Provider::Shopify => {
            let header = |name: &str| archived.headers.get(name).cloned();
            let headers = ShopifyHeaders {
                topic: header("x-shopify-topic"),
                webhook_id: header("x-shopify-webhook-id"),
                triggered_at: header("x-shopify-triggered-at"),
            };
            shopify::parse(&headers, body)
        }
        other => Err(PayloadError::new(format!("{other} deliveries are not archived webhooks"))),
    }
}

/// Re-applies every delivery `provider` sent on `date` (UTC), in arrival order.
pub async fn replay_day(ingest: &Ingest, provider: Provider, date: NaiveDate, now: DateTime<Utc>) -> Result<ReplaySummary, IngestError> {
    let partition = ArchivedDelivery::partition(provider, date);
    let mut summary = ReplaySummary::default();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = ingest.store().list::<ArchivedDelivery>(&partition, cursor.as_ref(), 100).await?;
        for archived in &page.records {
            summary.read += 1;
            match parse_archived(archived, ingest) {
                Ok(delivery) => match ingest.apply(&delivery, Mode::Replay, now).await? {
                    Outcome::Ignored => summary.ignored += 1,
                    Outcome::Applied | Outcome::AlreadyApplied => summary.applied += 1,
                },
                Err(_) => summary.unreadable.push(archived.delivery_id.clone()),
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(summary),
        }
    }
}
