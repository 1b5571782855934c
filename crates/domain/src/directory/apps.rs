//! Application registrations and the OAuth 2.0 client-credentials grant.

use secrecy::SecretString;
use uuid::Uuid;

use super::signin::window_start;
use super::{Actor, Directory};
use crate::apps::{
    App, AppPermission, AppPermissions, AppSecret, AppToken, DEFAULT_SECRET_DAYS, MAX_NAME_CHARS, MAX_SECRETS,
    SECRET_LIFETIMES_DAYS, TOKEN_LIFETIME_SECONDS,
};
use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::error::{DomainError, FieldError};
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::session::hash_token;
use crate::text;

/// Failed token requests allowed per client id in one throttling window.
const TOKEN_FAILURE_LIMIT: u32 = 10;

/// What an administrator fills in to register an application.
#[derive(Debug, Clone, Default)]
pub struct AppInput {
    pub name: String,
    /// Graph permission names, e.g. `User.Read.All`.
    pub permissions: Vec<String>,
}

/// An access token just issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Why a token request failed, in the terms of RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Unknown client, wrong or expired secret.
    InvalidClient,
    /// Too many failed requests for this client id: wait for the window to pass.
    Throttled,
}

impl Directory {
    /// Every registered application, by name.
    pub async fn list_apps(&self, actor: &Actor) -> Result<Vec<App>, DomainError> {
        actor.require(Permission::ManageApps, RoleSet::NONE)?;
        Ok(self.store.list_apps().await?)
    }

    /// One application with its client secrets (hashes and hints only).
    pub async fn app(&self, actor: &Actor, id: Uuid) -> Result<(App, Vec<AppSecret>), DomainError> {
        actor.require(Permission::ManageApps, RoleSet::NONE)?;
        let app = self.store.get_app(id).await?.ok_or(DomainError::NotFound("application"))?;
        let secrets = self.store.list_app_secrets(id).await?;
        Ok((app, secrets))
    }

    /// Registers an application with a first client secret of the default lifetime; returns
    /// the secret, which is never shown again.
    pub async fn register_app(
        &self,
        actor: &Actor,
        input: &AppInput,
    ) -> Result<(App, AppSecret, SecretString), DomainError> {
        actor.require(Permission::ManageApps, RoleSet::NONE)?;
        let mut errors = Vec::new();
        let name = text::required("name", "Name", &input.name, MAX_NAME_CHARS).map_err(|e| errors.push(e)).ok();
        let permissions = parse_permissions(&input.permissions).map_err(|e| errors.push(e)).ok();
        let (Some(name), Some(permissions)) = (name, permissions) else {
            return Err(DomainError::Invalid(errors));
        };
        let now = Timestamp::now();
        let app =
            App { id: Uuid::new_v4(), name, permissions, created_at: now, created_by: actor.display_name.clone() };
        let (secret, plain) = AppSecret::generate(app.id, "Created with the registration", DEFAULT_SECRET_DAYS, now);
        let changes = vec![
            app_change("application", None, Some(format!("{} ({})", app.name, app.id))),
            app_change("permissions", None, Some(permissions.display())),
            secret_change(None, Some(&secret)),
        ];
        let audit = actor.audit(AuditAction::AppChanged, None, changes);
        self.store.insert_app(&app, &secret, &audit).await?;
        Ok((app, secret, plain))
    }

    /// Replaces an application's permissions; tokens already issued carry the new ones at once
    /// on this node, and within [`FRESH_FOR`](super::FRESH_FOR) on others sharing the database.
    pub async fn set_app_permissions(
        &self,
        actor: &Actor,
        id: Uuid,
        permissions: &[String],
    ) -> Result<App, DomainError> {
        let (before, _) = self.app(actor, id).await?;
        let permissions = parse_permissions(permissions).map_err(|e| DomainError::Invalid(vec![e]))?;
        if permissions == before.permissions {
            return Ok(before);
        }
        let after = App { permissions, ..before.clone() };
        let changes = vec![
            app_change("application", Some(app_label(&before)), Some(app_label(&after))),
            app_change("permissions", Some(before.permissions.display()), Some(permissions.display())),
        ];
        let updated = self.store.update_app(&after, &actor.audit(AuditAction::AppChanged, None, changes)).await;
        self.tokens.clear();
        updated?;
        Ok(after)
    }

    /// Adds a client secret valid for `days` (one of [`SECRET_LIFETIMES_DAYS`]); returns it,
    /// shown only this once.
    pub async fn add_app_secret(
        &self,
        actor: &Actor,
        id: Uuid,
        description: &str,
        days: i64,
    ) -> Result<(AppSecret, SecretString), DomainError> {
        let (app, secrets) = self.app(actor, id).await?;
        let description = text::optional("description", "Description", description, 100)
            .map_err(|e| DomainError::Invalid(vec![e]))?
            .unwrap_or_else(|| "Client secret".into());
        if !SECRET_LIFETIMES_DAYS.contains(&days) {
            let choices: Vec<String> = SECRET_LIFETIMES_DAYS.iter().map(i64::to_string).collect();
            return Err(DomainError::invalid(
                "expires",
                format!("Choose how many days the secret lasts: {}.", choices.join(", ")),
            ));
        }
        let now = Timestamp::now();
        if secrets.iter().filter(|s| s.expires_at > now).count() >= MAX_SECRETS {
            return Err(DomainError::invalid(
                "expires",
                format!("An application can hold at most {MAX_SECRETS} valid secrets. Remove one first."),
            ));
        }
        let (secret, plain) = AppSecret::generate(app.id, &description, days, now);
        let changes = vec![app_change("application", Some(app_label(&app)), None), secret_change(None, Some(&secret))];
        self.store.insert_app_secret(&secret, &actor.audit(AuditAction::AppChanged, None, changes)).await?;
        Ok((secret, plain))
    }

