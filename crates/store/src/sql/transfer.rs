//! The database as tables of typed cells, for copying a whole directory to or from another
//! database (`roster_domain::transfer` decides what is copied and checks the result).
//!
//! Each engine describes its own tables (its catalog, [`Store::describe_tables`]); reading and
//! writing their rows is the same in both.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use roster_domain::transfer::{self, Cell, Column, CopyWriter, Kind, Row as Cells, Rows, TableInfo, Transfer};
use roster_domain::StoreError;
use sqlx::{QueryBuilder, Row as _, Transaction};

use super::{Db, Row, Store, BYTE_ORDER, DIALECT, MAX_PARAMETERS};

/// `name` as a quoted identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table's columns, quoted and separated by commas.
fn column_list(table: &TableInfo) -> String {
    table.columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ")
}

/// The kind of a column declared as `declared`: the engine's integer type, `text` or its
/// bytes type; a copy carries no other.
pub(crate) fn kind_of(table: &str, column: &str, declared: &str) -> Result<Kind, StoreError> {
    match declared.to_ascii_lowercase() {
        t if t == DIALECT.integer_type => Ok(Kind::Int),
        t if t == "text" => Ok(Kind::Text),
        t if t == DIALECT.bytes_type => Ok(Kind::Bytes),
        _ => Err(StoreError::backend(format!(
            "column {table}.{column} is declared {declared:?}; a copy carries only {}, text and {}",
            DIALECT.integer_type, DIALECT.bytes_type
        ))),
    }
}

/// A row's cells, each decoded as its column's type.
fn cells(row: &Row, columns: &[Column]) -> Result<Cells, StoreError> {
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
impl Transfer for Store {
    async fn tables(&self) -> Result<Vec<TableInfo>, StoreError> {
        self.describe_tables().await
    }

    async fn count(&self, table: &TableInfo) -> Result<u64, StoreError> {
        let rows: i64 = sqlx::query_scalar(&format!("select count(*) from {}", quote(&table.name)))
            .fetch_one(self.reader())
            .await?;
        Ok(u64::try_from(rows).unwrap_or_default())
    }

    fn rows(&self, table: &TableInfo) -> Rows {
        // Texts in byte order whatever the database's collation, so that both sides hash their
        // rows in the same order.
        let order: Vec<String> = table
            .order_by()
            .iter()
            .map(|c| match c.kind {
                Kind::Text => format!("{}{BYTE_ORDER}", quote(&c.name)),
                Kind::Int | Kind::Bytes => quote(&c.name),
            })
            .collect();
        let sql = format!("select {} from {} order by {}", column_list(table), quote(&table.name), order.join(", "));
        let columns = table.columns.clone();
        let pool = self.reader().clone();
        let (sender, rows) = transfer::row_channel();
        tokio::spawn(async move {
            let mut fetched = sqlx::query(&sql).fetch(&pool);
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
        Ok(Box::new(Copy { tx: self.begin_write().await? }))
    }
}

/// A copy's transaction.
struct Copy {
    tx: Transaction<'static, Db>,
}

#[async_trait]
impl CopyWriter for Copy {
    async fn insert(&mut self, table: &TableInfo, rows: &[Cells]) -> Result<(), StoreError> {
        let head = format!("insert into {} ({}) ", quote(&table.name), column_list(table));
        for chunk in rows.chunks((MAX_PARAMETERS / table.columns.len().max(1)).max(1)) {
            let mut insert = QueryBuilder::<Db>::new(&head);
            insert.push_values(chunk, |mut values, row| {
                for (column, cell) in table.columns.iter().zip(row) {
                    // A null is sent with its column's type: PostgreSQL refuses a text null
                    // for a bigint column.
                    match (cell, column.kind) {
                        (Cell::Null, Kind::Int) => values.push_bind(None::<i64>),
                        (Cell::Null, Kind::Text) => values.push_bind(None::<&str>),
                        (Cell::Null, Kind::Bytes) => values.push_bind(None::<&[u8]>),
                        (Cell::Int(value), _) => values.push_bind(*value),
                        (Cell::Text(text), _) => values.push_bind(text.as_str()),
                        (Cell::Bytes(bytes), _) => values.push_bind(bytes.as_slice()),
                    };
                }
            });
            insert.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        Store::continue_identities(&mut self.tx).await?;
        Ok(self.tx.commit().await?)
    }
}
