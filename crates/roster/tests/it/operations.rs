//! What operators rely on: readiness, metrics, the configuration file and its check, HTTPS.

use std::ffi::OsString;

use reqwest::StatusCode;

use crate::harness::TestApp;
use crate::process::Node;

/// Runs a `roster` command and returns (success, stdout, stderr).
async fn roster(args: &[&str], env: &[(&str, String)]) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().await.expect("run roster");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (out.status.success(), text(out.stdout), text(out.stderr))
}

/// Removes the newest migration's record, as a database that an older build set up would lack it.
async fn forget_newest_migration(app: &TestApp) -> i64 {
    let newest = roster_store::sqlite::MIGRATOR.iter().map(|m| m.version).max().expect("migrations");
    app.execute_sql(&format!("delete from _sqlx_migrations where version = {newest}")).await;
    newest
}

#[tokio::test]
async fn readiness_asks_the_database_for_every_migration() {
    let Some(app) = TestApp::start().await else { return };
    let (status, body) = app.client().page("/readyz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready\n"));

    let newest = forget_newest_migration(&app).await;
    let (status, body) = app.client().page("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.starts_with(&format!("not ready: migrations not applied: {newest} ")), "{body}");
    assert_eq!(app.client().page("/healthz").await.0, StatusCode::OK, "the process itself still answers");
}

