//! The audit log's hash chain: sealing, verifying, pointing at tampering, and retention.

use roster_domain::audit::{AuditAction, AuditEntry};
use roster_domain::{Actor, ContactInput, DomainError, Timestamp};

use crate::harness::TestApp;

/// A directory with a few users and changes: a dozen audit records or so.
async fn busy_app() -> Option<TestApp> {
    let app = TestApp::start().await?;
    for (name, display) in [("alex@contoso.com", "Alex"), ("megan@contoso.com", "Megan"), ("lee@contoso.com", "Lee")] {
        let user = app.user(name, display, &[]).await;
        let input = ContactInput {
            display_name: display.into(),
            mobile_phone: "+1 425 555 0100".into(),
            ..ContactInput::default()
        };
        app.directory.update_contact(&Actor::system("test"), user.id, user.version, &input).await.unwrap();
    }
    Some(app)
}

async fn verify(app: &TestApp) -> roster_domain::directory::ChainReport {
    app.directory.verify_audit(&Actor::system("test")).await.expect("verify runs")
}

/// Runs `roster audit verify` on the app's database.
async fn verify_command(app: &TestApp) -> (bool, String, String) {
    let mut args: Vec<std::ffi::OsString> = vec!["audit".into(), "verify".into()];
    args.extend(app.store_args());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&args).output().await.unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[tokio::test]
async fn an_intact_chain_verifies_and_a_changed_record_is_named() {
    let Some(app) = busy_app().await else { return };
    let report = verify(&app).await;
    assert!(report.broken.is_none(), "{report:?}");
    assert!(report.checked >= 6, "{report:?}");
    assert_eq!(report.unsealed, 0);
    let head = report.head.clone().expect("a head");
    assert_eq!(head.seq as u64, report.checked);

    let (ok, stdout, _) = verify_command(&app).await;
    assert!(ok, "{stdout}");
    assert!(stdout.contains(&format!("Head: record {}, hash {}", head.seq, head.hash)), "{stdout}");

    let page = app.directory.store().audit_chain(2, 1).await.unwrap();
    let third = &page[0];
    app.execute_sql(&format!("update audit_log set actor_name = 'Someone else' where id = {}", third.entry.id)).await;
    let report = verify(&app).await;
    let broken = report.broken.expect("the change is found");
    assert_eq!((broken.seq, broken.id), (3, Some(third.entry.id)));
    assert!(broken.reason.contains("does not match its hash"), "{}", broken.reason);
    assert_eq!(report.checked, 2, "the records before it still hold");

    let (ok, _, stderr) = verify_command(&app).await;
    assert!(!ok);
    assert!(stderr.contains("tampered with at record 3"), "{stderr}");
}

#[tokio::test]
async fn a_removed_record_and_a_cut_off_end_are_named() {
    let Some(app) = busy_app().await else { return };
    let head = verify(&app).await.head.expect("a head");
    app.execute_sql(&format!("delete from audit_log where seq = {}", head.seq)).await;
    let broken = verify(&app).await.broken.expect("the missing end is found");
    assert_eq!(broken.seq, head.seq);
    assert!(broken.reason.contains("the last records were deleted"), "{}", broken.reason);

    app.execute_sql("delete from audit_log where seq = 2").await;
    let broken = verify(&app).await.broken.expect("the gap is found");
    assert_eq!((broken.seq, broken.id), (2, None));
    assert!(broken.reason.contains("Record 2 of the chain is missing"), "{}", broken.reason);
}

#[tokio::test]
async fn records_written_after_a_check_join_the_chain_and_it_still_holds() {
    let Some(app) = busy_app().await else { return };
    let first = verify(&app).await;
    app.user("nestor@contoso.com", "Nestor", &[]).await;
    assert_eq!(app.directory.store().audit_chain_state().await.unwrap().unsealed, 1, "not sealed until asked");
    let second = verify(&app).await;
    assert!(second.broken.is_none());
    assert_eq!(second.checked, first.checked + 1);
}

#[tokio::test]
async fn retention_removes_the_oldest_records_and_the_rest_still_verifies() {
    let Some(app) = busy_app().await else { return };
    let before = verify(&app).await;
    let cutoff = Timestamp::now().plus_seconds(1);
    let trim = AuditEntry {
        id: 0,
        at: Timestamp::now(),
        actor_id: None,
        actor_name: "Roster retention".into(),
        target_id: None,
        target_name: String::new(),
        group_id: None,
        action: AuditAction::AuditTrimmed,
        changes: Vec::new(),
        client_ip: None,
        request_id: None,
    };
    let removed = app.directory.store().trim_audit(cutoff, &trim).await.unwrap();
    assert_eq!(removed, before.checked, "every sealed record was older than the cutoff");
    app.user("nestor@contoso.com", "Nestor", &[]).await;

    let after = verify(&app).await;
    assert!(after.broken.is_none(), "{after:?}");
    assert_eq!(after.anchor.as_ref().map(|a| a.seq), Some(before.checked as i64));
    assert_eq!(after.checked, 2, "the record of the removal and the new user");
    assert_eq!(after.head.unwrap().seq, before.checked as i64 + 2, "numbers go on from the anchor");

    let nothing_older = app.directory.store().trim_audit(Timestamp(0), &trim).await.unwrap();
    assert_eq!(nothing_older, 0);
}

