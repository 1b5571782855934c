//! Groups in Graph's JSON shape, their query options, and Graph's group and reference bodies
//! in Roster's terms.
//!
//! Roster keeps security groups: `securityEnabled` is always true, `mailEnabled` false and
//! `groupTypes` empty, as Graph shows a security group, and a body asking for anything else is
//! refused rather than half applied.

use roster_domain::group::{
    Group, GroupFilter, GroupId, GroupInput, GroupOrder, Member, MemberId, MAX_DESCRIPTION_CHARS,
    MAX_DISPLAY_NAME_CHARS,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::filter::{clause, tokenize, Tok};
use super::query::{Resource, Select};
use super::GraphError;

/// Every property [`group_json`] can write, in Graph's spelling.
pub const PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "description",
    "mailNickname",
    "mail",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "createdDateTime",
    "deletedDateTime",
];

/// The group resource.
pub const GROUP: Resource =
    Resource { properties: PROPERTIES, default: PROPERTIES, type_name: "microsoft.graph.group" };

/// The most `members@odata.bind` or `owners@odata.bind` references one request may carry, as in Graph.
pub const MAX_BINDS: usize = 20;

/// A group as Graph returns it: `id` and the selected properties.
pub fn group_json(group: &Group, select: &Select) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("@odata.type".into(), "#microsoft.graph.group".into());
    for &p in PROPERTIES.iter().filter(|p| select.includes(p)) {
        let value = match p {
            "id" => group.id.to_string().into(),
            "displayName" => group.display_name.clone().into(),
            "description" => group.description.clone().map_or(Value::Null, Value::String),
            "mailNickname" => group.mail_nickname.clone().into(),
            "mailEnabled" => false.into(),
            "securityEnabled" => true.into(),
            "groupTypes" => json!([]),
            "createdDateTime" => group.created_at.rfc3339().into(),
            "deletedDateTime" => group.deleted_at.map_or(Value::Null, |t| t.rfc3339().into()),
            // mail: a security group has no mailbox.
            _ => Value::Null,
        };
        out.insert(p.to_string(), value);
    }
    out
}

/// A member as Graph lists a `directoryObject`: its type, id and names.
pub fn member_json(member: &Member) -> Value {
    match member.id {
        MemberId::User(id) => json!({
            "@odata.type": "#microsoft.graph.user",
            "id": id.to_string(),
            "displayName": member.display_name,
            "userPrincipalName": member.username,
            "mail": member.username,
        }),
        MemberId::Group(id) => json!({
            "@odata.type": "#microsoft.graph.group",
            "id": id.to_string(),
            "displayName": member.display_name,
            "securityEnabled": true,
            "mailEnabled": false,
        }),
    }
}

/// Reads a group `$filter`: one clause, `eq` or `startswith` on `displayName` or
/// `mailNickname`, or `id eq`.
pub fn parse_filter(text: &str) -> Result<GroupFilter, GraphError> {
    if text.chars().count() > 1024 {
        return Err(clause("the filter is longer than 1024 characters".into()));
    }
    let tokens: Vec<Tok> = tokenize(text)?.into_iter().map(|(t, _)| t).collect();
    let word = |t: &Tok| if let Tok::Word(w) = t { Some(w.clone()) } else { None };
    let unsupported = || {
        GraphError::unsupported_query(
            "Groups are filtered by one clause: displayName, mailNickname or id with eq, or startswith(displayName, '…') \
             or startswith(mailNickname, '…').",
        )
    };
    match tokens.as_slice() {
        [Tok::Word(property), Tok::Word(op), Tok::Str(value), Tok::End] if op.eq_ignore_ascii_case("eq") => {
            match property.as_str() {
                p if p.eq_ignore_ascii_case("displayName") => Ok(GroupFilter::DisplayNameIs(value.clone())),
                p if p.eq_ignore_ascii_case("mailNickname") => Ok(GroupFilter::NicknameIs(value.clone())),
                p if p.eq_ignore_ascii_case("id") => value
                    .parse::<GroupId>()
                    .map(GroupFilter::IdIs)
                    .map_err(|_| GraphError::bad_request(format!("'{value}' is not a valid group id."))),
                _ => Err(unknown(property)),
            }
        }
        [Tok::Word(f), Tok::Open, Tok::Word(property), Tok::Comma, Tok::Str(value), Tok::Close, Tok::End]
            if f.eq_ignore_ascii_case("startswith") =>
        {
            match property.as_str() {
                p if p.eq_ignore_ascii_case("displayName") => Ok(GroupFilter::DisplayNameStarts(value.clone())),
                p if p.eq_ignore_ascii_case("mailNickname") => Ok(GroupFilter::NicknameStarts(value.clone())),
                _ => Err(unknown(property)),
            }
        }
        [first, ..]
            if word(first).is_some_and(|w| {
                !PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(&w)) && !w.eq_ignore_ascii_case("startswith")
            }) =>
        {
            Err(unknown(&word(first).unwrap_or_default()))
        }
        _ => Err(unsupported()),
    }
}

