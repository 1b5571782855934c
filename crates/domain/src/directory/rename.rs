//! Renaming a user: a new username, with the old one kept as an alias for a while, so that the
//! user can still sign in and reset their password with the name they know.

use super::{Actor, Directory};
use crate::audit::{AuditAction, AuditEntry, FieldChange};
use crate::clock::Timestamp;
use crate::error::{DomainError, StoreError};
use crate::notify::{self, Occasion};
use crate::outbox::Message;
use crate::permission::Permission;
use crate::user::{User, UserId, Username};

/// How long a former username keeps signing its user in, as Microsoft 365 keeps a renamed
/// user's old address working as an alias.
pub const ALIAS_DAYS: i64 = 30;

/// What renaming a user writes besides the user: its audit record, how long the old name stays
/// an alias, and the notices to the old and new addresses.
pub(crate) struct Renaming {
    pub audit: AuditEntry,
    pub alias_until: Timestamp,
    pub notices: Vec<Message>,
}

impl Directory {
    /// Gives the user `id`, still at `expected_version`, the username `new`.
    pub async fn rename_user(
        &self,
        actor: &Actor,
        id: UserId,
        expected_version: i64,
        new: &str,
    ) -> Result<User, DomainError> {
        let before = self.get_active_user(actor, id).await?;
        let username = Username::parse(new).map_err(|e| DomainError::Invalid(vec![e]))?;
        if before.version != expected_version {
            return Err(DomainError::VersionConflict {
                changed_by: before.updated_by.clone(),
                changed_at: before.updated_at,
            });
        }
        self.rename(actor, &before, username).await
    }

    /// Checks that `actor` may rename `user` (the rights to change both their profile and their
    /// account state: the name is what they sign in with).
    pub(crate) fn may_rename(actor: &Actor, user: &User) -> Result<(), DomainError> {
        actor.require(Permission::EditProfile, user.roles)?;
        actor.require(Permission::ManageAccountState, user.roles)?;
        Ok(())
    }

    /// Renames `before`, the user as just read; the same name changes nothing.
    pub(crate) async fn rename(&self, actor: &Actor, before: &User, username: Username) -> Result<User, DomainError> {
        if username == before.username {
            return Ok(before.clone());
        }
        Self::may_rename(actor, before)?;
        let after = User { username, ..actor.next_version(before) };
        let Renaming { audit, alias_until, notices } = Self::renaming(actor, before, &after);
        self.store.rename_user(before, &after, alias_until, &audit, &notices).await.map_err(|e| match e {
            StoreError::Duplicate(_) => DomainError::UsernameTaken(after.username.to_string()),
            StoreError::VersionConflict { changed_by, changed_at } => {
                DomainError::VersionConflict { changed_by, changed_at }
            }
            StoreError::NotFound => DomainError::NotFound("user"),
            other => other.into(),
        })?;
        self.queued(&notices);
        Ok(after)
    }

    /// The audit record, alias and notices of `actor` renaming `before` to `after`.
    pub(crate) fn renaming(actor: &Actor, before: &User, after: &User) -> Renaming {
        let old = before.username.as_str();
        let change = FieldChange {
            field: "username".into(),
            sensitive: true,
            before: Some(old.to_string()),
            after: Some(after.username.to_string()),
        };
        let audit = actor.audit(AuditAction::UserRenamed, Some(after), vec![change]);
        let alias_until = Timestamp(after.updated_at.millis() + ALIAS_DAYS * 86_400_000);
        let notices = notify::renamed(after, old, alias_until, &Occasion { actor, at: after.updated_at });
        Renaming { audit, alias_until, notices }
    }

    /// A user's former usernames that still sign them in, with when each stops.
    pub async fn aliases_of(&self, actor: &Actor, id: UserId) -> Result<Vec<(String, Timestamp)>, DomainError> {
        actor.require(Permission::ViewAdminCenter, crate::role::RoleSet::NONE)?;
        Ok(self.store.aliases_of(id).await?)
    }
}
