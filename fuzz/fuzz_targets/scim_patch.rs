//! SCIM PATCH bodies: reading the operations and applying them to a user resource. A failed
//! request must leave the resource as it was; a successful one must keep what the server owns
//! and at most one primary address.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_api::scim::patch::{apply, parse_patch_request};
use roster_api::scim::user::resource;
use roster_domain::clock::Timestamp;
use roster_domain::{ContactInfo, RoleSet, User, Username};
use serde_json::Value;

fn user() -> User {
    User {
        id: "2819c223-7f76-453a-919d-413861904646".parse().unwrap(),
        username: Username::parse("adele.vance@contoso.com").unwrap(),
        contact: ContactInfo {
            display_name: "Adele Vance".into(),
            first_name: Some("Adele".into()),
            last_name: Some("Vance".into()),
            job_title: Some("Retail Manager".into()),
            department: Some("Retail".into()),
            mobile_phone: Some("+14255550101".into()),
            office_phone: Some("+14255550102".into()),
            alternate_emails: vec!["adele@example.org".into(), "av@fabrikam.com".into()],
            city: Some("Redmond".into()),
            country: Some("United States".into()),
            ..ContactInfo::default()
        },
        roles: RoleSet::NONE,
        enabled: true,
        must_change_password: false,
        created_at: Timestamp(1_700_000_000_000),
        updated_at: Timestamp(1_700_000_000_000),
        updated_by: "fuzz".into(),
        version: 3,
        deleted_at: None,
    }
}

/// The member named `name` ignoring case, found the way the applier finds it.
fn member<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(ops) = parse_patch_request(&body) else { return };
    let before = resource(&user(), "https://roster.example/scim/v2/Users/2819c223-7f76-453a-919d-413861904646");
    let mut after = before.clone();
    if apply(&mut after, &ops).is_err() {
        assert_eq!(after, before, "a failed request changed the resource");
        return;
    }
    for owned in ["id", "meta"] {
        assert_eq!(member(&after, owned), member(&before, owned), "'{owned}' changed");
    }
    for required in ["userName", "active"] {
        assert!(member(&after, required).is_some(), "'{required}' was removed");
    }
    if let Some(Value::Array(emails)) = member(&after, "emails") {
        let primaries = emails.iter().filter(|e| member(e, "primary") == Some(&Value::Bool(true))).count();
        assert!(primaries <= 1, "{primaries} primary addresses: {after}");
    }
});
