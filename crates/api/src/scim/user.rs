//! Roster users as SCIM User resources (RFC 7643 §4.1 with the enterprise extension, §4.3):
//! rendering, reading POST/PUT bodies, and compiling filters to the store's [`UserFilter`].
//!
//! | SCIM attribute                          | Roster                                   |
//! |-----------------------------------------|------------------------------------------|
//! | `id`                                    | user id                                  |
//! | `userName`                              | username (UPN form)                      |
//! | `displayName`                           | display name                             |
//! | `name.formatted`                        | full name as the client formats it       |
//! | `name.givenName`, `name.familyName`     | first and last name                      |
//! | `title`                                 | job title                                |
//! | `active`                                | sign-in allowed                          |
//! | `externalId`                            | the provisioning client's id (case-exact) |
//! | `preferredLanguage`, `locale`           | preferred language, locale               |
//! | `emails[type eq "work"]` (primary)      | primary email (`mail`), where one is set  |
//! | `emails[type eq "other"]`               | alternate email addresses                |
//! | `phoneNumbers` of type `mobile`, `work`, `fax`, `other` | mobile, office, fax, alternate mobile phone |
//! | `addresses[type eq "work"]`             | street address, city (`locality`), state (`region`), postal code, country |
//! | `addresses[type eq "other"].formatted`  | office location (Entra ID's default mapping) |
//! | enterprise `department`, `employeeNumber`, `costCenter`, `organization`, `division` | department, employee ID, cost center, company name, division |
//! | enterprise `manager.value`              | the manager's user id                    |
//! | `meta.created`, `meta.lastModified`, `meta.version` | created, updated, version     |
//!
//! Any other attribute in a request is refused (`invalidValue`), never accepted and dropped;
//! read-only ones (`id`, `meta`, `groups`) are ignored, as RFC 7644 §3.5.1 says. Administrator
//! roles, the must-change-password flag and deletion state are not SCIM's business.

use roster_domain::clock::Timestamp;
use roster_domain::contact::{ContactInfo, ContactInput};
use roster_domain::user::User;
use roster_domain::user_filter::{Attr, Op, UserFilter, Value as Wanted};
use serde_json::{json, Map, Value};

use super::filter::{self, member, AttrPath, CompValue, CompareOp, Filter};
use super::patch::parse_bool;
use super::ScimError;

/// The schema URN of the core User resource.
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The schema URN of the enterprise User extension.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The top-level attributes a request may hold: what [`parse_resource`] reads, and the
/// read-only ones it ignores.
const KEPT: [&str; 17] = [
    "schemas",
    "id",
    "meta",
    "groups",
    "externalId",
    "userName",
    "name",
    "displayName",
    "title",
    "active",
    "password",
    "preferredLanguage",
    "locale",
    "emails",
    "phoneNumbers",
    "addresses",
    ENTERPRISE_USER,
];

/// The enterprise extension's text attributes and the fields they map to.
const ENTERPRISE_TEXT: [(&str, Attr); 5] = [
    ("department", Attr::Department),
    ("employeeNumber", Attr::EmployeeId),
    ("costCenter", Attr::CostCenter),
    ("organization", Attr::CompanyName),
    ("division", Attr::Division),
];

/// Phone types and the fields they map to.
const PHONE_TYPES: [(&str, Attr); 4] = [
    ("mobile", Attr::MobilePhone),
    ("work", Attr::OfficePhone),
    ("fax", Attr::Fax),
    ("other", Attr::AlternateMobilePhone),
];

/// Sub-attributes of the work address and the fields they map to.
const ADDRESS_PARTS: [(&str, Attr); 5] = [
    ("streetAddress", Attr::StreetAddress),
    ("locality", Attr::City),
    ("region", Attr::State),
    ("postalCode", Attr::PostalCode),
    ("country", Attr::Country),
];

/// A stored phone or address field, if it has a (non-empty) value.
fn stored(contact: &ContactInfo, attr: Attr) -> Option<&str> {
    let field = match attr {
        Attr::MobilePhone => &contact.mobile_phone,
        Attr::OfficePhone => &contact.office_phone,
        Attr::Fax => &contact.fax,
        Attr::AlternateMobilePhone => &contact.alternate_mobile_phone,
        Attr::StreetAddress => &contact.street_address,
        Attr::City => &contact.city,
        Attr::State => &contact.state,
        Attr::PostalCode => &contact.postal_code,
        Attr::Country => &contact.country,
        Attr::Office => &contact.office,
        Attr::Department => &contact.department,
        Attr::EmployeeId => &contact.employee_id,
        Attr::CostCenter => &contact.cost_center,
        Attr::CompanyName => &contact.company_name,
        Attr::Division => &contact.division,
        _ => return None,
    };
    field.as_deref().filter(|s| !s.is_empty())
}

/// The form input of a phone or address field.
fn input_field(input: &mut ContactInput, attr: Attr) -> Option<&mut String> {
    Some(match attr {
        Attr::MobilePhone => &mut input.mobile_phone,
        Attr::OfficePhone => &mut input.office_phone,
        Attr::Fax => &mut input.fax,
        Attr::AlternateMobilePhone => &mut input.alternate_mobile_phone,
        Attr::StreetAddress => &mut input.street_address,
        Attr::City => &mut input.city,
        Attr::State => &mut input.state,
        Attr::PostalCode => &mut input.postal_code,
        Attr::Country => &mut input.country,
        Attr::Office => &mut input.office,
        Attr::Department => &mut input.department,
        Attr::EmployeeId => &mut input.employee_id,
        Attr::CostCenter => &mut input.cost_center,
        Attr::CompanyName => &mut input.company_name,
        Attr::Division => &mut input.division,
        _ => return None,
    })
}

/// The user as a SCIM User resource; `location` is the resource's absolute URI. Unassigned
/// attributes are left out rather than written as null (RFC 7643 §2.5).
pub fn resource(user: &User, location: &str) -> Value {
    let c = &user.contact;
    let set = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let mut r = Map::new();
    let mut schemas = vec![json!(CORE_USER)];
    r.insert("id".into(), json!(user.id.to_string()));
    if let Some(external_id) = set(&user.external_id) {
        r.insert("externalId".into(), json!(external_id));
    }
    r.insert("userName".into(), json!(user.username.as_str()));
    let mut name = Map::new();
    if let Some(formatted) = set(&c.formatted_name) {
        name.insert("formatted".into(), json!(formatted));
    }
    if let Some(first) = set(&c.first_name) {
        name.insert("givenName".into(), json!(first));
    }
    if let Some(last) = set(&c.last_name) {
        name.insert("familyName".into(), json!(last));
    }
    if !name.is_empty() {
        r.insert("name".into(), Value::Object(name));
    }
    r.insert("displayName".into(), json!(c.display_name));
    if let Some(title) = set(&c.job_title) {
        r.insert("title".into(), json!(title));
    }
    if let Some(language) = set(&c.preferred_language) {
        r.insert("preferredLanguage".into(), json!(language));
    }
    if let Some(locale) = set(&c.locale) {
        r.insert("locale".into(), json!(locale));
    }
    r.insert("active".into(), json!(user.enabled));
    let mut emails: Vec<Value> =
        set(&c.mail).map(|mail| json!({"value": mail, "type": "work", "primary": true})).into_iter().collect();
    emails.extend(c.alternate_emails.iter().map(|a| json!({"value": a, "type": "other", "primary": false})));
    if !emails.is_empty() {
        r.insert("emails".into(), Value::Array(emails));
    }
    let phones: Vec<Value> = PHONE_TYPES
        .iter()
        .filter_map(|&(kind, attr)| stored(c, attr).map(|number| json!({"value": number, "type": kind})))
        .collect();
    if !phones.is_empty() {
        r.insert("phoneNumbers".into(), Value::Array(phones));
    }
    let mut address = Map::new();
    for (part, attr) in ADDRESS_PARTS {
        if let Some(value) = stored(c, attr) {
            address.insert(part.into(), json!(value));
        }
    }
    let mut addresses = Vec::new();
    if !address.is_empty() {
        address.insert("type".into(), json!("work"));
        addresses.push(Value::Object(address));
    }
    if let Some(office) = stored(c, Attr::Office) {
        addresses.push(json!({ "type": "other", "formatted": office }));
    }
    if !addresses.is_empty() {
        r.insert("addresses".into(), Value::Array(addresses));
    }
    let mut enterprise = Map::new();
    for (name, attr) in ENTERPRISE_TEXT {
        if let Some(value) = stored(c, attr) {
            enterprise.insert(name.into(), json!(value));
        }
    }
    if let Some(manager) = c.manager {
        let users = location.rsplit_once('/').map_or("", |(base, _)| base);
        enterprise
            .insert("manager".into(), json!({ "value": manager.to_string(), "$ref": format!("{users}/{manager}") }));
    }
    if !enterprise.is_empty() {
        schemas.push(json!(ENTERPRISE_USER));
        r.insert(ENTERPRISE_USER.into(), Value::Object(enterprise));
    }
    r.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": user.created_at.rfc3339(),
            "lastModified": user.updated_at.rfc3339(),
            "location": location,
            "version": format!("W/\"{}\"", user.version),
        }),
    );
    r.insert("schemas".into(), Value::Array(schemas));
    Value::Object(r)
}

