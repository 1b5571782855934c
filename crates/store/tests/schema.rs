//! The PostgreSQL schema must stay the SQLite schema: the same tables, columns in the same order
//! (SQLite's integers as bigint), keys, indexes over the same columns and expressions with the
//! same conditions, and foreign keys. A migration added to one engine only fails here.

#[path = "../src/postgres/testing.rs"]
mod testing;

use std::collections::{BTreeMap, BTreeSet};

use roster_store::postgres::PostgresStore;
use roster_store::sqlite::{SqliteStore, DATABASE_FILE};
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

/// One table, in terms both engines can be compared in.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// Name, type (SQLite's spelled as PostgreSQL's) and whether nulls are refused, in order.
    columns: Vec<(String, String, bool)>,
    primary_key: Vec<String>,
    /// Unique constraints (not indexes created by name), by their columns.
    unique: BTreeSet<Vec<String>>,
    /// Indexes created by name: their columns or expressions and their condition, normalised.
    indexes: BTreeMap<String, (Vec<String>, String)>,
    /// Column, referenced table, referenced column, action on delete.
    foreign_keys: BTreeSet<(String, String, String, String)>,
}

/// Spelling differences only: case, spaces, parentheses, quotes, casts, `<>` for `!=`.
fn normalise(sql: &str) -> String {
    sql.to_lowercase()
        .replace("::text", "")
        .replace("<>", "!=")
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"'))
        .collect()
}

/// The column list and condition of a `create index … on table (…) where …` statement.
fn split_index_sql(sql: &str) -> (Vec<String>, String) {
    let open = sql.find('(').expect("a column list");
    let mut depth = 0;
    let mut columns = vec![String::new()];
    let mut close = sql.len();
    for (i, c) in sql[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 1 => columns.push(String::new()),
            _ => {}
        }
        if depth == 0 {
            close = open + i;
            break;
        }
        if !(depth == 1 && (c == '(' || c == ',')) {
            columns.last_mut().unwrap().push(c);
        }
    }
    let rest = sql[close + 1..].trim();
    let condition = rest.strip_prefix("where").or_else(|| rest.strip_prefix("WHERE")).unwrap_or("").trim();
    (columns.iter().map(|c| normalise(c)).collect(), normalise(condition))
}

