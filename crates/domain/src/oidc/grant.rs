//! What a sign-in grants an application: scopes, authorization codes, access and refresh
//! tokens, each stored only as a hash.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::session::{hash_token, random_token};
use crate::user::UserId;

/// An authorization code is exchanged within this many seconds or never.
pub const CODE_LIFETIME_SECONDS: i64 = 60;
/// An access token or ID token lasts an hour, as Entra's do by default.
pub const ACCESS_TOKEN_SECONDS: i64 = 60 * 60;
/// A refresh token lapses after 90 days unused, as Entra's do; each use gives a fresh one.
pub const REFRESH_TOKEN_SECONDS: i64 = 90 * 24 * 60 * 60;

/// A scope Roster grants to applications signing people in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Sign the user in: an ID token with `sub`.
    OpenId,
    /// Name and preferred username.
    Profile,
    /// The user's email address.
    Email,
    /// The user's phone numbers.
    Phone,
    /// The user's postal address.
    Address,
    /// A refresh token, to stay signed in.
    OfflineAccess,
}

impl Scope {
    /// Every scope, in the order responses list them.
    pub const ALL: [Scope; 6] =
        [Scope::OpenId, Scope::Profile, Scope::Email, Scope::Phone, Scope::Address, Scope::OfflineAccess];

    /// The name clients ask for.
    pub fn name(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::Phone => "phone",
            Scope::Address => "address",
            Scope::OfflineAccess => "offline_access",
        }
    }

    /// What it lets an application do, as the consent page says it.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::OpenId => "Sign you in with your account",
            Scope::Profile => "See your name and username",
            Scope::Email => "See your email address",
            Scope::Phone => "See your phone number",
            Scope::Address => "See your postal address",
            Scope::OfflineAccess => "Keep you signed in, even when you are not using it",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of scopes, stored as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// The scopes Roster knows among a space-separated request; others (an API's scopes, which
    /// Roster does not issue) are left out of the grant, as RFC 6749 §3.3 allows.
    pub fn parse(requested: &str) -> Scopes {
        Scopes(
            requested
                .split_whitespace()
                .filter_map(|s| Scope::ALL.into_iter().find(|k| k.name() == s))
                .fold(0, |bits, s| bits | s.bit()),
        )
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scopes in the set, in order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Whether every scope of `other` is in this set.
    pub fn covers(self, other: Scopes) -> bool {
        other.0 & !self.0 == 0
    }

    /// The stored mask.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// From a stored mask.
    pub fn from_bits(bits: i64) -> Scopes {
        Scopes((bits & 0x3f) as u8)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL.into_iter().filter(|s| self.contains(*s)).map(Scope::name).collect();
        f.write_str(&names.join(" "))
    }
}

/// How the user proved who they are at sign-in, as `amr` values (RFC 8176).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthMethods(pub Vec<String>);

impl AuthMethods {
    /// A password alone.
    pub fn password() -> AuthMethods {
        AuthMethods(vec!["pwd".into()])
    }

    /// A password and a second step of kind `second` (`otp`, `sms`, …).
    pub fn with_second_step(second: &str) -> AuthMethods {
        AuthMethods(vec!["pwd".into(), second.into(), "mfa".into()])
    }

    /// Space-separated, as stored.
    pub fn stored(&self) -> String {
        self.0.join(" ")
    }

    /// From the stored form.
    pub fn from_stored(text: &str) -> AuthMethods {
        AuthMethods(text.split_whitespace().map(str::to_string).collect())
    }

    /// Whether the sign-in took more than one factor.
    pub fn multi_factor(&self) -> bool {
        self.0.iter().any(|m| m == "mfa")
    }
}

/// Whether `verifier` answers `challenge` under PKCE's S256 method (RFC 7636 §4.6).
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    if !(43..=128).contains(&verifier.len())
        || !verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// A person's standing with one application: what they consented to, and when they last
/// signed in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppGrant {
    pub user_id: UserId,
    pub app_id: Uuid,
    /// The scopes they consented to; empty when only the organisation's consent let them in.
    pub scopes: Scopes,
    pub consented_at: Option<Timestamp>,
    pub last_sign_in_at: Timestamp,
}

/// Everything the sign-in decided, carried from the code to the tokens it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub app_id: Uuid,
    pub user_id: UserId,
    pub scopes: Scopes,
    /// When the user last entered their password.
    pub auth_time: Timestamp,
    pub amr: AuthMethods,
}

/// An authorization code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub hash: String,
    pub grant: Grant,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, if the client sent one.
    pub code_challenge: Option<String>,
    pub expires_at: Timestamp,
}

