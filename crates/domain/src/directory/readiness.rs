//! The recovery-readiness report over the whole directory.

use std::collections::HashMap;

use crate::error::DomainError;
use crate::permission::Permission;
use crate::readiness::{assess, nothing_verified, ReadinessReport};
use crate::recovery::methods::Verification;
use crate::role::RoleSet;
use crate::user::{UserId, UserQuery, UserSort};

use super::{Actor, Directory};

/// Users read per step: a page of the list, their records and their verifications, three
/// queries for 500 users.
const PAGE: u32 = 500;

impl Directory {
    /// How recoverable the organisation is under its reset policy: every active user counted
    /// into one group, administrators apart.
    pub async fn readiness(&self, actor: &Actor) -> Result<ReadinessReport, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let policy = self.reset_policy().await?;
        let mut report = ReadinessReport::default();
        let mut after = None;
        loop {
            let query = UserQuery { sort: UserSort::Username, after, limit: PAGE, ..UserQuery::default() };
            let page = self.list_users(actor, query).await?;
            let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
            let mut verifications: HashMap<UserId, Vec<Verification>> = HashMap::new();
            for (id, verification) in self.store.get_verifications_of(&ids).await? {
                verifications.entry(id).or_default().push(verification);
            }
            for user in self.store.get_users(&ids).await? {
                let proofs = verifications.get(&user.id).map(Vec::as_slice).unwrap_or_default();
                let readiness = assess(policy, user.roles, &user.contact, proofs);
                report.add(readiness, user.roles.is_admin(), nothing_verified(policy, &user.contact, proofs));
            }
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(report),
            }
        }
    }
}
