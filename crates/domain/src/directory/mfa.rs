//! The second step of sign-in, and the user's own second factors on their Security info page.

use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::directory::{Actor, Directory};
use crate::error::DomainError;
use crate::mfa::{self, MfaPolicy, MfaState, PendingSignIn, PENDING_SIGNIN_SECONDS, SETTING_MFA_REQUIRED};
use crate::notify::{self, Occasion};
use crate::oidc::grant::AuthMethods;
use crate::outbox::Channel;
use crate::recovery::codes;
use crate::recovery::methods::methods_of;
use crate::recovery::{ContactMethod, MethodKind, Purpose};
use crate::session::{self, random_token, Session};
use crate::user::{User, UserId};

/// Changes to second factors need a sign-in at most this old; older sessions confirm the
/// password again first.
pub const RECENT_SIGNIN_SECONDS: i64 = 10 * 60;
/// Failed second steps in a row an account survives in a day before the second step locks.
const WRONG_CODES_PER_DAY: u32 = 10;
const DAY_SECONDS: i64 = 24 * 60 * 60;

/// How a second step is proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A code from the authenticator app.
    App,
    /// The code sent by text or email.
    SentCode,
    /// One of the recovery codes.
    RecoveryCode,
}

/// An authenticator app being set up: what the user scans or types.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// An SVG image of the QR code.
    pub qr_svg: String,
    /// The secret in groups of four, for typing by hand.
    pub secret_text: String,
}

/// What the second-step page shows.
#[derive(Debug, Clone)]
pub struct SecondStepView {
    pub csrf: String,
    pub has_app: bool,
    /// A passkey is registered and this server can use passkeys.
    pub has_passkey: bool,
    /// The person may use passkeys (this server can offer them, and the policy allows).
    pub passkeys_available: bool,
    /// The policy requires a passkey as their second step: nothing else is offered or accepted.
    pub passkey_required: bool,
    /// Contacts a code can go to: (opaque id, description such as "Text +44 •• •••• •958").
    pub contacts: Vec<(String, String)>,
    pub recovery_codes_left: u32,
    /// Where the pending code went, described.
    pub code_sent_to: Option<String>,
    /// No second factor at all: the user sets up an authenticator app before going on.
    pub enrolment: Option<Enrolment>,
}

/// A finished sign-in.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub user: User,
    pub next: String,
    /// Recovery codes made during this sign-in, shown once.
    pub recovery_codes: Vec<String>,
}

/// The user's own second factors, for the Security info page.
#[derive(Debug, Clone)]
pub struct SecondFactors {
    pub has_app: bool,
    pub recovery_codes_left: u32,
    /// Whether a second step is asked for at sign-in, and whether the user may turn it off.
    pub required: bool,
    pub required_by_policy: bool,
}

fn describe(method: &ContactMethod) -> String {
    match method.kind {
        MethodKind::AlternateEmail => format!("Email {}", method.masked()),
        _ => format!("Text {}", method.masked()),
    }
}

fn expired() -> DomainError {
    DomainError::NotFound("sign-in")
}

impl Directory {
    /// Who must use a second step.
    pub async fn mfa_policy(&self) -> Result<MfaPolicy, DomainError> {
        Ok(MfaPolicy::from_code(self.setting(SETTING_MFA_REQUIRED).await?.as_deref()))
    }

    /// Changes who must use a second step (Global Administrators only).
    pub async fn set_mfa_policy(&self, actor: &Actor, policy: MfaPolicy) -> Result<(), DomainError> {
        actor.require(crate::permission::Permission::ManageSettings, crate::role::RoleSet::NONE)?;
        let before = self.mfa_policy().await?;
        if before == policy {
            return Ok(());
        }
        let change = FieldChange {
            field: SETTING_MFA_REQUIRED.into(),
            sensitive: true,
            before: Some(before.code().into()),
            after: Some(policy.code().into()),
        };
        let audit = actor.audit(AuditAction::SettingsChanged, None, vec![change]);
        self.put_settings(&[(SETTING_MFA_REQUIRED, policy.code().to_string())], &audit).await
    }

