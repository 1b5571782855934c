//! The Microsoft Graph v1.0-compatible users API at `/v1.0/users`: Graph's paths, query
//! options, property names, status codes and error body, over the same directory rules the
//! admin center uses.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_api::graph::filter::{parse_filter, ParsedFilter};
use roster_api::graph::query::{
    parse_count, parse_orderby, parse_search, parse_select, parse_top, OrderBy, Select, SkipToken,
};
use roster_api::graph::user::{apply_patch, field_to_property, parse_create, GraphUser};
use roster_api::graph::GraphError;
use roster_domain::directory::{ApiNewUser, ApiUserChange};
use roster_domain::store::{FindOrder, UserFind};
use roster_domain::user::Cursor;
use roster_domain::user_filter::UserFilter;
use roster_domain::{Actor, DomainError, Timestamp, User, UserId};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::api::openapi::{GraphFailures, ListOptions, UserCreateDoc, UserDoc, UserKey, UserListDoc, UserUpdateDoc};
use crate::api::{has_media_type, Unauthenticated};
use crate::extract::{Caller, ReadUsers, Refusals, WriteUsers};
use crate::AppState;

/// Graph's code for a change that met others to the same object, to be sent again later.
const CONCURRENCY_VIOLATION: &str = "Directory_ConcurrencyViolation";

/// A failed Graph request, rendered as Graph's error body.
#[derive(Clone)]
pub struct GraphFailure {
    error: GraphError,
    details: Vec<(String, String)>,
    request_id: Option<String>,
    client_request_id: Option<String>,
}

impl GraphFailure {
    pub(crate) fn new(error: GraphError) -> Self {
        GraphFailure { error, details: Vec::new(), request_id: None, client_request_id: None }
    }

    pub(crate) fn status(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        GraphFailure::new(GraphError { status, code, message: message.into() })
    }

    fn denied(why: &str) -> Self {
        GraphFailure::status(
            403,
            "Authorization_RequestDenied",
            format!("Insufficient privileges to complete the operation. {why}"),
        )
    }

    fn for_request(mut self, headers: &HeaderMap) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        self.request_id = text("x-request-id");
        self.client_request_id = text("client-request-id");
        self
    }
}

impl From<GraphError> for GraphFailure {
    fn from(error: GraphError) -> Self {
        GraphFailure::new(error)
    }
}

impl From<DomainError> for GraphFailure {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => {
                let details: Vec<(String, String)> =
                    errors.iter().map(|e| (field_to_property(&e.field).to_string(), e.message.clone())).collect();
                let message = details
                    .iter()
                    .map(|(property, why)| format!("Invalid value specified for property '{property}': {why}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                GraphFailure { details, ..GraphFailure::new(GraphError::bad_request(message)) }
            }
            DomainError::Forbidden(why) => GraphFailure::denied(&why),
            DomainError::NotFound(what) => GraphFailure::status(
                404,
                "Request_ResourceNotFound",
                format!("Resource '{what}' does not exist or one of its queried reference-property objects are not present."),
            ),
            DomainError::UsernameTaken(_) => GraphFailure::status(
                400,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property userPrincipalName already exists.",
            ),
            DomainError::VersionConflict { .. } | DomainError::Contended => GraphFailure::status(
                409,
                CONCURRENCY_VIOLATION,
                "The user kept being changed by others while this request ran; nothing was changed. \
                 Send it again after a short delay.",
            ),
            DomainError::Throttled | DomainError::Limited(_) => {
                GraphFailure::status(429, "TooManyRequests", "Too many requests. Try again later.")
            }
            DomainError::ReauthenticationRequired => GraphFailure::denied("The change needs a recent sign-in."),
            DomainError::Internal(_) | DomainError::Store(_) => {
                tracing::error!(error = %e, "Graph request failed");
                GraphFailure::status(500, "InternalServerError", "Something went wrong on our side. Nothing was changed.")
            }
        }
    }
}

impl IntoResponse for GraphFailure {
    /// The error body as far as the failure knows it; [`stamp`] adds the request's ids.
    fn into_response(self) -> Response {
        let mut response = self.render();
        response.extensions_mut().insert(Unstamped(self));
        response
    }
}

