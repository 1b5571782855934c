//! Password hashing (Argon2id, OWASP parameters), checking and generation.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::Rng;

use crate::error::FieldError;

/// OWASP's Argon2id recommendation: 19 MiB of memory, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string. CPU-heavy: call it off the async threads.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

/// Whether `password` matches `phc`. CPU-heavy: call it off the async threads.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).map(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok()).unwrap_or(false)
}

/// The shortest password any policy may allow.
pub const MIN_LENGTH: usize = 8;

/// Checks a new password: `min_length` to 256 characters, three of the four character classes
/// (lower case, upper case, digits, symbols), not the username, and not easy to guess.
pub fn check_strength(field: &str, password: &str, username: &str, min_length: usize) -> Result<(), FieldError> {
    let length = password.chars().count();
    let min_length = min_length.max(MIN_LENGTH);
    if length < min_length {
        return Err(FieldError::new(field, format!("The password must be at least {min_length} characters long.")));
    }
    if length > 256 {
        return Err(FieldError::new(field, "The password can be at most 256 characters long."));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err(FieldError::new(
            field,
            "The password must contain three of these: lower-case letters, upper-case letters, digits, symbols.",
        ));
    }
    let alias = username.split('@').next().unwrap_or(username).to_lowercase();
    if alias.len() >= 3 && password.to_lowercase().contains(&alias) {
        return Err(FieldError::new(field, "The password can't contain the username."));
    }
    // zxcvbn estimates the guesses an attacker needs from common passwords, names, words,
    // keyboard patterns, dates and the user's own details; below 10^10 guesses is too few.
    let estimate = zxcvbn::zxcvbn(password, &[username, &alias, "roster"]);
    if estimate.score() < zxcvbn::Score::Three {
        let why = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return Err(FieldError::new(
            field,
            format!("This password is too easy to guess{why}. Try a longer phrase of unrelated words."),
        ));
    }
    Ok(())
}

/// A random password that meets [`check_strength`], easy to read aloud (no 0/O or 1/l):
/// At least `min_length` characters, in groups of four (never fewer than four groups).
pub fn generate(min_length: usize) -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = OsRng;
    let mut pick = |set: &[u8]| set[rng.gen_range(0..set.len())] as char;
    let mut out = String::new();
    let groups = (min_length + 1).div_ceil(5).max(4);
    for group in 0..groups {
        if group > 0 {
            out.push('-');
        }
        out.push(pick(UPPER));
        out.push(pick(LOWER));
        out.push(pick(LOWER));
        out.push(pick(DIGITS));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("Correct-Horse-9");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("Correct-Horse-9", &a));
        assert!(!verify("correct-horse-9", &a));
        assert_ne!(a, hash("Correct-Horse-9"));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn strength_rules() {
        assert!(check_strength("p", "Sh0rt!", "u@x.com", MIN_LENGTH).is_err());
        assert!(check_strength("p", "alllowercase", "u@x.com", MIN_LENGTH).is_err());
        assert!(check_strength("p", "Lower-and-UPPER", "u@x.com", MIN_LENGTH).is_ok());
        assert!(check_strength("p", "Alex.Wilber-2026", "alex.wilber@contoso.com", MIN_LENGTH).is_err());
    }

    #[test]
    fn the_organisation_may_ask_for_longer_passwords() {
        let refused = check_strength("p", "Orchid-Valley-77", "u@x.com", 20).unwrap_err();
        assert_eq!(refused.message, "The password must be at least 20 characters long.");
        assert!(check_strength("p", "Orchid-Valley-77", "u@x.com", 4).is_ok(), "never below the floor of 8");
    }

    #[test]
    fn guessable_passwords_are_refused_even_with_every_character_class() {
        for weak in ["Password1!", "Summer2026!", "Qwerty123!", "P@ssw0rd2026", "Welcome2026!"] {
            let refused = check_strength("p", weak, "u@x.com", MIN_LENGTH).unwrap_err();
            assert!(refused.message.starts_with("This password is too easy to guess"), "{weak}: {}", refused.message);
        }
        for fine in ["Test-Password-2026", "Orchid-Valley-77", "Violet-Harbor-2026!", "Another-Password-2026"] {
            assert!(check_strength("p", fine, "u@x.com", MIN_LENGTH).is_ok(), "{fine}");
        }
    }

    #[test]
    fn generated_passwords_are_strong_and_fresh() {
        let a = generate(MIN_LENGTH);
        assert_eq!(a.len(), 19);
        assert!(check_strength("p", &a, "someone@example.com", MIN_LENGTH).is_ok(), "{a}");
        assert_ne!(a, generate(MIN_LENGTH));
        for min in [20, 24, 64] {
            let long = generate(min);
            assert!(long.len() >= min && check_strength("p", &long, "u@x.com", min).is_ok(), "{min}: {long}");
        }
    }
}
