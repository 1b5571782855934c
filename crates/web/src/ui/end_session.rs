//! `/oauth2/v2.0/logout`: an application signs the person out of Roster too (OpenID Connect
//! RP-Initiated Logout), then Roster sends them back to the application's sign-out address.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use roster_domain::directory::LogoutOutcome;
use serde::Deserialize;

use crate::error::{error_page, render, PageError};
use crate::extract::Checked;
use crate::session::{cleared_session_cookie, SignedIn, SESSION_COOKIE};
use crate::AppState;

/// `GET`: the parameters in the query.
pub async fn get(
    State(state): State<AppState>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&state, jar, query.unwrap_or_default().as_bytes(), false).await
}

/// `POST`: the parameters in the form.
pub async fn post(
    State(state): State<AppState>,
    jar: CookieJar,
    RawForm(form): RawForm,
) -> Result<Response, PageError> {
    answer(&state, jar, &form, false).await
}

#[derive(Template)]
#[template(path = "sign_out_confirm.html")]
struct ConfirmPage {
    app: Option<String>,
    request: String,
    csrf: String,
}

/// The confirmation page's answer.
#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    request: String,
}

/// `POST /oauth2/v2.0/logout/confirm`: the person said yes.
pub async fn confirm(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    jar: CookieJar,
    Checked(Form(form)): Checked<Form<ConfirmForm>>,
) -> Result<Response, PageError> {
    answer(&state, jar, form.request.as_bytes(), true).await
}

async fn answer(state: &AppState, jar: CookieJar, encoded: &[u8], confirmed: bool) -> Result<Response, PageError> {
    let params: HashMap<String, String> = form_urlencoded::parse(encoded).into_owned().collect();
    let token = jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
    let signed_in = match &token {
        Some(token) => state.directory.session(token).await?,
        None => None,
    };
    match state.directory.end_session(&params, signed_in.as_ref().map(|(_, u)| u), confirmed).await? {
        LogoutOutcome::Refused(why) => Ok(error_page(StatusCode::BAD_REQUEST, "Sign-out request not understood", &why)),
        LogoutOutcome::Confirm { app } => {
            let (session, _) = signed_in.expect("confirmation is asked of someone signed in");
            let page =
                ConfirmPage { app, request: String::from_utf8_lossy(encoded).into_owned(), csrf: session.csrf_token };
            Ok(render(StatusCode::OK, &page))
        }
        LogoutOutcome::SignOut { then } => {
            if let Some(token) = &token {
                state.directory.sign_out(token).await?;
            }
            let target = then.unwrap_or_else(|| "/signin?signed_out=1".into());
            Ok((jar.add(cleared_session_cookie()), Redirect::to(&target)).into_response())
        }
    }
}
