//! The API's error type and its JSON body,
//! `{"error": {"code": "...", "message": "...", "field"?: "..."}}`, and the
//! one place where a domain refusal becomes an HTTP status.

use crate::domain::error::{DomainError, Kind};
use hyper::StatusCode;
use tasksync_sdk::wire::ErrorBody;

/// An error answered to a client: a status, a stable snake_case code and a
/// sentence for a person. `field` names the offending input when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// For 405: the methods the path allows (sent as `Allow`).
    pub allow: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            allow: None,
        }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// A field's value is not acceptable; the message should name the field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", message).with_field(field)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The JSON body for this error.
    pub fn body(&self) -> Vec<u8> {
        ErrorBody::new(self.code, &self.message, self.field.as_deref())
            .to_text()
            .into_bytes()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match e.kind {
            Kind::Validation => StatusCode::BAD_REQUEST,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict | Kind::InvalidTransition => StatusCode::CONFLICT,
            Kind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError {
            status,
            code: e.kind.code(),
            message: e.message,
            field: e.field,
            allow: None,
        }
    }
}