/// The value of the first sample of `series` (name and labels as printed) in a scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_time_routes_and_count_sign_ins_and_the_queue() {
    let Some(app) = TestApp::start().await else { return };
    let megan = app.user("megan@contoso.com", "Megan Bowen", &[]).await;
    let failed = "roster_signin_attempts_total{outcome=\"failed\"}";
    let (_, before) = app.client().page("/metrics").await;
    let r = app.client().sign_in("megan@contoso.com", "not her password").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.client().get(&format!("/admin/users/{}", megan.id)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "to the sign-in page");
    let invented = reqwest::Method::from_bytes(b"PROPFIND").unwrap();
    let r = reqwest::Client::new().request(invented, format!("{}/signin", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    let (status, scrape) = app.client().page("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    // The recorder is the process's: other tests count too, so this one counts at least its own.
    assert!(sample(&scrape, failed).unwrap() >= sample(&before, failed).unwrap_or(0.0) + 1.0, "{scrape}");
    let signin_page = scrape.lines().any(|l| {
        l.starts_with("roster_http_request_duration_seconds_bucket{")
            && l.contains("route=\"/signin\"")
            && l.contains("method=\"GET\"")
            && l.contains("status=\"200\"")
    });
    assert!(signin_page, "{scrape}");
    assert!(scrape.contains("route=\"/admin/users/{id}\""), "{scrape}");
    assert!(!scrape.contains(&megan.id.to_string()), "ids never become labels");
    assert!(!scrape.contains("PROPFIND") && scrape.contains("method=\"other\""), "nor invented methods");
    assert_eq!(sample(&scrape, "roster_db_up"), Some(1.0));
    for gauge in ["roster_outbox_pending", "roster_db_pool_connections", "roster_db_pool_idle"] {
        assert!(sample(&scrape, gauge).is_some(), "{gauge} in {scrape}");
    }
    assert!(sample(&scrape, "roster_db_pool_max").unwrap() >= 1.0);
}

#[tokio::test]
async fn metrics_carry_the_latest_recovery_readiness_count() {
    let Some(app) = TestApp::start().await else { return };
    // The count runs in the background from the start; on an empty directory it is quick.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let scrape = loop {
        let (_, scrape) = app.client().page("/metrics").await;
        if sample(&scrape, "roster_recovery_counted_timestamp_seconds").is_some() {
            break scrape;
        }
        assert!(tokio::time::Instant::now() < deadline, "no count reported: {scrape}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let counted = sample(&scrape, "roster_recovery_counted_timestamp_seconds").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(counted > now - 3600.0 && counted <= now, "a time in Unix seconds: {counted}");
    for group in ["ready", "not_enough", "only_unverified", "no_contacts"] {
        let series = format!("roster_recovery_users{{group=\"{group}\"}}");
        assert!(sample(&scrape, &series).is_some(), "{series} in {scrape}");
    }
    assert!(sample(&scrape, "roster_recovery_administrators_not_ready").is_some(), "{scrape}");
}

#[tokio::test]
async fn check_config_shows_each_setting_with_its_source_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\nsmtp_url = \"smtp://relay:hunter2hunter2@mail.example.com:587?tls=starttls\"\n\
         outbox_retry_ms = 5000\nmail_from = \"From the file <f@example.com>\"\n",
    )
    .unwrap();
    let token = dir.path().join("twilio-token");
    std::fs::write(&token, "tok-secret-value\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let env = [
        ("ROSTER_MAIL_FROM", "Roster <roster@contoso.com>".to_string()),
        ("ROSTER_TWILIO_AUTH_TOKEN_FILE", token.display().to_string()),
        ("ROSTER_TWILIO_ACCOUNT_SID", "AC0123".to_string()),
        ("ROSTER_TWILIO_FROM", "+14255550100".to_string()),
    ];
    let (ok, out, err) =
        roster(&["check-config", "--config", file_arg, "--public-url", "https://roster.contoso.com"], &env).await;
    assert!(ok, "{err}");
    for expected in [
        "listen = \"0.0.0.0:9000\"  # configuration file",
        "smtp_url = \"smtp://relay:********@mail.example.com:587\"  # configuration file; secret",
        "outbox_retry_ms = \"5000\"  # configuration file",
        "mail_from = \"Roster <roster@contoso.com>\"  # ROSTER_MAIL_FROM",
        "public_url = \"https://roster.contoso.com\"  # command line",
        "twilio_auth_token = \"********\"  # ROSTER_TWILIO_AUTH_TOKEN_FILE; secret",
        "admin_username = \"admin@roster.example\"  # default",
        "# database_url is not set",
        "# The settings are valid.",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    assert!(!out.contains("hunter2") && !out.contains("tok-secret-value"), "{out}");

    let (ok, _, err) = roster(&["check-config", "--database-url", "mysql://db/roster"], &[]).await;
    assert!(!ok);
    assert!(err.contains("database_url: the \"mysql\" scheme is not supported"), "{err}");
    // The environment outranks the file, also when the file names a secret's file.
    let smtp_file = dir.path().join("smtp-url");
    std::fs::write(&smtp_file, "smtp://file:from-the-file@mail.example.com:25\n").unwrap();
    std::fs::write(&file, format!("smtp_url_file = {:?}\n", smtp_file.display().to_string())).unwrap();
    let env_smtp = [("ROSTER_SMTP_URL", "smtp://env:from-the-env@relay.example.com:25".to_string())];
    let (ok, out, err) = roster(&["check-config", "--config", file_arg], &env_smtp).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("smtp_url = \"smtp://env:********@relay.example.com:25\"  # ROSTER_SMTP_URL; secret"),
        "{out}"
    );
    let (ok, out, err) = roster(&["check-config", "--config", file_arg], &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("smtp_url = \"smtp://file:********@mail.example.com:25\"  # ROSTER_SMTP_URL_FILE"), "{out}");
    std::fs::write(
        &file,
        format!("smtp_url = \"smtp://a@b\"\nsmtp_url_file = {:?}\n", smtp_file.display().to_string()),
    )
    .unwrap();
    let (ok, _, err) = roster(&["check-config", "--config", file_arg], &[]).await;
    assert!(!ok);
    assert!(err.contains("`smtp_url` and `smtp_url_file` are both set"), "{err}");

    std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").unwrap();
    let (ok, _, err) = roster(&["check-config", "--config", file_arg], &[]).await;
    assert!(!ok);
    assert!(err.contains("unknown setting `lisen`"), "{err}");
}

#[tokio::test]
async fn serves_https_with_the_certificate_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    let args: Vec<OsString> = vec![
        "--tls-cert".into(),
        cert.into(),
        "--tls-key".into(),
        key.into(),
        "--data".into(),
        dir.path().join("data").into(),
    ];
    let node = Node::start(&args, &[]).await;
    assert!(node.base.starts_with("https://localhost:"), "the loopback address is named as a host: {}", node.base);

    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(issued.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = trusted.get(format!("{}/healthz", node.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000", "browsers keep to HTTPS");
    let untrusted = reqwest::Client::new().get(format!("{}/healthz", node.base)).send().await;
    assert!(untrusted.is_err(), "a client that does not trust the certificate is refused");
    let plain = reqwest::Client::new().get(node.base.replace("https://", "http://") + "/healthz").send().await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK, "no plain HTTP on the TLS port");

    let missing =
        roster(&["check-config", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], &[]).await;
    assert!(!missing.0);
    assert!(missing.2.contains("tls_cert/tls_key: cannot use /nonexistent.pem"), "{}", missing.2);
}

#[tokio::test]
async fn migrate_shows_then_applies_what_a_database_lacks_on_either_engine() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pg) = roster_store::postgres::testing::TestDb::create().await else { return };
    let total = roster_store::sqlite::MIGRATOR.iter().count();
    let sqlite_args = ["--data", dir.path().to_str().unwrap()];
    let postgres_args = ["--database-url", pg.url.as_str()];

    // Looking never creates: a mistyped folder is an error, not a new empty directory.
    let (ok, _, err) = roster(&["migrate", "--status", "--data", dir.path().to_str().unwrap()], &[]).await;
    assert!(!ok && err.contains("there is no directory in"), "{err}");
    assert!(!dir.path().join("roster.db").exists());
    std::fs::File::create(dir.path().join("roster.db")).unwrap();

    for (engine, store) in [("SQLite", &sqlite_args), ("PostgreSQL", &postgres_args)] {
        let with = |first: &[&'static str]| first.iter().copied().chain(store.iter().copied()).collect::<Vec<&str>>();
        let (ok, out, err) = roster(&with(&["migrate", "--status"]), &[]).await;
        assert!(ok, "{err}");
        assert!(out.starts_with(&format!("{engine} database, {total} migrations in this build:\n")), "{out}");
        assert!(out.contains("20261127000001  create directory"), "{out}");
        assert!(
            out.ends_with(&format!("{total} pending: run `roster migrate` (or start `roster serve`) to apply them.\n"))
        );

        let (ok, out, err) = roster(&with(&["migrate"]), &[]).await;
        assert!(ok, "{err}");
        assert_eq!(out.matches("applied now").count(), total, "{out}");
        assert!(out.ends_with(&format!("Applied {total}; the schema is current.\n")), "{out}");

        let (ok, out, _) = roster(&with(&["migrate"]), &[]).await;
        assert!(ok && !out.contains("applied now") && out.ends_with("The schema is current.\n"), "{out}");
    }
}

#[tokio::test]
async fn backup_copies_the_directory_while_it_is_in_use() {
    let Some(app) = TestApp::start().await else { return };
    for i in 0..5 {
        app.user(&format!("person{i}@contoso.com"), &format!("Person {i}"), &[]).await;
    }
    let to = app.data.path().join("backup.db");
    let mut args: Vec<OsString> = vec!["backup".into(), "--to".into(), to.clone().into()];
    args.extend(app.store_args());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&args).output().await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if app.db.is_some() {
        assert!(!out.status.success());
        assert!(stderr.contains("back it up with `pg_dump --format=custom`"), "{stderr}");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Keep the key file with it"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&to), 0o600, "password hashes are for the owner only");
        assert_eq!(mode(&app.data.path().join("roster.db")), 0o600);
    }
    let copy = roster_store::sqlite::SqliteStore::open_url(&format!("sqlite://{}", to.display())).await.unwrap();
    use roster_domain::store::UserStore;
    assert_eq!(copy.count_users().await.unwrap(), 5);
    copy.close().await;

    let again = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&args).output().await.unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists; a backup never overwrites"));
}

