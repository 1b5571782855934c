//! Graph `$filter` text: parsing into a `UserFilter`, which must be well-formed, and evaluating
//! it against a user.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_api::graph::filter::parse_filter;
use roster_domain::clock::Timestamp;
use roster_domain::user_filter::{Attr, Op, UserFilter, Value};
use roster_domain::{ContactInfo, RoleSet, User, Username};

fn user() -> User {
    User {
        id: "2819c223-7f76-453a-919d-413861904646".parse().unwrap(),
        username: Username::parse("adele.vance@contoso.com").unwrap(),
        contact: ContactInfo {
            display_name: "Adele Vance".into(),
            first_name: Some("Adele".into()),
            city: Some("Redmond".into()),
            mobile_phone: Some("+14255550101".into()),
            alternate_emails: vec!["adele@example.org".into()],
            ..ContactInfo::default()
        },
        roles: RoleSet::NONE,
        enabled: true,
        must_change_password: false,
        created_at: Timestamp(1_700_000_000_000),
        updated_at: Timestamp(1_700_000_000_000),
        updated_by: "fuzz".into(),
        version: 1,
        deleted_at: None,
    }
}

/// Checks what the parser promises of the tree; returns whether it needs an advanced query.
fn well_formed(filter: &UserFilter) -> bool {
    match filter {
        UserFilter::And(parts) | UserFilter::Or(parts) => {
            assert!(parts.len() >= 2, "a join of fewer than two conditions: {filter:?}");
            // Every part is checked, not only those up to the first that needs an advanced query.
            let mut advanced = false;
            for part in parts {
                advanced |= well_formed(part);
            }
            advanced
        }
        UserFilter::Not(inner) => {
            well_formed(inner);
            true
        }
        UserFilter::Present(_) => false,
        UserFilter::Compare { attr, op, value } => {
            match (attr, value) {
                (Attr::Enabled, Value::Bool(_)) | (Attr::Id, Value::Text(_)) => {
                    assert!(matches!(op, Op::Eq | Op::Ne), "{filter:?}")
                }
                (Attr::CreatedAt, Value::Time(_)) => {
                    assert!(!matches!(op, Op::StartsWith | Op::EndsWith | Op::Contains), "{filter:?}")
                }
                (Attr::Enabled | Attr::Id | Attr::CreatedAt | Attr::UpdatedAt, _)
                | (_, Value::Bool(_) | Value::Time(_)) => {
                    panic!("a value of the wrong type: {filter:?}")
                }
                (Attr::MobilePhone | Attr::OfficePhone | Attr::Fax, Value::Text(text)) => {
                    assert!(!text.contains([' ', '-', '.', '(', ')']), "a phone number left as typed: {filter:?}")
                }
                _ => {}
            }
            assert_ne!(*op, Op::Contains, "{filter:?}");
            matches!(op, Op::Ne | Op::EndsWith)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(parsed) = parse_filter(text) else { return };
    let needs_advanced = well_formed(&parsed.filter);
    assert!(parsed.advanced || !needs_advanced, "{text:?} is not marked advanced: {parsed:?}");
    parsed.filter.matches(&user());
});
