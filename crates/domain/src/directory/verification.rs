//! Proving that a contact is the user's: a code sent to it, entered by the user. Also the
//! limits every code obeys, shared with the self-service reset.

use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::directory::{Actor, Directory};
use crate::error::DomainError;
use crate::outbox::{Channel, Message, MessageKind};
use crate::permission::Permission;
use crate::recovery::codes::{self, MAX_WRONG_ENTRIES};
use crate::recovery::methods::{methods_of, verified_at};
use crate::recovery::{ContactMethod, OneTimeCode, Purpose, Verification};
use crate::user::{User, UserId};

/// A contact as the Contact information section and the Security info page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactState {
    pub method: ContactMethod,
    pub verified_at: Option<Timestamp>,
}

/// How long sending codes stays locked once a limit is passed.
const LOCK_SECONDS: i64 = 24 * 60 * 60;

/// The limits on sending codes to one user, from Microsoft's figures for password reset: ten
/// emails in ten minutes, five text messages in an hour.
fn send_limit(channel: Channel) -> (i64, u32) {
    match channel {
        // A person's contacts are addresses and phones, never an application's.
        Channel::Email | Channel::Application => (10 * 60, 10),
        Channel::Sms => (60 * 60, 5),
    }
}

#[derive(askama::Template)]
#[template(path = "mail/code.txt")]
struct CodeText<'a> {
    what: &'a str,
    username: &'a str,
    digits: &'a str,
    minutes: i64,
}

#[derive(askama::Template)]
#[template(path = "mail/code.html")]
struct CodeHtml<'a> {
    subject: &'a str,
    what: &'a str,
    username: &'a str,
    digits: &'a str,
    minutes: i64,
}

/// A code's message: the digits, what they are for, and how long they last.
pub(crate) fn code_message(user: &User, method: &ContactMethod, code: &OneTimeCode, digits: &str) -> Message {
    use askama::Template as _;
    let minutes = code.purpose.lifetime_seconds() / 60;
    let (subject, what) = match code.purpose {
        Purpose::Verify => ("Your Roster verification code", "to confirm this is your contact for Roster"),
        Purpose::Reset => ("Your Roster password reset code", "to reset your Roster password"),
        Purpose::SignIn => ("Your Roster sign-in code", "to finish signing in to Roster"),
    };
    let channel = method.kind.channel().unwrap_or(Channel::Email);
    let username = user.username.as_str();
    let (text, html) = match channel {
        Channel::Sms => {
            (format!("{digits} is your Roster code {what}. It expires in {minutes} minutes. Don't share it."), None)
        }
        Channel::Email | Channel::Application => (
            CodeText { what, username, digits, minutes }.render().unwrap_or_default(),
            CodeHtml { subject, what, username, digits, minutes }.render().ok(),
        ),
    };
    Message {
        id: 0,
        channel,
        kind: MessageKind::Code,
        recipient: method.recipient(),
        user_id: Some(user.id),
        subject: subject.to_string(),
        text,
        html,
        created_at: code.created_at,
    }
}

impl Directory {
    /// The user's recovery contacts with their verification state.
    pub async fn contact_states(&self, actor: &Actor, id: UserId) -> Result<Vec<ContactState>, DomainError> {
        let user = self.get_user(actor, id).await?;
        let verifications = self.store.get_verifications(id).await?;
        Ok(methods_of(&user.contact)
            .into_iter()
            .map(|method| ContactState { verified_at: verified_at(&method, &verifications), method })
            .collect())
    }

    /// Counts a code for `purpose` about to go to `subject` (a user id, or a name for
    /// stand-ins) by `channel`, refusing past the limits (which then lock sending for a day).
    /// Each purpose counts apart, so that strangers who know only a username and exhaust the
    /// reset codes cannot stop the user's sign-in codes.
    pub(crate) async fn allow_code(
        &self,
        purpose: Purpose,
        subject: &str,
        channel: Channel,
    ) -> Result<(), DomainError> {
        let now = Timestamp::now();
        let lock = format!("codes:{}:{subject}", purpose.code());
        let locked = |_| {
            DomainError::Limited(
                "Too many codes were sent to this account. For your security, no more can be sent for 24 hours; \
                 ask your administrator if you need help sooner."
                    .into(),
            )
        };
        if let Some(until) = self.store.get_lock(&lock).await? {
            if until > now {
                return Err(locked(until));
            }
        }
        let (window, limit) = send_limit(channel);
        let counter = format!("codes:{}:{subject}:{}", purpose.code(), channel.code());
        // The window opens with the first code and runs for `window` seconds from it: windows
        // fixed to the clock would let twice the limit through in a moment across a boundary.
        let since = now.plus_seconds(-window);
        let open = self.store.get_counter(&counter, since).await? > 0;
        let start = if open { since } else { now };
        if self.store.increment_counter(&counter, start).await? > limit {
            let until = now.plus_seconds(LOCK_SECONDS);
            self.store.set_lock(&lock, until).await?;
            return Err(locked(until));
        }
        Ok(())
    }