/// Whether an attribute of the User resource compares with case (its `caseExact`).
pub fn case_exact(path: &AttrPath) -> bool {
    path.is("id", None)
        || path.is("externalId", None)
        || path.is("groups", Some("value"))
        || path.is("meta", Some("version"))
        || path.is("meta", Some("location"))
        || path.attr == "$ref"
        || path.sub_attr.as_deref() == Some("$ref")
}

/// A User resource from a POST or PUT body, in Roster's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserInput {
    /// `userName` as sent; the directory checks and normalises it.
    pub username: String,
    /// Whether sign-in is allowed; `true` unless the body says otherwise.
    pub active: bool,
    /// Contact fields as sent.
    pub contact: ContactInput,
    /// `externalId`, if sent.
    pub external_id: Option<String>,
    /// The initial password, if the client sets one (RFC 7643 `password`, write-only).
    pub password: Option<String>,
}

fn string<'v>(object: &'v Value, name: &str, path: &str) -> Result<Option<&'v str>, ScimError> {
    match member(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ScimError::invalid_value(format!("'{path}' must be a string."))),
    }
}

fn object<'v>(parent: &'v Value, name: &str) -> Result<Option<&'v Value>, ScimError> {
    match member(parent, name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.is_object() => Ok(Some(v)),
        Some(_) => Err(ScimError::invalid_value(format!("'{name}' must be an object."))),
    }
}

/// The values of a multi-valued complex attribute, each checked to be an object.
fn values<'v>(parent: &'v Value, name: &str) -> Result<&'v [Value], ScimError> {
    let values = match member(parent, name) {
        None | Some(Value::Null) => return Ok(&[]),
        Some(Value::Array(values)) => values.as_slice(),
        Some(_) => return Err(ScimError::invalid_value(format!("'{name}' must be an array."))),
    };
    if values.iter().any(|v| !v.is_object()) {
        return Err(ScimError::invalid_value(format!("Each value of '{name}' must be an object.")));
    }
    Ok(values)
}

/// A boolean, or the strings `"True"`/`"False"` that Entra ID sends for booleans.
fn boolean(object: &Value, name: &str, path: &str) -> Result<Option<bool>, ScimError> {
    let invalid = || ScimError::invalid_value(format!("'{path}' must be true or false."));
    match member(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => parse_bool(s).map(Some).ok_or_else(invalid),
        Some(_) => Err(invalid()),
    }
}

/// Refuses an attribute Roster does not keep, so that a client learns of it rather than
/// believing it stored.
fn not_kept(path: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "Roster does not keep the attribute '{path}'. Leave it out of the request (or out of the provisioning \
         client's attribute mappings)."
    ))
}

/// Refuses every member of `object` not among `known` that holds a value: an empty one (such
/// as the `"roles": []` Entra ID sends) sets nothing, so nothing is lost.
fn only(object: &Value, known: &[&str], prefix: &str) -> Result<(), ScimError> {
    let Some(members) = object.as_object() else { return Ok(()) };
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    };
    match members.iter().find(|(k, v)| !empty(v) && !known.iter().any(|n| n.eq_ignore_ascii_case(k))) {
        Some((unknown, _)) => Err(not_kept(&format!("{prefix}{unknown}"))),
        None => Ok(()),
    }
}

/// An address of a provisioning client's proxy-address list (`smtp:alias@…`) as a plain address.
fn without_smtp(address: &str) -> &str {
    let address = address.trim();
    match address.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => &address[5..],
        _ => address,
    }
}

/// Reads a POST or PUT body. Only the JSON shape is checked here; the directory validates the
/// contents. Read-only attributes (`id`, `meta`, `groups`) are ignored; any other attribute
/// Roster does not keep is refused. An address without a type counts as the work address.
/// `active` defaults to true and, like other booleans, may be the string `"True"` or `"False"`.
pub fn parse_resource(value: &Value) -> Result<ScimUserInput, ScimError> {
    if !value.is_object() {
        return Err(ScimError::invalid_syntax("The request body must be a JSON object."));
    }
    only(value, &KEPT, "")?;
    if member(value, "schemas").is_some() && !filter::lists_schema(value, CORE_USER) {
        return Err(ScimError::invalid_syntax(format!("The resource's 'schemas' must list {CORE_USER}.")));
    }
    let username = string(value, "userName", "userName")?
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("'userName' is required."))?
        .to_string();
    let active = boolean(value, "active", "active")?.unwrap_or(true);
    let password = string(value, "password", "password")?.map(str::to_string);
    let mut contact = ContactInput::default();

    let name = object(value, "name")?;
    if let Some(name) = name {
        only(name, &["formatted", "givenName", "familyName"], "name.")?;
    }
    let name_part = |part: &str| -> Result<String, ScimError> {
        Ok(match name {
            Some(name) => string(name, part, &format!("name.{part}"))?.unwrap_or_default().to_string(),
            None => String::new(),
        })
    };
    contact.first_name = name_part("givenName")?;
    contact.last_name = name_part("familyName")?;
    let formatted = name_part("formatted")?;
    contact.formatted_name = formatted.clone();
    let full_name = [contact.first_name.trim(), contact.last_name.trim()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    contact.display_name = [string(value, "displayName", "displayName")?.unwrap_or_default(), &formatted, &full_name]
        .into_iter()
        .find(|d| !d.trim().is_empty())
        .unwrap_or(&username)
        .to_string();
    contact.job_title = string(value, "title", "title")?.unwrap_or_default().to_string();
    contact.preferred_language =
        string(value, "preferredLanguage", "preferredLanguage")?.unwrap_or_default().to_string();
    contact.locale = string(value, "locale", "locale")?.unwrap_or_default().to_string();
    let external_id = string(value, "externalId", "externalId")?.map(str::to_string);

    let emails = values(value, "emails")?;
    let mut others = Vec::new();
    for email in emails {
        only(email, &["value", "type", "primary", "display"], "emails.")?;
        let address = string(email, "value", "emails.value")?
            .ok_or_else(|| ScimError::invalid_value("Each of 'emails' needs a 'value'."))?;
        let kind = string(email, "type", "emails.type")?.unwrap_or_default();
        let primary = boolean(email, "primary", "emails.primary")?.unwrap_or(false);
        if primary || kind.eq_ignore_ascii_case("work") {
            if !contact.mail.is_empty() && !contact.mail.eq_ignore_ascii_case(address.trim()) {
                return Err(ScimError::invalid_value(
                    "Only one primary (or work) email is allowed: Roster keeps one primary address; send others \
                     with type \"other\".",
                ));
            }
            contact.mail = address.trim().to_string();
        } else {
            others.push(without_smtp(address));
        }
    }
    // Entra ID sends the user's proxy addresses as "other" emails, the primary one among them:
    // an address that is the username or the primary email is the user's own, not an alternate.
    let own = |a: &str| a.eq_ignore_ascii_case(username.trim()) || a.eq_ignore_ascii_case(contact.mail.trim());
    let alternates: Vec<String> = others.into_iter().filter(|a| !own(a)).map(str::to_string).collect();
    contact.alternate_emails = alternates;

    for phone in values(value, "phoneNumbers")? {
        only(phone, &["value", "type", "primary", "display"], "phoneNumbers.")?;
        let number = string(phone, "value", "phoneNumbers.value")?
            .ok_or_else(|| ScimError::invalid_value("Each of 'phoneNumbers' needs a 'value'."))?;
        let kind = string(phone, "type", "phoneNumbers.type")?.unwrap_or_default();
        let Some(&(kind, attr)) = PHONE_TYPES.iter().find(|(k, _)| k.eq_ignore_ascii_case(kind)) else {
            return Err(ScimError::invalid_value(format!(
                "Phone number type '{kind}' is not one Roster keeps: use mobile, work, fax or other."
            )));
        };
        if let Some(field) = input_field(&mut contact, attr) {
            if !field.is_empty() {
                return Err(ScimError::invalid_value(format!("Only one phone number of type '{kind}' is allowed.")));
            }
            *field = number.to_string();
        }
    }

    let (mut work, mut office) = (0, 0);
    for address in values(value, "addresses")? {
        let kind = string(address, "type", "addresses.type")?.unwrap_or("work");
        if kind.eq_ignore_ascii_case("work") {
            work += 1;
            if work > 1 {
                return Err(ScimError::invalid_value("Only one work address is allowed."));
            }
            let parts: Vec<&str> = ADDRESS_PARTS.iter().map(|&(p, _)| p).collect();
            only(address, &[parts.as_slice(), &["type", "primary"]].concat(), "addresses[type eq \"work\"].")?;
            for (part, attr) in ADDRESS_PARTS {
                let text = string(address, part, &format!("addresses.{part}"))?.unwrap_or_default();
                if let Some(field) = input_field(&mut contact, attr) {
                    *field = text.to_string();
                }
            }
        } else if kind.eq_ignore_ascii_case("other") {
            // Entra ID's default mapping sends the office location here.
            office += 1;
            if office > 1 {
                return Err(ScimError::invalid_value("Only one address of type \"other\" (the office) is allowed."));
            }
            only(address, &["formatted", "type", "primary"], "addresses[type eq \"other\"].")?;
            contact.office = string(address, "formatted", "addresses.formatted")?.unwrap_or_default().to_string();
        } else {
            return Err(not_kept(&format!("addresses[type eq \"{kind}\"]")));
        }
    }

    if let Some(enterprise) = object(value, ENTERPRISE_USER)? {
        let names: Vec<&str> = ENTERPRISE_TEXT.iter().map(|&(n, _)| n).chain(["manager"]).collect();
        only(enterprise, &names, &format!("{ENTERPRISE_USER}:"))?;
        for (name, attr) in ENTERPRISE_TEXT {
            let text = string(enterprise, name, name)?.unwrap_or_default();
            if let Some(field) = input_field(&mut contact, attr) {
                *field = text.to_string();
            }
        }
        contact.manager = manager(enterprise)?;
    }
    Ok(ScimUserInput { username, active, contact, external_id, password })
}

