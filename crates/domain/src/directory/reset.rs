//! Self-service password reset: username, then one or two codes sent to the user's recovery
//! contacts, then a new password.
//!
//! The flow never tells whether an account exists or which contacts it has: a username that is
//! unknown, blocked, or has no contact the policy allows walks the same screens with stand-in
//! contacts derived from the username (the same on every attempt), the same limits and the same
//! work per step, and no message leaves.

use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::directory::{hash_off_thread, Actor, Directory};
use crate::error::{DomainError, FieldError};
use crate::notify::{self, Occasion, PasswordEvent};
use crate::outbox::Channel;
use crate::password;
use crate::recovery::codes::{self, MAX_WRONG_ENTRIES};
use crate::recovery::policy::SETTING_MIN_PASSWORD_LENGTH;
use crate::recovery::{CodeKey, ContactMethod, MethodKind, Purpose, ResetPolicy, ResetSession, RESET_SESSION_SECONDS};
use crate::session::{self, random_token};
use crate::user::User;

/// Wrong codes an account survives in a day before resets lock for a day. Microsoft locks
/// after five failed proofs; Roster counts every wrong code, so it allows a few more typos.
const WRONG_CODES_PER_DAY: u32 = 10;
const DAY_SECONDS: i64 = 24 * 60 * 60;

/// Where a reset stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetStep {
    /// Choose a contact to send a code to.
    ChooseMethod,
    /// Enter the code just sent.
    EnterCode,
    /// Every required method is proven: choose the new password.
    NewPassword,
}

/// What the reset pages show.
#[derive(Debug, Clone)]
pub struct ResetView {
    pub step: ResetStep,
    pub csrf: String,
    pub username: String,
    /// Methods to prove in all, and proven so far.
    pub required: usize,
    pub proven: usize,
    /// Contacts not yet proven: (opaque id for the form, description such as
    /// "Email a••••@f••••.com"). The id reveals nothing of the contact.
    pub methods: Vec<(String, String)>,
    /// Where the pending code went, masked.
    pub code_sent_to: Option<String>,
}

impl ResetView {
    /// Every contact is proven and still too few: only an administrator can help.
    pub fn stuck(&self) -> bool {
        self.step == ResetStep::ChooseMethod && self.methods.is_empty() && self.proven < self.required
    }
}

/// Who the reset is for, once looked up.
struct Subject {
    user: Option<User>,
    methods: Vec<ContactMethod>,
    required: usize,
    /// The name limits are counted under: the user's id, or the username for stand-ins.
    limit_key: String,
}

fn describe(method: &ContactMethod) -> String {
    match method.kind {
        MethodKind::AlternateEmail => format!("Email {}", method.masked()),
        _ => format!("Text {}", method.masked()),
    }
}

/// Plausible contacts for a username with none to show, the same on every attempt.
fn stand_ins(key: &CodeKey, username: &str, policy: ResetPolicy) -> Vec<ContactMethod> {
    let mac = key.mac(&["stand-in", username]);
    let bytes: Vec<u8> =
        (0..mac.len() / 2).filter_map(|i| u8::from_str_radix(&mac[2 * i..2 * i + 2], 16).ok()).collect();
    let letter = |b: u8| char::from(b'a' + b % 26);
    let mut out = Vec::new();
    if policy.allow_email {
        // One or two addresses, as real people have.
        for i in 0..1 + usize::from(bytes[10] % 2) {
            let value = format!("{}x{i}@{}x.com", letter(bytes[2 * i + 12]), letter(bytes[2 * i + 13]));
            out.push(ContactMethod { kind: MethodKind::AlternateEmail, value });
        }
    }
    if policy.allow_sms && (!bytes[11].is_multiple_of(3) || out.is_empty()) {
        // A valid North American number (exchange 2–9, never N11), so it is shown in the
        // same grouping as a real one.
        let d = |i: usize| char::from(b'0' + bytes[i] % 10);
        let exchange = [char::from(b'2' + bytes[2] % 8), d(3), if d(3) == '1' && d(4) == '1' { '2' } else { d(4) }];
        let line: String = (5..9).map(d).collect();
        let value = format!("+1425{}{line}", exchange.iter().collect::<String>());
        out.push(ContactMethod { kind: MethodKind::MobilePhone, value });
    }
    out
}

