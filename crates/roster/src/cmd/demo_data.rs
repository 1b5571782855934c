//! `roster demo-data`: sample people in bulk.

use std::time::Instant;

use clap::Args;
use roster_domain::Actor;

use crate::config::StoreArgs;
use crate::demo;

/// Options of `roster demo-data`.
#[derive(Args, Debug)]
pub struct DemoDataArgs {
    /// How many people to add.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    users: u32,
    #[command(flatten)]
    store: StoreArgs,
}

/// Adds the sample people and reports the time taken.
pub async fn run(args: DemoDataArgs) -> anyhow::Result<()> {
    let (directory, store) = args.store.open().await?;
    let started = Instant::now();
    let total = args.users as usize;
    demo::load(&directory, &Actor::system("roster demo-data"), total, |done| {
        if done % 100_000 == 0 || done == total {
            eprintln!("{done} of {total} users written");
        }
    })
    .await?;
    store.close().await;
    println!("Added {total} users in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
