//! The second step of sign-in over HTTP: setting up an authenticator app when none is
//! registered, app codes (never twice), codes by text message, recovery codes, lockout, and the
//! user's own choices on Security info.

use reqwest::StatusCode;
use roster_delivery::{SmsTransport, Transports, TwilioConfig};
use roster_domain::mfa::{self, MfaPolicy};
use roster_domain::{Actor, AuditAction, AuditQuery, ContactInput, Role};

use crate::harness::{csrf_of, location, Session, TestApp, PASSWORD};
use crate::peers::TwilioServer;

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The app secret shown as a key on a set-up page.
pub(crate) fn secret_on(page: &str) -> Vec<u8> {
    let marker = "<code id=\"app-secret\">";
    let start = page.find(marker).expect("the key is shown") + marker.len();
    let text: String = page[start..].split('<').next().unwrap().split_whitespace().collect();
    totp_rs::Secret::Encoded(text).to_bytes().expect("base32 key")
}

/// The recovery codes on a recovery-codes page.
fn recovery_codes_on(page: &str) -> Vec<String> {
    page.split("<li><code>").skip(1).map(|rest| rest.split('<').next().unwrap().to_string()).collect()
}

async fn require_for_administrators(app: &TestApp) {
    app.directory.set_mfa_policy(&Actor::system("test"), MfaPolicy::Administrators).await.unwrap();
}

