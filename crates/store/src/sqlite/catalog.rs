//! SQLite's catalog, for copying a directory: its tables, their columns, keys and references.
//!
//! Columns are read by their declared type (`integer`, `text`, `blob`); a value stored with
//! another type (SQLite allows it) is an error rather than something converted on the way.

use std::collections::BTreeSet;

use roster_domain::transfer::{Column, TableInfo};
use roster_domain::StoreError;
use sqlx::{Row as _, SqliteConnection};

use crate::sqlite::sql::transfer::kind_of;
use crate::sqlite::SqliteStore;

impl SqliteStore {
    /// Every table but SQLite's and the migrations' own, described.
    pub(crate) async fn describe_tables(&self) -> Result<Vec<TableInfo>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' \
             and name <> '_sqlx_migrations'",
        )
        .fetch_all(&self.readers)
        .await?;
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let described = sqlx::query("select name, type, pk from pragma_table_info(?1) order by cid")
                .bind(&name)
                .fetch_all(&self.readers)
                .await?;
            let mut columns = Vec::with_capacity(described.len());
            let mut key = Vec::new();
            for c in &described {
                let (column, declared, pk): (String, String, i64) = (c.get("name"), c.get("type"), c.get("pk"));
                columns.push(Column { kind: kind_of(&name, &column, &declared)?, name: column.clone() });
                if pk > 0 {
                    key.push((pk, column));
                }
            }
            key.sort();
            let references: BTreeSet<String> = sqlx::query_scalar("select \"table\" from pragma_foreign_key_list(?1)")
                .bind(&name)
                .fetch_all(&self.readers)
                .await?
                .into_iter()
                .collect();
            tables.push(TableInfo {
                name,
                columns,
                primary_key: key.into_iter().map(|(_, column)| column).collect(),
                references,
            });
        }
        Ok(tables)
    }

    /// Nothing to do: inserting an explicit id raises AUTOINCREMENT's `sqlite_sequence` entry to
    /// it, so new ids continue after the copied ones.
    pub(crate) async fn continue_identities(_conn: &mut SqliteConnection) -> Result<(), StoreError> {
        Ok(())
    }
}
