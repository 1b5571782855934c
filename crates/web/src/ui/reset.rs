//! "Forgot password?": self-service password reset, one step per page, tied to the browser by a
//! cookie that lives as long as the reset may (15 minutes).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use roster_domain::password::MIN_LENGTH;
use roster_domain::recovery::RESET_SESSION_SECONDS;
use roster_domain::session::random_token;
use roster_domain::{Actor, DomainError, FieldError, ResetStep, ResetView};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::{describe, render, PageError};
use crate::ui::form::{new_password_fields, summary, CsrfForm, Field, SummaryItem};
use crate::AppState;

/// The reset under way.
const RESET_COOKIE: &str = "roster_reset";
/// Ties the username form to the browser that loaded it.
const START_COOKIE: &str = "roster_reset_start";

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    view: Option<ResetView>,
    csrf: String,
    username: Field,
    code: Field,
    passwords: Vec<Field>,
    method_error: Option<String>,
    errors: Vec<SummaryItem>,
    notice: Option<String>,
    problem: Option<String>,
}

fn page(view: Option<ResetView>, errors: &[FieldError], min_length: usize) -> ResetPage {
    ResetPage {
        view,
        csrf: String::new(),
        username: Field::text("username", "Username", "")
            .kind("email")
            .autocomplete("username")
            .hint("Your sign-in name, such as alex@contoso.com.")
            .required()
            .with_errors(errors),
        code: Field::text("code", "Code", "")
            .autocomplete("one-time-code")
            .hint("The digits in the message, without spaces.")
            .required()
            .with_errors(errors),
        passwords: new_password_fields(errors, min_length).into(),
        method_error: errors.iter().find(|e| e.field == "method").map(|e| e.message.clone()),
        errors: summary(errors),
        notice: None,
        problem: None,
    }
}

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/reset")
        .max_age(time::Duration::seconds(RESET_SESSION_SECONDS))
        .build()
}

/// The username form, with its own anti-forgery cookie.
fn start_page(jar: CookieJar, status: StatusCode, mut body: ResetPage, secure: bool) -> Response {
    let csrf = random_token();
    body.csrf = csrf.clone();
    (jar.add(cookie(START_COOKIE, csrf, secure)), render(status, &body)).into_response()
}

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    expired: Option<String>,
}

/// `/reset`: asks for the username.
pub async fn start(jar: CookieJar, State(state): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let mut body = page(None, &[], MIN_LENGTH);
    body.notice = q.expired.map(|_| "Your password reset had expired. Start again.".to_string());
    start_page(jar, StatusCode::OK, body, state.config.secure_cookies)
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
}

/// Starts a reset for the username typed, whatever it is.
pub async fn begin(
    jar: CookieJar,
    State(state): State<AppState>,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    let secure = state.config.secure_cookies;
    let fresh = jar.get(START_COOKIE).is_some_and(|c| bool::from(c.value().as_bytes().ct_eq(form.csrf.as_bytes())));
    if !fresh {
        let mut body = page(None, &[], MIN_LENGTH);
        body.problem = Some("This page had expired. Enter your username again.".into());
        return Ok(start_page(jar, StatusCode::FORBIDDEN, body, secure));
    }
    match state.directory.start_reset(&form.username).await {
        Ok(token) => {
            let jar = jar.remove(Cookie::build(START_COOKIE).path("/reset")).add(cookie(RESET_COOKIE, token, secure));
            Ok((jar, Redirect::to("/reset/verify")).into_response())
        }
        Err(DomainError::Invalid(errors)) => {
            Ok(start_page(jar, StatusCode::UNPROCESSABLE_ENTITY, page(None, &errors, MIN_LENGTH), secure))
        }
        Err(e) => Err(e.into()),
    }
}

fn token(jar: &CookieJar) -> Option<String> {
    jar.get(RESET_COOKIE).map(|c| c.value().to_string())
}

/// Renders the current step, with `errors` or a problem from the last action.
async fn current(
    state: &AppState,
    token: &str,
    status: StatusCode,
    errors: &[FieldError],
    problem: Option<String>,
) -> Response {
    let min_length = state.directory.min_password_length().await.unwrap_or(MIN_LENGTH);
    match state.directory.reset_view(token).await {
        Ok(view) => {
            let mut body = page(Some(view), errors, min_length);
            body.problem = problem;
            render(status, &body)
        }
        Err(_) => Redirect::to("/reset?expired=1").into_response(),
    }
}

/// `/reset/verify`: the step the reset is at.
pub async fn show(jar: CookieJar, State(state): State<AppState>) -> Response {
    match token(&jar) {
        Some(token) => current(&state, &token, StatusCode::OK, &[], None).await,
        None => Redirect::to("/reset?expired=1").into_response(),
    }
}

/// What a reset action came to, as a response.
async fn after(state: &AppState, token: &str, result: Result<(), DomainError>) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to("/reset/verify").into_response()),
        Err(DomainError::Invalid(errors)) => {
            Ok(current(state, token, StatusCode::UNPROCESSABLE_ENTITY, &errors, None).await)
        }
        Err(DomainError::NotFound(_)) => Ok(Redirect::to("/reset?expired=1").into_response()),
        Err(e @ (DomainError::Limited(_) | DomainError::Forbidden(_))) => {
            let (status, message) = describe(&e);
            Ok(current(state, token, status, &[], Some(message)).await)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
}

/// Sends a code to the chosen contact.
pub async fn send(
    jar: CookieJar,
    State(state): State<AppState>,
    Form(form): Form<SendForm>,
) -> Result<Response, PageError> {
    let Some(token) = token(&jar) else { return Ok(Redirect::to("/reset?expired=1").into_response()) };
    let result = state.directory.send_reset_code(&token, &form.csrf, &form.method).await;
    after(&state, &token, result).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Checks the code entered.
pub async fn enter_code(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some(token) = token(&jar) else { return Ok(Redirect::to("/reset?expired=1").into_response()) };
    let result = state.directory.enter_reset_code(&token, &form.csrf, &form.code, &client(&parts)).await;
    after(&state, &token, result).await
}

/// Goes back to choosing a contact.
pub async fn other_method(
    jar: CookieJar,
    State(state): State<AppState>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let Some(token) = token(&jar) else { return Ok(Redirect::to("/reset?expired=1").into_response()) };
    let result = state.directory.choose_other_method(&token, &form.csrf).await;
    after(&state, &token, result).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// Sets the new password and sends the user to sign in with it.
pub async fn finish(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let Some(token) = token(&jar) else { return Ok(Redirect::to("/reset?expired=1").into_response()) };
    let result = state
        .directory
        .finish_reset(&token, &form.csrf, &form.new_password, &form.confirm_password, &client(&parts))
        .await;
    if result.is_ok() {
        let jar = jar.remove(Cookie::build(RESET_COOKIE).path("/reset"));
        return Ok((jar, Redirect::to("/signin?reset=1")).into_response());
    }
    after(&state, &token, result).await
}

/// Who is resetting: an unnamed client, by address.
fn client(parts: &Parts) -> Actor {
    crate::session::anonymous(parts, "Self-service password reset")
}
