//! Group memberships in and out of CSV files: an export of every user's direct memberships,
//! and an import that adds the memberships a file lists, checked in full first and applied in
//! one transaction, or not at all.

use std::collections::HashMap;

use super::{Actor, Directory, MAX_GROUP_PAGE};
use crate::csv_groups::{MembershipRow, RowProblem};
use crate::error::DomainError;
use crate::group::{Group, GroupFilter, GroupId, GroupOrder, GroupQuery, MemberId, MemberRef};
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::store::MemberChange;
use crate::user::UserId;

/// What an import of memberships did, or with `dry_run` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipImport {
    /// Memberships the file adds.
    pub added: usize,
    /// Memberships the file lists that exist already.
    pub already: usize,
    /// Every row that can't be applied; with any, nothing is.
    pub problems: Vec<RowProblem>,
    /// Whether the memberships were written.
    pub applied: bool,
}

impl Directory {
    /// Every active group's user members, as (group, username) rows by group name; a group
    /// whose name another group shares is written by id, so that the file imports back.
    pub async fn export_memberships(&self, actor: &Actor) -> Result<Vec<(String, String)>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let mut groups: Vec<Group> = Vec::new();
        let mut query = GroupQuery { order: GroupOrder::DisplayName, limit: MAX_GROUP_PAGE, ..GroupQuery::default() };
        loop {
            let page = self.store.list_groups(&query).await?;
            let done = page.len() < MAX_GROUP_PAGE as usize;
            query.after = page.last().map(|g| crate::group::GroupCursor::of(g, GroupOrder::DisplayName));
            groups.extend(page);
            if done {
                break;
            }
        }
        let mut named: HashMap<String, usize> = HashMap::new();
        for g in &groups {
            *named.entry(crate::user::sort_key(&g.display_name)).or_default() += 1;
        }
        let mut rows = Vec::new();
        for g in &groups {
            let label = if named[&crate::user::sort_key(&g.display_name)] == 1 {
                g.display_name.clone()
            } else {
                g.id.to_string()
            };
            let mut members: Vec<String> =
                self.all_members(actor, g.id).await?.into_iter().filter_map(|m| m.username).collect();
            members.sort();
            rows.extend(members.into_iter().map(|u| (label.clone(), u)));
        }
        Ok(rows)
    }

    /// Adds the memberships `rows` list: every group (by name only one group has, or id) and
    /// user (by username) must be found and within the actor's reach, else nothing changes and
    /// each row at fault is reported.
    pub async fn import_memberships(
        &self,
        actor: &Actor,
        rows: &[MembershipRow],
        dry_run: bool,
    ) -> Result<MembershipImport, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let mut groups: HashMap<String, Result<Group, String>> = HashMap::new();
        let mut users: HashMap<String, Option<UserId>> = HashMap::new();
        let mut wanted: Vec<(GroupId, UserId)> = Vec::new();
        let mut problems = Vec::new();
        for row in rows {
            let key = crate::user::sort_key(&row.group);
            if !groups.contains_key(&key) {
                let found = self.group_for_import(actor, &row.group).await?;
                groups.insert(key.clone(), found);
            }
            let username = row.username.trim().to_lowercase();
            if !users.contains_key(&username) {
                let found = self.store.get_credentials(&username).await?.map(|c| c.user_id);
                users.insert(username.clone(), found);
            }
            match (&groups[&key], users[&username]) {
                (Err(why), _) => problems.push(RowProblem { line: row.line, message: why.clone() }),
                (_, None) => problems.push(RowProblem {
                    line: row.line,
                    message: format!("No active user has the username {username}."),
                }),
                (Ok(group), Some(user)) => {
                    if !wanted.contains(&(group.id, user)) {
                        wanted.push((group.id, user));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Ok(MembershipImport { problems, ..MembershipImport::default() });
        }
        let mut by_group: Vec<(Group, Vec<UserId>)> = Vec::new();
        for (group, user) in wanted {
            match by_group.iter_mut().find(|(g, _)| g.id == group) {
                Some((_, list)) => list.push(user),
                None => {
                    let g = groups
                        .values()
                        .flatten()
                        .find(|g| g.id == group)
                        .cloned()
                        .ok_or(DomainError::NotFound("group"))?;
                    by_group.push((g, vec![user]));
                }
            }
        }
        let mut report = MembershipImport::default();
        let mut changes = Vec::with_capacity(by_group.len());
        for (group, ids) in by_group {
            let candidates: Vec<MemberId> = ids.iter().map(|u| MemberId::User(*u)).collect();
            let present = self.store.members_among(group.id, &candidates).await?;
            let new: Vec<UserId> = ids.into_iter().filter(|u| !present.contains(&MemberId::User(*u))).collect();
            report.already += present.len();
            report.added += new.len();
            let uuids: Vec<uuid::Uuid> = new.iter().map(|u| u.0).collect();
            let refs: Vec<MemberRef> = self.store.member_refs(&uuids).await?;
            let add = self.member_audits(actor, &group, &refs, true);
            changes.push((group.id, MemberChange { add, ..MemberChange::default() }));
        }
        if !dry_run && report.added > 0 {
            self.store.change_many_members(&changes).await.map_err(super::groups::store_error)?;
            report.applied = true;
        }
        Ok(report)
    }

    /// The active group a file names, checked for the actor's right to change its members; or
    /// why not, for the row's problem.
    async fn group_for_import(&self, actor: &Actor, text: &str) -> Result<Result<Group, String>, DomainError> {
        let candidates = match text.trim().parse::<GroupId>() {
            Ok(id) => self.store.get_groups(&[id]).await?.into_iter().filter(|g| g.deleted_at.is_none()).collect(),
            Err(_) => {
                let filter = Some(GroupFilter::DisplayNameIs(text.trim().to_string()));
                self.store.list_groups(&GroupQuery { filter, limit: 2, ..GroupQuery::default() }).await?
            }
        };
        let group = match candidates.as_slice() {
            [one] => one.clone(),
            [] => return Ok(Err(format!("No active group is named “{}”.", text.trim()))),
            _ => return Ok(Err(format!("Several groups are named “{}”: use the group's id.", text.trim()))),
        };
        match self.group_for_members(actor, group.id).await {
            Ok(group) => Ok(Ok(group)),
            Err(DomainError::Forbidden(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        }
    }
}
