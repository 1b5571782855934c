//! The domain's error types: one for the rules, one for storage engines.

use crate::clock::Timestamp;

/// A problem with one input field: which field (its form name) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's machine name, e.g. `mobile_phone` or `alternate_email.2`.
    pub field: String,
    /// A sentence for people, e.g. "Enter a valid phone number for United Kingdom."
    pub message: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Why a directory operation did not happen; the change it was asked for was not made.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The input is invalid; every problem is listed by field.
    #[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The caller may not do this; the reason is written for people.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The thing does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Someone else saved the user after the caller loaded it.
    #[error("changed by {changed_by} at {} since it was loaded", .changed_at.display())]
    VersionConflict {
        /// Display name of whoever saved the newer version.
        changed_by: String,
        /// When they saved it.
        changed_at: Timestamp,
    },
    /// Other saves to the user kept coming in between for longer than a change waits to re-apply
    /// itself; nothing was changed, and the same request can be sent again.
    #[error("the user is being changed by others too often to apply this change now")]
    Contended,
    /// A username that is already taken.
    #[error("the username {0} is already in use")]
    UsernameTaken(String),
    /// Too many attempts; try again later.
    #[error("too many attempts")]
    Throttled,
    /// A limit on codes or resets was reached; the reason and the wait are written for people.
    #[error("limited: {0}")]
    Limited(String),
    /// The change needs a recent sign-in: the user confirms their password first.
    #[error("the password must be confirmed first")]
    ReauthenticationRequired,
    /// A failure inside Roster itself.
    #[error("internal error: {0}")]
    Internal(String),
    /// The storage engine failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError {
    /// A single-field validation error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        DomainError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// Failures reported by a [`crate::Store`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The expected version did not match: another change was committed first.
    #[error("version conflict")]
    VersionConflict {
        /// Display name of whoever saved the current version.
        changed_by: String,
        /// When they saved it.
        changed_at: Timestamp,
    },
    /// A unique key (such as a username) is already taken.
    #[error("duplicate {0}")]
    Duplicate(&'static str),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// Nesting a group would make it a member of itself through others.
    #[error("group nesting cycle")]
    Cycle,
    /// Anything else from the engine: connection, I/O, corrupt data, kept as its source.
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A failure that is no domain condition, from an engine's error or a sentence.
    pub fn backend(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Backend(error.into())
    }
}

#[cfg(feature = "sqlx")]
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Backend(Box::new(error))
    }
}
