//! Sign-in, sessions and password changes, with throttling per account and per client address.

use crate::access_pass::{AccessPass, Usability};
use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::directory::audit_log::day_range;
use crate::directory::{hash_off_thread, Actor, Directory};
use crate::error::{DomainError, FieldError};
use crate::notify::{self, Occasion, PasswordEvent};
use crate::oidc::grant::AuthMethods;
use crate::password;
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::session::{self, Session};
use crate::signin_log::{SignInEvent, SignInQuery};
use crate::time_zone::Zone;
use crate::user::{User, UserId};

/// Failed sign-ins allowed per account in one window before it is locked for the rest of it.
pub const ACCOUNT_FAILURE_LIMIT: u32 = 10;
/// Failed sign-ins allowed per client address in one window.
pub const ADDRESS_FAILURE_LIMIT: u32 = 50;
/// The throttling window.
pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;

/// How a sign-in attempt ended.
#[derive(Debug)]
pub enum SignInOutcome {
    /// Signed in: the new session's token (for the cookie) and the user.
    Success { token: String, user: Box<User> },
    /// The password was right; the second step comes next, tied to this token.
    SecondStep { token: String },
    /// Signed in with a Temporary Access Pass: a session that may only register methods
    /// and choose a password, ending with the pass.
    WithAccessPass { token: String, user: Box<User> },
    /// The user's Temporary Access Pass was entered, but it cannot sign them in now.
    PassNotUsable { user_id: UserId, why: Usability },
    /// Wrong username or password; the caller must not say which.
    Failed,
    /// The password was right but sign-in is blocked for this account.
    Blocked,
    /// Too many failures from this account or address; try later.
    Throttled,
}

pub(crate) fn window_start(now: Timestamp) -> Timestamp {
    let window = FAILURE_WINDOW_SECONDS * 1000;
    Timestamp(now.millis() - now.millis().rem_euclid(window))
}

/// A fixed hash to verify against for unknown users, so that timing does not tell them apart.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| password::hash("roster-decoy-password"))
}

/// Checks `candidate` against `stored` (or the decoy when there is none) on a blocking thread:
/// Argon2 takes tens of milliseconds of CPU, and so does building the decoy the first time.
async fn verify_off_thread(candidate: &str, stored: Option<String>) -> Result<bool, DomainError> {
    let candidate = candidate.to_string();
    tokio::task::spawn_blocking(move || {
        let matched = password::verify(&candidate, stored.as_deref().unwrap_or_else(|| decoy_hash()));
        matched && stored.is_some()
    })
    .await
    .map_err(|e| DomainError::Internal(format!("password check failed: {e}")))
}

/// The sign-in log's filters as typed.
#[derive(Debug, Clone, Default)]
pub struct SignInFilterInput {
    pub username: String,
    /// `success`, `failure`, or empty for both.
    pub result: String,
    /// The first day shown, `YYYY-MM-DD`.
    pub from: String,
    /// The last day shown.
    pub to: String,
    /// The time zone the days are in: the reader's.
    pub zone: Zone,
}

