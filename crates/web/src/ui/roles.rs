//! Assigning roles to a user (Global Administrators only).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::{DomainError, RoleSet};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::{Checked, UserPath};
use crate::session::{Admin, SignedIn};
use crate::ui::form::{parse_roles, role_choices, RoleChoice};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    version: i64,
    roles: Vec<RoleChoice>,
    problem: Option<String>,
}

fn roles_page(me: &SignedIn, user: &roster_domain::User, version: i64, roles: RoleSet) -> RolesPage {
    RolesPage {
        layout: Layout::new(me, format!("Manage roles – {}", user.contact.display_name), Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        version,
        roles: role_choices(roles),
        problem: None,
    }
}

/// The manage-roles form (Global Administrators only).
pub async fn show_roles(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    me.require(roster_domain::permission::Permission::AssignRoles, user.roles)?;
    Ok(render(StatusCode::OK, &roles_page(&me, &user, user.version, user.roles)))
}

#[derive(Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    version: i64,
    #[serde(default)]
    role: Vec<String>,
}

/// Saves the roles.
pub async fn save_roles(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    Checked(Form(form)): Checked<Form<RolesForm>>,
) -> Result<Response, PageError> {
    let roles = parse_roles(&form.role);
    match state.directory.set_roles(&me.actor, id, form.version, roles).await {
        Ok(user) => Ok(Redirect::to(&format!("/admin/users/{}?saved=roles", user.id)).into_response()),
        Err(e @ (DomainError::Forbidden(_) | DomainError::VersionConflict { .. })) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let (status, message) = describe(&e);
            let mut page = roles_page(&me, &user, form.version, roles);
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}
