//! Passkeys over HTTP, where no authenticator is needed: what the ceremonies offer, that each
//! is finished once and only by whom it was started for, and what is refused. The browser
//! tests register and use real passkeys with Chromium's virtual authenticator.

use reqwest::{Method, StatusCode};
use roster_domain::apps::AppPermission;
use roster_domain::Role;
use serde_json::Value;

use crate::graph::{call, token};
use crate::harness::{csrf_of, location, Session, TestApp};

/// The sign-in page's anti-forgery token.
async fn signin_csrf(s: &Session) -> String {
    csrf_of(&s.page("/signin").await.1)
}

async fn json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_server_reached_by_address_offers_no_passkeys() {
    let Some(app) = TestApp::start().await else { return };
    let s = app.client();
    let (_, page) = s.page("/signin").await;
    assert!(!page.contains("Sign in with a passkey"), "browsers refuse an IP address as a relying party");
    let csrf = csrf_of(&page);
    let (status, body) = json(s.post("/signin/passkey/options", &[("csrf", &csrf)]).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("not an IP address"), "{body}");
}

#[tokio::test]
async fn a_sign_in_ceremony_is_finished_once_and_a_wrong_answer_is_counted() {
    let Some(app) = TestApp::start_on_localhost().await else { return };
    let s = app.client();
    let (_, page) = s.page("/signin").await;
    assert!(page.contains("Sign in with a passkey") && page.contains("autocomplete=\"username webauthn\""));
    let (status, _) = json(s.post("/signin/passkey/options", &[("csrf", "forged")]).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the sign-in page's own token is needed");
    let csrf = signin_csrf(&s).await;
    let (status, started) = json(s.post("/signin/passkey/options", &[("csrf", &csrf)]).await).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required", "a passkey alone must verify its user");
    assert!(options["challenge"].as_str().is_some_and(|c| c.len() >= 43), "{options}");
    let ceremony = started["ceremony"].as_str().unwrap().to_string();

    let answer = [("csrf", csrf.as_str()), ("ceremony", ceremony.as_str()), ("credential", "{\"id\": \"forged\"}")];
    let (status, page) = s.submit("/signin/passkey", &answer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("passkey wasn"), "{page}");
    let csrf = signin_csrf(&s).await;
    let again = [("csrf", csrf.as_str()), ("ceremony", ceremony.as_str()), ("credential", "{}")];
    let (status, page) = s.submit("/signin/passkey", &again).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("expired or was used already"), "a ceremony is finished once: {page}");
}

#[tokio::test]
async fn registration_is_offered_to_its_owner_alone_and_asks_for_a_verified_discoverable_key() {
    let Some(app) = TestApp::start_on_localhost().await else { return };
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    app.user("megan@contoso.com", "Megan Bowen", &[]).await;
    let r = app.client().post("/account/security/passkeys/options", &[("csrf", "x")]).await;
    assert!(location(&r).starts_with("/signin"), "signed-in people only");

    let alex = app.signed_in("alex@contoso.com").await;
    let (_, page) = alex.page("/account/security").await;
    assert!(page.contains("Add a passkey") && page.contains("No passkeys yet."), "{page}");
    let csrf = csrf_of(&page);
    let (status, started) = json(alex.post("/account/security/passkeys/options", &[("csrf", &csrf)]).await).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let options = &started["options"]["publicKey"];
    assert_eq!(
        (options["rp"]["id"].as_str(), options["user"]["name"].as_str()),
        (Some("localhost"), Some("alex@contoso.com"))
    );
    assert_eq!(options["authenticatorSelection"]["residentKey"], "preferred", "so it can sign in without a username");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    let ceremony = started["ceremony"].as_str().unwrap().to_string();

    let megan = app.signed_in("megan@contoso.com").await;
    let csrf = megan.csrf().await;
    let stolen = [("csrf", csrf.as_str()), ("ceremony", ceremony.as_str()), ("name", "Mine"), ("credential", "{}")];
    let (status, page) = megan.submit("/account/security/passkeys", &stolen).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("expired or was used already"), "another person's ceremony is no one's: {page}");
    let csrf = alex.csrf().await;
    let late = [("csrf", csrf.as_str()), ("ceremony", ceremony.as_str()), ("name", "Laptop"), ("credential", "{}")];
    let (status, _) = alex.submit("/account/security/passkeys", &late).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "and it is gone for its owner too");
}

