//! The database as tables of typed cells, for copying a whole directory to or from another
//! database (`roster_domain::transfer` decides what is copied and checks the result).
//!
//! Columns are read by their declared type (`integer`, `text`, `blob`); a value stored with
//! another type (SQLite allows it) is an error rather than something converted on the way.

use std::collections::BTreeSet;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use roster_domain::transfer::{self, Cell, Column, CopyWriter, Kind, Row, Rows, TableInfo, Transfer};
use roster_domain::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row as _, Sqlite, Transaction};

use crate::sqlite::SqliteStore;

/// SQLite's limit on parameters in one statement (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32).
const MAX_PARAMETERS: usize = 32_766;

/// `name` as a quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table's columns, quoted and separated by commas.
fn column_list(table: &TableInfo) -> String {
    table.columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ")
}

/// The kind of a column declared as `declared`.
fn kind_of(table: &str, column: &str, declared: &str) -> Result<Kind, StoreError> {
    match declared.to_ascii_lowercase().as_str() {
        "integer" => Ok(Kind::Int),
        "text" => Ok(Kind::Text),
        "blob" => Ok(Kind::Bytes),
        _ => Err(StoreError::backend(format!(
            "column {table}.{column} is declared {declared:?}; a copy carries only integer, text and blob"
        ))),
    }
}

/// A row's cells, each decoded as its column declares.
fn cells(row: &SqliteRow, columns: &[Column]) -> Result<Row, StoreError> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let cell = match column.kind {
                Kind::Int => row.try_get::<Option<i64>, _>(i).map(|v| v.map_or(Cell::Null, Cell::Int)),
                Kind::Text => row.try_get::<Option<String>, _>(i).map(|v| v.map_or(Cell::Null, Cell::Text)),
                Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i).map(|v| v.map_or(Cell::Null, Cell::Bytes)),
            };
            cell.map_err(|e| StoreError::backend(format!("column {}: {e}", column.name)))
        })
        .collect()
}

#[async_trait]
impl Transfer for SqliteStore {
    async fn tables(&self) -> Result<Vec<TableInfo>, StoreError> {
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

    async fn count(&self, table: &TableInfo) -> Result<u64, StoreError> {
        let rows: i64 = sqlx::query_scalar(&format!("select count(*) from {}", quote(&table.name)))
            .fetch_one(&self.readers)
            .await?;
        Ok(u64::try_from(rows).unwrap_or_default())
    }

    fn rows(&self, table: &TableInfo) -> Rows {
        // Texts in byte order, as PostgreSQL's `collate "C"` sorts them, so that both sides
        // hash their rows in the same order.
        let order: Vec<String> = table
            .order_by()
            .iter()
            .map(|c| match c.kind {
                Kind::Text => format!("{} collate binary", quote(&c.name)),
                Kind::Int | Kind::Bytes => quote(&c.name),
            })
            .collect();
        let sql = format!("select {} from {} order by {}", column_list(table), quote(&table.name), order.join(", "));
        let columns = table.columns.clone();
        let readers = self.readers.clone();
        let (sender, rows) = transfer::row_channel();
        tokio::spawn(async move {
            let mut fetched = sqlx::query(&sql).fetch(&readers);
            loop {
                let row = match fetched.try_next().await {
                    Ok(Some(row)) => cells(&row, &columns),
                    Ok(None) => break,
                    Err(e) => Err(StoreError::backend(e)),
                };
                let failed = row.is_err();
                if sender.send(row).await.is_err() || failed {
                    break;
                }
            }
        });
        rows
    }

    async fn begin_copy(&self) -> Result<Box<dyn CopyWriter>, StoreError> {
        Ok(Box::new(SqliteCopy { tx: self.writer.begin().await? }))
    }
}

/// A copy's transaction on the writer connection.
struct SqliteCopy {
    tx: Transaction<'static, Sqlite>,
}

#[async_trait]
impl CopyWriter for SqliteCopy {
    async fn insert(&mut self, table: &TableInfo, rows: &[Row]) -> Result<(), StoreError> {
        let head = format!("insert into {} ({}) ", quote(&table.name), column_list(table));
        for chunk in rows.chunks((MAX_PARAMETERS / table.columns.len().max(1)).max(1)) {
            let mut insert = QueryBuilder::<Sqlite>::new(&head);
            insert.push_values(chunk, |mut values, row| {
                for cell in row {
                    match cell {
                        Cell::Null => values.push_bind(None::<i64>),
                        Cell::Int(value) => values.push_bind(*value),
                        Cell::Text(text) => values.push_bind(text.as_str()),
                        Cell::Bytes(bytes) => values.push_bind(bytes.as_slice()),
                    };
                }
            });
            insert.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        // AUTOINCREMENT needs nothing more: inserting an explicit id raises the table's
        // `sqlite_sequence` entry to it, so new ids continue after the copied ones.
        Ok(self.tx.commit().await?)
    }
}
