//! Temporary Access Passes: their policy, who may create and remove one, signing in with one,
//! and what a session it opened may do.

use uuid::Uuid;

use super::{hash_off_thread, Actor, Directory};
use crate::access_pass::{self, AccessPass, AccessPassPolicy, AccessPassPolicyInput, AccessPassRequest, Usability};
use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::error::{DomainError, FieldError};
use crate::group::Scope;
use crate::notify::{self, Occasion, PasswordEvent};
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::session::Session;
use crate::user::{User, UserId};

/// Every setting the policy is stored under.
const POLICY_SETTINGS: [&str; 7] = [
    access_pass::SETTING_SCOPE,
    access_pass::SETTING_GROUPS,
    access_pass::SETTING_DEFAULT_LIFETIME,
    access_pass::SETTING_MIN_LIFETIME,
    access_pass::SETTING_MAX_LIFETIME,
    access_pass::SETTING_ONE_TIME,
    access_pass::SETTING_LENGTH,
];

/// A user's pass as administrators and applications see it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPassView {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub start_at: Timestamp,
    pub ends_at: Timestamp,
    pub lifetime_minutes: u32,
    pub usable_once: bool,
    pub used_at: Option<Timestamp>,
    pub usability: Usability,
}

/// The pass's window in words for audit records and notices (UTC: they are read anywhere).
fn window(pass: &AccessPass) -> String {
    let once = if pass.usable_once { ", for one sign-in" } else { "" };
    format!("from {} until {}{once}", pass.start_at.display(), pass.ends_at().display())
}

impl Directory {
    /// The organisation's Temporary Access Pass policy.
    pub async fn access_pass_policy(&self) -> Result<AccessPassPolicy, DomainError> {
        let stored = self.settings_of(&POLICY_SETTINGS).await?;
        Ok(AccessPassPolicy::from_settings(|key| stored.get(key).cloned()))
    }

