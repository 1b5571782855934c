//! Server-side sign-in sessions: random tokens, stored only as hashes, with two timeouts.

use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::oidc::grant::AuthMethods;
use crate::user::UserId;

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT_SECONDS: i64 = 30 * 60;
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE_TIMEOUT_SECONDS: i64 = 12 * 60 * 60;
/// How stale `last_seen` may get before a request refreshes it (saves a write per request).
pub const TOUCH_INTERVAL_SECONDS: i64 = 60;

/// A session as stored: the token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub user_id: UserId,
    /// Per-session secret every state-changing form must echo back.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// How the user proved who they are when the session began.
    pub amr: AuthMethods,
    /// A hard end of its own, before the timeouts: a session opened with a Temporary Access
    /// Pass ends with the pass.
    pub expires_at: Option<Timestamp>,
    /// The Temporary Access Pass that opened it, if one did.
    pub access_pass: Option<uuid::Uuid>,
}

impl Session {
    /// Whether the session has expired at `now` by either timeout.
    pub fn expired(&self, now: Timestamp) -> bool {
        now > self.last_seen_at.plus_seconds(IDLE_TIMEOUT_SECONDS)
            || now > self.created_at.plus_seconds(ABSOLUTE_TIMEOUT_SECONDS)
            || self.expires_at.is_some_and(|end| now >= end)
    }

    /// Whether a Temporary Access Pass opened it: such a session may only register methods
    /// on Security info and choose a password.
    pub fn by_access_pass(&self) -> bool {
        self.access_pass.is_some()
    }

    /// Whether a request at `now` should refresh `last_seen_at`.
    pub fn needs_touch(&self, now: Timestamp) -> bool {
        now > self.last_seen_at.plus_seconds(TOUCH_INTERVAL_SECONDS)
    }
}

/// 256 random bits, URL-safe base64: for session tokens and CSRF secrets.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(created: i64, seen: i64) -> Session {
        Session {
            token_hash: String::new(),
            user_id: UserId::random(),
            csrf_token: String::new(),
            created_at: Timestamp(created),
            last_seen_at: Timestamp(seen),
            amr: AuthMethods::password(),
            expires_at: None,
            access_pass: None,
        }
    }

    #[test]
    fn idle_and_absolute_timeouts() {
        let s = session(0, 0);
        assert!(!s.expired(Timestamp(IDLE_TIMEOUT_SECONDS * 1000)));
        assert!(s.expired(Timestamp(IDLE_TIMEOUT_SECONDS * 1000 + 1)));
        let busy = session(0, ABSOLUTE_TIMEOUT_SECONDS * 1000);
        assert!(busy.expired(Timestamp(ABSOLUTE_TIMEOUT_SECONDS * 1000 + 1)));
        let with_end = Session { expires_at: Some(Timestamp(1000)), ..session(0, 0) };
        assert!(!with_end.expired(Timestamp(999)));
        assert!(with_end.expired(Timestamp(1000)), "a pass's session ends with the pass");
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token());
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_eq!(hash_token(&t).len(), 64);
    }
}
