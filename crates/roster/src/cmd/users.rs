//! `roster users …`: scripting access to the directory.

use std::io::Read;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use roster_domain::{Actor, DomainError, NewUserInput, Role, RoleSet};

use crate::config::StoreArgs;

/// The `users` subcommands.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Add a user and print its id.
    Add(AddArgs),
}

/// Options of `roster users add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Sign-in name, such as alex.wilber@contoso.com.
    #[arg(long)]
    username: String,
    /// The name shown in lists.
    #[arg(long)]
    display_name: String,
    #[arg(long, default_value = "")]
    first_name: String,
    #[arg(long, default_value = "")]
    last_name: String,
    /// An administrator role (repeat for several).
    #[arg(long = "role", value_parser = parse_role)]
    roles: Vec<Role>,
    /// Read the password from standard input (the first line). Without it a password is
    /// generated and printed on standard error.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_role(slug: &str) -> Result<Role, String> {
    Role::from_slug(slug).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.slug()).collect();
        format!("unknown role {slug:?}; use one of {}", known.join(", "))
    })
}

/// Runs a `users` subcommand.
pub async fn run(command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add(args) => add(args).await,
    }
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the password from standard input")?;
        let line = text.lines().next().unwrap_or_default().to_string();
        if line.is_empty() {
            bail!("--password-stdin: standard input held no password");
        }
        Some(line)
    } else {
        None
    };
    let (directory, store) = args.store.open().await?;
    let input = NewUserInput {
        username: args.username,
        display_name: args.display_name,
        first_name: args.first_name,
        last_name: args.last_name,
        password,
        must_change_password: false,
        roles: RoleSet::of(&args.roles),
    };
    let result = directory.create_user(&Actor::system("roster command line"), input).await;
    store.close().await;
    match result {
        Ok((user, generated)) => {
            if let Some(p) = generated {
                eprintln!("Generated password: {p}");
            }
            println!("{}", user.id);
            Ok(())
        }
        Err(DomainError::Invalid(errors)) => {
            for e in &errors {
                eprintln!("--{}: {}", e.field.replace('_', "-"), e.message);
            }
            bail!("the user was not added")
        }
        Err(e) => Err(e.into()),
    }
}
