//! Signing people in to applications: the authorization code flow of OpenID Connect, the
//! token endpoint's user grants, userinfo, and the keys that sign ID tokens.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Actor, Directory, TokenRefusal};
use crate::apps::{App, AppSecret};
use crate::audit::{AuditAction, FieldChange};
use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::group::MemberId;
use crate::oidc::claims::add_mapped;
use crate::oidc::client::GroupsClaim;
use crate::oidc::grant::{pkce_matches, AuthCode, Grant, IssuedTokens, Rotation, Scopes, ACCESS_TOKEN_SECONDS};
use crate::oidc::keys::{Keyring, SigningAlg, SigningKey, ROTATION_NOTICE_SECONDS};
use crate::oidc::request::{with_query, AuthorizationRequest, Refusal};
use crate::oidc::{id_token_claims, user_claims, ReleasedGroups, GROUPS_CLAIM_LIMIT};
use crate::outbox::{Channel, Message, MessageKind};
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::session::{hash_token, random_token, Session};
use crate::store::FoundToken;
use crate::user::User;

/// How long a node trusts its copy of the signing keys before reading them again, so that a
/// key another node added or retired is used here within this time.
const KEYS_FRESH_SECONDS: i64 = 60;

/// The event a logout token announces (OpenID Connect Back-Channel Logout 1.0 §2.4).
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token stays acceptable: a notice delivered later than this is stale.
const LOGOUT_TOKEN_SECONDS: i64 = 10 * 60;

/// The token endpoint's path under the issuer, which client assertions name as their audience.
pub const TOKEN_PATH: &str = "/oauth2/v2.0/token";

/// The signing keys this node holds, and when it read them.
#[derive(Default)]
pub(crate) struct KeyCache(RwLock<Option<(Timestamp, Arc<Keyring>)>>);

/// The authorization endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Send the browser here: the application's redirect URI with a code or an error.
    Redirect(String),
    /// Someone must sign in first, then come back. With `after`, a sign-in older than that
    /// does not do: the request asked for the password again.
    SignIn { after: Option<Timestamp>, login_hint: Option<String> },
    /// The request cannot be answered to the application; say why to the person.
    Refused(String),
    /// The person is signed in but not assigned to the application (named here).
    NotAssigned(String),
    /// The person must consent to what the application (named here) asks for first.
    Consent { app: String, scopes: Scopes },
}

/// What the end-session endpoint does (OpenID Connect RP-Initiated Logout 1.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Sign the person out of Roster, if they are signed in, then send the browser to `then`
    /// (the application's registered address) or to Roster's own signed-out page.
    SignOut { then: Option<String> },
    /// Ask the person first: nothing proves the request comes from an application they use.
    Confirm { app: Option<String> },
    /// The request is wrong; say why to the person.
    Refused(String),
}

/// What the person answered on the consent page, if they were asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAnswer {
    /// Not asked (yet).
    NotAsked,
    /// Accepted what the application asks for.
    Given,
    /// Cancelled.
    Refused,
}

/// How a request to the token, revocation or introspection endpoint proves which client sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientProof<'a> {
    /// Nothing: a public client, which holds no secret.
    None,
    /// A client secret (`client_secret_basic` or `client_secret_post`).
    Secret(&'a str),
    /// A JWT signed with one of the client's registered keys (`private_key_jwt`).
    Assertion(&'a str),
}

/// Why the token endpoint refused, in RFC 6749 §5.2's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    /// Unknown client, wrong or expired secret, or a secret missing.
    InvalidClient,
    /// The client's signed assertion does not check out, for the reason given.
    BadAssertion(String),
    /// The code or refresh token is unknown, expired, used, not this client's, or its user may
    /// no longer sign in.
    InvalidGrant(String),
    /// More scopes than were granted.
    InvalidScope,
    /// A public client asked for the client-credentials grant, which needs a confidential one.
    UnauthorizedClient,
    /// Too many failed requests for this client id.
    Throttled,
}

/// What the token endpoint returns for a user grant.
#[derive(Debug, Clone)]
pub struct UserTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: String,
}

