//! The `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.4.2.5), applied to a
//! resource held as JSON.
//!
//! How [`apply`] reads them, where the RFC leaves room:
//! - With `attributes`, `id` and `schemas` are always returned, and so is `meta`, as most
//!   providers do; `excludedAttributes` never removes `id` or `schemas`.
//! - A path may name a sub-attribute (`name.givenName`, `emails.value`); for a multi-valued
//!   complex attribute it selects that sub-attribute of every value.
//! - A path may be qualified with its schema URN. An unqualified name matches an extension's
//!   attribute as well as a core one, since RFC 7644 §3.10 only asks clients to qualify
//!   extension attributes. A bare extension URN selects the whole extension.
//! - The two parameters exclude each other: giving both is refused, as which would win is unclear.
//! - Whatever ends up empty (a complex value, a list of values, an extension) is left out, and
//!   `schemas` lists an extension only while the resource still holds it.
//! - A sub-attribute the schema marks `returned: "request"` ([`ON_REQUEST`]) is left out unless
//!   `attributes` names it.

use serde_json::{Map, Value};

use super::filter::{lists_schema, AttrPath, Parser};
use super::ScimError;

/// Which attributes of a resource to return; the default returns them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    select: Select,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Select {
    #[default]
    All,
    Only(Vec<AttrPath>),
    Except(Vec<AttrPath>),
}

/// Parses the comma-separated `attributes` and `excludedAttributes` parameters; an empty one counts as absent.
pub fn parse_projection(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, ScimError> {
    let select = match (given(attributes), given(excluded)) {
        (None, None) => Select::All,
        (Some(list), None) => Select::Only(parse_list(list, "attributes")?),
        (None, Some(list)) => Select::Except(parse_list(list, "excludedAttributes")?),
        (Some(_), Some(_)) => {
            return Err(ScimError::invalid_value(
                "Give either 'attributes' or 'excludedAttributes', not both: one names what to return, the other \
                 what to leave out.",
            ))
        }
    };
    Ok(Projection { select })
}

fn given(param: Option<&str>) -> Option<&str> {
    param.filter(|p| !p.trim().is_empty())
}

fn parse_list(list: &str, param: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(|item| {
            let item = item.trim();
            if item.is_empty() {
                return Err(ScimError::invalid_value(format!("'{param}' has an empty attribute name between commas.")));
            }
            let mut parser = Parser::new(item, "attribute");
            parser
                .attr_path()
                .and_then(|path| parser.end("the end of the attribute").map(|()| path))
                .map_err(|m| ScimError::invalid_value(format!("'{item}' in '{param}' is not an attribute path: {m}")))
        })
        .collect()
}

/// Sub-attributes returned only when asked for (RFC 7643 §7 `returned: "request"`): a group
/// member's `display`. It is read-only, so a client that compares the members it sent with the
/// members it reads back would otherwise find them different.
pub const ON_REQUEST: [(&str, &str); 1] = [("members", "display")];

/// The resource with only the attributes the projection selects; see the module comment.
pub fn apply(projection: &Projection, resource: &Value) -> Value {
    let mut out = select(projection, resource);
    for (attr, sub) in ON_REQUEST {
        let asked = matches!(&projection.select, Select::Only(paths) if paths.iter().any(|p| p.is(attr, Some(sub))));
        let values = out.as_object_mut().and_then(|o| o.get_mut(attr)).and_then(Value::as_array_mut);
        if let (false, Some(values)) = (asked, values) {
            for value in values.iter_mut().filter_map(Value::as_object_mut) {
                value.remove(sub);
            }
        }
    }
    out
}

fn select(projection: &Projection, resource: &Value) -> Value {
    let (paths, keep) = match &projection.select {
        Select::All => return resource.clone(),
        Select::Only(paths) => (paths, true),
        Select::Except(paths) => (paths, false),
    };
    let Some(object) = resource.as_object() else {
        return resource.clone();
    };
    let is_extension = |key: &str, value: &Value| value.is_object() && lists_schema(resource, key);
    let mut out = Map::new();
    for (key, value) in object {
        let always = ["id", "schemas"].iter().any(|k| k.eq_ignore_ascii_case(key));
        let projected = if always || (keep && key.eq_ignore_ascii_case("meta")) {
            Some(value.clone())
        } else if is_extension(key, value) {
            extension(key, value, paths, keep)
        } else {
            let in_core = |p: &AttrPath| {
                p.urn.as_deref().is_none_or(|urn| {
                    lists_schema(resource, urn)
                        && !object.iter().any(|(k, v)| k.eq_ignore_ascii_case(urn) && is_extension(k, v))
                })
            };
            attribute(key, value, paths, keep, &in_core)
        };
        if let Some(projected) = projected {
            out.insert(key.clone(), projected);
        }
    }
    drop_removed_extensions(&mut out, object, &is_extension);
    Value::Object(out)
}

/// What is left of an extension's object (held under its URN `key`), or `None` when nothing is.
fn extension(key: &str, value: &Value, paths: &[AttrPath], keep: bool) -> Option<Value> {
    if paths.iter().any(|p| names_extension(p, key)) {
        return keep.then(|| value.clone());
    }
    let in_extension = |p: &AttrPath| p.urn.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(key));
    let members: Map<String, Value> = value
        .as_object()?
        .iter()
        .filter_map(|(k, v)| attribute(k, v, paths, keep, &in_extension).map(|v| (k.clone(), v)))
        .collect();
    (!members.is_empty()).then_some(Value::Object(members))
}

