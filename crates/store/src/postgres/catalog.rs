//! PostgreSQL's catalog, for copying a directory: its tables, their columns, keys and
//! references, and the identity sequences a copy moves past the copied ids.
//!
//! `bigint` columns carry integers, `text` texts and `bytea` bytes; the schema uses no other
//! types. Identity columns take the copied ids as they are, and their sequences are moved past
//! them before the copy commits.

use std::collections::BTreeSet;

use roster_domain::transfer::{Column, TableInfo};
use roster_domain::StoreError;
use sqlx::{PgConnection, Row as _};

use crate::postgres::sql::transfer::{kind_of, quote};
use crate::postgres::PostgresStore;

impl PostgresStore {
    /// Every table but the migrations' own, described.
    pub(crate) async fn describe_tables(&self) -> Result<Vec<TableInfo>, StoreError> {
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

    /// Moves each identity's sequence past the copied ids, inside the copy's transaction.
    pub(crate) async fn continue_identities(conn: &mut PgConnection) -> Result<(), StoreError> {
        // Explicit ids leave an identity's sequence where it was: the next generated id would
        // collide with a copied one.
        let identities: Vec<(String, String)> = sqlx::query_as(
            "select table_name::text, column_name::text from information_schema.columns \
             where table_schema = current_schema() and is_identity = 'YES'",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (table, column) in identities {
            let sql = format!(
                "select setval(pg_get_serial_sequence($1, $2), coalesce(max({}), 0) + 1, false) from {}",
                quote(&column),
                quote(&table)
            );
            sqlx::query(&sql).bind(quote(&table)).bind(&column).execute(&mut *conn).await.map_err(|e| {
                StoreError::backend(format!("cannot move the sequence of {table}.{column} past the copied ids: {e}"))
            })?;
        }
        Ok(())
    }
}
