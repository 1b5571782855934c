//! Groups in the SCIM Group resource's shape (RFC 7643 §4.2), and what a Group request asks
//! for in Roster's terms, including the PATCH shapes the big provisioning clients send:
//! Entra ID's capitalised operations and its `remove` of `members` with a list of values
//! (which removes exactly those), and Okta's `members[value eq "…"]` removals and its
//! `replace` of `{id, displayName}`.

use roster_domain::group::{Group, GroupFilter, GroupId, Member, MemberId};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::filter::{member, AttrPath, CompValue, CompareOp, Filter};
use super::patch::{OpKind, PatchOp};
use super::ScimError;

/// The core Group schema's URN.
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The members to list in a resource: all of them, or left out (`excludedAttributes=members`).
pub fn resource(group: &Group, members: Option<&[Member]>, base: &str) -> Value {
    let mut r = Map::new();
    r.insert("schemas".into(), json!([CORE_GROUP]));
    r.insert("id".into(), json!(group.id.to_string()));
    if let Some(external) = &group.external_id {
        r.insert("externalId".into(), json!(external));
    }
    r.insert("displayName".into(), json!(group.display_name));
    if let Some(members) = members {
        let values: Vec<Value> = members
            .iter()
            .map(|m| {
                let (kind, path) = match m.id {
                    MemberId::User(_) => ("User", "Users"),
                    MemberId::Group(_) => ("Group", "Groups"),
                };
                let id = m.id.uuid();
                json!({"value": id.to_string(), "$ref": format!("{base}/{path}/{id}"), "display": m.display_name, "type": kind})
            })
            .collect();
        r.insert("members".into(), Value::Array(values));
    }
    r.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": group.created_at.rfc3339(),
            "lastModified": group.updated_at.rfc3339(),
            "location": format!("{base}/Groups/{}", group.id),
            "version": format!("W/\"{}\"", group.version),
        }),
    );
    Value::Object(r)
}

/// Whether an attribute of the Group resource compares with case.
pub fn case_exact(path: &AttrPath) -> bool {
    path.is("id", None) || path.is("externalId", None) || path.is("members", Some("value"))
}

/// The filters Roster answers on groups: `displayName eq`, `externalId eq` and `id eq`, as
/// provisioning clients look groups up, and `displayName sw`.
pub fn group_filter(filter: &Filter) -> Result<GroupFilter, ScimError> {
    let unsupported = || {
        ScimError::invalid_filter(
            "Groups are filtered by displayName eq or sw, externalId eq or id eq, one comparison at a time.",
        )
    };
    let Filter::Compare { path, op, value: CompValue::String(value) } = filter else {
        return Err(unsupported());
    };
    if path.urn.as_deref().is_some_and(|u| !u.eq_ignore_ascii_case(CORE_GROUP)) {
        return Err(unsupported());
    }
    match op {
        CompareOp::Eq if path.is("displayName", None) => Ok(GroupFilter::DisplayNameIs(value.clone())),
        CompareOp::Sw if path.is("displayName", None) => Ok(GroupFilter::DisplayNameStarts(value.clone())),
        CompareOp::Eq if path.is("externalId", None) => Ok(GroupFilter::ExternalIdIs(value.clone())),
        CompareOp::Eq if path.is("id", None) => {
            // An id that names no group matches nothing, as a filter should.
            Ok(GroupFilter::IdIs(value.parse().unwrap_or(GroupId(Uuid::nil()))))
        }
        _ => Err(unsupported()),
    }
}

/// A whole Group resource, as POST and PUT send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// The members' ids (users or groups), as sent.
    pub members: Vec<Uuid>,
}

/// Reads a Group resource; attributes Roster does not keep are refused, not dropped.
pub fn parse_resource(value: &Value) -> Result<ScimGroupInput, ScimError> {
    let object = value.as_object().ok_or_else(|| ScimError::invalid_syntax("The body must be a JSON object."))?;
    let mut input = ScimGroupInput { display_name: String::new(), external_id: None, members: Vec::new() };
    for (key, v) in object {
        match key.to_ascii_lowercase().as_str() {
            "schemas" | "id" | "meta" => {}
            "displayname" => {
                input.display_name =
                    v.as_str().ok_or_else(|| ScimError::invalid_value("displayName must be a string."))?.to_string()
            }
            "externalid" => {
                input.external_id = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    _ => return Err(ScimError::invalid_value("externalId must be a string.")),
                }
            }
            "members" => input.members = member_ids(v)?,
            other if other == CORE_GROUP.to_ascii_lowercase() => {}
            _ => return Err(unkept(key)),
        }
    }
    if input.display_name.trim().is_empty() {
        return Err(ScimError::invalid_value("displayName is required."));
    }
    Ok(input)
}

