//! The scan function: on a schedule (or on demand), finds what is due and writes the
//! notifications to send. It never sends anything itself.
//!
//! Input is any JSON object (an EventBridge Scheduler event, or `{}` from a manual
//! `aws lambda invoke`); optional top-level `now` (ISO 8601) and `dry_run` fields steer it.

use chrono::{DateTime, Utc};
use relance::store::Store;
use serde::{Deserialize, Serialize};

/// The fields of the input the scan reads; anything else (the envelope) is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ScanRequest {
    pub now: Option<DateTime<Utc>>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ScanSummary {
    pub now: DateTime<Utc>,
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("invalid scan input: {0}")]
    BadInput(#[from] serde_json::Error),
}

/// Runs one scan. The reminder ladders come with the scheduled-scans work; for now the scan
/// validates its input, logs it and reports what it would scan for.
pub async fn handle(_store: &Store, event: serde_json::Value, invoked_at: DateTime<Utc>) -> Result<ScanSummary, ScanError> {
    let request: ScanRequest = serde_json::from_value(event)?;
    let now = request.now.unwrap_or(invoked_at);
    tracing::info!(%now, dry_run = request.dry_run, "scan invoked");
    Ok(ScanSummary { now, dry_run: request.dry_run })
}
