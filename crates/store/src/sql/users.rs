//! Users and their alternate email addresses, read and saved one at a time.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::outbox::Message;
use roster_domain::recovery::methods::methods_of;
use roster_domain::recovery::ContactMethod;
use roster_domain::store::{Credentials, UserStore, UsernameAlias};
use roster_domain::user::{sort_key, User, UserId};
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;

use super::rows::{email_list, flag, parse_id, user_from_row, Params, USER_COLUMNS};
use super::{audit, outbox, recovery, Connection, Store, DIALECT, FOR_UPDATE, USERS_PER_INSERT};

const INSERT_COLUMNS: &str = "id, username, display_name, display_key, first_name, first_key, last_name, last_key, \
     job_title, department, office, office_phone, mobile_phone, alternate_mobile_phone, fax, street_address, city, \
     state, postal_code, country, roles, enabled, must_change_password, password_hash, created_at, updated_at, \
     updated_by, version, deleted_at, alternate_email_list, mail, formatted_name, external_id, employee_id, company_name, \
     cost_center, division, preferred_language, locale, manager_id";

/// Address rows per insert: seven parameters each.
const EMAIL_ROWS_PER_INSERT: usize = DIALECT.rows_per_statement(1_000, 7);

/// Users one `id in (…)` list names at most.
const IDS_PER_QUERY: usize = DIALECT.rows_per_statement(1_000, 1);

fn key(value: &Option<String>) -> Option<String> {
    value.as_deref().map(sort_key)
}

/// Adds one user's insert values and returns their placeholders as a row, `(…)`.
fn push_user_values(params: &mut Params, user: &User, password_hash: Option<&str>) -> Result<String, StoreError> {
    let c = &user.contact;
    let mut row = vec![
        params.push(user.id.to_string())?,
        params.push(user.username.as_str().to_string())?,
        params.push(c.display_name.clone())?,
        params.push(sort_key(&c.display_name))?,
        params.push(c.first_name.clone())?,
        params.push(key(&c.first_name))?,
        params.push(c.last_name.clone())?,
        params.push(key(&c.last_name))?,
    ];
    for value in [&c.job_title, &c.department, &c.office, &c.office_phone, &c.mobile_phone] {
        row.push(params.push(value.clone())?);
    }
    for value in [&c.alternate_mobile_phone, &c.fax, &c.street_address, &c.city, &c.state, &c.postal_code, &c.country] {
        row.push(params.push(value.clone())?);
    }
    row.push(params.push(user.roles.bits())?);
    row.push(params.push(flag(user.enabled))?);
    row.push(params.push(flag(user.must_change_password))?);
    row.push(params.push(password_hash.map(str::to_string))?);
    row.push(params.push(user.created_at.millis())?);
    row.push(params.push(user.updated_at.millis())?);
    row.push(params.push(user.updated_by.clone())?);
    row.push(params.push(user.version)?);
    row.push(params.push(user.deleted_at.map(Timestamp::millis))?);
    row.push(params.push(email_list(&c.alternate_emails)?)?);
    row.push(params.push(c.mail.clone())?);
    row.push(params.push(c.formatted_name.clone())?);
    row.push(params.push(user.external_id.clone())?);
    for value in [&c.employee_id, &c.company_name, &c.cost_center, &c.division, &c.preferred_language, &c.locale] {
        row.push(params.push(value.clone())?);
    }
    row.push(params.push(c.manager.map(|id| id.to_string()))?);
    Ok(format!("({})", row.join(", ")))
}

