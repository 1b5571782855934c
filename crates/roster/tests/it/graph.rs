//! App registrations, the OAuth 2.0 client-credentials grant and the Graph-compatible users
//! API, over HTTP as a Graph client would call them.

use reqwest::{Client, StatusCode};
use roster_domain::apps::AppPermission;
use roster_domain::audit::{AuditAction, AuditQuery};
use roster_domain::directory::AppInput;
use roster_domain::store::{FindOrder, UserFind};
use roster_domain::user_filter::{Attr, Op, UserFilter, Value as FilterValue};
use roster_domain::{Actor, Role, Timestamp};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::harness::{bulk, csrf_of, TestApp};

/// Registers an app holding `permissions` and returns its client id and secret.
async fn register(app: &TestApp, permissions: &[AppPermission]) -> (String, String) {
    let input = AppInput {
        name: "Provisioning".into(),
        permissions: permissions.iter().map(|p| p.name().to_string()).collect(),
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    let secret = secret.map(|(_, plain)| plain);
    (registered.id.to_string(), secret.unwrap().expose_secret().to_string())
}

async fn token_response(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = Client::new().post(format!("{}/oauth2/v2.0/token", app.base)).form(form).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// A bearer token for an app holding `permissions`.
pub(crate) async fn token(app: &TestApp, permissions: &[AppPermission]) -> String {
    let (id, secret) = register(app, permissions).await;
    let (status, body) = token_response(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// A Graph call: method, path (with query), optional JSON body; status and JSON body (null when empty).
pub(crate) async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Client::new().request(method, format!("{}{path}", app.base)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.header("ConsistencyLevel", "eventual").send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

#[tokio::test]
async fn global_administrators_register_apps_and_see_each_secret_once() {
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    app.user("uma@contoso.com", "Uma", &[Role::UserAdministrator]).await;

    let uma = app.signed_in("uma@contoso.com").await;
    assert_eq!(uma.page("/admin/apps").await.0, StatusCode::FORBIDDEN);

    let grace = app.signed_in("grace@contoso.com").await;
    let (status, html) = grace.page("/admin/apps").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html);
    let (status, html) = grace.submit("/admin/apps", &[("csrf", &csrf), ("name", "")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Enter") || html.contains("required"), "the name is named");
    assert!(html.contains("Choose at least one permission."));

    let (status, html) = grace
        .submit(
            "/admin/apps",
            &[
                ("csrf", &csrf),
                ("name", "HR sync"),
                ("permission", "User.ReadWrite.All"),
                ("permission", "UserAuthenticationMethod.Read.All"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = html.split("id=\"client-secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let apps = app.directory.list_apps(&Actor::system("test")).await.unwrap();
    assert_eq!(apps.len(), 1);
    let id = apps[0].id;
    assert_eq!(apps[0].permissions.display(), "User.ReadWrite.All, UserAuthenticationMethod.Read.All");

    let (_, details) = grace.page(&format!("/admin/apps/{id}")).await;
    assert!(details.contains(&secret[..3]), "the hint is listed");
    assert!(!details.contains(&secret), "the secret itself is never shown again");

    let (status, body) = token_response(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &id.to_string()), ("client_secret", &secret)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(call(&app, &access, reqwest::Method::GET, "/v1.0/users", None).await.0, StatusCode::OK);

    let (_, stored) = app.directory.app(&Actor::system("test"), id).await.unwrap();
    let r = grace.post(&format!("/admin/apps/{id}/secrets/{}/remove", stored[0].id), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, body) = call(&app, &access, reqwest::Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a removed secret's tokens stop working");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    let audit = app
        .directory
        .audit_log(
            &Actor::system("test"),
            &AuditQuery { action: Some(AuditAction::AppChanged), limit: 10, ..AuditQuery::default() },
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 2, "registration and secret removal are audited");
    assert!(audit.iter().all(|e| e.actor_name.contains("grace@contoso.com")));
}

#[tokio::test]
async fn the_token_endpoint_follows_the_client_credentials_grant() {
    let Some(app) = TestApp::start().await else { return };
    let (id, secret) = register(&app, &[AppPermission::UserReadAll]).await;

    let (status, body) = token_response(&app, &[("client_id", &id), ("client_secret", &secret)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) = token_response(&app, &[("grant_type", "password"), ("client_id", &id)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));
    let (status, body) = token_response(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret), ("scope", "User.Read")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));

    let r = Client::new()
        .post(format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", app.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "HTTP Basic client authentication, under a tenant path");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);

    for _ in 0..10 {
        let (status, body) = token_response(
            &app,
            &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", "wrong")],
        )
        .await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    }
    let (status, _) =
        token_response(&app, &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
            .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "repeated failures lock the client id for the window");
}

#[tokio::test]
async fn graph_clients_create_read_change_and_delete_users() {
    let Some(app) = TestApp::start().await else { return };
    let writer = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let reader = token(&app, &[AppPermission::UserReadAll]).await;
    use reqwest::Method;

    let (status, body) = call(
        &app,
        &writer,
        Method::POST,
        "/v1.0/users",
        Some(json!({
            "accountEnabled": true, "displayName": "Adele Vance", "mailNickname": "adele",
            "userPrincipalName": "adele.vance@contoso.com", "givenName": "Adele",
            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "Correct-Horse-Battery-9"}
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["userPrincipalName"], "adele.vance@contoso.com");
    assert_eq!(body["businessPhones"], json!([]));
    assert_eq!(body["jobTitle"], Value::Null);

    let (status, body) = call(
        &app,
        &writer,
        Method::PATCH,
        "/v1.0/users/Adele.Vance@contoso.com",
        Some(json!({"otherMails": ["adele@fabrikam.com"], "mobilePhone": "+1 425 555 0101", "jobTitle": "Buyer"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = call(
        &app,
        &reader,
        Method::GET,
        &format!("/v1.0/users/{id}?$select=otherMails,mobilePhone,jobTitle,givenName"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["otherMails"], json!(["adele@fabrikam.com"]));
    assert_eq!(body["mobilePhone"], "+1 4255550101");
    assert_eq!(body["givenName"], "Adele", "properties a PATCH leaves out keep their values");
    assert!(body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#users(otherMails,mobilePhone,jobTitle,givenName)/$entity"));

    let (status, body) =
        call(&app, &writer, Method::PATCH, &format!("/v1.0/users/{id}"), Some(json!({"mobilePhone": "12"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "Request_BadRequest");
    assert_eq!(body["error"]["details"][0]["target"], "mobilePhone");
    let (_, body) = call(&app, &reader, Method::GET, &format!("/v1.0/users/{id}"), None).await;
    assert_eq!(body["mobilePhone"], "+1 4255550101", "a refused change changes nothing");

    let (status, body) =
        call(&app, &reader, Method::PATCH, &format!("/v1.0/users/{id}"), Some(json!({"jobTitle": "x"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("Authorization_RequestDenied")));

    let (status, body) = call(&app, &writer, Method::GET, "/v1.0/users/nobody@contoso.com", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("Request_ResourceNotFound")));
    let (status, _) = call(&app, "not-a-token", Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = call(
        &app,
        &writer,
        Method::POST,
        "/v1.0/users",
        Some(json!({"accountEnabled": true, "displayName": "Dup", "mailNickname": "d",
            "userPrincipalName": "adele.vance@contoso.com", "passwordProfile": {"password": "Correct-Horse-Battery-9"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    assert_eq!(call(&app, &writer, Method::DELETE, &format!("/v1.0/users/{id}"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, &writer, Method::GET, &format!("/v1.0/users/{id}"), None).await.0, StatusCode::NOT_FOUND);

    let audit = app
        .directory
        .audit_log(&Actor::system("test"), &AuditQuery { limit: 20, ..AuditQuery::default() })
        .await
        .unwrap();
    let by_app = audit.iter().filter(|e| e.actor_name.starts_with("Provisioning (application ")).count();
    assert_eq!(by_app, 3, "creation, change and deletion are audited with the application as actor");
}

#[tokio::test]
async fn administrators_recovery_contacts_need_the_authentication_method_permission() {
    let Some(app) = TestApp::start().await else { return };
    app.user("hd@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let user_writer = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let methods_writer = token(&app, &[AppPermission::UserReadWriteAll, AppPermission::AuthMethodReadWriteAll]).await;
    let patch = json!({"mobilePhone": "+44 7911 123456"});

    let (status, body) =
        call(&app, &user_writer, reqwest::Method::PATCH, "/v1.0/users/hd@contoso.com", Some(patch.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    assert!(body["error"]["message"].as_str().unwrap().contains("UserAuthenticationMethod.ReadWrite.All"));
    let (status, _) = call(
        &app,
        &user_writer,
        reqwest::Method::PATCH,
        "/v1.0/users/hd@contoso.com",
        Some(json!({"jobTitle": "Lead"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "non-sensitive fields of administrators stay open");
    let (status, _) =
        call(&app, &methods_writer, reqwest::Method::PATCH, "/v1.0/users/hd@contoso.com", Some(patch)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &app,
        &methods_writer,
        reqwest::Method::PATCH,
        "/v1.0/users/hd@contoso.com",
        Some(json!({"accountEnabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no application blocks an administrator");
}

#[tokio::test]
async fn graph_lists_page_filter_sort_count_and_search() {
    let Some(app) = TestApp::start().await else { return };
    let names: Vec<(String, String)> =
        (0..25).map(|i| (["Ada", "Bea", "Cy", "Al", "Bo"][i % 5].to_string(), format!("Last{i:02}"))).collect();
    let pairs: Vec<(&str, &str)> = names.iter().map(|(f, l)| (f.as_str(), l.as_str())).collect();
    bulk(&app.directory, &pairs, &[(3, "Al@Fabrikam.com")]).await;
    let reader = token(&app, &[AppPermission::UserReadAll]).await;
    use reqwest::Method;

    let mut next = Some(format!("{}/v1.0/users?$top=10&$select=displayName", app.base));
    let mut seen = Vec::new();
    while let Some(url) = next {
        let path = url.strip_prefix(&app.base).unwrap().to_string();
        let (status, body) = call(&app, &reader, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(body["value"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()));
        next = body["@odata.nextLink"].as_str().map(str::to_string);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (25, 25), "paging visits every user once");

    let (_, body) = call(
        &app,
        &reader,
        Method::GET,
        "/v1.0/users?$filter=startswith(displayName,'a')&$orderby=displayName&$count=true",
        None,
    )
    .await;
    assert_eq!(body["@odata.count"], 10);
    let shown: Vec<&str> =
        body["value"].as_array().unwrap().iter().map(|u| u["displayName"].as_str().unwrap()).collect();
    let mut sorted = shown.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(shown, sorted);
    assert!(shown.iter().all(|n| n.starts_with('A')));

    let (_, body) =
        call(&app, &reader, Method::GET, "/v1.0/users?$filter=otherMails/any(x:x eq 'al@fabrikam.com')", None).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(body["value"][0]["displayName"], "Al Last03");

    let (status, body) = call(&app, &reader, Method::GET, "/v1.0/users?$top=1000", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.");

    let (_, body) = call(&app, &reader, Method::GET, "/v1.0/users?$search=\"displayName:bea\"&$count=true", None).await;
    assert_eq!(body["@odata.count"], 5);
    let r = Client::new()
        .get(format!("{}/v1.0/users?$search=\"displayName:bea\"", app.base))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "$search needs ConsistencyLevel: eventual");

    let (status, body) = call(&app, &reader, Method::GET, "/v1.0/users?$filter=shoeSize eq 3", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("Request_BadRequest")));
    let (_, body) = call(&app, &reader, Method::GET, "/v1.0/users/$count", None).await;
    assert_eq!(body, json!(25));
}

#[tokio::test]
async fn the_store_selects_exactly_the_users_a_filter_matches() {
    let Some(app) = TestApp::start().await else { return };
    let names = [("Zoë", "Ångström"), ("zoe", "Smith"), ("Al", "Smithers"), ("Bea", "O'Neil"), ("Cy", "de la Cruz")];
    let users = bulk(&app.directory, &names, &[(0, "z@example.org"), (2, "al@EXAMPLE.org"), (2, "smith@x.com")]).await;
    let actor = Actor::system("test");
    app.directory.set_enabled(&actor, users[4].id, false).await.unwrap();
    let all: Vec<_> = app
        .directory
        .find_users(&actor, UserFind { limit: 100, ..UserFind::default() })
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.user)
        .collect();
    assert_eq!(all.len(), 5);

    let text = |attr, op, v: &str| UserFilter::Compare { attr, op, value: FilterValue::Text(v.into()) };
    let filters = vec![
        text(Attr::FirstName, Op::Eq, "ZOE"),
        text(Attr::LastName, Op::StartsWith, "smith"),
        text(Attr::LastName, Op::EndsWith, "ERS"),
        text(Attr::DisplayName, Op::Contains, "ö"),
        text(Attr::LastName, Op::Gt, "Smith"),
        text(Attr::LastName, Op::Le, "o'neil"),
        text(Attr::JobTitle, Op::Ne, "x"),
        text(Attr::AlternateEmail, Op::EndsWith, "example.org"),
        text(Attr::AlternateEmail, Op::Eq, "AL@example.org"),
        text(Attr::AlternateEmail, Op::StartsWith, "smi"),
        text(Attr::AlternateEmail, Op::StartsWith, ""),
        UserFilter::Not(Box::new(text(Attr::AlternateEmail, Op::Eq, "z@example.org"))),
        UserFilter::Or(vec![text(Attr::AlternateEmail, Op::Eq, "z@example.org"), text(Attr::FirstName, Op::Eq, "cy")]),
        text(Attr::AlternateEmail, Op::Ne, "al@example.org"),
        UserFilter::Present(Attr::AlternateEmail),
        UserFilter::Not(Box::new(UserFilter::Present(Attr::MobilePhone))),
        UserFilter::Compare { attr: Attr::Enabled, op: Op::Eq, value: FilterValue::Bool(false) },
        UserFilter::Compare { attr: Attr::CreatedAt, op: Op::Le, value: FilterValue::Time(Timestamp::now()) },
        UserFilter::Or(vec![
            text(Attr::Username, Op::StartsWith, "u0001"),
            UserFilter::And(vec![
                text(Attr::FirstName, Op::Eq, "bea"),
                UserFilter::Not(Box::new(text(Attr::LastName, Op::Contains, "z"))),
            ]),
        ]),
        UserFilter::Not(Box::new(text(Attr::LastName, Op::StartsWith, "smith"))),
    ];
    for filter in filters {
        let mut expected: Vec<String> =
            all.iter().filter(|u| filter.matches(u)).map(|u| u.username.to_string()).collect();
        let find =
            UserFind { filter: Some(filter.clone()), order: FindOrder::Username, limit: 100, ..UserFind::default() };
        let found: Vec<String> =
            app.directory.find_users(&actor, find).await.unwrap().iter().map(|f| f.user.username.to_string()).collect();
        expected.sort();
        assert_eq!(found, expected, "{filter:?}");
        let counted = app.directory.count_found(&actor, Some(&filter)).await.unwrap();
        assert_eq!(counted as usize, expected.len(), "{filter:?}");
    }
}

#[tokio::test]
async fn authentication_methods_are_the_contact_fields_the_admin_center_edits() {
    use reqwest::Method;
    let Some(app) = TestApp::start().await else { return };
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let methods = token(&app, &[AppPermission::AuthMethodReadWriteAll]).await;
    let reader = token(&app, &[AppPermission::AuthMethodReadAll]).await;
    let base = "/v1.0/users/ada@contoso.com/authentication";
    let mobile = "3179e48a-750b-4051-897c-87b9720928f7";

    let (status, body) = call(
        &app,
        &methods,
        Method::POST,
        &format!("{base}/phoneMethods"),
        Some(json!({"phoneNumber": "+1 4255550101", "phoneType": "alternateMobile"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an alternate mobile needs a mobile first: {body}");
    let (status, body) = call(
        &app,
        &methods,
        Method::POST,
        &format!("{base}/phoneMethods"),
        Some(json!({"phoneNumber": "425-555-0101", "phoneType": "mobile"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "Graph's format is required: {body}");
    let (status, body) = call(
        &app,
        &methods,
        Method::POST,
        &format!("{base}/phoneMethods"),
        Some(json!({"phoneNumber": "+1 4255550101", "phoneType": "mobile"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], mobile);
    assert_eq!(body["phoneNumber"], "+1 4255550101");
    assert_eq!(app.reload(&ada).await.contact.mobile_phone.as_deref(), Some("+14255550101"), "one source of truth");

    let (status, _) = call(
        &app,
        &methods,
        Method::POST,
        &format!("{base}/phoneMethods"),
        Some(json!({"phoneNumber": "+1 4255550102", "phoneType": "mobile"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "one method per type");
    let (status, _) = call(
        &app,
        &methods,
        Method::PATCH,
        &format!("{base}/phoneMethods/{mobile}"),
        Some(json!({"phoneNumber": "+44 7911123456"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = call(
        &app,
        &methods,
        Method::POST,
        &format!("{base}/emailMethods"),
        Some(json!({"emailAddress": "ada@fabrikam.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let email_id = body["id"].as_str().unwrap().to_string();
    assert_eq!(email_id, "3ddfcfc8-9383-446f-83cc-3ab9be4be18f", "Graph's one email method id, for the first address");
    assert_eq!(app.reload(&ada).await.contact.alternate_emails, ["ada@fabrikam.com"]);
    let (status, second) = call(
        &app,
        &methods,
        Method::POST,
        &format!("{base}/emailMethods"),
        Some(json!({"emailAddress": "ada@contoso.org"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_ne!(second_id, email_id, "further addresses keep ids of their own");
    let (_, got) = call(&app, &reader, Method::GET, &format!("{base}/emailMethods/{email_id}"), None).await;
    assert_eq!(got["emailAddress"], "ada@fabrikam.com");
    let patch = json!({"emailAddress": "ada.home@fabrikam.com"});
    let (status, _) =
        call(&app, &methods, Method::PATCH, &format!("{base}/emailMethods/{email_id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "PATCH by the fixed id, as scripts do");
    assert_eq!(
        call(&app, &methods, Method::DELETE, &format!("{base}/emailMethods/{second_id}"), None).await.0,
        StatusCode::NO_CONTENT
    );

    let (status, body) = call(&app, &reader, Method::GET, &format!("{base}/methods"), None).await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> =
        body["value"].as_array().unwrap().iter().map(|m| m["@odata.type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "#microsoft.graph.passwordAuthenticationMethod",
            "#microsoft.graph.phoneAuthenticationMethod",
            "#microsoft.graph.emailAuthenticationMethod"
        ]
    );
    assert_eq!(body["value"][1]["phoneNumber"], "+44 7911123456");
    let (status, _) = call(&app, &reader, Method::DELETE, &format!("{base}/emailMethods/{email_id}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reading methods doesn't allow changing them");

    assert_eq!(
        call(&app, &methods, Method::DELETE, &format!("{base}/emailMethods/{email_id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, &methods, Method::DELETE, &format!("{base}/phoneMethods/{mobile}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    let after = app.reload(&ada).await;
    assert!(after.contact.alternate_emails.is_empty() && after.contact.mobile_phone.is_none());
    let (status, body) = call(&app, &reader, Method::GET, &format!("{base}/phoneMethods/{mobile}"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("itemNotFound")));
}

#[tokio::test]
async fn the_authenticator_app_is_a_software_oath_method_an_application_may_remove() {
    use reqwest::Method;
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada", &[]).await;
    let methods = token(&app, &[AppPermission::AuthMethodReadWriteAll]).await;
    let reader = token(&app, &[AppPermission::AuthMethodReadAll]).await;
    let base = "/v1.0/users/ada@contoso.com/authentication";
    let app_id = roster_api::graph::methods::SOFTWARE_OATH_METHOD_ID;
    let one = format!("{base}/softwareOathMethods/{app_id}");

    let (status, body) = call(&app, &reader, Method::GET, &format!("{base}/softwareOathMethods"), None).await;
    assert_eq!((status, body["value"].as_array().unwrap().len()), (StatusCode::OK, 0), "none set up yet");
    assert_eq!(call(&app, &reader, Method::GET, &one, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, &methods, Method::DELETE, &one, None).await.0, StatusCode::NOT_FOUND);

    // Ada sets the app up herself, as only its owner can.
    let ada = app.signed_in("ada@contoso.com").await;
    let (_, page) = ada.page("/account/security/app").await;
    let code = roster_domain::mfa::app_code_at(&crate::mfa::secret_on(&page), crate::mfa::now());
    let (status, _) = ada.submit("/account/security/app", &[("csrf", &csrf_of(&page)), ("app_code", &code)]).await;
    assert_eq!(status, StatusCode::OK);

    let (_, body) = call(&app, &reader, Method::GET, &format!("{base}/methods"), None).await;
    let last = body["value"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["@odata.type"], "#microsoft.graph.softwareOathAuthenticationMethod");
    assert_eq!((last["id"].as_str(), last["secretKey"].is_null()), (Some(app_id), true), "never the secret");
    let (status, body) = call(&app, &reader, Method::GET, &format!("{base}/softwareOathMethods"), None).await;
    assert_eq!((status, body["value"][0]["id"].as_str()), (StatusCode::OK, Some(app_id)));
    let (status, body) = call(&app, &reader, Method::GET, &one, None).await;
    assert_eq!((status, body["id"].as_str()), (StatusCode::OK, Some(app_id)));

    let (status, _) = call(&app, &reader, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reading methods doesn't allow removing them");
    let wrong = format!("{base}/softwareOathMethods/3179e48a-750b-4051-897c-87b9720928f7");
    assert_eq!(call(&app, &methods, Method::DELETE, &wrong, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, &methods, Method::DELETE, &one, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, &reader, Method::GET, &one, None).await.0, StatusCode::NOT_FOUND, "gone");
    let (_, page) = ada.page("/account/security").await;
    assert!(!page.contains("Remove authenticator app"), "her Security info shows it gone too");

    let system = Actor::system("test");
    let subjects: Vec<String> =
        app.directory.outbox(&system, None, 10).await.unwrap().into_iter().map(|m| m.message.subject).collect();
    assert!(subjects.contains(&"An authenticator app was removed from your account".to_string()), "{subjects:?}");
    let audit = app.directory.audit_log(&system, &AuditQuery { limit: 20, ..AuditQuery::default() }).await.unwrap();
    let removed = audit.iter().find(|e| e.action == AuditAction::MfaChanged && e.actor_name.contains("(application "));
    assert!(removed.is_some_and(|e| e.target_name == "ada@contoso.com"), "audited with the application as actor");
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routed_operations() {
    let Some(app) = TestApp::start().await else { return };
    let spec: Value =
        Client::new().get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in
            item.as_object().unwrap().keys().filter(|k| ["get", "post", "patch", "delete", "put"].contains(&k.as_str()))
        {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations.sort();
    let expected = [
        "DELETE /v1.0/groups/{group}",
        "DELETE /v1.0/groups/{group}/members/{member}/$ref",
        "DELETE /v1.0/groups/{group}/owners/{member}/$ref",
        "DELETE /v1.0/users/{key}",
        "DELETE /v1.0/users/{key}/authentication/emailMethods/{id}",
        "DELETE /v1.0/users/{key}/authentication/fido2Methods/{id}",
        "DELETE /v1.0/users/{key}/authentication/phoneMethods/{id}",
        "DELETE /v1.0/users/{key}/authentication/softwareOathMethods/{id}",
        "DELETE /v1.0/users/{key}/authentication/temporaryAccessPassMethods/{id}",
        "GET /v1.0/groups",
        "GET /v1.0/groups/{group}",
        "GET /v1.0/groups/{group}/members",
        "GET /v1.0/groups/{group}/owners",
        "GET /v1.0/groups/{group}/transitiveMembers",
        "GET /v1.0/users",
        "GET /v1.0/users/{key}",
        "GET /v1.0/users/{key}/authentication/emailMethods",
        "GET /v1.0/users/{key}/authentication/emailMethods/{id}",
        "GET /v1.0/users/{key}/authentication/fido2Methods",
        "GET /v1.0/users/{key}/authentication/fido2Methods/{id}",
        "GET /v1.0/users/{key}/authentication/methods",
        "GET /v1.0/users/{key}/authentication/phoneMethods",
        "GET /v1.0/users/{key}/authentication/phoneMethods/{id}",
        "GET /v1.0/users/{key}/authentication/softwareOathMethods",
        "GET /v1.0/users/{key}/authentication/softwareOathMethods/{id}",
        "GET /v1.0/users/{key}/authentication/temporaryAccessPassMethods",
        "GET /v1.0/users/{key}/authentication/temporaryAccessPassMethods/{id}",
        "GET /v1.0/users/{key}/memberOf",
        "GET /v1.0/users/{key}/transitiveMemberOf",
        "PATCH /v1.0/groups/{group}",
        "PATCH /v1.0/users/{key}",
        "PATCH /v1.0/users/{key}/authentication/emailMethods/{id}",
        "PATCH /v1.0/users/{key}/authentication/phoneMethods/{id}",
        "POST /v1.0/groups",
        "POST /v1.0/groups/{group}/members/$ref",
        "POST /v1.0/groups/{group}/owners/$ref",
        "POST /v1.0/users",
        "POST /v1.0/users/{key}/authentication/emailMethods",
        "POST /v1.0/users/{key}/authentication/phoneMethods",
        "POST /v1.0/users/{key}/authentication/temporaryAccessPassMethods",
    ];
    assert_eq!(operations, expected);
    for operation in &operations {
        let (method, path) = operation.split_once(' ').unwrap();
        let path = path
            .replace("{key}", "ada@contoso.com")
            .replace("{id}", "3179e48a-750b-4051-897c-87b9720928f7")
            .replace("{group}", "7a4b2c1d-3e5f-4a6b-8c7d-9e0f1a2b3c4d")
            .replace("{member}", "5c1e0d2a-9f34-4b7e-a0c1-2d3e4f5a6b7c");
        let r = Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", app.base))
            .header("client-request-id", "4f3a9d2e-client")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{operation} is routed to the Graph API");
        let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken", "{operation}");
        let inner = &body["error"]["innerError"];
        assert_eq!(inner["request-id"], request_id.as_str(), "{operation}: the refusal names the request");
        assert_eq!(inner["client-request-id"], "4f3a9d2e-client", "{operation}");
    }
    for schema in [
        "User",
        "UserList",
        "UserCreate",
        "UserUpdate",
        "GraphError",
        "PhoneAuthenticationMethod",
        "PhoneAuthenticationMethodWrite",
        "EmailAuthenticationMethod",
        "EmailAuthenticationMethodWrite",
        "SoftwareOathAuthenticationMethod",
        "Fido2AuthenticationMethod",
        "TemporaryAccessPassAuthenticationMethod",
        "TemporaryAccessPassAuthenticationMethodWrite",
        "Group",
        "GroupList",
        "GroupCreate",
        "GroupUpdate",
        "Reference",
        "DirectoryObjectList",
    ] {
        assert!(spec["components"]["schemas"][schema].is_object(), "{schema} is described");
    }
    let user = &spec["components"]["schemas"]["User"]["properties"];
    for property in roster_api::graph::user::PROPERTIES {
        assert!(user[property].is_object(), "{property}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_different_properties_all_succeed() {
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("alex@contoso.com", "Alex", &[]).await;
    let token = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let path = format!("/v1.0/users/{}", user.id);
    let properties =
        ["jobTitle", "department", "officeLocation", "city", "state", "postalCode", "country", "streetAddress"];
    for round in 0..5 {
        let patches = properties.iter().map(|property| {
            let body = json!({ *property: format!("{property} {round}") });
            call(&app, &token, reqwest::Method::PATCH, &path, Some(body))
        });
        for (status, body) in futures_util::future::join_all(patches).await {
            assert_eq!(status, StatusCode::NO_CONTENT, "round {round}: {body}");
        }
        let (_, stored) =
            call(&app, &token, reqwest::Method::GET, &format!("{path}?$select={}", properties.join(",")), None).await;
        for property in properties {
            assert_eq!(stored[property], format!("{property} {round}"), "round {round}: none overwritten");
        }
    }
}

#[tokio::test]
async fn graph_refuses_what_a_client_should_not_have_sent() {
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("alex@contoso.com", "Alex", &[]).await;
    app.directory
        .update_contact(&Actor::system("test"), user.id, 1, &{
            let mut input = user.contact.to_input();
            input.alternate_emails = vec!["alex@fabrikam.com".into()];
            input
        })
        .await
        .unwrap();
    let token = token(&app, &[AppPermission::UserReadWriteAll, AppPermission::AuthMethodReadWriteAll]).await;
    let methods = format!("/v1.0/users/{}/authentication/emailMethods", user.id);

    for blank in ["", "   "] {
        let (status, body) =
            call(&app, &token, reqwest::Method::POST, &methods, Some(json!({"emailAddress": blank}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("'emailAddress'"), "{body}");
    }
    let (_, listed) = call(&app, &token, reqwest::Method::GET, &methods, None).await;
    let id = listed["value"][0]["id"].as_str().unwrap().to_string();
    let (status, _) =
        call(&app, &token, reqwest::Method::PATCH, &format!("{methods}/{id}"), Some(json!({"emailAddress": ""}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.reload(&user).await.contact.alternate_emails, ["alex@fabrikam.com"], "nothing was removed");

    let path = format!("/v1.0/users/{}", user.id);
    for spoof in
        [json!({"displayName": "Alex\u{202E}moc.osotnoc"}), json!({"otherMails": ["al\u{200B}ex@fabrikam.com"]})]
    {
        let (status, body) = call(&app, &token, reqwest::Method::PATCH, &path, Some(spoof)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("invisible"), "{body}");
    }

    for content_type in [Some("text/plain"), Some("application/xml"), None] {
        let mut request = Client::new()
            .patch(format!("{}{path}", app.base))
            .bearer_auth(&token)
            .body(json!({"jobTitle": "Spy"}).to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        let anonymous = Client::new().patch(format!("{}{path}", app.base)).header("content-type", "text/plain").send();
        assert_eq!(anonymous.await.unwrap().status(), StatusCode::UNAUTHORIZED, "who is asking comes first");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "UnsupportedMediaType");
    }
    assert_eq!(app.reload(&user).await.contact.job_title, None);

    app.user("bea@contoso.com", "Bea", &[]).await;
    let r = Client::new()
        .get(format!("{}/v1.0/users?$top=1", app.base))
        .bearer_auth(&token)
        .header("host", "evil.example")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    for link in [&body["@odata.context"], &body["@odata.nextLink"]] {
        assert!(link.as_str().unwrap().starts_with(&format!("{}/v1.0/", app.base)), "{link}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_apply_themselves_again_over_saves_from_the_admin_center() {
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("alex@contoso.com", "Alex", &[]).await;
    let token = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let path = format!("/v1.0/users/{}", user.id);
    let admin = Actor::system("admin center");
    // The admin center saves from the version its form was loaded from, so its saves race the
    // API's; each form save that loses is loaded again, as a person would.
    let forms = async {
        for i in 0..20 {
            loop {
                let current = app.reload(&user).await;
                let mut input = current.contact.to_input();
                input.city = format!("City {i}");
                match app.directory.update_contact(&admin, user.id, current.version, &input).await {
                    Ok(_) => break,
                    Err(roster_domain::DomainError::VersionConflict { .. }) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    };
    let patches = async {
        let mut answers = Vec::new();
        for i in 0..20 {
            answers.push(
                call(&app, &token, reqwest::Method::PATCH, &path, Some(json!({"jobTitle": format!("Title {i}")})))
                    .await,
            );
        }
        answers
    };
    let ((), answers) = tokio::join!(forms, patches);
    for (status, body) in answers {
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let stored = app.reload(&user).await.contact;
    assert_eq!((stored.city.as_deref(), stored.job_title.as_deref()), (Some("City 19"), Some("Title 19")));
}
