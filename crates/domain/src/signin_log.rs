//! The sign-in log: every attempt to sign in, successful or not, with how and from where.

use crate::audit::LogCursor;
use crate::clock::Timestamp;
use crate::user::UserId;

/// One sign-in attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInEvent {
    /// Assigned by the store; 0 before it is written.
    pub id: i64,
    pub at: Timestamp,
    /// The account, when the username names one.
    pub user_id: Option<UserId>,
    /// The username as entered (trimmed and lower-cased).
    pub username: String,
    pub success: bool,
    /// How the person signed in or tried to: `Password`, `Password and authenticator app`…
    pub method: String,
    /// Why an attempt failed, in words for administrators; empty for a success.
    pub detail: String,
    pub client_ip: Option<String>,
}

/// Which sign-in attempts to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct SignInQuery {
    /// Only attempts with this username.
    pub username: Option<String>,
    /// Only successes (`true`) or failures (`false`).
    pub success: Option<bool>,
    /// Only attempts at or after this time...
    pub from: Option<Timestamp>,
    /// ...and before this one.
    pub until: Option<Timestamp>,
    /// Only attempts listed after this one (the next page).
    pub before: Option<LogCursor>,
    /// Page size.
    pub limit: u32,
}

impl SignInEvent {
    /// The attempt's place in the log.
    pub fn cursor(&self) -> LogCursor {
        LogCursor { at: self.at, id: self.id }
    }
}
