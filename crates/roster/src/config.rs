//! Where the directory lives: found the same way by every subcommand.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use roster_delivery::{EmailTransport, SmsTransport, SmtpConfig, Transports, TwilioConfig, WebhookConfig};
use roster_domain::recovery::CodeKey;
use roster_domain::{Directory, Store};
use roster_store::postgres::PostgresStore;
use roster_store::sqlite::SqliteStore;
use secrecy::{ExposeSecret, SecretString};

/// The options that locate the directory's database.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Folder for the embedded database.
    #[arg(long, env = "ROSTER_DATA", default_value = "./roster-data")]
    pub data: PathBuf,
    /// A database URL instead of the data folder: `sqlite:///path/to/roster.db`, or
    /// `postgres://user:password@host/database` for several nodes on one database.
    #[arg(long, env = "ROSTER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Connections each node keeps to PostgreSQL at most. Every node needs its own within the
    /// server's `max_connections`.
    #[arg(
        long,
        env = "ROSTER_DATABASE_CONNECTIONS",
        default_value_t = roster_store::postgres::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub database_connections: u32,
    /// File with the key one-time codes are hashed under (64 hex digits); created in the data
    /// folder on first use. Every node on one database needs the same key.
    #[arg(long, env = "ROSTER_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

/// Where the directory's database is, as the options name it.
enum Location<'a> {
    Folder(&'a Path),
    Sqlite(&'a str),
    Postgres(&'a str),
}

/// The database engines a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The engine a database URL names by its scheme, or `None` for any other scheme.
pub fn engine_of(url: &str) -> Option<Engine> {
    match url.split(':').next().unwrap_or_default() {
        "sqlite" => Some(Engine::Sqlite),
        "postgres" | "postgresql" => Some(Engine::Postgres),
        _ => None,
    }
}

/// An open store of either engine, kept to be closed at the end.
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Backend {
    /// Opens the database `url` names as it is, applying nothing; with `existing`, a SQLite
    /// file that is not there is an error rather than created.
    pub async fn open_url(url: &str, engine: Engine, existing: bool, connections: u32) -> anyhow::Result<Backend> {
        Ok(match (engine, existing) {
            (Engine::Sqlite, true) => Backend::Sqlite(SqliteStore::open_url_existing(url).await?),
            (Engine::Sqlite, false) => Backend::Sqlite(SqliteStore::open_url_unmigrated(url).await?),
            (Engine::Postgres, _) => Backend::Postgres(PostgresStore::connect_unmigrated(url, connections).await?),
        })
    }

    /// The store behind the storage interface.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(store) => Arc::new(store.clone()),
            Backend::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// Applies the migrations the database lacks.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Backend::Sqlite(store) => store.migrate().await?,
            Backend::Postgres(store) => store.migrate().await?,
        }
        Ok(())
    }

    /// Closes the store's connections, waiting for statements under way.
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }
}

