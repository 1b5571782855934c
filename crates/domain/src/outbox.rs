//! The outbox: every message to a person (a code, a security notice) is stored in the same
//! transaction as the change that causes it, and a delivery worker sends it afterwards. A crash
//! between the two loses nothing, and a message whose delivery was recorded is not sent again.

use std::fmt;

use crate::clock::Timestamp;
use crate::user::UserId;

/// How a message reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// To an email address, over SMTP.
    Email,
    /// To a phone number, as a text message through an SMS gateway.
    Sms,
    /// To an application's back-channel logout address, as an HTTP POST of a logout token
    /// (OpenID Connect Back-Channel Logout 1.0).
    Application,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Application];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Application => "app",
        }
    }

    /// The channel with a stored code.
    pub fn from_code(code: &str) -> Option<Channel> {
        match code {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "app" => Some(Channel::Application),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Email => "Email",
            Channel::Sms => "SMS",
            Channel::Application => "Application",
        })
    }
}

/// Whether a message carries a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A one-time code: only its recipient may ever read it.
    Code,
    /// A security notice.
    Notice,
}

impl MessageKind {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            MessageKind::Code => "code",
            MessageKind::Notice => "notice",
        }
    }

    /// The kind with a stored code.
    pub fn from_code(code: &str) -> Option<MessageKind> {
        match code {
            "code" => Some(MessageKind::Code),
            "notice" => Some(MessageKind::Notice),
            _ => None,
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Assigned by the store when the message is queued; 0 before.
    pub id: i64,
    pub channel: Channel,
    pub kind: MessageKind,
    /// An email address or an E.164 phone number.
    pub recipient: String,
    /// The user the message is about, if any.
    pub user_id: Option<UserId>,
    /// Email subject (also the outbox's summary of an SMS).
    pub subject: String,
    /// Plain-text body: the whole of an SMS, the text part of an email.
    pub text: String,
    /// HTML part of an email.
    pub html: Option<String>,
    pub created_at: Timestamp,
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    /// Accepted by the mail server or SMS gateway.
    Delivered,
    /// No transport is configured for its channel: it stays here to be read by an administrator.
    Held,
    /// Given up after [`MAX_ATTEMPTS`] attempts or a permanent refusal.
    Failed,
}

impl DeliveryState {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Held => "held",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state with a stored code.
    pub fn from_code(code: &str) -> Option<DeliveryState> {
        match code {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "held" => Some(DeliveryState::Held),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeliveryState::Pending => "Waiting",
            DeliveryState::Delivered => "Delivered",
            DeliveryState::Held => "Held (no transport)",
            DeliveryState::Failed => "Failed",
        })
    }
}

/// A message with its delivery record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub message: Message,
    pub state: DeliveryState,
    /// Attempts made so far (a claimed message counts the attempt in progress).
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    /// When it was delivered, held or given up.
    pub finished_at: Option<Timestamp>,
    /// The body was erased after delivery.
    pub redacted: bool,
}

/// The lease under which a worker claimed messages, shared by all the messages of one claim.
/// A message is claimed again only once its lease has run out or been released, under a later
/// lease, so outcomes recorded under a lease change only the messages it still covers: a
/// worker that overran its lease cannot undo the claim of the worker that took its messages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// When it runs out and another worker may take the messages over.
    pub until: Timestamp,
}

impl Lease {
    /// The lease of a claim made at `now`: [`LEASE_SECONDS`] long.
    pub fn claimed_at(now: Timestamp) -> Lease {
        Lease { until: now.plus_seconds(LEASE_SECONDS) }
    }
}

/// Messages claimed together, under one lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The lease their outcomes are recorded under.
    pub lease: Lease,
    /// The claimed messages, oldest due first.
    pub entries: Vec<OutboxEntry>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; erase the body when `redact`.
    Delivered { redact: bool },
    /// A temporary failure: try again at `at`.
    Retry { error: String, at: Timestamp },
    /// A permanent failure, or too many attempts.
    Failed { error: String },
    /// No transport for the channel.
    Held,
}

/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: u32 = 10;

/// How long a worker may hold a claimed message before another may take it over (it died).
pub const LEASE_SECONDS: i64 = 120;

/// The outcome of a failed attempt number `attempts` (1 for the first): exponential backoff from
/// `base_ms`, at most an hour apart, until [`MAX_ATTEMPTS`].
pub fn after_failure(attempts: u32, error: String, now: Timestamp, base_ms: i64) -> Outcome {
    if attempts >= MAX_ATTEMPTS {
        return Outcome::Failed { error };
    }
    let delay = base_ms.saturating_mul(1_i64 << attempts.saturating_sub(1).min(20)).min(60 * 60 * 1000);
    Outcome::Retry { error, at: Timestamp(now.millis() + delay) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour_then_gives_up() {
        let now = Timestamp(0);
        let at = |n| match after_failure(n, "down".into(), now, 30_000) {
            Outcome::Retry { at, .. } => Some(at.millis()),
            _ => None,
        };
        assert_eq!(at(1), Some(30_000));
        assert_eq!(at(2), Some(60_000));
        assert_eq!(at(3), Some(120_000));
        assert_eq!(at(9), Some(3_600_000));
        assert_eq!(at(MAX_ATTEMPTS), None);
        assert!(matches!(after_failure(MAX_ATTEMPTS, "x".into(), now, 1), Outcome::Failed { .. }));
    }

    #[test]
    fn codes_round_trip() {
        for c in [Channel::Email, Channel::Sms] {
            assert_eq!(Channel::from_code(c.code()), Some(c));
        }
        for k in [MessageKind::Code, MessageKind::Notice] {
            assert_eq!(MessageKind::from_code(k.code()), Some(k));
        }
        for s in [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Held, DeliveryState::Failed] {
            assert_eq!(DeliveryState::from_code(s.code()), Some(s));
        }
    }
}
