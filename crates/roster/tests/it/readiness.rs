//! The recovery-readiness report against a directory built for it, under two reset policies.

use roster_domain::readiness::ReadinessReport;
use roster_domain::recovery::ResetPolicy;
use roster_domain::{Actor, ContactInput, Role, User};

use crate::harness::TestApp;

async fn with_contacts(app: &TestApp, name: &str, roles: &[Role], emails: &[&str], mobile: &str, office: &str) -> User {
    let user = app.user(name, name, roles).await;
    let input = ContactInput {
        display_name: name.into(),
        alternate_emails: emails.iter().map(|e| e.to_string()).collect(),
        mobile_phone: mobile.into(),
        office_phone: office.into(),
        ..ContactInput::default()
    };
    app.directory.update_contact(&Actor::system("test"), user.id, user.version, &input).await.unwrap()
}

#[tokio::test]
async fn every_active_user_is_counted_once_under_the_policy_in_force() {
    let app = TestApp::start().await;
    let system = Actor::system("test");
    with_contacts(&app, "ann@contoso.com", &[], &[], "", "").await;
    with_contacts(&app, "ben@contoso.com", &[], &["ben@fabrikam.com"], "", "").await;
    let cat = with_contacts(&app, "cat@contoso.com", &[], &[], "+1 425 555 0101", "").await;
    with_contacts(&app, "dee@contoso.com", &[Role::HelpdeskAdministrator], &["dee@fabrikam.com"], "", "").await;
    with_contacts(&app, "eve@contoso.com", &[Role::GlobalAdministrator], &["eve@fabrikam.com"], "+1 425 555 0102", "")
        .await;
    with_contacts(&app, "fay@contoso.com", &[], &[], "", "+1 425 555 0103").await;
    let gone = with_contacts(&app, "gus@contoso.com", &[], &[], "", "").await;
    app.directory.delete_user(&system, gone.id).await.unwrap();
    app.execute_sql(&format!(
        "insert into contact_verifications (user_id, method, value, verified_at) values ('{}', 'mobile_phone', \
         '+14255550101', 1)",
        cat.id
    ))
    .await;

    let lenient = app.directory.readiness(&system).await.unwrap();
    assert_eq!(
        lenient,
        ReadinessReport {
            users: 6,
            ready: 3,
            not_enough: 1,
            only_unverified: 0,
            no_contacts: 2,
            nothing_verified: 3,
            administrators: 2,
            administrators_not_ready: 1,
        },
        "ben, cat and eve can reset; dee is an administrator with one method; ann and fay (an office phone) have none"
    );

    let strict = ResetPolicy { allow_unverified: false, ..ResetPolicy::default() };
    app.directory.set_reset_policy(&system, strict).await.unwrap();
    let strict = app.directory.readiness(&system).await.unwrap();
    assert_eq!((strict.ready, strict.not_enough, strict.only_unverified, strict.no_contacts), (1, 0, 3, 2));
    assert_eq!(strict.administrators_not_ready, 2);

    let mut args: Vec<std::ffi::OsString> = vec!["report".into(), "readiness".into(), "--format".into(), "json".into()];
    args.extend(app.store_args());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&args).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["users"].as_u64(), json["only_unverified"].as_u64()), (Some(6), Some(3)));
}
