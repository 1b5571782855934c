//! Roster protecting a web page behind Apache's `mod_auth_openidc`, the relying party Debian
//! packages, run as a real `apache2` process: a browser asking for the page is sent to Roster,
//! signs in there, and comes back signed in to the page; the module's own checks of the ID
//! token (signature against the published keys, issuer, audience, nonce, state) all pass; and
//! signing out of the page signs the person out of Roster too.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use reqwest::StatusCode;
use roster_domain::directory::{AppInput, SignInInput};
use roster_domain::outbox::{Channel, DeliveryState};
use roster_domain::{Actor, Role};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{csrf_of, location, next_of, TestApp, PASSWORD};

/// Debian's folder of Apache modules, where `libapache2-mod-auth-openidc` puts its own.
const MODULES: &str = "/usr/lib/apache2/modules";

/// `apache2` and the folder of its modules, if both are installed.
pub(crate) fn apache() -> Option<(String, String)> {
    let program = crate::harness::tool("ROSTER_APACHE", "apache2", &["-v"], "Apache", "mod_auth_openidc")?;
    let modules = std::env::var("ROSTER_APACHE_MODULES").unwrap_or_else(|_| MODULES.into());
    if Path::new(&modules).join("mod_auth_openidc.so").is_file() {
        Some((program, modules))
    } else {
        crate::harness::skip("mod_auth_openidc", "mod_auth_openidc", &modules)
    }
}

/// A port free at the moment of asking, for Apache to listen on: it must be known before Apache
/// starts, since the redirect URI registered in Roster names it.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts Apache in the foreground with a configuration of its own in `dir`, and returns once it
/// has said it serves (on its error log, which goes to its standard error).
async fn start_apache(program: &str, dir: &Path, config: &str) -> Child {
    let file = dir.join("httpd.conf");
    std::fs::write(&file, config).unwrap();
    let mut child = Command::new(program)
        .arg("-f")
        .arg(&file)
        .arg("-DFOREGROUND")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("apache2 starts");
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        match log.next_line().await.unwrap() {
            Some(line) if line.contains("resuming normal operations") => break,
            Some(line) => seen.push(line),
            None => panic!("apache2 stopped before serving:\n{}", seen.join("\n")),
        }
    }
    // Keep reading, so that Apache never blocks on a full pipe; its lines show if a test fails.
    tokio::spawn(async move {
        while let Ok(Some(line)) = log.next_line().await {
            eprintln!("apache2: {line}");
        }
    });
    child
}

/// A page behind Apache and mod_auth_openidc, signing in through Roster: `/protected/index.html`
/// reads "The intranet"; `/bye.html` is where sign-out ends.
/// Its address and redirect URI come from [`ProtectedSite::addresses`]; the redirect URI also
/// answers `?info=json` and `?logout=…`. Apache stops when it is dropped.
pub(crate) struct ProtectedSite {
    _apache: Child,
    _dir: tempfile::TempDir,
}

impl ProtectedSite {
    /// The site's address and redirect URI, on a port free now: the application must be
    /// registered with them before Apache starts.
    pub(crate) fn addresses() -> (String, String) {
        let site = format!("http://127.0.0.1:{}", free_port());
        let redirect = format!("{site}/protected/redirect_uri");
        (site, redirect)
    }

    /// Starts Apache at `site`, signing in to Roster at `base` as the client `client_id`.
    pub(crate) async fn start(
        (program, modules): &(String, String),
        base: &str,
        (site, redirect): (String, String),
        client_id: &str,
        client_secret: &str,
    ) -> ProtectedSite {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("htdocs");
        std::fs::create_dir_all(docs.join("protected")).unwrap();
        std::fs::write(docs.join("protected/index.html"), "<p>The intranet</p>\n").unwrap();
        std::fs::write(docs.join("bye.html"), "<p>Signed out</p>\n").unwrap();
        // Apache's workers run as www-data when it starts as root: they must read the pages.
        for path in [dir.path(), &docs, &docs.join("protected")] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let run = dir.path().display();
        let port = site.rsplit(':').next().unwrap();
        let config = format!(
            r#"ServerRoot "{run}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{run}/httpd.pid"
DefaultRuntimeDir "{run}"
ErrorLog /dev/stderr
LogLevel notice auth_openidc:warn
User www-data
Group www-data
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
DocumentRoot "{docs}"
<Directory "{docs}">
    Require all granted
</Directory>
OIDCProviderMetadataURL {base}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI {redirect}
OIDCCryptoPassphrase a-passphrase-for-this-test-only
OIDCScope "openid profile email offline_access"
OIDCPKCEMethod S256
OIDCInfoHook iat id_token userinfo refresh_token
<Location /protected>
    AuthType openid-connect
    Require valid-user
</Location>
"#,
            docs = docs.display(),
        );
        let apache = start_apache(program, dir.path(), &config).await;
        ProtectedSite { _apache: apache, _dir: dir }
    }
}