/// The enterprise `manager`: `{"value": id}` as RFC 7643 writes it (or only its `$ref`), or the
/// bare id that Entra ID's PATCH sends as the value of the `manager` path.
fn manager(enterprise: &Value) -> Result<String, ScimError> {
    let path = "manager";
    Ok(match member(enterprise, path) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(id)) => id.clone(),
        Some(object @ Value::Object(_)) => {
            only(object, &["value", "$ref", "displayName"], "manager.")?;
            match string(object, "value", "manager.value")? {
                Some(id) => id.to_string(),
                // A manager named only by URI: the id is its last segment.
                None => string(object, "$ref", "manager.$ref")?
                    .map(|uri| uri.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string())
                    .unwrap_or_default(),
            }
        }
        Some(_) => {
            return Err(ScimError::invalid_value("'manager' must be an object with the manager's id as 'value'."))
        }
    })
}

/// The SCIM attribute (as a PATCH path) of a field of Roster's forms, so a validation error can
/// name what the client sent. Unknown fields come back unchanged.
pub fn field_to_attribute(field: &str) -> String {
    let attribute = match field {
        "username" => "userName",
        "password" => "password",
        "display_name" => "displayName",
        "first_name" => "name.givenName",
        "last_name" => "name.familyName",
        "job_title" => "title",
        "department" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "employee_id" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "cost_center" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
        "company_name" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
        "division" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
        "manager" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "mail" => r#"emails[type eq "work"].value"#,
        "office" => r#"addresses[type eq "other"].formatted"#,
        "preferred_language" => "preferredLanguage",
        "locale" => "locale",
        "mobile_phone" => r#"phoneNumbers[type eq "mobile"].value"#,
        "office_phone" => r#"phoneNumbers[type eq "work"].value"#,
        "fax" => r#"phoneNumbers[type eq "fax"].value"#,
        "alternate_mobile_phone" => r#"phoneNumbers[type eq "other"].value"#,
        "street_address" => r#"addresses[type eq "work"].streetAddress"#,
        "city" => r#"addresses[type eq "work"].locality"#,
        "state" => r#"addresses[type eq "work"].region"#,
        "postal_code" => r#"addresses[type eq "work"].postalCode"#,
        "country" => r#"addresses[type eq "work"].country"#,
        f if f.starts_with("alternate_email.") => r#"emails[type eq "other"]"#,
        other => other,
    };
    attribute.to_string()
}

/// Compiles a filter to the store's condition, so that for every user `u`
/// `user_filter(f)?.matches(&u) == filter::matches(f, &resource(&u, _), &case_exact)`.
///
/// Forms whose meaning a [`UserFilter`] can't express exactly are refused with `invalidFilter`:
/// attributes Roster doesn't map, sub-attributes other than `type` and `value` (and the address
/// parts), operators an attribute doesn't support, and, among alternate emails, two conditions
/// on the same address joined by `and` (such as `emails[value sw "a" and value ew "z"]`) or a
/// negated `co`/`sw`/`ew`. A filter that holds for every user (`not (emails[type eq "home"])`)
/// compiles to `Present(Id)`, one that holds for none (`emails[type eq "home"]`) to its negation.
pub fn user_filter(filter: &Filter) -> Result<UserFilter, ScimError> {
    Ok(match translate(filter)? {
        Cond::Filter(f) => f,
        // Every user has an id, so its presence is a condition that always holds.
        Cond::Const(true) => UserFilter::Present(Attr::Id),
        Cond::Const(false) => UserFilter::Not(Box::new(UserFilter::Present(Attr::Id))),
    })
}

/// A translated condition; constants (from tests on a value's `type`) fold away.
enum Cond {
    Const(bool),
    Filter(UserFilter),
}

impl Cond {
    fn join(self, other: Cond, and: bool) -> Cond {
        match (self, other) {
            (Cond::Const(b), c) | (c, Cond::Const(b)) => {
                if b == and {
                    c
                } else {
                    Cond::Const(b)
                }
            }
            (Cond::Filter(x), Cond::Filter(y)) => {
                let mut parts = Vec::new();
                for f in [x, y] {
                    match f {
                        UserFilter::And(fs) if and => parts.extend(fs),
                        UserFilter::Or(fs) if !and => parts.extend(fs),
                        f => parts.push(f),
                    }
                }
                Cond::Filter(if and { UserFilter::And(parts) } else { UserFilter::Or(parts) })
            }
        }
    }

    fn and(self, other: Cond) -> Cond {
        self.join(other, true)
    }

    fn or(self, other: Cond) -> Cond {
        self.join(other, false)
    }

    fn not(self) -> Cond {
        match self {
            Cond::Const(b) => Cond::Const(!b),
            Cond::Filter(UserFilter::Not(inner)) => Cond::Filter(*inner),
            Cond::Filter(f) => Cond::Filter(UserFilter::Not(Box::new(f))),
        }
    }
}

fn op_of(op: CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Contains,
        CompareOp::Sw => Op::StartsWith,
        CompareOp::Ew => Op::EndsWith,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

fn compare(attr: Attr, op: Op, text: &str) -> UserFilter {
    UserFilter::Compare { attr, op, value: Wanted::Text(text.to_string()) }
}

/// RFC 7644's `pr` (a non-empty value). The username and display name count as held even when
/// empty, so for them it is "not equal to the empty string".
fn present(attr: Attr) -> UserFilter {
    match attr {
        Attr::Username | Attr::DisplayName => compare(attr, Op::Ne, ""),
        _ => UserFilter::Present(attr),
    }
}

/// What a single-valued attribute holds.
#[derive(Clone, Copy)]
enum Kind {
    Id,
    Text,
    Bool,
    Time,
}

/// The multi-valued attributes Roster fills.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Multi {
    Emails,
    Phones,
    Addresses,
}

enum Target {
    Single(Kind, Attr),
    Multi(Multi, Option<String>),
}

const SINGLE: [(&str, Option<&str>, Kind, Attr); 13] = [
    ("id", None, Kind::Id, Attr::Id),
    ("externalId", None, Kind::Text, Attr::ExternalId),
    ("preferredLanguage", None, Kind::Text, Attr::PreferredLanguage),
    ("locale", None, Kind::Text, Attr::Locale),
    ("userName", None, Kind::Text, Attr::Username),
    ("displayName", None, Kind::Text, Attr::DisplayName),
    ("name", Some("formatted"), Kind::Text, Attr::FormattedName),
    ("name", Some("givenName"), Kind::Text, Attr::FirstName),
    ("name", Some("familyName"), Kind::Text, Attr::LastName),
    ("title", None, Kind::Text, Attr::JobTitle),
    ("active", None, Kind::Bool, Attr::Enabled),
    ("meta", Some("created"), Kind::Time, Attr::CreatedAt),
    ("meta", Some("lastModified"), Kind::Time, Attr::UpdatedAt),
];

