//! Sessions, and the counters and locks that throttle sign-ins and codes.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::oidc::grant::AuthMethods;
use roster_domain::session::Session;
use roster_domain::store::{Count, SessionStore};
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;

use super::rows::parse_id;
use super::{audit, Store, GREATEST};

#[async_trait]
impl SessionStore for Store {
    async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "insert into sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, amr, expires_at, \
             access_pass_id) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id.to_string())
        .bind(&s.csrf_token)
        .bind(s.created_at.millis())
        .bind(s.last_seen_at.millis())
        .bind(s.amr.stored())
        .bind(s.expires_at.map(Timestamp::millis))
        .bind(s.access_pass.map(|p| p.to_string()))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "select token_hash, user_id, csrf_token, created_at, last_seen_at, amr, expires_at, access_pass_id \
             from sessions \
             where token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await?;
        row.map(|row| {
            Ok(Session {
                token_hash: row.try_get("token_hash")?,
                user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
                csrf_token: row.try_get("csrf_token")?,
                created_at: Timestamp(row.try_get("created_at")?),
                last_seen_at: Timestamp(row.try_get("last_seen_at")?),
                amr: AuthMethods::from_stored(&row.try_get::<String, _>("amr")?),
                expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp),
                access_pass: row
                    .try_get::<Option<String>, _>("access_pass_id")?
                    .map(|id| uuid::Uuid::parse_str(&id).map_err(StoreError::backend))
                    .transpose()?,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("update sessions set last_seen_at = $1 where token_hash = $2")
            .bind(at.millis())
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from sessions where token_hash = $1").bind(token_hash).execute(self.writer()).await?;
        Ok(())
    }

    async fn revoke_sessions(&self, user_id: UserId, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "delete from sessions where user_id = $1",
            "delete from pending_signins where user_id = $1",
            "delete from oauth_tokens where user_id = $1",
        ] {
            sqlx::query(sql).bind(user_id.to_string()).execute(&mut *tx).await?;
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn delete_user_sessions(&self, user_id: UserId, keep: Option<&str>) -> Result<(), StoreError> {
        // Sign-ins waiting for their second step go too: they were started with a password
        // that may no longer be the user's.
        let mut tx = self.begin_write().await?;
        sqlx::query("delete from sessions where user_id = $1 and token_hash <> $2")
            .bind(user_id.to_string())
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        // Applications' tokens go for the same reason: the account's holder may have changed.
        for sql in ["delete from pending_signins where user_id = $1", "delete from oauth_tokens where user_id = $1"] {
            sqlx::query(sql).bind(user_id.to_string()).execute(&mut *tx).await?;
        }
        Ok(tx.commit().await?)
    }

    /// One upsert: increments racing on other nodes wait for the row lock and each adds its own
    /// one to the count the previous left, so no attempt goes uncounted.
    /// A window only moves forward: a node whose clock is behind counts into the newer window
    /// another node started, instead of restarting the count.
    async fn increment_counter(&self, key: &str, window_start: Timestamp) -> Result<Count, StoreError> {
        let sql = format!(
            "insert into rate_counters (key, window_start, count) values ($1, $2, 1) \
             on conflict (key) do update set \
               count = case when $2 > rate_counters.window_start then 1 else rate_counters.count + 1 end, \
               window_start = {GREATEST}(rate_counters.window_start, $2) \
             returning count"
        );
        let count: i64 =
            sqlx::query_scalar(&sql).bind(key).bind(window_start.millis()).fetch_one(self.writer()).await?;
        Ok(count.clamp(0, i64::from(u32::MAX)) as Count)
    }

    async fn get_counter(&self, key: &str, window_start: Timestamp) -> Result<Count, StoreError> {
        let count: Option<i64> =
            sqlx::query_scalar("select count from rate_counters where key = $1 and window_start >= $2")
                .bind(key)
                .bind(window_start.millis())
                .fetch_optional(self.reader())
                .await?;
        Ok(count.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as Count)
    }

    async fn reset_counter(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("delete from rate_counters where key = $1").bind(key).execute(self.writer()).await?;
        Ok(())
    }

    async fn set_lock(&self, key: &str, until: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "insert into locks (key, until) values ($1, $2) on conflict (key) do update set until = excluded.until",
        )
        .bind(key)
        .bind(until.millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn get_lock(&self, key: &str) -> Result<Option<Timestamp>, StoreError> {
        let until: Option<i64> = sqlx::query_scalar("select until from locks where key = $1")
            .bind(key)
            .fetch_optional(self.writer())
            .await?;
        Ok(until.map(Timestamp))
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::{AuditAction, AuditQuery};
    use roster_domain::mfa::PendingSignIn;
    use roster_domain::store::{AuditStore, MfaStore, SettingsStore, UserStore};

    use super::super::fixtures::{audit, other_node, test_store, user};
    use super::*;

    fn session(token: &str, user_id: UserId) -> Session {
        Session {
            token_hash: token.into(),
            user_id,
            csrf_token: format!("csrf-{token}"),
            created_at: Timestamp(1_000),
            last_seen_at: Timestamp(1_000),
            amr: AuthMethods::with_second_step("otp"),
            expires_at: None,
            access_pass: None,
        }
    }

    #[tokio::test]
    async fn sessions_are_stored_touched_and_ended() {
        let Some((_db, store)) = test_store().await else { return };
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        for token in ["s1", "s2", "s3"] {
            store.create_session(&session(token, u.id)).await.unwrap();
        }
        store.touch_session("s1", Timestamp(5_000)).await.unwrap();
        let s1 = store.get_session("s1").await.unwrap().unwrap();
        assert_eq!(s1, Session { last_seen_at: Timestamp(5_000), ..session("s1", u.id) });
        store.delete_session("s2").await.unwrap();
        assert_eq!(store.get_session("s2").await.unwrap(), None);

        let pending = PendingSignIn {
            token_hash: "p".into(),
            user_id: u.id,
            csrf_token: "c".into(),
            created_at: Timestamp(1_000),
            expires_at: Timestamp(2_000),
            next: "/".into(),
            code_id: None,
            code_method: None,
        };
        store.save_pending_signin(&pending).await.unwrap();
        store.delete_user_sessions(u.id, Some("s1")).await.unwrap();
        assert!(store.get_session("s1").await.unwrap().is_some(), "the kept session stays");
        assert_eq!(store.get_session("s3").await.unwrap(), None);
        assert_eq!(store.get_pending_signin("p").await.unwrap(), None);

        store.save_pending_signin(&pending).await.unwrap();
        store.revoke_sessions(u.id, &audit(AuditAction::SessionsRevoked)).await.unwrap();
        assert_eq!(store.get_session("s1").await.unwrap(), None);
        assert_eq!(store.get_pending_signin("p").await.unwrap(), None);
        let audits = store.list_audit(&AuditQuery { target: None, limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(audits.first().map(|a| a.action), Some(AuditAction::SessionsRevoked));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn counters_count_every_increment_across_nodes_whatever_their_clocks() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        let window = Timestamp(900_000);
        let increments: Vec<_> = (0..40)
            .map(|i| {
                let s = if i % 2 == 0 { store.clone() } else { node.clone() };
                tokio::spawn(async move { s.increment_counter("signin:account:x", window).await.unwrap() })
            })
            .collect();
        let mut counts = Vec::new();
        for i in increments {
            counts.push(i.await.unwrap());
        }
        counts.sort_unstable();
        assert_eq!(counts, (1..=40).collect::<Vec<_>>(), "each increment saw its own count");
        assert_eq!(store.get_counter("signin:account:x", window).await.unwrap(), 40);
        // A node whose clock is behind still counts into the window another node started.
        let behind = Timestamp(0);
        assert_eq!(node.get_counter("signin:account:x", behind).await.unwrap(), 40);
        assert_eq!(node.increment_counter("signin:account:x", behind).await.unwrap(), 41);
        let next = Timestamp(1_800_000);
        assert_eq!(store.increment_counter("signin:account:x", next).await.unwrap(), 1, "a new window restarts");
        assert_eq!(node.increment_counter("signin:account:x", window).await.unwrap(), 2, "and never goes back");
        assert_eq!(store.get_counter("signin:account:x", next).await.unwrap(), 2);
        store.reset_counter("signin:account:x").await.unwrap();
        assert_eq!(store.get_counter("signin:account:x", next).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn settings_are_written_with_their_audit_record() {
        let Some((_db, store)) = test_store().await else { return };
        assert_eq!(store.get_setting("default_country").await.unwrap(), None);
        let country = [("default_country", "GB".to_string())];
        store.set_settings(&country, &audit(AuditAction::SettingsChanged)).await.unwrap();
        let values = [("b", "1".to_string()), ("a", "2".to_string()), ("b", "3".to_string())];
        store.set_settings(&values, &audit(AuditAction::SettingsChanged)).await.unwrap();
        assert_eq!(store.get_setting("default_country").await.unwrap().as_deref(), Some("GB"));
        assert_eq!(store.get_setting("a").await.unwrap().as_deref(), Some("2"));
        assert_eq!(
            store.get_setting("b").await.unwrap().as_deref(),
            Some("3"),
            "a key given twice keeps its last value"
        );
        let audits = store.list_audit(&AuditQuery { target: None, limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(audits.len(), 2);
    }
}
