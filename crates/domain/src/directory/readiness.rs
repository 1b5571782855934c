//! The recovery-readiness report over the whole directory, and the users in each group.

use std::collections::HashMap;

use crate::audit::AuditAction;
use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::notify::{self, Occasion};
use crate::permission::Permission;
use crate::readiness::{assess, nothing_verified, Readiness, ReadinessReport};
use crate::recovery::methods::Verification;
use crate::recovery::ResetPolicy;
use crate::role::RoleSet;
use crate::user::{Cursor, User, UserId, UserQuery, UserSort};

use super::{Actor, Directory};

/// Users read per step: a page of the list, their records and their verifications, three
/// queries for 500 users.
const PAGE: u32 = 500;
/// Steps one page of a group's list may take before it answers with what it found: a rare
/// group in a large directory then pages on through "More" rather than one long request.
const GROUP_STEPS: usize = 20;

/// One assessed user.
struct Assessed {
    user: User,
    readiness: Readiness,
    nothing_verified: bool,
}

/// Users asked at most once a day each, so that a button pressed twice sends nothing twice.
const ASK_WINDOW_SECONDS: i64 = 24 * 60 * 60;
/// Users one request may ask.
pub const MAX_ASKED: usize = 500;

/// What asking users to register came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// Users sent the email.
    pub asked: usize,
    /// Users asked already in the last day.
    pub recently: usize,
    /// Users whose recovery contacts the administrator may not manage.
    pub refused: usize,
}

impl Directory {
    /// Emails each user, through the outbox, asking them to complete their security info; each
    /// at most once a day, and only users whose recovery contacts `actor` may change.
    pub async fn ask_to_register(&self, actor: &Actor, ids: &[UserId]) -> Result<Asked, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        if ids.len() > MAX_ASKED {
            return Err(DomainError::invalid("user", format!("Choose at most {MAX_ASKED} people at a time.")));
        }
        let mut outcome = Asked::default();
        let now = Timestamp::now();
        let window = Timestamp(now.millis() - now.millis().rem_euclid(ASK_WINDOW_SECONDS * 1000));
        for &id in ids {
            let user = self.get_active_user(actor, id).await?;
            if actor.require(Permission::EditRecoveryContacts, user.roles).is_err() {
                outcome.refused += 1;
                continue;
            }
            if self.store.increment_counter(&format!("registration-request:{id}"), window).await? > 1 {
                outcome.recently += 1;
                continue;
            }
            let audit = actor.audit(AuditAction::RegistrationRequested, Some(&user), Vec::new());
            let messages = notify::registration_request(&user, &Occasion { actor, at: audit.at });
            self.store.record(&audit, &messages).await?;
            self.queued(&messages);
            outcome.asked += 1;
        }
        Ok(outcome)
    }

    /// How recoverable the organisation is under its reset policy: every active user counted
    /// into one group, administrators apart.
    pub async fn readiness(&self, actor: &Actor) -> Result<ReadinessReport, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let policy = self.reset_policy().await?;
        let mut report = ReadinessReport::default();
        let mut after = None;
        loop {
            let (assessed, next) = self.assess_page(actor, policy, after).await?;
            for a in assessed {
                report.add(a.readiness, a.user.roles.is_admin(), a.nothing_verified);
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(report),
            }
        }
    }

    /// Up to `limit` users of one group, in username order after `after`, and where to go on
    /// from if there may be more.
    pub async fn readiness_group(
        &self,
        actor: &Actor,
        group: Readiness,
        mut after: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<User>, Option<Cursor>), DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let policy = self.reset_policy().await?;
        let mut found = Vec::new();
        for _ in 0..GROUP_STEPS {
            let (assessed, next) = self.assess_page(actor, policy, after.clone()).await?;
            for a in assessed.into_iter().filter(|a| a.readiness == group) {
                if found.len() == limit {
                    let last: &User = found.last().expect("limit is above zero");
                    return Ok((found.clone(), Some(Cursor { key: last.username.to_string(), id: last.id })));
                }
                found.push(a.user);
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok((found, None)),
            }
        }
        Ok((found, after))
    }

    /// One page of active users in username order, each assessed under `policy`.
    async fn assess_page(
        &self,
        actor: &Actor,
        policy: ResetPolicy,
        after: Option<Cursor>,
    ) -> Result<(Vec<Assessed>, Option<Cursor>), DomainError> {
        let query = UserQuery { sort: UserSort::Username, after, limit: PAGE, ..UserQuery::default() };
        let page = self.list_users(actor, query).await?;
        let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
        let mut verifications: HashMap<UserId, Vec<Verification>> = HashMap::new();
        for (id, verification) in self.store.get_verifications_of(&ids).await? {
            verifications.entry(id).or_default().push(verification);
        }
        let mut users = self.store.get_users(&ids).await?;
        users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        let assessed = users
            .into_iter()
            .map(|user| {
                let proofs = verifications.get(&user.id).map(Vec::as_slice).unwrap_or_default();
                Assessed {
                    readiness: assess(policy, user.roles, &user.contact, proofs),
                    nothing_verified: nothing_verified(policy, &user.contact, proofs),
                    user,
                }
            })
            .collect();
        Ok((assessed, page.next))
    }
}