#[tokio::test]
async fn graph_and_administrators_find_no_passkey_that_is_not_there_and_respect_entras_roles() {
    let Some(app) = TestApp::start_on_localhost().await else { return };
    let admin = app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    app.user("helpdesk@contoso.com", "Help Desk", &[Role::HelpdeskAdministrator]).await;
    let reader = token(&app, &[AppPermission::AuthMethodReadAll]).await;
    let methods = token(&app, &[AppPermission::AuthMethodReadWriteAll]).await;
    let base = "/v1.0/users/global@contoso.com/authentication/fido2Methods";
    let (status, listed) = call(&app, &reader, Method::GET, base, None).await;
    assert_eq!((status, listed["value"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    let missing = format!("{base}/3179e48a-750b-4051-897c-87b9720928f7");
    assert_eq!(call(&app, &reader, Method::GET, &missing, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, &reader, Method::DELETE, &missing, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, &methods, Method::DELETE, &missing, None).await.0, StatusCode::NOT_FOUND);

    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let helpdesk = app.signed_in("helpdesk@contoso.com").await;
    let csrf = helpdesk.csrf().await;
    let theirs = format!("/admin/users/{}/passkeys/3179e48a-750b-4051-897c-87b9720928f7/remove", alex.id);
    let (status, page) = helpdesk.submit(&theirs, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "Entra leaves sign-in methods to the authentication roles");
    assert!(page.contains("remove someone"), "{page}");
    let path = format!("/admin/users/{}/passkeys/3179e48a-750b-4051-897c-87b9720928f7/remove", admin.id);
    let (status, _) = helpdesk.submit(&path, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a Helpdesk Administrator can't remove an administrator's passkey");
    let grace = app.signed_in("global@contoso.com").await;
    assert_eq!(grace.page(&path).await.0, StatusCode::NOT_FOUND, "no question about a passkey that isn't there");
    let csrf = grace.csrf().await;
    let (status, _) = grace.submit(&path, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_policy_decides_who_may_use_passkeys_and_whose_second_step_must_be_one() {
    use roster_domain::group::Scope;
    use roster_domain::passkey::PasskeyPolicy;
    let Some(app) = TestApp::start_on_localhost().await else { return };
    app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let grace = app.signed_in("global@contoso.com").await;
    let (_, page) = grace.page("/admin/settings").await;
    assert!(page.contains("Save passkey policy"), "{page}");
    let csrf = csrf_of(&page);
    let contradiction =
        [("csrf", csrf.as_str()), ("allowed_for", "none"), ("required_for", "none"), ("administrators_required", "1")];
    let (status, page) = grace.submit("/admin/settings/passkeys", &contradiction).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("passkey_allowed-error"), "{page}");
    let no_groups = [("csrf", csrf.as_str()), ("allowed_for", "selected"), ("required_for", "none")];
    let (status, page) = grace.submit("/admin/settings/passkeys", &no_groups).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Name at least one group"), "{page}");
    assert_eq!(app.directory.passkey_policy().await.unwrap(), PasskeyPolicy::default(), "nothing saved");

    let off = [("csrf", csrf.as_str()), ("allowed_for", "none"), ("required_for", "none")];
    assert_eq!(location(&grace.post("/admin/settings/passkeys", &off).await), "/admin/settings?saved=1");
    let alex = app.signed_in("alex@contoso.com").await;
    let (_, page) = alex.page("/account/security").await;
    assert!(!page.contains("Add a passkey"), "not offered to someone who may not use one");
    let csrf = csrf_of(&page);
    let (status, body) = json(alex.post("/account/security/passkeys/options", &[("csrf", &csrf)]).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("doesn't let you use passkeys"), "{body}");

    let required =
        PasskeyPolicy { allowed: Scope::Everyone, required: Scope::Everyone, administrators_required: false };
    app.directory.set_passkey_policy(&roster_domain::Actor::system("test"), required).await.unwrap();
    let s = app.client();
    let r = s.sign_in("alex@contoso.com", crate::harness::PASSWORD).await;
    assert_eq!(location(&r), "/signin/verify", "a required passkey is a second step");
    let (_, page) = s.page("/signin/verify").await;
    assert!(page.contains("asks for a passkey as your second step") && page.contains("Add a passkey and continue"));
    assert!(!page.contains("Code from your authenticator app"), "nothing else is offered: {page}");
    let csrf = crate::harness::hidden_value(&page, "csrf");
    let (status, page) = s.submit("/signin/verify/app", &[("csrf", &csrf), ("app_code", "123456")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("requires a passkey as your second step"), "nor accepted: {page}");
}
