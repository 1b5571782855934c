//! The outbox at work: security notices delivered over real SMTP and through a gateway that
//! speaks Twilio's API, retried through an outage and a restart, and held for administrators to
//! read when no transport is configured.

use std::time::Duration;

use reqwest::StatusCode;
use roster_delivery::{EmailTransport, SmsTransport, SmtpConfig, Transports, TwilioConfig, Worker};
use roster_domain::outbox::{Channel, DeliveryState, OutboxEntry};
use roster_domain::{Actor, ContactInput, Role, User};

use crate::harness::{hidden_value, location, on_postgres, Session, TestApp, PASSWORD, RETRY};
use crate::peers::{SmtpServer, TwilioServer, PATIENCE};

fn email(server: &SmtpServer) -> Option<EmailTransport> {
    let config = SmtpConfig { url: server.url().into(), from: "Roster <roster@contoso.com>".into() };
    Some(EmailTransport::new(&config).expect("smtp transport"))
}

/// Saves the contact form of `user` with only a display name and `fields` filled in.
async fn save_contact(s: &Session, user: &User, fields: &[(&str, &str)]) {
    let path = format!("/admin/users/{}/contact", user.id);
    let (_, html) = s.page(&path).await;
    let (csrf, version) = (hidden_value(&html, "csrf"), hidden_value(&html, "version"));
    let mut form = vec![("csrf", csrf.as_str()), ("version", version.as_str())];
    form.push(("display_name", user.contact.display_name.as_str()));
    form.extend_from_slice(fields);
    let r = s.post(&path, &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "contact saved");
    assert!(location(&r).contains("saved"));
}

async fn outbox(app: &TestApp) -> Vec<OutboxEntry> {
    app.directory.outbox(&Actor::system("test"), None, 100).await.expect("outbox")
}

/// Waits until the outbox satisfies `done` (the worker runs on its own schedule).
pub(crate) async fn outbox_until(app: &TestApp, done: impl Fn(&[OutboxEntry]) -> bool) -> Vec<OutboxEntry> {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let entries = outbox(app).await;
            if done(&entries) {
                return entries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the outbox reached the expected state")
}

#[tokio::test]
async fn a_replaced_alternate_email_tells_the_old_address_over_smtp() {
    let smtp = SmtpServer::start().await;
    let Some(app) = TestApp::start_with(Transports { email: email(&smtp), sms: None }).await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("global@contoso.com").await;

    save_contact(&s, &alex, &[("alternate_email", "old@fabrikam.com")]).await;
    // A round's messages go out at the same time, so they arrive in any order.
    let first = smtp.inbox.wait_for(2).await;
    let mut to: Vec<&str> = first.iter().map(|m| m.to[0].as_str()).collect();
    to.sort();
    assert_eq!(to, ["alex@contoso.com", "old@fabrikam.com"]);

    let alex = app.reload(&alex).await;
    save_contact(&s, &alex, &[("alternate_email", "new@fabrikam.com")]).await;
    let mails = smtp.inbox.wait_for(5).await;
    let mut to: Vec<&str> = mails[2..].iter().map(|m| m.to[0].as_str()).collect();
    to.sort();
    assert_eq!(to, ["alex@contoso.com", "new@fabrikam.com", "old@fabrikam.com"]);
    let old = mails[2..].iter().find(|m| m.to == ["old@fabrikam.com"]).unwrap().text();
    for expected in [
        "Subject: Your security info was changed",
        "From: Roster <roster@contoso.com>",
        "Alternate email address removed: o••••@f••••.com",
        "Alternate email address added: n••••@f••••.com",
        "From: 127.0.0.1",
        "By: Global (global@contoso.com)",
        "contact your IT administrator",
        "multipart/alternative",
        "text/html",
    ] {
        assert!(old.contains(expected), "the notice to the old address says {expected:?}:\n{old}");
    }

    let entries = outbox_until(&app, |e| e.len() == 5 && e.iter().all(|m| m.state == DeliveryState::Delivered)).await;
    assert!(entries.iter().all(|m| m.redacted && m.message.text.is_empty() && m.message.html.is_none()));
    let (status, html) = s.page("/admin/outbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Erased after delivery."));
    assert!(!html.contains("Alternate email address removed"), "delivered bodies are not shown");
}

