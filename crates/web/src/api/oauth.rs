//! `POST /oauth2/v2.0/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), at the
//! address Microsoft's identity platform uses, so that Graph clients need only a new base URL.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine as _;
use roster_domain::directory::TokenRefusal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;

/// The form fields of a token request; all optional here so that a missing one gets the RFC's
/// `invalid_request` rather than a generic rejection.
#[derive(Deserialize, Default)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scope: Option<String>,
}

/// The tenant-less address.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    issue(&state, &headers, form.ok().map(|f| f.0)).await
}

/// Under `/{tenant}/…`, as Microsoft's clients build it; Roster serves one organisation, so any
/// tenant name or id is accepted.
pub async fn tenant_token(
    State(state): State<AppState>,
    Path(_tenant): Path<String>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    issue(&state, &headers, form.ok().map(|f| f.0)).await
}

async fn issue(state: &AppState, headers: &HeaderMap, form: Option<TokenRequest>) -> Response {
    let Some(form) = form else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send the request as application/x-www-form-urlencoded.",
        );
    };
    match form.grant_type.as_deref() {
        None => return refuse(StatusCode::BAD_REQUEST, "invalid_request", "The grant_type parameter is missing."),
        Some("client_credentials") => {}
        Some(other) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("The grant type {other} is not supported; use client_credentials."),
            )
        }
    }
    if let Some(scope) = form.scope.as_deref() {
        if !scope.split_whitespace().all(|s| s.ends_with("/.default") || s == ".default") {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "Application permissions are granted to the registration: ask for the scope \
                 https://graph.microsoft.com/.default (or any resource's /.default).",
            );
        }
    }
    let (basic_id, basic_secret) = basic_credentials(headers).unzip();
    let (Some(client_id), Some(client_secret)) = (basic_id.or(form.client_id), basic_secret.or(form.client_secret))
    else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Send client_id and client_secret.");
    };
    match state.directory.issue_token(&client_id, client_secret.expose_secret()).await {
        Ok(issued) => (
            [
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            Json(json!({
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "ext_expires_in": issued.expires_in,
                "access_token": issued.access_token,
            })),
        )
            .into_response(),
        Err(TokenRefusal::InvalidClient) => refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client id is unknown, or the client secret is wrong or has expired.",
        ),
        Err(TokenRefusal::Throttled) => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_client",
            "Too many failed requests for this client id. Try again in a few minutes.",
        ),
    }
}

/// Client authentication by HTTP Basic (RFC 6749 §2.3.1), which servers must support.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?.into()))
}

/// The RFC's error body; 401s also name the scheme the client should use.
fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let body = Json(json!({ "error": error, "error_description": description }));
    let mut response = (status, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"roster\""));
    }
    response
}
