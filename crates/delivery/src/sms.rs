//! Text messages through an SMS gateway's HTTP API: Twilio's Messages API, or a generic JSON
//! webhook signed with HMAC-SHA256 for any other gateway.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use roster_domain::outbox::Message;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::SendError;

/// How long one gateway request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Twilio's public API; the base URL can point elsewhere (a regional edge, a test server).
pub const TWILIO_API: &str = "https://api.twilio.com";

/// A Twilio account.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The sending number in E.164, or a Messaging Service SID (`MG…`).
    pub from: String,
    /// Usually [`TWILIO_API`].
    pub base_url: String,
}

/// A gateway that takes a signed JSON POST.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Secret too, as it may carry the gateway's credentials (`https://user:pass@…`).
    pub url: SecretString,
    /// Key of the `X-Roster-Signature` HMAC.
    pub secret: SecretString,
}

#[derive(Debug, Clone)]
enum Gateway {
    Twilio(TwilioConfig),
    Webhook(WebhookConfig),
}

/// A configured SMS gateway.
#[derive(Debug, Clone)]
pub struct SmsTransport {
    gateway: Gateway,
    http: reqwest::Client,
}

/// The body a webhook receives.
#[derive(serde::Serialize)]
struct WebhookBody<'a> {
    /// The outbox id: the same message always carries the same id, so a gateway can drop repeats.
    id: i64,
    to: &'a str,
    body: &'a str,
}

/// `X-Roster-Signature` for a webhook body sent at `timestamp` (Unix seconds): HMAC-SHA256 over
/// `"{timestamp}.{body}"`, hex-encoded, so that a gateway can reject replays of old requests.
pub fn webhook_signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl SmsTransport {
    /// A transport through Twilio.
    pub fn twilio(config: TwilioConfig) -> Result<Self, String> {
        for (name, value) in [
            ("ROSTER_TWILIO_ACCOUNT_SID", config.account_sid.as_str()),
            ("ROSTER_TWILIO_AUTH_TOKEN", config.auth_token.expose_secret()),
            ("ROSTER_TWILIO_FROM", config.from.as_str()),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{name} must be set to send text messages through Twilio"));
            }
        }
        Self::with(Gateway::Twilio(config))
    }

    /// A transport through a signed webhook.
    pub fn webhook(config: WebhookConfig) -> Result<Self, String> {
        if config.secret.expose_secret().len() < 16 {
            return Err("ROSTER_SMS_WEBHOOK_SECRET must be at least 16 characters".into());
        }
        Self::with(Gateway::Webhook(config))
    }

    fn with(gateway: Gateway) -> Result<Self, String> {
        let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build().map_err(|e| e.to_string())?;
        Ok(SmsTransport { gateway, http })
    }

    /// Sends one text message.
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        let request = match &self.gateway {
            Gateway::Twilio(t) => {
                let url =
                    format!("{}/2010-04-01/Accounts/{}/Messages.json", t.base_url.trim_end_matches('/'), t.account_sid);
                let from_field = if t.from.starts_with("MG") { "MessagingServiceSid" } else { "From" };
                let form = [("To", message.recipient.as_str()), (from_field, t.from.as_str()), ("Body", &message.text)];
                self.http.post(url).basic_auth(&t.account_sid, Some(t.auth_token.expose_secret())).form(&form)
            }
            Gateway::Webhook(w) => {
                let body =
                    serde_json::to_vec(&WebhookBody { id: message.id, to: &message.recipient, body: &message.text })
                        .map_err(|e| SendError::Permanent(e.to_string()))?;
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
                self.http
                    .post(w.url.expose_secret())
                    .header("content-type", "application/json")
                    .header("x-roster-timestamp", now.to_string())
                    .header("x-roster-signature", webhook_signature(w.secret.expose_secret(), now, &body))
                    .header("idempotency-key", format!("roster-outbox-{}", message.id))
                    .body(body)
            }
        };
        let response =
            request.send().await.map_err(|e| SendError::Temporary(format!("the gateway is unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let detail = gateway_error(&response.text().await.unwrap_or_default());
        let error = format!("the gateway answered {status}{detail}");
        // Busy (429) and server errors pass; any other refusal will be the same next time.
        if status.as_u16() == 429 || status.is_server_error() {
            Err(SendError::Temporary(error))
        } else {
            Err(SendError::Permanent(error))
        }
    }
}

/// The reason in a gateway's error body (Twilio: `{"code": 21211, "message": "…"}`), if any.
fn gateway_error(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return String::new();
    };
    match (json.get("code"), json.get("message").and_then(|m| m.as_str())) {
        (Some(code), Some(message)) => format!(": {message} (code {code})"),
        (None, Some(message)) => format!(": {message}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_time_and_body() {
        let a = webhook_signature("0123456789abcdef", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, webhook_signature("0123456789abcdef", 2, b"{}"));
        assert_ne!(a, webhook_signature("0123456789abcdef", 1, b"{ }"));
        assert_ne!(a, webhook_signature("another secret!!", 1, b"{}"));
    }

    #[test]
    fn twilio_errors_are_quoted() {
        assert_eq!(
            gateway_error(
                r#"{"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}"#
            ),
            ": The 'To' number is not a valid phone number. (code 21211)"
        );
        assert_eq!(gateway_error("<html>"), "");
    }

    #[test]
    fn incomplete_settings_are_refused() {
        let config = TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: SecretString::default(),
            from: "+15005550006".into(),
            base_url: TWILIO_API.into(),
        };
        assert!(SmsTransport::twilio(config).unwrap_err().contains("ROSTER_TWILIO_AUTH_TOKEN"));
        let hook = WebhookConfig { url: "http://127.0.0.1:9/".into(), secret: "short".into() };
        assert!(SmsTransport::webhook(hook).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let twilio = TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: "twilio-token-0123456789".into(),
            from: "+15005550006".into(),
            base_url: TWILIO_API.into(),
        };
        let hook = WebhookConfig {
            url: "https://gateway:url-password@sms.example.com/".into(),
            secret: "webhook-secret-0123456789".into(),
        };
        let smtp = crate::SmtpConfig { url: "smtp://relay:smtp-password@mail.example.com".into(), from: "r@x".into() };
        let printed = format!(
            "{twilio:?} {hook:?} {smtp:?} {:?} {:?}",
            SmsTransport::twilio(twilio.clone()).unwrap(),
            SmsTransport::webhook(hook.clone()).unwrap()
        );
        for secret in ["twilio-token", "webhook-secret", "smtp-password", "url-password"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }
}
