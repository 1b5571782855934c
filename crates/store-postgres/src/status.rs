//! The store's health: migrations applied, messages waiting, connections in use.

use roster_domain::store::{MigrationState, StoreStatus};
use roster_domain::StoreError;

use crate::{backend, PostgresStore, MIGRATOR};

impl PostgresStore {
    pub(crate) async fn status(&self) -> Result<StoreStatus, StoreError> {
        let applied: Vec<i64> = sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let outbox_pending: i64 = sqlx::query_scalar("select count(*) from outbox where state = 'pending'")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
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
            engine: "PostgreSQL",
            migrations,
            outbox_pending: u64::try_from(outbox_pending).unwrap_or_default(),
            pool_size: self.pool.size(),
            pool_idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            pool_max: self.pool.options().get_max_connections(),
        })
    }
}