/// Adds the alternate addresses of `users` (whose rows hold them too) to the table that
/// searches them.
pub(crate) async fn insert_emails(conn: &mut Connection, users: &[&User]) -> Result<(), StoreError> {
    let rows: Vec<(&User, usize, &String)> = users
        .iter()
        .flat_map(|user| user.contact.alternate_emails.iter().enumerate().map(move |(i, a)| (*user, i, a)))
        .collect();
    for chunk in rows.chunks(EMAIL_ROWS_PER_INSERT) {
        let mut params = Params::default();
        let mut values = Vec::with_capacity(chunk.len());
        for (user, position, address) in chunk {
            let row = [
                params.push(user.id.to_string())?,
                params.push(*position as i64)?,
                params.push((*address).clone())?,
                params.push(address.to_lowercase())?,
                params.push(sort_key(&user.contact.display_name))?,
                params.push(user.username.as_str().to_string())?,
                params.push(flag(user.deleted_at.is_none()))?,
            ];
            values.push(format!("({})", row.join(", ")));
        }
        let sql = format!(
            "insert into alternate_emails (user_id, position, address, address_key, display_key, username, active) \
             values {}",
            values.join(", ")
        );
        sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts one user's row; a taken username is [`StoreError::Duplicate`] and writes nothing.
pub(crate) async fn insert_user_row(
    conn: &mut Connection,
    user: &User,
    password_hash: Option<&str>,
) -> Result<(), StoreError> {
    let mut params = Params::default();
    let values = push_user_values(&mut params, user, password_hash)?;
    let sql = format!("insert into users ({INSERT_COLUMNS}) values {values}");
    sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await.map_err(|e| unique_or(e, "username"))?;
    Ok(())
}

/// Inserts users with their addresses, [`USERS_PER_INSERT`] to a statement.
pub(crate) async fn insert_rows(conn: &mut Connection, users: &[User]) -> Result<(), StoreError> {
    for chunk in users.chunks(USERS_PER_INSERT) {
        let mut params = Params::default();
        let values =
            chunk.iter().map(|user| push_user_values(&mut params, user, None)).collect::<Result<Vec<_>, _>>()?;
        let sql = format!("insert into users ({INSERT_COLUMNS}) values {}", values.join(", "));
        sqlx::query_with(&sql, params.into_arguments())
            .execute(&mut *conn)
            .await
            .map_err(|e| unique_or(e, "username"))?;
        insert_emails(conn, &chunk.iter().collect::<Vec<_>>()).await?;
    }
    Ok(())
}

/// A unique-constraint failure as [`StoreError::Duplicate`] of `what`, anything else as it is.
pub(crate) fn unique_or(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(what),
        _ => e.into(),
    }
}

/// The users whose `column` (`id` or `username`) is one of `keys`, with their addresses, in
/// any order; `locking` locks their rows ([`FOR_UPDATE`]) until the caller's transaction ends.
pub(crate) async fn users_where(
    conn: &mut Connection,
    column: &str,
    keys: &[String],
    locking: bool,
) -> Result<Vec<User>, StoreError> {
    let lock = if locking { FOR_UPDATE } else { "" };
    let mut users = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(IDS_PER_QUERY) {
        let mut params = Params::default();
        let list = chunk.iter().map(|k| params.push(k.clone())).collect::<Result<Vec<_>, _>>()?;
        let sql = format!("select {USER_COLUMNS} from users where {column} in ({}){lock}", list.join(", "));
        for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(&mut *conn).await? {
            users.push(user_from_row(&row)?);
        }
    }
    Ok(users)
}

/// The unexpired aliases among `names`.
pub(crate) async fn aliases_named(conn: &mut Connection, names: &[String]) -> Result<Vec<UsernameAlias>, StoreError> {
    let mut aliases = Vec::new();
    for chunk in names.chunks(IDS_PER_QUERY) {
        let mut params = Params::default();
        let list = chunk.iter().map(|k| params.push(k.clone())).collect::<Result<Vec<_>, _>>()?;
        let now = params.push(Timestamp::now().millis())?;
        let sql = format!(
            "select username, user_id, expires_at from username_aliases where username in ({}) and expires_at > {now}",
            list.join(", ")
        );
        for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(&mut *conn).await? {
            aliases.push(UsernameAlias {
                username: row.try_get("username")?,
                user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
                expires_at: Timestamp(row.try_get("expires_at")?),
            });
        }
    }
    Ok(aliases)
}

/// The rest of a rename whose row [`update_row`] wrote: the user's alternate addresses carry
/// the new name, and the old one stays an alias until `until`. Expired aliases go here, the
/// only place aliases are written; renaming back to one's own former name ends that alias, and
/// a former name that was an older user's alias too now signs in only its newest holder.
pub(crate) async fn write_rename(
    conn: &mut Connection,
    before: &User,
    after: &User,
    until: Timestamp,
) -> Result<(), StoreError> {
    let (old, new, id) = (before.username.as_str(), after.username.as_str(), after.id.to_string());
    sqlx::query("delete from username_aliases where expires_at <= $1 or (username = $2 and user_id = $3)")
        .bind(after.updated_at.millis())
        .bind(new)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update alternate_emails set username = $1 where user_id = $2")
        .bind(new)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into username_aliases (username, user_id, expires_at) values ($1, $2, $3) \
         on conflict (username) do update set user_id = excluded.user_id, expires_at = excluded.expires_at",
    )
    .bind(old)
    .bind(&id)
    .bind(until.millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the columns of the user's row that differ between `before` and `after`, if the stored
/// version is still `before.version`; [`write_rest`] writes the rest of the save. Untouched
/// columns are left out of the update, so their indexes are not rewritten. A refusal (conflict,
/// not found) writes nothing, and SQLite's group committer relies on that. On PostgreSQL a save
/// racing this one for the same version waits for the row lock, then finds the version moved on
/// and matches nothing: exactly one of them wins.
pub(crate) async fn update_row(conn: &mut Connection, before: &User, after: &User) -> Result<(), StoreError> {
    let (b, a) = (&before.contact, &after.contact);
    let mut params = Params::default();
    let mut assignments: Vec<String> = Vec::new();
    let mut set = |column: &str, placeholder: Result<String, StoreError>| -> Result<(), StoreError> {
        assignments.push(format!("{column} = {}", placeholder?));
        Ok(())
    };
    if before.username != after.username {
        set("username", params.push(after.username.as_str().to_string()))?;
    }
    if b.display_name != a.display_name {
        set("display_name", params.push(a.display_name.clone()))?;
        set("display_key", params.push(sort_key(&a.display_name)))?;
    }
    if b.first_name != a.first_name {
        set("first_name", params.push(a.first_name.clone()))?;
        set("first_key", params.push(key(&a.first_name)))?;
    }
    if b.last_name != a.last_name {
        set("last_name", params.push(a.last_name.clone()))?;
        set("last_key", params.push(key(&a.last_name)))?;
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
        ("mail", &b.mail, &a.mail),
        ("formatted_name", &b.formatted_name, &a.formatted_name),
        ("employee_id", &b.employee_id, &a.employee_id),
        ("company_name", &b.company_name, &a.company_name),
        ("cost_center", &b.cost_center, &a.cost_center),
        ("division", &b.division, &a.division),
        ("preferred_language", &b.preferred_language, &a.preferred_language),
        ("locale", &b.locale, &a.locale),
        ("external_id", &before.external_id, &after.external_id),
    ];
    for (column, old, new) in texts {
        if old != new {
            set(column, params.push(new.clone()))?;
        }
    }
    if b.manager != a.manager {
        set("manager_id", params.push(a.manager.map(|id| id.to_string())))?;
    }
    if b.alternate_emails != a.alternate_emails {
        set("alternate_email_list", params.push(email_list(&a.alternate_emails)?))?;
    }
    if before.roles != after.roles {
        set("roles", params.push(after.roles.bits()))?;
    }
    if before.enabled != after.enabled {
        set("enabled", params.push(flag(after.enabled)))?;
    }
    if before.must_change_password != after.must_change_password {
        set("must_change_password", params.push(flag(after.must_change_password)))?;
    }
    if before.deleted_at != after.deleted_at {
        set("deleted_at", params.push(after.deleted_at.map(Timestamp::millis)))?;
    }
    set("updated_at", params.push(after.updated_at.millis()))?;
    set("updated_by", params.push(after.updated_by.clone()))?;
    set("version", params.push(after.version))?;
    let id = params.push(after.id.to_string())?;
    let version = params.push(before.version)?;
    let sql = format!("update users set {} where id = {id} and version = {version}", assignments.join(", "));
    // Only a rename changes the username, the row's one unique column besides the id.
    let updated = sqlx::query_with(&sql, params.into_arguments())
        .execute(&mut *conn)
        .await
        .map_err(|e| unique_or(e, "username"))?;
    if updated.rows_affected() == 0 {
        let current = sqlx::query("select updated_by, updated_at from users where id = $1")
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

/// A new user to insert, with its audit record.
pub(crate) struct NewUser<'a> {
    pub user: &'a User,
    pub password_hash: Option<&'a str>,
    pub audit: &'a AuditEntry,
    pub messages: &'a [Message],
}

/// One accepted save, for [`write_rest`].
pub(crate) struct Accepted<'a> {
    pub before: &'a User,
    pub after: &'a User,
    pub audit: &'a [AuditEntry],
    pub messages: &'a [Message],
}

/// The second half of the saves whose rows were updated: their alternate addresses (rewritten
/// when they, or the copies of the sort keys and deleted state they carry, changed), the
/// verifications of changed contacts, the audit records and the messages. A few statements for
/// the whole batch rather than a few per save: each statement costs a hand-off to SQLite's
/// thread, and those hand-offs, not the SQL, bound how many saves a second one writer takes.
/// (PostgreSQL writes one save at a time; its row is locked by then, so no other save of the
/// same user interleaves.)
pub(crate) async fn write_rest(conn: &mut Connection, saves: &[Accepted<'_>]) -> Result<(), StoreError> {
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
        let mut params = Params::default();
        let ids = rewritten.iter().map(|u| params.push(u.id.to_string())).collect::<Result<Vec<_>, _>>()?;
        let sql = format!("delete from alternate_emails where user_id in ({})", ids.join(", "));
        sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await?;
        insert_emails(conn, &rewritten).await?;
    }
    let gone: Vec<(UserId, ContactMethod)> = saves
        .iter()
        .flat_map(|s| {
            let kept = methods_of(&s.after.contact);
            methods_of(&s.before.contact).into_iter().filter(move |m| !kept.contains(m)).map(|m| (s.after.id, m))
        })
        .collect();
    recovery::forget_changed(conn, &gone).await?;
    let entries: Vec<&AuditEntry> = saves.iter().flat_map(|s| s.audit).collect();
    audit::insert_many(conn, &entries).await?;
    let messages: Vec<Message> = saves.iter().flat_map(|s| s.messages.iter().cloned()).collect();
    outbox::insert(conn, &messages).await
}

#[async_trait]
impl UserStore for Store {
    async fn count_users(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("select count(*) from users").fetch_one(self.reader()).await?;
        Ok(n.max(0) as u64)
    }

    async fn get_credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        // The current username first: a name freed by a rename and taken by someone else is theirs.
        let row = sqlx::query(
            "select id, password_hash from (\
               select id, password_hash, 0 as rank from users where username = $1 and deleted_at is null \
               union all \
               select u.id, u.password_hash, 1 as rank from username_aliases a join users u on u.id = a.user_id \
               where a.username = $1 and a.expires_at > $2 and u.deleted_at is null\
             ) found order by rank limit 1",
        )
        .bind(username)
        .bind(Timestamp::now().millis())
        .fetch_optional(self.reader())
        .await?;
        row.map(|row| {
            Ok(Credentials {
                user_id: parse_id(&row.try_get::<String, _>("id")?)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    async fn rename_user(
        &self,
        before: &User,
        after: &User,
        alias_until: Timestamp,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let taken = aliases_named(&mut tx, &[after.username.to_string()]).await?;
        if taken.iter().any(|alias| alias.user_id != after.id) {
            return Err(StoreError::Duplicate("username"));
        }
        update_row(&mut tx, before, after).await?;
        write_rename(&mut tx, before, after, alias_until).await?;
        audit::insert(&mut tx, audit).await?;
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    async fn aliases_of(&self, id: UserId) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let rows = sqlx::query(
            "select username, expires_at from username_aliases where user_id = $1 and expires_at > $2 \
             order by expires_at desc",
        )
        .bind(id.to_string())
        .bind(Timestamp::now().millis())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("username")?, Timestamp(r.try_get("expires_at")?)))).collect()
    }

    async fn get_password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
        let hash: Option<Option<String>> = sqlx::query_scalar("select password_hash from users where id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        Ok(hash.flatten())
    }

    async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        self.commit_new_user(NewUser { user, password_hash, audit: entry, messages }).await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("select {USER_COLUMNS} from users where id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(self.reader()).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_administrators(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("select {USER_COLUMNS} from users where roles != 0 and deleted_at is null order by username");
        let rows = sqlx::query(&sql).fetch_all(self.reader()).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let mut conn = self.reader().acquire().await?;
        let keys: Vec<String> = ids.iter().map(UserId::to_string).collect();
        users_where(&mut conn, "id", &keys, false).await
    }

    async fn save_user(
        &self,
        before: &User,
        after: &User,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        self.commit_save(Accepted { before, after, audit: std::slice::from_ref(entry), messages }).await
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "update users set password_hash = $1, must_change_password = $2, version = version + 1, \
             updated_at = $3, updated_by = $4 where id = $5",
        )
        .bind(password_hash)
        .bind(flag(must_change))
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

    /// One `delete … returning`: when two nodes purge at once, each user is deleted, and
    /// recorded as purged, by exactly one of them, and a user restored meanwhile is kept.
    async fn purge_deleted(&self, deleted_before: Timestamp, actor: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let purged =
            sqlx::query("delete from users where deleted_at is not null and deleted_at < $1 returning id, username")
                .bind(deleted_before.millis())
                .fetch_all(&mut *tx)
                .await?;
        let mut entries = Vec::with_capacity(purged.len());
        for row in &purged {
            let id: String = row.try_get("id")?;
            // A purged manager leaves no dangling reference; the version moves so that a
            // provisioning client's ETag sees the change.
            sqlx::query("update users set manager_id = null, version = version + 1 where manager_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            entries.push(AuditEntry {
                id: 0,
                at: Timestamp::now(),
                actor_id: None,
                actor_name: actor.to_string(),
                target_id: Some(parse_id(&id)?),
                target_name: row.try_get("username")?,
                group_id: None,
                action: roster_domain::AuditAction::UserPurged,
                changes: Vec::new(),
                client_ip: None,
                request_id: None,
            });
        }
        audit::insert_many(&mut tx, &entries.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(purged.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::{AuditAction, AuditQuery};
    use roster_domain::role::Role;
    use roster_domain::store::{AuditStore, ImportStore, OutboxStore};
    use roster_domain::RoleSet;

    use super::super::fixtures::{audit, message, other_node, test_store, unmigrated_store, user};
    use super::super::MIGRATOR;
    use super::*;

    fn all_audit() -> AuditQuery {
        AuditQuery { target: None, limit: 1000, ..AuditQuery::default() }
    }

    #[tokio::test]
    async fn a_user_round_trips_and_a_stale_save_is_refused_with_who_saved_last() {
        let Some((_db, store)) = test_store().await else { return };
        let mut u = user(1);
        u.contact.first_name = Some("Zoë".into());
        u.contact.mobile_phone = Some("+447700900123".into());
        u.contact.alternate_emails = vec!["b@fabrikam.com".into(), "A@fabrikam.com".into()];
        u.roles = RoleSet::of(&[Role::GlobalAdministrator]);
        u.must_change_password = true;
        store.insert_user(&u, Some("hash-1"), &audit(AuditAction::UserCreated), &[]).await.unwrap();
        assert_eq!(store.get_user(u.id).await.unwrap(), Some(u.clone()));
        assert_eq!(store.get_user(UserId::random()).await.unwrap(), None);
        assert_eq!(store.count_users().await.unwrap(), 1);
        let credentials = store.get_credentials("u1@contoso.com").await.unwrap().unwrap();
        assert_eq!((credentials.user_id, credentials.password_hash.as_deref()), (u.id, Some("hash-1")));
        assert_eq!(store.list_administrators().await.unwrap(), vec![u.clone()]);

        let mut twin = user(1);
        twin.id = UserId::random();
        let taken = store.insert_user(&twin, None, &audit(AuditAction::UserCreated), &[message(7)]).await.unwrap_err();
        assert!(matches!(taken, StoreError::Duplicate("username")), "{taken:?}");
        assert!(store.list_outbox(None, 10).await.unwrap().is_empty(), "a refused user's message is not queued");
        store.insert_user(&user(2), None, &audit(AuditAction::UserCreated), &[message(8)]).await.unwrap();
        let queued = store.list_outbox(None, 10).await.unwrap();
        assert_eq!(queued.len(), 1, "a new user's message is queued with it");

        let mut next = u.clone();
        next.version = 2;
        next.updated_by = "Ann".into();
        next.updated_at = Timestamp(50);
        next.contact.display_name = "Renamed".into();
        next.contact.alternate_emails = vec!["c@fabrikam.com".into()];
        next.contact.mobile_phone = None;
        next.enabled = false;
        store.save_user(&u, &next, &audit(AuditAction::ContactChanged), &[message(1)]).await.unwrap();
        assert_eq!(store.get_user(u.id).await.unwrap(), Some(next.clone()));
        assert_eq!(store.list_outbox(None, 10).await.unwrap().len(), 2, "the save's message is queued with it");

        let mut stale = u.clone();
        stale.version = 2;
        match store.save_user(&u, &stale, &audit(AuditAction::ContactChanged), &[message(2)]).await {
            Err(StoreError::VersionConflict { changed_by, changed_at }) => {
                assert_eq!((changed_by.as_str(), changed_at), ("Ann", Timestamp(50)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.list_outbox(None, 10).await.unwrap().len(), 2, "a refused save queues nothing");
        let mut missing = user(9);
        let before = missing.clone();
        missing.version = 2;
        let gone = store.save_user(&before, &missing, &audit(AuditAction::ContactChanged), &[]).await.unwrap_err();
        assert!(matches!(gone, StoreError::NotFound), "{gone:?}");

        let mut reset = audit(AuditAction::PasswordReset);
        reset.actor_name = "Helpdesk".into();
        store.set_password(u.id, "hash-2", false, &reset, &[]).await.unwrap();
        let after = store.get_user(u.id).await.unwrap().unwrap();
        assert_eq!((after.version, after.updated_by.as_str(), after.must_change_password), (3, "Helpdesk", false));
        assert_eq!(store.get_password_hash(u.id).await.unwrap().as_deref(), Some("hash-2"));
        let nobody = store.set_password(UserId::random(), "h", false, &reset, &[]).await.unwrap_err();
        assert!(matches!(nobody, StoreError::NotFound), "{nobody:?}");
    }

    #[tokio::test]
    async fn a_renamed_user_keeps_the_old_name_as_an_alias_nobody_else_takes() {
        let Some((_db, store)) = test_store().await else { return };
        let users: Vec<User> = (0..2).map(user).collect();
        store.insert_users_bulk(&mut std::iter::once(users.clone()), &audit(AuditAction::UserCreated)).await.unwrap();
        let (ada, alan) = (&users[0], &users[1]);
        let renamed = |u: &User, name: &str| User {
            username: roster_domain::user::Username::parse(name).unwrap(),
            version: u.version + 1,
            updated_at: Timestamp::now(),
            ..u.clone()
        };
        let until = Timestamp(Timestamp::now().millis() + 60_000);
        let owner = |name: String| {
            let store = store.clone();
            async move { store.get_credentials(&name).await.unwrap().map(|c| c.user_id) }
        };
        let a2 = renamed(ada, "ada.new@contoso.com");
        store.rename_user(ada, &a2, until, &audit(AuditAction::UserRenamed), &[]).await.unwrap();
        assert_eq!(owner("ada.new@contoso.com".into()).await, Some(ada.id));
        assert_eq!(owner(ada.username.to_string()).await, Some(ada.id), "the old name is an alias");
        assert_eq!(store.aliases_of(ada.id).await.unwrap(), [(ada.username.to_string(), until)]);

        // Someone else can't take the alias, nor the new name.
        for name in [ada.username.as_str(), "ada.new@contoso.com"] {
            let taken = store
                .rename_user(alan, &renamed(alan, name), until, &audit(AuditAction::UserRenamed), &[])
                .await
                .unwrap_err();
            assert!(matches!(taken, StoreError::Duplicate("username")), "{name}: {taken:?}");
        }
        assert_eq!(store.get_user(alan.id).await.unwrap().unwrap().username, alan.username, "nothing changed");

        // Renaming back ends that alias; the address index follows the name.
        let a3 = renamed(&a2, ada.username.as_str());
        store.rename_user(&a2, &a3, until, &audit(AuditAction::UserRenamed), &[]).await.unwrap();
        assert_eq!(store.aliases_of(ada.id).await.unwrap(), [("ada.new@contoso.com".to_string(), until)]);
        let stale: i64 =
            sqlx::query_scalar("select count(*) from alternate_emails where user_id = $1 and username <> $2")
                .bind(ada.id.to_string())
                .bind(ada.username.as_str())
                .fetch_one(store.reader())
                .await
                .unwrap();
        assert_eq!(stale, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_nodes_saving_the_same_version_let_exactly_one_win() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        let users: Vec<User> = (0..20).map(user).collect();
        store.insert_users_bulk(&mut std::iter::once(users.clone()), &audit(AuditAction::UserCreated)).await.unwrap();

        let mut tasks = Vec::new();
        for u in &users {
            for (city, node) in [("Leeds", store.clone()), ("York", node.clone())] {
                let before = u.clone();
                let mut next = u.clone();
                next.version = 2;
                next.updated_by = city.into();
                next.contact.city = Some(city.into());
                next.contact.alternate_emails = vec![format!("{city}@fabrikam.com")];
                tasks.push(tokio::spawn(async move {
                    let result = node.save_user(&before, &next, &audit(AuditAction::ContactChanged), &[]).await;
                    (city, result)
                }));
            }
        }
        let mut won = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                (_, Ok(())) => won += 1,
                (city, Err(StoreError::VersionConflict { changed_by, .. })) => {
                    assert_ne!(changed_by, city, "the loser hears of the winner");
                    conflicts += 1;
                }
                (_, Err(e)) => panic!("{e}"),
            }
        }
        assert_eq!((won, conflicts), (20, 20));
        for u in &users {
            let stored = store.get_user(u.id).await.unwrap().unwrap();
            assert_eq!(stored.version, 2);
            let city = stored.contact.city.clone().unwrap();
            assert_eq!(stored.updated_by, city, "the winner's whole change, nothing of the loser's");
            assert_eq!(stored.contact.alternate_emails, vec![format!("{city}@fabrikam.com")]);
        }
        let audits = store.list_audit(&all_audit()).await.unwrap();
        let saved = audits.iter().filter(|a| a.action == AuditAction::ContactChanged).count();
        assert_eq!(saved, 20, "a refused save leaves no audit record");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_nodes_purging_at_once_purge_and_record_each_user_once() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        let mut users: Vec<User> = (0..50).map(user).collect();
        for (i, u) in users.iter_mut().enumerate() {
            u.deleted_at = Some(Timestamp(if i < 40 { 10 } else { 1_000 }));
            u.contact.alternate_emails = vec![format!("gone{i}@fabrikam.com")];
        }
        store.insert_users_bulk(&mut std::iter::once(users), &audit(AuditAction::UserCreated)).await.unwrap();
        let (a, b) =
            tokio::join!(store.purge_deleted(Timestamp(500), "node a"), node.purge_deleted(Timestamp(500), "node b"));
        assert_eq!(a.unwrap() + b.unwrap(), 40);
        assert_eq!(store.count_users().await.unwrap(), 10);
        let audits = store.list_audit(&all_audit()).await.unwrap();
        let purged: std::collections::HashSet<_> =
            audits.iter().filter(|e| e.action == AuditAction::UserPurged).map(|e| e.target_id).collect();
        assert_eq!(audits.iter().filter(|e| e.action == AuditAction::UserPurged).count(), 40);
        assert_eq!(purged.len(), 40);
    }

    #[tokio::test]
    async fn users_stored_before_the_address_list_get_theirs_in_order() {
        /// The migration that put each user's addresses on their row.
        const ADDRESS_LIST: i64 = 20261128000011;
        let Some((_guard, store)) = unmigrated_store().await else { return };
        let mut earlier = sqlx::migrate::Migrator::DEFAULT;
        earlier.set_locking(false);
        earlier.migrations =
            std::borrow::Cow::Owned(MIGRATOR.iter().filter(|m| m.version < ADDRESS_LIST).cloned().collect());
        earlier.run(store.writer()).await.unwrap();
        let (with, without) = (UserId::random(), UserId::random());
        for (id, name) in [(with, "adele"), (without, "alex")] {
            sqlx::query(
                "insert into users (id, username, display_name, display_key, enabled, must_change_password, \
                 created_at, updated_at, updated_by, version) values ($1, $2, $3, $3, 1, 0, 0, 0, 'test', 1)",
            )
            .bind(id.to_string())
            .bind(format!("{name}@contoso.com"))
            .bind(name)
            .execute(store.writer())
            .await
            .unwrap();
        }
        for (position, address) in [(1_i64, "Second@fabrikam.com"), (0, "first@fabrikam.com")] {
            sqlx::query(
                "insert into alternate_emails (user_id, position, address, address_key, display_key, username, \
                 active) values ($1, $2, $3, lower($3), 'adele', 'adele@contoso.com', 1)",
            )
            .bind(with.to_string())
            .bind(position)
            .bind(address)
            .execute(store.writer())
            .await
            .unwrap();
        }

        MIGRATOR.run(store.writer()).await.unwrap();
        let adele = store.get_user(with).await.unwrap().unwrap();
        assert_eq!(adele.contact.alternate_emails, vec!["first@fabrikam.com", "Second@fabrikam.com"]);
        let alex = store.get_user(without).await.unwrap().unwrap();
        assert!(alex.contact.alternate_emails.is_empty());
    }
}
