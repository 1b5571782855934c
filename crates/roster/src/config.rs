//! Where the directory lives: found the same way by every subcommand.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use roster_delivery::{EmailTransport, SmsTransport, SmtpConfig, Transports, TwilioConfig, WebhookConfig};
use roster_domain::{Directory, Store};
use roster_store_sqlite::SqliteStore;

/// The options that locate the directory's database.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Folder for the embedded database.
    #[arg(long, env = "ROSTER_DATA", default_value = "./roster-data")]
    pub data: PathBuf,
    /// A database URL instead of the data folder (`sqlite:///path/to/roster.db`).
    #[arg(long, env = "ROSTER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// Opens the store (applying migrations) and wraps it in the directory service.
    pub async fn open(&self) -> anyhow::Result<(Directory, SqliteStore)> {
        let store = match &self.database_url {
            Some(url) if url.starts_with("sqlite:") => SqliteStore::open_url(url)
                .await
                .with_context(|| "cannot open the database given by ROSTER_DATABASE_URL")?,
            Some(url) => {
                let scheme = url.split(':').next().unwrap_or_default();
                bail!("ROSTER_DATABASE_URL: the {scheme:?} scheme is not supported by this build; use sqlite:")
            }
            None => SqliteStore::open(&self.data)
                .await
                .with_context(|| format!("cannot open the directory in {}", self.data.display()))?,
        };
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        Ok((Directory::new(shared), store))
    }
}

/// The options that say how messages leave the server. With none, messages are held in the
/// outbox and printed to the console (a development setting).
#[derive(Args, Debug, Clone)]
pub struct DeliveryArgs {
    /// SMTP server for email: `smtp://user:pass@host:587?tls=starttls`, `smtps://…:465` for
    /// implicit TLS, `smtp://host:25` for a local relay without TLS.
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of email.
    #[arg(long, env = "ROSTER_MAIL_FROM", default_value = "Roster <roster@localhost>")]
    pub mail_from: String,
    /// Twilio account SID, to send text messages through Twilio's Messages API.
    #[arg(long, env = "ROSTER_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token.
    #[arg(long, env = "ROSTER_TWILIO_AUTH_TOKEN", hide_env_values = true, default_value = "")]
    pub twilio_auth_token: String,
    /// Sending number (E.164) or Messaging Service SID.
    #[arg(long, env = "ROSTER_TWILIO_FROM", default_value = "")]
    pub twilio_from: String,
    /// Base URL of Twilio's API.
    #[arg(long, env = "ROSTER_TWILIO_BASE_URL", default_value = roster_delivery::sms::TWILIO_API)]
    pub twilio_base_url: String,
    /// A gateway URL that takes a signed JSON POST per text message (instead of Twilio).
    #[arg(long, env = "ROSTER_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// Key of the webhook's `X-Roster-Signature` (HMAC-SHA256), at least 16 characters.
    #[arg(long, env = "ROSTER_SMS_WEBHOOK_SECRET", hide_env_values = true, default_value = "")]
    pub sms_webhook_secret: String,
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