    /// Whether `user` must prove a second factor at sign-in.
    pub(crate) async fn needs_second_step(&self, user: &User) -> Result<bool, DomainError> {
        let state = self.store.get_mfa(user.id).await?;
        let policy = self.mfa_policy().await?;
        let passkeys = self.passkey_standing(user).await?;
        if passkeys.required {
            return Ok(true);
        }
        // Someone who set up a factor of their own wants it asked for, as they would of an app.
        let chosen = state.chosen
            || state.app_confirmed
            || (passkeys.allowed && !self.store.list_passkeys(user.id).await?.is_empty());
        if policy.requires(user.roles, chosen, false) {
            return Ok(true);
        }
        Ok(policy.requires(user.roles, chosen, self.in_mfa_groups(user, policy).await?))
    }

    /// Whether `user` is in the groups the policy names (only [`MfaPolicy::Groups`] names any).
    async fn in_mfa_groups(&self, user: &User, policy: MfaPolicy) -> Result<bool, DomainError> {
        if policy != MfaPolicy::Groups {
            return Ok(false);
        }
        let groups = self.mfa_groups().await?;
        Ok(self.store.in_any_group(user.id, &groups).await?)
    }

    /// Parks a sign-in whose password was right until its second step; returns the token.
    pub(crate) async fn park_sign_in(&self, user: &User, next: &str) -> Result<String, DomainError> {
        let token = random_token();
        let now = Timestamp::now();
        let pending = PendingSignIn {
            token_hash: session::hash_token(&token),
            user_id: user.id,
            csrf_token: random_token(),
            created_at: now,
            expires_at: now.plus_seconds(PENDING_SIGNIN_SECONDS),
            next: next.to_string(),
            code_id: None,
            code_method: None,
        };
        self.store.save_pending_signin(&pending).await?;
        Ok(token)
    }

    pub(super) async fn load_pending(
        &self,
        token: &str,
        csrf: Option<&str>,
    ) -> Result<(PendingSignIn, User), DomainError> {
        let pending = self.store.get_pending_signin(&session::hash_token(token)).await?.ok_or_else(expired)?;
        if pending.expires_at <= Timestamp::now() {
            self.store.delete_pending_signin(&pending.token_hash).await?;
            return Err(expired());
        }
        if let Some(csrf) = csrf {
            if !bool::from(subtle::ConstantTimeEq::ct_eq(csrf.as_bytes(), pending.csrf_token.as_bytes())) {
                return Err(DomainError::Forbidden("This page had expired. Sign in again.".into()));
            }
        }
        let user = self
            .store
            .get_user(pending.user_id)
            .await?
            .filter(|u| u.enabled && u.deleted_at.is_none())
            .ok_or_else(expired)?;
        Ok((pending, user))
    }

    fn contact_id(&self, pending: &PendingSignIn, method: &ContactMethod) -> String {
        self.code_key.mac(&["second step", &pending.token_hash, &method.key()])[..16].to_string()
    }

    fn code_contacts(user: &User) -> Vec<ContactMethod> {
        let mut seen = std::collections::HashSet::new();
        methods_of(&user.contact)
            .into_iter()
            .filter(|m| m.kind.channel().is_some() && seen.insert(m.recipient()))
            .collect()
    }

