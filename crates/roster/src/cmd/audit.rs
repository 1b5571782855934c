//! `roster audit …`: the audit log's tamper evidence.

use anyhow::bail;
use clap::{Args, Subcommand};
use roster_domain::Actor;

use crate::config::StoreArgs;

/// The `audit` subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Seal what is unsealed, then check the whole hash chain and name the first record at fault.
    Verify(VerifyArgs),
}

/// Options of `roster audit verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs an `audit` subcommand.
pub async fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify(args) => verify(args).await,
    }
}

async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let (directory, store) = args.store.open().await?;
    let report = directory.verify_audit(&Actor::system("roster command line")).await;
    store.close().await;
    let report = report?;
    if let Some(anchor) = &report.anchor {
        println!("Records up to {} were removed by retention; the chain is checked from there.", anchor.seq);
    }
    println!("Checked {} sealed records.", report.checked);
    if report.unsealed > 0 {
        println!("{} records written meanwhile are not sealed yet; the next check covers them.", report.unsealed);
    }
    if let Some(broken) = report.broken {
        bail!("the audit log was tampered with at record {}: {}", broken.seq, broken.reason);
    }
    match report.head {
        Some(head) => println!(
            "The chain is intact. Head: record {}, hash {}\n(Keep this line elsewhere: a later check should show the \
             same hash for record {}.)",
            head.seq, head.hash, head.seq
        ),
        None => println!("The chain is intact (no records yet)."),
    }
    Ok(())
}
