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

/// Checks a new password: 8 to 256 characters, three of the four character classes
/// (lower case, upper case, digits, symbols), and not the username itself.
pub fn check_strength(field: &str, password: &str, username: &str) -> Result<(), FieldError> {
    let length = password.chars().count();
    if length < 8 {
        return Err(FieldError::new(field, "The password must be at least 8 characters long."));
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
    Ok(())
}

/// A random password that meets [`check_strength`], easy to read aloud (no 0/O or 1/l).
pub fn generate() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = OsRng;
    let mut pick = |set: &[u8]| set[rng.gen_range(0..set.len())] as char;
    let mut out = String::new();
    for group in 0..4 {
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
        assert!(check_strength("p", "Sh0rt!", "u@x.com").is_err());
        assert!(check_strength("p", "alllowercase", "u@x.com").is_err());
        assert!(check_strength("p", "Lower-and-UPPER", "u@x.com").is_ok());
        assert!(check_strength("p", "Alex.Wilber-2026", "alex.wilber@contoso.com").is_err());
    }

    #[test]
    fn generated_passwords_are_strong_and_fresh() {
        let a = generate();
        assert!(check_strength("p", &a, "someone@example.com").is_ok(), "{a}");
        assert_ne!(a, generate());
    }
}