/// A Graph error response whose body does not carry the request's ids yet.
#[derive(Clone)]
struct Unstamped(GraphFailure);

/// Graph's error bodies name the request (`request-id`, `client-request-id`): a layer over the
/// Graph routes, so that every failure gets them, an extractor's refusal included, without a
/// handler passing its request around.
pub(crate) async fn stamp(request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let response = next.run(request).await;
    match response.extensions().get::<Unstamped>() {
        Some(Unstamped(failure)) => failure.clone().for_request(&headers).render(),
        None => response,
    }
}

impl GraphFailure {
    fn render(&self) -> Response {
        let mut inner = Map::new();
        inner.insert("date".into(), json!(Timestamp::now().rfc3339()));
        if let Some(id) = &self.request_id {
            inner.insert("request-id".into(), json!(id));
        }
        if let Some(id) = &self.client_request_id {
            inner.insert("client-request-id".into(), json!(id));
        }
        let mut error = Map::new();
        error.insert("code".into(), json!(self.error.code));
        error.insert("message".into(), json!(self.error.message));
        if !self.details.is_empty() {
            let details: Vec<Value> = self
                .details
                .iter()
                .map(|(target, message)| json!({"code": "InvalidValue", "target": target, "message": message}))
                .collect();
            error.insert("details".into(), Value::Array(details));
        }
        error.insert("innerError".into(), Value::Object(inner));
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.error.code == CONCURRENCY_VIOLATION {
            // Graph's advice for this code: the same request, after a short delay.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Graph's way of refusing a caller.
pub struct Graph;

impl Refusals for Graph {
    type Failure = GraphFailure;

    fn unauthenticated(why: Unauthenticated) -> GraphFailure {
        let message = match why {
            Unauthenticated::Missing => "Access token is empty.",
            Unauthenticated::Invalid => "Access token has expired or is not valid.",
        };
        GraphFailure::status(401, "InvalidAuthenticationToken", message)
    }

    fn forbidden(why: &str) -> GraphFailure {
        GraphFailure::denied(why)
    }
}

/// The application calling a Graph operation that needs `P`.
pub(crate) type GraphCaller<P> = Caller<P, Graph>;

/// What a Graph handler answers.
pub(crate) type GraphResult = Result<Response, GraphFailure>;

/// The query options of a list request, as sent (names without their `$`, case-insensitively).
pub(crate) struct Options {
    pairs: Vec<(String, String)>,
}

impl Options {
    pub(crate) fn parse(raw: Option<&str>) -> Options {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.trim_start_matches('$').to_ascii_lowercase(), v.into_owned()))
            .collect();
        Options { pairs }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `$filter`, parsed (once for the page and its `@odata.count`); none when absent or blank.
    fn filter(&self) -> Result<Option<ParsedFilter>, GraphError> {
        self.get("filter").filter(|f| !f.trim().is_empty()).map(parse_filter).transpose()
    }

    /// The original options without `$skiptoken`, for the next page's link.
    pub(crate) fn without_skiptoken(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs.iter().filter(|(k, _)| k != "skiptoken") {
            out.append_pair(&format!("${k}"), v);
        }
        out.finish()
    }
}

/// Where this server is, for `@odata.context`, next links and `Location`: the configured public
/// URL, since a request's `Host` and forwarded headers are whatever the client wrote.
pub(crate) fn base_url(state: &AppState) -> &str {
    &state.config.public_url
}

pub(crate) fn eventual(headers: &HeaderMap) -> bool {
    headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

/// `GET /v1.0/users`.
#[utoipa::path(
    get,
    path = "/v1.0/users",
    tag = "users",
    summary = "List users",
    params(ListOptions),
    responses((status = 200, description = "A page of users", body = UserListDoc), GraphFailures)
)]
pub async fn list(
    State(state): State<AppState>,
    Caller { actor, .. }: GraphCaller<ReadUsers>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    let options = Options::parse(raw.as_deref());
    let top = parse_top(options.get("top"))?;
    let select = parse_select(options.get("select"))?;
    let order = parse_orderby(options.get("orderby"))?;
    let count = parse_count(options.get("count"))?;
    let filter = options.filter()?;
    let search = parse_search(options.get("search"))?;
    let eventual = eventual(&headers);
    if search.is_some() && !eventual {
        return Err(GraphError::unsupported_query(
            "Request with $search query parameter only works through MSGraph with a special request header: \
             'ConsistencyLevel: eventual'",
        )
        .into());
    }
    let advanced = filter.as_ref().is_some_and(|f| f.advanced) || (filter.is_some() && order != OrderBy::Default);
    if advanced && !(eventual && count) {
        return Err(GraphError::unsupported_query(
            "This filter needs an advanced query: send the header 'ConsistencyLevel: eventual' and $count=true.",
        )
        .into());
    }
    let condition = match (filter.map(|f| f.filter), search) {
        (Some(f), Some(s)) => Some(UserFilter::And(vec![f, s])),
        (f, s) => f.or(s),
    };
    let (find_order, descending) = match order {
        OrderBy::Default => (FindOrder::Id, false),
        OrderBy::DisplayName { descending } => (FindOrder::DisplayName, descending),
        OrderBy::UserPrincipalName { descending } => (FindOrder::Username, descending),
    };
    let after = match options.get("skiptoken") {
        None => None,
        Some(token) => {
            let token = SkipToken::decode(token)?;
            let id: UserId = token.id.parse().map_err(|_| GraphError::bad_request("The skip token is not valid."))?;
            Some(Cursor { key: token.key, id })
        }
    };
    let first_page = after.is_none();
    let find = UserFind { filter: condition.clone(), order: find_order, descending, after, offset: 0, limit: top + 1 };
    let mut found = state.directory.find_users(&actor, find).await?;
    let more = found.len() > top as usize;
    found.truncate(top as usize);
    let base = base_url(&state);
    let count = match count && eventual && first_page {
        true => Some(state.directory.count_found(&actor, condition.as_ref()).await?),
        false => None,
    };
    let next_link = match (more, found.last()) {
        (true, Some(last)) => {
            let token = SkipToken { key: last.cursor.key.clone(), id: last.cursor.id.to_string() }.encode();
            let rest = options.without_skiptoken();
            let joiner = if rest.is_empty() { "" } else { "&" };
            Some(format!("{base}/v1.0/users?{rest}{joiner}$skiptoken={token}"))
        }
        _ => None,
    };
    let page = UserPage {
        context: format!("{base}/v1.0/$metadata#users{}", select.context_suffix()),
        count,
        next_link,
        value: found.iter().map(|f| GraphUser { user: &f.user, select: &select }).collect(),
    };
    Ok(Json(page).into_response())
}

/// A page of users as Graph returns it, written straight into the response.
#[derive(Serialize)]
struct UserPage<'a> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    value: Vec<GraphUser<'a>>,
}