fn unknown(property: &str) -> GraphError {
    GraphError::unknown_property_of(property, GROUP.type_name)
}

/// Reads a group `$search`: `"displayName:text"` or `"mailNickname:text"`, matched at the start.
pub fn parse_search(raw: Option<&str>) -> Result<Option<GroupFilter>, GraphError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| GraphError::bad_request("Syntax error: a $search clause is quoted: \"displayName:text\"."))?;
    let (property, text) = inner.split_once(':').ok_or_else(|| {
        GraphError::bad_request("Syntax error: a $search clause names its property: \"displayName:text\".")
    })?;
    match property.trim() {
        p if p.eq_ignore_ascii_case("displayName") => Ok(Some(GroupFilter::DisplayNameStarts(text.to_string()))),
        p if p.eq_ignore_ascii_case("mailNickname") => Ok(Some(GroupFilter::NicknameStarts(text.to_string()))),
        p => Err(GraphError::unsupported_query(format!(
            "Groups are searched by displayName or mailNickname, not '{p}'."
        ))),
    }
}

/// Reads a group `$orderby`: `displayName`, ascending or descending.
pub fn parse_orderby(raw: Option<&str>) -> Result<Option<bool>, GraphError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
    let mut words = raw.split_whitespace();
    let property = words.next().unwrap_or_default();
    if !property.eq_ignore_ascii_case("displayName") {
        return Err(GraphError::unsupported_query(format!(
            "Groups are ordered by displayName only, not '{property}'."
        )));
    }
    let descending = match (words.next(), words.next()) {
        (None, _) => false,
        (Some(d), None) if d.eq_ignore_ascii_case("asc") => false,
        (Some(d), None) if d.eq_ignore_ascii_case("desc") => true,
        _ => return Err(GraphError::bad_request(format!("'{raw}' is not a valid $orderby: displayName [asc|desc]."))),
    };
    Ok(Some(descending))
}

/// The order of a group list: by name when `$orderby` asks, else by id (stable and cheapest).
pub fn order_of(descending: Option<bool>) -> (GroupOrder, bool) {
    match descending {
        Some(descending) => (GroupOrder::DisplayName, descending),
        None => (GroupOrder::Id, false),
    }
}

/// A reference to a directory object, as `@odata.id` and `@odata.bind` carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRef {
    /// `…/directoryObjects/{id}`: a user or a group, to be looked up.
    Any(Uuid),
    /// `…/users/{id}`.
    User(Uuid),
    /// `…/groups/{id}`.
    Group(Uuid),
}

impl ObjectRef {
    /// Reads a reference URL: any base, then `directoryObjects/{id}`, `users/{id}` or `groups/{id}`.
    pub fn parse(url: &str) -> Result<ObjectRef, GraphError> {
        let invalid = || {
            GraphError::bad_request(format!(
                "Invalid object identifier '{url}'. Use a URL ending in directoryObjects/{{id}}, users/{{id}} or groups/{{id}}."
            ))
        };
        let mut parts = url.trim().trim_end_matches('/').rsplit('/');
        let (Some(id), Some(kind)) = (parts.next(), parts.next()) else { return Err(invalid()) };
        let id = Uuid::parse_str(id).map_err(|_| invalid())?;
        match kind {
            k if k.eq_ignore_ascii_case("directoryObjects") => Ok(ObjectRef::Any(id)),
            k if k.eq_ignore_ascii_case("users") => Ok(ObjectRef::User(id)),
            k if k.eq_ignore_ascii_case("groups") => Ok(ObjectRef::Group(id)),
            _ => Err(invalid()),
        }
    }
}

/// Reads the body of `POST …/members/$ref`: `{"@odata.id": "…/directoryObjects/{id}"}`.
pub fn parse_ref(body: &Value) -> Result<ObjectRef, GraphError> {
    let object = body.as_object().ok_or_else(|| GraphError::bad_request("The body must be a JSON object."))?;
    if let Some(other) = object.keys().find(|k| k.as_str() != "@odata.id") {
        return Err(GraphError::bad_request(format!("A reference body holds only @odata.id, not '{other}'.")));
    }
    match object.get("@odata.id") {
        Some(Value::String(url)) => ObjectRef::parse(url),
        _ => Err(GraphError::bad_request("The body must name the object in @odata.id.")),
    }
}