/// Signs in with the password and returns the second-step page.
async fn password_step(s: &Session, username: &str) -> String {
    let r = s.sign_in(username, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/signin/verify", "a second step is asked for");
    assert_eq!(s.get("/account").await.status(), StatusCode::SEE_OTHER, "not signed in yet");
    s.page("/signin/verify").await.1
}

#[tokio::test]
async fn an_administrator_with_no_second_factor_sets_up_an_app_and_then_signs_in_with_it() {
    let Some(app) = TestApp::start().await else { return };
    require_for_administrators(&app).await;
    let admin = app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;

    let s = app.client();
    let page = password_step(&s, "global@contoso.com").await;
    assert!(page.contains("<h1>Keep your account secure</h1>"));
    assert!(page.contains("<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\""));
    let secret = secret_on(&page);
    let csrf = csrf_of(&page);
    let (status, wrong) = s.submit("/signin/verify/enrol", &[("csrf", &csrf), ("app_code", "000000")]).await;
    if mfa::app_code_at(&secret, now()) != "000000" {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.contains("That code is not right"));
    }
    let code = mfa::app_code_at(&secret, now());
    let (status, page) = s.submit("/signin/verify/enrol", &[("csrf", &csrf), ("app_code", &code)]).await;
    assert_eq!(status, StatusCode::OK);
    let codes = recovery_codes_on(&page);
    assert_eq!(codes.len(), 10, "{page}");
    assert_eq!(s.get("/account").await.status(), StatusCode::OK, "signed in");
    let outbox = app.directory.outbox(&Actor::system("test"), None, 10).await.unwrap();
    assert_eq!(outbox[0].message.subject, "An authenticator app was added to your account");

    // Next time the app's code is the second step; a code is never accepted twice.
    let s = app.client();
    let page = password_step(&s, "global@contoso.com").await;
    assert!(page.contains("Code from your authenticator app"));
    let csrf = csrf_of(&page);
    let (status, _) = s.submit("/signin/verify/app", &[("csrf", &csrf), ("app_code", &code)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the code used to set up the app is spent");
    let next = mfa::app_code_at(&secret, now() + 30);
    let r = s.post("/signin/verify/app", &[("csrf", &csrf), ("app_code", &next)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    assert_eq!(location(&s.get("/").await), "/admin", "an administrator lands on the admin center's home");

    // A recovery code works once.
    let s = app.client();
    let page = password_step(&s, "global@contoso.com").await;
    assert!(page.contains("Recovery code"));
    let csrf = csrf_of(&page);
    let r = s.post("/signin/verify/recovery", &[("csrf", &csrf), ("recovery_code", &codes[3].to_uppercase())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let s = app.client();
    let page = password_step(&s, "global@contoso.com").await;
    let (status, page) =
        s.submit("/signin/verify/recovery", &[("csrf", &csrf_of(&page)), ("recovery_code", &codes[3])]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("was used already"));

    let query = AuditQuery { target: Some(admin.id), limit: 20, ..AuditQuery::default() };
    let actions: Vec<AuditAction> =
        app.directory.audit_log(&Actor::system("test"), &query).await.unwrap().iter().map(|e| e.action).collect();
    assert!(actions.contains(&AuditAction::MfaChanged));

    // Each second step is in the sign-in log, with how it was made and whether it worked.
    let query = roster_domain::signin_log::SignInQuery {
        username: Some("global@contoso.com".into()),
        limit: 20,
        ..Default::default()
    };
    let log: Vec<(bool, String, String)> = app
        .directory
        .sign_in_log(&Actor::system("test"), &query)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.success, e.method, e.detail))
        .collect();
    let has = |success: bool, method: &str| log.iter().any(|(s, m, _)| *s == success && m == method);
    assert!(has(true, "Password and authenticator app, set up at sign-in"), "{log:#?}");
    assert!(has(false, "Password and authenticator app"), "the spent code: {log:#?}");
    assert!(has(true, "Password and authenticator app"), "{log:#?}");
    assert!(has(true, "Password and a recovery code"), "{log:#?}");
    assert_eq!(log[0], (false, "Password and a recovery code".into(), "Second step: the code was not right".into()));
    assert!(log.iter().all(|(_, m, _)| m != "Password"), "a password alone never signed this administrator in");
}

#[tokio::test]
async fn a_code_by_text_message_is_a_second_step_and_wrong_codes_lock_the_account() {
    let twilio = TwilioServer::start(&[]).await;
    let sms = SmsTransport::twilio(TwilioConfig {
        account_sid: "AC00000000000000000000000000000003".into(),
        auth_token: "token".into(),
        from: "+15005550006".into(),
        base_url: twilio.base_url.clone(),
    })
    .unwrap();
    let Some(app) = TestApp::start_with(Transports { email: None, sms: Some(sms) }).await else { return };
    require_for_administrators(&app).await;
    let megan = app.user("megan@contoso.com", "Megan Bowen", &[Role::HelpdeskAdministrator]).await;
    let input = ContactInput {
        display_name: "Megan Bowen".into(),
        mobile_phone: "+44 20 7946 0958".into(),
        ..ContactInput::default()
    };
    app.directory.update_contact(&Actor::system("test"), megan.id, megan.version, &input).await.unwrap();
    twilio.inbox.wait_for(1).await;

    let s = app.client();
    let page = password_step(&s, "megan@contoso.com").await;
    assert!(page.contains("<h1>Verify your identity</h1>"));
    assert!(page.contains("Text +44 •• •••• •958"));
    assert!(!page.contains("7946"), "the number is masked");
    let contact = page.split("name=\"contact\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = s.post("/signin/verify/send", &[("csrf", &csrf_of(&page)), ("contact", &contact)]).await;
    assert_eq!(location(&r), "/signin/verify");
    let text = twilio.inbox.wait_for(2).await.pop().unwrap();
    assert_eq!(text.to, "+442079460958");
    assert!(text.body.contains("to finish signing in to Roster"));
    let code: String = text.body.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6);
    let (_, page) = s.page("/signin/verify").await;
    assert!(page.contains("We sent a code: Text +44 •• •••• •958."));
    let r = s.post("/signin/verify/code", &[("csrf", &csrf_of(&page)), ("code", &code)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.get("/admin/users").await.status(), StatusCode::OK, "signed in");

    // Ten wrong second steps in a day lock sign-in for the day and tell the user.
    let s = app.client();
    let page = password_step(&s, "megan@contoso.com").await;
    let csrf = csrf_of(&page);
    for _ in 0..10 {
        let (status, _) =
            s.submit("/signin/verify/recovery", &[("csrf", &csrf), ("recovery_code", "aaaa-bbbb-cccc")]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, page) =
        s.submit("/signin/verify/recovery", &[("csrf", &csrf), ("recovery_code", "aaaa-bbbb-cccc")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("sign-in is locked for 24 hours"));
    let outbox = app.directory.outbox(&Actor::system("test"), None, 10).await.unwrap();
    assert!(outbox.iter().any(|m| m.message.subject == "Your account was locked"));
}

#[tokio::test]
async fn a_user_may_choose_a_second_step_for_themself() {
    let Some(app) = TestApp::start().await else { return };
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("alex@contoso.com").await;
    let (_, page) = s.page("/account/security").await;
    assert!(page.contains("Ask for a second step when I sign in"));
    let r = s.post("/account/security/second-step", &[("csrf", &csrf_of(&page)), ("second_step", "1")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = s.page("/account/security").await;
    assert!(page.contains("id=\"second-step\" name=\"second_step\" value=\"1\" checked"));

    let s = app.client();
    let page = password_step(&s, "alex@contoso.com").await;
    assert!(page.contains("Keep your account secure"), "no factor yet: set one up");
}

#[tokio::test]
async fn an_app_is_set_up_and_removed_from_security_info() {
    let Some(app) = TestApp::start().await else { return };
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("alex@contoso.com").await;
    let (status, page) = s.page("/account/security/app").await;
    assert_eq!(status, StatusCode::OK);
    let secret = secret_on(&page);
    let code = mfa::app_code_at(&secret, now());
    let (status, page) = s.submit("/account/security/app", &[("csrf", &csrf_of(&page)), ("app_code", &code)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(recovery_codes_on(&page).len(), 10);
    let (_, page) = s.page("/account/security").await;
    assert!(page.contains("Remove authenticator app"));
    assert!(page.contains("10 of 10 unused"));

    // With an app, a second step is asked for even though the policy leaves it optional.
    let other = app.client();
    password_step(&other, "alex@contoso.com").await;

    let r = s.post("/account/security/recovery-codes", &[("csrf", &csrf_of(&page))]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let fresh = recovery_codes_on(&r.text().await.unwrap());
    assert_eq!(fresh.len(), 10);
    let r = s.post("/account/security/app/remove", &[("csrf", &csrf_of(&page))]).await;
    assert_eq!(location(&r), "/account/security?saved=app-removed");
    let subjects: Vec<String> = app
        .directory
        .outbox(&Actor::system("test"), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.message.subject)
        .collect();
    assert!(subjects.contains(&"An authenticator app was removed from your account".to_string()), "{subjects:?}");
    assert!(subjects.contains(&"New recovery codes were made for your account".to_string()));
}

#[tokio::test]
async fn confirming_the_password_renews_the_session() {
    let Some(app) = TestApp::start().await else { return };
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("alex@contoso.com").await;
    let (status, page) = s.page("/account/reauth?next=/account/security").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&page);
    let (status, page) =
        s.submit("/account/reauth", &[("csrf", &csrf), ("next", "/account/security"), ("password", "wrong")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The password is not right."));
    let r =
        s.post("/account/reauth", &[("csrf", &csrf), ("next", "https://evil.example/"), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/account/security", "only local paths are followed");
    assert_eq!(s.get("/account/security").await.status(), StatusCode::OK, "the renewed session works");
}

#[tokio::test]
async fn a_password_reset_ends_sign_ins_waiting_for_their_second_step() {
    let Some(app) = TestApp::start().await else { return };
    require_for_administrators(&app).await;
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let megan = app.user("megan@contoso.com", "Megan Bowen", &[Role::HelpdeskAdministrator]).await;
    let s = app.client();
    password_step(&s, "megan@contoso.com").await;

    let other = app.user("other@contoso.com", "Other", &[Role::GlobalAdministrator]).await;
    let actor = Actor::user(&other, None, None);
    app.directory.reset_password(&actor, megan.id, None, true).await.unwrap();
    let r = s.get("/signin/verify").await;
    assert_eq!(location(&r), "/signin", "the waiting sign-in was started with the old password");
}

#[tokio::test]
async fn the_members_of_chosen_groups_need_a_second_step() {
    use roster_domain::directory::NewGroup;
    use roster_domain::group::{GroupInput, MemberId};

    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    app.user("bob@contoso.com", "Bob", &[]).await;
    let group = |name: &str| NewGroup {
        input: GroupInput { display_name: name.into(), ..GroupInput::default() },
        ..NewGroup::default()
    };
    let finance = app.directory.create_group(&system, group("Finance")).await.unwrap();
    let payroll = app.directory.create_group(&system, group("Payroll")).await.unwrap();
    app.directory.add_members(&system, finance.id, &[MemberId::Group(payroll.id)]).await.unwrap();
    app.directory.add_members(&system, payroll.id, &[MemberId::User(ada.id)]).await.unwrap();
    app.directory.set_mfa_groups(&system, vec![finance.id]).await.unwrap();
    assert_eq!(app.directory.mfa_policy().await.unwrap(), MfaPolicy::Groups);

    let r = app.client().sign_in("ada@contoso.com", PASSWORD).await;
    assert_eq!(location(&r), "/signin/verify", "a member through a nested group is asked for a second step");
    let r = app.client().sign_in("bob@contoso.com", PASSWORD).await;
    assert_ne!(location(&r), "/signin/verify", "others are not");
}
