//! Two `roster serve` processes on one PostgreSQL database, as behind a load balancer: any
//! node serves any request, limits and saves hold across them, and every message is delivered
//! by exactly one of them, even those queued through a third node started without a transport.
//! Always on PostgreSQL, whichever engine the rest of the suite uses.

use std::ffi::OsString;
use std::sync::Arc;

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use roster_domain::mfa::MfaPolicy;
use roster_domain::outbox::{Channel, DeliveryState, OutboxEntry};
use roster_domain::{Actor, Directory, NewUserInput, Role, RoleSet};
use roster_store::postgres::testing::TestDb;
use roster_store::postgres::PostgresStore;

use crate::harness::{bulk, hidden_value, location, Session, PASSWORD};
use crate::peers::{SmtpServer, PATIENCE};
use crate::process::Node;

/// Every message in the outbox once none is waiting any more.
async fn settled_outbox(directory: &Directory) -> Vec<OutboxEntry> {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let entries = directory.outbox(&Actor::system("test"), None, 1000).await.expect("outbox");
            if entries.iter().all(|e| e.state != DeliveryState::Pending) {
                return entries;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every message delivered")
}

#[tokio::test]
async fn two_nodes_on_one_database_share_sessions_limits_saves_and_the_outbox() {
    let Some(db) = TestDb::create().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let directory = Directory::new(Arc::new(store.clone()));
    let setup = Actor::system("test");
    directory.set_mfa_policy(&setup, MfaPolicy::Optional).await.unwrap();
    let admin = NewUserInput {
        username: "admin@contoso.com".into(),
        display_name: "Admin".into(),
        password: Some(PASSWORD.into()),
        roles: RoleSet::of(&[Role::GlobalAdministrator]),
        ..NewUserInput::default()
    };
    directory.create_user(&setup, admin).await.unwrap();
    let names: Vec<(String, String)> = (0..9).map(|i| (format!("Person{i}"), "Node".to_string())).collect();
    let refs: Vec<(&str, &str)> = names.iter().map(|(f, l)| (f.as_str(), l.as_str())).collect();
    let people = bulk(&directory, &refs, &[]).await;

    let smtp = SmtpServer::start().await;
    let env = [("ROSTER_SMTP_URL", smtp.url()), ("ROSTER_OUTBOX_RETRY_MS", "50".to_string())];
    let node_args = |name: &str| -> Vec<OsString> {
        vec![
            "--database-url".into(),
            db.url.clone().into(),
            "--secret-key-file".into(),
            dir.path().join("secret.key").into(),
            "--data".into(),
            dir.path().join(name).into(),
        ]
    };
    let (args_a, args_b, args_c) = (node_args("a"), node_args("b"), node_args("c"));
    let no_transport = [("ROSTER_OUTBOX_RETRY_MS", "50".to_string())];
    let (a, b, c) =
        tokio::join!(Node::start(&args_a, &env), Node::start(&args_b, &env), Node::start(&args_c, &no_transport));

    // One browser, its session opened through one node and used through the other.
    let http = Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap();
    let on_a = Session { http: http.clone(), base: a.base.clone() };
    let on_b = Session { http: http.clone(), base: b.base.clone() };
    let on_c = Session { http: http.clone(), base: c.base.clone() };
    let r = on_a.sign_in("admin@contoso.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = on_b.page("/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Person0 Node"));

    // The same version saved through both nodes at once: one save wins, the other is refused.
    let path = format!("/admin/users/{}/contact", people[0].id);
    let ((_, form_a), (_, form_b)) = tokio::join!(on_a.page(&path), on_b.page(&path));
    assert_eq!(hidden_value(&form_a, "version"), hidden_value(&form_b, "version"));
    let fields = |html: &str, city: &'static str| {
        vec![
            ("csrf", hidden_value(html, "csrf")),
            ("version", hidden_value(html, "version")),
            ("display_name", "Person0 Node".to_string()),
            ("city", city.to_string()),
        ]
    };
    let (fa, fb) = (fields(&form_a, "Leeds"), fields(&form_b, "York"));
    let as_pairs = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let (ra, rb) = tokio::join!(
        on_a.http.post(format!("{}{path}", a.base)).form(&as_pairs(&fa)).send(),
        on_b.http.post(format!("{}{path}", b.base)).form(&as_pairs(&fb)).send()
    );
    let mut statuses = [ra.unwrap().status(), rb.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::CONFLICT]);

    // Changes through all three nodes queue notices; the two workers with a transport deliver
    // each exactly once, and the third, woken by its own saves, leaves them to those two.
    for (i, person) in people.iter().enumerate().skip(1) {
        let node = [&on_a, &on_b, &on_c][i % 3];
        let path = format!("/admin/users/{}/contact", person.id);
        let (_, html) = node.page(&path).await;
        let address = format!("person{i}.home@fabrikam.com");
        let form = [
            ("csrf", hidden_value(&html, "csrf")),
            ("version", hidden_value(&html, "version")),
            ("display_name", person.contact.display_name.clone()),
            ("alternate_email", address),
        ];
        let r = node.http.post(format!("{}{path}", node.base)).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(&r).contains("saved"));
    }
    let entries = settled_outbox(&directory).await;
    let emails = entries.iter().filter(|e| e.message.channel == Channel::Email).count();
    assert!(emails >= 16, "two notices per change at least: {emails}");
    assert!(entries.iter().all(|e| e.state == DeliveryState::Delivered), "{entries:?}");
    let received = smtp.inbox.wait_for(emails).await;
    assert_eq!(received.len(), emails, "each message sent once, by one node");
    let (_, html) = on_c.page("/admin/outbox").await;
    assert!(html.contains("This node has no email or SMS transport"), "{html}");
    assert!(!html.contains("Development setting") && !html.contains("Alternate email address added"));

    // Failed sign-ins through either node count against the one account (ten are allowed in a
    // quarter of an hour).
    let guesser = Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap();
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        let s = Session { http: guesser.clone(), base: node.base.clone() };
        assert_eq!(s.sign_in("u0001@contoso.com", "wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    for node in [&a, &b] {
        let s = Session { http: guesser.clone(), base: node.base.clone() };
        assert_eq!(s.sign_in("u0001@contoso.com", "wrong").await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    store.close().await;
}