/// What a group create or update body asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupBody {
    pub display_name: Option<String>,
    /// `Some("")` when sent as `null`: clear it.
    pub description: Option<String>,
    pub mail_nickname: Option<String>,
    pub members: Vec<ObjectRef>,
    pub owners: Vec<ObjectRef>,
}

impl GroupBody {
    /// The fields as a new group's input.
    pub fn input(&self) -> GroupInput {
        GroupInput {
            display_name: self.display_name.clone().unwrap_or_default(),
            description: self.description.clone().unwrap_or_default(),
            mail_nickname: self.mail_nickname.clone().unwrap_or_default(),
        }
    }
}

/// Reads a `POST /v1.0/groups` body; Graph requires `displayName`, `mailEnabled`,
/// `mailNickname` and `securityEnabled`.
pub fn parse_create(body: &Value) -> Result<GroupBody, GraphError> {
    let object = body.as_object().ok_or_else(|| GraphError::bad_request("The body must be a JSON object."))?;
    for required in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
        if !object.contains_key(required) {
            return Err(GraphError::bad_request(format!(
                "A value is required for property '{required}' of resource 'Group'."
            )));
        }
    }
    read_body(object, true)
}

/// Reads a `PATCH /v1.0/groups/{id}` body.
pub fn parse_patch(body: &Value) -> Result<GroupBody, GraphError> {
    let object = body.as_object().ok_or_else(|| GraphError::bad_request("The body must be a JSON object."))?;
    read_body(object, false)
}

fn read_body(object: &Map<String, Value>, creating: bool) -> Result<GroupBody, GraphError> {
    let mut out = GroupBody::default();
    let type_error = |p: &str, t: &str| {
        GraphError::bad_request(format!("Invalid value specified for property '{p}': expected {t}."))
    };
    for (key, value) in object {
        match key.as_str() {
            "displayName" => match value {
                // Measured as sent, spaces included, as the document describes it.
                Value::String(s) if s.chars().count() > MAX_DISPLAY_NAME_CHARS => {
                    return Err(GraphError::bad_request(format!(
                        "Invalid value specified for property 'displayName': at most {MAX_DISPLAY_NAME_CHARS} characters."
                    )))
                }
                Value::String(s) => out.display_name = Some(s.clone()),
                _ => return Err(type_error(key, "a string")),
            },
            "mailNickname" => match value {
                // Graph requires one; only the admin center derives it from the name.
                Value::String(s) if s.trim().is_empty() => {
                    return Err(GraphError::bad_request(
                        "Invalid value specified for property 'mailNickname': enter an email nickname.",
                    ))
                }
                Value::String(s) => out.mail_nickname = Some(s.clone()),
                _ => return Err(type_error(key, "a string")),
            },
            "description" => match value {
                Value::String(s) if s.chars().count() > MAX_DESCRIPTION_CHARS => {
                    return Err(GraphError::bad_request(format!(
                        "Invalid value specified for property 'description': at most {MAX_DESCRIPTION_CHARS} characters."
                    )))
                }
                Value::String(s) => out.description = Some(s.clone()),
                Value::Null => out.description = Some(String::new()),
                _ => return Err(type_error(key, "a string or null")),
            },
            "mailEnabled" => match value {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return Err(GraphError::bad_request(
                        "Roster keeps security groups only: mailEnabled must be false.",
                    ))
                }
                _ => return Err(type_error(key, "a boolean")),
            },
            "securityEnabled" => match value {
                Value::Bool(true) => {}
                Value::Bool(false) => {
                    return Err(GraphError::bad_request(
                        "Roster keeps security groups only: securityEnabled must be true.",
                    ))
                }
                _ => return Err(type_error(key, "a boolean")),
            },
            "groupTypes" => match value {
                Value::Array(types) if types.is_empty() => {}
                Value::Array(_) => return Err(GraphError::bad_request(
                    "Roster keeps security groups only: groupTypes must be empty (no Unified or DynamicMembership).",
                )),
                _ => return Err(type_error(key, "an array")),
            },
            "members@odata.bind" => out.members = read_binds(key, value)?,
            "owners@odata.bind" if creating => out.owners = read_binds(key, value)?,
            "@odata.type" => match value {
                Value::String(t) if t.trim_start_matches('#').eq_ignore_ascii_case("microsoft.graph.group") => {}
                _ => return Err(GraphError::bad_request("@odata.type must be #microsoft.graph.group.")),
            },
            other => return Err(unknown(other)),
        }
    }
    Ok(out)
}

