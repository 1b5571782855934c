//! Groups through the Graph-compatible API, as scripts and provisioning tools call it: create,
//! list and page, members by reference (users and nested groups), owners, the groups a user is
//! in, deletion and the audit trail.

use reqwest::Method;
use reqwest::StatusCode;
use roster_domain::apps::AppPermission;
use roster_domain::audit::{AuditAction, AuditQuery};
use roster_domain::Actor;
use serde_json::{json, Value};

use crate::graph::{call, token};
use crate::harness::TestApp;

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
