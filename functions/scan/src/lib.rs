//! The scan function: on a schedule (or on demand), finds what is due and writes the
//! notifications to send. It never sends anything itself. The same function runs the
//! scheduled Holded import, when asked to by its input.
//!
//! The scan itself is in [`run`]; the decisions it takes are pure and live in
//! `relance::schedule`.
//!
//! Input is any JSON object (an EventBridge Scheduler event, or `{}` from a manual
//! `aws lambda invoke`); optional top-level fields steer it: `now` (ISO 8601), `dry_run`,
//! `import` (`"holded"`) and `backfill` (`"date_rules"`: after adding a date rule, schedule it
//! for the customers written before it existed).

pub mod run;

use chrono::{DateTime, Utc};
use relance::ingest::Ingest;
use relance::ingest::holded_import::{self, HoldedClient, ImportError, ImportSummary};
use relance::store::Store;
use serde::{Deserialize, Serialize};

/// What the scan needs, built once at cold start.
#[derive(Clone)]
pub struct ScanContext {
    pub store: Store,
    pub ingest: Ingest,
    /// Set when a Holded API key is configured.
    pub holded: Option<HoldedClient>,
    /// The settings in force, read afresh on every run (`relance::config::live_settings`
    /// with no cache): a change made in the back office applies from the next run.
    pub settings: relance::settings::LiveSettings,
}

/// The fields of the input the scan reads; anything else (the envelope) is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ScanRequest {
    pub now: Option<DateTime<Utc>>,
    #[serde(default)]
    pub dry_run: bool,
    pub import: Option<String>,
    /// With `"import": "holded"`: read every document, not only the new and the unpaid ones
    /// (the daily schedule's; any run may ask for it).
    #[serde(default)]
    pub full: bool,
    pub backfill: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ScanSummary {
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<run::ScanReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill: Option<run::BackfillReport>,
    /// The settings changed since the last run: what was brought to the new ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescheduled: Option<run::RescheduleReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("invalid scan input: {0}")]
    BadInput(#[from] serde_json::Error),
    #[error("unknown backfill {0:?} (expected \"date_rules\")")]
    UnknownBackfill(String),
    #[error("unknown import {0:?} (expected \"holded\")")]
    UnknownImport(String),
    #[error("the Holded import is not configured: set HOLDED_API_KEY")]
    HoldedNotConfigured,
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] relance::store::StoreError),
}

impl ScanError {
    /// A stable, readable name for the failure: Lambda reports it as the `errorType` in the
    /// logs, the invocation's result and the schedule's dead-letter queue.
    pub fn error_type(&self) -> &'static str {
        match self {
            ScanError::BadInput(_) => "BadScanInput",
            ScanError::UnknownBackfill(_) => "UnknownBackfill",
            ScanError::UnknownImport(_) => "UnknownImport",
            ScanError::HoldedNotConfigured => "HoldedNotConfigured",
            ScanError::Import(e) => e.error_type(),
            ScanError::Store(e) => e.error_type(),
        }
    }
}

impl From<ScanError> for lambda_runtime::Diagnostic {
    fn from(error: ScanError) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic { error_type: error.error_type().into(), error_message: error.to_string() }
    }
}

/// Runs one scan, or the import the input names, and reports what it did.
pub async fn handle(context: &ScanContext, event: serde_json::Value, invoked_at: DateTime<Utc>) -> Result<ScanSummary, ScanError> {
    let request: ScanRequest = serde_json::from_value(event)?;
    let now = request.now.unwrap_or(invoked_at);
    let settings = context.settings.current().await?;
    let ladders = &settings.ladders;
    match request.backfill.as_deref() {
        None => {}
        Some("date_rules") => {
            let report = run::backfill_date_rules(&context.store, ladders, now, request.dry_run).await?;
            tracing::info!(read = report.read, rescheduled = report.rescheduled, conflicts = report.conflicts, "date rule backfill done");
            return Ok(ScanSummary { now, dry_run: request.dry_run, import: None, scan: None, backfill: Some(report), rescheduled: None });
        }
        Some(other) => return Err(ScanError::UnknownBackfill(other.to_string())),
    }
    let import = match request.import.as_deref() {
        None => None,
        Some("holded") => {
            let client = context.holded.as_ref().ok_or(ScanError::HoldedNotConfigured)?;
            let summary = holded_import::import(&context.ingest, client, now, request.full).await?;
            tracing::info!(
                full = summary.full,
                invoices = summary.invoices,
                applied = summary.applied,
                withdrawn = summary.withdrawn,
                skipped = summary.skipped.len(),
                "Holded import done"
            );
            Some(summary)
        }
        Some(other) => return Err(ScanError::UnknownImport(other.to_string())),
    };
    if import.is_some() {
        return Ok(ScanSummary { now, dry_run: request.dry_run, import, scan: None, backfill: None, rescheduled: None });
    }
    // Records already in the table follow a settings change before anything is decided on it.
    let rescheduled = if request.dry_run {
        None
    } else {
        // A failure here leaves the reschedule for the next run; the reminders due now still go.
        follow_settings(context, &settings, now).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "rescheduling for new settings failed; tried again next run");
            None
        })
    };
    let mut report = run::scan(&context.store, ladders, now, request.dry_run).await?;
    let calendar = &settings.settings.calendar;
    report.team_deadlines =
        run::calendar(&context.store, calendar, ladders.reminder_time, context.ingest.defaults().time_zone, now, request.dry_run).await?;
    tracing::info!(
        %now,
        dry_run = request.dry_run,
        read = report.read,
        notifications = ?report.notifications,
        skipped_steps = report.skipped_steps,
        held = ?report.held,
        team_deadlines = report.team_deadlines,
        "scan done"
    );
    if !request.dry_run {
        // ScanRuns is 1 on every run, so "the scan has not run" is an alarm on its absence.
        let written = u64::from(report.notifications.values().sum::<u32>() + report.team_deadlines);
        relance::telemetry::metrics::emit(
            &[("Function", "scan")],
            &[("ScanRuns", 1), ("ItemsDue", report.read), ("NotificationsWritten", written)],
        );
    }
    Ok(ScanSummary { now, dry_run: request.dry_run, import: None, scan: Some(report), backfill: None, rescheduled })
}