fn expired() -> DomainError {
    DomainError::NotFound("password reset")
}

impl Directory {
    /// The reset policy in force.
    pub async fn reset_policy(&self) -> Result<ResetPolicy, DomainError> {
        let mut stored = Vec::new();
        for (key, _) in ResetPolicy::default().to_settings() {
            stored.push((key, self.setting(key).await?));
        }
        Ok(ResetPolicy::from_settings(|k| stored.iter().find(|(s, _)| *s == k).and_then(|(_, v)| v.clone())))
    }

    /// Whether `password` meets the organisation's rules as `user`'s new password: the
    /// field's error if not.
    pub(crate) async fn check_new_password(
        &self,
        field: &str,
        password: &str,
        user: &User,
    ) -> Result<Result<(), FieldError>, DomainError> {
        Ok(password::check_strength(field, password, user.username.as_str(), self.min_password_length().await?))
    }

    /// The shortest password the organisation allows.
    pub async fn min_password_length(&self) -> Result<usize, DomainError> {
        // One setting read, not the whole policy's five: every password form asks for it.
        let stored = self.setting(SETTING_MIN_PASSWORD_LENGTH).await?;
        let policy = ResetPolicy::from_settings(|k| stored.clone().filter(|_| k == SETTING_MIN_PASSWORD_LENGTH));
        Ok(usize::from(policy.min_password_length))
    }

    /// Changes the reset policy (Global Administrators only).
    pub async fn set_reset_policy(&self, actor: &Actor, policy: ResetPolicy) -> Result<(), DomainError> {
        actor.require(crate::permission::Permission::ManageSettings, crate::role::RoleSet::NONE)?;
        let policy = policy.validate().map_err(DomainError::Invalid)?;
        let before = self.reset_policy().await?;
        let changes = before
            .to_settings()
            .into_iter()
            .zip(policy.to_settings())
            .filter(|(b, a)| b.1 != a.1)
            .map(|((key, b), (_, a))| FieldChange {
                field: key.into(),
                sensitive: true,
                before: Some(b),
                after: Some(a),
            })
            .collect::<Vec<_>>();
        if changes.is_empty() {
            return Ok(());
        }
        let audit = actor.audit(AuditAction::SettingsChanged, None, changes);
        let values: Vec<(&str, String)> = policy.to_settings().into_iter().collect();
        self.put_settings(&values, &audit).await
    }

    /// Starts a reset for whatever was typed as the username; returns the cookie token.
    pub async fn start_reset(&self, username: &str) -> Result<String, DomainError> {
        let username = username.trim().to_lowercase();
        if username.is_empty() {
            return Err(DomainError::invalid("username", "Enter your username, such as alex@contoso.com."));
        }
        let token = random_token();
        let now = Timestamp::now();
        let user_id = self.store.get_credentials(&username).await?.map(|c| c.user_id);
        let reset = ResetSession {
            token_hash: session::hash_token(&token),
            user_id,
            username,
            csrf_token: random_token(),
            created_at: now,
            expires_at: now.plus_seconds(RESET_SESSION_SECONDS),
            proven: Vec::new(),
            code_id: None,
            code_method: None,
            code_expires_at: None,
        };
        self.store.save_reset(&reset).await?;
        Ok(token)
    }

    async fn load_reset(&self, token: &str, csrf: Option<&str>) -> Result<ResetSession, DomainError> {
        let reset = self.store.get_reset(&session::hash_token(token)).await?.ok_or_else(expired)?;
        if reset.expires_at <= Timestamp::now() {
            self.store.delete_reset(&reset.token_hash).await?;
            return Err(expired());
        }
        if let Some(csrf) = csrf {
            if !bool::from(subtle::ConstantTimeEq::ct_eq(csrf.as_bytes(), reset.csrf_token.as_bytes())) {
                return Err(DomainError::Forbidden("This page had expired. Start the reset again.".into()));
            }
        }
        Ok(reset)
    }

