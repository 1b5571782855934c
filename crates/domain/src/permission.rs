//! Who may do what to whom.
//!
//! Recovery contacts (phones and alternate emails), sign-in state and deletion are "sensitive":
//! whoever can change them can take the account over. Who may change them follows Microsoft
//! Entra's "Who can perform sensitive actions" table, with one deliberate difference: Entra lets a
//! Helpdesk Administrator reset another Helpdesk Administrator, Roster does not let a Helpdesk
//! Administrator touch any administrator's recovery contacts.

use crate::apps::{AppPermission, AppPermissions};
use crate::role::{Role, RoleSet};

/// Something an administrator may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Open the admin center and read the directory and the audit log.
    ViewAdminCenter,
    /// Add users.
    CreateUser,
    /// Change a user's non-sensitive profile (names, job, address, fax).
    EditProfile,
    /// Change a user's recovery contacts: office, mobile and alternate mobile phones, alternate emails.
    EditRecoveryContacts,
    /// Block or allow sign-in, delete and restore.
    ManageAccountState,
    /// Reset the password, end every session, and send verification codes to the contacts.
    ResetPassword,
    /// Assign or remove administrator roles.
    AssignRoles,
    /// Change organisation settings.
    ManageSettings,
    /// Register applications and manage their secrets and permissions.
    ManageApps,
    /// Create, rename, delete and restore groups, and manage any group's owners and members.
    ManageGroups,
    /// Add and remove members of any group (a group's owners may also do it to that group).
    ManageGroupMembers,
    /// Change who is in a group that a reset or sign-in policy names, at any depth: that
    /// decides who can reset a password with their contacts and who must pass a second step,
    /// so it takes a role that may change anyone's authentication methods anyway.
    ManagePolicyGroupMembers,
    /// Create or remove a Temporary Access Pass, or remove someone's passkey or authenticator
    /// app: Entra's rule for authentication methods, narrower than the contacts' table, since
    /// a pass signs its holder in as the user and a removed factor is a weaker account.
    ManageSignInMethods,
}

/// Why a permission check failed, in words for the person who tried.
pub type Refusal = String;

/// Whether `actor` may do `permission` to a user holding `target` roles.
///
/// `target` is ignored for permissions that are not about one user.
pub fn check(actor: RoleSet, permission: Permission, target: RoleSet) -> Result<(), Refusal> {
    let allowed = match permission {
        Permission::ViewAdminCenter => actor.is_admin(),
        Permission::CreateUser | Permission::EditProfile => {
            actor.contains(Role::GlobalAdministrator) || actor.contains(Role::UserAdministrator)
        }
        Permission::EditRecoveryContacts | Permission::ResetPassword => {
            actor.iter().any(|r| may_change_sensitive(r, target, true))
        }
        Permission::ManageAccountState => actor.iter().any(|r| may_change_sensitive(r, target, false)),
        Permission::AssignRoles | Permission::ManageSettings | Permission::ManageApps => {
            actor.contains(Role::GlobalAdministrator)
        }
        Permission::ManageGroups | Permission::ManageGroupMembers => {
            [Role::GlobalAdministrator, Role::UserAdministrator, Role::GroupsAdministrator]
                .into_iter()
                .any(|r| actor.contains(r))
        }
        Permission::ManagePolicyGroupMembers => {
            actor.contains(Role::GlobalAdministrator) || actor.contains(Role::PrivilegedAuthenticationAdministrator)
        }
        Permission::ManageSignInMethods => {
            actor.contains(Role::GlobalAdministrator)
                || actor.contains(Role::PrivilegedAuthenticationAdministrator)
                || (actor.contains(Role::AuthenticationAdministrator) && !target.is_admin())
        }
    };
    if allowed {
        return Ok(());
    }
    Err(match permission {
        Permission::ViewAdminCenter => "You need an administrator role to use the admin center.".into(),
        Permission::CreateUser => "Only Global and User Administrators can add users.".into(),
        Permission::EditProfile => {
            "Only Global and User Administrators can change profile details such as names, job and address.".into()
        }
        Permission::EditRecoveryContacts => format!(
            "Your role can't change the phone numbers or alternate email addresses of {}. \
             They can be used to reset the password, so only a more privileged administrator may change them.",
            describe(target)
        ),
        Permission::ManageAccountState => format!("Your role can't block, delete or restore {}.", describe(target)),
        Permission::ResetPassword => format!(
            "Your role can't reset the password or end the sessions of {}; ask a more privileged administrator.",
            describe(target)
        ),
        Permission::AssignRoles => "Only Global Administrators can assign administrator roles.".into(),
        Permission::ManageSettings => "Only Global Administrators can change the organisation's settings.".into(),
        Permission::ManageApps => "Only Global Administrators can register applications.".into(),
        Permission::ManageGroups => {
            "Only Global, User and Groups Administrators can add, change or delete groups.".into()
        }
        Permission::ManageGroupMembers => {
            "Only Global, User and Groups Administrators and the group's owners can change its members.".into()
        }
        Permission::ManagePolicyGroupMembers => "A self-service reset or sign-in policy names this group (or a group \
             it is in), so its members decide who can reset a password and who needs a second step. Only Global \
             Administrators and Privileged Authentication Administrators can change them or delete it."
            .into(),
        Permission::ManageSignInMethods if target.is_admin() => format!(
            "Only Global and Privileged Authentication Administrators can give {} a Temporary Access Pass or remove \
             their passkeys and authenticator app.",
            describe(target)
        ),
        Permission::ManageSignInMethods => "Only Global, Privileged Authentication and Authentication Administrators \
             can give a Temporary Access Pass or remove someone's passkeys and authenticator app."
            .into(),
    })
}

