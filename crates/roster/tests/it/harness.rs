//! Starts Roster in-process on 127.0.0.1:0 with a fresh database, and drives it with a
//! cookie-keeping HTTP client.
//!
//! The database is SQLite in a temporary folder, or, with `ROSTER_TEST_BACKEND=postgres`, a
//! PostgreSQL database of the test's own on the server `ROSTER_TEST_POSTGRES_URL` names (by
//! default the local one), dropped when the test ends.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use roster_delivery::{Transports, Worker};
use roster_domain::mfa::MfaPolicy;
use roster_domain::{Actor, Directory, NewUserInput, Role, RoleSet, Store, User};
use roster_store::postgres::testing::TestDb;
use roster_store::postgres::PostgresStore;
use roster_store::sqlite::SqliteStore;
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The password every test user gets.
pub const PASSWORD: &str = "Test-Password-2026";

/// Pause before the first retry of a failed delivery in tests.
pub const RETRY: Duration = Duration::from_millis(50);

/// A running server and its directory.
pub struct TestApp {
    pub base: String,
    pub directory: Directory,
    pub data: TempDir,
    /// The test's PostgreSQL database, when the tests run on PostgreSQL.
    pub db: Option<TestDb>,
    /// The host of the public URL: an address, or `localhost`.
    host: &'static str,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        self.worker.abort();
    }
}

/// What [`TestApp::launch`] starts.
struct Running {
    base: String,
    directory: Directory,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl TestApp {
    /// A server over an empty directory, with no email or SMS transport; `None` (the test
    /// skips) on PostgreSQL when no server is there to test against.
    pub async fn start() -> Option<TestApp> {
        Self::start_with(Transports::default()).await
    }

    /// A server over an empty directory, delivering through `transports`; `None` as for
    /// [`TestApp::start`].
    pub async fn start_with(transports: Transports) -> Option<TestApp> {
        Self::start_at("127.0.0.1", transports).await
    }

    /// A server whose public URL is `http://localhost:…`: browsers refuse an IP address as a
    /// passkey's relying party, so passkeys need a host name.
    pub async fn start_on_localhost() -> Option<TestApp> {
        Self::start_at("localhost", Transports::default()).await
    }

    /// A server whose public URL is `http://{host}:…`, such as `other.localhost`, which
    /// browsers, too, take for the loopback address: another site on the same machine.
    pub async fn start_on_host(host: &'static str) -> Option<TestApp> {
        Self::start_at(host, Transports::default()).await
    }

    async fn start_at(host: &'static str, transports: Transports) -> Option<TestApp> {
        let data = tempfile::tempdir().expect("temp dir");
        let db = match on_postgres() {
            true => Some(TestDb::create().await?),
            false => None,
        };
        let url = db.as_ref().map(|db| db.url.as_str());
        let Running { base, directory, server, worker, stop } = Self::launch(data.path(), url, host, transports).await;
        Some(TestApp { base, directory, data, db, host, server, worker, stop })
    }

    /// Stops the server and its delivery worker (letting an attempt under way finish, as a
    /// graceful shutdown does) and starts them again on the same database.
    pub async fn restart(&mut self, transports: Transports) {
        self.server.abort();
        let _ = (&mut self.server).await;
        let _ = self.stop.send(true);
        let _ = (&mut self.worker).await;
        let url = self.db.as_ref().map(|db| db.url.as_str());
        let Running { base, directory, server, worker, stop } =
            Self::launch(self.data.path(), url, self.host, transports).await;
        (self.base, self.directory, self.server, self.worker, self.stop) = (base, directory, server, worker, stop);
    }

    async fn launch(data: &Path, postgres: Option<&str>, host: &str, transports: Transports) -> Running {
        let shared: Arc<dyn Store> = match postgres {
            Some(url) => Arc::new(PostgresStore::connect(url).await.expect("open store")),
            None => Arc::new(SqliteStore::open(data).await.expect("open store")),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let public_url = format!("http://{host}:{port}");
        let directory = Directory::new(shared.clone()).with_issuer(&public_url);
        // Most tests are about other things than the second step; those about it turn the
        // default (administrators need one) back on.
        directory.set_mfa_policy(&Actor::system("test"), MfaPolicy::Optional).await.expect("mfa policy");
        let config = roster_web::WebConfig {
            public_url: public_url.clone(),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            email_transport: transports.email.is_some(),
            sms_transport: transports.sms.is_some(),
            shared_outbox: false,
        };
        let app = roster_web::app(directory.clone(), config);
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve");
        });
        let (stop, stopped) = watch::channel(false);
        // The only node, whichever engine: it holds what it cannot send, for the tests to read.
        let worker = tokio::spawn(Worker::new(shared, transports, RETRY, directory.outbox_signal()).run(stopped));
        Running { base: public_url, directory, server, worker, stop }
    }

