//! SCIM discovery documents (RFC 7643 §5–7, RFC 7644 §4): the service provider configuration,
//! the User resource type and the schemas of the attributes Roster serves.
//!
//! Every function takes the service's base URL, such as `https://roster.example.com/scim/v2`
//! (a trailing `/` is ignored), to write each document's `meta.location`.

use serde_json::{json, Map, Value};

use super::group::CORE_GROUP;
use super::user::{CORE_USER, ENTERPRISE_USER};

/// The schema URN of list responses.
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The schema URN of the service provider configuration.
const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// The schema URN of resource types.
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The schema URN of schema definitions.
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The most resources a query returns, as the service provider configuration announces it.
pub const MAX_RESULTS: usize = 1000;

/// An attribute's data type (RFC 7643 §2.3), limited to those Roster serves.
#[derive(Clone, Copy)]
enum Type {
    String,
    Boolean,
    DateTime,
    Complex,
    /// A `reference` to any URI, such as a `meta.location`.
    UriReference,
    /// A `reference` to resources of these types.
    Reference(&'static [&'static str]),
}

/// When an attribute may be changed (RFC 7643 §7 `mutability`).
#[derive(Clone, Copy)]
enum Mutability {
    ReadWrite,
    ReadOnly,
    WriteOnly,
    Immutable,
}

/// When an attribute appears in responses (RFC 7643 §7 `returned`).
#[derive(Clone, Copy)]
enum Returned {
    Default,
    Always,
    Never,
    Request,
}

/// An attribute definition (RFC 7643 §7), built with the `const` setters below so that the
/// tables read as one line per attribute.
#[derive(Clone, Copy)]
struct Attribute {
    name: &'static str,
    kind: Type,
    description: &'static str,
    multi_valued: bool,
    required: bool,
    case_exact: bool,
    mutability: Mutability,
    returned: Returned,
    /// Whether the server keeps values unique (`server`) rather than not at all (`none`).
    unique: bool,
    canonical_values: &'static [&'static str],
    sub_attributes: &'static [Attribute],
}

const fn attr(name: &'static str, kind: Type, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind,
        description,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        canonical_values: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    attr(name, Type::String, description)
}

const fn complex(name: &'static str, description: &'static str, sub_attributes: &'static [Attribute]) -> Attribute {
    Attribute { sub_attributes, ..attr(name, Type::Complex, description) }
}

impl Attribute {
    const fn multi_valued(self) -> Self {
        Attribute { multi_valued: true, ..self }
    }

    const fn required(self) -> Self {
        Attribute { required: true, ..self }
    }

    const fn case_exact(self) -> Self {
        Attribute { case_exact: true, ..self }
    }

    const fn mutability(self, mutability: Mutability) -> Self {
        Attribute { mutability, ..self }
    }

    const fn returned(self, returned: Returned) -> Self {
        Attribute { returned, ..self }
    }

    const fn unique(self) -> Self {
        Attribute { unique: true, ..self }
    }

    const fn canonical(self, canonical_values: &'static [&'static str]) -> Self {
        Attribute { canonical_values, ..self }
    }

    fn to_json(self) -> Value {
        let mut a = Map::new();
        a.insert("name".into(), json!(self.name));
        a.insert(
            "type".into(),
            json!(match self.kind {
                Type::String => "string",
                Type::Boolean => "boolean",
                Type::DateTime => "dateTime",
                Type::Complex => "complex",
                Type::UriReference | Type::Reference(_) => "reference",
            }),
        );
        a.insert("multiValued".into(), json!(self.multi_valued));
        a.insert("description".into(), json!(self.description));
        a.insert("required".into(), json!(self.required));
        a.insert("caseExact".into(), json!(self.case_exact));
        a.insert(
            "mutability".into(),
            json!(match self.mutability {
                Mutability::ReadWrite => "readWrite",
                Mutability::ReadOnly => "readOnly",
                Mutability::WriteOnly => "writeOnly",
                Mutability::Immutable => "immutable",
            }),
        );
        a.insert(
            "returned".into(),
            json!(match self.returned {
                Returned::Default => "default",
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Request => "request",
            }),
        );
        a.insert("uniqueness".into(), json!(if self.unique { "server" } else { "none" }));
        if !self.canonical_values.is_empty() {
            a.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        match self.kind {
            Type::UriReference => {
                a.insert("referenceTypes".into(), json!(["uri"]));
            }
            Type::Reference(types) => {
                a.insert("referenceTypes".into(), json!(types));
            }
            _ => {}
        }
        if !self.sub_attributes.is_empty() {
            a.insert("subAttributes".into(), self.sub_attributes.iter().map(|s| s.to_json()).collect());
        }
        Value::Object(a)
    }
}

