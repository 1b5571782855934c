//! `POST /oauth2/v2.0/token`, at the address Microsoft's identity platform uses, so that Graph
//! clients need only a new base URL: the client-credentials grant (RFC 6749 §4.4) for
//! applications calling the APIs, and the authorization-code and refresh-token grants for
//! applications signing people in.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine as _;
use roster_domain::directory::{ClientProof, GrantRefusal};
use roster_domain::oidc::assertion::{claimed_client, ASSERTION_TYPE};
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
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<SecretString>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
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
        Some(grant @ ("authorization_code" | "refresh_token")) => {
            let grant = grant.to_string();
            return user_grant(state, headers, form, &grant).await;
        }
        Some(other) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "The grant type {other} is not supported; use authorization_code, refresh_token or \
                     client_credentials."
                ),
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
    let client = match client_of(headers, sent_by(&form)) {
        Ok(client) => client,
        Err(unknown) => return unknown.response(StatusCode::BAD_REQUEST),
    };
    let issuer = state.config.public_url.as_str();
    match state.directory.issue_token(&client.id, client.proof(), issuer).await {
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
        Err(refusal) => grant_refusal(refusal),
    }
}

/// The grants of applications signing people in. A confidential client authenticates with a
/// secret (Basic or in the form, not both); a public client sends only its client id.
async fn user_grant(state: &AppState, headers: &HeaderMap, form: TokenRequest, grant: &str) -> Response {
    let client = match client_of(headers, sent_by(&form)) {
        Ok(client) => client,
        Err(unknown) => return unknown.response(StatusCode::BAD_REQUEST),
    };
    let (client_id, proof) = (client.id.as_str(), client.proof());
    let issuer = state.config.public_url.as_str();
    let result = if grant == "authorization_code" {
        let Some(code) = form.code else {
            return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Send the authorization code as code.");
        };
        let (redirect_uri, verifier) = (form.redirect_uri.as_deref(), form.code_verifier.as_deref());
        state.directory.redeem_code(client_id, proof, &code, redirect_uri, verifier, issuer).await
    } else {
        let Some(refresh_token) = form.refresh_token else {
            return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Send the refresh_token.");
        };
        let scope = form.scope.as_deref();
        state.directory.refresh_grant(client_id, proof, refresh_token.expose_secret(), scope, issuer).await
    };
    match result {
        Ok(tokens) => {
            let mut body = json!({
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
                "access_token": tokens.access_token,
                "scope": tokens.scope,
            });
            if let Some(refresh) = tokens.refresh_token {
                body["refresh_token"] = json!(refresh);
            }
            if let Some(id_token) = tokens.id_token {
                body["id_token"] = json!(id_token);
            }
            (
                [
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    (header::PRAGMA, HeaderValue::from_static("no-cache")),
                ],
                Json(body),
            )
                .into_response()
        }
        Err(refusal) => grant_refusal(refusal),
    }
}

/// The form of a revocation or introspection request.
#[derive(Deserialize, Default)]
pub struct TokenQuestion {
    token: Option<SecretString>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// A revocation or introspection request, read: who asks, and about which token.
struct Question {
    client: Client,
    token: SecretString,
}

/// Why a revocation or introspection request could not be read.
enum Unreadable {
    NotAForm,
    Client(ClientUnknown),
    NoToken,
}

impl Unreadable {
    fn response(self) -> Response {
        match self {
            Unreadable::NotAForm => refuse(StatusCode::BAD_REQUEST, "invalid_request", "Send the request as a form."),
            Unreadable::Client(unknown) => unknown.response(StatusCode::UNAUTHORIZED),
            Unreadable::NoToken => refuse(StatusCode::BAD_REQUEST, "invalid_request", "Send the token as token."),
        }
    }
}

/// Reads a revocation or introspection request.
fn question(headers: &HeaderMap, form: Result<Form<TokenQuestion>, FormRejection>) -> Result<Question, Unreadable> {
    let Ok(Form(form)) = form else { return Err(Unreadable::NotAForm) };
    let sent = Sent {
        client_id: form.client_id,
        secret: form.client_secret,
        assertion_type: form.client_assertion_type,
        assertion: form.client_assertion,
    };
    let client = client_of(headers, sent).map_err(Unreadable::Client)?;
    Ok(Question { client, token: form.token.ok_or(Unreadable::NoToken)? })
}

/// What a token request's form sent to identify its client.
fn sent_by(form: &TokenRequest) -> Sent {
    Sent {
        client_id: form.client_id.clone(),
        secret: form.client_secret.clone(),
        assertion_type: form.client_assertion_type.clone(),
        assertion: form.client_assertion.clone(),
    }
}

/// What a request's form sent to identify its client.
struct Sent {
    client_id: Option<String>,
    secret: Option<SecretString>,
    assertion_type: Option<String>,
    assertion: Option<String>,
}

/// The client a request authenticates as, and how.
struct Client {
    id: String,
    secret: Option<SecretString>,
    assertion: Option<String>,
}

impl Client {
    fn proof(&self) -> ClientProof<'_> {
        match (&self.secret, &self.assertion) {
            (Some(secret), _) => ClientProof::Secret(secret.expose_secret()),
            (None, Some(assertion)) => ClientProof::Assertion(assertion),
            (None, None) => ClientProof::None,
        }
    }
}

