//! Second factors and sign-ins waiting for them.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::mfa::{MfaState, PendingSignIn};
use roster_domain::outbox::Message;
use roster_domain::store::MfaStore;
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;

use super::recovery::sweep_expired;
use super::rows::{flag, get_flag, parse_id, Params};
use super::{audit, outbox, Store, FOR_NO_KEY_UPDATE};

#[async_trait]
impl MfaStore for Store {
    async fn get_mfa(&self, user_id: UserId) -> Result<MfaState, StoreError> {
        let row =
            sqlx::query("select app_secret, app_confirmed, app_last_step, chosen from user_mfa where user_id = $1")
                .bind(user_id.to_string())
                .fetch_optional(self.writer())
                .await?;
        let left: i64 =
            sqlx::query_scalar("select count(*) from recovery_codes where user_id = $1 and used_at is null")
                .bind(user_id.to_string())
                .fetch_one(self.writer())
                .await?;
        let mut state = MfaState { recovery_codes_left: u32::try_from(left).unwrap_or(0), ..MfaState::default() };
        if let Some(row) = row {
            state.app_secret = row.try_get("app_secret")?;
            state.app_confirmed = get_flag(&row, "app_confirmed")?;
            state.app_last_step = row.try_get("app_last_step")?;
            state.chosen = get_flag(&row, "chosen")?;
        }
        Ok(state)
    }

