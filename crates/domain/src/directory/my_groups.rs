//! My groups: the groups a user owns, whose members they manage without an administrator role
//! (as group owners do in Microsoft 365's My Groups), and the groups they are in.

use uuid::Uuid;

use super::groups::active_by_name;
use super::{Actor, Directory};
use crate::error::DomainError;
use crate::group::{Group, GroupId, MemberId, MemberPage};
use crate::user::{UserId, UserQuery, UserSort, UserSummary};

/// The groups of the signed-in user, each list by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MyGroups {
    /// Active groups they own.
    pub owned: Vec<Group>,
    /// Active groups they are a direct member of.
    pub member_of: Vec<Group>,
}

/// The signed-in user acting for themselves; applications have no groups of their own.
fn own_id(actor: &Actor) -> Result<UserId, DomainError> {
    actor
        .user_id
        .filter(|_| actor.app.is_none())
        .ok_or_else(|| DomainError::Forbidden("Only a signed-in person has groups of their own.".into()))
}

impl Directory {
    /// The active groups `actor` owns and those they are a direct member of.
    pub async fn my_groups(&self, actor: &Actor) -> Result<MyGroups, DomainError> {
        let me = own_id(actor)?;
        let mut owned = self.store.get_groups(&self.store.groups_owned_by(me).await?).await?;
        active_by_name(&mut owned);
        let member_of = self.groups_of(MemberId::User(me), false).await?;
        Ok(MyGroups { owned, member_of })
    }

    /// An active group `actor` owns. Any other group is not found, so that the owner's pages
    /// tell nobody which other groups exist.
    pub async fn owned_group(&self, actor: &Actor, id: GroupId) -> Result<Group, DomainError> {
        let me = own_id(actor)?;
        if !self.store.is_owner(id, me).await? {
            return Err(DomainError::NotFound("group"));
        }
        let group = self.store.get_group(id).await?.ok_or(DomainError::NotFound("group"))?;
        if group.deleted_at.is_some() {
            return Err(DomainError::NotFound("group"));
        }
        Ok(group)
    }

    /// One page of the direct members of a group `actor` owns, and how many there are.
    pub async fn owned_group_members(
        &self,
        actor: &Actor,
        id: GroupId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<(MemberPage, u64), DomainError> {
        self.owned_group(actor, id).await?;
        let page = self.member_page(id, false, after, limit).await?;
        Ok((page, self.store.count_members(id).await?))
    }

    /// Up to `limit` active users whose name or username starts with `search`, for the owner
    /// of group `id` to choose members from.
    pub async fn people_for_group(
        &self,
        actor: &Actor,
        id: GroupId,
        search: &str,
        limit: u32,
    ) -> Result<Vec<UserSummary>, DomainError> {
        self.owned_group(actor, id).await?;
        let query =
            UserQuery { search: Some(search.to_string()), sort: UserSort::DisplayName, limit, ..UserQuery::default() };
        Ok(self.user_page(query).await?.users)
    }
}
