//! What the tests of several modules build on, on either engine: a store of their own (its
//! engine's [`test_store`]) and sample rows.

use roster_domain::audit::{AuditAction, AuditEntry};
use roster_domain::contact::ContactInfo;
use roster_domain::outbox::{Channel, Message, MessageKind};
use roster_domain::user::{User, UserId, Username};
use roster_domain::{RoleSet, Timestamp};

pub(crate) use super::{other_node, test_store, unmigrated_store};

/// An audit record of `action` by a test actor.
pub(crate) fn audit(action: AuditAction) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Timestamp(1),
        actor_id: None,
        actor_name: "test".into(),
        target_id: None,
        target_name: String::new(),
        group_id: None,
        action,
        changes: Vec::new(),
        client_ip: None,
        request_id: None,
    }
}

/// User number `i`, active, with only a display name.
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
        external_id: None,
    }
}

/// Message number `i`, an email or a text by parity.
pub(crate) fn message(i: i64) -> Message {
    Message {
        id: 0,
        channel: if i % 2 == 0 { Channel::Email } else { Channel::Sms },
        kind: MessageKind::Notice,
        recipient: format!("r{i}@contoso.com"),
        user_id: None,
        subject: format!("Subject {i}"),
        text: format!("Body {i}"),
        html: Some(format!("<p>Body {i}</p>")),
        created_at: Timestamp(1_000 + i),
    }
}
