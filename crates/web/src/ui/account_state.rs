//! Blocking or allowing a user's sign-in, and deleting or restoring the account.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::DomainError;
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{Checked, UserPath};
use crate::session::Admin;
use crate::AppState;

#[derive(Deserialize)]
pub struct StateForm {
    #[serde(default)]
    action: String,
}

/// Blocks or allows sign-in, deletes or restores.
pub async fn change_state(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    Checked(Form(form)): Checked<Form<StateForm>>,
) -> Result<Response, PageError> {
    let d = &state.directory;
    let target = match form.action.as_str() {
        "block" => d.set_enabled(&me.actor, id, false).await.map(|u| format!("/admin/users/{}?saved=blocked", u.id)),
        "allow" => d.set_enabled(&me.actor, id, true).await.map(|u| format!("/admin/users/{}?saved=allowed", u.id)),
        "delete" => d.delete_user(&me.actor, id).await.map(|_| "/admin/users?status=deleted".to_string()),
        "restore" => d.restore_user(&me.actor, id).await.map(|u| format!("/admin/users/{}?saved=restored", u.id)),
        _ => Err(DomainError::invalid("action", "Choose block, allow, delete or restore.")),
    }?;
    Ok(Redirect::to(&target).into_response())
}
