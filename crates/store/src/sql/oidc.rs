//! Signing in to applications: signing keys, authorization codes, access and refresh tokens.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::group::{GroupId, MemberId};
use roster_domain::oidc::grant::{AppGrant, AuthCode, AuthMethods, Grant, Rotation, Scopes, UserToken};
use roster_domain::oidc::keys::StoredKey;
use roster_domain::store::{FoundToken, OidcStore};
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;
use uuid::Uuid;

use super::rows::{flag, get_flag, parse_id, user_from_row, Params, USER_COLUMNS};
use super::{audit, Connection, Row, Store, DIALECT};

/// Tokens per insert statement: ten parameters each.
const TOKENS_PER_INSERT: usize = DIALECT.rows_per_statement(100, 10);

const GRANT_COLUMNS: &str = "app_id, user_id, scopes, auth_time, amr";
pub(crate) const TOKEN_COLUMNS: &str = "hash, chain, refresh, app_id, user_id, scopes, auth_time, amr, expires_at";

fn uuid(row: &Row, column: &str) -> Result<Uuid, StoreError> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(StoreError::backend)
}

fn grant_from_row(row: &Row) -> Result<Grant, StoreError> {
    Ok(Grant {
        app_id: uuid(row, "app_id")?,
        user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
        scopes: Scopes::from_bits(row.try_get("scopes")?),
        auth_time: Timestamp(row.try_get("auth_time")?),
        amr: AuthMethods::from_stored(&row.try_get::<String, _>("amr")?),
    })
}

fn token_from_row(row: &Row) -> Result<UserToken, StoreError> {
    Ok(UserToken {
        hash: row.try_get("hash")?,
        chain: uuid(row, "chain")?,
        refresh: get_flag(row, "refresh")?,
        grant: grant_from_row(row)?,
        expires_at: Timestamp(row.try_get("expires_at")?),
    })
}

const APP_GRANT_COLUMNS: &str = "user_id, app_id, scopes, consented_at, last_sign_in_at";

fn app_grant_from_row(row: &Row) -> Result<AppGrant, StoreError> {
    Ok(AppGrant {
        user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
        app_id: uuid(row, "app_id")?,
        scopes: Scopes::from_bits(row.try_get("scopes")?),
        consented_at: row.try_get::<Option<i64>, _>("consented_at")?.map(Timestamp),
        last_sign_in_at: Timestamp(row.try_get("last_sign_in_at")?),
    })
}

fn key_from_row(row: &Row) -> Result<StoredKey, StoreError> {
    let alg: String = row.try_get("alg")?;
    Ok(StoredKey {
        kid: row.try_get("kid")?,
        alg: alg.parse().map_err(StoreError::backend)?,
        sealed_private_key: row.try_get("sealed_private_key")?,
        created_at: Timestamp(row.try_get("created_at")?),
        signs_from: Timestamp(row.try_get("signs_from")?),
        retires_at: row.try_get::<Option<i64>, _>("retires_at")?.map(Timestamp),
    })
}