    /// What the second-step page shows. A user with no second factor at all gets a new
    /// authenticator app to set up (its secret is kept, unconfirmed, until they confirm it).
    pub async fn second_step_view(&self, token: &str) -> Result<SecondStepView, DomainError> {
        let (pending, user) = self.load_pending(token, None).await?;
        let mut state = self.store.get_mfa(user.id).await?;
        let passkeys = self.passkey_standing(&user).await?;
        // Where the policy requires a passkey, nothing else is offered.
        let contacts = if passkeys.required { Vec::new() } else { Self::code_contacts(&user) };
        let has_passkey = passkeys.allowed && !self.store.list_passkeys(user.id).await?.is_empty();
        let has_app = state.app_confirmed && !passkeys.required;
        let recovery_codes_left = if passkeys.required { 0 } else { state.recovery_codes_left };
        let enrolment =
            if !passkeys.required && !has_app && !has_passkey && contacts.is_empty() && recovery_codes_left == 0 {
                Some(self.enrolment(&user, &mut state).await?)
            } else {
                None
            };
        Ok(SecondStepView {
            csrf: pending.csrf_token.clone(),
            has_app,
            has_passkey,
            passkeys_available: passkeys.allowed,
            passkey_required: passkeys.required,
            contacts: contacts.iter().map(|m| (self.contact_id(&pending, m), describe(m))).collect(),
            recovery_codes_left,
            code_sent_to: pending.code_method.as_deref().and_then(ContactMethod::from_key).map(|m| describe(&m)),
            enrolment,
        })
    }

    /// Refuses a second step other than a passkey from someone the policy requires one of.
    async fn refuse_if_passkey_required(&self, user: &User) -> Result<(), DomainError> {
        if self.passkey_standing(user).await?.required {
            return Err(DomainError::Forbidden(
                "Your organisation requires a passkey as your second step. Use your passkey, or add one.".into(),
            ));
        }
        Ok(())
    }

    /// The unconfirmed app being set up, started if there is none yet.
    async fn enrolment(&self, user: &User, state: &mut MfaState) -> Result<Enrolment, DomainError> {
        let secret = match state
            .app_secret
            .as_deref()
            .filter(|_| !state.app_confirmed)
            .and_then(|s| mfa::open(&self.code_key, s))
        {
            Some(secret) => secret,
            None => {
                let secret = mfa::new_app_secret();
                let sealed = mfa::seal(&self.code_key, &secret);
                self.store.set_app(user.id, Some(&sealed), false, None, &[]).await?;
                state.app_secret = Some(sealed);
                secret
            }
        };
        let url = mfa::app_url(&secret, user.username.as_str());
        Ok(Enrolment { qr_svg: mfa::qr_svg(&url), secret_text: mfa::app_secret_text(&secret) })
    }

    /// Sends a sign-in code to one of the user's contacts.
    pub async fn send_sign_in_code(&self, token: &str, csrf: &str, contact_id: &str) -> Result<(), DomainError> {
        let (mut pending, user) = self.load_pending(token, Some(csrf)).await?;
        self.check_second_step_lock(&user).await?;
        self.refuse_if_passkey_required(&user).await?;
        let method = Self::code_contacts(&user)
            .into_iter()
            .find(|m| self.contact_id(&pending, m) == contact_id)
            .ok_or_else(|| DomainError::invalid("contact", "Choose where to send the code."))?;
        self.allow_code(Purpose::SignIn, &user.id.to_string(), method.kind.channel().unwrap_or(Channel::Email)).await?;
        let (code, digits) = codes::issue(&self.code_key, user.id, Purpose::SignIn, &method, Timestamp::now());
        let message = super::verification::code_message(&user, &method, &code, &digits);
        self.store.insert_code(&code, None, std::slice::from_ref(&message)).await?;
        self.queued(std::slice::from_ref(&message));
        pending.code_id = Some(code.id);
        pending.code_method = Some(method.key());
        Ok(self.store.save_pending_signin(&pending).await?)
    }

    /// Checks the second step and, if right, opens the session; either way the attempt goes
    /// into the sign-in log.
    pub async fn finish_second_step(
        &self,
        token: &str,
        csrf: &str,
        proof: Proof,
        entered: &str,
        client: &Actor,
    ) -> Result<SignedIn, DomainError> {
        let method = match proof {
            Proof::App => "Password and authenticator app",
            Proof::SentCode => "Password and a code by text or email",
            Proof::RecoveryCode => "Password and a recovery code",
        };
        let result = self.check_second_step(token, csrf, proof, entered, client).await;
        self.log_second_step(token, &result, method, client).await?;
        result
    }

