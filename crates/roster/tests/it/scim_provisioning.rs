//! What provisioning clients and Graph scripts set besides contact information: the primary
//! email apart from the username, `externalId`, the enterprise extension (with its manager),
//! the preferred language and the office; and the refusal of attributes Roster does not keep.

use reqwest::{Method, StatusCode};
use roster_domain::apps::AppPermission;
use roster_domain::Actor;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::scim::{scim, token};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// A create request with every attribute of Entra ID's default user mapping.
fn entra_default_mapping(manager: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "AdaL",
        "userName": "ada.lovelace@contoso.com",
        "active": "True",
        "displayName": "Ada Lovelace",
        "title": "Analyst",
        "preferredLanguage": "en-GB",
        "name": {"formatted": "Ada Lovelace", "givenName": "Ada", "familyName": "Lovelace"},
        // mail differs from the user principal name; the proxy addresses come as "other" emails,
        // the primary among them.
        "emails": [{"primary": true, "type": "work", "value": "ada@contoso-mail.com"},
                   {"type": "other", "value": "SMTP:ada@contoso-mail.com"},
                   {"type": "other", "value": "smtp:ada@fabrikam.com"}],
        "phoneNumbers": [{"type": "mobile", "value": "+1 425 555 0101"},
                         {"type": "work", "value": "+1 425 555 0102"},
                         {"type": "fax", "value": "+1 425 555 0103"}],
        "addresses": [{"type": "work", "streetAddress": "1 Microsoft Way", "locality": "Redmond",
                       "region": "WA", "postalCode": "98052", "country": "US"},
                      {"type": "other", "formatted": "Building 40/1101"}],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Research", "manager": {"value": manager}}
    })
}

