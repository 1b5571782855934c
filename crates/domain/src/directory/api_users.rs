//! Users through the standard APIs (Graph, SCIM): whole-user creation and changes, each
//! checked in full before anything is written, and filtered listing.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

use super::{bool_change, hash_off_thread, Actor, Directory};
use crate::audit::AuditAction;
use crate::audit::FieldChange;
use crate::clock::Timestamp;
use crate::contact::{ContactInfo, ContactInput};
use crate::error::{DomainError, FieldError, StoreError};
use crate::notify::{self, Occasion, PasswordEvent};
use crate::password;
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::store::{FoundUser, UserFind};
use crate::user::{User, UserId, Username};
use crate::user_filter::UserFilter;

/// The most users one API page may hold.
pub const MAX_FIND_LIMIT: u32 = 1000;

/// How long a change without a version to keep re-reads the user and re-applies itself while
/// saves from outside this process (the admin center's forms, other nodes) keep coming first.
const REAPPLY_FOR: Duration = Duration::from_secs(30);
/// How many locks API changes to users are spread over.
const LOCK_STRIPES: usize = 256;

/// Queues the API changes this process makes to one user, first come first served, so that
/// a burst of PATCHes from a provisioning client is applied one after another instead of
/// racing each other to a version conflict. Users share a lock only by their ids' hashes.
pub(crate) struct UserLocks {
    stripes: Vec<Mutex<()>>,
}

impl UserLocks {
    pub(crate) fn new() -> Self {
        UserLocks { stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect() }
    }

    async fn lock(&self, id: UserId) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        self.stripes[hasher.finish() as usize % LOCK_STRIPES].lock().await
    }
}

/// A user to add through an API.
#[derive(Debug, Clone, Default)]
pub struct ApiNewUser {
    pub username: String,
    pub contact: ContactInput,
    pub enabled: bool,
    /// `None`: the user gets no password (provisioned users often sign in elsewhere first, or
    /// set one through self-service reset).
    pub password: Option<String>,
    pub must_change_password: bool,
    /// The provisioning client's own id for the user.
    pub external_id: Option<String>,
}

/// A change to a user through an API: the whole contact form as it should be afterwards, and
/// optionally the sign-in state and a new password.
#[derive(Debug, Clone, Default)]
pub struct ApiUserChange {
    pub contact: ContactInput,
    pub enabled: Option<bool>,
    /// A new password and whether it must be changed at next sign-in.
    pub password: Option<(String, bool)>,
    /// A new `externalId` (`Some(None)` clears it); `None` keeps it.
    pub external_id: Option<Option<String>>,
    /// A new username, as sent; `None` keeps it.
    pub username: Option<String>,
}

