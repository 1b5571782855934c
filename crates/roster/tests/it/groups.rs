//! Groups through the Graph-compatible API, as scripts and provisioning tools call it: create,
//! list and page, members by reference (users and nested groups), owners, the groups a user is
//! in, deletion and the audit trail.

use reqwest::Method;
use reqwest::StatusCode;
use roster_domain::apps::AppPermission;
use roster_domain::audit::{AuditAction, AuditQuery};
use roster_domain::directory::NewGroup;
use roster_domain::group::{GroupInput, MemberId};
use roster_domain::{Actor, Role, RoleSet};
use serde_json::{json, Value};

use crate::graph::{call, token};
use crate::harness::{csrf_of, location, TestApp};

const GRAPH: &str = "https://graph.microsoft.com/v1.0";

async fn create(app: &TestApp, token: &str, name: &str, nickname: &str) -> String {
    let body = json!({"displayName": name, "mailEnabled": false, "mailNickname": nickname, "securityEnabled": true});
    let (status, group) = call(app, token, Method::POST, "/v1.0/groups", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    group["id"].as_str().unwrap().to_string()
}

fn ids(body: &Value) -> Vec<String> {
    body["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn groups_are_created_listed_filtered_and_paged_as_graph_does() {
    let Some(app) = TestApp::start().await else { return };
    let token = token(&app, &[AppPermission::GroupReadWriteAll]).await;
    let body = json!({"displayName": "Finance", "mailEnabled": false, "mailNickname": "finance",
                      "securityEnabled": true, "groupTypes": [], "description": "Money people"});
    let (status, group) = call(&app, &token, Method::POST, "/v1.0/groups", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(group["@odata.type"], "#microsoft.graph.group");
    assert_eq!((group["securityEnabled"].clone(), group["mailEnabled"].clone()), (json!(true), json!(false)));
    assert_eq!(group["groupTypes"], json!([]));
    assert_eq!(group["description"], "Money people");
    for (name, nickname) in
        [("Finance EMEA", "fin-emea"), ("Sales", "sales"), ("Support", "NotSet"), ("Zeta", "NotSet")]
    {
        create(&app, &token, name, nickname).await;
    }

    let (status, list) =
        call(&app, &token, Method::GET, "/v1.0/groups?$filter=startswith(displayName,'fin')", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    let (_, list) =
        call(&app, &token, Method::GET, "/v1.0/groups?$filter=mailNickname eq 'notset'&$count=true", None).await;
    assert_eq!(list["@odata.count"], 2, "nicknames need not be unique, as in Graph: {list}");
    let (_, list) = call(&app, &token, Method::GET, "/v1.0/groups?$search=\"displayName:su\"", None).await;
    assert_eq!(list["value"][0]["displayName"], "Support");

    // Paging by name, two at a time, through @odata.nextLink.
    let mut names = Vec::new();
    let mut next = Some(format!("{}/v1.0/groups?$orderby=displayName desc&$top=2&$select=displayName", app.base));
    while let Some(link) = next {
        let path = link.strip_prefix(&app.base).unwrap().to_string();
        let (status, page) = call(&app, &token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        names.extend(page["value"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap().to_string()));
        assert!(page["value"][0].get("description").is_none(), "$select keeps to what it names");
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(names, ["Zeta", "Support", "Sales", "Finance EMEA", "Finance"]);

    let (status, e) = call(&app, &token, Method::GET, "/v1.0/groups?$filter=colour eq 'red'", None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("Request_BadRequest")));
    let unified = json!({"displayName": "M365", "mailEnabled": true, "mailNickname": "m", "securityEnabled": false,
                         "groupTypes": ["Unified"]});
    let (status, e) = call(&app, &token, Method::POST, "/v1.0/groups", Some(unified)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["error"]["message"].as_str().unwrap().contains("security groups only"), "{e}");
    let bad = json!({"displayName": " ", "mailEnabled": false, "mailNickname": "a b", "securityEnabled": true});
    let (status, e) = call(&app, &token, Method::POST, "/v1.0/groups", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("'displayName'") && message.contains("'mailNickname'"), "{message}");

    let reader = crate::graph::token(&app, &[AppPermission::GroupReadAll]).await;
    let (status, _) = call(&app, &reader, Method::POST, "/v1.0/groups", Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let users_only = crate::graph::token(&app, &[AppPermission::UserReadWriteAll]).await;
    let (status, _) = call(&app, &users_only, Method::GET, "/v1.0/groups", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn members_are_added_by_reference_listed_transitively_and_removed() {
    let Some(app) = TestApp::start().await else { return };
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let bob = app.user("bob@contoso.com", "Bob", &[]).await;
    let token = token(&app, &[AppPermission::GroupReadWriteAll, AppPermission::UserReadAll]).await;
    let outer = create(&app, &token, "All staff", "staff").await;
    let inner = create(&app, &token, "Engineers", "eng").await;

    let add = |group: &str, id: &str| {
        (format!("/v1.0/groups/{group}/members/$ref"), json!({"@odata.id": format!("{GRAPH}/directoryObjects/{id}")}))
    };
    let (path, body) = add(&inner, &ada.id.to_string());
    assert_eq!(call(&app, &token, Method::POST, &path, Some(body.clone())).await.0, StatusCode::NO_CONTENT);
    let (status, e) = call(&app, &token, Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "already a member: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("already exist"));
    let (path, body) = add(&outer, &inner);
    assert_eq!(call(&app, &token, Method::POST, &path, Some(body)).await.0, StatusCode::NO_CONTENT);
    let (path, body) = add(&outer, "00000000-0000-0000-0000-000000000001");
    assert_eq!(call(&app, &token, Method::POST, &path, Some(body)).await.0, StatusCode::NOT_FOUND);
    let (path, body) = add(&inner, &outer);
    let (status, e) = call(&app, &token, Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a cycle: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("cycle"), "{e}");

    // members@odata.bind on PATCH, as Graph takes it.
    let bind = json!({"members@odata.bind": [format!("{GRAPH}/users/{}", bob.id)]});
    assert_eq!(
        call(&app, &token, Method::PATCH, &format!("/v1.0/groups/{outer}"), Some(bind)).await.0,
        StatusCode::NO_CONTENT
    );

    let (_, direct) = call(&app, &token, Method::GET, &format!("/v1.0/groups/{outer}/members"), None).await;
    let mut want = vec![inner.clone(), bob.id.to_string()];
    want.sort();
    assert_eq!(ids(&direct), want);
    let (_, all) =
        call(&app, &token, Method::GET, &format!("/v1.0/groups/{outer}/transitiveMembers?$top=1"), None).await;
    assert_eq!(ids(&all).len(), 1);
    assert!(all["@odata.nextLink"].is_string(), "{all}");
    let mut seen = ids(&all);
    let mut next = all["@odata.nextLink"].as_str().map(str::to_string);
    while let Some(link) = next {
        let (_, page) = call(&app, &token, Method::GET, link.strip_prefix(&app.base).unwrap(), None).await;
        seen.extend(ids(&page));
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    seen.sort();
    let mut want = vec![inner.clone(), bob.id.to_string(), ada.id.to_string()];
    want.sort();
    assert_eq!(seen, want);

    let (_, of) = call(&app, &token, Method::GET, "/v1.0/users/ada@contoso.com/memberOf", None).await;
    assert_eq!(ids(&of), vec![inner.clone()]);
    let (_, of) = call(&app, &token, Method::GET, &format!("/v1.0/users/{}/transitiveMemberOf", ada.id), None).await;
    assert_eq!(of["value"].as_array().unwrap().len(), 2, "{of}");
    let (_, first) =
        call(&app, &token, Method::GET, &format!("/v1.0/users/{}/transitiveMemberOf?$top=1", ada.id), None).await;
    let next = first["@odata.nextLink"].as_str().expect("a next page").strip_prefix(&app.base).unwrap().to_string();
    let (_, second) = call(&app, &token, Method::GET, &next, None).await;
    let mut paged = [ids(&first), ids(&second)].concat();
    paged.sort();
    let mut all = ids(&of);
    all.sort();
    assert_eq!(paged, all, "pages of memberOf, as Graph pages them");
    assert!(second.get("@odata.nextLink").is_none());

    let remove = format!("/v1.0/groups/{outer}/members/{}/$ref", bob.id);
    assert_eq!(call(&app, &token, Method::DELETE, &remove, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, &token, Method::DELETE, &remove, None).await.0, StatusCode::NOT_FOUND);

    let records = app
        .directory
        .audit_log(
            &Actor::system("test"),
            &AuditQuery { group: Some(outer.parse().unwrap()), limit: 50, ..Default::default() },
        )
        .await
        .unwrap();
    let actions: Vec<AuditAction> = records.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [AuditAction::MemberRemoved, AuditAction::MemberAdded, AuditAction::MemberAdded, AuditAction::GroupCreated],
        "the group's own trail, newest first"
    );
    assert_eq!(records[0].target_id, Some(bob.id), "a member's record names the user");
}

#[tokio::test]
async fn owners_and_deletion_follow_graph() {
    let Some(app) = TestApp::start().await else { return };
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let token = token(&app, &[AppPermission::GroupReadWriteAll]).await;
    let body = json!({"displayName": "Owned", "mailEnabled": false, "mailNickname": "owned", "securityEnabled": true,
                      "owners@odata.bind": [format!("{GRAPH}/users/{}", ada.id)],
                      "members@odata.bind": [format!("{GRAPH}/users/{}", ada.id)]});
    let (status, group) = call(&app, &token, Method::POST, "/v1.0/groups", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["id"].as_str().unwrap();
    let (_, owners) = call(&app, &token, Method::GET, &format!("/v1.0/groups/{id}/owners"), None).await;
    assert_eq!(ids(&owners), vec![ada.id.to_string()]);
    let (_, members) = call(&app, &token, Method::GET, &format!("/v1.0/groups/{id}/members"), None).await;
    assert_eq!(ids(&members), vec![ada.id.to_string()]);
    let remove = format!("/v1.0/groups/{id}/owners/{}/$ref", ada.id);
    assert_eq!(call(&app, &token, Method::DELETE, &remove, None).await.0, StatusCode::NO_CONTENT);

    let patch = json!({"displayName": "Renamed", "description": null});
    assert_eq!(
        call(&app, &token, Method::PATCH, &format!("/v1.0/groups/{id}"), Some(patch)).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, got) = call(&app, &token, Method::GET, &format!("/v1.0/groups/{id}"), None).await;
    assert_eq!(got["displayName"], "Renamed");

    assert_eq!(call(&app, &token, Method::DELETE, &format!("/v1.0/groups/{id}"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, &token, Method::GET, &format!("/v1.0/groups/{id}"), None).await.0, StatusCode::NOT_FOUND);
    let (_, of) = call(&app, &token, Method::GET, &format!("/v1.0/users/{}/memberOf", ada.id), None).await;
    assert_eq!(of["value"], json!([]), "a deleted group is nobody's");
    let restored = app.directory.restore_group(&Actor::system("test"), id.parse().unwrap()).await.unwrap();
    assert_eq!(restored.display_name, "Renamed");
    let (_, of) = call(&app, &token, Method::GET, &format!("/v1.0/users/{}/memberOf", ada.id), None).await;
    assert_eq!(ids(&of), vec![id.to_string()], "restored with its members");
}

/// The path a redirect points to, without the fragment.
fn redirected(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "expected a redirect");
    location(r).split('#').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn administrators_add_a_group_and_its_members_in_the_admin_center() {
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace Hopper", &[Role::GroupsAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    app.user("alan@contoso.com", "Alan Turing", &[]).await;
    let grace = app.signed_in("grace@contoso.com").await;

    let (status, html) = grace.page("/admin/groups/new").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html);
    let (status, html) = grace
        .submit("/admin/groups/new", &[("csrf", &csrf), ("display_name", " "), ("mail_nickname", "no spaces")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Fix these 2 problems"), "every problem is listed at once");
    assert!(html.contains("href=\"#display_name\"") && html.contains("href=\"#mail_nickname\""));
    let r = grace.post("/admin/groups/new", &[("csrf", &csrf), ("display_name", "Research & Development")]).await;
    let group_path = redirected(&r).split('?').next().unwrap().to_string();
    let (_, html) = grace.page(&group_path).await;
    assert!(html.contains("Research &#38; Development") || html.contains("Research &amp; Development"), "{html}");
    assert!(
        html.contains("value=\"Research&#38;Development\"") || html.contains("value=\"Research&amp;Development\""),
        "the nickname is made from the name"
    );

    // Find users by the start of a name, tick them, add them.
    let (_, html) = grace.page(&format!("{group_path}?find=a")).await;
    assert!(html.contains("Ada Lovelace") && html.contains("Alan Turing"));
    let ada_value = format!("user:{}", ada.id);
    let alan = app.directory.user_by_key(&Actor::system("test"), "alan@contoso.com").await.unwrap();
    let alan_value = format!("user:{}", alan.id);
    let members = format!("{group_path}/members");
    let r = grace
        .post(&members, &[("csrf", &csrf), ("action", "add"), ("member", &ada_value), ("member", &alan_value)])
        .await;
    assert!(redirected(&r).ends_with("saved=added"));
    let (_, html) = grace.page(&group_path).await;
    assert!(html.contains("Members (2)"), "{html}");

    // The user's page shows the group and removes the user from it.
    let (_, html) = grace.page(&format!("/admin/users/{}", ada.id)).await;
    assert!(html.contains("Research &#38; Development") || html.contains("Research &amp; Development"));
    let group_id = group_path.rsplit('/').next().unwrap();
    let r = grace
        .post(&format!("/admin/users/{}/groups", ada.id), &[("csrf", &csrf), ("action", "remove"), ("group", group_id)])
        .await;
    assert!(redirected(&r).ends_with("saved=groups"));
    let (_, html) = grace.page(&group_path).await;
    assert!(html.contains("Members (1)"));
    let (_, html) = grace.page(&format!("/admin/users/{}?group_q=res", ada.id)).await;
    assert!(html.contains(&format!("value=\"{group_id}\"")), "the group is offered again");

    // Delete, find it in Deleted groups, restore it with its member.
    let r = grace.post(&format!("{group_path}/state"), &[("csrf", &csrf), ("action", "delete")]).await;
    assert!(redirected(&r).starts_with("/admin/groups?status=deleted"));
    let (_, html) = grace.page("/admin/deleted-groups").await;
    assert!(html.contains(group_id));
    let r = grace.post(&format!("{group_path}/state"), &[("csrf", &csrf), ("action", "restore")]).await;
    assert!(redirected(&r).ends_with("saved=restored"));
    let (_, html) = grace.page(&group_path).await;
    assert!(html.contains("Members (1)"), "restored with its members");
    let (_, html) = grace.page(&format!("/admin/audit?group={group_id}")).await;
    assert!(html.contains("Member added to group"), "the group's audit trail");
}

#[tokio::test]
async fn who_may_change_groups_follows_the_role_table() {
    let Some(app) = TestApp::start().await else { return };
    app.user("helen@contoso.com", "Helen", &[Role::HelpdeskAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let system = Actor::system("test");
    let group = app
        .directory
        .create_group(
            &system,
            NewGroup {
                input: GroupInput { display_name: "Staff".into(), ..GroupInput::default() },
                ..NewGroup::default()
            },
        )
        .await
        .unwrap();
    let helen = app.signed_in("helen@contoso.com").await;
    let (status, html) = helen.page(&format!("/admin/groups/{}", group.id)).await;
    assert_eq!(status, StatusCode::OK, "every administrator reads groups");
    assert!(!html.contains("Save group") && !html.contains("Delete group"), "but only managers see the forms");
    let csrf = csrf_of(&html);
    assert_eq!(helen.page("/admin/groups/new").await.0, StatusCode::FORBIDDEN);
    let member = format!("user:{}", ada.id);
    let r = helen
        .post(
            &format!("/admin/groups/{}/members", group.id),
            &[("csrf", &csrf), ("action", "add"), ("member", &member)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // An owner may change the members of the group they own, and of no other.
    app.directory.change_owners(&system, group.id, &[ada.id], &[]).await.unwrap();
    let mut owner = Actor::user(&ada, None, None);
    owner.roles = RoleSet::NONE;
    app.directory.add_members(&owner, group.id, &[MemberId::User(ada.id)]).await.expect("owners manage members");
    let other = app
        .directory
        .create_group(
            &system,
            NewGroup {
                input: GroupInput { display_name: "Other".into(), ..GroupInput::default() },
                ..NewGroup::default()
            },
        )
        .await
        .unwrap();
    let refused = app.directory.add_members(&owner, other.id, &[MemberId::User(ada.id)]).await;
    assert!(matches!(refused, Err(roster_domain::DomainError::Forbidden(_))), "{refused:?}");
    assert!(matches!(
        app.directory.delete_group(&owner, group.id).await,
        Err(roster_domain::DomainError::Forbidden(_))
    ));
}

#[tokio::test]
async fn settings_scope_reset_and_the_second_step_to_groups_named_by_name() {
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    let system = Actor::system("test");
    let new = |name: &str| NewGroup {
        input: GroupInput { display_name: name.into(), ..GroupInput::default() },
        ..NewGroup::default()
    };
    let pilot = app.directory.create_group(&system, new("Reset pilot")).await.unwrap();
    app.directory.create_group(&system, new("Twin")).await.unwrap();
    app.directory.create_group(&system, new("Twin")).await.unwrap();
    let grace = app.signed_in("grace@contoso.com").await;
    let (_, html) = grace.page("/admin/settings").await;
    let csrf = csrf_of(&html);
    assert!(html.contains("id=\"sspr-all\" name=\"enabled_for\" value=\"all\" checked"), "everyone by default");

    let form =
        [("csrf", csrf.as_str()), ("enabled_for", "selected"), ("reset_groups", "Reset pilot\nNo such group\nTwin")];
    let (status, html) = grace.submit("/admin/settings/reset-scope", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("no active group is named “No such group”"), "{html}");
    assert!(html.contains("several groups are named “Twin”"));
    assert!(html.contains("No such group\nTwin</textarea>"), "what was typed stays");
    assert_eq!(app.directory.reset_scope().await.unwrap(), roster_domain::group::Scope::Everyone, "nothing changed");

    let form = [("csrf", csrf.as_str()), ("enabled_for", "selected"), ("reset_groups", " reset PILOT ")];
    let r = grace.post("/admin/settings/reset-scope", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.directory.reset_scope().await.unwrap(), roster_domain::group::Scope::Groups(vec![pilot.id]));
    let (_, html) = grace.page("/admin/settings").await;
    assert!(html.contains(">Reset pilot</textarea>"), "{html}");

    let form = [("csrf", csrf.as_str()), ("required_for", "groups"), ("mfa_groups", "")];
    let (status, html) = grace.submit("/admin/settings/mfa", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choose at least one group."));
    let form = [("csrf", csrf.as_str()), ("required_for", "groups"), ("mfa_groups", &pilot.id.to_string())];
    assert_eq!(grace.post("/admin/settings/mfa", &form).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.directory.mfa_groups().await.unwrap(), vec![pilot.id]);
    let records = app
        .directory
        .audit_log(&system, &AuditQuery { action: Some(AuditAction::SettingsChanged), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert!(records
        .iter()
        .any(|r| r.changes.iter().any(|c| c.after.as_deref().is_some_and(|a| a.contains("Reset pilot")))));
}

/// Runs `roster groups …` on the app's database: (success, stdout, stderr).
async fn groups_command(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut all: Vec<std::ffi::OsString> = vec!["groups".into()];
    all.extend(args.iter().map(Into::into));
    all.extend(app.store_args());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&all).output().await.unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[tokio::test]
async fn the_command_line_adds_lists_and_fills_groups() {
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada", &[]).await;
    app.user("bob@contoso.com", "Bob", &[]).await;
    let (ok, out, err) = groups_command(&app, &["add", "--name", "Engineering", "--description", "Builders"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("email nickname Engineering"), "{out}");
    let (ok, _, err) = groups_command(&app, &["add", "--name", "Platform", "--mail-nickname", "plat form"]).await;
    assert!(!ok);
    assert!(err.contains("--mail-nickname:"), "{err}");
    groups_command(&app, &["add", "--name", "Platform"]).await;
    let (_, out, _) = groups_command(&app, &["list"]).await;
    let names: Vec<&str> = out.lines().map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(names, ["Engineering", "Platform"]);
    let platform = out.lines().find(|l| l.contains("Platform")).unwrap().split('\t').next().unwrap().to_string();

    let (ok, out, err) =
        groups_command(&app, &["add-member", "Engineering", "ada@contoso.com", "bob@contoso.com", &platform]).await;
    assert!(ok, "{err}");
    assert!(out.contains("Added 3 of 3"), "{out}");
    let (_, out, _) = groups_command(&app, &["add-member", "engineering", "ada@contoso.com"]).await;
    assert!(out.contains("Added 0 of 1; 1 were already members"), "{out}");
    let (ok, _, err) = groups_command(&app, &["add-member", "Engineering", "nobody@contoso.com"]).await;
    assert!(!ok && err.contains("there is no user nobody@contoso.com"), "{err}");
    let (ok, _, err) = groups_command(&app, &["add-member", "Platform", "Engineering"]).await;
    assert!(!ok, "a group is named by id as a member, and this would be a cycle anyway: {err}");

    let (_, out, _) = groups_command(&app, &["members", "Engineering"]).await;
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().any(|l| l.starts_with("group\t") && l.ends_with("Platform")));
    let (_, out, _) = groups_command(&app, &["remove-member", "Engineering", "bob@contoso.com"]).await;
    assert!(out.contains("Removed 1 of 1"), "{out}");
    let (ok, _, err) = groups_command(&app, &["members", "Nope"]).await;
    assert!(!ok && err.contains("no active group is named “Nope”"), "{err}");
}

#[tokio::test]
async fn memberships_export_and_import_as_csv_all_or_nothing() {
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada", &[]).await;
    app.user("bob@contoso.com", "Bob", &[]).await;
    groups_command(&app, &["add", "--name", "Ops"]).await;
    groups_command(&app, &["add", "--name", "Sales, EMEA"]).await;
    groups_command(&app, &["add-member", "Ops", "ada@contoso.com"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("memberships.csv");
    std::fs::write(&file, "Group,User Name\nOps,ada@contoso.com\n\"Sales, EMEA\",bob@contoso.com\nNope,bob@contoso.com\nOps,zed@contoso.com\n").unwrap();
    let path = file.to_str().unwrap();
    let (ok, _, err) = groups_command(&app, &["import", path]).await;
    assert!(!ok);
    assert!(err.contains("line 4: No active group is named “Nope”") && err.contains("line 5: No active user"), "{err}");
    let (_, out, _) = groups_command(&app, &["members", "Sales, EMEA"]).await;
    assert!(out.is_empty(), "nothing was changed: {out}");

    std::fs::write(
        &file,
        "User Name,Group\nada@contoso.com,Ops\nbob@contoso.com,\"Sales, EMEA\"\nbob@contoso.com,Ops\n",
    )
    .unwrap();
    let (ok, out, err) = groups_command(&app, &["import", path, "--dry-run"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "Would add 2 memberships; 1 were there already.");
    let (_, out, _) = groups_command(&app, &["import", path]).await;
    assert_eq!(out.trim(), "Added 2 memberships; 1 were there already.");

    let (ok, out, err) = groups_command(&app, &["export", "-"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "Group,User Name\nOps,ada@contoso.com\nOps,bob@contoso.com\n\"Sales, EMEA\",bob@contoso.com\n");
}

#[tokio::test]
async fn groups_deleted_more_than_30_days_ago_are_purged_and_audited() {
    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    let new = |name: &str| NewGroup {
        input: GroupInput { display_name: name.into(), ..GroupInput::default() },
        ..NewGroup::default()
    };
    let old = app.directory.create_group(&system, new("Old")).await.unwrap();
    let recent = app.directory.create_group(&system, new("Recent")).await.unwrap();
    app.directory.delete_group(&system, old.id).await.unwrap();
    app.directory.delete_group(&system, recent.id).await.unwrap();
    let long_ago = roster_domain::Timestamp::now().plus_seconds(-31 * 24 * 60 * 60).millis();
    app.execute_sql(&format!("update groups set deleted_at = {long_ago} where id = '{}'", old.id)).await;
    assert_eq!(app.directory.purge_expired_groups().await.unwrap(), 1);
    assert!(app.directory.group(&system, old.id).await.is_err(), "gone for good");
    assert!(app.directory.restore_group(&system, recent.id).await.is_ok(), "the recent one stays restorable");
    let purged = app
        .directory
        .audit_log(&system, &AuditQuery { action: Some(AuditAction::GroupPurged), limit: 5, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].group_id, Some(old.id));
}
