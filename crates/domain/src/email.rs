//! Email addresses: a plain addr-spec, domain lower-cased, at most 254 characters.

use std::str::FromStr;

use email_address::EmailAddress;

/// The longest address SMTP can carry (RFC 5321 path limit less the angle brackets).
pub const MAX_LEN: usize = 254;

/// Checks and normalises one address: no display name, domain lower-cased.
pub fn normalise(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.chars().count() > MAX_LEN {
        return Err(format!("An email address can be at most {MAX_LEN} characters long."));
    }
    if value.contains('<') || value.contains('>') || value.chars().any(char::is_whitespace) {
        return Err("Enter only the address, such as name@example.com, without a name or spaces.".into());
    }
    let parsed = EmailAddress::from_str(value)
        .map_err(|_| "Enter a valid email address, such as name@example.com.".to_string())?;
    let domain = parsed.domain();
    if !domain.contains('.') || domain.starts_with('[') {
        return Err("Enter an address at an internet domain, such as name@example.com.".into());
    }
    Ok(format!("{}@{}", parsed.local_part(), domain.to_ascii_lowercase()))
}

/// The comparison key: addresses differing only in case are treated as the same address.
pub fn key(normalised: &str) -> String {
    normalised.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_only_the_domain() {
        assert_eq!(normalise(" Alex.W@Fabrikam.COM ").unwrap(), "Alex.W@fabrikam.com");
    }

    #[test]
    fn refuses_display_names_and_junk() {
        assert!(normalise("Alex <alex@example.com>").is_err());
        assert!(normalise("alex@").is_err());
        assert!(normalise("alex example.com").is_err());
        assert!(normalise("alex@localhost").is_err());
        assert!(normalise("@example.com").is_err());
    }

    #[test]
    fn refuses_overlong_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalise(&long).unwrap_err().contains("254"));
    }
}
