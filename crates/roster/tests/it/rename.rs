//! Renaming a user from the admin center, Graph and SCIM: the old name keeps signing the user
//! in and reaching self-service reset for a while, sessions survive, both names are told, and
//! names in use (as usernames or as someone's alias) are refused.

use reqwest::{Method, StatusCode};
use roster_domain::apps::AppPermission;
use roster_domain::audit::{AuditAction, AuditQuery};
use roster_domain::{Actor, ContactInput, Role};
use serde_json::json;

use crate::harness::{csrf_of, hidden_value, location, TestApp, PASSWORD};
use crate::scim::{scim, token};

/// Submits the Change username form for `id` as `session`; status and body.
async fn rename(session: &crate::harness::Session, id: &str, to: &str) -> (StatusCode, String, String) {
    let path = format!("/admin/users/{id}/username");
    let (status, html) = session.page(&path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let version = hidden_value(&html, "version");
    let r = session.post(&path, &[("csrf", &csrf_of(&html)), ("version", &version), ("username", to)]).await;
    let (status, at) = (r.status(), location(&r));
    (status, at, r.text().await.unwrap())
}

#[tokio::test]
async fn an_administrator_renames_a_user_who_keeps_signing_in_with_either_name() {
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    let ada = app.user("ada.byron@contoso.com", "Ada Lovelace", &[]).await;
    let input = ContactInput {
        display_name: "Ada Lovelace".into(),
        alternate_emails: vec!["ada.home@fabrikam.com".into()],
        ..ContactInput::default()
    };
    let ada = app.directory.update_contact(&Actor::system("test"), ada.id, ada.version, &input).await.unwrap();
    let before = app.signed_in("ada.byron@contoso.com").await;
    let grace = app.signed_in("grace@contoso.com").await;

    let (status, at, body) = rename(&grace, &ada.id.to_string(), "Ada.Lovelace@contoso.com").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(at, format!("/admin/users/{}?saved=username", ada.id));
    let renamed = app.reload(&ada).await;
    assert_eq!(renamed.username.as_str(), "ada.lovelace@contoso.com");

    assert_eq!(before.page("/account").await.0, StatusCode::OK, "a session opened before the rename goes on");
    for name in ["ada.lovelace@contoso.com", "ada.byron@contoso.com"] {
        let r = app.client().sign_in(name, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} signs in");
    }
    let (_, page) = grace.page(&format!("/admin/users/{}/username", ada.id)).await;
    assert!(page.contains("ada.byron@contoso.com"), "the alias is listed with its end");

    let outbox = app.directory.store().list_outbox(None, 100).await.unwrap();
    let told: Vec<&str> = outbox
        .iter()
        .filter(|e| e.message.subject == "Your username was changed")
        .map(|e| e.message.recipient.as_str())
        .collect();
    assert!(told.contains(&"ada.byron@contoso.com") && told.contains(&"ada.lovelace@contoso.com"), "{told:?}");

    let query = AuditQuery { target: Some(ada.id), limit: 10, ..AuditQuery::default() };
    let entries = app.directory.audit_log(&Actor::system("test"), &query).await.unwrap();
    let entry = entries.iter().find(|e| e.action == AuditAction::UserRenamed).expect("audited");
    assert_eq!(entry.changes[0].before.as_deref(), Some("ada.byron@contoso.com"));
    assert_eq!(entry.changes[0].after.as_deref(), Some("ada.lovelace@contoso.com"));

    // Self-service reset reaches the user by the old name too: the code goes to their address.
    let s = app.client();
    let (_, html) = s.page("/reset").await;
    let r = s.post("/reset", &[("csrf", &csrf_of(&html)), ("username", "ada.byron@contoso.com")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = s.page("/reset/verify").await;
    let method = page.split("name=\"method\" value=\"").nth(1).and_then(|v| v.split('"').next()).unwrap();
    let r = s.post("/reset/send", &[("csrf", &csrf_of(&page)), ("method", method)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let outbox = app.directory.store().list_outbox(None, 100).await.unwrap();
    assert!(
        outbox
            .iter()
            .any(|e| e.message.recipient == "ada.home@fabrikam.com" && e.message.subject.contains("reset code")),
        "a reset code went to the alternate address"
    );
}

#[tokio::test]
async fn names_in_use_and_bad_names_are_refused_and_change_nothing() {
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    app.user("hd@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let alan = app.user("alan@contoso.com", "Alan", &[]).await;
    let grace = app.signed_in("grace@contoso.com").await;

    let (status, _, body) = rename(&grace, &ada.id.to_string(), "alan@contoso.com").await;
    assert_eq!(status, StatusCode::CONFLICT, "another user's username");
    assert!(body.contains("already in use"), "{body}");
    let (status, _, body) = rename(&grace, &ada.id.to_string(), "not a name").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("name@domain"), "{body}");

    // Alan's former name is his for the alias period: nobody else may take it meanwhile.
    assert_eq!(rename(&grace, &alan.id.to_string(), "alan.turing@contoso.com").await.0, StatusCode::SEE_OTHER);
    let (status, _, body) = rename(&grace, &ada.id.to_string(), "alan@contoso.com").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Alan himself may take it back.
    assert_eq!(rename(&grace, &alan.id.to_string(), "alan@contoso.com").await.0, StatusCode::SEE_OTHER);
    assert_eq!(app.reload(&alan).await.username.as_str(), "alan@contoso.com");

    let hd = app.signed_in("hd@contoso.com").await;
    let (status, _, _) = rename(&hd, &ada.id.to_string(), "ada.l@contoso.com").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a Helpdesk Administrator can't rename");
    assert_eq!(app.reload(&ada).await.version, ada.version, "no refusal changed Ada");
}

#[tokio::test]
async fn graph_and_scim_rename_through_the_user_principal_name_and_username() {
    let Some(app) = TestApp::start().await else { return };
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let graph = crate::graph::token(&app, &[AppPermission::UserReadWriteAll]).await;
    let body = json!({"userPrincipalName": "ada.lovelace@contoso.com", "jobTitle": "Analyst"});
    let (status, reply) =
        crate::graph::call(&app, &graph, Method::PATCH, &format!("/v1.0/users/{}", ada.id), Some(body)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    let user = app.reload(&ada).await;
    assert_eq!(
        (user.username.as_str(), user.contact.job_title.as_deref()),
        ("ada.lovelace@contoso.com", Some("Analyst"))
    );
    let (status, found) = crate::graph::call(&app, &graph, Method::GET, "/v1.0/users/ada@contoso.com", None).await;
    assert_eq!((status, found["id"].as_str()), (StatusCode::OK, Some(ada.id.to_string().as_str())), "by the alias");

    let t = token(&app, &[AppPermission::UserReadWriteAll]).await;
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "userName", "value": "Ada.King@contoso.com"}]});
    let r = scim(&app, &t, Method::PATCH, &format!("/Users/{}", ada.id), Some(ops), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["userName"], "ada.king@contoso.com");

    let other = app.user("alan@contoso.com", "Alan", &[]).await;
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "userName", "value": "ada@contoso.com"}]});
    let r = scim(&app, &t, Method::PATCH, &format!("/Users/{}", other.id), Some(ops), None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")), "{}", r.body);
}

