//! Application registrations: programs that call Roster's APIs on their own authority, with a
//! client id, client secrets and application permissions, as in Microsoft Entra ID.
//!
//! Secrets and access tokens are 256 random bits, so a SHA-256 of each is as safe to store as
//! a slow password hash would be, and cheap enough to check on every API call.

use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;

use uuid::Uuid;

use crate::clock::Timestamp;
use crate::oidc::assertion::ClientKeys;
use crate::oidc::client::SignInSettings;
use crate::session::{hash_token, random_token};

/// How long an access token lasts, as Entra's default for the client-credentials grant.
pub const TOKEN_LIFETIME_SECONDS: i64 = 60 * 60;
/// Client secret lifetimes an administrator can choose, in days (Entra's choices up to two years).
pub const SECRET_LIFETIMES_DAYS: [i64; 4] = [90, 180, 365, 730];
/// The lifetime a new secret gets unless another is chosen.
pub const DEFAULT_SECRET_DAYS: i64 = 180;
/// The most client secrets one application may hold at once (enough to rotate without a gap).
pub const MAX_SECRETS: usize = 5;
/// The longest application name.
pub const MAX_NAME_CHARS: usize = 120;

/// An application permission, by the name Microsoft Graph gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppPermission {
    /// Read every user's profile and contact information.
    UserReadAll,
    /// Create, change and delete users; change the recovery contacts of non-administrators only.
    UserReadWriteAll,
    /// Read every user's authentication methods (phones and email used for recovery).
    AuthMethodReadAll,
    /// Change every user's authentication methods, administrators' included.
    AuthMethodReadWriteAll,
    /// Read every group, its members and owners, and the groups each user is in.
    GroupReadAll,
    /// Create, change and delete groups, and manage their members and owners.
    GroupReadWriteAll,
    /// Add and remove members of every group, without changing the groups themselves.
    GroupMemberReadWriteAll,
}

impl AppPermission {
    /// Every permission, in the order pages list them.
    pub const ALL: [AppPermission; 7] = [
        AppPermission::UserReadAll,
        AppPermission::UserReadWriteAll,
        AppPermission::AuthMethodReadAll,
        AppPermission::AuthMethodReadWriteAll,
        AppPermission::GroupReadAll,
        AppPermission::GroupReadWriteAll,
        AppPermission::GroupMemberReadWriteAll,
    ];

    /// Graph's name, e.g. `User.Read.All`.
    pub fn name(self) -> &'static str {
        match self {
            AppPermission::UserReadAll => "User.Read.All",
            AppPermission::UserReadWriteAll => "User.ReadWrite.All",
            AppPermission::AuthMethodReadAll => "UserAuthenticationMethod.Read.All",
            AppPermission::AuthMethodReadWriteAll => "UserAuthenticationMethod.ReadWrite.All",
            AppPermission::GroupReadAll => "Group.Read.All",
            AppPermission::GroupReadWriteAll => "Group.ReadWrite.All",
            AppPermission::GroupMemberReadWriteAll => "GroupMember.ReadWrite.All",
        }
    }

    /// What it allows, for people choosing it.
    pub fn description(self) -> &'static str {
        match self {
            AppPermission::UserReadAll => "Read all users' profiles and contact information.",
            AppPermission::UserReadWriteAll => {
                "Add, change and delete users. Recovery contacts of administrators stay out of reach."
            }
            AppPermission::AuthMethodReadAll => "Read all users' authentication phones and email.",
            AppPermission::AuthMethodReadWriteAll => {
                "Change all users' authentication phones and email, administrators' included."
            }
            AppPermission::GroupReadAll => "Read all groups, their members and owners.",
            AppPermission::GroupReadWriteAll => "Add, change and delete groups, and manage their members and owners.",
            AppPermission::GroupMemberReadWriteAll => "Add and remove the members of all groups.",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for AppPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AppPermission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppPermission::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            let known: Vec<&str> = AppPermission::ALL.iter().map(|p| p.name()).collect();
            format!("{s} is not a permission Roster grants; choose from {}.", known.join(", "))
        })
    }
}

/// A set of application permissions, stored as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct AppPermissions(u8);

impl AppPermissions {
    /// No permission at all.
    pub const NONE: AppPermissions = AppPermissions(0);

