//! `roster copy`: a whole directory moved to PostgreSQL and back, row for row, and the copies
//! it refuses to make.

use std::collections::BTreeSet;
use std::path::Path;

use roster_domain::audit::{AuditAction, AuditEntry, AuditQuery};
use roster_domain::directory::SETTING_DEFAULT_COUNTRY;
use roster_domain::mfa::SETTING_MFA_REQUIRED;
use roster_domain::outbox::DeliveryState;
use roster_domain::store::{AuditStore, MfaStore, OutboxStore, RecoveryStore, SettingsStore, UserStore};
use roster_domain::{Actor, ContactInput, Role, Store, Timestamp, User};
use roster_store::postgres::testing::TestDb;
use roster_store::postgres::PostgresStore;
use roster_store::sqlite::SqliteStore;
use sqlx::Connection;

use crate::harness::TestApp;

/// Runs `roster` with `args` and returns (success, stdout, stderr).
async fn roster(args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env_remove("ROSTER_DATABASE_URL")
        .output()
        .await
        .expect("run roster");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (out.status.success(), text(out.stdout), text(out.stderr))
}

/// The URL of the database the test server uses.
fn url_of(app: &TestApp) -> String {
    match &app.db {
        Some(db) => db.url.clone(),
        None => sqlite_url(&app.data.path().join("roster.db")),
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Every table the migrations create (and do not drop), read from the migration files
/// themselves, so that a table added there and missed by the copy fails this test.
fn tables_in_migrations() -> BTreeSet<String> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/migrations/sqlite");
    let mut tables = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap().to_lowercase();
        let words: Vec<&str> = sql.split_whitespace().collect();
        for w in words.windows(3) {
            match w {
                ["create", "table", name] => tables.insert(name.trim_matches('"').to_string()),
                ["drop", "table", name] => tables.remove(name.trim_matches(|c| c == '"' || c == ';')),
                _ => continue,
            };
        }
    }
    tables
}

/// The verification table's rows: (table, rows, checksum prefix, result), from the header on.
fn verification(stdout: &str) -> Vec<(String, u64, String, String)> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("table "))
        .skip(1)
        .take_while(|l| !l.starts_with("Copied") && !l.contains("tables differ"))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields[0].to_string(), fields[1].parse().unwrap(), fields[2].to_string(), fields[3..].join(" "))
        })
        .collect()
}

/// An audit record of the test's own, for the store calls that take one.
fn audit(target: &User) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Timestamp::now(),
        actor_id: None,
        actor_name: "test".into(),
        target_id: Some(target.id),
        target_name: target.username.to_string(),
        group_id: None,
        action: AuditAction::MfaChanged,
        changes: Vec::new(),
        client_ip: None,
        request_id: None,
    }
}

