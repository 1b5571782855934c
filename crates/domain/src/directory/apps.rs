//! Application registrations and the OAuth 2.0 client-credentials grant.

use secrecy::SecretString;
use uuid::Uuid;

use super::signin::window_start;
use super::{Actor, ClientProof, Directory, GrantRefusal};
use crate::apps::{
    App, AppLogo, AppPermission, AppPermissions, AppSecret, AppToken, IssuedAgainst, DEFAULT_SECRET_DAYS,
    MAX_NAME_CHARS, MAX_SECRETS, SECRET_LIFETIMES_DAYS, TOKEN_LIFETIME_SECONDS,
};
use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::error::{DomainError, FieldError};
use crate::oidc::assertion::ClientKeys;
use crate::oidc::claims::{format_mappings, parse_mappings};
use crate::oidc::client::{check_home_page, check_redirect_uri, GroupsClaim, SignInSettings, MAX_REDIRECT_URIS};
use crate::oidc::keys::SigningAlg;
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
    /// Graph permission names, e.g. `User.Read.All`; none for an application that only signs
    /// people in.
    pub permissions: Vec<String>,
    pub sign_in: SignInInput,
}

/// What an administrator fills in to let an application sign people in through Roster.
#[derive(Debug, Clone, Default)]
pub struct SignInInput {
    /// Where Roster may send people back; none for an application that signs no one in.
    pub redirect_uris: Vec<String>,
    /// A single-page or native application, which holds no secret and must use PKCE.
    pub public_client: bool,
    /// `RS256` (when empty), `ES256` or `EdDSA`.
    pub id_token_alg: String,
    /// Where the application may send people after signing them out.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where My apps opens it; empty for none.
    pub home_page_url: String,
    /// Only the users and groups assigned may sign in.
    pub assignment_required: bool,
    /// Consent given for the whole organisation, so no one is asked.
    pub admin_consent: bool,
    /// `none` (when empty), `ids` or `names`: what the `groups` claim carries.
    pub groups_claim: String,
    /// A JSON Web Key Set of public keys, for a client that authenticates with signed
    /// assertions (`private_key_jwt`) instead of secrets; empty for secrets.
    pub jwks: String,
    /// Further claims, one per entry as `claim = attribute` (the attribute's Graph name).
    pub claim_mappings: Vec<String>,
    /// Each person gets a subject identifier of this application's own.
    pub pairwise_subject: bool,
    /// Where Roster posts logout tokens when a person's sign-in ends; empty for none.
    pub backchannel_logout_uri: String,
}

