//! `roster keys …`: the keys that sign ID tokens for applications signing people in.

use clap::{Args, Subcommand};
use roster_domain::oidc::keys::SigningAlg;
use roster_domain::Actor;

use crate::config::StoreArgs;

/// The `keys` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List the signing keys: algorithm, key id, from when each signs and when it retires.
    List(ListArgs),
    /// Replace signing keys: the new ones are published now and sign from a day later.
    Rotate(RotateArgs),
}

/// Options of `roster keys list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster keys rotate`.
#[derive(Args, Debug)]
pub struct RotateArgs {
    /// Only this algorithm's key (RS256, ES256 or EdDSA); repeat for several. All by default.
    #[arg(long = "alg", value_name = "ALG", value_parser = parse_alg)]
    algs: Vec<SigningAlg>,
    /// Sign with the new keys at once and stop trusting the old ones now: for a key that may
    /// have leaked. Tokens the old keys signed stop verifying.
    #[arg(long)]
    immediately: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_alg(text: &str) -> Result<SigningAlg, String> {
    text.parse()
}

/// Runs a `keys` subcommand, as the command line itself.
pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let actor = Actor::system("roster command line");
    match command {
        KeysCommand::List(args) => {
            let (directory, store) = args.store.open().await?;
            let result = directory.signing_keys(&actor).await;
            store.close().await;
            for key in result? {
                let retires = key.retires_at.map_or("-".to_string(), |at| at.rfc3339());
                println!("{}\t{}\t{}\t{}", key.alg, key.kid, key.signs_from.rfc3339(), retires);
            }
            Ok(())
        }
        KeysCommand::Rotate(args) => {
            let (directory, store) = args.store.open().await?;
            let result = directory.rotate_signing_keys(&actor, &args.algs, args.immediately).await;
            store.close().await;
            for key in result? {
                match key.retires_at {
                    Some(at) => println!("{} key {} retires {}.", key.alg, key.kid, at.rfc3339()),
                    None => println!(
                        "{} key {} is published and signs from {}.",
                        key.alg,
                        key.kid,
                        key.signs_from.rfc3339()
                    ),
                }
            }
            println!("A running server uses the new keys within a minute of their time.");
            Ok(())
        }
    }
}
