//! My groups: a group's owner, with no administrator role, manages its members from their own
//! pages; nobody else reaches those pages; and administrators add owners by searching.

use reqwest::StatusCode;
use roster_domain::audit::{AuditAction, AuditQuery};
use roster_domain::directory::NewGroup;
use roster_domain::group::{GroupInput, MemberId, Scope};
use roster_domain::{Actor, Role};

use crate::harness::{csrf_of, location, TestApp};

/// A form's fields as the session's post takes them.
fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn new(name: &str) -> NewGroup {
    NewGroup { input: GroupInput { display_name: name.into(), ..GroupInput::default() }, ..NewGroup::default() }
}

#[tokio::test]
async fn an_owner_without_a_role_adds_and_removes_members_of_their_group_only() {
    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    let olga = app.user("olga@contoso.com", "Olga Owner", &[]).await;
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    app.user("bob@contoso.com", "Bob", &[]).await;
    let club = app.directory.create_group(&system, new("Book club")).await.unwrap();
    let chess = app.directory.create_group(&system, new("Chess")).await.unwrap();
    app.directory.change_owners(&system, club.id, &[olga.id], &[]).await.unwrap();
    app.directory.add_members(&system, chess.id, &[MemberId::User(olga.id)]).await.unwrap();

    let s = app.signed_in("olga@contoso.com").await;
    assert!(s.page("/account").await.1.contains("href=\"/account/groups\""), "My account links to My groups");
    let (status, html) = s.page("/account/groups").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("<a href=\"/account/groups/{}\">Book club</a>", club.id)), "{html}");
    assert!(html.contains("<li>Chess</li>"), "the groups she is in: {html}");
    assert!(!html.contains(&format!("/account/groups/{}", chess.id)), "a member manages nothing");

    let path = format!("/account/groups/{}", club.id);
    let (status, html) = s.page(&format!("{path}?find=Ada")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Members (0)") && html.contains("ada@contoso.com"), "{html}");
    let value = format!("user:{}", ada.id);
    let form = [("csrf", csrf_of(&html)), ("action", "add".into()), ("member", value.clone())];
    let r = s.post(&format!("{path}/members"), &pairs(&form)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{path}?saved=added#members-heading"));
    let (_, html) = s.page(&format!("{path}?saved=added")).await;
    assert!(html.contains("Members (1)") && html.contains("Members added."), "{html}");
    let query = AuditQuery { group: Some(club.id), limit: 10, ..AuditQuery::default() };
    let entries = app.directory.audit_log(&system, &query).await.unwrap();
    let added = entries.iter().find(|e| e.action == AuditAction::MemberAdded).expect("audited");
    assert!(added.actor_name.contains("olga@contoso.com"), "{}", added.actor_name);

    let form = [("csrf", csrf_of(&html)), ("action", "remove".into()), ("member", value.clone())];
    assert_eq!(s.post(&format!("{path}/members"), &pairs(&form)).await.status(), StatusCode::SEE_OTHER);
    assert!(s.page(&path).await.1.contains("Members (0)"));
    let form = [("csrf", csrf_of(&html)), ("action", "add".into())];
    let (status, html) = s.submit(&format!("{path}/members"), &pairs(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choose at least one member."), "{html}");

    assert_eq!(s.get(&format!("/account/groups/{}", chess.id)).await.status(), StatusCode::NOT_FOUND);
    let bob = app.signed_in("bob@contoso.com").await;
    assert_eq!(bob.get(&path).await.status(), StatusCode::NOT_FOUND, "only owners reach a group's page");
    let (_, html) = bob.page("/account/groups").await;
    let form = [("csrf", csrf_of(&html)), ("action", "add".into()), ("member", value)];
    assert_eq!(bob.post(&format!("{path}/members"), &pairs(&form)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.directory.count_members(&system, club.id).await.unwrap(), 0, "nothing Bob sent changed");
}

#[tokio::test]
async fn an_owner_cannot_widen_a_policy_through_their_group() {
    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    let olga = app.user("olga@contoso.com", "Olga Owner", &[]).await;
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let pilot = app.directory.create_group(&system, new("Reset pilot")).await.unwrap();
    app.directory.change_owners(&system, pilot.id, &[olga.id], &[]).await.unwrap();
    app.directory.set_reset_scope(&system, Scope::Groups(vec![pilot.id])).await.unwrap();

    let s = app.signed_in("olga@contoso.com").await;
    let path = format!("/account/groups/{}", pilot.id);
    let (_, html) = s.page(&path).await;
    let form = [("csrf", csrf_of(&html)), ("action", "add".into()), ("member", format!("user:{}", ada.id))];
    let (status, html) = s.submit(&format!("{path}/members"), &pairs(&form)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("Members (0)"), "the page says why and shows the group as it is: {html}");
}

#[tokio::test]
async fn administrators_add_owners_found_by_search() {
    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    let olga = app.user("olga@contoso.com", "Olga Owner", &[]).await;
    let otto = app.user("otto@contoso.com", "Otto Other", &[]).await;
    let club = app.directory.create_group(&system, new("Book club")).await.unwrap();
    app.directory.change_owners(&system, club.id, &[olga.id], &[]).await.unwrap();

    let g = app.signed_in("grace@contoso.com").await;
    let path = format!("/admin/groups/{}", club.id);
    let (status, html) = g.page(&format!("{path}?find_owner=O")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("id=\"owner-{}\" name=\"add\" value=\"{}\"", otto.id, otto.id)), "{html}");
    assert!(!html.contains(&format!("id=\"owner-{}\"", olga.id)), "an owner is not offered again");
    let form = [("csrf", csrf_of(&html)), ("action", "add".into()), ("add", otto.id.to_string())];
    let r = g.post(&format!("{path}/owners"), &pairs(&form)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let owners: Vec<String> =
        app.directory.owners(&system, club.id).await.unwrap().iter().map(|u| u.username.to_string()).collect();
    assert_eq!(owners, ["olga@contoso.com", "otto@contoso.com"]);
    let form = [("csrf", csrf_of(&html)), ("action", "add".into())];
    let (status, html) = g.submit(&format!("{path}/owners"), &pairs(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choose the people to make owners."), "{html}");
}
