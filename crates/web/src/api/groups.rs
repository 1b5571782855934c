//! The Microsoft Graph v1.0-compatible groups API at `/v1.0/groups`, with members, owners and
//! the groups a user is in (`/v1.0/users/{key}/memberOf`).

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use roster_api::graph::group::{
    field_to_property, group_json, member_json, order_of, parse_create, parse_filter, parse_orderby, parse_patch,
    parse_ref, parse_search, ObjectRef, GROUP,
};
use roster_api::graph::query::{parse_count, parse_select_of, parse_top, Select, SkipToken};
use roster_api::graph::GraphError;
use roster_domain::directory::{GroupEdit, NewGroup};
use roster_domain::group::{Group, GroupCursor, GroupFilter, GroupId, GroupQuery, MemberId};
use roster_domain::user::{Cursor, UserId};
use roster_domain::{Actor, DomainError};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::api::graph::{base_url, eventual, GraphCaller, GraphFailure, GraphJson, GraphResult, Options};
use crate::api::openapi::{
    DirectoryObjectListDoc, GraphFailures, GroupCreateDoc, GroupDoc, GroupKey, GroupListDoc, GroupListOptions,
    GroupUpdateDoc, MemberKey, PageOptions, ReferenceDoc, UserKey,
};
use crate::extract::{Caller, ReadGroups, WriteGroups, WriteMembers};
use crate::AppState;

fn group_id(key: &str) -> Result<GroupId, GraphFailure> {
    key.parse().map_err(|_| not_found(key))
}

fn not_found(key: &str) -> GraphFailure {
    GraphFailure::status(
        404,
        "Request_ResourceNotFound",
        format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// A domain refusal with the group's property names.
fn refused(e: DomainError) -> GraphFailure {
    match e {
        DomainError::Invalid(errors) => {
            let message = errors
                .iter()
                .map(|e| {
                    format!("Invalid value specified for property '{}': {}", field_to_property(&e.field), e.message)
                })
                .collect::<Vec<_>>()
                .join(" ");
            GraphError::bad_request(message).into()
        }
        DomainError::NotFound("member") => not_found("member"),
        other => other.into(),
    }
}

fn single(state: &AppState, group: &Group, select: &Select) -> Value {
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#groups{}/$entity", base_url(state), select.context_suffix())),
    );
    body.extend(group_json(group, select));
    Value::Object(body)
}

/// The page size and where the page starts, from `$top` and `$skiptoken`.
fn paging(options: &Options) -> Result<(u32, Option<Uuid>), GraphFailure> {
    let top = parse_top(options.get("top"))?;
    let after = match options.get("skiptoken") {
        None => None,
        Some(token) => {
            let token = SkipToken::decode(token)?;
            Some(Uuid::parse_str(&token.id).map_err(|_| GraphError::bad_request("The skip token is not valid."))?)
        }
    };
    Ok((top, after))
}

/// The link to the page after `last`, carrying the request's other options.
fn next_link(state: &AppState, path: &str, options: &Options, key: String, last: Uuid) -> String {
    let token = SkipToken { key, id: last.to_string() }.encode();
    let rest = options.without_skiptoken();
    let joiner = if rest.is_empty() { "" } else { "&" };
    format!("{}{path}?{rest}{joiner}$skiptoken={token}", base_url(state))
}

/// `GET /v1.0/groups`.
#[utoipa::path(
    get,
    path = "/v1.0/groups",
    tag = "groups",
    summary = "List groups",
    params(GroupListOptions),
    responses((status = 200, description = "A page of groups", body = GroupListDoc), GraphFailures)
)]
pub async fn list(
    State(state): State<AppState>,
    Caller { actor, .. }: GraphCaller<ReadGroups>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    let options = Options::parse(raw.as_deref());
    let select = parse_select_of(options.get("select"), &GROUP)?;
    let count = parse_count(options.get("count"))?;
    let filter = options.get("filter").filter(|f| !f.trim().is_empty()).map(parse_filter).transpose()?;
    let search = parse_search(options.get("search"))?;
    let (order, descending) = order_of(parse_orderby(options.get("orderby"))?);
    let eventual = eventual(&headers);
    if search.is_some() && !eventual {
        return Err(GraphError::unsupported_query(
            "Request with $search query parameter only works through MSGraph with a special request header: \
             'ConsistencyLevel: eventual'",
        )
        .into());
    }
    if filter.is_some() && search.is_some() {
        return Err(GraphError::unsupported_query("Groups take $filter or $search, not both.").into());
    }
    let condition: Option<GroupFilter> = filter.or(search);
    let top = parse_top(options.get("top"))?;
    let after = match options.get("skiptoken") {
        None => None,
        Some(token) => {
            let token = SkipToken::decode(token)?;
            let id: UserId = token.id.parse().map_err(|_| GraphError::bad_request("The skip token is not valid."))?;
            Some(GroupCursor::from_cursor(Cursor { key: token.key, id }))
        }
    };
    let first_page = after.is_none();
    let query =
        GroupQuery { deleted: false, filter: condition.clone(), order, descending, after, offset: 0, limit: top + 1 };
    let mut groups = state.directory.list_groups(&actor, &query).await?;
    let more = groups.len() > top as usize;
    groups.truncate(top as usize);
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#groups{}", base_url(&state), select.context_suffix())),
    );
    if count && eventual && first_page {
        body.insert("@odata.count".into(), json!(state.directory.count_groups(&actor, condition.as_ref()).await?));
    }
    if let (true, Some(last)) = (more, groups.last()) {
        let cursor = GroupCursor::of(last, order);
        body.insert(
            "@odata.nextLink".into(),
            json!(next_link(&state, "/v1.0/groups", &options, cursor.key, last.id.0)),
        );
    }
    let values: Vec<Value> = groups.iter().map(|g| Value::Object(group_json(g, &select))).collect();
    body.insert("value".into(), Value::Array(values));
    Ok(Json(Value::Object(body)).into_response())
}