    /// Logs how a second step ended: a success, or a wrong or refused code. A step that never
    /// got as far (an expired or forged sign-in) has no account to log against.
    async fn log_second_step(
        &self,
        token: &str,
        result: &Result<SignedIn, DomainError>,
        method: &str,
        client: &Actor,
    ) -> Result<(), DomainError> {
        let ip = client.client_ip.as_deref().unwrap_or("unknown");
        match result {
            Ok(signed) => self.log_sign_in(signed.user.username.as_str(), Some(signed.user.id), method, "", ip).await,
            Err(e @ (DomainError::Invalid(_) | DomainError::Throttled | DomainError::Limited(_))) => {
                let Ok((_, user)) = self.load_pending(token, None).await else {
                    return Ok(());
                };
                let detail = match e {
                    DomainError::Invalid(_) => "Second step: the code was not right",
                    _ => "Second step: too many wrong codes",
                };
                self.log_sign_in(user.username.as_str(), Some(user.id), method, detail, ip).await
            }
            Err(_) => Ok(()),
        }
    }

    async fn check_second_step(
        &self,
        token: &str,
        csrf: &str,
        proof: Proof,
        entered: &str,
        client: &Actor,
    ) -> Result<SignedIn, DomainError> {
        let (pending, user) = self.load_pending(token, Some(csrf)).await?;
        self.refuse_if_passkey_required(&user).await?;
        self.count_second_step(&user, client).await?;
        let state = self.store.get_mfa(user.id).await?;
        let field = match proof {
            Proof::App => "app_code",
            Proof::SentCode => "code",
            Proof::RecoveryCode => "recovery_code",
        };
        let outcome = match proof {
            Proof::App => self.check_app(&user, &state, entered, state.app_confirmed).await,
            Proof::SentCode => match pending.code_id.as_deref() {
                Some(id) => match self.store.get_code(id).await?.filter(|c| c.user_id == user.id) {
                    Some(code) => match self.check_code(&code, entered).await {
                        Ok(()) if self.store.use_code(id, Timestamp::now(), None).await? => Ok(()),
                        Ok(()) => {
                            Err(DomainError::invalid("code", "This code can't be used any more. Send a new one."))
                        }
                        Err(e) => Err(e),
                    },
                    None => Err(DomainError::invalid("code", "Send a new code.")),
                },
                None => Err(DomainError::invalid("code", "Send a code first.")),
            },
            Proof::RecoveryCode => {
                let hash = mfa::recovery_code_hash(&self.code_key, entered);
                if self.store.use_recovery_code(user.id, &hash, Timestamp::now()).await? {
                    Ok(())
                } else {
                    Err(DomainError::invalid("recovery_code", "That recovery code is not right, or was used already."))
                }
            }
        };
        if let Err(e) = outcome {
            return Err(match e {
                DomainError::Invalid(mut errors) => {
                    errors.iter_mut().for_each(|e| e.field = field.to_string());
                    DomainError::Invalid(errors)
                }
                other => other,
            });
        }
        self.store.reset_counter(&format!("second-step-wrong:{}", user.id)).await?;
        let second = match proof {
            Proof::SentCode
                if pending
                    .code_method
                    .as_deref()
                    .and_then(ContactMethod::from_key)
                    .is_some_and(|m| m.kind != MethodKind::AlternateEmail) =>
            {
                "sms"
            }
            Proof::App | Proof::SentCode | Proof::RecoveryCode => "otp",
        };
        self.open_after_second_step(&pending, user, Vec::new(), second).await
    }

    /// Confirms the authenticator app set up during sign-in, makes recovery codes, and opens
    /// the session; either way the attempt goes into the sign-in log.
    pub async fn confirm_sign_in_enrolment(
        &self,
        token: &str,
        csrf: &str,
        entered: &str,
        client: &Actor,
    ) -> Result<SignedIn, DomainError> {
        let result = self.check_sign_in_enrolment(token, csrf, entered, client).await;
        self.log_second_step(token, &result, "Password and authenticator app, set up at sign-in", client).await?;
        result
    }

