//! The second step of sign-in: a code from the authenticator app, a code sent by text or
//! email, or a recovery code; and, for someone who must have a second factor and has none,
//! setting up an authenticator app before going on ("Keep your account secure").

use askama::Template;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar};
use roster_domain::directory::{Proof, SecondStepView, SignedIn};
use roster_domain::{Actor, DomainError, FieldError};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::session::session_cookie;
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::signin::SECOND_STEP_COOKIE;
use crate::AppState;

#[derive(Template)]
#[template(path = "second_step.html")]
struct SecondStepPage {
    view: SecondStepView,
    app_code: Field,
    code: Field,
    recovery_code: Field,
    passkey_name: Field,
    errors: Vec<SummaryItem>,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub status: String,
    pub codes: Vec<String>,
    pub next: String,
}

fn page(view: SecondStepView, errors: &[FieldError], problem: Option<String>) -> SecondStepPage {
    let digits = |name: &str, label: &str| {
        Field::text(name, label, "").autocomplete("one-time-code").required().with_errors(errors)
    };
    SecondStepPage {
        view,
        app_code: digits("app_code", "Code from your authenticator app")
            .hint("Six digits; a new one every 30 seconds."),
        code: digits("code", "Code"),
        recovery_code: digits("recovery_code", "Recovery code").autocomplete("off"),
        passkey_name: Field::text("name", "Name for the passkey", "")
            .autocomplete("off")
            .hint("Such as “Work laptop” or “Phone”.")
            .with_errors(errors),
        errors: summary(errors),
        problem,
    }
}

pub(crate) fn token(jar: &CookieJar) -> Option<String> {
    jar.get(SECOND_STEP_COOKIE).map(|c| c.value().to_string())
}

fn start_again() -> Response {
    Redirect::to("/signin").into_response()
}

async fn current(
    state: &AppState,
    token: &str,
    status: StatusCode,
    errors: &[FieldError],
    problem: Option<String>,
) -> Response {
    match state.directory.second_step_view(token).await {
        Ok(view) => render(status, &page(view, errors, problem)),
        Err(_) => start_again(),
    }
}

/// `/signin/verify`: the second step.
pub async fn show(jar: CookieJar, State(state): State<AppState>) -> Response {
    match token(&jar) {
        Some(token) => current(&state, &token, StatusCode::OK, &[], None).await,
        None => start_again(),
    }
}

/// Answers an action of the second step that leaves the user on it.
async fn stay(state: &AppState, token: &str, result: Result<(), DomainError>) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to("/signin/verify").into_response()),
        Err(DomainError::Invalid(errors)) => {
            Ok(current(state, token, StatusCode::UNPROCESSABLE_ENTITY, &errors, None).await)
        }
        Err(DomainError::NotFound(_)) => Ok(start_again()),
        Err(e @ (DomainError::Limited(_) | DomainError::Forbidden(_))) => {
            let (status, message) = describe(&e);
            Ok(current(state, token, status, &[], Some(message)).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens the session: straight on to where the user was going, or first to their new
/// recovery codes.
pub(crate) async fn signed_in(
    state: &AppState,
    jar: CookieJar,
    token: &str,
    result: Result<SignedIn, DomainError>,
) -> Result<Response, PageError> {
    let done = match result {
        Ok(done) => done,
        Err(e) => return stay(state, token, Err(e)).await,
    };
    let jar = jar
        .remove(Cookie::build(SECOND_STEP_COOKIE).path("/signin"))
        .add(session_cookie(done.token, state.config.secure_cookies));
    let next = if done.user.must_change_password { "/account/password".to_string() } else { done.next };
    if done.recovery_codes.is_empty() {
        return Ok((jar, Redirect::to(&next)).into_response());
    }
    let body = RecoveryCodesPage {
        status: "Your authenticator app is set up, and you are signed in.".into(),
        codes: done.recovery_codes,
        next,
    };
    Ok((jar, render(StatusCode::OK, &body)).into_response())
}

pub(crate) fn client(parts: &Parts) -> Actor {
    crate::session::anonymous(parts, "Sign-in")
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    app_code: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
    #[serde(default)]
    contact: String,
}

/// Sends a code to the chosen contact.
pub async fn send(
    jar: CookieJar,
    State(state): State<AppState>,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some(token) = token(&jar) else { return Ok(start_again()) };
    let result = state.directory.send_sign_in_code(&token, &form.csrf, &form.contact).await;
    stay(&state, &token, result).await
}

async fn finish(
    jar: CookieJar,
    state: AppState,
    parts: Parts,
    form: CodeForm,
    proof: Proof,
) -> Result<Response, PageError> {
    let Some(token) = token(&jar) else { return Ok(start_again()) };
    let entered = match proof {
        Proof::App => &form.app_code,
        Proof::SentCode => &form.code,
        Proof::RecoveryCode => &form.recovery_code,
    };
    let result = state.directory.finish_second_step(&token, &form.csrf, proof, entered, &client(&parts)).await;
    signed_in(&state, jar, &token, result).await
}

/// Checks a code from the authenticator app.
pub async fn app(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    finish(jar, state, parts, form, Proof::App).await
}

/// Checks the code sent by text or email.
pub async fn code(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    finish(jar, state, parts, form, Proof::SentCode).await
}

/// Checks a recovery code.
pub async fn recovery(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    finish(jar, state, parts, form, Proof::RecoveryCode).await
}

/// Confirms the authenticator app set up during sign-in.
pub async fn enrol(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some(token) = token(&jar) else { return Ok(start_again()) };
    let result = state.directory.confirm_sign_in_enrolment(&token, &form.csrf, &form.app_code, &client(&parts)).await;
    signed_in(&state, jar, &token, result).await
}