/// One user as Graph returns it, with its context.
#[derive(Serialize)]
struct UserEntity<'a> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(flatten)]
    user: GraphUser<'a>,
}

/// `GET /v1.0/users/{id | userPrincipalName}` (and `/v1.0/users/$count`).
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}",
    tag = "users",
    summary = "Get a user (or /v1.0/users/$count: the number of users)",
    params(UserKey, ("$select" = Option<String>, Query, description = "Properties to return")),
    responses((status = 200, description = "The user", body = UserDoc), GraphFailures)
)]
pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadUsers>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    if key == "$count" {
        if !eventual(&headers) {
            return Err(GraphError::bad_request("$count is not currently supported.").into());
        }
        let filter = Options::parse(raw.as_deref()).filter()?;
        let total = state.directory.count_found(&actor, filter.map(|f| f.filter).as_ref()).await?;
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], total.to_string()).into_response());
    }
    let options = Options::parse(raw.as_deref());
    let select = parse_select(options.get("select"))?;
    let user = state.directory.user_by_key(&actor, &key).await?;
    Ok(Json(single(&state, &user, &select)).into_response())
}

fn single<'a>(state: &AppState, user: &'a User, select: &'a Select) -> UserEntity<'a> {
    let context = format!("{}/v1.0/$metadata#users{}/$entity", base_url(state), select.context_suffix());
    UserEntity { context, user: GraphUser { user, select } }
}

