//! Users changing their own recovery contacts on their Security info page.

use crate::audit::AuditAction;
use crate::contact::ValidationContext;
use crate::directory::{Actor, Directory};
use crate::error::{DomainError, FieldError};
use crate::notify::{self, Occasion};
use crate::recovery::MethodKind;
use crate::session::Session;
use crate::user::User;

impl Directory {
    /// Replaces (or, with `old`, removes and adds) one of the signed-in user's own contacts:
    /// `new` empty removes it. Needs a recent sign-in; the old and new contacts are both told.
    pub async fn change_own_contact(
        &self,
        actor: &Actor,
        session: &Session,
        kind: MethodKind,
        old: Option<&str>,
        new: &str,
    ) -> Result<User, DomainError> {
        Self::require_recent(session)?;
        let id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let before = self.get_active_user(actor, id).await?;
        let mut input = before.contact.to_input();
        match kind {
            MethodKind::AlternateEmail => {
                if let Some(old) = old {
                    input.alternate_emails.retain(|a| !a.eq_ignore_ascii_case(old));
                }
                if !new.trim().is_empty() {
                    input.alternate_emails.push(new.to_string());
                }
            }
            MethodKind::MobilePhone => input.mobile_phone = new.to_string(),
            MethodKind::AlternateMobilePhone => input.alternate_mobile_phone = new.to_string(),
            MethodKind::OfficePhone => input.office_phone = new.to_string(),
        }
        let region = self.region().await?;
        let contact =
            input.validate(ValidationContext { region, username: before.username.as_str() }).map_err(|errors| {
                // The page has one input: every problem is about it.
                DomainError::Invalid(errors.into_iter().map(|e| FieldError::new("value", e.message)).collect())
            })?;
        let changes = contact.changes_from(&before.contact);
        if changes.is_empty() {
            return Ok(before);
        }
        let after = User { contact, ..actor.next_version(&before) };
        let audit = actor.audit(AuditAction::ContactChanged, Some(&after), changes);
        let notices = notify::contact_changed(&after, &before.contact, &Occasion { actor, at: after.updated_at });
        self.save_with(&before, &after, &audit, &notices).await?;
        Ok(after)
    }
}
