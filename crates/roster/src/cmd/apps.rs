//! `roster apps …`: application registrations for the Graph and SCIM APIs.

use clap::{Args, Subcommand};
use roster_domain::apps::{AppPermission, DEFAULT_SECRET_DAYS};
use roster_domain::directory::{AppInput, SignInInput};
use roster_domain::oidc::client::GroupsClaim;
use roster_domain::oidc::keys::SigningAlg;
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
    /// Let users (by username) or groups (by name or id) sign in to an application.
    Assign(AssignArgs),
    /// Take assignments away; those signed in lose the application at its next refresh.
    Unassign(AssignArgs),
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
    #[arg(long = "permission", value_name = "PERMISSION", value_parser = parse_permission)]
    permissions: Vec<AppPermission>,
    /// Where Roster may send people back after they sign in to the application; repeat for
    /// several. https, or http://localhost and http://127.0.0.1 (any port) for development.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Where the application may send people after signing them out of Roster too; repeat for
    /// several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// A single-page or native application: it holds no client secret and must use PKCE.
    #[arg(long)]
    public_client: bool,
    /// How its ID tokens are signed: RS256, ES256 or EdDSA.
    #[arg(long, value_name = "ALG", default_value = "RS256", value_parser = parse_alg)]
    id_token_alg: SigningAlg,
    /// Where My apps opens the application.
    #[arg(long, value_name = "URL", default_value = "")]
    home_page: String,
    /// Only the users and groups assigned (`roster apps assign`) may sign in.
    #[arg(long)]
    assignment_required: bool,
    /// Consent for the whole organisation: no one is asked what the application may see.
    #[arg(long)]
    admin_consent: bool,
    /// A file holding the application's public keys as a JSON Web Key Set: it then proves
    /// itself with JWTs signed by its key (private_key_jwt) instead of a client secret.
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// Where Roster posts a logout token when a person's sign-in ends (OpenID Connect
    /// Back-Channel Logout).
    #[arg(long, value_name = "URI", default_value = "")]
    backchannel_logout_uri: String,
    /// Give each person a subject identifier (`sub`) of this application's own.
    #[arg(long)]
    pairwise_subject: bool,
    /// A further claim carrying a user attribute, as CLAIM=ATTRIBUTE with the attribute's Graph
    /// name (employee_number=employeeId); repeat for several.
    #[arg(long = "claim", value_name = "CLAIM=ATTRIBUTE")]
    claims: Vec<String>,
    /// What the `groups` claim lists: none, ids or names (nested groups included).
    #[arg(long, value_name = "WHAT", default_value = "none", value_parser = parse_groups_claim)]
    groups_claim: GroupsClaim,
    /// `text` for people, or `json` for scripts: the client id and secret as one object.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    store: StoreArgs,
}

/// How `roster apps add` prints what it made.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

fn parse_alg(text: &str) -> Result<SigningAlg, String> {
    text.parse()
}

fn parse_groups_claim(text: &str) -> Result<GroupsClaim, String> {
    text.parse()
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

/// Options of `roster apps assign` and `unassign`.
#[derive(Args, Debug)]
pub struct AssignArgs {
    /// The application's client id.
    client_id: Uuid,
    /// Usernames and group names (or ids).
    #[arg(required = true)]
    names: Vec<String>,
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
                sign_in: SignInInput {
                    redirect_uris: args.redirect_uris.clone(),
                    post_logout_redirect_uris: args.post_logout_redirect_uris.clone(),
                    public_client: args.public_client,
                    id_token_alg: args.id_token_alg.name().to_string(),
                    home_page_url: args.home_page.clone(),
                    assignment_required: args.assignment_required,
                    admin_consent: args.admin_consent,
                    groups_claim: args.groups_claim.name().to_string(),
                    claim_mappings: args.claims.clone(),
                    pairwise_subject: args.pairwise_subject,
                    backchannel_logout_uri: args.backchannel_logout_uri.clone(),
                    jwks: match &args.jwks {
                        Some(file) => std::fs::read_to_string(file)
                            .map_err(|e| anyhow::anyhow!("--jwks: cannot read {}: {e}", file.display()))?,
                        None => String::new(),
                    },
                },
            };
            let result = directory.register_app(&actor, &input).await;
            store.close().await;
            let (app, secret) = result.map_err(explain)?;
            let auth_method = match (&secret, app.sign_in.public_client) {
                (Some(_), _) => "client_secret_basic",
                (None, true) => "none",
                (None, false) => "private_key_jwt",
            };
            if args.output == Output::Json {
                let printed = serde_json::json!({
                    "client_id": app.id,
                    "client_secret": secret.as_ref().map(|(_, plain)| plain.expose_secret()),
                    "client_secret_expires_at": secret.as_ref().map(|(s, _)| s.expires_at.rfc3339()),
                    "token_endpoint_auth_method": auth_method,
                    "name": app.name,
                    "permissions": app.permissions.iter().map(|p| p.name()).collect::<Vec<_>>(),
                    "redirect_uris": app.sign_in.redirect_uris,
                    "public_client": app.sign_in.public_client,
                    "id_token_signed_response_alg": app.sign_in.id_token_alg.name(),
                    "groups_claim": app.sign_in.groups_claim.name(),
                });
                println!("{printed:#}");
                return Ok(());
            }
            let permissions =
                if app.permissions.is_empty() { "no API permissions".into() } else { app.permissions.display() };
            println!("Registered {} with {permissions}.", app.name);
            println!("Client id:     {}", app.id);
            match secret {
                Some((secret, plain)) => {
                    println!("Client secret: {}", plain.expose_secret());
                    println!("The secret expires {} and is not shown again.", secret.expires_at.display());
                }
                None if app.sign_in.public_client => {
                    println!("It is a public client: it signs people in with PKCE and no secret.")
                }
                None => {
                    println!("It proves itself with JWTs signed by its own keys (private_key_jwt), never a secret.")
                }
            }
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
        AppsCommand::Assign(args) => {
            let (directory, store) = args.store.open().await?;
            let mut result = Ok(());
            for name in &args.names {
                match directory.assign_app(&actor, args.client_id, name).await {
                    Ok(member) => println!("Assigned {}.", member.label),
                    Err(e) => {
                        result = Err(explain(e));
                        break;
                    }
                }
            }
            store.close().await;
            result
        }
        AppsCommand::Unassign(args) => {
            let (directory, store) = args.store.open().await?;
            let mut result = Ok(());
            for name in &args.names {
                let done = match directory.assignee(&actor, name).await {
                    Ok(member) => directory.unassign_app(&actor, args.client_id, member.uuid()).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    result = Err(explain(e));
                    break;
                }
                println!("Unassigned {name}.");
            }
            store.close().await;
            result
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
                    if e.field == "assignee" {
                        return e.message.clone();
                    }
                    let option = match e.field.as_str() {
                        "permissions" => "permission",
                        "expires" => "days",
                        "redirect_uris" => "redirect-uri",
                        "post_logout_redirect_uris" => "post-logout-redirect-uri",
                        "id_token_alg" => "id-token-alg",
                        "home_page_url" => "home-page",
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