/// The core User attributes, as `user::resource` writes them and `user::parse_resource` reads
/// them; `id` and `meta` are listed too, as clients look for their characteristics here.
const CORE_ATTRIBUTES: &[Attribute] = &[
    string("id", "Unique identifier of the user, issued by Roster.")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .unique(),
    string("externalId", "The provisioning client's identifier for the user, kept exactly as sent.").case_exact(),
    string("userName", "The user principal name the user signs in with.").required().unique(),
    complex(
        "name",
        "The components of the user's name.",
        &[
            string("formatted", "The full name, formatted as the client wants it shown (kept apart from displayName)."),
            string("familyName", "The family name, or last name."),
            string("givenName", "The given name, or first name."),
        ],
    ),
    // Every Roster user has both, so neither can be removed; a request that leaves one out gets
    // the name (or the username) as display name, and sign-in allowed.
    string("displayName", "The name of the user, suitable for display; without one, the name or else the userName.")
        .required(),
    string("title", "The user's job title."),
    string("preferredLanguage", "The user's preferred language, as a language tag such as en-US."),
    string("locale", "The user's locale, for formats of dates and numbers, as a language tag such as en-US."),
    attr("active", Type::Boolean, "Whether the user may sign in; true unless a request says otherwise.").required(),
    string("password", "The user's password, which may be set on create and replace; never returned.")
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never),
    complex(
        "emails",
        "Email addresses: the primary, work address (the userName unless another is set), and alternate addresses.",
        &[
            string("value", "The email address."),
            string("type", "\"work\" for the primary address, \"other\" for an alternate address.")
                .canonical(&["work", "other"]),
            attr("primary", Type::Boolean, "True for the work address, the user's primary one."),
        ],
    )
    .multi_valued(),
    complex(
        "phoneNumbers",
        "Phone numbers, at most one of each type.",
        &[
            string("value", "The phone number."),
            string(
                "type",
                "\"work\" for the office phone, \"mobile\", \"fax\", or \"other\" for the alternate mobile phone.",
            )
            .canonical(&["work", "mobile", "fax", "other"]),
        ],
    )
    .multi_valued(),
    complex(
        "addresses",
        "The user's work address (its parts), and the office location as the formatted address of type \"other\", where Entra ID's default mapping puts it. Any other address, or part, is refused.",
        &[
            string("type", "\"work\" for the work address, \"other\" for the office location.").canonical(&["work", "other"]),
            string("formatted", "The office location: only on the address of type \"other\"."),
            string("streetAddress", "The street address."),
            string("locality", "The city."),
            string("region", "The state or region."),
            string("postalCode", "The postal code."),
            string("country", "The country or region."),
        ],
    )
    .multi_valued(),
    complex(
        "groups",
        "The groups the user is in: directly, or through groups nested in them (indirect). Read-only: change membership through the Groups endpoint.",
        &[
            string("value", "The group's id.").case_exact().mutability(Mutability::ReadOnly),
            attr("$ref", Type::Reference(&["Group"]), "The group's URI.").case_exact().mutability(Mutability::ReadOnly),
            string("display", "The group's name.").mutability(Mutability::ReadOnly),
            string("type", "direct or indirect.").canonical(&["direct", "indirect"]).mutability(Mutability::ReadOnly),
        ],
    )
    .multi_valued()
    .mutability(Mutability::ReadOnly),
    complex(
        "meta",
        "Metadata of the resource.",
        &[
            string("resourceType", "The resource type, \"User\".").case_exact().mutability(Mutability::ReadOnly),
            attr("created", Type::DateTime, "When the user was created.").mutability(Mutability::ReadOnly),
            attr("lastModified", Type::DateTime, "When the user was last changed.").mutability(Mutability::ReadOnly),
            attr("location", Type::UriReference, "The URI of the resource, as in the Location header of its creation.")
                .case_exact()
                .mutability(Mutability::ReadOnly),
            string("version", "The weak entity tag of the resource's current version.")
                .case_exact()
                .mutability(Mutability::ReadOnly),
        ],
    )
    .mutability(Mutability::ReadOnly),
];

