//! Passkeys (WebAuthn): the credentials people register, the ceremonies that create and use
//! them, and what an authenticator's AAGUID says about its model.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use uuid::Uuid;
use webauthn_rs::prelude::{Passkey, RegisterPublicKeyCredential};
use webauthn_rs_core::internals::AuthenticatorData;
use webauthn_rs_core::proto::Registration;

use crate::clock::Timestamp;
use crate::error::FieldError;
use crate::user::UserId;

/// How long a browser has to finish a ceremony the server started: WebAuthn's recommended
/// timeout, with a minute's grace for the page's own round trips.
pub const CEREMONY_SECONDS: i64 = 6 * 60;
/// The longest name a passkey may be given.
pub const MAX_NAME_CHARS: usize = 64;
/// The most passkeys one person may register: enough for every device they own, few enough
/// that a stolen session cannot flood the account.
pub const MAX_PER_USER: usize = 20;

/// A registered passkey as stored.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub user_id: UserId,
    /// The credential id, base64url without padding: how an assertion names its passkey.
    pub credential_id: String,
    pub name: String,
    /// The authenticator's model id, when it gave one (all zeros means it did not).
    pub aaguid: Option<Uuid>,
    /// The key may be synchronised between devices (a password manager, iCloud Keychain)
    /// rather than bound to one piece of hardware.
    pub backup_eligible: bool,
    /// The library's credential: public key, counter, flags.
    pub passkey: Passkey,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl StoredPasskey {
    /// The `amr` value of a sign-in with it (RFC 8176): a key bound to hardware, or one that
    /// software holds and may copy to other devices.
    pub fn amr(&self) -> &'static str {
        if self.backup_eligible {
            "swk"
        } else {
            "hwk"
        }
    }

    /// The authenticator's model, as far as its AAGUID tells.
    pub fn model(&self) -> &'static str {
        model(self.aaguid)
    }
}

/// What a ceremony under way is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// A signed-in person adding a passkey.
    Registration,
    /// The second step of a sign-in whose password was right.
    SecondStep,
    /// Signing in with a passkey alone.
    SignIn,
}

impl CeremonyKind {
    /// The stored form.
    pub fn code(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::SecondStep => "second_step",
            CeremonyKind::SignIn => "sign_in",
        }
    }

    /// From the stored form.
    pub fn from_code(code: &str) -> Option<CeremonyKind> {
        [CeremonyKind::Registration, CeremonyKind::SecondStep, CeremonyKind::SignIn]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// A ceremony the server started, kept in the database under the hash of the token its page
/// holds, so that any node can finish it; used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub token_hash: String,
    pub kind: CeremonyKind,
    /// Whose it is; none for a sign-in with a passkey alone, where the passkey names its user.
    pub user_id: Option<UserId>,
    /// The library's state, serialised.
    pub state: String,
    pub expires_at: Timestamp,
}

/// A passkey's name as typed: trimmed, one line, not too long; empty becomes the model's name.
pub fn checked_name(typed: &str, aaguid: Option<Uuid>) -> Result<String, FieldError> {
    let name = typed.trim();
    if name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "Use one line of text for the name."));
    }
    if let Some(hidden) = crate::text::hidden_in_display_text(name) {
        return Err(FieldError::new(
            "name",
            format!(
                "Remove the invisible character U+{:04X}: it would make the name read differently.",
                u32::from(hidden)
            ),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new("name", format!("Use at most {MAX_NAME_CHARS} characters.")));
    }
    Ok(match name {
        "" => match model(aaguid) {
            UNKNOWN_MODEL => "Passkey".to_string(),
            known => known.to_string(),
        },
        _ => name.to_string(),
    })
}

/// The credential id as stored and as assertions name it.
pub fn credential_id(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(passkey.cred_id())
}

/// The authenticator's AAGUID from a registration, if it gave one. The browser sends the
/// authenticator data apart (WebAuthn Level 3's `response.authenticatorData`); it is read only
/// when it is the very data inside the attestation object the library verified.
pub fn aaguid_of(registration: &serde_json::Value, verified: &RegisterPublicKeyCredential) -> Option<Uuid> {
    let text = registration.pointer("/response/authenticatorData")?.as_str()?;
    let data = URL_SAFE_NO_PAD.decode(text).ok()?;
    let object = &verified.response.attestation_object;
    if data.is_empty() || !object.windows(data.len()).any(|w| w == data.as_slice()) {
        return None;
    }
    let parsed = AuthenticatorData::<Registration>::try_from(data.as_slice()).ok()?;
    let aaguid = Uuid::from_bytes(parsed.acd?.aaguid);
    (!aaguid.is_nil()).then_some(aaguid)
}

/// What a model no entry names is called.
pub const UNKNOWN_MODEL: &str = "Unknown authenticator";

/// A few well-known authenticators by AAGUID, from the models' makers' published ids; any
/// other reads as unknown rather than guessed.
const MODELS: [(&str, &str); 6] = [
    ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
];

/// The model an AAGUID names.
pub fn model(aaguid: Option<Uuid>) -> &'static str {
    let Some(aaguid) = aaguid else { return UNKNOWN_MODEL };
    MODELS
        .iter()
        .find(|(id, _)| Uuid::parse_str(id).is_ok_and(|known| known == aaguid))
        .map_or(UNKNOWN_MODEL, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_short_line_and_default_to_the_model() {
        assert_eq!(checked_name("  Work laptop ", None).unwrap(), "Work laptop");
        assert_eq!(checked_name("", None).unwrap(), "Passkey");
        let windows = Uuid::parse_str("08987058-cadc-4b81-b6e1-30de50dcbe96").ok();
        assert_eq!(checked_name(" ", windows).unwrap(), "Windows Hello");
        assert_eq!(checked_name("a\nb", None).unwrap_err().field, "name");
        assert!(checked_name("laptop\u{202E}exe", None).unwrap_err().message.contains("U+202E"));
        assert!(checked_name(&"x".repeat(MAX_NAME_CHARS + 1), None).is_err());
        assert!(checked_name(&"é".repeat(MAX_NAME_CHARS), None).is_ok(), "characters, not bytes");
    }

    #[test]
    fn models_are_named_only_when_known() {
        let icloud = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").ok();
        assert_eq!(model(icloud), "iCloud Keychain");
        assert_eq!(model(Some(Uuid::new_v4())), UNKNOWN_MODEL);
        assert_eq!(model(None), UNKNOWN_MODEL);
        for (id, _) in MODELS {
            assert!(Uuid::parse_str(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn ceremony_kinds_round_trip() {
        for kind in [CeremonyKind::Registration, CeremonyKind::SecondStep, CeremonyKind::SignIn] {
            assert_eq!(CeremonyKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(CeremonyKind::from_code("other"), None);
    }
}
