//! Roster as seen by a relying party others wrote: the certified `openid-client` library (npm),
//! run as a Node.js process, signs a user in with code and PKCE, reads userinfo, refreshes,
//! introspects and revokes, and signs the user out.
//! The library checks what a careful application checks: the ID token's signature against the
//! published keys, its issuer, audience and nonce, the response's `iss` and `state`.

use std::process::Stdio;

use roster_domain::directory::{AppInput, SignInInput};
use roster_domain::Actor;
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::harness::{csrf_of, location, next_of, TestApp, PASSWORD};

/// The folder `scripts/test-all` installs openid-client into, from `tests/oidc-client`.
fn openid_client() -> Option<String> {
    crate::harness::tool("ROSTER_NODE", "node", &["--version"], "Node.js", "openid_client")?;
    let dir = std::env::var("ROSTER_OPENID_CLIENT").unwrap_or_default();
    if !dir.is_empty() && std::path::Path::new(&dir).join("node_modules/openid-client").is_dir() {
        Some(dir)
    } else {
        crate::harness::skip("openid-client", "openid_client", "the folder ROSTER_OPENID_CLIENT names")
    }
}

#[tokio::test]
async fn openid_client_signs_a_user_in_with_pkce_reads_userinfo_and_refreshes() {
    let Some(installed) = openid_client() else { return };
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("grace@contoso.com", "Grace Hopper", &[]).await;
    let redirect = "http://127.0.0.1:8400/callback";
    let input = AppInput {
        name: "Wiki".into(),
        sign_in: SignInInput {
            redirect_uris: vec![redirect.into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:8400/bye".into()],
            admin_consent: true,
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    let secret = secret.map(|(_, plain)| plain);

    let node = std::env::var("ROSTER_NODE").unwrap_or_else(|_| "node".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc-client/relying-party.mjs");
    let mut child = Command::new(node)
        .arg(script)
        .env("OPENID_CLIENT", &installed)
        .env("ISSUER", &app.base)
        .env("CLIENT_ID", registered.id.to_string())
        .env("CLIENT_SECRET", secret.unwrap().expose_secret())
        .env("REDIRECT_URI", redirect)
        .env("POST_LOGOUT_REDIRECT_URI", "http://127.0.0.1:8400/bye")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = match out.next_line().await.unwrap() {
        Some(line) => serde_json::from_str(&line).unwrap(),
        None => panic!(
            "openid-client printed nothing: {}",
            String::from_utf8_lossy(&child.wait_with_output().await.unwrap().stderr)
        ),
    };
    let authorize = first["authorize"].as_str().unwrap();
    let path = authorize.strip_prefix(&app.base).expect("the authorization URL is Roster's");

    // The browser: sent to sign in, signs in, comes back, and lands on the application.
    let browser = app.client();
    let r = browser.get(path).await;
    let signin = location(&r);
    let next = next_of(&signin);
    let (_, html) = browser.page(&signin).await;
    let form = [("username", "grace@contoso.com"), ("password", PASSWORD), ("csrf", &csrf_of(&html)), ("next", &next)];
    let r = browser.post("/signin", &form).await;
    let r = browser.get(&location(&r)).await;
    let landed = location(&r);
    assert!(landed.starts_with(redirect), "{landed}");

    stdin.write_all(format!("{landed}\n").as_bytes()).await.unwrap();
    // Closing its input lets the script end once it has printed.
    drop(stdin);
    let result = out.next_line().await.unwrap();
    let output = child.wait_with_output().await.unwrap();
    let Some(result) = result else {
        panic!("openid-client failed: {}", String::from_utf8_lossy(&output.stderr));
    };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(result["claims"]["sub"], user.id.to_string());
    assert_eq!(result["claims"]["iss"], app.base.as_str());
    assert_eq!(result["claims"]["email"], "grace@contoso.com");
    assert_eq!(result["userinfo"]["name"], "Grace Hopper");
    assert_eq!(result["refreshed_claims"]["sub"], user.id.to_string());
    assert_eq!(result["rotated"], true);
    assert_eq!(result["replay"], "invalid_grant");
    assert_eq!(result["introspected"]["active"], true);
    assert_eq!(result["introspected"]["sub"], user.id.to_string());
    assert_eq!(result["introspected"]["client_id"], registered.id.to_string());
    assert_eq!(result["after_revocation"], false, "revoking the refresh token ended its access token");
    let sign_out = result["sign_out"].as_str().unwrap().strip_prefix(&app.base).expect("Roster's address").to_string();
    let r = browser.get(&sign_out).await;
    assert_eq!(location(&r), "http://127.0.0.1:8400/bye?state=bye");
}
