//! The OpenAPI 3.1 document of the Graph-compatible API, served at `/openapi.json`.
//!
//! The router registers the Graph routes through utoipa's `OpenApiRouter`, so an operation is
//! in the document exactly when it is routed. Response and request shapes are built here from
//! the same property list the API writes users with.

use std::borrow::Cow;
use std::collections::BTreeMap;

use roster_api::graph::user::PROPERTIES;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::security::{ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required};
use utoipa::{IntoParams, IntoResponses, Modify, PartialSchema, ToSchema};

/// The document's fixed parts: title, description, tags and how to authenticate.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Roster: Microsoft Graph v1.0-compatible API",
        description = "Users and their authentication methods, with Graph's paths, query options, \
                       property names and error body. Get a token from /oauth2/v2.0/token with an \
                       application's client id and secret. docs/api.md lists every deviation from Graph."
    ),
    components(schemas(GraphErrorDoc)),
    modifiers(&Security),
    tags(
        (name = "users", description = "Users, as Graph's user resource"),
        (name = "authentication methods", description = "Phone and email methods: the users' contact fields"),
        (name = "groups", description = "Security groups, their members and owners, and the groups users are in"),
    ),
    security(("oauth2" = []), ("bearer" = []))
)]
pub struct GraphApi;

/// Bearer tokens from the client-credentials grant.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::ClientCredentials(ClientCredentials::new(
                "/oauth2/v2.0/token",
                Scopes::new(),
            ))])),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn text() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable_text() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

fn texts() -> ArrayBuilder {
    ArrayBuilder::new().items(text())
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The type Graph gives each user property.
fn property_schema(name: &str) -> RefOr<Schema> {
    match name {
        "id" | "userPrincipalName" | "displayName" => text().into(),
        "businessPhones" | "otherMails" => texts().into(),
        "accountEnabled" => ObjectBuilder::new().schema_type(Type::Boolean).into(),
        "createdDateTime" => text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).into(),
        _ => nullable_text().into(),
    }
}