impl Directory {
    /// The signing keys, read again when stale; keys for an algorithm that has none are
    /// generated and stored first.
    pub async fn keyring(&self) -> Result<Arc<Keyring>, DomainError> {
        let now = Timestamp::now();
        if let Some((read_at, ring)) = self.keys.0.read().expect("key cache").as_ref() {
            if now < read_at.plus_seconds(KEYS_FRESH_SECONDS) {
                return Ok(ring.clone());
            }
        }
        let stored = self.store.list_signing_keys().await?;
        let keys = stored.iter().map(|k| k.open(&self.code_key)).collect::<Result<Vec<_>, _>>()?;
        let mut ring = Keyring::load(keys)?;
        let missing = ring.missing(now);
        if !missing.is_empty() {
            // The first key of an algorithm signs at once: no client can have cached a key set
            // that lacks it while expecting tokens signed with it.
            let new =
                missing.into_iter().map(|alg| SigningKey::generate(alg, now, now)).collect::<Result<Vec<_>, _>>()?;
            self.save_keys(&Actor::system("Roster"), &new, "created").await?;
            ring = Keyring::load(ring.keys().cloned().chain(new).collect())?;
        }
        let ring = Arc::new(ring);
        *self.keys.0.write().expect("key cache") = Some((now, ring.clone()));
        Ok(ring)
    }

    /// Answers an authorization request for whoever is signed in (`signed_in`), if anyone.
    pub async fn authorize(
        &self,
        params: &HashMap<String, String>,
        signed_in: Option<(&Session, &User)>,
        issuer: &str,
        client_ip: &str,
        consent: ConsentAnswer,
    ) -> Result<AuthorizeOutcome, DomainError> {
        let now = Timestamp::now();
        let client = match params.get("client_id").and_then(|id| Uuid::parse_str(id).ok()) {
            Some(id) => self.store.get_app(id).await?,
            None => None,
        };
        let parsed = AuthorizationRequest::parse(params, |id, uri| match client.as_ref().filter(|a| a.id == id) {
            None => Err(format!("No application has the client id {id}.")),
            Some(app) if app.sign_in.redirect_uris.is_empty() => {
                Err(format!("{} is not set up to sign people in: it has no redirect URI.", app.name))
            }
            Some(app) if !app.sign_in.allows_redirect(uri) => Err(format!(
                "{uri} is not a redirect URI of {}. An administrator can add it to the application.",
                app.name
            )),
            Some(_) => Ok(()),
        });
        let request = match parsed {
            Ok(request) => request,
            Err(Refusal::Page(why)) => return Ok(AuthorizeOutcome::Refused(why.0)),
            Err(Refusal::Redirect(error)) => return Ok(AuthorizeOutcome::Redirect(error.location())),
        };
        let app = client.expect("a parsed request has its client");
        if app.sign_in.public_client && request.code_challenge.is_none() {
            let error = request.refuse("invalid_request", "A public client must use PKCE (code_challenge with S256).");
            return Ok(AuthorizeOutcome::Redirect(error.location()));
        }
        let after = params.get("signed_in_after").and_then(|t| t.parse().ok()).map(Timestamp);
        let fresh_enough = |session: &Session| {
            let asked_again = request.prompt.login || request.prompt.select_account || request.max_age == Some(0);
            let too_old = request.max_age.is_some_and(|age| session.created_at < now.plus_seconds(-age));
            after.is_some_and(|a| session.created_at >= a) || !(asked_again || too_old)
        };
        let usable = signed_in.filter(|(_, user)| user.enabled && user.deleted_at.is_none());
        let (session, user) = match usable {
            Some((session, user)) if fresh_enough(session) => (session, user),
            _ if request.prompt.none => {
                let error = request.refuse("login_required", "No one is signed in to Roster, or not recently enough.");
                return Ok(AuthorizeOutcome::Redirect(error.location()));
            }
            Some(_) => return Ok(AuthorizeOutcome::SignIn { after: Some(now), login_hint: request.login_hint }),
            None => return Ok(AuthorizeOutcome::SignIn { after: None, login_hint: request.login_hint }),
        };
        if !self.may_use(&app, user).await? {
            return Ok(AuthorizeOutcome::NotAssigned(app.name));
        }
        if consent == ConsentAnswer::Refused {
            let error = request.refuse("access_denied", "The user did not consent.");
            return Ok(AuthorizeOutcome::Redirect(error.location()));
        }
        let mut consent_audit = None;
        if !app.sign_in.admin_consent {
            let had = self.store.get_app_grant(user.id, app.id).await?.map(|g| g.scopes).unwrap_or_default();
            if consent == ConsentAnswer::Given {
                let change = FieldChange {
                    field: format!("consent to {} ({})", app.name, app.id),
                    sensitive: false,
                    before: Some(had.to_string()).filter(|s| !s.is_empty()),
                    after: Some(request.scopes.to_string()),
                };
                let actor = Actor::user(user, Some(client_ip.to_string()), None);
                consent_audit = Some(actor.audit(AuditAction::AppConsentGiven, Some(user), vec![change]));
            } else if !had.covers(request.scopes) || request.prompt.consent {
                if request.prompt.none {
                    let error = request.refuse("consent_required", "The user has not consented to this application.");
                    return Ok(AuthorizeOutcome::Redirect(error.location()));
                }
                return Ok(AuthorizeOutcome::Consent { app: app.name, scopes: request.scopes });
            }
        }
        let consented = if consent_audit.is_some() { request.scopes } else { Scopes::default() };
        self.store.record_app_sign_in(user.id, app.id, consented, now, consent_audit.as_ref()).await?;
        let grant = Grant {
            app_id: app.id,
            user_id: user.id,
            scopes: request.scopes,
            auth_time: session.created_at,
            amr: session.amr.clone(),
        };
        let (stored, code) = AuthCode::issue(
            grant,
            request.redirect_uri.clone(),
            request.nonce.clone(),
            request.code_challenge.clone(),
            now,
        );
        self.store.insert_auth_code(&stored).await?;
        let method = format!("Session, to {}", app.name);
        self.log_sign_in(user.username.as_str(), Some(user.id), &method, "", client_ip).await?;
        Ok(AuthorizeOutcome::Redirect(request.answer(&code, issuer)))
    }

