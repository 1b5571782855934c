//! Changes to many users in one transaction (imports), and reading users in bulk.

use roster_domain::audit::AuditEntry;
use roster_domain::store::{UserBatches, UserWrite};
use roster_domain::user::{User, UserId};
use roster_domain::StoreError;
use sqlx::{Connection, SqliteConnection};

use crate::sqlite::rows::{user_from_row, USER_COLUMNS};
use crate::sqlite::users::{insert_rows, update_row, write_rest, Accepted};
use crate::sqlite::{audit, SqliteStore};

/// Keys per `in (…)` list: far inside SQLite's limit on parameters.
const KEYS_PER_QUERY: usize = 500;

/// The users whose `column` (`id` or `username`) is one of `keys`, with their addresses.
async fn users_where(conn: &mut SqliteConnection, column: &str, keys: &[String]) -> Result<Vec<User>, StoreError> {
    let mut users = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!("select {USER_COLUMNS} from users where {column} in ({})", vec!["?"; chunk.len()].join(", "));
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            users.push(user_from_row(&row)?);
        }
    }
    Ok(users)
}

/// Writes one batch's creations and updates.
async fn write(conn: &mut SqliteConnection, writes: Vec<UserWrite>) -> Result<(), StoreError> {
    let mut created: Vec<User> = Vec::new();
    let mut created_audit: Vec<AuditEntry> = Vec::new();
    let mut updates = Vec::new();
    for write in writes {
        match write {
            UserWrite::Create { user, audit } => {
                created.push(user);
                created_audit.push(audit);
            }
            UserWrite::Update { before, after, audit, messages } => updates.push((before, after, audit, messages)),
        }
    }
    insert_rows(conn, &created).await?;
    audit::insert_many(conn, &created_audit.iter().collect::<Vec<_>>()).await?;
    for (before, after, _, _) in &updates {
        update_row(conn, before, after).await?;
    }
    let accepted: Vec<Accepted<'_>> =
        updates.iter().map(|(before, after, audit, messages)| Accepted { before, after, audit, messages }).collect();
    write_rest(conn, &accepted).await
}

impl SqliteStore {
    pub(crate) async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        let keys: Vec<String> = ids.iter().map(UserId::to_string).collect();
        users_where(&mut conn, "id", &keys).await
    }

    pub(crate) async fn apply_user_batches(&self, batches: &mut dyn UserBatches) -> Result<bool, StoreError> {
        if batches.dry_run() {
            // A read transaction: one snapshot throughout, and no writer held up.
            let mut conn = self.readers.acquire().await?;
            let mut tx = conn.begin().await?;
            while let Some(names) = batches.next_batch() {
                let keys: Vec<String> = names.iter().map(|n| n.as_str().to_string()).collect();
                let stored = users_where(&mut tx, "username", &keys).await?;
                batches.plan(stored);
            }
            tx.rollback().await?;
            return Ok(false);
        }
        let mut conn = self.writer.acquire().await?;
        // Immediate: the transaction reads before it writes, and another process (a server
        // beside this command line) committing in between would otherwise fail it at its
        // first write.
        let mut tx = conn.begin_with("begin immediate").await?;
        while let Some(names) = batches.next_batch() {
            let keys: Vec<String> = names.iter().map(|n| n.as_str().to_string()).collect();
            let stored = users_where(&mut tx, "username", &keys).await?;
            write(&mut tx, batches.plan(stored)).await?;
        }
        if batches.commit() {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }
}