/// Whether an application holding `granted` may do `permission` to a user holding `target`
/// roles. As in Microsoft Graph, `User.ReadWrite.All` reaches the recovery contacts, password
/// and sign-in state of non-administrators only; administrators' recovery contacts and
/// password need `UserAuthenticationMethod.ReadWrite.All`, and no application may block,
/// delete or restore an administrator, assign roles or change settings.
pub fn check_app(granted: AppPermissions, permission: Permission, target: RoleSet) -> Result<(), Refusal> {
    let writes_users = granted.contains(AppPermission::UserReadWriteAll);
    let allowed = match permission {
        Permission::ViewAdminCenter => !granted.is_empty(),
        Permission::CreateUser | Permission::EditProfile => writes_users,
        Permission::EditRecoveryContacts | Permission::ResetPassword => {
            granted.contains(AppPermission::AuthMethodReadWriteAll) || (writes_users && !target.is_admin())
        }
        Permission::ManageAccountState => writes_users && !target.is_admin(),
        Permission::AssignRoles | Permission::ManageSettings | Permission::ManageApps => false,
        Permission::ManageGroups => granted.contains(AppPermission::GroupReadWriteAll),
        Permission::ManageGroupMembers => {
            granted.contains(AppPermission::GroupReadWriteAll)
                || granted.contains(AppPermission::GroupMemberReadWriteAll)
        }
        // An application that may change everyone's authentication methods gains nothing here.
        Permission::ManagePolicyGroupMembers => granted.contains(AppPermission::AuthMethodReadWriteAll),
        Permission::ManageSignInMethods => granted.contains(AppPermission::AuthMethodReadWriteAll),
    };
    if allowed {
        return Ok(());
    }
    let holds = if granted.is_empty() { "no permissions".to_string() } else { granted.display() };
    Err(match permission {
        Permission::EditRecoveryContacts | Permission::ResetPassword if writes_users => format!(
            "The application holds {holds}; changing the recovery contacts or password of {} \
             needs UserAuthenticationMethod.ReadWrite.All.",
            describe(target)
        ),
        Permission::ManageAccountState if writes_users => {
            format!("No application may block, delete or restore {}.", describe(target))
        }
        Permission::AssignRoles | Permission::ManageSettings | Permission::ManageApps => {
            "Applications can't assign roles, change settings or register applications.".into()
        }
        _ => format!("The application holds {holds}, which doesn't allow this."),
    })
}