    /// The application behind a token request, authenticated: a confidential client by one of
    /// its secrets or by an assertion signed with one of its keys (each assertion once), a
    /// public client by its id alone.
    async fn token_client(&self, client_id: &str, proof: ClientProof<'_>, issuer: &str) -> Result<App, GrantRefusal> {
        Ok(self.authenticated_client(client_id, proof, issuer).await?.0)
    }

    /// [`Self::token_client`], with the secret the client proved itself with, if it used one.
    pub(crate) async fn authenticated_client(
        &self,
        client_id: &str,
        proof: ClientProof<'_>,
        issuer: &str,
    ) -> Result<(App, Option<AppSecret>), GrantRefusal> {
        let internal = |_| GrantRefusal::InvalidClient;
        let app = match Uuid::parse_str(client_id.trim()) {
            Ok(id) => self.client(id).await.map_err(internal)?.map(|(app, _)| app),
            Err(_) => None,
        };
        let Some(app) = app else { return Err(GrantRefusal::InvalidClient) };
        match (&app.sign_in.client_keys, proof) {
            (_, ClientProof::None) if app.sign_in.public_client => Ok((app, None)),
            (None, ClientProof::Secret(secret)) => match self.check_client_secret(client_id, secret).await {
                Ok(secret) => Ok((app, Some(secret))),
                Err(TokenRefusal::Throttled) => Err(GrantRefusal::Throttled),
                Err(TokenRefusal::InvalidClient) => Err(GrantRefusal::InvalidClient),
            },
            (Some(keys), ClientProof::Assertion(assertion)) => {
                let token_endpoint = format!("{issuer}{TOKEN_PATH}");
                let used = keys
                    .verify(assertion, &app.id.to_string(), &[&token_endpoint, issuer], Timestamp::now())
                    .map_err(GrantRefusal::BadAssertion)?;
                if !self
                    .store
                    .use_client_assertion(app.id, &used.jti, used.expires_at)
                    .await
                    .map_err(|_| GrantRefusal::InvalidClient)?
                {
                    return Err(GrantRefusal::BadAssertion(
                        "The client assertion was used already: sign a new one.".into(),
                    ));
                }
                Ok((app, None))
            }
            (Some(_), _) => Err(GrantRefusal::BadAssertion(
                "This application authenticates with a client assertion signed with one of its keys (private_key_jwt)."
                    .into(),
            )),
            _ => Err(GrantRefusal::InvalidClient),
        }
    }

