//! Active users (search, sort, paging), adding, deleting, restoring, roles and the audit log.

use reqwest::StatusCode;
use roster_domain::Role;

use roster_delivery::{EmailTransport, SmtpConfig, Transports};

use crate::harness::{bulk, csrf_of, hidden_value, listed_names, location, rel_link, TestApp};

async fn admin_app() -> Option<(TestApp, crate::harness::Session)> {
    let app = TestApp::start().await?;
    app.user("global@contoso.com", "Zz Global Admin", &[Role::GlobalAdministrator]).await;
    let s = app.signed_in("global@contoso.com").await;
    Some((app, s))
}

#[tokio::test]
async fn search_matches_name_parts_usernames_and_alternate_emails_by_prefix() {
    let Some((app, s)) = admin_app().await else { return };
    bulk(
        &app.directory,
        &[("Alex", "Wilber"), ("Megan", "Bowen"), ("Adele", "Vance"), ("Lee", "Gu"), ("Alexandra", "Kim")],
        &[(3, "lee.personal@Fabrikam.com")],
    )
    .await;
    let names = |q: &str| {
        let s = &s;
        let q = q.to_string();
        async move { listed_names(&s.page(&format!("/admin/users?q={q}")).await.1) }
    };
    assert_eq!(names("alex").await, vec!["Alex Wilber", "Alexandra Kim"]);
    assert_eq!(names("BOW").await, vec!["Megan Bowen"]);
    assert_eq!(names("vance").await, vec!["Adele Vance"]);
    assert_eq!(names("u0001").await, vec!["Megan Bowen"]);
    assert_eq!(names("lee.pers").await, vec!["Lee Gu"]);
    assert_eq!(names("nomatch").await, Vec::<String>::new());
    let (_, html) = s.page("/admin/users?q=nomatch").await;
    assert!(html.contains("No users match"));
    assert!(html.contains("<label for=\"search\">Search active users</label>"));
}

#[tokio::test]
async fn filters_keep_administrators_blocked_users_and_users_short_of_contacts() {
    let Some((app, s)) = admin_app().await else { return };
    let people = bulk(
        &app.directory,
        &[("Alex", "Wilber"), ("Megan", "Bowen"), ("Adele", "Vance"), ("Lee", "Gu")],
        &[(1, "megan@fabrikam.com"), (3, "lee@fabrikam.com")],
    )
    .await;
    let helpdesk = roster_domain::RoleSet::of(&[Role::HelpdeskAdministrator]).bits();
    app.execute_sql(&format!("update users set roles = {helpdesk} where id = '{}'", people[0].id)).await;
    app.execute_sql(&format!("update users set enabled = 0 where id = '{}'", people[2].id)).await;
    app.execute_sql(&format!(
        "insert into contact_verifications (user_id, method, value, verified_at) values ('{}', 'email', 'lee@fabrikam.com', 1)",
        people[3].id
    ))
    .await;
    let shown = |query: &str| {
        let s = &s;
        let query = query.to_string();
        async move {
            let (status, html) = s.page(&format!("/admin/users?{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}");
            let count =
                html.split("id=\"match-count\">").nth(1).and_then(|c| c.split_once("</p>")).unwrap().0.to_string();
            (listed_names(&html), count, html.replace("&#38;", "&"))
        }
    };
    let (names, count, _) = shown("").await;
    assert_eq!(names.len(), 5);
    assert_eq!(count, "5 users.");
    let (names, count, html) = shown("show=admins").await;
    assert_eq!(names, ["Alex Wilber", "Zz Global Admin"]);
    assert_eq!(count, "2 administrators.");
    assert!(html.contains("<option value=\"admins\" selected>Administrators</option>"));
    let (names, count, html) = shown("show=blocked").await;
    assert_eq!(names, ["Adele Vance"]);
    assert_eq!(count, "1 user blocked from signing in.");
    assert!(html.contains("sort=username&dir=asc&show=blocked"), "sorting keeps the filter");
    assert!(html.contains("href=\"/admin/users/export?show=blocked\""), "the export is of the list shown");
    let (names, count, _) = shown("show=unverified").await;
    assert_eq!(names, ["Megan Bowen"], "Lee's one contact is verified");
    assert_eq!(count, "1 user with a contact not yet verified.");
    let (names, _, _) = shown("show=no_contacts").await;
    assert_eq!(names, ["Adele Vance", "Alex Wilber", "Zz Global Admin"]);
    let (names, count, html) = shown("show=no_contacts&q=a").await;
    assert_eq!(names, ["Adele Vance", "Alex Wilber"]);
    assert_eq!(count, "2 users with no recovery contact match “a”.");
    assert!(html.contains(">Clear search and filter</a>"));
    let (names, count, _) = shown("show=nonsense&q=megan").await;
    assert_eq!(names, ["Megan Bowen"], "an unknown filter shows everyone");
    assert_eq!(count, "1 user matches “megan”.");

    let csv = s.get("/admin/users/export?show=blocked").await.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "the header and Adele: {csv}");
    assert!(csv.contains("u0002@contoso.com"));
}

