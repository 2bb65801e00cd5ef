//! The one error answer of the two HTTP functions (webhook and portal): a status, a stable
//! code and a sentence, rendered `{"error": code, "message": text}`. Codes are for programs
//! and for the pages' own words (`error_<code>`); the sentence is for a developer reading it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::providers::SignatureError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The input field at fault, where one is (`invoice[2].offset_days`).
    field: Option<String>,
}

/// What every error answer's body holds, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// A stable code: `not_found`, `event_full`, `invalid_signature`…
    pub error: String,
    pub message: String,
    /// The input field at fault (`invoice[2].offset_days`), when the error is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), field: None }
    }

    /// Input refused for what one field holds: 400 with `code` (`invalid_settings`) and the
    /// field's path, so a form can point at it.
    pub fn invalid(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError { field: Some(field.into()), ..ApiError::new(StatusCode::BAD_REQUEST, code, message) }
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Malformed input; the message names the field.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid token is required")
    }

    /// The caller's role may not take this action.
    pub fn forbidden() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "your role does not allow this")
    }

    /// Absent, or not the caller's to see: the two are not told apart.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such record")
    }

    /// The record is not in a state that allows the action (or changed meanwhile: retry).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// A conflict the web pages tell in their own words: `code` names the text
    /// (`error_<code>` in the portal's `web::i18n`), `message` is the API's explanation.
    pub fn conflict_because(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// Something we depend on failed (the table, the user pool): 503, so that the caller (a
    /// provider, a browser) tries again later.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A store failure while recording a provider's delivery: always 503, whatever the
    /// failure, so that the provider sends it again (a 4xx would make it give up).
    pub fn retry_later(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store failure; the provider will retry");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "temporarily unable to record the delivery")
    }

    /// The machine-readable code (`not_found`, `event_full`…).
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::BadCursor => ApiError::bad_request("invalid cursor"),
            StoreError::Conflict(_) => ApiError::conflict("changed meanwhile; read it again and retry"),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::unavailable("temporarily unavailable, try again")
            }
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> ApiError {
        match e {
            // Our configuration, not the sender's fault: 503 so the delivery is retried later.
            SignatureError::NoSecret => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", e.to_string()),
            _ => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.code.to_string(), message: self.message, field: self.field })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_asks_the_caller_to_come_back_and_a_lost_race_says_so() {
        let unavailable = ApiError::from(StoreError::Unavailable("throttled".into()));
        assert_eq!((unavailable.status(), unavailable.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        let lost = ApiError::from(StoreError::Conflict("version".into()));
        assert_eq!((lost.status(), lost.code()), (StatusCode::CONFLICT, "conflict"));
        assert_eq!(ApiError::from(StoreError::BadCursor).status(), StatusCode::BAD_REQUEST);
        // A provider's delivery is asked again whatever went wrong in the store.
        let webhook = ApiError::retry_later(StoreError::Conflict("version".into()));
        assert_eq!((webhook.status(), webhook.code()), (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"));
    }
}
