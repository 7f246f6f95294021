//! The API's error type and its JSON body,
//! `{"error": {"code": "...", "message": "...", "field"?: "..."}}`.

use hyper::StatusCode;
use tasksync_sdk::TransitionError;
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
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            message,
        )
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
    pub fn task_not_found(id: &str) -> Self {
        Self::not_found(format!("no task with id `{id}`"))
    }
    pub fn session_not_found(id: &str) -> Self {
        Self::not_found(format!("no session with id `{id}`"))
    }

    /// The JSON body for this error.
    pub fn body(&self) -> Vec<u8> {
        ErrorBody::new(self.code, &self.message, self.field.as_deref())
            .to_text()
            .into_bytes()
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        ApiError::new(StatusCode::CONFLICT, "invalid_transition", e.to_string())
    }
}
