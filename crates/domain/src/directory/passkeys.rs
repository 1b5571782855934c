//! Passkeys: registering one on Security info, using one as the second step or to sign in
//! without a password, and removing one (by its owner, or by an administrator for a lost
//! device). Every ceremony's state lives in the database, so any node finishes it.

use std::sync::Arc;

use uuid::Uuid;
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};

use super::mfa::SignedIn;
use super::signin::SignInOutcome;
use super::{Actor, Directory};
use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::error::{DomainError, StoreError};
use crate::notify::{self, Occasion};
use crate::oidc::grant::AuthMethods;
use crate::passkey::{self, Ceremony, CeremonyKind, PasskeyPolicy, StoredPasskey, CEREMONY_SECONDS, MAX_PER_USER};
use crate::permission::Permission;
use crate::session::{self, random_token, Session};
use crate::user::{User, UserId};

/// The relying party for the public URL `public_url`: its host is the RP id, which browsers
/// refuse when it is an IP address, so a server reached by address offers no passkeys.
pub(super) fn relying_party(public_url: &str) -> Option<Arc<Webauthn>> {
    let origin = url::Url::parse(public_url).ok()?;
    let host = origin.domain()?.to_string();
    let webauthn = WebauthnBuilder::new(&host, &origin).ok()?.rp_name("Roster").build().ok()?;
    Some(Arc::new(webauthn))
}

fn unavailable() -> DomainError {
    DomainError::Forbidden(
        "Passkeys need Roster's public URL to name a host, such as https://id.contoso.com, not an IP address.".into(),
    )
}

fn expired_ceremony() -> DomainError {
    DomainError::invalid("passkey", "The passkey request expired or was used already. Try again.")
}

fn not_accepted() -> DomainError {
    DomainError::invalid("passkey", "That passkey wasn't accepted. Try again, or use another way to sign in.")
}

fn serialise<T: serde::Serialize>(value: &T) -> Result<String, DomainError> {
    serde_json::to_string(value).map_err(|e| DomainError::Internal(format!("ceremony state: {e}")))
}

/// Refuses a new passkey when the account has as many as it may.
fn check_room(registered: usize) -> Result<(), DomainError> {
    if registered >= MAX_PER_USER {
        return Err(DomainError::invalid(
            "name",
            format!("You have {MAX_PER_USER} passkeys, the most an account may have. Remove one first."),
        ));
    }
    Ok(())
}

/// How many sign-in ceremonies one client address may start in a throttling window: the
/// sign-in page starts one for its autofill at every load, so this is many loads, but a
/// bounded number of rows for anyone who is not signed in.
const SIGN_IN_CEREMONIES_PER_ADDRESS: u32 = 200;

/// A ceremony's options for the browser, and the token its page sends back to finish it.
#[derive(Debug, Clone)]
pub struct PasskeyChallenge {
    pub token: String,
    /// `navigator.credentials` options as JSON (`{"publicKey": …}`).
    pub options: String,
}

/// Every setting the passkey policy is stored under.
const POLICY_SETTINGS: [&str; 5] = [
    passkey::SETTING_ALLOWED,
    passkey::SETTING_ALLOWED_GROUPS,
    passkey::SETTING_REQUIRED,
    passkey::SETTING_REQUIRED_GROUPS,
    passkey::SETTING_ADMINS_REQUIRED,
];

/// Where one person stands under the passkey policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyStanding {
    /// They may register and use passkeys (and this server can offer them).
    pub allowed: bool,
    /// Their second step must be a passkey.
    pub required: bool,
}

fn not_allowed() -> DomainError {
    DomainError::Forbidden("Your organisation doesn't let you use passkeys. Ask your administrator.".into())
}

impl Directory {
    /// The organisation's passkey policy.
    pub async fn passkey_policy(&self) -> Result<PasskeyPolicy, DomainError> {
        let stored = self.settings_of(&POLICY_SETTINGS).await?;
        Ok(PasskeyPolicy::from_settings(|key| stored.get(key).cloned()))
    }

    /// Changes the passkey policy (Global Administrators only).
    pub async fn set_passkey_policy(&self, actor: &Actor, policy: PasskeyPolicy) -> Result<(), DomainError> {
        actor.require(Permission::ManageSettings, crate::role::RoleSet::NONE)?;
        let mut errors = Vec::new();
        for (field, scope) in
            [("passkey_allowed_groups", &policy.allowed), ("passkey_required_groups", &policy.required)]
        {
            if let crate::group::Scope::Groups(groups) = scope {
                if let Err(e) = self.check_policy_groups(field, groups).await {
                    errors.push(e);
                }
            }
        }
        errors.extend(policy.check().err());
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let before = self.passkey_policy().await?;
        let groups = [passkey::SETTING_ALLOWED_GROUPS, passkey::SETTING_REQUIRED_GROUPS];
        self.save_policy_settings(actor, before.settings(), policy.settings(), &groups).await
    }