/// The enterprise extension's attributes that Roster keeps.
const ENTERPRISE_ATTRIBUTES: &[Attribute] = &[
    string(
        "employeeNumber",
        "The identifier the organization gives the user (Graph's employeeId), at most 16 characters.",
    ),
    string("costCenter", "The user's cost center."),
    string("organization", "The user's organization, as Graph's companyName."),
    string("division", "The user's division."),
    string("department", "The name of the user's department."),
    complex(
        "manager",
        "The user's manager, another user of the directory.",
        &[
            string("value", "The manager's id.").case_exact(),
            attr(
                "$ref",
                Type::Reference(&["User"]),
                "The manager's URI; a request may name the manager by it instead of by 'value'.",
            )
            .case_exact(),
        ],
    ),
];

/// The core Group schema's attributes that Roster keeps.
const GROUP_ATTRIBUTES: &[Attribute] = &[
    string("id", "The group's identifier, assigned by Roster.")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .unique(),
    string("externalId", "The provisioning client's identifier for the group.").case_exact(),
    string("displayName", "The group's name.").required(),
    complex(
        "members",
        "The users and groups in the group.",
        &[
            string("value", "The member's id.").case_exact().mutability(Mutability::Immutable),
            attr("$ref", Type::Reference(&["User", "Group"]), "The member's URI.")
                .case_exact()
                .mutability(Mutability::Immutable),
            string("display", "The member's name, returned when attributes asks for members.display.")
                .mutability(Mutability::ReadOnly)
                .returned(Returned::Request),
            string("type", "User or Group.").canonical(&["User", "Group"]).mutability(Mutability::Immutable),
        ],
    )
    .multi_valued(),
];

/// A schema definition: its URN (the id), name, description and attributes.
struct SchemaDef {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    attributes: &'static [Attribute],
}

const SCHEMAS: [SchemaDef; 3] = [
    SchemaDef { id: CORE_USER, name: "User", description: "User Account", attributes: CORE_ATTRIBUTES },
    SchemaDef {
        id: ENTERPRISE_USER,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: ENTERPRISE_ATTRIBUTES,
    },
    SchemaDef { id: CORE_GROUP, name: "Group", description: "Group", attributes: GROUP_ATTRIBUTES },
];

fn trimmed(base: &str) -> &str {
    base.trim_end_matches('/')
}

fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

/// The service provider configuration (RFC 7643 §5), served at `/ServiceProviderConfig`.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A bearer token from the client-credentials grant at /oauth2/v2.0/token, \
                            for an application registered in Roster",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", trimmed(base)),
        },
    })
}

/// The User resource type (RFC 7643 §6), served at `/ResourceTypes/User`.
pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/User", trimmed(base)),
        },
    })
}

/// The Group resource type, served at `/ResourceTypes/Group`.
pub fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": CORE_GROUP,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/Group", trimmed(base)),
        },
    })
}

/// All resource types as a list response, served at `/ResourceTypes`.
pub fn resource_types(base: &str) -> Value {
    list_response(vec![user_resource_type(base), group_resource_type(base)])
}

