//! The standard APIs: the OAuth 2.0 token endpoint, the Microsoft Graph-compatible API and
//! SCIM 2.0. Handlers translate between each API's shapes and the directory; the rules stay
//! in the domain.

use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use roster_domain::apps::AppPermission;
use roster_domain::Actor;

use crate::session::{client_ip, request_id};
use crate::AppState;

pub mod access_pass;
pub mod graph;
pub mod groups;
pub mod methods;
pub mod oauth;
pub mod oidc;
pub mod openapi;
pub mod passkeys;
pub mod scim;

/// Why a request carried no usable access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is unknown, expired, or whose application or secret was removed.
    Invalid,
}

/// Why `actor` may not call an operation that needs one of `needed`, or `None` if it may.
pub fn lacking(actor: &Actor, needed: &[AppPermission]) -> Option<String> {
    let granted = actor.app.unwrap_or_default();
    if needed.iter().any(|p| granted.contains(*p)) {
        return None;
    }
    let names: Vec<&str> = needed.iter().map(|p| p.name()).collect();
    Some(format!("The application needs {}.", names.join(" or ")))
}

/// Whether the request's `Content-Type` is one of `accepted` (parameters such as `charset`
/// aside).
pub(crate) fn has_media_type(headers: &HeaderMap, accepted: &[&str]) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim();
    accepted.iter().any(|a| a.eq_ignore_ascii_case(essence))
}

/// The registered application a request's bearer token belongs to.
pub async fn caller(state: &AppState, parts: &Parts) -> Result<Actor, Unauthenticated> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or(Unauthenticated::Missing)?;
    match state.directory.app_actor(token, Some(client_ip(parts)), request_id(parts)).await {
        Ok(Some(actor)) => Ok(actor),
        Ok(None) => Err(Unauthenticated::Invalid),
        Err(e) => {
            tracing::error!(error = %e, "checking an access token failed");
            Err(Unauthenticated::Invalid)
        }
    }
}
