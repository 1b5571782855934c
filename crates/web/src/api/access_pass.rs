//! Graph's Temporary Access Pass of a user, `/v1.0/users/{id}/authentication/
//! temporaryAccessPassMethods`: one pass at most, created (replacing the last), read and
//! deleted through the same rules as the admin center's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_api::graph::methods::{access_pass_method, access_pass_property, access_pass_request};
use roster_domain::directory::AccessPassView;
use roster_domain::{Actor, DomainError, FieldError};
use uuid::Uuid;

use crate::api::graph::{GraphCaller, GraphFailure, GraphJson, GraphResult};
use crate::api::methods::{collection, not_found};
use crate::api::openapi::{AccessPassMethodDoc, AccessPassWriteDoc, GraphFailures, MethodKey, MethodListDoc, UserKey};
use crate::extract::{Caller, ReadMethods, WriteMethods};
use crate::AppState;

const WHAT: &str = "temporaryAccessPassMethods";

/// The pass `id` names, if it is the user's.
async fn named(
    state: &AppState,
    actor: &Actor,
    key: &str,
    id: &str,
) -> Result<(AccessPassView, roster_domain::UserId), GraphFailure> {
    let user = state.directory.user_by_key(actor, key).await?;
    let wanted = Uuid::parse_str(id).ok();
    let pass = state.directory.access_pass(actor, user.id).await?;
    match pass.filter(|p| Some(p.id) == wanted) {
        Some(pass) => Ok((pass, user.id)),
        None => Err(not_found("temporary access pass method")),
    }
}

/// `GET …/authentication/temporaryAccessPassMethods`: the user's pass, or none.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/temporaryAccessPassMethods",
    tag = "authentication methods",
    summary = "List the Temporary Access Pass",
    params(UserKey),
    responses((status = 200, description = "The pass, or none", body = MethodListDoc), GraphFailures)
)]
pub async fn list(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let pass = state.directory.access_pass(&actor, user.id).await?;
    let value = pass.iter().map(|p| access_pass_method(p, None)).collect();
    Ok(collection(&state, &key, WHAT, value).into_response())
}

/// `POST …/authentication/temporaryAccessPassMethods`: 201 with the pass, whose secret this
/// answer alone carries; the user is told by email.
#[utoipa::path(
    post,
    path = "/v1.0/users/{key}/authentication/temporaryAccessPassMethods",
    tag = "authentication methods",
    summary = "Create a Temporary Access Pass",
    params(UserKey),
    request_body(content = AccessPassWriteDoc, content_type = "application/json"),
    responses((status = 201, description = "The new pass", body = AccessPassMethodDoc), GraphFailures)
)]
pub async fn create(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
    body: GraphJson,
) -> GraphResult {
    let request = access_pass_request(&body.value()?)?;
    let user = state.directory.user_by_key(&actor, &key).await?;
    let (pass, secret) = state.directory.create_access_pass(&actor, user.id, &request).await.map_err(|e| match e {
        DomainError::Invalid(errors) => DomainError::Invalid(
            errors.into_iter().map(|e| FieldError::new(access_pass_property(&e.field), e.message)).collect(),
        ),
        other => other,
    })?;
    Ok((StatusCode::CREATED, Json(access_pass_method(&pass, Some(&secret)))).into_response())
}

/// `GET …/authentication/temporaryAccessPassMethods/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/temporaryAccessPassMethods/{id}",
    tag = "authentication methods",
    summary = "Get the Temporary Access Pass",
    params(MethodKey),
    responses((status = 200, description = "The pass, without its secret", body = AccessPassMethodDoc), GraphFailures)
)]
pub async fn get(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let (pass, _) = named(&state, &actor, &key, &id).await?;
    Ok(Json(access_pass_method(&pass, None)).into_response())
}

/// `DELETE …/authentication/temporaryAccessPassMethods/{id}`: 204; the sessions it opened end
/// and the user is told.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{key}/authentication/temporaryAccessPassMethods/{id}",
    tag = "authentication methods",
    summary = "Delete the Temporary Access Pass",
    params(MethodKey),
    responses((status = 204, description = "Deleted"), GraphFailures)
)]
pub async fn delete(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
) -> GraphResult {
    let (pass, user) = named(&state, &actor, &key, &id).await?;
    state.directory.remove_access_pass(&actor, user, Some(pass.id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