/// Why a request names no client to authenticate.
enum ClientUnknown {
    /// More than one of HTTP Basic, a secret in the form and an assertion.
    TwoWays,
    /// Neither HTTP Basic nor a `client_id` in the form, nor an assertion naming one.
    Unnamed,
    /// An assertion of a type other than a signed JWT.
    AssertionType,
}

impl ClientUnknown {
    fn response(self, status: StatusCode) -> Response {
        let (error, why) = match self {
            ClientUnknown::TwoWays => ("invalid_request", "Authenticate the client one way only."),
            ClientUnknown::Unnamed => ("invalid_request", "Send client_id, or authenticate the client."),
            ClientUnknown::AssertionType => (
                "invalid_request",
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ),
        };
        let error = if status == StatusCode::UNAUTHORIZED { "invalid_client" } else { error };
        refuse(status, error, why)
    }
}

/// The client a request authenticates as, with its proof: HTTP Basic (RFC 6749 §2.3.1),
/// `client_id` and `client_secret` in the form, or a signed `client_assertion` (RFC 7523 §2.2,
/// with `client_id` optional); one way only.
fn client_of(headers: &HeaderMap, sent: Sent) -> Result<Client, ClientUnknown> {
    let assertion = match (sent.assertion_type.as_deref(), sent.assertion) {
        (None, None) => None,
        (Some(ASSERTION_TYPE), Some(assertion)) => Some(assertion),
        _ => return Err(ClientUnknown::AssertionType),
    };
    match (basic_credentials(headers), assertion) {
        (Some(_), _) if sent.secret.is_some() => Err(ClientUnknown::TwoWays),
        (Some(_), Some(_)) => Err(ClientUnknown::TwoWays),
        (Some((id, secret)), None) => Ok(Client { id, secret: Some(secret), assertion: None }),
        (None, Some(_)) if sent.secret.is_some() => Err(ClientUnknown::TwoWays),
        (None, Some(assertion)) => {
            let id = sent.client_id.or_else(|| claimed_client(&assertion)).ok_or(ClientUnknown::Unnamed)?;
            Ok(Client { id, secret: None, assertion: Some(assertion) })
        }
        (None, None) => {
            let id = sent.client_id.ok_or(ClientUnknown::Unnamed)?;
            Ok(Client { id, secret: sent.secret, assertion: None })
        }
    }
}

fn grant_refusal(refusal: GrantRefusal) -> Response {
    match refusal {
        GrantRefusal::InvalidClient => refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client id is unknown, or its secret is wrong, expired or missing (a public client sends none).",
        ),
        GrantRefusal::Throttled => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_client",
            "Too many failed requests for this client id. Try again in a few minutes.",
        ),
        GrantRefusal::BadAssertion(why) => refuse(StatusCode::UNAUTHORIZED, "invalid_client", &why),
        GrantRefusal::InvalidGrant(why) => refuse(StatusCode::BAD_REQUEST, "invalid_grant", &why),
        GrantRefusal::UnauthorizedClient => refuse(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "A public client holds no secret, so it cannot use the client-credentials grant.",
        ),
        GrantRefusal::InvalidScope => refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "A refresh may ask for the scopes granted or fewer, never more.",
        ),
    }
}

/// `POST /oauth2/v2.0/revoke` (RFC 7009): 200 whether or not the token was known.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenQuestion>, FormRejection>,
) -> Response {
    let q = match question(&headers, form) {
        Ok(q) => q,
        Err(why) => return why.response(),
    };
    let issuer = state.config.public_url.as_str();
    let token = q.token.expose_secret();
    match state.directory.revoke_user_token(&q.client.id, q.client.proof(), token, issuer).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => grant_refusal(refusal),
    }
}

/// `POST /oauth2/v2.0/introspect` (RFC 7662), for confidential applications.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenQuestion>, FormRejection>,
) -> Response {
    let q = match question(&headers, form) {
        Ok(q) => q,
        Err(why) => return why.response(),
    };
    let issuer = state.config.public_url.as_str();
    let token = q.token.expose_secret();
    match state.directory.introspect(&q.client.id, q.client.proof(), token, issuer).await {
        Ok(Some(answer)) => Json(answer).into_response(),
        Ok(None) => Json(json!({ "active": false })).into_response(),
        Err(refusal) => grant_refusal(refusal),
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
