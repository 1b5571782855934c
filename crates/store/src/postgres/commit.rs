//! What PostgreSQL does its own way with users: a save or a new user is a transaction of its
//! own, and a bulk load leaves the planner statistics of what it loaded.

use roster_domain::apps::AppToken;
use roster_domain::audit::AuditEntry;
use roster_domain::oidc::grant::{Rotation, Scopes};
use roster_domain::store::FoundToken;
use roster_domain::user::User;
use roster_domain::StoreError;
use sqlx::PgConnection;

use crate::postgres::apps;
use crate::postgres::audit::INSERT_COLUMNS;
use crate::postgres::oidc::{found_from_row, qualified, TOKEN_COLUMNS};
use crate::postgres::rows::{Params, USER_COLUMNS};
use crate::postgres::users::{insert_emails, insert_rows, insert_user_row, update_row, write_rest, Accepted, NewUser};
use crate::postgres::{audit, outbox, PostgresStore};

/// Appends audit records as PostgreSQL takes many rows best: one statement of ten arrays,
/// however many records, where statements of values would carry a parameter per field and be
/// planned again for each count of rows.
pub(crate) async fn insert_audit_rows(conn: &mut PgConnection, entries: &[&AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let text = |f: &dyn Fn(&AuditEntry) -> Option<String>| entries.iter().map(|e| f(e)).collect::<Vec<_>>();
    let changes = entries
        .iter()
        .map(|e| serde_json::to_string(&e.changes).map_err(StoreError::backend))
        .collect::<Result<Vec<_>, _>>()?;
    let sql = format!(
        "insert into audit_log ({INSERT_COLUMNS}) \
         select {INSERT_COLUMNS} from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) \
             with ordinality as r ({INSERT_COLUMNS}, position) \
         order by position"
    );
    sqlx::query(&sql)
        .bind(entries.iter().map(|e| e.at.millis()).collect::<Vec<_>>())
        .bind(text(&|e| e.actor_id.map(|id| id.to_string())))
        .bind(entries.iter().map(|e| e.actor_name.clone()).collect::<Vec<_>>())
        .bind(text(&|e| e.target_id.map(|id| id.to_string())))
        .bind(entries.iter().map(|e| e.target_name.clone()).collect::<Vec<_>>())
        .bind(text(&|e| e.group_id.map(|id| id.to_string())))
        .bind(entries.iter().map(|e| e.action.code().to_string()).collect::<Vec<_>>())
        .bind(changes)
        .bind(text(&|e| e.client_ip.clone()))
        .bind(text(&|e| e.request_id.clone()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl PostgresStore {
    /// Adds a user with its addresses, audit record and messages.
    pub(crate) async fn commit_new_user(&self, new: NewUser<'_>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_user_row(&mut tx, new.user, new.password_hash).await?;
        insert_emails(&mut tx, &[new.user]).await?;
        audit::insert(&mut tx, new.audit).await?;
        outbox::insert(&mut tx, new.messages).await?;
        Ok(tx.commit().await?)
    }

    /// Saves a user, with its audit record and messages.
    pub(crate) async fn commit_save(&self, save: Accepted<'_>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        update_row(&mut tx, save.before, save.after).await?;
        write_rest(&mut tx, &[save]).await?;
        Ok(tx.commit().await?)
    }

    /// Stores an access token in a statement of its own.
    pub(crate) async fn commit_app_token(&self, token: AppToken) -> Result<(), StoreError> {
        let mut conn = self.writer().acquire().await?;
        apps::insert_app_tokens(&mut conn, &[&token]).await
    }

    /// Makes a rotation in one statement, one round trip where reading the token and then
    /// rotating it in a transaction take five: data-modifying `with` clauses are PostgreSQL's
    /// own. The `where` clause is [`Rotation::admits`]; a concurrent rotation of the same token
    /// waits for this one's row lock and then finds the token used. Concurrent rotations share
    /// flushes through PostgreSQL's own group commit.
    pub(crate) async fn rotate(&self, rotation: &Rotation) -> Result<Option<FoundToken>, StoreError> {
        let mut params = Params::default();
        let now = params.push(rotation.now.millis())?;
        let hash = params.push(rotation.hash.clone())?;
        let app = params.push(rotation.app_id.to_string())?;
        let asked = params.push(rotation.asked.map(Scopes::bits))?;
        let access = params.push(rotation.access_hash.clone())?;
        let access_expires = params.push(rotation.access_expires_at().millis())?;
        let refresh = params.push(rotation.refresh_hash.clone())?;
        let refresh_expires = params.push(rotation.refresh_expires_at().millis())?;
        let sql = format!(
            "with used as (update oauth_tokens t set used_at = {now} \
                 where t.hash = {hash} and t.refresh = 1 and t.used_at is null and t.expires_at > {now} \
                 and t.app_id = {app} and (t.scopes & coalesce({asked}, t.scopes)) = coalesce({asked}, t.scopes) \
                 and exists (select 1 from users u where u.id = t.user_id and u.enabled = 1 and u.deleted_at is null) \
                 returning {token}, t.used_at), \
             added as (insert into oauth_tokens ({TOKEN_COLUMNS}) \
                 select {access}, chain, 0, app_id, user_id, coalesce({asked}, scopes), auth_time, amr, {access_expires} \
                 from used \
                 union all \
                 select {refresh}, chain, 1, app_id, user_id, scopes, auth_time, amr, {refresh_expires} from used) \
             select {used}, used.used_at, {user} from used join users u on u.id = used.user_id",
            token = qualified("t", TOKEN_COLUMNS),
            used = qualified("used", TOKEN_COLUMNS),
            user = qualified("u", USER_COLUMNS),
        );
        let row = sqlx::query_with(&sql, params.into_arguments()).fetch_optional(self.writer()).await?;
        row.as_ref().map(found_from_row).transpose()
    }

    /// Into an empty directory, one transaction for the whole load; otherwise one per batch.
    /// Two loads racing into an empty directory each stay all or nothing: the unique username
    /// index makes the later one wait for the earlier and fail whole if their names overlap.
    pub(crate) async fn bulk_load(
        &self,
        batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.load(batches, entry).await?;
        // The planner's statistics, at once: with them still describing the table before the
        // load, it walks a thousand-row page of a million users through a bitmap of every row
        // instead of the primary key (700 ms against a few), until autovacuum gets round to it.
        sqlx::query("analyze users, alternate_emails").execute(&self.pool).await?;
        Ok(())
    }

    async fn load(
        &self,
        batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let empty: bool = sqlx::query_scalar("select not exists (select 1 from users)").fetch_one(&mut *tx).await?;
        if empty {
            for batch in batches {
                insert_rows(&mut tx, &batch).await?;
            }
            audit::insert(&mut tx, entry).await?;
            return Ok(tx.commit().await?);
        }
        let mut first = Some(tx);
        for batch in batches {
            let mut tx = match first.take() {
                Some(mut tx) => {
                    audit::insert(&mut tx, entry).await?;
                    tx
                }
                None => self.begin_write().await?,
            };
            insert_rows(&mut tx, &batch).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::AuditAction;
    use roster_domain::store::ImportStore;

    use crate::postgres::fixtures::{audit, test_store, user};

    #[tokio::test]
    async fn a_bulk_load_leaves_the_planner_statistics_of_what_it_loaded() {
        let Some((_db, store)) = test_store().await else { return };
        let mut batches = (0..2).map(|b| (0..50).map(|i| user(b * 50 + i)).collect::<Vec<_>>());
        store.insert_users_bulk(&mut batches, &audit(AuditAction::UserCreated)).await.unwrap();
        let counted: Vec<(String, f32)> = sqlx::query_as(
            "select c.relname::text, c.reltuples from pg_class c join pg_stat_user_tables s on s.relid = c.oid \
             where c.relname in ('users', 'alternate_emails') and s.last_analyze is not null order by 1",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let names: Vec<&str> = counted.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alternate_emails", "users"], "both tables analysed");
        assert_eq!(counted[1].1, 100.0, "the statistics count the loaded rows");
    }
}
