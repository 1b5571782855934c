//! The organisation's settings, and the store's own health: migrations applied, messages
//! waiting, connections in use.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::store::{MigrationState, SettingsStore, StoreStatus};
use roster_domain::{StoreError, UserId};

use super::{audit, Store, ENGINE, MIGRATOR, TABLE_EXISTS};

#[async_trait]
impl SettingsStore for Store {
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("select value from settings where key = $1")
            .bind(key)
            .fetch_optional(self.reader())
            .await?)
    }

    /// Keys are written in sorted order (a key given twice keeps its last value), so that two
    /// nodes changing overlapping settings lock them in the same order and cannot deadlock.
    async fn set_settings(&self, values: &[(&str, String)], entry: &AuditEntry) -> Result<(), StoreError> {
        let mut ordered: Vec<&(&str, String)> = values.iter().collect();
        ordered.sort_by_key(|(key, _)| *key);
        let mut tx = self.begin_write().await?;
        for (key, value) in ordered {
            sqlx::query(
                "insert into settings (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            ?;
        }
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn get_preference(&self, user: UserId, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("select value from user_preferences where user_id = $1 and name = $2")
            .bind(user.to_string())
            .bind(name)
            .fetch_optional(self.reader())
            .await?)
    }

    async fn set_preference(&self, user: UserId, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "insert into user_preferences (user_id, name, value) values ($1, $2, $3) \
             on conflict (user_id, name) do update set value = excluded.value",
        )
        .bind(user.to_string())
        .bind(name)
        .bind(value)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn status(&self) -> Result<StoreStatus, StoreError> {
        // A database no migration has touched yet has neither table: everything is pending.
        let has =
            |table: &'static str| sqlx::query_scalar::<_, bool>(TABLE_EXISTS).bind(table).fetch_one(self.reader());
        let applied: Vec<i64> = match has("_sqlx_migrations").await? {
            true => {
                sqlx::query_scalar("select version from _sqlx_migrations where success")
                    .fetch_all(self.reader())
                    .await?
            }
            false => Vec::new(),
        };
        let outbox_pending: i64 = match has("outbox").await? {
            true => {
                sqlx::query_scalar("select count(*) from outbox where state = 'pending'")
                    .fetch_one(self.reader())
                    .await?
            }
            false => 0,
        };
        let migrations = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| MigrationState {
                version: m.version,
                description: m.description.to_string(),
                applied: applied.contains(&m.version),
            })
            .collect();
        Ok(StoreStatus {
            engine: ENGINE,
            migrations,
            outbox_pending: u64::try_from(outbox_pending).unwrap_or_default(),
            pool_size: self.pools().iter().map(|p| p.size()).sum(),
            pool_idle: self.pools().iter().map(|p| u32::try_from(p.num_idle()).unwrap_or(u32::MAX)).sum(),
            pool_max: self.pools().iter().map(|p| p.options().get_max_connections()).sum(),
        })
    }
}