    /// Whether `user` may use passkeys, and whether their second step must be one.
    pub async fn passkey_standing(&self, user: &User) -> Result<PasskeyStanding, DomainError> {
        if !self.passkeys_available() {
            return Ok(PasskeyStanding { allowed: false, required: false });
        }
        let policy = self.passkey_policy().await?;
        let allowed = self.in_scope(user, &policy.allowed).await?;
        let required = policy.requires(allowed, user.roles.is_admin(), self.in_scope(user, &policy.required).await?);
        Ok(PasskeyStanding { allowed, required })
    }

    /// Refuses a passkey ceremony for someone the policy does not let use passkeys.
    async fn require_allowed(&self, user: &User) -> Result<(), DomainError> {
        match self.passkey_standing(user).await?.allowed {
            true => Ok(()),
            false => Err(not_allowed()),
        }
    }

    fn webauthn(&self) -> Result<&Webauthn, DomainError> {
        self.webauthn.as_deref().ok_or_else(unavailable)
    }

    /// Whether this server can offer passkeys (its public URL names a host).
    pub fn passkeys_available(&self) -> bool {
        self.webauthn.is_some()
    }

    async fn start_ceremony(
        &self,
        kind: CeremonyKind,
        user_id: Option<UserId>,
        state: String,
        options: String,
    ) -> Result<PasskeyChallenge, DomainError> {
        let token = random_token();
        let ceremony = Ceremony {
            token_hash: session::hash_token(&token),
            kind,
            user_id,
            state,
            expires_at: Timestamp::now().plus_seconds(CEREMONY_SECONDS),
        };
        self.store.save_ceremony(&ceremony).await?;
        Ok(PasskeyChallenge { token, options })
    }

    /// The ceremony `token` names, once, if it is of `kind`, for `user_id`, and not expired.
    async fn finish_ceremony(
        &self,
        token: &str,
        kind: CeremonyKind,
        user_id: Option<UserId>,
    ) -> Result<String, DomainError> {
        let ceremony = self.store.take_ceremony(&session::hash_token(token)).await?.ok_or_else(expired_ceremony)?;
        if ceremony.kind != kind || ceremony.user_id != user_id || ceremony.expires_at <= Timestamp::now() {
            return Err(expired_ceremony());
        }
        Ok(ceremony.state)
    }

    /// The signed-in user's passkeys.
    pub async fn my_passkeys(&self, actor: &Actor) -> Result<Vec<StoredPasskey>, DomainError> {
        let user = self.me(actor).await?;
        Ok(self.store.list_passkeys(user.id).await?)
    }