    /// Sends a verification code to one of `id`'s contacts (named by its key): by the user
    /// themself, or by an administrator who may reset their password.
    pub async fn send_verification(&self, actor: &Actor, id: UserId, method_key: &str) -> Result<(), DomainError> {
        let user = self.get_active_user(actor, id).await?;
        if !actor.is(&user) {
            actor.require(Permission::ResetPassword, user.roles)?;
        }
        let method = ContactMethod::from_key(method_key)
            .filter(|m| methods_of(&user.contact).contains(m))
            .ok_or_else(|| DomainError::invalid("method", "Choose one of the user's contacts."))?;
        let channel = method.kind.channel().ok_or_else(|| {
            DomainError::invalid("method", "Office phones can't receive codes; verify a mobile number or an address.")
        })?;
        self.allow_code(Purpose::Verify, &user.id.to_string(), channel).await?;
        let (code, digits) = codes::issue(&self.code_key, user.id, Purpose::Verify, &method, Timestamp::now());
        let change = FieldChange {
            field: method.kind.code().into(),
            sensitive: true,
            before: None,
            after: Some(method.masked()),
        };
        let audit = actor.audit(AuditAction::VerificationSent, Some(&user), vec![change]);
        let message = code_message(&user, &method, &code, &digits);
        self.store.insert_code(&code, Some(&audit), std::slice::from_ref(&message)).await?;
        self.queued(std::slice::from_ref(&message));
        Ok(())
    }

    /// The signed-in user enters the code sent to one of their contacts (named by its key).
    pub async fn verify_contact(
        &self,
        actor: &Actor,
        method_key: &str,
        entered: &str,
    ) -> Result<ContactMethod, DomainError> {
        let user_id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let user = self.store.get_user(user_id).await?.ok_or(DomainError::NotFound("user"))?;
        let method = ContactMethod::from_key(method_key)
            .filter(|m| methods_of(&user.contact).contains(m))
            .ok_or_else(|| DomainError::invalid("code", "This contact is no longer on your account."))?;
        let code = self
            .store
            .latest_code(user_id, Purpose::Verify, &method)
            .await?
            .ok_or_else(|| DomainError::invalid("code", "No code was sent to this contact. Send one first."))?;
        self.check_code(&code, entered).await?;
        let now = Timestamp::now();
        let verification = Verification { method: method.clone(), verified_at: now };
        let change = FieldChange {
            field: method.kind.code().into(),
            sensitive: true,
            before: None,
            after: Some(method.value.clone()),
        };
        let audit = actor.audit(AuditAction::ContactVerified, Some(&user), vec![change]);
        if !self.store.use_code(&code.id, now, Some((user.id, &verification, &audit))).await? {
            return Err(used_up());
        }
        Ok(method)
    }

    /// Checks an entered code: counted first (so parallel guesses cannot pass the limit),
    /// then compared in constant time; wrong, expired and used-up codes get their own words.
    pub(crate) async fn check_code(&self, code: &OneTimeCode, entered: &str) -> Result<(), DomainError> {
        if code.expires_at <= Timestamp::now() {
            return Err(DomainError::invalid("code", "This code has expired. Send a new one."));
        }
        let Some(attempts) = self.store.count_code_entry(&code.id, MAX_WRONG_ENTRIES).await? else {
            return Err(used_up());
        };
        if !self.code_key.matches(code, entered) {
            let left = MAX_WRONG_ENTRIES.saturating_sub(attempts);
            return Err(DomainError::invalid(
                "code",
                if left == 0 {
                    "That code is not right, and it can't be used any more. Send a new one.".to_string()
                } else {
                    format!("That code is not right. You can try {left} more time{}.", if left == 1 { "" } else { "s" })
                },
            ));
        }
        Ok(())
    }
}

fn used_up() -> DomainError {
    DomainError::invalid("code", "This code can't be used any more. Send a new one.")
}