/// An access token just issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Why a client secret was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
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

    /// Registers an application, with a first client secret of the default lifetime unless it
    /// holds none (a public client, or one that proves itself with its keys); returns the
    /// secret, which is never shown again.
    pub async fn register_app(
        &self,
        actor: &Actor,
        input: &AppInput,
    ) -> Result<(App, Option<(AppSecret, SecretString)>), DomainError> {
        actor.require(Permission::ManageApps, RoleSet::NONE)?;
        let mut errors = Vec::new();
        let name = text::required("name", "Name", &input.name, MAX_NAME_CHARS).map_err(|e| errors.push(e)).ok();
        let sign_in = parse_sign_in(&input.sign_in).map_err(|e| errors.extend(e)).ok();
        let signs_in = sign_in.as_ref().is_some_and(|s| !s.redirect_uris.is_empty());
        let permissions = parse_permissions(&input.permissions, signs_in).map_err(|e| errors.push(e)).ok();
        let (Some(name), Some(permissions), Some(sign_in)) = (name, permissions, sign_in) else {
            return Err(DomainError::Invalid(errors));
        };
        let now = Timestamp::now();
        let app = App {
            id: Uuid::new_v4(),
            name,
            permissions,
            created_at: now,
            created_by: actor.display_name.clone(),
            sign_in,
            logo_updated_at: None,
        };
        let holds_secret = !app.sign_in.public_client && app.sign_in.client_keys.is_none();
        let secret = holds_secret
            .then(|| AppSecret::generate(app.id, "Created with the registration", DEFAULT_SECRET_DAYS, now));
        let changes = vec![
            app_change("application", None, Some(format!("{} ({})", app.name, app.id))),
            app_change("permissions", None, Some(permissions.display())),
        ]
        .into_iter()
        .chain(secret.as_ref().map(|(secret, _)| secret_change(None, Some(secret))))
        .chain(sign_in_changes(&SignInSettings::default(), &app.sign_in))
        .collect();
        let audit = actor.audit(AuditAction::AppChanged, None, changes);
        let inserted = self.store.insert_app(&app, secret.as_ref().map(|(s, _)| s), &audit).await;
        self.apps_changed();
        inserted?;
        Ok((app, secret))
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
        let signs_in = !before.sign_in.redirect_uris.is_empty();
        let permissions = parse_permissions(permissions, signs_in).map_err(|e| DomainError::Invalid(vec![e]))?;
        if permissions == before.permissions {
            return Ok(before);
        }
        let after = App { permissions, ..before.clone() };
        let changes = vec![
            app_change("application", Some(app_label(&before)), Some(app_label(&after))),
            app_change("permissions", Some(before.permissions.display()), Some(permissions.display())),
        ];
        let updated = self.store.update_app(&after, &actor.audit(AuditAction::AppChanged, None, changes)).await;
        self.apps_changed();
        updated?;
        Ok(after)
    }

    /// Replaces how an application signs people in; codes and tokens already issued stay valid.
    pub async fn set_app_sign_in(&self, actor: &Actor, id: Uuid, input: &SignInInput) -> Result<App, DomainError> {
        let (before, _) = self.app(actor, id).await?;
        let sign_in = parse_sign_in(input).map_err(DomainError::Invalid)?;
        if sign_in.redirect_uris.is_empty() && before.permissions.is_empty() {
            return Err(DomainError::invalid(
                "redirect_uris",
                "An application without permissions needs a redirect URI: it would do nothing at all.",
            ));
        }
        let changes = sign_in_changes(&before.sign_in, &sign_in);
        if changes.is_empty() {
            return Ok(before);
        }
        let after = App { sign_in, ..before.clone() };
        let changes = std::iter::once(app_change("application", Some(app_label(&before)), Some(app_label(&after))))
            .chain(changes)
            .collect();
        let updated = self.store.update_app(&after, &actor.audit(AuditAction::AppChanged, None, changes)).await;
        self.apps_changed();
        updated?;
        Ok(after)
    }

    /// Replaces an application's logo on My apps (`None` removes it).
    pub async fn set_app_logo(&self, actor: &Actor, id: Uuid, logo: Option<Vec<u8>>) -> Result<(), DomainError> {
        let (app, _) = self.app(actor, id).await?;
        let logo = logo.map(AppLogo::check).transpose().map_err(|why| DomainError::invalid("logo", why))?;
        let (before, after) = match &logo {
            Some(logo) => (
                app.logo_updated_at.map(|_| "a logo".to_string()),
                Some(format!("{} of {} bytes", logo.content_type, logo.bytes.len())),
            ),
            None if app.logo_updated_at.is_none() => return Ok(()),
            None => (Some("a logo".to_string()), None),
        };
        let changes = vec![app_change("application", Some(app_label(&app)), None), app_change("logo", before, after)];
        let audit = actor.audit(AuditAction::AppChanged, None, changes);
        let saved = self.store.set_app_logo(id, logo.as_ref(), Timestamp::now(), &audit).await;
        self.apps_changed();
        Ok(saved?)
    }

    /// An application's logo, for anyone signed in (My apps shows it).
    pub async fn app_logo(&self, id: Uuid) -> Result<AppLogo, DomainError> {
        self.store.get_app_logo(id).await?.ok_or(DomainError::NotFound("logo"))
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
        let inserted =
            self.store.insert_app_secret(&secret, &actor.audit(AuditAction::AppChanged, None, changes)).await;
        self.apps_changed();
        inserted?;
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
        self.apps_changed();
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
        self.apps_changed();
        if !deleted? {
            return Err(DomainError::NotFound("application"));
        }
        Ok(())
    }

    /// The client-credentials grant: a short-lived access token for a confidential client that
    /// proves itself with one of its valid secrets or an assertion signed with one of its keys.
    /// Failed secrets are counted per client id, so secrets cannot be guessed at speed.
    pub async fn issue_token(
        &self,
        client_id: &str,
        proof: ClientProof<'_>,
        issuer: &str,
    ) -> Result<IssuedToken, GrantRefusal> {
        let (app, secret) = self.authenticated_client(client_id, proof, issuer).await?;
        let against = match (&secret, &app.sign_in.client_keys) {
            (Some(secret), _) => IssuedAgainst::Secret(secret),
            (None, Some(keys)) => IssuedAgainst::Keys(keys),
            (None, None) => return Err(GrantRefusal::UnauthorizedClient),
        };
        let (token, access_token) = AppToken::issue(app.id, against, Timestamp::now());
        self.store.insert_app_token(&token).await.map_err(|_| GrantRefusal::InvalidClient)?;
        Ok(IssuedToken { access_token, expires_in: TOKEN_LIFETIME_SECONDS })
    }

    /// The client secret of `client_id` that `client_secret` is, counting failures per client
    /// id so that secrets cannot be guessed.
    pub(crate) async fn check_client_secret(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<AppSecret, TokenRefusal> {
        let now = Timestamp::now();
        let key = format!("app-token:{}", client_id.trim().to_lowercase());
        let window = window_start(now);
        let internal = |_| TokenRefusal::InvalidClient;
        let remembered = (key.clone(), window);
        let failures = match self.client_failures.get(&remembered) {
            Some(failures) => failures,
            None => {
                let read = std::time::Instant::now();
                let failures = self.store.get_counter(&key, window).await.map_err(internal)?;
                self.client_failures.put(remembered.clone(), failures, read);
                failures
            }
        };
        if failures >= TOKEN_FAILURE_LIMIT {
            return Err(TokenRefusal::Throttled);
        }
        let secret = match Uuid::parse_str(client_id.trim()) {
            Ok(app_id) => self
                .client(app_id)
                .await
                .map_err(|_| TokenRefusal::InvalidClient)?
                // A client that proves itself with keys, or holds no secret, is never let in by one.
                .filter(|(app, _)| app.sign_in.client_keys.is_none() && !app.sign_in.public_client)
                .and_then(|(_, secrets)| secrets.into_iter().find(|s| s.accepts(client_secret, now))),
            Err(_) => None,
        };
        let Some(secret) = secret else {
            let read = std::time::Instant::now();
            let failures = self.store.increment_counter(&key, window).await.map_err(internal)?;
            self.client_failures.put(remembered, failures, read);
            return Err(TokenRefusal::InvalidClient);
        };
        Ok(secret)
    }

    /// An application with its client secrets, as the token endpoints check them: read again
    /// after [`FRESH_FOR`](super::FRESH_FOR), or at once after a change made here.
    pub(crate) async fn client(&self, id: Uuid) -> Result<Option<(App, Vec<AppSecret>)>, DomainError> {
        if let Some(found) = self.clients.get(&id) {
            return Ok(found);
        }
        let read = std::time::Instant::now();
        let found = match self.store.get_app(id).await? {
            Some(app) => Some((app, self.store.list_app_secrets(id).await?)),
            None => None,
        };
        self.clients.put(id, found.clone(), read);
        Ok(found)
    }

    /// Forgets what this node remembers of applications, after a change to one.
    fn apps_changed(&self) {
        self.tokens.clear();
        self.clients.clear();
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
        match found {
            Some((token, app)) if token.holds_for(&app, Timestamp::now()) => {
                Ok(Some(Actor::app(&app, client_ip, request_id)))
            }
            _ => Ok(None),
        }
    }

    /// Forgets access tokens that expired: they can no longer be used anyway.
    pub async fn trim_app_tokens(&self) -> Result<u64, DomainError> {
        Ok(self.store.trim_app_tokens(Timestamp::now()).await?)
    }
}

