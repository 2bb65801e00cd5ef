//! An import of a customer or invoice file: who sent it, how far it got and what it found,
//! so the admin home can show a failed import and the import page its progress.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the file held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Customers,
    Invoices,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Rows are being written; `written` tells how many so far.
    Running,
    /// Every row was written (or was already as the file says).
    Done,
    /// Written, but rows with errors were left out (`skip_errors`): someone should look.
    DoneWithErrors,
    /// The table stopped answering part-way: the rows written so far stay (each row is whole),
    /// and importing the same file again finishes it.
    Failed,
}

/// The most line errors a run keeps (the answer to the request has them all).
pub const KEPT_ERRORS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportRun {
    pub id: String,
    pub kind: ImportKind,
    /// The user who sent the file.
    pub by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: ImportStatus,
    /// Rows read from the file, and how many of them are written so far.
    pub rows: usize,
    pub written: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The first [`KEPT_ERRORS`] rows refused.
    pub errors: Vec<LineError>,
    pub error_count: usize,
    /// Why it failed, for a failed run.
    pub failure: Option<String>,
    #[serde(default)]
    pub version: u64,
}

impl ImportRun {
    pub fn start(kind: ImportKind, by: &str, at: DateTime<Utc>) -> ImportRun {
        ImportRun {
            id: ulid::Ulid::new().to_string(),
            kind,
            by: by.to_string(),
            started_at: at,
            finished_at: None,
            status: ImportStatus::Running,
            rows: 0,
            written: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            errors: Vec::new(),
            error_count: 0,
            failure: None,
            version: 0,
        }
    }

    /// A person should look at it: it failed, rows were left out, or it has said "running"
    /// for longer than a request can last (the function was stopped before it could say so).
    pub fn needs_a_person(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status, ImportStatus::Failed | ImportStatus::DoneWithErrors)
            || (self.status == ImportStatus::Running && now - self.started_at > chrono::Duration::minutes(2))
    }
}

/// A row that cannot be imported, and why. Lines count from 1, the header being line 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineError {
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub message: String,
}

impl LineError {
    /// A message quoting a 4 MB cell would not fit the import's record: at most 300 characters.
    pub fn new(line: u64, column: &str, message: impl Into<String>) -> LineError {
        let message: String = message.into();
        let message = if message.chars().count() > 300 { format!("{}…", message.chars().take(300).collect::<String>()) } else { message };
        LineError { line, column: Some(column.to_string()), message }
    }
}
