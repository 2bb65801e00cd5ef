//! What can go wrong talking to the table, sorted by what the caller should do about it.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write lost a race (the item exists, or its version moved): re-read and decide again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// An idempotency key was already claimed: the change was applied before.
    #[error("already applied: {0}")]
    Duplicate(String),
    /// DynamoDB is unreachable, throttling or failing: retry later (a webhook answers 5xx).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item does not decode into the record it should be: a bug or a hand-edited item.
    #[error("stored item {key} is not a valid {record_type}: {reason}")]
    Corrupt { key: String, record_type: &'static str, reason: String },
    /// A record could not be encoded (a value DynamoDB cannot hold).
    #[error("cannot encode {record_type}: {reason}")]
    Encode { record_type: &'static str, reason: String },
    /// A pagination cursor that we did not issue, or that belongs to another query.
    #[error("invalid cursor")]
    BadCursor,
}

impl StoreError {
    /// A stable name for the kind of failure, for Lambda's `errorType` and the alarms: the
    /// type name Rust would give is `&alloc::boxed::Box<dyn core::error::Error …>`.
    pub fn error_type(&self) -> &'static str {
        match self {
            StoreError::Conflict(_) => "StoreConflict",
            StoreError::Duplicate(_) => "StoreDuplicate",
            StoreError::Unavailable(_) => "StoreUnavailable",
            StoreError::Corrupt { .. } => "StoreCorrupt",
            StoreError::Encode { .. } => "StoreEncode",
            StoreError::BadCursor => "StoreBadCursor",
        }
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