    async fn check_sign_in_enrolment(
        &self,
        token: &str,
        csrf: &str,
        entered: &str,
        client: &Actor,
    ) -> Result<SignedIn, DomainError> {
        let (pending, user) = self.load_pending(token, Some(csrf)).await?;
        self.refuse_if_passkey_required(&user).await?;
        self.count_second_step(&user, client).await?;
        let state = self.store.get_mfa(user.id).await?;
        if state.app_confirmed || state.app_secret.is_none() {
            return Err(DomainError::invalid("app_code", "Start the set-up again."));
        }
        self.check_app(&user, &state, entered, true).await?;
        self.store.reset_counter(&format!("second-step-wrong:{}", user.id)).await?;
        let actor = Actor::user(&user, client.client_ip.clone(), client.request_id.clone());
        let codes = self.confirm_app(&actor, &user, &state).await?;
        self.open_after_second_step(&pending, user, codes, "otp").await
    }

    pub(super) async fn open_after_second_step(
        &self,
        pending: &PendingSignIn,
        user: User,
        recovery_codes: Vec<String>,
        second: &str,
    ) -> Result<SignedIn, DomainError> {
        self.store.delete_pending_signin(&pending.token_hash).await?;
        let token = self.open_session(user.id, AuthMethods::with_second_step(second)).await?;
        Ok(SignedIn { token, user, next: pending.next.clone(), recovery_codes })
    }

    /// Checks an app code against the (confirmed, or being confirmed) secret, once per step.
    async fn check_app(&self, user: &User, state: &MfaState, entered: &str, usable: bool) -> Result<(), DomainError> {
        let wrong = || {
            DomainError::invalid("app_code", "That code is not right. Check your app's clock and try the newest code.")
        };
        let secret = state
            .app_secret
            .as_deref()
            .filter(|_| usable)
            .and_then(|s| mfa::open(&self.code_key, s))
            .ok_or_else(wrong)?;
        let now = u64::try_from(Timestamp::now().millis() / 1000).unwrap_or_default();
        let step = mfa::check_app_code(&secret, entered, now, state.app_last_step).ok_or_else(wrong)?;
        if !self.store.advance_app_step(user.id, step).await? {
            return Err(wrong());
        }
        Ok(())
    }

    /// Marks the app confirmed, tells the user, and makes recovery codes if they have none.
    async fn confirm_app(&self, actor: &Actor, user: &User, state: &MfaState) -> Result<Vec<String>, DomainError> {
        let occasion = Occasion { actor, at: Timestamp::now() };
        let notices = notify::security_event(
            user,
            "An authenticator app was added to your account",
            "An authenticator app can now be used as the second step when you sign in.",
            &occasion,
        );
        let change = FieldChange {
            field: "authenticator_app".into(),
            sensitive: true,
            before: None,
            after: Some("added".into()),
        };
        let audit = actor.audit(AuditAction::MfaChanged, Some(user), vec![change]);
        self.store.set_app(user.id, state.app_secret.as_deref(), true, Some(&audit), &notices).await?;
        self.queued(&notices);
        if state.recovery_codes_left > 0 {
            return Ok(Vec::new());
        }
        self.make_recovery_codes(actor, user, false).await
    }