    /// Exchanges an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5).
    pub async fn redeem_code(
        &self,
        client_id: &str,
        proof: ClientProof<'_>,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        issuer: &str,
    ) -> Result<UserTokens, GrantRefusal> {
        let app = self.token_client(client_id, proof, issuer).await?;
        let now = Timestamp::now();
        let chain = Uuid::new_v4();
        let invalid = |why: &str| GrantRefusal::InvalidGrant(why.to_string());
        let internal = |e: DomainError| GrantRefusal::InvalidGrant(format!("The code could not be redeemed: {e}"));
        let code = match self.store.redeem_auth_code(&hash_token(code), chain).await.map_err(|e| internal(e.into()))? {
            Ok(Some(code)) => code,
            Ok(None) => return Err(invalid("The authorization code is not known.")),
            Err(first) => {
                self.revoke_chain(first, "authorization code used twice").await.map_err(internal)?;
                return Err(invalid("The authorization code was used already; what it gave is revoked too."));
            }
        };
        if code.grant.app_id != app.id {
            return Err(invalid("The authorization code was issued to another application."));
        }
        if code.expires_at <= now {
            return Err(invalid("The authorization code has expired."));
        }
        if redirect_uri != Some(code.redirect_uri.as_str()) {
            return Err(invalid("redirect_uri is not the one the code was issued for."));
        }
        match (&code.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (Some(_), _) => return Err(invalid("code_verifier does not match the code_challenge.")),
            (None, Some(_)) => return Err(invalid("code_verifier was sent, but the request had no code_challenge.")),
            (None, None) => {}
        }
        let user = self.grant_user(&code.grant).await?;
        self.issue_code_tokens(&app, &user, &code, chain, issuer).await
    }

    /// Exchanges a refresh token for new tokens and a new refresh token (RFC 6749 §6). A refresh
    /// token used a second time ends its whole chain: someone holds a copy.
    ///
    /// The token is exchanged before it is read: the store checks and rotates it in one step,
    /// and only a refused exchange reads it to say why.
    pub async fn refresh_grant(
        &self,
        client_id: &str,
        proof: ClientProof<'_>,
        refresh_token: &str,
        scope: Option<&str>,
        issuer: &str,
    ) -> Result<UserTokens, GrantRefusal> {
        let app = self.token_client(client_id, proof, issuer).await?;
        let internal = |e: DomainError| GrantRefusal::InvalidGrant(format!("The token could not be refreshed: {e}"));
        // Read before the exchange, so that a failure to read the keys loses no refresh token.
        let ring = self.keyring().await.map_err(internal)?;
        let (access_token, next_refresh_token) = (random_token(), random_token());
        let asked = scope.map(Scopes::parse);
        let rotation =
            Rotation::new(refresh_token, app.id, asked, Timestamp::now(), &access_token, &next_refresh_token);
        let rotated = self.store.rotate_refresh_token(&rotation).await.map_err(|e| internal(e.into()))?;
        let Some(FoundToken { token, user, .. }) = rotated else {
            return Err(self.refused_refresh(&rotation).await);
        };
        let allowed = match self.may_use(&app, &user).await {
            Ok(allowed) => allowed,
            Err(e) => return Err(self.undone(&rotation, internal(e)).await),
        };
        if !allowed {
            // Its successors would be refused as well: the sign-in ends here.
            self.revoke_chain(token.chain, "user no longer assigned to the application").await.map_err(internal)?;
            return Err(GrantRefusal::InvalidGrant("The user is no longer assigned to this application.".into()));
        }
        let scopes = rotation.access_scopes(token.grant.scopes);
        let shown = Grant { scopes, ..token.grant };
        let id_token = match self.sign_id_token(&ring, &app, &user, &shown, None, issuer).await {
            Ok(id_token) => id_token,
            Err(e) => return Err(self.undone(&rotation, internal(e)).await),
        };
        Ok(UserTokens {
            access_token,
            expires_in: ACCESS_TOKEN_SECONDS,
            refresh_token: Some(next_refresh_token),
            id_token: Some(id_token),
            scope: scopes.to_string(),
        })
    }

    /// `refusal`, once `rotation` is undone: a failure of Roster's own after the exchange
    /// leaves the client its refresh token to try again with, rather than ending its sign-in.
    async fn undone(&self, rotation: &Rotation, refusal: GrantRefusal) -> GrantRefusal {
        match (self.store.undo_rotation(rotation).await, refusal) {
            (Ok(()), refusal) => refusal,
            (Err(e), GrantRefusal::InvalidGrant(why)) => {
                GrantRefusal::InvalidGrant(format!("{why} The refresh token could not be given back either: {e}"))
            }
            (Err(_), refusal) => refusal,
        }
    }

