//! Signing a user out everywhere.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::PageError;
use crate::extract::{CheckedPost, UserPath};
use crate::session::Admin;
use crate::AppState;

/// Ends every session of the user.
pub async fn sign_out_everywhere(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    _: CheckedPost,
) -> Result<Response, PageError> {
    state.directory.sign_out_everywhere(&me.actor, id).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?saved=signed-out")).into_response())
}
