//! Email addresses: a plain addr-spec, domain lower-cased, at most 254 characters, nothing
//! invisible, and an internationalised domain only in the form IDNA maps it to.

use std::str::FromStr;

use email_address::EmailAddress;
use unicode_normalization::is_nfc;

use crate::text;

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
    if let Some(c) = value.chars().find(|&c| text::is_hidden(c) || c.is_control()) {
        return Err(format!(
            "An email address can't contain invisible or text-direction characters (this one has U+{:04X}).",
            c as u32
        ));
    }
    if !is_nfc(value) {
        return Err("Enter the address with its accented letters composed (Unicode normal form C).".into());
    }
    let parsed = EmailAddress::from_str(value)
        .map_err(|_| "Enter a valid email address, such as name@example.com.".to_string())?;
    let domain = parsed.domain().to_lowercase();
    if !domain.contains('.') || domain.starts_with('[') {
        return Err("Enter an address at an internet domain, such as name@example.com.".into());
    }
    if !is_canonical_domain(&domain) {
        return Err("The part after @ is not a valid internet domain name.".into());
    }
    Ok(format!("{}@{}", parsed.local_part(), domain))
}

/// Whether a (lower-cased) domain passes IDNA's strict checks and is already what IDNA maps it
/// to: otherwise two spellings (full-width letters, characters IDNA ignores) would reach the same
/// mailbox while looking different, or look the same while being stored differently.
fn is_canonical_domain(domain: &str) -> bool {
    let Ok(ascii) = idna::domain_to_ascii_strict(domain) else { return false };
    if domain.is_ascii() {
        ascii == domain
    } else {
        idna::domain_to_unicode(&ascii).0 == domain
    }
}

/// The comparison key: addresses differing only in case, or in how their domain is spelled
/// (`bücher.example` and `xn--bcher-kva.example`), are treated as the same address.
pub fn key(normalised: &str) -> String {
    let lower = normalised.to_lowercase();
    match lower.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => match idna::domain_to_ascii(domain) {
            Ok(ascii) => format!("{local}@{ascii}"),
            Err(_) => lower,
        },
        _ => lower,
    }
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
    fn refuses_invisible_and_direction_characters() {
        for spoof in [
            "ale\u{200B}x@example.com",
            "alex@exa\u{200B}mple.com",
            "alex@example.com\u{202E}",
            "\u{2066}alex@example.com",
        ] {
            assert!(normalise(spoof).unwrap_err().contains("invisible"), "{spoof:?}");
        }
    }

    #[test]
    fn internationalised_domains_only_in_their_mapped_form() {
        assert_eq!(normalise("alex@Bücher.example").unwrap(), "alex@bücher.example");
        assert_eq!(normalise("alex@xn--bcher-kva.example").unwrap(), "alex@xn--bcher-kva.example");
        // Full-width letters map to ASCII ones: the same domain, typed to look like another.
        assert!(normalise("alex@ｅxample.com").is_err());
        assert!(normalise("alex@-example.com").is_err());
        assert_eq!(key("Alex@bücher.example"), key("alex@xn--bcher-kva.example"), "one mailbox, two spellings");
    }

    #[test]
    fn refuses_overlong_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalise(&long).unwrap_err().contains("254"));
    }
}