    /// Why the store refused `rotation`, read from its token; a token used before has its
    /// chain ended.
    async fn refused_refresh(&self, rotation: &Rotation) -> GrantRefusal {
        let invalid = |why: &str| GrantRefusal::InvalidGrant(why.to_string());
        let found = match self.store.get_user_token(&rotation.hash).await {
            Ok(found) => found,
            Err(e) => return invalid(&format!("The token could not be refreshed: {e}")),
        };
        let Some(FoundToken { token, used_at, user }) = found.filter(|f| f.token.refresh) else {
            return invalid("The refresh token is not known, or was revoked.");
        };
        if token.grant.app_id != rotation.app_id {
            return invalid("The refresh token was issued to another application.");
        }
        if used_at.is_some() {
            return match self.revoke_chain(token.chain, "refresh token used twice").await {
                Ok(()) => invalid("The refresh token was used already; its sign-in is revoked."),
                Err(e) => invalid(&format!("The refresh token was used already: {e}")),
            };
        }
        if token.expires_at <= rotation.now {
            return invalid("The refresh token has expired. Sign in again.");
        }
        if rotation.asked.is_some_and(|asked| !token.grant.scopes.covers(asked)) {
            return GrantRefusal::InvalidScope;
        }
        if !user.enabled || user.deleted_at.is_some() {
            return invalid("The user may no longer sign in.");
        }
        invalid("The refresh token could not be used. Try again.")
    }

    /// The user a grant is for, if they may still sign in.
    async fn grant_user(&self, grant: &Grant) -> Result<User, GrantRefusal> {
        let user = self.store.get_user(grant.user_id).await.map_err(|e| GrantRefusal::InvalidGrant(e.to_string()))?;
        user.filter(|u| u.enabled && u.deleted_at.is_none())
            .ok_or_else(|| GrantRefusal::InvalidGrant("The user may no longer sign in.".into()))
    }

    /// Issues and stores the first tokens of a sign-in, from the code it redeemed.
    async fn issue_code_tokens(
        &self,
        app: &App,
        user: &User,
        code: &AuthCode,
        chain: Uuid,
        issuer: &str,
    ) -> Result<UserTokens, GrantRefusal> {
        let internal = |e: DomainError| GrantRefusal::InvalidGrant(format!("Tokens could not be issued: {e}"));
        let issued = IssuedTokens::issue(&code.grant, code.grant.scopes, chain, Timestamp::now());
        let ring = self.keyring().await.map_err(internal)?;
        let id_token =
            self.sign_id_token(&ring, app, user, &code.grant, code.nonce.as_deref(), issuer).await.map_err(internal)?;
        self.store.insert_user_tokens(&issued.rows()).await.map_err(|e| internal(e.into()))?;
        Ok(UserTokens {
            access_token: issued.access_token,
            expires_in: ACCESS_TOKEN_SECONDS,
            refresh_token: issued.refresh.map(|(_, plain)| plain),
            id_token: Some(id_token),
            scope: code.grant.scopes.to_string(),
        })
    }

    /// The ID token of `grant` for `app`, signed with `ring`.
    async fn sign_id_token(
        &self,
        ring: &Keyring,
        app: &App,
        user: &User,
        grant: &Grant,
        nonce: Option<&str>,
        issuer: &str,
    ) -> Result<String, DomainError> {
        // Read after the keys: a key made just now for this token signs from this moment.
        let signed_at = Timestamp::now();
        let groups = self.released_groups(app, user, issuer).await?;
        let mut claims = id_token_claims(issuer, user, grant, groups.as_ref(), nonce, signed_at);
        if let Some(claims) = claims.as_object_mut() {
            self.as_the_app_sees_it(app, user, claims);
        }
        ring.sign(app.sign_in.id_token_alg, &claims, signed_at)
    }

    /// Ends every token of a chain, with an audit record saying why.
    async fn revoke_chain(&self, chain: Uuid, why: &str) -> Result<(), DomainError> {
        let audit =
            Actor::system("Roster").audit(AuditAction::AppTokensRevoked, None, vec![change("reason", why.to_string())]);
        Ok(self.store.revoke_token_chain(chain, &audit).await?)
    }

