//! Users, their identifiers, and the queries that list them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::contact::ContactInfo;
use crate::error::FieldError;
use crate::recovery::methods::{methods_of, verified_at, Verification};
use crate::role::RoleSet;

/// A user's permanent, opaque identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub Uuid);

impl UserId {
    /// A fresh random identifier.
    pub fn random() -> Self {
        UserId(Uuid::new_v4())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for UserId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(UserId)
    }
}

/// A sign-in name in user principal name form (`alias@domain`), stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Checks the user principal name rules: `A-Z a-z 0-9 ' . - _ ! # ^ ~` before the `@`, a
    /// domain name after it, no dot right before the `@`, at most 64 + 1 + 48 characters.
    pub fn parse(raw: &str) -> Result<Username, FieldError> {
        let err = |m: &str| FieldError::new("username", m);
        let value = raw.trim().to_lowercase();
        let Some((alias, domain)) = value.split_once('@') else {
            return Err(err("Enter a username in the form name@domain, such as alex.wilber@contoso.com."));
        };
        if alias.is_empty() || alias.len() > 64 {
            return Err(err("The part before @ must be 1 to 64 characters long."));
        }
        if !alias.chars().all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c)) {
            return Err(err(
                "The part before @ can only contain letters A to Z, digits and ' . - _ ! # ^ ~ (no spaces or accents).",
            ));
        }
        if alias.starts_with('.') || alias.ends_with('.') || alias.contains("..") {
            return Err(err("The part before @ can't start or end with a dot, or have two dots in a row."));
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
        if domain.len() > 48 || !domain.contains('.') || !labels_ok {
            return Err(err("The part after @ must be a domain name of at most 48 characters, such as contoso.com."));
        }
        Ok(Username(value))
    }

    /// Wraps a value read back from storage, which was validated when written.
    pub fn from_stored(value: String) -> Username {
        Username(value)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user as the directory holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub contact: ContactInfo,
    pub roles: RoleSet,
    /// Whether sign-in is allowed.
    pub enabled: bool,
    pub must_change_password: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Display name of whoever saved this version.
    pub updated_by: String,
    /// Increases by one on every change; guards against lost updates.
    pub version: i64,
    /// Set while the user sits in Deleted users.
    pub deleted_at: Option<Timestamp>,
    /// The provisioning client's own identifier for the user (SCIM's `externalId`).
    pub external_id: Option<String>,
}

impl User {
    /// The primary email address, where notices go: the one set, else the username.
    pub fn mail(&self) -> &str {
        self.contact.mail.as_deref().unwrap_or(self.username.as_str())
    }
}

/// One row of the Active users (or Deleted users) list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub mobile_phone: Option<String>,
    /// The first alternate email address, if any.
    pub alternate_email: Option<String>,
    pub department: Option<String>,
    pub roles: RoleSet,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

/// The column a user list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    /// Display name, case-insensitively, then id.
    #[default]
    DisplayName,
    /// Username (unique).
    Username,
}

impl UserSort {
    /// The sort key of a summary for this column.
    pub fn key_of(self, user: &UserSummary) -> String {
        match self {
            UserSort::DisplayName => sort_key(&user.display_name),
            UserSort::Username => user.username.as_str().to_string(),
        }
    }
}

/// Which users a list keeps: the filters of Active users. Each is a condition on the user's
/// own record, the same whatever the reset policy, so that a list and its count agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFilter {
    #[default]
    All,
    /// Holders of any administrator role.
    Administrators,
    /// Users blocked from signing in.
    Blocked,
    /// Users with at least one recovery contact they have not proved is theirs.
    Unverified,
    /// Users with no recovery contact at all: no alternate email, mobile, alternate or office phone.
    NoContacts,
}

impl ListFilter {
    /// Every filter, in the order the Active users page offers them.
    pub const ALL: [ListFilter; 5] = [
        ListFilter::All,
        ListFilter::Administrators,
        ListFilter::Blocked,
        ListFilter::Unverified,
        ListFilter::NoContacts,
    ];

    /// The filter's code in links.
    pub fn code(self) -> &'static str {
        match self {
            ListFilter::All => "all",
            ListFilter::Administrators => "admins",
            ListFilter::Blocked => "blocked",
            ListFilter::Unverified => "unverified",
            ListFilter::NoContacts => "no_contacts",
        }
    }

    /// The filter a code names.
    pub fn from_code(code: &str) -> Option<ListFilter> {
        ListFilter::ALL.into_iter().find(|f| f.code() == code)
    }

    /// Whether the filter keeps `user`, whose verified contacts are `verifications`: the
    /// reference meaning that each store's SQL must agree with.
    pub fn keeps(self, user: &User, verifications: &[Verification]) -> bool {
        let contacts = methods_of(&user.contact);
        match self {
            ListFilter::All => true,
            ListFilter::Administrators => user.roles.is_admin(),
            ListFilter::Blocked => !user.enabled,
            ListFilter::Unverified => contacts.iter().any(|m| verified_at(m, verifications).is_none()),
            ListFilter::NoContacts => contacts.is_empty(),
        }
    }

    /// The filter's name in the admin center.
    pub fn label(self) -> &'static str {
        match self {
            ListFilter::All => "All users",
            ListFilter::Administrators => "Administrators",
            ListFilter::Blocked => "Blocked sign-in",
            ListFilter::Unverified => "Unverified contacts",
            ListFilter::NoContacts => "No recovery contacts",
        }
    }
}

/// How many users a list holds, counted up to a bound so that a count never reads a whole
/// large directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserCount {
    Exactly(u64),
    /// More than this many.
    MoreThan(u64),
}

/// The stored, case-folded form used to sort and search names.
pub fn sort_key(text: &str) -> String {
    text.to_lowercase()
}

/// A position in a sorted list: the sort key and id of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: String,
    pub id: UserId,
}

/// Which page of users to list.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Case-insensitive prefix of a display name, first name, last name, username or alternate email.
    pub search: Option<String>,
    pub sort: UserSort,
    pub descending: bool,
    /// Rows strictly after this cursor in the list's direction...
    pub after: Option<Cursor>,
    /// ...or strictly before it (the previous page).
    pub before: Option<Cursor>,
    /// List deleted users instead of active ones.
    pub deleted: bool,
    /// Which active users to keep.
    pub filter: ListFilter,
    /// Page size.
    pub limit: u32,
}

/// One page of users with the cursors of the neighbouring pages.
#[derive(Debug, Clone, Default)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    pub next: Option<Cursor>,
    pub previous: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased() {
        assert_eq!(Username::parse(" Alex.Wilber@Contoso.com ").unwrap().as_str(), "alex.wilber@contoso.com");
    }

    #[test]
    fn usernames_follow_the_upn_rules() {
        for bad in [
            "alex",
            "@contoso.com",
            "alex.@contoso.com",
            "al ex@contoso.com",
            "zoë@contoso.com",
            "alex@contoso",
            "alex@-contoso.com",
            &format!("{}@contoso.com", "a".repeat(65)),
            &format!("alex@{}.com", "d".repeat(45)),
        ] {
            let err = Username::parse(bad).unwrap_err();
            assert_eq!(err.field, "username", "{bad}");
        }
        assert!(Username::parse("o'brien_j-1!#^~@sub.contoso.co.uk").is_ok());
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = UserId::random();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
    }
}
