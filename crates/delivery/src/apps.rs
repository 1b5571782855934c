//! Sign-out notices to applications (OpenID Connect Back-Channel Logout 1.0 §2.5): the logout
//! token POSTed as a form to the application's back-channel logout address.

use std::sync::OnceLock;
use std::time::Duration;

use roster_domain::outbox::Message;

use crate::SendError;

/// How long an application may take to answer: the specification asks for a prompt answer,
/// and a notice is retried anyway.
const TIMEOUT: Duration = Duration::from_secs(10);

fn client() -> Result<&'static reqwest::Client, SendError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    // Never follow a redirect: the notice is for the address the application registered.
    let built = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SendError::Temporary(format!("no HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| built))
}

/// Posts the logout token in `message.text` to `message.recipient`. A 2xx answer delivers it;
/// a 4xx is the application refusing it for good (§2.8: 400 for a token it cannot accept); a
/// 5xx or no answer is tried again.
pub async fn send(message: &Message) -> Result<(), SendError> {
    let response = client()?
        .post(&message.recipient)
        .header(reqwest::header::CACHE_CONTROL, "no-store")
        .form(&[("logout_token", message.text.as_str())])
        .send()
        .await
        .map_err(|e| SendError::Temporary(format!("{}: {e}", message.recipient)))?;
    let status = response.status();
    match status.as_u16() {
        200..=299 => Ok(()),
        400..=499 => Err(SendError::Permanent(format!("{} refused the sign-out notice: {status}", message.recipient))),
        _ => Err(SendError::Temporary(format!("{} answered {status}", message.recipient))),
    }
}