/// Declares an uninhabited type whose only role is to name a schema in the document.
macro_rules! schema_type {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $build:expr) => {
        $(#[$doc])*
        pub enum $ty {}

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $build
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

schema_type!(
    /// A user, as `GET /v1.0/users/{id}` returns it.
    UserDoc,
    "User",
    PROPERTIES
        .iter()
        .fold(ObjectBuilder::new().required("id"), |o, p| o.property(*p, property_schema(p)))
        .into()
);

schema_type!(
    /// A page of users.
    UserListDoc,
    "UserList",
    ObjectBuilder::new()
        .property("@odata.context", text())
        .property("@odata.count", ObjectBuilder::new().schema_type(Type::Integer))
        .property("@odata.nextLink", text().description(Some("Follow until absent; carries an opaque $skiptoken")))
        .property("value", ArrayBuilder::new().items(reference("User")))
        .required("value")
        .into()
);

/// The longest value each writable text property takes: the directory's limits, which the
/// server checks after trimming spaces from either end.
fn max_length(property: &str) -> Option<usize> {
    Some(match property {
        "displayName" => 256,
        "givenName" | "surname" | "department" => 64,
        "jobTitle" | "officeLocation" | "city" | "state" | "country" => 128,
        "streetAddress" => 1024,
        "postalCode" => 40,
        "mobilePhone" | "faxNumber" => 64,
        "userPrincipalName" => 113,
        _ => return None,
    })
}

/// A writable property's schema: what the server takes, `null` included where it clears.
fn write_schema(property: &str) -> RefOr<Schema> {
    let nullable_array = || SchemaType::from_iter([Type::Array, Type::Null]);
    match property {
        "displayName" | "userPrincipalName" => text().min_length(Some(1)).max_length(max_length(property)).into(),
        "businessPhones" => ArrayBuilder::new()
            .schema_type(nullable_array())
            .items(text().max_length(Some(64)))
            .max_items(Some(1))
            .into(),
        "otherMails" => ArrayBuilder::new()
            .schema_type(nullable_array())
            .items(text().max_length(Some(roster_domain::email::MAX_LEN)))
            .max_items(Some(roster_domain::contact::MAX_ALTERNATE_EMAILS))
            .into(),
        "accountEnabled" => ObjectBuilder::new().schema_type(Type::Boolean).into(),
        _ => nullable_text().max_length(max_length(property)).into(),
    }
}

/// The body of a user write: the properties the server takes and nothing else (OData
/// annotations such as `@odata.type` aside, which describe a body and change nothing).
fn user_write(creating: bool) -> RefOr<Schema> {
    let writable: Vec<&str> = PROPERTIES
        .iter()
        .copied()
        .filter(|p| !matches!(*p, "id" | "mail" | "createdDateTime" | "preferredLanguage"))
        .filter(|p| creating || *p != "userPrincipalName")
        .collect();
    let mut names: Vec<&str> = writable.clone();
    names.extend(["mailNickname", "passwordProfile", "preferredLanguage"]);
    let known = text().enum_values(Some(names));
    let annotation = text().pattern(Some("^@odata\\."));
    let mut body = writable
        .iter()
        .fold(ObjectBuilder::new(), |o, p| o.property(*p, write_schema(p)))
        .property(
            "mailNickname",
            nullable_text().max_length(Some(64)).description(Some("Accepted and ignored: Roster has no mailboxes")),
        )
        .property(
            "preferredLanguage",
            ObjectBuilder::new().schema_type(Type::Null).description(Some("Only null: Roster keeps no language")),
        )
        .property(
            "passwordProfile",
            ObjectBuilder::new()
                .property("password", text())
                .property("forceChangePasswordNextSignIn", ObjectBuilder::new().schema_type(Type::Boolean))
                .property(
                    "forceChangePasswordNextSignInWithMfa",
                    ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([false])),
                )
                .required("password")
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        )
        .property_names(Some(AnyOfBuilder::new().item(known).item(annotation)));
    if creating {
        for required in ["accountEnabled", "displayName", "passwordProfile", "userPrincipalName"] {
            body = body.required(required);
        }
    }
    body.into()
}

schema_type!(
    /// The body of `POST /v1.0/users`.
    UserCreateDoc,
    "UserCreate",
    user_write(true)
);

schema_type!(
    /// The body of `PATCH /v1.0/users/{id}`: the userPrincipalName can't change.
    UserUpdateDoc,
    "UserUpdate",
    user_write(false)
);

schema_type!(
    /// Graph's error body.
    GraphErrorDoc,
    "GraphError",
    ObjectBuilder::new()
        .property(
            "error",
            ObjectBuilder::new()
                .property("code", text().description(Some("e.g. Request_BadRequest, Authorization_RequestDenied")))
                .property("message", text())
                .property(
                    "details",
                    ArrayBuilder::new().items(
                        ObjectBuilder::new().property("code", text()).property("target", text()).property("message", text()),
                    ),
                )
                .property(
                    "innerError",
                    ObjectBuilder::new()
                        .property("date", text())
                        .property("request-id", text())
                        .property("client-request-id", text()),
                )
                .required("code")
                .required("message"),
        )
        .required("error")
        .into()
);

schema_type!(
    /// A phone authentication method.
    PhoneMethodDoc,
    "PhoneAuthenticationMethod",
    ObjectBuilder::new()
        .property("@odata.type", text())
        .property("id", text().description(Some("Graph's fixed id for the phone type")))
        .property("phoneNumber", text().description(Some("+{country code} {number}[x{extension}]")))
        .property(
            "phoneType",
            text().enum_values(Some(["mobile", "alternateMobile", "office"])),
        )
        .property("smsSignInState", text())
        .required("phoneNumber")
        .into()
);

schema_type!(
    /// The body that adds or changes a phone method.
    PhoneMethodWriteDoc,
    "PhoneAuthenticationMethodWrite",
    ObjectBuilder::new()
        .property(
            "phoneNumber",
            text()
                .pattern(Some("^\\s*\\+[0-9]{1,3} [0-9]{1,15}([xX][0-9]{1,10})?\\s*$"))
                .description(Some("+{country code} {number}[x{extension}]")),
        )
        .property(
            "phoneType",
            text()
                .enum_values(Some(["mobile", "alternateMobile", "office"]))
                .description(Some("Required to add; to change, only the method's own type")),
        )
        .required("phoneNumber")
        .into()
);

schema_type!(
    /// The body that adds or changes an email method.
    EmailMethodWriteDoc,
    "EmailAuthenticationMethodWrite",
    ObjectBuilder::new()
        .property(
            "emailAddress",
            text().pattern(Some("\\S")).max_length(Some(roster_domain::email::MAX_LEN)).format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))),
        )
        .required("emailAddress")
        .into()
);

