//! Verified contacts, one-time codes, resets under way and lockouts.

use roster_domain::audit::AuditEntry;
use roster_domain::outbox::Message;
use roster_domain::recovery::{ContactMethod, MethodKind, OneTimeCode, Purpose, ResetSession, Verification};
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::sqlite::rows::parse_id;
use crate::sqlite::{audit, outbox, SqliteStore};

/// Forgets the verification of contacts that changed or were removed (each with its user),
/// inside a save: a changed contact must be verified again.
pub(crate) async fn forget_changed(
    conn: &mut SqliteConnection,
    gone: &[(UserId, ContactMethod)],
) -> Result<(), StoreError> {
    if gone.is_empty() {
        return Ok(());
    }
    let triples = vec!["(?, ?, ?)"; gone.len()].join(", ");
    let sql = format!("delete from contact_verifications where (user_id, method, value) in (values {triples})");
    let mut query = sqlx::query(&sql);
    for (user, method) in gone {
        query = query.bind(user.to_string()).bind(method.kind.code()).bind(method.value.clone());
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

fn method_of(kind: &str, value: String) -> Result<ContactMethod, StoreError> {
    let kind =
        MethodKind::from_code(kind).ok_or_else(|| StoreError::backend(format!("unknown contact method {kind:?}")))?;
    Ok(ContactMethod { kind, value })
}

fn verification_from_row(row: &SqliteRow) -> Result<Verification, StoreError> {
    Ok(Verification {
        method: method_of(&row.try_get::<String, _>("method")?, row.try_get("value")?)?,
        verified_at: Timestamp(row.try_get("verified_at")?),
    })
}

fn code_from_row(row: &SqliteRow) -> Result<OneTimeCode, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name);
    let purpose = text("purpose")?;
    Ok(OneTimeCode {
        id: text("id")?,
        user_id: parse_id(&text("user_id")?)?,
        purpose: Purpose::from_code(&purpose)
            .ok_or_else(|| StoreError::backend(format!("unknown code purpose {purpose:?}")))?,
        method: method_of(&text("method")?, text("value")?)?,
        hash: text("code_hash")?,
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        used_at: row.try_get::<Option<i64>, _>("used_at")?.map(Timestamp),
    })
}

impl SqliteStore {
    pub(crate) async fn get_verifications(&self, user_id: UserId) -> Result<Vec<Verification>, StoreError> {
        let rows = sqlx::query("select method, value, verified_at from contact_verifications where user_id = ?")
            .bind(user_id.to_string())
            .fetch_all(&self.readers)
            .await?;
        rows.iter().map(verification_from_row).collect()
    }

    pub(crate) async fn get_verifications_of(&self, ids: &[UserId]) -> Result<Vec<(UserId, Verification)>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "select user_id, method, value, verified_at from contact_verifications where user_id in ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(&self.readers).await? {
                out.push((parse_id(&row.try_get::<String, _>("user_id")?)?, verification_from_row(&row)?));
            }
        }
        Ok(out)
    }

    pub(crate) async fn insert_code(
        &self,
        code: &OneTimeCode,
        entry: Option<&AuditEntry>,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        // Expired codes are of no use to anyone: each new code sweeps them out.
        sqlx::query("delete from one_time_codes where expires_at < ?")
            .bind(code.created_at.plus_seconds(-60 * 60).millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into one_time_codes (id, user_id, purpose, method, value, code_hash, created_at, expires_at, \
             attempts, used_at) values (?, ?, ?, ?, ?, ?, ?, ?, 0, null)",
        )
        .bind(&code.id)
        .bind(code.user_id.to_string())
        .bind(code.purpose.code())
        .bind(code.method.kind.code())
        .bind(&code.method.value)
        .bind(&code.hash)
        .bind(code.created_at.millis())
        .bind(code.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = entry {
            audit::insert(&mut tx, entry).await?;
        }
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn get_code(&self, id: &str) -> Result<Option<OneTimeCode>, StoreError> {
        let row =
            sqlx::query("select * from one_time_codes where id = ?").bind(id).fetch_optional(&self.writer).await?;
        row.as_ref().map(code_from_row).transpose()
    }

    pub(crate) async fn latest_code(
        &self,
        user_id: UserId,
        purpose: Purpose,
        method: &ContactMethod,
    ) -> Result<Option<OneTimeCode>, StoreError> {
        let row = sqlx::query(
            "select * from one_time_codes where user_id = ? and purpose = ? and method = ? and value = ? \
             and used_at is null order by created_at desc limit 1",
        )
        .bind(user_id.to_string())
        .bind(purpose.code())
        .bind(method.kind.code())
        .bind(&method.value)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    pub(crate) async fn count_code_entry(&self, id: &str, max: u32) -> Result<Option<u32>, StoreError> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "update one_time_codes set attempts = attempts + 1 where id = ? and used_at is null and attempts < ? \
             returning attempts",
        )
        .bind(id)
        .bind(i64::from(max))
        .fetch_optional(&self.writer)
        .await?;
        Ok(attempts.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    pub(crate) async fn use_code(
        &self,
        id: &str,
        at: Timestamp,
        verified: Option<(UserId, &Verification, &AuditEntry)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let used = sqlx::query("update one_time_codes set used_at = ? where id = ? and used_at is null")
            .bind(at.millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if used.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some((user, v, entry)) = verified {
            sqlx::query(
                "insert into contact_verifications (user_id, method, value, verified_at) values (?, ?, ?, ?) \
                 on conflict (user_id, method, value) do update set verified_at = excluded.verified_at",
            )
            .bind(user.to_string())
            .bind(v.method.kind.code())
            .bind(&v.method.value)
            .bind(v.verified_at.millis())
            .execute(&mut *tx)
            .await?;
            audit::insert(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn save_reset(&self, r: &ResetSession) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("delete from reset_sessions where expires_at < ?")
            .bind(r.created_at.millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into reset_sessions (token_hash, user_id, username, csrf_token, created_at, expires_at, proven, \
             code_id, code_method, code_expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (token_hash) \
             do update set proven = excluded.proven, code_id = excluded.code_id, code_method = excluded.code_method, \
             code_expires_at = excluded.code_expires_at",
        )
        .bind(&r.token_hash)
        .bind(r.user_id.map(|id| id.to_string()))
        .bind(&r.username)
        .bind(&r.csrf_token)
        .bind(r.created_at.millis())
        .bind(r.expires_at.millis())
        .bind(serde_json::to_string(&r.proven).map_err(StoreError::backend)?)
        .bind(&r.code_id)
        .bind(&r.code_method)
        .bind(r.code_expires_at.map(Timestamp::millis))
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn get_reset(&self, token_hash: &str) -> Result<Option<ResetSession>, StoreError> {
        let Some(row) = sqlx::query("select * from reset_sessions where token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.writer)
            .await?
        else {
            return Ok(None);
        };
        let user_id: Option<String> = row.try_get("user_id")?;
        let proven: String = row.try_get("proven")?;
        Ok(Some(ResetSession {
            token_hash: row.try_get("token_hash")?,
            user_id: user_id.as_deref().map(parse_id).transpose()?,
            username: row.try_get("username")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: Timestamp(row.try_get("created_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
            proven: serde_json::from_str(&proven).map_err(StoreError::backend)?,
            code_id: row.try_get("code_id")?,
            code_method: row.try_get("code_method")?,
            code_expires_at: row.try_get::<Option<i64>, _>("code_expires_at")?.map(Timestamp),
        }))
    }

    pub(crate) async fn delete_reset(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from reset_sessions where token_hash = ?").bind(token_hash).execute(&self.writer).await?;
        Ok(())
    }
}
