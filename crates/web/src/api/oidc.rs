//! The OpenID Connect provider's documents and userinfo: discovery, the signing keys, and the
//! claims an access token releases.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use roster_domain::directory::TOKEN_PATH;
use roster_domain::oidc::grant::Scope;
use roster_domain::oidc::keys::SigningAlg;
use roster_domain::Timestamp;
use serde::Deserialize;
use serde_json::json;

use crate::error::PageError;
use crate::AppState;

/// Where each endpoint lives under the public URL.
pub const AUTHORIZE_PATH: &str = "/oauth2/v2.0/authorize";
const USERINFO_PATH: &str = "/oidc/userinfo";
const JWKS_PATH: &str = "/discovery/v2.0/keys";

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
pub async fn discovery(State(state): State<AppState>) -> Response {
    let base = state.config.public_url.as_str();
    let claims = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "amr",
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "updated_at",
        "email",
        "phone_number",
        "address",
        "groups",
    ];
    let body = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{base}{USERINFO_PATH}"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "revocation_endpoint": format!("{base}/oauth2/v2.0/revoke"),
        "introspection_endpoint": format!("{base}/oauth2/v2.0/introspect"),
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::name),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::name),
        "scopes_supported": Scope::ALL.map(Scope::name),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::name),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::name),
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": claims,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": false,
    });
    cached(Json(body).into_response())
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, where Microsoft's libraries look for
/// it when given a tenant; Roster serves one organisation, so every tenant has the same document.
pub async fn tenant_discovery(state: State<AppState>, Path(_tenant): Path<String>) -> Response {
    discovery(state).await
}

/// `GET /discovery/v2.0/keys`: the JSON Web Key Set, keys about to sign included.
pub async fn jwks(State(state): State<AppState>) -> Result<Response, PageError> {
    let ring = state.directory.keyring().await?;
    Ok(cached(Json(ring.jwks(Timestamp::now())).into_response()))
}

/// Clients may keep the documents for an hour.
fn cached(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// The form of a userinfo POST, which may carry the token (RFC 6750 §2.2).
#[derive(Deserialize, Default)]
pub struct UserinfoForm {
    access_token: Option<String>,
}

/// `GET /oidc/userinfo` (OpenID Connect Core §5.3), with the token in the header.
pub async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo(&state, bearer(&headers)).await
}

/// `POST /oidc/userinfo`, with the token in the header or the form.
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<UserinfoForm>, FormRejection>,
) -> Response {
    let in_form = form.ok().and_then(|f| f.0.access_token);
    match (bearer(&headers), in_form) {
        (Some(_), Some(_)) => refuse(StatusCode::BAD_REQUEST, "invalid_request", "Send the token one way only."),
        (header, body) => userinfo(&state, header.or(body)).await,
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

async fn userinfo(state: &AppState, token: Option<String>) -> Response {
    let Some(token) = token else {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_request", "Send an access token.");
    };
    match state.directory.userinfo(&token, state.config.public_url.as_str()).await {
        Ok(Some(claims)) => {
            ([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(claims)).into_response()
        }
        Ok(None) => {
            refuse(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is unknown, expired or revoked.")
        }
        Err(e) => {
            tracing::error!(error = %e, "userinfo failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Something went wrong on our side.")
        }
    }
}

/// RFC 6750 §3's error: in `WWW-Authenticate`, and as JSON for people reading it.
fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    let mut response = (status, Json(json!({ "error": error, "error_description": description }))).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