    /// The groups `app`'s `groups` claim lists for `user`, at any depth of nesting; `None`
    /// when the application has the claim off.
    async fn released_groups(
        &self,
        app: &App,
        user: &User,
        issuer: &str,
    ) -> Result<Option<ReleasedGroups>, DomainError> {
        if app.sign_in.groups_claim == GroupsClaim::Off {
            return Ok(None);
        }
        let ids = self.store.groups_of(MemberId::User(user.id), true, None, GROUPS_CLAIM_LIMIT as u32 + 1).await?;
        if ids.len() > GROUPS_CLAIM_LIMIT {
            let endpoint = format!("{issuer}/v1.0/users/{}/transitiveMemberOf", user.id);
            return Ok(Some(ReleasedGroups::TooMany { endpoint }));
        }
        let mut listed: Vec<String> = match app.sign_in.groups_claim {
            GroupsClaim::Names => self.store.get_groups(&ids).await?.into_iter().map(|g| g.display_name).collect(),
            _ => ids.iter().map(|id| id.to_string()).collect(),
        };
        listed.sort();
        Ok(Some(ReleasedGroups::Listed(listed)))
    }

    /// The claims userinfo returns for an access token; `None` when the token is unknown,
    /// expired, or its user may no longer sign in.
    pub async fn userinfo(&self, access_token: &str, issuer: &str) -> Result<Option<Map<String, Value>>, DomainError> {
        let Some(FoundToken { token, user, .. }) = self.store.get_user_token(&hash_token(access_token)).await? else {
            return Ok(None);
        };
        if token.refresh || token.expires_at <= Timestamp::now() || !user.enabled || user.deleted_at.is_some() {
            return Ok(None);
        }
        let Some((app, _)) = self.client(token.grant.app_id).await? else {
            return Ok(None);
        };
        let groups = self.released_groups(&app, &user, issuer).await?;
        let mut claims = user_claims(&user, token.grant.scopes, groups.as_ref());
        self.as_the_app_sees_it(&app, &user, &mut claims);
        Ok(Some(claims))
    }

    /// The subject identifier `app` knows `user` by: the user's id, or with a pairwise subject
    /// a value of its own per application, so that applications cannot match their users up.
    /// It derives from the server key, which every node shares and which stays the same.
    fn subject_for(&self, app: &App, user: &User) -> String {
        if app.sign_in.pairwise_subject {
            self.code_key.mac(&["pairwise-subject", &app.id.to_string(), &user.id.to_string()])
        } else {
            user.id.to_string()
        }
    }

    /// Finishes the claims of an ID token or userinfo for `app`: its subject identifier and
    /// the further claims it maps.
    fn as_the_app_sees_it(&self, app: &App, user: &User, claims: &mut Map<String, Value>) {
        claims.insert("sub".into(), Value::from(self.subject_for(app, user)));
        add_mapped(claims, &app.sign_in.claim_mappings, user);
    }

