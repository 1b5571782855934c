//! SCIM 2.0 Groups at `/scim/v2/Groups`: what Entra ID and Okta provision, with lookups by name
//! and external id, `excludedAttributes=members`, PATCH of members in the shapes each client
//! sends, PUT, ETags and paging by `startIndex` and `count`.

use std::collections::HashSet;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use roster_api::scim::filter::parse as parse_filter;
use roster_api::scim::group::{group_filter, parse_resource, plan_patch, resource, GroupPatch};
use roster_api::scim::patch::parse_patch_request;
use roster_api::scim::projection::{self, Projection};
use roster_api::scim::ScimError;
use roster_domain::directory::{GroupEdit, NewGroup};
use roster_domain::group::{Group, GroupId, GroupInput, GroupOrder, GroupQuery, MemberId};
use roster_domain::{Actor, DomainError};
use serde_json::json;
use uuid::Uuid;

use super::{
    if_match, not_modified, param, plain, query_pairs, scim_base, scim_json, ListRequest, ScimCaller, ScimFailure,
    ScimJson, ScimResult,
};
use crate::extract::{Caller, ReadGroups, WriteGroups, WriteMembers};
use crate::AppState;

/// A group's ETag: its version, weak.
fn etag(group: &Group) -> String {
    format!("W/\"{}\"", group.version)
}

/// Whether the response leaves members out (they can number in the hundreds of thousands).
fn members_shown(projection: &Projection) -> bool {
    projection::apply(projection, &json!({"members": []})).get("members").is_some()
}

async fn group_response(
    state: &AppState,
    actor: &Actor,
    status: StatusCode,
    group: &Group,
    shown: &Projection,
) -> ScimResult {
    let members = if members_shown(shown) { Some(state.directory.all_members(actor, group.id).await?) } else { None };
    let body = projection::apply(shown, &resource(group, members.as_deref(), &scim_base(state)));
    let mut response = scim_json(status, &body);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag(group)) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&format!("{}/Groups/{}", scim_base(state), group.id)) {
            h.insert(header::LOCATION, v);
        }
    }
    Ok(response)
}

fn shown(raw: Option<&str>) -> Result<Projection, ScimFailure> {
    let q = query_pairs(raw);
    Ok(roster_api::scim::projection::parse_projection(param(&q, "attributes"), param(&q, "excludedAttributes"))?)
}

/// An active group by SCIM id (Roster's group id).
async fn by_id(state: &AppState, actor: &Actor, id: &str) -> Result<Group, ScimFailure> {
    let id: GroupId = id.parse().map_err(|_| plain(404, format!("No group has the id {id}.")))?;
    state.directory.active_group(actor, id).await.map_err(|e| match e {
        DomainError::NotFound(_) => plain(404, format!("No group has the id {id}.")),
        other => other.into(),
    })
}

/// `GET /scim/v2/Groups`.
pub async fn list(
    State(state): State<AppState>,
    Caller { actor, .. }: ScimCaller<ReadGroups>,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    let request = ListRequest::from_query(raw.as_deref())?;
    let filter = request.filter.as_deref().map(parse_filter).transpose()?.map(|f| group_filter(&f)).transpose()?;
    let order = match request.sort_by.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("id") => GroupOrder::Id,
        Some("displayname") => GroupOrder::DisplayName,
        Some(other) => {
            return Err(ScimFailure(ScimError::invalid_value(format!(
                "Sorting groups by {other} is not supported; sort by id or displayName."
            ))))
        }
    };
    let total = state.directory.count_groups(&actor, filter.as_ref()).await?;
    let groups = if request.count == 0 {
        Vec::new()
    } else {
        let query = GroupQuery {
            filter,
            order,
            descending: request.descending,
            offset: request.start_index - 1,
            limit: request.count,
            ..GroupQuery::default()
        };
        state.directory.list_groups(&actor, &query).await?
    };
    let with_members = members_shown(&request.projection);
    let mut resources = Vec::with_capacity(groups.len());
    for g in &groups {
        let members = if with_members { Some(state.directory.all_members(&actor, g.id).await?) } else { None };
        resources.push(projection::apply(&request.projection, &resource(g, members.as_deref(), &scim_base(&state))));
    }
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": request.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

/// `GET /scim/v2/Groups/{id}`; `If-None-Match` with the current ETag answers 304.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<ReadGroups>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    let group = by_id(&state, &actor, &id).await?;
    if let Some(unchanged) = not_modified(&headers, etag(&group)) {
        return Ok(unchanged);
    }
    group_response(&state, &actor, StatusCode::OK, &group, &shown(raw.as_deref())?).await
}

/// The users and groups with these ids; `invalidValue` naming any id that is neither.
async fn members_of(state: &AppState, actor: &Actor, ids: &[Uuid]) -> Result<Vec<MemberId>, ScimFailure> {
    let classified = state.directory.classify(actor, ids).await?;
    let unknown: Vec<String> = classified.iter().filter(|(_, m)| m.is_none()).map(|(id, _)| id.to_string()).collect();
    if !unknown.is_empty() {
        return Err(ScimFailure(ScimError::invalid_value(format!(
            "No active user or group has the id {}; nothing was changed.",
            unknown.join(", ")
        ))));
    }
    Ok(classified.into_iter().filter_map(|(_, m)| m).collect())
}

