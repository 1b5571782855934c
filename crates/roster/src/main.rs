//! The `roster` command: the server and the administration commands, one binary.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// mimalloc returns freed memory to the system sooner than glibc's per-thread arenas: in the
/// benchmark the server ends at about 220 MB instead of 270 MB, and saves run faster; with its
/// purge delay at zero (see [`return_freed_memory_at_once`]), at about 146 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mimalloc option that makes freed memory go back to the system at once.
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";

mod cmd;
mod config;
mod config_file;
mod demo;

/// Roster: a self-hosted user directory and admin center that keeps every account recoverable.
#[derive(Parser)]
#[command(name = "roster", version, about, long_about = None)]
struct Cli {
    /// A TOML file of settings (keys as the ROSTER_ variables without the prefix, in lower
    /// case); the command line and the environment take precedence over it.
    #[arg(long, global = true, env = "ROSTER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (admin center and self-service pages).
    Serve(cmd::serve::ServeArgs),
    /// Manage users from the command line.
    #[command(subcommand)]
    Users(cmd::users::UsersCommand),
    /// Register applications that call the Graph and SCIM APIs or sign people in.
    #[command(subcommand)]
    Apps(cmd::apps::AppsCommand),
    /// List and rotate the keys that sign ID tokens.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Manage security groups and their members.
    #[command(subcommand)]
    Groups(cmd::groups::GroupsCommand),
    /// Check the audit log's hash chain.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Print the admin center's reports.
    #[command(subcommand)]
    Report(cmd::report::ReportCommand),
    /// Fill the directory with realistic sample people.
    DemoData(cmd::demo_data::DemoDataArgs),
    /// Apply the database migrations this build needs, or show them (--status).
    Migrate(cmd::migrate::MigrateArgs),
    /// Write a consistent copy of the embedded database while the server runs.
    Backup(cmd::backup::BackupArgs),
    /// Copy a whole installation into an empty database (SQLite and PostgreSQL, either way) and verify it.
    Copy(cmd::copy::CopyArgs),
    /// Print the settings `roster serve` would run with (secrets hidden) and check them.
    CheckConfig(cmd::check_config::CheckConfigArgs),
}

fn main() -> anyhow::Result<()> {
    return_freed_memory_at_once();
    // Before the runtime starts threads: the file's settings go into the environment.
    let (known, secrets) = variables(&Cli::command());
    let loaded = config_file::load(&std::env::args().collect::<Vec<_>>(), &known, &secrets)?;
    tokio::runtime::Runtime::new()?.block_on(run(loaded))
}

/// Every `ROSTER_…` variable an option of any subcommand reads, and those holding secrets.
fn variables(command: &clap::Command) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut known = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    for arg in command.get_arguments() {
        if let Some(name) = arg.get_env().and_then(|n| n.to_str()) {
            known.insert(name.to_string());
            if arg.is_hide_env_values_set() {
                secrets.insert(name.to_string());
            }
        }
    }
    for sub in command.get_subcommands() {
        let (k, s) = variables(sub);
        known.extend(k);
        secrets.extend(s);
    }
    (known, secrets)
}

/// mimalloc keeps freed pages for a while before giving them back, which left the server about
/// 60 MB above its working set after the benchmark's searches. It reads its options from the
/// environment only as the process starts, so Roster sets the option and starts itself again,
/// once, in place (same process id). An operator's own setting is left alone, and if the
/// restart fails Roster carries on with mimalloc's defaults.
fn return_freed_memory_at_once() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(PURGE_DELAY).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let failure = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env(PURGE_DELAY, "0").exec();
        eprintln!("roster: carrying on with the allocator's defaults ({failure})");
    }
}

async fn run(loaded: config_file::Loaded) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args).await,
        Command::Users(command) => cmd::users::run(command).await,
        Command::Apps(command) => cmd::apps::run(command).await,
        Command::Keys(command) => cmd::keys::run(command).await,
        Command::Groups(command) => cmd::groups::run(command).await,
        Command::Audit(command) => cmd::audit::run(command).await,
        Command::Report(command) => cmd::report::run(command).await,
        Command::DemoData(args) => cmd::demo_data::run(args).await,
        Command::Migrate(args) => cmd::migrate::run(args).await,
        Command::Backup(args) => cmd::backup::run(args).await,
        Command::Copy(args) => cmd::copy::run(args).await,
        Command::CheckConfig(args) => {
            let sub = matches.subcommand_matches("check-config").expect("the subcommand that was parsed");
            cmd::check_config::run(args, sub, &loaded).await
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
