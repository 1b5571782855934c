//! `roster apps …`: application registrations for the Graph and SCIM APIs.

use clap::{Args, Subcommand};
use roster_domain::apps::{AppPermission, DEFAULT_SECRET_DAYS};
use roster_domain::directory::AppInput;
use roster_domain::{Actor, DomainError};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::StoreArgs;

/// The `apps` subcommands.
#[derive(Subcommand, Debug)]
pub enum AppsCommand {
    /// Register an application and print its client id and first client secret.
    Add(AddArgs),
    /// List registered applications.
    List(StoreOnly),
    /// Add a client secret to an application and print it.
    AddSecret(AddSecretArgs),
    /// Remove an application; its tokens stop working at once.
    Remove(RemoveArgs),
}

/// Options of `roster apps add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// What the application is, such as "HR provisioning".
    #[arg(long)]
    name: String,
    /// An application permission, by its Graph name; repeat for several.
    #[arg(long = "permission", value_name = "PERMISSION", required = true, value_parser = parse_permission)]
    permissions: Vec<AppPermission>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of commands that need only the database.
#[derive(Args, Debug)]
pub struct StoreOnly {
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster apps add-secret`.
#[derive(Args, Debug)]
pub struct AddSecretArgs {
    /// The application's client id.
    client_id: Uuid,
    /// Where the secret will be used.
    #[arg(long, default_value = "")]
    description: String,
    /// Days until the secret expires: 90, 180, 365 or 730.
    #[arg(long, default_value_t = DEFAULT_SECRET_DAYS)]
    days: i64,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster apps remove`.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The application's client id.
    client_id: Uuid,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_permission(text: &str) -> Result<AppPermission, String> {
    text.parse()
}

/// Runs an `apps` subcommand, as the command line itself (with every permission, audited so).
pub async fn run(command: AppsCommand) -> anyhow::Result<()> {
    let actor = Actor::system("roster command line");
    match command {
        AppsCommand::Add(args) => {
            let (directory, store) = args.store.open().await?;
            let input = AppInput {
                name: args.name.clone(),
                permissions: args.permissions.iter().map(|p| p.name().to_string()).collect(),
            };
            let result = directory.register_app(&actor, &input).await;
            store.close().await;
            let (app, secret, plain) = result.map_err(explain)?;
            println!("Registered {} with {}.", app.name, app.permissions.display());
            println!("Client id:     {}", app.id);
            println!("Client secret: {}", plain.expose_secret());
            println!("The secret expires {} and is not shown again.", secret.expires_at.display());
            Ok(())
        }
        AppsCommand::List(args) => {
            let (directory, store) = args.store.open().await?;
            let result = directory.list_apps(&actor).await;
            store.close().await;
            for app in result? {
                println!("{}\t{}\t{}", app.id, app.name, app.permissions.display());
            }
            Ok(())
        }
        AppsCommand::AddSecret(args) => {
            let (directory, store) = args.store.open().await?;
            let result = directory.add_app_secret(&actor, args.client_id, &args.description, args.days).await;
            store.close().await;
            let (secret, plain) = result.map_err(explain)?;
            println!("Client secret: {}", plain.expose_secret());
            println!("It expires {} and is not shown again.", secret.expires_at.display());
            Ok(())
        }
        AppsCommand::Remove(args) => {
            let (directory, store) = args.store.open().await?;
            let result = directory.unregister_app(&actor, args.client_id).await;
            store.close().await;
            result.map_err(explain)?;
            println!("Removed application {}.", args.client_id);
            Ok(())
        }
    }
}

/// Field errors named as the options that carry them.
fn explain(e: DomainError) -> anyhow::Error {
    match e {
        DomainError::Invalid(errors) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| {
                    let option = match e.field.as_str() {
                        "permissions" => "permission",
                        "expires" => "days",
                        other => other,
                    };
                    format!("--{option}: {}", e.message)
                })
                .collect();
            anyhow::anyhow!("{}", lines.join("\n"))
        }
        DomainError::NotFound(what) => anyhow::anyhow!("there is no such {what}"),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_errors_name_the_option() {
        let e = explain(DomainError::invalid("expires", "Choose 90, 180, 365 or 730."));
        assert_eq!(e.to_string(), "--days: Choose 90, 180, 365 or 730.");
    }
}
