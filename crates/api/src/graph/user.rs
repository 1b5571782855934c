//! Users in Graph's JSON shape, and Graph's create and update bodies in Roster's terms.
//!
//! Only the JSON shape and types are checked here; `ContactInput::validate` checks the values
//! and names the fields, which [`field_to_property`] turns into Graph's property names.

use roster_domain::contact::{ContactInfo, ContactInput};
use roster_domain::phone::with_country_code_apart;
use roster_domain::user::User;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use super::query::Select;
use super::GraphError;

/// Every property [`GraphUser`] can write, in Graph's spelling.
pub const PROPERTIES: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "officeLocation",
    "businessPhones",
    "mobilePhone",
    "faxNumber",
    "otherMails",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
    "accountEnabled",
    "createdDateTime",
    "preferredLanguage",
    "employeeId",
    "companyName",
    "employeeOrgData",
    "proxyAddresses",
];

/// Properties a request body may hold besides those of [`PROPERTIES`].
const BODY_ONLY: &[&str] = &["passwordProfile", "mailNickname"];

/// A password set through Graph's `passwordProfile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordProfile {
    /// The new password, unchecked.
    pub password: String,
    /// Whether the user must choose a new password at next sign-in; `true` when not given.
    pub force_change_password_next_sign_in: bool,
}

/// What a `PATCH /v1.0/users/{id}` body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphPatch {
    /// The user's contact information with the body's properties applied, unvalidated.
    pub contact: ContactInput,
    /// A new `accountEnabled`, if given.
    pub account_enabled: Option<bool>,
    /// A new password, if given.
    pub password: Option<PasswordProfile>,
    /// A new `userPrincipalName`, which renames the user, if given.
    pub username: Option<String>,
}

/// What a `POST /v1.0/users` body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphCreate {
    /// The `userPrincipalName` as sent, for `Username::parse`.
    pub username: String,
    /// The contact information given, unvalidated.
    pub contact: ContactInput,
    /// Whether sign-in is allowed.
    pub account_enabled: bool,
    /// The initial password.
    pub password: PasswordProfile,
}

/// A user as Graph returns it: `id` and the selected properties, unset ones as `null`. It
/// serialises straight into the response, borrowing from the user: a page of a thousand users
/// builds no map or value per user.
pub struct GraphUser<'a> {
    /// The user written.
    pub user: &'a User,
    /// The properties asked for.
    pub select: &'a Select,
}

impl Serialize for GraphUser<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for &name in PROPERTIES.iter().filter(|p| self.select.includes(p)) {
            write_property(&mut map, self.user, name)?;
        }
        map.end()
    }
}

fn write_property<M: SerializeMap>(map: &mut M, user: &User, name: &'static str) -> Result<(), M::Error> {
    let c = &user.contact;
    let phone = |v: &Option<String>| v.as_deref().map(display_phone);
    match name {
        "id" => map.serialize_entry(name, &user.id.to_string()),
        "userPrincipalName" => map.serialize_entry(name, user.username.as_str()),
        "mail" => map.serialize_entry(name, user.mail()),
        // Graph's form: the primary address marked by upper-case `SMTP:`, then the others.
        "proxyAddresses" => {
            let mail = user.mail();
            let mut addresses = vec![format!("SMTP:{mail}")];
            if mail != user.username.as_str() {
                addresses.push(format!("smtp:{}", user.username));
            }
            map.serialize_entry(name, &addresses)
        }
        "displayName" => map.serialize_entry(name, &c.display_name),
        "givenName" => map.serialize_entry(name, &c.first_name),
        "surname" => map.serialize_entry(name, &c.last_name),
        "jobTitle" => map.serialize_entry(name, &c.job_title),
        "department" => map.serialize_entry(name, &c.department),
        "officeLocation" => map.serialize_entry(name, &c.office),
        "businessPhones" => map.serialize_entry(name, &c.office_phone.as_deref().map(display_phone).as_slice()),
        "mobilePhone" => map.serialize_entry(name, &phone(&c.mobile_phone)),
        "faxNumber" => map.serialize_entry(name, &phone(&c.fax)),
        "otherMails" => map.serialize_entry(name, &c.alternate_emails),
        "streetAddress" => map.serialize_entry(name, &c.street_address),
        "city" => map.serialize_entry(name, &c.city),
        "state" => map.serialize_entry(name, &c.state),
        "postalCode" => map.serialize_entry(name, &c.postal_code),
        "country" => map.serialize_entry(name, &c.country),
        "accountEnabled" => map.serialize_entry(name, &user.enabled),
        "createdDateTime" => map.serialize_entry(name, &user.created_at.rfc3339()),
        "preferredLanguage" => map.serialize_entry(name, &c.preferred_language),
        "employeeId" => map.serialize_entry(name, &c.employee_id),
        "companyName" => map.serialize_entry(name, &c.company_name),
        "employeeOrgData" if c.cost_center.is_none() && c.division.is_none() => map.serialize_entry(name, &()),
        "employeeOrgData" => {
            map.serialize_entry(name, &EmployeeOrgData { cost_center: &c.cost_center, division: &c.division })
        }
        _ => map.serialize_entry(name, &()),
    }
}

