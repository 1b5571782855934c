//! Who may sign in to which application: assignments of users and groups, consent given by
//! each person or for the whole organisation, and the applications a person sees in My apps.

use uuid::Uuid;

use super::{Actor, Directory};
use crate::apps::App;
use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::group::{GroupId, MemberId, MemberRef};
use crate::oidc::grant::AppGrant;
use crate::user::User;

/// The most groups a person's My apps page looks through for assignments.
const MAX_GROUPS_SEEN: u32 = 1_000;

/// An application a person may open from My apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyApp {
    pub id: Uuid,
    pub name: String,
    pub home_page_url: String,
    /// When its logo was uploaded, if it has one.
    pub logo_updated_at: Option<Timestamp>,
}

/// An application a person has signed in to, for their account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInApp {
    pub grant: AppGrant,
    pub name: String,
}

impl Directory {
    /// Whether `user` may sign in to `app`: anyone, or only those assigned (directly, or
    /// through a group at any depth) when the application requires assignment.
    pub(crate) async fn may_use(&self, app: &App, user: &User) -> Result<bool, DomainError> {
        if !app.sign_in.assignment_required {
            return Ok(true);
        }
        let assigned = self.store.list_assignments(app.id).await?;
        if assigned.contains(&MemberId::User(user.id)) {
            return Ok(true);
        }
        let groups: Vec<GroupId> = assigned
            .into_iter()
            .filter_map(|m| match m {
                MemberId::Group(g) => Some(g),
                MemberId::User(_) => None,
            })
            .collect();
        Ok(!groups.is_empty() && self.store.in_any_group(user.id, &groups).await?)
    }

    /// The users and groups assigned to an application, named as audit records name them.
    pub async fn app_assignments(&self, actor: &Actor, id: Uuid) -> Result<Vec<MemberRef>, DomainError> {
        self.app(actor, id).await?;
        let ids: Vec<Uuid> = self.store.list_assignments(id).await?.into_iter().map(MemberId::uuid).collect();
        let mut refs = self.store.member_refs(&ids).await?;
        refs.sort_by_key(|r| r.label.to_lowercase());
        Ok(refs)
    }

    /// Assigns the user (by username) or group (by name or id) that `name` names.
    pub async fn assign_app(&self, actor: &Actor, id: Uuid, name: &str) -> Result<MemberRef, DomainError> {
        let (app, _) = self.app(actor, id).await?;
        let member = self.assignee(actor, name).await?;
        let found = self.store.member_refs(&[member.uuid()]).await?.into_iter().next();
        let member_ref = found.ok_or(DomainError::NotFound("user or group"))?;
        let audit = actor.audit(AuditAction::AppChanged, None, vec![assignment_change(&app, None, Some(&member_ref))]);
        self.store.change_assignments(id, &[member], &[], &audit).await?;
        Ok(member_ref)
    }

    /// The user (by username) or group (by name or id) that `name` names.
    pub async fn assignee(&self, actor: &Actor, name: &str) -> Result<MemberId, DomainError> {
        let name = name.trim();
        Ok(if name.contains('@') {
            let user = self.user_by_key(actor, name).await.map_err(|e| match e {
                DomainError::NotFound(_) => DomainError::invalid("assignee", format!("There is no user {name}.")),
                other => other,
            })?;
            MemberId::User(user.id)
        } else {
            match self.groups_named(actor, "assignee", name).await?.as_slice() {
                [group] => MemberId::Group(*group),
                _ => return Err(DomainError::invalid("assignee", format!("Name one user or group, not {name}."))),
            }
        })
    }

    /// Takes an assignment away; people signed in through it lose the application at their
    /// next refresh.
    pub async fn unassign_app(&self, actor: &Actor, id: Uuid, member: Uuid) -> Result<(), DomainError> {
        let (app, _) = self.app(actor, id).await?;
        let assigned = self.store.list_assignments(id).await?;
        let member = assigned.into_iter().find(|m| m.uuid() == member).ok_or(DomainError::NotFound("assignment"))?;
        let label = self.store.member_refs(&[member.uuid()]).await?.into_iter().next();
        let audit = actor.audit(AuditAction::AppChanged, None, vec![assignment_change(&app, label.as_ref(), None)]);
        self.store.change_assignments(id, &[], &[member], &audit).await?;
        Ok(())
    }

    /// The applications the signed-in person may open from My apps: those with a home page
    /// that need no assignment or that they are assigned to.
    pub async fn my_apps(&self, actor: &Actor) -> Result<Vec<MyApp>, DomainError> {
        let user_id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let groups = self.store.groups_of(MemberId::User(user_id), true, None, MAX_GROUPS_SEEN).await?;
        let assigned = self.store.assigned_apps(user_id, &groups).await?;
        let mut apps: Vec<MyApp> = self
            .store
            .list_apps()
            .await?
            .into_iter()
            .filter(|a| !a.sign_in.redirect_uris.is_empty())
            .filter(|a| !a.sign_in.assignment_required || assigned.contains(&a.id))
            .filter_map(|a| {
                let logo_updated_at = a.logo_updated_at;
                a.sign_in.home_page_url.clone().map(|url| MyApp {
                    id: a.id,
                    name: a.name,
                    home_page_url: url,
                    logo_updated_at,
                })
            })
            .collect();
        apps.sort_by_key(|a| a.name.to_lowercase());
        Ok(apps)
    }

    /// The applications the signed-in person has signed in to, newest first.
    pub async fn my_signed_in_apps(&self, actor: &Actor) -> Result<Vec<SignedInApp>, DomainError> {
        let user_id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let grants = self.store.list_app_grants(user_id).await?;
        Ok(grants.into_iter().map(|(grant, name)| SignedInApp { grant, name }).collect())
    }

    /// Withdraws the signed-in person's consent to an application and ends its sign-in: the
    /// application must ask again.
    pub async fn revoke_my_app(&self, actor: &Actor, app_id: Uuid) -> Result<(), DomainError> {
        let user_id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let user = self.store.get_user(user_id).await?.ok_or(DomainError::NotFound("user"))?;
        let name = self.store.get_app(app_id).await?.map(|a| a.name).unwrap_or_else(|| app_id.to_string());
        let change = FieldChange { field: "consent".into(), sensitive: false, before: Some(name), after: None };
        let audit = actor.audit(AuditAction::AppTokensRevoked, Some(&user), vec![change]);
        if !self.store.revoke_app_grant(user_id, app_id, &audit).await? {
            return Err(DomainError::NotFound("application"));
        }
        Ok(())
    }
}

fn assignment_change(app: &App, before: Option<&MemberRef>, after: Option<&MemberRef>) -> FieldChange {
    FieldChange {
        field: format!("assignment to {} ({})", app.name, app.id),
        sensitive: true,
        before: before.map(|m| m.label.clone()),
        after: after.map(|m| m.label.clone()),
    }
}
