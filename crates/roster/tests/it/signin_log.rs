//! The sign-in log: every attempt, its result and why it failed, and the page that filters it.

use reqwest::StatusCode;
use roster_domain::signin_log::SignInQuery;
use roster_domain::{Actor, Role, Timestamp};

use crate::harness::{TestApp, PASSWORD};

#[tokio::test]
async fn every_password_sign_in_is_logged_with_its_result_and_the_page_filters_them() {
    let Some(app) = TestApp::start().await else { return };
    let grace = app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    let blocked = app.user("bo@contoso.com", "Bo", &[]).await;
    app.directory.set_enabled(&Actor::system("test"), blocked.id, false).await.unwrap();

    let s = app.client();
    assert_eq!(s.sign_in("grace@contoso.com", "Wrong-Password-1").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.sign_in("nobody@contoso.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    s.sign_in("bo@contoso.com", PASSWORD).await;
    let admin = app.signed_in("Grace@contoso.com").await;

    let all = app
        .directory
        .sign_in_log(&Actor::system("test"), &SignInQuery { limit: 10, ..SignInQuery::default() })
        .await
        .unwrap();
    let seen: Vec<(&str, bool, &str)> =
        all.iter().map(|e| (e.username.as_str(), e.success, e.detail.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("grace@contoso.com", true, ""),
            ("bo@contoso.com", false, "Sign-in is blocked for this account"),
            ("nobody@contoso.com", false, "Wrong username or password"),
            ("grace@contoso.com", false, "Wrong username or password"),
        ]
    );
    assert_eq!(all[0].user_id, Some(grace.id));
    assert_eq!(all[0].method, "Password");
    assert_eq!(all[0].client_ip.as_deref(), Some("127.0.0.1"));

    let (status, html) = admin.page("/admin/sign-ins?username=grace%40contoso.com&result=failure").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<td>grace@contoso.com</td>").count(), 1, "{html}");
    assert!(html.contains("Wrong username or password"));
    let today = Timestamp::now().rfc3339()[..10].to_string();
    let (_, html) = admin.page(&format!("/admin/sign-ins?from={today}&to={today}")).await;
    assert_eq!(html.matches("<tr><td class=\"nowrap\">").count(), 4);
    let (_, html) = admin.page("/admin/sign-ins?from=2001-01-01&to=2001-01-02").await;
    assert!(html.contains("No sign-in attempts match."));
    let (status, html) = admin.page("/admin/sign-ins?result=maybe&to=soon").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"result-error\"") && html.contains("id=\"to-error\""), "{html}");

    let user = app.user("lee@contoso.com", "Lee", &[]).await;
    let lee = app.signed_in(user.username.as_str()).await;
    assert_eq!(lee.get("/admin/sign-ins").await.status(), StatusCode::FORBIDDEN);
}
