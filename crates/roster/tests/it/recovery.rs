//! Recovery contacts at work over HTTP: verification codes, and self-service password reset
//! with codes read from the messages a real SMTP server and a Twilio-speaking gateway received.

use reqwest::StatusCode;
use roster_delivery::{EmailTransport, SmsTransport, SmtpConfig, Transports, TwilioConfig};
use roster_domain::recovery::ResetPolicy;
use roster_domain::{Actor, AuditAction, AuditQuery, ContactInput, Role, User};

use crate::harness::{csrf_of, hidden_value, location, Session, TestApp, PASSWORD};
use crate::peers::{SmtpServer, TwilioServer};

struct Rig {
    app: TestApp,
    smtp: SmtpServer,
    twilio: TwilioServer,
}

async fn rig() -> Option<Rig> {
    let smtp = SmtpServer::start().await;
    let twilio = TwilioServer::start(&[]).await;
    let email = EmailTransport::new(&SmtpConfig { url: smtp.url().into(), from: "roster@contoso.com".into() }).unwrap();
    let sms = SmsTransport::twilio(TwilioConfig {
        account_sid: "AC00000000000000000000000000000002".into(),
        auth_token: "token".into(),
        from: "+15005550006".into(),
        base_url: twilio.base_url.clone(),
    })
    .unwrap();
    let app = TestApp::start_with(Transports { email: Some(email), sms: Some(sms) }).await?;
    Some(Rig { app, smtp, twilio })
}

/// Gives `user` contacts directly (as an administrator would), returning the saved user.
async fn with_contacts(app: &TestApp, user: &User, emails: &[&str], mobile: Option<&str>) -> User {
    let input = ContactInput {
        display_name: user.contact.display_name.clone(),
        alternate_emails: emails.iter().map(|s| s.to_string()).collect(),
        mobile_phone: mobile.unwrap_or_default().to_string(),
        ..ContactInput::default()
    };
    app.directory.update_contact(&Actor::system("test"), user.id, user.version, &input).await.unwrap()
}