/// A request body as Graph takes it: JSON, or 415 for any other media type, 413 past the body
/// limit and 400 for JSON that does not parse, each in Graph's error shape. The body is read
/// only when its media type is right, and the refusal is kept for [`GraphJson::value`], which
/// handlers call once the caller is authenticated: a request without a token gets its 401
/// first, and parses nothing.
pub struct GraphJson(Result<Bytes, GraphFailure>);

impl GraphJson {
    /// The body as JSON, or why it is refused.
    pub fn value(self) -> Result<Value, GraphFailure> {
        serde_json::from_slice(&self.0?).map_err(|_| GraphError::unreadable_body().into())
    }
}

impl<S: Send + Sync> FromRequest<S> for GraphJson {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(request.headers(), &["application/json"]) {
            return Ok(GraphJson(Err(GraphFailure::status(
                415,
                "UnsupportedMediaType",
                "The request body must be JSON, sent with Content-Type: application/json.",
            ))));
        }
        Ok(GraphJson(Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                GraphFailure::status(
                    413,
                    "RequestEntityTooLarge",
                    "The request body is larger than the server accepts.",
                )
            } else {
                GraphError::unreadable_body().into()
            }
        })))
    }
}

/// `POST /v1.0/users`: 201 with the new user.
#[utoipa::path(
    post,
    path = "/v1.0/users",
    tag = "users",
    summary = "Create a user",
    request_body(content = UserCreateDoc, content_type = "application/json"),
    responses((status = 201, description = "The new user", body = UserDoc), GraphFailures)
)]
pub async fn create(
    State(state): State<AppState>,
    Caller { actor, .. }: GraphCaller<WriteUsers>,
    body: GraphJson,
) -> GraphResult {
    let create = parse_create(&body.value()?)?;
    let input = ApiNewUser {
        username: create.username,
        contact: create.contact,
        enabled: create.account_enabled,
        password: Some(create.password.password),
        must_change_password: create.password.force_change_password_next_sign_in,
        external_id: None,
    };
    let user = state.directory.create_via_api(&actor, input).await?;
    let location = format!("{}/v1.0/users/{}", base_url(&state), user.id);
    let select = Select::default();
    let body = single(&state, &user, &select);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// `PATCH /v1.0/users/{id | userPrincipalName}`: 204.
#[utoipa::path(
    patch,
    path = "/v1.0/users/{key}",
    tag = "users",
    summary = "Update a user",
    params(UserKey),
    request_body(content = UserUpdateDoc, content_type = "application/json"),
    responses((status = 204, description = "Updated"), GraphFailures)
)]
pub async fn update(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteUsers>,
    body: GraphJson,
) -> GraphResult {
    let body = body.value()?;
    change_user(&state, &actor, &key, |user| {
        let patch = apply_patch(&user.contact, &body)?;
        Ok(ApiUserChange {
            contact: patch.contact,
            enabled: patch.account_enabled,
            password: patch.password.map(|p| (p.password, p.force_change_password_next_sign_in)),
            external_id: None,
            username: patch.username,
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Applies `edit` to the user `key` as stored now; when another save comes in between, reads
/// the user again and re-applies it, so that what `edit` leaves alone is never overwritten.
pub(crate) async fn change_user(
    state: &AppState,
    actor: &Actor,
    key: &str,
    edit: impl Fn(&User) -> Result<ApiUserChange, GraphFailure>,
) -> Result<User, GraphFailure> {
    state.directory.update_via_api(actor, key, None, edit).await
}

/// `DELETE /v1.0/users/{id | userPrincipalName}`: 204; the user goes to Deleted users, as in
/// Graph, restorable for 30 days.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{key}",
    tag = "users",
    summary = "Delete a user (to Deleted users, restorable for 30 days)",
    params(UserKey),
    responses((status = 204, description = "Deleted"), GraphFailures)
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteUsers>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    state.directory.delete_user(&actor, user.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