/// `columns` (comma-separated) of the table `alias`, each named with it.
pub(crate) fn qualified(alias: &str, columns: &str) -> String {
    columns.split(", ").map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// A token with its user, from a row of [`TOKEN_COLUMNS`], `used_at` and the user's columns.
pub(crate) fn found_from_row(row: &Row) -> Result<FoundToken, StoreError> {
    Ok(FoundToken {
        token: token_from_row(row)?,
        used_at: row.try_get::<Option<i64>, _>("used_at")?.map(Timestamp),
        user: user_from_row(row)?,
    })
}

/// The rows of `tokens` for an insert of [`TOKEN_COLUMNS`], as `(…), (…)`, their values added
/// to `params`.
fn token_rows(params: &mut Params, tokens: &[&UserToken]) -> Result<String, StoreError> {
    let mut rows = Vec::with_capacity(tokens.len());
    for t in tokens {
        let row = [
            params.push(t.hash.clone())?,
            params.push(t.chain.to_string())?,
            params.push(flag(t.refresh))?,
            params.push(t.grant.app_id.to_string())?,
            params.push(t.grant.user_id.to_string())?,
            params.push(t.grant.scopes.bits())?,
            params.push(t.grant.auth_time.millis())?,
            params.push(t.grant.amr.stored())?,
            params.push(t.expires_at.millis())?,
        ];
        rows.push(format!("({})", row.join(", ")));
    }
    Ok(rows.join(", "))
}

pub(crate) async fn insert_tokens(conn: &mut Connection, tokens: &[&UserToken]) -> Result<(), StoreError> {
    for chunk in tokens.chunks(TOKENS_PER_INSERT) {
        let mut params = Params::default();
        let rows = token_rows(&mut params, chunk)?;
        let sql = format!("insert into oauth_tokens ({TOKEN_COLUMNS}) values {rows}");
        sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await?;
    }
    Ok(())
}

#[async_trait]
impl OidcStore for Store {
    async fn list_signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "select kid, alg, sealed_private_key, created_at, signs_from, retires_at from signing_keys \
             order by signs_from desc, kid",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn save_signing_keys(&self, keys: &[StoredKey], entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for key in keys {
            sqlx::query(
                "insert into signing_keys (kid, alg, sealed_private_key, created_at, signs_from, retires_at) \
                 values ($1, $2, $3, $4, $5, $6) on conflict (kid) do update set retires_at = excluded.retires_at",
            )
            .bind(&key.kid)
            .bind(key.alg.name())
            .bind(&key.sealed_private_key)
            .bind(key.created_at.millis())
            .bind(key.signs_from.millis())
            .bind(key.retires_at.map(Timestamp::millis))
            .execute(&mut *tx)
            .await?;
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn insert_auth_code(&self, code: &AuthCode) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "insert into oauth_codes (hash, {GRANT_COLUMNS}, redirect_uri, nonce, code_challenge, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&code.hash)
        .bind(code.grant.app_id.to_string())
        .bind(code.grant.user_id.to_string())
        .bind(code.grant.scopes.bits())
        .bind(code.grant.auth_time.millis())
        .bind(code.grant.amr.stored())
        .bind(&code.redirect_uri)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(code.expires_at.millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn redeem_auth_code(&self, hash: &str, chain: Uuid) -> Result<Result<Option<AuthCode>, Uuid>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "update oauth_codes set chain = coalesce(chain, $1) where hash = $2 \
             returning hash, {GRANT_COLUMNS}, redirect_uri, nonce, code_challenge, expires_at, chain"
        ))
        .bind(chain.to_string())
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(Ok(None)) };
        let redeemed_into = uuid(&row, "chain")?;
        if redeemed_into != chain {
            return Ok(Err(redeemed_into));
        }
        Ok(Ok(Some(AuthCode {
            hash: row.try_get("hash")?,
            grant: grant_from_row(&row)?,
            redirect_uri: row.try_get("redirect_uri")?,
            nonce: row.try_get("nonce")?,
            code_challenge: row.try_get("code_challenge")?,
            expires_at: Timestamp(row.try_get("expires_at")?),
        })))
    }

    async fn insert_user_tokens(&self, tokens: &[&UserToken]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_tokens(&mut tx, tokens).await?;
        Ok(tx.commit().await?)
    }

    async fn get_user_token(&self, hash: &str) -> Result<Option<FoundToken>, StoreError> {
        let sql = format!(
            "select {}, t.used_at, {} from oauth_tokens t join users u on u.id = t.user_id where t.hash = $1",
            qualified("t", TOKEN_COLUMNS),
            qualified("u", USER_COLUMNS)
        );
        let row = sqlx::query(&sql).bind(hash).fetch_optional(self.reader()).await?;
        row.as_ref().map(found_from_row).transpose()
    }

    async fn rotate_refresh_token(&self, rotation: &Rotation) -> Result<Option<FoundToken>, StoreError> {
        self.rotate(rotation).await
    }

    async fn undo_rotation(&self, rotation: &Rotation) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Only a token whose successor is still there was exchanged by this rotation.
        sqlx::query(
            "update oauth_tokens set used_at = null where hash = $1 \
             and exists (select 1 from oauth_tokens successor where successor.hash = $2)",
        )
        .bind(&rotation.hash)
        .bind(&rotation.refresh_hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from oauth_tokens where hash in ($1, $2)")
            .bind(&rotation.access_hash)
            .bind(&rotation.refresh_hash)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    async fn delete_user_token(&self, hash: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("delete from oauth_tokens where hash = $1").bind(hash).execute(self.writer()).await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn delete_tokens_of(&self, user: UserId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for table in ["oauth_codes", "oauth_tokens"] {
            sqlx::query(&format!("delete from {table} where user_id = $1"))
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx.commit().await?)
    }

    async fn revoke_token_chain(&self, chain: Uuid, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("delete from oauth_tokens where chain = $1").bind(chain.to_string()).execute(&mut *tx).await?;
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn list_assignments(&self, app_id: Uuid) -> Result<Vec<MemberId>, StoreError> {
        let rows =
            sqlx::query("select member_id, member_kind from app_assignments where app_id = $1 order by member_id")
                .bind(app_id.to_string())
                .fetch_all(self.reader())
                .await?;
        rows.iter()
            .map(|row| {
                let id = uuid(row, "member_id")?;
                match row.try_get::<String, _>("member_kind")?.as_str() {
                    "group" => Ok(MemberId::Group(GroupId(id))),
                    _ => Ok(MemberId::User(UserId(id))),
                }
            })
            .collect()
    }

    async fn change_assignments(
        &self,
        app_id: Uuid,
        add: &[MemberId],
        remove: &[MemberId],
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for member in add {
            let kind = match member {
                MemberId::User(_) => "user",
                MemberId::Group(_) => "group",
            };
            sqlx::query(
                "insert into app_assignments (app_id, member_id, member_kind) values ($1, $2, $3) \
                 on conflict do nothing",
            )
            .bind(app_id.to_string())
            .bind(member.uuid().to_string())
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        }
        for member in remove {
            sqlx::query("delete from app_assignments where app_id = $1 and member_id = $2")
                .bind(app_id.to_string())
                .bind(member.uuid().to_string())
                .execute(&mut *tx)
                .await?;
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn assigned_apps(&self, user: UserId, groups: &[GroupId]) -> Result<Vec<Uuid>, StoreError> {
        let mut params = Params::default();
        let mut ids = vec![params.push(user.to_string())?];
        for group in groups {
            ids.push(params.push(group.0.to_string())?);
        }
        let sql = format!("select distinct app_id from app_assignments where member_id in ({})", ids.join(", "));
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(|row| uuid(row, "app_id")).collect()
    }

    async fn get_app_grant(&self, user: UserId, app_id: Uuid) -> Result<Option<AppGrant>, StoreError> {
        let row =
            sqlx::query(&format!("select {APP_GRANT_COLUMNS} from app_grants where user_id = $1 and app_id = $2"))
                .bind(user.to_string())
                .bind(app_id.to_string())
                .fetch_optional(self.reader())
                .await?;
        row.as_ref().map(app_grant_from_row).transpose()
    }

    async fn record_app_sign_in(
        &self,
        user: UserId,
        app_id: Uuid,
        consented: Scopes,
        at: Timestamp,
        entry: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let consented_at = (consented != Scopes::default()).then_some(at.millis());
        sqlx::query(
            "insert into app_grants (user_id, app_id, scopes, consented_at, last_sign_in_at) values ($1, $2, $3, $4, $5) \
             on conflict (user_id, app_id) do update set last_sign_in_at = excluded.last_sign_in_at, \
             scopes = app_grants.scopes | excluded.scopes, \
             consented_at = coalesce(excluded.consented_at, app_grants.consented_at)",
        )
        .bind(user.to_string())
        .bind(app_id.to_string())
        .bind(consented.bits())
        .bind(consented_at)
        .bind(at.millis())
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = entry {
            audit::insert(&mut tx, entry).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn list_app_grants(&self, user: UserId) -> Result<Vec<(AppGrant, String)>, StoreError> {
        let columns = APP_GRANT_COLUMNS.split(", ").map(|c| format!("g.{c}")).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "select {columns}, a.name from app_grants g join apps a on a.id = g.app_id where g.user_id = $1 \
             order by g.last_sign_in_at desc, a.name"
        ))
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|row| Ok((app_grant_from_row(row)?, row.try_get("name")?))).collect()
    }

    async fn revoke_app_grant(&self, user: UserId, app_id: Uuid, entry: &AuditEntry) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("delete from app_grants where user_id = $1 and app_id = $2")
            .bind(user.to_string())
            .bind(app_id.to_string())
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("delete from oauth_tokens where user_id = $1 and app_id = $2")
            .bind(user.to_string())
            .bind(app_id.to_string())
            .execute(&mut *tx)
            .await?;
        audit::insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn trim_user_tokens(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut removed = 0;
        for table in ["oauth_codes", "oauth_tokens", "client_assertions"] {
            let sql = format!("delete from {table} where expires_at < $1");
            removed += sqlx::query(&sql).bind(before.millis()).execute(self.writer()).await?.rows_affected();
        }
        Ok(removed)
    }

    async fn use_client_assertion(&self, app_id: Uuid, jti: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "insert into client_assertions (app_id, jti, expires_at) values ($1, $2, $3) \
             on conflict (app_id, jti) do nothing",
        )
        .bind(app_id.to_string())
        .bind(jti)
        .bind(expires_at.millis())
        .execute(self.writer())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::apps::{App, AppPermissions};
    use roster_domain::audit::AuditAction;
    use roster_domain::oidc::client::SignInSettings;
    use roster_domain::oidc::grant::IssuedTokens;
    use roster_domain::session::random_token;
    use roster_domain::store::{AppStore, ImportStore};

    use super::super::fixtures::{audit, user};
    use super::super::test_store;
    use super::*;

    /// A store with one user, one application and a grant of `scopes` to it.
    async fn store_with_grant(scopes: &str) -> Option<(impl Sized, Store, Grant)> {
        let (db, store) = test_store().await?;
        let owner = user(1);
        store
            .insert_users_bulk(&mut std::iter::once(vec![owner.clone()]), &audit(AuditAction::UserCreated))
            .await
            .unwrap();
        let app = App {
            id: Uuid::new_v4(),
            name: "Wiki".into(),
            permissions: AppPermissions::default(),
            created_at: Timestamp(0),
            created_by: "test".into(),
            sign_in: SignInSettings::default(),
            logo_updated_at: None,
        };
        store.insert_app(&app, None, &audit(AuditAction::AppChanged)).await.unwrap();
        let grant = Grant {
            app_id: app.id,
            user_id: owner.id,
            scopes: Scopes::parse(scopes),
            auth_time: Timestamp(7),
            amr: AuthMethods::from_stored("pwd otp"),
        };
        Some((db, store, grant))
    }

    /// A refresh token of `grant` in a chain of its own, stored: its plain value and row.
    async fn stored_refresh_token(store: &Store, grant: &Grant, now: Timestamp) -> (String, UserToken) {
        let issued = IssuedTokens::issue(grant, grant.scopes, Uuid::new_v4(), now);
        store.insert_user_tokens(&issued.rows()).await.unwrap();
        let (token, plain) = issued.refresh.unwrap();
        (plain, token)
    }

    #[tokio::test]
    async fn a_rotation_happens_exactly_when_its_rule_admits_it_and_otherwise_changes_nothing() {
        let Some((_db, store, grant)) = store_with_grant("openid email offline_access").await else { return };
        let now = Timestamp::now();
        let (plain, token) = stored_refresh_token(&store, &grant, now).await;
        let rotation = |asked: Option<&str>| {
            Rotation::new(&plain, grant.app_id, asked.map(Scopes::parse), now, &random_token(), &random_token())
        };
        let refused = [
            Rotation { app_id: Uuid::new_v4(), ..rotation(None) },
            rotation(Some("openid phone")),
            Rotation { now: token.expires_at, ..rotation(None) },
            Rotation::new(&random_token(), grant.app_id, None, now, &random_token(), &random_token()),
        ];
        for refused in &refused {
            assert!(store.rotate_refresh_token(refused).await.unwrap().is_none(), "{refused:?}");
            assert!(store.get_user_token(&refused.access_hash).await.unwrap().is_none(), "no successor stored");
        }
        sqlx::query("update users set enabled = 0 where id = $1")
            .bind(grant.user_id.to_string())
            .execute(store.writer())
            .await
            .unwrap();
        assert!(store.rotate_refresh_token(&rotation(None)).await.unwrap().is_none(), "a blocked user's");
        sqlx::query("update users set enabled = 1 where id = $1")
            .bind(grant.user_id.to_string())
            .execute(store.writer())
            .await
            .unwrap();
        assert!(store.get_user_token(&token.hash).await.unwrap().unwrap().used_at.is_none(), "still unused");

        let narrowed = rotation(Some("openid"));
        let found = store.rotate_refresh_token(&narrowed).await.unwrap().expect("admitted");
        assert_eq!((found.token, found.user.id), (token.clone(), grant.user_id), "the token with its user");
        for successor in narrowed.successors(&token) {
            let stored = store.get_user_token(&successor.hash).await.unwrap().expect("stored");
            assert_eq!(stored.token, successor);
        }
        assert!(store.get_user_token(&token.hash).await.unwrap().unwrap().used_at.is_some());
        assert!(store.rotate_refresh_token(&rotation(None)).await.unwrap().is_none(), "used already");

        // Undone, the exchange leaves the token as it was, and it can be exchanged again.
        store.undo_rotation(&narrowed).await.unwrap();
        assert!(store.get_user_token(&token.hash).await.unwrap().unwrap().used_at.is_none());
        for successor in [&narrowed.access_hash, &narrowed.refresh_hash] {
            assert!(store.get_user_token(successor).await.unwrap().is_none(), "its successors are gone");
        }
        let again = rotation(None);
        assert!(store.rotate_refresh_token(&again).await.unwrap().is_some());
        store.undo_rotation(&narrowed).await.unwrap();
        assert!(
            store.get_user_token(&token.hash).await.unwrap().unwrap().used_at.is_some(),
            "undoing another exchange leaves this one alone"
        );
    }

    #[tokio::test]
    async fn of_concurrent_rotations_of_one_refresh_token_exactly_one_wins_and_others_all_do() {
        let Some((_db, store, grant)) = store_with_grant("openid offline_access").await else { return };
        let now = Timestamp::now();
        let mut chains = Vec::new();
        for _ in 0..10 {
            chains.push(stored_refresh_token(&store, &grant, now).await);
        }
        let rotation = |plain: &str| Rotation::new(plain, grant.app_id, None, now, &random_token(), &random_token());

        // Eight rotations of the first chain's token at once (a replay racing its first use),
        // and one of each other chain's.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (store, rotation) = (store.clone(), rotation(&chains[0].0));
            tasks.push(tokio::spawn(async move {
                let won = store.rotate_refresh_token(&rotation).await.unwrap().is_some();
                (i, won, rotation.refresh_hash)
            }));
        }
        for (plain, _) in &chains[1..] {
            let (store, rotation) = (store.clone(), rotation(plain));
            tasks.push(tokio::spawn(async move {
                let won = store.rotate_refresh_token(&rotation).await.unwrap().is_some();
                (100, won, rotation.refresh_hash)
            }));
        }
        let mut racing_winners = 0;
        for task in tasks {
            let (i, won, successor) = task.await.unwrap();
            let stored = store.get_user_token(&successor).await.unwrap();
            assert_eq!(stored.is_some(), won, "a rotation stores its successors exactly when it wins");
            match i {
                100 => assert!(won, "rotations of different tokens never refuse each other"),
                _ => racing_winners += usize::from(won),
            }
        }
        assert_eq!(racing_winners, 1);
        let old = store.get_user_token(&chains[0].1.hash).await.unwrap().unwrap();
        assert!(old.used_at.is_some());
        assert_eq!(old.user.id, grant.user_id, "the token comes with its user");
    }
}