fn schema_json(base: &str, def: &SchemaDef) -> Value {
    json!({
        "schemas": [SCHEMA],
        "id": def.id,
        "name": def.name,
        "description": def.description,
        "attributes": def.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", trimmed(base), def.id),
        },
    })
}

/// All schemas (core User and the enterprise extension) as a list response, served at `/Schemas`.
pub fn schemas(base: &str) -> Value {
    list_response(SCHEMAS.iter().map(|def| schema_json(base, def)).collect())
}

/// The schema with URN `id` (ignoring case), served at `/Schemas/{id}`; `None` if Roster has no such schema.
pub fn schema(base: &str, id: &str) -> Option<Value> {
    SCHEMAS.iter().find(|def| def.id.eq_ignore_ascii_case(id)).map(|def| schema_json(base, def))
}

#[cfg(test)]
mod tests {
    use roster_domain::clock::Timestamp;
    use roster_domain::contact::ContactInfo;
    use roster_domain::role::RoleSet;
    use roster_domain::user::{User, Username};

    use super::*;
    use crate::scim::filter::AttrPath;
    use crate::scim::user::{case_exact, resource};

    const BASE: &str = "https://roster.example.com/scim/v2";

    fn full_user() -> User {
        User {
            id: "5f0c3a1e-8b7d-4c2a-9e61-0d4b2c7a9f13".parse().unwrap(),
            username: Username::parse("lidia.holloway@contoso.com").unwrap(),
            contact: ContactInfo {
                display_name: "Lidia Holloway".into(),
                first_name: Some("Lidia".into()),
                last_name: Some("Holloway".into()),
                job_title: Some("Product Manager".into()),
                department: Some("Engineering".into()),
                office: Some("20/1101".into()),
                office_phone: Some("+14255550110".into()),
                mobile_phone: Some("+14255550111".into()),
                alternate_mobile_phone: Some("+14255550112".into()),
                fax: Some("+14255550113".into()),
                alternate_emails: vec!["lidia@fabrikam.com".into(), "lh@litware.com".into()],
                street_address: Some("2 Contoso Plaza".into()),
                city: Some("Bellevue".into()),
                state: Some("WA".into()),
                postal_code: Some("98004".into()),
                country: Some("United States".into()),
                employee_id: Some("701984".into()),
                cost_center: Some("CC-7".into()),
                preferred_language: Some("en-US".into()),
                manager: Some("2819c223-7f76-453a-919d-413861904646".parse().unwrap()),
                ..ContactInfo::default()
            },
            roles: RoleSet::NONE,
            enabled: false,
            must_change_password: true,
            created_at: Timestamp(1_700_000_000_000),
            updated_at: Timestamp(1_700_000_100_250),
            updated_by: "test".into(),
            version: 7,
            deleted_at: None,
            external_id: None,
        }
    }

    fn attributes(schema: &Value) -> &[Value] {
        schema["attributes"].as_array().unwrap()
    }