#[tokio::test]
async fn the_retention_period_is_a_setting_in_whole_days() {
    let Some(app) = TestApp::start().await else { return };
    assert_eq!(app.directory.audit_retention_days().await.unwrap(), 730);
    let err = app.directory.set_audit_retention(&Actor::system("test"), "forever").await.unwrap_err();
    let DomainError::Invalid(errors) = err else { panic!("invalid input") };
    assert_eq!(errors[0].field, "audit_retention_days");
    app.directory.set_audit_retention(&Actor::system("test"), "90").await.unwrap();
    assert_eq!(app.directory.audit_retention_days().await.unwrap(), 90);
    assert_eq!(app.directory.trim_audit().await.unwrap(), 0, "nothing is 90 days old yet");
}

#[tokio::test]
async fn a_global_administrator_sets_the_retention_on_the_settings_page() {
    use crate::harness::{csrf_of, location};
    use roster_domain::Role;
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    let s = app.signed_in("grace@contoso.com").await;
    let (_, html) = s.page("/admin/settings").await;
    assert!(html.contains("value=\"730\""), "the default is shown");
    let csrf = csrf_of(&html);
    let (status, html) = s.submit("/admin/settings/audit", &[("csrf", &csrf), ("audit_retention_days", "ten")]).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"audit_retention_days-error\""), "the error is on the field");
    assert!(html.contains("value=\"ten\""), "what was typed is kept");
    let r = s.post("/admin/settings/audit", &[("csrf", &csrf), ("audit_retention_days", "365")]).await;
    assert_eq!(location(&r), "/admin/settings?saved=1");
    assert_eq!(app.directory.audit_retention_days().await.unwrap(), 365);
}

#[tokio::test]
async fn the_audit_log_filters_by_who_whom_what_and_when_and_exports_what_it_shows() {
    use roster_domain::Role;
    let Some(app) = TestApp::start().await else { return };
    let grace = app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex", &[]).await;
    app.user("lee@contoso.com", "Lee", &[]).await;
    let as_grace = Actor::user(&grace, None, None);
    let input =
        ContactInput { display_name: "Alex W".into(), mobile_phone: "+14255550100".into(), ..ContactInput::default() };
    app.directory.update_contact(&as_grace, alex.id, alex.version, &input).await.unwrap();
    let s = app.signed_in("grace@contoso.com").await;

    let (status, html) = s.page("/admin/audit?actor=grace%40contoso.com").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(html.contains("Contact information changed</td>"), "Grace's change is listed");
    assert!(
        html.contains(
            "<span class=\"field-label\">Mobile phone</span>: <del>(empty)</del> → <ins>+1 425-555-0100</ins>"
        ),
        "fields by their names, phones as people write them: {html}"
    );
    assert!(!html.contains("User created</td>"), "the users were created by the test, not by Grace");

    let (_, html) = s.page("/admin/audit?action=user_created").await;
    assert_eq!(html.matches("User created</td>").count(), 3, "{html}");
    let (_, html) = s.page("/admin/audit?user=alex%40contoso.com&action=contact_changed").await;
    assert_eq!(html.matches("Contact information changed</td>").count(), 1);

    let today = Timestamp::now().rfc3339()[..10].to_string();
    let (_, html) = s.page(&format!("/admin/audit?from={today}&to={today}&action=user_created")).await;
    assert_eq!(html.matches("User created</td>").count(), 3);
    let (_, html) = s.page("/admin/audit?from=2001-01-01&to=2001-12-31").await;
    assert!(html.contains("No audit records match."));

    let (status, html) = s.page("/admin/audit?from=yesterday&actor=nobody%40contoso.com").await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"from-error\"") && html.contains("id=\"actor-error\""), "{html}");
    assert!(html.contains("Fix these 2 problems:") && !html.contains("Nothing was saved"), "a filter saves nothing");

    let r = s.get("/admin/audit/export?action=user_created").await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("Time (UTC),Action,Changed by,User,Changes,Client address,Request id,Record id,Group id\n"));
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("alex@contoso.com"));
    assert_eq!(s.get("/admin/audit/export?from=yesterday").await.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
}
