//! The portal's one error type, rendered once as `{"error": code, "message": text}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use relance::store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
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
    /// (`error_<code>` in `web::i18n`), `message` is the API's explanation.
    pub fn conflict_because(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// The machine-readable code (`not_found`, `event_full`…).
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// Status and message, for the web pages' own rendering.
    pub fn parts(&self) -> (StatusCode, &str) {
        (self.status, &self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::BadCursor => ApiError::bad_request("invalid cursor"),
            StoreError::Conflict(_) => ApiError::conflict("changed meanwhile; read it again and retry"),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "temporarily unavailable, try again")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.code, "message": self.message }))).into_response()
    }
}