/// Checks sign-in settings, naming every wrong redirect URI.
fn parse_sign_in(input: &SignInInput) -> Result<SignInSettings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut uris = |field: &str, given: &[String]| {
        let mut checked: Vec<String> = Vec::new();
        for uri in given.iter().filter(|u| !u.trim().is_empty()) {
            match check_redirect_uri(uri) {
                Ok(uri) if !checked.contains(&uri) => checked.push(uri),
                Ok(_) => {}
                Err(why) => errors.push(FieldError::new(field, why)),
            }
        }
        if checked.len() > MAX_REDIRECT_URIS {
            errors.push(FieldError::new(field, format!("Register at most {MAX_REDIRECT_URIS} addresses.")));
        }
        checked
    };
    let redirect_uris = uris("redirect_uris", &input.redirect_uris);
    let post_logout_redirect_uris = uris("post_logout_redirect_uris", &input.post_logout_redirect_uris);
    let id_token_alg = match input.id_token_alg.trim() {
        "" => SigningAlg::default(),
        name => name.parse().map_err(|why| errors.push(FieldError::new("id_token_alg", why))).unwrap_or_default(),
    };
    let groups_claim = match input.groups_claim.trim() {
        "" => GroupsClaim::default(),
        name => name.parse().map_err(|why| errors.push(FieldError::new("groups_claim", why))).unwrap_or_default(),
    };
    let client_keys = match input.jwks.trim() {
        "" => None,
        _ if input.public_client => {
            errors.push(FieldError::new(
                "jwks",
                "A public client holds no keys: make it confidential, or remove the keys.",
            ));
            None
        }
        text => ClientKeys::parse(text).map_err(|why| errors.push(FieldError::new("jwks", why))).ok(),
    };
    let claim_mappings = parse_mappings(input.claim_mappings.iter().map(String::as_str))
        .map_err(|why| errors.push(FieldError::new("claim_mappings", why)))
        .unwrap_or_default();
    let backchannel_logout_uri = match input.backchannel_logout_uri.trim() {
        "" => None,
        uri => check_redirect_uri(uri).map_err(|why| errors.push(FieldError::new("backchannel_logout_uri", why))).ok(),
    };
    let home_page_url = match input.home_page_url.trim() {
        "" => None,
        url => check_home_page(url).map_err(|why| errors.push(FieldError::new("home_page_url", why))).ok(),
    };
    if errors.is_empty() {
        Ok(SignInSettings {
            redirect_uris,
            post_logout_redirect_uris,
            public_client: input.public_client,
            client_keys,
            id_token_alg,
            home_page_url,
            assignment_required: input.assignment_required,
            admin_consent: input.admin_consent,
            groups_claim,
            claim_mappings,
            pairwise_subject: input.pairwise_subject,
            backchannel_logout_uri,
        })
    } else {
        Err(errors)
    }
}