    /// The set holding exactly `permissions`.
    pub fn of(permissions: &[AppPermission]) -> Self {
        AppPermissions(permissions.iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// The stored mask.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// From a stored mask, ignoring bits this build does not know.
    pub fn from_bits(bits: i64) -> Self {
        let known = AppPermissions::of(&AppPermission::ALL).0;
        AppPermissions((bits & i64::from(known)) as u8)
    }

    /// Whether `permission` is in the set.
    pub fn contains(self, permission: AppPermission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// Whether the set holds nothing.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions in the set.
    pub fn iter(self) -> impl Iterator<Item = AppPermission> {
        AppPermission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// Graph's names, comma-separated.
    pub fn display(self) -> String {
        self.iter().map(AppPermission::name).collect::<Vec<_>>().join(", ")
    }
}

/// A registered application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The client id (Entra's "Application (client) ID").
    pub id: Uuid,
    pub name: String,
    pub permissions: AppPermissions,
    pub created_at: Timestamp,
    /// Who registered it, as audit records name people.
    pub created_by: String,
    /// How it signs people in through Roster, if it does.
    pub sign_in: SignInSettings,
    /// When its logo was last uploaded; `None` without one.
    pub logo_updated_at: Option<Timestamp>,
}

/// The largest logo, as in Entra ID.
pub const MAX_LOGO_BYTES: usize = 100 * 1024;

/// An application's logo for My apps: a PNG or JPEG image, checked by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLogo {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl AppLogo {
    /// A logo from uploaded bytes, or why they are not one. Only PNG and JPEG, recognised by
    /// their signatures rather than by a name or type the browser sent: an SVG could carry
    /// script.
    pub fn check(bytes: Vec<u8>) -> Result<AppLogo, String> {
        if bytes.is_empty() {
            return Err("Choose a PNG or JPEG file.".into());
        }
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(format!("The logo is larger than {} KB; make it smaller.", MAX_LOGO_BYTES / 1024));
        }
        let content_type = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            "image/png"
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            "image/jpeg"
        } else {
            return Err("The logo must be a PNG or JPEG image.".into());
        };
        Ok(AppLogo { content_type: content_type.into(), bytes })
    }
}

/// A client secret as stored: its hash, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSecret {
    pub id: Uuid,
    pub app_id: Uuid,
    pub description: String,
    /// The secret's first characters, so people can tell their secrets apart.
    pub hint: String,
    pub hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl AppSecret {
    /// A fresh secret for `app_id`, valid for `days`, and the secret itself (shown once).
    pub fn generate(app_id: Uuid, description: &str, days: i64, now: Timestamp) -> (AppSecret, SecretString) {
        let secret = random_token();
        let stored = AppSecret {
            id: Uuid::new_v4(),
            app_id,
            description: description.to_string(),
            hint: secret.chars().take(3).collect(),
            hash: hash_token(&secret),
            created_at: now,
            expires_at: now.plus_seconds(days * 24 * 60 * 60),
        };
        (stored, secret.into())
    }

    /// Whether `secret` is this one and still valid at `now`; compares hashes in constant time.
    pub fn accepts(&self, secret: &str, now: Timestamp) -> bool {
        use subtle::ConstantTimeEq;
        let matches: bool = hash_token(secret).as_bytes().ct_eq(self.hash.as_bytes()).into();
        matches && now < self.expires_at
    }
}

/// What an application proved itself with to get an access token.
#[derive(Debug, Clone, Copy)]
pub enum IssuedAgainst<'a> {
    /// One of its client secrets.
    Secret(&'a AppSecret),
    /// An assertion signed with one of these keys.
    Keys(&'a ClientKeys),
}

/// An access token as stored: its hash and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppToken {
    pub hash: String,
    pub app_id: Uuid,
    /// The secret it was issued against: removing that secret ends the token too (the store
    /// deletes it with the secret).
    pub secret_id: Option<Uuid>,
    /// For a token issued against a signed assertion, the [`ClientKeys::fingerprint`] of the
    /// application's keys then: the token holds only while the application keeps those keys.
    pub key_set: Option<String>,
    pub expires_at: Timestamp,
}

