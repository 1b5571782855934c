//! The `roster` command: the server and the administration commands, one binary.

use clap::{Parser, Subcommand};

/// mimalloc returns freed memory to the system sooner than glibc's per-thread arenas: in the
/// benchmark the server ends at about 220 MB instead of 270 MB, and saves run faster; with its
/// purge delay at zero (see [`return_freed_memory_at_once`]), at about 146 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mimalloc option that makes freed memory go back to the system at once.
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";

mod cmd;
mod config;
mod demo;

/// Roster: a self-hosted user directory and admin center that keeps every account recoverable.
#[derive(Parser)]
#[command(name = "roster", version, about, long_about = None)]
struct Cli {
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
    /// Fill the directory with realistic sample people.
    DemoData(cmd::demo_data::DemoDataArgs),
}

fn main() -> anyhow::Result<()> {
    return_freed_memory_at_once();
    tokio::runtime::Runtime::new()?.block_on(run())
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

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => cmd::serve::run(args).await,
        Command::Users(command) => cmd::users::run(command).await,
        Command::DemoData(args) => cmd::demo_data::run(args).await,
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