schema_type!(
    /// An email authentication method.
    EmailMethodDoc,
    "EmailAuthenticationMethod",
    ObjectBuilder::new()
        .property("@odata.type", text())
        .property("id", text())
        .property("emailAddress", text().format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))))
        .required("emailAddress")
        .into()
);

schema_type!(
    /// The authenticator app as a software OATH method.
    SoftwareOathMethodDoc,
    "SoftwareOathAuthenticationMethod",
    ObjectBuilder::new()
        .property("@odata.type", text())
        .property("id", text().description(Some("Roster's fixed id for a user's one authenticator app")))
        .property("secretKey", text().description(Some("Always null: the secret is never shown")))
        .into()
);

schema_type!(
    /// A Temporary Access Pass as Graph's `temporaryAccessPassAuthenticationMethod`.
    AccessPassMethodDoc,
    "TemporaryAccessPassAuthenticationMethod",
    ObjectBuilder::new()
        .property("@odata.type", text())
        .property("id", text())
        .property("temporaryAccessPass", nullable_text().description(Some("The pass itself: only in the answer that created it")))
        .property("createdDateTime", text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .property("startDateTime", text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .property("lifetimeInMinutes", ObjectBuilder::new().schema_type(Type::Integer))
        .property("isUsableOnce", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("isUsable", ObjectBuilder::new().schema_type(Type::Boolean))
        .property(
            "methodUsabilityReason",
            text().enum_values(Some(["EnabledByPolicy", "DisabledByPolicy", "Expired", "NotYetValid", "OneTimeUsed"])),
        )
        .into()
);

schema_type!(
    /// What a new Temporary Access Pass may ask for; the policy decides what is left out.
    AccessPassWriteDoc,
    "TemporaryAccessPassAuthenticationMethodWrite",
    ObjectBuilder::new()
        .property("startDateTime", text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .property(
            "lifetimeInMinutes",
            ObjectBuilder::new().schema_type(Type::Integer).description(Some("Within the policy's minimum and maximum")),
        )
        .property("isUsableOnce", ObjectBuilder::new().schema_type(Type::Boolean))
        .into()
);

schema_type!(
    /// A passkey as Graph's `fido2AuthenticationMethod`.
    Fido2MethodDoc,
    "Fido2AuthenticationMethod",
    ObjectBuilder::new()
        .property("@odata.type", text())
        .property("id", text())
        .property("displayName", text())
        .property("createdDateTime", text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .property("aaGuid", text().description(Some("The authenticator's model id; all zeros when it gave none")))
        .property("model", text())
        .property("attestationCertificates", texts())
        .property("attestationLevel", text().enum_values(Some(["attested", "notAttested"])))
        .into()
);

schema_type!(
    /// A list of authentication methods.
    MethodListDoc,
    "AuthenticationMethodList",
    ObjectBuilder::new()
        .property("@odata.context", text())
        .property(
            "value",
            ArrayBuilder::new().items(
                ObjectBuilder::new()
                    .property("@odata.type", text())
                    .property("id", text())
                    .additional_properties(Some(AdditionalProperties::FreeForm(true))),
            ),
        )
        .required("value")
        .into()
);

/// The type Graph gives each group property.
fn group_property_schema(name: &str) -> RefOr<Schema> {
    match name {
        "id" | "displayName" | "mailNickname" => text().into(),
        "mailEnabled" | "securityEnabled" => ObjectBuilder::new().schema_type(Type::Boolean).into(),
        "groupTypes" => texts().into(),
        "createdDateTime" => text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).into(),
        "deletedDateTime" => nullable_text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).into(),
        _ => nullable_text().into(),
    }
}

schema_type!(
    /// A group, as `GET /v1.0/groups/{id}` returns it.
    GroupDoc,
    "Group",
    roster_api::graph::group::PROPERTIES
        .iter()
        .fold(ObjectBuilder::new().property("@odata.type", text()).required("id"), |o, p| {
            o.property(*p, group_property_schema(p))
        })
        .into()
);

schema_type!(
    /// A page of groups.
    GroupListDoc,
    "GroupList",
    ObjectBuilder::new()
        .property("@odata.context", text())
        .property("@odata.count", ObjectBuilder::new().schema_type(Type::Integer))
        .property("@odata.nextLink", text().description(Some("Follow until absent; carries an opaque $skiptoken")))
        .property("value", ArrayBuilder::new().items(reference("Group")))
        .required("value")
        .into()
);

schema_type!(
    /// A page of users and groups (members, owners, memberOf).
    DirectoryObjectListDoc,
    "DirectoryObjectList",
    ObjectBuilder::new()
        .property("@odata.context", text())
        .property("@odata.nextLink", text())
        .property(
            "value",
            ArrayBuilder::new().items(
                ObjectBuilder::new()
                    .property("@odata.type", text())
                    .property("id", text())
                    .property("displayName", text())
                    .required("id")
                    .additional_properties(Some(AdditionalProperties::FreeForm(true))),
            ),
        )
        .required("value")
        .into()
);

/// A reference URL to a user or group, as `@odata.id` and `@odata.bind` take it.
fn object_url() -> ObjectBuilder {
    text().pattern(Some(
        "(directoryObjects|users|groups)/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/?\\s*$",
    ))
}

schema_type!(
    /// The body of `POST …/members/$ref`.
    ReferenceDoc,
    "Reference",
    ObjectBuilder::new()
        .property("@odata.id", object_url().description(Some("…/directoryObjects/{id}, …/users/{id} or …/groups/{id}")))
        .required("@odata.id")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
);

/// The body of a group write: what the server takes and nothing else.
fn group_write(creating: bool) -> RefOr<Schema> {
    let binds = || ArrayBuilder::new().items(object_url()).max_items(Some(roster_api::graph::group::MAX_BINDS));
    let nickname = text()
        .min_length(Some(1))
        .max_length(Some(roster_domain::group::MAX_NICKNAME_CHARS))
        .pattern(Some("^[!#-'*-+\\--9=?A-Z^-~]+$"));
    let mut body = ObjectBuilder::new()
        .property(
            "displayName",
            text().pattern(Some("\\S")).max_length(Some(roster_domain::group::MAX_DISPLAY_NAME_CHARS)),
        )
        .property("description", nullable_text().max_length(Some(roster_domain::group::MAX_DESCRIPTION_CHARS)))
        .property("mailNickname", nickname)
        .property("mailEnabled", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([false])))
        .property("securityEnabled", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([true])))
        .property("groupTypes", ArrayBuilder::new().items(text()).max_items(Some(0)))
        .property("members@odata.bind", binds())
        .property("@odata.type", text().enum_values(Some(["#microsoft.graph.group", "microsoft.graph.group"])))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    if creating {
        body = body.property("owners@odata.bind", binds());
        for required in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
            body = body.required(required);
        }
    }
    body.into()
}

