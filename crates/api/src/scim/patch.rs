//! PATCH requests (RFC 7644 §3.5.2) applied to a resource held as JSON.
//!
//! Choices where the RFC is silent or clients stray from it:
//! - `op` names are matched ignoring case: Entra ID sends `"Add"`, `"Replace"`, `"Remove"`.
//! - An `add` whose value filter matches nothing creates the value the filter describes when it
//!   is a conjunction of `eq` tests (Entra ID adds a first work phone as
//!   `phoneNumbers[type eq "work"].value`); any other unmatched filter is `noTarget`. An
//!   unmatched `replace` is `noTarget`, as §3.5.2.3 requires; an unmatched `remove` changes
//!   nothing, since what it asks for already holds.
//! - `replace` on a selected complex value merges the given sub-attributes into it instead of
//!   swapping the whole value, so its `type` (which decides what the value means) survives.
//! - Without a path, each member of the value is an attribute, a schema extension's URN with an
//!   object of its attributes, or a path such as `name.givenName` (some clients send those).
//! - `active` given as the string `"True"` or `"False"` becomes a boolean: Entra ID sends
//!   booleans as strings in PATCH requests unless the application opts into its fixed behaviour,
//!   which self-hosted directories can't count on.
//! - `id`, `meta` and `schemas` are read-only, and `userName` and `active` can't be removed
//!   (`mutability`): a user without `active` would read back as enabled.

use serde_json::{Map, Value};

use super::filter::{self, member, AttrPath, CompValue, CompareOp, Filter};
use super::path::{parse_path, Path};
use super::user::{case_exact, ENTERPRISE_USER};
use super::ScimError;

/// The most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 100;
/// The most values all of a PATCH request's operations may carry together: applying an added
/// value compares it with the attribute's values so far, so this bounds the work to its square.
pub const MAX_VALUES: usize = 1000;

/// The schema URN of PATCH requests.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Core schema URNs name attributes at the top of the resource; any other URN names an
/// extension, whose attributes sit in an object under that URN.
const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// The User schema's multi-valued attributes, which always hold arrays.
const MULTI_VALUED: [&str; 9] =
    ["emails", "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates"];

/// Attributes the server maintains.
const READ_ONLY: [&str; 3] = ["id", "meta", "schemas"];

/// Attributes a user can't be without.
const NOT_REMOVABLE: [&str; 2] = ["userName", "active"];

/// What a PATCH operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOp {
    /// What to do.
    pub op: OpKind,
    /// The target; absent means the resource itself (not allowed for `remove`).
    pub path: Option<Path>,
    /// The new value; required for `add` and `replace`.
    pub value: Option<Value>,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

fn in_operation(index: usize, mut error: ScimError) -> ScimError {
    error.detail = format!("Operation {}: {}", index + 1, error.detail);
    error
}

/// Reads a PATCH request body: its `schemas` and its `Operations`.
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax("The request body must be a JSON object."));
    }
    if !filter::lists_schema(body, PATCH_OP_SCHEMA) {
        return Err(ScimError::invalid_syntax(format!("The request's 'schemas' must list {PATCH_OP_SCHEMA}.")));
    }
    let operations = member(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("The request must have an 'Operations' array."))?;
    if operations.is_empty() {
        return Err(ScimError::invalid_syntax("'Operations' must hold at least one operation."));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "'Operations' holds {} operations; at most {MAX_OPERATIONS} are allowed in one request.",
            operations.len()
        )));
    }
    let values: usize = operations.iter().filter_map(|op| member(op, "value")).map(count_values).sum();
    if values > MAX_VALUES {
        return Err(ScimError::invalid_value(format!(
            "The operations carry {values} values; at most {MAX_VALUES} are allowed in one request."
        )));
    }
    operations.iter().enumerate().map(|(i, op)| parse_operation(op).map_err(|e| in_operation(i, e))).collect()
}

/// How many values `value` carries: an array's items, or those of each member of an object
/// (an operation without a path sets several attributes at once).
fn count_values(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::Object(members) => {
            members.values().map(|v| if let Value::Array(items) = v { items.len() } else { 1 }).sum()
        }
        _ => 1,
    }
}

fn parse_operation(operation: &Value) -> Result<PatchOp, ScimError> {
    if !operation.is_object() {
        return Err(ScimError::invalid_syntax("An operation must be a JSON object."));
    }
    let name = member(operation, "op").and_then(Value::as_str).unwrap_or_default();
    let op = [OpKind::Add, OpKind::Replace, OpKind::Remove]
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| ScimError::invalid_syntax(format!("'op' is '{name}'; expected add, replace or remove.")))?;
    let path = match member(operation, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(parse_path(text)?),
        Some(_) => return Err(ScimError::invalid_syntax("'path' must be a string.")),
    };
    let value = member(operation, "value").filter(|v| !v.is_null()).cloned();
    if op != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!("'{}' needs a 'value'.", op.name())));
    }
    if op == OpKind::Remove && path.is_none() {
        return Err(ScimError::no_target("'remove' needs a 'path'."));
    }
    Ok(PatchOp { op, path, value })
}