/// The first run of exactly `n` digits in `text`.
fn digits_in(text: &str, n: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == n {
                return Some(text[start..i].to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The radio choices of a reset page: (value, label).
fn choices(html: &str) -> Vec<(String, String)> {
    html.split("name=\"method\" value=\"")
        .skip(1)
        .map(|rest| {
            let value = rest.split('"').next().unwrap().to_string();
            let before_end = rest.split("</label>").next().unwrap_or_default();
            let label = before_end.rsplit('>').next().unwrap_or_default();
            (value, label.to_string())
        })
        .collect()
}

/// Starts a reset for `username` and returns the page that follows.
async fn start_reset(s: &Session, username: &str) -> String {
    let (_, html) = s.page("/reset").await;
    let r = s.post("/reset", &[("csrf", &csrf_of(&html)), ("username", username)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/reset/verify");
    s.page("/reset/verify").await.1
}

async fn post_step(s: &Session, path: &str, page: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let csrf = csrf_of(page);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = s.post(path, &form).await;
    if r.status() == StatusCode::SEE_OTHER {
        let next = location(&r);
        return (StatusCode::SEE_OTHER, s.page(&next).await.1);
    }
    let status = r.status();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_a_code_sent_by_email() {
    let Some(Rig { app, smtp, .. }) = rig().await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    with_contacts(&app, &alex, &["alex.home@fabrikam.com"], None).await;
    smtp.inbox.wait_for(2).await;
    let old_session = app.signed_in("alex@contoso.com").await;

    let s = app.client();
    let (_, signin) = s.page("/signin").await;
    assert!(signin.contains("href=\"/reset\">Forgot password?</a>"));
    let page = start_reset(&s, "Alex@Contoso.com").await;
    let options = choices(&page);
    assert_eq!(options.len(), 1);
    assert_eq!(options[0].1, "Email a••••@f••••.com");
    assert!(!page.contains("alex.home"), "the page never shows the contact itself");
    assert!(page.contains("Verification step 1</p>"), "the number required is not told before a first proof");

    let (_, page) = post_step(&s, "/reset/send", &page, &[("method", &options[0].0)]).await;
    assert!(page.contains("Email a••••@f••••.com: if this account can use it, a code is on its way there."));
    let mail = smtp.inbox.wait_for(3).await.pop().unwrap();
    assert_eq!(mail.to, ["alex.home@fabrikam.com"]);
    let text = mail.text();
    assert!(text.contains("Subject: Your Roster password reset code"));
    let code = digits_in(&text, 8).expect("an eight-digit code");

    let wrong = if code == "12345678" { "87654321" } else { "12345678" };
    let (status, page) = post_step(&s, "/reset/code", &page, &[("code", wrong)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("That code is not right. You can try 4 more times."));
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(!page.contains("Nothing was saved"), "a code saves nothing, so the page does not say so");

    let (_, page) = post_step(&s, "/reset/code", &page, &[("code", &code)]).await;
    assert!(page.contains("New password"), "{page}");
    let (status, page) = post_step(
        &s,
        "/reset/password",
        &page,
        &[("new_password", "Orchid-Valley-77"), ("confirm_password", "Orchid-Valley-78")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The two passwords are not the same."));
    let csrf = csrf_of(&page);
    let r = s
        .post(
            "/reset/password",
            &[("csrf", &csrf), ("new_password", "Orchid-Valley-77"), ("confirm_password", "Orchid-Valley-77")],
        )
        .await;
    assert_eq!(location(&r), "/signin?reset=1");
    let (_, page) = s.page("/signin?reset=1").await;
    assert!(page.contains("Your password was reset. Sign in with your new password."));

    assert_eq!(old_session.get("/account").await.status(), StatusCode::SEE_OTHER, "every session ended");
    assert_eq!(app.client().sign_in("alex@contoso.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.client().sign_in("alex@contoso.com", "Orchid-Valley-77").await.status(), StatusCode::SEE_OTHER);
    let notices = smtp.inbox.wait_for(5).await;
    let mut to: Vec<&str> = notices[3..].iter().map(|m| m.to[0].as_str()).collect();
    to.sort();
    assert_eq!(to, ["alex.home@fabrikam.com", "alex@contoso.com"]);
    assert!(notices[3].text().contains("Your password was reset with codes sent to your security info"));
    let query = AuditQuery { target: Some(alex.id), limit: 1, ..AuditQuery::default() };
    let audit = app.directory.audit_log(&Actor::system("test"), &query).await.unwrap();
    assert_eq!(audit[0].action, AuditAction::PasswordReset);
    assert_eq!(audit[0].actor_name, "Alex Wilber (alex@contoso.com)");

    // The reset is over: its pages start again.
    assert_eq!(location(&s.get("/reset/verify").await), "/reset?expired=1");
}

#[tokio::test]
async fn an_unknown_username_walks_the_same_path_and_nothing_is_sent() {
    let Some(Rig { app, smtp, twilio }) = rig().await else { return };
    let s = app.client();
    let page = start_reset(&s, "nobody@contoso.com").await;
    let options = choices(&page);
    let labels: Vec<&str> = options.iter().map(|(_, l)| l.as_str()).collect();
    assert!((1..=3).contains(&labels.len()), "{page}");
    for label in &labels {
        let email = label.starts_with("Email ") && label.contains("••••@") && label.ends_with("••••.com");
        assert!(email || label.starts_with("Text +1 •••-•••-•"), "{label}");
    }
    let again = choices(&start_reset(&app.client(), "nobody@contoso.com").await);
    assert_eq!(again.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), labels, "the same on every attempt");

    let (_, page) = post_step(&s, "/reset/send", &page, &[("method", &options[0].0)]).await;
    assert!(
        page.contains(&format!("{}: if this account can use it, a code is on its way there.", labels[0])),
        "{page}"
    );
    let (status, page) = post_step(&s, "/reset/code", &page, &[("code", "123456")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("That code is not right. You can try 4 more times."));
    for left in ["3 more times", "2 more times", "1 more time."] {
        let (_, next) = post_step(&s, "/reset/code", &page, &[("code", "123456")]).await;
        assert!(next.contains(left), "{left}");
    }
    let (_, page) = post_step(&s, "/reset/code", &page, &[("code", "123456")]).await;
    assert!(page.contains("can&#39;t be used any more") || page.contains("can't be used any more"));

    assert!(app.directory.outbox(&Actor::system("test"), None, 10).await.unwrap().is_empty());
    assert!(smtp.inbox.all().is_empty() && twilio.inbox.all().is_empty());
    let csrf = csrf_of(&page);
    let (status, _) = s
        .submit(
            "/reset/password",
            &[("csrf", &csrf), ("new_password", "Orchid-Valley-77"), ("confirm_password", "Orchid-Valley-77")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no password without proof");
}

#[tokio::test]
async fn administrators_prove_two_methods_and_global_administrators_hear_of_it() {
    let Some(Rig { app, smtp, twilio }) = rig().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let megan = app.user("megan@contoso.com", "Megan Bowen", &[Role::HelpdeskAdministrator]).await;
    with_contacts(&app, &megan, &["megan.home@fabrikam.com"], Some("+44 20 7946 0958")).await;
    smtp.inbox.wait_for(2).await;
    twilio.inbox.wait_for(1).await;

    let s = app.client();
    let page = start_reset(&s, "megan@contoso.com").await;
    assert!(page.contains("Verification step 1</p>"), "administrators look like everyone else at first");
    let options = choices(&page);
    assert_eq!(
        options.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        ["Email m••••@f••••.com", "Text +44 •• •••• •958"]
    );

    let (_, page) = post_step(&s, "/reset/send", &page, &[("method", &options[1].0)]).await;
    let text = twilio.inbox.wait_for(2).await.pop().unwrap();
    assert_eq!(text.to, "+442079460958");
    let code = digits_in(&text.body, 6).expect("a six-digit code");
    let (_, page) = post_step(&s, "/reset/code", &page, &[("code", &code)]).await;
    assert!(page.contains("Verification step 2 of 2"), "{page}");
    let options = choices(&page);
    assert_eq!(options.len(), 1, "a proven method is not offered again");

    let (_, page) = post_step(&s, "/reset/send", &page, &[("method", &options[0].0)]).await;
    let mail = smtp.inbox.wait_for(3).await.pop().unwrap();
    let code = digits_in(&mail.text(), 8).unwrap();
    let (_, page) = post_step(&s, "/reset/code", &page, &[("code", &code)]).await;
    let (status, _) = post_step(
        &s,
        "/reset/password",
        &page,
        &[("new_password", "Orchid-Valley-77"), ("confirm_password", "Orchid-Valley-77")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mails = smtp.inbox.wait_for(6).await;
    let to: Vec<&str> = mails[3..].iter().map(|m| m.to[0].as_str()).collect();
    assert!(to.contains(&"global@contoso.com"), "{to:?}");
}

#[tokio::test]
async fn too_many_codes_lock_sending_for_a_day() {
    let Some(Rig { app, smtp, .. }) = rig().await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    with_contacts(&app, &alex, &["alex.home@fabrikam.com"], None).await;
    let s = app.client();
    let mut page = start_reset(&s, "alex@contoso.com").await;
    for _ in 0..10 {
        let method = choices(&page)[0].0.clone();
        let (status, _) = post_step(&s, "/reset/send", &page, &[("method", &method)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        (_, page) = post_step(&s, "/reset/other", &s.page("/reset/verify").await.1, &[]).await;
    }
    let method = choices(&page)[0].0.clone();
    let (status, page) = post_step(&s, "/reset/send", &page, &[("method", &method)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("no more can be sent for 24 hours"));
    assert_eq!(smtp.inbox.wait_for(12).await.len(), 12, "two notices and ten codes, not eleven");
}

#[tokio::test]
async fn contacts_are_verified_with_a_code_and_a_change_makes_them_unverified() {
    let Some(Rig { app, smtp, .. }) = rig().await else { return };
    app.user("helpdesk@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let alex = with_contacts(&app, &alex, &["alex.home@fabrikam.com"], None).await;
    smtp.inbox.wait_for(2).await;

    let admin = app.signed_in("helpdesk@contoso.com").await;
    let (_, details) = admin.page(&format!("/admin/users/{}", alex.id)).await;
    assert!(details.contains("Unverified"));
    let csrf = csrf_of(&details);
    let key = hidden_value(&details, "method");
    assert_eq!(key, "email:alex.home@fabrikam.com");
    let r = admin.post(&format!("/admin/users/{}/verify", alex.id), &[("csrf", &csrf), ("method", &key)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mail = smtp.inbox.wait_for(3).await.pop().unwrap();
    assert!(mail.text().contains("Subject: Your Roster verification code"));
    let code = digits_in(&mail.text(), 8).unwrap();

    let me = app.signed_in("alex@contoso.com").await;
    let (_, page) = me.page("/account/security").await;
    assert!(page.contains("I have a code"));
    let (_, page) = me.page(&format!("/account/security?enter={key}")).await;
    assert!(page.contains("Enter the code sent to alex.home@fabrikam.com"));
    let csrf = csrf_of(&page);
    let (status, page) =
        me.submit("/account/security/verify", &[("csrf", &csrf), ("method", &key), ("code", "00000000")]).await;
    if code != "00000000" {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("That code is not right"));
    }
    let r = me.post("/account/security/verify", &[("csrf", &csrf), ("method", &key), ("code", &code)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = me.page(&location(&r)).await;
    assert!(page.contains("is confirmed as yours"));
    assert!(page.contains("badge-ok\">Verified"));
    let (_, details) = admin.page(&format!("/admin/users/{}", alex.id)).await;
    assert!(details.contains("badge-ok\">Verified"));

    // The same code cannot be used twice, and a changed address starts unverified.
    let (status, _) =
        me.submit("/account/security/verify", &[("csrf", &csrf), ("method", &key), ("code", &code)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let alex = app.reload(&alex).await;
    let alex = with_contacts(&app, &alex, &["alex.other@fabrikam.com"], None).await;
    with_contacts(&app, &alex, &["alex.home@fabrikam.com"], None).await;
    let (_, details) = admin.page(&format!("/admin/users/{}", alex.id)).await;
    assert!(!details.contains("badge-ok\">Verified"), "re-adding an address does not bring its verification back");
}

#[tokio::test]
async fn a_policy_of_verified_contacts_only_hides_unverified_ones() {
    let Some(Rig { app, smtp, .. }) = rig().await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    with_contacts(&app, &alex, &["alex.home@fabrikam.com"], None).await;
    smtp.inbox.wait_for(2).await;
    let policy = ResetPolicy { allow_unverified: false, ..ResetPolicy::default() };
    app.directory.set_reset_policy(&Actor::system("test"), policy).await.unwrap();

    let s = app.client();
    let page = start_reset(&s, "alex@contoso.com").await;
    let options = choices(&page);
    assert!(options.iter().all(|(_, l)| l != "Email a••••@f••••.com"), "the unverified address is not offered");
    let (_, _) = post_step(&s, "/reset/send", &page, &[("method", &options[0].0)]).await;
    assert!(app.directory.outbox(&Actor::system("test"), None, 10).await.unwrap().len() == 2, "no code was queued");
}

#[tokio::test]
async fn users_change_their_own_contacts_with_the_same_validation() {
    let Some(Rig { app, twilio, .. }) = rig().await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("alex@contoso.com").await;
    let (_, page) = s.page("/account/security").await;
    let csrf = csrf_of(&page);

    let (status, page) =
        s.submit("/account/security/contact", &[("csrf", &csrf), ("kind", "mobile_phone"), ("value", "12")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"value-mobile_phone\" name=\"value\" type=\"tel\" value=\"\""), "{page}");
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(page.contains("not a valid phone number"));
    let (status, _) = s
        .submit("/account/security/contact", &[("csrf", &csrf), ("kind", "office_phone"), ("value", "+14255550100")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the office phone is the administrator's");
    let (status, _) = s
        .submit("/account/security/contact", &[("csrf", &csrf), ("kind", "email"), ("value", "alex@contoso.com")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not the sign-in address");
    assert_eq!(app.reload(&alex).await.version, alex.version, "nothing saved");

    let r = s
        .post("/account/security/contact", &[("csrf", &csrf), ("kind", "mobile_phone"), ("value", "+44 20 7946 0958")])
        .await;
    assert_eq!(location(&r), "/account/security?saved=contact");
    let text = twilio.inbox.wait_for(1).await.pop().unwrap();
    assert_eq!(text.to, "+442079460958");
    assert!(text.body.contains("added as Mobile phone"));
    let saved = app.reload(&alex).await;
    assert_eq!(saved.contact.mobile_phone.as_deref(), Some("+442079460958"));
    let query = AuditQuery { target: Some(alex.id), limit: 1, ..AuditQuery::default() };
    let audit = app.directory.audit_log(&Actor::system("test"), &query).await.unwrap();
    assert_eq!(
        (audit[0].action, audit[0].actor_name.as_str()),
        (AuditAction::ContactChanged, "Alex Wilber (alex@contoso.com)")
    );
}

#[tokio::test]
async fn an_expired_code_is_refused_with_its_own_reason() {
    use roster_domain::recovery::codes::issue;
    use roster_domain::recovery::{CodeKey, ContactMethod, MethodKind, Purpose};
    use roster_domain::Timestamp;
    let Some(app) = TestApp::start().await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    with_contacts(&app, &alex, &["alex.home@fabrikam.com"], None).await;
    let method = ContactMethod { kind: MethodKind::AlternateEmail, value: "alex.home@fabrikam.com".into() };
    let an_hour_ago = Timestamp::now().plus_seconds(-3600);
    let (code, digits) = issue(&CodeKey::random(), alex.id, Purpose::Verify, &method, an_hour_ago);
    app.directory.store().insert_code(&code, None, &[]).await.unwrap();

    let s = app.signed_in("alex@contoso.com").await;
    let csrf = s.csrf().await;
    let (status, page) =
        s.submit("/account/security/verify", &[("csrf", &csrf), ("method", &method.key()), ("code", &digits)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("This code has expired. Send a new one."), "{page}");
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_sign_in_and_tell_the_owner_once() {
    let Some(app) = TestApp::start().await else { return };
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let s = app.client();
    for _ in 0..12 {
        s.sign_in("alex@contoso.com", "Not-The-Password-1").await;
    }
    assert_eq!(s.sign_in("alex@contoso.com", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    let outbox = app.directory.outbox(&Actor::system("test"), None, 10).await.unwrap();
    let locked: Vec<_> = outbox.iter().filter(|m| m.message.subject == "Your account was locked").collect();
    assert_eq!(locked.len(), 1, "one notice per lock");
    assert!(locked[0].message.text.contains("locked for 15 minutes"));
    assert!(locked[0].message.text.contains("From: 127.0.0.1"));
}

/// Whether a code to `recipient` was queued (sent or not).
async fn code_queued_to(app: &TestApp, recipient: &str) -> bool {
    let entries = app.directory.outbox(&Actor::system("test"), None, 500).await.unwrap();
    entries
        .iter()
        .any(|e| e.message.recipient == recipient && e.message.kind == roster_domain::outbox::MessageKind::Code)
}

#[tokio::test]
async fn reset_enabled_for_selected_groups_reaches_nested_members_only() {
    use roster_domain::directory::NewGroup;
    use roster_domain::group::{GroupInput, MemberId, Scope};

    let Some(Rig { app, smtp, .. }) = rig().await else { return };
    let system = Actor::system("test");
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    with_contacts(&app, &alex, &["alex.home@fabrikam.com"], None).await;
    smtp.inbox.wait_for(2).await;
    let group = |name: &str| NewGroup {
        input: GroupInput { display_name: name.into(), ..GroupInput::default() },
        ..NewGroup::default()
    };
    let outer = app.directory.create_group(&system, group("Reset pilot")).await.unwrap();
    let inner = app.directory.create_group(&system, group("Pilot team")).await.unwrap();
    app.directory.add_members(&system, outer.id, &[MemberId::Group(inner.id)]).await.unwrap();
    app.directory.set_reset_scope(&system, Scope::Groups(vec![outer.id])).await.unwrap();

    // Outside the scope: the same pages as an unknown username, and nothing is sent.
    let s = app.client();
    let page = start_reset(&s, "alex@contoso.com").await;
    assert!(!choices(&page).is_empty(), "stand-in methods, as for an unknown username");
    let (_, page) = post_step(&s, "/reset/send", &page, &[("method", &choices(&page)[0].0)]).await;
    assert!(page.contains("a code is on its way there"), "the usual answer: {page}");
    assert!(!code_queued_to(&app, "alex.home@fabrikam.com").await, "nothing was sent to someone outside the scope");

    // A member of a group inside the chosen one is in scope.
    app.directory.add_members(&system, inner.id, &[MemberId::User(alex.id)]).await.unwrap();
    let s = app.client();
    let page = start_reset(&s, "alex@contoso.com").await;
    let options = choices(&page);
    assert_eq!(options[0].1, "Email a••••@f••••.com");
    post_step(&s, "/reset/send", &page, &[("method", &options[0].0)]).await;
    assert!(code_queued_to(&app, "alex.home@fabrikam.com").await, "the code went out");

    // Changing a group the policy names takes a role that reaches everyone's methods.
    let helpdesk = app.user("uma@contoso.com", "Uma", &[Role::UserAdministrator]).await;
    let uma = Actor::user(&helpdesk, None, None);
    let refused = app.directory.remove_members(&uma, inner.id, &[MemberId::User(alex.id)]).await;
    assert!(
        matches!(refused, Err(roster_domain::DomainError::Forbidden(ref why)) if why.contains("policy")),
        "{refused:?}"
    );
    assert!(app.directory.delete_group(&uma, outer.id).await.is_err());
    app.directory.set_reset_scope(&system, Scope::Everyone).await.unwrap();
    app.directory.remove_members(&uma, inner.id, &[MemberId::User(alex.id)]).await.expect("no policy names it now");
}
