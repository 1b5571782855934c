//! SCIM 2.0 at `/scim/v2`, called the way identity providers provision users.

use reqwest::{Client, Method, StatusCode};
use roster_domain::apps::AppPermission;
use roster_domain::directory::AppInput;
use roster_domain::{Actor, Role};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::harness::{bulk, TestApp};

pub(crate) async fn token(app: &TestApp, permissions: &[AppPermission]) -> String {
    let input = AppInput {
        name: "Entra provisioning".into(),
        permissions: permissions.iter().map(|p| p.name().to_string()).collect(),
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    let secret = secret.map(|(_, plain)| plain);
    let r = Client::new()
        .post(format!("{}/oauth2/v2.0/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &registered.id.to_string()),
            ("client_secret", secret.as_ref().unwrap().expose_secret()),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub body: Value,
}

pub(crate) async fn scim(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> Reply {
    let mut request = Client::new().request(method, format!("{}/scim/v2{path}", app.base)).bearer_auth(token);
    if let Some(body) = body {
        request = request.header("content-type", "application/scim+json").body(body.to_string());
    }
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let r = request.send().await.unwrap();
    let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (status, etag, location) = (r.status(), header("etag"), header("location"));
    let text = r.text().await.unwrap();
    Reply {
        status,
        etag,
        location,
        body: if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() },
    }
}

fn entra_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "ada",
        "userName": "Ada.Lovelace@contoso.com",
        "active": true,
        "displayName": "Ada Lovelace",
        "title": "Analyst",
        "name": {"formatted": "Ada Lovelace", "givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "type": "work", "value": "ada.lovelace@contoso.com"},
                   {"type": "other", "value": "ada@fabrikam.com"}],
        "phoneNumbers": [{"type": "mobile", "value": "+1 425 555 0101"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Research"}
    })
}

#[tokio::test]
async fn an_identity_provider_provisions_changes_and_removes_a_user() {
    let Some(app) = TestApp::start().await else { return };
    let t = token(&app, &[AppPermission::UserReadWriteAll]).await;

    let created = scim(&app, &t, Method::POST, "/Users", Some(entra_user()), None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.location.as_deref(), Some(format!("{}/scim/v2/Users/{id}", app.base).as_str()));
    assert_eq!(created.etag.as_deref(), Some("W/\"1\""));
    assert_eq!(created.body["userName"], "ada.lovelace@contoso.com");
    assert_eq!(created.body["phoneNumbers"][0]["value"], "+14255550101");
    assert_eq!(created.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "Research");

    let found =
        scim(&app, &t, Method::GET, "/Users?filter=userName%20eq%20%22ADA.lovelace%40contoso.com%22", None, None).await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "title", "value": "Lead analyst"},
        {"op": "Add", "path": "emails[type eq \"other\"].value", "value": "ada@example.org"},
        {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 7911 123456"},
        {"op": "Remove", "path": "emails[type eq \"other\" and value eq \"ada@fabrikam.com\"]"}
    ]});
    let patched = scim(&app, &t, Method::PATCH, &format!("/Users/{id}"), Some(ops), None).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let user = app.directory.user_by_key(&Actor::system("test"), &id).await.unwrap();
    assert_eq!(user.contact.job_title.as_deref(), Some("Lead analyst"));
    assert_eq!(user.contact.alternate_emails, ["ada@example.org"]);
    assert_eq!(user.contact.mobile_phone.as_deref(), Some("+447911123456"));
    assert_eq!(user.contact.department.as_deref(), Some("Research"), "what no operation names is kept");

    let stale = scim(
        &app,
        &t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "title", "value": "x"}]})),
        Some("W/\"1\""),
    )
    .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        app.directory.user_by_key(&Actor::system("test"), &id).await.unwrap().contact.job_title.as_deref(),
        Some("Lead analyst")
    );

    let disable = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let r = scim(&app, &t, Method::PATCH, &format!("/Users/{id}"), Some(disable), patched.etag.as_deref()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);

    let mut whole = entra_user();
    whole["title"] = json!("Fellow");
    whole["phoneNumbers"] = json!([]);
    let r = scim(&app, &t, Method::PUT, &format!("/Users/{id}"), Some(whole), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "Fellow");
    assert!(r.body.get("phoneNumbers").is_none(), "a replacement clears what it leaves out");
    assert_eq!(r.body["active"], true);

    let mut renamed = entra_user();
    renamed["userName"] = json!("someone.else@contoso.com");
    let r = scim(&app, &t, Method::PUT, &format!("/Users/{id}"), Some(renamed), None).await;
    assert_eq!((r.status, r.body["userName"].as_str()), (StatusCode::OK, Some("someone.else@contoso.com")));

    assert_eq!(
        scim(&app, &t, Method::DELETE, &format!("/Users/{id}"), None, None).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = scim(&app, &t, Method::GET, &format!("/Users/{id}"), None, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
}

#[tokio::test]
async fn refusals_use_the_scim_error_schema() {
    let Some(app) = TestApp::start().await else { return };
    let t = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let reader = token(&app, &[AppPermission::UserReadAll]).await;
    app.user("hd@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;

    let r = scim(&app, &t, Method::GET, "/Users?filter=userName%20eq", None, None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidFilter")));
    assert_eq!(r.body["status"], "400");

    assert_eq!(scim(&app, &t, Method::POST, "/Users", Some(entra_user()), None).await.status, StatusCode::CREATED);
    let r = scim(&app, &t, Method::POST, "/Users", Some(entra_user()), None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")));

    let mut bad = entra_user();
    bad["userName"] = json!("grace@contoso.com");
    bad["emails"] = json!([]);
    bad["phoneNumbers"] = json!([{"type": "mobile", "value": "12"}]);
    let r = scim(&app, &t, Method::POST, "/Users", Some(bad), None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidValue")));
    assert!(r.body["detail"].as_str().unwrap().contains("phoneNumbers"), "{}", r.body);

    assert_eq!(
        scim(&app, &reader, Method::POST, "/Users", Some(entra_user()), None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(scim(&app, "nope", Method::GET, "/Users", None, None).await.status, StatusCode::UNAUTHORIZED);

    let hd = app.directory.user_by_key(&Actor::system("test"), "hd@contoso.com").await.unwrap();
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+14255550101"}]});
    let r = scim(&app, &t, Method::PATCH, &format!("/Users/{}", hd.id), Some(ops), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "an administrator's recovery contacts stay out of reach: {}", r.body);
}

#[tokio::test]
async fn lists_filter_sort_page_and_project() {
    let Some(app) = TestApp::start().await else { return };
    let names: Vec<(String, String)> = (0..12).map(|i| (format!("N{i:02}"), "Smith".to_string())).collect();
    let pairs: Vec<(&str, &str)> = names.iter().map(|(f, l)| (f.as_str(), l.as_str())).collect();
    bulk(&app.directory, &pairs, &[(2, "two@fabrikam.com")]).await;
    let t = token(&app, &[AppPermission::UserReadAll]).await;

    let r = scim(
        &app,
        &t,
        Method::GET,
        "/Users?sortBy=userName&sortOrder=descending&startIndex=3&count=4&attributes=userName",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 12);
    assert_eq!(r.body["startIndex"], 3);
    assert_eq!(r.body["itemsPerPage"], 4);
    let names: Vec<&str> =
        r.body["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert_eq!(names, ["u0009@contoso.com", "u0008@contoso.com", "u0007@contoso.com", "u0006@contoso.com"]);
    assert!(r.body["Resources"][0].get("name").is_none(), "only the attributes asked for, with id");
    assert!(r.body["Resources"][0]["id"].is_string());

    let filter =
        "emails%5Btype%20eq%20%22other%22%20and%20value%20co%20%22fabrikam%22%5D%20or%20name.givenName%20sw%20%22n1%22";
    let r = scim(&app, &t, Method::GET, &format!("/Users?filter={filter}&sortBy=userName"), None, None).await;
    let names: Vec<&str> =
        r.body["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert_eq!(names, ["u0002@contoso.com", "u0010@contoso.com", "u0011@contoso.com"]);

    let r = scim(
        &app,
        &t,
        Method::POST,
        "/Users/.search",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "name.familyName eq \"smith\" and not (userName ew \"1@contoso.com\")", "count": 0})),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 10);
    assert_eq!(r.body["Resources"], json!([]));

    let r = scim(&app, &t, Method::GET, "/Users?count=1&excludedAttributes=emails,name", None, None).await;
    assert!(r.body["Resources"][0].get("emails").is_none() && r.body["Resources"][0].get("userName").is_some());
}

#[tokio::test]
async fn discovery_documents_describe_the_service() {
    let Some(app) = TestApp::start().await else { return };
    let get = |path: &'static str| {
        let url = format!("{}/scim/v2{path}", app.base);
        async move {
            let r = Client::new().get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()["content-type"], "application/scim+json");
            r.json::<Value>().await.unwrap()
        }
    };
    let config = get("/ServiceProviderConfig").await;
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    let types = get("/ResourceTypes").await;
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    let schemas = get("/Schemas").await;
    let ids: Vec<&str> = schemas["Resources"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:User"));
    let user = get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").await;
    assert!(user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "userName" && a["uniqueness"] == "server"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_without_if_match_all_succeed_and_if_match_still_holds() {
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("alex@contoso.com", "Alex", &[]).await;
    let mut input = user.contact.to_input();
    input.city = "Leeds".into();
    app.directory.update_contact(&Actor::system("test"), user.id, user.version, &input).await.unwrap();
    let t = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let path = format!("/Users/{}", user.id);
    let attributes = [
        "title",
        "name.givenName",
        "name.familyName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        r#"addresses[type eq "work"].locality"#,
        r#"addresses[type eq "work"].region"#,
        r#"addresses[type eq "work"].postalCode"#,
        r#"addresses[type eq "work"].country"#,
    ];
    for round in 0..5 {
        let patches = attributes.iter().enumerate().map(|(i, attribute)| {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": attribute, "value": format!("V{i} {round}")}],
            });
            scim(&app, &t, Method::PATCH, &path, Some(body), None)
        });
        for reply in futures_util::future::join_all(patches).await {
            assert_eq!(reply.status, StatusCode::OK, "round {round}: {}", reply.body);
        }
        let contact = app.reload(&user).await.contact;
        let stored = [
            contact.job_title,
            contact.first_name,
            contact.last_name,
            contact.department,
            contact.city,
            contact.state,
            contact.postal_code,
            contact.country,
        ];
        for (i, value) in stored.iter().enumerate() {
            assert_eq!(value.as_deref(), Some(format!("V{i} {round}").as_str()), "round {round}: none overwritten");
        }
    }
    let stale = app.reload(&user).await.version - 1;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Stale"}],
    });
    let reply = scim(&app, &t, Method::PATCH, &path, Some(body), Some(&format!("W/\"{stale}\""))).await;
    assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED, "{}", reply.body);
    assert_ne!(app.reload(&user).await.contact.job_title.as_deref(), Some("Stale"));

    let r = Client::new()
        .patch(format!("{}/scim/v2{path}", app.base))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
