//! `roster backup --to FILE`: a consistent copy of the embedded database, taken while the
//! server runs. PostgreSQL installations use PostgreSQL's own tools (`pg_dump`), which the
//! command says instead of copying anything.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use crate::config::{Backend, StoreArgs};

/// Options of `roster backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The file to write; it must not exist yet.
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

/// Writes the backup and says what else to keep.
pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    if args.to.exists() {
        bail!("--to: {} already exists; a backup never overwrites a file", args.to.display());
    }
    let backend = args.store.connect_existing().await?;
    let result = match &backend {
        Backend::Sqlite(store) => store.backup(&args.to).await.map_err(anyhow::Error::from),
        Backend::Postgres(_) => Err(anyhow::anyhow!(
            "this database is PostgreSQL: back it up with `pg_dump --format=custom` (see the deployment guide); \
             `roster backup` copies the embedded SQLite database"
        )),
    };
    backend.close().await;
    result?;
    let size = std::fs::metadata(&args.to).map(|m| m.len()).unwrap_or_default();
    println!("Wrote {} ({size} bytes), a consistent copy of the directory.", args.to.display());
    println!("Keep the key file with it (ROSTER_SECRET_KEY_FILE, by default secret.key in the data folder):");
    println!("authenticator apps are sealed under that key and cannot be used without it.");
    Ok(())
}