impl Directory {
    /// One page of active users matching an API filter.
    pub async fn find_users(&self, actor: &Actor, mut find: UserFind) -> Result<Vec<FoundUser>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        find.limit = find.limit.clamp(1, MAX_FIND_LIMIT);
        Ok(self.store.find_users(&find).await?)
    }

    /// How many active users match an API filter.
    pub async fn count_found(&self, actor: &Actor, filter: Option<&UserFilter>) -> Result<u64, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        Ok(self.store.count_found(filter).await?)
    }

    /// Whether the user has a password set (an API lists it as a method).
    pub async fn has_password(&self, actor: &Actor, id: UserId) -> Result<bool, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        Ok(self.store.get_password_hash(id).await?.is_some())
    }

    /// An active user by id or by username, as APIs address them.
    pub async fn user_by_key(&self, actor: &Actor, key: &str) -> Result<User, DomainError> {
        let id = match key.parse::<UserId>() {
            Ok(id) => id,
            Err(_) => {
                let name = key.trim().to_lowercase();
                let credentials = self.store.get_credentials(&name).await?.ok_or(DomainError::NotFound("user"))?;
                credentials.user_id
            }
        };
        let user = self.get_user(actor, id).await?;
        if user.deleted_at.is_some() {
            return Err(DomainError::NotFound("user"));
        }
        Ok(user)
    }

    /// Adds a user with everything an API sends at once: every field is validated and every
    /// permission checked before the one write.
    pub async fn create_via_api(&self, actor: &Actor, input: ApiNewUser) -> Result<User, DomainError> {
        actor.require(Permission::CreateUser, RoleSet::NONE)?;
        let mut errors = Vec::new();
        let username = Username::parse(&input.username).map_err(|e| errors.push(e)).ok();
        let name = username.as_ref().map(Username::as_str).unwrap_or_default();
        let contact = self.check_contact(&input.contact, name, None).await?.map_err(|e| errors.extend(e)).ok();
        let external_id = external_id(input.external_id.as_deref()).map_err(|e| errors.push(e)).ok();
        let min_length = self.min_password_length().await?;
        if let (Some(password), Some(username)) = (&input.password, &username) {
            if let Err(e) = password::check_strength("password", password, username.as_str(), min_length) {
                errors.push(e);
            }
        }
        let (Some(username), Some(contact), Some(external_id), true) =
            (username, contact, external_id, errors.is_empty())
        else {
            return Err(DomainError::Invalid(errors));
        };
        let mut changes = ContactInfo::default().changes_from_empty(&contact);
        changes.extend(external_id_change(&None, &external_id));
        if changes.iter().any(|c| c.sensitive) {
            actor.require(Permission::EditRecoveryContacts, RoleSet::NONE)?;
        }
        let now = Timestamp::now();
        let user = User {
            id: UserId::random(),
            username,
            contact,
            roles: RoleSet::NONE,
            enabled: input.enabled,
            must_change_password: input.password.is_some() && input.must_change_password,
            created_at: now,
            updated_at: now,
            updated_by: actor.display_name.clone(),
            version: 1,
            deleted_at: None,
            external_id,
        };
        let hash = match input.password {
            Some(password) => Some(hash_off_thread(password).await?),
            None => None,
        };
        if !user.enabled {
            changes.push(bool_change("enabled", true, false));
        }
        let audit = actor.audit(AuditAction::UserCreated, Some(&user), changes);
        self.store.insert_user(&user, hash.as_deref(), &audit, &[]).await.map_err(|e| match e {
            StoreError::Duplicate(_) => DomainError::UsernameTaken(user.username.to_string()),
            other => other.into(),
        })?;
        Ok(user)
    }

    /// Applies `edit` to the user `key` (an id or a username) as stored: to the version
    /// `expected_version` names if given (a [`DomainError::VersionConflict`] when the user has
    /// moved on), else to the newest version. API changes to one user made by this process
    /// wait for each other; when a save from elsewhere comes in between, the user is read again
    /// and `edit` re-applied, so what `edit` leaves alone is never overwritten. When that has
    /// not succeeded within [`REAPPLY_FOR`] of the call, waiting in the queue included, the
    /// answer is [`DomainError::Contended`].
    pub async fn update_via_api<E: From<DomainError>>(
        &self,
        actor: &Actor,
        key: &str,
        expected_version: Option<i64>,
        edit: impl Fn(&User) -> Result<ApiUserChange, E>,
    ) -> Result<User, E> {
        let give_up_at = Instant::now() + REAPPLY_FOR;
        let id = self.user_by_key(actor, key).await?.id;
        let Ok(_queued) = tokio::time::timeout_at(give_up_at, self.api_writes.lock(id)).await else {
            return Err(DomainError::Contended.into());
        };
        let mut attempt: u32 = 0;
        loop {
            let user = self.get_active_user(actor, id).await?;
            if expected_version.is_some_and(|v| v != user.version) {
                return Err(version_conflict(&user).into());
            }
            let change = edit(&user)?;
            match self.change_via_api(actor, &user, &change).await {
                Err(DomainError::VersionConflict { .. }) if expected_version.is_none() => {
                    if Instant::now() >= give_up_at {
                        return Err(DomainError::Contended.into());
                    }
                    // Writers on other nodes retry too: a random pause keeps them from meeting again.
                    attempt = attempt.saturating_add(1);
                    let pause = Duration::from_millis(rand::thread_rng().gen_range(0..=5 * u64::from(attempt.min(20))));
                    tokio::time::sleep(pause).await;
                }
                result => return result.map_err(E::from),
            }
        }
    }

    /// Applies an API's change to `before`, the user as just read: contact fields and sign-in
    /// state in one save (refused if the user has moved on since), then the password, then the
    /// username. Everything is validated and every permission checked first, so a refused
    /// change writes nothing; only a name taken meanwhile can still refuse the last step.
    async fn change_via_api(&self, actor: &Actor, before: &User, change: &ApiUserChange) -> Result<User, DomainError> {
        let id = before.id;
        let mut errors = Vec::new();
        let username = match &change.username {
            Some(sent) => Username::parse(sent).map_err(|e| errors.push(e)).ok(),
            None => Some(before.username.clone()),
        };
        // Checked against the name the user will have: an alternate address may not be it.
        let name = username.as_ref().unwrap_or(&before.username).as_str();
        let contact = self.check_contact(&change.contact, name, Some(id)).await?.map_err(|e| errors.extend(e)).ok();
        let external_id = match &change.external_id {
            Some(sent) => external_id(sent.as_deref()).map_err(|e| errors.push(e)).ok(),
            None => Some(before.external_id.clone()),
        };
        if let Some((password, _)) = &change.password {
            let min_length = self.min_password_length().await?;
            if let Err(e) = password::check_strength("password", password, name, min_length) {
                errors.push(e);
            }
        }
        let (Some(contact), Some(external_id), Some(username), true) =
            (contact, external_id, username, errors.is_empty())
        else {
            return Err(DomainError::Invalid(errors));
        };
        if username != before.username {
            Self::may_rename(actor, before)?;
        }
        let mut changes = contact.changes_from(&before.contact);
        changes.extend(external_id_change(&before.external_id, &external_id));
        if changes.iter().any(|c| !c.sensitive) {
            actor.require(Permission::EditProfile, before.roles)?;
        }
        if changes.iter().any(|c| c.sensitive) {
            actor.require(Permission::EditRecoveryContacts, before.roles)?;
        }
        let enabled = change.enabled.unwrap_or(before.enabled);
        if enabled != before.enabled {
            actor.require(Permission::ManageAccountState, before.roles)?;
            if !enabled && actor.is(before) {
                return Err(DomainError::Forbidden("You can't block your own sign-in.".into()));
            }
            changes.push(bool_change("enabled", before.enabled, enabled));
        }
        if change.password.is_some() {
            actor.require(Permission::ResetPassword, before.roles)?;
        }
        let mut after = before.clone();
        if !changes.is_empty() {
            after = User { contact, enabled, external_id, ..actor.next_version(before) };
            let audit = actor.audit(AuditAction::ContactChanged, Some(&after), changes);
            let notices = notify::contact_changed(&after, &before.contact, &Occasion { actor, at: after.updated_at });
            self.save_with(before, &after, &audit, &notices).await?;
            if !enabled {
                self.end_sessions(&after).await;
            }
        }
        if let Some((password, must_change)) = &change.password {
            let hash = hash_off_thread(password.clone()).await?;
            let flag = bool_change("must_change_password", after.must_change_password, *must_change);
            let audit = actor.audit(AuditAction::PasswordReset, Some(&after), vec![flag]);
            let occasion = Occasion { actor, at: audit.at };
            let mut notices = notify::password_changed(&after, PasswordEvent::ResetByAdministrator, &occasion);
            notices.extend(self.tell_global_administrators(&after, &occasion).await?);
            self.store.set_password(id, &hash, *must_change, &audit, &notices).await?;
            self.queued(&notices);
            self.store.delete_user_sessions(id, None).await?;
            self.end_app_sign_ins(&after).await;
            after = self.store.get_user(id).await?.ok_or(DomainError::NotFound("user"))?;
        }
        // Last, as the one step a concurrent rename elsewhere can still refuse.
        self.rename(actor, &after, username).await
    }
}

/// The longest `externalId` kept: room for any client's identifier, a GUID or a DN.
pub const MAX_EXTERNAL_ID: usize = 256;

/// A provisioning client's id: kept exactly as sent (it is compared with case), without
/// control characters, blank meaning none.
fn external_id(sent: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(sent) = sent.filter(|s| !s.is_empty()) else { return Ok(None) };
    if sent.chars().count() > MAX_EXTERNAL_ID || sent.chars().any(char::is_control) || sent.trim() != sent {
        return Err(FieldError::new(
            "external_id",
            format!(
                "An external id must be at most {MAX_EXTERNAL_ID} characters, without control characters or \
                 spaces at either end."
            ),
        ));
    }
    Ok(Some(sent.to_string()))
}

fn external_id_change(before: &Option<String>, after: &Option<String>) -> Option<FieldChange> {
    (before != after).then(|| FieldChange {
        field: "external_id".into(),
        sensitive: false,
        before: before.clone(),
        after: after.clone(),
    })
}

fn version_conflict(user: &User) -> DomainError {
    DomainError::VersionConflict { changed_by: user.updated_by.clone(), changed_at: user.updated_at }
}