/// Applies the operations in order. Either all succeed or the resource is left as it was.
pub fn apply(resource: &mut Value, ops: &[PatchOp]) -> Result<(), ScimError> {
    let mut copy = resource.clone();
    if !copy.is_object() {
        return Err(ScimError::invalid_value("The resource is not a JSON object."));
    }
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut copy, op).map_err(|e| in_operation(i, e))?;
    }
    if let Some(active) = member_mut(&mut copy, "active") {
        if let Some(flag) = active.as_str().and_then(parse_bool) {
            *active = Value::Bool(flag);
        }
    }
    *resource = copy;
    Ok(())
}

/// `"True"`/`"False"` in any case, as Entra ID writes booleans in PATCH requests.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn apply_op(resource: &mut Value, op: &PatchOp) -> Result<(), ScimError> {
    match &op.path {
        Some(path) if extension_urn(resource, path).is_some() => {
            let urn = extension_urn(resource, path).unwrap_or_default();
            apply_extension(resource, op, &urn)
        }
        Some(path) => apply_path(resource, op.op, path, op.value.as_ref()),
        None => {
            let Some(Value::Object(attributes)) = &op.value else {
                return Err(ScimError::invalid_value(format!(
                    "Without a 'path', the value of '{}' must be an object of attributes.",
                    op.op.name()
                )));
            };
            for (name, value) in attributes {
                apply_member(resource, op.op, name, value)?;
            }
            Ok(())
        }
    }
}

/// The extension's URN when `path` names a whole extension (such as the enterprise User
/// extension's URN alone), which the path grammar reads as an attribute after a shorter URN.
fn extension_urn(resource: &Value, path: &Path) -> Option<String> {
    let urn = path.attr.urn.as_deref()?;
    if path.attr.sub_attr.is_some() || path.value_filter.is_some() || path.sub_attr.is_some() {
        return None;
    }
    let whole = format!("{urn}:{}", path.attr.attr);
    is_extension_key(resource, &whole).then_some(whole)
}

/// An operation on a whole extension: add sets each attribute of the value (an object),
/// replace makes the extension exactly the value, remove clears it.
fn apply_extension(resource: &mut Value, op: &PatchOp, urn: &str) -> Result<(), ScimError> {
    match (op.op, &op.value) {
        (OpKind::Replace, Some(value @ Value::Object(_))) => {
            apply_extension(resource, &PatchOp { op: OpKind::Remove, path: None, value: None }, urn)?;
            apply_member(resource, OpKind::Add, urn, value)
        }
        (OpKind::Remove, _) => {
            if let Some(root) = resource.as_object_mut() {
                root.retain(|k, _| !k.eq_ignore_ascii_case(urn));
                if let Some(schemas) = root.get_mut("schemas").and_then(Value::as_array_mut) {
                    schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
                }
            }
            Ok(())
        }
        (_, Some(value @ Value::Object(_))) => apply_member(resource, op.op, urn, value),
        _ => Err(ScimError::invalid_value(format!("The value of '{}' on '{urn}' must be an object.", op.op.name()))),
    }
}

/// Whether a member name of a path-less value is a schema URN holding an extension's attributes.
fn is_extension_key(resource: &Value, name: &str) -> bool {
    name.contains(':')
        && (name.eq_ignore_ascii_case(ENTERPRISE_USER)
            || member(resource, name).is_some_and(Value::is_object)
            || (filter::lists_schema(resource, name) && !starts_with_ignore_case(name, CORE_SCHEMA_PREFIX)))
}

fn apply_member(resource: &mut Value, op: OpKind, name: &str, value: &Value) -> Result<(), ScimError> {
    if name.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    if READ_ONLY.iter().any(|a| a.eq_ignore_ascii_case(name)) && member(resource, name) == Some(value) {
        // Clients that send back a whole resource echo the server's own values.
        return Ok(());
    }
    if let (true, Value::Object(attributes)) = (is_extension_key(resource, name), value) {
        // Some clients serialise an extension with its own `schemas`; it names no attribute.
        for (attr, value) in attributes.iter().filter(|(attr, _)| !attr.eq_ignore_ascii_case("schemas")) {
            let path = parse_path(&format!("{name}:{attr}"))?;
            apply_path(resource, op, &path, Some(value))?;
        }
        return Ok(());
    }
    let path = parse_path(name)?;
    apply_path(resource, op, &path, Some(value))
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn member_mut<'v>(value: &'v mut Value, name: &str) -> Option<&'v mut Value> {
    value.as_object_mut()?.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Sets a member, replacing one whose name differs only in case.
