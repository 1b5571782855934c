//! Groups: adding, changing, deleting and restoring them, and their members and owners.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Actor, Directory, DELETED_RETENTION_DAYS};
use crate::audit::{AuditAction, AuditEntry, FieldChange};
use crate::clock::Timestamp;
use crate::error::{DomainError, FieldError, StoreError};
use crate::group::{
    parse_external_id, Group, GroupCursor, GroupFilter, GroupId, GroupInput, GroupOrder, GroupQuery, Member, MemberId,
    MemberPage, MemberRef,
};
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::store::{MemberChange, MemberChanged};
use crate::user::{User, UserId};

/// The most groups or members one list request returns.
pub const MAX_GROUP_PAGE: u32 = 999;
/// The most members one request may add or remove, as SCIM clients send them in batches.
pub const MAX_MEMBERS_PER_CHANGE: usize = 1000;

/// A change to a group's own fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupEdit {
    pub display_name: Option<String>,
    /// `Some("")` clears the description.
    pub description: Option<String>,
    pub mail_nickname: Option<String>,
    /// `Some("")` clears the external id.
    pub external_id: Option<String>,
    /// The version the caller last read; a newer stored one refuses the change.
    pub expected_version: Option<i64>,
}

/// A new group: its fields, external id, first owners and members.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub input: GroupInput,
    pub external_id: String,
    pub owners: Vec<UserId>,
    pub members: Vec<MemberId>,
}

impl Actor {
    /// An audit record of a change to `group`, about `target` when it concerns one user.
    fn group_audit(
        &self,
        action: AuditAction,
        group: &Group,
        target: Option<&User>,
        changes: Vec<FieldChange>,
    ) -> AuditEntry {
        let mut entry = self.audit(action, target, changes);
        entry.group_id = Some(group.id);
        if target.is_none() {
            entry.target_name = group.label();
        }
        entry
    }
}

fn change(field: &str, before: Option<String>, after: Option<String>) -> FieldChange {
    FieldChange { field: field.into(), sensitive: false, before, after }
}

pub(super) fn store_error(e: StoreError) -> DomainError {
    match e {
        StoreError::VersionConflict { changed_by, changed_at } => {
            DomainError::VersionConflict { changed_by, changed_at }
        }
        StoreError::NotFound => DomainError::NotFound("group"),
        StoreError::Cycle => DomainError::Invalid(vec![FieldError::new(
            "members",
            "A group in the request already contains this group (directly or through other groups), so adding it \
             would make a cycle.",
        )]),
        other => other.into(),
    }
}

/// One page of a group list with the cursors of the neighbouring pages.
#[derive(Debug, Clone, Default)]
pub struct GroupPage {
    pub groups: Vec<Group>,
    pub next: Option<GroupCursor>,
    pub previous: Option<GroupCursor>,
}

/// Which page of groups the admin center shows: active or deleted, names starting with
/// `search`, by name in either direction, after or before a cursor.
#[derive(Debug, Clone, Default)]
pub struct GroupPageQuery {
    pub deleted: bool,
    pub search: Option<String>,
    pub descending: bool,
    pub after: Option<GroupCursor>,
    pub before: Option<GroupCursor>,
    pub limit: u32,
}