    /// The options that point a `roster` command at this server's database.
    pub fn store_args(&self) -> Vec<std::ffi::OsString> {
        let mut args = vec!["--data".into(), self.data.path().into()];
        if let Some(db) = &self.db {
            args.extend(["--database-url".into(), db.url.clone().into(), "--secret-key-file".into()]);
            args.push(self.data.path().join("secret.key").into());
        }
        args
    }

    /// Runs a statement on the database behind the server's back, as someone with access to
    /// the database could.
    pub async fn execute_sql(&self, sql: &str) {
        use sqlx::Connection;
        match &self.db {
            Some(db) => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
                sqlx::query(sql).execute(&mut conn).await.expect(sql);
            }
            None => {
                let url = format!("sqlite://{}", self.data.path().join("roster.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("connect");
                sqlx::query(sql).execute(&mut conn).await.expect(sql);
            }
        }
    }

    /// Adds a user with [`PASSWORD`] and the given roles.
    pub async fn user(&self, username: &str, display_name: &str, roles: &[Role]) -> User {
        let input = NewUserInput {
            username: username.into(),
            display_name: display_name.into(),
            password: Some(PASSWORD.into()),
            roles: RoleSet::of(roles),
            ..NewUserInput::default()
        };
        self.directory.create_user(&Actor::system("test"), input).await.expect("create user").0
    }

    /// The user as stored now.
    pub async fn reload(&self, user: &User) -> User {
        self.directory.get_user(&Actor::system("test"), user.id).await.expect("reload")
    }

    /// A fresh browser-like client (own cookies, no automatic redirects).
    pub fn client(&self) -> Session {
        let http = Client::builder().cookie_store(true).redirect(Policy::none()).build().expect("client");
        Session { http, base: self.base.clone() }
    }

    /// A client signed in as `username` with [`PASSWORD`].
    pub async fn signed_in(&self, username: &str) -> Session {
        let s = self.client();
        let r = s.sign_in(username, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {username} failed");
        s
    }
}

/// Whether the tests run on PostgreSQL (`ROSTER_TEST_BACKEND=postgres`) rather than SQLite.
pub fn on_postgres() -> bool {
    std::env::var("ROSTER_TEST_BACKEND").is_ok_and(|b| b.eq_ignore_ascii_case("postgres"))
}

/// One client with its cookies.
pub struct Session {
    pub http: Client,
    pub base: String,
}

/// The value of the first `name="csrf"` hidden input in a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_string()
}

/// The value of the hidden input `name` in a page.
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("page has a {name} field")) + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_string()
}

impl Session {
    /// GET a path.
    pub async fn get(&self, path: &str) -> Response {
        self.http.get(format!("{}{path}", self.base)).send().await.expect("GET")
    }

