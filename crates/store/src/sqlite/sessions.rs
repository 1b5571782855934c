//! Sessions, throttling counters and settings: the small tables every node shares.

use roster_domain::audit::AuditEntry;
use roster_domain::session::Session;
use roster_domain::store::Count;
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row;

use crate::sqlite::rows::parse_id;
use crate::sqlite::{audit, SqliteStore};

impl SqliteStore {
    pub(crate) async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "insert into sessions (token_hash, user_id, csrf_token, created_at, last_seen_at) values (?, ?, ?, ?, ?)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id.to_string())
        .bind(&s.csrf_token)
        .bind(s.created_at.millis())
        .bind(s.last_seen_at.millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(crate) async fn get_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "select token_hash, user_id, csrf_token, created_at, last_seen_at from sessions where token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.readers)
        .await?;
        row.map(|row| {
            Ok(Session {
                token_hash: row.try_get("token_hash")?,
                user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
                csrf_token: row.try_get("csrf_token")?,
                created_at: Timestamp(row.try_get("created_at")?),
                last_seen_at: Timestamp(row.try_get("last_seen_at")?),
            })
        })
        .transpose()
    }

    pub(crate) async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("update sessions set last_seen_at = ? where token_hash = ?")
            .bind(at.millis())
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub(crate) async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from sessions where token_hash = ?").bind(token_hash).execute(&self.writer).await?;
        Ok(())
    }

    pub(crate) async fn revoke_sessions(&self, user_id: UserId, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for sql in ["delete from sessions where user_id = ?", "delete from pending_signins where user_id = ?"] {
            sqlx::query(sql).bind(user_id.to_string()).execute(&mut *tx).await?;
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn delete_user_sessions(&self, user_id: UserId, keep: Option<&str>) -> Result<(), StoreError> {
        // Sign-ins waiting for their second step go too: they were started with a password
        // that may no longer be the user's.
        let mut tx = self.writer.begin().await?;
        sqlx::query("delete from sessions where user_id = ? and token_hash <> ?")
            .bind(user_id.to_string())
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from pending_signins where user_id = ?")
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    /// A window only moves forward: a node whose clock is behind counts into the newer window
    /// another node started, instead of restarting the count.
    pub(crate) async fn increment_counter(&self, key: &str, window_start: Timestamp) -> Result<Count, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "insert into rate_counters (key, window_start, count) values (?1, ?2, 1) \
             on conflict (key) do update set \
               count = case when ?2 > rate_counters.window_start then 1 else rate_counters.count + 1 end, \
               window_start = max(rate_counters.window_start, ?2) \
             returning count",
        )
        .bind(key)
        .bind(window_start.millis())
        .fetch_one(&self.writer)
        .await?;
        Ok(count.clamp(0, i64::from(u32::MAX)) as Count)
    }

    pub(crate) async fn get_counter(&self, key: &str, window_start: Timestamp) -> Result<Count, StoreError> {
        let count: Option<i64> =
            sqlx::query_scalar("select count from rate_counters where key = ? and window_start >= ?")
                .bind(key)
                .bind(window_start.millis())
                .fetch_optional(&self.readers)
                .await?;
        Ok(count.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as Count)
    }

    pub(crate) async fn reset_counter(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("delete from rate_counters where key = ?").bind(key).execute(&self.writer).await?;
        Ok(())
    }

    pub(crate) async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("select value from settings where key = ?")
            .bind(key)
            .fetch_optional(&self.readers)
            .await?)
    }

    pub(crate) async fn set_settings(&self, values: &[(&str, String)], entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for (key, value) in values {
            sqlx::query("insert into settings (key, value) values (?, ?) on conflict (key) do update set value = excluded.value")
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await
                ?;
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

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
}