impl StoreArgs {
    fn location(&self) -> anyhow::Result<Location<'_>> {
        match self.database_url.as_ref().map(ExposeSecret::expose_secret) {
            None => Ok(Location::Folder(&self.data)),
            Some(url) if engine_of(url) == Some(Engine::Sqlite) => Ok(Location::Sqlite(url)),
            Some(url) if engine_of(url) == Some(Engine::Postgres) => Ok(Location::Postgres(url)),
            Some(url) => {
                let scheme = url.split(':').next().unwrap_or_default();
                bail!("database_url: the {scheme:?} scheme is not supported; use sqlite: or postgres://")
            }
        }
    }

    /// Checks the options of a server without opening anything: the database URL's form, and
    /// the key file when it exists already.
    pub fn check(&self) -> anyhow::Result<()> {
        let location = self.location()?;
        match location {
            Location::Sqlite(url) => SqliteStore::check_url(url).context("database_url")?,
            Location::Postgres(url) => PostgresStore::check_url(url).context("database_url")?,
            Location::Folder(_) => {}
        }
        let key_file = self.secret_key_file.clone().unwrap_or_else(|| self.data.join(KEY_FILE));
        if let Ok(text) = std::fs::read_to_string(&key_file) {
            parse_key(text.trim())
                .with_context(|| format!("secret_key_file: {} must hold 64 hex digits", key_file.display()))?;
        }
        if let Location::Postgres(_) = location {
            if self.secret_key_file.is_none() {
                bail!(
                    "secret_key_file: with a PostgreSQL database, set ROSTER_SECRET_KEY_FILE to a key file that \
                     every node shares (it is created if missing); one-time codes sent by one node are checked \
                     by whichever node the answer reaches, and authenticator apps are sealed under it"
                )
            }
        }
        Ok(())
    }

    /// Connects to the database as it is, applying nothing.
    pub async fn connect(&self) -> anyhow::Result<Backend> {
        self.connect_to(false).await
    }

    /// Connects to a database that must exist already, applying nothing: for commands that
    /// only read it, so that a mistyped location is an error rather than a new empty directory.
    pub async fn connect_existing(&self) -> anyhow::Result<Backend> {
        self.connect_to(true).await
    }

    async fn connect_to(&self, existing: bool) -> anyhow::Result<Backend> {
        let (url, engine) = match self.location()? {
            Location::Folder(data) => {
                let file = data.join(roster_store::sqlite::DATABASE_FILE);
                if existing && !file.exists() {
                    bail!("data: there is no directory in {} (no {})", data.display(), file.display());
                }
                let store = SqliteStore::open_unmigrated(data)
                    .await
                    .with_context(|| format!("cannot open the directory in {}", data.display()))?;
                return Ok(Backend::Sqlite(store));
            }
            Location::Sqlite(url) => (url, Engine::Sqlite),
            Location::Postgres(url) => (url, Engine::Postgres),
        };
        Backend::open_url(url, engine, existing, self.database_connections)
            .await
            .context("cannot open the database given by ROSTER_DATABASE_URL")
    }

    /// Opens the store (applying migrations) and wraps it in the directory service.
    pub async fn open(&self) -> anyhow::Result<(Directory, Backend)> {
        self.check()?;
        let backend = self.connect().await?;
        backend.migrate().await?;
        let key_file = self.secret_key_file.clone().unwrap_or_else(|| self.data.join(KEY_FILE));
        let key = load_or_create_key(&key_file)?;
        Ok((Directory::new(backend.store()).with_code_key(key), backend))
    }
}

/// The key file's name in the data folder.
const KEY_FILE: &str = "secret.key";

