//! "Change username": a new sign-in name, with the old one kept as an alias for a while.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::directory::ALIAS_DAYS;
use roster_domain::{DomainError, FieldError, User};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::{Checked, UserPath};
use crate::session::{Admin, SignedIn};
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

#[derive(Template)]
#[template(path = "admin/username.html")]
struct UsernamePage {
    layout: Layout,
    user_id: String,
    display_name: String,
    username: String,
    version: i64,
    field: Field,
    errors: Vec<SummaryItem>,
    /// Former usernames that still sign the user in, with when each stops.
    aliases: Vec<(String, String)>,
    alias_days: i64,
    problem: Option<String>,
}

async fn username_page(
    state: &AppState,
    me: &SignedIn,
    user: &User,
    typed: &str,
    version: i64,
    errors: &[FieldError],
) -> Result<UsernamePage, PageError> {
    let aliases = state.directory.aliases_of(&me.actor, user.id).await?;
    Ok(UsernamePage {
        layout: Layout::new(me, format!("Change username – {}", user.contact.display_name), Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        username: user.username.to_string(),
        version,
        field: Field::text("username", "New username", typed)
            .kind("email")
            .autocomplete("off")
            .group_hint("username-hint")
            .required()
            .with_errors(errors),
        errors: summary(errors),
        aliases: aliases.into_iter().map(|(name, until)| (name, until.display())).collect(),
        alias_days: ALIAS_DAYS,
        problem: None,
    })
}

/// The form, filled with the current username.
pub async fn show(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    let page = username_page(&state, &me, &user, user.username.as_str(), user.version, &[]).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct UsernameForm {
    #[serde(default)]
    version: i64,
    #[serde(default)]
    username: String,
}

/// Renames the user, or shows why not.
pub async fn save(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    Checked(Form(form)): Checked<Form<UsernameForm>>,
) -> Result<Response, PageError> {
    match state.directory.rename_user(&me.actor, id, form.version, &form.username).await {
        Ok(user) => Ok(Redirect::to(&format!("/admin/users/{}?saved=username", user.id)).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let page = username_page(&state, &me, &user, &form.username, form.version, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e @ DomainError::UsernameTaken(_)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let (status, message) = describe(&e);
            let errors = [FieldError::new("username", message)];
            let page = username_page(&state, &me, &user, &form.username, form.version, &errors).await?;
            Ok(render(status, &page))
        }
        Err(e @ (DomainError::Forbidden(_) | DomainError::VersionConflict { .. })) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let (status, message) = describe(&e);
            let mut page = username_page(&state, &me, &user, &form.username, form.version, &[]).await?;
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}
