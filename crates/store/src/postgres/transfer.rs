//! The database as tables of typed cells, for copying a whole directory to or from another
//! database (`roster_domain::transfer` decides what is copied and checks the result).
//!
//! `bigint` columns carry integers, `text` texts and `bytea` bytes; the schema uses no other
//! types. Identity columns take the copied ids as they are, and their sequences are moved past
//! them before the copy commits.

use std::collections::BTreeSet;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use roster_domain::transfer::{self, Cell, Column, CopyWriter, Kind, Row, Rows, TableInfo, Transfer};
use roster_domain::StoreError;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row as _, Transaction};

use crate::postgres::PostgresStore;

/// PostgreSQL's limit on parameters in one statement.
const MAX_PARAMETERS: usize = 65_535;

/// `name` as a quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table's columns, quoted and separated by commas.
fn column_list(table: &TableInfo) -> String {
    table.columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ")
}

/// The kind of a column of type `data_type` (as `information_schema` names it).
fn kind_of(table: &str, column: &str, data_type: &str) -> Result<Kind, StoreError> {
    match data_type {
        "bigint" => Ok(Kind::Int),
        "text" => Ok(Kind::Text),
        "bytea" => Ok(Kind::Bytes),
        _ => Err(StoreError::backend(format!(
            "column {table}.{column} is of type {data_type}; a copy carries only bigint, text and bytea"
        ))),
    }
}

/// A row's cells, each decoded as its column's type.
fn cells(row: &PgRow, columns: &[Column]) -> Result<Row, StoreError> {
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
impl Transfer for PostgresStore {
    async fn tables(&self) -> Result<Vec<TableInfo>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "select table_name::text from information_schema.tables where table_schema = current_schema() \
             and table_type = 'BASE TABLE' and table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let described = sqlx::query(
                "select column_name::text as name, data_type::text as kind from information_schema.columns \
                 where table_schema = current_schema() and table_name = $1 order by ordinal_position",
            )
            .bind(&name)
            .fetch_all(&self.pool)
            .await?;
            let columns = described
                .iter()
                .map(|c| {
                    let (column, data_type): (String, String) = (c.get("name"), c.get("kind"));
                    Ok(Column { kind: kind_of(&name, &column, &data_type)?, name: column })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let primary_key: Vec<String> = sqlx::query_scalar(
                "select k.column_name::text from information_schema.table_constraints c \
                 join information_schema.key_column_usage k on k.constraint_schema = c.constraint_schema \
                 and k.constraint_name = c.constraint_name \
                 where c.table_schema = current_schema() and c.table_name = $1 and c.constraint_type = 'PRIMARY KEY' \
                 order by k.ordinal_position",
            )
            .bind(&name)
            .fetch_all(&self.pool)
            .await?;
            let references: BTreeSet<String> = sqlx::query_scalar(
                "select r.relname::text from pg_constraint c join pg_class t on t.oid = c.conrelid \
                 join pg_class r on r.oid = c.confrelid join pg_namespace n on n.oid = t.relnamespace \
                 where c.contype = 'f' and n.nspname = current_schema() and t.relname = $1",
            )
            .bind(&name)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect();
            tables.push(TableInfo { name, columns, primary_key, references });
        }
        Ok(tables)
    }

    async fn count(&self, table: &TableInfo) -> Result<u64, StoreError> {
        let rows: i64 =
            sqlx::query_scalar(&format!("select count(*) from {}", quote(&table.name))).fetch_one(&self.pool).await?;
        Ok(u64::try_from(rows).unwrap_or_default())
    }

    fn rows(&self, table: &TableInfo) -> Rows {
        // Texts in byte order whatever the database's collation, as SQLite sorts them, so that
        // both sides hash their rows in the same order.
        let order: Vec<String> = table
            .order_by()
            .iter()
            .map(|c| match c.kind {
                Kind::Text => format!("{} collate \"C\"", quote(&c.name)),
                Kind::Int | Kind::Bytes => quote(&c.name),
            })
            .collect();
        let sql = format!("select {} from {} order by {}", column_list(table), quote(&table.name), order.join(", "));
        let columns = table.columns.clone();
        let pool = self.pool.clone();
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
        Ok(Box::new(PostgresCopy { tx: self.pool.begin().await? }))
    }
}

/// A copy's transaction.
struct PostgresCopy {
    tx: Transaction<'static, Postgres>,
}

#[async_trait]
impl CopyWriter for PostgresCopy {
    async fn insert(&mut self, table: &TableInfo, rows: &[Row]) -> Result<(), StoreError> {
        let head = format!("insert into {} ({}) ", quote(&table.name), column_list(table));
        for chunk in rows.chunks((MAX_PARAMETERS / table.columns.len().max(1)).max(1)) {
            let mut insert = QueryBuilder::<Postgres>::new(&head);
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
        // Explicit ids leave an identity's sequence where it was: the next generated id would
        // collide with a copied one.
        let identities: Vec<(String, String)> = sqlx::query_as(
            "select table_name::text, column_name::text from information_schema.columns \
             where table_schema = current_schema() and is_identity = 'YES'",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (table, column) in identities {
            let sql = format!(
                "select setval(pg_get_serial_sequence($1, $2), coalesce(max({}), 0) + 1, false) from {}",
                quote(&column),
                quote(&table)
            );
            sqlx::query(&sql).bind(quote(&table)).bind(&column).execute(&mut *self.tx).await.map_err(|e| {
                StoreError::backend(format!("cannot move the sequence of {table}.{column} past the copied ids: {e}"))
            })?;
        }
        Ok(self.tx.commit().await?)
    }
}