/// Audit lines for a change of sign-in settings.
fn sign_in_changes(before: &SignInSettings, after: &SignInSettings) -> Vec<FieldChange> {
    let uris = |s: &SignInSettings| Some(s.redirect_uris.join(" ")).filter(|u| !u.is_empty());
    let logout_uris = |s: &SignInSettings| Some(s.post_logout_redirect_uris.join(" ")).filter(|u| !u.is_empty());
    let kind = |s: &SignInSettings| {
        Some(match (&s.client_keys, s.public_client) {
            (_, true) => "public".to_string(),
            (Some(keys), false) => format!("confidential, signed assertions with the keys {}", keys.as_json()),
            (None, false) => "confidential, client secrets".to_string(),
        })
    };
    let alg = |s: &SignInSettings| Some(s.id_token_alg.to_string());
    let subject = |s: &SignInSettings| Some(if s.pairwise_subject { "pairwise" } else { "public" }.to_string());
    let claims =
        |s: &SignInSettings| Some(format_mappings(&s.claim_mappings).replace('\n', "; ")).filter(|c| !c.is_empty());
    let yes_no = |on: bool| Some(if on { "yes" } else { "no" }.to_string());
    [
        ("redirect URIs", uris(before), uris(after)),
        ("sign-out redirect URIs", logout_uris(before), logout_uris(after)),
        ("client type", kind(before), kind(after)),
        ("ID token algorithm", alg(before), alg(after)),
        ("home page", before.home_page_url.clone(), after.home_page_url.clone()),
        ("assignment required", yes_no(before.assignment_required), yes_no(after.assignment_required)),
        ("consent for the organisation", yes_no(before.admin_consent), yes_no(after.admin_consent)),
        ("groups claim", Some(before.groups_claim.name().into()), Some(after.groups_claim.name().into())),
        ("claims", claims(before), claims(after)),
        ("subject identifier", subject(before), subject(after)),
        ("back-channel logout URI", before.backchannel_logout_uri.clone(), after.backchannel_logout_uri.clone()),
    ]
    .into_iter()
    .filter(|(_, b, a)| b != a)
    .map(|(field, b, a)| app_change(field, b, a))
    .collect()
}