#[tokio::test]
async fn a_lost_administrator_password_is_reset_from_the_command_line_as_the_server_says() {
    let Some(app) = TestApp::start().await else { return };
    let admin = app.user("admin@contoso.com", "Megan Bowen", &[roster_domain::Role::GlobalAdministrator]).await;
    let store: Vec<String> = app.store_args().iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut args = vec!["users", "reset-password", "ADMIN@contoso.com"];
    args.extend(store.iter().map(String::as_str));
    let (ok, out, err) = roster(&args, &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("Reset the password of Megan Bowen (admin@contoso.com)"), "{out}");
    let password = out.lines().find_map(|l| l.trim().strip_prefix("One-time password: ")).expect("printed").to_string();

    // The one-time password signs in, straight to choosing a new one.
    let s = app.client();
    let (_, html) = s.page("/signin").await;
    let form = [
        ("username", "admin@contoso.com"),
        ("password", password.as_str()),
        ("csrf", &crate::harness::csrf_of(&html)),
        ("next", ""),
    ];
    let r = s.post("/signin", &form).await;
    assert_eq!(crate::harness::location(&r), "/account/password");
    let log = app
        .directory
        .audit_log(
            &roster_domain::Actor::system("test"),
            &roster_domain::AuditQuery { target: Some(admin.id), limit: 10, ..Default::default() },
        )
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == roster_domain::audit::AuditAction::PasswordReset
                && e.actor_name == "roster command line"),
        "audited as done from the command line"
    );

    let mut args = vec!["users", "reset-password", "nobody@contoso.com"];
    args.extend(store.iter().map(String::as_str));
    let (ok, _, err) = roster(&args, &[]).await;
    assert!(!ok && err.contains("there is no user nobody@contoso.com"), "{err}");
}

#[tokio::test]
async fn a_second_start_says_how_to_get_back_in() {
    let dir = tempfile::tempdir().unwrap();
    let data: OsString = dir.path().into();
    let first = Node::start(&["--data".into(), data.clone()], &[]).await;
    assert!(first.banner.iter().any(|l| l.starts_with("Roster created the first Global Administrator.")));
    drop(first);
    let second = Node::start(&["--data".into(), data], &[]).await;
    assert!(second.banner.iter().any(|l| l.contains("roster users reset-password USERNAME")), "{:?}", second.banner);
}