/// Reschedules the table for the settings in force if it has not been yet (see
/// [`run::reschedule`]), and records that it has once no function can still be working from
/// the settings before (they keep a read for `relance::settings::CACHE_FOR`): until then each
/// run does it again, which finds nothing more to move but what was written meanwhile.
async fn follow_settings(
    context: &ScanContext,
    settings: &relance::settings::Current,
    now: DateTime<Utc>,
) -> Result<Option<run::RescheduleReport>, relance::store::StoreError> {
    use relance::settings::{CACHE_FOR, Rescheduled};
    let store = &context.store;
    let marker: Option<Rescheduled> = store.get(&Rescheduled::key()).await?;
    if marker.as_ref().map_or(0, |m| m.settings_version) == settings.version {
        return Ok(None);
    }
    let previous = marker.as_ref().map_or_else(|| context.settings.initial().ladders.clone(), |m| m.ladders.clone());
    let mut report = run::reschedule(store, &previous, &settings.ladders, now).await?;
    report.settings_version = settings.version;
    tracing::info!(version = settings.version, read = report.read, moved = report.moved, "rescheduled for new settings");
    let settled = report.errors == 0 && settings.updated_at.is_none_or(|at| (now - at).to_std().is_ok_and(|age| age >= CACHE_FOR));
    if settled {
        let mut next = Rescheduled { settings_version: settings.version, ladders: settings.ladders.clone(), at: now, version: 0 };
        let written = match marker {
            Some(marker) => {
                next.version = marker.version;
                store.update(&mut next).await
            }
            None => store.insert(&mut next).await,
        };
        match written {
            // Another run recorded it first: the same work, done.
            Ok(()) | Err(relance::store::StoreError::Conflict(_) | relance::store::StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(report))
}

/// The Holded client, when a key is configured (`HOLDED_API_URL` points it at a stand-in).
pub fn holded_client(secrets: &relance::secrets::Secrets) -> Result<Option<HoldedClient>, relance::config::ConfigError> {
    // The address is read (and checked) only when the import is in use: a leftover setting
    // must not stop the scan's start.
    secrets.holded_api_key.as_ref().map(|key| Ok(HoldedClient::new(relance::config::holded_api_url()?, key.clone()))).transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    #[allow(unsafe_code, reason = "the one test of this crate that sets a variable; nothing else here reads it")]
    fn a_leftover_holded_address_stops_nothing_without_a_key_and_is_checked_with_one() {
        // SAFETY: no other test of this crate reads HOLDED_API_URL.
        unsafe { std::env::set_var("HOLDED_API_URL", "http://holded.example.org") };
        let without_key = relance::secrets::Secrets::from_values(&HashMap::new());
        assert!(matches!(holded_client(&without_key), Ok(None)), "no key: the import is off and its address unread");
        let with_key = relance::secrets::Secrets::from_values(&HashMap::from([("HOLDED_API_KEY".to_string(), "k".to_string())]));
        assert!(holded_client(&with_key).is_err(), "with a key, a plain-http remote address stops the start");
        unsafe { std::env::remove_var("HOLDED_API_URL") };
    }

    #[test]
    fn a_failure_is_reported_under_its_own_name() {
        let diagnostic = lambda_runtime::Diagnostic::from(ScanError::HoldedNotConfigured);
        assert_eq!(diagnostic.error_type, "HoldedNotConfigured");
        assert!(diagnostic.error_message.contains("HOLDED_API_KEY"));
        let store = ScanError::Import(ImportError::Ingest(relance::ingest::IngestError::Store(relance::store::StoreError::Unavailable(
            "throttled".into(),
        ))));
        assert_eq!(lambda_runtime::Diagnostic::from(store).error_type, "StoreUnavailable");
        assert_eq!(lambda_runtime::Diagnostic::from(ScanError::Import(ImportError::Unauthorized(401))).error_type, "HoldedUnauthorized");
    }
}
