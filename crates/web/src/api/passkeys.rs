//! Graph's passkeys of a user, `/v1.0/users/{id}/authentication/fido2Methods`: listed, read
//! and deleted (for a lost device); only their owner registers one, in the browser.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_api::graph::methods::fido2_method;
use roster_domain::passkey::StoredPasskey;
use roster_domain::{Actor, UserId};
use uuid::Uuid;

use crate::api::graph::{GraphCaller, GraphFailure, GraphResult};
use crate::api::methods::{collection, not_found};
use crate::api::openapi::{Fido2MethodDoc, GraphFailures, MethodKey, MethodListDoc, UserKey};
use crate::extract::{Caller, ReadMethods, WriteMethods};
use crate::AppState;

/// The passkey `id` names, if it is the user's.
async fn named(state: &AppState, actor: &Actor, key: &str, id: &str) -> Result<(StoredPasskey, UserId), GraphFailure> {
    let user = state.directory.user_by_key(actor, key).await?;
    let wanted = Uuid::parse_str(id).ok();
    let passkeys = state.directory.passkeys_of(actor, user.id).await?;
    match passkeys.into_iter().find(|p| Some(p.id) == wanted) {
        Some(passkey) => Ok((passkey, user.id)),
        None => Err(not_found("fido2 authentication method")),
    }
}

/// `GET …/authentication/fido2Methods`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/fido2Methods",
    tag = "authentication methods",
    summary = "List passkeys",
    params(UserKey),
    responses((status = 200, description = "The user's passkeys", body = MethodListDoc), GraphFailures)
)]
pub async fn list(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let value = state.directory.passkeys_of(&actor, user.id).await?.iter().map(fido2_method).collect();
    Ok(collection(&state, &key, "fido2Methods", value).into_response())
}

/// `GET …/authentication/fido2Methods/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/fido2Methods/{id}",
    tag = "authentication methods",
    summary = "Get a passkey",
    params(MethodKey),
    responses((status = 200, description = "The passkey", body = Fido2MethodDoc), GraphFailures)
)]
pub async fn get(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let (passkey, _) = named(&state, &actor, &key, &id).await?;
    Ok(Json(fido2_method(&passkey)).into_response())
}

/// `DELETE …/authentication/fido2Methods/{id}`: 204; the user is told by email.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{key}/authentication/fido2Methods/{id}",
    tag = "authentication methods",
    summary = "Delete a passkey",
    params(MethodKey),
    responses((status = 204, description = "Deleted"), GraphFailures)
)]
pub async fn delete(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
) -> GraphResult {
    let (passkey, user) = named(&state, &actor, &key, &id).await?;
    state.directory.remove_passkey(&actor, user, passkey.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
