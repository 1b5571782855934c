//! Administrators resetting passwords and ending sessions: permissions, notices and audit.

use reqwest::StatusCode;
use roster_domain::outbox::OutboxEntry;
use roster_domain::{Actor, AuditAction, AuditQuery, Role, User};

use crate::harness::{csrf_of, location, TestApp, PASSWORD};

async fn outbox(app: &TestApp) -> Vec<OutboxEntry> {
    app.directory.outbox(&Actor::system("test"), None, 100).await.expect("outbox")
}

async fn last_audit(app: &TestApp, user: &User) -> AuditAction {
    let query = AuditQuery { target: Some(user.id), limit: 1, ..AuditQuery::default() };
    app.directory.audit_log(&Actor::system("test"), &query).await.unwrap()[0].action
}

#[tokio::test]
async fn a_helpdesk_administrator_resets_a_users_password_and_the_user_is_signed_out() {
    let Some(app) = TestApp::start().await else { return };
    app.user("helpdesk@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let alex_session = app.signed_in("alex@contoso.com").await;
    let helpdesk = app.signed_in("helpdesk@contoso.com").await;

    let path = format!("/admin/users/{}/password", alex.id);
    let (status, html) = helpdesk.page(&path).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html);
    let r = helpdesk.post(&path, &[("csrf", &csrf), ("password_choice", "generated"), ("must_change", "1")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "post, then redirect: a reload never resets again");
    let done = location(&r);
    let (status, html) = helpdesk.page(&done).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("role=\"status\">The password of Alex Wilber"));
    let marker = "<code id=\"generated-password\" data-copyable>";
    let start = html.find(marker).expect("the generated password is shown once") + marker.len();
    let password = html[start..].split('<').next().unwrap().to_string();
    let (_, again) = helpdesk.page(&done).await;
    assert!(!again.contains(&password) && again.contains("shown only once"), "a reload shows it no more");

    let r = alex_session.get("/account").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old session has ended");
    let fresh = app.client();
    assert_eq!(
        fresh.sign_in("alex@contoso.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "old password refused"
    );
    let r = fresh.sign_in("alex@contoso.com", &password).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/account/password"), "must choose a new password: {}", location(&r));

    assert_eq!(last_audit(&app, &alex).await, AuditAction::PasswordReset);
    let notices = outbox(&app).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].message.recipient, "alex@contoso.com");
    assert_eq!(notices[0].message.subject, "Your password was reset");
}

#[tokio::test]
async fn resets_follow_the_role_table_and_tell_global_administrators_about_administrators() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    app.user("global2@contoso.com", "Second Global", &[Role::GlobalAdministrator]).await;
    app.user("helpdesk@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let megan = app.user("megan@contoso.com", "Megan Bowen", &[Role::UserAdministrator]).await;

    let helpdesk = app.signed_in("helpdesk@contoso.com").await;
    let path = format!("/admin/users/{}/password", megan.id);
    let (status, html) = helpdesk.page(&path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("reset the password or end the sessions of a User Administrator"), "{html}");
    let csrf = helpdesk.csrf().await;
    let (status, _) = helpdesk.submit(&path, &[("csrf", &csrf), ("password_choice", "generated")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.reload(&megan).await.version, megan.version, "nothing changed");

    let global = app.signed_in("global@contoso.com").await;
    let csrf = global.csrf().await;
    let (status, html) =
        global.submit(&path, &[("csrf", &csrf), ("password_choice", "typed"), ("password", "short")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(outbox(&app).await.is_empty(), "a refused reset sends nothing");

    let (status, _) = global
        .submit(&path, &[("csrf", &csrf), ("password_choice", "typed"), ("password", "Violet-Harbor-2026!")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let r = app.client().sign_in("megan@contoso.com", "Violet-Harbor-2026!").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!location(&r).starts_with("/account/password"), "not forced to change it");
    let mut to: Vec<String> = outbox(&app).await.into_iter().map(|e| e.message.recipient).collect();
    to.sort();
    assert_eq!(to, ["global2@contoso.com", "global@contoso.com", "megan@contoso.com"]);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_the_user() {
    let Some(app) = TestApp::start().await else { return };
    app.user("useradmin@contoso.com", "User Admin", &[Role::UserAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let laptop = app.signed_in("alex@contoso.com").await;
    let phone = app.signed_in("alex@contoso.com").await;

    let admin = app.signed_in("useradmin@contoso.com").await;
    let csrf = admin.csrf().await;
    let r = admin.post(&format!("/admin/users/{}/sessions", alex.id), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.page(&location(&r)).await;
    assert!(html.contains("signed out everywhere"));
    for session in [&laptop, &phone] {
        assert_eq!(session.get("/account").await.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(last_audit(&app, &alex).await, AuditAction::SessionsRevoked);
    assert_eq!(admin.get("/account").await.status(), StatusCode::OK, "the administrator stays signed in");
}