    fn find<'a>(attributes: &'a [Value], name: &str) -> &'a Value {
        attributes.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("'{name}' is not described"))
    }

    fn core() -> Value {
        schema(BASE, CORE_USER).unwrap()
    }

    #[test]
    fn the_service_provider_configuration_has_every_required_member() {
        let config = service_provider_config(BASE);
        assert_eq!(config["schemas"], json!([SERVICE_PROVIDER_CONFIG]));
        for feature in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
            assert!(config[feature]["supported"].is_boolean(), "{feature}");
        }
        assert_eq!(config["bulk"], json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0}));
        assert_eq!(config["filter"], json!({"supported": true, "maxResults": 1000}));
        let schemes = config["authenticationSchemes"].as_array().unwrap();
        assert_eq!(schemes.len(), 1);
        for member in ["type", "name", "description"] {
            assert!(schemes[0][member].is_string(), "{member}");
        }
        assert_eq!(schemes[0]["type"], "oauthbearertoken");
        assert!(config.get("documentationUri").is_none());
        assert_eq!(
            config["meta"],
            json!({"resourceType": "ServiceProviderConfig", "location": format!("{BASE}/ServiceProviderConfig")})
        );
    }

    #[test]
    fn the_user_resource_type_names_its_endpoint_schema_and_extension() {
        let list = resource_types(&format!("{BASE}/"));
        assert_eq!(list["schemas"], json!([LIST_RESPONSE]));
        assert_eq!(
            (&list["totalResults"], &list["itemsPerPage"], &list["startIndex"]),
            (&json!(2), &json!(2), &json!(1))
        );
        assert_eq!(list["Resources"][1]["endpoint"], "/Groups");
        assert_eq!(list["Resources"][1]["schema"], CORE_GROUP);
        let user = &list["Resources"][0];
        assert_eq!(user, &user_resource_type(BASE));
        assert_eq!(user["schemas"], json!([RESOURCE_TYPE]));
        assert_eq!((&user["id"], &user["name"], &user["endpoint"]), (&json!("User"), &json!("User"), &json!("/Users")));
        assert_eq!(user["schema"], CORE_USER);
        assert_eq!(user["schemaExtensions"], json!([{"schema": ENTERPRISE_USER, "required": false}]));
        assert_eq!(user["meta"]["location"], format!("{BASE}/ResourceTypes/User"));
        assert_eq!(user["meta"]["resourceType"], "ResourceType");
    }

    #[test]
    fn schemas_are_listed_and_found_by_urn() {
        let list = schemas(BASE);
        assert_eq!(list["totalResults"], 3);
        let ids: Vec<&Value> = list["Resources"].as_array().unwrap().iter().map(|s| &s["id"]).collect();
        assert_eq!(ids, [CORE_USER, ENTERPRISE_USER, CORE_GROUP]);
        for id in [CORE_USER, ENTERPRISE_USER, CORE_GROUP] {
            let s = schema(BASE, id).unwrap();
            assert_eq!(s["schemas"], json!([SCHEMA]));
            assert_eq!(s["meta"], json!({"resourceType": "Schema", "location": format!("{BASE}/Schemas/{id}")}));
            assert_eq!(schema(BASE, &id.to_uppercase()), Some(s));
        }
        assert_eq!(schema(BASE, "urn:ietf:params:scim:schemas:core:2.0:Device"), None);
        assert_eq!(schema(BASE, "User"), None);
    }

    fn check_characteristics(a: &Value) {
        let name = a["name"].as_str().unwrap();
        assert!(a["description"].as_str().is_some_and(|d| !d.is_empty()), "{name}");
        for flag in ["multiValued", "required", "caseExact"] {
            assert!(a[flag].is_boolean(), "{name}.{flag}");
        }
        let one_of = |member: &str, allowed: &[&str]| {
            assert!(allowed.contains(&a[member].as_str().unwrap_or_default()), "{name}.{member}: {}", a[member]);
        };
        one_of("type", &["string", "boolean", "complex", "dateTime", "reference"]);
        one_of("mutability", &["readWrite", "readOnly", "immutable", "writeOnly"]);
        one_of("returned", &["default", "always", "never", "request"]);
        one_of("uniqueness", &["none", "server", "global"]);
        assert_eq!(a["type"] == "complex", a.get("subAttributes").is_some(), "{name}");
        assert_eq!(a["type"] == "reference", a.get("referenceTypes").is_some(), "{name}");
        for sub in a.get("subAttributes").and_then(Value::as_array).into_iter().flatten() {
            assert_ne!(sub["type"], "complex", "{name}: complex attributes can't nest");
            check_characteristics(sub);
        }
    }

    #[test]
    fn attributes_have_the_characteristics_rfc_7643_defines() {
        for s in [core(), schema(BASE, ENTERPRISE_USER).unwrap()] {
            for a in attributes(&s) {
                check_characteristics(a);
            }
        }
        let core = core();
        let user_name = find(attributes(&core), "userName");
        assert_eq!((&user_name["required"], &user_name["uniqueness"]), (&json!(true), &json!("server")));
        assert_eq!(user_name["caseExact"], false);
        let id = find(attributes(&core), "id");
        assert_eq!(
            (&id["mutability"], &id["returned"], &id["caseExact"]),
            (&json!("readOnly"), &json!("always"), &json!(true))
        );
        let password = find(attributes(&core), "password");
        assert_eq!((&password["mutability"], &password["returned"]), (&json!("writeOnly"), &json!("never")));
        assert_eq!(find(attributes(&core), "meta")["mutability"], "readOnly");
        let phone_type = find(find(attributes(&core), "phoneNumbers")["subAttributes"].as_array().unwrap(), "type");
        assert_eq!(phone_type["canonicalValues"], json!(["work", "mobile", "fax", "other"]));
        assert!(phone_type["description"].as_str().unwrap().contains("\"other\" for the alternate mobile phone"));
    }

    /// Checks that every member of `value` is described by `attribute` with a fitting type.
    fn check_described(path: &str, attribute: &Value, value: &Value) {
        let values = match value {
            Value::Array(values) => {
                assert_eq!(attribute["multiValued"], true, "{path}");
                values.iter().collect()
            }
            single => {
                assert_eq!(attribute["multiValued"], false, "{path}");
                vec![single]
            }
        };
        for v in values {
            match v {
                Value::Object(members) => {
                    assert_eq!(attribute["type"], "complex", "{path}");
                    let subs = attribute["subAttributes"].as_array().unwrap();
                    for (key, member) in members {
                        check_described(&format!("{path}.{key}"), find(subs, key), member);
                    }
                }
                Value::Bool(_) => assert_eq!(attribute["type"], "boolean", "{path}"),
                Value::String(s) => {
                    assert!(
                        ["string", "dateTime", "reference"].contains(&attribute["type"].as_str().unwrap()),
                        "{path}"
                    );
                    if let Some(canonical) = attribute.get("canonicalValues") {
                        assert!(canonical.as_array().unwrap().contains(&json!(s)), "{path}: {s}");
                    }
                }
                other => panic!("{path}: unexpected {other}"),
            }
        }
    }

    #[test]
    fn the_schemas_describe_everything_a_user_resource_holds() {
        let location = format!("{BASE}/Users/5f0c3a1e-8b7d-4c2a-9e61-0d4b2c7a9f13");
        let r = resource(&full_user(), &location);
        let core = core();
        let enterprise = schema(BASE, ENTERPRISE_USER).unwrap();
        for (key, value) in r.as_object().unwrap() {
            match key.as_str() {
                "schemas" => {}
                ENTERPRISE_USER => {
                    for (inner, v) in value.as_object().unwrap() {
                        check_described(inner, find(attributes(&enterprise), inner), v);
                    }
                }
                _ => check_described(key, find(attributes(&core), key), value),
            }
        }
        for key in ["phoneNumbers", "addresses", ENTERPRISE_USER, "title"] {
            assert!(r.get(key).is_some(), "the sample user should exercise '{key}'");
        }
    }

    #[test]
    fn case_exactness_agrees_with_how_filters_compare() {
        let core = core();
        for a in attributes(&core) {
            let subs = a.get("subAttributes").and_then(Value::as_array);
            let paths: Vec<(AttrPath, &Value)> = match subs {
                None => vec![(AttrPath::new(a["name"].as_str().unwrap()), a)],
                Some(subs) => subs
                    .iter()
                    .map(|s| {
                        let path = AttrPath {
                            sub_attr: Some(s["name"].as_str().unwrap().into()),
                            ..AttrPath::new(a["name"].as_str().unwrap())
                        };
                        (path, s)
                    })
                    .collect(),
            };
            for (path, described) in paths {
                // User filters refuse meta.resourceType, so how they would compare it doesn't matter.
                if path.is("meta", Some("resourceType")) {
                    continue;
                }
                assert_eq!(described["caseExact"], case_exact(&path), "{path}");
            }
        }
    }
}
