//! `roster copy --from URL --to URL`: moves a whole installation from one database to another
//! (the embedded SQLite to PostgreSQL and back, or between two of the same engine).
//!
//! The source must have every migration this build carries and is only read; stop the servers
//! that use it first, since a change made during the copy shows up as a difference. The target
//! must be empty: it is migrated, filled in one transaction, and then every table is read back
//! from both sides and compared by row count and checksum.

use anyhow::{bail, Context};
use clap::Args;
use roster_domain::transfer::{self, Progress, TableCheck, Transfer};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{engine_of, Backend, Engine};

/// Connections a copy opens on each side: one reads or writes, one counts or checks.
const CONNECTIONS: u32 = 4;

/// Rows between two progress lines of a big table.
const PROGRESS_EVERY: u64 = 50_000;

/// Options of `roster copy`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// The database to copy: `sqlite:///path/to/roster.db` (`sqlite://roster.db` for a path
    /// relative to here) or `postgres://user:password@host/database`. From the environment
    /// (or `ROSTER_COPY_FROM_FILE`), a password stays out of the process list.
    #[arg(long, value_name = "URL", env = "ROSTER_COPY_FROM", hide_env_values = true)]
    from: SecretString,
    /// The empty database to copy into, in the same forms; a SQLite file is created if missing.
    #[arg(long, value_name = "URL", env = "ROSTER_COPY_TO", hide_env_values = true)]
    to: SecretString,
}

/// Copies, verifies and prints the verification; fails if anything differs.
pub async fn run(args: CopyArgs) -> anyhow::Result<()> {
    let (from_url, to_url) = (args.from.expose_secret(), args.to.expose_secret());
    let (from, to) = (engine(from_url, "--from")?, engine(to_url, "--to")?);
    let source = open(from, from_url, "--from", true).await?;
    let result = copy_from(&source, to, to_url).await;
    source.close().await;
    result
}

/// Checks the source's migrations before the target is opened, so that a refused copy does not
/// even create the target's file.
async fn copy_from(source: &Backend, to: Engine, url: &str) -> anyhow::Result<()> {
    let pending: Vec<String> = source
        .store()
        .status()
        .await
        .context("--from: cannot read which migrations it has")?
        .pending()
        .map(|m| m.version.to_string())
        .collect();
    if !pending.is_empty() {
        bail!(
            "--from: the source lacks migrations {} of this build; run `roster migrate` (or start `roster serve`) \
             on it first",
            pending.join(", ")
        );
    }
    let target = open(to, url, "--to", false).await?;
    let result = copy(source, &target).await;
    target.close().await;
    result
}

/// The engine `url` names, or an error naming its scheme.
fn engine(url: &str, option: &str) -> anyhow::Result<Engine> {
    engine_of(url).ok_or_else(|| {
        let scheme = url.split(':').next().unwrap_or_default();
        anyhow::anyhow!(
            "{option}: the {scheme:?} scheme is not supported; use sqlite:///path/to/roster.db or postgres://…"
        )
    })
}

/// Opens one side as it is, applying nothing; a source must exist already.
async fn open(engine: Engine, url: &str, option: &str, source: bool) -> anyhow::Result<Backend> {
    // The URL may hold a password: messages name the option instead.
    Backend::open_url(url, engine, source, CONNECTIONS)
        .await
        .with_context(|| format!("{option}: cannot open the database"))
}

/// The side's tables and rows.
fn tables_of(backend: &Backend) -> &dyn Transfer {
    match backend {
        Backend::Sqlite(store) => store,
        Backend::Postgres(store) => store,
    }
}

/// Migrates the empty target, copies into it, and compares both sides.
async fn copy(source: &Backend, target: &Backend) -> anyhow::Result<()> {
    let (from, to) = (tables_of(source), tables_of(target));
    // Before migrating, so that a target holding a directory is refused without being touched.
    transfer::ensure_empty(to).await.context("--to: refusing to write into this database")?;
    target.migrate().await.context("--to: cannot apply the migrations")?;
    let tables = transfer::plan(from, to).await?;
    eprintln!("Copying {} tables:", tables.len());
    transfer::copy(from, to, &tables, &mut show_progress)
        .await
        .context("the copy failed; none of it was committed to the target")?;
    let checks = transfer::verify(from, to, &tables).await?;
    print!("{}", report(&checks));
    let differing: Vec<&str> = checks.iter().filter(|c| !c.ok()).map(|c| c.table.as_str()).collect();
    if !differing.is_empty() {
        bail!(
            "the copy differs from the source in {}; was the source changed during the copy? Empty the target \
             (or use a new one) and copy again",
            differing.join(", ")
        );
    }
    eprintln!(
        "Point the servers of the new database at the same key file (ROSTER_SECRET_KEY_FILE; by default \
         secret.key in the data folder): authenticator apps are sealed under it."
    );
    Ok(())
}