    async fn subject(&self, reset: &ResetSession) -> Result<Subject, DomainError> {
        let policy = self.reset_policy().await?;
        let user = match reset.user_id {
            Some(id) => self.store.get_user(id).await?.filter(|u| u.enabled && u.deleted_at.is_none()),
            None => None,
        };
        // Someone outside the reset scope walks the unknown username's pages.
        let user = match user {
            Some(user) if self.in_reset_scope(&user).await? => Some(user),
            _ => None,
        };
        if let Some(user) = user {
            let verifications = self.store.get_verifications(user.id).await?;
            let methods = policy.usable_methods(&user.contact, &verifications);
            if !methods.is_empty() {
                let required = policy.required_for(user.roles);
                return Ok(Subject { limit_key: user.id.to_string(), methods, required, user: Some(user) });
            }
        }
        Ok(Subject {
            user: None,
            methods: stand_ins(&self.code_key, &reset.username, policy),
            required: usize::from(policy.methods_required),
            limit_key: format!("name:{}", reset.username),
        })
    }

    /// The form's name for a contact in this reset: a keyed hash, so that the page never
    /// carries the contact itself.
    fn opaque(&self, reset: &ResetSession, method: &ContactMethod) -> String {
        self.code_key.mac(&["method", &reset.token_hash, &method.key()])[..16].to_string()
    }

    /// What the reset page shows now.
    pub async fn reset_view(&self, token: &str) -> Result<ResetView, DomainError> {
        let reset = self.load_reset(token, None).await?;
        let subject = self.subject(&reset).await?;
        let proven = reset.proven.len();
        let step = if subject.user.is_some() && proven >= subject.required {
            ResetStep::NewPassword
        } else if reset.code_id.is_some() {
            ResetStep::EnterCode
        } else {
            ResetStep::ChooseMethod
        };
        let code_sent_to = reset.code_method.as_deref().and_then(ContactMethod::from_key).map(|m| describe(&m));
        Ok(ResetView {
            step,
            csrf: reset.csrf_token.clone(),
            username: reset.username.clone(),
            required: subject.required,
            proven,
            methods: subject
                .methods
                .iter()
                .filter(|m| !reset.proven.contains(&m.key()))
                .map(|m| (self.opaque(&reset, m), describe(m)))
                .collect(),
            code_sent_to,
        })
    }

    /// Sends a code to the chosen contact.
    pub async fn send_reset_code(&self, token: &str, csrf: &str, method_id: &str) -> Result<(), DomainError> {
        let mut reset = self.load_reset(token, Some(csrf)).await?;
        let subject = self.subject(&reset).await?;
        self.check_reset_lock(&subject).await?;
        let method = subject
            .methods
            .iter()
            .find(|m| self.opaque(&reset, m) == method_id && !reset.proven.contains(&m.key()))
            .ok_or_else(|| DomainError::invalid("method", "Choose where to send the code."))?;
        let channel = method.kind.channel().unwrap_or(Channel::Email);
        self.allow_code(Purpose::Reset, &subject.limit_key, channel).await?;
        let now = Timestamp::now();
        let user_id = subject.user.as_ref().map(|u| u.id).unwrap_or_else(crate::user::UserId::random);
        let (code, digits) = codes::issue(&self.code_key, user_id, Purpose::Reset, method, now);
        match &subject.user {
            Some(user) => {
                let message = super::verification::code_message(user, method, &code, &digits);
                self.store.insert_code(&code, None, std::slice::from_ref(&message)).await?;
                self.queued(std::slice::from_ref(&message));
            }
            // A write in place of the real path's, so that both take about as long.
            None => {
                self.store.increment_counter(&format!("stand-in-send:{}", reset.token_hash), Timestamp(0)).await?;
            }
        }
        reset.code_expires_at = Some(code.expires_at);
        reset.code_id = Some(code.id);
        reset.code_method = Some(method.key());
        Ok(self.store.save_reset(&reset).await?)
    }

