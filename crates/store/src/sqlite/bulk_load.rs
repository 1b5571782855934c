//! Loading many users into SQLite at once.

use roster_domain::audit::AuditEntry;
use roster_domain::user::User;
use roster_domain::StoreError;
use sqlx::{Connection, SqliteConnection};

use crate::sqlite::users::insert_rows;
use crate::sqlite::{audit, SqliteStore, PAGE_CACHE_KIB};

/// Into an empty directory: one transaction that sets the secondary indexes aside, inserts
/// everything and builds them again in one sorted pass each, which is several times faster
/// than keeping them up to date row by row. Otherwise a transaction per batch.
async fn load(
    conn: &mut SqliteConnection,
    batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let empty: bool = sqlx::query_scalar("select not exists (select 1 from users)").fetch_one(&mut *conn).await?;
    if empty {
        let mut tx = conn.begin_with("begin immediate").await?;
        // The exact definitions the migrations created, so the rebuild cannot drift from them.
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "select name, sql from sqlite_master where type = 'index' and sql is not null \
             and tbl_name in ('users', 'alternate_emails') and sql not like '%unique%'",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (name, _) in &indexes {
            sqlx::query(&format!("drop index \"{name}\"")).execute(&mut *tx).await?;
        }
        for batch in batches {
            insert_rows(&mut tx, &batch).await?;
        }
        for (_, sql) in &indexes {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        audit::insert(&mut tx, entry).await?;
        return Ok(tx.commit().await?);
    }
    for (n, batch) in batches.enumerate() {
        let mut tx = conn.begin_with("begin immediate").await?;
        insert_rows(&mut tx, &batch).await?;
        if n == 0 {
            audit::insert(&mut tx, entry).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

impl SqliteStore {
    /// Loads users with the cache enlarged for the load ([`load`] tells how).
    pub(crate) async fn bulk_load(
        &self,
        batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        // Random keys (ids, usernames) touch index pages all over the file: a large cache for
        // the duration of the load saves most of the re-reads, then the usual size returns.
        sqlx::query("pragma cache_size = -262144").execute(&mut *conn).await?;
        let result = load(&mut conn, batches, entry).await;
        sqlx::query(&format!("pragma cache_size = {PAGE_CACHE_KIB}")).execute(&mut *conn).await?;
        result
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::AuditAction;
    use roster_domain::store::ImportStore;

    use crate::sqlite::fixtures::{audit, test_store, user};

    #[tokio::test]
    async fn a_load_into_an_empty_directory_rebuilds_exactly_the_indexes_it_set_aside() {
        let Some((_dir, store)) = test_store().await else { return };
        let index_sql = "select group_concat(sql, ';') from (select sql from sqlite_master \
                         where type = 'index' and tbl_name in ('users', 'alternate_emails') order by name)";
        let before: String = sqlx::query_scalar(index_sql).fetch_one(&store.readers).await.unwrap();
        let mut batches = (0..3).map(|b| (0..100).map(|i| user(b * 100 + i)).collect::<Vec<_>>());
        store.insert_users_bulk(&mut batches, &audit(AuditAction::UserCreated)).await.unwrap();
        let after: String = sqlx::query_scalar(index_sql).fetch_one(&store.readers).await.unwrap();
        assert_eq!(after, before);
    }
}
