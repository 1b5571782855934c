//! The recovery-readiness report over the users in the reset scope, broken down by groups of
//! the directory if asked, and the users in each readiness group.

use std::collections::{HashMap, HashSet};

use crate::audit::AuditAction;
use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::group::{GroupId, Scope};
use crate::notify::{self, Occasion};
use crate::permission::Permission;
use crate::readiness::{assess, nothing_verified, Breakdown, GroupReadiness, Readiness, ReadinessReport};
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
/// The most groups one report may be broken down by: each is one more key in a page's
/// membership query.
pub const MAX_BREAKDOWN: usize = 64;

/// One assessed user.
struct Assessed {
    user: User,
    readiness: Readiness,
    nothing_verified: bool,
    /// Whether self-service reset is enabled for the user.
    in_scope: bool,
    has_passkey: bool,
}

impl Assessed {
    /// Counts the user into `report`.
    fn count_into(&self, report: &mut ReadinessReport) {
        if self.in_scope {
            report.add(self.readiness, self.user.roles.is_admin(), self.nothing_verified);
            if self.has_passkey {
                report.add_passkey(self.readiness);
            }
        } else {
            report.add_outside_scope();
        }
    }
}

/// A page of users assessed, with which of the groups asked about each is in.
struct Page {
    assessed: Vec<Assessed>,
    memberships: HashSet<(UserId, GroupId)>,
    next: Option<Cursor>,
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

    /// How recoverable the organisation is under its reset policy: every active user in the
    /// reset scope counted into one readiness group, administrators apart, and the same figures
    /// over the members of each of `breakdown` (active groups only, in the order given).
    pub async fn readiness(&self, actor: &Actor, breakdown: &[GroupId]) -> Result<Breakdown, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        if breakdown.len() > MAX_BREAKDOWN {
            return Err(DomainError::invalid("group", format!("Choose at most {MAX_BREAKDOWN} groups.")));
        }
        let (policy, scope) = (self.reset_policy().await?, self.reset_scope().await?);
        let mut groups: Vec<GroupReadiness> = Vec::new();
        for group in self.store.get_groups(breakdown).await?.into_iter().filter(|g| g.deleted_at.is_none()) {
            groups.push(GroupReadiness { id: group.id, name: group.display_name, report: ReadinessReport::default() });
        }
        groups.sort_by_key(|g| breakdown.iter().position(|id| *id == g.id));
        let asked: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        let mut report = Breakdown { all: ReadinessReport::default(), groups };
        let mut after = None;
        loop {
            let page = self.assess_page(actor, policy, &scope, &asked, after).await?;
            for a in &page.assessed {
                a.count_into(&mut report.all);
                for group in &mut report.groups {
                    if page.memberships.contains(&(a.user.id, group.id)) {
                        a.count_into(&mut group.report);
                    }
                }
            }
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(report),
            }
        }
    }

    /// Where one user stands under the reset policy; `None` when self-service reset is not
    /// enabled for them.
    pub async fn readiness_of(&self, actor: &Actor, id: UserId) -> Result<Option<Readiness>, DomainError> {
        let user = self.get_user(actor, id).await?;
        let (policy, scope) = (self.reset_policy().await?, self.reset_scope().await?);
        let memberships: HashSet<(UserId, GroupId)> =
            self.store.memberships_among(&[id], scope.groups()).await?.into_iter().collect();
        if !scope.includes(|g| memberships.contains(&(id, g))) {
            return Ok(None);
        }
        let proofs = self.store.get_verifications(id).await?;
        Ok(Some(assess(policy, user.roles, &user.contact, &proofs)))
    }

    /// Up to `limit` users in the reset scope of one readiness group, and of the directory
    /// group `within` when one is given, in username order after `after`; and where to go on
    /// from if there may be more.
    pub async fn readiness_group(
        &self,
        actor: &Actor,
        group: Readiness,
        within: Option<GroupId>,
        mut after: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<User>, Option<Cursor>), DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let (policy, scope) = (self.reset_policy().await?, self.reset_scope().await?);
        let asked: Vec<GroupId> = within.into_iter().collect();
        let mut found = Vec::new();
        for _ in 0..GROUP_STEPS {
            let page = self.assess_page(actor, policy, &scope, &asked, after.clone()).await?;
            let (assessed, next, memberships) = (page.assessed, page.next, page.memberships);
            let wanted = |a: &Assessed| {
                a.in_scope && a.readiness == group && within.is_none_or(|w| memberships.contains(&(a.user.id, w)))
            };
            for a in assessed.into_iter().filter(wanted) {
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

    /// One page of active users in username order, each assessed under `policy` and `scope`,
    /// with their memberships of the groups `asked` about.
    async fn assess_page(
        &self,
        actor: &Actor,
        policy: ResetPolicy,
        scope: &Scope,
        asked: &[GroupId],
        after: Option<Cursor>,
    ) -> Result<Page, DomainError> {
        let query = UserQuery { sort: UserSort::Username, after, limit: PAGE, ..UserQuery::default() };
        let page = self.list_users(actor, query).await?;
        let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
        let mut groups = scope.groups().to_vec();
        groups.extend(asked.iter().filter(|g| !scope.groups().contains(g)));
        let memberships: HashSet<(UserId, GroupId)> =
            self.store.memberships_among(&ids, &groups).await?.into_iter().collect();
        let mut verifications: HashMap<UserId, Vec<Verification>> = HashMap::new();
        for (id, verification) in self.store.get_verifications_of(&ids).await? {
            verifications.entry(id).or_default().push(verification);
        }
        let with_passkey: HashSet<UserId> = self.store.passkey_holders_among(&ids).await?.into_iter().collect();
        let mut users = self.store.get_users(&ids).await?;
        users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        let assessed = users
            .into_iter()
            .map(|user| {
                let proofs = verifications.get(&user.id).map(Vec::as_slice).unwrap_or_default();
                Assessed {
                    readiness: assess(policy, user.roles, &user.contact, proofs),
                    nothing_verified: nothing_verified(policy, &user.contact, proofs),
                    in_scope: scope.includes(|g| memberships.contains(&(user.id, g))),
                    has_passkey: with_passkey.contains(&user.id),
                    user,
                }
            })
            .collect();
        Ok(Page { assessed, memberships, next: page.next })
    }
}
