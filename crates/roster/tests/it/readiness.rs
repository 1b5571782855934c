//! The recovery-readiness report against a directory built for it, under two reset policies.

use roster_domain::readiness::ReadinessReport;
use roster_domain::recovery::ResetPolicy;
use roster_domain::{Actor, ContactInput, Role, User};

use crate::harness::TestApp;

async fn with_contacts(app: &TestApp, name: &str, roles: &[Role], emails: &[&str], mobile: &str, office: &str) -> User {
    let user = app.user(name, name, roles).await;
    let input = ContactInput {
        display_name: name.into(),
        alternate_emails: emails.iter().map(|e| e.to_string()).collect(),
        mobile_phone: mobile.into(),
        office_phone: office.into(),
        ..ContactInput::default()
    };
    app.directory.update_contact(&Actor::system("test"), user.id, user.version, &input).await.unwrap()
}

#[tokio::test]
async fn every_active_user_is_counted_once_under_the_policy_in_force() {
    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    with_contacts(&app, "ann@contoso.com", &[], &[], "", "").await;
    with_contacts(&app, "ben@contoso.com", &[], &["ben@fabrikam.com"], "", "").await;
    let cat = with_contacts(&app, "cat@contoso.com", &[], &[], "+1 425 555 0101", "").await;
    with_contacts(&app, "dee@contoso.com", &[Role::HelpdeskAdministrator], &["dee@fabrikam.com"], "", "").await;
    with_contacts(&app, "eve@contoso.com", &[Role::GlobalAdministrator], &["eve@fabrikam.com"], "+1 425 555 0102", "")
        .await;
    with_contacts(&app, "fay@contoso.com", &[], &[], "", "+1 425 555 0103").await;
    let gone = with_contacts(&app, "gus@contoso.com", &[], &[], "", "").await;
    app.directory.delete_user(&system, gone.id).await.unwrap();
    app.execute_sql(&format!(
        "insert into contact_verifications (user_id, method, value, verified_at) values ('{}', 'mobile_phone', \
         '+14255550101', 1)",
        cat.id
    ))
    .await;

    let lenient = app.directory.readiness(&system, &[]).await.unwrap().all;
    assert_eq!(
        lenient,
        ReadinessReport {
            users: 6,
            ready: 3,
            not_enough: 1,
            only_unverified: 0,
            no_contacts: 2,
            nothing_verified: 3,
            administrators: 2,
            administrators_not_ready: 1,
            outside_scope: 0,
            with_passkey: 0,
            only_passkey: 0,
        },
        "ben, cat and eve can reset; dee is an administrator with one method; ann and fay (an office phone) have none"
    );

    let strict = ResetPolicy { allow_unverified: false, ..ResetPolicy::default() };
    app.directory.set_reset_policy(&system, strict).await.unwrap();
    let strict = app.directory.readiness(&system, &[]).await.unwrap().all;
    assert_eq!((strict.ready, strict.not_enough, strict.only_unverified, strict.no_contacts), (1, 0, 3, 2));
    assert_eq!(strict.administrators_not_ready, 2);

    let mut args: Vec<std::ffi::OsString> = vec!["report".into(), "readiness".into(), "--format".into(), "json".into()];
    args.extend(app.store_args());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&args).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["users"].as_u64(), json["only_unverified"].as_u64()), (Some(6), Some(3)));
}

