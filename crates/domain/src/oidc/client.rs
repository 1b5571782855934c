//! What an application needs to sign people in: where Roster may send them back, whether it
//! can keep a secret, and how its ID tokens are signed.

use url::{Host, Url};

use super::assertion::ClientKeys;
use super::claims::ClaimMapping;
use super::keys::SigningAlg;

/// The most redirect URIs one application may register, as in Entra ID.
pub const MAX_REDIRECT_URIS: usize = 256;
/// The longest redirect URI, as in Entra ID.
pub const MAX_REDIRECT_URI_CHARS: usize = 256;

/// An application's sign-in settings; an application without redirect URIs signs no one in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignInSettings {
    /// Where authorization responses may go, compared exactly (loopback ports excepted).
    pub redirect_uris: Vec<String>,
    /// A public client (a single-page or native app) holds no secret and must use PKCE.
    pub public_client: bool,
    /// A confidential client with keys authenticates by signed assertions (`private_key_jwt`)
    /// and never by a secret.
    pub client_keys: Option<ClientKeys>,
    pub id_token_alg: SigningAlg,
    /// Where the application may send people after signing them out of Roster too.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where My apps opens the application.
    pub home_page_url: Option<String>,
    /// Only the users and groups assigned to it may sign in.
    pub assignment_required: bool,
    /// An administrator consented for everyone: no one is asked.
    pub admin_consent: bool,
    /// Whether ID tokens and userinfo carry the groups the person is in, and how.
    pub groups_claim: GroupsClaim,
    /// Further claims, each carrying a user attribute, in ID tokens and userinfo.
    pub claim_mappings: Vec<ClaimMapping>,
    /// `sub` is the application's own identifier for each person, not the user's id.
    pub pairwise_subject: bool,
    /// Where Roster tells the application that a person's sign-in ended.
    pub backchannel_logout_uri: Option<String>,
}

/// What the `groups` claim carries, as Entra's `groupMembershipClaims` chooses it: groups count
/// at any depth of nesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupsClaim {
    /// No `groups` claim.
    #[default]
    Off,
    /// The groups' ids, which stay the same when a group is renamed (Entra's default).
    Ids,
    /// The groups' names, which applications that match on names (many do) expect.
    Names,
}

impl GroupsClaim {
    /// Every choice, in the order forms list them.
    pub const ALL: [GroupsClaim; 3] = [GroupsClaim::Off, GroupsClaim::Ids, GroupsClaim::Names];

    /// The name stored and accepted on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GroupsClaim::Off => "none",
            GroupsClaim::Ids => "ids",
            GroupsClaim::Names => "names",
        }
    }
}

impl std::str::FromStr for GroupsClaim {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupsClaim::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s} is not a groups claim; choose none, ids or names."))
    }
}

impl SignInSettings {
    /// Whether `given` is one of the registered redirect URIs. Loopback `http` addresses match
    /// on any port, because a native app gets its port from the system when it starts
    /// (RFC 8252 §7.3); everything else must match character for character.
    pub fn allows_redirect(&self, given: &str) -> bool {
        self.redirect_uris.iter().any(|registered| {
            registered == given
                || match (loopback(registered), loopback(given)) {
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                }
        })
    }
}

/// A loopback `http` URL with its port removed, for comparing.
fn loopback(uri: &str) -> Option<String> {
    let mut url = Url::parse(uri).ok()?;
    let is_loopback = match url.host()? {
        Host::Domain(name) => name == "localhost",
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    };
    if url.scheme() != "http" || !is_loopback {
        return None;
    }
    url.set_port(None).ok()?;
    Some(url.to_string())
}

/// Checks a home page address: an absolute https URL (http only on loopback).
pub fn check_home_page(uri: &str) -> Result<String, String> {
    let uri = uri.trim();
    let url = Url::parse(uri).map_err(|_| format!("{uri} is not an absolute URL."))?;
    match url.scheme() {
        "https" => Ok(uri.to_string()),
        "http" if loopback(uri).is_some() => Ok(uri.to_string()),
        _ => Err(format!("{uri} is not an https address.")),
    }
}

/// Checks one redirect URI an administrator registers; the reason is written for them.
pub fn check_redirect_uri(uri: &str) -> Result<String, String> {
    let uri = uri.trim();
    if uri.chars().count() > MAX_REDIRECT_URI_CHARS {
        return Err(format!("{uri} is longer than {MAX_REDIRECT_URI_CHARS} characters."));
    }
    let url = Url::parse(uri).map_err(|_| format!("{uri} is not an absolute URL."))?;
    if url.fragment().is_some() {
        return Err(format!("{uri} has a fragment (#…), which a redirect URI may not have."));
    }
    if uri.contains('*') {
        return Err(format!("{uri} has a wildcard; register each address in full."));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(uri.to_string()),
        "http" if loopback(uri).is_some() => Ok(uri.to_string()),
        "http" => Err(format!(
            "{uri} is plain http: only http://localhost and http://127.0.0.1 (for development) may be; use https."
        )),
        // A native app's private-use scheme, named after a domain it owns (RFC 8252 §7.1).
        scheme if scheme.contains('.') => Ok(uri.to_string()),
        "javascript" | "data" | "file" | "vbscript" => Err(format!("{uri} does not lead to an application.")),
        scheme => Err(format!(
            "{uri} uses the scheme {scheme}: use https, or for a native app a scheme named after your domain \
             in reverse order (com.example.app:/callback)."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(uris: &[&str]) -> SignInSettings {
        SignInSettings { redirect_uris: uris.iter().map(|u| u.to_string()).collect(), ..Default::default() }
    }

    #[test]
    fn redirect_uris_match_exactly_except_for_loopback_ports() {
        let s = settings(&["https://app.example.com/callback", "http://127.0.0.1/cb", "http://localhost:8080/cb"]);
        assert!(s.allows_redirect("https://app.example.com/callback"));
        assert!(!s.allows_redirect("https://app.example.com/callback/"));
        assert!(!s.allows_redirect("https://app.example.com/callback?x=1"));
        assert!(!s.allows_redirect("https://APP.example.com/callback"));
        assert!(!s.allows_redirect("https://app.example.com:8443/callback"));
        assert!(s.allows_redirect("http://127.0.0.1:51234/cb"));
        assert!(s.allows_redirect("http://localhost:9999/cb"));
        assert!(!s.allows_redirect("http://127.0.0.1:51234/other"));
        assert!(!s.allows_redirect("http://localhost.evil.example/cb"));
    }

    #[test]
    fn registered_redirect_uris_are_https_loopback_or_private_use_schemes() {
        for good in ["https://app.example.com/cb", "http://localhost:3000/cb", "http://[::1]/cb", "com.example.app:/cb"]
        {
            assert_eq!(check_redirect_uri(good).as_deref(), Ok(good));
        }
        for (bad, why) in [
            ("http://app.example.com/cb", "plain http"),
            ("https://app.example.com/cb#x", "fragment"),
            ("https://*.example.com/cb", "wildcard"),
            ("/cb", "absolute"),
            ("javascript:alert(1)", "does not lead"),
            ("myapp:/cb", "reverse order"),
        ] {
            let err = check_redirect_uri(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(check_redirect_uri(&format!("https://example.com/{}", "a".repeat(250))).is_err());
    }
}
