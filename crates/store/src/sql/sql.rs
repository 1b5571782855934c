//! The SQL both engines share, written once.
//!
//! Each engine's module includes this folder (`#[path = "sql/sql.rs"] mod sql;`), so every
//! statement here is compiled twice, once with SQLite's types and once with PostgreSQL's,
//! and implements the domain's store traits directly for that engine's store. What a module
//! here needs of its engine it takes from the names below, which each engine defines: its
//! store, its row and connection types, and the few statements that differ between the two.

pub(super) use super::{insert_audit_rows, Connection, Db, Row, Store, DIALECT, MIGRATOR};
#[cfg(test)]
pub(crate) use super::{other_node, test_store, unmigrated_store};

/// The engine's spelling of what the statements here need (see `crate::dialect`), under the
/// names they use.
pub(super) const ENGINE: &str = DIALECT.engine;
pub(super) const TABLE_EXISTS: &str = DIALECT.table_exists;
pub(super) const FOR_UPDATE: &str = DIALECT.for_update;
pub(super) const FOR_NO_KEY_UPDATE: &str = DIALECT.for_no_key_update;
pub(super) const GREATEST: &str = DIALECT.greatest;
pub(super) const LOCK_NESTING: &str = DIALECT.lock_nesting;
pub(super) const BYTE_ORDER: &str = DIALECT.byte_order;
pub(super) const CONTAINS: &str = DIALECT.contains;
pub(super) const ROW_KEY: &str = DIALECT.row_key;
pub(super) const USERS_PER_INSERT: usize = DIALECT.users_per_insert;
pub(super) const MAX_PARAMETERS: usize = DIALECT.max_parameters;

impl Store {
    /// A transaction for a change: it holds SQLite's write lock from its start, and on
    /// PostgreSQL locks what it reads to change with [`FOR_UPDATE`].
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.writer().begin_with(DIALECT.begin_write).await
    }

    /// A read-only transaction that reads one snapshot throughout and holds up no writer.
    pub(crate) async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.reader().begin_with(DIALECT.begin_snapshot).await
    }
}

pub(super) mod access_pass;
pub(super) mod apps;
pub(super) mod audit;
pub(super) mod find;
#[cfg(test)]
pub(super) mod fixtures;
pub(super) mod groups;
pub(super) mod import;
pub(super) mod listing;
pub(super) mod mfa;
pub(super) mod oidc;
pub(super) mod outbox;
pub(super) mod passkeys;
pub(super) mod recovery;
pub(super) mod rows;
pub(super) mod sessions;
pub(super) mod settings;
pub(super) mod signin_log;
pub(super) mod transfer;
pub(super) mod users;
