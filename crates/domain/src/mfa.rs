//! Multi-factor sign-in: authenticator apps (TOTP, RFC 6238), one-time recovery codes, the
//! organisation's policy, and sealing of the app secrets at rest.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::recovery::CodeKey;
use crate::role::RoleSet;

/// The setting that says who must use a second step.
pub const SETTING_MFA_REQUIRED: &str = "mfa_required";
/// The groups whose members must use a second step under [`MfaPolicy::Groups`].
pub const SETTING_MFA_GROUPS: &str = "mfa_groups";
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;
/// TOTP time step, digits and accepted drift (one step either way), as authenticator apps expect.
const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;

/// Who must prove a second factor at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MfaPolicy {
    /// Only those who chose it for themselves.
    Optional,
    /// Every administrator (the default), and users who chose it.
    #[default]
    Administrators,
    /// Everyone.
    Everyone,
    /// Every administrator, the members of chosen groups (at any depth), and users who chose it.
    Groups,
}

impl MfaPolicy {
    /// The stored value.
    pub fn code(self) -> &'static str {
        match self {
            MfaPolicy::Optional => "optional",
            MfaPolicy::Administrators => "administrators",
            MfaPolicy::Everyone => "everyone",
            MfaPolicy::Groups => "groups",
        }
    }

    /// The policy with a stored value (the default for anything else).
    pub fn from_code(code: Option<&str>) -> MfaPolicy {
        match code {
            Some("everyone") => MfaPolicy::Everyone,
            Some("optional") => MfaPolicy::Optional,
            Some("groups") => MfaPolicy::Groups,
            _ => MfaPolicy::Administrators,
        }
    }

    /// Whether a user with `roles`, who has or has not chosen a second step and is or is not
    /// in the policy's groups, needs one.
    pub fn requires(self, roles: RoleSet, chosen: bool, in_groups: bool) -> bool {
        match self {
            MfaPolicy::Optional => chosen,
            MfaPolicy::Administrators => chosen || roles.is_admin(),
            MfaPolicy::Everyone => true,
            MfaPolicy::Groups => chosen || roles.is_admin() || in_groups,
        }
    }
}

/// A user's second-factor state as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MfaState {
    /// The authenticator app's secret, sealed; set from the start of enrolment.
    pub app_secret: Option<String>,
    /// Whether the app was confirmed with a code (only then does it count).
    pub app_confirmed: bool,
    /// The last time step a code was accepted for, so that no code works twice.
    pub app_last_step: Option<i64>,
    /// The user asked for a second step although the policy does not require one.
    pub chosen: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

/// A sign-in whose password was right, waiting for its second step (ten minutes at most).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub token_hash: String,
    pub user_id: crate::user::UserId,
    pub csrf_token: String,
    pub created_at: crate::clock::Timestamp,
    pub expires_at: crate::clock::Timestamp,
    /// Where to go once signed in.
    pub next: String,
    /// The code sent last, and the key of the contact it went to.
    pub code_id: Option<String>,
    pub code_method: Option<String>,
}

/// How long the second step may take.
pub const PENDING_SIGNIN_SECONDS: i64 = 10 * 60;

/// A new random secret for an authenticator app (160 bits, as RFC 4226 recommends).
pub fn new_app_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    OsRng.fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8], account: &str) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECONDS, secret.to_vec(), Some("Roster".into()), account.into()).ok()
}

/// The `otpauth://` address an authenticator app scans.
pub fn app_url(secret: &[u8], account: &str) -> String {
    totp(secret, account).map(|t| t.get_url()).unwrap_or_default()
}

/// The secret as people type it into an app by hand: base32 in groups of four.
pub fn app_secret_text(secret: &[u8]) -> String {
    let encoded = totp(secret, "x").map(|t| t.get_secret_base32()).unwrap_or_default();
    encoded.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The QR code of `url` as an inline SVG element with a text alternative.
pub fn qr_svg(url: &str) -> String {
    let svg = qrcode::QrCode::new(url.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .dark_color(qrcode::render::svg::Color("#1b1b1f"))
                .light_color(qrcode::render::svg::Color("#ffffff"))
                .build()
        })
        .unwrap_or_default();
    let element = svg.find("<svg").map(|i| &svg[i..]).unwrap_or_default();
    element.replacen("<svg ", "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\" ", 1)
}

/// The code an app shows at `unix_seconds` (for tests and for clock checks).
pub fn app_code_at(secret: &[u8], unix_seconds: u64) -> String {
    totp(secret, "x").map(|t| t.generate(unix_seconds)).unwrap_or_default()
}

/// The time step `entered` is valid for at `unix_seconds` (one step of drift either way),
/// if it is later than `last_step`: a code is never accepted twice.
pub fn check_app_code(secret: &[u8], entered: &str, unix_seconds: u64, last_step: Option<i64>) -> Option<i64> {
    let entered: String = entered.chars().filter(|c| !c.is_whitespace()).collect();
    let now = i64::try_from(unix_seconds / STEP_SECONDS).ok()?;
    let mut accepted = None;
    for step in [now - 1, now, now + 1] {
        let code = app_code_at(secret, u64::try_from(step).ok()? * STEP_SECONDS);
        let matches: bool = code.as_bytes().ct_eq(entered.as_bytes()).into();
        if matches && last_step.is_none_or(|last| step > last) {
            accepted = Some(step);
        }
    }
    accepted
}