    async fn set_app(
        &self,
        user_id: UserId,
        sealed: Option<&str>,
        confirmed: bool,
        entry: Option<&AuditEntry>,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "insert into user_mfa (user_id, app_secret, app_confirmed, app_last_step) values ($1, $2, $3, null) \
             on conflict (user_id) do update set app_secret = excluded.app_secret, \
             app_confirmed = excluded.app_confirmed, app_last_step = case when excluded.app_secret is not distinct \
             from user_mfa.app_secret then user_mfa.app_last_step else null end",
        )
        .bind(user_id.to_string())
        .bind(sealed)
        .bind(flag(confirmed))
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = entry {
            audit::insert(&mut tx, entry).await?;
        }
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    /// A code replayed on another node at the same moment waits for this update's row lock,
    /// then finds the step taken and matches nothing.
    async fn advance_app_step(&self, user_id: UserId, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update user_mfa set app_last_step = $1 where user_id = $2 and (app_last_step is null or app_last_step < $1)",
        )
        .bind(step)
        .bind(user_id.to_string())
        .execute(self.writer())
        .await
        ?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_mfa_chosen(&self, user_id: UserId, chosen: bool, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "insert into user_mfa (user_id, chosen) values ($1, $2) on conflict (user_id) do update set chosen = excluded.chosen",
        )
        .bind(user_id.to_string())
        .bind(flag(chosen))
        .execute(&mut *tx)
        .await
        ?;
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    /// Locks the user's row first, so that two replacements for one user run one after the
    /// other and the later leaves only its own codes. (Unlocked, the later delete would not see
    /// the codes the earlier inserted, and both sets would stay valid.)
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[String],
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!("select 1 from users where id = $1{FOR_NO_KEY_UPDATE}"))
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query("delete from recovery_codes where user_id = $1")
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        if !hashes.is_empty() {
            let mut params = Params::default();
            let user = params.push(user_id.to_string())?;
            let rows = hashes
                .iter()
                .map(|hash| Ok(format!("({user}, {}, null)", params.push(hash.clone())?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let sql = format!("insert into recovery_codes (user_id, code_hash, used_at) values {}", rows.join(", "));
            sqlx::query_with(&sql, params.into_arguments()).execute(&mut *tx).await?;
        }
        audit::insert(&mut tx, entry).await?;
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    /// A code used on two nodes at once: the second update waits for the first's row lock,
    /// then finds `used_at` set. A code works once.
    async fn use_recovery_code(&self, user_id: UserId, hash: &str, at: Timestamp) -> Result<bool, StoreError> {
        let used = sqlx::query(
            "update recovery_codes set used_at = $1 where user_id = $2 and code_hash = $3 and used_at is null",
        )
        .bind(at.millis())
        .bind(user_id.to_string())
        .bind(hash)
        .execute(self.writer())
        .await?;
        Ok(used.rows_affected() == 1)
    }

    async fn save_pending_signin(&self, p: &PendingSignIn) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sweep_expired(&mut tx, "pending_signins", "token_hash", p.created_at).await?;
        sqlx::query(
            "insert into pending_signins (token_hash, user_id, csrf_token, created_at, expires_at, next, code_id, \
             code_method) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (token_hash) do update set \
             code_id = excluded.code_id, code_method = excluded.code_method",
        )
        .bind(&p.token_hash)
        .bind(p.user_id.to_string())
        .bind(&p.csrf_token)
        .bind(p.created_at.millis())
        .bind(p.expires_at.millis())
        .bind(&p.next)
        .bind(&p.code_id)
        .bind(&p.code_method)
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    async fn get_pending_signin(&self, token_hash: &str) -> Result<Option<PendingSignIn>, StoreError> {
        let Some(row) = sqlx::query("select * from pending_signins where token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.writer())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(PendingSignIn {
            token_hash: row.try_get("token_hash")?,
            user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: Timestamp(row.try_get("created_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
            next: row.try_get("next")?,
            code_id: row.try_get("code_id")?,
            code_method: row.try_get("code_method")?,
        }))
    }

    async fn delete_pending_signin(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from pending_signins where token_hash = $1")
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::AuditAction;
    use roster_domain::store::UserStore;
    use roster_domain::user::User;

    use super::super::fixtures::{audit, other_node, test_store, user};
    use super::*;

    async fn with_user(store: &Store) -> User {
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        u
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn app_codes_and_recovery_codes_work_once_across_nodes() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        let u = with_user(&store).await;
        assert_eq!(store.get_mfa(u.id).await.unwrap(), MfaState::default());
        assert!(!store.advance_app_step(u.id, 1).await.unwrap(), "no app, no step");
        store.set_app(u.id, Some("sealed"), false, None, &[]).await.unwrap();
        store.set_app(u.id, Some("sealed"), true, Some(&audit(AuditAction::MfaChanged)), &[]).await.unwrap();

        let steps: Vec<_> = (0..10)
            .map(|i| {
                let s = if i % 2 == 0 { store.clone() } else { node.clone() };
                tokio::spawn(async move { s.advance_app_step(u.id, 100).await.unwrap() })
            })
            .collect();
        let mut accepted = 0;
        for s in steps {
            accepted += usize::from(s.await.unwrap());
        }
        assert_eq!(accepted, 1, "a replayed app code is refused");
        assert!(!store.advance_app_step(u.id, 99).await.unwrap(), "an earlier step too");
        let state = store.get_mfa(u.id).await.unwrap();
        assert_eq!(
            (state.app_secret.as_deref(), state.app_confirmed, state.app_last_step),
            (Some("sealed"), true, Some(100))
        );
        store.set_app(u.id, Some("sealed"), true, None, &[]).await.unwrap();
        assert_eq!(store.get_mfa(u.id).await.unwrap().app_last_step, Some(100), "the same secret keeps its step");
        store.set_app(u.id, Some("other"), false, None, &[]).await.unwrap();
        assert_eq!(store.get_mfa(u.id).await.unwrap().app_last_step, None, "a new secret starts afresh");

        let hashes: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
        store.replace_recovery_codes(u.id, &hashes, &audit(AuditAction::MfaChanged), &[]).await.unwrap();
        assert_eq!(store.get_mfa(u.id).await.unwrap().recovery_codes_left, 10);
        let uses: Vec<_> = (0..10)
            .map(|i| {
                let s = if i % 2 == 0 { store.clone() } else { node.clone() };
                tokio::spawn(async move { s.use_recovery_code(u.id, "h3", Timestamp(i)).await.unwrap() })
            })
            .collect();
        let mut used = 0;
        for u in uses {
            used += usize::from(u.await.unwrap());
        }
        assert_eq!(used, 1, "a recovery code works once");
        assert!(!store.use_recovery_code(u.id, "unknown", Timestamp(1)).await.unwrap());
        assert_eq!(store.get_mfa(u.id).await.unwrap().recovery_codes_left, 9);

        store.set_mfa_chosen(u.id, true, &audit(AuditAction::MfaChanged)).await.unwrap();
        assert!(store.get_mfa(u.id).await.unwrap().chosen);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn replacing_recovery_codes_on_two_nodes_at_once_leaves_one_set() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        let u = with_user(&store).await;
        for round in 0..10 {
            let sets: Vec<Vec<String>> =
                ["a", "b"].iter().map(|n| (0..10).map(|i| format!("{n}{round}-{i}")).collect()).collect();
            let entry = audit(AuditAction::MfaChanged);
            let (first, second) = tokio::join!(
                store.replace_recovery_codes(u.id, &sets[0], &entry, &[]),
                node.replace_recovery_codes(u.id, &sets[1], &entry, &[]),
            );
            first.unwrap();
            second.unwrap();
            assert_eq!(store.get_mfa(u.id).await.unwrap().recovery_codes_left, 10, "round {round}");
        }
    }

    #[tokio::test]
    async fn sign_ins_waiting_for_a_second_step_are_stored_changed_and_swept() {
        let Some((_db, store)) = test_store().await else { return };
        let u = with_user(&store).await;
        let pending = PendingSignIn {
            token_hash: "p1".into(),
            user_id: u.id,
            csrf_token: "csrf".into(),
            created_at: Timestamp(1_000),
            expires_at: Timestamp(601_000),
            next: "/admin".into(),
            code_id: None,
            code_method: None,
        };
        store.save_pending_signin(&pending).await.unwrap();
        let with_code = PendingSignIn {
            code_id: Some("c".into()),
            code_method: Some("mobile_phone:+44".into()),
            ..pending.clone()
        };
        store.save_pending_signin(&with_code).await.unwrap();
        assert_eq!(store.get_pending_signin("p1").await.unwrap(), Some(with_code));
        let later = PendingSignIn {
            token_hash: "p2".into(),
            created_at: Timestamp(700_000),
            expires_at: Timestamp(1_300_000),
            ..pending
        };
        store.save_pending_signin(&later).await.unwrap();
        assert_eq!(store.get_pending_signin("p1").await.unwrap(), None, "expired sign-ins are swept by the next");
        store.delete_pending_signin("p2").await.unwrap();
        assert_eq!(store.get_pending_signin("p2").await.unwrap(), None);
    }
}
