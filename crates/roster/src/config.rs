//! Where the directory lives: found the same way by every subcommand.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use roster_domain::{Directory, Store};
use roster_store_sqlite::SqliteStore;

/// The options that locate the directory's database.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Folder for the embedded database.
    #[arg(long, env = "ROSTER_DATA", default_value = "./roster-data")]
    pub data: PathBuf,
    /// A database URL instead of the data folder (`sqlite:///path/to/roster.db`).
    #[arg(long, env = "ROSTER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// Opens the store (applying migrations) and wraps it in the directory service.
    pub async fn open(&self) -> anyhow::Result<(Directory, SqliteStore)> {
        let store = match &self.database_url {
            Some(url) if url.starts_with("sqlite:") => SqliteStore::open_url(url)
                .await
                .with_context(|| "cannot open the database given by ROSTER_DATABASE_URL")?,
            Some(url) => {
                let scheme = url.split(':').next().unwrap_or_default();
                bail!("ROSTER_DATABASE_URL: the {scheme:?} scheme is not supported by this build; use sqlite:")
            }
            None => SqliteStore::open(&self.data)
                .await
                .with_context(|| format!("cannot open the directory in {}", self.data.display()))?,
        };
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        Ok((Directory::new(shared), store))
    }
}
