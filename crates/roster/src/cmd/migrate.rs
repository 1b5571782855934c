//! `roster migrate`: brings the database's schema up to this build's, and shows where it stands.
//!
//! `roster serve` applies migrations as it starts too; this command lets an operator do it
//! ahead of a rolling upgrade, or only look (`--status`).

use clap::Args;
use roster_domain::store::StoreStatus;

use crate::config::StoreArgs;

/// Options of `roster migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Only show which migrations are applied; change nothing.
    #[arg(long)]
    status: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Applies pending migrations (unless `--status`) and prints each migration's state.
pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let backend = match args.status {
        true => args.store.connect_existing().await?,
        false => args.store.connect().await?,
    };
    let store = backend.store();
    let before = store.status().await?;
    let after = if args.status || before.pending().next().is_none() {
        before.clone()
    } else {
        backend.migrate().await?;
        store.status().await?
    };
    print!("{}", report(&before, &after));
    backend.close().await;
    Ok(())
}

/// One line per migration, and a summary.
fn report(before: &StoreStatus, after: &StoreStatus) -> String {
    let mut out = format!("{} database, {} migrations in this build:\n", after.engine, after.migrations.len());
    for (was, now) in before.migrations.iter().zip(&after.migrations) {
        let state = match (was.applied, now.applied) {
            (true, _) => "applied",
            (false, true) => "applied now",
            (false, false) => "pending",
        };
        out.push_str(&format!("  {}  {:<40} {state}\n", now.version, now.description));
    }
    let pending = after.pending().count();
    let applied_now = after.migrations.len() - pending - (before.migrations.len() - before.pending().count());
    out.push_str(&match (pending, applied_now) {
        (0, 0) => "The schema is current.\n".to_string(),
        (0, n) => format!("Applied {n}; the schema is current.\n"),
        (n, _) => format!("{n} pending: run `roster migrate` (or start `roster serve`) to apply them.\n"),
    });
    out
}

#[cfg(test)]
mod tests {
    use roster_domain::store::MigrationState;

    use super::*;

    fn status(applied: &[bool]) -> StoreStatus {
        StoreStatus {
            engine: "SQLite",
            migrations: applied
                .iter()
                .enumerate()
                .map(|(i, &applied)| MigrationState {
                    version: i as i64 + 1,
                    description: format!("step {i}"),
                    applied,
                })
                .collect(),
            outbox_pending: 0,
            pool_size: 1,
            pool_idle: 1,
            pool_max: 1,
        }
    }

    #[test]
    fn the_report_tells_applied_from_newly_applied_and_pending() {
        let text = report(&status(&[true, false, false]), &status(&[true, true, true]));
        assert!(text.contains("1  step 0") && text.contains(" applied\n"), "{text}");
        assert!(text.contains("3  step 2") && text.contains("applied now"), "{text}");
        assert!(text.ends_with("Applied 2; the schema is current.\n"), "{text}");
        let looked = report(&status(&[true, false]), &status(&[true, false]));
        assert!(looked.ends_with("1 pending: run `roster migrate` (or start `roster serve`) to apply them.\n"));
        assert!(report(&status(&[true]), &status(&[true])).ends_with("The schema is current.\n"));
    }
}