    /// Ends a token at its application's request (RFC 7009): a refresh token with its whole
    /// chain, an access token alone. Unknown tokens and other applications' are ignored, as
    /// the RFC asks, so that the answer tells nothing.
    pub async fn revoke_user_token(
        &self,
        client_id: &str,
        proof: ClientProof<'_>,
        token: &str,
        issuer: &str,
    ) -> Result<(), GrantRefusal> {
        let app = self.token_client(client_id, proof, issuer).await?;
        let internal = |e: DomainError| GrantRefusal::InvalidGrant(format!("The token could not be revoked: {e}"));
        let hash = hash_token(token);
        let found = self.store.get_user_token(&hash).await.map_err(|e| internal(e.into()))?;
        match found.map(|f| f.token) {
            Some(token) if token.grant.app_id == app.id && token.refresh => {
                self.revoke_chain(token.chain, &format!("revoked by {}", app.name)).await.map_err(internal)
            }
            Some(token) if token.grant.app_id == app.id => {
                self.store.delete_user_token(&hash).await.map_err(|e| internal(e.into())).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// What a token is (RFC 7662), for a confidential application checking the tokens it is
    /// given: `None` when it is not active (unknown, expired, revoked, a refresh token already
    /// exchanged, or its user may no longer sign in).
    pub async fn introspect(
        &self,
        client_id: &str,
        proof: ClientProof<'_>,
        token: &str,
        issuer: &str,
    ) -> Result<Option<Map<String, Value>>, GrantRefusal> {
        if proof == ClientProof::None {
            return Err(GrantRefusal::InvalidClient);
        }
        self.token_client(client_id, proof, issuer).await?;
        let internal = |e: crate::error::StoreError| GrantRefusal::InvalidGrant(e.to_string());
        let Some(FoundToken { token, used_at, user }) =
            self.store.get_user_token(&hash_token(token)).await.map_err(internal)?
        else {
            return Ok(None);
        };
        if used_at.is_some() || token.expires_at <= Timestamp::now() || !user.enabled || user.deleted_at.is_some() {
            return Ok(None);
        }
        let mut answer = Map::new();
        answer.insert("active".into(), Value::Bool(true));
        answer.insert("scope".into(), Value::from(token.grant.scopes.to_string()));
        answer.insert("client_id".into(), Value::from(token.grant.app_id.to_string()));
        answer.insert("username".into(), Value::from(user.username.to_string()));
        answer.insert("token_type".into(), Value::from(if token.refresh { "refresh_token" } else { "Bearer" }));
        answer.insert("exp".into(), Value::from(token.expires_at.millis() / 1000));
        let audience = self.client(token.grant.app_id).await.map_err(|e| GrantRefusal::InvalidGrant(e.to_string()))?;
        let Some((audience, _)) = audience else { return Ok(None) };
        answer.insert("sub".into(), Value::from(self.subject_for(&audience, &user)));
        answer.insert("aud".into(), Value::from(token.grant.app_id.to_string()));
        answer.insert("iss".into(), Value::from(issuer));
        answer.insert("auth_time".into(), Value::from(token.grant.auth_time.millis() / 1000));
        Ok(Some(answer))
    }

    /// Replaces the signing keys of `algs` (every algorithm when empty): the new keys are
    /// published at once and sign from a day later, or at once with `immediately` (when a key
    /// may be compromised, at the price of every token it signed).
    pub async fn rotate_signing_keys(
        &self,
        actor: &Actor,
        algs: &[SigningAlg],
        immediately: bool,
    ) -> Result<Vec<SigningKey>, DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        let ring = self.keyring().await?;
        let now = Timestamp::now();
        let signs_from = if immediately { now } else { now.plus_seconds(ROTATION_NOTICE_SECONDS) };
        let algs = if algs.is_empty() { SigningAlg::ALL.to_vec() } else { algs.to_vec() };
        let mut keys = Vec::new();
        for alg in algs {
            keys.extend(ring.rotation(alg, now, signs_from, ACCESS_TOKEN_SECONDS)?);
        }
        self.save_keys(actor, &keys, "rotated").await?;
        Ok(keys)
    }

    /// Rotates the keys that have signed for their whole lifetime; for the housekeeping loop.
    pub async fn rotate_due_keys(&self) -> Result<usize, DomainError> {
        let due = self.keyring().await?.due(Timestamp::now());
        if due.is_empty() {
            return Ok(0);
        }
        let keys = self.rotate_signing_keys(&Actor::system("Roster"), &due, false).await?;
        Ok(keys.len())
    }

    /// Every signing key, newest first, without its private half.
    pub async fn signing_keys(&self, actor: &Actor) -> Result<Vec<SigningKey>, DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        Ok(self.keyring().await?.keys().cloned().collect())
    }

    /// Stores new and changed keys with their audit record, and reads them all again.
    async fn save_keys(&self, actor: &Actor, keys: &[SigningKey], what: &str) -> Result<(), DomainError> {
        let changes = keys
            .iter()
            .map(|k| match k.retires_at {
                Some(at) => change("signing_key", format!("{} key {} retires {}", k.alg, k.kid, at.display())),
                None => change(
                    "signing_key",
                    format!("{} key {} {what}, signs from {}", k.alg, k.kid, k.signs_from.display()),
                ),
            })
            .collect();
        let audit = actor.audit(AuditAction::SigningKeyChanged, None, changes);
        let sealed: Vec<_> = keys.iter().map(|k| k.seal(&self.code_key)).collect();
        self.store.save_signing_keys(&sealed, &audit).await?;
        *self.keys.0.write().expect("key cache") = None;
        Ok(())
    }

    /// Decides what a logout request from an application does. An `id_token_hint` Roster
    /// signed for the signed-in person signs them out at once; otherwise they are asked.
    pub async fn end_session(
        &self,
        params: &HashMap<String, String>,
        signed_in: Option<&User>,
        confirmed: bool,
    ) -> Result<LogoutOutcome, DomainError> {
        let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let refused = |why: &str| Ok(LogoutOutcome::Refused(why.to_string()));
        let hint = match get("id_token_hint") {
            Some(token) => match self.keyring().await?.verify_id_token(token) {
                Some(claims) => Some(claims),
                None => return refused("The id_token_hint is not an ID token Roster signed."),
            },
            None => None,
        };
        let from_hint = hint.as_ref().and_then(|c| c["aud"].as_str()).and_then(|a| Uuid::parse_str(a).ok());
        let from_param = match get("client_id") {
            Some(id) => match Uuid::parse_str(id) {
                Ok(id) => Some(id),
                Err(_) => return refused("client_id is not a client id."),
            },
            None => None,
        };
        if from_hint.is_some() && from_param.is_some() && from_hint != from_param {
            return refused("client_id is not the application the id_token_hint was issued to.");
        }
        let app = match from_hint.or(from_param) {
            Some(id) => match self.store.get_app(id).await? {
                Some(app) => Some(app),
                None => return refused("No application has that client id."),
            },
            None => None,
        };
        let then = match get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => match &app {
                Some(app) if app.sign_in.post_logout_redirect_uris.iter().any(|u| u == uri) => {
                    let state: Vec<(&str, String)> =
                        get("state").map(|s| ("state", s.to_string())).into_iter().collect();
                    Some(with_query(uri, &state))
                }
                Some(app) => {
                    return refused(&format!("{uri} is not a sign-out address of {}.", app.name));
                }
                None => return refused("post_logout_redirect_uri needs an id_token_hint or a client_id."),
            },
        };
        let proven = match (&hint, signed_in, &app) {
            (Some(claims), Some(user), Some(app)) => claims["sub"] == self.subject_for(app, user).as_str(),
            _ => false,
        };
        Ok(match signed_in {
            Some(_) if !(proven || confirmed) => LogoutOutcome::Confirm { app: app.map(|a| a.name) },
            _ => LogoutOutcome::SignOut { then },
        })
    }

