//! Audit records: who changed what, on whom, when and from where.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::group::GroupId;
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
    /// The username changed; the old one became an alias for a while.
    UserRenamed,
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
    /// Records older than the retention period were removed.
    AuditTrimmed,
    /// A user was asked to complete their security info.
    RegistrationRequested,
    /// An application was registered, changed (permissions, client secrets) or removed.
    AppChanged,
    /// A group was added.
    GroupCreated,
    /// A group's name, description, nickname, external id or owners changed.
    GroupChanged,
    /// A group moved to Deleted groups.
    GroupDeleted,
    /// A group came back from Deleted groups.
    GroupRestored,
    /// A group was removed for good after the retention period.
    GroupPurged,
    /// A user or group became a member of a group.
    MemberAdded,
    /// A user or group stopped being a member of a group.
    MemberRemoved,
    /// A key that signs ID tokens was created or retired.
    SigningKeyChanged,
    /// An application's tokens for a user were ended, such as when a code or refresh token
    /// was used twice or the user withdrew their consent.
    AppTokensRevoked,
    /// A user consented to what an application asked for.
    AppConsentGiven,
    /// A Temporary Access Pass was created for a user (replacing any they had).
    AccessPassCreated,
    /// A user's Temporary Access Pass was removed before it ended.
    AccessPassRemoved,
}

impl AuditAction {
    /// Every action, for filters.
    pub const ALL: [AuditAction; 32] = [
        AuditAction::UserCreated,
        AuditAction::ContactChanged,
        AuditAction::RolesChanged,
        AuditAction::UserEnabled,
        AuditAction::UserDisabled,
        AuditAction::UserDeleted,
        AuditAction::UserRestored,
        AuditAction::UserRenamed,
        AuditAction::UserPurged,
        AuditAction::PasswordChanged,
        AuditAction::SettingsChanged,
        AuditAction::PasswordReset,
        AuditAction::SessionsRevoked,
        AuditAction::VerificationSent,
        AuditAction::ContactVerified,
        AuditAction::MfaChanged,
        AuditAction::AccountLocked,
        AuditAction::AuditTrimmed,
        AuditAction::RegistrationRequested,
        AuditAction::AppChanged,
        AuditAction::GroupCreated,
        AuditAction::GroupChanged,
        AuditAction::GroupDeleted,
        AuditAction::GroupRestored,
        AuditAction::GroupPurged,
        AuditAction::MemberAdded,
        AuditAction::MemberRemoved,
        AuditAction::SigningKeyChanged,
        AuditAction::AppTokensRevoked,
        AuditAction::AppConsentGiven,
        AuditAction::AccessPassCreated,
        AuditAction::AccessPassRemoved,
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
            AuditAction::UserRenamed => "user_renamed",
            AuditAction::UserPurged => "user_purged",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::SessionsRevoked => "sessions_revoked",
            AuditAction::VerificationSent => "verification_sent",
            AuditAction::ContactVerified => "contact_verified",
            AuditAction::MfaChanged => "mfa_changed",
            AuditAction::AccountLocked => "account_locked",
            AuditAction::AuditTrimmed => "audit_trimmed",
            AuditAction::RegistrationRequested => "registration_requested",
            AuditAction::AppChanged => "app_changed",
            AuditAction::GroupCreated => "group_created",
            AuditAction::GroupChanged => "group_changed",
            AuditAction::GroupDeleted => "group_deleted",
            AuditAction::GroupRestored => "group_restored",
            AuditAction::GroupPurged => "group_purged",
            AuditAction::MemberAdded => "member_added",
            AuditAction::MemberRemoved => "member_removed",
            AuditAction::SigningKeyChanged => "signing_key_changed",
            AuditAction::AppTokensRevoked => "app_tokens_revoked",
            AuditAction::AppConsentGiven => "app_consent_given",
            AuditAction::AccessPassCreated => "access_pass_created",
            AuditAction::AccessPassRemoved => "access_pass_removed",
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
            AuditAction::UserRenamed => "Username changed",
            AuditAction::UserPurged => "User permanently deleted",
            AuditAction::PasswordChanged => "Password changed",
            AuditAction::SettingsChanged => "Settings changed",
            AuditAction::PasswordReset => "Password reset",
            AuditAction::SessionsRevoked => "Signed out everywhere",
            AuditAction::VerificationSent => "Verification code sent",
            AuditAction::ContactVerified => "Contact verified",
            AuditAction::MfaChanged => "Multi-factor settings changed",
            AuditAction::AccountLocked => "Account locked",
            AuditAction::AuditTrimmed => "Old audit records removed",
            AuditAction::RegistrationRequested => "Asked to register security info",
            AuditAction::AppChanged => "Application registration changed",
            AuditAction::GroupCreated => "Group created",
            AuditAction::GroupChanged => "Group changed",
            AuditAction::GroupDeleted => "Group deleted",
            AuditAction::GroupRestored => "Group restored",
            AuditAction::GroupPurged => "Group permanently deleted",
            AuditAction::MemberAdded => "Member added to group",
            AuditAction::MemberRemoved => "Member removed from group",
            AuditAction::SigningKeyChanged => "Token signing key changed",
            AuditAction::AppTokensRevoked => "Application sign-in revoked",
            AuditAction::AppConsentGiven => "Consent given to application",
            AuditAction::AccessPassCreated => "Temporary Access Pass created",
            AuditAction::AccessPassRemoved => "Temporary Access Pass removed",
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
    /// The group the change was made to or in (a member added, a group renamed).
    pub group_id: Option<GroupId>,
    pub action: AuditAction,
    pub changes: Vec<FieldChange>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

/// A record's place in a log listed newest first: by time, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    pub at: Timestamp,
    pub id: i64,
}

impl LogCursor {
    /// The cursor of a record.
    pub fn of(entry: &AuditEntry) -> LogCursor {
        LogCursor { at: entry.at, id: entry.id }
    }