/// Whether a path is a bare extension URN, which the parser splits at its last colon.
fn names_extension(path: &AttrPath, key: &str) -> bool {
    path.sub_attr.is_none()
        && path.urn.as_ref().is_some_and(|urn| format!("{urn}:{}", path.attr).eq_ignore_ascii_case(key))
}

/// What is left of one attribute, or `None` when nothing is.
fn attribute(
    key: &str,
    value: &Value,
    paths: &[AttrPath],
    keep: bool,
    in_schema: &dyn Fn(&AttrPath) -> bool,
) -> Option<Value> {
    let mut subs = Vec::new();
    let mut whole = false;
    for path in paths.iter().filter(|p| p.attr.eq_ignore_ascii_case(key) && in_schema(p)) {
        match &path.sub_attr {
            None => whole = true,
            Some(sub) => subs.push(sub.as_str()),
        }
    }
    let projected = match (whole, subs.is_empty()) {
        (true, _) => keep.then(|| value.clone()),
        (false, true) => (!keep).then(|| value.clone()),
        (false, false) => Some(sub_attributes(value, &subs, keep)),
    };
    projected.filter(|v| !is_empty(v))
}

/// A complex value, or each of a multi-valued attribute's values, with only (or without) the
/// named sub-attributes. A simple value has no sub-attributes to keep.
fn sub_attributes(value: &Value, subs: &[&str], keep: bool) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == keep)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Array(values) => {
            Value::Array(values.iter().map(|v| sub_attributes(v, subs, keep)).filter(|v| !is_empty(v)).collect())
        }
        _ if keep => Value::Null,
        simple => simple.clone(),
    }
}

/// Unassigned, in RFC 7643 §2.5's sense: nothing worth sending.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(members) => members.is_empty(),
        Value::Array(values) => values.is_empty(),
        _ => false,
    }
}

