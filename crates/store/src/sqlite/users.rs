//! Users and their alternate email addresses.

use roster_domain::audit::AuditEntry;
use roster_domain::outbox::Message;
use roster_domain::recovery::methods::methods_of;
use roster_domain::recovery::ContactMethod;
use roster_domain::user::{sort_key, User, UserId};
use roster_domain::{StoreError, Timestamp};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Connection, Row, SqliteConnection};

use crate::sqlite::group_commit::{InsertJob, SaveJob};
use crate::sqlite::rows::{email_list, parse_id, user_from_row, USER_COLUMNS};
use crate::sqlite::{audit, outbox, recovery, unique_or_backend, SqliteStore, PAGE_CACHE_KIB};

const INSERT_COLUMNS: &str = "id, username, display_name, display_key, first_name, first_key, last_name, last_key, \
     job_title, department, office, office_phone, mobile_phone, alternate_mobile_phone, fax, street_address, city, \
     state, postal_code, country, roles, enabled, must_change_password, password_hash, created_at, updated_at, \
     updated_by, version, deleted_at, alternate_email_list";
const INSERT_COLUMN_COUNT: usize = 30;
/// Rows per multi-row insert in bulk loads: 40 × 30 parameters (and 400 × 7 for addresses)
/// stay far below SQLite's limit.
const BULK_CHUNK: usize = 40;

fn key(value: &Option<String>) -> Option<String> {
    value.as_deref().map(sort_key)
}

fn push_user_values(
    args: &mut SqliteArguments<'_>,
    user: &User,
    password_hash: Option<&str>,
) -> Result<(), StoreError> {
    let c = &user.contact;
    let add = |r: Result<(), sqlx::error::BoxDynError>| r;
    add(args.add(user.id.to_string())).map_err(StoreError::backend)?;
    add(args.add(user.username.as_str().to_string())).map_err(StoreError::backend)?;
    add(args.add(c.display_name.clone())).map_err(StoreError::backend)?;
    add(args.add(sort_key(&c.display_name))).map_err(StoreError::backend)?;
    add(args.add(c.first_name.clone())).map_err(StoreError::backend)?;
    add(args.add(key(&c.first_name))).map_err(StoreError::backend)?;
    add(args.add(c.last_name.clone())).map_err(StoreError::backend)?;
    add(args.add(key(&c.last_name))).map_err(StoreError::backend)?;
    for value in [&c.job_title, &c.department, &c.office, &c.office_phone, &c.mobile_phone] {
        add(args.add(value.clone())).map_err(StoreError::backend)?;
    }
    for value in [&c.alternate_mobile_phone, &c.fax, &c.street_address, &c.city, &c.state, &c.postal_code, &c.country] {
        add(args.add(value.clone())).map_err(StoreError::backend)?;
    }
    add(args.add(user.roles.bits())).map_err(StoreError::backend)?;
    add(args.add(user.enabled)).map_err(StoreError::backend)?;
    add(args.add(user.must_change_password)).map_err(StoreError::backend)?;
    add(args.add(password_hash.map(str::to_string))).map_err(StoreError::backend)?;
    add(args.add(user.created_at.millis())).map_err(StoreError::backend)?;
    add(args.add(user.updated_at.millis())).map_err(StoreError::backend)?;
    add(args.add(user.updated_by.clone())).map_err(StoreError::backend)?;
    add(args.add(user.version)).map_err(StoreError::backend)?;
    add(args.add(user.deleted_at.map(Timestamp::millis))).map_err(StoreError::backend)?;
    add(args.add(email_list(&c.alternate_emails)?)).map_err(StoreError::backend)
}

fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// Address rows per insert: seven parameters each, well inside SQLite's limit of 32,766.
const EMAIL_ROWS_PER_INSERT: usize = 1_000;