async fn sqlite_schema(conn: &mut SqliteConnection) -> BTreeMap<String, Table> {
    let names: Vec<String> = sqlx::query_scalar(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' \
         and name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut schema = BTreeMap::new();
    for name in names {
        let mut table = Table::default();
        let columns = sqlx::query("select name, type, \"notnull\", pk from pragma_table_info(?) order by cid")
            .bind(&name)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let mut key: Vec<(i64, String)> = Vec::new();
        for c in &columns {
            let (column, pk): (String, i64) = (c.get("name"), c.get("pk"));
            let declared: String = c.get("type");
            let kind = match declared.to_lowercase().as_str() {
                "integer" => "bigint".to_string(),
                "blob" => "bytea".to_string(),
                other => other.to_string(),
            };
            table.columns.push((column.clone(), kind, c.get::<i64, _>("notnull") == 1 || pk > 0));
            if pk > 0 {
                key.push((pk, column));
            }
        }
        key.sort();
        table.primary_key = key.into_iter().map(|(_, c)| c).collect();
        let indexes = sqlx::query("select name, origin from pragma_index_list(?)")
            .bind(&name)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        for index in &indexes {
            let (index_name, origin): (String, String) = (index.get("name"), index.get("origin"));
            match origin.as_str() {
                "pk" => {}
                "u" => {
                    let columns: Vec<String> =
                        sqlx::query_scalar("select name from pragma_index_info(?) order by seqno")
                            .bind(&index_name)
                            .fetch_all(&mut *conn)
                            .await
                            .unwrap();
                    table.unique.insert(columns);
                }
                _ => {
                    let sql: String = sqlx::query_scalar("select sql from sqlite_master where name = ?")
                        .bind(&index_name)
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap();
                    table.indexes.insert(index_name, split_index_sql(&sql));
                }
            }
        }
        let keys = sqlx::query("select \"from\", \"table\", \"to\", on_delete from pragma_foreign_key_list(?)")
            .bind(&name)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        for k in &keys {
            table.foreign_keys.insert((
                k.get("from"),
                k.get("table"),
                k.get("to"),
                k.get::<String, _>("on_delete").to_lowercase(),
            ));
        }
        schema.insert(name, table);
    }
    schema
}

async fn postgres_schema(conn: &mut PgConnection) -> BTreeMap<String, Table> {
    let names: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = current_schema() \
         and table_type = 'BASE TABLE' and table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut schema = BTreeMap::new();
    for name in names {
        let mut table = Table::default();
        let columns = sqlx::query(
            "select column_name::text as name, data_type::text as kind, is_nullable = 'NO' as not_null \
             from information_schema.columns where table_schema = current_schema() and table_name = $1 \
             order by ordinal_position",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        table.columns = columns.iter().map(|c| (c.get("name"), c.get("kind"), c.get("not_null"))).collect();
        let indexes = sqlx::query(
            "select i.relname::text as name, x.indisprimary as primary_key, \
             exists (select 1 from pg_constraint c where c.conindid = x.indexrelid) as constraint_backed, \
             array(select pg_get_indexdef(x.indexrelid, k, true) from generate_series(1, x.indnkeyatts) as k \
                   order by k) as columns, \
             coalesce(pg_get_expr(x.indpred, x.indrelid, true), '') as condition \
             from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid \
             join pg_namespace n on n.oid = t.relnamespace \
             where n.nspname = current_schema() and t.relname = $1",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        for index in &indexes {
            let columns: Vec<String> = index.get::<Vec<String>, _>("columns").iter().map(|c| normalise(c)).collect();
            if index.get("primary_key") {
                table.primary_key = columns;
            } else if index.get("constraint_backed") {
                table.unique.insert(columns);
            } else {
                table.indexes.insert(index.get("name"), (columns, normalise(index.get("condition"))));
            }
        }
        let keys = sqlx::query(
            "select a.attname::text as from_column, r.relname::text as to_table, ra.attname::text as to_column, \
             case c.confdeltype when 'c' then 'cascade' when 'a' then 'no action' when 'r' then 'restrict' \
             when 'n' then 'set null' when 'd' then 'set default' end as on_delete \
             from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_class r on r.oid = c.confrelid \
             join pg_namespace n on n.oid = t.relnamespace \
             cross join lateral unnest(c.conkey, c.confkey) as k (from_number, to_number) \
             join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.from_number \
             join pg_attribute ra on ra.attrelid = c.confrelid and ra.attnum = k.to_number \
             where c.contype = 'f' and n.nspname = current_schema() and t.relname = $1",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        for k in &keys {
            table.foreign_keys.insert((
                k.get("from_column"),
                k.get("to_table"),
                k.get("to_column"),
                k.get("on_delete"),
            ));
        }
        schema.insert(name, table);
    }
    schema
}

#[tokio::test]
async fn postgres_migrations_build_the_sqlite_schema() {
    let data = tempfile::tempdir().unwrap();
    SqliteStore::open(data.path()).await.unwrap().close().await;
    let url = format!("sqlite://{}?mode=ro", data.path().join(DATABASE_FILE).display());
    let sqlite = sqlite_schema(&mut SqliteConnection::connect(&url).await.unwrap()).await;

    let Some(db) = testing::TestDb::create().await else { return };
    PostgresStore::connect(&db.url).await.unwrap().close().await;
    let postgres = postgres_schema(&mut PgConnection::connect(&db.url).await.unwrap()).await;

    // The comparison means something only if it sees the schema at all.
    assert!(sqlite.len() >= 10 && sqlite["users"].indexes.len() >= 5, "{sqlite:#?}");
    assert_eq!(sqlite.keys().collect::<Vec<_>>(), postgres.keys().collect::<Vec<_>>(), "tables");
    for (name, table) in &sqlite {
        assert_eq!(table, &postgres[name], "table {name}");
    }
}

#[tokio::test]
async fn the_columns_lists_sort_and_search_by_compare_bytes() {
    let Some(db) = testing::TestDb::create().await else { return };
    PostgresStore::connect(&db.url).await.unwrap().close().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    for (table, column) in [
        ("users", "id"),
        ("users", "username"),
        ("users", "display_key"),
        ("users", "first_key"),
        ("users", "last_key"),
        ("alternate_emails", "user_id"),
        ("alternate_emails", "address_key"),
        ("alternate_emails", "display_key"),
        ("alternate_emails", "username"),
    ] {
        let collation: Option<String> = sqlx::query_scalar(
            "select collation_name::text from information_schema.columns where table_schema = current_schema() \
             and table_name = $1 and column_name = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(collation.as_deref(), Some("C"), "{table}.{column}");
    }
}
