//! Passkeys and WebAuthn ceremonies under way.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::outbox::Message;
use roster_domain::passkey::{Ceremony, CeremonyKind, StoredPasskey};
use roster_domain::store::PasskeyStore;
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;
use uuid::Uuid;

use super::access_pass::delete_method;
use super::recovery::sweep_expired;
use super::rows::{flag, get_flag, parse_id, Params};
use super::users::unique_or;
use super::{audit, outbox, Row, Store};

const COLUMNS: &str = "id, user_id, credential_id, name, aaguid, backup_eligible, credential, created_at, last_used_at";

fn passkey_from_row(row: &Row) -> Result<StoredPasskey, StoreError> {
    let uuid = |text: String| Uuid::parse_str(&text).map_err(StoreError::backend);
    Ok(StoredPasskey {
        id: uuid(row.try_get("id")?)?,
        user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
        credential_id: row.try_get("credential_id")?,
        name: row.try_get("name")?,
        aaguid: row.try_get::<Option<String>, _>("aaguid")?.map(uuid).transpose()?,
        backup_eligible: get_flag(row, "backup_eligible")?,
        passkey: serde_json::from_str(&row.try_get::<String, _>("credential")?).map_err(StoreError::backend)?,
        created_at: Timestamp(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp),
    })
}

fn credential_json(p: &StoredPasskey) -> Result<String, StoreError> {
    serde_json::to_string(&p.passkey).map_err(StoreError::backend)
}

#[async_trait]
impl PasskeyStore for Store {
    async fn list_passkeys(&self, user_id: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(&format!("select {COLUMNS} from passkeys where user_id = $1 order by created_at, id"))
            .bind(user_id.to_string())
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(passkey_from_row).collect()
    }

    async fn passkey_holders_among(&self, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Params::default();
        let keys = users.iter().map(|u| params.push(u.to_string())).collect::<Result<Vec<_>, _>>()?;
        let sql = format!("select distinct user_id from passkeys where user_id in ({})", keys.join(", "));
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(|row| parse_id(&row.try_get::<String, _>("user_id")?)).collect()
    }

    async fn passkey_by_credential(&self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError> {
        let row = sqlx::query(&format!("select {COLUMNS} from passkeys where credential_id = $1"))
            .bind(credential_id)
            .fetch_optional(self.writer())
            .await?;
        row.as_ref().map(passkey_from_row).transpose()
    }

    async fn insert_passkey(
        &self,
        p: &StoredPasskey,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!("insert into passkeys ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(p.id.to_string())
            .bind(p.user_id.to_string())
            .bind(&p.credential_id)
            .bind(&p.name)
            .bind(p.aaguid.map(|a| a.to_string()))
            .bind(flag(p.backup_eligible))
            .bind(credential_json(p)?)
            .bind(p.created_at.millis())
            .bind(p.last_used_at.map(Timestamp::millis))
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_or(e, "passkey"))?;
        audit::insert(&mut tx, entry).await?;
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    async fn passkey_used(&self, p: &StoredPasskey, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("update passkeys set credential = $1, last_used_at = $2 where id = $3")
            .bind(credential_json(p)?)
            .bind(at.millis())
            .bind(p.id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn delete_passkey(
        &self,
        user_id: UserId,
        id: Uuid,
        entry: &AuditEntry,
        messages: &[Message],
    ) -> Result<bool, StoreError> {
        delete_method(self, "passkeys", user_id, id, entry, messages).await
    }

    async fn save_ceremony(&self, c: &Ceremony) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sweep_expired(&mut tx, "webauthn_ceremonies", "token_hash", Timestamp::now()).await?;
        sqlx::query(
            "insert into webauthn_ceremonies (token_hash, kind, user_id, state, expires_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(&c.token_hash)
        .bind(c.kind.code())
        .bind(c.user_id.map(|u| u.to_string()))
        .bind(&c.state)
        .bind(c.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    /// One statement deletes and returns the row, so of two takes on two nodes one gets it.
    async fn take_ceremony(&self, token_hash: &str) -> Result<Option<Ceremony>, StoreError> {
        let row = sqlx::query(
            "delete from webauthn_ceremonies where token_hash = $1 returning token_hash, kind, user_id, state, expires_at",
        )
        .bind(token_hash)
        .fetch_optional(self.writer())
        .await?;
        row.map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(Ceremony {
                token_hash: row.try_get("token_hash")?,
                kind: CeremonyKind::from_code(&kind)
                    .ok_or_else(|| StoreError::backend(format!("unknown ceremony kind {kind}")))?,
                user_id: row.try_get::<Option<String>, _>("user_id")?.map(|u| parse_id(&u)).transpose()?,
                state: row.try_get("state")?,
                expires_at: Timestamp(row.try_get("expires_at")?),
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::AuditAction;
    use roster_domain::store::UserStore;

    use super::super::fixtures::{audit, test_store, user};
    use super::*;

    fn ceremony(token: &str, expires_at: i64) -> Ceremony {
        Ceremony {
            token_hash: token.into(),
            kind: CeremonyKind::SignIn,
            user_id: None,
            state: "{}".into(),
            expires_at: Timestamp(expires_at),
        }
    }

    #[tokio::test]
    async fn a_ceremony_is_taken_once_and_expired_ones_are_swept() {
        let Some((_db, store)) = test_store().await else { return };
        let later = Timestamp::now().plus_seconds(300).millis();
        store.save_ceremony(&ceremony("old", 1)).await.unwrap();
        store.save_ceremony(&ceremony("live", later)).await.unwrap();
        assert_eq!(store.take_ceremony("live").await.unwrap(), Some(ceremony("live", later)));
        assert_eq!(store.take_ceremony("live").await.unwrap(), None, "a ceremony is finished once");
        assert_eq!(store.take_ceremony("old").await.unwrap(), None, "the expired one was swept");
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        let mine = Ceremony { kind: CeremonyKind::Registration, user_id: Some(u.id), ..ceremony("mine", later) };
        store.save_ceremony(&mine).await.unwrap();
        assert_eq!(store.take_ceremony("mine").await.unwrap(), Some(mine));
    }
}