#[tokio::test]
async fn entra_ids_default_mapping_is_kept_exactly_and_read_back() {
    let Some(app) = TestApp::start().await else { return };
    let t = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let boss = app.user("charles.babbage@contoso.com", "Charles Babbage", &[]).await;

    let created = scim(&app, &t, Method::POST, "/Users", Some(entra_default_mapping(&boss.id.to_string())), None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let got = scim(&app, &t, Method::GET, &format!("/Users/{id}"), None, None).await.body;
    assert_eq!(got["externalId"], "AdaL");
    assert_eq!(got["userName"], "ada.lovelace@contoso.com");
    assert_eq!(got["preferredLanguage"], "en-GB");
    assert_eq!(
        got["emails"],
        json!([{"value": "ada@contoso-mail.com", "type": "work", "primary": true},
               {"value": "ada@fabrikam.com", "type": "other", "primary": false}]),
        "the primary address is kept apart from the username, and a proxy address that is the primary one is no alternate"
    );
    assert_eq!(got["addresses"][1], json!({"type": "other", "formatted": "Building 40/1101"}));
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(got[ENTERPRISE]["department"], "Research");
    assert_eq!(got[ENTERPRISE]["manager"]["value"], boss.id.to_string());
    assert_eq!(got[ENTERPRISE]["manager"]["$ref"], format!("{}/scim/v2/Users/{}", app.base, boss.id).as_str());

    // Entra ID matches users by externalId; it is compared with case.
    let by = |filter: &str| format!("/Users?filter={}", urlencoding(filter));
    let found = scim(&app, &t, Method::GET, &by(r#"externalId eq "AdaL""#), None, None).await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    let other_case = scim(&app, &t, Method::GET, &by(r#"externalId eq "adal""#), None, None).await;
    assert_eq!(other_case.body["totalResults"], 0);
    let by_number =
        scim(&app, &t, Method::GET, &by(&format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#)), None, None).await;
    assert_eq!(by_number.body["totalResults"], 1, "{}", by_number.body);
    let by_mail =
        scim(&app, &t, Method::GET, &by(r#"emails[type eq "work" and value eq "ADA@contoso-mail.com"]"#), None, None)
            .await;
    assert_eq!(by_mail.body["totalResults"], 1, "{}", by_mail.body);

    // Entra ID's PATCH shapes: a path under the extension's URN, the manager as a bare id, and
    // a path-less replace whose keys are URN-qualified attributes.
    let deputy = app.user("mary.somerville@contoso.com", "Mary Somerville", &[]).await;
    let ops = patch(json!([
        {"op": "Replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "701985"},
        {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": deputy.id.to_string()},
        {"op": "Replace", "value": {format!("{ENTERPRISE}:costCenter"): "CC-7", format!("{ENTERPRISE}:division"): "Labs"}},
        {"op": "Replace", "path": "externalId", "value": "AdaL2"}
    ]));
    let patched = scim(&app, &t, Method::PATCH, &format!("/Users/{id}"), Some(ops), None).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let e = &patched.body[ENTERPRISE];
    assert_eq!(
        (e["employeeNumber"].as_str(), e["costCenter"].as_str(), e["division"].as_str()),
        (Some("701985"), Some("CC-7"), Some("Labs"))
    );
    assert_eq!(e["manager"]["value"], deputy.id.to_string());
    assert_eq!(patched.body["externalId"], "AdaL2");

    let user = app.directory.user_by_key(&Actor::system("test"), &id).await.unwrap();
    assert_eq!(user.mail(), "ada@contoso-mail.com");
    assert_eq!(user.contact.office.as_deref(), Some("Building 40/1101"));
    assert_eq!(user.contact.manager, Some(deputy.id));
    assert_eq!(user.external_id.as_deref(), Some("AdaL2"));

    // Okta's shape of the manager, and the extension's organization.
    let ops = patch(json!([{"op": "replace", "value": {ENTERPRISE: {
        "organization": "Contoso Ltd", "manager": {"value": boss.id.to_string(), "displayName": "Charles Babbage"}}}}]));
    let r = scim(&app, &t, Method::PATCH, &format!("/Users/{id}"), Some(ops), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE]["organization"], "Contoso Ltd");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss.id.to_string());
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "701985", "what no operation names is kept");
}

#[tokio::test]
async fn attributes_roster_does_not_keep_are_refused_and_change_nothing() {
    let Some(app) = TestApp::start().await else { return };
    let t = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let boss = app.user("charles.babbage@contoso.com", "Charles Babbage", &[]).await;
    let created = scim(&app, &t, Method::POST, "/Users", Some(entra_default_mapping(&boss.id.to_string())), None).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let version = created.etag.clone();

    for (op, path, value) in [
        ("Add", "nickName", json!("Ada")),
        ("Replace", "name.middleName", json!("Augusta")),
        ("Add", "addresses[type eq \"home\"].locality", json!("London")),
        ("Replace", "userType", json!("Employee")),
        ("Add", &format!("{ENTERPRISE}:costCentre") as &str, json!("CC-1")),
        ("Add", "urn:example:params:scim:schemas:extension:custom:2.0:User:badge", json!("42")),
    ] {
        let r = scim(
            &app,
            &t,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": op, "path": path, "value": value}]))),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert!(r.body["detail"].as_str().unwrap().contains("does not keep"), "{path}: {}", r.body);
    }
    let mut create = entra_default_mapping(&boss.id.to_string());
    create["userName"] = json!("grace.hopper@contoso.com");
    create["timezone"] = json!("Europe/London");
    let r = scim(&app, &t, Method::POST, "/Users", Some(create), None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidValue")), "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("timezone"), "{}", r.body);

    let unknown_manager = patch(
        json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "6e9f1a3c-0000-4000-8000-000000000001"}]),
    );
    let r = scim(&app, &t, Method::PATCH, &format!("/Users/{id}"), Some(unknown_manager), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("manager"), "{}", r.body);
    let own = patch(json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": id}]));
    assert_eq!(
        scim(&app, &t, Method::PATCH, &format!("/Users/{id}"), Some(own), None).await.status,
        StatusCode::BAD_REQUEST
    );

    let after = scim(&app, &t, Method::GET, &format!("/Users/{id}"), None, None).await;
    assert_eq!(after.etag, version, "no refused request changed the user");
}

#[tokio::test]
async fn graph_reads_and_sets_mail_and_the_organisation_properties() {
    let Some(app) = TestApp::start().await else { return };
    let t = crate::graph::token(&app, &[AppPermission::UserReadWriteAll]).await;
    let ada = app.user("ada.lovelace@contoso.com", "Ada Lovelace", &[]).await;
    let path = format!("/v1.0/users/{}", ada.id);
    let select = "?$select=mail,proxyAddresses,employeeId,companyName,employeeOrgData,preferredLanguage";

    let (_, before) = crate::graph::call(&app, &t, Method::GET, &format!("{path}{select}"), None).await;
    assert_eq!(before["mail"], "ada.lovelace@contoso.com", "mail is the username until one is set");
    assert_eq!(before["proxyAddresses"], json!(["SMTP:ada.lovelace@contoso.com"]));
    assert_eq!(before["employeeOrgData"], Value::Null);

    let body = json!({"mail": "ada@contoso-mail.com", "employeeId": "701984", "companyName": "Contoso",
        "employeeOrgData": {"costCenter": "CC-7", "division": "Labs"}, "preferredLanguage": "en-GB"});
    let (status, reply) = crate::graph::call(&app, &t, Method::PATCH, &path, Some(body)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    let (_, after) = crate::graph::call(&app, &t, Method::GET, &format!("{path}{select}"), None).await;
    assert_eq!(after["mail"], "ada@contoso-mail.com");
    assert_eq!(after["proxyAddresses"], json!(["SMTP:ada@contoso-mail.com", "smtp:ada.lovelace@contoso.com"]));
    assert_eq!(after["employeeOrgData"], json!({"costCenter": "CC-7", "division": "Labs"}));
    assert_eq!(
        (after["employeeId"].as_str(), after["companyName"].as_str(), after["preferredLanguage"].as_str()),
        (Some("701984"), Some("Contoso"), Some("en-GB"))
    );

    let (_, found) =
        crate::graph::call(&app, &t, Method::GET, "/v1.0/users?$filter=mail%20eq%20'ada@contoso-mail.com'", None).await;
    assert_eq!(found["value"].as_array().map(Vec::len), Some(1), "{found}");

    // Notices now go to the new primary address, and the old one hears of the change.
    let outbox = app.directory.store().list_outbox(None, 100).await.unwrap();
    let to: Vec<&str> = outbox.iter().map(|e| e.message.recipient.as_str()).collect();
    assert!(to.contains(&"ada.lovelace@contoso.com") && to.contains(&"ada@contoso-mail.com"), "{to:?}");

    let (status, reply) =
        crate::graph::call(&app, &t, Method::PATCH, &path, Some(json!({"proxyAddresses": ["smtp:x@contoso.com"]})))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "proxyAddresses is read-only in Graph: {reply}");
    let (status, reply) =
        crate::graph::call(&app, &t, Method::PATCH, &path, Some(json!({"employeeId": "12345678901234567"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply["error"]["message"].as_str().unwrap().contains("employeeId"), "{reply}");
}

/// `text` percent-encoded for a query string.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
