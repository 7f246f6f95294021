//! Why the domain refused something: a kind (the HTTP layer maps each kind to
//! a status, in `http::error`), a sentence for a person, and the input field
//! it is about when there is one.

use tasksync_sdk::TransitionError;

/// The kinds of refusal. Each has a stable snake_case code for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A field's value is not acceptable.
    Validation,
    NotFound,
    Conflict,
    /// The status change is not one the rules allow.
    InvalidTransition,
    /// `If-Match` named another version.
    PreconditionFailed,
    /// The server cannot take it now (shutting down, storage failing).
    Unavailable,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Validation => "validation_failed",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::InvalidTransition => "invalid_transition",
            Kind::PreconditionFailed => "precondition_failed",
            Kind::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct DomainError {
    pub kind: Kind,
    pub message: String,
    pub field: Option<String>,
}

impl DomainError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        DomainError {
            kind,
            message: message.into(),
            field: None,
        }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// A field's value is not acceptable; the message should name the field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::new(Kind::Validation, message).with_field(field)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, message)
    }
    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new(Kind::PreconditionFailed, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, message)
    }
    pub fn task_not_found(id: &str) -> Self {
        Self::not_found(format!("no task with id `{id}`"))
    }
    pub fn session_not_found(id: &str) -> Self {
        Self::not_found(format!("no session with id `{id}`"))
    }
}

impl From<TransitionError> for DomainError {
    fn from(e: TransitionError) -> Self {
        Self::new(Kind::InvalidTransition, e.to_string())
    }
}