/// Takes the extensions the projection removed out of `schemas`, which must list exactly the
/// extensions the resource holds.
fn drop_removed_extensions(
    out: &mut Map<String, Value>,
    original: &Map<String, Value>,
    is_extension: &dyn Fn(&str, &Value) -> bool,
) {
    let removed: Vec<&String> =
        original.iter().filter(|(k, v)| is_extension(k, v) && !out.contains_key(k.as_str())).map(|(k, _)| k).collect();
    let schemas = out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case("schemas")).and_then(|(_, v)| v.as_array_mut());
    if let Some(schemas) = schemas {
        schemas.retain(|urn| !removed.iter().any(|k| urn.as_str().is_some_and(|u| u.eq_ignore_ascii_case(k))));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::scim::user::{CORE_USER, ENTERPRISE_USER};

    fn sample() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "adele.vance@contoso.com",
            "name": {"formatted": "Adele Vance", "givenName": "Adele", "familyName": "Vance"},
            "displayName": "Adele Vance",
            "active": true,
            "emails": [
                {"value": "adele.vance@contoso.com", "type": "work", "primary": true},
                {"value": "adele@fabrikam.com", "type": "other"}
            ],
            "phoneNumbers": [{"value": "+14255550101", "type": "mobile"}],
            ENTERPRISE_USER: {"department": "Retail"},
            "meta": {"resourceType": "User", "version": "W/\"3\""}
        })
    }

    fn only(attributes: &str) -> Value {
        apply(&parse_projection(Some(attributes), None).unwrap(), &sample())
    }

    fn except(excluded: &str) -> Value {
        apply(&parse_projection(None, Some(excluded)).unwrap(), &sample())
    }

    #[test]
    fn a_members_display_comes_only_when_asked_for() {
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g",
            "members": [{"value": "u", "display": "Ada", "type": "User"}]
        });
        let shown = |attributes: Option<&str>, excluded: Option<&str>| {
            apply(&parse_projection(attributes, excluded).unwrap(), &group)["members"].clone()
        };
        assert_eq!(shown(None, None), json!([{"value": "u", "type": "User"}]));
        assert_eq!(shown(None, Some("displayName")), json!([{"value": "u", "type": "User"}]));
        assert_eq!(shown(Some("members"), None), json!([{"value": "u", "type": "User"}]));
        assert_eq!(shown(Some("members.display"), None), json!([{"display": "Ada"}]));
    }

    fn keys(resource: &Value) -> BTreeSet<&str> {
        resource.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn no_projection_returns_the_resource_unchanged() {
        for (attributes, excluded) in [(None, None), (Some(""), None), (None, Some(" ")), (Some(""), Some(""))] {
            let projection = parse_projection(attributes, excluded).unwrap();
            assert_eq!(projection, Projection::default());
            assert_eq!(apply(&projection, &sample()), sample());
        }
    }

    #[test]
    fn attributes_keep_the_named_ones_and_id_schemas_and_meta() {
        let r = only("userName, displayName");
        assert_eq!(keys(&r), BTreeSet::from(["displayName", "id", "meta", "schemas", "userName"]));
        assert_eq!(r["schemas"], json!([CORE_USER]), "the extension went, so schemas no longer lists it");
        assert_eq!(r["meta"], sample()["meta"]);
    }

    #[test]
    fn sub_attributes_of_complex_attributes() {
        let r = only("name.givenName");
        assert_eq!(r["name"], json!({"givenName": "Adele"}));
        let r = only("name.givenName,name.familyName");
        assert_eq!(r["name"], json!({"givenName": "Adele", "familyName": "Vance"}));
        assert_eq!(only("name.givenName,name")["name"], sample()["name"], "the whole attribute wins");
        assert_eq!(only("name.middleName").get("name"), None, "an empty complex value is left out");
        assert_eq!(only("displayName.x").get("displayName"), None, "a simple value has no sub-attributes");
        let r = except("name.formatted");
        assert_eq!(r["name"], json!({"givenName": "Adele", "familyName": "Vance"}));
    }

    #[test]
    fn sub_attributes_of_multi_valued_complex_attributes() {
        assert_eq!(
            only("emails.value")["emails"],
            json!([{"value": "adele.vance@contoso.com"}, {"value": "adele@fabrikam.com"}])
        );
        assert_eq!(only("emails.primary")["emails"], json!([{"primary": true}]), "values left empty go");
        assert_eq!(only("emails.display").get("emails"), None);
        assert_eq!(
            except("emails.type,emails.primary")["emails"],
            json!([{"value": "adele.vance@contoso.com"}, {"value": "adele@fabrikam.com"}])
        );
        assert_eq!(except("phoneNumbers.value,phoneNumbers.type").get("phoneNumbers"), None);
    }

    #[test]
    fn excluded_attributes_remove_the_named_ones_but_never_id_or_schemas() {
        let r = except("emails,phoneNumbers,id,schemas,meta");
        assert_eq!(
            keys(&r),
            BTreeSet::from(["active", "displayName", "id", "name", "schemas", "userName", ENTERPRISE_USER])
        );
        assert_eq!(r["schemas"], json!([CORE_USER, ENTERPRISE_USER]));
        let r = except("department");
        assert_eq!(r.get(ENTERPRISE_USER), None, "an extension left empty goes");
        assert_eq!(r["schemas"], json!([CORE_USER]));
    }

    #[test]
    fn urn_qualified_paths() {
        let department = format!("{ENTERPRISE_USER}:department");
        let r = only(&department);
        assert_eq!(r[ENTERPRISE_USER], json!({"department": "Retail"}));
        assert_eq!(r["schemas"], json!([CORE_USER, ENTERPRISE_USER]));
        assert_eq!(only("department")[ENTERPRISE_USER], json!({"department": "Retail"}), "unqualified works too");
        assert_eq!(only(ENTERPRISE_USER)[ENTERPRISE_USER], json!({"department": "Retail"}), "the whole extension");
        assert_eq!(except(ENTERPRISE_USER).get(ENTERPRISE_USER), None);

        let r = only(&format!("{CORE_USER}:name.givenName,{CORE_USER}:userName"));
        assert_eq!(r["name"], json!({"givenName": "Adele"}));
        assert_eq!(r["userName"], "adele.vance@contoso.com");
        assert_eq!(only(&format!("{CORE_USER}:department")).get(ENTERPRISE_USER), None, "wrong schema");
        assert_eq!(only(&format!("{ENTERPRISE_USER}:userName")).get("userName"), None, "wrong schema");
        assert_eq!(only("urn:example:other:userName").get("userName"), None, "a schema the resource lacks");
        assert_eq!(except(&format!("{CORE_USER}:displayName")).get("displayName"), None);
    }

    #[test]
    fn matching_ignores_case() {
        let r = only(&format!("USERNAME,Name.GIVENNAME,emails.VALUE,{}:DEPARTMENT", ENTERPRISE_USER.to_uppercase()));
        assert_eq!(r["userName"], "adele.vance@contoso.com");
        assert_eq!(r["name"], json!({"givenName": "Adele"}));
        assert_eq!(r["emails"][0], json!({"value": "adele.vance@contoso.com"}));
        assert_eq!(r[ENTERPRISE_USER], json!({"department": "Retail"}));
        assert_eq!(except("DisplayName,ID").get("displayName"), None);
        assert!(except("DisplayName,ID").get("id").is_some());
    }

    #[test]
    fn a_resource_without_sub_attributes_or_schemas_still_projects() {
        let bare = json!({"id": "1", "title": "x", "nickName": "y"});
        let projection = parse_projection(Some("title"), None).unwrap();
        assert_eq!(apply(&projection, &bare), json!({"id": "1", "title": "x"}));
        assert_eq!(apply(&projection, &json!("text")), json!("text"));
    }

    #[test]
    fn malformed_or_conflicting_parameters_are_invalid_values() {
        for (attributes, excluded, fragment) in [
            (Some("userName"), Some("title"), "either 'attributes' or 'excludedAttributes'"),
            (Some("userName,,title"), None, "'attributes' has an empty attribute name"),
            (None, Some("title,"), "'excludedAttributes' has an empty attribute name"),
            (Some("name.given.name"), None, "'name.given.name' in 'attributes' is not an attribute path"),
            (Some(r#"emails[type eq "work"]"#), None, "found '['"),
            (None, Some("1abc"), "'1abc' in 'excludedAttributes'"),
            (Some("user Name"), None, "found 'Name'"),
            (Some("\"title\""), None, "found a string"),
            (Some("urn::x:title"), None, "valid schema URN"),
        ] {
            let err = parse_projection(attributes, excluded).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidValue"), "{attributes:?} {excluded:?}");
            assert!(err.detail.contains(fragment), "{attributes:?} {excluded:?}: {}", err.detail);
        }
    }
}