fn read_binds(key: &str, value: &Value) -> Result<Vec<ObjectRef>, GraphError> {
    let Value::Array(urls) = value else {
        return Err(GraphError::bad_request(format!(
            "Invalid value specified for property '{key}': expected an array of URLs."
        )));
    };
    if urls.len() > MAX_BINDS {
        return Err(GraphError::bad_request(format!(
            "At most {MAX_BINDS} objects can be referenced in '{key}' in one request; this one has {}.",
            urls.len()
        )));
    }
    urls.iter()
        .map(|u| match u {
            Value::String(url) => ObjectRef::parse(url),
            _ => Err(GraphError::bad_request(format!("Invalid value specified for property '{key}': expected URLs."))),
        })
        .collect()
}

/// Graph's property name for a group field the domain names.
pub fn field_to_property(field: &str) -> &str {
    match field {
        "display_name" => "displayName",
        "mail_nickname" => "mailNickname",
        "description" => "description",
        "members" => "members",
        "owners" => "owners",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_the_clauses_graph_allows_on_groups() {
        assert_eq!(parse_filter("displayName eq 'Sales'").unwrap(), GroupFilter::DisplayNameIs("Sales".into()));
        assert_eq!(
            parse_filter("startswith(mailNickname,'it''s')").unwrap(),
            GroupFilter::NicknameStarts("it's".into())
        );
        let id = GroupId::random();
        assert_eq!(parse_filter(&format!("id eq '{id}'")).unwrap(), GroupFilter::IdIs(id));
        assert_eq!(
            parse_filter("colour eq 'x'").unwrap_err().message,
            "Property 'colour' does not exist on type 'microsoft.graph.group'."
        );
        assert_eq!(
            parse_filter("displayName eq 'a' or displayName eq 'b'").unwrap_err().code,
            "Request_UnsupportedQuery"
        );
        assert_eq!(parse_filter("id eq 'nope'").unwrap_err().status, 400);
    }

    #[test]
    fn creation_needs_graphs_four_properties_and_a_security_group() {
        let ok = json!({"displayName": "Sales", "mailEnabled": false, "mailNickname": "sales", "securityEnabled": true,
                        "groupTypes": [], "members@odata.bind": ["https://graph.microsoft.com/v1.0/directoryObjects/6e2a4f7b-2fd9-4bb4-8bdf-7a3b1d35b1a1"]});
        let body = parse_create(&ok).unwrap();
        assert_eq!(body.members, vec![ObjectRef::Any("6e2a4f7b-2fd9-4bb4-8bdf-7a3b1d35b1a1".parse().unwrap())]);
        let missing = json!({"displayName": "Sales", "mailNickname": "sales", "securityEnabled": true});
        assert!(parse_create(&missing).unwrap_err().message.contains("mailEnabled"));
        let unified = json!({"displayName": "S", "mailEnabled": false, "mailNickname": "s", "securityEnabled": true, "groupTypes": ["Unified"]});
        assert!(parse_create(&unified).unwrap_err().message.contains("security groups only"));
        let unknown = json!({"displayName": "S", "mailEnabled": false, "mailNickname": "s", "securityEnabled": true, "visibility": "Private"});
        assert!(parse_create(&unknown).unwrap_err().message.contains("'visibility'"));
        let many: Vec<String> = (0..21).map(|_| format!("https://x/v1.0/users/{}", Uuid::new_v4())).collect();
        assert!(parse_patch(&json!({"members@odata.bind": many})).unwrap_err().message.contains("At most 20"));
        assert!(parse_patch(&json!({"owners@odata.bind": []})).is_err(), "owners are bound on creation only");
    }

    #[test]
    fn references_name_users_groups_or_any_object() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse_ref(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")}))
                .unwrap(),
            ObjectRef::Any(id)
        );
        assert_eq!(ObjectRef::parse(&format!("http://localhost/v1.0/groups/{id}/")).unwrap(), ObjectRef::Group(id));
        assert!(parse_ref(&json!({"@odata.id": "https://x/v1.0/directoryObjects/nope"})).is_err());
        assert!(parse_ref(&json!({"@odata.id": format!("https://x/v1.0/devices/{id}")})).is_err());
        assert!(parse_ref(&json!({"id": id.to_string()})).is_err());
    }
}