/// Whether the values of a multi-valued attribute exist for some users, or once per address.
enum Exists {
    /// One value per item of a list field (alternate emails).
    Each(Attr),
    /// One value when any of these fields is set.
    When(Vec<Attr>),
}

/// One value (or family of values) of a multi-valued attribute, as [`resource`] writes it.
struct Element {
    kind: &'static str,
    /// Sub-attributes and the fields they hold.
    fields: Vec<(&'static str, Attr)>,
    exists: Exists,
}

impl Multi {
    fn name(self) -> &'static str {
        match self {
            Multi::Emails => "emails",
            Multi::Phones => "phoneNumbers",
            Multi::Addresses => "addresses",
        }
    }

    fn elements(self) -> Vec<Element> {
        match self {
            Multi::Emails => vec![
                Element {
                    kind: "work",
                    fields: vec![("value", Attr::MailSet)],
                    exists: Exists::When(vec![Attr::MailSet]),
                },
                Element {
                    kind: "other",
                    fields: vec![("value", Attr::AlternateEmail)],
                    exists: Exists::Each(Attr::AlternateEmail),
                },
            ],
            Multi::Phones => PHONE_TYPES
                .iter()
                .map(|&(kind, attr)| Element { kind, fields: vec![("value", attr)], exists: Exists::When(vec![attr]) })
                .collect(),
            Multi::Addresses => vec![
                Element {
                    kind: "work",
                    fields: ADDRESS_PARTS.to_vec(),
                    exists: Exists::When(ADDRESS_PARTS.iter().map(|&(_, a)| a).collect()),
                },
                Element {
                    kind: "other",
                    fields: vec![("formatted", Attr::Office)],
                    exists: Exists::When(vec![Attr::Office]),
                },
            ],
        }
    }

    fn sub_attributes(self) -> Vec<&'static str> {
        let mut subs = vec!["type"];
        match self {
            Multi::Emails | Multi::Phones => subs.push("value"),
            Multi::Addresses => subs.extend(ADDRESS_PARTS.iter().map(|&(p, _)| p).chain(["formatted"])),
        }
        subs
    }
}

fn unsupported(what: impl std::fmt::Display) -> ScimError {
    ScimError::invalid_filter(format!("Roster can't filter users on '{what}'."))
}

fn target(path: &AttrPath) -> Result<Target, ScimError> {
    match path.urn.as_deref() {
        Some(urn) if urn.eq_ignore_ascii_case(ENTERPRISE_USER) => {
            return if let Some(&(_, attr)) = ENTERPRISE_TEXT.iter().find(|(name, _)| path.is(name, None)) {
                Ok(Target::Single(Kind::Text, attr))
            } else if path.is("manager", Some("value")) {
                Ok(Target::Single(Kind::Text, Attr::Manager))
            } else {
                Err(unsupported(path))
            };
        }
        Some(urn) if !urn.eq_ignore_ascii_case(CORE_USER) => return Err(unsupported(path)),
        _ => {}
    }
    if let Some(&(_, _, kind, attr)) = SINGLE.iter().find(|(a, s, _, _)| path.is(a, *s)) {
        return Ok(Target::Single(kind, attr));
    }
    let multi = [Multi::Emails, Multi::Phones, Multi::Addresses]
        .into_iter()
        .find(|m| path.attr.eq_ignore_ascii_case(m.name()))
        .ok_or_else(|| unsupported(path))?;
    match &path.sub_attr {
        None => Ok(Target::Multi(multi, None)),
        Some(sub) => match multi.sub_attributes().into_iter().find(|s| s.eq_ignore_ascii_case(sub)) {
            Some(sub) => Ok(Target::Multi(multi, Some(sub.to_string()))),
            None => Err(unsupported(path)),
        },
    }
}

/// A test: `pr` (`None`) or a comparison.
type Test<'f> = Option<(CompareOp, &'f CompValue)>;

fn translate(filter: &Filter) -> Result<Cond, ScimError> {
    match filter {
        Filter::And(a, b) => Ok(translate(a)?.and(translate(b)?)),
        Filter::Or(a, b) => Ok(translate(a)?.or(translate(b)?)),
        Filter::Not(inner) => Ok(translate(inner)?.not()),
        Filter::Present(path) => attribute(path, None),
        Filter::Compare { path, op, value } => attribute(path, Some((*op, value))),
        Filter::ValuePath { path, filter } => match target(path)? {
            Target::Multi(multi, None) => values_where(multi, filter),
            _ => Err(ScimError::invalid_filter(format!(
                "'{path}' is not a multi-valued attribute, so it takes no [filter]."
            ))),
        },
    }
}

fn only_eq_ne_null(path: &AttrPath, op: CompareOp) -> ScimError {
    ScimError::invalid_filter(format!("'{path} {op} null' compares with null, which only eq and ne do."))
}

fn attribute(path: &AttrPath, test: Test<'_>) -> Result<Cond, ScimError> {
    match target(path)? {
        Target::Single(kind, attr) => single_valued(path, kind, attr, test),
        Target::Multi(multi, sub) => multi_valued(path, multi, sub, test),
    }
}

fn single_valued(path: &AttrPath, kind: Kind, attr: Attr, test: Test<'_>) -> Result<Cond, ScimError> {
    let (op, value) = match test {
        None => return Ok(Cond::Filter(present(attr))),
        Some((CompareOp::Eq, CompValue::Null)) => return Ok(Cond::Filter(present(attr)).not()),
        Some((CompareOp::Ne, CompValue::Null)) => return Ok(Cond::Filter(present(attr))),
        Some((op, CompValue::Null)) => return Err(only_eq_ne_null(path, op)),
        Some(test) => test,
    };
    let wrong_type = |what: &str| ScimError::invalid_filter(format!("'{path}' is compared with {what}."));
    match (kind, value) {
        (Kind::Text, CompValue::String(text)) => Ok(Cond::Filter(compare(attr, op_of(op), text))),
        (Kind::Id, CompValue::String(text)) => {
            // Ids are case-exact and written in lower case, while the store ignores case: a value
            // with capitals can't be equal to, or part of, any id.
            if *text == text.to_lowercase() {
                Ok(Cond::Filter(compare(attr, op_of(op), text)))
            } else {
                match op {
                    CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => Ok(Cond::Const(false)),
                    CompareOp::Ne => Ok(Cond::Const(true)),
                    _ => Err(ScimError::invalid_filter(format!(
                        "'{path}' is ordered only against lower-case values, as ids are written."
                    ))),
                }
            }
        }
        (Kind::Text | Kind::Id, _) => Err(wrong_type("a string in double quotes")),
        (Kind::Bool, CompValue::Bool(b)) if matches!(op, CompareOp::Eq | CompareOp::Ne) => {
            Ok(Cond::Filter(UserFilter::Compare { attr, op: op_of(op), value: Wanted::Bool(*b) }))
        }
        (Kind::Bool, CompValue::Bool(_)) => {
            Err(ScimError::invalid_filter(format!("'{path}' supports only eq, ne and pr.")))
        }
        (Kind::Bool, _) => Err(wrong_type("true or false")),
        (Kind::Time, CompValue::String(text)) => {
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(ScimError::invalid_filter(format!("'{path}' supports eq, ne, gt, ge, lt, le and pr.")));
            }
            let time = filter::parse_time(text).ok_or_else(|| {
                wrong_type("an RFC 3339 date and time in double quotes, such as \"2026-01-31T08:00:00Z\"")
            })?;
            let nanos = time.unix_timestamp_nanos();
            if nanos % 1_000_000 != 0 {
                return Err(ScimError::invalid_filter(format!(
                    "Roster keeps times to the millisecond, and \"{text}\" is more precise."
                )));
            }
            let millis = i64::try_from(nanos / 1_000_000).map_err(|_| wrong_type("a time Roster can hold"))?;
            Ok(Cond::Filter(UserFilter::Compare { attr, op: op_of(op), value: Wanted::Time(Timestamp(millis)) }))
        }
        (Kind::Time, _) => Err(wrong_type("a date and time in double quotes")),
    }
}