#[tokio::test]
async fn each_administrator_chooses_the_columns_the_list_shows_them() {
    let Some((app, s)) = admin_app().await else { return };
    let people = bulk(&app.directory, &[("Alex", "Wilber")], &[(0, "alex@fabrikam.com")]).await;
    app.execute_sql(&format!("update users set department = 'Marketing', enabled = 0 where id = '{}'", people[0].id))
        .await;
    let heads = |html: &str| -> Vec<String> {
        let head = html.split("<thead>").nth(1).unwrap().split("</thead>").next().unwrap().to_string();
        head.split("<th scope=\"col\"")
            .skip(1)
            .map(|th| {
                let inner = th.split_once('>').unwrap().1.split("</th>").next().unwrap();
                let text =
                    inner.split('<').filter_map(|p| p.split_once('>').map(|(_, t)| t).or(Some(p))).collect::<String>();
                text.trim_end_matches([' ', '▲', '▼']).trim().to_string()
            })
            .collect()
    };
    let (_, html) = s.page("/admin/users").await;
    assert_eq!(heads(&html), ["Display name", "Username", "Mobile phone", "Roles", "Status"], "the default");
    assert!(html.contains("Blocked</span>"));

    let csrf = hidden_value(&html, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("back", "/admin/users?sort=username&dir=desc&show=blocked"),
        ("column", "created"),
        ("column", "department"),
        ("column", "alternate_email"),
        ("column", "nonsense"),
    ];
    let r = s.post("/admin/users/columns", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/users?sort=username&dir=desc&show=blocked", "back to the list as it was");
    let (_, html) = s.page(&location(&r)).await;
    assert_eq!(heads(&html), ["Display name", "Alternate email", "Department", "Created"], "in the table's order");
    assert!(html.contains("<td>alex@fabrikam.com</td><td>Marketing</td><td>"), "{html}");
    assert!(!html.contains("Blocked</span>"), "no Status column, no badge");

    app.user("other@contoso.com", "Other Admin", &[Role::GlobalAdministrator]).await;
    let (_, theirs) = app.signed_in("other@contoso.com").await.page("/admin/users").await;
    assert_eq!(heads(&theirs)[1], "Username", "another administrator keeps the default");

    let form = [("csrf", csrf.as_str()), ("back", "https://evil.example/"), ("column", "username")];
    let r = s.post("/admin/users/columns", &form).await;
    assert_eq!(location(&r), "/admin/users", "never sent elsewhere");
    let (_, html) = s.page("/admin/users").await;
    assert_eq!(heads(&html), ["Display name", "Username"]);
}

#[tokio::test]
async fn the_list_pages_by_fifty_forwards_and_back_in_either_order() {
    let Some((app, s)) = admin_app().await else { return };
    let names: Vec<(String, String)> = (0..120).map(|i| (format!("Person{i:03}"), "Test".to_string())).collect();
    let refs: Vec<(&str, &str)> = names.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    bulk(&app.directory, &refs, &[]).await;
    let (_, first) = s.page("/admin/users").await;
    let page1 = listed_names(&first);
    assert_eq!(page1.len(), 50);
    assert_eq!(page1[0], "Person000 Test");
    assert!(rel_link(&first, "prev").is_none());
    let (_, second) = s.page(&rel_link(&first, "next").unwrap()).await;
    let page2 = listed_names(&second);
    assert_eq!(page2[0], "Person050 Test");
    let (_, third) = s.page(&rel_link(&second, "next").unwrap()).await;
    let page3 = listed_names(&third);
    assert_eq!(page3.len(), 21, "70 people and the admin remain");
    assert_eq!(page3.last().unwrap(), "Zz Global Admin");
    assert!(rel_link(&third, "next").is_none());
    let (_, back) = s.page(&rel_link(&third, "prev").unwrap()).await;
    assert_eq!(listed_names(&back), page2);
    let (_, back) = s.page(&rel_link(&back, "prev").unwrap()).await;
    assert_eq!(listed_names(&back), page1);
    assert!(rel_link(&back, "prev").is_none());

    let (_, desc) = s.page("/admin/users?sort=name&dir=desc").await;
    assert_eq!(listed_names(&desc)[0], "Zz Global Admin");
    assert!(desc.contains("aria-sort=\"descending\""));
    let (_, by_username) = s.page("/admin/users?sort=username&dir=desc").await;
    assert_eq!(listed_names(&by_username)[0], "Person119 Test");
    let (_, next) = s.page(&rel_link(&by_username, "next").unwrap()).await;
    assert_eq!(listed_names(&next)[0], "Person069 Test");
}

#[tokio::test]
async fn admins_add_users_with_a_generated_password_shown_once() {
    let smtp = crate::peers::SmtpServer::start().await;
    let config = SmtpConfig { url: smtp.url().into(), from: "Roster <roster@contoso.com>".into() };
    let transports = Transports { email: Some(EmailTransport::new(&config).unwrap()), sms: None };
    let Some(app) = TestApp::start_with(transports).await else { return };
    app.user("global@contoso.com", "Zz Global Admin", &[Role::GlobalAdministrator]).await;
    let s = app.signed_in("global@contoso.com").await;
    let (_, form) = s.page("/admin/users/new").await;
    let csrf = hidden_value(&form, "csrf");
    let r = s
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("username", "Nestor.Wilke@Contoso.com"),
                ("display_name", "Nestor Wilke"),
                ("first_name", "Nestor"),
                ("last_name", "Wilke"),
                ("password_choice", "generated"),
                ("must_change", "1"),
                ("send_password_to", "Helpdesk@Fabrikam.com"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "post, then redirect: a reload never adds again");
    let added = location(&r);
    assert!(added.starts_with("/admin/users/") && added.ends_with("/added"), "{added}");
    let (status, html) = s.page(&added).await;
    assert_eq!(status, StatusCode::OK);
    let marker = "id=\"generated-password\" data-copyable>";
    let start = html.find(marker).unwrap() + marker.len();
    let password = html[start..].split('<').next().unwrap().to_string();
    assert!(html.contains("on its way to Helpdesk@fabrikam.com"), "{html}");
    let r = app.client().sign_in("nestor.wilke@contoso.com", &password).await;
    assert_eq!(location(&r), "/account/password", "must change at first sign-in");
    let (status, again) = s.page(&added).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!again.contains(&password) && again.contains("shown only once"), "a reload shows it no more");
    let (_, elsewhere) = app.signed_in("global@contoso.com").await.page(&added).await;
    assert!(!elsewhere.contains(&password), "another browser never sees it");

    let mails = smtp.inbox.wait_for(1).await;
    let mail = mails.iter().find(|m| m.to == ["Helpdesk@fabrikam.com"]).expect("the password is emailed");
    assert!(mail.text().contains(&password) && mail.text().contains("nestor.wilke@contoso.com"));
    let sent = app.directory.store().list_outbox(None, 10).await.unwrap();
    let queued = sent.iter().find(|e| e.message.recipient == "Helpdesk@fabrikam.com").unwrap();
    assert_eq!(queued.message.kind, roster_domain::outbox::MessageKind::Code, "kept from administrators' eyes");
    let (_, audit) = s.page("/admin/audit").await;
    assert!(audit.contains("Password emailed to"), "who was sent the password is audited");

    let (status, html) = s
        .submit(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("username", "megan@contoso.com"),
                ("display_name", "Megan Bowen"),
                ("password_choice", "generated"),
                ("send_password_to", "Megan@contoso.com"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"send_password_to-error\"") && html.contains("cannot open before they sign in"));

    let (status, html) = s
        .submit(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("username", "nestor.wilke@contoso.com"),
                ("display_name", "Another"),
                ("password_choice", "generated"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already in use"));
    let (status, html) = s
        .submit(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("username", "not a name"),
                ("display_name", ""),
                ("password_choice", "typed"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"username-error\"") && html.contains("id=\"display_name-error\""));

    // Contacts are checked as the contact form checks them, and nothing is added on a mistake.
    let contacts = |mobile: &'static str, alternate: &'static str| {
        let csrf = csrf.clone();
        let s = &s;
        async move {
            let form = [
                ("csrf", csrf.as_str()),
                ("username", "lidia@contoso.com"),
                ("display_name", "Lidia Holloway"),
                ("password_choice", "generated"),
                ("mobile_phone", mobile),
                ("alternate_email", alternate),
            ];
            s.submit("/admin/users/new", &form).await
        }
    };
    let (status, html) = contacts("12", "lidia@contoso.com").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"mobile_phone-error\"") && html.contains("id=\"alternate_email-1-error\""), "{html}");
    assert!(html.contains("value=\"12\""), "what was typed is kept");
    assert!(listed_names(&s.page("/admin/users?q=lidia").await.1).is_empty(), "nothing was added");
    let (status, _) = contacts("+1 425 555 0101", "lidia@fabrikam.com").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = s.page("/admin/users?q=lidia").await;
    assert!(html.contains("+1 425-555-0101"), "{html}");

    // Nodes sharing a PostgreSQL outbox leave a message to whichever node can send it.
    if crate::harness::on_postgres() {
        return;
    }
    let (plain, admin) = admin_app().await.unwrap();
    let csrf = hidden_value(&admin.page("/admin/users/new").await.1, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "lee@contoso.com"),
        ("display_name", "Lee Gu"),
        ("password_choice", "generated"),
        ("send_password_to", "helpdesk@fabrikam.com"),
    ];
    let (status, html) = admin.submit("/admin/users/new", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no email leaves this server");
    assert!(html.contains("can&#39;t be emailed"), "{html}");
    assert!(listed_names(&admin.page("/admin/users?q=lee").await.1).is_empty(), "nothing was added");
    drop(plain);
}