impl AuthCode {
    /// A fresh code for `grant`, and the code itself (sent to the client once).
    pub fn issue(
        grant: Grant,
        redirect_uri: String,
        nonce: Option<String>,
        code_challenge: Option<String>,
        now: Timestamp,
    ) -> (AuthCode, String) {
        let code = random_token();
        let stored = AuthCode {
            hash: hash_token(&code),
            grant,
            redirect_uri,
            nonce,
            code_challenge,
            expires_at: now.plus_seconds(CODE_LIFETIME_SECONDS),
        };
        (stored, code)
    }
}

/// An access or refresh token as stored: one row per token, tied to the chain it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub hash: String,
    /// Every token descended from one authorization code shares this; a replayed code or
    /// refresh token ends the whole chain.
    pub chain: Uuid,
    pub refresh: bool,
    pub grant: Grant,
    pub expires_at: Timestamp,
}

/// A pair issued together: the access token and, with `offline_access`, a refresh token.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access: UserToken,
    pub access_token: String,
    pub refresh: Option<(UserToken, String)>,
}

impl IssuedTokens {
    /// Fresh tokens for `grant` in `chain`: an access token for `access_scopes` (the grant's or
    /// fewer), and a refresh token for the whole grant.
    pub fn issue(grant: &Grant, access_scopes: Scopes, chain: Uuid, now: Timestamp) -> IssuedTokens {
        let token = |refresh: bool, scopes: Scopes, seconds: i64| {
            let plain = random_token();
            let stored = UserToken {
                hash: hash_token(&plain),
                chain,
                refresh,
                grant: Grant { scopes, ..grant.clone() },
                expires_at: now.plus_seconds(seconds),
            };
            (stored, plain)
        };
        let (access, access_token) = token(false, access_scopes, ACCESS_TOKEN_SECONDS);
        let refresh =
            grant.scopes.contains(Scope::OfflineAccess).then(|| token(true, grant.scopes, REFRESH_TOKEN_SECONDS));
        IssuedTokens { access, access_token, refresh }
    }

    /// The rows to store.
    pub fn rows(&self) -> Vec<&UserToken> {
        std::iter::once(&self.access).chain(self.refresh.as_ref().map(|(t, _)| t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_accepts_only_the_verifier_that_made_the_challenge() {
        // The example of RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(challenge, &verifier.replace('d', "e")));
        assert!(!pkce_matches(challenge, "short"));
        assert!(!pkce_matches(verifier, verifier), "plain is not S256");
    }

    #[test]
    fn scopes_keep_what_roster_grants_and_print_in_order() {
        let scopes = Scopes::parse("email  openid https://graph.microsoft.com/User.Read offline_access");
        assert_eq!(scopes.to_string(), "openid email offline_access");
        assert_eq!(Scopes::from_bits(scopes.bits()), scopes);
        assert!(scopes.covers(Scopes::parse("openid email")));
        assert!(!scopes.covers(Scopes::parse("openid phone")));
    }

    #[test]
    fn a_refresh_token_comes_only_with_offline_access() {
        let grant = Grant {
            app_id: Uuid::new_v4(),
            user_id: UserId::random(),
            scopes: Scopes::parse("openid"),
            auth_time: Timestamp(0),
            amr: AuthMethods::password(),
        };
        let chain = Uuid::new_v4();
        let issued = IssuedTokens::issue(&grant, grant.scopes, chain, Timestamp(0));
        assert!(issued.refresh.is_none());
        assert_eq!(issued.access.hash, hash_token(&issued.access_token));
        assert_eq!(issued.access.expires_at, Timestamp(0).plus_seconds(ACCESS_TOKEN_SECONDS));
        let offline = Grant { scopes: Scopes::parse("openid offline_access"), ..grant };
        let issued = IssuedTokens::issue(&offline, Scopes::parse("openid"), chain, Timestamp(0));
        let (refresh, _) = issued.refresh.as_ref().unwrap();
        assert!(refresh.refresh && refresh.chain == chain);
        assert_eq!((issued.access.grant.scopes, refresh.grant.scopes), (Scopes::parse("openid"), offline.scopes));
        assert_eq!(issued.rows().len(), 2);
    }

    #[test]
    fn auth_methods_round_trip_and_tell_multi_factor() {
        let amr = AuthMethods::with_second_step("otp");
        assert_eq!(AuthMethods::from_stored(&amr.stored()), amr);
        assert!(amr.multi_factor() && !AuthMethods::password().multi_factor());
    }
}
