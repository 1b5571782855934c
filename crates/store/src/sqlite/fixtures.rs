//! Users and audit records for the store's own tests.

use roster_domain::audit::{AuditAction, AuditEntry};
use roster_domain::contact::ContactInfo;
use roster_domain::user::{User, UserId, Username};
use roster_domain::{RoleSet, Timestamp};

/// An audit record of `action` by "test".
pub(crate) fn audit(action: AuditAction) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Timestamp(1),
        actor_id: None,
        actor_name: "test".into(),
        target_id: None,
        target_name: String::new(),
        action,
        changes: Vec::new(),
        client_ip: None,
        request_id: None,
    }
}

/// User `i`, `u{i}@contoso.com`, with a display name and nothing else.
pub(crate) fn user(i: usize) -> User {
    User {
        id: UserId::random(),
        username: Username::from_stored(format!("u{i}@contoso.com")),
        contact: ContactInfo { display_name: format!("User {i}"), ..ContactInfo::default() },
        roles: RoleSet::NONE,
        enabled: true,
        must_change_password: false,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        updated_by: "setup".into(),
        version: 1,
        deleted_at: None,
    }
}
