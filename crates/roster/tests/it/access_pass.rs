//! The Temporary Access Pass: administrators create one under Entra's rules, its holder signs
//! in with it where the password goes and can only register methods, and it stops working
//! when it expires, is used up, replaced or removed; Graph reads and writes it in its shape.

use reqwest::{Method, StatusCode};
use roster_domain::access_pass::{AccessPassPolicyInput, AccessPassRequest};
use roster_domain::apps::AppPermission;
use roster_domain::audit::{AuditAction, AuditQuery};
use roster_domain::group::Scope;
use roster_domain::signin_log::SignInQuery;
use roster_domain::{Actor, Role, User};
use serde_json::json;

use crate::graph::{call, token};
use crate::harness::{csrf_of, location, Session, TestApp};

/// A password the policy accepts.
const NEW_PASSWORD: &str = "Lantern-Orchard-2031";

/// The secret an administrator's browser is shown once after creating a pass for `user`.
async fn create_in_admin_center(admin: &Session, user: &User, form: &[(&str, &str)]) -> String {
    let path = format!("/admin/users/{}/access-pass", user.id);
    let (status, page) = admin.page(&path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = csrf_of(&page);
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let r = admin.post(&path, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let done = location(&r);
    assert_eq!(done, format!("{path}/done"));
    let (_, page) = admin.page(&done).await;
    let marker = "<code id=\"access-pass\" data-copyable>";
    let start = page.find(marker).expect("the pass is shown") + marker.len();
    let secret = page[start..].split('<').next().unwrap().to_string();
    let (_, again) = admin.page(&done).await;
    assert!(!again.contains(&secret) && again.contains("shown only once"), "a reload shows it no more");
    secret
}

fn system() -> Actor {
    Actor::system("test")
}

/// Entra's pass policy with its default lifetimes and length.
fn entras_defaults() -> AccessPassPolicyInput {
    AccessPassPolicyInput {
        default_lifetime_minutes: "60".into(),
        min_lifetime_minutes: "60".into(),
        max_lifetime_minutes: "480".into(),
        one_time: false,
        length: "8".into(),
    }
}

/// Turns passes on for everyone: like Entra, Roster leaves them off until an administrator
/// decides who may use one.
pub(crate) async fn enable_passes(app: &TestApp) {
    app.directory.set_access_pass_policy(&system(), &entras_defaults(), Scope::Everyone).await.unwrap();
}

#[tokio::test]
async fn a_pass_signs_its_holder_in_to_register_methods_and_choose_a_password() {
    let Some(app) = TestApp::start().await else { return };
    enable_passes(&app).await;
    app.user("auth@contoso.com", "Alex Auth", &[Role::AuthenticationAdministrator]).await;
    let nestor = app.user("nestor@contoso.com", "Nestor Wilke", &[]).await;
    let admin = app.signed_in("auth@contoso.com").await;
    let secret = create_in_admin_center(&admin, &nestor, &[("lifetime_minutes", "90"), ("usable_once", "1")]).await;
    assert_eq!(secret.len(), 8, "the policy's default length");
    let (_, details) = admin.page(&format!("/admin/users/{}", nestor.id)).await;
    assert!(details.contains("Temporary Access Pass") && details.contains("One sign-in"), "{details}");
    assert!(details.contains("badge-ok\">Usable"), "{details}");

    let nestor_browser = app.client();
    let r = nestor_browser.sign_in("nestor@contoso.com", &secret).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account/security".to_string()));
    for elsewhere in ["/account", "/apps", "/account/groups", "/admin", "/"] {
        let r = nestor_browser.get(elsewhere).await;
        assert_eq!(location(&r), "/account/security", "{elsewhere} is closed to a pass's session");
    }
    let (status, page) = nestor_browser.page("/account/security").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("You signed in with a Temporary Access Pass"), "{page}");
    assert!(!page.contains("App launcher"), "nothing else is offered");

    let (_, page) = nestor_browser.page("/account/password").await;
    assert!(!page.contains("Current password"), "the pass stands for the old password: {page}");
    let csrf = csrf_of(&page);
    let (status, page) = nestor_browser
        .submit("/account/password", &[("csrf", &csrf), ("new_password", NEW_PASSWORD), ("confirm_password", "other")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The two new passwords don"), "{page}");
    let r = nestor_browser
        .post(
            "/account/password",
            &[("csrf", &csrf), ("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(location(&r), "/account/security?saved=password");

    let r = app.client().sign_in("nestor@contoso.com", &secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = r.text().await.unwrap();
    assert!(page.contains("was for one sign-in, and it has been used"), "a one-time pass is used up: {page}");
    let r = app.client().sign_in("nestor@contoso.com", NEW_PASSWORD).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/".to_string()), "the new password works");

    let log = app.directory.sign_in_log(&system(), &SignInQuery { limit: 20, ..SignInQuery::default() }).await.unwrap();
    let by_pass: Vec<_> = log.iter().filter(|e| e.method == "Temporary Access Pass").collect();
    assert_eq!(by_pass.len(), 2, "{log:?}");
    assert!(by_pass.iter().any(|e| e.success) && by_pass.iter().any(|e| e.detail.contains("used already")));

    let subjects: Vec<(String, String)> = app
        .directory
        .outbox(&system(), None, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.message.recipient, m.message.subject))
        .collect();
    assert!(
        subjects
            .contains(&("nestor@contoso.com".into(), "A Temporary Access Pass was created for your account".into())),
        "the user is told: {subjects:?}"
    );
    let audit = app.directory.audit_log(&system(), &AuditQuery { limit: 50, ..AuditQuery::default() }).await.unwrap();
    let created = audit.iter().find(|e| e.action == AuditAction::AccessPassCreated).expect("audited");
    assert_eq!(
        (created.actor_name.as_str(), created.target_name.as_str()),
        ("Alex Auth (auth@contoso.com)", "nestor@contoso.com")
    );
    assert!(created.changes.iter().all(|c| !c.after.clone().unwrap_or_default().contains(&secret)), "never the secret");
    assert!(audit.iter().any(|e| e.action == AuditAction::PasswordChanged && e.target_name == "nestor@contoso.com"));
}

#[tokio::test]
async fn only_entras_roles_create_passes_and_a_refused_one_stores_nothing() {
    let Some(app) = TestApp::start().await else { return };
    enable_passes(&app).await;
    app.user("helpdesk@contoso.com", "Help Desk", &[Role::HelpdeskAdministrator]).await;
    app.user("auth@contoso.com", "Alex Auth", &[Role::AuthenticationAdministrator]).await;
    let global = app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    let useradmin = app.user("users@contoso.com", "Uma Users", &[Role::UserAdministrator]).await;
    let nestor = app.user("nestor@contoso.com", "Nestor Wilke", &[]).await;
    let store = app.directory.store();

    let helpdesk = app.signed_in("helpdesk@contoso.com").await;
    let csrf = helpdesk.csrf().await;
    let path = format!("/admin/users/{}/access-pass", nestor.id);
    assert_eq!(helpdesk.page(&path).await.0, StatusCode::FORBIDDEN);
    let (status, page) = helpdesk.submit(&path, &[("csrf", &csrf), ("lifetime_minutes", "60")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    let (_, details) = helpdesk.page(&format!("/admin/users/{}", nestor.id)).await;
    assert!(!details.contains("Create Temporary Access Pass"), "not offered where it would be refused");

    let auth = app.signed_in("auth@contoso.com").await;
    let csrf = auth.csrf().await;
    let over_admin = format!("/admin/users/{}/access-pass", useradmin.id);
    let (status, page) = auth.submit(&over_admin, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Only Global and Privileged Authentication Administrators"), "{page}");
    let (status, page) = auth.submit(&path, &[("csrf", &csrf), ("lifetime_minutes", "30")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("from 1 hour to 8 hours"), "the policy's bounds are named: {page}");
    let (status, page) = auth.submit(&path, &[("csrf", &csrf), ("start", "next week")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Enter a date and time"), "{page}");

    let grace = app.signed_in("global@contoso.com").await;
    let csrf = grace.csrf().await;
    let (status, _) = grace.submit(&format!("/admin/users/{}/access-pass", global.id), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no one gives themselves a pass");

    app.directory.set_access_pass_policy(&system(), &entras_defaults(), Scope::Nobody).await.unwrap();
    let (status, page) = grace.submit(&path, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("include Nestor Wilke, so a pass couldn"), "{page}");

    for user in [&nestor, &useradmin, &global] {
        assert_eq!(store.get_access_pass(user.id).await.unwrap(), None, "nothing stored for {}", user.username);
    }
    let audit = app.directory.audit_log(&system(), &AuditQuery { limit: 50, ..AuditQuery::default() }).await.unwrap();
    assert!(!audit.iter().any(|e| e.action == AuditAction::AccessPassCreated));
}

#[tokio::test]
async fn an_expired_blocked_replaced_or_removed_pass_signs_no_one_in() {
    let Some(app) = TestApp::start().await else { return };
    enable_passes(&app).await;
    app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    let nestor = app.user("nestor@contoso.com", "Nestor Wilke", &[]).await;
    let reusable = AccessPassRequest { usable_once: Some(false), ..AccessPassRequest::default() };

    let (_, secret) = app.directory.create_access_pass(&system(), nestor.id, &reusable).await.unwrap();
    app.execute_sql("update access_passes set start_at = start_at - 7200000").await;
    let r = app.client().sign_in("nestor@contoso.com", &secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("has expired"));

    let later =
        AccessPassRequest { start_at: Some(roster_domain::Timestamp::now().plus_seconds(3600)), ..reusable.clone() };
    let (view, secret) = app.directory.create_access_pass(&system(), nestor.id, &later).await.unwrap();
    assert_eq!(view.usability, roster_domain::access_pass::Usability::NotYetValid);
    let r = app.client().sign_in("nestor@contoso.com", &secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("valid yet"), "a pass that hasn't started says so");

    let (_, secret) = app.directory.create_access_pass(&system(), nestor.id, &reusable).await.unwrap();
    app.directory.set_enabled(&system(), nestor.id, false).await.unwrap();
    let r = app.client().sign_in("nestor@contoso.com", &secret).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a blocked user's pass opens nothing");
    app.directory.set_enabled(&system(), nestor.id, true).await.unwrap();

    let first = app.client();
    assert_eq!(location(&first.sign_in("nestor@contoso.com", &secret).await), "/account/security");
    let second = app.client();
    assert_eq!(location(&second.sign_in("nestor@contoso.com", &secret).await), "/account/security", "reusable");
    let (_, replacement) = app.directory.create_access_pass(&system(), nestor.id, &reusable).await.unwrap();
    assert!(
        location(&first.get("/account/security").await).starts_with("/signin"),
        "a new pass ends the old one's sessions"
    );
    let r = app.client().sign_in("nestor@contoso.com", &secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the replaced pass is gone");

    let holder = app.client();
    assert_eq!(location(&holder.sign_in("nestor@contoso.com", &replacement).await), "/account/security");
    let grace = app.signed_in("global@contoso.com").await;
    let csrf = grace.csrf().await;
    let r = grace.post(&format!("/admin/users/{}/access-pass/remove", nestor.id), &[("csrf", &csrf)]).await;
    assert!(location(&r).contains("saved=access-pass-removed"), "{}", location(&r));
    assert!(location(&holder.get("/account/security").await).starts_with("/signin"), "removal signs its holder out");
    assert_eq!(app.client().sign_in("nestor@contoso.com", &replacement).await.status(), StatusCode::UNAUTHORIZED);
    let r = grace.post(&format!("/admin/users/{}/access-pass/remove", nestor.id), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "nothing left to remove");
}

#[tokio::test]
async fn graph_creates_reads_and_deletes_a_pass_in_its_own_shape() {
    let Some(app) = TestApp::start().await else { return };
    enable_passes(&app).await;
    app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let methods = token(&app, &[AppPermission::AuthMethodReadWriteAll]).await;
    let reader = token(&app, &[AppPermission::AuthMethodReadAll]).await;
    let users = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let base = "/v1.0/users/ada@contoso.com/authentication/temporaryAccessPassMethods";
    let ask = json!({"lifetimeInMinutes": 120, "isUsableOnce": true});

    assert_eq!(call(&app, &users, Method::POST, base, Some(ask.clone())).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, &reader, Method::POST, base, Some(ask.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, created) = call(&app, &methods, Method::POST, base, Some(ask)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["@odata.type"], "#microsoft.graph.temporaryAccessPassAuthenticationMethod");
    assert_eq!((created["lifetimeInMinutes"].as_u64(), created["isUsableOnce"].as_bool()), (Some(120), Some(true)));
    assert_eq!(
        (created["isUsable"].as_bool(), created["methodUsabilityReason"].as_str()),
        (Some(true), Some("EnabledByPolicy"))
    );
    let secret = created["temporaryAccessPass"].as_str().expect("shown in the answer that creates it").to_string();
    let id = created["id"].as_str().unwrap().to_string();

    let (status, listed) = call(&app, &reader, Method::GET, base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["value"][0]["id"].as_str(), Some(id.as_str()));
    assert!(listed["value"][0]["temporaryAccessPass"].is_null(), "never again");
    let (status, one) = call(&app, &reader, Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!((status, one["startDateTime"].clone()), (StatusCode::OK, created["startDateTime"].clone()));
    let (_, all) = call(&app, &reader, Method::GET, "/v1.0/users/ada@contoso.com/authentication/methods", None).await;
    assert!(all["value"].as_array().unwrap().iter().any(|m| m["id"] == id.as_str()), "{all}");

    let r = app.client().sign_in("ada@contoso.com", &secret).await;
    assert_eq!(location(&r), "/account/security", "the pass Graph made signs in");
    let (_, used) = call(&app, &reader, Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!(
        (used["isUsable"].as_bool(), used["methodUsabilityReason"].as_str()),
        (Some(false), Some("OneTimeUsed"))
    );

    for (body, named) in [
        (json!({"lifetimeInMinutes": 5}), "'lifetimeInMinutes'"),
        (json!({"isUsableOnce": "yes"}), "isUsableOnce"),
        (json!({"temporaryAccessPass": "chosen"}), "temporaryAccessPass"),
    ] {
        let (status, refused) = call(&app, &methods, Method::POST, base, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(named), "{refused}");
    }
    let (_, still) = call(&app, &reader, Method::GET, base, None).await;
    assert_eq!(still["value"][0]["id"].as_str(), Some(id.as_str()), "a refused request replaced nothing");

    let wrong = format!("{base}/3179e48a-750b-4051-897c-87b9720928f7");
    assert_eq!(call(&app, &methods, Method::DELETE, &wrong, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, &reader, Method::DELETE, &format!("{base}/{id}"), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, &methods, Method::DELETE, &format!("{base}/{id}"), None).await.0, StatusCode::NO_CONTENT);
    let (_, empty) = call(&app, &reader, Method::GET, base, None).await;
    assert_eq!(empty["value"].as_array().map(Vec::len), Some(0));

    let later = json!({"startDateTime": roster_domain::Timestamp::now().plus_seconds(7200).rfc3339()});
    let (status, pending) = call(&app, &methods, Method::POST, base, Some(later)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (pending["isUsable"].as_bool(), pending["methodUsabilityReason"].as_str()),
        (Some(false), Some("NotYetValid"))
    );
    let r = app.client().sign_in("ada@contoso.com", pending["temporaryAccessPass"].as_str().unwrap()).await;
    assert!(r.text().await.unwrap().contains("valid yet"), "a pass that hasn't started says so");
}

#[tokio::test]
async fn the_pass_policy_is_set_in_settings_within_entras_bounds() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    let nestor = app.user("nestor@contoso.com", "Nestor Wilke", &[]).await;
    let grace = app.signed_in("global@contoso.com").await;
    let (_, page) = grace.page("/admin/settings").await;
    assert!(page.contains("Temporary Access Pass") && page.contains("value=\"480\""), "Entra's defaults shown");
    let csrf = csrf_of(&page);
    let fields = |default: &'static str, min: &'static str, max: &'static str, length: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("enabled_for", "all".to_string()),
            ("default_lifetime_minutes", default.to_string()),
            ("min_lifetime_minutes", min.to_string()),
            ("max_lifetime_minutes", max.to_string()),
            ("length", length.to_string()),
            ("one_time", "1".to_string()),
        ]
    };
    let bad = fields("5", "60", "50000", "49");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, page) = grace.submit("/admin/settings/access-pass", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for named in ["default_lifetime_minutes-error", "max_lifetime_minutes-error", "length-error"] {
        assert!(page.contains(named), "{named} in {page}");
    }
    let policy = app.directory.access_pass_policy().await.unwrap();
    assert_eq!((policy.scope, policy.length), (Scope::Nobody, 8), "nothing saved; passes stay off");

    let good = fields("120", "30", "1440", "12");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = grace.post("/admin/settings/access-pass", &good).await;
    assert_eq!(location(&r), "/admin/settings?saved=1");
    let policy = app.directory.access_pass_policy().await.unwrap();
    assert_eq!(
        (
            policy.default_lifetime_minutes,
            policy.min_lifetime_minutes,
            policy.max_lifetime_minutes,
            policy.length,
            policy.one_time
        ),
        (120, 30, 1440, 12, true)
    );
    let asked = AccessPassRequest { usable_once: Some(false), ..AccessPassRequest::default() };
    assert!(
        app.directory.create_access_pass(&system(), nestor.id, &asked).await.is_err(),
        "the policy makes passes one-time"
    );
    let (view, secret) =
        app.directory.create_access_pass(&system(), nestor.id, &AccessPassRequest::default()).await.unwrap();
    assert_eq!((view.lifetime_minutes, view.usable_once, secret.len()), (120, true, 12));
    let audit = app.directory.audit_log(&system(), &AuditQuery { limit: 20, ..AuditQuery::default() }).await.unwrap();
    let changed = audit.iter().find(|e| e.action == AuditAction::SettingsChanged).expect("audited");
    assert!(changed.changes.iter().any(|c| c.field == "access_pass_length" && c.after.as_deref() == Some("12")));
}
