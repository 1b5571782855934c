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

/// What the page of a group its owner manages shows.
#[derive(Debug, Clone)]
pub struct OwnedGroupPage {
    pub group: Group,
    pub members: MemberPage,
    pub member_count: u64,
    /// Users found to add.
    pub candidates: Vec<UserSummary>,
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

    /// The page of a group `actor` owns: `limit` of its direct members after `after`, how many
    /// there are, and, when `find` gives a search and a limit, active users whose name or
    /// username starts with it, to choose members from. Ownership is checked once for all of it.
    pub async fn owned_group_page(
        &self,
        actor: &Actor,
        id: GroupId,
        after: Option<Uuid>,
        limit: u32,
        find: Option<(&str, u32)>,
    ) -> Result<OwnedGroupPage, DomainError> {
        let group = self.owned_group(actor, id).await?;
        let members = self.member_page(id, false, after, limit).await?;
        let member_count = self.store.count_members(id).await?;
        let candidates = match find {
            Some((search, limit)) => {
                let query = UserQuery {
                    search: Some(search.to_string()),
                    sort: UserSort::DisplayName,
                    limit,
                    ..UserQuery::default()
                };
                self.user_page(query).await?.users
            }
            None => Vec::new(),
        };
        Ok(OwnedGroupPage { group, members, member_count, candidates })
    }
}
