//! SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2`: users provisioned by HR systems and identity
//! providers, with filters, sorting, paging, PATCH, PUT, ETags and attribute projection, over
//! the same directory rules as the admin center.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_api::scim::discovery;
use roster_api::scim::filter::parse as parse_filter;
use roster_api::scim::patch::{apply as apply_patch, parse_patch_request};
use roster_api::scim::projection::{self, parse_projection, Projection};
use roster_api::scim::user::{field_to_attribute, parse_resource, resource, user_filter, ScimUserInput};
use roster_api::scim::ScimError;
use roster_domain::directory::{ApiNewUser, ApiUserChange};
use roster_domain::store::{FindOrder, UserFind};
use roster_domain::{Actor, DomainError, User};
use serde_json::{json, Value};

use crate::api::graph::base_url;
use crate::api::{has_media_type, Unauthenticated};
use crate::extract::{Caller, ReadUsers, Refusals, WriteUsers};
use crate::AppState;

pub mod groups;

/// SCIM's media type.
const SCIM_JSON: &str = "application/scim+json";
/// Users per page when the client does not say.
const DEFAULT_COUNT: u32 = 100;

/// A failed SCIM request, rendered as RFC 7644's error body.
pub struct ScimFailure(ScimError);

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        ScimFailure(e)
    }
}

fn plain(status: u16, detail: impl Into<String>) -> ScimFailure {
    ScimFailure(ScimError { status, scim_type: None, detail: detail.into() })
}

impl From<DomainError> for ScimFailure {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => ScimFailure(ScimError::invalid_value(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", field_to_attribute(&e.field), e.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
            DomainError::Forbidden(why) => plain(403, why),
            DomainError::NotFound(what) => plain(404, format!("The {what} was not found.")),
            DomainError::UsernameTaken(name) => {
                ScimFailure(ScimError::uniqueness(format!("The userName {name} is already in use.")))
            }
            DomainError::VersionConflict { .. } => {
                plain(412, "The user was changed since the version in If-Match; read it again.")
            }
            DomainError::Contended => {
                plain(503, "The user kept being changed by others while this request ran; send it again shortly.")
            }
            DomainError::Throttled | DomainError::Limited(_) => plain(429, "Too many requests. Try again later."),
            DomainError::ReauthenticationRequired => plain(403, "The change needs a recent sign-in."),
            DomainError::Internal(_) | DomainError::Store(_) => {
                tracing::error!(error = %e, "SCIM request failed");
                plain(500, "Something went wrong on our side. Nothing was changed.")
            }
        }
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = scim_json(status, &self.0.body());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

type ScimResult = Result<Response, ScimFailure>;

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, SCIM_JSON)], body.to_string()).into_response()
}

/// SCIM's way of refusing a caller.
pub struct Scim;

impl Refusals for Scim {
    type Failure = ScimFailure;

    fn unauthenticated(why: Unauthenticated) -> ScimFailure {
        match why {
            Unauthenticated::Missing => plain(401, "Send an access token as Authorization: Bearer."),
            Unauthenticated::Invalid => plain(401, "The access token has expired or is not valid."),
        }
    }

    fn forbidden(why: &str) -> ScimFailure {
        plain(403, why)
    }
}

/// The application calling a SCIM operation that needs `P`.
type ScimCaller<P> = Caller<P, Scim>;

fn scim_base(state: &AppState) -> String {
    format!("{}/scim/v2", base_url(state))
}

fn location(state: &AppState, user: &User) -> String {
    format!("{}/Users/{}", scim_base(state), user.id)
}

fn etag(user: &User) -> String {
    format!("W/\"{}\"", user.version)
}

/// One user as a response: the resource (projected), its ETag and Location.
async fn user_response(
    state: &AppState,
    actor: &Actor,
    status: StatusCode,
    user: &User,
    shown: &Projection,
) -> ScimResult {
    let href = location(state, user);
    let mut full = resource(user, &href);
    if let Some(r) = full.as_object_mut() {
        r.insert("groups".into(), user_groups(state, actor, user).await?);
    }
    let body = projection::apply(shown, &full);
    let mut response = scim_json(status, &body);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag(user)) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&href) {
            h.insert(header::LOCATION, v);
        }
    }
    Ok(response)
}

