//! `roster check-config`: the effective settings of `roster serve`, as a TOML file with where
//! each value came from, secrets hidden; then the checks `roster serve` makes before it starts.

use clap::{ArgMatches, Args, CommandFactory};

use crate::cmd::serve::ServeArgs;
use crate::config_file::Loaded;

/// Options of `roster check-config`: those of `roster serve`.
#[derive(Args, Debug)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    serve: ServeArgs,
}

/// Prints the settings and checks them; an error names the setting at fault.
pub async fn run(args: CheckConfigArgs, matches: &ArgMatches, loaded: &Loaded) -> anyhow::Result<()> {
    match &loaded.path {
        Some(path) => println!("# Settings of `roster serve`, with the configuration file {}", path.display()),
        None => println!("# Settings of `roster serve` (no configuration file)"),
    }
    let command = crate::Cli::command();
    let sub = command.find_subcommand("check-config").expect("the subcommand exists");
    for arg in sub.get_arguments() {
        let Some(variable) = arg.get_env().and_then(|v| v.to_str()) else {
            continue;
        };
        if variable == crate::config_file::CONFIG_ENV {
            continue;
        }
        let key = variable.trim_start_matches("ROSTER_").to_lowercase();
        let id = arg.get_id().as_str();
        let value: Option<String> = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect::<Vec<_>>().join(","));
        let source = match matches.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) => "command line".to_string(),
            Some(clap::parser::ValueSource::EnvVariable) if loaded.from_file.contains(variable) => {
                "configuration file".to_string()
            }
            Some(clap::parser::ValueSource::EnvVariable) if loaded.from_secret_file.contains(variable) => {
                format!("{variable}_FILE")
            }
            Some(clap::parser::ValueSource::EnvVariable) => variable.to_string(),
            Some(clap::parser::ValueSource::DefaultValue) => "default".to_string(),
            _ => "not set".to_string(),
        };
        match value {
            Some(value) if arg.is_hide_env_values_set() && !value.is_empty() => {
                println!("{key} = {}  # {source}; secret", toml_string(&redact(&value, true)))
            }
            Some(value) => println!("{key} = {}  # {source}", toml_string(&redact(&value, false))),
            None => println!("# {key} is not set"),
        }
    }
    args.serve.check().await?;
    println!("# The settings are valid.");
    Ok(())
}

/// A value as it may be shown: a URL's password hidden (a secret's query too, which may carry
/// one), and a secret that is not a URL hidden whole.
fn redact(value: &str, secret: bool) -> String {
    match url::Url::parse(value) {
        Ok(url) if !secret && url.password().is_none() => value.to_string(),
        Ok(mut url) if url.has_host() => {
            if url.password().is_some() && url.set_password(Some("********")).is_err() {
                return "********".to_string();
            }
            if secret {
                url.set_query(None);
                url.set_fragment(None);
            }
            url.to_string()
        }
        _ if secret => "********".to_string(),
        _ => value.to_string(),
    }
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_keep_only_what_identifies_the_service() {
        let secret = |v: &str| redact(v, true);
        assert_eq!(
            secret("postgres://roster:s3cret@db.internal:5432/roster"),
            "postgres://roster:********@db.internal:5432/roster"
        );
        assert_eq!(secret("smtp://mail.example.com:25"), "smtp://mail.example.com:25");
        assert_eq!(secret("smtps://u:p@smtp.example.com:465?tls=required"), "smtps://u:********@smtp.example.com:465");
        assert_eq!(secret("postgres://db/roster?password=x"), "postgres://db/roster");
        assert_eq!(secret("a-webhook-key-of-32-characters!"), "********");
        // A password with characters a URL does not allow unescaped cannot be told apart: hidden whole.
        assert_eq!(secret("postgres://u:pa/ss@h/db"), "********");
        assert_eq!(secret("postgres://u:pa?ss@h/db"), "********");
        assert_eq!(redact("https://u:p@gateway.example.com/sms", false), "https://u:********@gateway.example.com/sms");
        assert_eq!(redact("https://api.twilio.com", false), "https://api.twilio.com");
        assert_eq!(redact("0.0.0.0:8080", false), "0.0.0.0:8080");
    }
}
