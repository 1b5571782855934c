//! The authorization request (OpenID Connect Core §3.1.2.1), checked in the order the
//! specification sets: until the client and its redirect URI are known, an error is shown to
//! the person; after that, it goes back to the application.

use std::collections::HashMap;

use uuid::Uuid;

use super::grant::{Scope, Scopes};

/// The longest `state` or `nonce` kept (enough for any client seen; stops unbounded rows).
pub const MAX_ECHOED_CHARS: usize = 1024;

/// What `prompt` asks of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// `none`: answer at once, signing no one in and asking nothing.
    pub none: bool,
    /// `login`: the password again, even with a session.
    pub login: bool,
    /// `consent`: ask for consent even if given before.
    pub consent: bool,
    /// `select_account`: let the person choose who signs in.
    pub select_account: bool,
}

/// A request the provider will answer with a code, once someone is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    /// Seconds since the password was entered beyond which it is asked again.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

/// A request refused before it could be trusted to go back to the application: shown to the
/// person, never redirected (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unredirectable(pub String);

/// A request refused with an error for the application, sent to its redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub redirect_uri: String,
    /// The OAuth error code, such as `invalid_request` or `login_required`.
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl ErrorResponse {
    /// The address the browser goes to: the redirect URI with the error in its query.
    pub fn location(&self) -> String {
        let mut pairs = vec![("error", self.error.to_string()), ("error_description", self.description.clone())];
        if let Some(state) = &self.state {
            pairs.push(("state", state.clone()));
        }
        with_query(&self.redirect_uri, &pairs)
    }
}

