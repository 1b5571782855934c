//! Groups: security groups of users and of other groups, as in Microsoft Entra ID.
//!
//! A group holds users and groups as members, and users as owners. Membership is transitive:
//! a user in a group that is itself a member of another group counts as a member of both,
//! for policies and everything else that asks. Cycles are refused, so the nesting is a
//! directed acyclic graph, and the store keeps its transitive closure so that asking whether
//! someone is in a group is one indexed lookup at any depth.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::error::FieldError;
use crate::text;
use crate::user::{Cursor, UserId};

/// The longest display name, as in Entra ID.
pub const MAX_DISPLAY_NAME_CHARS: usize = 256;
/// The longest description, as in Entra ID.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// The longest email nickname (`mailNickname`), as in Entra ID.
pub const MAX_NICKNAME_CHARS: usize = 64;
/// The longest external id a provisioning client may store.
pub const MAX_EXTERNAL_ID_CHARS: usize = 256;
/// The characters Entra ID refuses in an email nickname (besides anything outside ASCII).
const NICKNAME_FORBIDDEN: &str = "@()\\[]\";:<>, ";

/// A group's permanent, opaque identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub Uuid);

impl GroupId {
    /// A fresh random identifier.
    pub fn random() -> Self {
        GroupId(Uuid::new_v4())
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for GroupId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(GroupId)
    }
}

/// A group as the directory holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub display_name: String,
    pub description: Option<String>,
    /// The email nickname (`mailNickname`); security groups carry one without a mailbox.
    pub mail_nickname: String,
    /// The identifier a provisioning client keeps for the group (SCIM's `externalId`).
    pub external_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Display name of whoever saved this version.
    pub updated_by: String,
    /// Increases by one on every change; guards against lost updates.
    pub version: i64,
    /// Set while the group sits in Deleted groups.
    pub deleted_at: Option<Timestamp>,
}

impl Group {
    /// How audit records and pages name the group: its display name and id.
    pub fn label(&self) -> String {
        format!("{} ({})", self.display_name, self.id)
    }
}

/// What an administrator or API fills in to add or change a group.
#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    pub display_name: String,
    pub description: String,
    /// Empty: derived from the display name.
    pub mail_nickname: String,
}

/// A group's validated fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFields {
    pub display_name: String,
    pub description: Option<String>,
    pub mail_nickname: String,
}

impl GroupInput {
    /// Checks every field, naming each problem by its field.
    pub fn validate(&self) -> Result<GroupFields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let display_name = text::required("display_name", "Name", &self.display_name, MAX_DISPLAY_NAME_CHARS)
            .map_err(|e| errors.push(e))
            .ok();
        let description = text::optional("description", "Description", &self.description, MAX_DESCRIPTION_CHARS)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let nickname = if self.mail_nickname.trim().is_empty() {
            display_name.as_deref().map(derive_nickname)
        } else {
            parse_nickname(&self.mail_nickname).map_err(|e| errors.push(e)).ok()
        };
        match (display_name, nickname) {
            (Some(display_name), Some(mail_nickname)) if errors.is_empty() => {
                Ok(GroupFields { display_name, description, mail_nickname })
            }
            _ => Err(errors),
        }
    }
}

/// Checks an email nickname against Entra ID's rules: 1 to 64 ASCII characters, none of
/// `@ ( ) \ [ ] " ; : < > ,` or space (at either end too: a nickname is not trimmed).
pub fn parse_nickname(value: &str) -> Result<String, FieldError> {
    let err = |m: String| FieldError::new("mail_nickname", m);
    if value.is_empty() || value.chars().count() > MAX_NICKNAME_CHARS {
        return Err(err(format!("Enter an email nickname of 1 to {MAX_NICKNAME_CHARS} characters.")));
    }
    if let Some(c) = value.chars().find(|c| !c.is_ascii() || c.is_ascii_control() || NICKNAME_FORBIDDEN.contains(*c)) {
        return Err(err(format!(
            "The email nickname can only contain letters A to Z, digits and punctuation other than @ ( ) \\ [ ] \" ; : < > , \
             and spaces; it has {}.",
            if c == ' ' { "a space".to_string() } else { format!("'{c}'") }
        )));
    }
    Ok(value.to_string())
}

/// An email nickname made of a display name's letters, digits and allowed punctuation, as the
/// Microsoft 365 admin center suggests one: "Sales - Europe (EMEA)" becomes `Sales-EuropeEMEA`.
pub fn derive_nickname(display_name: &str) -> String {
    let kept: String = display_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || (c.is_ascii_punctuation() && !NICKNAME_FORBIDDEN.contains(*c)))
        .take(MAX_NICKNAME_CHARS)
        .collect();
    if kept.is_empty() {
        "group".to_string()
    } else {
        kept
    }
}

/// Checks an external id: at most 256 characters, no control or invisible characters.
pub fn parse_external_id(raw: &str) -> Result<Option<String>, FieldError> {
    text::optional("external_id", "External id", raw, MAX_EXTERNAL_ID_CHARS)
}