fn set_member(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_string());
    object.insert(key, value);
}

fn remove_member(object: &mut Map<String, Value>, name: &str) {
    if let Some(key) = object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned() {
        object.remove(&key);
    }
}

/// Sets each member of `from` in `into`: a complex value's sub-attributes merge.
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (name, value) in from {
        set_member(into, name, value.clone());
    }
}

fn apply_path(resource: &mut Value, op: OpKind, path: &Path, value: Option<&Value>) -> Result<(), ScimError> {
    let name = &path.attr.attr;
    let core = path.attr.urn.as_deref().is_none_or(|u| starts_with_ignore_case(u, CORE_SCHEMA_PREFIX));
    if core {
        if let Some(read_only) = READ_ONLY.iter().find(|a| a.eq_ignore_ascii_case(name)) {
            return Err(ScimError::mutability(format!("'{read_only}' is read-only.")));
        }
        if let (OpKind::Remove, Some(required)) = (op, NOT_REMOVABLE.iter().find(|a| a.eq_ignore_ascii_case(name))) {
            return Err(ScimError::mutability(format!("'{required}' can't be removed; replace it instead.")));
        }
    }
    let value = match (op, value) {
        (OpKind::Remove, _) => None,
        (_, Some(value)) => Some(value),
        (_, None) => return Err(ScimError::invalid_value(format!("'{}' needs a 'value'.", op.name()))),
    };
    let root =
        resource.as_object_mut().ok_or_else(|| ScimError::invalid_value("The resource is not a JSON object."))?;
    if core {
        let multi_valued = MULTI_VALUED.iter().any(|a| a.eq_ignore_ascii_case(name));
        return apply_in(root, op, path, value, multi_valued);
    }
    let urn = path.attr.urn.as_deref().unwrap_or_default();
    let key = root.keys().find(|k| k.eq_ignore_ascii_case(urn)).cloned();
    let key = match (key, op) {
        (Some(key), _) => key,
        (None, OpKind::Remove) => return Ok(()),
        (None, _) => {
            root.insert(urn.to_string(), Value::Object(Map::new()));
            urn.to_string()
        }
    };
    let extension = root
        .get_mut(&key)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ScimError::invalid_value(format!("The extension '{key}' is not an object.")))?;
    apply_in(extension, op, path, value, false)?;
    // `schemas` lists exactly the extensions the resource holds attributes of.
    let listed = |s: &Value| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&key));
    if root.get(&key).is_some_and(|e| e.as_object().is_some_and(Map::is_empty)) {
        root.remove(&key);
        if let Some(schemas) = root.get_mut("schemas").and_then(Value::as_array_mut) {
            schemas.retain(|s| !listed(s));
        }
    } else if let Some(schemas) = root.entry("schemas").or_insert_with(|| Value::Array(Vec::new())).as_array_mut() {
        if !schemas.iter().any(listed) {
            schemas.push(Value::String(key.clone()));
        }
    }
    Ok(())
}