/// `uri` with `pairs` added to its query.
pub fn with_query(uri: &str, pairs: &[(&str, String)]) -> String {
    match url::Url::parse(uri) {
        // Nothing to add: the address stays exactly as registered, without a bare `?`.
        Ok(_) if pairs.is_empty() => uri.to_string(),
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            url.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

/// Either half of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown to the person.
    Page(Unredirectable),
    /// Sent back to the application.
    Redirect(ErrorResponse),
}

impl AuthorizationRequest {
    /// Reads the query (or form) of an authorization request. `redirect_allowed` says whether
    /// a redirect URI is registered for the client, which the caller looks up.
    pub fn parse(
        params: &HashMap<String, String>,
        redirect_allowed: impl FnOnce(Uuid, &str) -> Result<(), String>,
    ) -> Result<AuthorizationRequest, Refusal> {
        let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let page = |why: String| Refusal::Page(Unredirectable(why));
        let client_id = get("client_id").ok_or_else(|| page("The request names no application (client_id).".into()))?;
        let client_id =
            Uuid::parse_str(client_id).map_err(|_| page(format!("No application has the client id {client_id}.")))?;
        let redirect_uri =
            get("redirect_uri").ok_or_else(|| page("The request has no redirect_uri.".into()))?.to_string();
        redirect_allowed(client_id, &redirect_uri).map_err(page)?;

        let state = get("state").map(str::to_string);
        let fail = |error: &'static str, description: &str| {
            Refusal::Redirect(ErrorResponse {
                redirect_uri: redirect_uri.clone(),
                error,
                description: description.to_string(),
                state: state.clone().filter(|s| s.chars().count() <= MAX_ECHOED_CHARS),
            })
        };
        if state.as_ref().is_some_and(|s| s.chars().count() > MAX_ECHOED_CHARS) {
            return Err(fail("invalid_request", "state is longer than 1024 characters."));
        }
        if get("request").is_some() {
            return Err(fail("request_not_supported", "Request objects are not supported; send plain parameters."));
        }
        if get("request_uri").is_some() {
            return Err(fail("request_uri_not_supported", "request_uri is not supported; send plain parameters."));
        }
        match get("response_type") {
            Some("code") => {}
            None => return Err(fail("invalid_request", "response_type is missing; Roster answers code.")),
            Some(_) => {
                return Err(fail("unsupported_response_type", "Roster answers only response_type=code."));
            }
        }
        match get("response_mode") {
            None | Some("query") => {}
            Some(_) => return Err(fail("invalid_request", "Roster answers only with response_mode=query.")),
        }
        let scopes = Scopes::parse(get("scope").unwrap_or_default());
        if !scopes.contains(Scope::OpenId) {
            return Err(fail("invalid_scope", "The scope must include openid."));
        }
        let nonce = get("nonce").map(str::to_string);
        if nonce.as_ref().is_some_and(|n| n.chars().count() > MAX_ECHOED_CHARS) {
            return Err(fail("invalid_request", "nonce is longer than 1024 characters."));
        }
        let code_challenge = get("code_challenge").map(str::to_string);
        match (code_challenge.as_deref(), get("code_challenge_method")) {
            (None, None) => {}
            (Some(challenge), Some("S256")) if challenge.len() == 43 => {}
            (Some(_), Some("S256")) => {
                return Err(fail("invalid_request", "code_challenge must be the 43-character S256 hash."));
            }
            (Some(_), None | Some("plain")) => {
                return Err(fail("invalid_request", "code_challenge_method must be S256; plain is not accepted."));
            }
            (Some(_), Some(_)) => return Err(fail("invalid_request", "code_challenge_method must be S256.")),
            (None, Some(_)) => return Err(fail("invalid_request", "code_challenge_method without code_challenge.")),
        }
        let mut prompt = Prompt::default();
        for value in get("prompt").unwrap_or_default().split_whitespace() {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                other => return Err(fail("invalid_request", &format!("prompt={other} is not a prompt Roster knows."))),
            }
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
            return Err(fail("invalid_request", "prompt=none cannot be combined with another prompt."));
        }
        let max_age = match get("max_age") {
            None => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .ok()
                    .filter(|s| *s >= 0)
                    .ok_or_else(|| fail("invalid_request", "max_age must be a whole number of seconds."))?,
            ),
        };
        Ok(AuthorizationRequest {
            client_id,
            redirect_uri,
            scopes,
            state,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint: get("login_hint").map(str::to_string),
        })
    }

    /// An error of `error` for the application.
    pub fn refuse(&self, error: &'static str, description: &str) -> ErrorResponse {
        ErrorResponse {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: description.to_string(),
            state: self.state.clone(),
        }
    }

    /// The redirect carrying `code` back to the application.
    pub fn answer(&self, code: &str, issuer: &str) -> String {
        let mut pairs = vec![("code", code.to_string())];
        if let Some(state) = &self.state {
            pairs.push(("state", state.clone()));
        }
        // RFC 9207: the issuer, so a client talking to several providers cannot be mixed up.
        pairs.push(("iss", issuer.to_string()));
        with_query(&self.redirect_uri, &pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "6f2d8c1e-0b7a-4a51-9d53-1f3c2b8e4a10";

    fn params(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut p: HashMap<String, String> = [
            ("client_id", CLIENT),
            ("redirect_uri", "https://app.example.com/cb"),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "xyz"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                p.remove(*k);
            } else {
                p.insert(k.to_string(), v.to_string());
            }
        }
        p
    }

    fn registered(_: Uuid, uri: &str) -> Result<(), String> {
        (uri == "https://app.example.com/cb").then_some(()).ok_or_else(|| format!("{uri} is not registered"))
    }

    fn redirected(extra: &[(&str, &str)]) -> ErrorResponse {
        match AuthorizationRequest::parse(&params(extra), registered) {
            Err(Refusal::Redirect(e)) => e,
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_reads_every_parameter() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let extra = [
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("nonce", "n-0S6"),
            ("prompt", "login consent"),
            ("max_age", "300"),
        ];
        let request = AuthorizationRequest::parse(&params(&extra), registered).unwrap();
        assert_eq!(request.scopes.to_string(), "openid email");
        assert_eq!(request.code_challenge.as_deref(), Some(challenge));
        assert!(request.prompt.login && request.prompt.consent && !request.prompt.none);
        assert_eq!(request.max_age, Some(300));
        let answer = request.answer("abc", "https://id.example.com");
        assert_eq!(answer, "https://app.example.com/cb?code=abc&state=xyz&iss=https%3A%2F%2Fid.example.com");
    }

    #[test]
    fn an_address_gets_the_parameters_added_and_nothing_when_there_are_none() {
        assert_eq!(with_query("https://app.example.com/bye", &[]), "https://app.example.com/bye");
        assert_eq!(
            with_query("https://app.example.com/bye?a=1", &[("state", "s".into())]),
            "https://app.example.com/bye?a=1&state=s"
        );
    }

    #[test]
    fn an_unknown_client_or_redirect_uri_is_shown_never_redirected() {
        for extra in [[("redirect_uri", "https://evil.example/cb")], [("client_id", "nope")], [("redirect_uri", "")]] {
            assert!(matches!(AuthorizationRequest::parse(&params(&extra), registered), Err(Refusal::Page(_))));
        }
    }

    #[test]
    fn bad_parameters_go_back_to_the_application_with_the_state() {
        assert_eq!(redirected(&[("response_type", "token")]).error, "unsupported_response_type");
        assert_eq!(redirected(&[("response_type", "")]).error, "invalid_request");
        assert_eq!(redirected(&[("scope", "email")]).error, "invalid_scope");
        assert_eq!(redirected(&[("request", "eyJ...")]).error, "request_not_supported");
        assert_eq!(redirected(&[("request_uri", "https://x")]).error, "request_uri_not_supported");
        assert_eq!(redirected(&[("prompt", "none login")]).error, "invalid_request");
        assert_eq!(redirected(&[("max_age", "-1")]).error, "invalid_request");
        let plain = redirected(&[("code_challenge", "abc"), ("code_challenge_method", "plain")]);
        assert!(plain.description.contains("S256"));
        let location = redirected(&[("response_mode", "fragment")]).location();
        assert!(location.starts_with("https://app.example.com/cb?error=invalid_request&"), "{location}");
        assert!(location.ends_with("&state=xyz"), "{location}");
    }
}