/// A directory with something in every kind of row: users (one deleted, names beyond ASCII),
/// alternate addresses, contact changes and the messages they queue, a verification code,
/// settings, an authenticator app and recovery codes, a session, a failed sign-in, a reset.
async fn populated() -> Option<(TestApp, Vec<User>)> {
    let app = TestApp::start().await?;
    let global = app.user("global@contoso.com", "Global Admin", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex.wilber@contoso.com", "Alex Wilber", &[]).await;
    let zoe = app.user("zoe@contoso.com", "Zoë Ångström 山田", &[Role::HelpdeskAdministrator]).await;
    let gone = app.user("gone@contoso.com", "Gone Soon", &[]).await;
    let actor = Actor::user(&global, Some("203.0.113.9".into()), Some("req-copy".into()));
    app.directory.set_region(&actor, "GB").await.unwrap();
    for (user, emails, mobile) in [
        (&alex, vec!["alex@fabrikam.com".to_string(), "a.wilber@northwind.com".to_string()], "+44 20 7946 0958"),
        (&zoe, vec!["zoë@fabrikam.com".to_string()], "+49 1513 7389275"),
    ] {
        let input = ContactInput {
            display_name: user.contact.display_name.clone(),
            alternate_emails: emails,
            mobile_phone: mobile.into(),
            city: "Zürich".into(),
            ..ContactInput::default()
        };
        app.directory.update_contact(&actor, user.id, user.version, &input).await.unwrap();
    }
    app.directory.send_verification(&actor, alex.id, "email:alex@fabrikam.com").await.unwrap();
    app.directory.delete_user(&actor, gone.id).await.unwrap();
    let store = app.directory.store();
    store.set_app(alex.id, Some("sealed-secret"), true, Some(&audit(&alex)), &[]).await.unwrap();
    assert!(store.advance_app_step(alex.id, 59_000_123).await.unwrap());
    store.replace_recovery_codes(alex.id, &["hash-1".into(), "hash-2".into()], &audit(&alex), &[]).await.unwrap();
    store.set_mfa_chosen(zoe.id, true, &audit(&zoe)).await.unwrap();
    app.signed_in("global@contoso.com").await;
    app.client().sign_in("alex.wilber@contoso.com", "not the password").await;
    app.directory.start_reset("zoe@contoso.com").await.unwrap();
    let users = [&global, &alex, &zoe, &gone];
    let mut stored = Vec::new();
    for user in users {
        stored.push(store.get_user(user.id).await.unwrap().unwrap());
    }
    assert!(!store.list_outbox(None, 100).await.unwrap().is_empty(), "contact changes queued messages");
    // The delivery worker marks each message held (there is no transport): the copy starts
    // once it is done, since a source that changes under a copy fails its verification.
    for _ in 0..200 {
        let outbox = store.list_outbox(None, 100).await.unwrap();
        if outbox.iter().all(|m| m.state == DeliveryState::Held) {
            return Some((app, stored));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the worker left messages pending");
}

#[tokio::test]
async fn a_directory_moves_to_postgresql_and_back_unchanged() {
    let Some((app, users)) = populated().await else { return };
    let source = url_of(&app);
    let Some(middle) = TestDb::create().await else { return };

    let (ok, out, err) = roster(&["copy", "--from", &source, "--to", &middle.url]).await;
    assert!(ok, "{out}\n{err}");
    let first = verification(&out);
    let listed: BTreeSet<String> = first.iter().map(|(table, ..)| table.clone()).collect();
    assert_eq!(listed, tables_in_migrations(), "every table is copied and verified");
    assert!(first.iter().all(|(.., result)| result == "ok"), "{out}");
    let rows = |table: &str| first.iter().find(|(t, ..)| t == table).map(|(_, rows, ..)| *rows).unwrap();
    assert_eq!(rows("users"), 4);
    assert_eq!(rows("alternate_emails"), 3);
    for table in ["audit_log", "outbox", "settings", "user_mfa", "recovery_codes", "one_time_codes", "sessions"] {
        assert!(rows(table) > 0, "{table} has rows to copy: {out}");
    }
    assert!(out.contains(&format!("Copied {} tables, ", listed.len())) && out.ends_with("source and target match.\n"));
    assert!(err.contains("Copying ") && err.contains("  users ") && err.contains("4 rows"), "progress: {err}");

    // Into a target that holds a directory now: refused, naming the first table with rows.
    let (ok, out, err) = roster(&["copy", "--from", &source, "--to", &middle.url]).await;
    assert!(!ok, "{out}");
    let refusal = format!("the target is not empty: table audit_log holds {} rows", rows("audit_log"));
    assert!(err.contains(&refusal), "{err}");
    assert!(!err.contains(&middle.url), "the URL (and any password in it) stays out of messages: {err}");

    // And back into a new SQLite file: the same rows, checksum for checksum, so the refused
    // copy changed nothing either.
    let back_dir = tempfile::tempdir().unwrap();
    let back = back_dir.path().join("roster.db");
    let (ok, out, err) = roster(&["copy", "--from", &middle.url, "--to", &sqlite_url(&back)]).await;
    assert!(ok, "{out}\n{err}");
    assert_eq!(verification(&out), first);

    // Read back through the store: the users with everything that hangs off them.
    let original = app.directory.store();
    let copied = SqliteStore::open(back_dir.path()).await.unwrap();
    for user in &users {
        assert_eq!(copied.get_user(user.id).await.unwrap().as_ref(), Some(user));
        assert_eq!(copied.get_mfa(user.id).await.unwrap(), original.get_mfa(user.id).await.unwrap());
        assert_eq!(
            copied.get_verifications(user.id).await.unwrap(),
            original.get_verifications(user.id).await.unwrap()
        );
        let query = AuditQuery { target: Some(user.id), limit: 100, ..AuditQuery::default() };
        assert_eq!(copied.list_audit(&query).await.unwrap(), original.list_audit(&query).await.unwrap());
    }
    assert_eq!(users[1].contact.alternate_emails, ["alex@fabrikam.com", "a.wilber@northwind.com"]);
    assert_eq!(copied.get_mfa(users[1].id).await.unwrap().app_last_step, Some(59_000_123));
    assert!(users[3].deleted_at.is_some());
    assert_eq!(copied.list_outbox(None, 100).await.unwrap(), original.list_outbox(None, 100).await.unwrap());
    for key in [SETTING_DEFAULT_COUNTRY, SETTING_MFA_REQUIRED] {
        assert_eq!(copied.get_setting(key).await.unwrap(), original.get_setting(key).await.unwrap(), "{key}");
    }

    // New ids continue after the copied ones on both engines.
    let mut conn = sqlx::SqliteConnection::connect(&sqlite_url(&back)).await.unwrap();
    for table in ["audit_log", "outbox"] {
        let (seq, max): (i64, i64) = sqlx::query_as(&format!(
            "select (select seq from sqlite_sequence where name = '{table}'), (select max(id) from {table})"
        ))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(seq, max, "sqlite_sequence of {table}");
    }
    let newest =
        original.list_audit(&AuditQuery { target: None, limit: 1, ..AuditQuery::default() }).await.unwrap()[0].id;
    let middle_store = PostgresStore::connect(&middle.url).await.unwrap();
    for store in [&copied as &dyn Store, &middle_store] {
        store.record(&audit(&users[0]), &[]).await.unwrap();
        let latest = store.list_audit(&AuditQuery { target: None, limit: 1, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(latest[0].id, newest + 1);
    }
    middle_store.close().await;
    copied.close().await;
}

#[tokio::test]
async fn a_source_with_pending_migrations_is_refused_and_the_target_left_alone() {
    let Some((app, _)) = populated().await else { return };
    let source = url_of(&app);
    let newest = roster_store::sqlite::MIGRATOR.iter().map(|m| m.version).max().unwrap();
    let forget = format!("delete from _sqlx_migrations where version = {newest}");
    match &app.db {
        Some(db) => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(&forget).execute(&mut conn).await.unwrap();
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&source).await.unwrap();
            sqlx::query(&forget).execute(&mut conn).await.unwrap();
        }
    }
    let target = tempfile::tempdir().unwrap();
    let target_file = target.path().join("copy.db");
    let (ok, _, err) = roster(&["copy", "--from", &source, "--to", &sqlite_url(&target_file)]).await;
    assert!(!ok);
    assert!(err.contains(&format!("--from: the source lacks migrations {newest} of this build")), "{err}");
    assert!(err.contains("run `roster migrate` (or start `roster serve`) on it first"), "{err}");
    assert!(!target_file.exists(), "the target is not even created");
}

#[tokio::test]
async fn unknown_schemes_and_missing_sources_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let target = sqlite_url(&dir.path().join("copy.db"));
    let (ok, _, err) = roster(&["copy", "--from", "mysql://localhost/roster", "--to", &target]).await;
    assert!(!ok);
    assert!(err.contains("--from: the \"mysql\" scheme is not supported"), "{err}");
    let (ok, _, err) = roster(&["copy", "--from", &target, "--to", "file:///tmp/x.db"]).await;
    assert!(!ok);
    assert!(
        err.contains("--to: the \"file\" scheme is not supported"),
        "both are checked before either is opened: {err}"
    );

    let missing = dir.path().join("missing.db");
    let (ok, _, err) = roster(&["copy", "--from", &sqlite_url(&missing), "--to", &target]).await;
    assert!(!ok);
    assert!(err.contains("--from: cannot open the database") && err.contains("missing.db does not exist"), "{err}");
    assert!(!missing.exists(), "a mistyped source is not created");
}