pub(crate) async fn replace_emails(conn: &mut SqliteConnection, users: &[&User]) -> Result<(), StoreError> {
    let rows: Vec<(&User, usize, &String)> = users
        .iter()
        .flat_map(|user| user.contact.alternate_emails.iter().enumerate().map(move |(i, a)| (*user, i, a)))
        .collect();
    for chunk in rows.chunks(EMAIL_ROWS_PER_INSERT) {
        let mut args = SqliteArguments::default();
        for (user, position, address) in chunk {
            args.add(user.id.to_string()).map_err(StoreError::backend)?;
            args.add(*position as i64).map_err(StoreError::backend)?;
            args.add((*address).clone()).map_err(StoreError::backend)?;
            args.add(address.to_lowercase()).map_err(StoreError::backend)?;
            args.add(sort_key(&user.contact.display_name)).map_err(StoreError::backend)?;
            args.add(user.username.as_str().to_string()).map_err(StoreError::backend)?;
            args.add(user.deleted_at.is_none()).map_err(StoreError::backend)?;
        }
        let sql = format!(
            "insert into alternate_emails (user_id, position, address, address_key, display_key, username, active) \
             values {}",
            placeholders(chunk.len(), 7)
        );
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts one user's row; a taken username is [`StoreError::Duplicate`] and writes nothing.
pub(crate) async fn insert_user_row(
    conn: &mut SqliteConnection,
    user: &User,
    password_hash: Option<&str>,
) -> Result<(), StoreError> {
    let mut args = SqliteArguments::default();
    push_user_values(&mut args, user, password_hash)?;
    let sql = format!("insert into users ({INSERT_COLUMNS}) values {}", placeholders(1, INSERT_COLUMN_COUNT));
    sqlx::query_with(&sql, args).execute(&mut *conn).await.map_err(|e| unique_or_backend(e, "username"))?;
    Ok(())
}

pub(crate) async fn insert_rows(conn: &mut SqliteConnection, users: &[User]) -> Result<(), StoreError> {
    for chunk in users.chunks(BULK_CHUNK) {
        let mut args = SqliteArguments::default();
        for user in chunk {
            push_user_values(&mut args, user, None)?;
        }
        let sql =
            format!("insert into users ({INSERT_COLUMNS}) values {}", placeholders(chunk.len(), INSERT_COLUMN_COUNT));
        sqlx::query_with(&sql, args).execute(&mut *conn).await.map_err(|e| unique_or_backend(e, "username"))?;
        replace_emails(conn, &chunk.iter().collect::<Vec<_>>()).await?;
    }
    Ok(())
}

/// Into an empty directory: one transaction that sets the secondary indexes aside, inserts
/// everything and builds them again in one sorted pass each, which is several times faster
/// than keeping them up to date row by row. Otherwise a transaction per batch.
async fn bulk_load(
    conn: &mut SqliteConnection,
    batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let empty: bool = sqlx::query_scalar("select not exists (select 1 from users)").fetch_one(&mut *conn).await?;
    if empty {
        let mut tx = conn.begin().await?;
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
        let mut tx = conn.begin().await?;
        insert_rows(&mut tx, &batch).await?;
        if n == 0 {
            audit::insert(&mut tx, entry).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Writes the columns of the user's row that differ between `before` and `after`, if the stored
/// version is still `before.version`; [`write_rest`] writes the rest of the save. Untouched columns are left out of the update, so their indexes are not
/// rewritten. A refusal (conflict, not found) writes nothing, and the group committer relies on
/// that.
pub(crate) async fn update_row(conn: &mut SqliteConnection, before: &User, after: &User) -> Result<(), StoreError> {
    let (b, a) = (&before.contact, &after.contact);
    let mut columns: Vec<&str> = Vec::new();
    let mut args = SqliteArguments::default();
    let mut set = |column: &'static str, value: Result<(), sqlx::error::BoxDynError>| {
        columns.push(column);
        value
    };
    if b.display_name != a.display_name {
        set("display_name", args.add(a.display_name.clone())).map_err(StoreError::backend)?;
        set("display_key", args.add(sort_key(&a.display_name))).map_err(StoreError::backend)?;
    }
    if b.first_name != a.first_name {
        set("first_name", args.add(a.first_name.clone())).map_err(StoreError::backend)?;
        set("first_key", args.add(key(&a.first_name))).map_err(StoreError::backend)?;
    }
    if b.last_name != a.last_name {
        set("last_name", args.add(a.last_name.clone())).map_err(StoreError::backend)?;
        set("last_key", args.add(key(&a.last_name))).map_err(StoreError::backend)?;
    }
    let texts = [
        ("job_title", &b.job_title, &a.job_title),
        ("department", &b.department, &a.department),
        ("office", &b.office, &a.office),
        ("office_phone", &b.office_phone, &a.office_phone),
        ("mobile_phone", &b.mobile_phone, &a.mobile_phone),
        ("alternate_mobile_phone", &b.alternate_mobile_phone, &a.alternate_mobile_phone),
        ("fax", &b.fax, &a.fax),
        ("street_address", &b.street_address, &a.street_address),
        ("city", &b.city, &a.city),
        ("state", &b.state, &a.state),
        ("postal_code", &b.postal_code, &a.postal_code),
        ("country", &b.country, &a.country),
    ];
    for (column, old, new) in texts {
        if old != new {
            set(column, args.add(new.clone())).map_err(StoreError::backend)?;
        }
    }
    if b.alternate_emails != a.alternate_emails {
        set("alternate_email_list", args.add(email_list(&a.alternate_emails)?)).map_err(StoreError::backend)?;
    }
    if before.roles != after.roles {
        set("roles", args.add(after.roles.bits())).map_err(StoreError::backend)?;
    }
    if before.enabled != after.enabled {
        set("enabled", args.add(after.enabled)).map_err(StoreError::backend)?;
    }
    if before.must_change_password != after.must_change_password {
        set("must_change_password", args.add(after.must_change_password)).map_err(StoreError::backend)?;
    }
    if before.deleted_at != after.deleted_at {
        set("deleted_at", args.add(after.deleted_at.map(Timestamp::millis))).map_err(StoreError::backend)?;
    }
    set("updated_at", args.add(after.updated_at.millis())).map_err(StoreError::backend)?;
    set("updated_by", args.add(after.updated_by.clone())).map_err(StoreError::backend)?;
    set("version", args.add(after.version)).map_err(StoreError::backend)?;
    args.add(after.id.to_string()).map_err(StoreError::backend)?;
    args.add(before.version).map_err(StoreError::backend)?;
    let assignments: Vec<String> = columns.iter().map(|c| format!("{c} = ?")).collect();
    let sql = format!("update users set {} where id = ? and version = ?", assignments.join(", "));
    let updated = sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    if updated.rows_affected() == 0 {
        let current = sqlx::query("select updated_by, updated_at from users where id = ?")
            .bind(after.id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        return Err(match current {
            None => StoreError::NotFound,
            Some(row) => StoreError::VersionConflict {
                changed_by: row.try_get("updated_by")?,
                changed_at: Timestamp(row.try_get("updated_at")?),
            },
        });
    }
    Ok(())
}

/// One accepted save, for [`write_rest`].
pub(crate) struct Accepted<'a> {
    pub before: &'a User,
    pub after: &'a User,
    pub audit: &'a AuditEntry,
    pub messages: &'a [Message],
}

/// The second half of the saves whose rows were updated: their alternate addresses (rewritten
/// when they, or the copies of the sort keys and deleted state they carry, changed), the
/// verifications of changed contacts, the audit records and the messages. A few statements for
/// the whole batch rather than a few per save: each statement costs a hand-off to SQLite's
/// thread, and those hand-offs, not the SQL, bound how many saves a second one writer takes.
pub(crate) async fn write_rest(conn: &mut SqliteConnection, saves: &[Accepted<'_>]) -> Result<(), StoreError> {
    // The last save of a user in the batch holds its final addresses.
    let mut rewritten: Vec<&User> = Vec::new();
    for s in saves.iter().rev() {
        let (b, a) = (&s.before.contact, &s.after.contact);
        let changed = b.alternate_emails != a.alternate_emails
            || b.display_name != a.display_name
            || s.before.deleted_at.is_some() != s.after.deleted_at.is_some();
        if changed && !rewritten.iter().any(|u| u.id == s.after.id) {
            rewritten.push(s.after);
        }
    }
    if !rewritten.is_empty() {
        let sql = format!("delete from alternate_emails where user_id in ({})", vec!["?"; rewritten.len()].join(", "));
        let mut query = sqlx::query(&sql);
        for user in &rewritten {
            query = query.bind(user.id.to_string());
        }
        query.execute(&mut *conn).await?;
        replace_emails(conn, &rewritten).await?;
    }
    let gone: Vec<(UserId, ContactMethod)> = saves
        .iter()
        .flat_map(|s| {
            let kept = methods_of(&s.after.contact);
            methods_of(&s.before.contact).into_iter().filter(move |m| !kept.contains(m)).map(|m| (s.after.id, m))
        })
        .collect();
    recovery::forget_changed(conn, &gone).await?;
    let entries: Vec<&AuditEntry> = saves.iter().map(|s| s.audit).collect();
    audit::insert_many(conn, &entries).await?;
    let messages: Vec<Message> = saves.iter().flat_map(|s| s.messages.iter().cloned()).collect();
    outbox::insert(conn, &messages).await
}

impl SqliteStore {
    pub(crate) async fn count_users(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("select count(*) from users").fetch_one(&self.readers).await?;
        Ok(n.max(0) as u64)
    }

    pub(crate) async fn get_credentials(
        &self,
        username: &str,
    ) -> Result<Option<roster_domain::store::Credentials>, StoreError> {
        let row = sqlx::query("select id, password_hash from users where username = ? and deleted_at is null")
            .bind(username)
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| {
            Ok(roster_domain::store::Credentials {
                user_id: parse_id(&row.try_get::<String, _>("id")?)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    pub(crate) async fn get_password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
        let hash: Option<Option<String>> = sqlx::query_scalar("select password_hash from users where id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.readers)
            .await?;
        Ok(hash.flatten())
    }

    pub(crate) async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = InsertJob {
            user: user.clone(),
            password_hash: password_hash.map(str::to_string),
            audit: entry.clone(),
            reply,
        };
        self.inserts.send(job).await.map_err(|_| StoreError::backend("the committer has stopped"))?;
        answer.await.map_err(|_| StoreError::backend("the committer dropped a new user"))?
    }

    pub(crate) async fn insert_users_bulk(
        &self,
        batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        // Random keys (ids, usernames) touch index pages all over the file: a large cache for
        // the duration of the load saves most of the re-reads, then the usual size returns.
        sqlx::query("pragma cache_size = -262144").execute(&mut *conn).await?;
        let result = bulk_load(&mut conn, batches, entry).await;
        sqlx::query(&format!("pragma cache_size = {PAGE_CACHE_KIB}")).execute(&mut *conn).await?;
        result
    }

    pub(crate) async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("select {USER_COLUMNS} from users where id = ?");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.readers).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub(crate) async fn list_administrators(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("select {USER_COLUMNS} from users where roles != 0 and deleted_at is null order by username");
        let rows = sqlx::query(&sql).fetch_all(&self.readers).await?;
        rows.iter().map(user_from_row).collect()
    }

    pub(crate) async fn save_user(
        &self,
        before: &User,
        after: &User,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = SaveJob {
            before: before.clone(),
            after: after.clone(),
            audit: entry.clone(),
            messages: messages.to_vec(),
            reply,
        };
        self.saves.send(job).await.map_err(|_| StoreError::backend("the committer has stopped"))?;
        answer.await.map_err(|_| StoreError::backend("the committer dropped a save"))?
    }

    pub(crate) async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let updated = sqlx::query(
            "update users set password_hash = ?, must_change_password = ?, version = version + 1, \
             updated_at = ?, updated_by = ? where id = ?",
        )
        .bind(password_hash)
        .bind(must_change)
        .bind(entry.at.millis())
        .bind(&entry.actor_name)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, entry).await?;
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn purge_deleted(&self, deleted_before: Timestamp, actor: &str) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let doomed = sqlx::query("select id, username from users where deleted_at is not null and deleted_at < ?")
            .bind(deleted_before.millis())
            .fetch_all(&mut *tx)
            .await?;
        for row in &doomed {
            let id: String = row.try_get("id")?;
            let username: String = row.try_get("username")?;
            sqlx::query("delete from users where id = ?").bind(&id).execute(&mut *tx).await?;
            let entry = AuditEntry {
                id: 0,
                at: Timestamp::now(),
                actor_id: None,
                actor_name: actor.to_string(),
                target_id: Some(crate::sqlite::rows::parse_id(&id)?),
                target_name: username,
                action: roster_domain::AuditAction::UserPurged,
                changes: Vec::new(),
                client_ip: None,
                request_id: None,
            };
            audit::insert(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(doomed.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use roster_domain::store::*;
    use std::borrow::Cow;

    use roster_domain::user::UserId;

    use crate::sqlite::{SqliteStore, MIGRATOR};

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