/// A test on a multi-valued attribute or one of its sub-attributes, written as a test on its
/// values: `emails.value op v` holds when some value satisfies `value op v`, except that `ne`
/// and null compare the attribute as a whole.
fn multi_valued(path: &AttrPath, multi: Multi, sub: Option<String>, test: Test<'_>) -> Result<Cond, ScimError> {
    let any_value = Filter::Present(AttrPath::new("type"));
    let sub = match (sub, test) {
        (Some(sub), _) => sub,
        // Every value of these attributes has a type, so "has a value" is "has a typed value".
        (None, None) | (None, Some((CompareOp::Ne, CompValue::Null))) => return values_where(multi, &any_value),
        (None, Some((CompareOp::Eq, CompValue::Null))) => return Ok(values_where(multi, &any_value)?.not()),
        (None, Some(_)) if multi == Multi::Addresses => {
            return Err(ScimError::invalid_filter(
                "'addresses' has no value of its own: compare one of its parts, such as addresses.locality.",
            ));
        }
        (None, Some(_)) => "value".to_string(),
    };
    let on = AttrPath::new(sub);
    match test {
        None => values_where(multi, &Filter::Present(on)),
        Some((CompareOp::Eq, CompValue::Null)) => Ok(values_where(multi, &Filter::Present(on))?.not()),
        Some((CompareOp::Ne, CompValue::Null)) => values_where(multi, &Filter::Present(on)),
        Some((op, CompValue::Null)) => Err(only_eq_ne_null(path, op)),
        Some((CompareOp::Ne, value)) => {
            let equal = Filter::Compare { path: on, op: CompareOp::Eq, value: value.clone() };
            Ok(values_where(multi, &equal)?.not())
        }
        Some((op, value)) => values_where(multi, &Filter::Compare { path: on, op, value: value.clone() }),
    }
}

/// A condition on one value of a multi-valued attribute: on its fields, with tests on its
/// `type` already decided.
enum Elem {
    Const(bool),
    Present(Attr),
    Compare(Attr, Op, String),
    Not(Box<Elem>),
    And(Box<Elem>, Box<Elem>),
    Or(Box<Elem>, Box<Elem>),
}

impl Elem {
    /// Folds constants away, so that what remains is a constant or has none.
    fn fold(self) -> Elem {
        match self {
            Elem::Not(inner) => match inner.fold() {
                Elem::Const(b) => Elem::Const(!b),
                e => Elem::Not(Box::new(e)),
            },
            Elem::And(a, b) => match (a.fold(), b.fold()) {
                (Elem::Const(false), _) | (_, Elem::Const(false)) => Elem::Const(false),
                (Elem::Const(true), e) | (e, Elem::Const(true)) => e,
                (a, b) => Elem::And(Box::new(a), Box::new(b)),
            },
            Elem::Or(a, b) => match (a.fold(), b.fold()) {
                (Elem::Const(true), _) | (_, Elem::Const(true)) => Elem::Const(true),
                (Elem::Const(false), e) | (e, Elem::Const(false)) => e,
                (a, b) => Elem::Or(Box::new(a), Box::new(b)),
            },
            e => e,
        }
    }

    /// The condition on a value that exists exactly when its fields do.
    fn on_fields(self) -> Cond {
        match self {
            Elem::Const(b) => Cond::Const(b),
            Elem::Present(attr) => Cond::Filter(present(attr)),
            Elem::Compare(attr, op, text) => Cond::Filter(compare(attr, op, &text)),
            Elem::Not(inner) => inner.on_fields().not(),
            Elem::And(a, b) => a.on_fields().and(b.on_fields()),
            Elem::Or(a, b) => a.on_fields().or(b.on_fields()),
        }
    }
}

/// Whether some value of `multi` satisfies `filter` (whose paths are sub-attributes).
fn values_where(multi: Multi, filter: &Filter) -> Result<Cond, ScimError> {
    let mut result = Cond::Const(false);
    for element in multi.elements() {
        let condition = element_condition(multi, &element, filter)?.fold();
        let found = match &element.exists {
            Exists::When(attrs) => {
                let exists = attrs.iter().fold(Cond::Const(false), |c, &a| c.or(Cond::Filter(UserFilter::Present(a))));
                exists.and(condition.on_fields())
            }
            Exists::Each(list) => some_item(multi, *list, &condition, false)?,
        };
        result = result.or(found);
    }
    Ok(result)
}

fn element_condition(multi: Multi, element: &Element, filter: &Filter) -> Result<Elem, ScimError> {
    let recurse = |f: &Filter| element_condition(multi, element, f).map(Box::new);
    let (path, test) = match filter {
        Filter::And(a, b) => return Ok(Elem::And(recurse(a)?, recurse(b)?)),
        Filter::Or(a, b) => return Ok(Elem::Or(recurse(a)?, recurse(b)?)),
        Filter::Not(inner) => return Ok(Elem::Not(recurse(inner)?)),
        Filter::ValuePath { path, .. } => return Err(unsupported(format!("{}[{path}[…]]", multi.name()))),
        Filter::Present(path) => (path, None),
        Filter::Compare { path, op, value } => (path, Some((*op, value))),
    };
    let full = AttrPath { urn: None, attr: multi.name().to_string(), sub_attr: Some(path.attr.clone()) };
    if path.urn.is_some() || path.sub_attr.is_some() {
        return Err(unsupported(format!("{}[{path}]", multi.name())));
    }
    if path.is("type", None) {
        // Every value of this element has this type, so the test is decided here, by the
        // evaluator itself.
        let parent = AttrPath::new(multi.name());
        return Ok(Elem::Const(filter::matches_value(filter, &json!({ "type": element.kind }), &parent, &case_exact)));
    }
    let Some(&(_, attr)) = element.fields.iter().find(|(name, _)| path.is(name, None)) else {
        if multi.sub_attributes().iter().any(|s| path.is(s, None)) {
            // A part this kind of value never has (a work address has no `formatted`): the
            // evaluator decides the test on a value without it.
            let parent = AttrPath::new(multi.name());
            return Ok(Elem::Const(filter::matches_value(
                filter,
                &json!({ "type": element.kind }),
                &parent,
                &case_exact,
            )));
        }
        return Err(unsupported(full));
    };
    match test {
        None => Ok(Elem::Present(attr)),
        Some((CompareOp::Eq, CompValue::Null)) => Ok(Elem::Not(Box::new(Elem::Present(attr)))),
        Some((CompareOp::Ne, CompValue::Null)) => Ok(Elem::Present(attr)),
        Some((op, CompValue::Null)) => Err(only_eq_ne_null(&full, op)),
        Some((op, CompValue::String(text))) => Ok(Elem::Compare(attr, op_of(op), text.clone())),
        Some(_) => Err(ScimError::invalid_filter(format!("'{full}' is compared with a string in double quotes."))),
    }
}