#[tokio::test]
async fn the_report_page_charts_the_groups_and_lists_each_one() {
    use reqwest::StatusCode;
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace Admin", &[Role::GlobalAdministrator]).await;
    with_contacts(&app, "ben@contoso.com", &[], &["ben@fabrikam.com"], "", "").await;
    with_contacts(&app, "ann@contoso.com", &[], &[], "", "").await;
    let s = app.signed_in("grace@contoso.com").await;
    let (status, html) = s.page("/admin/reports/readiness").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h2 id=\"chart-heading\">3 active users in the reset scope</h2>"), "{html}");
    assert!(
        html.contains("<title id=\"chart-title\">Can reset their password: 1 (33%); Not enough methods: 0 (0%)"),
        "{html}"
    );
    assert!(html.contains("1 of 1 administrator doesn&#39;t have the two methods they need."), "{html}");
    assert!(html.contains("href=\"/admin/users?show=unverified\""), "onward to the people concerned");
    let (_, html) = s.page("/admin/reports/readiness?group=no_contacts").await;
    assert!(html.contains("<td>ann@contoso.com</td>") && !html.contains("<td>ben@contoso.com</td>"), "{html}");
    assert!(html.contains("<td>grace@contoso.com</td>"), "the administrator has no contacts yet: {html}");
    assert_eq!(s.get("/admin/reports/readiness?group=bogus").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_group_is_listed_page_by_page() {
    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    for i in 0..7 {
        with_contacts(&app, &format!("u{i}@contoso.com"), &[], &[], "", "").await;
    }
    with_contacts(&app, "ready@contoso.com", &[], &["r@fabrikam.com"], "", "").await;
    let group = roster_domain::readiness::Readiness::NoContacts;
    let (first, next) = app.directory.readiness_group(&system, group, None, None, 3).await.unwrap();
    let names = |users: &[User]| users.iter().map(|u| u.username.to_string()).collect::<Vec<_>>();
    assert_eq!(names(&first), ["u0@contoso.com", "u1@contoso.com", "u2@contoso.com"]);
    let (second, next) = app.directory.readiness_group(&system, group, None, next, 3).await.unwrap();
    assert_eq!(names(&second), ["u3@contoso.com", "u4@contoso.com", "u5@contoso.com"]);
    let (third, next) = app.directory.readiness_group(&system, group, None, next, 3).await.unwrap();
    assert_eq!(names(&third), ["u6@contoso.com"]);
    assert!(next.is_none());
}

#[tokio::test]
async fn administrators_ask_people_to_register_once_a_day_and_export_the_list() {
    use crate::harness::{csrf_of, location};
    use reqwest::StatusCode;
    let Some(app) = TestApp::start().await else { return };
    app.user("hal@contoso.com", "Hal Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let ann = with_contacts(&app, "ann@contoso.com", &[], &[], "", "").await;
    let boss = with_contacts(&app, "boss@contoso.com", &[Role::UserAdministrator], &[], "", "").await;
    let s = app.signed_in("hal@contoso.com").await;
    let (_, html) = s.page("/admin/reports/readiness?group=no_contacts").await;
    assert!(html.contains("<label for=\"ask-") && html.contains("Ask to register"), "{html}");
    let csrf = csrf_of(&html);
    let form = [
        ("csrf", csrf.as_str()),
        ("group", "no_contacts"),
        ("user", &ann.id.to_string()),
        ("user", &boss.id.to_string()),
    ];
    let r = s.post("/admin/reports/readiness/ask", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/reports/readiness?group=no_contacts&asked=1&recently=0&refused=1#members");
    let outbox = app.directory.outbox(&Actor::system("test"), None, 10).await.unwrap();
    let asked: Vec<&str> = outbox
        .iter()
        .filter(|m| m.message.subject == "Please complete your security info")
        .map(|m| m.message.recipient.as_str())
        .collect();
    assert_eq!(asked, ["ann@contoso.com"], "the helpdesk may not manage an administrator's contacts");
    let r = s.post("/admin/reports/readiness/ask", &form).await;
    assert_eq!(location(&r), "/admin/reports/readiness?group=no_contacts&asked=0&recently=1&refused=1#members");
    let (_, html) = s.page(&location(&r)).await;
    assert!(html.contains("Asked in the last day already, so not again: 1."), "{html}");

    let csv = s.get("/admin/reports/readiness/export?group=no_contacts").await.text().await.unwrap();
    assert!(csv.starts_with("User Name,Display Name,Roles,Group\n"), "{csv}");
    assert!(csv.contains("ann@contoso.com,ann@contoso.com,,No recovery contacts"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "ann, boss and hal: {csv}");
}

#[tokio::test]
async fn the_admin_home_shows_the_latest_figures_at_a_glance() {
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    with_contacts(&app, "ben@contoso.com", &[], &["ben@fabrikam.com"], "", "").await;
    let s = app.signed_in("grace@contoso.com").await;
    s.page("/admin/reports/readiness").await;
    let (_, html) = s.page("/admin/users").await;
    assert!(
        html.contains("<strong>1 of 2</strong> people (50%) can reset a forgotten password on their own"),
        "{html}"
    );
    assert!(html.contains("1 administrator lacks the two methods they need"), "{html}");
    let (_, home) = s.page("/admin").await;
    assert!(home.contains("<p class=\"home-figure\">50%</p>"), "{home}");
    assert!(home.contains("1 administrator lacks the two methods they need."));
    assert!(
        home.contains("You could not reset your own password: you have no recovery contacts."),
        "the administrator is told they are one of them: {home}"
    );
}

#[tokio::test]
async fn only_the_reset_scope_is_counted_and_each_group_apart_through_nesting() {
    use reqwest::StatusCode;
    use roster_domain::directory::NewGroup;
    use roster_domain::group::{GroupInput, MemberId, Scope};
    use roster_domain::readiness::Readiness;

    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    app.user("grace@contoso.com", "Grace Admin", &[Role::GlobalAdministrator]).await;
    let ann = with_contacts(&app, "ann@contoso.com", &[], &[], "", "").await;
    let ben = with_contacts(&app, "ben@contoso.com", &[], &["ben@fabrikam.com"], "", "").await;
    let cat = with_contacts(&app, "cat@contoso.com", &[], &[], "", "").await;
    with_contacts(&app, "out@contoso.com", &[], &["out@fabrikam.com"], "", "").await;
    let new = |name: &str| NewGroup {
        input: GroupInput { display_name: name.into(), ..GroupInput::default() },
        ..NewGroup::default()
    };
    let staff = app.directory.create_group(&system, new("Staff")).await.unwrap();
    let sales = app.directory.create_group(&system, new("Sales")).await.unwrap();
    let other = app.directory.create_group(&system, new("Contractors")).await.unwrap();
    app.directory.add_members(&system, sales.id, &[MemberId::User(ann.id), MemberId::User(ben.id)]).await.unwrap();
    app.directory.add_members(&system, staff.id, &[MemberId::Group(sales.id)]).await.unwrap();
    app.directory.add_members(&system, other.id, &[MemberId::User(cat.id), MemberId::User(ben.id)]).await.unwrap();
    app.directory.set_reset_scope(&system, Scope::Groups(vec![staff.id])).await.unwrap();

    let report = app.directory.readiness(&system, &[other.id, sales.id]).await.unwrap();
    assert_eq!(
        (report.all.users, report.all.ready, report.all.no_contacts, report.all.outside_scope),
        (2, 1, 1, 3),
        "ann and ben are in Staff through Sales; cat, out and grace are outside the scope"
    );
    let names: Vec<&str> = report.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Contractors", "Sales"], "in the order asked for");
    let contractors = &report.groups[0].report;
    assert_eq!((contractors.users, contractors.ready, contractors.outside_scope), (1, 1, 1), "ben in, cat out");
    assert_eq!((report.groups[1].report.users, report.groups[1].report.outside_scope), (2, 0));

    let (listed, _) = app.directory.readiness_group(&system, Readiness::NoContacts, None, None, 10).await.unwrap();
    let names: Vec<String> = listed.iter().map(|u| u.username.to_string()).collect();
    assert_eq!(names, ["ann@contoso.com"], "nobody outside the scope is listed");
    let (listed, _) = app.directory.readiness_group(&system, Readiness::Ready, Some(other.id), None, 10).await.unwrap();
    assert_eq!(listed.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["ben@contoso.com"]);

    let s = app.signed_in("grace@contoso.com").await;
    let (status, html) = s.page("/admin/reports/readiness").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("enabled for the members of Staff. The 3 active users it isn't enabled for"), "{html}");
    assert!(html.contains("2 active users in the reset scope</h2>"), "{html}");
    assert!(
        html.contains(&format!("<a href=\"/admin/groups/{}\">Staff</a>", staff.id)),
        "the scope's groups by default"
    );
    let (_, html) = s.page("/admin/reports/readiness?by=Contractors%0ANo+such+group").await;
    assert!(html.contains("no active group is named “No such group”") && html.contains("aria-invalid=\"true\""));
    let (_, html) = s.page("/admin/reports/readiness?by=Contractors").await;
    assert!(html.contains(&format!("<a href=\"/admin/groups/{}\">Contractors</a>", other.id)), "{html}");
    let (_, html) = s.page(&format!("/admin/reports/readiness?group=ready&within={}", other.id)).await;
    assert!(html.contains("Can reset their password in Contractors</h2>"), "{html}");
    assert!(html.contains("<td>ben@contoso.com</td>") && !html.contains("<td>out@contoso.com</td>"), "{html}");
    let csv = s.get(&format!("/admin/reports/readiness/export?group=ready&within={}", other.id)).await;
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "the header and ben: {csv}");

    let mut args: Vec<std::ffi::OsString> = ["report", "readiness", "--format", "csv", "--group", "Contractors"]
        .iter()
        .map(std::ffi::OsString::from)
        .collect();
    args.extend(app.store_args());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&args).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("figure,label,users,Contractors\nusers,Active users in the reset scope,2,1\n"), "{text}");
}