fn parse_permissions(names: &[String], none_allowed: bool) -> Result<AppPermissions, FieldError> {
    let mut chosen = Vec::new();
    for name in names.iter().filter(|n| !n.trim().is_empty()) {
        chosen.push(name.parse::<AppPermission>().map_err(|why| FieldError::new("permissions", why))?);
    }
    if chosen.is_empty() && !none_allowed {
        return Err(FieldError::new(
            "permissions",
            "Choose at least one permission. (An application that only signs people in needs a redirect URI instead.)",
        ));
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
        let err = parse_permissions(&[" ".into()], false).unwrap_err();
        assert_eq!(err.field, "permissions");
        assert_eq!(parse_permissions(&[" ".into()], true), Ok(AppPermissions::NONE));
        let err = parse_permissions(&["Mail.Send".into()], true).unwrap_err();
        assert!(err.message.contains("Mail.Send"), "{}", err.message);
        let ok = parse_permissions(&["User.Read.All".into(), "user.read.all".into()], false).unwrap();
        assert_eq!(ok, AppPermissions::of(&[AppPermission::UserReadAll]));
    }

    #[test]
    fn sign_in_settings_name_every_wrong_field_and_drop_repeats() {
        let input = SignInInput {
            redirect_uris: vec!["https://a.example/cb".into(), " ".into(), "https://a.example/cb".into()],
            public_client: true,
            id_token_alg: String::new(),
            home_page_url: "https://a.example/".into(),
            ..SignInInput::default()
        };
        let settings = parse_sign_in(&input).unwrap();
        assert_eq!(settings.redirect_uris, vec!["https://a.example/cb".to_string()]);
        assert_eq!(settings.id_token_alg, SigningAlg::Rs256);
        let bad = SignInInput {
            redirect_uris: vec!["http://a.example/cb".into(), "ftp://x/y".into()],
            public_client: false,
            id_token_alg: "HS256".into(),
            home_page_url: "a.example".into(),
            ..SignInInput::default()
        };
        let errors = parse_sign_in(&bad).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["redirect_uris", "redirect_uris", "id_token_alg", "home_page_url"]);
        let changes = sign_in_changes(&SignInSettings::default(), &settings);
        let changed: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(changed, ["redirect URIs", "client type", "home page"]);
    }
}
