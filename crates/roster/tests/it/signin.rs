//! Signing in, throttling, sessions and the admin-only parts of the site.

use reqwest::StatusCode;
use roster_domain::Role;

use crate::harness::{csrf_of, location, TestApp, PASSWORD};

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let Some(app) = TestApp::start().await else { return };
    app.user("alex.wilber@contoso.com", "Alex Wilber", &[]).await;
    let wrong = app.client().sign_in("alex.wilber@contoso.com", "Not-The-Password-1").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.client().sign_in("nobody@contoso.com", "Not-The-Password-1").await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_body = unknown.text().await.unwrap();
    let message = "Your username or password is incorrect.";
    assert!(wrong_body.contains(message) && unknown_body.contains(message));
}

#[tokio::test]
async fn signing_in_opens_the_account_page_and_signing_out_ends_the_session() {
    let Some(app) = TestApp::start().await else { return };
    app.user("megan.bowen@contoso.com", "Megan Bowen", &[]).await;
    let s = app.client();
    let r = s.sign_in("Megan.Bowen@Contoso.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/", "on to the landing of the person's role");
    assert_eq!(location(&s.get("/").await), "/account");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("roster_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let (status, html) = s.page("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Megan Bowen") && html.contains("My account"));
    assert!(html.contains("You have no recovery contacts"), "someone with none is nudged to add one");
    let csrf = csrf_of(&html);
    let r = s.post("/signout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = s.get("/account").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/signin"));
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_the_window_even_with_the_right_password() {
    let Some(app) = TestApp::start().await else { return };
    app.user("target@contoso.com", "Target", &[]).await;
    for _ in 0..10 {
        let r = app.client().sign_in("target@contoso.com", "Wrong-Password-1").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.client().sign_in("target@contoso.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("Too many failed sign-in attempts"));
}

#[tokio::test]
async fn people_without_an_admin_role_get_no_admin_entry_and_403_on_admin_pages() {
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("adele.vance@contoso.com", "Adele Vance", &[]).await;
    let s = app.signed_in("adele.vance@contoso.com").await;
    let (_, html) = s.page("/account").await;
    assert!(html.contains("aria-label=\"App launcher\""));
    assert!(!html.contains("href=\"/admin\""), "no Admin entry for ordinary users");
    for path in ["/admin", "/admin/users", &format!("/admin/users/{}", user.id), "/admin/audit", "/admin/users/new"] {
        let (status, _) = s.page(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let csrf = s.csrf().await;
    let r = s.post(&format!("/admin/users/{}/state", user.id), &[("csrf", &csrf), ("action", "block")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admins_see_the_admin_entry() {
    let Some(app) = TestApp::start().await else { return };
    app.user("helpdesk@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let s = app.signed_in("helpdesk@contoso.com").await;
    let (_, html) = s.page("/account").await;
    assert!(html.contains("href=\"/admin\""));
    let (status, _) = s.page("/admin/users").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn every_signed_in_form_refuses_another_sessions_token_before_reading_it() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let target = app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let s = app.signed_in("global@contoso.com").await;
    let other = app.signed_in("global@contoso.com").await;
    let stolen = other.csrf().await;
    let id = target.id;
    let forms = [
        "/admin/users/new".to_string(),
        format!("/admin/users/{id}/contact"),
        format!("/admin/users/{id}/roles"),
        format!("/admin/users/{id}/state"),
        format!("/admin/users/{id}/password"),
        format!("/admin/users/{id}/sessions"),
        format!("/admin/users/{id}/verify"),
        "/admin/apps".to_string(),
        "/admin/settings".to_string(),
        "/admin/settings/reset-policy".to_string(),
        "/admin/settings/mfa".to_string(),
        "/admin/settings/audit".to_string(),
        "/admin/reports/readiness/ask".to_string(),
        "/account/password".to_string(),
        "/account/security/contact".to_string(),
        "/account/security/second-step".to_string(),
        "/signout".to_string(),
    ];
    for path in &forms {
        for token in ["", "forged", stolen.as_str()] {
            // A body that would not even parse as the form: the token is checked first.
            let r = s.post(path, &[("csrf", token), ("version", "not a number"), ("action", "delete")]).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
        }
    }
    let after = app.reload(&target).await;
    assert_eq!((after.version, after.enabled, after.deleted_at), (target.version, true, None));
    let (status, _) = s.page("/admin/users").await;
    assert_eq!(status, StatusCode::OK, "the session is still signed in");
}

#[tokio::test]
async fn a_form_without_the_session_token_changes_nothing() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let target = app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let s = app.signed_in("global@contoso.com").await;
    let r = s.post(&format!("/admin/users/{}/state", target.id), &[("csrf", "forged"), ("action", "block")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.reload(&target).await.enabled);
    let r = s
        .http
        .post(format!("{}/admin/users/{}/state", s.base, target.id))
        .header("origin", "https://evil.example")
        .form(&[("csrf", s.csrf().await.as_str()), ("action", "block")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.reload(&target).await.enabled);
}

#[tokio::test]
async fn the_first_admin_must_change_the_one_time_password_before_anything_else() {
    let Some(app) = TestApp::start().await else { return };
    let (admin, password) = app.directory.bootstrap("admin@contoso.com").await.unwrap().unwrap();
    let s = app.client();
    let r = s.sign_in(admin.username.as_str(), &password).await;
    assert_eq!(location(&r), "/account/password");
    let r = s.get("/admin/users").await;
    assert_eq!(location(&r), "/account/password");
    let (_, html) = s.page("/account/password").await;
    let csrf = csrf_of(&html);
    let new = "Brand-New-Secret-9";
    let (status, html) = s
        .submit(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current_password", &password),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("aria-invalid=\"true\"") && html.contains("at least 8 characters"));
    let r = s
        .post(
            "/account/password",
            &[("csrf", &csrf), ("current_password", &password), ("new_password", new), ("confirm_password", new)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, _) = s.page("/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    let again = app.client().sign_in(admin.username.as_str(), new).await;
    assert_eq!(location(&again), "/");
}

#[tokio::test]
async fn blocked_users_cannot_sign_in_and_lose_their_sessions() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let target = app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let lee = app.signed_in("lee@contoso.com").await;
    let admin = app.signed_in("global@contoso.com").await;
    let csrf = admin.csrf().await;
    let r = admin.post(&format!("/admin/users/{}/state", target.id), &[("csrf", &csrf), ("action", "block")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(lee.get("/account").await.status(), StatusCode::SEE_OTHER);
    let r = app.client().sign_in("lee@contoso.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn responses_carry_the_security_headers() {
    let Some(app) = TestApp::start().await else { return };
    let r = app.client().get("/signin").await;
    let h = r.headers();
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert!(!h["content-security-policy"].to_str().unwrap().contains("unsafe-inline"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h.contains_key("x-request-id"));
    assert_eq!(app.client().get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn after_sign_in_only_paths_on_this_site_are_followed() {
    let Some(app) = TestApp::start().await else { return };
    app.user("lee@contoso.com", "Lee Gu", &[]).await;
    for (next, expected) in
        [("/apps", "/apps"), ("//evil.example", "/"), ("/\\evil.example", "/"), ("https://evil.example", "/")]
    {
        let s = app.client();
        let (_, html) = s.page("/signin").await;
        let csrf = csrf_of(&html);
        let r = s
            .post(
                "/signin",
                &[("username", "lee@contoso.com"), ("password", PASSWORD), ("csrf", &csrf), ("next", next)],
            )
            .await;
        assert_eq!(location(&r), expected, "next={next}");
    }
}

#[tokio::test]
async fn guesses_at_the_current_password_are_throttled_like_sign_ins() {
    let Some(app) = TestApp::start().await else { return };
    app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let s = app.signed_in("lee@contoso.com").await;
    let csrf = s.csrf().await;
    let new = "Another-Secret-42";
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let r = s
            .post(
                "/account/password",
                &[
                    ("csrf", &csrf),
                    ("current_password", "Wrong-Guess-1"),
                    ("new_password", new),
                    ("confirm_password", new),
                ],
            )
            .await;
        statuses.push(r.status());
    }
    assert!(statuses[..10].iter().all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY), "{statuses:?}");
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
}