schema_type!(
    /// The body of `POST /v1.0/groups`.
    GroupCreateDoc,
    "GroupCreate",
    group_write(true)
);

schema_type!(
    /// The body of `PATCH /v1.0/groups/{id}`.
    GroupUpdateDoc,
    "GroupUpdate",
    group_write(false)
);

/// `{group}`: a group.
pub enum GroupKey {}

impl IntoParams for GroupKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_parameter("group", "The group's id")]
    }
}

/// `{group}` and `{member}`: a group and one of its members or owners.
pub enum MemberKey {}

impl IntoParams for MemberKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_parameter("group", "The group's id"), path_parameter("member", "The member's or owner's id")]
    }
}

fn query_parameter(name: &str, description: &str, schema: ObjectBuilder) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn top_parameter() -> Parameter {
    query_parameter(
        "$top",
        "Page size, 1 to 999 (100 by default)",
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(999)),
    )
}

/// `$top` and `$skiptoken`, for member lists.
pub enum PageOptions {}

impl IntoParams for PageOptions {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![top_parameter(), query_parameter("$skiptoken", "From @odata.nextLink; opaque", text())]
    }
}

/// The query options of `GET /v1.0/groups`.
pub enum GroupListOptions {}

impl IntoParams for GroupListOptions {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let orderby =
            format!("^\\s*({}(\\s+({}|{}))?)?\\s*$", any_case("displayName"), any_case("asc"), any_case("desc"));
        vec![
            top_parameter(),
            query_parameter("$select", "Properties to return, comma-separated", text()),
            query_parameter(
                "$filter",
                "One clause: displayName, mailNickname or id eq '…', or startswith(displayName|mailNickname, '…')",
                text(),
            ),
            query_parameter("$orderby", "displayName, asc or desc", text().pattern(Some(orderby))),
            query_parameter(
                "$count",
                "Add @odata.count (needs ConsistencyLevel: eventual)",
                ObjectBuilder::new().schema_type(Type::Boolean),
            ),
            query_parameter("$search", "\"displayName:text\" or \"mailNickname:text\", matched at the start", text()),
            query_parameter("$skiptoken", "From @odata.nextLink; opaque", text()),
            ParameterBuilder::new()
                .name("ConsistencyLevel")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("eventual, for $search and $count"))
                .schema(Some(text()))
                .build(),
        ]
    }
}