fn unkept(attribute: &str) -> ScimError {
    ScimError::invalid_path(format!("Roster keeps no attribute '{attribute}' on groups; nothing was changed."))
}

/// The ids in a `members` value: a list of `{value}` objects, or one.
fn member_ids(value: &Value) -> Result<Vec<Uuid>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| {
            let id = member(item, "value")
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::invalid_value("Each member is an object with the member's id in 'value'."))?;
            Uuid::parse_str(id.trim())
                .map_err(|_| ScimError::invalid_value(format!("'{id}' is not the id of a user or group.")))
        })
        .collect()
}

/// What a PATCH request asks of a group, once its operations are read in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPatch {
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// Every member replaced by these, before the adds and removes below.
    pub replace_members: Option<Vec<Uuid>>,
    pub add: Vec<Uuid>,
    pub remove: Vec<Uuid>,
    /// Remove every member (a `remove` of `members` with no value), before the adds.
    pub remove_all: bool,
}

impl GroupPatch {
    fn adding(&mut self, ids: Vec<Uuid>) {
        self.remove.retain(|r| !ids.contains(r));
        for id in ids {
            if !self.add.contains(&id) {
                self.add.push(id);
            }
        }
    }

    fn removing(&mut self, ids: Vec<Uuid>) {
        self.add.retain(|a| !ids.contains(a));
        if let Some(replaced) = &mut self.replace_members {
            replaced.retain(|r| !ids.contains(r));
        }
        for id in ids {
            if !self.remove.contains(&id) {
                self.remove.push(id);
            }
        }
    }
}

/// Reads the operations of a Group PATCH into one change. A `remove` of `members` carrying a
/// value list removes only those members, whatever the path's filter says, and never the rest.
pub fn plan_patch(group: GroupId, ops: &[PatchOp]) -> Result<GroupPatch, ScimError> {
    let mut plan = GroupPatch::default();
    for (i, op) in ops.iter().enumerate() {
        plan_one(group, op, &mut plan).map_err(|mut e| {
            e.detail = format!("Operation {}: {}", i + 1, e.detail);
            e
        })?;
    }
    Ok(plan)
}

fn plan_one(group: GroupId, op: &PatchOp, plan: &mut GroupPatch) -> Result<(), ScimError> {
    let Some(path) = &op.path else {
        // No path: the value's attributes, as Okta's replace of {id, displayName} and Entra's
        // add of {members: […]} send them.
        let value =
            op.value.as_ref().and_then(Value::as_object).ok_or_else(|| {
                ScimError::invalid_value("An operation without a path takes an object of attributes.")
            })?;
        for (key, v) in value {
            match key.to_ascii_lowercase().as_str() {
                "id" if v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&group.to_string())) => {}
                "id" => return Err(ScimError::mutability("id can't be changed.")),
                "schemas" | "meta" => {}
                "displayname" => set_text(plan, "displayName", Some(v))?,
                "externalid" => set_text(plan, "externalId", Some(v))?,
                "members" => match op.op {
                    OpKind::Add => plan.adding(member_ids(v)?),
                    OpKind::Replace => {
                        plan.replace_members = Some(member_ids(v)?);
                        plan.add.clear();
                        plan.remove.clear();
                    }
                    OpKind::Remove => unreachable!("a remove always has a path"),
                },
                _ => return Err(unkept(key)),
            }
        }
        return Ok(());
    };
    if path.attr.urn.as_deref().is_some_and(|u| !u.eq_ignore_ascii_case(CORE_GROUP)) {
        return Err(unkept(&path.to_string()));
    }
    let attr = path.attr.attr.to_ascii_lowercase();
    match (attr.as_str(), op.op) {
        ("displayname", OpKind::Remove) => Err(ScimError::mutability("displayName is required; it can't be removed.")),
        ("displayname", _) | ("externalid", _) if path.value_filter.is_none() && path.attr.sub_attr.is_none() => {
            let name = if attr == "displayname" { "displayName" } else { "externalId" };
            set_text(plan, name, if op.op == OpKind::Remove { None } else { op.value.as_ref() })
        }
        ("members", OpKind::Add) if path.value_filter.is_none() => {
            plan.adding(member_ids(op.value.as_ref().unwrap_or(&Value::Null))?);
            Ok(())
        }
        ("members", OpKind::Replace) if path.value_filter.is_none() => {
            plan.replace_members = Some(member_ids(op.value.as_ref().unwrap_or(&Value::Null))?);
            plan.add.clear();
            plan.remove.clear();
            Ok(())
        }
        ("members", OpKind::Remove) => {
            let listed = match &op.value {
                Some(value) => member_ids(value)?,
                None => Vec::new(),
            };
            let filtered = match &path.value_filter {
                Some(filter) => filtered_ids(filter)?,
                None => Vec::new(),
            };
            if listed.is_empty() && filtered.is_empty() {
                if path.value_filter.is_some() {
                    return Ok(());
                }
                // RFC 7644 §3.5.2.2: `remove` of `members` with neither value nor filter.
                plan.remove_all = true;
                plan.replace_members = None;
                plan.add.clear();
                plan.remove.clear();
                return Ok(());
            }
            plan.removing(listed.into_iter().chain(filtered).collect());
            Ok(())
        }
        ("members", _) => Err(ScimError::invalid_path(
            "Members are added with 'add' of 'members', replaced with 'replace' of 'members', and removed with \
             'remove' of 'members' and a value list or members[value eq \"…\"].",
        )),
        _ => Err(unkept(&path.to_string())),
    }
}

