//! Sending a user a code that verifies one of their contacts.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{Checked, UserPath};
use crate::session::Admin;
use crate::AppState;

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    method: String,
}

/// Sends a verification code to one of the user's contacts.
pub async fn send_verification(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    Checked(Form(form)): Checked<Form<VerifyForm>>,
) -> Result<Response, PageError> {
    state.directory.send_verification(&me.actor, id, &form.method).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?saved=verification")).into_response())
}
