//! Temporary Access Passes.

use async_trait::async_trait;
use roster_domain::access_pass::AccessPass;
use roster_domain::audit::AuditEntry;
use roster_domain::outbox::Message;
use roster_domain::store::AccessPassStore;
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;
use uuid::Uuid;

use super::rows::{flag, get_flag, parse_id};
use super::{audit, outbox, Row, Store};

fn pass_from_row(row: &Row) -> Result<AccessPass, StoreError> {
    Ok(AccessPass {
        id: Uuid::parse_str(&row.try_get::<String, _>("id")?).map_err(StoreError::backend)?,
        user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
        hash: row.try_get("pass_hash")?,
        created_at: Timestamp(row.try_get("created_at")?),
        start_at: Timestamp(row.try_get("start_at")?),
        lifetime_minutes: u32::try_from(row.try_get::<i64, _>("lifetime_minutes")?).map_err(StoreError::backend)?,
        usable_once: get_flag(row, "usable_once")?,
        used_at: row.try_get::<Option<i64>, _>("used_at")?.map(Timestamp),
    })
}

#[async_trait]
impl AccessPassStore for Store {
    async fn get_access_pass(&self, user_id: UserId) -> Result<Option<AccessPass>, StoreError> {
        // From the writer: a sign-in right after the pass was made must find it.
        let row = sqlx::query(
            "select user_id, id, pass_hash, created_at, start_at, lifetime_minutes, usable_once, used_at \
             from access_passes where user_id = $1",
        )
        .bind(user_id.to_string())
        .fetch_optional(self.writer())
        .await?;
        row.as_ref().map(pass_from_row).transpose()
    }

    /// One statement replaces the old pass, so two administrators creating passes at once
    /// leave exactly one: the later.
    async fn put_access_pass(
        &self,
        p: &AccessPass,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "insert into access_passes (user_id, id, pass_hash, created_at, start_at, lifetime_minutes, \
             usable_once, used_at) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (user_id) do update set \
             id = excluded.id, pass_hash = excluded.pass_hash, created_at = excluded.created_at, \
             start_at = excluded.start_at, lifetime_minutes = excluded.lifetime_minutes, \
             usable_once = excluded.usable_once, used_at = excluded.used_at",
        )
        .bind(p.user_id.to_string())
        .bind(p.id.to_string())
        .bind(&p.hash)
        .bind(p.created_at.millis())
        .bind(p.start_at.millis())
        .bind(i64::from(p.lifetime_minutes))
        .bind(flag(p.usable_once))
        .bind(p.used_at.map(Timestamp::millis))
        .execute(&mut *tx)
        .await?;
        audit::insert(&mut tx, entry).await?;
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    async fn delete_access_pass(
        &self,
        user_id: UserId,
        id: Uuid,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<bool, StoreError> {
        delete_method(self, "access_passes", user_id, id, entry, messages).await
    }

    /// A one-time pass used on two nodes at once: the second update waits for the first's
    /// row lock, then finds `used_at` set.
    async fn use_access_pass(&self, id: Uuid, at: Timestamp) -> Result<bool, StoreError> {
        let used =
            sqlx::query("update access_passes set used_at = $1 where id = $2 and (usable_once = 0 or used_at is null)")
                .bind(at.millis())
                .bind(id.to_string())
                .execute(self.writer())
                .await?;
        Ok(used.rows_affected() == 1)
    }
}

/// Deletes the user's authentication method `id` from `table` with its audit record and
/// notices, in one transaction; `false`, with nothing written, when there was none.
pub(super) async fn delete_method(
    store: &Store,
    table: &str,
    user_id: UserId,
    id: Uuid,
    entry: &AuditEntry,
    messages: &[Message],
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    let gone = sqlx::query(&format!("delete from {table} where user_id = $1 and id = $2"))
        .bind(user_id.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Ok(false);
    }
    audit::insert(&mut tx, entry).await?;
    outbox::insert(&mut tx, messages).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use roster_domain::access_pass::Settled;
    use roster_domain::audit::{AuditAction, AuditQuery};
    use roster_domain::recovery::CodeKey;
    use roster_domain::store::{AuditStore, UserStore};

    use super::super::fixtures::{audit, test_store, user};
    use super::*;

    fn pass(user_id: UserId, usable_once: bool) -> (AccessPass, String) {
        let settled = Settled { start_at: Timestamp(2_000), lifetime_minutes: 60, usable_once };
        AccessPass::issue(user_id, settled, 8, Timestamp(1_000), &CodeKey::random())
    }

    #[tokio::test]
    async fn a_pass_replaces_the_last_and_leaves_with_its_records() {
        let Some((_db, store)) = test_store().await else { return };
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        assert_eq!(store.get_access_pass(u.id).await.unwrap(), None);
        let (first, _) = pass(u.id, false);
        store.put_access_pass(&first, &audit(AuditAction::AccessPassCreated), &[]).await.unwrap();
        assert_eq!(store.get_access_pass(u.id).await.unwrap(), Some(first.clone()));
        let (second, _) = pass(u.id, true);
        store.put_access_pass(&second, &audit(AuditAction::AccessPassCreated), &[]).await.unwrap();
        assert_eq!(store.get_access_pass(u.id).await.unwrap(), Some(second.clone()), "one pass per user");

        let removed = audit(AuditAction::AccessPassRemoved);
        assert!(!store.delete_access_pass(u.id, first.id, &removed, &[]).await.unwrap(), "the old one is gone");
        assert!(store.delete_access_pass(u.id, second.id, &removed, &[]).await.unwrap());
        assert_eq!(store.get_access_pass(u.id).await.unwrap(), None);
        let query = AuditQuery { action: Some(AuditAction::AccessPassRemoved), ..AuditQuery::default() };
        assert_eq!(store.list_audit(&query).await.unwrap().len(), 1, "a removal that removed nothing is not recorded");
    }

    #[tokio::test]
    async fn a_one_time_pass_is_used_once_and_a_reusable_one_keeps_its_last_use() {
        let Some((_db, store)) = test_store().await else { return };
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        let (once, _) = pass(u.id, true);
        store.put_access_pass(&once, &audit(AuditAction::AccessPassCreated), &[]).await.unwrap();
        assert!(store.use_access_pass(once.id, Timestamp(3_000)).await.unwrap());
        assert!(!store.use_access_pass(once.id, Timestamp(4_000)).await.unwrap());
        assert_eq!(store.get_access_pass(u.id).await.unwrap().unwrap().used_at, Some(Timestamp(3_000)));

        let (reusable, _) = pass(u.id, false);
        store.put_access_pass(&reusable, &audit(AuditAction::AccessPassCreated), &[]).await.unwrap();
        assert!(!store.use_access_pass(once.id, Timestamp(5_000)).await.unwrap(), "a replaced pass is gone");
        assert!(store.use_access_pass(reusable.id, Timestamp(5_000)).await.unwrap());
        assert!(store.use_access_pass(reusable.id, Timestamp(6_000)).await.unwrap());
        assert_eq!(store.get_access_pass(u.id).await.unwrap().unwrap().used_at, Some(Timestamp(6_000)));
    }
}