/// Something that can be a member of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberId {
    User(UserId),
    Group(GroupId),
}

impl MemberId {
    /// The member's id, whatever its kind.
    pub fn uuid(self) -> Uuid {
        match self {
            MemberId::User(id) => id.0,
            MemberId::Group(id) => id.0,
        }
    }
}

/// What an id names, read without the rest of the user or group: its kind, how audit records
/// name it (a username, or a group's name and id) and whether it is active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub id: MemberId,
    pub label: String,
    pub active: bool,
}

/// A member as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub display_name: String,
    /// The username, for a user.
    pub username: Option<String>,
}

/// One page of a group's members, in id order, and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct MemberPage {
    pub members: Vec<Member>,
    pub next: Option<uuid::Uuid>,
}

/// The order of a group list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupOrder {
    /// Display name, case-insensitively, then id.
    #[default]
    DisplayName,
    /// Id: stable and cheapest for APIs walking every group.
    Id,
}

/// A condition on groups, as the APIs' filters and the admin center's search express them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFilter {
    /// The display name, case-insensitively equal to.
    DisplayNameIs(String),
    /// The display name starting with, case-insensitively.
    DisplayNameStarts(String),
    /// The email nickname, case-insensitively equal to.
    NicknameIs(String),
    /// The email nickname starting with, case-insensitively.
    NicknameStarts(String),
    /// The external id, exactly.
    ExternalIdIs(String),
    /// The group's id.
    IdIs(GroupId),
}

impl GroupFilter {
    /// Whether `group` meets the condition (the store selects exactly these).
    pub fn matches(&self, group: &Group) -> bool {
        let name = crate::user::sort_key(&group.display_name);
        let nickname = group.mail_nickname.to_lowercase();
        match self {
            GroupFilter::DisplayNameIs(v) => name == crate::user::sort_key(v),
            GroupFilter::DisplayNameStarts(v) => name.starts_with(&crate::user::sort_key(v)),
            GroupFilter::NicknameIs(v) => nickname == v.to_lowercase(),
            GroupFilter::NicknameStarts(v) => nickname.starts_with(&v.to_lowercase()),
            GroupFilter::ExternalIdIs(v) => group.external_id.as_deref() == Some(v.as_str()),
            GroupFilter::IdIs(id) => group.id == *id,
        }
    }
}

/// Which groups to list: active or deleted, matching a filter, in an order, after a cursor.
#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub deleted: bool,
    pub filter: Option<GroupFilter>,
    pub order: GroupOrder,
    pub descending: bool,
    /// The list continues after this row (sort key and id; the key is ignored in id order).
    pub after: Option<GroupCursor>,
    /// Rows skipped before the page (SCIM's `startIndex` − 1); keyset paging leaves it 0.
    pub offset: u64,
    pub limit: u32,
}

/// A group's place in a sorted list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCursor {
    pub key: String,
    pub id: GroupId,
}

impl GroupCursor {
    /// The cursor of `group` in `order`.
    pub fn of(group: &Group, order: GroupOrder) -> GroupCursor {
        let key = match order {
            GroupOrder::DisplayName => crate::user::sort_key(&group.display_name),
            GroupOrder::Id => String::new(),
        };
        GroupCursor { key, id: group.id }
    }

    /// As a user cursor, to share its encoding in links.
    pub fn as_cursor(&self) -> Cursor {
        Cursor { key: self.key.clone(), id: UserId(self.id.0) }
    }

    /// From a user cursor read back from a link.
    pub fn from_cursor(cursor: Cursor) -> GroupCursor {
        GroupCursor { key: cursor.key, id: GroupId(cursor.id.0) }
    }
}

/// The most groups one policy may name.
pub const MAX_POLICY_GROUPS: usize = 20;

/// Whom a policy applies to: nobody, the members of chosen groups (directly or through
/// nesting, at any depth), or everyone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    Nobody,
    Groups(Vec<GroupId>),
    #[default]
    Everyone,
}

impl Scope {
    /// The stored kind: `none`, `selected` or `all`, as Microsoft 365 names the choices.
    pub fn code(&self) -> &'static str {
        match self {
            Scope::Nobody => "none",
            Scope::Groups(_) => "selected",
            Scope::Everyone => "all",
        }
    }

    /// The groups named, if any.
    pub fn groups(&self) -> &[GroupId] {
        match self {
            Scope::Groups(groups) => groups,
            _ => &[],
        }
    }

    /// Whether a user is in the scope, given which groups they are a member of (at any depth).
    pub fn includes(&self, is_member: impl Fn(GroupId) -> bool) -> bool {
        match self {
            Scope::Nobody => false,
            Scope::Groups(groups) => groups.iter().any(|g| is_member(*g)),
            Scope::Everyone => true,
        }
    }

    /// The groups as stored: ids separated by commas.
    pub fn groups_setting(&self) -> String {
        self.groups().iter().map(GroupId::to_string).collect::<Vec<_>>().join(",")
    }

    /// The scope stored as `code` and `groups` (see [`Scope::code`] and
    /// [`Scope::groups_setting`]); `default` when nothing or nothing readable is stored. A
    /// selection whose groups are all unreadable selects nobody, never everyone.
    pub fn from_settings(code: Option<&str>, groups: Option<&str>, default: Scope) -> Scope {
        match code {
            Some("none") => Scope::Nobody,
            Some("all") => Scope::Everyone,
            Some("selected") => {
                let ids: Vec<GroupId> =
                    groups.unwrap_or_default().split(',').filter_map(|g| g.trim().parse().ok()).collect();
                if ids.is_empty() {
                    Scope::Nobody
                } else {
                    Scope::Groups(ids)
                }
            }
            _ => default,
        }
    }
}