    /// Changes the policy (Global Administrators only); every field is checked first and a
    /// refused change stores nothing.
    pub async fn set_access_pass_policy(
        &self,
        actor: &Actor,
        input: &AccessPassPolicyInput,
        scope: Scope,
    ) -> Result<(), DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        let mut errors = Vec::new();
        if let Scope::Groups(groups) = &scope {
            if let Err(e) = self.check_policy_groups("access_pass_groups", groups).await {
                errors.push(e);
            }
        }
        let policy = match AccessPassPolicy::parse(input, scope) {
            Ok(policy) if errors.is_empty() => policy,
            parsed => {
                errors.extend(parsed.err().unwrap_or_default());
                return Err(DomainError::Invalid(errors));
            }
        };
        let before = self.access_pass_policy().await?;
        self.save_policy_settings(actor, before.settings(), policy.settings(), &[access_pass::SETTING_GROUPS]).await
    }

    async fn view_of(&self, user: &User, pass: &AccessPass) -> Result<AccessPassView, DomainError> {
        let policy = self.access_pass_policy().await?;
        let in_scope = self.in_scope(user, &policy.scope).await?;
        Ok(AccessPassView {
            id: pass.id,
            created_at: pass.created_at,
            start_at: pass.start_at,
            ends_at: pass.ends_at(),
            lifetime_minutes: pass.lifetime_minutes,
            usable_once: pass.usable_once,
            used_at: pass.used_at,
            usability: pass.usability(Timestamp::now(), in_scope),
        })
    }

    /// A user's pass, if they have one, for administrators and applications that may read
    /// authentication methods.
    pub async fn access_pass(&self, actor: &Actor, id: UserId) -> Result<Option<AccessPassView>, DomainError> {
        let user = self.get_user(actor, id).await?;
        match self.store.get_access_pass(user.id).await? {
            Some(pass) => Ok(Some(self.view_of(&user, &pass).await?)),
            None => Ok(None),
        }
    }

    /// Creates a pass for a user (replacing any they had) under the policy, audited, and tells
    /// them on every address they have, so that someone given a pass they did not ask for
    /// learns of it. Returns the pass and its secret, which no one can read again.
    pub async fn create_access_pass(
        &self,
        actor: &Actor,
        id: UserId,
        request: &AccessPassRequest,
    ) -> Result<(AccessPassView, String), DomainError> {
        let user = self.get_active_user(actor, id).await?;
        if actor.user_id == Some(user.id) {
            return Err(DomainError::Forbidden(
                "No one can give themselves a Temporary Access Pass; ask another administrator.".into(),
            ));
        }
        actor.require(Permission::ManageSignInMethods, user.roles)?;
        let policy = self.access_pass_policy().await?;
        let now = Timestamp::now();
        let in_scope = self.in_scope(&user, &policy.scope).await?;
        let settled = match (in_scope, policy.settle(request, now)) {
            (true, Ok(settled)) => settled,
            (in_scope, settled) => {
                let mut errors = Vec::new();
                if !in_scope {
                    errors.push(FieldError::new(
                        "user",
                        format!(
                            "The Temporary Access Pass policy doesn't include {}, so a pass couldn't sign them in. \
                             Change who may use one in Settings first.",
                            user.contact.display_name
                        ),
                    ));
                }
                errors.extend(settled.err().unwrap_or_default());
                return Err(DomainError::Invalid(errors));
            }
        };
        let (pass, secret) = AccessPass::issue(user.id, settled, policy.length, now, &self.code_key);
        let occasion = Occasion { actor, at: now };
        let notices = notify::security_event(
            &user,
            "A Temporary Access Pass was created for your account",
            &format!(
                "{} created a Temporary Access Pass that signs in to your account {}. If you didn't ask for one, \
                 tell your IT administrator at once.",
                actor.display_name,
                window(&pass)
            ),
            &occasion,
        );
        let change = FieldChange {
            field: "access_pass".into(),
            sensitive: true,
            before: None,
            after: Some(format!("usable {}", window(&pass))),
        };
        let audit = actor.audit(AuditAction::AccessPassCreated, Some(&user), vec![change]);
        self.store.put_access_pass(&pass, &audit, &notices).await?;
        self.queued(&notices);
        Ok((self.view_of(&user, &pass).await?, secret))
    }

    /// Removes a user's pass (the one `id` names, when given), audited, and tells them; the
    /// sessions it opened end with it.
    pub async fn remove_access_pass(
        &self,
        actor: &Actor,
        id: UserId,
        pass_id: Option<Uuid>,
    ) -> Result<(), DomainError> {
        let user = self.get_user(actor, id).await?;
        actor.require(Permission::ManageSignInMethods, user.roles)?;
        let pass = self
            .store
            .get_access_pass(user.id)
            .await?
            .filter(|p| pass_id.is_none_or(|wanted| wanted == p.id))
            .ok_or(DomainError::NotFound("Temporary Access Pass"))?;
        let now = Timestamp::now();
        let notices = notify::security_event(
            &user,
            "A Temporary Access Pass was removed from your account",
            &format!(
                "{} removed the Temporary Access Pass of your account; it no longer signs in.",
                actor.display_name
            ),
            &Occasion { actor, at: now },
        );
        let change = FieldChange {
            field: "access_pass".into(),
            sensitive: true,
            before: Some(format!("usable {}", window(&pass))),
            after: None,
        };
        let audit = actor.audit(AuditAction::AccessPassRemoved, Some(&user), vec![change]);
        if !self.store.delete_access_pass(user.id, pass.id, &audit, &notices).await? {
            return Err(DomainError::NotFound("Temporary Access Pass"));
        }
        self.queued(&notices);
        Ok(())
    }

    /// The user's pass, if `entered` is its secret (usable or not).
    pub(crate) async fn pass_entered(&self, user_id: UserId, entered: &str) -> Result<Option<AccessPass>, DomainError> {
        Ok(self.store.get_access_pass(user_id).await?.filter(|p| p.matches(&self.code_key, entered)))
    }

    /// Uses `pass` to sign `user` in now: why not, or that the sign-in may go on (a one-time
    /// pass is then used up, even by a sign-in racing this one on another node).
    pub(crate) async fn use_pass(&self, user: &User, pass: &AccessPass) -> Result<Usability, DomainError> {
        let policy = self.access_pass_policy().await?;
        let now = Timestamp::now();
        let usability = pass.usability(now, self.in_scope(user, &policy.scope).await?);
        if usability != Usability::Usable {
            return Ok(usability);
        }
        if !self.store.use_access_pass(pass.id, now).await? {
            return Ok(Usability::OneTimeUsed);
        }
        Ok(Usability::Usable)
    }

    /// Whether a session a pass opened still stands: the pass that opened it is still the
    /// user's, so removing or replacing the pass ends its sessions at once.
    pub(crate) async fn pass_session_stands(&self, session: &Session) -> Result<bool, DomainError> {
        let pass = self.store.get_access_pass(session.user_id).await?;
        Ok(pass.is_some_and(|p| Some(p.id) == session.access_pass))
    }

    /// Someone signed in with a pass chooses a password without knowing the old one (the pass
    /// proved who they are); their other sessions end, and they are told.
    pub async fn set_password_with_pass(
        &self,
        actor: &Actor,
        session: &Session,
        new_password: &str,
        confirmation: &str,
    ) -> Result<(), DomainError> {
        if !session.by_access_pass() {
            return Err(DomainError::Forbidden("Enter your current password to change it.".into()));
        }
        let id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let user = self.store.get_user(id).await?.ok_or(DomainError::NotFound("user"))?;
        let mut errors = Vec::new();
        if let Err(e) = self.check_new_password("new_password", new_password, &user).await? {
            errors.push(e);
        } else if new_password != confirmation {
            errors.push(FieldError::new("confirm_password", "The two new passwords don't match."));
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let hash = hash_off_thread(new_password.to_string()).await?;
        let audit = actor.audit(AuditAction::PasswordChanged, Some(&user), Vec::new());
        let occasion = Occasion { actor, at: audit.at };
        let notices = notify::password_changed(&user, PasswordEvent::WithAccessPass, &occasion);
        self.store.set_password(id, &hash, false, &audit, &notices).await?;
        self.queued(&notices);
        self.store.delete_user_sessions(id, Some(&session.token_hash)).await?;
        self.end_app_sign_ins(&user).await;
        Ok(())
    }
}
