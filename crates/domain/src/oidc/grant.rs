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

    /// A Temporary Access Pass, which stands for the password and the second step.
    pub fn by_access_pass() -> AuthMethods {
        AuthMethods(vec!["tap".into(), "mfa".into()])
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

/// A refresh token exchanged for its successors (RFC 6749 §6), as the store makes the exchange:
/// only while the token is unused and unexpired, was issued to `app_id`, grants every scope
/// asked for, and its user may still sign in. The successors' hashes are chosen before the
/// token is read, so that a store can mark it used and store them in one step.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The hash of the refresh token given in.
    pub hash: String,
    /// The application that gave it in.
    pub app_id: Uuid,
    /// The scopes asked for the new access token; `None` for all of the token's.
    pub asked: Option<Scopes>,
    /// When the exchange happens.
    pub now: Timestamp,
    /// The hash of the new access token.
    pub access_hash: String,
    /// The hash of the new refresh token.
    pub refresh_hash: String,
}

impl Rotation {
    /// An exchange of the refresh token `refresh_token` by `app_id` for the new tokens
    /// `access_token` and `next_refresh_token`.
    pub fn new(
        refresh_token: &str,
        app_id: Uuid,
        asked: Option<Scopes>,
        now: Timestamp,
        access_token: &str,
        next_refresh_token: &str,
    ) -> Rotation {
        Rotation {
            hash: hash_token(refresh_token),
            app_id,
            asked,
            now,
            access_hash: hash_token(access_token),
            refresh_hash: hash_token(next_refresh_token),
        }
    }

    /// Whether `token`, unused since `used_at` is `None`, of a user who `may_sign_in`, may be
    /// exchanged: the rule every store applies (PostgreSQL in the statement that exchanges it,
    /// SQLite on the read just before its shared commit, which then checks only that the token
    /// is still unused).
    pub fn admits(&self, token: &UserToken, used_at: Option<Timestamp>, may_sign_in: bool) -> bool {
        token.refresh
            && used_at.is_none()
            && token.expires_at > self.now
            && token.grant.app_id == self.app_id
            && self.asked.is_none_or(|asked| token.grant.scopes.covers(asked))
            && may_sign_in
    }

    /// The scopes of the new access token, given those of the refresh token.
    pub fn access_scopes(&self, granted: Scopes) -> Scopes {
        self.asked.unwrap_or(granted)
    }

    /// When the new access token expires.
    pub fn access_expires_at(&self) -> Timestamp {
        self.now.plus_seconds(ACCESS_TOKEN_SECONDS)
    }

    /// When the new refresh token expires.
    pub fn refresh_expires_at(&self) -> Timestamp {
        self.now.plus_seconds(REFRESH_TOKEN_SECONDS)
    }

    /// The new access and refresh tokens that replace `token`, in its chain.
    pub fn successors(&self, token: &UserToken) -> [UserToken; 2] {
        let access = UserToken {
            hash: self.access_hash.clone(),
            chain: token.chain,
            refresh: false,
            grant: Grant { scopes: self.access_scopes(token.grant.scopes), ..token.grant.clone() },
            expires_at: self.access_expires_at(),
        };
        let refresh = UserToken {
            hash: self.refresh_hash.clone(),
            chain: token.chain,
            refresh: true,
            grant: token.grant.clone(),
            expires_at: self.refresh_expires_at(),
        };
        [access, refresh]
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
    fn a_rotation_admits_only_an_unused_live_refresh_token_of_its_application_and_scopes() {
        let grant = Grant {
            app_id: Uuid::new_v4(),
            user_id: UserId::random(),
            scopes: Scopes::parse("openid email offline_access"),
            auth_time: Timestamp(5),
            amr: AuthMethods::with_second_step("otp"),
        };
        let issued = IssuedTokens::issue(&grant, grant.scopes, Uuid::new_v4(), Timestamp(0));
        let (token, plain) = issued.refresh.clone().unwrap();
        let now = Timestamp(1_000);
        let rotation =
            |asked: Option<&str>| Rotation::new(&plain, grant.app_id, asked.map(Scopes::parse), now, "access", "next");
        assert!(rotation(None).admits(&token, None, true));
        assert!(rotation(Some("openid")).admits(&token, None, true), "fewer scopes");
        assert!(!rotation(Some("openid phone")).admits(&token, None, true), "a scope never granted");
        assert!(!rotation(None).admits(&token, Some(now), true), "used already");
        assert!(!rotation(None).admits(&token, None, false), "a user who may not sign in");
        assert!(!rotation(None).admits(&issued.access, None, true), "an access token");
        let expired = UserToken { expires_at: now, ..token.clone() };
        assert!(!rotation(None).admits(&expired, None, true), "expired");
        let other_app = Rotation { app_id: Uuid::new_v4(), ..rotation(None) };
        assert!(!other_app.admits(&token, None, true), "another application's");

        let [access, refresh] = rotation(Some("openid")).successors(&token);
        assert_eq!((access.hash, refresh.hash), (hash_token("access"), hash_token("next")));
        assert_eq!((access.chain, refresh.chain), (token.chain, token.chain), "the same chain");
        assert_eq!((access.refresh, refresh.refresh), (false, true));
        assert_eq!(access.grant, Grant { scopes: Scopes::parse("openid"), ..grant.clone() });
        assert_eq!(refresh.grant, grant, "the refresh token keeps the whole grant");
        assert_eq!(access.expires_at, now.plus_seconds(ACCESS_TOKEN_SECONDS));
        assert_eq!(refresh.expires_at, now.plus_seconds(REFRESH_TOKEN_SECONDS));
    }

    #[test]
    fn auth_methods_round_trip_and_tell_multi_factor() {
        let amr = AuthMethods::with_second_step("otp");
        assert_eq!(AuthMethods::from_stored(&amr.stored()), amr);
        assert!(amr.multi_factor() && !AuthMethods::password().multi_factor());
    }
}