/// The members `ids` may name, of either kind: a removal skips those that are not in the group.
fn either_kind(ids: &[Uuid]) -> Vec<MemberId> {
    ids.iter().flat_map(|id| [MemberId::User(roster_domain::UserId(*id)), MemberId::Group(GroupId(*id))]).collect()
}

/// `POST /scim/v2/Groups`: 201 with the resource.
pub async fn create(
    State(state): State<AppState>,
    Caller { actor, .. }: ScimCaller<WriteGroups>,
    RawQuery(raw): RawQuery,
    body: ScimJson,
) -> ScimResult {
    let input = parse_resource(&body.value()?)?;
    let members = members_of(&state, &actor, &input.members).await?;
    let new = NewGroup {
        input: GroupInput { display_name: input.display_name, ..GroupInput::default() },
        external_id: input.external_id.unwrap_or_default(),
        owners: Vec::new(),
        members,
    };
    let group = state.directory.create_group(&actor, new).await?;
    group_response(&state, &actor, StatusCode::CREATED, &group, &shown(raw.as_deref())?).await
}

/// The group at the `If-Match` version, or 412.
async fn matching(state: &AppState, actor: &Actor, headers: &HeaderMap, id: &str) -> Result<Group, ScimFailure> {
    let group = by_id(state, actor, id).await?;
    if if_match(headers)?.is_some_and(|v| v != group.version) {
        return Err(plain(412, "The group was changed since the version in If-Match; read it again."));
    }
    Ok(group)
}

/// Applies a planned change: members first (all or none), then the group's own fields, which
/// were checked before anything was written.
async fn apply(state: &AppState, actor: &Actor, group: &Group, plan: GroupPatch) -> Result<Group, ScimFailure> {
    let edit = GroupEdit {
        display_name: plan.display_name.clone(),
        external_id: plan.external_id.clone().map(Option::unwrap_or_default),
        ..GroupEdit::default()
    };
    let input = GroupInput {
        display_name: edit.display_name.clone().unwrap_or_else(|| group.display_name.clone()),
        description: group.description.clone().unwrap_or_default(),
        mail_nickname: group.mail_nickname.clone(),
    };
    input.validate().map_err(DomainError::Invalid)?;
    let mut add = plan.add.clone();
    let mut remove = either_kind(&plan.remove);
    if plan.remove_all || plan.replace_members.is_some() {
        let wanted: HashSet<Uuid> = plan.replace_members.iter().flatten().copied().collect();
        let current: Vec<MemberId> =
            state.directory.all_members(actor, group.id).await?.into_iter().map(|m| m.id).collect();
        let present: HashSet<Uuid> = current.iter().map(|m| m.uuid()).collect();
        remove.extend(current.iter().filter(|m| !wanted.contains(&m.uuid())));
        add.extend(plan.replace_members.iter().flatten().filter(|id| !present.contains(id)));
    }
    if !add.is_empty() || !remove.is_empty() {
        state.directory.change_group_members(actor, group.id, &add, &remove).await?;
    }
    if edit.display_name.is_some() || edit.external_id.is_some() {
        state.directory.update_group(actor, group.id, edit).await?;
    }
    Ok(state.directory.active_group(actor, group.id).await?)
}

/// `PUT /scim/v2/Groups/{id}`: the group becomes the resource sent, members included.
pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<WriteGroups>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: ScimJson,
) -> ScimResult {
    let input = parse_resource(&body.value()?)?;
    let group = matching(&state, &actor, &headers, &id).await?;
    let plan = GroupPatch {
        display_name: Some(input.display_name),
        external_id: Some(input.external_id),
        replace_members: Some(input.members),
        ..GroupPatch::default()
    };
    let group = apply(&state, &actor, &group, plan).await?;
    group_response(&state, &actor, StatusCode::OK, &group, &shown(raw.as_deref())?).await
}

/// `PATCH /scim/v2/Groups/{id}`: 204, or 200 with the resource when `attributes` asks for some.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<WriteMembers>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: ScimJson,
) -> ScimResult {
    let ops = parse_patch_request(&body.value()?)?;
    let group = matching(&state, &actor, &headers, &id).await?;
    let plan = plan_patch(group.id, &ops)?;
    let group = apply(&state, &actor, &group, plan).await?;
    let q = query_pairs(raw.as_deref());
    if param(&q, "attributes").is_none() && param(&q, "excludedAttributes").is_none() {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&etag(&group)) {
            response.headers_mut().insert(header::ETAG, v);
        }
        return Ok(response);
    }
    group_response(&state, &actor, StatusCode::OK, &group, &shown(raw.as_deref())?).await
}

/// `DELETE /scim/v2/Groups/{id}`: 204; the group goes to Deleted groups, restorable for 30 days.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { actor, .. }: ScimCaller<WriteGroups>,
    headers: HeaderMap,
) -> ScimResult {
    let group = matching(&state, &actor, &headers, &id).await?;
    state.directory.delete_group(&actor, group.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_left_out_when_excluded() {
        let excluded = roster_api::scim::projection::parse_projection(None, Some("members")).unwrap();
        assert!(!members_shown(&excluded));
        assert!(members_shown(&roster_api::scim::projection::parse_projection(None, None).unwrap()));
        let named = roster_api::scim::projection::parse_projection(Some("displayName"), None).unwrap();
        assert!(!members_shown(&named));
    }
}
