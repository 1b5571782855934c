//! Checking a contact form as the directory can: its manager is named by username or id and
//! must be another active user.

use super::Directory;
use crate::contact::{ContactInfo, ContactInput, ValidationContext};
use crate::error::{DomainError, FieldError};
use crate::user::{User, UserId};

impl Directory {
    /// Validates `input` for the user `username` (whose id is `own`, once they exist): every
    /// field as [`ContactInput::validate`] does, and the manager against the directory. A
    /// manager typed as a username is replaced by the id before validation.
    pub(crate) async fn check_contact(
        &self,
        input: &ContactInput,
        username: &str,
        own: Option<UserId>,
    ) -> Result<Result<ContactInfo, Vec<FieldError>>, DomainError> {
        let region = self.region().await?;
        let typed = input.manager.trim();
        let mut errors = Vec::new();
        let mut resolved = None;
        if !typed.is_empty() {
            match self.manager_id(typed).await? {
                Some(id) if Some(id) == own => {
                    errors.push(FieldError::new("manager", "A user can't be their own manager."));
                }
                Some(id) => resolved = Some(id),
                None => errors.push(FieldError::new(
                    "manager",
                    format!("No active user has the username or id '{typed}'. Enter the manager's username."),
                )),
            }
        }
        let mut input = input.clone();
        input.manager = resolved.map(|id| id.to_string()).unwrap_or_default();
        let checked = input.validate(ValidationContext { region, username });
        Ok(match checked {
            Ok(contact) if errors.is_empty() => Ok(contact),
            Ok(_) => Err(errors),
            Err(mut more) => {
                more.extend(errors);
                Err(more)
            }
        })
    }

    /// The active user a manager field names, by id or username.
    async fn manager_id(&self, typed: &str) -> Result<Option<UserId>, DomainError> {
        let id = match typed.parse::<UserId>() {
            Ok(id) => id,
            Err(_) => match self.store.get_credentials(&typed.to_lowercase()).await? {
                Some(credentials) => credentials.user_id,
                None => return Ok(None),
            },
        };
        let user = self.store.get_user(id).await?;
        Ok(user.filter(|u| u.deleted_at.is_none()).map(|u| u.id))
    }

    /// The contact form's input for `user`, with the manager shown by username.
    pub async fn contact_input(&self, user: &User) -> Result<ContactInput, DomainError> {
        let mut input = user.contact.to_input();
        if let Some(id) = user.contact.manager {
            if let Some(manager) = self.store.get_user(id).await? {
                input.manager = manager.username.to_string();
            }
        }
        Ok(input)
    }
}
