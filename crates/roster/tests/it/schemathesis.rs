//! Schemathesis, run as a real process against `/openapi.json` with a token: the Graph API must
//! answer no request with a 5xx, keep every response to the schema it documents, and refuse
//! every request the document says is invalid. Without Schemathesis installed the test says so
//! and skips, except under CI (`CI=true`), where that fails it; `scripts/test-all` installs the
//! pinned version.

use roster_domain::apps::AppPermission;
use roster_domain::directory::NewGroup;
use roster_domain::group::{GroupInput, MemberId};
use roster_domain::{Actor, ContactInput};

use crate::graph::token;
use crate::harness::{tool, TestApp};

/// The program to run: `ROSTER_SCHEMATHESIS`, else `schemathesis` on the path.
fn schemathesis() -> Option<String> {
    tool("ROSTER_SCHEMATHESIS", "schemathesis", &["--version"], "Schemathesis", "the OpenAPI conformance test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_api_keeps_to_its_openapi_document() {
    let Some(app) = TestApp::start().await else { return };
    let Some(program) = schemathesis() else { return };
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let input = ContactInput {
        display_name: "Ada Lovelace".into(),
        mobile_phone: "+44 7911 123456".into(),
        alternate_emails: vec!["ada@fabrikam.com".into()],
        ..ContactInput::default()
    };
    app.directory.update_contact(&Actor::system("test"), ada.id, ada.version, &input).await.unwrap();
    let token = token(
        &app,
        &[AppPermission::UserReadWriteAll, AppPermission::AuthMethodReadWriteAll, AppPermission::GroupReadWriteAll],
    )
    .await;
    let group = app
        .directory
        .create_group(
            &Actor::system("test"),
            NewGroup {
                input: GroupInput { display_name: "Engineers".into(), ..GroupInput::default() },
                members: vec![MemberId::User(ada.id)],
                ..NewGroup::default()
            },
        )
        .await
        .unwrap();

    // Path parameters that reach a real user, phone method, group and member, so that
    // generated requests get past "not found" to the code that reads them.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    let mobile = roster_api::graph::methods::PhoneType::Mobile.id();
    let parameters = format!(
        "[parameters]\nkey = \"ada@contoso.com\"\nid = \"{mobile}\"\ngroup = \"{}\"\nmember = \"{}\"\n",
        group.id, ada.id
    );
    std::fs::write(&config, parameters).unwrap();
    let out = tokio::process::Command::new(&program)
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", app.base)])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--header", "ConsistencyLevel: eventual"])
        .args(["--checks", "not_a_server_error,response_schema_conformance,negative_data_rejection"])
        .args(["--generation-deterministic", "--max-examples", "100", "--workers", "1", "--no-color"])
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("passed"), "{report}");
}