/// `GET /v1.0/groups/{group}`.
#[utoipa::path(
    get,
    path = "/v1.0/groups/{group}",
    tag = "groups",
    summary = "Get a group",
    params(GroupKey, ("$select" = Option<String>, Query, description = "Properties to return")),
    responses((status = 200, description = "The group", body = GroupDoc), GraphFailures)
)]
pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadGroups>,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    let options = Options::parse(raw.as_deref());
    let select = parse_select_of(options.get("select"), &GROUP)?;
    let group = state.directory.active_group(&actor, group_id(&key)?).await.map_err(|_| not_found(&key))?;
    Ok(Json(single(&state, &group, &select)).into_response())
}

/// The users and groups references name, each found; 404 for any that names nothing.
async fn resolve(state: &AppState, actor: &Actor, refs: &[ObjectRef]) -> Result<Vec<MemberId>, GraphFailure> {
    let mut members = Vec::with_capacity(refs.len());
    for reference in refs {
        let (id, found) = match *reference {
            ObjectRef::Any(id) => (id, state.directory.directory_object(actor, id).await?),
            ObjectRef::User(id) => {
                (id, state.directory.directory_object(actor, id).await?.filter(|m| matches!(m, MemberId::User(_))))
            }
            ObjectRef::Group(id) => {
                (id, state.directory.directory_object(actor, id).await?.filter(|m| matches!(m, MemberId::Group(_))))
            }
        };
        members.push(found.ok_or_else(|| not_found(&id.to_string()))?);
    }
    Ok(members)
}