fn set_text(plan: &mut GroupPatch, name: &str, value: Option<&Value>) -> Result<(), ScimError> {
    let text = match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ScimError::invalid_value(format!("{name} must be a string."))),
    };
    if name == "displayName" {
        plan.display_name = Some(text.ok_or_else(|| ScimError::mutability("displayName is required."))?);
    } else {
        plan.external_id = Some(text);
    }
    Ok(())
}

/// The ids a value filter on `members` names: `value eq "…"`, joined by `or`.
fn filtered_ids(filter: &Filter) -> Result<Vec<Uuid>, ScimError> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::String(id) } if path.is("value", None) => {
            Ok(Uuid::parse_str(id.trim()).map(|u| vec![u]).unwrap_or_default())
        }
        Filter::Or(a, b) => Ok([filtered_ids(a)?, filtered_ids(b)?].concat()),
        _ => Err(ScimError::invalid_filter("Members are chosen with value eq \"…\", joined by or.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse;
    use crate::scim::patch::parse_patch_request;

    fn plan(body: Value) -> Result<GroupPatch, ScimError> {
        plan_patch(GroupId(Uuid::nil()), &parse_patch_request(&body)?)
    }

    fn ids(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn entras_remove_with_a_value_list_removes_only_those_members() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"value": ids(1).to_string()}]}]});
        let p = plan(body).unwrap();
        assert_eq!(p.remove, vec![ids(1)]);
        assert!(!p.remove_all, "never everyone");
    }

    #[test]
    fn entras_capitalised_add_and_replace_are_read() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": ids(1).to_string()}, {"value": ids(2).to_string()}]},
                {"op": "Replace", "path": "displayName", "value": "Renamed"}]});
        let p = plan(body).unwrap();
        assert_eq!(p.add, vec![ids(1), ids(2)]);
        assert_eq!(p.display_name.as_deref(), Some("Renamed"));
    }

    #[test]
    fn oktas_filtered_remove_and_replace_of_id_and_name_are_read() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{}\"]", ids(3))},
                {"op": "replace", "value": {"id": Uuid::nil().to_string(), "displayName": "Okta name"}}]});
        let p = plan(body).unwrap();
        assert_eq!(p.remove, vec![ids(3)]);
        assert_eq!(p.display_name.as_deref(), Some("Okta name"));
        let other_id = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": ids(9).to_string()}}]});
        assert_eq!(plan(other_id).unwrap_err().scim_type, Some("mutability"));
    }

    #[test]
    fn a_bare_remove_of_members_clears_them_and_unkept_attributes_are_refused() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "members"}]});
        assert!(plan(body).unwrap().remove_all);
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "description", "value": "x"}]});
        assert_eq!(plan(body).unwrap_err().scim_type, Some("invalidPath"));
        let body =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G", "owners": []});
        assert!(parse_resource(&body).is_err());
    }

    #[test]
    fn lookups_by_name_and_external_id_are_answered() {
        assert_eq!(
            group_filter(&parse("displayName eq \"Sales\"").unwrap()).unwrap(),
            GroupFilter::DisplayNameIs("Sales".into())
        );
        assert_eq!(
            group_filter(&parse("externalId eq \"abc\"").unwrap()).unwrap(),
            GroupFilter::ExternalIdIs("abc".into())
        );
        assert!(group_filter(&parse("members.value eq \"x\"").unwrap()).is_err());
    }
}