#[tokio::test]
async fn a_changed_mobile_number_is_texted_through_twilio() {
    let twilio = TwilioServer::start(&["+14255550199"]).await;
    let sms = SmsTransport::twilio(TwilioConfig {
        account_sid: "AC00000000000000000000000000000001".into(),
        auth_token: "twilio-auth-token".into(),
        from: "+15005550006".into(),
        base_url: twilio.base_url.clone(),
    })
    .expect("twilio transport");
    let Some(app) = TestApp::start_with(Transports { email: None, sms: Some(sms) }).await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("global@contoso.com").await;

    save_contact(&s, &alex, &[("mobile_phone", "+44 20 7946 0958")]).await;
    let texts = twilio.inbox.wait_for(1).await;
    assert_eq!(texts[0].to, "+442079460958");
    assert_eq!(texts[0].from, "+15005550006");
    assert_eq!(texts[0].account, "AC00000000000000000000000000000001");
    use base64::Engine;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode("AC00000000000000000000000000000001:twilio-auth-token");
    assert_eq!(texts[0].authorization, format!("Basic {credentials}"));
    assert!(texts[0].body.contains("this number was added as Mobile phone on account alex@contoso.com"));

    // The new number is one the gateway refuses for good: the old number still hears of it.
    let alex = app.reload(&alex).await;
    save_contact(&s, &alex, &[("mobile_phone", "+1 425 555 0199")]).await;
    let texts = twilio.inbox.wait_for(2).await;
    assert_eq!(texts[1].to, "+442079460958");
    assert!(texts[1].body.contains("this number was removed as Mobile phone"));
    let entries = outbox_until(&app, |e| {
        e.iter().any(|m| m.message.recipient == "+14255550199" && m.state == DeliveryState::Failed)
    })
    .await;
    let refused = entries.iter().find(|m| m.message.recipient == "+14255550199").unwrap();
    assert_eq!(refused.attempts, 1, "a permanent refusal is not retried");
    let error = refused.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("400") && error.contains("code 21211"), "{error}");
    let held = entries.iter().filter(|m| m.message.channel == Channel::Email).collect::<Vec<_>>();
    assert!(!held.is_empty() && held.iter().all(|m| m.state == DeliveryState::Held), "no email transport");
}

#[tokio::test]
async fn messages_wait_out_a_mail_server_outage_and_a_restart() {
    // A port with nothing listening: the mail server is down.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let down = SmtpConfig { url: format!("smtp://{addr}").into(), from: "roster@contoso.com".into() };
    let Some(mut app) =
        TestApp::start_with(Transports { email: Some(EmailTransport::new(&down).unwrap()), sms: None }).await
    else {
        return;
    };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let input = ContactInput {
        display_name: "Alex Wilber".into(),
        alternate_emails: vec!["alex@fabrikam.com".into()],
        ..ContactInput::default()
    };
    app.directory.update_contact(&Actor::system("test"), alex.id, alex.version, &input).await.unwrap();
    let failing = outbox_until(&app, |e| e.len() == 2 && e.iter().all(|m| m.attempts >= 2)).await;
    for m in &failing {
        assert_eq!(m.state, DeliveryState::Pending);
        assert!(m.last_error.as_deref().unwrap_or_default().contains("mail server"), "{:?}", m.last_error);
    }

    let listener = tokio::net::TcpListener::bind(addr).await.expect("the reserved port is free again");
    let smtp = SmtpServer::start_on(listener).await;
    app.restart(Transports { email: email(&smtp), sms: None }).await;
    let mails = smtp.inbox.wait_for(2).await;
    let mut to: Vec<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    to.sort();
    assert_eq!(to, ["alex@contoso.com", "alex@fabrikam.com"]);
    outbox_until(&app, |e| e.iter().all(|m| m.state == DeliveryState::Delivered)).await;

    // Delivered messages are never claimed again.
    let again = Worker::new(app.directory.store().clone(), Transports { email: email(&smtp), sms: None }, RETRY, {
        app.directory.outbox_signal()
    });
    assert_eq!(again.round().await.unwrap(), 0);
    assert_eq!(smtp.inbox.all().len(), 2);
}

#[tokio::test]
async fn without_a_transport_messages_are_held_for_global_administrators() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    app.user("useradmin@contoso.com", "User Admin", &[Role::UserAdministrator]).await;
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;

    let alex = app.signed_in("alex@contoso.com").await;
    let (_, html) = alex.page("/account/password").await;
    let csrf = hidden_value(&html, "csrf");
    let r = alex
        .post(
            "/account/password",
            &[
                ("csrf", csrf.as_str()),
                ("current_password", PASSWORD),
                ("new_password", "Another-Password-2026"),
                ("confirm_password", "Another-Password-2026"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let entries = outbox_until(&app, |e| e.len() == 1 && e[0].state == DeliveryState::Held).await;
    assert_eq!(entries[0].message.recipient, "alex@contoso.com");
    assert_eq!(entries[0].message.subject, "Your password was changed");
    assert_eq!(entries[0].attempts, 1);

    let global = app.signed_in("global@contoso.com").await;
    let (status, html) = global.page("/admin/outbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Development setting"));
    assert!(html.contains("Your password was changed"));
    assert!(html.contains("Held (no transport)"));
    assert!(html.contains("By: You"), "the held body is readable here");
    assert!(html.contains("<summary>Show the message"), "behind a disclosure, one row per message");

    let user_admin = app.signed_in("useradmin@contoso.com").await;
    let (status, _) = user_admin.page("/admin/outbox").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_webhook_gateway_gets_signed_requests() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use roster_delivery::WebhookConfig;
    use std::sync::{Arc, Mutex};

    const SECRET: &str = "a-shared-secret-of-32-characters";
    let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let store = received.clone();
    let gateway = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push((headers, body));
                StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway).await.unwrap() });

    let sms = SmsTransport::webhook(WebhookConfig { url: url.into(), secret: SECRET.into() }).unwrap();
    let Some(app) = TestApp::start_with(Transports { email: None, sms: Some(sms) }).await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let input = ContactInput {
        display_name: "Alex Wilber".into(),
        mobile_phone: "+44 20 7946 0958".into(),
        ..ContactInput::default()
    };
    app.directory.update_contact(&Actor::system("test"), alex.id, alex.version, &input).await.unwrap();
    let entries = outbox_until(&app, |e| {
        e.iter().any(|m| m.message.channel == Channel::Sms && m.state == DeliveryState::Delivered)
    })
    .await;
    let id = entries.iter().find(|m| m.message.channel == Channel::Sms).unwrap().message.id;

    let (headers, body) = received.lock().unwrap().pop().expect("the gateway was called");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let timestamp: u64 = header("x-roster-timestamp").parse().expect("a timestamp");
    assert_eq!(header("x-roster-signature"), roster_delivery::sms::webhook_signature(SECRET, timestamp, &body));
    assert_eq!(header("idempotency-key"), format!("roster-outbox-{id}"));
    assert_eq!(header("content-type"), "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["to"], "+442079460958");
    assert_eq!(json["id"], id);
    assert!(json["body"].as_str().unwrap().contains("added as Mobile phone"));
}