impl AppToken {
    /// A fresh token for `app_id` and the token itself (given to the caller once).
    pub fn issue(app_id: Uuid, against: IssuedAgainst<'_>, now: Timestamp) -> (AppToken, String) {
        let token = random_token();
        let (secret_id, key_set) = match against {
            IssuedAgainst::Secret(secret) => (Some(secret.id), None),
            IssuedAgainst::Keys(keys) => (None, Some(keys.fingerprint().to_string())),
        };
        let stored = AppToken {
            hash: hash_token(&token),
            app_id,
            secret_id,
            key_set,
            expires_at: now.plus_seconds(TOKEN_LIFETIME_SECONDS),
        };
        (stored, token)
    }

    /// Whether the token still lets `app` in at `now`: unexpired and, if an assertion got it,
    /// the application still holds the keys that signed it.
    pub fn holds_for(&self, app: &App, now: Timestamp) -> bool {
        let proof_holds = match &self.key_set {
            None => self.secret_id.is_some(),
            Some(fingerprint) => app.sign_in.client_keys.as_ref().is_some_and(|k| k.fingerprint() == fingerprint),
        };
        now < self.expires_at && proof_holds
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn permissions_parse_by_graph_name_in_any_case() {
        assert_eq!("user.readwrite.all".parse::<AppPermission>().unwrap(), AppPermission::UserReadWriteAll);
        let err = "Directory.ReadWrite.All".parse::<AppPermission>().unwrap_err();
        assert!(err.contains("UserAuthenticationMethod.ReadWrite.All"), "{err}");
    }

    #[test]
    fn permission_sets_round_trip_through_their_mask() {
        let set = AppPermissions::of(&[AppPermission::UserReadAll, AppPermission::AuthMethodReadWriteAll]);
        assert_eq!(AppPermissions::from_bits(set.bits()), set);
        assert_eq!(set.display(), "User.Read.All, UserAuthenticationMethod.ReadWrite.All");
        assert!(set.contains(AppPermission::UserReadAll) && !set.contains(AppPermission::UserReadWriteAll));
        assert_eq!(AppPermissions::from_bits(0x100 | set.bits()), set);
    }

    #[test]
    fn a_secret_is_accepted_only_as_given_and_before_it_expires() {
        let now = Timestamp(1_000_000);
        let (stored, secret) = AppSecret::generate(Uuid::new_v4(), "ci", 90, now);
        let secret = secret.expose_secret();
        assert!(stored.accepts(secret, now));
        assert!(!stored.accepts(&format!("{secret}x"), now));
        assert!(!stored.accepts(secret, now.plus_seconds(90 * 24 * 60 * 60)));
        assert!(secret.starts_with(&stored.hint) && stored.hint.len() == 3);
    }

    #[test]
    fn tokens_last_an_hour_and_are_stored_hashed() {
        let now = Timestamp(0);
        let (secret, _) = AppSecret::generate(Uuid::new_v4(), "ci", 90, now);
        let (stored, token) = AppToken::issue(secret.app_id, IssuedAgainst::Secret(&secret), now);
        assert_eq!(stored.hash, hash_token(&token));
        assert_eq!(stored.expires_at, now.plus_seconds(3600));
        assert_eq!((stored.secret_id, stored.key_set), (Some(secret.id), None));
    }

    #[test]
    fn a_new_client_secret_never_prints() {
        let generated = AppSecret::generate(Uuid::new_v4(), "ci", 90, Timestamp(0));
        let plain = generated.1.expose_secret().to_string();
        assert!(!format!("{generated:?}").contains(&plain));
    }

    #[test]
    fn a_logo_is_a_small_png_or_jpeg_by_its_content() {
        let png = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0; 16]].concat();
        assert_eq!(AppLogo::check(png).unwrap().content_type, "image/png");
        assert_eq!(AppLogo::check(vec![0xff, 0xd8, 0xff, 0xe0]).unwrap().content_type, "image/jpeg");
        assert!(AppLogo::check(b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec())
            .unwrap_err()
            .contains("PNG or JPEG"));
        assert!(AppLogo::check(Vec::new()).unwrap_err().contains("Choose"));
        let big = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0; MAX_LOGO_BYTES]].concat();
        assert!(AppLogo::check(big).unwrap_err().contains("100 KB"));
    }
}