    /// Drops the pending code so that another contact can be chosen.
    pub async fn choose_other_method(&self, token: &str, csrf: &str) -> Result<(), DomainError> {
        let mut reset = self.load_reset(token, Some(csrf)).await?;
        reset.code_id = None;
        reset.code_method = None;
        reset.code_expires_at = None;
        Ok(self.store.save_reset(&reset).await?)
    }

    /// Checks the code entered for the pending contact.
    pub async fn enter_reset_code(
        &self,
        token: &str,
        csrf: &str,
        entered: &str,
        client: &Actor,
    ) -> Result<(), DomainError> {
        let mut reset = self.load_reset(token, Some(csrf)).await?;
        let subject = self.subject(&reset).await?;
        self.check_reset_lock(&subject).await?;
        let (Some(code_id), Some(method_key)) = (reset.code_id.clone(), reset.code_method.clone()) else {
            return Err(DomainError::invalid("code", "Send a code first."));
        };
        // Checked here for real and stand-in codes alike, so that expiry tells nothing apart.
        if reset.code_expires_at.is_none_or(|at| at <= Timestamp::now()) {
            return Err(DomainError::invalid("code", "This code has expired. Send a new one."));
        }
        let outcome = match &subject.user {
            Some(user) => match self.store.get_code(&code_id).await?.filter(|c| c.user_id == user.id) {
                Some(code) => self.check_code(&code, entered).await,
                None => Err(DomainError::invalid("code", "Send a new code.")),
            },
            None => self.check_stand_in_code(&code_id).await,
        };
        if let Err(e) = outcome {
            self.count_wrong_code(&subject, client).await?;
            return Err(e);
        }
        if !self.store.use_code(&code_id, Timestamp::now(), None).await? {
            return Err(DomainError::invalid("code", "This code can't be used any more. Send a new one."));
        }
        reset.proven.push(method_key);
        reset.code_id = None;
        reset.code_method = None;
        reset.code_expires_at = None;
        Ok(self.store.save_reset(&reset).await?)
    }

    /// A stand-in code is never right; its wrong entries are counted like a real one's.
    async fn check_stand_in_code(&self, code_id: &str) -> Result<(), DomainError> {
        let attempts = self.store.increment_counter(&format!("stand-in:{code_id}"), Timestamp(0)).await?;
        let left = MAX_WRONG_ENTRIES.saturating_sub(attempts);
        Err(DomainError::invalid(
            "code",
            if attempts > MAX_WRONG_ENTRIES {
                "This code can't be used any more. Send a new one.".to_string()
            } else if left == 0 {
                "That code is not right, and it can't be used any more. Send a new one.".to_string()
            } else {
                format!("That code is not right. You can try {left} more time{}.", if left == 1 { "" } else { "s" })
            },
        ))
    }

    async fn count_wrong_code(&self, subject: &Subject, client: &Actor) -> Result<(), DomainError> {
        let now = Timestamp::now();
        let day = Timestamp(now.millis() - now.millis().rem_euclid(DAY_SECONDS * 1000));
        let wrong = self.store.increment_counter(&format!("reset-wrong:{}", subject.limit_key), day).await?;
        if wrong >= WRONG_CODES_PER_DAY {
            self.store.set_lock(&format!("reset:{}", subject.limit_key), now.plus_seconds(DAY_SECONDS)).await?;
        }
        if let (Some(user), true) = (&subject.user, wrong == WRONG_CODES_PER_DAY) {
            let actor = Actor {
                client_ip: client.client_ip.clone(),
                request_id: client.request_id.clone(),
                ..Actor::system("Self-service password reset")
            };
            let notices = notify::security_event(
                user,
                "Password reset was locked on your account",
                "Someone asked to reset your password and entered too many wrong codes, so password reset is \
                 locked for 24 hours. If it wasn't you, someone may be trying to take over your account: tell your \
                 IT administrator.",
                &Occasion { actor: &actor, at: now },
            );
            let change = FieldChange {
                field: "password_reset".into(),
                sensitive: true,
                before: None,
                after: Some("locked for 24 hours".into()),
            };
            let audit = actor.audit(AuditAction::AccountLocked, Some(user), vec![change]);
            self.store.record(&audit, &notices).await?;
            self.queued(&notices);
        }
        Ok(())
    }