/// Graph's `employeeOrgData`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmployeeOrgData<'a> {
    cost_center: &'a Option<String>,
    division: &'a Option<String>,
}

/// A stored phone number as the directory shows it to SSPR and Graph's phone methods:
/// `+1 4255550101`, the country code set apart.
fn display_phone(stored: &str) -> String {
    with_country_code_apart(stored)
}

/// Reads a PATCH body: `current` with the properties present overlaid (`null` or `""` clears).
pub fn apply_patch(current: &ContactInfo, body: &Value) -> Result<GraphPatch, GraphError> {
    let mut contact = current.to_input();
    let read = read_body(body, &mut contact)?;
    Ok(GraphPatch { contact, account_enabled: read.account_enabled, password: read.password, username: read.username })
}

/// Reads a POST body; `mailNickname` is accepted and ignored, as Roster has no mailboxes.
pub fn parse_create(body: &Value) -> Result<GraphCreate, GraphError> {
    let mut contact = ContactInput::default();
    let read = read_body(body, &mut contact)?;
    let missing =
        |name: &str| GraphError::bad_request(format!("A value is required for property '{name}' of resource 'User'."));
    let account_enabled = read.account_enabled.ok_or_else(|| missing("accountEnabled"))?;
    if !read.display_name {
        return Err(missing("displayName"));
    }
    let password = read.password.ok_or_else(|| missing("passwordProfile"))?;
    let username = read.username.ok_or_else(|| missing("userPrincipalName"))?;
    Ok(GraphCreate { username, contact, account_enabled, password })
}

/// The Graph property a domain validation error's field stands for.
pub fn field_to_property(field: &str) -> &str {
    match field {
        "display_name" => "displayName",
        "first_name" => "givenName",
        "last_name" => "surname",
        "job_title" => "jobTitle",
        "department" => "department",
        "office" => "officeLocation",
        "office_phone" => "businessPhones",
        "mobile_phone" => "mobilePhone",
        // Graph's user has no second mobile number; this name is Roster's own.
        "alternate_mobile_phone" => "alternateMobilePhone",
        "fax" => "faxNumber",
        "street_address" => "streetAddress",
        "city" => "city",
        "state" => "state",
        "postal_code" => "postalCode",
        "country" => "country",
        "mail" => "mail",
        "employee_id" => "employeeId",
        "company_name" => "companyName",
        "cost_center" => "employeeOrgData.costCenter",
        "division" => "employeeOrgData.division",
        "preferred_language" => "preferredLanguage",
        "username" => "userPrincipalName",
        "password" => "passwordProfile",
        f if f.starts_with("alternate_email") => "otherMails",
        other => other,
    }
}

/// What a body holds besides contact information.
#[derive(Default)]
struct BodyRest {
    username: Option<String>,
    account_enabled: Option<bool>,
    password: Option<PasswordProfile>,
    display_name: bool,
}

