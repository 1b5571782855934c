//! Policies scoped to groups: for whom self-service password reset is enabled, whose second
//! step at sign-in the chosen groups require, who may sign in with a Temporary Access Pass,
//! and who may change the members of a group that a policy names.

use super::{Actor, Directory};
use crate::audit::{AuditAction, FieldChange};
use crate::error::{DomainError, FieldError};
use crate::group::{Group, GroupFilter, GroupId, GroupQuery, MemberId, Scope, MAX_POLICY_GROUPS};
use crate::mfa::{MfaPolicy, SETTING_MFA_GROUPS};
use crate::permission::Permission;
use crate::recovery::policy::{SETTING_RESET_GROUPS, SETTING_RESET_SCOPE};
use crate::role::RoleSet;
use crate::user::User;

impl Directory {
    /// For whom self-service password reset is enabled (everyone unless chosen otherwise).
    pub async fn reset_scope(&self) -> Result<Scope, DomainError> {
        let code = self.setting(SETTING_RESET_SCOPE).await?;
        let groups = self.setting(SETTING_RESET_GROUPS).await?;
        Ok(Scope::from_settings(code.as_deref(), groups.as_deref(), Scope::Everyone))
    }

    /// Enables self-service reset for nobody, the members of chosen groups, or everyone
    /// (Global Administrators only).
    pub async fn set_reset_scope(&self, actor: &Actor, scope: Scope) -> Result<(), DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        let before = self.reset_scope().await?;
        if let Scope::Groups(groups) = &scope {
            self.check_policy_groups("reset_groups", groups).await.map_err(|e| DomainError::Invalid(vec![e]))?;
        }
        if before == scope {
            return Ok(());
        }
        let changes = vec![
            setting_change(SETTING_RESET_SCOPE, before.code().to_string(), scope.code().to_string()),
            setting_change(
                SETTING_RESET_GROUPS,
                self.describe_groups(before.groups()).await?,
                self.describe_groups(scope.groups()).await?,
            ),
        ];
        let audit = actor.audit(AuditAction::SettingsChanged, None, changes);
        let values = [(SETTING_RESET_SCOPE, scope.code().to_string()), (SETTING_RESET_GROUPS, scope.groups_setting())];
        self.put_settings(&values, &audit).await
    }

    /// The groups whose members must use a second step under [`MfaPolicy::Groups`].
    pub async fn mfa_groups(&self) -> Result<Vec<GroupId>, DomainError> {
        let stored = self.setting(SETTING_MFA_GROUPS).await?;
        Ok(Scope::from_settings(Some("selected"), stored.as_deref(), Scope::Nobody).groups().to_vec())
    }

    /// Names the groups whose members must use a second step, and makes that the policy
    /// (Global Administrators only).
    pub async fn set_mfa_groups(&self, actor: &Actor, groups: Vec<GroupId>) -> Result<(), DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        self.check_policy_groups("mfa_groups", &groups).await.map_err(|e| DomainError::Invalid(vec![e]))?;
        let before = self.mfa_groups().await?;
        let scope = Scope::Groups(groups);
        if before != scope.groups() {
            let change = setting_change(
                SETTING_MFA_GROUPS,
                self.describe_groups(&before).await?,
                self.describe_groups(scope.groups()).await?,
            );
            let audit = actor.audit(AuditAction::SettingsChanged, None, vec![change]);
            self.put_settings(&[(SETTING_MFA_GROUPS, scope.groups_setting())], &audit).await?;
        }
        self.set_mfa_policy(actor, MfaPolicy::Groups).await
    }

    /// Whether `user` may reset their own password under the reset scope: one indexed query
    /// when groups are chosen, whatever their nesting.
    pub(crate) async fn in_reset_scope(&self, user: &User) -> Result<bool, DomainError> {
        self.in_scope(user, &self.reset_scope().await?).await
    }

    /// Whether `user` is in a policy's `scope`: one indexed query when groups are chosen,
    /// whatever their nesting.
    pub(crate) async fn in_scope(&self, user: &User, scope: &Scope) -> Result<bool, DomainError> {
        Ok(match scope {
            Scope::Everyone => true,
            Scope::Nobody => false,
            Scope::Groups(groups) => self.store.in_any_group(user.id, groups).await?,
        })
    }

    /// The groups some policy names now: the reset scope's and, under [`MfaPolicy::Groups`],
    /// the second step's.
    pub async fn policy_groups(&self) -> Result<Vec<GroupId>, DomainError> {
        let mut groups = self.reset_scope().await?.groups().to_vec();
        if self.mfa_policy().await? == MfaPolicy::Groups {
            groups.extend(self.mfa_groups().await?);
        }
        groups.extend(self.access_pass_policy().await?.scope.groups());
        let passkeys = self.passkey_policy().await?;
        groups.extend(passkeys.allowed.groups());
        groups.extend(passkeys.required.groups());
        Ok(groups)
    }

    /// Refuses a change to who is in `group` (its members, or the group itself) unless
    /// `actor` may change the policies' reach: a change there decides who can reset a
    /// password with their contacts and who must pass a second step, so it takes a role that
    /// may change anyone's authentication methods already (see [`Permission::ManagePolicyGroupMembers`]).
    pub(crate) async fn require_policy_rights(&self, actor: &Actor, group: GroupId) -> Result<(), DomainError> {
        let targets = self.policy_groups().await?;
        if targets.is_empty() {
            return Ok(());
        }
        let mut reached = self.store.groups_of(MemberId::Group(group), true, None, u32::MAX).await?;
        reached.push(group);
        if !reached.iter().any(|g| targets.contains(g)) {
            return Ok(());
        }
        actor.require(Permission::ManagePolicyGroupMembers, RoleSet::NONE)
    }

    /// Stores a policy's settings `new` in place of `old` (the same keys, in the same order)
    /// with one audit record naming each that changed; the settings in `group_keys` hold group
    /// ids and are recorded by the groups' names. Nothing is written when nothing changed.
    pub(super) async fn save_policy_settings(
        &self,
        actor: &Actor,
        old: Vec<(&'static str, String)>,
        new: Vec<(&'static str, String)>,
        group_keys: &[&str],
    ) -> Result<(), DomainError> {
        let ids = |value: &str| Scope::from_settings(Some("selected"), Some(value), Scope::Nobody).groups().to_vec();
        let mut changes = Vec::new();
        for ((key, was), (_, now)) in old.iter().zip(&new) {
            if was == now {
                continue;
            }
            changes.push(match group_keys.contains(key) {
                true => {
                    setting_change(key, self.describe_groups(&ids(was)).await?, self.describe_groups(&ids(now)).await?)
                }
                false => setting_change(key, was.clone(), now.clone()),
            });
        }
        if changes.is_empty() {
            return Ok(());
        }
        let audit = actor.audit(AuditAction::SettingsChanged, None, changes);
        self.put_settings(&new, &audit).await
    }

    /// The active groups a settings form names, one per line, by id or by a name only one
    /// group has; the field's error names every line that does not resolve.
    pub async fn groups_named(&self, actor: &Actor, field: &str, text: &str) -> Result<Vec<GroupId>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let mut found = Vec::new();
        let mut problems = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let candidates = match line.parse::<GroupId>() {
                Ok(id) => self.store.get_groups(&[id]).await?.into_iter().filter(|g| g.deleted_at.is_none()).collect(),
                Err(_) => {
                    let filter = Some(GroupFilter::DisplayNameIs(line.to_string()));
                    self.store.list_groups(&GroupQuery { filter, limit: 2, ..GroupQuery::default() }).await?
                }
            };
            match candidates.as_slice() {
                [group] if !found.contains(&group.id) => found.push(group.id),
                [_] => {}
                [] => problems.push(format!("no active group is named “{line}”")),
                _ => problems.push(format!("several groups are named “{line}”: enter its id")),
            }
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(vec![FieldError::new(
                field,
                format!("Check the groups: {}.", problems.join("; ")),
            )]));
        }
        Ok(found)
    }

    /// Refuses an empty or too long list, and any group that is not active.
    pub(super) async fn check_policy_groups(&self, field: &str, groups: &[GroupId]) -> Result<(), FieldError> {
        if groups.is_empty() {
            return Err(FieldError::new(field, "Choose at least one group."));
        }
        if groups.len() > MAX_POLICY_GROUPS {
            return Err(FieldError::new(field, format!("Choose at most {MAX_POLICY_GROUPS} groups.")));
        }
        let active: Vec<GroupId> = self
            .store
            .get_groups(groups)
            .await
            .map_err(|e| FieldError::new(field, e.to_string()))?
            .into_iter()
            .filter(|g| g.deleted_at.is_none())
            .map(|g| g.id)
            .collect();
        match groups.iter().find(|g| !active.contains(g)) {
            Some(missing) => Err(FieldError::new(field, format!("There is no active group with id {missing}."))),
            None => Ok(()),
        }
    }

    /// Groups by name for an audit record, or `None` for none.
    pub(super) async fn describe_groups(&self, ids: &[GroupId]) -> Result<Option<String>, DomainError> {
        if ids.is_empty() {
            return Ok(None);
        }
        let groups = self.store.get_groups(ids).await?;
        Ok(Some(groups.iter().map(Group::label).collect::<Vec<_>>().join(", ")))
    }

    /// The groups a policy names, for the settings page.
    pub async fn named_groups(&self, actor: &Actor, ids: &[GroupId]) -> Result<Vec<Group>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let mut groups = self.store.get_groups(ids).await?;
        groups.sort_by_key(|g| ids.iter().position(|id| *id == g.id));
        Ok(groups)
    }
}

pub(super) fn setting_change(
    field: &str,
    before: impl Into<Option<String>>,
    after: impl Into<Option<String>>,
) -> FieldChange {
    FieldChange { field: field.into(), sensitive: true, before: before.into(), after: after.into() }
}