    /// The cursor as text for a link (`time.id`).
    pub fn encode(self) -> String {
        format!("{}.{}", self.at.millis(), self.id)
    }

    /// A cursor read back from a link.
    pub fn decode(text: &str) -> Option<LogCursor> {
        let (at, id) = text.split_once('.')?;
        Some(LogCursor { at: Timestamp(at.parse().ok()?), id: id.parse().ok()? })
    }
}

/// Which audit records to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only records about this user.
    pub target: Option<UserId>,
    /// Only records of changes this user made.
    pub actor: Option<UserId>,
    /// Only records about this group or its members.
    pub group: Option<GroupId>,
    /// Only records of this kind.
    pub action: Option<AuditAction>,
    /// Only records written at or after this time...
    pub from: Option<Timestamp>,
    /// ...and before this one.
    pub until: Option<Timestamp>,
    /// Only records listed after this one (the next page).
    pub before: Option<LogCursor>,
    /// Page size.
    pub limit: u32,
}

/// An audit record with its place in the tamper-evident chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEntry {
    /// Its number in the chain: 1, 2, 3… in the order records were sealed.
    pub seq: i64,
    /// [`chain_hash`] of the record after the previous one's hash.
    pub hash: String,
    pub entry: AuditEntry,
}

/// A record's place in the chain: its number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub seq: i64,
    pub hash: String,
}

/// The chain's ends as the store records them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainState {
    /// The last record retention removed: verification starts after it.
    pub anchor: Option<ChainLink>,
    /// The last record sealed.
    pub head: Option<ChainLink>,
    /// Records written but not sealed yet.
    pub unsealed: u64,
}

/// Seals `entries`, in their order, after `head` (`None`: the chain is empty): each record's id
/// with its place in the chain.
pub fn seal(head: Option<ChainLink>, entries: &[AuditEntry]) -> Vec<(i64, ChainLink)> {
    let mut link = head.unwrap_or(ChainLink { seq: 0, hash: String::new() });
    entries
        .iter()
        .map(|entry| {
            link.seq += 1;
            link.hash = chain_hash(&link.hash, link.seq, entry);
            (entry.id, link.clone())
        })
        .collect()
}