/// Why nesting `child` in `parent` is refused, given `parent`'s ancestors (itself included):
/// a group can't hold itself, or a group that already holds it, at any depth.
pub fn nesting_refusal(parent: GroupId, child: GroupId, ancestors_of_parent: &[GroupId]) -> Option<FieldError> {
    if parent == child {
        return Some(FieldError::new("members", "A group can't be a member of itself."));
    }
    ancestors_of_parent.contains(&child).then(|| {
        FieldError::new(
            "members",
            "That group already contains this one (directly or through other groups), so adding it would make a cycle.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, nickname: &str) -> GroupInput {
        GroupInput { display_name: name.into(), description: String::new(), mail_nickname: nickname.into() }
    }

    #[test]
    fn a_nickname_is_derived_from_the_name_when_left_empty() {
        let fields = input("Sales - Europe (EMEA)", "").validate().unwrap();
        assert_eq!(fields.mail_nickname, "Sales-EuropeEMEA");
        assert_eq!(input("Sales – Europe", "").validate().unwrap().mail_nickname, "SalesEurope");
        assert_eq!(input("Ünïcødé", "").validate().unwrap().mail_nickname, "ncd");
        assert_eq!(input("Ωμέγα", "").validate().unwrap().mail_nickname, "group");
        let long = "a".repeat(100);
        assert_eq!(input(&long, "").validate().unwrap().mail_nickname.len(), MAX_NICKNAME_CHARS);
    }

    #[test]
    fn nicknames_follow_entras_rules() {
        assert_eq!(parse_nickname("helpdesk-team").unwrap(), "helpdesk-team");
        for bad in [" a", "a b", "a@b", "a(b", "a;b", "a,b", "a<b", "ä", "", &"x".repeat(65)] {
            let err = parse_nickname(bad).unwrap_err();
            assert_eq!(err.field, "mail_nickname", "{bad}");
        }
        assert!(parse_nickname("a b").unwrap_err().message.contains("a space"));
    }

    #[test]
    fn every_invalid_field_is_named_at_once() {
        let bad = GroupInput {
            display_name: " ".into(),
            description: "a\u{202E}b".into(),
            mail_nickname: "no spaces".into(),
        };
        let fields: Vec<String> = bad.validate().unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["display_name", "description", "mail_nickname"]);
    }

    #[test]
    fn nesting_refuses_itself_and_cycles_at_any_depth() {
        let [a, b, c] = [GroupId::random(), GroupId::random(), GroupId::random()];
        assert!(nesting_refusal(a, a, &[a]).is_some());
        // c ⊂ b ⊂ a: a's ancestors are a itself; putting a under c would close the loop.
        assert!(nesting_refusal(c, a, &[c, b, a]).is_some());
        assert!(nesting_refusal(a, c, &[a]).is_none());
    }

    #[test]
    fn scopes_round_trip_and_an_unreadable_selection_selects_nobody() {
        let groups = Scope::Groups(vec![GroupId::random(), GroupId::random()]);
        let stored = (groups.code(), groups.groups_setting());
        assert_eq!(Scope::from_settings(Some(stored.0), Some(&stored.1), Scope::Everyone), groups);
        assert_eq!(Scope::from_settings(Some("selected"), Some("x,y"), Scope::Everyone), Scope::Nobody);
        assert_eq!(Scope::from_settings(Some("none"), None, Scope::Everyone), Scope::Nobody);
        assert_eq!(Scope::from_settings(None, None, Scope::Everyone), Scope::Everyone);
        assert_eq!(Scope::from_settings(Some("odd"), None, Scope::Nobody), Scope::Nobody);
    }

    #[test]
    fn filters_match_case_insensitively_except_external_ids() {
        let group = Group {
            id: GroupId::random(),
            display_name: "Finance Team".into(),
            description: None,
            mail_nickname: "Finance".into(),
            external_id: Some("Ext-1".into()),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            updated_by: String::new(),
            version: 1,
            deleted_at: None,
        };
        assert!(GroupFilter::DisplayNameIs("finance team".into()).matches(&group));
        assert!(GroupFilter::DisplayNameStarts("FIN".into()).matches(&group));
        assert!(GroupFilter::NicknameIs("FINANCE".into()).matches(&group));
        assert!(GroupFilter::ExternalIdIs("Ext-1".into()).matches(&group));
        assert!(!GroupFilter::ExternalIdIs("ext-1".into()).matches(&group));
    }
}