fn read_body(body: &Value, contact: &mut ContactInput) -> Result<BodyRest, GraphError> {
    let Value::Object(object) = body else {
        return Err(GraphError::bad_request("The request body must be a JSON object of user properties."));
    };
    let mut rest = BodyRest::default();
    for (name, value) in object {
        // Annotations such as "@odata.type" describe the body rather than change the user.
        if name.starts_with("@odata.") {
            continue;
        }
        let Some(&property) = PROPERTIES.iter().chain(BODY_ONLY).find(|p| p.eq_ignore_ascii_case(name)) else {
            return Err(GraphError::bad_request(format!("Invalid property '{name}'.")));
        };
        let field = match property {
            "displayName" => {
                rest.display_name = !value.is_null();
                &mut contact.display_name
            }
            "givenName" => &mut contact.first_name,
            "surname" => &mut contact.last_name,
            "jobTitle" => &mut contact.job_title,
            "department" => &mut contact.department,
            "officeLocation" => &mut contact.office,
            "mobilePhone" => &mut contact.mobile_phone,
            "faxNumber" => &mut contact.fax,
            "streetAddress" => &mut contact.street_address,
            "city" => &mut contact.city,
            "state" => &mut contact.state,
            "postalCode" => &mut contact.postal_code,
            "country" => &mut contact.country,
            "mail" => &mut contact.mail,
            "employeeId" => &mut contact.employee_id,
            "companyName" => &mut contact.company_name,
            "preferredLanguage" => &mut contact.preferred_language,
            "employeeOrgData" => {
                org_data(value, contact)?;
                continue;
            }
            "businessPhones" => {
                contact.office_phone = match strings(property, value)?.as_mut_slice() {
                    [] => String::new(),
                    [one] => std::mem::take(one),
                    _ => {
                        return Err(GraphError::bad_request(
                            "Property 'businessPhones' can hold only one number in this directory.",
                        ))
                    }
                };
                continue;
            }
            "otherMails" => {
                contact.alternate_emails = strings(property, value)?;
                continue;
            }
            "accountEnabled" => {
                rest.account_enabled = Some(boolean(property, value)?);
                continue;
            }
            "passwordProfile" => {
                rest.password = Some(password_profile(value)?);
                continue;
            }
            "userPrincipalName" => {
                rest.username = Some(string(property, value)?).filter(|_| !value.is_null());
                continue;
            }
            "mailNickname" => {
                string(property, value)?;
                continue;
            }
            _ => return Err(GraphError::bad_request(format!("Property '{property}' is read-only."))),
        };
        *field = string(property, value)?;
    }
    Ok(rest)
}

fn type_error(property: &str, value: &Value, expected: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value for property '{property}': cannot convert the literal '{value}' to the expected type \
         '{expected}'."
    ))
}

/// A string property's value, `null` meaning none.
fn string(property: &str, value: &Value) -> Result<String, GraphError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        other => Err(type_error(property, other, "Edm.String")),
    }
}

/// A string collection's values, `null` meaning none.
fn strings(property: &str, value: &Value) -> Result<Vec<String>, GraphError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(|| type_error(property, item, "Edm.String")))
            .collect(),
        other => Err(type_error(property, other, "Collection(Edm.String)")),
    }
}

fn boolean(property: &str, value: &Value) -> Result<bool, GraphError> {
    value.as_bool().ok_or_else(|| type_error(property, value, "Edm.Boolean"))
}

/// `employeeOrgData`: `costCenter` and `division`, each replaced when present; `null` clears both.
fn org_data(value: &Value, contact: &mut ContactInput) -> Result<(), GraphError> {
    let object = match value {
        Value::Null => {
            contact.cost_center.clear();
            contact.division.clear();
            return Ok(());
        }
        Value::Object(object) => object,
        other => return Err(type_error("employeeOrgData", other, "microsoft.graph.employeeOrgData")),
    };
    for (name, value) in object {
        let property = format!("employeeOrgData.{name}");
        if name.eq_ignore_ascii_case("costCenter") {
            contact.cost_center = string(&property, value)?;
        } else if name.eq_ignore_ascii_case("division") {
            contact.division = string(&property, value)?;
        } else if !name.starts_with("@odata.") {
            return Err(GraphError::bad_request(format!("Invalid property '{property}'.")));
        }
    }
    Ok(())
}