/// The hash that seals `entry` as record `seq` of the chain, after a record whose hash is
/// `previous` (empty for the first): SHA-256, in hex, over the previous hash, the number and
/// every field of the record, so that changing, removing or reordering a sealed record breaks
/// the chain from that record on.
pub fn chain_hash(previous: &str, seq: i64, entry: &AuditEntry) -> String {
    /// The record's fields in a fixed order and encoding.
    #[derive(Serialize)]
    struct Canonical<'a> {
        id: i64,
        at: i64,
        actor_id: Option<String>,
        actor_name: &'a str,
        target_id: Option<String>,
        target_name: &'a str,
        // Absent, not null, when there is no group: records sealed before groups existed
        // keep their hashes.
        #[serde(skip_serializing_if = "Option::is_none")]
        group_id: Option<String>,
        action: &'a str,
        changes: &'a [FieldChange],
        client_ip: Option<&'a str>,
        request_id: Option<&'a str>,
    }
    let canonical = Canonical {
        id: entry.id,
        at: entry.at.millis(),
        actor_id: entry.actor_id.map(|id| id.to_string()),
        actor_name: &entry.actor_name,
        target_id: entry.target_id.map(|id| id.to_string()),
        target_name: &entry.target_name,
        group_id: entry.group_id.map(|id| id.to_string()),
        action: entry.action.code(),
        changes: &entry.changes,
        client_ip: entry.client_ip.as_deref(),
        request_id: entry.request_id.as_deref(),
    };
    let json = serde_json::to_string(&canonical).expect("plain data always serialises");
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update(format!("\n{seq}\n").as_bytes());
    hasher.update(json.as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            id: 7,
            at: Timestamp(1_764_000_000_000),
            actor_id: None,
            actor_name: "Roster setup".into(),
            target_id: Some(UserId::random()),
            target_name: "alex@contoso.com".into(),
            group_id: None,
            action: AuditAction::ContactChanged,
            changes: vec![FieldChange {
                field: "mobile_phone".into(),
                sensitive: true,
                before: None,
                after: Some("+14255550100".into()),
            }],
            client_ip: Some("192.0.2.1".into()),
            request_id: None,
        }
    }

    #[test]
    fn records_without_a_group_hash_as_they_did_before_groups() {
        let mut record = entry();
        record.target_id = Some(UserId("00000000-0000-0000-0000-000000000001".parse().unwrap()));
        // Sealed by the chain's first form, which had no group.
        assert_eq!(chain_hash("abc", 3, &record), "df7725e5f843b6b93deddefb4cdc9e5733145305290afe8afe07b962ba517095");
    }

    #[test]
    fn the_hash_covers_every_field_the_number_and_the_previous_hash() {
        let original = entry();
        let sealed = chain_hash("abc", 3, &original);
        assert_eq!(sealed, chain_hash("abc", 3, &original.clone()), "the same record hashes the same");
        assert_eq!(sealed.len(), 64);
        assert_ne!(sealed, chain_hash("abd", 3, &original), "the previous hash");
        assert_ne!(sealed, chain_hash("abc", 4, &original), "the number");
        let changed: [fn(&mut AuditEntry); 7] = [
            |e| e.group_id = Some(GroupId::random()),
            |e| e.id += 1,
            |e| e.at = Timestamp(e.at.millis() + 1),
            |e| e.actor_name.push('!'),
            |e| e.action = AuditAction::RolesChanged,
            |e| e.changes[0].after = Some("+14255550101".into()),
            |e| e.client_ip = None,
        ];
        for change in changed {
            let mut tampered = original.clone();
            change(&mut tampered);
            assert_ne!(sealed, chain_hash("abc", 3, &tampered));
        }
    }
}