/// Applies an operation to the attribute `path` names in `container` (the resource or one of
/// its extensions). `value` is `None` exactly for `remove`.
fn apply_in(
    container: &mut Map<String, Value>,
    op: OpKind,
    path: &Path,
    value: Option<&Value>,
    multi_valued: bool,
) -> Result<(), ScimError> {
    let name = &path.attr.attr;
    let key = container.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
    let multi_valued = multi_valued || key.as_ref().is_some_and(|k| container[k].is_array());
    if let Some(filter) = &path.value_filter {
        if key.as_ref().is_some_and(|k| !container[k].is_array()) || !multi_valued {
            return Err(ScimError::invalid_path(format!("'{name}' is not multi-valued, so it takes no filter.")));
        }
        let key = key.unwrap_or_else(|| name.clone());
        return apply_filtered(container, &key, op, path, filter, value);
    }
    if let Some(sub) = &path.attr.sub_attr {
        if multi_valued {
            return Err(ScimError::invalid_path(format!(
                "'{name}' is multi-valued: select its values with a filter, as in {name}[type eq \"work\"].{sub}."
            )));
        }
        let current = key.as_ref().map(|k| &container[k]);
        if current.is_some_and(|c| !c.is_object()) {
            return Err(ScimError::invalid_path(format!("'{name}' is not a complex attribute.")));
        }
        match (value, key) {
            (None, None) => {}
            (None, Some(key)) => {
                let emptied = container.get_mut(&key).and_then(Value::as_object_mut).is_some_and(|object| {
                    remove_member(object, sub);
                    object.is_empty()
                });
                if emptied {
                    container.remove(&key);
                }
            }
            (Some(value), key) => {
                let key = key.unwrap_or_else(|| name.clone());
                let object = container.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if let Some(object) = object.as_object_mut() {
                    set_member(object, sub, value.clone());
                }
            }
        }
        return Ok(());
    }
    let Some(value) = value else {
        if let Some(key) = key {
            container.remove(&key);
        }
        return Ok(());
    };
    let key = key.unwrap_or_else(|| name.clone());
    match (container.get_mut(&key), value) {
        (Some(Value::Array(items)), _) if op == OpKind::Add => {
            for new in as_values(value) {
                let touched = match items.iter().position(|old| same_value(old, &new)) {
                    Some(i) => {
                        // The same value again: keep how it is written, take any other members.
                        if let (Some(old), Some(new)) = (items[i].as_object_mut(), new.as_object()) {
                            for (name, value) in new {
                                if !name.eq_ignore_ascii_case("value") && !name.eq_ignore_ascii_case("type") {
                                    set_member(old, name, value.clone());
                                }
                            }
                        }
                        i
                    }
                    None => {
                        items.push(new);
                        items.len() - 1
                    }
                };
                settle_primary(items, touched);
            }
        }
        (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
        _ if multi_valued => {
            let mut items: Vec<Value> = Vec::new();
            for new in as_values(value) {
                if !items.iter().any(|old| same_value(old, &new)) {
                    items.push(new);
                    let last = items.len() - 1;
                    settle_primary(&mut items, last);
                }
            }
            container.insert(key, Value::Array(items));
        }
        _ => {
            container.insert(key, value.clone());
        }
    }
    Ok(())
}

/// The values a multi-valued attribute receives: an array's elements, or one value.
fn as_values(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Whether two values of a multi-valued attribute are the same one: equal, or complex values
/// with the same `value` and `type` (ignoring case).
fn same_value(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    if !(a.is_object() && b.is_object()) {
        return false;
    }
    let same = |name: &str| match (member(a, name), member(b, name)) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
        (x, y) => x == y,
    };
    member(a, "value").is_some() && same("value") && same("type")
}

/// Keeps `primary: true` on at most one value (RFC 7643 §2.4): the one just written wins.
fn settle_primary(items: &mut [Value], written: usize) {
    let is_primary = |v: &Value| member(v, "primary") == Some(&Value::Bool(true));
    if !items.get(written).is_some_and(is_primary) {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if i != written && is_primary(item) {
            if let Some(object) = item.as_object_mut() {
                remove_member(object, "primary");
            }
        }
    }
}

fn apply_filtered(
    container: &mut Map<String, Value>,
    key: &str,
    op: OpKind,
    path: &Path,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let parent = AttrPath { urn: path.attr.urn.clone(), attr: path.attr.attr.clone(), sub_attr: None };
    let selects = |v: &Value| filter::matches_value(filter, v, &parent, &case_exact);
    let matched: Vec<usize> = match container.get(key) {
        Some(Value::Array(items)) => items.iter().enumerate().filter(|(_, v)| selects(v)).map(|(i, _)| i).collect(),
        _ => Vec::new(),
    };
    let Some(value) = value else {
        if let Some(Value::Array(items)) = container.get_mut(key) {
            match &path.sub_attr {
                Some(sub) => {
                    for &i in &matched {
                        if let Some(object) = items[i].as_object_mut() {
                            remove_member(object, sub);
                        }
                    }
                }
                None => {
                    for &i in matched.iter().rev() {
                        items.remove(i);
                    }
                    if items.is_empty() {
                        container.remove(key);
                    }
                }
            }
        }
        return Ok(());
    };
    let write = |item: &mut Value| -> Result<(), ScimError> {
        let Some(object) = item.as_object_mut() else {
            return Err(ScimError::invalid_path(format!("The values of '{}' are not complex.", path.attr.attr)));
        };
        match (&path.sub_attr, value) {
            (Some(sub), value) => set_member(object, sub, value.clone()),
            (None, Value::Object(members)) => merge(object, members),
            (None, _) => {
                return Err(ScimError::invalid_value(format!(
                    "The value for {path} must be an object of sub-attributes."
                )))
            }
        }
        Ok(())
    };
    let Some(items) = container.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new())).as_array_mut()
    else {
        return Err(ScimError::invalid_path(format!("'{key}' is not multi-valued, so it takes no filter.")));
    };
    if matched.is_empty() {
        let mut template = Map::new();
        let describes = op == OpKind::Add && template_of(filter, &mut template);
        let mut created = Value::Object(template);
        if !describes || !selects(&created) {
            return Err(ScimError::no_target(format!("No value of '{}' matches [{filter}].", path.attr.attr)));
        }
        write(&mut created)?;
        items.push(created);
        let last = items.len() - 1;
        settle_primary(items, last);
        return Ok(());
    }
    for &i in &matched {
        write(&mut items[i])?;
        settle_primary(items, i);
    }
    Ok(())
}

