//! Entra's built-in administrator roles that Roster knows, and sets of them.

use std::fmt;

/// An administrator role, named as in Microsoft Entra ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Can do everything, including assigning roles.
    GlobalAdministrator,
    /// Can change any user's authentication methods and sensitive attributes.
    PrivilegedAuthenticationAdministrator,
    /// Can change authentication methods of non-administrators and some roles.
    AuthenticationAdministrator,
    /// Creates and manages users; sensitive attributes only below the privileged roles.
    UserAdministrator,
    /// Resets passwords and recovery contacts of non-administrators.
    HelpdeskAdministrator,
    /// Creates and manages groups and their members and owners; nothing about users themselves.
    GroupsAdministrator,
}

impl Role {
    /// Every role, most privileged first.
    pub const ALL: [Role; 6] = [
        Role::GlobalAdministrator,
        Role::PrivilegedAuthenticationAdministrator,
        Role::AuthenticationAdministrator,
        Role::UserAdministrator,
        Role::HelpdeskAdministrator,
        Role::GroupsAdministrator,
    ];

    /// The name people see, e.g. "Global Administrator".
    pub fn display_name(self) -> &'static str {
        match self {
            Role::GlobalAdministrator => "Global Administrator",
            Role::PrivilegedAuthenticationAdministrator => "Privileged Authentication Administrator",
            Role::AuthenticationAdministrator => "Authentication Administrator",
            Role::UserAdministrator => "User Administrator",
            Role::HelpdeskAdministrator => "Helpdesk Administrator",
            Role::GroupsAdministrator => "Groups Administrator",
        }
    }

    /// The short name used on the command line and in forms, e.g. `global-admin`.
    pub fn slug(self) -> &'static str {
        match self {
            Role::GlobalAdministrator => "global-admin",
            Role::PrivilegedAuthenticationAdministrator => "privileged-authentication-admin",
            Role::AuthenticationAdministrator => "authentication-admin",
            Role::UserAdministrator => "user-admin",
            Role::HelpdeskAdministrator => "helpdesk-admin",
            Role::GroupsAdministrator => "groups-admin",
        }
    }

    /// Parses a slug as produced by [`Role::slug`].
    pub fn from_slug(slug: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.slug() == slug)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// A set of roles, stored as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoleSet(u32);

impl RoleSet {
    /// No roles: an ordinary user.
    pub const NONE: RoleSet = RoleSet(0);

    /// The set holding exactly these roles.
    pub fn of(roles: &[Role]) -> Self {
        RoleSet(roles.iter().fold(0, |acc, r| acc | r.bit()))
    }

    /// Rebuilds a set from its stored bits, dropping bits of unknown roles.
    pub fn from_bits(bits: i64) -> Self {
        let known = Role::ALL.iter().fold(0, |acc, r| acc | r.bit());
        RoleSet((bits as u32) & known)
    }

    /// The stored form.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// Whether the set holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the set holds any administrator role.
    pub fn is_admin(self) -> bool {
        self.0 != 0
    }

    /// Whether every role in `self` is also in `other`.
    pub fn is_subset_of(self, other: RoleSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The roles in the set, most privileged first.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The roles' display names joined with commas, or an empty string.
    pub fn display(self) -> String {
        self.iter().map(Role::display_name).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_slug(role.slug()), Some(role));
        }
        assert_eq!(Role::from_slug("root"), None);
    }

    #[test]
    fn sets_store_and_restore_their_bits() {
        let set = RoleSet::of(&[Role::UserAdministrator, Role::HelpdeskAdministrator]);
        assert_eq!(RoleSet::from_bits(set.bits()), set);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![Role::UserAdministrator, Role::HelpdeskAdministrator]);
        assert!(RoleSet::of(&[Role::HelpdeskAdministrator]).is_subset_of(set));
        assert!(!RoleSet::of(&[Role::GlobalAdministrator]).is_subset_of(set));
        assert_eq!(RoleSet::from_bits(1 << 20), RoleSet::NONE);
    }
}