/// `POST /v1.0/groups`: 201 with the new group.
#[utoipa::path(
    post,
    path = "/v1.0/groups",
    tag = "groups",
    summary = "Create a security group",
    request_body(content = GroupCreateDoc, content_type = "application/json"),
    responses((status = 201, description = "The new group", body = GroupDoc), GraphFailures)
)]
pub async fn create(
    State(state): State<AppState>,
    Caller { actor, .. }: GraphCaller<WriteGroups>,
    body: GraphJson,
) -> GraphResult {
    let body = parse_create(&body.value()?)?;
    let members = resolve(&state, &actor, &body.members).await?;
    let owners = resolve(&state, &actor, &body.owners)
        .await?
        .into_iter()
        .map(|m| match m {
            MemberId::User(u) => Ok(u),
            MemberId::Group(g) => Err(GraphError::bad_request(format!("Owners are users; {g} is a group."))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let new = NewGroup { input: body.input(), external_id: String::new(), owners, members };
    let group = state.directory.create_group(&actor, new).await.map_err(refused)?;
    let location = format!("{}/v1.0/groups/{}", base_url(&state), group.id);
    let body = single(&state, &group, &Select::all_of(&GROUP));
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// `PATCH /v1.0/groups/{group}`: 204.
#[utoipa::path(
    patch,
    path = "/v1.0/groups/{group}",
    tag = "groups",
    summary = "Update a group (and add members with members@odata.bind)",
    params(GroupKey),
    request_body(content = GroupUpdateDoc, content_type = "application/json"),
    responses((status = 204, description = "Updated"), GraphFailures)
)]
pub async fn update(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteGroups>,
    body: GraphJson,
) -> GraphResult {
    let body = parse_patch(&body.value()?)?;
    let id = group_id(&key)?;
    state.directory.active_group(&actor, id).await.map_err(|_| not_found(&key))?;
    let members = resolve(&state, &actor, &body.members).await?;
    let edit = GroupEdit {
        display_name: body.display_name,
        description: body.description,
        mail_nickname: body.mail_nickname,
        ..GroupEdit::default()
    };
    state.directory.update_group(&actor, id, edit).await.map_err(refused)?;
    if !members.is_empty() {
        state.directory.add_members(&actor, id, &members).await.map_err(refused)?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1.0/groups/{group}`: 204; the group goes to Deleted groups, restorable for 30 days.
#[utoipa::path(
    delete,
    path = "/v1.0/groups/{group}",
    tag = "groups",
    summary = "Delete a group (to Deleted groups, restorable for 30 days)",
    params(GroupKey),
    responses((status = 204, description = "Deleted"), GraphFailures)
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteGroups>,
) -> GraphResult {
    let id = group_id(&key)?;
    state.directory.active_group(&actor, id).await.map_err(|_| not_found(&key))?;
    state.directory.delete_group(&actor, id).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn member_page(state: &AppState, actor: &Actor, key: &str, raw: Option<&str>, transitive: bool) -> GraphResult {
    let options = Options::parse(raw);
    let (top, after) = paging(&options)?;
    let id = group_id(key)?;
    let page = state.directory.members(actor, id, transitive, after, top).await.map_err(|_| not_found(key))?;
    let what = if transitive { "transitiveMembers" } else { "members" };
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(format!("{}/v1.0/$metadata#directoryObjects", base_url(state))));
    if let Some(last) = page.next {
        body.insert(
            "@odata.nextLink".into(),
            json!(next_link(state, &format!("/v1.0/groups/{id}/{what}"), &options, String::new(), last)),
        );
    }
    body.insert("value".into(), page.members.iter().map(member_json).collect());
    Ok(Json(Value::Object(body)).into_response())
}

/// `GET /v1.0/groups/{group}/members`.
#[utoipa::path(
    get,
    path = "/v1.0/groups/{group}/members",
    tag = "groups",
    summary = "List a group's direct members (users and groups)",
    params(GroupKey, PageOptions),
    responses((status = 200, description = "A page of members", body = DirectoryObjectListDoc), GraphFailures)
)]
pub async fn members(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadGroups>,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    member_page(&state, &actor, &key, raw.as_deref(), false).await
}

/// `GET /v1.0/groups/{group}/transitiveMembers`.
#[utoipa::path(
    get,
    path = "/v1.0/groups/{group}/transitiveMembers",
    tag = "groups",
    summary = "List a group's members at any depth",
    params(GroupKey, PageOptions),
    responses((status = 200, description = "A page of members", body = DirectoryObjectListDoc), GraphFailures)
)]
pub async fn transitive_members(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadGroups>,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    member_page(&state, &actor, &key, raw.as_deref(), true).await
}

/// `POST /v1.0/groups/{group}/members/$ref`: 204; 400 when already a member, 404 for an unknown object.
#[utoipa::path(
    post,
    path = "/v1.0/groups/{group}/members/$ref",
    tag = "groups",
    summary = "Add a member",
    params(GroupKey),
    request_body(content = ReferenceDoc, content_type = "application/json"),
    responses((status = 204, description = "Added"), GraphFailures)
)]
pub async fn add_member(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteMembers>,
    body: GraphJson,
) -> GraphResult {
    let reference = parse_ref(&body.value()?)?;
    let id = group_id(&key)?;
    state.directory.active_group(&actor, id).await.map_err(|_| not_found(&key))?;
    let members = resolve(&state, &actor, &[reference]).await?;
    let added = state.directory.add_members(&actor, id, &members).await.map_err(refused)?;
    if added.is_empty() {
        return Err(GraphError::bad_request(
            "One or more added object references already exist for the following modified properties: 'members'.",
        )
        .into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1.0/groups/{group}/members/{member}/$ref`: 204; 404 when not a member.
#[utoipa::path(
    delete,
    path = "/v1.0/groups/{group}/members/{member}/$ref",
    tag = "groups",
    summary = "Remove a member",
    params(MemberKey),
    responses((status = 204, description = "Removed"), GraphFailures)
)]
pub async fn remove_member(
    State(state): State<AppState>,
    Path((key, member)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMembers>,
) -> GraphResult {
    let id = group_id(&key)?;
    let member_id = Uuid::parse_str(&member).map_err(|_| not_found(&member))?;
    state.directory.active_group(&actor, id).await.map_err(|_| not_found(&key))?;
    let candidates = [MemberId::User(UserId(member_id)), MemberId::Group(GroupId(member_id))];
    let removed = state.directory.remove_members(&actor, id, &candidates).await.map_err(refused)?;
    if removed.is_empty() {
        return Err(not_found(&member));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1.0/groups/{group}/owners`.
#[utoipa::path(
    get,
    path = "/v1.0/groups/{group}/owners",
    tag = "groups",
    summary = "List a group's owners",
    params(GroupKey),
    responses((status = 200, description = "The owners", body = DirectoryObjectListDoc), GraphFailures)
)]
pub async fn owners(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadGroups>,
) -> GraphResult {
    let id = group_id(&key)?;
    state.directory.active_group(&actor, id).await.map_err(|_| not_found(&key))?;
    let owners = state.directory.owners(&actor, id).await?;
    let values: Vec<Value> = owners
        .iter()
        .map(|u| {
            member_json(&roster_domain::group::Member {
                id: MemberId::User(u.id),
                display_name: u.contact.display_name.clone(),
                username: Some(u.username.to_string()),
            })
        })
        .collect();
    let context = format!("{}/v1.0/$metadata#directoryObjects", base_url(&state));
    Ok(Json(json!({"@odata.context": context, "value": values})).into_response())
}

/// `POST /v1.0/groups/{group}/owners/$ref`: 204; 400 when already an owner.
#[utoipa::path(
    post,
    path = "/v1.0/groups/{group}/owners/$ref",
    tag = "groups",
    summary = "Add an owner",
    params(GroupKey),
    request_body(content = ReferenceDoc, content_type = "application/json"),
    responses((status = 204, description = "Added"), GraphFailures)
)]
pub async fn add_owner(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteGroups>,
    body: GraphJson,
) -> GraphResult {
    let reference = parse_ref(&body.value()?)?;
    let id = group_id(&key)?;
    state.directory.active_group(&actor, id).await.map_err(|_| not_found(&key))?;
    let MemberId::User(user) = resolve(&state, &actor, &[reference]).await?[0] else {
        return Err(GraphError::bad_request("Owners are users, not groups.").into());
    };
    let owners = state.directory.owners(&actor, id).await?;
    if owners.iter().any(|o| o.id == user) {
        return Err(GraphError::bad_request(
            "One or more added object references already exist for the following modified properties: 'owners'.",
        )
        .into());
    }
    state.directory.change_owners(&actor, id, &[user], &[]).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1.0/groups/{group}/owners/{member}/$ref`: 204; 404 when not an owner.
#[utoipa::path(
    delete,
    path = "/v1.0/groups/{group}/owners/{member}/$ref",
    tag = "groups",
    summary = "Remove an owner",
    params(MemberKey),
    responses((status = 204, description = "Removed"), GraphFailures)
)]
pub async fn remove_owner(
    State(state): State<AppState>,
    Path((key, member)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteGroups>,
) -> GraphResult {
    let id = group_id(&key)?;
    let user = Uuid::parse_str(&member).map(UserId).map_err(|_| not_found(&member))?;
    state.directory.active_group(&actor, id).await.map_err(|_| not_found(&key))?;
    if !state.directory.owners(&actor, id).await?.iter().any(|o| o.id == user) {
        return Err(not_found(&member));
    }
    state.directory.change_owners(&actor, id, &[], &[user]).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn member_of(state: &AppState, actor: &Actor, key: &str, raw: Option<&str>, transitive: bool) -> GraphResult {
    let options = Options::parse(raw);
    let (top, after) = paging(&options)?;
    let user = state.directory.user_by_key(actor, key).await?;
    let (groups, next) = state.directory.member_of_page(actor, user.id, transitive, after.map(GroupId), top).await?;
    let select = Select::all_of(&GROUP);
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(format!("{}/v1.0/$metadata#directoryObjects", base_url(state))));
    if let Some(last) = next {
        let what = if transitive { "transitiveMemberOf" } else { "memberOf" };
        let path = format!("/v1.0/users/{}/{what}", user.id);
        body.insert("@odata.nextLink".into(), json!(next_link(state, &path, &options, String::new(), last.0)));
    }
    body.insert("value".into(), groups.iter().map(|g| Value::Object(group_json(g, &select))).collect());
    Ok(Json(Value::Object(body)).into_response())
}

/// `GET /v1.0/users/{key}/memberOf`: the groups a user is directly in.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/memberOf",
    tag = "groups",
    summary = "List the groups a user is directly in",
    params(UserKey, PageOptions),
    responses((status = 200, description = "A page of groups", body = DirectoryObjectListDoc), GraphFailures)
)]
pub async fn user_member_of(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadGroups>,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    member_of(&state, &actor, &key, raw.as_deref(), false).await
}

/// `GET /v1.0/users/{key}/transitiveMemberOf`: the groups a user is in at any depth.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/transitiveMemberOf",
    tag = "groups",
    summary = "List the groups a user is in, directly or through nesting",
    params(UserKey, PageOptions),
    responses((status = 200, description = "A page of groups", body = DirectoryObjectListDoc), GraphFailures)
)]
pub async fn user_transitive_member_of(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadGroups>,
    RawQuery(raw): RawQuery,
) -> GraphResult {
    member_of(&state, &actor, &key, raw.as_deref(), true).await
}
