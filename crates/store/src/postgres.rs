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

mod commit;
mod find;
mod listing;
mod transfer;

#[path = "sql/sql.rs"]
mod sql;
#[cfg(test)]
use sql::fixtures;
use sql::{audit, rows, users};

/// The names the shared SQL in `sql/` is compiled with here.
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

    /// A transaction for a change; it locks what it reads to change with [`FOR_UPDATE`].
    /// Every pool, for the status's connection counts.
    fn pools(&self) -> [&PgPool; 1] {
        [&self.pool]
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.pool.begin().await
    }

    /// A read-only transaction that reads one snapshot throughout.
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.pool.begin_with("begin isolation level repeatable read read only").await
    }
}

/// Locks the rows a transaction reads to change, until it ends.
/// A store on a fresh database of the test's own; the database goes when the guard is dropped.
/// `None` when no server is there to test against (see [`testing::TestDb::create`]).
#[cfg(test)]
pub(crate) async fn test_store() -> Option<(testing::TestDb, PostgresStore)> {
    let db = testing::TestDb::create().await?;
    let store = PostgresStore::connect(&db.url).await.expect("connect and migrate");
    Some((db, store))
}

/// A second node on the same database: a store with a pool of its own.
#[cfg(test)]
pub(crate) async fn other_node(db: &testing::TestDb) -> PostgresStore {
    PostgresStore::connect_with_max_connections(&db.url, 4).await.expect("connect a second node")
}

const FOR_UPDATE: &str = " for update";

/// Locks a row against changes to its key (and deletion) until the transaction ends, leaving
/// rows that reference it free to change.
const FOR_NO_KEY_UPDATE: &str = " for no key update";

/// The condition that picks, from the ids `select` returns, those no other transaction is
/// changing, locking them: `skip locked` passes over rows another node holds at this moment
/// instead of waiting for them (and a row whose change committed meanwhile is re-checked). The
/// ids are collected with `array(…)`, which runs exactly once: a plain `in (select … limit …)`
/// may be re-run as the inner side of a join, each run locking rows of its own, and so take
/// more than its limit.
fn unlocked_among(column: &str, select: &str) -> String {
    format!("{column} = any(array({select} for update skip locked))")
}

/// Users per multi-row insert: 500 × 30 parameters stay well inside PostgreSQL's limit of
/// 65,535 per statement.
const USERS_PER_INSERT: usize = 500;

/// What this engine calls the larger of two values.
const GREATEST: &str = "greatest";

/// The engine's name, as the status reports it.
const ENGINE: &str = "PostgreSQL";

/// Whether the table named `$1` exists.
const TABLE_EXISTS: &str = "select to_regclass($1) is not null";

#[cfg(any(test, feature = "testing"))]
pub mod testing;

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

mod store_impl {
    use async_trait::async_trait;
    use roster_domain::audit::{AuditEntry, AuditQuery, ChainState, SealedEntry};
    use roster_domain::mfa::{MfaState, PendingSignIn};
    use roster_domain::outbox::{Channel, Claim, Lease, Message, OutboxEntry, Outcome};
    use roster_domain::recovery::{ContactMethod, OneTimeCode, Purpose, ResetSession, Verification};
    use roster_domain::session::Session;
    use roster_domain::signin_log::{SignInEvent, SignInQuery};
    use roster_domain::store::*;
    use roster_domain::user::{User, UserId, UserQuery, UserSummary};
    use roster_domain::{StoreError, Timestamp};

    use crate::postgres::PostgresStore;

    #[async_trait]
    impl ListingStore for PostgresStore {
        async fn list_users(&self, query: &UserQuery) -> Result<Vec<UserSummary>, StoreError> {
            PostgresStore::list_users(self, query).await
        }
        async fn find_users(
            &self,
            find: &roster_domain::store::UserFind,
        ) -> Result<Vec<roster_domain::store::FoundUser>, StoreError> {
            PostgresStore::find_users(self, find).await
        }
        async fn count_found(
            &self,
            filter: Option<&roster_domain::user_filter::UserFilter>,
        ) -> Result<u64, StoreError> {
            PostgresStore::count_found(self, filter).await
        }
    }
}