/// The read-only `groups` of a user (RFC 7643 §4.1.2): the groups they are in directly, then
/// those they are in through nesting, as `indirect`.
async fn user_groups(state: &AppState, actor: &Actor, user: &User) -> Result<Value, ScimFailure> {
    let direct = state.directory.groups_of_user(actor, user.id, false).await?;
    let all = state.directory.groups_of_user(actor, user.id, true).await?;
    let base = scim_base(state);
    let entry = |g: &roster_domain::group::Group, kind: &str| json!({"value": g.id.to_string(), "$ref": format!("{base}/Groups/{}", g.id), "display": g.display_name, "type": kind});
    let mut groups: Vec<Value> = direct.iter().map(|g| entry(g, "direct")).collect();
    groups.extend(all.iter().filter(|g| !direct.iter().any(|d| d.id == g.id)).map(|g| entry(g, "indirect")));
    Ok(Value::Array(groups))
}

/// `304 Not Modified` when `If-None-Match` names the current ETag.
fn not_modified(headers: &HeaderMap, current: String) -> Option<Response> {
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == current));
    unchanged.then(|| (StatusCode::NOT_MODIFIED, [(header::ETAG, current)]).into_response())
}

/// The version an `If-Match` header asks for: `None` without one or for `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimFailure> {
    let Some(value) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let value = value.trim();
    if value == "*" {
        return Ok(None);
    }
    let bare = value.trim_start_matches("W/").trim_matches('"');
    bare.parse().map(Some).map_err(|_| ScimFailure(ScimError::invalid_value(format!("Invalid If-Match {value}."))))
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The list parameters, from the query string or a `.search` body.
struct ListRequest {
    filter: Option<String>,
    sort_by: Option<String>,
    descending: bool,
    start_index: u64,
    count: u32,
    projection: Projection,
}

fn number(name: &str, raw: Option<&str>) -> Result<Option<i64>, ScimFailure> {
    raw.map(|r| {
        r.trim().parse::<i64>().map_err(|_| ScimFailure(ScimError::invalid_value(format!("{name} must be a number."))))
    })
    .transpose()
}

impl ListRequest {
    /// The list parameters of a query string.
    fn from_query(raw: Option<&str>) -> Result<ListRequest, ScimFailure> {
        let q = query_pairs(raw);
        ListRequest::read(
            param(&q, "filter"),
            param(&q, "sortBy"),
            param(&q, "sortOrder"),
            number("startIndex", param(&q, "startIndex"))?,
            number("count", param(&q, "count"))?,
            param(&q, "attributes"),
            param(&q, "excludedAttributes"),
        )
    }

    fn read(
        filter: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<ListRequest, ScimFailure> {
        let descending = match sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimFailure(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {other}."
                ))))
            }
        };
        Ok(ListRequest {
            filter: filter.filter(|f| !f.trim().is_empty()).map(str::to_string),
            sort_by: sort_by.filter(|s| !s.trim().is_empty()).map(str::to_string),
            descending,
            // RFC 7644 §3.4.2.4: a start below 1 is read as 1, a negative count as 0.
            start_index: start_index.unwrap_or(1).max(1) as u64,
            count: count.map_or(DEFAULT_COUNT, |c| c.clamp(0, discovery::MAX_RESULTS as i64) as u32),
            projection: parse_projection(attributes, excluded)?,
        })
    }
}

/// `GET /scim/v2/Users`.
pub async fn list(
    State(state): State<AppState>,
    Caller { actor, .. }: ScimCaller<ReadUsers>,
    _headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    list_users(&state, &actor, ListRequest::from_query(raw.as_deref())?).await
}

/// `POST /scim/v2/Users/.search` (RFC 7644 §3.4.3): the same query in a body, out of URLs and logs.
pub async fn search(
    State(state): State<AppState>,
    Caller { actor, .. }: ScimCaller<ReadUsers>,
    _headers: HeaderMap,
    body: ScimJson,
) -> ScimResult {
    let body = body.value()?;
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let list = |name: &str| {
        body.get(name)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
    };
    let request = ListRequest::read(
        text("filter"),
        text("sortBy"),
        text("sortOrder"),
        body.get("startIndex").and_then(Value::as_i64),
        body.get("count").and_then(Value::as_i64),
        list("attributes").as_deref(),
        list("excludedAttributes").as_deref(),
    )?;
    list_users(&state, &actor, request).await
}

