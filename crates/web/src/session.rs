//! Who is asking: the session cookie, the signed-in user, and the CSRF token check.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use roster_domain::permission::{self, Permission};
use roster_domain::session::Session;
use roster_domain::{Actor, RoleSet, User};
use subtle::ConstantTimeEq;

use crate::error::PageError;
use crate::extract::{SessionActor, SessionCsrf};
use crate::security::ClientAddress;
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "roster_session";

/// A signed-in user with a live session.
pub struct SignedIn {
    pub user: User,
    pub session: Session,
    /// The cookie token (needed to keep this session when others end).
    pub token: String,
    pub actor: Actor,
}

impl SignedIn {
    /// Checks a form's CSRF token against the session's, where [`crate::extract::Checked`]
    /// cannot: a field of a multipart upload read as it streams.
    pub fn verify_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if bool::from(submitted.as_bytes().ct_eq(self.session.csrf_token.as_bytes())) {
            Ok(())
        } else {
            Err(PageError::BadToken)
        }
    }

    /// Refuses the page unless the signed-in user may do `permission` to a user holding `target`.
    pub fn require(&self, permission: Permission, target: RoleSet) -> Result<(), PageError> {
        permission::check(self.user.roles, permission, target)
            .map_err(|why| PageError::Domain(roster_domain::DomainError::Forbidden(why)))
    }

    /// Whether the user holds any administrator role.
    pub fn is_admin(&self) -> bool {
        self.user.roles.is_admin()
    }
}

/// The client's address: the peer's, or the one a trusted proxy forwarded for.
pub fn client_ip(parts: &Parts) -> String {
    parts.extensions.get::<ClientAddress>().map(|c| c.0.to_string()).unwrap_or_else(|| "unknown".into())
}

/// Someone not signed in (a sign-in or reset under way), named for audit records and known
/// by address.
pub fn anonymous(parts: &Parts, name: &str) -> roster_domain::Actor {
    roster_domain::Actor {
        user_id: None,
        display_name: name.into(),
        roles: roster_domain::RoleSet::NONE,
        app: None,
        client_ip: Some(client_ip(parts)),
        request_id: request_id(parts),
    }
}

/// The request id the request-id layer set.
pub fn request_id(parts: &Parts) -> Option<String> {
    parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string)
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(PageError::SignIn { next });
        };
        let Some((session, user)) = state.directory.session(&token).await? else {
            return Err(PageError::SignIn { next });
        };
        let path = parts.uri.path();
        if user.must_change_password && path != "/account/password" && path != "/signout" {
            return Err(PageError::ChangePassword);
        }
        if session.by_access_pass() && !open_to_access_pass(path) {
            return Err(PageError::AccessPassOnly);
        }
        let actor = Actor::user(&user, Some(client_ip(parts)), request_id(parts));
        parts.extensions.insert(SessionCsrf(session.csrf_token.clone()));
        parts.extensions.insert(SessionActor(actor.clone()));
        Ok(SignedIn { user, session, token, actor })
    }
}

/// Whether a session opened with a Temporary Access Pass may open `path`: Security info
/// (registering methods), choosing a password, and signing out (here or at an application's
/// request).
pub fn open_to_access_pass(path: &str) -> bool {
    matches!(path, "/account/security" | "/account/password" | "/signout" | "/oauth2/v2.0/logout/confirm")
        || path.starts_with("/account/security/")
}

/// A signed-in user with an administrator role; anyone else gets 403.
pub struct Admin(pub SignedIn);

impl FromRequestParts<AppState> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let me = SignedIn::from_request_parts(parts, state).await?;
        if !me.is_admin() {
            return Err(PageError::Domain(roster_domain::DomainError::Forbidden(
                "The admin center is only for administrators. Your account page is still yours to use.".into(),
            )));
        }
        Ok(Admin(me))
    }
}

/// The session cookie for a new session.
pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token)).http_only(true).same_site(SameSite::Lax).secure(secure).path("/").build()
}

/// A cookie that removes the session cookie.
pub fn cleared_session_cookie() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, "")).path("/").build()
}