fn describe(target: RoleSet) -> String {
    match target.iter().next() {
        None => "this user".into(),
        Some(role) => format!("a {}", role.display_name()),
    }
}

/// One actor role against the whole target: the target's every role must be within reach.
fn may_change_sensitive(actor: Role, target: RoleSet, helpdesk_included: bool) -> bool {
    let reachable = match actor {
        Role::GlobalAdministrator | Role::PrivilegedAuthenticationAdministrator => return true,
        Role::AuthenticationAdministrator => RoleSet::of(&[Role::AuthenticationAdministrator]),
        Role::UserAdministrator => {
            RoleSet::of(&[Role::UserAdministrator, Role::HelpdeskAdministrator, Role::GroupsAdministrator])
        }
        Role::HelpdeskAdministrator if helpdesk_included => RoleSet::NONE,
        Role::HelpdeskAdministrator | Role::GroupsAdministrator => return false,
    };
    target.is_subset_of(reachable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    /// Rows: the actor's role. Columns: the target's only role, or none. `true` = may change
    /// recovery contacts.
    const RECOVERY_TABLE: [(Role, [bool; 7]); 6] = [
        //                                     none  Global PrivAuth Auth  User  Helpdesk Groups
        (GlobalAdministrator, [true, true, true, true, true, true, true]),
        (PrivilegedAuthenticationAdministrator, [true, true, true, true, true, true, true]),
        (AuthenticationAdministrator, [true, false, false, true, false, false, false]),
        (UserAdministrator, [true, false, false, false, true, true, true]),
        (HelpdeskAdministrator, [true, false, false, false, false, false, false]),
        (GroupsAdministrator, [false, false, false, false, false, false, false]),
    ];

    fn targets() -> [RoleSet; 7] {
        [
            RoleSet::NONE,
            RoleSet::of(&[GlobalAdministrator]),
            RoleSet::of(&[PrivilegedAuthenticationAdministrator]),
            RoleSet::of(&[AuthenticationAdministrator]),
            RoleSet::of(&[UserAdministrator]),
            RoleSet::of(&[HelpdeskAdministrator]),
            RoleSet::of(&[GroupsAdministrator]),
        ]
    }

    #[test]
    fn recovery_contacts_follow_the_full_role_table() {
        for (actor, row) in RECOVERY_TABLE {
            for (target, expected) in targets().into_iter().zip(row) {
                let got = check(RoleSet::of(&[actor]), Permission::EditRecoveryContacts, target).is_ok();
                assert_eq!(got, expected, "{actor} changing contacts of {target:?}");
            }
        }
    }

    #[test]
    fn password_resets_follow_the_same_table() {
        for (actor, row) in RECOVERY_TABLE {
            for (target, expected) in targets().into_iter().zip(row) {
                let got = check(RoleSet::of(&[actor]), Permission::ResetPassword, target).is_ok();
                assert_eq!(got, expected, "{actor} resetting the password of {target:?}");
            }
        }
    }

    #[test]
    fn account_state_follows_the_table_without_helpdesk() {
        for (actor, row) in RECOVERY_TABLE {
            for (target, expected) in targets().into_iter().zip(row) {
                let expected = expected && actor != HelpdeskAdministrator;
                let got = check(RoleSet::of(&[actor]), Permission::ManageAccountState, target).is_ok();
                assert_eq!(got, expected, "{actor} blocking {target:?}");
            }
        }
    }

    #[test]
    fn ordinary_users_may_do_nothing_to_others() {
        for target in targets() {
            for permission in [
                Permission::ViewAdminCenter,
                Permission::CreateUser,
                Permission::EditProfile,
                Permission::EditRecoveryContacts,
                Permission::ManageAccountState,
                Permission::ResetPassword,
                Permission::AssignRoles,
                Permission::ManageSettings,
                Permission::ManageApps,
                Permission::ManageGroups,
                Permission::ManageGroupMembers,
                Permission::ManagePolicyGroupMembers,
                Permission::ManageSignInMethods,
            ] {
                assert!(check(RoleSet::NONE, permission, target).is_err(), "{permission:?}");
            }
        }
    }

    #[test]
    fn a_target_with_several_roles_needs_reach_over_all_of_them() {
        let target = RoleSet::of(&[HelpdeskAdministrator, AuthenticationAdministrator]);
        assert!(check(RoleSet::of(&[UserAdministrator]), Permission::EditRecoveryContacts, target).is_err());
        assert!(check(RoleSet::of(&[AuthenticationAdministrator]), Permission::EditRecoveryContacts, target).is_err());
        let both = RoleSet::of(&[UserAdministrator, AuthenticationAdministrator]);
        assert!(check(both, Permission::EditRecoveryContacts, RoleSet::of(&[AuthenticationAdministrator])).is_ok());
    }

    #[test]
    fn only_global_administrators_assign_roles_and_change_settings() {
        for role in Role::ALL {
            for permission in [Permission::AssignRoles, Permission::ManageSettings, Permission::ManageApps] {
                let ok = check(RoleSet::of(&[role]), permission, RoleSet::NONE).is_ok();
                assert_eq!(ok, role == GlobalAdministrator, "{role} {permission:?}");
            }
        }
    }

    #[test]
    fn profile_and_creation_belong_to_global_and_user_administrators() {
        for role in Role::ALL {
            let expected = matches!(role, GlobalAdministrator | UserAdministrator);
            for permission in [Permission::CreateUser, Permission::EditProfile] {
                assert_eq!(check(RoleSet::of(&[role]), permission, RoleSet::NONE).is_ok(), expected);
            }
            assert!(check(RoleSet::of(&[role]), Permission::ViewAdminCenter, RoleSet::NONE).is_ok());
        }
    }

    #[test]
    fn groups_belong_to_global_user_and_groups_administrators() {
        for role in Role::ALL {
            let expected = matches!(role, GlobalAdministrator | UserAdministrator | GroupsAdministrator);
            for permission in [Permission::ManageGroups, Permission::ManageGroupMembers] {
                assert_eq!(check(RoleSet::of(&[role]), permission, RoleSet::NONE).is_ok(), expected, "{role}");
            }
        }
        let why = check(RoleSet::of(&[HelpdeskAdministrator]), Permission::ManageGroupMembers, RoleSet::NONE);
        assert!(why.unwrap_err().contains("owners"));
    }

    #[test]
    fn only_those_who_reach_everyones_methods_change_the_groups_policies_name() {
        for role in Role::ALL {
            let expected = matches!(role, GlobalAdministrator | PrivilegedAuthenticationAdministrator);
            let got = check(RoleSet::of(&[role]), Permission::ManagePolicyGroupMembers, RoleSet::NONE).is_ok();
            assert_eq!(got, expected, "{role}");
        }
        let members = AppPermissions::of(&[AppPermission::GroupMemberReadWriteAll]);
        assert!(check_app(members, Permission::ManagePolicyGroupMembers, RoleSet::NONE).is_err());
        let both = AppPermissions::of(&[AppPermission::GroupMemberReadWriteAll, AppPermission::AuthMethodReadWriteAll]);
        assert!(check_app(both, Permission::ManagePolicyGroupMembers, RoleSet::NONE).is_ok());
    }

    /// Entra's rule for Temporary Access Passes. `true` = may create or remove one.
    const ACCESS_PASS_TABLE: [(Role, [bool; 7]); 6] = [
        //                                     none  Global PrivAuth Auth  User  Helpdesk Groups
        (GlobalAdministrator, [true, true, true, true, true, true, true]),
        (PrivilegedAuthenticationAdministrator, [true, true, true, true, true, true, true]),
        (AuthenticationAdministrator, [true, false, false, false, false, false, false]),
        (UserAdministrator, [false, false, false, false, false, false, false]),
        (HelpdeskAdministrator, [false, false, false, false, false, false, false]),
        (GroupsAdministrator, [false, false, false, false, false, false, false]),
    ];

    #[test]
    fn access_passes_follow_entras_table() {
        for (actor, row) in ACCESS_PASS_TABLE {
            for (target, expected) in targets().into_iter().zip(row) {
                let got = check(RoleSet::of(&[actor]), Permission::ManageSignInMethods, target);
                assert_eq!(got.is_ok(), expected, "{actor} giving {target:?} a pass");
            }
        }
        let why = check(RoleSet::of(&[AuthenticationAdministrator]), Permission::ManageSignInMethods, targets()[4])
            .unwrap_err();
        assert!(why.contains("a User Administrator"), "{why}");
        let user_rw = AppPermissions::of(&[AppPermission::UserReadWriteAll]);
        let methods_rw = AppPermissions::of(&[AppPermission::AuthMethodReadWriteAll]);
        assert!(check_app(user_rw, Permission::ManageSignInMethods, RoleSet::NONE).is_err());
        assert!(check_app(methods_rw, Permission::ManageSignInMethods, targets()[1]).is_ok());
    }

    #[test]
    fn a_groups_administrator_touches_no_user() {
        let groups = RoleSet::of(&[GroupsAdministrator]);
        for permission in [
            Permission::CreateUser,
            Permission::EditProfile,
            Permission::EditRecoveryContacts,
            Permission::ManageAccountState,
            Permission::ResetPassword,
            Permission::AssignRoles,
        ] {
            assert!(check(groups, permission, RoleSet::NONE).is_err(), "{permission:?}");
        }
    }

    #[test]
    fn applications_change_groups_with_group_permissions_only() {
        let read = AppPermissions::of(&[AppPermission::GroupReadAll, AppPermission::UserReadWriteAll]);
        let members = AppPermissions::of(&[AppPermission::GroupMemberReadWriteAll]);
        let groups = AppPermissions::of(&[AppPermission::GroupReadWriteAll]);
        assert!(check_app(read, Permission::ManageGroups, RoleSet::NONE).is_err());
        assert!(check_app(read, Permission::ManageGroupMembers, RoleSet::NONE).is_err());
        assert!(check_app(members, Permission::ManageGroups, RoleSet::NONE).is_err());
        assert!(check_app(members, Permission::ManageGroupMembers, RoleSet::NONE).is_ok());
        assert!(check_app(groups, Permission::ManageGroups, RoleSet::NONE).is_ok());
        assert!(check_app(groups, Permission::ManageGroupMembers, RoleSet::NONE).is_ok());
    }

    #[test]
    fn applications_reach_administrators_only_through_authentication_method_permissions() {
        let user_rw = AppPermissions::of(&[AppPermission::UserReadWriteAll]);
        let methods_rw = AppPermissions::of(&[AppPermission::AuthMethodReadWriteAll]);
        let read = AppPermissions::of(&[AppPermission::UserReadAll]);
        let admin = RoleSet::of(&[HelpdeskAdministrator]);
        for permission in [Permission::EditRecoveryContacts, Permission::ResetPassword] {
            assert!(check_app(user_rw, permission, RoleSet::NONE).is_ok());
            let why = check_app(user_rw, permission, admin).unwrap_err();
            assert!(why.contains("UserAuthenticationMethod.ReadWrite.All"), "{why}");
            assert!(check_app(methods_rw, permission, admin).is_ok());
            assert!(check_app(read, permission, RoleSet::NONE).is_err());
        }
        assert!(check_app(user_rw, Permission::ManageAccountState, RoleSet::NONE).is_ok());
        assert!(check_app(user_rw, Permission::ManageAccountState, admin).is_err());
        assert!(check_app(methods_rw, Permission::EditProfile, RoleSet::NONE).is_err());
        assert!(check_app(read, Permission::ViewAdminCenter, RoleSet::NONE).is_ok());
        let all = AppPermissions::of(&AppPermission::ALL);
        for permission in [Permission::AssignRoles, Permission::ManageSettings, Permission::ManageApps] {
            assert!(check_app(all, permission, RoleSet::NONE).is_err());
        }
    }

    #[test]
    fn refusals_say_why_in_plain_words() {
        let why = check(
            RoleSet::of(&[HelpdeskAdministrator]),
            Permission::EditRecoveryContacts,
            RoleSet::of(&[GlobalAdministrator]),
        )
        .unwrap_err();
        assert!(why.contains("a Global Administrator"), "{why}");
    }
}
