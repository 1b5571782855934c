//! `/oauth2/v2.0/authorize`: where applications send people to sign in. Roster's own sign-in
//! pages do the signing in, so every password, second-step and reset policy applies; this
//! page only decides whether the person is signed in recently enough and answers the
//! application.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawForm, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use roster_domain::directory::{AuthorizeOutcome, ConsentAnswer};
use roster_domain::oidc::grant::Scope;
use serde::Deserialize;

use crate::api::oidc::AUTHORIZE_PATH;
use crate::error::{error_page, render, urlencode, PageError};
use crate::extract::Checked;
use crate::session::{client_ip, SignedIn, SESSION_COOKIE};
use crate::AppState;

/// `GET`: the parameters in the query.
pub async fn get(
    State(state): State<AppState>,
    jar: CookieJar,
    parts: Parts,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&state, &jar, &parts, query.unwrap_or_default().as_bytes(), ConsentAnswer::NotAsked).await
}

/// `POST`: the parameters in the form (OpenID Connect Core §3.1.2.1 allows both).
pub async fn post(
    State(state): State<AppState>,
    jar: CookieJar,
    parts: Parts,
    RawForm(form): RawForm,
) -> Result<Response, PageError> {
    answer(&state, &jar, &parts, &form, ConsentAnswer::NotAsked).await
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    app: String,
    username: String,
    asks: Vec<&'static str>,
    request: String,
    csrf: String,
}

/// The consent page's answer.
#[derive(Deserialize)]
pub struct ConsentForm {
    /// The authorization request, as the query it came in.
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// `POST /oauth2/v2.0/authorize/consent`: the person accepted or cancelled; the request is
/// checked again from the start, as if it had just arrived.
pub async fn consent(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    jar: CookieJar,
    parts: Parts,
    Checked(Form(form)): Checked<Form<ConsentForm>>,
) -> Result<Response, PageError> {
    let decision = if form.decision == "accept" { ConsentAnswer::Given } else { ConsentAnswer::Refused };
    answer(&state, &jar, &parts, form.request.as_bytes(), decision).await
}

async fn answer(
    state: &AppState,
    jar: &CookieJar,
    parts: &Parts,
    encoded: &[u8],
    consent: ConsentAnswer,
) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(encoded).into_owned().collect();
    let mut params = HashMap::new();
    for (name, value) in &pairs {
        if params.insert(name.clone(), value.clone()).is_some() {
            let why = format!("The request repeats the parameter {name}, which it may send only once.");
            return Ok(refused(&why));
        }
    }
    let signed_in = match jar.get(SESSION_COOKIE) {
        Some(cookie) => state.directory.session(cookie.value()).await?,
        None => None,
    };
    if signed_in.as_ref().is_some_and(|(_, user)| user.must_change_password) {
        // A password an administrator set opens nothing until its holder replaces it.
        return Err(PageError::ChangePassword);
    }
    if signed_in.as_ref().is_some_and(|(session, _)| session.by_access_pass()) {
        // A pass opens Security info, not the organisation's applications.
        return Err(PageError::AccessPassOnly);
    }
    let issuer = state.config.public_url.as_str();
    let ip = client_ip(parts);
    let who = signed_in.as_ref().map(|(s, u)| (s, u));
    let outcome = state.directory.authorize(&params, who, issuer, &ip, consent).await?;
    Ok(match outcome {
        AuthorizeOutcome::Redirect(location) => Redirect::to(&location).into_response(),
        AuthorizeOutcome::Refused(why) => refused(&why),
        AuthorizeOutcome::NotAssigned(app) => error_page(
            StatusCode::FORBIDDEN,
            "You don't have access to this application",
            &format!(
                "Your account isn't assigned to {app}, so Roster can't sign you in to it. Ask your administrator \
                 for access."
            ),
        ),
        AuthorizeOutcome::Consent { app, scopes } => {
            let (session, user) = signed_in.as_ref().expect("consent is asked of someone signed in");
            let page = ConsentPage {
                app,
                username: user.username.to_string(),
                asks: scopes.iter().map(Scope::describe).collect(),
                request: String::from_utf8_lossy(encoded).into_owned(),
                csrf: session.csrf_token.clone(),
            };
            render(StatusCode::OK, &page)
        }
        AuthorizeOutcome::SignIn { after, login_hint } => {
            // Back to this same request once signed in; asked to sign in again, a session from
            // before this moment will not do.
            let mut back: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "signed_in_after").collect();
            if let Some(after) = after {
                back.push(("signed_in_after".into(), after.millis().to_string()));
            }
            let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(back).finish();
            let next = format!("{AUTHORIZE_PATH}?{query}");
            let mut target = format!("/signin?next={}", urlencode(&next));
            if let Some(hint) = login_hint {
                target.push_str(&format!("&username={}", urlencode(&hint)));
            }
            Redirect::to(&target).into_response()
        }
    })
}

fn refused(why: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, "This application can't sign you in", why)
}