#[tokio::test]
async fn mod_auth_openidc_protects_a_page_with_roster_sign_in_and_sign_out() {
    let Some(apache) = apache() else { return };
    let Some(app) = TestApp::start().await else { return };
    app.user("grace@contoso.com", "Grace Hopper", &[]).await;
    let (site, redirect) = ProtectedSite::addresses();
    let input = AppInput {
        name: "Intranet".into(),
        sign_in: SignInInput {
            redirect_uris: vec![redirect.clone()],
            post_logout_redirect_uris: vec![format!("{site}/bye.html")],
            admin_consent: true,
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    let secret = secret.unwrap().1;
    let client_id = registered.id.to_string();
    let addresses = (site.clone(), redirect.clone());
    let _site = ProtectedSite::start(&apache, &app.base, addresses, &client_id, secret.expose_secret()).await;

    let browser = open_page(&app, &site, &redirect, "grace@contoso.com").await;
    let get = |url: String| {
        let browser = browser.clone();
        async move { browser.get(url).send().await.unwrap() }
    };

    // What the module holds for the session: the ID token's claims and userinfo.
    let info: Value = get(format!("{redirect}?info=json")).await.json().await.unwrap();
    assert_eq!(info["id_token"]["iss"], app.base.as_str());
    assert_eq!(info["id_token"]["aud"], registered.id.to_string());
    assert_eq!(info["id_token"]["email"], "grace@contoso.com");
    assert_eq!(info["id_token"]["amr"], serde_json::json!(["pwd"]));
    assert_eq!(info["userinfo"]["name"], "Grace Hopper");

    // Signing out of the page sends the browser through Roster's end-session endpoint with the
    // ID token as its hint: Roster signs the person out without asking, and sends them back.
    let r = get(format!("{redirect}?logout={}", urlencode(&format!("{site}/bye.html")))).await;
    let end_session = location(&r);
    assert!(end_session.starts_with(&format!("{}/oauth2/v2.0/logout?", app.base)), "{end_session}");
    let r = get(end_session.clone()).await;
    let status = r.status();
    let to = location(&r);
    assert_eq!(to, format!("{site}/bye.html"), "{end_session} {status} {}", r.text().await.unwrap());
    let r = get(format!("{}/account", app.base)).await;
    assert!(location(&r).starts_with("/signin"), "signed out of Roster too");
    let r = get(format!("{site}/protected/index.html")).await;
    assert_eq!(r.status(), StatusCode::FOUND, "signed out of the page");
}

/// A browser that asks for the protected page, is sent to Roster, signs in as `username`
/// (password only), comes back with a code that the module redeems, and sees the page.
async fn open_page(app: &TestApp, site: &str, redirect: &str, username: &str) -> reqwest::Client {
    // The browser asks for the page and is sent to Roster to sign in.
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |url: String| {
        let browser = browser.clone();
        async move { browser.get(url).send().await.unwrap() }
    };
    let r = get(format!("{site}/protected/index.html")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let authorize = location(&r);
    assert!(authorize.starts_with(&format!("{}/oauth2/v2.0/authorize?", app.base)), "{authorize}");
    let r = get(authorize).await;
    let signin = location(&r);
    assert!(signin.starts_with("/signin?next="), "{signin}");
    let next = next_of(&signin);
    let html = get(format!("{}{signin}", app.base)).await.text().await.unwrap();
    let form = [("username", username), ("password", PASSWORD), ("csrf", &csrf_of(&html)), ("next", &next)];
    let r = browser.post(format!("{}/signin", app.base)).form(&form).send().await.unwrap();
    assert_eq!(location(&r), next);

    // Back from Roster with a code: the module redeems it, checks the ID token and lets the
    // browser in.
    let r = get(format!("{}{next}", app.base)).await;
    let callback = location(&r);
    assert!(callback.starts_with(redirect), "{callback}");
    let r = get(callback).await;
    assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text().await.unwrap());
    assert_eq!(location(&r), format!("{site}/protected/index.html"));
    let r = get(format!("{site}/protected/index.html")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("The intranet"));

    browser
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn signing_a_person_out_everywhere_ends_their_session_on_the_page_through_back_channel_logout() {
    let Some(apache) = apache() else { return };
    let Some(app) = TestApp::start().await else { return };
    let grace = app.user("grace@contoso.com", "Grace Hopper", &[]).await;
    let admin = app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let (site, redirect) = ProtectedSite::addresses();
    let input = AppInput {
        name: "Intranet".into(),
        sign_in: SignInInput {
            redirect_uris: vec![redirect.clone()],
            backchannel_logout_uri: format!("{redirect}?logout=backchannel"),
            admin_consent: true,
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    let secret = secret.unwrap().1;
    let addresses = (site.clone(), redirect.clone());
    let _site =
        ProtectedSite::start(&apache, &app.base, addresses, &registered.id.to_string(), secret.expose_secret()).await;
    let browser = open_page(&app, &site, &redirect, "grace@contoso.com").await;

    // An administrator signs Grace out everywhere: Roster posts a logout token to the module,
    // which ends her session on the page.
    app.directory.sign_out_everywhere(&Actor::user(&admin, None, None), grace.id).await.unwrap();
    let delivered = crate::delivery::outbox_until(&app, |entries| {
        entries.iter().any(|e| e.message.channel == Channel::Application && e.state == DeliveryState::Delivered)
    })
    .await;
    let notice = delivered.iter().find(|e| e.message.channel == Channel::Application).unwrap();
    assert_eq!(notice.message.recipient, format!("{redirect}?logout=backchannel"));
    let r = browser.get(format!("{site}/protected/index.html")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND, "the page sends Grace to sign in again");
}
