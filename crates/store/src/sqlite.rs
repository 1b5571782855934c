//! The embedded SQLite store: Roster's default, one file in the data folder.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so a committed change is on disk
//! before the caller hears of it. Writes go through a single connection (SQLite has one writer
//! anyway) and reads through a pool, so long list queries never wait behind a save; one more
//! connection copies the write-ahead log into the database file in the background.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use roster_domain::audit::AuditEntry;
use roster_domain::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

mod bulk_load;
mod catalog;
mod checkpoint;
mod group_commit;
mod stored_user;

#[path = "sql/sql.rs"]
mod sql;
use rows::Params;
#[cfg(test)]
use sql::fixtures;
use sql::{apps, audit, oidc, outbox, rows, users};

/// Audit records per insert statement.
const AUDIT_ROWS_PER_INSERT: usize = DIALECT.rows_per_statement(100, 10);

/// Audit records as SQLite takes many rows best: statements of a hundred rows of values.
async fn insert_audit_rows(conn: &mut Connection, entries: &[&AuditEntry]) -> Result<(), StoreError> {
    for chunk in entries.chunks(AUDIT_ROWS_PER_INSERT) {
        let mut params = Params::default();
        let mut rows = Vec::with_capacity(chunk.len());
        for entry in chunk {
            let changes = serde_json::to_string(&entry.changes).map_err(StoreError::backend)?;
            let row = [
                params.push(entry.at.millis())?,
                params.push(entry.actor_id.map(|id| id.to_string()))?,
                params.push(entry.actor_name.clone())?,
                params.push(entry.target_id.map(|id| id.to_string()))?,
                params.push(entry.target_name.clone())?,
                params.push(entry.group_id.map(|id| id.to_string()))?,
                params.push(entry.action.code())?,
                params.push(changes)?,
                params.push(entry.client_ip.clone())?,
                params.push(entry.request_id.clone())?,
            ];
            rows.push(format!("({})", row.join(", ")));
        }
        let sql = format!("insert into audit_log ({}) values {}", audit::INSERT_COLUMNS, rows.join(", "));
        sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The names the shared SQL in `sql/` is compiled with here.
pub(crate) use crate::dialect::SQLITE as DIALECT;
type Db = sqlx::Sqlite;
type Row = sqlx::sqlite::SqliteRow;
type Connection = sqlx::SqliteConnection;
type Store = SqliteStore;

impl SqliteStore {
    /// The pool that reads: read-only connections, so that a long list never waits behind a save.
    fn reader(&self) -> &SqlitePool {
        &self.readers
    }

    /// The pool that writes: one connection, as SQLite has one writer.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Every pool, for the status's connection counts.
    fn pools(&self) -> [&SqlitePool; 2] {
        [&self.writer, &self.readers]
    }
}

/// A store in a folder of the test's own, which goes when the guard is dropped.
#[cfg(test)]
pub(crate) async fn test_store() -> Option<(tempfile::TempDir, SqliteStore)> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = SqliteStore::open(dir.path()).await.expect("open and migrate");
    Some((dir, store))
}

/// A store in a folder of the test's own whose database no migration has touched.
#[cfg(test)]
pub(crate) async fn unmigrated_store() -> Option<(tempfile::TempDir, SqliteStore)> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = SqliteStore::open_unmigrated(dir.path()).await.expect("open");
    Some((dir, store))
}

/// A second process on the same database file.
#[cfg(test)]
pub(crate) async fn other_node(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path()).await.expect("open a second store")
}

/// The schema's migrations, for applying them and for showing which ones a database has.
///
/// A database may hold migrations this build does not know (a newer release migrated it, and
/// this one is being rolled back or has not been replaced yet): they are left alone rather
/// than refused, as on PostgreSQL.
pub static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> = std::sync::LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    migrator.set_ignore_missing(true);
    migrator
});

/// The name of the database file inside the data folder.
pub const DATABASE_FILE: &str = "roster.db";

/// The directory in one SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    saves: tokio::sync::mpsc::Sender<group_commit::SaveJob>,
    inserts: tokio::sync::mpsc::Sender<group_commit::InsertJob>,
    rotations: tokio::sync::mpsc::Sender<group_commit::RotateJob>,
    app_tokens: tokio::sync::mpsc::Sender<group_commit::AppTokenJob>,
    /// Shared by every clone of the store; its checkpoints stop with the last of them.
    checkpoints: std::sync::Arc<checkpoint::Checkpointer>,
}

