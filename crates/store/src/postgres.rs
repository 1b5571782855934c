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

mod find;
mod import;
mod listing;
mod transfer;
mod users;

#[path = "sql/sql.rs"]
mod sql;
#[cfg(test)]
use sql::fixtures;
use sql::{audit, outbox, recovery, rows};

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

/// Maps a unique-constraint failure to [`StoreError::Duplicate`], anything else to a backend error.
pub(crate) fn unique_or_backend(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(what),
        _ => StoreError::backend(e),
    }
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
    impl UserStore for PostgresStore {
        async fn count_users(&self) -> Result<u64, StoreError> {
            PostgresStore::count_users(self).await
        }
        async fn insert_user(&self, user: &User, hash: Option<&str>, audit: &AuditEntry) -> Result<(), StoreError> {
            PostgresStore::insert_user(self, user, hash, audit).await
        }
        async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
            PostgresStore::get_user(self, id).await
        }
        async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
            PostgresStore::get_users(self, ids).await
        }
        async fn get_credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
            PostgresStore::get_credentials(self, username).await
        }
        async fn get_password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
            PostgresStore::get_password_hash(self, id).await
        }
        async fn list_administrators(&self) -> Result<Vec<User>, StoreError> {
            PostgresStore::list_administrators(self).await
        }
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
        async fn save_user(
            &self,
            before: &User,
            after: &User,
            audit: &AuditEntry,
            messages: &[Message],
        ) -> Result<(), StoreError> {
            PostgresStore::save_user(self, before, after, audit, messages).await
        }
        async fn set_password(
            &self,
            id: UserId,
            hash: &str,
            must_change: bool,
            audit: &AuditEntry,
            messages: &[Message],
        ) -> Result<(), StoreError> {
            PostgresStore::set_password(self, id, hash, must_change, audit, messages).await
        }
        async fn purge_deleted(&self, before: Timestamp, actor: &str) -> Result<u64, StoreError> {
            PostgresStore::purge_deleted(self, before, actor).await
        }
    }

    #[async_trait]
    impl ImportStore for PostgresStore {
        async fn insert_users_bulk(
            &self,
            batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
            audit: &AuditEntry,
        ) -> Result<(), StoreError> {
            PostgresStore::insert_users_bulk(self, batches, audit).await
        }
        async fn apply_user_batches(&self, batches: &mut dyn UserBatches) -> Result<bool, StoreError> {
            PostgresStore::apply_user_batches(self, batches).await
        }
    }
}