    async fn check_reset_lock(&self, subject: &Subject) -> Result<(), DomainError> {
        match self.store.get_lock(&format!("reset:{}", subject.limit_key)).await? {
            Some(until) if until > Timestamp::now() => Err(DomainError::Limited(
                "Too many wrong codes were entered for this account. For your security, password reset is locked \
                 for 24 hours; ask your administrator if you need help sooner."
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// Sets the new password once every required contact is proven, ends every session and
    /// tells the user (and, for an administrator, every Global Administrator).
    pub async fn finish_reset(
        &self,
        token: &str,
        csrf: &str,
        new_password: &str,
        confirm: &str,
        client: &Actor,
    ) -> Result<(), DomainError> {
        let reset = self.load_reset(token, Some(csrf)).await?;
        let subject = self.subject(&reset).await?;
        let Some(user) = subject.user.filter(|_| reset.proven.len() >= subject.required) else {
            return Err(DomainError::Forbidden("Prove your identity with the codes first.".into()));
        };
        let mut errors: Vec<FieldError> = Vec::new();
        if let Err(e) = self.check_new_password("new_password", new_password, &user).await? {
            errors.push(e);
        } else if new_password != confirm {
            errors.push(FieldError::new("confirm_password", "The two passwords are not the same."));
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let hash = hash_off_thread(new_password.to_string()).await?;
        let actor = Actor::user(&user, client.client_ip.clone(), client.request_id.clone());
        let proven: Vec<String> =
            reset.proven.iter().filter_map(|k| ContactMethod::from_key(k)).map(|m| m.masked()).collect();
        let change =
            FieldChange { field: "proven_with".into(), sensitive: true, before: None, after: Some(proven.join("; ")) };
        let audit = actor.audit(AuditAction::PasswordReset, Some(&user), vec![change]);
        let occasion = Occasion { actor: &actor, at: audit.at };
        let mut notices = notify::password_changed(&user, PasswordEvent::SelfServiceReset, &occasion);
        notices.extend(self.tell_global_administrators(&user, &occasion).await?);
        self.store.set_password(user.id, &hash, false, &audit, &notices).await?;
        self.queued(&notices);
        self.store.delete_user_sessions(user.id, None).await?;
        self.end_app_sign_ins(&user).await;
        self.store.delete_reset(&reset.token_hash).await?;
        self.store.reset_counter(&format!("signin:account:{}", user.username)).await?;
        for channel in [Channel::Email, Channel::Sms] {
            self.store
                .reset_counter(&format!("codes:{}:{}:{}", Purpose::Reset.code(), user.id, channel.code()))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_look_like_real_contacts_and_stay_the_same() {
        let key = CodeKey::from_bytes([7; 32]);
        for n in 0..300 {
            let name = format!("user{n}@contoso.com");
            let methods = stand_ins(&key, &name, ResetPolicy::default());
            assert_eq!(methods, stand_ins(&key, &name, ResetPolicy::default()));
            assert!((1..=3).contains(&methods.len()));
            for m in &methods {
                let shown = m.masked();
                match m.kind {
                    MethodKind::AlternateEmail => assert!(shown.ends_with("••••.com"), "{shown}"),
                    _ => assert!(shown.starts_with("+1 •••-•••-•"), "{shown} for {}", m.value),
                }
            }
        }
        let sms_only = ResetPolicy { allow_email: false, ..ResetPolicy::default() };
        assert_eq!(stand_ins(&key, "b@contoso.com", sms_only).len(), 1);
        let email_only = ResetPolicy { allow_sms: false, ..ResetPolicy::default() };
        assert!(stand_ins(&key, "a@contoso.com", email_only).iter().all(|m| m.kind == MethodKind::AlternateEmail));
    }
}
