//! Signing in and out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use roster_domain::access_pass::Usability;
use roster_domain::session::random_token;
use roster_domain::SignInOutcome;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::{render, PageError};
use crate::extract::CheckedPost;
use crate::session::{cleared_session_cookie, session_cookie, SignedIn, SESSION_COOKIE};
use crate::AppState;

/// The cookie that ties the sign-in form to the browser that loaded it (login CSRF).
pub(crate) const SIGNIN_COOKIE: &str = "roster_signin";
/// The cookie of a sign-in waiting for its second step.
pub const SECOND_STEP_COOKIE: &str = "roster_second_step";

/// The second-step cookie, living as long as the second step may take.
pub fn second_step_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SECOND_STEP_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/signin")
        .max_age(time::Duration::seconds(roster_domain::mfa::PENDING_SIGNIN_SECONDS))
        .build()
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    username: String,
    next: String,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
    /// The server can offer passkeys (its public URL names a host).
    passkeys: bool,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    signed_out: Option<String>,
    #[serde(default)]
    reset: Option<String>,
    /// Filled in for the person: an application's `login_hint`.
    #[serde(default)]
    username: String,
}

/// `/`: administrators land on the admin center's home, other signed-in people on their account
/// page, everyone else on sign-in.
pub async fn home(jar: CookieJar, State(state): State<AppState>) -> Result<Response, PageError> {
    if let Some(token) = jar.get(SESSION_COOKIE) {
        if let Some((session, user)) = state.directory.session(token.value()).await? {
            let landing = match () {
                _ if session.by_access_pass() => "/account/security",
                _ if user.roles.is_admin() => "/admin",
                _ => "/account",
            };
            return Ok(Redirect::to(landing).into_response());
        }
    }
    Ok(Redirect::to("/signin").into_response())
}

fn page(jar: CookieJar, status: StatusCode, mut page: SignInPage, state: &AppState) -> Response {
    let secure = state.config.secure_cookies;
    let csrf = random_token();
    page.csrf = csrf.clone();
    page.passkeys = state.directory.passkeys_available();
    let cookie = Cookie::build((SIGNIN_COOKIE, csrf))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/signin")
        .build();
    (jar.add(cookie), render(status, &page)).into_response()
}

/// The sign-in form.
pub async fn show(jar: CookieJar, State(state): State<AppState>, Query(q): Query<SignInQuery>) -> Response {
    let notice = match (q.signed_out, q.reset) {
        (_, Some(_)) => Some("Your password was reset. Sign in with your new password.".to_string()),
        (Some(_), None) => Some("You have signed out.".to_string()),
        (None, None) => None,
    };
    let form =
        SignInPage { username: q.username, next: q.next, csrf: String::new(), error: None, notice, passkeys: false };
    page(jar, StatusCode::OK, form, &state)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

/// Checks the credentials and opens a session.
pub async fn submit(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let secure = state.config.secure_cookies;
    let cookie_ok =
        jar.get(SIGNIN_COOKIE).is_some_and(|c| bool::from(c.value().as_bytes().ct_eq(form.csrf.as_bytes())));
    let retry = |error: &str| SignInPage {
        username: form.username.clone(),
        next: form.next.clone(),
        csrf: String::new(),
        error: Some(error.to_string()),
        notice: None,
        passkeys: false,
    };
    if !cookie_ok {
        let form = retry("Your sign-in page had expired. Please sign in again.");
        return Ok(page(jar, StatusCode::FORBIDDEN, form, &state));
    }
    let ip = crate::session::client_ip(&parts);
    let next = crate::error::local_path(&form.next).unwrap_or("/");
    let outcome = state.directory.sign_in(&form.username, &form.password, &ip, next).await?;
    crate::metrics::sign_in(match &outcome {
        SignInOutcome::SecondStep { .. } => "second_step",
        SignInOutcome::Success { .. } => "success",
        SignInOutcome::WithAccessPass { .. } => "access_pass",
        SignInOutcome::PassNotUsable { .. } => "access_pass_refused",
        SignInOutcome::Failed => "failed",
        SignInOutcome::Blocked => "blocked",
        SignInOutcome::Throttled => "throttled",
    });
    let (status, message) = match outcome {
        SignInOutcome::SecondStep { token } => {
            let jar = jar.remove(Cookie::build(SIGNIN_COOKIE).path("/signin")).add(second_step_cookie(token, secure));
            return Ok((jar, Redirect::to("/signin/verify")).into_response());
        }
        SignInOutcome::Success { token, user } => {
            let target = if user.must_change_password {
                "/account/password".to_string()
            } else {
                crate::error::local_path(&form.next).unwrap_or("/").to_string()
            };
            let jar = jar.remove(Cookie::build(SIGNIN_COOKIE).path("/signin")).add(session_cookie(token, secure));
            return Ok((jar, Redirect::to(&target)).into_response());
        }
        SignInOutcome::WithAccessPass { token, .. } => {
            let jar = jar.remove(Cookie::build(SIGNIN_COOKIE).path("/signin")).add(session_cookie(token, secure));
            return Ok((jar, Redirect::to("/account/security")).into_response());
        }
        SignInOutcome::PassNotUsable { why, .. } => (StatusCode::UNAUTHORIZED, pass_refusal(why)),
        SignInOutcome::Failed => (StatusCode::UNAUTHORIZED, "Your username or password is incorrect."),
        SignInOutcome::Blocked => {
            (StatusCode::FORBIDDEN, "Your account is blocked from signing in. Contact your administrator.")
        }
        SignInOutcome::Throttled => {
            (StatusCode::TOO_MANY_REQUESTS, "Too many failed sign-in attempts. Wait 15 minutes and try again.")
        }
    };
    Ok(page(jar, status, retry(message), &state))
}

/// The sign-in page again, saying why the last attempt failed.
pub fn refused(jar: CookieJar, state: &AppState, status: StatusCode, message: &str) -> Response {
    let form = SignInPage {
        username: String::new(),
        next: String::new(),
        csrf: String::new(),
        error: Some(message.to_string()),
        notice: None,
        passkeys: false,
    };
    page(jar, status, form, state)
}

/// Why a Temporary Access Pass that was entered right did not sign its holder in: they know
/// the pass already, so saying why tells no one anything new.
fn pass_refusal(why: Usability) -> &'static str {
    match why {
        Usability::NotYetValid => "Your Temporary Access Pass isn't valid yet. Try again from the time your administrator gave you.",
        Usability::Expired => "Your Temporary Access Pass has expired. Ask your administrator for a new one.",
        Usability::OneTimeUsed => "Your Temporary Access Pass was for one sign-in, and it has been used. Ask your administrator for a new one.",
        Usability::DisabledByPolicy | Usability::Usable => "Your organisation doesn't let you sign in with a Temporary Access Pass. Ask your administrator.",
    }
}

/// Ends the session.
pub async fn sign_out(
    me: SignedIn,
    jar: CookieJar,
    State(state): State<AppState>,
    _: CheckedPost,
) -> Result<Response, PageError> {
    state.directory.sign_out(&me.token).await?;
    Ok((jar.add(cleared_session_cookie()), Redirect::to("/signin?signed_out=1")).into_response())
}