async fn list_users(state: &AppState, actor: &Actor, request: ListRequest) -> ScimResult {
    let filter = request.filter.as_deref().map(parse_filter).transpose()?.map(|f| user_filter(&f)).transpose()?;
    let order = match request.sort_by.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("id") => FindOrder::Id,
        Some("username") | Some("urn:ietf:params:scim:schemas:core:2.0:user:username") => FindOrder::Username,
        Some("displayname") | Some("name.formatted") => FindOrder::DisplayName,
        Some(other) => {
            return Err(ScimFailure(ScimError::invalid_value(format!(
                "Sorting by {other} is not supported; sort by id, userName or displayName."
            ))))
        }
    };
    let total = state.directory.count_found(actor, filter.as_ref()).await?;
    let users = if request.count == 0 {
        Vec::new()
    } else {
        let find = UserFind {
            filter,
            order,
            descending: request.descending,
            after: None,
            offset: request.start_index - 1,
            limit: request.count,
        };
        state.directory.find_users(actor, find).await?.into_iter().map(|f| f.user).collect()
    };
    let resources: Vec<Value> =
        users.iter().map(|u| projection::apply(&request.projection, &resource(u, &location(state, u)))).collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": request.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

fn shown(raw: Option<&str>) -> Result<Projection, ScimFailure> {
    let q = query_pairs(raw);
    Ok(parse_projection(param(&q, "attributes"), param(&q, "excludedAttributes"))?)
}

/// `GET /scim/v2/Users/{id}`; `If-None-Match` with the current ETag answers 304.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<ReadUsers>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    let user = by_id(&state, &actor, &id).await?;
    if let Some(unchanged) = not_modified(&headers, etag(&user)) {
        return Ok(unchanged);
    }
    user_response(&state, &actor, StatusCode::OK, &user, &shown(raw.as_deref())?).await
}

/// A user by SCIM id (Roster's user id); usernames are not ids here.
async fn by_id(state: &AppState, actor: &Actor, id: &str) -> Result<User, ScimFailure> {
    if id.parse::<roster_domain::UserId>().is_err() {
        return Err(plain(404, format!("No user has the id {id}.")));
    }
    Ok(state.directory.user_by_key(actor, id).await?)
}

/// A request body as SCIM takes it: JSON sent as `application/scim+json` or `application/json`,
/// or 415, 413 past the body limit, and `invalidSyntax` for JSON that does not parse. As with
/// Graph's, the refusal waits for [`ScimJson::value`], after the caller is authenticated.
pub struct ScimJson(Result<Bytes, ScimFailure>);

impl ScimJson {
    /// The body as JSON, or why it is refused.
    pub fn value(self) -> Result<Value, ScimFailure> {
        serde_json::from_slice(&self.0?)
            .map_err(|e| ScimFailure(ScimError::invalid_syntax(format!("The body is not valid JSON: {e}."))))
    }
}

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(request.headers(), &[SCIM_JSON, "application/json"]) {
            return Ok(ScimJson(Err(plain(415, format!("The request body must be JSON, sent as {SCIM_JSON}.")))));
        }
        Ok(ScimJson(Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                plain(413, "The request body is larger than the server accepts.")
            } else {
                ScimFailure(ScimError::invalid_syntax(format!("The body could not be read: {e}.")))
            }
        })))
    }
}

/// `POST /scim/v2/Users`: 201 with the resource.
pub async fn create(
    State(state): State<AppState>,
    Caller { actor, .. }: ScimCaller<WriteUsers>,
    _headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: ScimJson,
) -> ScimResult {
    let body = body.value()?;
    let input = parse_resource(&body)?;
    let user = state
        .directory
        .create_via_api(
            &actor,
            ApiNewUser {
                username: input.username,
                contact: input.contact,
                enabled: input.active,
                password: input.password,
                must_change_password: false,
                external_id: input.external_id,
            },
        )
        .await?;
    user_response(&state, &actor, StatusCode::CREATED, &user, &shown(raw.as_deref())?).await
}