/// Ten new recovery codes such as `k7m2-qp9x-4hw3`, easy to read aloud (no 0/o, 1/l).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let mut rng = OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            (0..3)
                .map(|_| (0..4).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The stored form of a recovery code: a keyed hash of it, spaces, dashes and case ignored.
pub fn recovery_code_hash(key: &CodeKey, code: &str) -> String {
    let normal: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    key.mac(&["recovery", &normal])
}

/// Encrypts an app secret under a key derived from the server's key (ChaCha20-Poly1305).
pub fn seal(key: &CodeKey, secret: &[u8]) -> String {
    seal_for(key, "app secrets", secret)
}

/// Decrypts a sealed app secret; `None` if it was sealed under another key or altered.
pub fn open(key: &CodeKey, sealed: &str) -> Option<Vec<u8>> {
    open_for(key, "app secrets", sealed)
}

/// Encrypts `secret` under the key the server's key derives for `purpose` (ChaCha20-Poly1305).
pub fn seal_for(key: &CodeKey, purpose: &str, secret: &[u8]) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&key.derive(purpose)));
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let sealed = cipher.encrypt(Nonce::from_slice(&nonce), secret).unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend(sealed);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
}

/// Decrypts what [`seal_for`] sealed for `purpose`; `None` if it was sealed under another key or
/// purpose, or altered.
pub fn open_for(key: &CodeKey, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&key.derive(purpose)));
    cipher.decrypt(Nonce::from_slice(&bytes[..12]), &bytes[12..]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;

    /// RFC 6238 appendix B's SHA-1 secret and its 8-digit vectors, cut to the 6 digits apps show.
    #[test]
    fn codes_follow_rfc_6238() {
        let secret = b"12345678901234567890";
        assert_eq!(app_code_at(secret, 59), "287082");
        assert_eq!(app_code_at(secret, 1111111109), "081804");
        assert_eq!(app_code_at(secret, 1234567890), "005924");
        assert_eq!(app_code_at(secret, 2000000000), "279037");
    }

    #[test]
    fn a_code_is_accepted_once_within_one_step_of_drift() {
        let secret = new_app_secret();
        let t = 1_800_000_000;
        let code = app_code_at(&secret, t);
        let step = check_app_code(&secret, &code, t, None).expect("accepted");
        assert_eq!(check_app_code(&secret, &code, t, Some(step)), None, "not twice");
        assert!(check_app_code(&secret, &code, t + 30, None).is_some(), "a step late");
        assert_eq!(check_app_code(&secret, &code, t + 95, None), None, "three steps late");
        assert_eq!(check_app_code(&secret, "000000", t, None).is_some(), app_code_at(&secret, t) == "000000");
    }

    #[test]
    fn secrets_are_sealed_under_the_servers_key() {
        let key = CodeKey::random();
        let secret = new_app_secret();
        let sealed = seal(&key, &secret);
        assert_eq!(open(&key, &sealed), Some(secret.clone()));
        assert_eq!(open(&CodeKey::random(), &sealed), None);
        assert_ne!(seal(&key, &secret), sealed, "a fresh nonce each time");
        let other = seal_for(&key, "shown once", &secret);
        assert_eq!(open(&key, &other), None, "what is sealed for one purpose opens for no other");
        assert_eq!(open_for(&key, "shown once", &other), Some(secret.clone()));
        assert!(app_url(&secret, "alex@contoso.com").starts_with("otpauth://totp/Roster:alex%40contoso.com?secret="));
        assert!(qr_svg("otpauth://totp/x").starts_with("<svg role=\"img\" aria-label="));
        assert_eq!(app_secret_text(&secret).split(' ').count(), 8);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hashed_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        let key = CodeKey::random();
        assert_eq!(
            recovery_code_hash(&key, &codes[0]),
            recovery_code_hash(&key, &codes[0].to_uppercase().replace('-', " "))
        );
    }

    #[test]
    fn administrators_and_choosers_need_a_second_step() {
        let admin = RoleSet::of(&[Role::HelpdeskAdministrator]);
        assert!(MfaPolicy::Administrators.requires(admin, false, false));
        assert!(!MfaPolicy::Administrators.requires(RoleSet::NONE, false, true));
        assert!(MfaPolicy::Administrators.requires(RoleSet::NONE, true, false));
        assert!(MfaPolicy::Everyone.requires(RoleSet::NONE, false, false));
        assert!(!MfaPolicy::Optional.requires(admin, false, true));
        assert!(MfaPolicy::Optional.requires(admin, true, false));
        assert!(MfaPolicy::Groups.requires(RoleSet::NONE, false, true));
        assert!(MfaPolicy::Groups.requires(admin, false, false), "administrators always");
        assert!(!MfaPolicy::Groups.requires(RoleSet::NONE, false, false));
        assert_eq!(MfaPolicy::from_code(Some("groups")), MfaPolicy::Groups);
        assert_eq!(MfaPolicy::from_code(Some("everyone")), MfaPolicy::Everyone);
        assert_eq!(MfaPolicy::from_code(Some("optional")), MfaPolicy::Optional);
        assert_eq!(MfaPolicy::from_code(Some("nonsense")), MfaPolicy::Administrators);
    }
}
