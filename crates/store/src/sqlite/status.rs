//! The store's health: migrations applied, messages waiting, connections in use.

use roster_domain::store::{MigrationState, StoreStatus};
use roster_domain::StoreError;

use crate::sqlite::{SqliteStore, MIGRATOR};

impl SqliteStore {
    pub(crate) async fn status(&self) -> Result<StoreStatus, StoreError> {
        // A database no migration has touched yet has neither table: everything is pending.
        let has = |table: &'static str| {
            sqlx::query_scalar::<_, bool>(
                "select exists (select 1 from sqlite_master where type = 'table' and name = ?1)",
            )
            .bind(table)
            .fetch_one(&self.readers)
        };
        let applied: Vec<i64> = match has("_sqlx_migrations").await? {
            true => {
                sqlx::query_scalar("select version from _sqlx_migrations where success")
                    .fetch_all(&self.readers)
                    .await?
            }
            false => Vec::new(),
        };
        let outbox_pending: i64 = match has("outbox").await? {
            true => {
                sqlx::query_scalar("select count(*) from outbox where state = 'pending'")
                    .fetch_one(&self.readers)
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
        let pools = [&self.writer, &self.readers];
        Ok(StoreStatus {
            engine: "SQLite",
            migrations,
            outbox_pending: u64::try_from(outbox_pending).unwrap_or_default(),
            pool_size: pools.iter().map(|p| p.size()).sum(),
            pool_idle: pools.iter().map(|p| u32::try_from(p.num_idle()).unwrap_or(u32::MAX)).sum(),
            pool_max: pools.iter().map(|p| p.options().get_max_connections()).sum(),
        })
    }
}