/// A line on standard error as each table is done, and every [`PROGRESS_EVERY`] rows of a big one.
fn show_progress(p: Progress<'_>) {
    if p.finished {
        eprintln!("  {:<24} {:>10} rows", p.table, p.copied);
    } else if p.copied % PROGRESS_EVERY < transfer::BATCH_ROWS as u64 && p.copied < p.total {
        eprintln!("  {:<24} {:>10} of {} rows", p.table, p.copied, p.total);
    }
}

/// The verification table: each table's rows and checksum, and whether the target matches.
fn report(checks: &[TableCheck]) -> String {
    let mut out = format!("{:<24} {:>10}  {:<16}  result\n", "table", "rows", "sha-256");
    for check in checks {
        let (rows, sha) = (check.source.rows, check.source.hex());
        out.push_str(&format!("{:<24} {rows:>10}  {:<16}  ", check.table, &sha[..16]));
        out.push_str(&match check.ok() {
            true => "ok\n".to_string(),
            false => format!("DIFFERS: the target has {} rows, {}\n", check.target.rows, &check.target.hex()[..16]),
        });
    }
    let rows: u64 = checks.iter().map(|c| c.source.rows).sum();
    out.push_str(&match checks.iter().filter(|c| !c.ok()).count() {
        0 => format!("Copied {} tables, {rows} rows; source and target match.\n", checks.len()),
        n => format!("{n} of {} tables differ.\n", checks.len()),
    });
    out
}

#[cfg(test)]
mod tests {
    use roster_domain::transfer::{Cell, Checksum};

    use super::*;

    fn check(table: &str, source: &[i64], target: &[i64]) -> TableCheck {
        let sum = |values: &[i64]| {
            let mut checksum = Checksum::default();
            values.iter().for_each(|v| checksum.add(&[Cell::Int(*v)]));
            checksum.finish()
        };
        TableCheck { table: table.into(), source: sum(source), target: sum(target) }
    }

    #[test]
    fn urls_name_their_engine() {
        assert_eq!(engine("sqlite:///srv/roster/roster.db", "--from").unwrap(), Engine::Sqlite);
        assert_eq!(engine("sqlite://roster.db", "--from").unwrap(), Engine::Sqlite);
        assert_eq!(engine("postgres://roster@db/roster", "--to").unwrap(), Engine::Postgres);
        assert_eq!(engine("postgresql://db/roster", "--to").unwrap(), Engine::Postgres);
        let err = engine("mysql://db/roster", "--to").unwrap_err().to_string();
        assert!(err.starts_with("--to: the \"mysql\" scheme is not supported"), "{err}");
    }

    #[test]
    fn the_report_shows_every_table_and_what_differs() {
        let text = report(&[check("users", &[1, 2], &[1, 2]), check("audit_log", &[], &[])]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("table") && lines[0].ends_with("result"), "{text}");
        assert!(lines[1].starts_with("users ") && lines[1].contains("         2  ") && lines[1].ends_with("  ok"));
        assert!(lines[2].contains(" e3b0c44298fc1c14 ") && lines[2].ends_with("ok"), "{text}");
        assert_eq!(lines[3], "Copied 2 tables, 2 rows; source and target match.");

        let failed = check("users", &[1, 2], &[1, 3]);
        let text = report(&[failed.clone(), check("outbox", &[5], &[])]);
        assert!(text.contains(&format!("DIFFERS: the target has 2 rows, {}", &failed.target.hex()[..16])), "{text}");
        assert!(text.contains("DIFFERS: the target has 0 rows, e3b0c44298fc1c14"), "{text}");
        assert!(text.ends_with("2 of 2 tables differ.\n"), "{text}");
    }
}
