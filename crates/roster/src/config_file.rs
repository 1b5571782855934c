//! Settings from a TOML file (`--config FILE` or `ROSTER_CONFIG`), beside the environment.
//!
//! A file's keys are the environment variables' names without `ROSTER_`, in lower case
//! (`listen`, `database_url`, `smtp_url`, …). Each key the environment does not already set is
//! put into this process's environment before the command line is read, so one rule holds
//! for every option: command line, then environment, then file, then the built-in default.
//!
//! Any secret can also be read from a file of its own (`ROSTER_SMTP_URL_FILE`, or `smtp_url_file`
//! in the TOML file), the convention of container secrets; the file's content, without its final
//! line break, becomes the setting.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Where the settings of this run came from, for `roster check-config`.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    /// The configuration file read, if any.
    pub path: Option<PathBuf>,
    /// Environment variables this run took from the file.
    pub from_file: BTreeSet<String>,
    /// Environment variables this run read from a `…_FILE` secret file.
    pub from_secret_file: BTreeSet<String>,
}

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "ROSTER_CONFIG";

/// Variables that are no command-line option but may be set in the file.
const EXTRA_KEYS: [&str; 1] = ["ROSTER_LOG"];

/// Reads the configuration file named on the command line or in the environment (if any) into
/// the environment, then any secret files. `known` lists every `ROSTER_…` variable an option
/// reads, and `secrets` those that may come from a file. Must run before any thread starts.
pub fn load(args: &[String], known: &BTreeSet<String>, secrets: &BTreeSet<String>) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    if let Some(path) = config_path(args) {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        for (variable, value) in parse(&path, &text, known, secrets)? {
            if std::env::var_os(&variable).is_none() {
                std::env::set_var(&variable, value);
                loaded.from_file.insert(variable);
            }
        }
        loaded.path = Some(path);
    }
    for variable in secrets {
        let file_variable = format!("{variable}_FILE");
        let Some(file) = std::env::var_os(&file_variable) else {
            continue;
        };
        let value_from_file = loaded.from_file.contains(variable);
        let path_from_file = loaded.from_file.contains(&file_variable);
        if std::env::var_os(variable).is_some() {
            match (value_from_file, path_from_file) {
                // The environment's value outranks the file's path to one.
                (false, true) => {
                    std::env::remove_var(&file_variable);
                    loaded.from_file.remove(&file_variable);
                    continue;
                }
                (false, false) => bail!("{variable} and {file_variable} are both set; set one of them"),
                (true, true) => bail!(
                    "{}: `{}` and `{}` are both set; set one of them",
                    loaded.path.as_deref().unwrap_or(Path::new("the configuration file")).display(),
                    key_of(variable),
                    key_of(&file_variable)
                ),
                // The environment's path outranks the file's value.
                (true, false) => {}
            }
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("{file_variable}: cannot read {}", Path::new(&file).display()))?;
        std::env::set_var(variable, text.strip_suffix('\n').unwrap_or(&text).trim_end_matches('\r'));
        loaded.from_file.remove(variable);
        loaded.from_secret_file.insert(variable.clone());
    }
    Ok(loaded)
}

/// A variable's key in the file: `ROSTER_SMTP_URL` is `smtp_url`.
fn key_of(variable: &str) -> String {
    variable.trim_start_matches("ROSTER_").to_lowercase()
}

/// `--config FILE`, `--config=FILE` or `ROSTER_CONFIG`, the command line first.
fn config_path(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(value) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// The file's settings as environment variables and values; unknown keys and values that are
/// not single strings, numbers or booleans are refused with the key's name.
fn parse(
    path: &Path,
    text: &str,
    known: &BTreeSet<String>,
    secrets: &BTreeSet<String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let table: toml::Table = toml::from_str(text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut settings = Vec::new();
    for (key, value) in table {
        let variable = format!("ROSTER_{}", key.to_uppercase());
        let is_secret_file = variable.strip_suffix("_FILE").is_some_and(|s| secrets.contains(s));
        if !(known.contains(&variable) || EXTRA_KEYS.contains(&variable.as_str()) || is_secret_file)
            || variable == CONFIG_ENV
            || key != key.to_lowercase()
        {
            let mut names: Vec<String> =
                known.iter().map(String::as_str).chain(EXTRA_KEYS).filter(|v| *v != CONFIG_ENV).map(key_of).collect();
            names.sort();
            bail!("{}: unknown setting `{key}`; the settings are: {}", path.display(), names.join(", "));
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => bail!("{}: `{key}` must be a string, number or boolean, not {}", path.display(), other.type_str()),
        };
        settings.push((variable, value));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        ["ROSTER_LISTEN", "ROSTER_SMTP_URL", "ROSTER_OUTBOX_RETRY_MS", "ROSTER_CONFIG"].map(String::from).into()
    }

    fn secrets() -> BTreeSet<String> {
        ["ROSTER_SMTP_URL".to_string()].into()
    }

    #[test]
    fn keys_become_environment_variables() {
        let text = "listen = \"0.0.0.0:8443\"\noutbox_retry_ms = 500\nsmtp_url_file = \"/run/secrets/smtp\"\n";
        let mut settings = parse(Path::new("roster.toml"), text, &known(), &secrets()).unwrap();
        settings.sort();
        assert_eq!(
            settings,
            vec![
                ("ROSTER_LISTEN".to_string(), "0.0.0.0:8443".to_string()),
                ("ROSTER_OUTBOX_RETRY_MS".to_string(), "500".to_string()),
                ("ROSTER_SMTP_URL_FILE".to_string(), "/run/secrets/smtp".to_string()),
            ]
        );
    }

    #[test]
    fn unknown_keys_and_tables_are_refused_by_name() {
        let unknown = parse(Path::new("roster.toml"), "listne = \"x\"", &known(), &secrets()).unwrap_err();
        assert!(unknown.to_string().contains("unknown setting `listne`"), "{unknown}");
        assert!(unknown.to_string().contains("listen"), "{unknown}");
        let nested = parse(Path::new("roster.toml"), "[listen]\nport = 1", &known(), &secrets()).unwrap_err();
        assert!(nested.to_string().contains("`listen` must be a string, number or boolean, not table"), "{nested}");
        let recursive = parse(Path::new("roster.toml"), "config = \"other.toml\"", &known(), &secrets()).unwrap_err();
        assert!(recursive.to_string().contains("unknown setting `config`"), "{recursive}");
        let upper = parse(Path::new("roster.toml"), "LISTEN = \"x\"", &known(), &secrets()).unwrap_err();
        assert!(upper.to_string().contains("unknown setting `LISTEN`"), "{upper}");
        let broken = parse(Path::new("roster.toml"), "listen = ", &known(), &secrets()).unwrap_err();
        assert!(broken.to_string().contains("not valid TOML"), "{broken}");
    }

    #[test]
    fn the_command_line_names_the_file_first() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(config_path(&args(&["roster", "serve", "--config", "a.toml"])), Some(PathBuf::from("a.toml")));
        assert_eq!(config_path(&args(&["roster", "--config=b.toml", "serve"])), Some(PathBuf::from("b.toml")));
    }
}