#[tokio::test]
async fn a_csv_import_renames_under_the_same_rules_and_a_dry_run_finds_every_clash() {
    use roster_domain::directory::ImportOptions;

    use crate::import::import_as;

    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada", &[]).await;
    let alan = app.user("alan@contoso.com", "Alan", &[]).await;
    app.user("bob@contoso.com", "Bob", &[]).await;
    app.user("dan@contoso.com", "Dan", &[]).await;
    app.directory.rename_user(&system, alan.id, alan.version, "alan.turing@contoso.com").await.unwrap();

    let header = "User Name,Display Name,New User Name,Mobile Phone";
    let clashes = format!(
        "{header}\n\
         ada@contoso.com,Ada Lovelace,ada.lovelace@contoso.com,+44 7911 123456\n\
         bob@contoso.com,Bob,alan@contoso.com,\n\
         carol@contoso.com,Carol,carol.new@contoso.com,\n\
         dan@contoso.com,Dan,ada.lovelace@contoso.com,\n\
         dan@contoso.com,Dan,grace@contoso.com,\n\
         ada.lovelace@contoso.com,Someone,,\n"
    );
    let dry = ImportOptions { dry_run: true, skip_invalid: false };
    let (summary, collected) = import_as(&app, &system, &clashes, dry).await;
    let p = &collected.problems;
    assert_eq!((summary.updated, summary.renamed, summary.failed, summary.applied), (1, 1, 5, false), "{p:#?}");
    assert!(p.iter().any(|p| p.starts_with("line 3, New User Name: alan@contoso.com was another user's")), "{p:#?}");
    assert!(p.iter().any(|p| p.starts_with("line 4, New User Name: No user has the username carol")), "{p:#?}");
    assert!(p.iter().any(|p| p.starts_with("line 5, New User Name: This username is on line 2")), "{p:#?}");
    assert!(p.iter().any(|p| p.starts_with("line 6, User Name: This user is on line 5")), "{p:#?}");
    assert!(p.iter().any(|p| p.starts_with("line 7, User Name: This user is on line 2")), "a freed name: {p:#?}");
    assert_eq!(app.reload(&ada).await.username.as_str(), "ada@contoso.com", "a dry run renames nobody");

    let strict = ImportOptions { dry_run: false, skip_invalid: false };
    let taken = format!("{header}\ndan@contoso.com,Dan,grace@contoso.com,\n");
    let (summary, collected) = import_as(&app, &system, &taken, strict).await;
    assert!(!summary.applied);
    assert!(
        collected.problems[0].contains("Another user has the username grace@contoso.com"),
        "{:?}",
        collected.problems
    );

    app.user("hd@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let helpdesk = app.directory.administrator("hd@contoso.com").await.expect("an administrator");
    let (summary, collected) =
        import_as(&app, &helpdesk, &format!("{header}\ndan@contoso.com,Dan,daniel@contoso.com,\n"), strict).await;
    assert!(!summary.applied && collected.problems[0].starts_with("line 2: "), "{:?}", collected.problems);

    let file = format!("{header}\nada@contoso.com,Ada Lovelace,ada.lovelace@contoso.com,+44 7911 123456\n");
    let (summary, collected) = import_as(&app, &system, &file, strict).await;
    assert!(summary.applied, "{:?}", collected.problems);
    assert_eq!((summary.updated, summary.renamed), (1, 1));
    let renamed = app.reload(&ada).await;
    assert_eq!(renamed.username.as_str(), "ada.lovelace@contoso.com");
    assert_eq!(renamed.contact.mobile_phone.as_deref(), Some("+447911123456"), "the row's contacts changed too");
    for name in ["ada.lovelace@contoso.com", "ada@contoso.com"] {
        assert_eq!(app.client().sign_in(name, PASSWORD).await.status(), StatusCode::SEE_OTHER, "{name} signs in");
    }
    let query = AuditQuery { target: Some(ada.id), limit: 10, ..AuditQuery::default() };
    let actions: Vec<AuditAction> =
        app.directory.audit_log(&system, &query).await.unwrap().iter().map(|e| e.action).collect();
    assert!(actions.contains(&AuditAction::UserRenamed) && actions.contains(&AuditAction::ContactChanged));
    let outbox = app.directory.store().list_outbox(None, 100).await.unwrap();
    assert!(outbox
        .iter()
        .any(|e| e.message.subject == "Your username was changed" && e.message.recipient == "ada@contoso.com"));

    // The old name is Ada's alias now: another file can't give it to Bob.
    let back = format!("{header}\nbob@contoso.com,Bob,ada@contoso.com,\n");
    let (summary, _) = import_as(&app, &system, &back, strict).await;
    assert!(!summary.applied, "an alias is refused in a real import too");
}
