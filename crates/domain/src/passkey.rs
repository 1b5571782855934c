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
use crate::group::Scope;
use crate::user::UserId;

/// How long a browser has to finish a ceremony the server started: WebAuthn's recommended
/// timeout, with a minute's grace for the page's own round trips.
pub const CEREMONY_SECONDS: i64 = 6 * 60;
/// The longest name a passkey may be given.
pub const MAX_NAME_CHARS: usize = 64;
/// The most passkeys one person may register: enough for every device they own, few enough
/// that a stolen session cannot flood the account.
pub const MAX_PER_USER: usize = 20;

/// Who may use passkeys: `none`, `selected` or `all`.
pub const SETTING_ALLOWED: &str = "passkey_allowed";
/// The groups whose members may, when `selected`.
pub const SETTING_ALLOWED_GROUPS: &str = "passkey_allowed_groups";
/// Whose second step must be a passkey: `none`, `selected` or `all`.
pub const SETTING_REQUIRED: &str = "passkey_required";
/// The groups whose members must, when `selected`.
pub const SETTING_REQUIRED_GROUPS: &str = "passkey_required_groups";
/// `1` when every administrator's second step must be a passkey.
pub const SETTING_ADMINS_REQUIRED: &str = "passkey_admins_required";

/// The organisation's rules for passkeys: who may register and use one, and whose second step
/// must be one (phishing-resistant, as Entra's authentication strengths can demand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyPolicy {
    pub allowed: Scope,
    pub required: Scope,
    pub administrators_required: bool,
}

/// Everyone may use passkeys and nobody must: a passkey is the strongest method Roster has,
/// so nothing should stand in its way until an organisation decides otherwise.
impl Default for PasskeyPolicy {
    fn default() -> Self {
        PasskeyPolicy { allowed: Scope::Everyone, required: Scope::Nobody, administrators_required: false }
    }
}

impl PasskeyPolicy {
    /// The policy as stored in settings (read through `get`), the default for what is missing.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> PasskeyPolicy {
        let d = PasskeyPolicy::default();
        PasskeyPolicy {
            allowed: Scope::from_settings(
                get(SETTING_ALLOWED).as_deref(),
                get(SETTING_ALLOWED_GROUPS).as_deref(),
                d.allowed,
            ),
            required: Scope::from_settings(
                get(SETTING_REQUIRED).as_deref(),
                get(SETTING_REQUIRED_GROUPS).as_deref(),
                d.required,
            ),
            administrators_required: get(SETTING_ADMINS_REQUIRED).as_deref() == Some("1"),
        }
    }

    /// The settings that store the policy.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            (SETTING_ALLOWED, self.allowed.code().to_string()),
            (SETTING_ALLOWED_GROUPS, self.allowed.groups_setting()),
            (SETTING_REQUIRED, self.required.code().to_string()),
            (SETTING_REQUIRED_GROUPS, self.required.groups_setting()),
            (SETTING_ADMINS_REQUIRED, if self.administrators_required { "1" } else { "0" }.to_string()),
        ]
    }

    /// Whether a person who may use passkeys (`allowed`), is an administrator or not, and is
    /// in the required scope or not must prove a passkey as their second step.
    pub fn requires(&self, allowed: bool, administrator: bool, in_required: bool) -> bool {
        allowed && (in_required || (administrator && self.administrators_required))
    }

    /// Refuses a policy that requires what it does not allow.
    pub fn check(&self) -> Result<(), FieldError> {
        let requires_someone = self.administrators_required || self.required != Scope::Nobody;
        if self.allowed == Scope::Nobody && requires_someone {
            return Err(FieldError::new(
                "passkey_allowed",
                "Allow passkeys for the people who must use them, or require them of nobody.",
            ));
        }
        Ok(())
    }
}

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
    fn the_policy_round_trips_and_requires_only_what_it_allows() {
        let d = PasskeyPolicy::default();
        assert_eq!(
            (d.allowed.clone(), d.required.clone(), d.administrators_required),
            (Scope::Everyone, Scope::Nobody, false)
        );
        assert_eq!(PasskeyPolicy::from_settings(|_| None), d);
        let p = PasskeyPolicy { allowed: Scope::Everyone, required: Scope::Everyone, administrators_required: true };
        let stored = p.settings();
        assert_eq!(PasskeyPolicy::from_settings(|k| stored.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())), p);
        let admins = PasskeyPolicy { administrators_required: true, ..PasskeyPolicy::default() };
        assert!(admins.requires(true, true, false));
        assert!(!admins.requires(true, false, false));
        assert!(!admins.requires(false, true, false), "never required of someone who may not use one");
        assert!(d.requires(true, false, true));
        let contradiction = PasskeyPolicy { allowed: Scope::Nobody, ..admins };
        assert_eq!(contradiction.check().unwrap_err().field, "passkey_allowed");
        assert!(PasskeyPolicy { allowed: Scope::Nobody, ..d }.check().is_ok());
    }

    #[test]
    fn ceremony_kinds_round_trip() {
        for kind in [CeremonyKind::Registration, CeremonyKind::SecondStep, CeremonyKind::SignIn] {
            assert_eq!(CeremonyKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(CeremonyKind::from_code("other"), None);
    }
}
