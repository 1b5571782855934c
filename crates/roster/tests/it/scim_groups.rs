//! SCIM 2.0 Groups, called with the request shapes Microsoft Entra ID and Okta really send.

use reqwest::{Method, StatusCode};
use roster_domain::apps::AppPermission;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::scim::{scim, token};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn member_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["members"]
        .as_array()
        .map(|m| m.iter().map(|v| v["value"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

struct Setup {
    app: TestApp,
    token: String,
    users: Vec<String>,
}

async fn setup() -> Option<Setup> {
    let app = TestApp::start().await?;
    let mut users = Vec::new();
    for name in ["ada", "bob", "cyd"] {
        users.push(app.user(&format!("{name}@contoso.com"), name, &[]).await.id.to_string());
    }
    let token = token(&app, &[AppPermission::GroupReadWriteAll, AppPermission::UserReadAll]).await;
    Some(Setup { app, token, users })
}

async fn create(s: &Setup, name: &str, external: &str, members: &[&str]) -> String {
    let body = json!({"schemas": [GROUP], "displayName": name, "externalId": external,
                      "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()});
    let r = scim(&s.app, &s.token, Method::POST, "/Groups", Some(body), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.location.is_some() && r.etag.is_some());
    r.body["id"].as_str().unwrap().to_string()
}

async fn members_of(s: &Setup, id: &str) -> Vec<String> {
    member_ids(&scim(&s.app, &s.token, Method::GET, &format!("/Groups/{id}"), None, None).await.body)
}

#[tokio::test]
async fn entra_looks_groups_up_by_name_without_members_then_patches_them() {
    let Some(s) = setup().await else { return };
    let id = create(&s, "Sales", "entra-1", &[&s.users[0]]).await;

    // Entra's lookup: excludedAttributes=members and a displayName filter.
    let r = scim(
        &s.app,
        &s.token,
        Method::GET,
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none(), "{}", r.body);
    let r = scim(&s.app, &s.token, Method::GET, "/Groups?filter=externalId+eq+%22entra-1%22", None, None).await;
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    assert_eq!(member_ids(&r.body["Resources"][0]), vec![s.users[0].clone()]);

    // Capitalised operations, as Entra sends them without its RFC-compliance flag.
    let add = patch(json!([{"op": "Add", "path": "members", "value": [{"value": s.users[1]}, {"value": s.users[2]}]}]));
    let r = scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{id}"), Some(add), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(members_of(&s, &id).await.len(), 3);

    // Entra's removal: an unfiltered path with a value list removes exactly those members.
    let remove = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": s.users[1]}]}]));
    let r = scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{id}"), Some(remove), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let mut left = vec![s.users[0].clone(), s.users[2].clone()];
    left.sort();
    assert_eq!(members_of(&s, &id).await, left, "never everyone");

    // Users answer with their groups, read-only: direct, and through nesting as indirect.
    let outer = create(&s, "All sales", "entra-0", &[]).await;
    let nest = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{outer}"), Some(nest), None).await;
    let user = scim(&s.app, &s.token, Method::GET, &format!("/Users/{}", s.users[0]), None, None).await.body;
    let groups: Vec<(String, String)> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["value"].as_str().unwrap().to_string(), g["type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(groups, vec![(id.clone(), "direct".to_string()), (outer.clone(), "indirect".to_string())], "{user}");

    let rename = patch(json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]));
    scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{id}"), Some(rename), None).await;
    let r = scim(&s.app, &s.token, Method::GET, &format!("/Groups/{id}?attributes=displayName"), None, None).await;
    assert_eq!(r.body["displayName"], "Sales EMEA");
    assert!(r.body.get("members").is_none());
}

#[tokio::test]
async fn okta_removes_by_value_filter_renames_with_id_and_pages_by_index() {
    let Some(s) = setup().await else { return };
    let id = create(&s, "Engineering", "okta-1", &[&s.users[0], &s.users[1]]).await;
    for i in 0..4 {
        create(&s, &format!("Team {i}"), &format!("okta-team-{i}"), &[]).await;
    }
    let ops = patch(json!([
        {"op": "remove", "path": format!("members[value eq \"{}\"]", s.users[0])},
        {"op": "replace", "value": {"id": id, "displayName": "Engineering Org"}},
        {"op": "add", "path": "members", "value": [{"value": s.users[2], "display": "cyd"}]},
    ]));
    let r = scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{id}"), Some(ops), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let got = scim(&s.app, &s.token, Method::GET, &format!("/Groups/{id}"), None, None).await.body;
    assert_eq!(got["displayName"], "Engineering Org");
    let mut want = vec![s.users[1].clone(), s.users[2].clone()];
    want.sort();
    assert_eq!(member_ids(&got), want);

    // Okta pages with integer startIndex and count.
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let r = scim(&s.app, &s.token, Method::GET, &format!("/Groups?startIndex={start}&count=2"), None, None).await;
        assert_eq!(r.body["totalResults"], 5);
        assert_eq!(r.body["startIndex"], start);
        seen.extend(r.body["Resources"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_string()));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);

    // A full replace of members, as Okta sometimes sends.
    let ops = patch(json!([{"op": "replace", "path": "members", "value": [{"value": s.users[0]}]}]));
    scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{id}"), Some(ops), None).await;
    assert_eq!(members_of(&s, &id).await, vec![s.users[0].clone()]);
}

#[tokio::test]
async fn put_etags_refusals_and_deletion_follow_rfc_7644() {
    let Some(s) = setup().await else { return };
    let id = create(&s, "Ops", "x-1", &[&s.users[0]]).await;
    let current = scim(&s.app, &s.token, Method::GET, &format!("/Groups/{id}"), None, None).await;
    let etag = current.etag.clone().unwrap();

    let put = json!({"schemas": [GROUP], "displayName": "Operations", "externalId": "x-2", "members": [{"value": s.users[1]}]});
    let r = scim(&s.app, &s.token, Method::PUT, &format!("/Groups/{id}"), Some(put.clone()), Some(&etag)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["externalId"], "x-2");
    assert_eq!(member_ids(&r.body), vec![s.users[1].clone()]);
    let r = scim(&s.app, &s.token, Method::PUT, &format!("/Groups/{id}"), Some(put), Some(&etag)).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "a stale If-Match");

    let unknown =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": "00000000-0000-0000-0000-000000000009"}]}]));
    let r = scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{id}"), Some(unknown), None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidValue")));
    let unkept = patch(json!([{"op": "add", "path": "owners", "value": [{"value": s.users[0]}]}]));
    let r = scim(&s.app, &s.token, Method::PATCH, &format!("/Groups/{id}"), Some(unkept), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an attribute Roster does not keep is refused: {}", r.body);
    assert_eq!(members_of(&s, &id).await, vec![s.users[1].clone()], "nothing changed");

    let r = scim(&s.app, &s.token, Method::GET, "/Groups?filter=members.value+eq+%22x%22", None, None).await;
    assert_eq!(r.body["scimType"], "invalidFilter");
    let r = scim(&s.app, &s.token, Method::GET, "/Nowhere", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "SCIM's error body, not a page");

    assert_eq!(
        scim(&s.app, &s.token, Method::DELETE, &format!("/Groups/{id}"), None, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        scim(&s.app, &s.token, Method::GET, &format!("/Groups/{id}"), None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let types = scim(&s.app, &s.token, Method::GET, "/ResourceTypes/Group", None, None).await;
    assert_eq!(types.body["endpoint"], "/Groups");
}
