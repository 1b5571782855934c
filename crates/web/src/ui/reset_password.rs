//! An administrator resetting a user's password, and the page that shows a generated one once.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use roster_domain::directory::ShownOnce;
use roster_domain::{DomainError, UserId};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::{Checked, UserPath};
use crate::session::{Admin, SignedIn};
use crate::ui::form::{password_hint, summary, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::shown_once;
use crate::AppState;

#[derive(Template)]
#[template(path = "admin/reset_password.html")]
struct ResetPasswordPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    username: String,
    generate: bool,
    must_change: bool,
    errors: Vec<SummaryItem>,
    problem: Option<String>,
    password_hint: String,
}

fn reset_page(
    me: &SignedIn,
    user: &roster_domain::User,
    form: Option<&ResetForm>,
    min_length: usize,
) -> ResetPasswordPage {
    ResetPasswordPage {
        layout: Layout::new(me, format!("Reset password – {}", user.contact.display_name), Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        username: user.username.to_string(),
        generate: form.is_none_or(|f| f.password_choice != "typed"),
        must_change: form.is_none_or(|f| f.must_change.is_some()),
        errors: Vec::new(),
        problem: None,
        password_hint: password_hint(min_length),
    }
}

/// The reset-password form.
pub async fn show_reset(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    me.require(roster_domain::permission::Permission::ResetPassword, user.roles)?;
    let min_length = state.directory.min_password_length().await?;
    Ok(render(StatusCode::OK, &reset_page(&me, &user, None, min_length)))
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password_choice: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    must_change: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/password_was_reset.html")]
struct PasswordWasResetPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    username: String,
    /// What this page shows once, when it is the page the redirect after the reset led to.
    shown: Option<ShownOnce>,
    must_change: bool,
}

/// Where the page after a reset is.
fn done_path(id: UserId) -> String {
    format!("/admin/users/{id}/password/done")
}

/// The page after a reset: a generated password, once. A reload shows it no more and resets
/// nothing again.
pub async fn done(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    let (jar, shown) = shown_once::take(&state, &me, jar, &done_path(id), id);
    let page = PasswordWasResetPage {
        layout: Layout::new(&me, "Password reset", Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        username: user.username.to_string(),
        shown,
        must_change: user.must_change_password,
    };
    Ok((jar, render(StatusCode::OK, &page)).into_response())
}

/// Resets the password, then redirects to the page that shows a generated one once.
pub async fn reset(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    jar: CookieJar,
    Checked(Form(form)): Checked<Form<ResetForm>>,
) -> Result<Response, PageError> {
    let typed = (form.password_choice == "typed").then(|| form.password.clone());
    let must_change = form.must_change.is_some();
    match state.directory.reset_password(&me.actor, id, typed, must_change).await {
        Ok(password) => {
            let shown = ShownOnce { password, emailed_to: None };
            let path = done_path(id);
            Ok((shown_once::keep(&state, &me, jar, &path, id, &shown), Redirect::to(&path)).into_response())
        }
        Err(DomainError::Invalid(errors)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let mut page = reset_page(&me, &user, Some(&form), state.directory.min_password_length().await?);
            page.errors = summary(&errors);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e @ DomainError::Forbidden(_)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let (status, message) = describe(&e);
            let mut page = reset_page(&me, &user, Some(&form), state.directory.min_password_length().await?);
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}