impl SqliteStore {
    /// Opens (creating if needed) `roster.db` in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let store = Self::open_unmigrated(data_dir).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a database from a `sqlite:` URL (`ROSTER_DATABASE_URL`) and applies pending migrations.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let store = Self::open_url_unmigrated(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens (creating if needed) `roster.db` in `data_dir` as it is, for inspecting its
    /// migrations before applying them.
    pub async fn open_unmigrated(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::backend(format!("cannot create data folder {}: {e}", data_dir.display())))?;
        let file = data_dir.join(DATABASE_FILE);
        create_private(&file)?;
        Self::connect(tuned(SqliteConnectOptions::new().filename(file))).await
    }

    /// Opens a database from a `sqlite:` URL as it is.
    pub async fn open_url_unmigrated(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        if options.get_filename() != Path::new(":memory:") {
            create_private(options.get_filename())?;
        }
        Self::connect(tuned(options)).await
    }

    /// Opens an existing database from a `sqlite:` URL as it is, creating nothing: the source
    /// of a copy, which a mistyped path must not replace with an empty database.
    pub async fn open_url_existing(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        let file = options.get_filename();
        if !file.exists() {
            return Err(StoreError::backend(format!("{} does not exist", file.display())));
        }
        Self::connect(tuned(options).create_if_missing(false)).await
    }

    /// Whether `url` is a `sqlite:` URL this store can open, without opening it.
    pub fn check_url(url: &str) -> Result<(), StoreError> {
        Ok(SqliteConnectOptions::from_str(url).map(drop)?)
    }

    /// Applies the migrations the database lacks.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await.map_err(|e| StoreError::backend(format!("migration failed: {e}")))
    }

    /// Writes a consistent copy of the database to `to` (which must not exist) while the
    /// directory stays in use: SQLite's `vacuum into` reads one snapshot, so saves made
    /// meanwhile are either wholly in the copy or not at all.
    pub async fn backup(&self, to: &Path) -> Result<(), StoreError> {
        let target = to.to_str().ok_or_else(|| StoreError::backend(format!("{} is not UTF-8", to.display())))?;
        // `vacuum into` takes an empty file, so the copy gets the owner-only mode from the start.
        private_file(to).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                StoreError::backend(format!("{} already exists; a backup never overwrites", to.display()))
            }
            _ => StoreError::backend(format!("cannot create {}: {e}", to.display())),
        })?;
        let copied = sqlx::query("vacuum into ?1").bind(target).execute(&self.readers).await;
        if let Err(e) = copied {
            let _ = std::fs::remove_file(to);
            return Err(StoreError::backend(e));
        }
        Ok(())
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let writes = options.clone().pragma("wal_autocheckpoint", checkpoint::WRITER_AUTOCHECKPOINT_PAGES);
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(writes).await?;
        // Eight readers: with four, eight clients queued for connections (first page 1,400 ->
        // 950 requests/s in the benchmark) for little memory saved.
        let readers = SqlitePoolOptions::new().max_connections(8).connect_with(options.clone().read_only(true)).await?;
        let saves = group_commit::spawn(writer.clone());
        let inserts = group_commit::spawn(writer.clone());
        let rotations = group_commit::spawn(writer.clone());
        let app_tokens = group_commit::spawn(writer.clone());
        let checkpoints = std::sync::Arc::new(checkpoint::Checkpointer::start(options).await);
        Ok(SqliteStore { writer, readers, saves, inserts, rotations, app_tokens, checkpoints })
    }

    /// Closes both pools and the checkpoints' connection, waiting for running statements. What
    /// the log holds is copied into the database file and the log emptied first, so that the
    /// file alone holds every commit whichever connection happens to close last.
    pub async fn close(&self) {
        self.readers.close().await;
        self.checkpoints.stop().await;
        if let Err(e) = sqlx::query("pragma wal_checkpoint(truncate)").execute(&self.writer).await {
            tracing::warn!(error = %e, "the last checkpoint failed; the log is kept for the next start");
        }
        self.writer.close().await;
    }
}

/// Creates `path` empty and readable by its owner only, failing if it exists.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Creates a new database file readable by its owner only (it holds password hashes and sealed
/// secrets; SQLite gives its `-wal` and `-shm` files the same mode); an existing one is left as
/// it is.
fn create_private(path: &Path) -> Result<(), StoreError> {
    match private_file(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::backend(format!("cannot create {}: {e}", path.display()))),
    }
}

/// Page cache per connection, in KiB as SQLite's `cache_size` takes it (negative = KiB).
pub(crate) const PAGE_CACHE_KIB: &str = "-2048";

/// The settings every connection gets, however the database was named.
fn tuned(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Another process (the CLI beside a running server) may hold the write lock briefly.
        .busy_timeout(Duration::from_secs(10))
        // 2 MiB of page cache per connection keeps the nine connections well inside the memory
        // budget; the operating system's file cache holds the rest of the database. In the
        // benchmark 4 MiB ended the run 20 MB higher and no faster, 8 MiB no faster either.
        .pragma("cache_size", PAGE_CACHE_KIB)
        // An advisory cap on all of SQLite's memory in the process (page caches, sorters):
        // past it SQLite recycles cache pages instead of growing.
        .pragma("soft_heap_limit", "67108864")
}