    async fn make_recovery_codes(&self, actor: &Actor, user: &User, tell: bool) -> Result<Vec<String>, DomainError> {
        let codes = mfa::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| mfa::recovery_code_hash(&self.code_key, c)).collect();
        let change = FieldChange {
            field: "recovery_codes".into(),
            sensitive: true,
            before: None,
            after: Some("new set of 10".into()),
        };
        let audit = actor.audit(AuditAction::MfaChanged, Some(user), vec![change]);
        let notices = if tell {
            notify::security_event(
                user,
                "New recovery codes were made for your account",
                "New recovery codes were made; the old ones no longer work.",
                &Occasion { actor, at: audit.at },
            )
        } else {
            Vec::new()
        };
        self.store.replace_recovery_codes(user.id, &hashes, &audit, &notices).await?;
        self.queued(&notices);
        Ok(codes)
    }

    async fn check_second_step_lock(&self, user: &User) -> Result<(), DomainError> {
        match self.store.get_lock(&format!("second-step:{}", user.id)).await? {
            Some(until) if until > Timestamp::now() => Err(DomainError::Limited(
                "Too many wrong codes were entered for this account. For your security, sign-in is locked for 24 \
                 hours; ask your administrator if you need help sooner."
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// Counts a second-step attempt before it is checked (a success clears the count), so that
    /// parallel guesses cannot slip past the limit; past it, sign-in locks for a day and the
    /// user is told once.
    pub(super) async fn count_second_step(&self, user: &User, client: &Actor) -> Result<(), DomainError> {
        self.check_second_step_lock(user).await?;
        let now = Timestamp::now();
        let day = Timestamp(now.millis() - now.millis().rem_euclid(DAY_SECONDS * 1000));
        let attempts = self.store.increment_counter(&format!("second-step-wrong:{}", user.id), day).await?;
        if attempts <= WRONG_CODES_PER_DAY {
            return Ok(());
        }
        if attempts == WRONG_CODES_PER_DAY + 1 {
            self.store.set_lock(&format!("second-step:{}", user.id), now.plus_seconds(DAY_SECONDS)).await?;
            let actor = Actor::user(user, client.client_ip.clone(), client.request_id.clone());
            let notices = notify::security_event(
                user,
                "Your account was locked",
                "Someone signed in with your password but entered too many wrong codes for the second step, so \
                 sign-in is locked for 24 hours. If it wasn't you, your password is known to someone else: ask your \
                 IT administrator to reset it.",
                &Occasion { actor: &actor, at: now },
            );
            let change = FieldChange {
                field: "second_step".into(),
                sensitive: true,
                before: None,
                after: Some(format!("locked until {}", now.plus_seconds(DAY_SECONDS).display())),
            };
            let audit = actor.audit(AuditAction::AccountLocked, Some(user), vec![change]);
            self.store.record(&audit, &notices).await?;
            self.queued(&notices);
        }
        self.check_second_step_lock(user).await
    }

    /// The signed-in user's second factors.
    pub async fn second_factors(&self, actor: &Actor) -> Result<SecondFactors, DomainError> {
        let user = self.me(actor).await?;
        let state = self.store.get_mfa(user.id).await?;
        let policy = self.mfa_policy().await?;
        let in_groups = self.in_mfa_groups(&user, policy).await?;
        Ok(SecondFactors {
            has_app: state.app_confirmed,
            recovery_codes_left: state.recovery_codes_left,
            required: policy.requires(user.roles, state.chosen || state.app_confirmed, in_groups),
            required_by_policy: policy.requires(user.roles, false, in_groups),
        })
    }

    pub(super) async fn me(&self, actor: &Actor) -> Result<User, DomainError> {
        let id: UserId = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        self.store.get_user(id).await?.ok_or(DomainError::NotFound("user"))
    }

    pub(crate) fn require_recent(session: &Session) -> Result<(), DomainError> {
        // A pass's session is for registering methods, and ends with the pass.
        if session.by_access_pass() {
            return Ok(());
        }
        if session.created_at.plus_seconds(RECENT_SIGNIN_SECONDS) < Timestamp::now() {
            return Err(DomainError::ReauthenticationRequired);
        }
        Ok(())
    }

    /// Starts (or resumes) setting up an authenticator app from Security info.
    pub async fn begin_app_setup(&self, actor: &Actor, session: &Session) -> Result<Enrolment, DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        let mut state = self.store.get_mfa(user.id).await?;
        if state.app_confirmed {
            return Err(DomainError::invalid("app_code", "An authenticator app is set up already; remove it first."));
        }
        self.enrolment(&user, &mut state).await
    }

    /// Confirms the app being set up with its first code; returns recovery codes if the user
    /// had none (shown once).
    pub async fn confirm_app_setup(
        &self,
        actor: &Actor,
        session: &Session,
        entered: &str,
    ) -> Result<Vec<String>, DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        let state = self.store.get_mfa(user.id).await?;
        if state.app_confirmed || state.app_secret.is_none() {
            return Err(DomainError::invalid("app_code", "Start the set-up again."));
        }
        self.check_app(&user, &state, entered, true).await?;
        self.confirm_app(actor, &user, &state).await
    }

    /// Removes the authenticator app.
    pub async fn remove_app(&self, actor: &Actor, session: &Session) -> Result<(), DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        self.drop_app(actor, &user).await
    }

    /// Whether a user has an authenticator app set up, for administrators and applications.
    pub async fn has_authenticator_app(&self, actor: &Actor, id: UserId) -> Result<bool, DomainError> {
        actor.require(crate::permission::Permission::ViewAdminCenter, crate::role::RoleSet::NONE)?;
        Ok(self.store.get_mfa(id).await?.app_confirmed)
    }

    /// Removes someone else's authenticator app (a lost phone), as Entra lets the
    /// authentication-method roles do: audited, and the user is told, as when they remove it
    /// themselves.
    pub async fn remove_authenticator_app(&self, actor: &Actor, id: UserId) -> Result<(), DomainError> {
        let user = self.get_active_user(actor, id).await?;
        actor.require(crate::permission::Permission::ManageSignInMethods, user.roles)?;
        if !self.store.get_mfa(user.id).await?.app_confirmed {
            return Err(DomainError::NotFound("authenticator app"));
        }
        self.drop_app(actor, &user).await
    }

    async fn drop_app(&self, actor: &Actor, user: &User) -> Result<(), DomainError> {
        let occasion = Occasion { actor, at: Timestamp::now() };
        let notices = notify::security_event(
            user,
            "An authenticator app was removed from your account",
            "The authenticator app can no longer be used to sign in.",
            &occasion,
        );
        let change = FieldChange {
            field: "authenticator_app".into(),
            sensitive: true,
            before: Some("set up".into()),
            after: None,
        };
        let audit = actor.audit(AuditAction::MfaChanged, Some(user), vec![change]);
        self.store.set_app(user.id, None, false, Some(&audit), &notices).await?;
        self.queued(&notices);
        Ok(())
    }

    /// Replaces the recovery codes; returns the new ones (shown once).
    pub async fn regenerate_recovery_codes(
        &self,
        actor: &Actor,
        session: &Session,
    ) -> Result<Vec<String>, DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        self.make_recovery_codes(actor, &user, true).await
    }

    /// Turns the user's own choice of a second step on or off.
    pub async fn choose_second_step(&self, actor: &Actor, session: &Session, chosen: bool) -> Result<(), DomainError> {
        Self::require_recent(session)?;
        let user = self.me(actor).await?;
        let change = FieldChange {
            field: "second_step".into(),
            sensitive: true,
            before: None,
            after: Some(if chosen { "required" } else { "not required" }.into()),
        };
        let audit = actor.audit(AuditAction::MfaChanged, Some(&user), vec![change]);
        Ok(self.store.set_mfa_chosen(user.id, chosen, &audit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(signed_in_seconds_ago: i64) -> Session {
        let at = Timestamp::now().plus_seconds(-signed_in_seconds_ago);
        Session {
            token_hash: String::new(),
            user_id: UserId::random(),
            csrf_token: String::new(),
            created_at: at,
            last_seen_at: Timestamp::now(),
            amr: crate::oidc::grant::AuthMethods::password(),
            expires_at: None,
            access_pass: None,
        }
    }

    #[test]
    fn changes_to_second_factors_need_a_sign_in_of_the_last_ten_minutes() {
        assert!(Directory::require_recent(&session(60)).is_ok());
        assert!(matches!(
            Directory::require_recent(&session(RECENT_SIGNIN_SECONDS + 5)),
            Err(DomainError::ReauthenticationRequired)
        ));
        let by_pass = Session {
            amr: crate::oidc::grant::AuthMethods::by_access_pass(),
            expires_at: Some(Timestamp::now().plus_seconds(60)),
            access_pass: Some(uuid::Uuid::new_v4()),
            ..session(RECENT_SIGNIN_SECONDS + 5)
        };
        assert!(Directory::require_recent(&by_pass).is_ok(), "a pass's session is for registering methods");
    }
}
