//! What handlers state in their signatures beyond axum's own extractors: a form whose
//! anti-forgery token was checked, the reader's time zone, a user's id in the path, and the
//! application calling an API with the permissions it needs. Each refuses in its caller's
//! language: the admin center's pages for the first three, Graph's or SCIM's error body for the
//! last.

use std::marker::PhantomData;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use roster_domain::apps::AppPermission;
use roster_domain::time_zone::Zone;
use roster_domain::user::UserId;
use roster_domain::{Actor, DomainError};
use subtle::ConstantTimeEq;

use crate::api::{caller, lacking, Unauthenticated};
use crate::error::PageError;
use crate::session::SignedIn;
use crate::AppState;

/// The signed-in person, left in the request by [`SignedIn`] for [`ReaderZone`].
#[derive(Clone)]
pub(crate) struct SessionActor(pub Actor);

/// The time zone the signed-in person reads times in (UTC until they choose one on My account).
pub struct ReaderZone(pub Zone);

impl FromRequestParts<AppState> for ReaderZone {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let actor = match parts.extensions.get::<SessionActor>() {
            Some(actor) => actor.0.clone(),
            None => SignedIn::from_request_parts(parts, state).await?.actor,
        };
        Ok(ReaderZone(state.directory.time_zone(&actor).await?))
    }
}

/// The session's anti-forgery token, left in the request by [`SignedIn`] for [`Checked`].
#[derive(Clone)]
pub(crate) struct SessionCsrf(pub String);

/// A form (`F`, such as `Form<T>`) posted by the signed-in user whose `csrf` field matched
/// their session's token. A form without it, or with another session's, gets the page that
/// asks to go back and send the form again; the form itself is read only after the check.
pub struct Checked<F>(pub F);

impl<F> FromRequest<AppState> for Checked<F>
where
    F: FromRequest<AppState>,
    F::Rejection: IntoResponse,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let request = checked(request, state).await?;
        F::from_request(request, state).await.map(Checked).map_err(IntoResponse::into_response)
    }
}

/// A post that carries nothing but its anti-forgery token (a button that does one thing),
/// checked as [`Checked`] checks a form.
pub struct CheckedPost;

impl FromRequest<AppState> for CheckedPost {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        checked(request, state).await.map(|_| CheckedPost)
    }
}

/// `request` with its body read (within the body limit), once its `csrf` field is found to be
/// the session's token.
async fn checked(request: Request, state: &AppState) -> Result<Request, Response> {
    let (mut parts, body) = request.into_parts();
    let expected = match parts.extensions.get::<SessionCsrf>() {
        Some(token) => token.0.clone(),
        None => {
            SignedIn::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?
                .session
                .csrf_token
        }
    };
    let mut again = Request::new(Body::empty());
    *again.method_mut() = parts.method.clone();
    *again.uri_mut() = parts.uri.clone();
    *again.version_mut() = parts.version;
    *again.headers_mut() = parts.headers.clone();
    *again.extensions_mut() = parts.extensions.clone();
    let bytes =
        Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
    let submitted =
        form_urlencoded::parse(&bytes).find(|(name, _)| name == "csrf").map(|(_, value)| value).unwrap_or_default();
    if !bool::from(submitted.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(PageError::BadToken.into_response());
    }
    *again.body_mut() = Body::from(bytes);
    Ok(again)
}

/// The id of the user a page is about, from the path's `{id}`; anything that is not one is a
/// user not found.
pub struct UserPath(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for UserPath {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| unknown_user())?;
        user_id(&id).map(UserPath)
    }
}

/// A user id a page was sent (in its path or a form); anything else is a user not found.
pub fn user_id(text: &str) -> Result<UserId, PageError> {
    text.parse().map_err(|_| unknown_user())
}

fn unknown_user() -> PageError {
    PageError::Domain(DomainError::NotFound("user"))
}

/// Which application permissions an API operation needs (any one of them).
pub trait Needs: Send + Sync + 'static {
    /// The permissions, any one of which will do.
    const PERMISSIONS: &'static [AppPermission];
}

/// Reading users.
pub struct ReadUsers;
impl Needs for ReadUsers {
    const PERMISSIONS: &'static [AppPermission] = &[AppPermission::UserReadAll, AppPermission::UserReadWriteAll];
}

/// Changing users.
pub struct WriteUsers;
impl Needs for WriteUsers {
    const PERMISSIONS: &'static [AppPermission] = &[AppPermission::UserReadWriteAll];
}

/// Reading authentication methods.
pub struct ReadMethods;
impl Needs for ReadMethods {
    const PERMISSIONS: &'static [AppPermission] =
        &[AppPermission::AuthMethodReadAll, AppPermission::AuthMethodReadWriteAll];
}

/// Changing authentication methods.
pub struct WriteMethods;
impl Needs for WriteMethods {
    const PERMISSIONS: &'static [AppPermission] = &[AppPermission::AuthMethodReadWriteAll];
}

/// Reading groups, their members and owners, and the groups users are in.
pub struct ReadGroups;
impl Needs for ReadGroups {
    const PERMISSIONS: &'static [AppPermission] =
        &[AppPermission::GroupReadAll, AppPermission::GroupReadWriteAll, AppPermission::GroupMemberReadWriteAll];
}

/// Adding, changing and deleting groups.
pub struct WriteGroups;
impl Needs for WriteGroups {
    const PERMISSIONS: &'static [AppPermission] = &[AppPermission::GroupReadWriteAll];
}

/// Adding and removing members of groups.
pub struct WriteMembers;
impl Needs for WriteMembers {
    const PERMISSIONS: &'static [AppPermission] =
        &[AppPermission::GroupReadWriteAll, AppPermission::GroupMemberReadWriteAll];
}

/// How an API refuses a caller: in its own error body.
pub trait Refusals: Send + Sync + 'static {
    /// The API's error response.
    type Failure: IntoResponse;
    /// No usable access token.
    fn unauthenticated(why: Unauthenticated) -> Self::Failure;
    /// A token whose application lacks the operation's permissions, with why.
    fn forbidden(why: &str) -> Self::Failure;
}

/// The application an API request's bearer token belongs to, holding one of the permissions
/// `P` names, as the actor of whatever the request does; `A` is the API that answers a refusal.
pub struct Caller<P, A> {
    pub actor: Actor,
    marker: PhantomData<fn() -> (P, A)>,
}

impl<P: Needs, A: Refusals> FromRequestParts<AppState> for Caller<P, A> {
    type Rejection = A::Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let actor = caller(state, parts).await.map_err(A::unauthenticated)?;
        if let Some(why) = lacking(&actor, P::PERMISSIONS) {
            return Err(A::forbidden(&why));
        }
        Ok(Caller { actor, marker: PhantomData })
    }
}