impl Directory {
    /// A page of the admin center's group list, by name.
    pub async fn group_page(&self, actor: &Actor, page: GroupPageQuery) -> Result<GroupPage, DomainError> {
        let limit = page.limit.clamp(1, MAX_GROUP_PAGE);
        let filter =
            page.search.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).map(GroupFilter::DisplayNameStarts);
        let backwards = page.before.is_some();
        let query = GroupQuery {
            deleted: page.deleted,
            filter,
            order: GroupOrder::DisplayName,
            descending: page.descending != backwards,
            after: page.before.clone().or(page.after.clone()),
            offset: 0,
            limit: limit + 1,
        };
        let mut groups = self.list_groups(actor, &query).await?;
        let more = groups.len() > limit as usize;
        groups.truncate(limit as usize);
        let cursor = |g: &Group| GroupCursor::of(g, GroupOrder::DisplayName);
        if backwards {
            groups.reverse();
            let previous = if more { groups.first().map(cursor) } else { None };
            return Ok(GroupPage { next: groups.last().map(cursor), previous, groups });
        }
        let next = if more { groups.last().map(cursor) } else { None };
        let previous = page.after.as_ref().and(groups.first().map(cursor));
        Ok(GroupPage { groups, next, previous })
    }

    /// One page of groups.
    pub async fn list_groups(&self, actor: &Actor, query: &GroupQuery) -> Result<Vec<Group>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let query = GroupQuery { limit: query.limit.clamp(1, MAX_GROUP_PAGE + 1), ..query.clone() };
        Ok(self.store.list_groups(&query).await?)
    }

    /// How many active groups match `filter`.
    pub async fn count_groups(&self, actor: &Actor, filter: Option<&GroupFilter>) -> Result<u64, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        Ok(self.store.count_groups(filter).await?)
    }

    /// One group, deleted or not.
    pub async fn group(&self, actor: &Actor, id: GroupId) -> Result<Group, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        self.store.get_group(id).await?.ok_or(DomainError::NotFound("group"))
    }

    /// One active group.
    pub async fn active_group(&self, actor: &Actor, id: GroupId) -> Result<Group, DomainError> {
        let group = self.group(actor, id).await?;
        if group.deleted_at.is_some() {
            return Err(DomainError::NotFound("group"));
        }
        Ok(group)
    }

    /// Adds a group with its owners and members, each audited.
    pub async fn create_group(&self, actor: &Actor, new: NewGroup) -> Result<Group, DomainError> {
        actor.require(Permission::ManageGroups, RoleSet::NONE)?;
        let mut errors = Vec::new();
        let fields = new.input.validate().map_err(|e| errors.extend(e)).ok();
        let external_id = parse_external_id(&new.external_id).map_err(|e| errors.push(e)).ok().flatten();
        let owners = self.active_users(&new.owners, "owners").await.map_err(|e| errors.push(e)).ok();
        check_batch(new.members.len()).map_err(|e| errors.push(e)).ok();
        let (Some(fields), Some(owners)) = (fields, owners) else {
            return Err(DomainError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let members = self.resolve_members(&new.members).await?;
        let now = Timestamp::now();
        let group = Group {
            id: GroupId::random(),
            display_name: fields.display_name,
            description: fields.description,
            mail_nickname: fields.mail_nickname,
            external_id,
            created_at: now,
            updated_at: now,
            updated_by: actor.display_name.clone(),
            version: 1,
            deleted_at: None,
        };
        let mut changes = vec![
            change("display_name", None, Some(group.display_name.clone())),
            change("mail_nickname", None, Some(group.mail_nickname.clone())),
        ];
        changes.extend(group.description.clone().map(|d| change("description", None, Some(d))));
        changes.extend(group.external_id.clone().map(|d| change("external_id", None, Some(d))));
        if !owners.is_empty() {
            changes.push(change("owners", None, Some(usernames(&owners))));
        }
        let owner_ids: Vec<UserId> = owners.iter().map(|u| u.id).collect();
        let audit = actor.group_audit(AuditAction::GroupCreated, &group, None, changes);
        self.store.insert_group(&group, &owner_ids, &audit).await?;
        if !members.is_empty() {
            let change = MemberChange { add: self.member_audits(actor, &group, &members, true), ..Default::default() };
            self.store.change_members(group.id, &change).await.map_err(store_error)?;
        }
        Ok(self.store.get_group(group.id).await?.unwrap_or(group))
    }

    /// Changes a group's name, description, nickname or external id.
    pub async fn update_group(&self, actor: &Actor, id: GroupId, edit: GroupEdit) -> Result<Group, DomainError> {
        actor.require(Permission::ManageGroups, RoleSet::NONE)?;
        let before = self.active_group(actor, id).await?;
        if let Some(expected) = edit.expected_version {
            if before.version != expected {
                return Err(DomainError::VersionConflict {
                    changed_by: before.updated_by,
                    changed_at: before.updated_at,
                });
            }
        }
        let input = GroupInput {
            display_name: edit.display_name.unwrap_or_else(|| before.display_name.clone()),
            description: edit.description.unwrap_or_else(|| before.description.clone().unwrap_or_default()),
            mail_nickname: edit.mail_nickname.unwrap_or_else(|| before.mail_nickname.clone()),
        };
        let mut errors = Vec::new();
        let fields = input.validate().map_err(|e| errors.extend(e)).ok();
        let external_id = match edit.external_id {
            None => Some(before.external_id.clone()),
            Some(raw) => parse_external_id(&raw).map_err(|e| errors.push(e)).ok(),
        };
        let (Some(fields), Some(external_id)) = (fields, external_id) else {
            return Err(DomainError::Invalid(errors));
        };
        let after = Group {
            display_name: fields.display_name,
            description: fields.description,
            mail_nickname: fields.mail_nickname,
            external_id,
            version: before.version + 1,
            updated_at: Timestamp::now(),
            updated_by: actor.display_name.clone(),
            ..before.clone()
        };
        let mut changes = Vec::new();
        let mut compare = |field: &str, b: Option<String>, a: Option<String>| {
            if b != a {
                changes.push(change(field, b, a));
            }
        };
        compare("display_name", Some(before.display_name.clone()), Some(after.display_name.clone()));
        compare("description", before.description.clone(), after.description.clone());
        compare("mail_nickname", Some(before.mail_nickname.clone()), Some(after.mail_nickname.clone()));
        compare("external_id", before.external_id.clone(), after.external_id.clone());
        if changes.is_empty() {
            return Ok(before);
        }
        let audit = actor.group_audit(AuditAction::GroupChanged, &after, None, changes);
        self.store.save_group(&before, &after, &[audit]).await.map_err(store_error)?;
        Ok(after)
    }

    /// Moves a group to Deleted groups (restorable for [`DELETED_RETENTION_DAYS`]): its users
    /// and owners stay with it, its nesting in and of other groups is removed.
    pub async fn delete_group(&self, actor: &Actor, id: GroupId) -> Result<Group, DomainError> {
        actor.require(Permission::ManageGroups, RoleSet::NONE)?;
        let before = self.group(actor, id).await?;
        if before.deleted_at.is_some() {
            return Ok(before);
        }
        self.require_policy_rights(actor, id).await?;
        let now = Timestamp::now();
        let after = Group {
            deleted_at: Some(now),
            version: before.version + 1,
            updated_at: now,
            updated_by: actor.display_name.clone(),
            ..before.clone()
        };
        let mut audits = vec![actor.group_audit(
            AuditAction::GroupDeleted,
            &after,
            None,
            vec![change("deleted", None, Some(now.rfc3339()))],
        )];
        // The nesting that goes with it, each side audited in the group that loses it.
        let parents = self.store.groups_of(MemberId::Group(id), false, None, u32::MAX).await?;
        for parent in self.store.get_groups(&parents).await? {
            audits.push(actor.group_audit(
                AuditAction::MemberRemoved,
                &parent,
                None,
                vec![change("member", Some(before.label()), None)],
            ));
        }
        self.store.save_group(&before, &after, &audits).await.map_err(store_error)?;
        Ok(after)
    }

    /// Brings a deleted group back with its users and owners.
    pub async fn restore_group(&self, actor: &Actor, id: GroupId) -> Result<Group, DomainError> {
        actor.require(Permission::ManageGroups, RoleSet::NONE)?;
        let before = self.group(actor, id).await?;
        let Some(deleted_at) = before.deleted_at else {
            return Ok(before);
        };
        let after = Group {
            deleted_at: None,
            version: before.version + 1,
            updated_at: Timestamp::now(),
            updated_by: actor.display_name.clone(),
            ..before.clone()
        };
        let audit = actor.group_audit(
            AuditAction::GroupRestored,
            &after,
            None,
            vec![change("deleted", Some(deleted_at.rfc3339()), None)],
        );
        self.store.save_group(&before, &after, &[audit]).await.map_err(store_error)?;
        Ok(after)
    }

    /// Permanently removes groups deleted more than [`DELETED_RETENTION_DAYS`] ago.
    pub async fn purge_expired_groups(&self) -> Result<u64, DomainError> {
        let cutoff = Timestamp::now().plus_seconds(-DELETED_RETENTION_DAYS * 24 * 60 * 60);
        Ok(self.store.purge_deleted_groups(cutoff, "Roster retention").await?)
    }

    /// One page of a group's members, after the member with id `after`.
    pub async fn members(
        &self,
        actor: &Actor,
        id: GroupId,
        transitive: bool,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<MemberPage, DomainError> {
        self.active_group(actor, id).await?;
        self.member_page(id, transitive, after, limit).await
    }

    /// One page of a group's members, for a caller that has checked the actor's rights.
    pub(super) async fn member_page(
        &self,
        id: GroupId,
        transitive: bool,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<MemberPage, DomainError> {
        let limit = limit.clamp(1, MAX_GROUP_PAGE);
        let mut ids = self.store.list_members(id, transitive, after, limit + 1).await?;
        let next = (ids.len() > limit as usize).then(|| ids[limit as usize - 1].uuid());
        ids.truncate(limit as usize);
        Ok(MemberPage { members: self.describe_members(&ids).await?, next })
    }

    /// How many users and groups are direct members of a group.
    pub async fn count_members(&self, actor: &Actor, id: GroupId) -> Result<u64, DomainError> {
        self.active_group(actor, id).await?;
        Ok(self.store.count_members(id).await?)
    }

    /// The members with these ids, named, in the same order; ones that vanished are left out.
    async fn describe_members(&self, ids: &[MemberId]) -> Result<Vec<Member>, DomainError> {
        let user_ids: Vec<UserId> =
            ids.iter().filter_map(|m| if let MemberId::User(u) = m { Some(*u) } else { None }).collect();
        let group_ids: Vec<GroupId> =
            ids.iter().filter_map(|m| if let MemberId::Group(g) = m { Some(*g) } else { None }).collect();
        let users: HashMap<UserId, User> =
            self.store.get_users(&user_ids).await?.into_iter().map(|u| (u.id, u)).collect();
        let groups: HashMap<GroupId, Group> =
            self.store.get_groups(&group_ids).await?.into_iter().map(|g| (g.id, g)).collect();
        Ok(ids
            .iter()
            .filter_map(|id| match id {
                MemberId::User(u) => users.get(u).map(|u| Member {
                    id: *id,
                    display_name: u.contact.display_name.clone(),
                    username: Some(u.username.to_string()),
                }),
                MemberId::Group(g) => {
                    groups.get(g).map(|g| Member { id: *id, display_name: g.display_name.clone(), username: None })
                }
            })
            .collect())
    }

    /// The users these ids name, all active, or an error on `field` naming what is not.
    async fn active_users(&self, ids: &[UserId], field: &str) -> Result<Vec<User>, FieldError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        check_batch(ids.len())?;
        let found = self.store.get_users(ids).await.map_err(|e| FieldError::new(field, e.to_string()))?;
        let active: HashMap<UserId, User> =
            found.into_iter().filter(|u| u.deleted_at.is_none()).map(|u| (u.id, u)).collect();
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            match active.get(id) {
                Some(user) => users.push(user.clone()),
                None => return Err(FieldError::new(field, format!("There is no active user with id {id}."))),
            }
        }
        Ok(users)
    }

    /// The active users and groups these ids name, once each; [`DomainError::NotFound`] for any
    /// other. One light read, however many ids.
    async fn resolve_members(&self, ids: &[MemberId]) -> Result<Vec<MemberRef>, DomainError> {
        let uuids: Vec<Uuid> = ids.iter().map(|m| m.uuid()).collect();
        let found: HashMap<MemberId, MemberRef> =
            self.store.member_refs(&uuids).await?.into_iter().filter(|r| r.active).map(|r| (r.id, r)).collect();
        let mut resolved = Vec::with_capacity(ids.len());
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if seen.insert(*id) {
                resolved.push(found.get(id).cloned().ok_or(DomainError::NotFound("member"))?);
            }
        }
        Ok(resolved)
    }

    /// The active users and groups with these ids, each once, in the order given; any other id
    /// is refused, all of them named.
    async fn resolve_ids(&self, ids: &[Uuid]) -> Result<Vec<MemberRef>, DomainError> {
        let found: HashMap<Uuid, MemberRef> =
            self.store.member_refs(ids).await?.into_iter().filter(|r| r.active).map(|r| (r.id.uuid(), r)).collect();
        let unknown: Vec<String> = ids.iter().filter(|id| !found.contains_key(id)).map(Uuid::to_string).collect();
        if !unknown.is_empty() {
            return Err(DomainError::invalid(
                "members",
                format!("No active user or group has the id {}; nothing was changed.", unknown.join(", ")),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        Ok(ids.iter().filter(|id| seen.insert(**id)).filter_map(|id| found.get(id).cloned()).collect())
    }

    /// What each id names among active users and groups, if anything, in one light read
    /// however many ids there are.
    pub async fn classify(&self, actor: &Actor, ids: &[Uuid]) -> Result<Vec<(Uuid, Option<MemberId>)>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let found: HashMap<Uuid, MemberId> =
            self.store.member_refs(ids).await?.into_iter().filter(|r| r.active).map(|r| (r.id.uuid(), r.id)).collect();
        Ok(ids.iter().map(|id| (*id, found.get(id).copied())).collect())
    }

    /// Every direct member of a group, named, read page by page.
    pub async fn all_members(&self, actor: &Actor, id: GroupId) -> Result<Vec<Member>, DomainError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.members(actor, id, false, after, MAX_GROUP_PAGE).await?;
            all.extend(page.members);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// What an id names among active users and groups, if anything.
    pub async fn directory_object(&self, actor: &Actor, id: Uuid) -> Result<Option<MemberId>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        if let Some(user) = self.store.get_user(UserId(id)).await? {
            return Ok(user.deleted_at.is_none().then_some(MemberId::User(user.id)));
        }
        let group = self.store.get_group(GroupId(id)).await?;
        Ok(group.filter(|g| g.deleted_at.is_none()).map(|g| MemberId::Group(g.id)))
    }

    /// The active group whose members `actor` is about to change, if they may: a group
    /// manager, or one of its owners (who need no administrator role).
    pub(super) async fn group_for_members(&self, actor: &Actor, id: GroupId) -> Result<Group, DomainError> {
        if let Err(refusal) = actor.require(Permission::ManageGroupMembers, RoleSet::NONE) {
            let owner = match actor.user_id {
                Some(user) if actor.app.is_none() => self.store.is_owner(id, user).await?,
                _ => false,
            };
            if !owner {
                return Err(refusal);
            }
        }
        let group = self.store.get_group(id).await?.ok_or(DomainError::NotFound("group"))?;
        if group.deleted_at.is_some() {
            return Err(DomainError::NotFound("group"));
        }
        self.require_policy_rights(actor, id).await?;
        Ok(group)
    }

    pub(super) fn member_audits(
        &self,
        actor: &Actor,
        group: &Group,
        members: &[MemberRef],
        added: bool,
    ) -> Vec<(MemberId, AuditEntry)> {
        let action = if added { AuditAction::MemberAdded } else { AuditAction::MemberRemoved };
        members
            .iter()
            .map(|member| {
                // Named from the member's side: the group it gained or lost.
                let (before, after) = if added { (None, Some(group.label())) } else { (Some(group.label()), None) };
                let mut entry = actor.group_audit(action, group, None, vec![change("group", before, after)]);
                if let MemberId::User(user) = member.id {
                    entry.target_id = Some(user);
                }
                entry.target_name = member.label.clone();
                (member.id, entry)
            })
            .collect()
    }

    /// Adds members to a group: those already in it are left alone. Returns who was added.
    pub async fn add_members(
        &self,
        actor: &Actor,
        id: GroupId,
        members: &[MemberId],
    ) -> Result<Vec<MemberId>, DomainError> {
        let group = self.group_for_members(actor, id).await?;
        check_batch(members.len()).map_err(|e| DomainError::Invalid(vec![e]))?;
        let resolved = self.resolve_members(members).await?;
        let change = MemberChange { add: self.member_audits(actor, &group, &resolved, true), ..Default::default() };
        Ok(self.store.change_members(id, &change).await.map_err(store_error)?.added)
    }

    /// Removes members from a group: those not in it are skipped. Returns who was removed.
    pub async fn remove_members(
        &self,
        actor: &Actor,
        id: GroupId,
        members: &[MemberId],
    ) -> Result<Vec<MemberId>, DomainError> {
        let group = self.group_for_members(actor, id).await?;
        check_batch(members.len()).map_err(|e| DomainError::Invalid(vec![e]))?;
        let present = self.store.members_among(id, members).await?;
        let resolved = self.describe_for_removal(&present).await?;
        let change = MemberChange { remove: self.member_audits(actor, &group, &resolved, false), ..Default::default() };
        Ok(self.store.change_members(id, &change).await.map_err(store_error)?.removed)
    }

    /// Applies a whole change (adds and removes) in one transaction, as a SCIM PATCH or PUT
    /// asks; returns what changed. The members to add are named by id alone, as SCIM names
    /// them, whether users or groups: one read finds what each is, and an id that is neither
    /// refuses the whole change.
    pub async fn change_group_members(
        &self,
        actor: &Actor,
        id: GroupId,
        add: &[Uuid],
        remove: &[MemberId],
    ) -> Result<MemberChanged, DomainError> {
        let group = self.group_for_members(actor, id).await?;
        // Removals are bounded by the group's own size (a replace may clear it); additions by
        // what one request may carry.
        check_batch(add.len()).map_err(|e| DomainError::Invalid(vec![e]))?;
        let adding = self.resolve_ids(add).await?;
        let present = self.store.members_among(id, remove).await?;
        let removing = self.describe_for_removal(&present).await?;
        let change = MemberChange {
            add: self.member_audits(actor, &group, &adding, true),
            remove: self.member_audits(actor, &group, &removing, false),
            ..Default::default()
        };
        self.store.change_members(id, &change).await.map_err(store_error)
    }

    /// Members being removed, deleted users included (they are still in the member table).
    async fn describe_for_removal(&self, ids: &[MemberId]) -> Result<Vec<MemberRef>, DomainError> {
        let uuids: Vec<Uuid> = ids.iter().map(|m| m.uuid()).collect();
        Ok(self.store.member_refs(&uuids).await?.into_iter().filter(|r| ids.contains(&r.id)).collect())
    }

    /// The owners of a group.
    pub async fn owners(&self, actor: &Actor, id: GroupId) -> Result<Vec<User>, DomainError> {
        self.group(actor, id).await?;
        let ids = self.store.list_owners(id).await?;
        let mut owners = self.store.get_users(&ids).await?;
        owners.retain(|u| u.deleted_at.is_none());
        owners.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        Ok(owners)
    }

    /// Adds and removes owners of a group, with one audit record.
    pub async fn change_owners(
        &self,
        actor: &Actor,
        id: GroupId,
        add: &[UserId],
        remove: &[UserId],
    ) -> Result<(), DomainError> {
        actor.require(Permission::ManageGroups, RoleSet::NONE)?;
        let group = self.active_group(actor, id).await?;
        let adding = self.active_users(add, "owners").await.map_err(|e| DomainError::Invalid(vec![e]))?;
        let current = self.store.list_owners(id).await?;
        let removing: Vec<UserId> = remove.iter().copied().filter(|u| current.contains(u)).collect();
        let adding: Vec<User> = adding.into_iter().filter(|u| !current.contains(&u.id)).collect();
        if adding.is_empty() && removing.is_empty() {
            return Ok(());
        }
        let removed_users = self.store.get_users(&removing).await?;
        let changes = vec![change(
            "owners",
            (!removed_users.is_empty()).then(|| usernames(&removed_users)),
            (!adding.is_empty()).then(|| usernames(&adding)),
        )];
        let change = MemberChange {
            add_owners: adding.iter().map(|u| u.id).collect(),
            remove_owners: removing,
            owners_audit: Some(actor.group_audit(AuditAction::GroupChanged, &group, None, changes)),
            ..Default::default()
        };
        self.store.change_members(id, &change).await.map_err(store_error)?;
        Ok(())
    }

    /// The active groups a user is in, directly or (with `transitive`) through nesting, by name.
    pub async fn groups_of_user(
        &self,
        actor: &Actor,
        user: UserId,
        transitive: bool,
    ) -> Result<Vec<Group>, DomainError> {
        self.get_user(actor, user).await?;
        self.groups_of(MemberId::User(user), transitive).await
    }

    /// One page of the active groups a user is in, in id order after `after`, and the id the
    /// next page starts after.
    pub async fn member_of_page(
        &self,
        actor: &Actor,
        user: UserId,
        transitive: bool,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<(Vec<Group>, Option<GroupId>), DomainError> {
        self.get_user(actor, user).await?;
        let limit = limit.clamp(1, MAX_GROUP_PAGE);
        let mut ids = self.store.groups_of(MemberId::User(user), transitive, after, limit + 1).await?;
        let next = (ids.len() > limit as usize).then(|| ids[limit as usize - 1]);
        ids.truncate(limit as usize);
        let mut groups = self.store.get_groups(&ids).await?;
        groups.retain(|g| g.deleted_at.is_none());
        groups.sort_by_key(|g| g.id);
        Ok((groups, next))
    }

    pub(super) async fn groups_of(&self, member: MemberId, transitive: bool) -> Result<Vec<Group>, DomainError> {
        let ids = self.store.groups_of(member, transitive, None, u32::MAX).await?;
        let mut groups = self.store.get_groups(&ids).await?;
        active_by_name(&mut groups);
        Ok(groups)
    }
}

/// Keeps the active groups, sorted by name as lists show them.
pub(super) fn active_by_name(groups: &mut Vec<Group>) {
    groups.retain(|g| g.deleted_at.is_none());
    groups.sort_by(|a, b| {
        crate::user::sort_key(&a.display_name).cmp(&crate::user::sort_key(&b.display_name)).then(a.id.cmp(&b.id))
    });
}

fn check_batch(count: usize) -> Result<(), FieldError> {
    if count > MAX_MEMBERS_PER_CHANGE {
        return Err(FieldError::new(
            "members",
            format!("Change at most {MAX_MEMBERS_PER_CHANGE} members in one request; this one has {count}."),
        ));
    }
    Ok(())
}

fn usernames(users: &[User]) -> String {
    users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>().join(", ")
}
