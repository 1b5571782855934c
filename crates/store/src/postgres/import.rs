//! Changes to many users in one transaction (imports), and reading users in bulk.

use roster_domain::audit::AuditEntry;
use roster_domain::store::{UserBatches, UserWrite};
use roster_domain::user::{User, UserId};
use roster_domain::StoreError;
use sqlx::{Connection, PgConnection};

use crate::postgres::rows::{user_from_row, USER_COLUMNS};
use crate::postgres::users::{insert_rows, update_row, write_rest};
use crate::postgres::{audit, PostgresStore};

/// The users whose `column` (`id` or `username`) is one of `keys`, with their addresses;
/// `locking` adds `for update`, so that no other node changes them before the caller commits.
async fn users_where(
    conn: &mut PgConnection,
    column: &str,
    keys: &[String],
    locking: bool,
) -> Result<Vec<User>, StoreError> {
    let lock = if locking { " for update" } else { "" };
    let sql = format!("select {USER_COLUMNS} from users where {column} = any($1){lock}");
    let rows = sqlx::query(&sql).bind(keys).fetch_all(&mut *conn).await?;
    rows.iter().map(user_from_row).collect()
}

/// Writes one batch's creations and updates.
async fn write(conn: &mut PgConnection, writes: Vec<UserWrite>) -> Result<(), StoreError> {
    let mut created: Vec<User> = Vec::new();
    let mut created_audit: Vec<AuditEntry> = Vec::new();
    for write in writes {
        match write {
            UserWrite::Create { user, audit } => {
                created.push(user);
                created_audit.push(audit);
            }
            UserWrite::Update { before, after, audit, messages } => {
                update_row(conn, &before, &after).await?;
                write_rest(conn, &before, &after, &audit, &messages).await?;
            }
        }
    }
    insert_rows(conn, &created).await?;
    audit::insert_many(conn, &created_audit.iter().collect::<Vec<_>>()).await
}

impl PostgresStore {
    pub(crate) async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let keys: Vec<String> = ids.iter().map(UserId::to_string).collect();
        users_where(&mut conn, "id", &keys, false).await
    }

    pub(crate) async fn apply_user_batches(&self, batches: &mut dyn UserBatches) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let dry_run = batches.dry_run();
        // A dry run reads one snapshot and locks nothing; an import locks each batch's users
        // as it reads them, so that a save on another node waits for the import instead of
        // being overwritten by it.
        let begin = if dry_run { "begin isolation level repeatable read read only" } else { "begin" };
        let mut tx = conn.begin_with(begin).await?;
        while let Some(names) = batches.next_batch() {
            let keys: Vec<String> = names.iter().map(|n| n.as_str().to_string()).collect();
            let stored = users_where(&mut tx, "username", &keys, !dry_run).await?;
            let writes = batches.plan(stored);
            if !dry_run {
                write(&mut tx, writes).await?;
            }
        }
        if !dry_run && batches.commit() {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }
}
