//! A fresh PostgreSQL database for each test, dropped when the test ends (pass or fail).
//!
//! The server is the one `ROSTER_TEST_POSTGRES_URL` names (default: the local one, trust
//! authentication); the URL's database is only used to create and drop the test's own. When
//! that variable is unset and no server answers locally, the tests that need one say so once
//! and skip, so that the test command passes on a machine with nothing but Rust; under CI
//! (`CI=true`) a missing server fails them instead.

use std::io::Write;
use std::sync::Once;

use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of a test's own.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    name: String,
    server_url: String,
}

impl TestDb {
    /// Creates an empty database with a random name, or `None` (the test skips) when no
    /// server runs locally and none was named.
    pub async fn create() -> Option<TestDb> {
        let named = std::env::var("ROSTER_TEST_POSTGRES_URL").ok();
        let server_url = named.clone().unwrap_or_else(|| DEFAULT_URL.to_string());
        let name = format!("roster_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = match PgConnection::connect(&server_url).await {
            Ok(conn) => conn,
            // Only a server that is not there is skipped: one that refuses the login is a failure.
            Err(e) if named.is_none() && !under_ci() && is_refused(&e) => {
                static SAID: Once = Once::new();
                // Straight to the terminal: the test harness would keep `eprintln!` to itself.
                SAID.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "note: no PostgreSQL server at {server_url} ({e}): the tests that need one are skipped. \
                         `bash .ci/run` installs and starts one and runs everything."
                    );
                });
                return None;
            }
            Err(e) => panic!("PostgreSQL at {server_url} (set ROSTER_TEST_POSTGRES_URL): {e}"),
        };
        conn.execute(format!("create database {name}").as_str()).await.expect("create the test database");
        let _ = conn.close().await;
        Some(TestDb { url: with_database(&server_url, &name), name, server_url })
    }
}

/// Whether a connection failed because nothing listens at the address.
fn is_refused(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// Whether the tests run under CI, where a service they need must be there.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own
        // with a runtime of its own does the asynchronous work.
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server_url).await.ok()?;
                conn.execute(format!("drop database if exists {name} with (force)").as_str()).await.ok()?;
                conn.close().await.ok()
            })
        });
        let _ = dropped.join();
    }
}

/// `url` with its database (the path) replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{server}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_is_not_there_is_told_from_one_that_refuses_the_login() {
        let nobody = PgConnection::connect("postgres://postgres@127.0.0.1:1/postgres").await.err().unwrap();
        assert!(is_refused(&nobody), "{nobody}");
        assert!(!is_refused(&sqlx::Error::Protocol("password authentication failed".into())));
    }
}