fn password_profile(value: &Value) -> Result<PasswordProfile, GraphError> {
    let Value::Object(object) = value else {
        return Err(type_error("passwordProfile", value, "microsoft.graph.passwordProfile"));
    };
    let mut password = None;
    let mut force_change = true;
    for (name, value) in object {
        let property = format!("passwordProfile.{name}");
        if name.eq_ignore_ascii_case("password") {
            password = Some(value.as_str().ok_or_else(|| type_error(&property, value, "Edm.String"))?.to_string());
        } else if name.eq_ignore_ascii_case("forceChangePasswordNextSignIn") {
            force_change = boolean(&property, value)?;
        } else if name.eq_ignore_ascii_case("forceChangePasswordNextSignInWithMfa") {
            if boolean(&property, value)? {
                return Err(GraphError::bad_request(format!("Setting '{property}' to true is not supported.")));
            }
        } else {
            return Err(GraphError::bad_request(format!("Invalid property '{property}'.")));
        }
    }
    let password = password.ok_or_else(|| {
        GraphError::bad_request("A value is required for property 'password' of resource 'passwordProfile'.")
    })?;
    Ok(PasswordProfile { password, force_change_password_next_sign_in: force_change })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::query::parse_select;
    use roster_domain::clock::Timestamp;
    use roster_domain::role::RoleSet;
    use roster_domain::user::{UserId, Username};
    use serde_json::json;

    fn contact() -> ContactInfo {
        ContactInfo {
            display_name: "Adele Vance".into(),
            first_name: Some("Adele".into()),
            office_phone: Some("+14255550101x12".into()),
            mobile_phone: Some("+442079460958".into()),
            alternate_mobile_phone: Some("+447911123456".into()),
            alternate_emails: vec!["adele@fabrikam.com".into()],
            city: Some("Redmond".into()),
            ..ContactInfo::default()
        }
    }

    fn user() -> User {
        User {
            id: "6e9f1a3c-0000-4000-8000-000000000001".parse::<UserId>().unwrap(),
            username: Username::parse("adele.vance@contoso.com").unwrap(),
            contact: contact(),
            roles: RoleSet::NONE,
            enabled: true,
            must_change_password: false,
            created_at: Timestamp(1_704_067_200_000),
            updated_at: Timestamp(1_704_067_200_000),
            updated_by: "test".into(),
            version: 1,
            deleted_at: None,
            external_id: None,
        }
    }

    /// A user as a response writes it.
    fn user_json(user: &User, select: &Select) -> Value {
        serde_json::to_value(GraphUser { user, select }).unwrap()
    }

    fn bad(result: Result<impl std::fmt::Debug, GraphError>) -> String {
        let e = result.unwrap_err();
        assert_eq!((e.status, e.code), (400, "Request_BadRequest"));
        e.message
    }

    #[test]
    fn writes_graphs_default_properties() {
        let json = user_json(&user(), &Select::default());
        assert_eq!(
            json,
            json!({
                "id": "6e9f1a3c-0000-4000-8000-000000000001",
                "businessPhones": [display_phone("+14255550101x12")],
                "displayName": "Adele Vance",
                "givenName": "Adele",
                "jobTitle": null,
                "mail": "adele.vance@contoso.com",
                "mobilePhone": "+44 2079460958",
                "officeLocation": null,
                "preferredLanguage": null,
                "surname": null,
                "userPrincipalName": "adele.vance@contoso.com",
            })
        );
        assert!(display_phone("+14255550101x12").starts_with("+1 425"));
    }

    #[test]
    fn writes_only_selected_properties_and_id() {
        let select = parse_select(Some("otherMails,accountEnabled,createdDateTime,faxNumber")).unwrap();
        let json = user_json(&user(), &select);
        assert_eq!(
            json,
            json!({
                "id": "6e9f1a3c-0000-4000-8000-000000000001",
                "otherMails": ["adele@fabrikam.com"],
                "accountEnabled": true,
                "createdDateTime": "2024-01-01T00:00:00Z",
                "faxNumber": null,
            })
        );
        let mut none = user();
        none.contact.office_phone = None;
        let select = parse_select(Some("businessPhones")).unwrap();
        assert_eq!(user_json(&none, &select)["businessPhones"], json!([]));
    }

    #[test]
    fn every_property_is_written() {
        let all = parse_select(Some(&PROPERTIES.join(","))).unwrap();
        assert_eq!(user_json(&user(), &all).as_object().unwrap().len(), PROPERTIES.len());
        let mut organised = user();
        organised.contact.cost_center = Some("CC-12".into());
        let json = user_json(&organised, &all);
        assert_eq!(json["employeeOrgData"], json!({ "costCenter": "CC-12", "division": null }));
        assert_eq!(json["proxyAddresses"], json!(["SMTP:adele.vance@contoso.com"]));
        assert_eq!(user_json(&user(), &all)["employeeOrgData"], Value::Null);
    }

    #[test]
    fn patch_overlays_only_the_properties_present() {
        let body = json!({
            "@odata.type": "#microsoft.graph.user",
            "JobTitle": "Engineer",
            "city": null,
            "givenName": "",
            "businessPhones": ["+1 425 555 0199"],
            "otherMails": ["a@example.com", "b@example.com"],
            "accountEnabled": false,
            "preferredLanguage": null,
        });
        let patch = apply_patch(&contact(), &body).unwrap();
        let mut wanted = contact().to_input();
        wanted.job_title = "Engineer".into();
        wanted.city = String::new();
        wanted.first_name = String::new();
        wanted.office_phone = "+1 425 555 0199".into();
        wanted.alternate_emails = vec!["a@example.com".into(), "b@example.com".into()];
        assert_eq!(patch, GraphPatch { contact: wanted, account_enabled: Some(false), password: None, username: None });
        let renamed = apply_patch(&contact(), &json!({"userPrincipalName": "adele@contoso.com"})).unwrap();
        assert_eq!(renamed.username.as_deref(), Some("adele@contoso.com"));
        assert_eq!(patch.contact.alternate_mobile_phone, contact().to_input().alternate_mobile_phone);

        let cleared = apply_patch(&contact(), &json!({"businessPhones": [], "otherMails": null})).unwrap();
        assert_eq!((cleared.contact.office_phone.as_str(), cleared.contact.alternate_emails.len()), ("", 0));
        assert_eq!(apply_patch(&contact(), &json!({})).unwrap().contact, contact().to_input());
    }

    #[test]
    fn patch_reads_a_password_profile() {
        let patch = apply_patch(
            &contact(),
            &json!({"passwordProfile": {"password": "s3cret!", "forceChangePasswordNextSignIn": false}}),
        );
        assert_eq!(
            patch.unwrap().password,
            Some(PasswordProfile { password: "s3cret!".into(), force_change_password_next_sign_in: false })
        );
        let defaulted = apply_patch(&contact(), &json!({"passwordProfile": {"password": "x"}})).unwrap();
        assert!(defaulted.password.unwrap().force_change_password_next_sign_in);
        assert!(bad(apply_patch(&contact(), &json!({"passwordProfile": {}}))).contains("'password'"));
        assert!(bad(apply_patch(&contact(), &json!({"passwordProfile": {"password": "x", "hint": 1}})))
            .contains("Invalid property 'passwordProfile.hint'"));
        let mfa = json!({"passwordProfile": {"password": "x", "forceChangePasswordNextSignInWithMfa": true}});
        assert!(bad(apply_patch(&contact(), &mfa)).contains("not supported"));
    }

    #[test]
    fn patch_refuses_read_only_and_unknown_properties() {
        for name in ["id", "createdDateTime", "proxyAddresses"] {
            let message = bad(apply_patch(&contact(), &json!({ name: "x" })));
            assert_eq!(message, format!("Property '{name}' is read-only."));
        }
        assert_eq!(
            bad(apply_patch(&contact(), &json!({"employeeOrgData": {"costCentre": "1"}}))),
            "Invalid property 'employeeOrgData.costCentre'."
        );
        assert_eq!(bad(apply_patch(&contact(), &json!({"usageLocation": "US"}))), "Invalid property 'usageLocation'.");
        assert!(bad(apply_patch(&contact(), &json!(["displayName"]))).contains("JSON object"));
    }

    #[test]
    fn patch_refuses_wrong_json_types_naming_the_property() {
        let cases = [
            (json!({"displayName": 5}), "'displayName'", "Edm.String"),
            (json!({"accountEnabled": "true"}), "'accountEnabled'", "Edm.Boolean"),
            (json!({"accountEnabled": null}), "'accountEnabled'", "Edm.Boolean"),
            (json!({"otherMails": "a@b.com"}), "'otherMails'", "Collection(Edm.String)"),
            (json!({"otherMails": [1]}), "'otherMails'", "Edm.String"),
            (json!({"businessPhones": "+1 425 555 0101"}), "'businessPhones'", "Collection(Edm.String)"),
            (json!({"passwordProfile": "x"}), "'passwordProfile'", "passwordProfile"),
            (json!({"passwordProfile": {"password": 1}}), "'passwordProfile.password'", "Edm.String"),
        ];
        for (body, property, expected) in cases {
            let message = bad(apply_patch(&contact(), &body));
            assert!(message.contains(property) && message.contains(expected), "{body}: {message}");
        }
        assert!(bad(apply_patch(&contact(), &json!({"businessPhones": ["a", "b"]}))).contains("only one"));
    }

    #[test]
    fn create_needs_graphs_required_properties() {
        let body = json!({
            "accountEnabled": true,
            "displayName": "Adele Vance",
            "mailNickname": "AdeleV",
            "userPrincipalName": "AdeleV@contoso.com",
            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"},
            "mobilePhone": "+1 425 555 0101",
        });
        let create = parse_create(&body).unwrap();
        assert_eq!(create.username, "AdeleV@contoso.com");
        assert!(create.account_enabled);
        assert_eq!(create.password.password, "xWwvJ]6NMw+bWH-d");
        assert_eq!(
            create.contact,
            ContactInput {
                display_name: "Adele Vance".into(),
                mobile_phone: "+1 425 555 0101".into(),
                ..ContactInput::default()
            }
        );
        for name in ["accountEnabled", "displayName", "userPrincipalName", "passwordProfile"] {
            let mut partial = body.clone();
            partial.as_object_mut().unwrap().remove(name);
            assert_eq!(
                bad(parse_create(&partial)),
                format!("A value is required for property '{name}' of resource 'User'.")
            );
        }
        let mut null_name = body.clone();
        null_name["displayName"] = Value::Null;
        assert!(bad(parse_create(&null_name)).contains("'displayName'"));
        let mut with_id = body;
        with_id["id"] = json!("x");
        assert_eq!(bad(parse_create(&with_id)), "Property 'id' is read-only.");
    }

    #[test]
    fn maps_domain_fields_to_graph_properties() {
        assert_eq!(field_to_property("display_name"), "displayName");
        assert_eq!(field_to_property("office_phone"), "businessPhones");
        assert_eq!(field_to_property("alternate_email.3"), "otherMails");
        assert_eq!(field_to_property("alternate_mobile_phone"), "alternateMobilePhone");
        assert_eq!(field_to_property("username"), "userPrincipalName");
        assert_eq!(field_to_property("password"), "passwordProfile");
        assert_eq!(field_to_property("something_else"), "something_else");
    }
}