    /// Removes a client secret and ends every token issued against it (on other nodes sharing
    /// the database, within [`FRESH_FOR`](super::FRESH_FOR)).
    pub async fn remove_app_secret(&self, actor: &Actor, id: Uuid, secret_id: Uuid) -> Result<(), DomainError> {
        let (app, secrets) = self.app(actor, id).await?;
        let secret = secrets.iter().find(|s| s.id == secret_id).ok_or(DomainError::NotFound("client secret"))?;
        let changes = vec![app_change("application", Some(app_label(&app)), None), secret_change(Some(secret), None)];
        let audit = actor.audit(AuditAction::AppChanged, None, changes);
        let deleted = self.store.delete_app_secret(id, secret_id, &audit).await;
        self.tokens.clear();
        if !deleted? {
            return Err(DomainError::NotFound("client secret"));
        }
        Ok(())
    }

    /// Removes an application with its secrets and tokens: its calls stop at once (on other
    /// nodes sharing the database, within [`FRESH_FOR`](super::FRESH_FOR)).
    pub async fn unregister_app(&self, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
        let (app, _) = self.app(actor, id).await?;
        let changes = vec![app_change("application", Some(app_label(&app)), None)];
        let deleted = self.store.delete_app(id, &actor.audit(AuditAction::AppChanged, None, changes)).await;
        self.tokens.clear();
        if !deleted? {
            return Err(DomainError::NotFound("application"));
        }
        Ok(())
    }

    /// The client-credentials grant: a short-lived access token for a client id and one of
    /// its valid secrets. Failures are counted per client id, so secrets cannot be guessed at
    /// speed.
    pub async fn issue_token(&self, client_id: &str, client_secret: &str) -> Result<IssuedToken, TokenRefusal> {
        let now = Timestamp::now();
        let key = format!("app-token:{}", client_id.trim().to_lowercase());
        let window = window_start(now);
        let internal = |_| TokenRefusal::InvalidClient;
        if self.store.get_counter(&key, window).await.map_err(internal)? >= TOKEN_FAILURE_LIMIT {
            return Err(TokenRefusal::Throttled);
        }
        let secret = match Uuid::parse_str(client_id.trim()) {
            Ok(app_id) => self
                .store
                .list_app_secrets(app_id)
                .await
                .map_err(internal)?
                .into_iter()
                .find(|s| s.accepts(client_secret, now)),
            Err(_) => None,
        };
        let Some(secret) = secret else {
            self.store.increment_counter(&key, window).await.map_err(internal)?;
            return Err(TokenRefusal::InvalidClient);
        };
        let (token, access_token) = AppToken::issue(&secret, now);
        self.store.insert_app_token(&token).await.map_err(internal)?;
        Ok(IssuedToken { access_token, expires_in: TOKEN_LIFETIME_SECONDS })
    }

    /// The application an access token belongs to, as an actor; `None` when the token is
    /// unknown, expired, or its application or secret was removed.
    pub async fn app_actor(
        &self,
        access_token: &str,
        client_ip: Option<String>,
        request_id: Option<String>,
    ) -> Result<Option<Actor>, DomainError> {
        let hash = hash_token(access_token);
        let found = match self.tokens.get(&hash) {
            Some(found) => found,
            None => {
                let read = std::time::Instant::now();
                let found = self.store.get_app_token(&hash).await?;
                self.tokens.put(hash, found.clone(), read);
                found
            }
        };
        let Some((token, app)) = found else {
            return Ok(None);
        };
        if token.expires_at <= Timestamp::now() {
            return Ok(None);
        }
        Ok(Some(Actor::app(&app, client_ip, request_id)))
    }

    /// Forgets access tokens that expired: they can no longer be used anyway.
    pub async fn trim_app_tokens(&self) -> Result<u64, DomainError> {
        Ok(self.store.trim_app_tokens(Timestamp::now()).await?)
    }
}

fn parse_permissions(names: &[String]) -> Result<AppPermissions, FieldError> {
    let mut chosen = Vec::new();
    for name in names.iter().filter(|n| !n.trim().is_empty()) {
        chosen.push(name.parse::<AppPermission>().map_err(|why| FieldError::new("permissions", why))?);
    }
    if chosen.is_empty() {
        return Err(FieldError::new("permissions", "Choose at least one permission."));
    }
    Ok(AppPermissions::of(&chosen))
}

fn app_label(app: &App) -> String {
    format!("{} ({})", app.name, app.id)
}

fn app_change(field: &str, before: Option<String>, after: Option<String>) -> FieldChange {
    FieldChange { field: field.into(), sensitive: true, before, after }
}

fn secret_change(before: Option<&AppSecret>, after: Option<&AppSecret>) -> FieldChange {
    let describe = |s: &AppSecret| format!("{} ({}…, expires {})", s.description, s.hint, s.expires_at.display());
    app_change("client secret", before.map(describe), after.map(describe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_required_and_named_on_their_field() {
        let err = parse_permissions(&[" ".into()]).unwrap_err();
        assert_eq!(err.field, "permissions");
        let err = parse_permissions(&["Mail.Send".into()]).unwrap_err();
        assert!(err.message.contains("Mail.Send"), "{}", err.message);
        let ok = parse_permissions(&["User.Read.All".into(), "user.read.all".into()]).unwrap();
        assert_eq!(ok, AppPermissions::of(&[AppPermission::UserReadAll]));
    }
}
