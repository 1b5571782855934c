//! "Security info": every user's own recovery contacts, with a code to prove each is theirs.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use roster_domain::{DomainError, FieldError};
use serde::Deserialize;

use crate::error::{describe, render, urlencode, PageError};
use crate::session::SignedIn;
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::methods::MethodView;
use crate::AppState;

#[derive(Template)]
#[template(path = "security_info.html")]
struct SecurityInfoPage {
    layout: Layout,
    methods: Vec<MethodView>,
    send_action: &'static str,
    send_label: &'static str,
    /// The contact a code is being entered for: its key and its value as shown.
    pending: Option<(String, String)>,
    code: Field,
    errors: Vec<SummaryItem>,
    status: Option<String>,
    problem: Option<String>,
}

#[derive(Deserialize)]
pub struct SecurityQuery {
    /// The key of the contact to enter a code for.
    #[serde(default)]
    enter: Option<String>,
    #[serde(default)]
    verified: Option<String>,
}

async fn page(
    me: &SignedIn,
    state: &AppState,
    enter: Option<&str>,
    errors: &[FieldError],
) -> Result<SecurityInfoPage, PageError> {
    let methods = state.directory.contact_states(&me.actor, me.user.id).await?;
    let methods: Vec<MethodView> = methods.iter().map(MethodView::of).collect();
    let pending = enter.and_then(|key| methods.iter().find(|m| m.key == key)).map(|m| (m.key.clone(), m.value.clone()));
    Ok(SecurityInfoPage {
        layout: Layout::new(me, "Security info", Section::Account),
        methods,
        send_action: "/account/security/send",
        send_label: "Send code",
        pending,
        code: Field::text("code", "Code", "")
            .autocomplete("one-time-code")
            .hint("The digits in the message, without spaces.")
            .required()
            .with_errors(errors),
        errors: summary(errors),
        status: None,
        problem: None,
    })
}

/// The Security info page.
pub async fn show(
    me: SignedIn,
    State(state): State<AppState>,
    Query(q): Query<SecurityQuery>,
) -> Result<Response, PageError> {
    let mut body = page(&me, &state, q.enter.as_deref(), &[]).await?;
    body.status = q.verified.map(|what| format!("Verified: {what} is confirmed as yours."));
    Ok(render(StatusCode::OK, &body))
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
}

/// Sends a code to one of the user's own contacts.
pub async fn send(
    me: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<SendForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    match state.directory.send_verification(&me.actor, me.user.id, &form.method).await {
        Ok(()) => Ok(Redirect::to(&format!("/account/security?enter={}", urlencode(&form.method))).into_response()),
        Err(e @ (DomainError::Limited(_) | DomainError::Invalid(_))) => {
            let (status, message) = describe(&e);
            let mut body = page(&me, &state, None, &[]).await?;
            body.problem = Some(message);
            Ok(render(status, &body))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
}

/// Checks the code the user entered.
pub async fn verify(
    me: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<VerifyForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    match state.directory.verify_contact(&me.actor, &form.method, &form.code).await {
        Ok(method) => {
            Ok(Redirect::to(&format!("/account/security?verified={}", urlencode(&method.masked()))).into_response())
        }
        Err(DomainError::Invalid(errors)) => {
            let body = page(&me, &state, Some(&form.method), &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &body))
        }
        Err(e) => Err(e.into()),
    }
}
