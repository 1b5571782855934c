//! Application registrations, their client secrets and access tokens.

use async_trait::async_trait;
use roster_domain::apps::{App, AppLogo, AppPermissions, AppSecret, AppToken};
use roster_domain::audit::AuditEntry;
use roster_domain::oidc::assertion::ClientKeys;
use roster_domain::oidc::client::SignInSettings;
use roster_domain::store::AppStore;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;
use uuid::Uuid;

use super::rows::{flag, get_flag, Params};
use super::{audit, Connection, Db, Row, Store, DIALECT};

const APP_COLUMNS: &str = "apps.id, apps.name, apps.permissions, apps.created_at, apps.created_by, \
    apps.redirect_uris, apps.public_client, apps.id_token_alg, apps.home_page_url, apps.assignment_required, \
    apps.admin_consent, apps.post_logout_redirect_uris, apps.groups_claim, apps.jwks, apps.claim_mappings, apps.pairwise_subject, \
    apps.backchannel_logout_uri, apps.logo_updated_at";

fn uuid(row: &Row, column: &str) -> Result<Uuid, StoreError> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(StoreError::backend)
}

fn app_from_row(row: &Row) -> Result<App, StoreError> {
    Ok(App {
        id: uuid(row, "id")?,
        name: row.try_get("name")?,
        permissions: AppPermissions::from_bits(row.try_get("permissions")?),
        created_at: Timestamp(row.try_get("created_at")?),
        created_by: row.try_get("created_by")?,
        sign_in: SignInSettings {
            redirect_uris: serde_json::from_str(&row.try_get::<String, _>("redirect_uris")?)
                .map_err(StoreError::backend)?,
            public_client: get_flag(row, "public_client")?,
            client_keys: match row.try_get::<Option<String>, _>("jwks")? {
                Some(text) => Some(ClientKeys::parse(&text).map_err(StoreError::backend)?),
                None => None,
            },
            id_token_alg: row.try_get::<String, _>("id_token_alg")?.parse().map_err(StoreError::backend)?,
            home_page_url: row.try_get("home_page_url")?,
            assignment_required: get_flag(row, "assignment_required")?,
            admin_consent: get_flag(row, "admin_consent")?,
            post_logout_redirect_uris: serde_json::from_str(&row.try_get::<String, _>("post_logout_redirect_uris")?)
                .map_err(StoreError::backend)?,
            groups_claim: row.try_get::<String, _>("groups_claim")?.parse().map_err(StoreError::backend)?,
            claim_mappings: serde_json::from_str(&row.try_get::<String, _>("claim_mappings")?)
                .map_err(StoreError::backend)?,
            pairwise_subject: get_flag(row, "pairwise_subject")?,
            backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
        },
        logo_updated_at: row.try_get::<Option<i64>, _>("logo_updated_at")?.map(Timestamp),
    })
}

/// The columns an administrator changes, bound in this order by [`bind_settings`].
const SETTINGS: &str = "name, permissions, redirect_uris, public_client, id_token_alg, home_page_url, \
    assignment_required, admin_consent, post_logout_redirect_uris, groups_claim, jwks, claim_mappings, \
    pairwise_subject, backchannel_logout_uri";

/// Binds an application's [`SETTINGS`] as parameters 1 to 14.
fn bind_settings<'q>(
    query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    app: &'q App,
) -> Result<sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>, StoreError> {
    let json = |uris: &Vec<String>| serde_json::to_string(uris).map_err(StoreError::backend);
    Ok(query
        .bind(&app.name)
        .bind(app.permissions.bits())
        .bind(json(&app.sign_in.redirect_uris)?)
        .bind(flag(app.sign_in.public_client))
        .bind(app.sign_in.id_token_alg.name())
        .bind(&app.sign_in.home_page_url)
        .bind(flag(app.sign_in.assignment_required))
        .bind(flag(app.sign_in.admin_consent))
        .bind(json(&app.sign_in.post_logout_redirect_uris)?)
        .bind(app.sign_in.groups_claim.name())
        .bind(app.sign_in.client_keys.as_ref().map(ClientKeys::as_json))
        .bind(serde_json::to_string(&app.sign_in.claim_mappings).map_err(StoreError::backend)?)
        .bind(flag(app.sign_in.pairwise_subject))
        .bind(&app.sign_in.backchannel_logout_uri))
}

/// Access tokens per insert statement: five parameters each.
const APP_TOKENS_PER_INSERT: usize = DIALECT.rows_per_statement(100, 5);

/// Stores access tokens in the caller's transaction.
pub(crate) async fn insert_app_tokens(conn: &mut Connection, tokens: &[&AppToken]) -> Result<(), StoreError> {
    for chunk in tokens.chunks(APP_TOKENS_PER_INSERT) {
        let mut params = Params::default();
        let mut rows = Vec::with_capacity(chunk.len());
        for t in chunk {
            let row = [
                params.push(t.hash.clone())?,
                params.push(t.app_id.to_string())?,
                params.push(t.secret_id.map(|id| id.to_string()))?,
                params.push(t.key_set.clone())?,
                params.push(t.expires_at.millis())?,
            ];
            rows.push(format!("({})", row.join(", ")));
        }
        let sql =
            format!("insert into app_tokens (hash, app_id, secret_id, key_set, expires_at) values {}", rows.join(", "));
        sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await?;
    }
    Ok(())
}

