//! The PostgreSQL store: one database that several Roster nodes share.
//!
//! Same schema, same rows and the same answers as the SQLite store (the `sqlite` module), so a
//! directory can move between the two. SQLite has one writer and so serialises every change;
//! here each call is an ordinary transaction, and whatever relied on that single writer is done
//! with statements that stay correct when two nodes run them at once: conditional updates
//! (`update … where version = $n`, `… where used_at is null`), upserts, `delete … returning`,
//! row locks and `for update skip locked`.
//!
//! What is assumed of the engine, so that PostgreSQL-compatible distributed databases
//! (CockroachDB, YugabyteDB) can serve too: `READ COMMITTED` transactions in which an `update`
//! or `delete` that waited for another transaction's row lock re-checks its condition against
//! the row that transaction committed; `insert … on conflict … do update … returning` that is
//! atomic against concurrent inserts of the same key; `select … for update skip locked`;
//! `collate "C"` comparing text byte by byte; identity columns; partial indexes and indexes on
//! expressions (`substr(key, 1, 3)`); row-value comparisons (`(a, b) > ($1, $2)`) and
//! `array(select …)`; and `set default_transaction_isolation`, which every connection runs.
//! Nothing else: no advisory locks (migrations run without sqlx's lock, see [`MIGRATOR`]), no
//! `LISTEN`/`NOTIFY`, no functions or triggers.

use std::str::FromStr;
use std::sync::LazyLock;

use roster_domain::StoreError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Executor;

mod catalog;
mod commit;
use commit::insert_audit_rows;
#[cfg(test)]
mod listing_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[path = "sql/sql.rs"]
mod sql;
#[cfg(test)]
use sql::fixtures;
use sql::{apps, audit, oidc, outbox, rows, users};

/// The names the shared SQL in `sql/` is compiled with here.
pub(crate) use crate::dialect::POSTGRES as DIALECT;
type Db = sqlx::Postgres;
type Row = sqlx::postgres::PgRow;
type Connection = sqlx::PgConnection;
type Store = PostgresStore;

impl PostgresStore {
    /// The pool that reads (the same one that writes).
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The pool that writes.
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Every pool, for the status's connection counts.
    fn pools(&self) -> [&PgPool; 1] {
        [&self.pool]
    }
}

/// A store on a fresh database of the test's own; the database goes when the guard is dropped.
/// `None` when no server is there to test against (see [`testing::TestDb::create`]).
#[cfg(test)]
pub(crate) async fn test_store() -> Option<(testing::TestDb, PostgresStore)> {
    let db = testing::TestDb::create().await?;
    let store = PostgresStore::connect(&db.url).await.expect("connect and migrate");
    Some((db, store))
}

/// A store on a fresh database of the test's own that no migration has touched.
#[cfg(test)]
pub(crate) async fn unmigrated_store() -> Option<(testing::TestDb, PostgresStore)> {
    let db = testing::TestDb::create().await?;
    let store = PostgresStore::connect_unmigrated(&db.url, 2).await.expect("connect");
    Some((db, store))
}

/// A second node on the same database: a store with a pool of its own.
#[cfg(test)]
pub(crate) async fn other_node(db: &testing::TestDb) -> PostgresStore {
    PostgresStore::connect_with_max_connections(&db.url, 4).await.expect("connect a second node")
}

/// Connections a store opens at most when [`PostgresStore::connect`] is not told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// The schema's migrations, for applying them and for showing which ones a database has.
///
/// They run without sqlx's advisory lock, which distributed engines lack. Nodes that start
/// together may then race to apply the same migration: the loser's transaction fails and
/// [`PostgresStore::connect`] simply runs the migrator again, which skips what the winner
/// applied.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.set_locking(false);
    // During a rolling upgrade a node of the previous release may restart after a newer one
    // migrated the database: it runs on the newer schema instead of refusing to start.
    migrator.set_ignore_missing(true);
    migrator
});

/// The directory in a PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL with [`DEFAULT_MAX_CONNECTIONS`] and applies pending
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_max_connections(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Connects to a `postgres://` URL with at most `max_connections` connections and applies
    /// pending migrations.
    pub async fn connect_with_max_connections(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::connect_unmigrated(url, max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Whether `url` is a `postgres://` URL this store can connect to, without connecting.
    pub fn check_url(url: &str) -> Result<(), StoreError> {
        Ok(PgConnectOptions::from_str(url).map(drop)?)
    }

    /// Applies the migrations the database lacks.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate(&self.pool).await
    }

    /// Connects to a `postgres://` URL with at most `max_connections` connections, leaving the
    /// schema as it is (for inspecting its migrations before applying them).
    pub async fn connect_unmigrated(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // Version checks, one-time codes and counters rely on READ COMMITTED's re-check of
            // a waiting update's condition; a server configured for a stricter default would
            // turn those races into serialisation failures instead.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("set default_transaction_isolation = 'read committed'").await.map(|_| ())
                })
            })
            .connect_with(options)
            .await?;
        Ok(PostgresStore { pool })
    }

    /// Closes the pool, waiting for running statements.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Applies pending migrations, again after a failure as long as each attempt could have lost a
/// race for a different migration: a genuine failure repeats and is reported.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let attempts = MIGRATOR.iter().count() + 1;
    let mut last = None;
    for _ in 0..attempts {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(StoreError::backend(format!("migration failed: {}", last.map(|e| e.to_string()).unwrap_or_default())))
}

impl PostgresStore {
    /// The users of `page` (a query of `row_key`, `display_key` and the user columns), each
    /// with its row key.
    pub(crate) async fn read_found(
        &self,
        page: &str,
        args: rows::Params<'_>,
        _order: &str,
    ) -> Result<Vec<(roster_domain::User, String)>, StoreError> {
        let rows = sqlx::query_with(page, args.into_arguments()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let user = rows::user_from_row(row)?;
                let key = user.id.to_string();
                Ok((user, key))
            })
            .collect()
    }
}