#[tokio::test]
async fn deleted_users_can_be_restored_with_everything_intact() {
    let Some((app, s)) = admin_app().await else { return };
    let users = bulk(&app.directory, &[("Joni", "Sherman")], &[(0, "joni@fabrikam.com")]).await;
    let id = users[0].id;
    let csrf = s.csrf().await;
    let r = s.post(&format!("/admin/users/{id}/state"), &[("csrf", &csrf), ("action", "delete")]).await;
    assert_eq!(location(&r), "/admin/users?status=deleted");
    let (_, active) = s.page("/admin/users?q=joni").await;
    assert!(listed_names(&active).is_empty());
    let r = s.post(&format!("/admin/users/{id}/state"), &[("csrf", &csrf), ("action", "block")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a deleted user can only be restored");
    let (_, deleted) = s.page("/admin/deleted-users").await;
    assert!(deleted.contains("Joni Sherman"));
    let r = s.post(&format!("/admin/users/{id}/state"), &[("csrf", &csrf), ("action", "restore")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let restored = app.reload(&users[0]).await;
    assert_eq!(restored.deleted_at, None);
    assert_eq!(restored.contact, users[0].contact);
    let (_, active) = s.page("/admin/users?q=joni").await;
    assert_eq!(listed_names(&active), vec!["Joni Sherman"]);
}

#[tokio::test]
async fn only_global_administrators_assign_roles() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    app.user("useradmin@contoso.com", "User Admin", &[Role::UserAdministrator]).await;
    let target = app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let ua = app.signed_in("useradmin@contoso.com").await;
    let (status, _) = ua.page(&format!("/admin/users/{}/roles", target.id)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let csrf = ua.csrf().await;
    let (status, html) = ua
        .submit(
            &format!("/admin/users/{}/roles", target.id),
            &[("csrf", &csrf), ("version", "1"), ("role", "global-admin")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Only Global Administrators"));
    assert!(!app.reload(&target).await.roles.is_admin());

    let ga = app.signed_in("global@contoso.com").await;
    let (_, form) = ga.page(&format!("/admin/users/{}/roles", target.id)).await;
    let r = ga
        .post(
            &format!("/admin/users/{}/roles", target.id),
            &[
                ("csrf", &hidden_value(&form, "csrf")),
                ("version", &hidden_value(&form, "version")),
                ("role", "helpdesk-admin"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.reload(&target).await.roles.contains(Role::HelpdeskAdministrator));
    let (_, audit) = ga.page(&format!("/admin/audit?user={}", target.id)).await;
    assert!(audit.contains("Roles changed") && audit.contains("Helpdesk Administrator"));
}

#[tokio::test]
async fn the_command_line_adds_users_while_the_server_runs() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let s = app.signed_in("global@contoso.com").await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "users",
            "add",
            "--username",
            "cli.user@contoso.com",
            "--display-name",
            "Cli User",
            "--role",
            "helpdesk-admin",
        ])
        .arg("--password-stdin")
        .args(app.store_args())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run roster users add");
    use tokio::io::AsyncWriteExt;
    child.stdin.take().unwrap().write_all(b"Cli-Password-2026\n").await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(id.len(), 36, "prints the new id: {id}");
    let (status, html) = s.page(&format!("/admin/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Cli User") && html.contains("Helpdesk Administrator"));
    let r = app.client().sign_in("cli.user@contoso.com", "Cli-Password-2026").await;
    assert_eq!(location(&r), "/", "not forced to change");

    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["users", "add", "--username", "bad", "--display-name", "X"])
        .args(app.store_args())
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--username"));
}

#[tokio::test]
async fn users_deleted_more_than_thirty_days_ago_are_purged_and_audited() {
    let Some((app, s)) = admin_app().await else { return };
    let users = bulk(&app.directory, &[("Old", "Leaver"), ("Recent", "Leaver")], &[]).await;
    let system = roster_domain::Actor::system("test");
    let old = app.directory.delete_user(&system, users[0].id).await.unwrap();
    app.directory.delete_user(&system, users[1].id).await.unwrap();
    // Backdate the first deletion to 31 days ago, as if time had passed.
    let mut backdated = old.clone();
    backdated.version += 1;
    backdated.deleted_at = Some(roster_domain::Timestamp::now().plus_seconds(-31 * 24 * 60 * 60));
    let audit = app.directory.audit_log(&system, &Default::default()).await.unwrap();
    app.directory.store().save_user(&old, &backdated, &audit[0], &[]).await.unwrap();

    assert_eq!(app.directory.purge_expired().await.unwrap(), 1);
    let (_, deleted) = s.page("/admin/deleted-users").await;
    assert!(!deleted.contains("Old Leaver") && deleted.contains("Recent Leaver"));
    let (status, _) = s.page(&format!("/admin/users/{}", old.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit_page) = s.page(&format!("/admin/audit?user={}", old.id)).await;
    assert!(audit_page.contains("User permanently deleted"));
}

#[tokio::test]
async fn the_default_country_decides_how_national_numbers_are_read() {
    let Some((app, s)) = admin_app().await else { return };
    let (_, form) = s.page("/admin/settings").await;
    let csrf = hidden_value(&form, "csrf");
    let (status, html) = s.submit("/admin/settings", &[("csrf", &csrf), ("default_country", "Narnia")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"default_country-error\""));
    let r = s.post("/admin/settings", &[("csrf", &csrf), ("default_country", "gb")]).await;
    assert_eq!(location(&r), "/admin/settings?saved=1");
    let (_, html) = s.page("/admin/settings?saved=1").await;
    assert!(html.contains("Settings saved.") && html.contains("value=\"GB\""));

    let user = app.user("uk.user@contoso.com", "Uk User", &[]).await;
    let (_, form) = s.page(&format!("/admin/users/{}/contact", user.id)).await;
    let r = s
        .post(
            &format!("/admin/users/{}/contact", user.id),
            &[
                ("csrf", &hidden_value(&form, "csrf")),
                ("version", &hidden_value(&form, "version")),
                ("display_name", "Uk User"),
                ("mobile_phone", "07911 123456"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.reload(&user).await.contact.mobile_phone.as_deref(), Some("+447911123456"));

    let helpdesk = app.user("hd@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let hd = app.signed_in(helpdesk.username.as_str()).await;
    assert_eq!(hd.page("/admin/settings").await.0, StatusCode::FORBIDDEN);
    let csrf = hd.csrf().await;
    let (status, _) = hd.submit("/admin/settings", &[("csrf", &csrf), ("default_country", "US")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.directory.region().await.unwrap().code(), "GB");
}

#[tokio::test]
async fn administrators_land_on_the_home_and_everyone_else_on_their_account() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    app.user("helpdesk@contoso.com", "Hal Helpdesk", &[Role::HelpdeskAdministrator]).await;
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    for (who, landing) in
        [("global@contoso.com", "/admin"), ("helpdesk@contoso.com", "/admin"), ("alex@contoso.com", "/account")]
    {
        let s = app.client();
        let r = s.sign_in(who, crate::harness::PASSWORD).await;
        assert_eq!(location(&r), "/", "{who}");
        assert_eq!(location(&s.get("/").await), landing, "{who}");
    }
    let alex = app.signed_in("alex@contoso.com").await;
    assert_eq!(alex.page("/admin").await.0, StatusCode::FORBIDDEN, "the home is the admin center's");
}

#[tokio::test]
async fn the_home_counts_who_was_added_and_blocked_lately_and_finds_a_user_to_reset() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    app.user("helpdesk@contoso.com", "Hal Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let system = roster_domain::Actor::system("test");
    app.directory.set_enabled(&system, alex.id, false).await.unwrap();

    let s = app.signed_in("global@contoso.com").await;
    let (status, html) = s.page("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<p class=\"home-figure-small\">3 users</p>"), "three added: {html}");
    assert!(html.contains("<p class=\"home-figure-small\">1 user</p>"), "one blocked, in the singular");
    assert!(html.contains(&format!("<a href=\"/admin/users/{}\">alex@contoso.com</a>", alex.id)), "{html}");
    let week_ago = roster_domain::Timestamp::now().plus_seconds(-7 * 24 * 60 * 60).day();
    assert!(html.contains(&format!("/admin/audit?action=user_disabled&#38;from={week_ago}")), "{html}");
    assert!(html.contains(&format!("Blocked since {week_ago}</h2>")), "the card counts what the log shows");
    assert!(html.contains("messages wait to be delivered"), "a Global Administrator sees the outbox");
    assert!(html.contains("aria-current=\"page\">Home</a>"));

    // Reset a password: straight to the person's reset form, or back saying why not.
    let r = s.get("/admin/reset-password?username=ALEX%40contoso.com").await;
    assert_eq!(location(&r), format!("/admin/users/{}/password", alex.id));
    let (status, html) = s.page("/admin/reset-password?username=nobody%40contoso.com").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("No active user has the username nobody@contoso.com."), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    let (status, html) = s.page("/admin/reset-password?username=").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Enter the username of the person whose password to reset."));

    let helpdesk = app.signed_in("helpdesk@contoso.com").await;
    let (_, html) = helpdesk.page("/admin").await;
    assert!(!html.contains("Message outbox"), "the outbox is the Global Administrators'");
}

#[tokio::test]
async fn bulk_actions_ask_first_then_say_for_each_person_what_was_done_or_refused() {
    let Some(app) = TestApp::start().await else { return };
    app.user("useradmin@contoso.com", "Uma User Admin", &[Role::UserAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let lee = app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let boss = app.user("boss@contoso.com", "Bea Boss", &[Role::GlobalAdministrator]).await;
    let s = app.signed_in("useradmin@contoso.com").await;
    let csrf = s.csrf().await;
    let (_, list) = s.page("/admin/users").await;
    assert!(list.contains(&format!("name=\"id\" value=\"{}\"", alex.id)), "a box per row");
    assert!(!list.contains("badge"), "no badge where nothing is wrong");

    let r = s.post("/admin/users/bulk", &[("csrf", &csrf), ("action", "block")]).await;
    assert_eq!(location(&r), "/admin/users?status=none_chosen");

    let ids = [alex.id.to_string(), lee.id.to_string(), boss.id.to_string()];
    let form = |action: &'static str, ids: &[String]| {
        let mut form = vec![("csrf", csrf.clone()), ("action", action.to_string())];
        form.extend(ids.iter().map(|id| ("id", id.clone())));
        form
    };
    let submit = |path: &'static str, form: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.submit(path, &pairs).await
        }
    };
    // What the confirmation sends on: its hidden fields, each person with the version it showed.
    let confirmed = |page: &str| -> Vec<(&'static str, String)> {
        let form = &page[page.find("action=\"/admin/users/bulk/apply\"").expect("a confirmation")..];
        let form = &form[..form.find("</form>").unwrap()];
        let field = |input: &str| {
            let (name, rest) = input.split_once('"').unwrap();
            let value = rest.split("value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            let name = ["csrf", "action", "id", "seen"].into_iter().find(|n| *n == name).expect("a known field");
            (name, value)
        };
        form.split("<input type=\"hidden\" name=\"").skip(1).map(field).collect()
    };
    let (status, page) = submit("/admin/users/bulk", form("block", &ids)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Block sign-in for 3 users?"), "{page}");
    assert!(page.contains("signed out everywhere") && page.contains("Lee Gu") && page.contains("Bea Boss"));
    assert!(app.reload(&alex).await.enabled, "asking changes nothing");

    let apply = confirmed(&page);
    assert!(apply.contains(&("seen", format!("{}@{}", alex.id, alex.version))), "{apply:?}");
    let (status, page) = submit("/admin/users/bulk/apply", apply.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Blocked: 2 users. Left as they were: 1."), "{page}");
    assert_eq!(
        page.matches("Not changed").count(),
        1,
        "the Global Administrator is out of a User Administrator's reach"
    );
    assert!(!app.reload(&alex).await.enabled && !app.reload(&lee).await.enabled);
    assert!(app.reload(&boss).await.enabled);
    let (_, list) = s.page("/admin/users").await;
    assert_eq!(list.matches(">Blocked</span>").count(), 2, "blocked people carry a badge");
    // The same confirmation sent again (a reload of its answer) does nothing twice.
    let (_, again) = submit("/admin/users/bulk/apply", apply).await;
    assert!(again.contains("Blocked: 0 users. Left as they were: 3."), "{again}");
    assert_eq!(
        again
            .matches("Changed by Uma User Admin (useradmin@contoso.com) after you confirmed, so nothing was done.")
            .count(),
        2,
        "{again}"
    );

    // Someone else's change between the question and the answer is never passed over.
    let (_, page) = submit("/admin/users/bulk", form("allow", &ids[..1])).await;
    let apply = confirmed(&page);
    let input = roster_domain::ContactInput { display_name: "Alex W.".into(), ..Default::default() };
    let current = app.reload(&alex).await;
    app.directory
        .update_contact(&roster_domain::Actor::system("Grace"), alex.id, current.version, &input)
        .await
        .unwrap();
    let (_, page) = submit("/admin/users/bulk/apply", apply).await;
    assert!(page.contains("Allowed: 0 users. Left as they were: 1.") && page.contains("Changed by Grace"), "{page}");
    assert!(!app.reload(&alex).await.enabled);
    let (_, page) = submit("/admin/users/bulk", form("allow", &ids[..1])).await;
    let (_, page) = submit("/admin/users/bulk/apply", confirmed(&page)).await;
    assert!(page.contains("Allowed: 1 user."), "{page}");

    let (_, page) = submit("/admin/users/bulk", form("reset", &ids[..1])).await;
    let apply = confirmed(&page);
    let (_, page) = submit("/admin/users/bulk/apply", apply.clone()).await;
    assert!(page.contains("Password reset: 1 user."), "{page}");
    let marker = format!("id=\"password-{}\" data-copyable>", alex.id);
    let start = page.find(&marker).expect("the one-time password is shown") + marker.len();
    let password = &page[start..start + page[start..].find('<').unwrap()];
    let (_, again) = submit("/admin/users/bulk/apply", apply).await;
    assert!(again.contains("Password reset: 0 users. Left as they were: 1."), "{again}");
    assert!(!again.contains("data-copyable"), "no second password");
    let r = app.client().sign_in("alex@contoso.com", password).await;
    assert_eq!(location(&r), "/account/password", "a one-time password must be changed");

    let r =
        s.post("/admin/users/bulk", &[("csrf", &csrf), ("action", "export"), ("id", &ids[1]), ("id", &ids[0])]).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(rows, ["alex@contoso.com", "lee@contoso.com"], "the chosen people only, by username: {csv}");
}

#[tokio::test]
async fn a_users_details_put_actions_on_top_and_ask_before_the_destructive_ones() {
    let Some((app, s)) = admin_app().await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let (_, page) = s.page(&format!("/admin/users/{}", alex.id)).await;
    assert!(page.contains("aria-label=\"Actions on Alex Wilber\""), "{page}");
    for action in ["block", "sign-out", "delete"] {
        let link = format!("href=\"/admin/users/{}/confirm/{action}\" data-dialog=\"confirm-{action}\"", alex.id);
        assert!(page.contains(&link), "{action} asks first");
        assert!(page.contains(&format!("<dialog id=\"confirm-{action}\"")), "with script, in a dialog");
    }
    for section in ["Account", "Contact information", "Authentication methods", "Groups", "Activity"] {
        assert!(page.contains(&format!("\">{section}</h2>")), "{section}");
    }
    assert!(!page.contains("Enabled"), "no badge while nothing is wrong");

    let (status, confirm) = s.page(&format!("/admin/users/{}/confirm/delete", alex.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("Delete Alex Wilber?") && confirm.contains("For 30 days they can be restored"));
    assert!(confirm.contains(&format!("action=\"/admin/users/{}/state\"", alex.id)));
    assert!(confirm.contains("name=\"action\" value=\"delete\""));
    assert!(app.reload(&alex).await.deleted_at.is_none(), "asking deletes nothing");
    let (status, _) = s.page(&format!("/admin/users/{}/confirm/purge", alex.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let csrf = s.csrf().await;
    s.post(&format!("/admin/users/{}/state", alex.id), &[("csrf", &csrf), ("action", "block")]).await;
    let (_, page) = s.page(&format!("/admin/users/{}", alex.id)).await;
    assert!(page.contains("<span class=\"badge badge-disabled\">Blocked</span>"));
    assert!(!page.contains("confirm/block"), "a blocked user is allowed again, without asking");
    assert!(page.contains("value=\"allow\""));
}

#[tokio::test]
async fn the_not_found_page_sends_each_person_onward_to_their_own_place() {
    let Some((app, admin)) = admin_app().await else { return };
    app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let alex = app.signed_in("alex@contoso.com").await;
    for (who, onward) in [
        (&admin, "<a href=\"/admin\">Go to the admin center</a>"),
        (&alex, "<a href=\"/account\">Go to your account</a>"),
        (&app.client(), "<a href=\"/signin\">Sign in</a>"),
    ] {
        let (status, html) = who.page("/no-such-page").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains(onward), "{onward}: {html}");
    }
}

#[tokio::test]
async fn each_reader_sees_times_and_days_in_the_time_zone_they_chose() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Grace Global", &[Role::GlobalAdministrator]).await;
    let hal = app.user("helpdesk@contoso.com", "Hal Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let s = app.signed_in("global@contoso.com").await;
    let first_time = |html: &str| -> (String, time::OffsetDateTime, String) {
        let time = html.split("<time datetime=\"").nth(1).expect("a time");
        let (utc, rest) = time.split_once('"').unwrap();
        let at = time::OffsetDateTime::parse(utc, &time::format_description::well_known::Rfc3339).unwrap();
        (utc.to_string(), at, rest.split_once('>').unwrap().1.to_string())
    };

    // UTC until a zone is chosen, with nothing more to see on hover.
    let (_, html) = s.page("/admin/audit").await;
    assert!(html.contains(" UTC</time>"), "{html}");
    assert!(!html.contains("\" title=\""), "no second reading of a UTC time");
    // A zone whose day is not the UTC day at this hour, so that only days in it pass below.
    let (_, at, _) = first_time(&html);
    let (zone, minutes, abbreviation) = match at.hour() < 10 {
        true => ("Pacific/Honolulu", -600, "HST"),
        false => ("Pacific/Kiritimati", 840, "+14"),
    };

    let (_, account) = s.page("/account").await;
    assert!(account.contains("<option value=\"UTC\" selected>UTC</option>"), "{account}");
    assert!(account.contains("<optgroup label=\"Pacific\">"));
    let csrf = csrf_of(&account);
    let r = s.post("/account/time-zone", &[("csrf", &csrf), ("time_zone", "Mars/Olympus")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("<a href=\"#time_zone\">Choose a time zone from the list.</a>"), "summarised: {html}");
    assert!(html.contains("aria-invalid=\"true\""));
    let r = s.post("/account/time-zone", &[("csrf", &csrf), ("time_zone", zone)]).await;
    assert_eq!(location(&r), "/account?changed=time-zone");
    let (_, account) = s.page("/account?changed=time-zone").await;
    assert!(account.contains(&format!("Times are now shown in {zone}.")), "{account}");
    assert!(account.contains(&format!("<option selected>{zone}</option>")));

    // Shifted from the UTC in the markup, which hover and screen readers also get.
    let (_, html) = s.page("/admin/audit").await;
    let (utc, at, rest) = first_time(&html);
    let local = at + time::Duration::minutes(minutes);
    let utc_words = format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute());
    let shown = format!("{} {:02}:{:02} {abbreviation}", local.date(), local.hour(), local.minute());
    assert!(rest.starts_with(&format!("{shown}<span class=\"visually-hidden\"> ({utc_words})</span>")), "{rest}");
    assert!(html.contains(&format!(" title=\"{utc_words}\">")));
    assert!(html.contains(&format!("Days in {zone}")), "the day filter says whose days");
    assert_ne!(local.date(), at.date());

    // Days are the reader's: the record's local day finds it, its UTC day does not.
    let (_, found) = s.page(&format!("/admin/audit?from={0}&to={0}", local.date())).await;
    assert!(found.contains(&format!("<time datetime=\"{utc}\"")), "{found}");
    let (_, other) = s.page(&format!("/admin/audit?from={0}&to={0}", at.date())).await;
    assert!(!other.contains(&format!("<time datetime=\"{utc}\"")));
    let (_, log) = s.page("/admin/sign-ins").await;
    assert!(log.contains(&format!(" {abbreviation}<span")), "the sign-in log too");
    let (_, details) = s.page(&format!("/admin/users/{}", hal.id)).await;
    assert!(details.contains(&format!(" {abbreviation}<span")), "a user's details too: {details}");

    // Each person's own: another administrator still reads UTC.
    let (_, html) = app.signed_in("helpdesk@contoso.com").await.page("/admin/audit").await;
    assert!(html.contains(" UTC</time>") && !html.contains(&format!(" {abbreviation}<span")));

    app.directory.delete_user(&roster_domain::Actor::system("test"), hal.id).await.unwrap();
    let (_, deleted) = s.page("/admin/deleted-users").await;
    assert!(deleted.contains(&format!(" {abbreviation}<span")), "deleted users too: {deleted}");
}