/// The change a whole resource asks for; a new `userName` renames the user.
fn replacement(input: ScimUserInput) -> ApiUserChange {
    ApiUserChange {
        contact: input.contact,
        enabled: Some(input.active),
        password: input.password.map(|p| (p, false)),
        external_id: Some(input.external_id),
        username: Some(input.username),
    }
}

/// Applies `make` to the user as stored: at the `If-Match` version if the client sent one
/// (412 when it moved on), else to the newest version, re-read when a save comes in between.
async fn change(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    id: &str,
    make: impl Fn(&User) -> Result<ApiUserChange, ScimFailure>,
) -> Result<User, ScimFailure> {
    if id.parse::<roster_domain::UserId>().is_err() {
        return Err(plain(404, format!("No user has the id {id}.")));
    }
    state.directory.update_via_api(actor, id, if_match(headers)?, make).await
}

/// `PUT /scim/v2/Users/{id}`: replaces the user with the resource sent.
pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<WriteUsers>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: ScimJson,
) -> ScimResult {
    let body = body.value()?;
    let user = change(&state, &actor, &headers, &id, |_| Ok(replacement(parse_resource(&body)?))).await?;
    user_response(&state, &actor, StatusCode::OK, &user, &shown(raw.as_deref())?).await
}

/// `PATCH /scim/v2/Users/{id}`: add, replace and remove operations, applied all or none.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<WriteUsers>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: ScimJson,
) -> ScimResult {
    let body = body.value()?;
    let ops = parse_patch_request(&body)?;
    let user = change(&state, &actor, &headers, &id, |user| {
        let mut current = resource(user, "");
        apply_patch(&mut current, &ops)?;
        Ok(replacement(parse_resource(&current)?))
    })
    .await?;
    user_response(&state, &actor, StatusCode::OK, &user, &shown(raw.as_deref())?).await
}

/// `DELETE /scim/v2/Users/{id}`: 204; the user goes to Deleted users, restorable for 30 days.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<WriteUsers>,
    headers: HeaderMap,
) -> ScimResult {
    let user = by_id(&state, &actor, &id).await?;
    if if_match(&headers)?.is_some_and(|v| v != user.version) {
        return Err(plain(412, "The user was changed since the version in If-Match; read it again."));
    }
    state.directory.delete_user(&actor, user.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /scim/v2/ServiceProviderConfig`: what this service supports. Discovery documents
/// describe the service, not anyone's data, so they need no token.
pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &discovery::service_provider_config(&scim_base(&state)))
}

/// `GET /scim/v2/ResourceTypes`.
pub async fn resource_types(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &discovery::resource_types(&scim_base(&state)))
}

/// `GET /scim/v2/ResourceTypes/{User|Group}`.
pub async fn resource_type(State(state): State<AppState>, Path(name): Path<String>) -> ScimResult {
    let base = scim_base(&state);
    if name.eq_ignore_ascii_case("User") {
        Ok(scim_json(StatusCode::OK, &discovery::user_resource_type(&base)))
    } else if name.eq_ignore_ascii_case("Group") {
        Ok(scim_json(StatusCode::OK, &discovery::group_resource_type(&base)))
    } else {
        Err(plain(404, format!("There is no resource type {name}.")))
    }
}

/// `POST /scim/v2/.search`: a search across resource types, which RFC 7644 §3.4.3 lets a
/// service provider decline with 501; `/Users/.search` searches users.
pub async fn search_everything() -> ScimFailure {
    plain(501, "Roster searches one resource type at a time: POST to /Users/.search instead.")
}

/// Any other path under `/scim/v2`: SCIM's error body, not the admin center's page.
pub async fn unknown_endpoint(uri: axum::http::Uri) -> ScimFailure {
    plain(404, format!("There is no SCIM endpoint at {}.", uri.path()))
}

/// `GET /scim/v2/Schemas`.
pub async fn schemas(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &discovery::schemas(&scim_base(&state)))
}

/// `GET /scim/v2/Schemas/{urn}`.
pub async fn schema(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    discovery::schema(&scim_base(&state), &id)
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| plain(404, format!("There is no schema {id}.")))
}