/// Whether some item of a list field satisfies `condition` (negated if `negated`). A
/// [`UserFilter`] tests each comparison on a list against any item, so this only works when the
/// condition is an `or` of single tests: negations are pushed down to the tests, turning `ne`
/// into `gt or lt`, and an `and` of two tests on the same item is refused.
fn some_item(multi: Multi, list: Attr, condition: &Elem, negated: bool) -> Result<Cond, ScimError> {
    let refuse = |why: &str| {
        ScimError::invalid_filter(format!(
            "Roster can't filter '{}' on {why} of the same alternate (type \"other\") address.",
            multi.name()
        ))
    };
    match (condition, negated) {
        (Elem::Const(b), _) => {
            Ok(if *b != negated { Cond::Filter(UserFilter::Present(list)) } else { Cond::Const(false) })
        }
        (Elem::Not(inner), _) => some_item(multi, list, inner, !negated),
        (Elem::Or(a, b), false) | (Elem::And(a, b), true) => {
            Ok(some_item(multi, list, a, negated)?.or(some_item(multi, list, b, negated)?))
        }
        (Elem::And(..), false) | (Elem::Or(..), true) => Err(refuse("two conditions joined by 'and'")),
        (Elem::Present(attr), false) => Ok(Cond::Filter(compare(*attr, Op::Gt, ""))),
        (Elem::Present(attr), true) => Ok(Cond::Filter(compare(*attr, Op::Eq, ""))),
        (Elem::Compare(attr, op, text), _) => {
            let op = match (negated, op) {
                (false, op) => *op,
                (true, Op::Eq) => Op::Ne,
                (true, Op::Ne) => Op::Eq,
                (true, Op::Gt) => Op::Le,
                (true, Op::Ge) => Op::Lt,
                (true, Op::Lt) => Op::Ge,
                (true, Op::Le) => Op::Gt,
                (true, Op::Contains | Op::StartsWith | Op::EndsWith) => {
                    return Err(refuse("a negated co, sw or ew"));
                }
            };
            Ok(Cond::Filter(match op {
                // "Some item differs" is "some item sorts before or after", both case-folded.
                Op::Ne => UserFilter::Or(vec![compare(*attr, Op::Gt, text), compare(*attr, Op::Lt, text)]),
                op => compare(*attr, op, text),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use roster_domain::role::RoleSet;
    use roster_domain::user::{UserId, Username};

    use super::*;
    use crate::scim::filter::{matches, parse};
    use crate::scim::path::parse_path;

    const LOCATION: &str = "https://roster.example/scim/v2/Users/2819c223-7f76-453a-919d-413861904646";

    fn adele() -> User {
        User {
            id: "2819c223-7f76-453a-919d-413861904646".parse().unwrap(),
            username: Username::parse("adele.vance@contoso.com").unwrap(),
            contact: ContactInfo {
                display_name: "Adele Vance".into(),
                first_name: Some("Adele".into()),
                last_name: Some("Vance".into()),
                job_title: Some("Retail Manager".into()),
                department: Some("Retail".into()),
                office: Some("18/2111".into()),
                office_phone: Some("+14255550100x123".into()),
                mobile_phone: Some("+14255550101".into()),
                alternate_mobile_phone: Some("+14255550102".into()),
                fax: Some("+14255550103".into()),
                alternate_emails: vec!["adele@fabrikam.com".into()],
                street_address: Some("1 Microsoft Way".into()),
                city: Some("Redmond".into()),
                state: Some("WA".into()),
                postal_code: Some("98052".into()),
                country: Some("United States".into()),
                ..ContactInfo::default()
            },
            roles: RoleSet::NONE,
            enabled: true,
            must_change_password: false,
            created_at: Timestamp(1_700_000_000_000),
            updated_at: Timestamp(1_700_000_000_500),
            updated_by: "test".into(),
            version: 3,
            deleted_at: None,
            external_id: None,
        }
    }

    fn minimal() -> User {
        User {
            username: Username::parse("megan@contoso.com").unwrap(),
            contact: ContactInfo {
                display_name: "Megan".into(),
                job_title: Some(String::new()),
                ..ContactInfo::default()
            },
            ..adele()
        }
    }

    #[test]
    fn renders_every_mapped_attribute() {
        assert_eq!(
            resource(&adele(), LOCATION),
            json!({
                "schemas": [CORE_USER, ENTERPRISE_USER],
                "id": "2819c223-7f76-453a-919d-413861904646",
                "userName": "adele.vance@contoso.com",
                "name": {"givenName": "Adele", "familyName": "Vance"},
                "displayName": "Adele Vance",
                "title": "Retail Manager",
                "active": true,
                "emails": [{"value": "adele@fabrikam.com", "type": "other", "primary": false}],
                "phoneNumbers": [
                    {"value": "+14255550101", "type": "mobile"},
                    {"value": "+14255550100x123", "type": "work"},
                    {"value": "+14255550103", "type": "fax"},
                    {"value": "+14255550102", "type": "other"}
                ],
                "addresses": [{
                    "type": "work", "streetAddress": "1 Microsoft Way", "locality": "Redmond", "region": "WA",
                    "postalCode": "98052", "country": "United States"
                }, {"type": "other", "formatted": "18/2111"}],
                ENTERPRISE_USER: {"department": "Retail"},
                "meta": {
                    "resourceType": "User",
                    "created": "2023-11-14T22:13:20Z",
                    "lastModified": "2023-11-14T22:13:20.5Z",
                    "location": LOCATION,
                    "version": "W/\"3\""
                }
            })
        );
    }

    #[test]
    fn leaves_out_unassigned_attributes() {
        let r = resource(&minimal(), LOCATION);
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys.iter().copied().collect::<std::collections::BTreeSet<_>>(),
            ["active", "displayName", "id", "meta", "schemas", "userName"].into()
        );
        assert_eq!(r["schemas"], json!([CORE_USER]));
    }

    #[test]
    fn case_exact_attributes() {
        let p = |text: &str| parse_path(text).unwrap().attr;
        assert!(case_exact(&p("id")) && case_exact(&p("meta.version")) && case_exact(&p("externalId")));
        assert!(!case_exact(&p("userName")) && !case_exact(&p("emails.value")) && !case_exact(&p("displayName")));
    }

    fn entra_post() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
            "title": "Engineer",
            "phoneNumbers": [{"type": "work", "value": "+1 425 555 0100"}, {"type": "Mobile", "value": "+14255550101"}],
            "addresses": [{"type": "work", "locality": "Redmond", "country": "US"}, {"type": "other", "formatted": "18/2111"}],
            ENTERPRISE_USER: {"department": "Engineering", "employeeNumber": "701984", "manager": {"value": "x"}}
        })
    }

    #[test]
    fn reads_an_entra_id_create_request() {
        let input = parse_resource(&entra_post()).unwrap();
        assert_eq!(input.username, "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com");
        assert!(input.active);
        assert_eq!(input.password, None);
        assert_eq!(
            input.contact,
            ContactInput {
                display_name: "givenName familyName".into(),
                first_name: "givenName".into(),
                last_name: "familyName".into(),
                formatted_name: "givenName familyName".into(),
                job_title: "Engineer".into(),
                department: "Engineering".into(),
                office_phone: "+1 425 555 0100".into(),
                mobile_phone: "+14255550101".into(),
                city: "Redmond".into(),
                country: "US".into(),
                office: "18/2111".into(),
                mail: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com".into(),
                employee_id: "701984".into(),
                manager: "x".into(),
                ..ContactInput::default()
            }
        );
        assert_eq!(input.external_id.as_deref(), Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"));
    }

    #[test]
    fn reads_an_okta_create_request() {
        let body = json!({
            "schemas": [CORE_USER],
            "userName": "isaiah.l@contoso.com",
            "name": {"givenName": "Isaiah", "familyName": "Langer"},
            "emails": [
                {"primary": true, "value": "isaiah.l@contoso.com", "type": "work"},
                {"value": "isaiah@home.example", "type": "home"}
            ],
            "displayName": "Isaiah Langer",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": "False"
        });
        let input = parse_resource(&body).unwrap();
        assert!(!input.active);
        assert_eq!(input.password.as_deref(), Some("1mz050nq"));
        assert_eq!(input.contact.alternate_emails, vec!["isaiah@home.example"]);
        assert_eq!(input.contact.display_name, "Isaiah Langer");
        assert_eq!(input.contact.locale, "en-US");
        assert_eq!(input.external_id.as_deref(), Some("00ujl29u0le5T6Aj10h7"));
    }

    #[test]
    fn display_name_falls_back_to_the_name_then_the_username() {
        let display = |body: Value| parse_resource(&body).unwrap().contact.display_name;
        assert_eq!(display(json!({"userName": "a@b.io", "name": {"formatted": "F", "givenName": "G"}})), "F");
        assert_eq!(display(json!({"userName": "a@b.io", "name": {"givenName": "G", "familyName": "H"}})), "G H");
        assert_eq!(display(json!({"userName": "a@b.io", "name": {"familyName": "H"}})), "H");
        assert_eq!(display(json!({"userName": "a@b.io", "displayName": " "})), "a@b.io");
    }

    #[test]
    fn reading_back_a_rendered_user_gives_its_contact_input() {
        let user = adele();
        let input = parse_resource(&resource(&user, LOCATION)).unwrap();
        assert_eq!(input.username, user.username.as_str());
        let mut expected = user.contact.to_input();
        for (attr, number) in [
            (Attr::MobilePhone, "+14255550101"),
            (Attr::OfficePhone, "+14255550100x123"),
            (Attr::Fax, "+14255550103"),
            (Attr::AlternateMobilePhone, "+14255550102"),
        ] {
            *input_field(&mut expected, attr).unwrap() = number.into();
        }
        assert_eq!(input.contact, expected);
    }

    #[test]
    fn refuses_malformed_resources() {
        let refused = |body: Value| parse_resource(&body).unwrap_err();
        let e = refused(json!({"displayName": "x"}));
        assert_eq!((e.scim_type, e.detail.as_str()), (Some("invalidValue"), "'userName' is required."));
        let e = refused(
            json!({"userName": "a@b.io", "emails": [{"value": "c@b.io", "type": "work"}, {"value": "d@b.io", "primary": "True"}]}),
        );
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert!(e.detail.contains("Only one primary"), "{}", e.detail);
        for (body, attribute) in [
            (json!({"userName": "a@b.io", "nickName": "Babs"}), "'nickName'"),
            (json!({"userName": "a@b.io", "name": {"middleName": "B"}}), "'name.middleName'"),
            (json!({"userName": "a@b.io", "addresses": [{"type": "home", "locality": "Leeds"}]}), "home"),
            (json!({"userName": "a@b.io", "addresses": [{"formatted": "1 Way"}]}), "formatted"),
            (json!({"userName": "a@b.io", "emails": [{"value": "c@b.io", "label": "x"}]}), "'emails.label'"),
            (json!({"userName": "a@b.io", ENTERPRISE_USER: {"costCentre": "1"}}), "costCentre"),
            (json!({"userName": "a@b.io", "urn:example:custom:User": {"badge": "1"}}), "urn:example:custom:User"),
        ] {
            let e = refused(body);
            assert_eq!(e.scim_type, Some("invalidValue"));
            assert!(e.detail.contains("does not keep") && e.detail.contains(attribute), "{}", e.detail);
        }
        let e = refused(json!({"userName": "a@b.io", "phoneNumbers": [{"value": "+1", "type": "pager"}]}));
        assert!(e.detail.contains("'pager'"), "{}", e.detail);
        let e = refused(
            json!({"userName": "a@b.io", "phoneNumbers": [{"value": "+1", "type": "fax"}, {"value": "+2", "type": "Fax"}]}),
        );
        assert!(e.detail.contains("Only one phone number of type 'fax'"), "{}", e.detail);
        let e = refused(json!({"userName": "a@b.io", "addresses": [{"locality": "A"}, {"type": "work"}]}));
        assert!(e.detail.contains("one work address"));
        assert_eq!(refused(json!({"userName": 7})).detail, "'userName' must be a string.");
        assert_eq!(refused(json!({"userName": "a@b.io", "active": "yes"})).detail, "'active' must be true or false.");
        assert_eq!(refused(json!({"userName": "a@b.io", "name": "x"})).detail, "'name' must be an object.");
        assert_eq!(
            refused(json!({"userName": "a@b.io", "emails": {"value": "x"}})).detail,
            "'emails' must be an array."
        );
        assert_eq!(
            refused(json!({"userName": "a@b.io", "emails": ["x"]})).detail,
            "Each value of 'emails' must be an object."
        );
        assert_eq!(refused(json!({"userName": "a@b.io", "title": 1})).detail, "'title' must be a string.");
        assert_eq!(refused(json!([])).scim_type, Some("invalidSyntax"));
        assert_eq!(refused(json!({"schemas": ["urn:x"], "userName": "a@b.io"})).scim_type, Some("invalidSyntax"));
    }

    #[test]
    fn ignores_read_only_attributes_and_empty_values() {
        let input = parse_resource(&json!({
            "userName": "a@b.io", "id": "x", "meta": {"version": "W/\"9\""}, "groups": [{"value": "g"}],
            "roles": [], "nickName": "", "title": null,
            "emails": [{"value": "A@B.IO", "type": "other"}, {"value": "smtp:c@b.io", "type": "other"}]
        }))
        .unwrap();
        assert_eq!(input.contact.job_title, "");
        assert_eq!(input.contact.alternate_emails, ["c@b.io"], "the username itself is not an alternate");
    }

    #[test]
    fn names_form_fields_as_scim_attributes() {
        assert_eq!(field_to_attribute("display_name"), "displayName");
        assert_eq!(field_to_attribute("first_name"), "name.givenName");
        assert_eq!(field_to_attribute("mobile_phone"), r#"phoneNumbers[type eq "mobile"].value"#);
        assert_eq!(field_to_attribute("alternate_email.3"), r#"emails[type eq "other"]"#);
        assert_eq!(field_to_attribute("postal_code"), r#"addresses[type eq "work"].postalCode"#);
        assert_eq!(field_to_attribute("department"), format!("{ENTERPRISE_USER}:department"));
        assert_eq!(field_to_attribute("office"), r#"addresses[type eq "other"].formatted"#);
        assert_eq!(field_to_attribute("employee_id"), format!("{ENTERPRISE_USER}:employeeNumber"));
        for field in ["username", "password", "display_name", "fax", "city", "alternate_email.1", "street_address"] {
            assert!(parse_path(&field_to_attribute(field)).is_ok(), "{field}");
        }
    }

    fn compile(text: &str) -> Result<UserFilter, ScimError> {
        user_filter(&parse(text).unwrap())
    }

    fn text(attr: Attr, op: Op, value: &str) -> UserFilter {
        compare(attr, op, value)
    }

    #[test]
    fn translates_single_valued_attributes() {
        assert_eq!(compile(r#"userName eq "a@b.io""#).unwrap(), text(Attr::Username, Op::Eq, "a@b.io"));
        assert_eq!(compile(r#"name.givenName sw "Ad""#).unwrap(), text(Attr::FirstName, Op::StartsWith, "Ad"));
        assert_eq!(compile(r#"name.formatted co "V""#).unwrap(), text(Attr::FormattedName, Op::Contains, "V"));
        assert_eq!(
            compile(&format!(r#"{ENTERPRISE_USER}:department ew "tail""#)).unwrap(),
            text(Attr::Department, Op::EndsWith, "tail")
        );
        assert_eq!(compile("title pr").unwrap(), UserFilter::Present(Attr::JobTitle));
        assert_eq!(compile("title eq null").unwrap(), UserFilter::Not(Box::new(UserFilter::Present(Attr::JobTitle))));
        assert_eq!(
            compile("active eq false").unwrap(),
            UserFilter::Compare { attr: Attr::Enabled, op: Op::Eq, value: Wanted::Bool(false) }
        );
        assert_eq!(
            compile(r#"meta.lastModified gt "2023-11-14T23:13:20.5+01:00""#).unwrap(),
            UserFilter::Compare {
                attr: Attr::UpdatedAt,
                op: Op::Gt,
                value: Wanted::Time(Timestamp(1_700_000_000_500))
            }
        );
        assert_eq!(compile(r#"id eq "2819C223""#).unwrap(), UserFilter::Not(Box::new(UserFilter::Present(Attr::Id))));
    }

    #[test]
    fn translates_multi_valued_attributes() {
        assert_eq!(
            compile(r#"emails co "fabrikam""#).unwrap(),
            UserFilter::Or(vec![
                UserFilter::And(vec![
                    UserFilter::Present(Attr::MailSet),
                    text(Attr::MailSet, Op::Contains, "fabrikam")
                ]),
                text(Attr::AlternateEmail, Op::Contains, "fabrikam")
            ])
        );
        assert_eq!(
            compile(r#"emails[type eq "work" and value eq "a@b.io"]"#).unwrap(),
            UserFilter::And(vec![UserFilter::Present(Attr::MailSet), text(Attr::MailSet, Op::Eq, "a@b.io")])
        );
        assert_eq!(
            compile(r#"emails[type eq "other" and value ew "@fabrikam.com"]"#).unwrap(),
            text(Attr::AlternateEmail, Op::EndsWith, "@fabrikam.com")
        );
        assert_eq!(
            compile(r#"phoneNumbers[type eq "mobile" and value sw "+1425"]"#).unwrap(),
            UserFilter::And(vec![
                UserFilter::Present(Attr::MobilePhone),
                text(Attr::MobilePhone, Op::StartsWith, "+1425")
            ])
        );
        assert_eq!(
            compile(r#"addresses[type eq "work" and locality eq "Redmond"]"#).unwrap(),
            UserFilter::And(vec![
                UserFilter::Or(ADDRESS_PARTS.iter().map(|&(_, a)| UserFilter::Present(a)).collect()),
                text(Attr::City, Op::Eq, "Redmond")
            ])
        );
        assert_eq!(
            compile(r#"emails[type eq "home"]"#).unwrap(),
            UserFilter::Not(Box::new(UserFilter::Present(Attr::Id)))
        );
        assert_eq!(compile(r#"emails[type eq "other"]"#).unwrap(), UserFilter::Present(Attr::AlternateEmail));
    }

    #[test]
    fn refuses_what_it_cannot_translate_exactly() {
        for (filter, fragment) in [
            (r#"nickName eq "x""#, "'nickName'"),
            (r#"emails[primary eq true]"#, "'emails.primary'"),
            (r#"emails.display pr"#, "'emails.display'"),
            (r#"urn:example:x:department pr"#, "'urn:example:x:department'"),
            (r#"emails[value sw "a" and value ew "z"]"#, "joined by 'and'"),
            (r#"emails[not (value co "a")]"#, "negated co"),
            (r#"active gt true"#, "only eq, ne and pr"),
            (r#"active eq "true""#, "true or false"),
            (r#"userName eq 1"#, "a string in double quotes"),
            (r#"meta.created co "2023""#, "supports eq, ne"),
            (r#"meta.created gt "yesterday""#, "RFC 3339"),
            (r#"meta.created gt "2023-11-14T22:13:20.0005Z""#, "millisecond"),
            (r#"title gt null"#, "only eq and ne"),
            (r#"id gt "ABC""#, "lower-case"),
            (r#"addresses co "x""#, "addresses.locality"),
            (r#"title[value pr]"#, "not a multi-valued attribute"),
        ] {
            let err = compile(filter).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidFilter"), "{filter}");
            assert!(err.detail.contains(fragment), "{filter}: {}", err.detail);
        }
    }

    const IDS: [&str; 3] = [
        "2819c223-7f76-453a-919d-413861904646",
        "00000000-0000-4000-8000-00000000000a",
        "ffffffff-ffff-4fff-bfff-ffffffffffff",
    ];
    const TIMES: [i64; 5] = [0, 500, 1_000, 86_400_000, 1_700_000_000_123];

    fn small() -> impl Strategy<Value = Option<String>> {
        prop::option::of("[aAbé]{0,2}")
    }

    fn phone() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![4 => "\\+1[0-2]{0,2}(x[0-9])?", 1 => Just(String::new())])
    }

    fn user_strategy() -> impl Strategy<Value = User> {
        let names = ("[ab]{1,2}@(x|y)\\.io", "[aAb ]{0,3}", small(), small(), small(), small());
        let phones = (phone(), phone(), phone(), phone());
        let address = (small(), small(), small(), small(), small());
        let alternates = prop::collection::vec("[ab]{0,2}(@(x|y)\\.io)?|[aAé@]{0,3}", 0..3);
        let rest = (alternates, any::<bool>(), prop::sample::select(&IDS[..]), prop::sample::select(&TIMES[..]));
        let manager = prop::option::of(prop::sample::select(&IDS[..]));
        let mail = prop::option::of("[ab]{1,2}@(x|y)\\.io");
        let organisation =
            (small(), mail, prop::option::of("[aAbB]{0,2}"), small(), small(), small(), small(), manager, small());
        (names, phones, address, rest, prop::sample::select(&TIMES[..]), organisation).prop_map(
            |(
                (username, display_name, first_name, last_name, job_title, department),
                (mobile_phone, office_phone, fax, alternate_mobile_phone),
                (street_address, city, state, postal_code, country),
                (alternate_emails, enabled, id, created),
                updated,
                (
                    office,
                    mail,
                    external_id,
                    employee_id,
                    cost_center,
                    preferred_language,
                    division,
                    manager,
                    formatted_name,
                ),
            )| User {
                id: id.parse::<UserId>().unwrap(),
                username: Username::parse(&username).unwrap(),
                contact: ContactInfo {
                    display_name,
                    first_name,
                    last_name,
                    job_title,
                    department,
                    office,
                    office_phone,
                    mobile_phone,
                    alternate_mobile_phone,
                    fax,
                    alternate_emails,
                    street_address,
                    city,
                    state,
                    postal_code,
                    country,
                    mail,
                    employee_id,
                    cost_center,
                    preferred_language,
                    division,
                    manager: manager.map(|m| m.parse().unwrap()),
                    company_name: None,
                    formatted_name,
                    locale: None,
                },
                roles: RoleSet::NONE,
                enabled,
                must_change_password: false,
                created_at: Timestamp(created),
                updated_at: Timestamp(updated),
                updated_by: "test".into(),
                version: 1,
                deleted_at: None,
                external_id,
            },
        )
    }

    fn strings(values: BoxedStrategy<String>) -> BoxedStrategy<CompValue> {
        prop_oneof![8 => values.prop_map(CompValue::String), 1 => Just(CompValue::Null)].boxed()
    }

    fn text_values() -> BoxedStrategy<CompValue> {
        strings("[aAbé@]{0,2}|[ab]{1,2}@(x|y)\\.io".boxed())
    }

    fn type_values() -> BoxedStrategy<CompValue> {
        strings(
            prop::sample::select(vec!["work", "other", "mobile", "fax", "WORK", "Other", "o", ""])
                .prop_map(String::from)
                .boxed(),
        )
    }

    fn phone_values() -> BoxedStrategy<CompValue> {
        strings("\\+?1?[0-2]{0,2}(x[0-9])?".boxed())
    }

    fn id_values() -> BoxedStrategy<CompValue> {
        let ids = IDS.iter().flat_map(|id| [id.to_string(), id.to_uppercase(), id[..4].to_string()]);
        let values: Vec<String> = ids.chain(["", "0", "F", "f"].map(String::from)).collect();
        strings(prop::sample::select(values).boxed())
    }

    fn time_values() -> BoxedStrategy<CompValue> {
        let mut values: Vec<String> = TIMES.iter().map(|&t| Timestamp(t).rfc3339()).collect();
        values.extend(
            ["1970-01-01T01:00:00.5+01:00", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:01.000Z"].map(String::from),
        );
        strings(prop::sample::select(values).boxed())
    }

    fn bool_values() -> BoxedStrategy<CompValue> {
        prop_oneof![4 => any::<bool>().prop_map(CompValue::Bool), 1 => Just(CompValue::Null)].boxed()
    }

    fn atoms(paths: &[&str], values: BoxedStrategy<CompValue>) -> BoxedStrategy<Filter> {
        let paths: Vec<AttrPath> = paths.iter().map(|p| parse_path(p).unwrap().attr).collect();
        let op = prop::option::weighted(0.85, prop::sample::select(CompareOp::ALL.to_vec()));
        (prop::sample::select(paths), op, values)
            .prop_map(|(path, op, value)| match op {
                Some(op) => Filter::Compare { path, op, value },
                None => Filter::Present(path),
            })
            .boxed()
    }

    fn logic(inner: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
        .boxed()
    }

    fn value_path(attr: &str, inner: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
        let path = AttrPath::new(attr);
        inner
            .prop_recursive(2, 6, 2, logic)
            .prop_map(move |filter| Filter::ValuePath { path: path.clone(), filter: Box::new(filter) })
            .boxed()
    }

    fn filter_strategy() -> impl Strategy<Value = Filter> {
        let text_paths = [
            "userName",
            "displayName",
            "name.formatted",
            "name.givenName",
            "NAME.FAMILYNAME",
            "title",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "externalId",
            "preferredLanguage",
            "addresses.formatted",
            "addresses.locality",
            "addresses.region",
            "addresses.postalCode",
            "addresses.country",
            "Addresses.StreetAddress",
            "emails",
            "emails.value",
        ];
        let leaf = prop_oneof![
            6 => atoms(&text_paths, text_values()),
            1 => atoms(&["id", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"], id_values()),
            1 => atoms(&["active"], bool_values()),
            2 => atoms(&["meta.created", "meta.lastModified"], time_values()),
            2 => atoms(&["emails.type", "phoneNumbers.type", "addresses.type", "addresses"], type_values()),
            2 => atoms(&["phoneNumbers", "phoneNumbers.value"], phone_values()),
            2 => value_path("emails", prop_oneof![
                atoms(&["type"], type_values()),
                atoms(&["value", "VALUE"], text_values()),
            ].boxed()),
            2 => value_path("phoneNumbers", prop_oneof![
                atoms(&["type"], type_values()),
                atoms(&["value"], phone_values()),
            ].boxed()),
            1 => value_path("addresses", prop_oneof![
                atoms(&["type"], type_values()),
                atoms(&["locality", "region", "postalCode", "country", "streetAddress", "formatted"], text_values()),
            ].boxed()),
        ];
        leaf.prop_recursive(3, 12, 2, logic)
    }

    proptest! {
        // Each case is cheap (no I/O, tiny values), and the corners this guards are narrow.
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn the_store_condition_selects_exactly_the_users_the_filter_matches(
            users in prop::collection::vec(user_strategy(), 8),
            filter in filter_strategy(),
        ) {
            if let Ok(condition) = user_filter(&filter) {
                for user in &users {
                    let scim = resource(user, LOCATION);
                    prop_assert_eq!(
                        condition.matches(user),
                        matches(&filter, &scim, &case_exact),
                        "filter {} compiled to {:?} on {}", filter, condition, scim
                    );
                }
            }
        }
    }

    #[test]
    fn empty_display_names_and_alternate_addresses_agree_too() {
        let user = User {
            contact: ContactInfo {
                display_name: String::new(),
                alternate_emails: vec![String::new(), "B@x.io".into()],
                ..ContactInfo::default()
            },
            ..minimal()
        };
        let only_empty = User {
            contact: ContactInfo { alternate_emails: vec![String::new()], ..ContactInfo::default() },
            ..minimal()
        };
        for filter in [
            "displayName pr",
            "name.formatted eq null",
            r#"displayName eq """#,
            r#"emails[type eq "other" and value pr]"#,
            r#"emails[type eq "other" and not (value pr)]"#,
            r#"emails[type eq "other" and value eq null]"#,
            r#"emails[type eq "other" and not (value eq "b@x.io")]"#,
            r#"emails[type eq "other"]"#,
            r#"emails.value ne "b@x.io""#,
        ] {
            let condition = compile(filter).unwrap();
            for u in [&user, &only_empty] {
                let scim = resource(u, LOCATION);
                assert_eq!(
                    condition.matches(u),
                    matches(&parse(filter).unwrap(), &scim, &case_exact),
                    "{filter} on {scim}"
                );
            }
        }
    }
}