/// Collects the members a value must have to satisfy a conjunction of `eq` tests.
fn template_of(filter: &Filter, template: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::And(a, b) => template_of(a, template) && template_of(b, template),
        Filter::Compare { path, op: CompareOp::Eq, value } if path.urn.is_none() && path.sub_attr.is_none() => {
            let value = match value {
                CompValue::Null => return false,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::String(s) => Value::String(s.clone()),
            };
            set_member(template, &path.attr, value);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn requests_are_bounded_before_any_operation_is_read() {
        let op = json!({"op": "add", "path": "title", "value": "x"});
        let ops = |n: usize| json!({"schemas": [PATCH_OP_SCHEMA], "Operations": vec![op.clone(); n]});
        assert!(parse_patch_request(&ops(MAX_OPERATIONS)).is_ok());
        let err = parse_patch_request(&ops(MAX_OPERATIONS + 1)).unwrap_err();
        assert!(err.detail.contains("at most 100 are allowed"), "{}", err.detail);

        let many: Vec<_> = (0..50_000).map(|i| json!({"value": format!("a{i}@example.com")})).collect();
        for value in [json!(many.clone()), json!({"emails": many})] {
            let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "value": value}]});
            let err = parse_patch_request(&body).unwrap_err();
            assert!(err.detail.contains("50000 values"), "{}", err.detail);
        }
    }

    use super::*;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "adele.vance@contoso.com",
            "name": {"formatted": "Adele Vance", "givenName": "Adele"},
            "displayName": "Adele Vance",
            "title": "Retail Manager",
            "active": true,
            "emails": [
                {"value": "adele.vance@contoso.com", "type": "work", "primary": true},
                {"value": "a@b.com", "type": "other"}
            ],
            "phoneNumbers": [{"value": "+14255550101", "type": "mobile"}],
            "meta": {"resourceType": "User", "version": "W/\"3\""}
        })
    }

    fn request(operations: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
    }

    /// The user after the operations, or the error.
    fn patched(operations: Value) -> Result<Value, ScimError> {
        let ops = parse_patch_request(&request(operations))?;
        let mut resource = user();
        let before = resource.clone();
        let result = apply(&mut resource, &ops);
        if result.is_err() {
            assert_eq!(resource, before, "a failed request changed the resource");
        }
        result.map(|()| resource)
    }

    fn error(operations: Value) -> ScimError {
        patched(operations).unwrap_err()
    }

    #[test]
    fn reads_requests_with_any_case_of_op_names() {
        let ops = parse_patch_request(&request(json!([
            {"op": "Replace", "path": "displayName", "value": "New"},
            {"op": "add", "value": {"title": "x"}},
            {"op": "REMOVE", "path": "emails[type eq \"other\"]"}
        ])))
        .unwrap();
        assert_eq!(ops.iter().map(|o| o.op).collect::<Vec<_>>(), [OpKind::Replace, OpKind::Add, OpKind::Remove]);
        assert_eq!(ops[0].path.as_ref().map(ToString::to_string).as_deref(), Some("displayName"));
        assert_eq!(ops[1].path, None);
        assert_eq!(ops[2].value, None);
    }

    #[test]
    fn refuses_malformed_requests() {
        let refused = |body: Value| parse_patch_request(&body).unwrap_err();
        let e = refused(json!({"Operations": [{"op": "add", "value": {}}]}));
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        assert!(e.detail.contains(PATCH_OP_SCHEMA));
        assert_eq!(refused(json!({"schemas": [PATCH_OP_SCHEMA]})).scim_type, Some("invalidSyntax"));
        assert_eq!(refused(request(json!([]))).scim_type, Some("invalidSyntax"));
        assert_eq!(refused(json!("x")).scim_type, Some("invalidSyntax"));
        let e = refused(request(json!([{"op": "add", "path": "title", "value": "x"}, {"op": "move", "path": "x"}])));
        assert_eq!(
            (e.scim_type, e.detail.as_str()),
            (Some("invalidSyntax"), "Operation 2: 'op' is 'move'; expected add, replace or remove.")
        );
        let e = refused(request(json!([{"op": "replace", "path": "title"}])));
        assert_eq!((e.scim_type, e.detail.as_str()), (Some("invalidValue"), "Operation 1: 'replace' needs a 'value'."));
        let e = refused(request(json!([{"op": "add", "path": "title", "value": null}])));
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e = refused(request(json!([{"op": "remove"}])));
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = refused(request(json!([{"op": "remove", "path": "emails[type eq]"}])));
        assert_eq!(e.scim_type, Some("invalidPath"));
        assert!(e.detail.starts_with("Operation 1: Expected a value"), "{}", e.detail);
        assert_eq!(refused(request(json!([{"op": "remove", "path": 3}]))).scim_type, Some("invalidSyntax"));
        assert_eq!(refused(request(json!(["add"]))).scim_type, Some("invalidSyntax"));
    }

    #[test]
    fn okta_deactivates_with_a_pathless_replace() {
        let r = patched(
            json!([{"op": "replace", "value": {"id": "2819c223-7f76-453a-919d-413861904646", "active": false}}]),
        )
        .unwrap();
        assert_eq!(r["active"], json!(false));
    }

    #[test]
    fn entra_id_booleans_sent_as_strings_become_booleans() {
        assert_eq!(
            patched(json!([{"op": "Replace", "path": "active", "value": "False"}])).unwrap()["active"],
            json!(false)
        );
        assert_eq!(patched(json!([{"op": "Replace", "value": {"active": "True"}}])).unwrap()["active"], json!(true));
        assert_eq!(
            patched(json!([{"op": "Replace", "path": "active", "value": "maybe"}])).unwrap()["active"],
            json!("maybe")
        );
    }

    #[test]
    fn entra_id_sets_the_work_email_through_a_filtered_path() {
        let r = patched(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@y.com"}])).unwrap();
        assert_eq!(r["emails"][0], json!({"value": "x@y.com", "type": "work", "primary": true}));
        assert_eq!(r["emails"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_add_through_an_unmatched_filter_creates_the_value_it_describes() {
        let r =
            patched(json!([{"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+14255550100"}]))
                .unwrap();
        assert_eq!(r["phoneNumbers"][1], json!({"type": "work", "value": "+14255550100"}));
        let r = patched(json!([{"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"}]))
            .unwrap();
        assert_eq!(r["addresses"], json!([{"type": "work", "locality": "Redmond"}]));
        let r = patched(json!([{"op": "add", "path": "ims[type eq \"xmpp\"]", "value": {"value": "a@jabber.org"}}]))
            .unwrap();
        assert_eq!(r["ims"], json!([{"type": "xmpp", "value": "a@jabber.org"}]));
        let e = error(json!([{"op": "add", "path": "phoneNumbers[type sw \"w\"].value", "value": "+1"}]));
        assert_eq!(e.scim_type, Some("noTarget"));
        let e =
            error(json!([{"op": "add", "path": "phoneNumbers[type eq \"a\" and type eq \"b\"].value", "value": "+1"}]));
        assert_eq!(e.scim_type, Some("noTarget"));
    }

    #[test]
    fn entra_id_replaces_a_phone_through_a_filtered_path() {
        let op = |kind: &str| json!([{"op": "Replace", "path": format!("phoneNumbers[type eq \"{kind}\"].value"), "value": "+14255550199"}]);
        let r = patched(op("mobile")).unwrap();
        assert_eq!(r["phoneNumbers"], json!([{"value": "+14255550199", "type": "mobile"}]));
        let e = error(op("fax"));
        assert_eq!(e.scim_type, Some("noTarget"));
        assert_eq!(e.detail, "Operation 1: No value of 'phoneNumbers' matches [type eq \"fax\"].");
    }

    #[test]
    fn replace_through_a_filter_merges_into_the_selected_values() {
        let r = patched(json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "c@d.com"}}]))
            .unwrap();
        assert_eq!(r["emails"][1], json!({"value": "c@d.com", "type": "other"}));
    }

    #[test]
    fn entra_id_removes_an_alternate_email() {
        let op = json!([{"op": "Remove", "path": "emails[type eq \"other\" and value eq \"A@B.com\"]"}]);
        let r = patched(op.clone()).unwrap();
        assert_eq!(r["emails"], json!([{"value": "adele.vance@contoso.com", "type": "work", "primary": true}]));
        let r = patched(json!([op[0], op[0]])).unwrap();
        assert_eq!(r["emails"].as_array().unwrap().len(), 1, "removing what is gone changes nothing");
        let r = patched(json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"}])).unwrap();
        assert_eq!(r.get("phoneNumbers"), None, "an emptied multi-valued attribute is unassigned");
        let r = patched(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}])).unwrap();
        assert_eq!(r["emails"][0], json!({"value": "adele.vance@contoso.com", "type": "work"}));
    }

    #[test]
    fn add_appends_to_multi_valued_attributes_without_duplicates() {
        let r = patched(json!([{"op": "add", "path": "emails", "value": [
            {"value": "A@B.COM", "type": "Other"},
            {"value": "e@f.com", "type": "other"}
        ]}]))
        .unwrap();
        let values: Vec<&str> = r["emails"].as_array().unwrap().iter().map(|e| e["value"].as_str().unwrap()).collect();
        assert_eq!(values, ["adele.vance@contoso.com", "a@b.com", "e@f.com"]);
        let r =
            patched(json!([{"op": "add", "path": "phoneNumbers", "value": {"value": "+1", "type": "fax"}}])).unwrap();
        assert_eq!(r["phoneNumbers"].as_array().unwrap().len(), 2, "a single value is added as one");
        let r = patched(json!([{"op": "add", "path": "ims", "value": {"value": "x", "type": "aim"}}])).unwrap();
        assert_eq!(r["ims"], json!([{"value": "x", "type": "aim"}]));
    }

    #[test]
    fn one_value_stays_primary() {
        let r = patched(
            json!([{"op": "add", "path": "emails", "value": [{"value": "n@c.com", "type": "work", "primary": true}]}]),
        )
        .unwrap();
        assert_eq!(r["emails"][0], json!({"value": "adele.vance@contoso.com", "type": "work"}));
        assert_eq!(r["emails"][2]["primary"], json!(true));
    }

    #[test]
    fn pathless_add_and_replace_take_attributes_extensions_and_paths() {
        let r = patched(json!([{"op": "add", "value": {
            "name": {"familyName": "Vance"},
            "nickName": "Ad",
            "name.honorificPrefix": "Ms",
            ENTERPRISE_USER: {"department": "Retail"},
            "schemas": ["ignored"]
        }}]))
        .unwrap();
        assert_eq!(
            r["name"],
            json!({"formatted": "Adele Vance", "givenName": "Adele", "familyName": "Vance", "honorificPrefix": "Ms"})
        );
        assert_eq!(r["nickName"], json!("Ad"));
        assert_eq!(r[ENTERPRISE_USER], json!({"department": "Retail"}));
        assert_eq!(r["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER]));

        let r = patched(json!([{"op": "Replace", "value": {
            "emails[type eq \"work\"].value": "adele@contoso.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"
        }}]))
        .unwrap();
        assert_eq!(r["emails"][0]["value"], json!("adele@contoso.com"));
        assert_eq!(r[ENTERPRISE_USER], json!({"department": "Sales"}));
        assert_eq!(error(json!([{"op": "add", "value": "x"}])).scim_type, Some("invalidValue"));
    }

    #[test]
    fn replace_sets_single_values_merges_complex_ones_and_swaps_multi_valued_ones() {
        let r = patched(json!([
            {"op": "replace", "path": "TITLE", "value": "Director"},
            {"op": "replace", "path": "name", "value": {"givenName": "Ada"}},
            {"op": "replace", "path": "name.familyName", "value": "V"},
            {"op": "replace", "path": "phoneNumbers", "value": [{"value": "+1", "type": "work"}]},
            {"op": "replace", "path": "locale", "value": "en-GB"}
        ]))
        .unwrap();
        assert_eq!(r["title"], json!("Director"));
        assert_eq!(r.get("TITLE"), None, "names match existing attributes ignoring case");
        assert_eq!(r["name"], json!({"formatted": "Adele Vance", "givenName": "Ada", "familyName": "V"}));
        assert_eq!(r["phoneNumbers"], json!([{"value": "+1", "type": "work"}]));
        assert_eq!(r["locale"], json!("en-GB"), "replacing an unassigned attribute adds it");
    }

    #[test]
    fn remove_unassigns() {
        let r = patched(json!([
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "phoneNumbers"},
            {"op": "remove", "path": "nickName"}
        ]))
        .unwrap();
        assert_eq!(r.get("title"), None);
        assert_eq!(r["name"], json!({"formatted": "Adele Vance"}));
        assert_eq!(r.get("phoneNumbers"), None);
        let r =
            patched(json!([{"op": "remove", "path": "name.formatted"}, {"op": "remove", "path": "name.givenName"}]))
                .unwrap();
        assert_eq!(r.get("name"), None, "an emptied complex attribute is unassigned");
    }

    #[test]
    fn the_enterprise_extension_comes_and_goes_with_its_attributes() {
        let department = format!("{ENTERPRISE_USER}:department");
        let r = patched(json!([{"op": "Add", "path": department, "value": "Retail"}])).unwrap();
        assert_eq!(r[ENTERPRISE_USER], json!({"department": "Retail"}));
        assert_eq!(r["schemas"][1], json!(ENTERPRISE_USER));
        let r = patched(json!([
            {"op": "Add", "path": department, "value": "Retail"},
            {"op": "Remove", "path": department.to_uppercase()}
        ]))
        .unwrap();
        assert_eq!(r.get(ENTERPRISE_USER), None);
        assert_eq!(r["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:User"]));
        let r = patched(json!([{"op": "remove", "path": department}])).unwrap();
        assert_eq!(r, user());
        let r = patched(
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:title", "value": "X"}]),
        )
        .unwrap();
        assert_eq!(r["title"], json!("X"));
    }

    #[test]
    fn read_only_and_required_attributes_are_guarded() {
        for (op, name) in [
            (json!({"op": "remove", "path": "userName"}), "userName"),
            (json!({"op": "remove", "path": "active"}), "active"),
            (json!({"op": "replace", "path": "id", "value": "x"}), "id"),
            (json!({"op": "remove", "path": "schemas"}), "schemas"),
            (json!({"op": "add", "path": "meta.version", "value": "x"}), "meta"),
            (json!({"op": "replace", "value": {"id": "other"}}), "id"),
        ] {
            let e = error(json!([op]));
            assert_eq!(e.scim_type, Some("mutability"), "{op}");
            assert!(e.detail.contains(&format!("'{name}'")), "{op}: {}", e.detail);
        }
    }

    #[test]
    fn paths_must_fit_the_attribute() {
        let e = error(json!([{"op": "replace", "path": "emails.value", "value": "x"}]));
        assert_eq!(e.scim_type, Some("invalidPath"));
        assert!(e.detail.contains("emails[type eq \"work\"].value"), "{}", e.detail);
        assert_eq!(
            error(json!([{"op": "replace", "path": "title[value eq \"x\"]", "value": "y"}])).scim_type,
            Some("invalidPath")
        );
        assert_eq!(error(json!([{"op": "replace", "path": "title.x", "value": "y"}])).scim_type, Some("invalidPath"));
        let e = error(json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": "y"}]));
        assert_eq!(e.scim_type, Some("invalidValue"));
    }

    #[test]
    fn a_failing_operation_leaves_the_resource_as_it_was() {
        let ops = parse_patch_request(&request(json!([
            {"op": "replace", "path": "title", "value": "Changed"},
            {"op": "remove", "path": "emails"},
            {"op": "replace", "path": "phoneNumbers[type eq \"pager\"].value", "value": "+1"}
        ])))
        .unwrap();
        let mut resource = user();
        let e = apply(&mut resource, &ops).unwrap_err();
        assert!(e.detail.starts_with("Operation 3: "), "{}", e.detail);
        assert_eq!(resource, user());
    }

    fn op_strategy() -> impl Strategy<Value = Value> {
        let paths = prop::sample::select(vec![
            "title",
            "name.givenName",
            "name",
            "emails",
            "emails[type eq \"other\"]",
            "emails[type eq \"work\"].value",
            "phoneNumbers[type eq \"mobile\"].value",
            "phoneNumbers[type eq \"fax\"].value",
            "phoneNumbers[type sw \"f\"].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "userName",
            "id",
            "active",
            "emails.value",
        ]);
        let values = prop::sample::select(vec![
            json!("x"),
            json!("False"),
            json!({"givenName": "G"}),
            json!([{"value": "n@c.com", "type": "other"}]),
            json!(3),
        ]);
        (prop::sample::select(vec!["add", "Replace", "remove"]), paths, values)
            .prop_map(|(op, path, value)| json!({"op": op, "path": path, "value": value}))
    }

    proptest! {
        #[test]
        fn failed_requests_change_nothing(ops in prop::collection::vec(op_strategy(), 1..5)) {
            if let Ok(ops) = parse_patch_request(&request(Value::Array(ops))) {
                let mut resource = user();
                if apply(&mut resource, &ops).is_err() {
                    prop_assert_eq!(resource, user());
                }
            }
        }

        #[test]
        fn a_request_ending_in_a_failure_fails_whole(ops in prop::collection::vec(op_strategy(), 0..5)) {
            let mut ops = ops;
            ops.push(json!({"op": "remove", "path": "userName"}));
            let ops = parse_patch_request(&request(Value::Array(ops))).unwrap();
            let mut resource = user();
            prop_assert!(apply(&mut resource, &ops).is_err());
            prop_assert_eq!(resource, user());
        }
    }
}
