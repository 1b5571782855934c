//! Second factors and sign-ins waiting for them.

use roster_domain::audit::AuditEntry;
use roster_domain::mfa::{MfaState, PendingSignIn};
use roster_domain::outbox::Message;
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row;

use crate::sqlite::rows::parse_id;
use crate::sqlite::{audit, outbox, SqliteStore};

impl SqliteStore {
    pub(crate) async fn get_mfa(&self, user_id: UserId) -> Result<MfaState, StoreError> {
        let row =
            sqlx::query("select app_secret, app_confirmed, app_last_step, chosen from user_mfa where user_id = ?")
                .bind(user_id.to_string())
                .fetch_optional(&self.writer)
                .await?;
        let left: i64 = sqlx::query_scalar("select count(*) from recovery_codes where user_id = ? and used_at is null")
            .bind(user_id.to_string())
            .fetch_one(&self.writer)
            .await?;
        let mut state = MfaState { recovery_codes_left: u32::try_from(left).unwrap_or(0), ..MfaState::default() };
        if let Some(row) = row {
            state.app_secret = row.try_get("app_secret")?;
            state.app_confirmed = row.try_get("app_confirmed")?;
            state.app_last_step = row.try_get("app_last_step")?;
            state.chosen = row.try_get("chosen")?;
        }
        Ok(state)
    }

    pub(crate) async fn set_app(
        &self,
        user_id: UserId,
        sealed: Option<&str>,
        confirmed: bool,
        entry: Option<&AuditEntry>,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "insert into user_mfa (user_id, app_secret, app_confirmed, app_last_step) values (?, ?, ?, null) \
             on conflict (user_id) do update set app_secret = excluded.app_secret, \
             app_confirmed = excluded.app_confirmed, app_last_step = case when excluded.app_secret is \
             user_mfa.app_secret then user_mfa.app_last_step else null end",
        )
        .bind(user_id.to_string())
        .bind(sealed)
        .bind(confirmed)
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = entry {
            audit::insert(&mut tx, entry).await?;
        }
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn advance_app_step(&self, user_id: UserId, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update user_mfa set app_last_step = ? where user_id = ? and (app_last_step is null or app_last_step < ?)",
        )
        .bind(step)
        .bind(user_id.to_string())
        .bind(step)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn set_mfa_chosen(
        &self,
        user_id: UserId,
        chosen: bool,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "insert into user_mfa (user_id, chosen) values (?, ?) on conflict (user_id) do update set chosen = excluded.chosen",
        )
        .bind(user_id.to_string())
        .bind(chosen)
        .execute(&mut *tx)
        .await
        ?;
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[String],
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("delete from recovery_codes where user_id = ?").bind(user_id.to_string()).execute(&mut *tx).await?;
        for hash in hashes {
            sqlx::query("insert into recovery_codes (user_id, code_hash, used_at) values (?, ?, null)")
                .bind(user_id.to_string())
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        audit::insert(&mut tx, entry).await?;
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let used = sqlx::query(
            "update recovery_codes set used_at = ? where user_id = ? and code_hash = ? and used_at is null",
        )
        .bind(at.millis())
        .bind(user_id.to_string())
        .bind(hash)
        .execute(&self.writer)
        .await?;
        Ok(used.rows_affected() == 1)
    }

    pub(crate) async fn save_pending_signin(&self, p: &PendingSignIn) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("delete from pending_signins where expires_at < ?")
            .bind(p.created_at.millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into pending_signins (token_hash, user_id, csrf_token, created_at, expires_at, next, code_id, \
             code_method) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (token_hash) do update set \
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

    pub(crate) async fn get_pending_signin(&self, token_hash: &str) -> Result<Option<PendingSignIn>, StoreError> {
        let Some(row) = sqlx::query("select * from pending_signins where token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.writer)
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

    pub(crate) async fn delete_pending_signin(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from pending_signins where token_hash = ?").bind(token_hash).execute(&self.writer).await?;
        Ok(())
    }
}