impl Directory {
    /// Sign-in attempts, newest first.
    pub async fn sign_in_log(&self, actor: &Actor, query: &SignInQuery) -> Result<Vec<SignInEvent>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        Ok(self.store.list_signins(query).await?)
    }

    /// Turns typed filters into a query, naming every field that cannot be understood.
    pub fn sign_in_query(input: &SignInFilterInput) -> Result<SignInQuery, DomainError> {
        let mut errors = Vec::new();
        let success = match input.result.trim() {
            "" => None,
            "success" => Some(true),
            "failure" => Some(false),
            _ => {
                errors.push(FieldError::new("result", "Choose a result from the list."));
                None
            }
        };
        let (from, until) = day_range(&input.from, &input.to, &input.zone, &mut errors);
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let username = Some(input.username.trim().to_lowercase()).filter(|u| !u.is_empty());
        Ok(SignInQuery { username, success, from, until, ..SignInQuery::default() })
    }

    /// Checks a username and password and, if right, opens a session.
    ///
    /// Every attempt counts against the account before the password is checked, so a burst of
    /// parallel guesses cannot slip past the limit; a successful sign-in clears the count.
    /// When the user must prove a second factor, no session opens yet: the sign-in waits for
    /// its second step, and goes to `next` after it.
    ///
    /// Every attempt that ends here goes into the sign-in log; one that goes on to a second
    /// step is logged when that step ends.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client_ip: &str,
        next: &str,
    ) -> Result<SignInOutcome, DomainError> {
        let outcome = self.check_sign_in(username, password, client_ip, next).await?;
        let username = username.trim().to_lowercase();
        let (user_id, detail) = match &outcome {
            SignInOutcome::SecondStep { .. } => return Ok(outcome),
            SignInOutcome::WithAccessPass { user, .. } => {
                self.log_sign_in(&username, Some(user.id), "Temporary Access Pass", "", client_ip).await?;
                return Ok(outcome);
            }
            SignInOutcome::PassNotUsable { user_id, why } => {
                let detail = why.sign_in_detail();
                self.log_sign_in(&username, Some(*user_id), "Temporary Access Pass", detail, client_ip).await?;
                return Ok(outcome);
            }
            SignInOutcome::Success { user, .. } => (Some(user.id), ""),
            SignInOutcome::Failed => (None, "Wrong username or password"),
            SignInOutcome::Blocked => (None, "Sign-in is blocked for this account"),
            SignInOutcome::Throttled => (None, "Too many failed attempts: sign-in is locked for now"),
        };
        self.log_sign_in(&username, user_id, "Password", detail, client_ip).await?;
        Ok(outcome)
    }

    /// Appends an attempt to the sign-in log: a success when `detail` (why it failed) is empty.
    pub(crate) async fn log_sign_in(
        &self,
        username: &str,
        user_id: Option<UserId>,
        method: &str,
        detail: &str,
        client_ip: &str,
    ) -> Result<(), DomainError> {
        let event = SignInEvent {
            id: 0,
            at: Timestamp::now(),
            user_id,
            username: username.chars().take(256).collect(),
            success: detail.is_empty(),
            method: method.into(),
            detail: detail.into(),
            client_ip: Some(client_ip.to_string()),
        };
        Ok(self.store.record_signin(&event).await?)
    }

    async fn check_sign_in(
        &self,
        username: &str,
        password: &str,
        client_ip: &str,
        next: &str,
    ) -> Result<SignInOutcome, DomainError> {
        let username = username.trim().to_lowercase();
        let account_key = format!("signin:account:{username}");
        let address_key = format!("signin:address:{client_ip}");
        let window = window_start(Timestamp::now());
        if self.store.get_counter(&address_key, window).await? >= ADDRESS_FAILURE_LIMIT {
            return Ok(SignInOutcome::Throttled);
        }
        let attempts = self.store.increment_counter(&account_key, window).await?;
        if attempts > ACCOUNT_FAILURE_LIMIT {
            if attempts == ACCOUNT_FAILURE_LIMIT + 1 {
                self.tell_of_sign_in_lock(&username, client_ip).await?;
            }
            return Ok(SignInOutcome::Throttled);
        }
        let credentials = self.store.get_credentials(&username).await?;
        let matches = verify_off_thread(password, credentials.as_ref().and_then(|c| c.password_hash.clone())).await?;
        // A Temporary Access Pass is entered where the password goes; it is tried only when
        // the password did not match, and is a keyed hash away, not a second Argon2.
        let mut pass = None;
        let user = match (credentials, matches) {
            (Some(c), true) => self.store.get_user(c.user_id).await?,
            (Some(c), false) => {
                pass = self.pass_entered(c.user_id, password).await?;
                match pass {
                    Some(_) => self.store.get_user(c.user_id).await?,
                    None => None,
                }
            }
            _ => None,
        };
        let Some(user) = user.filter(|u| u.deleted_at.is_none()) else {
            self.store.increment_counter(&address_key, window).await?;
            return Ok(SignInOutcome::Failed);
        };
        if !user.enabled {
            // The attempt stays counted, so a blocked account cannot be used to test passwords.
            return Ok(SignInOutcome::Blocked);
        }
        if let Some(pass) = pass {
            let usability = self.use_pass(&user, &pass).await?;
            if usability != Usability::Usable {
                return Ok(SignInOutcome::PassNotUsable { user_id: user.id, why: usability });
            }
            self.store.reset_counter(&account_key).await?;
            let token = self.open_session_by_pass(user.id, &pass).await?;
            return Ok(SignInOutcome::WithAccessPass { token, user: Box::new(user) });
        }
        self.store.reset_counter(&account_key).await?;
        if self.needs_second_step(&user).await? {
            return Ok(SignInOutcome::SecondStep { token: self.park_sign_in(&user, next).await? });
        }
        let token = self.open_session(user.id, AuthMethods::password()).await?;
        Ok(SignInOutcome::Success { token, user: Box::new(user) })
    }

    /// Tells the owner of `username`, if there is one, that sign-in is locked for the rest of
    /// the window after repeated failures (once per window).
    async fn tell_of_sign_in_lock(&self, username: &str, client_ip: &str) -> Result<(), DomainError> {
        let Some(user) = self.store.get_credentials(username).await? else {
            return Ok(());
        };
        let Some(user) = self.store.get_user(user.user_id).await? else {
            return Ok(());
        };
        let actor = Actor {
            user_id: None,
            display_name: "Sign-in".into(),
            roles: crate::role::RoleSet::NONE,
            client_ip: Some(client_ip.to_string()),
            request_id: None,
            app: None,
        };
        let notices = notify::security_event(
            &user,
            "Your account was locked",
            "Someone tried to sign in with wrong passwords too many times, so sign-in is locked for 15 minutes. If \
             it wasn't you, nothing is needed; if it keeps happening, tell your IT administrator.",
            &Occasion { actor: &actor, at: Timestamp::now() },
        );
        let change = FieldChange {
            field: "sign_in".into(),
            sensitive: true,
            before: None,
            after: Some("locked for 15 minutes".into()),
        };
        let audit = actor.audit(AuditAction::AccountLocked, Some(&user), vec![change]);
        self.store.record(&audit, &notices).await?;
        self.queued(&notices);
        Ok(())
    }

    /// Confirms the signed-in user's password again for a change that needs a recent sign-in:
    /// the session is replaced by a new one (whose sign-in time is now); returns its token.
    pub async fn reauthenticate(
        &self,
        actor: &Actor,
        current_token: &str,
        password: &str,
    ) -> Result<String, DomainError> {
        let id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let user = self.store.get_user(id).await?.ok_or(DomainError::NotFound("user"))?;
        let account_key = format!("signin:account:{}", user.username);
        let window = window_start(Timestamp::now());
        if self.store.increment_counter(&account_key, window).await? > ACCOUNT_FAILURE_LIMIT {
            return Err(DomainError::Throttled);
        }
        if !verify_off_thread(password, self.store.get_password_hash(id).await?).await? {
            return Err(DomainError::invalid("password", "The password is not right."));
        }
        self.store.reset_counter(&account_key).await?;
        // The second step of the session being replaced still stands: only the password is new.
        let current = session::hash_token(current_token);
        let amr = self.store.get_session(&current).await?.map_or_else(AuthMethods::password, |s| s.amr);
        let token = self.open_session(id, amr).await?;
        self.store.delete_session(&current).await?;
        Ok(token)
    }

    pub(crate) async fn open_session(&self, user_id: UserId, amr: AuthMethods) -> Result<String, DomainError> {
        self.create_session(user_id, amr, None).await
    }

    /// Opens a session for the holder of `pass`: it ends with the pass, and as soon as the
    /// pass is removed or replaced.
    async fn open_session_by_pass(&self, user_id: UserId, pass: &AccessPass) -> Result<String, DomainError> {
        self.create_session(user_id, AuthMethods::by_access_pass(), Some(pass)).await
    }

    async fn create_session(
        &self,
        user_id: UserId,
        amr: AuthMethods,
        pass: Option<&AccessPass>,
    ) -> Result<String, DomainError> {
        let token = session::random_token();
        let now = Timestamp::now();
        let session = Session {
            token_hash: session::hash_token(&token),
            user_id,
            csrf_token: session::random_token(),
            created_at: now,
            last_seen_at: now,
            amr,
            expires_at: pass.map(AccessPass::ends_at),
            access_pass: pass.map(|p| p.id),
        };
        self.store.create_session(&session).await?;
        Ok(token)
    }

    /// The live session and its user for a cookie token, refreshing its activity time.
    pub async fn session(&self, token: &str) -> Result<Option<(Session, User)>, DomainError> {
        let token_hash = session::hash_token(token);
        let Some(session) = self.store.get_session(&token_hash).await? else {
            return Ok(None);
        };
        let now = Timestamp::now();
        if session.expired(now) {
            self.store.delete_session(&token_hash).await?;
            return Ok(None);
        }
        let user = self.store.get_user(session.user_id).await?;
        let Some(user) = user.filter(|u| u.enabled && u.deleted_at.is_none()) else {
            self.store.delete_session(&token_hash).await?;
            return Ok(None);
        };
        if session.by_access_pass() && !self.pass_session_stands(&session).await? {
            self.store.delete_session(&token_hash).await?;
            return Ok(None);
        }
        if session.needs_touch(now) {
            self.store.touch_session(&token_hash, now).await?;
        }
        Ok(Some((session, user)))
    }

    /// Ends the session behind a cookie token, and tells the applications the person signed in
    /// to through Roster that registered a back-channel logout address.
    pub async fn sign_out(&self, token: &str) -> Result<(), DomainError> {
        let token_hash = session::hash_token(token);
        let session = self.store.get_session(&token_hash).await?;
        self.store.delete_session(&token_hash).await?;
        if let Some(session) = session {
            if let Some(user) = self.store.get_user(session.user_id).await? {
                self.tell_apps_signed_out(&user).await;
            }
        }
        Ok(())
    }

    /// A user changes their own password; their other sessions end.
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current_token: &str,
        current_password: &str,
        new_password: &str,
    ) -> Result<(), DomainError> {
        let id = actor.user_id.ok_or_else(|| DomainError::Forbidden("Sign in first.".into()))?;
        let user = self.store.get_user(id).await?.ok_or(DomainError::NotFound("user"))?;
        // Guesses at the current password count against the account like sign-in attempts.
        let account_key = format!("signin:account:{}", user.username);
        let window = window_start(Timestamp::now());
        if self.store.increment_counter(&account_key, window).await? > ACCOUNT_FAILURE_LIMIT {
            return Err(DomainError::Throttled);
        }
        let right = verify_off_thread(current_password, self.store.get_password_hash(id).await?).await?;
        let mut errors = Vec::new();
        if !right {
            errors.push(FieldError::new("current_password", "The current password is not right."));
        }
        if let Err(e) = self.check_new_password("new_password", new_password, &user).await? {
            errors.push(e);
        } else if new_password == current_password {
            errors.push(FieldError::new("new_password", "Choose a password different from the current one."));
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        self.store.reset_counter(&account_key).await?;
        let hash = hash_off_thread(new_password.to_string()).await?;
        let audit = actor.audit(AuditAction::PasswordChanged, Some(&user), Vec::new());
        let notices = notify::password_changed(&user, PasswordEvent::Changed, &Occasion { actor, at: audit.at });
        self.store.set_password(id, &hash, false, &audit, &notices).await?;
        self.queued(&notices);
        let keep = session::hash_token(current_token);
        self.store.delete_user_sessions(id, Some(&keep)).await?;
        self.end_app_sign_ins(&user).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned() {
        let w = FAILURE_WINDOW_SECONDS * 1000;
        assert_eq!(window_start(Timestamp(w + 5)), Timestamp(w));
        assert_eq!(window_start(Timestamp(w - 1)), Timestamp(0));
    }
}