/// Reads the code key, or creates it (readable by its owner only) when there is none yet.
/// Nodes started at the same moment on one shared key file agree on one key: the new key is
/// written in full to a file of its own and then linked into place, which fails if another
/// process linked its key first, so nobody ever reads a half-written key.
fn load_or_create_key(path: &Path) -> anyhow::Result<CodeKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(text.trim()).with_context(|| format!("{} must hold 64 hex digits", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let text = CodeKey::random().mac(&["new key"]);
            let draft = dir.join(format!(".{KEY_FILE}.{:016x}", rand::random::<u64>()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let written = options
                .open(&draft)
                .and_then(|mut file| std::io::Write::write_all(&mut file, format!("{text}\n").as_bytes()))
                .with_context(|| format!("cannot write {}", draft.display()));
            let linked = written.and_then(|()| {
                std::fs::hard_link(&draft, path).or_else(|e| match e.kind() {
                    // Another process linked its key first: that one is the key.
                    std::io::ErrorKind::AlreadyExists => Ok(()),
                    _ => Err(e).with_context(|| format!("cannot create {}", path.display())),
                })
            });
            let _ = std::fs::remove_file(&draft);
            linked?;
            load_or_create_key(path)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn parse_key(hex: &str) -> anyhow::Result<CodeKey> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("expected 64 hex digits");
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(CodeKey::from_bytes(bytes))
}

/// The options that say how messages leave the server. With none, messages are held in the
/// outbox and printed to the console (a development setting).
#[derive(Args, Debug, Clone)]
pub struct DeliveryArgs {
    /// SMTP server for email: `smtp://user:pass@host:587?tls=starttls`, `smtps://…:465` for
    /// implicit TLS, `smtp://host:25` for a local relay without TLS.
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SecretString>,
    /// The From address of email.
    #[arg(long, env = "ROSTER_MAIL_FROM", default_value = "Roster <roster@localhost>")]
    pub mail_from: String,
    /// Twilio account SID, to send text messages through Twilio's Messages API.
    #[arg(long, env = "ROSTER_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token.
    #[arg(long, env = "ROSTER_TWILIO_AUTH_TOKEN", hide_env_values = true, default_value = "")]
    pub twilio_auth_token: SecretString,
    /// Sending number (E.164) or Messaging Service SID.
    #[arg(long, env = "ROSTER_TWILIO_FROM", default_value = "")]
    pub twilio_from: String,
    /// Base URL of Twilio's API.
    #[arg(long, env = "ROSTER_TWILIO_BASE_URL", default_value = roster_delivery::sms::TWILIO_API)]
    pub twilio_base_url: String,
    /// A gateway URL that takes a signed JSON POST per text message (instead of Twilio).
    #[arg(long, env = "ROSTER_SMS_WEBHOOK_URL", hide_env_values = true)]
    pub sms_webhook_url: Option<SecretString>,
    /// Key of the webhook's `X-Roster-Signature` (HMAC-SHA256), at least 16 characters.
    #[arg(long, env = "ROSTER_SMS_WEBHOOK_SECRET", hide_env_values = true, default_value = "")]
    pub sms_webhook_secret: SecretString,
    /// Pause before the first retry of a failed delivery, in milliseconds; it doubles with each
    /// further attempt, up to an hour.
    #[arg(long, env = "ROSTER_OUTBOX_RETRY_MS", default_value_t = 30_000)]
    pub outbox_retry_ms: u64,
}

impl DeliveryArgs {
    /// The transports these options describe.
    pub fn transports(&self) -> anyhow::Result<Transports> {
        let email = match &self.smtp_url {
            Some(url) => Some(
                EmailTransport::new(&SmtpConfig { url: url.clone(), from: self.mail_from.clone() })
                    .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let sms = match (&self.twilio_account_sid, &self.sms_webhook_url) {
            (Some(_), Some(_)) => bail!("set either ROSTER_TWILIO_ACCOUNT_SID or ROSTER_SMS_WEBHOOK_URL, not both"),
            (Some(sid), None) => Some(
                SmsTransport::twilio(TwilioConfig {
                    account_sid: sid.clone(),
                    auth_token: self.twilio_auth_token.clone(),
                    from: self.twilio_from.clone(),
                    base_url: self.twilio_base_url.clone(),
                })
                .map_err(anyhow::Error::msg)?,
            ),
            (None, Some(url)) => Some(
                SmsTransport::webhook(WebhookConfig { url: url.clone(), secret: self.sms_webhook_secret.clone() })
                    .map_err(anyhow::Error::msg)?,
            ),
            (None, None) => None,
        };
        Ok(Transports { email, sms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(KEY_FILE);
        let first = load_or_create_key(&path).unwrap();
        let second = load_or_create_key(&path).unwrap();
        assert_eq!(first.mac(&["x"]), second.mac(&["x"]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(load_or_create_key(&path).unwrap_err().to_string().contains("64 hex digits"));
    }

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let start = std::sync::Barrier::new(8);
        let keys: Vec<String> = std::thread::scope(|scope| {
            let starters: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        load_or_create_key(&path).unwrap().mac(&["x"])
                    })
                })
                .collect();
            starters.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "one key for all");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from(KEY_FILE)], "no drafts left behind");
    }

    #[test]
    fn secrets_never_print() {
        let store = StoreArgs {
            data: PathBuf::from("data"),
            database_url: Some("postgres://roster:db-password@db.example.com/roster".to_string().into()),
            database_connections: 16,
            secret_key_file: None,
        };
        let delivery = DeliveryArgs {
            smtp_url: Some("smtp://relay:smtp-password@mail.example.com:587".to_string().into()),
            mail_from: "Roster <roster@localhost>".into(),
            twilio_account_sid: Some("AC1".into()),
            twilio_auth_token: "twilio-token".to_string().into(),
            twilio_from: "+15005550006".into(),
            twilio_base_url: roster_delivery::sms::TWILIO_API.into(),
            sms_webhook_url: Some("https://gateway:url-password@sms.example.com/".to_string().into()),
            sms_webhook_secret: "webhook-secret".to_string().into(),
            outbox_retry_ms: 1,
        };
        let printed = format!("{store:?} {delivery:?}");
        for secret in ["db-password", "smtp-password", "twilio-token", "webhook-secret", "url-password"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }
}