/// The failures every Graph operation may answer, each with Graph's error body.
pub enum GraphFailures {}

impl IntoResponses for GraphFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Bad request: a value, query option or body Graph would refuse"),
            ("401", "No valid access token"),
            ("403", "The application lacks the permission, or the user is out of its reach"),
            ("404", "No such user or method"),
            ("409", "The user kept being changed by others while the request ran (Directory_ConcurrencyViolation): send it again"),
            ("413", "The request body is larger than the server accepts"),
            ("415", "The request body is not JSON"),
            ("429", "Too many requests"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", Content::new(Some(reference("GraphError"))))
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
    }
}

fn path_parameter(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(text()))
        .build()
}

/// `{key}`: a user by id or userPrincipalName.
pub enum UserKey {}

impl IntoParams for UserKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_parameter("key", "The user's id or userPrincipalName")]
    }
}

/// `{key}` and `{id}`: a user and one of their methods.
pub enum MethodKey {}

impl IntoParams for MethodKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            path_parameter("key", "The user's id or userPrincipalName"),
            path_parameter("id", "The method's id (fixed per phone type; for email, Graph's fixed id for the first address, derived from the address for the others)"),
        ]
    }
}

/// A regular expression for `word` in any case, as the server matches names (JSON Schema's
/// patterns have no flag for it).
fn any_case(word: &str) -> String {
    word.chars().map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())).collect()
}

/// The query options of `GET /v1.0/users`, with the ranges the server keeps to.
pub enum ListOptions {}

impl IntoParams for ListOptions {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let query = |name: &str, description: &str, schema: ObjectBuilder| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build()
        };
        let orderby = format!(
            "^\\s*(({}|{})(\\s+({}|{}))?)?\\s*$",
            any_case("displayName"),
            any_case("userPrincipalName"),
            any_case("asc"),
            any_case("desc")
        );
        vec![
            query(
                "$top",
                "Page size, 1 to 999 (100 by default)",
                ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(999)),
            ),
            query("$select", "Properties to return, comma-separated", text()),
            query("$filter", "OData filter: eq, ne, startswith, endswith, in, ge, le, and, or, not, any()", text()),
            query("$orderby", "displayName or userPrincipalName, asc or desc", text().pattern(Some(orderby))),
            query(
                "$count",
                "Add @odata.count (needs ConsistencyLevel: eventual)",
                ObjectBuilder::new().schema_type(Type::Boolean),
            ),
            query("$search", "\"displayName:text\" clauses joined by OR or AND", text()),
            query("$skiptoken", "From @odata.nextLink; opaque", text()),
            ParameterBuilder::new()
                .name("ConsistencyLevel")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("eventual, for advanced queries"))
                .schema(Some(text()))
                .build(),
        ]
    }
}