    /// GET a path and return status and body.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.text().await.expect("body"))
    }

    /// POST a form (pairs may repeat a name).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http.post(format!("{}{path}", self.base)).form(form).send().await.expect("POST")
    }

    /// POST a form and return status and body.
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self.post(path, form).await;
        let status = r.status();
        (status, r.text().await.expect("body"))
    }

    /// Loads the sign-in page and posts the credentials.
    pub async fn sign_in(&self, username: &str, password: &str) -> Response {
        let (_, html) = self.page("/signin").await;
        let csrf = csrf_of(&html);
        self.post("/signin", &[("username", username), ("password", password), ("csrf", &csrf), ("next", "")]).await
    }

    /// The CSRF token of the signed-in session (read from any signed-in page).
    pub async fn csrf(&self) -> String {
        let (_, html) = self.page("/account").await;
        csrf_of(&html)
    }
}

/// The `next` parameter of a `/signin?next=…` address: where signing in leads back to.
pub fn next_of(signin: &str) -> String {
    let url = url::Url::parse(&format!("http://x{signin}")).expect("a sign-in address");
    url.query_pairs().find(|(k, _)| k == "next").map(|(_, v)| v.into_owned()).expect("a next parameter")
}

/// The `Location` header of a redirect.
pub fn location(r: &Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// Adds `names.len()` users without passwords in one go; usernames are `u<i>@contoso.com`.
pub async fn bulk(directory: &Directory, names: &[(&str, &str)], emails: &[(usize, &str)]) -> Vec<User> {
    use roster_domain::contact::ContactInfo;
    use roster_domain::user::{UserId, Username};
    use roster_domain::Timestamp;
    let now = Timestamp::now();
    let users: Vec<User> = names
        .iter()
        .enumerate()
        .map(|(i, (first, last))| User {
            id: UserId::random(),
            username: Username::parse(&format!("u{i:04}@contoso.com")).unwrap(),
            contact: ContactInfo {
                display_name: format!("{first} {last}"),
                first_name: Some(first.to_string()),
                last_name: Some(last.to_string()),
                alternate_emails: emails.iter().filter(|(n, _)| *n == i).map(|(_, e)| e.to_string()).collect(),
                ..ContactInfo::default()
            },
            roles: RoleSet::NONE,
            enabled: true,
            must_change_password: false,
            created_at: now,
            updated_at: now,
            updated_by: "test".into(),
            version: 1,
            deleted_at: None,
            external_id: None,
        })
        .collect();
    let total = users.len();
    directory.create_users_bulk(&Actor::system("test"), total, &mut std::iter::once(users.clone())).await.unwrap();
    users
}

/// The display names in the Active users table of a page, in order.
pub fn listed_names(html: &str) -> Vec<String> {
    html.split("<td><a href=\"/admin/users/")
        .skip(1)
        .filter_map(|row| {
            row.split_once("\">").and_then(|(_, rest)| rest.split_once("</a>")).map(|(n, _)| n.to_string())
        })
        .collect()
}

/// The `href` of the link with the given `rel`, HTML entities for `&` undone.
pub fn rel_link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("\" rel=\"{rel}\"");
    let end = html.find(&marker)?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(html[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

/// A tool others wrote that a test runs as a process: the program `variable` names, else
/// `default`, if running it with `probe` succeeds. Without it the test skips with a note, except
/// under CI (`CI=true`), where `scripts/test-all` installs it and its absence fails the test.
pub fn tool(variable: &str, default: &str, probe: &[&str], name: &str, test: &str) -> Option<String> {
    let program = std::env::var(variable).unwrap_or_else(|_| default.into());
    let found = std::process::Command::new(&program).args(probe).output().is_ok_and(|o| o.status.success());
    found.then_some(program.clone()).or_else(|| skip(name, test, &program))
}

/// Notes that `test` skips for want of `name` (looked for at `place`), or fails it under CI,
/// where `scripts/test-all` installs everything.
pub fn skip<T>(name: &str, test: &str, place: &str) -> Option<T> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {name} is missing: scripts/test-all installs it"
    );
    // Straight to the terminal: the test harness would keep `eprintln!` to itself.
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("note: skipping {test}: {name} is not installed ({place})\n"),
    );
    None
}