    /// Ends everything `user`'s sign-ins gave applications: every code, access token and
    /// refresh token, at once, and tells the applications that registered a back-channel
    /// logout address. For a reset password, a block, a deletion or "sign out everywhere";
    /// best effort after the change is committed, as ending sessions is.
    pub(crate) async fn end_app_sign_ins(&self, user: &User) {
        let _ = self.store.delete_tokens_of(user.id).await;
        self.tell_apps_signed_out(user).await;
    }

    /// Tells every application `user` has signed in to, and that registered a back-channel
    /// logout address, that their sign-in to Roster ended: a logout token (OpenID Connect
    /// Back-Channel Logout 1.0 §2.4) naming them by `sub`, so that the application ends all of
    /// their sessions, through the outbox. Best effort, after the change that ended it is
    /// committed, as ending sessions is: a notice lost here leaves the application's session to
    /// run out by itself, and the application's next refresh fails anyway.
    pub(crate) async fn tell_apps_signed_out(&self, user: &User) {
        let Some(issuer) = self.issuer.clone() else { return };
        let Ok(grants) = self.store.list_app_grants(user.id).await else { return };
        let now = Timestamp::now();
        let mut notices = Vec::new();
        for (grant, _) in grants {
            let Ok(Some((app, _))) = self.client(grant.app_id).await else { continue };
            let Some(uri) = app.sign_in.backchannel_logout_uri.clone() else { continue };
            // Read only once an application wants a notice: most people's applications do not.
            let Ok(ring) = self.keyring().await else { return };
            let claims = serde_json::json!({
                "iss": &*issuer,
                "aud": app.id.to_string(),
                "iat": now.millis() / 1000,
                "exp": now.millis() / 1000 + LOGOUT_TOKEN_SECONDS,
                "jti": Uuid::new_v4().to_string(),
                "sub": self.subject_for(&app, user),
                "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
            });
            let Ok(token) = ring.sign_typed(app.sign_in.id_token_alg, &claims, now, "logout+jwt") else { continue };
            notices.push(Message {
                id: 0,
                channel: Channel::Application,
                // A logout token ends sessions: only its application may read it.
                kind: MessageKind::Code,
                recipient: uri,
                user_id: Some(user.id),
                subject: format!("Sign-out notice to {}", app.name),
                text: token,
                html: None,
                created_at: now,
            });
        }
        if !notices.is_empty() && self.store.queue_messages(&notices).await.is_ok() {
            self.queued(&notices);
        }
    }

    /// Forgets authorization codes and user tokens that expired.
    pub async fn trim_user_tokens(&self) -> Result<u64, DomainError> {
        Ok(self.store.trim_user_tokens(Timestamp::now()).await?)
    }
}

/// An audit record's line about something with no "before".
fn change(field: &str, after: String) -> FieldChange {
    FieldChange { field: field.into(), sensitive: false, before: None, after: Some(after) }
}
