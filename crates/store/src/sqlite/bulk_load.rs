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
    #[allow(unused_imports)]
    use roster_domain::store::*;
    use std::borrow::Cow;

    use roster_domain::user::UserId;

    use crate::sqlite::{SqliteStore, MIGRATOR};
    use roster_domain::store::UserStore;

    /// The migration that put each user's addresses on their row.
    const ADDRESS_LIST: i64 = 20261128000011;

    #[tokio::test]
    async fn users_stored_before_the_address_list_get_theirs_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_unmigrated(dir.path()).await.unwrap();
        let mut earlier = sqlx::migrate::Migrator::DEFAULT;
        earlier.migrations = Cow::Owned(MIGRATOR.iter().filter(|m| m.version < ADDRESS_LIST).cloned().collect());
        earlier.run(&store.writer).await.unwrap();
        let (with, without) = (UserId::random(), UserId::random());
        for (id, name) in [(with, "adele"), (without, "alex")] {
            sqlx::query(
                "insert into users (id, username, display_name, display_key, enabled, must_change_password, \
                 created_at, updated_at, updated_by, version) values (?, ?, ?, ?, 1, 0, 0, 0, 'test', 1)",
            )
            .bind(id.to_string())
            .bind(format!("{name}@contoso.com"))
            .bind(name)
            .bind(name)
            .execute(&store.writer)
            .await
            .unwrap();
        }
        for (position, address) in [(1, "Second@fabrikam.com"), (0, "first@fabrikam.com")] {
            sqlx::query(
                "insert into alternate_emails (user_id, position, address, address_key, display_key, username, \
                 active) values (?, ?, ?, lower(?3), 'adele', 'adele@contoso.com', 1)",
            )
            .bind(with.to_string())
            .bind(position)
            .bind(address)
            .execute(&store.writer)
            .await
            .unwrap();
        }

        store.migrate().await.unwrap();
        let adele = store.get_user(with).await.unwrap().unwrap();
        assert_eq!(adele.contact.alternate_emails, vec!["first@fabrikam.com", "Second@fabrikam.com"]);
        let alex = store.get_user(without).await.unwrap().unwrap();
        assert!(alex.contact.alternate_emails.is_empty());
    }
}
