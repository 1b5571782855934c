//! Email over SMTP with lettre.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Tokio1Executor};
use roster_domain::outbox::Message;
use secrecy::{ExposeSecret, SecretString};

use crate::SendError;

/// How long one SMTP conversation may take before it counts as a temporary failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and as whom to send email.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `smtp://[user:pass@]host[:port][?tls=starttls|required|opportunistic]` for plain or
    /// STARTTLS, `smtps://…` for implicit TLS; secret, as it may hold a password.
    pub url: SecretString,
    /// The From address, e.g. `Roster <roster@contoso.com>`.
    pub from: String,
}

/// A configured SMTP transport.
#[derive(Clone)]
pub struct EmailTransport {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for EmailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailTransport").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl EmailTransport {
    /// A transport from its configuration; the error says which part is wrong.
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let from: Mailbox =
            config.from.parse().map_err(|e| format!("ROSTER_MAIL_FROM {:?} is not an address: {e}", config.from))?;
        // "starttls" is the word admins know; lettre calls the same thing "required".
        let url = config.url.expose_secret().replace("tls=starttls", "tls=required");
        let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("ROSTER_SMTP_URL is not usable: {e}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(EmailTransport { mailer, from })
    }

    /// Sends one message.
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("{:?} is not an address: {e}", message.recipient)))?;
        let builder = lettre::Message::builder().from(self.from.clone()).to(to).subject(&message.subject);
        let email = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text.clone(), html.clone())),
            None => builder.singlepart(SinglePart::plain(message.text.clone())),
        }
        .map_err(|e| SendError::Permanent(format!("the message cannot be built: {e}")))?;
        match self.mailer.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("the mail server refused it: {e}"))),
            Err(e) => Err(SendError::Temporary(format!("the mail server could not take it: {e}"))),
        }
    }
}
