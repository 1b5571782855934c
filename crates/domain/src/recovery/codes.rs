//! One-time codes: random digits, stored only as keyed hashes, compared in constant time, with
//! an expiry and a limit on wrong entries.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;
use crate::recovery::methods::ContactMethod;
use crate::session::random_token;
use crate::user::UserId;

/// What a code proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// That a contact is the user's.
    Verify,
    /// The user's identity, in a self-service password reset.
    Reset,
    /// The second step of a sign-in.
    SignIn,
}

impl Purpose {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
            Purpose::SignIn => "sign_in",
        }
    }

    /// The purpose with a stored code.
    pub fn from_code(code: &str) -> Option<Purpose> {
        [Purpose::Verify, Purpose::Reset, Purpose::SignIn].into_iter().find(|p| p.code() == code)
    }

    /// How long a code is valid: five minutes for a reset (as in Microsoft 365) or a sign-in; a
    /// verification code waits a quarter of an hour for its user to sign in and enter it.
    pub fn lifetime_seconds(self) -> i64 {
        match self {
            Purpose::Verify => 15 * 60,
            Purpose::Reset | Purpose::SignIn => 5 * 60,
        }
    }
}

/// Wrong entries a code survives; the next makes it useless.
pub const MAX_WRONG_ENTRIES: u32 = 5;

/// A code as stored: never the digits, only their keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeCode {
    /// Random handle, carried by forms.
    pub id: String,
    pub user_id: UserId,
    pub purpose: Purpose,
    pub method: ContactMethod,
    pub hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Entries so far, right or wrong.
    pub attempts: u32,
    pub used_at: Option<Timestamp>,
}

/// The server's key for code hashes: a stolen database alone does not let anyone test guesses
/// offline.
#[derive(Clone)]
pub struct CodeKey([u8; 32]);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

impl CodeKey {
    /// A fresh random key.
    pub fn random() -> CodeKey {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        CodeKey(bytes)
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> CodeKey {
        CodeKey(bytes)
    }

    /// HMAC-SHA256 of `parts`, hex-encoded.
    pub fn mac(&self, parts: &[&str]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A 32-byte key for `purpose`, derived from this one.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"derive\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The stored hash of `digits` for the code `id`.
    pub fn hash(&self, id: &str, digits: &str) -> String {
        self.mac(&["code", id, digits])
    }

    /// Whether `entered` is the code stored as `code`, compared in constant time.
    pub fn matches(&self, code: &OneTimeCode, entered: &str) -> bool {
        let entered: String = entered.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        bool::from(self.hash(&code.id, &entered).as_bytes().ct_eq(code.hash.as_bytes()))
    }
}

/// `digits` random decimal digits.
pub fn random_digits(digits: usize) -> String {
    let mut rng = OsRng;
    (0..digits).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// Digits per code: eight by email, six by text message (as Microsoft sends them).
pub fn digits_for(method: &ContactMethod) -> usize {
    match method.kind {
        crate::recovery::MethodKind::AlternateEmail => 8,
        _ => 6,
    }
}

/// A new code for `method`, and its digits (which only the message carries).
pub fn issue(
    key: &CodeKey,
    user_id: UserId,
    purpose: Purpose,
    method: &ContactMethod,
    now: Timestamp,
) -> (OneTimeCode, String) {
    let id = random_token();
    let digits = random_digits(digits_for(method));
    let code = OneTimeCode {
        hash: key.hash(&id, &digits),
        id,
        user_id,
        purpose,
        method: method.clone(),
        created_at: now,
        expires_at: now.plus_seconds(purpose.lifetime_seconds()),
        attempts: 0,
        used_at: None,
    };
    (code, digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::MethodKind;

    fn email() -> ContactMethod {
        ContactMethod { kind: MethodKind::AlternateEmail, value: "a@fabrikam.com".into() }
    }

    #[test]
    fn codes_match_only_their_own_digits_under_their_own_key() {
        let key = CodeKey::random();
        let (code, digits) = issue(&key, UserId::random(), Purpose::Reset, &email(), Timestamp(0));
        assert_eq!(digits.len(), 8);
        assert!(digits.chars().all(|c| c.is_ascii_digit()));
        assert!(!code.hash.contains(&digits));
        assert!(key.matches(&code, &digits));
        assert!(key.matches(&code, &format!(" {}-{} ", &digits[..4], &digits[4..])), "spaces and dashes are ignored");
        assert!(!key.matches(&code, "00000000") || digits == "00000000");
        assert!(!CodeKey::random().matches(&code, &digits), "another server's key");
        assert_eq!(code.expires_at, Timestamp(300_000));
    }

    #[test]
    fn text_message_codes_have_six_digits_and_verification_codes_live_longer() {
        let phone = ContactMethod { kind: MethodKind::MobilePhone, value: "+442079460958".into() };
        let (code, digits) = issue(&CodeKey::random(), UserId::random(), Purpose::Verify, &phone, Timestamp(0));
        assert_eq!(digits.len(), 6);
        assert_eq!(code.expires_at, Timestamp(900_000));
    }

    #[test]
    fn digits_are_spread_evenly() {
        let mut counts = [0u32; 10];
        for _ in 0..2000 {
            for c in random_digits(10).bytes() {
                counts[(c - b'0') as usize] += 1;
            }
        }
        assert!(counts.iter().all(|&n| (1600..2400).contains(&n)), "{counts:?}");
    }
}