    /// Starts registering a passkey named `name` for the signed-in user (after a recent
    /// sign-in). Whatever could refuse it is checked now, before the authenticator makes a
    /// credential that would otherwise be left on the device unregistered.
    pub async fn begin_passkey_registration(
        &self,
        actor: &Actor,
        session: &Session,
        name: &str,
    ) -> Result<PasskeyChallenge, DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        self.start_registration(&user, name).await
    }

    /// Finishes registering: checks what the browser returned against the ceremony, names the
    /// passkey, stores it, audits, and tells the user.
    pub async fn finish_passkey_registration(
        &self,
        actor: &Actor,
        session: &Session,
        token: &str,
        name: &str,
        credential: &str,
    ) -> Result<StoredPasskey, DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        self.register(actor, &user, token, name, credential).await
    }

    /// Starts adding a passkey at "Keep your account secure": the sign-in `token` parked has
    /// its password right and no second factor yet.
    pub async fn begin_passkey_enrolment(
        &self,
        token: &str,
        csrf: &str,
        name: &str,
    ) -> Result<PasskeyChallenge, DomainError> {
        let (_, user) = self.load_pending(token, Some(csrf)).await?;
        self.start_registration(&user, name).await
    }

    /// Finishes adding a passkey at "Keep your account secure", and with it the sign-in: the
    /// password and a new passkey that verified its user are the two factors.
    pub async fn finish_passkey_enrolment(
        &self,
        token: &str,
        csrf: &str,
        ceremony: &str,
        name: &str,
        credential: &str,
        client: &Actor,
    ) -> Result<SignedIn, DomainError> {
        let (pending, user) = self.load_pending(token, Some(csrf)).await?;
        let ip = client.client_ip.as_deref().unwrap_or("unknown");
        let method = "Password and passkey, added at sign-in";
        self.count_second_step(&user, client).await?;
        let actor = Actor::user(&user, client.client_ip.clone(), client.request_id.clone());
        let stored = match self.register(&actor, &user, ceremony, name, credential).await {
            Ok(stored) => stored,
            Err(e) => {
                let detail = "Second step: the new passkey was not accepted";
                self.log_sign_in(user.username.as_str(), Some(user.id), method, detail, ip).await?;
                return Err(e);
            }
        };
        self.store.reset_counter(&format!("second-step-wrong:{}", user.id)).await?;
        self.log_sign_in(user.username.as_str(), Some(user.id), method, "", ip).await?;
        self.open_after_second_step(&pending, user, Vec::new(), stored.amr()).await
    }

    async fn start_registration(&self, user: &User, name: &str) -> Result<PasskeyChallenge, DomainError> {
        self.require_allowed(user).await?;
        passkey::checked_name(name, None).map_err(|e| DomainError::Invalid(vec![e]))?;
        let existing = self.store.list_passkeys(user.id).await?;
        check_room(existing.len())?;
        let exclude = existing.iter().map(|p| p.passkey.cred_id().clone()).collect();
        let (mut options, state) = self
            .webauthn()?
            .start_passkey_registration(user.id.0, user.username.as_str(), &user.contact.display_name, Some(exclude))
            .map_err(|e| DomainError::Internal(format!("passkey registration: {e}")))?;
        // Asking for a discoverable credential (without requiring one) lets the passkey sign
        // in without a username; the library checks nothing about it.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(webauthn_rs_core::proto::ResidentKeyRequirement::Preferred);
        }
        let options = serialise(&options)?;
        self.start_ceremony(CeremonyKind::Registration, Some(user.id), serialise(&state)?, options).await
    }

    /// Checks a registration against its ceremony, names the passkey, stores it with its audit
    /// record, and tells the user.
    async fn register(
        &self,
        actor: &Actor,
        user: &User,
        token: &str,
        name: &str,
        credential: &str,
    ) -> Result<StoredPasskey, DomainError> {
        let state = self.finish_ceremony(token, CeremonyKind::Registration, Some(user.id)).await?;
        self.require_allowed(user).await?;
        let state: PasskeyRegistration = serde_json::from_str(&state).map_err(|_| expired_ceremony())?;
        let sent: serde_json::Value = serde_json::from_str(credential).map_err(|_| not_accepted())?;
        let response: RegisterPublicKeyCredential = serde_json::from_value(sent.clone()).map_err(|_| not_accepted())?;
        let registered = self.webauthn()?.finish_passkey_registration(&response, &state).map_err(|_| not_accepted())?;
        let aaguid = passkey::aaguid_of(&sent, &response);
        let name = passkey::checked_name(name, aaguid).map_err(|e| DomainError::Invalid(vec![e]))?;
        check_room(self.store.list_passkeys(user.id).await?.len())?;
        let backup_eligible = Credential::from(registered.clone()).backup_eligible;
        let stored = StoredPasskey {
            id: Uuid::new_v4(),
            user_id: user.id,
            credential_id: passkey::credential_id(&registered),
            name,
            aaguid,
            backup_eligible,
            passkey: registered,
            created_at: Timestamp::now(),
            last_used_at: None,
        };
        let notices = notify::security_event(
            user,
            "A passkey was added to your account",
            &format!("The passkey “{}” can now be used to sign in to your account.", stored.name),
            &Occasion { actor, at: stored.created_at },
        );
        let change =
            FieldChange { field: "passkey".into(), sensitive: true, before: None, after: Some(stored.name.clone()) };
        let audit = actor.audit(AuditAction::MfaChanged, Some(user), vec![change]);
        match self.store.insert_passkey(&stored, &audit, &notices).await {
            Err(StoreError::Duplicate(_)) => {
                return Err(DomainError::invalid("passkey", "This passkey is registered already."));
            }
            other => other?,
        }
        self.queued(&notices);
        Ok(stored)
    }

    /// The signed-in user removes one of their passkeys (after a recent sign-in); they are told.
    pub async fn remove_own_passkey(&self, actor: &Actor, session: &Session, id: Uuid) -> Result<(), DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        self.drop_passkey(actor, &user, id).await
    }

    /// A user's passkeys, for administrators and applications that read authentication methods.
    pub async fn passkeys_of(&self, actor: &Actor, id: UserId) -> Result<Vec<StoredPasskey>, DomainError> {
        actor.require(Permission::ViewAdminCenter, crate::role::RoleSet::NONE)?;
        let user = self.get_user(actor, id).await?;
        Ok(self.store.list_passkeys(user.id).await?)
    }

    /// Removes someone's passkey for a lost device, as Entra lets the authentication-method
    /// roles do: audited, and the user is told.
    pub async fn remove_passkey(&self, actor: &Actor, id: UserId, passkey: Uuid) -> Result<(), DomainError> {
        let user = self.get_user(actor, id).await?;
        actor.require(Permission::ManageSignInMethods, user.roles)?;
        self.drop_passkey(actor, &user, passkey).await
    }

    async fn drop_passkey(&self, actor: &Actor, user: &User, id: Uuid) -> Result<(), DomainError> {
        let found = self.store.list_passkeys(user.id).await?.into_iter().find(|p| p.id == id);
        let found = found.ok_or(DomainError::NotFound("passkey"))?;
        let notices = notify::security_event(
            user,
            "A passkey was removed from your account",
            &format!("The passkey “{}” can no longer be used to sign in to your account.", found.name),
            &Occasion { actor, at: Timestamp::now() },
        );
        let change =
            FieldChange { field: "passkey".into(), sensitive: true, before: Some(found.name.clone()), after: None };
        let audit = actor.audit(AuditAction::MfaChanged, Some(user), vec![change]);
        if !self.store.delete_passkey(user.id, id, &audit, &notices).await? {
            return Err(DomainError::NotFound("passkey"));
        }
        self.queued(&notices);
        Ok(())
    }

    /// Records a sign-in with `stored` after the library accepted `result`.
    async fn mark_used(
        &self,
        mut stored: StoredPasskey,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<StoredPasskey, DomainError> {
        stored.passkey.update_credential(result);
        self.store.passkey_used(&stored, Timestamp::now()).await?;
        Ok(stored)
    }

    /// Starts a passkey as the second step of the sign-in `token` parked.
    pub async fn begin_passkey_second_step(&self, token: &str, csrf: &str) -> Result<PasskeyChallenge, DomainError> {
        let (_, user) = self.load_pending(token, Some(csrf)).await?;
        self.require_allowed(&user).await?;
        let keys: Vec<Passkey> = self.store.list_passkeys(user.id).await?.into_iter().map(|p| p.passkey).collect();
        if keys.is_empty() {
            return Err(DomainError::invalid("passkey", "No passkey is registered for this account."));
        }
        let (options, state): (_, PasskeyAuthentication) = self
            .webauthn()?
            .start_passkey_authentication(&keys)
            .map_err(|e| DomainError::Internal(format!("passkey authentication: {e}")))?;
        self.start_ceremony(CeremonyKind::SecondStep, Some(user.id), serialise(&state)?, serialise(&options)?).await
    }

    /// Finishes the second step with a passkey: the sign-in log records it either way.
    pub async fn finish_passkey_second_step(
        &self,
        token: &str,
        csrf: &str,
        ceremony: &str,
        credential: &str,
        client: &Actor,
    ) -> Result<SignedIn, DomainError> {
        let (pending, user) = self.load_pending(token, Some(csrf)).await?;
        let ip = client.client_ip.as_deref().unwrap_or("unknown");
        self.count_second_step(&user, client).await?;
        let checked = self.check_passkey(ceremony, CeremonyKind::SecondStep, Some(user.id), credential).await;
        let stored = match checked {
            Ok(stored) => stored,
            Err(e) => {
                let detail = "Second step: the passkey was not accepted";
                self.log_sign_in(user.username.as_str(), Some(user.id), "Password and passkey", detail, ip).await?;
                return Err(e);
            }
        };
        self.store.reset_counter(&format!("second-step-wrong:{}", user.id)).await?;
        self.log_sign_in(user.username.as_str(), Some(user.id), "Password and passkey", "", ip).await?;
        self.open_after_second_step(&pending, user, Vec::new(), stored.amr()).await
    }

    /// Checks an assertion against a ceremony of `kind`: the passkey it names must be
    /// `user`'s (or, for a sign-in with a passkey alone, the user its handle names).
    async fn check_passkey(
        &self,
        ceremony: &str,
        kind: CeremonyKind,
        user: Option<UserId>,
        credential: &str,
    ) -> Result<StoredPasskey, DomainError> {
        let state = self.finish_ceremony(ceremony, kind, user).await?;
        let response: PublicKeyCredential = serde_json::from_str(credential).map_err(|_| not_accepted())?;
        let named =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, response.get_credential_id());
        let stored = self.store.passkey_by_credential(&named).await?.ok_or_else(not_accepted)?;
        let owner = self.store.get_user(stored.user_id).await?.ok_or_else(not_accepted)?;
        self.require_allowed(&owner).await?;
        let webauthn = self.webauthn()?;
        let result = match kind {
            CeremonyKind::SignIn => {
                let (handle, _) =
                    webauthn.identify_discoverable_authentication(&response).map_err(|_| not_accepted())?;
                if handle != stored.user_id.0 {
                    return Err(not_accepted());
                }
                let state: DiscoverableAuthentication = serde_json::from_str(&state).map_err(|_| expired_ceremony())?;
                webauthn.finish_discoverable_authentication_v2(&response, state, &stored.passkey)
            }
            _ => {
                if Some(stored.user_id) != user {
                    return Err(not_accepted());
                }
                let state: PasskeyAuthentication = serde_json::from_str(&state).map_err(|_| expired_ceremony())?;
                webauthn.finish_passkey_authentication(&response, &state)
            }
        }
        .map_err(|_| not_accepted())?;
        self.mark_used(stored, &result).await
    }

    /// Logs a refused sign-in against the owner of the passkey it named, if it named one.
    async fn log_refused_passkey(&self, credential: &str, client_ip: &str) -> Result<(), DomainError> {
        let Ok(response) = serde_json::from_str::<PublicKeyCredential>(credential) else { return Ok(()) };
        let named =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, response.get_credential_id());
        let Some(stored) = self.store.passkey_by_credential(&named).await? else { return Ok(()) };
        let Some(user) = self.store.get_user(stored.user_id).await? else { return Ok(()) };
        self.log_sign_in(user.username.as_str(), Some(user.id), "Passkey", "The passkey was not accepted", client_ip)
            .await
    }

    /// Starts a sign-in with a passkey alone (the browser offers the person's passkeys),
    /// counted against the client's address.
    pub async fn begin_passkey_sign_in(&self, client_ip: &str) -> Result<PasskeyChallenge, DomainError> {
        let key = format!("passkey-ceremony:address:{client_ip}");
        let window = super::signin::window_start(Timestamp::now());
        if self.store.get_counter(&key, window).await? >= SIGN_IN_CEREMONIES_PER_ADDRESS {
            return Err(DomainError::Throttled);
        }
        self.store.increment_counter(&key, window).await?;
        let (mut options, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| DomainError::Internal(format!("passkey sign-in: {e}")))?;
        // The page chooses: the browser's autofill (conditional) or its own dialog at a click.
        options.mediation = None;
        self.start_ceremony(CeremonyKind::SignIn, None, serialise(&state)?, serialise(&options)?).await
    }

    /// Finishes a sign-in with a passkey alone: a passkey that verified its user stands for
    /// the password and the second step. A refusal counts against the client's address like a
    /// wrong password, and is logged against the passkey's owner when it named one.
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: &str,
        client_ip: &str,
    ) -> Result<SignInOutcome, DomainError> {
        let address_key = format!("signin:address:{client_ip}");
        let window = super::signin::window_start(Timestamp::now());
        if self.store.get_counter(&address_key, window).await? >= super::signin::ADDRESS_FAILURE_LIMIT {
            return Ok(SignInOutcome::Throttled);
        }
        let stored = match self.check_passkey(ceremony, CeremonyKind::SignIn, None, credential).await {
            Ok(stored) => stored,
            Err(e) => {
                self.store.increment_counter(&address_key, window).await?;
                self.log_refused_passkey(credential, client_ip).await?;
                return Err(e);
            }
        };
        let user = self.store.get_user(stored.user_id).await?.filter(|u| u.deleted_at.is_none());
        let Some(user) = user else { return Err(not_accepted()) };
        if !user.enabled {
            self.log_sign_in(
                user.username.as_str(),
                Some(user.id),
                "Passkey",
                "Sign-in is blocked for this account",
                client_ip,
            )
            .await?;
            return Ok(SignInOutcome::Blocked);
        }
        self.log_sign_in(user.username.as_str(), Some(user.id), "Passkey", "", client_ip).await?;
        let amr = AuthMethods(vec![stored.amr().into(), "mfa".into()]);
        let token = self.open_session(user.id, amr).await?;
        Ok(SignInOutcome::Success { token, user: Box::new(user) })
    }
}
