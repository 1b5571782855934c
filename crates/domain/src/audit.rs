//! Audit records: who changed what, on whom, when and from where.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::user::UserId;

/// What kind of change an audit record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
    /// A user was added.
    UserCreated,
    /// Profile or contact fields changed.
    ContactChanged,
    /// Administrator roles changed.
    RolesChanged,
    /// Sign-in allowed again.
    UserEnabled,
    /// Sign-in blocked.
    UserDisabled,
    /// Moved to Deleted users.
    UserDeleted,
    /// Brought back from Deleted users.
    UserRestored,
    /// Removed for good after the retention period.
    UserPurged,
    /// The user changed their own password.
    PasswordChanged,
    /// An organisation setting changed.
    SettingsChanged,
    /// A password was reset: by an administrator, or by the user through self-service reset.
    PasswordReset,
    /// All of a user's sessions were ended.
    SessionsRevoked,
    /// A verification code was sent to a contact.
    VerificationSent,
    /// A contact was proved to be the user's.
    ContactVerified,
    /// A second factor was added or removed, recovery codes were renewed, or the user's choice
    /// of a second step changed.
    MfaChanged,
    /// Sign-in or reset was locked after repeated failures.
    AccountLocked,
}

impl AuditAction {
    /// Every action, for filters.
    pub const ALL: [AuditAction; 16] = [
        AuditAction::UserCreated,
        AuditAction::ContactChanged,
        AuditAction::RolesChanged,
        AuditAction::UserEnabled,
        AuditAction::UserDisabled,
        AuditAction::UserDeleted,
        AuditAction::UserRestored,
        AuditAction::UserPurged,
        AuditAction::PasswordChanged,
        AuditAction::SettingsChanged,
        AuditAction::PasswordReset,
        AuditAction::SessionsRevoked,
        AuditAction::VerificationSent,
        AuditAction::ContactVerified,
        AuditAction::MfaChanged,
        AuditAction::AccountLocked,
    ];

    /// The stored code, e.g. `contact_changed`.
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::UserCreated => "user_created",
            AuditAction::ContactChanged => "contact_changed",
            AuditAction::RolesChanged => "roles_changed",
            AuditAction::UserEnabled => "user_enabled",
            AuditAction::UserDisabled => "user_disabled",
            AuditAction::UserDeleted => "user_deleted",
            AuditAction::UserRestored => "user_restored",
            AuditAction::UserPurged => "user_purged",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::SessionsRevoked => "sessions_revoked",
            AuditAction::VerificationSent => "verification_sent",
            AuditAction::ContactVerified => "contact_verified",
            AuditAction::MfaChanged => "mfa_changed",
            AuditAction::AccountLocked => "account_locked",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.code() == code)
    }

    /// A short description for people.
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::UserCreated => "User created",
            AuditAction::ContactChanged => "Contact information changed",
            AuditAction::RolesChanged => "Roles changed",
            AuditAction::UserEnabled => "Sign-in allowed",
            AuditAction::UserDisabled => "Sign-in blocked",
            AuditAction::UserDeleted => "User deleted",
            AuditAction::UserRestored => "User restored",
            AuditAction::UserPurged => "User permanently deleted",
            AuditAction::PasswordChanged => "Password changed",
            AuditAction::SettingsChanged => "Settings changed",
            AuditAction::PasswordReset => "Password reset",
            AuditAction::SessionsRevoked => "Signed out everywhere",
            AuditAction::VerificationSent => "Verification code sent",
            AuditAction::ContactVerified => "Contact verified",
            AuditAction::MfaChanged => "Multi-factor settings changed",
            AuditAction::AccountLocked => "Account locked",
        }
    }
}

/// One field's value before and after a change. Secrets never appear here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field's machine name.
    pub field: String,
    /// Whether the field can be used to recover the account.
    pub sensitive: bool,
    /// The old value, `None` when empty.
    pub before: Option<String>,
    /// The new value, `None` when empty.
    pub after: Option<String>,
}

/// One audit record, written in the same transaction as the change it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Assigned by the store; 0 before it is written.
    pub id: i64,
    pub at: Timestamp,
    /// The user who made the change; `None` for the system itself (first start, the CLI).
    pub actor_id: Option<UserId>,
    pub actor_name: String,
    pub target_id: Option<UserId>,
    pub target_name: String,
    pub action: AuditAction,
    pub changes: Vec<FieldChange>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

/// Which audit records to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only records about this user.
    pub target: Option<UserId>,
    /// Only records older than this id (the next page).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}
