//! Recovery contacts at work: the ways a user can be reached with a code, which of them are
//! verified, one-time codes, and the organisation's reset policy.

pub mod codes;
pub mod methods;
pub mod policy;

pub use codes::{CodeKey, OneTimeCode, Purpose};
pub use methods::{ContactMethod, MethodKind, Verification};
pub use policy::ResetPolicy;

use crate::clock::Timestamp;
use crate::user::UserId;

/// A self-service password reset under way, tied to one browser by a cookie token. Unknown
/// usernames get one too (with no user), so that they walk the same path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetSession {
    pub token_hash: String,
    pub user_id: Option<UserId>,
    /// As typed, trimmed and lower-cased.
    pub username: String,
    pub csrf_token: String,
    pub created_at: Timestamp,
    /// Fifteen minutes after the start, as in Microsoft 365.
    pub expires_at: Timestamp,
    /// Keys of the methods proven so far.
    pub proven: Vec<String>,
    /// The code sent last, the key of the method it went to, and when it expires.
    pub code_id: Option<String>,
    pub code_method: Option<String>,
    pub code_expires_at: Option<Timestamp>,
}

/// How long a reset may take from start to new password.
pub const RESET_SESSION_SECONDS: i64 = 15 * 60;