#[tokio::test]
async fn a_mail_server_that_stops_answering_is_cut_off_and_retried() {
    use roster_domain::outbox::{Message, MessageKind};
    use roster_domain::{Store, Timestamp};

    // Accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let data = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(roster_store::sqlite::SqliteStore::open(data.path()).await.unwrap());
    let message = Message {
        id: 0,
        channel: Channel::Email,
        kind: MessageKind::Notice,
        recipient: "alex@contoso.com".into(),
        user_id: None,
        subject: "Hello".into(),
        text: "Hello".into(),
        html: None,
        created_at: Timestamp::now(),
    };
    store.queue_messages(&[message]).await.unwrap();
    let config = SmtpConfig { url: format!("smtp://{addr}").into(), from: "roster@contoso.com".into() };
    let transports = Transports { email: Some(EmailTransport::new(&config).unwrap()), sms: None };
    let worker = Worker::new(store.clone(), transports, RETRY, std::sync::Arc::default())
        .with_send_limit(Duration::from_millis(300));
    assert_eq!(worker.round().await.unwrap(), 1);
    let entry = store.list_outbox(None, 1).await.unwrap().pop().unwrap();
    assert_eq!((entry.state, entry.attempts), (DeliveryState::Pending, 1), "to be tried again");
    assert_eq!(entry.last_error.as_deref(), Some("no answer within 300 ms"));
    held.abort();
}

#[tokio::test]
async fn a_worker_sharing_the_outbox_leaves_what_it_cannot_send_pending() {
    use roster_domain::outbox::{Message, MessageKind};
    use roster_domain::{Store, Timestamp};
    use std::sync::Arc;

    let smtp = SmtpServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let db = match on_postgres() {
        true => match roster_store::postgres::testing::TestDb::create().await {
            Some(db) => Some(db),
            None => return,
        },
        false => None,
    };
    let store: Arc<dyn Store> = match &db {
        Some(db) => Arc::new(roster_store::postgres::PostgresStore::connect(&db.url).await.unwrap()),
        None => Arc::new(roster_store::sqlite::SqliteStore::open(data.path()).await.unwrap()),
    };
    let message = |channel, recipient: &str| Message {
        id: 0,
        channel,
        kind: MessageKind::Code,
        recipient: recipient.into(),
        user_id: None,
        subject: "Your code".into(),
        text: "Your code is 123456".into(),
        html: None,
        created_at: Timestamp::now(),
    };
    let queued = [message(Channel::Sms, "+442079460958"), message(Channel::Email, "alex@contoso.com")];
    store.queue_messages(&queued).await.unwrap();
    let text = || async {
        let entries = store.list_outbox(None, 10).await.unwrap();
        entries.into_iter().find(|e| e.message.channel == Channel::Sms).unwrap()
    };

    let email_only = Transports { email: email(&smtp), sms: None };
    let sharing = Worker::new(store.clone(), email_only, RETRY, Arc::default()).sharing();
    assert_eq!(sharing.round().await.unwrap(), 1, "the email only");
    assert_eq!(smtp.inbox.wait_for(1).await[0].to, ["alex@contoso.com"]);
    let idle = Worker::new(store.clone(), Transports::default(), RETRY, Arc::default()).sharing();
    assert_eq!(idle.round().await.unwrap(), 0, "no transport, nothing taken");
    let waiting = text().await;
    assert_eq!((waiting.state, waiting.attempts), (DeliveryState::Pending, 0), "left for a node with a gateway");
    assert_eq!(waiting.message.text, "Your code is 123456");

    // The only node of an installation holds what it cannot send, as ever.
    let holding = Worker::new(store.clone(), Transports::default(), RETRY, Arc::default());
    assert_eq!(holding.round().await.unwrap(), 1);
    assert_eq!(text().await.state, DeliveryState::Held);
}
