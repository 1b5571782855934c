//! The SQL both engines share, written once.
//!
//! Each engine's module includes this folder (`#[path = "sql/sql.rs"] mod sql;`), so every
//! statement here is compiled twice, once with SQLite's types and once with PostgreSQL's,
//! and implements the domain's store traits directly for that engine's store. What a module
//! here needs of its engine it takes from the names below, which each engine defines: its
//! store, its row and connection types, and the few statements that differ between the two.

pub(super) use super::dialect::*;
#[cfg(test)]
pub(crate) use super::{other_node, test_store};
pub(super) use super::{Connection, Db, Row, Store, MAX_PARAMETERS, MIGRATOR};

pub(super) mod apps;
pub(super) mod audit;
pub(super) mod find;
#[cfg(test)]
pub(super) mod fixtures;
pub(super) mod import;
pub(super) mod listing;
pub(super) mod mfa;
pub(super) mod outbox;
pub(super) mod recovery;
pub(super) mod rows;
pub(super) mod sessions;
pub(super) mod settings;
pub(super) mod signin_log;
pub(super) mod transfer;
pub(super) mod users;
