//! Passkeys in the browser: adding one on Security info, using one as the second step or to
//! sign in without a password, and removing one. Each ceremony is two requests: the page's
//! script asks for the options (JSON), the browser's authenticator answers, and the script
//! posts the answer in an ordinary form, which redirects as every other form does.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use roster_domain::directory::PasskeyChallenge;
use roster_domain::passkey::StoredPasskey;
use roster_domain::time_zone::Zone;
use roster_domain::{DomainError, SignInOutcome};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::{describe, render, PageError};
use crate::extract::{user_id, Checked, CheckedPost, ReaderZone};
use crate::session::{session_cookie, Admin, SignedIn};
use crate::ui::confirm::{ConfirmPage, Panel};
use crate::ui::layout::{Layout, Section};
use crate::ui::signin::{self, SIGNIN_COOKIE};
use crate::ui::time_zone::Moment;
use crate::ui::{second_step, security_info};
use crate::AppState;

/// A ceremony's options as the page's script takes them, or why there are none.
fn challenge(result: Result<PasskeyChallenge, DomainError>) -> Response {
    match result {
        Ok(c) => {
            let options: Value = serde_json::from_str(&c.options).unwrap_or(Value::Null);
            Json(json!({ "ceremony": c.token, "options": options })).into_response()
        }
        Err(e) => {
            let (status, message) = describe(&e);
            (status, Json(json!({ "error": message }))).into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// `POST /account/security/passkeys/options`: the options for adding the passkey named.
pub async fn registration_options(
    me: SignedIn,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<NameForm>>,
) -> Response {
    challenge(state.directory.begin_passkey_registration(&me.actor, &me.session, &form.name).await)
}

#[derive(Deserialize)]
pub struct CeremonyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    next: String,
}

/// `POST /account/security/passkeys`: stores the passkey the browser made.
pub async fn register(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<CeremonyForm>>,
) -> Result<Response, PageError> {
    let added = state.directory.finish_passkey_registration(
        &me.actor,
        &me.session,
        &form.ceremony,
        &form.name,
        &form.credential,
    );
    match added.await {
        Ok(_) => Ok(Redirect::to("/account/security?saved=passkey").into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = security_info::page(&me, &state, &zone, None, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/security/passkeys/{id}/remove`.
pub async fn remove_own(
    me: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: CheckedPost,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::NotFound("passkey"))?;
    state.directory.remove_own_passkey(&me.actor, &me.session, id).await?;
    Ok(Redirect::to("/account/security?saved=passkey-removed").into_response())
}

/// `GET /admin/users/{id}/passkeys/{passkey}/remove`: asks before an administrator removes a
/// passkey, naming it and saying what follows.
pub async fn confirm_remove(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path((user, passkey)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, user_id(&user)?).await?;
    let passkeys = state.directory.passkeys_of(&me.actor, user.id).await?;
    let found = passkeys.iter().find(|p| p.id.to_string() == passkey).ok_or(DomainError::NotFound("passkey"))?;
    let p = Panel {
        code: "remove-passkey",
        question: format!("Remove the passkey “{}” of {}?", found.name, user.contact.display_name),
        consequence: "It stops signing them in at once, on every device it was synchronised to, and they are told by \
                      email. They can add a new one on their Security info page.",
        action: format!("/admin/users/{}/passkeys/{}/remove", user.id, found.id),
        field: None,
        button: "Remove passkey",
        user_id: user.id.to_string(),
    };
    let layout = Layout::new(&me, p.question.clone(), Section::ActiveUsers);
    Ok(render(StatusCode::OK, &ConfirmPage { layout, p }))
}

/// `POST /admin/users/{id}/passkeys/{passkey}/remove`: an administrator removes a passkey
/// for a lost device.
pub async fn remove(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path((user, passkey)): Path<(String, String)>,
    _: CheckedPost,
) -> Result<Response, PageError> {
    let user = user_id(&user)?;
    let passkey = Uuid::parse_str(&passkey).map_err(|_| DomainError::NotFound("passkey"))?;
    state.directory.remove_passkey(&me.actor, user, passkey).await?;
    Ok(Redirect::to(&format!("/admin/users/{user}?saved=passkey-removed#methods-heading")).into_response())
}

/// What a ceremony's options are asked with: the page's token and, for a registration, the
/// name the passkey will have.
#[derive(Deserialize)]
pub struct OptionsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

fn sign_in_expired() -> Response {
    challenge(Err(DomainError::Forbidden("This sign-in expired. Sign in again.".into())))
}

/// `POST /signin/verify/passkey/options`: the options for a passkey as the second step.
pub async fn second_step_options(
    jar: CookieJar,
    State(state): State<AppState>,
    Form(form): Form<OptionsForm>,
) -> Response {
    let Some(token) = second_step::token(&jar) else { return sign_in_expired() };
    challenge(state.directory.begin_passkey_second_step(&token, &form.csrf).await)
}

/// `POST /signin/verify/passkey`: finishes the second step with the passkey's answer.
pub async fn second_step(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CeremonyForm>,
) -> Result<Response, PageError> {
    let Some(token) = second_step::token(&jar) else { return Ok(Redirect::to("/signin").into_response()) };
    let client = second_step::client(&parts);
    let result =
        state.directory.finish_passkey_second_step(&token, &form.csrf, &form.ceremony, &form.credential, &client).await;
    second_step::signed_in(&state, jar, &token, result).await
}

/// `POST /signin/verify/enrol/passkey/options`: the options for adding a passkey at "Keep your
/// account secure".
pub async fn enrolment_options(
    jar: CookieJar,
    State(state): State<AppState>,
    Form(form): Form<OptionsForm>,
) -> Response {
    let Some(token) = second_step::token(&jar) else { return sign_in_expired() };
    challenge(state.directory.begin_passkey_enrolment(&token, &form.csrf, &form.name).await)
}

/// `POST /signin/verify/enrol/passkey`: stores the new passkey and finishes the sign-in.
pub async fn enrol(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CeremonyForm>,
) -> Result<Response, PageError> {
    let Some(token) = second_step::token(&jar) else { return Ok(Redirect::to("/signin").into_response()) };
    let client = second_step::client(&parts);
    let d = &state.directory;
    let result = d.finish_passkey_enrolment(&token, &form.csrf, &form.ceremony, &form.name, &form.credential, &client);
    let result = result.await;
    second_step::signed_in(&state, jar, &token, result).await
}

/// Whether the sign-in page's own anti-forgery cookie matches the form's token.
fn signin_form_ok(jar: &CookieJar, csrf: &str) -> bool {
    jar.get(SIGNIN_COOKIE).is_some_and(|c| bool::from(c.value().as_bytes().ct_eq(csrf.as_bytes())))
}

/// `POST /signin/passkey/options`: the options for signing in with a passkey alone.
pub async fn sign_in_options(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<OptionsForm>,
) -> Response {
    if !signin_form_ok(&jar, &form.csrf) {
        return challenge(Err(DomainError::Forbidden("Your sign-in page had expired. Reload it.".into())));
    }
    challenge(state.directory.begin_passkey_sign_in(&crate::session::client_ip(&parts)).await)
}

/// `POST /signin/passkey`: signs in with the passkey's answer.
pub async fn sign_in(
    jar: CookieJar,
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<CeremonyForm>,
) -> Result<Response, PageError> {
    if !signin_form_ok(&jar, &form.csrf) {
        return Ok(signin::refused(
            jar,
            &state,
            StatusCode::FORBIDDEN,
            "Your sign-in page had expired. Please sign in again.",
        ));
    }
    let ip = crate::session::client_ip(&parts);
    let outcome = match state.directory.finish_passkey_sign_in(&form.ceremony, &form.credential, &ip).await {
        Ok(outcome) => outcome,
        Err(DomainError::Invalid(errors)) => {
            let message = errors.first().map(|e| e.message.clone()).unwrap_or_default();
            return Ok(signin::refused(jar, &state, StatusCode::UNAUTHORIZED, &message));
        }
        Err(e) => return Err(e.into()),
    };
    crate::metrics::sign_in(match &outcome {
        SignInOutcome::Success { .. } => "passkey",
        _ => "passkey_refused",
    });
    match outcome {
        SignInOutcome::Success { token, user } => {
            let next = match user.must_change_password {
                true => "/account/password",
                false => crate::error::local_path(&form.next).unwrap_or("/"),
            };
            let jar = jar
                .remove(Cookie::build(SIGNIN_COOKIE).path("/signin"))
                .add(session_cookie(token, state.config.secure_cookies));
            Ok((jar, Redirect::to(next)).into_response())
        }
        SignInOutcome::Blocked => Ok(signin::refused(
            jar,
            &state,
            StatusCode::FORBIDDEN,
            "Your account is blocked from signing in. Contact your administrator.",
        )),
        _ => Ok(signin::refused(
            jar,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-in attempts. Wait 15 minutes and try again.",
        )),
    }
}

/// A passkey as Security info and a user's details list it.
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub model: &'static str,
    pub created: Moment,
    pub last_used: Option<Moment>,
}

impl PasskeyRow {
    /// `passkey` for a reader in `zone`.
    pub fn of(passkey: &StoredPasskey, zone: &Zone) -> PasskeyRow {
        PasskeyRow {
            id: passkey.id.to_string(),
            name: passkey.name.clone(),
            model: passkey.model(),
            created: Moment::at(zone, passkey.created_at),
            last_used: passkey.last_used_at.map(|t| Moment::at(zone, t)),
        }
    }
}