fn secret_from_row(row: &Row) -> Result<AppSecret, StoreError> {
    Ok(AppSecret {
        id: uuid(row, "id")?,
        app_id: uuid(row, "app_id")?,
        description: row.try_get("description")?,
        hint: row.try_get("hint")?,
        hash: row.try_get("hash")?,
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
    })
}

#[async_trait]
impl AppStore for Store {
    async fn insert_app(&self, app: &App, secret: Option<&AppSecret>, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "insert into apps ({SETTINGS}, id, created_at, created_by) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        );
        bind_settings(sqlx::query(&sql), app)?
            .bind(app.id.to_string())
            .bind(app.created_at.millis())
            .bind(&app.created_by)
            .execute(&mut *tx)
            .await?;
        if let Some(secret) = secret {
            insert_secret(&mut tx, secret).await?;
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        let rows = sqlx::query(&format!("select {APP_COLUMNS} from apps order by lower(name), id"))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(app_from_row).collect()
    }

    async fn get_app(&self, id: Uuid) -> Result<Option<App>, StoreError> {
        let row = sqlx::query(&format!("select {APP_COLUMNS} from apps where id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    async fn update_app(&self, app: &App, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let assignments: Vec<String> =
            SETTINGS.split(", ").enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
        let sql = format!("update apps set {} where id = $15", assignments.join(", "));
        let updated = bind_settings(sqlx::query(&sql), app)?.bind(app.id.to_string()).execute(&mut *tx).await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn delete_app(&self, id: Uuid, entry: &AuditEntry) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("delete from apps where id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        audit::insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_app_secrets(&self, app_id: Uuid) -> Result<Vec<AppSecret>, StoreError> {
        let rows = sqlx::query(
            "select id, app_id, description, hint, hash, created_at, expires_at from app_secrets \
             where app_id = $1 order by created_at desc, id",
        )
        .bind(app_id.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(secret_from_row).collect()
    }

    async fn set_app_logo(
        &self,
        id: Uuid,
        logo: Option<&AppLogo>,
        at: Timestamp,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("delete from app_logos where app_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        if let Some(logo) = logo {
            sqlx::query("insert into app_logos (app_id, content_type, bytes) values ($1, $2, $3)")
                .bind(id.to_string())
                .bind(&logo.content_type)
                .bind(&logo.bytes)
                .execute(&mut *tx)
                .await?;
        }
        let updated = sqlx::query("update apps set logo_updated_at = $1 where id = $2")
            .bind(logo.map(|_| at.millis()))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn get_app_logo(&self, id: Uuid) -> Result<Option<AppLogo>, StoreError> {
        let row = sqlx::query("select content_type, bytes from app_logos where app_id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.map(|row| Ok(AppLogo { content_type: row.try_get("content_type")?, bytes: row.try_get("bytes")? }))
            .transpose()
    }

    async fn insert_app_secret(&self, secret: &AppSecret, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_secret(&mut tx, secret).await?;
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn delete_app_secret(&self, app_id: Uuid, secret_id: Uuid, entry: &AuditEntry) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("delete from app_secrets where app_id = $1 and id = $2")
            .bind(app_id.to_string())
            .bind(secret_id.to_string())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        audit::insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_app_token(&self, token: &AppToken) -> Result<(), StoreError> {
        self.commit_app_token(token.clone()).await
    }

    async fn get_app_token(&self, hash: &str) -> Result<Option<(AppToken, App)>, StoreError> {
        let row = sqlx::query(&format!(
            "select {APP_COLUMNS}, t.secret_id, t.key_set, t.expires_at as token_expires_at \
             from app_tokens t join apps on apps.id = t.app_id where t.hash = $1"
        ))
        .bind(hash)
        .fetch_optional(self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let app = app_from_row(&row)?;
        let token = AppToken {
            hash: hash.to_string(),
            app_id: app.id,
            secret_id: match row.try_get::<Option<String>, _>("secret_id")? {
                Some(id) => Some(Uuid::parse_str(&id).map_err(StoreError::backend)?),
                None => None,
            },
            key_set: row.try_get("key_set")?,
            expires_at: Timestamp(row.try_get("token_expires_at")?),
        };
        Ok(Some((token, app)))
    }

    async fn trim_app_tokens(&self, before: Timestamp) -> Result<u64, StoreError> {
        let removed = sqlx::query("delete from app_tokens where expires_at < $1")
            .bind(before.millis())
            .execute(self.writer())
            .await?;
        Ok(removed.rows_affected())
    }
}

async fn insert_secret(conn: &mut Connection, secret: &AppSecret) -> Result<(), StoreError> {
    sqlx::query(
        "insert into app_secrets (id, app_id, description, hint, hash, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(secret.id.to_string())
    .bind(secret.app_id.to_string())
    .bind(&secret.description)
    .bind(&secret.hint)
    .bind(&secret.hash)
    .bind(secret.created_at.millis())
    .bind(secret.expires_at.millis())
    .execute(conn)
    .await?;
    Ok(())
}
