//! Graph's authentication methods of a user, `/v1.0/users/{id}/authentication/…`: the phone
//! methods (mobile, alternate mobile, office) and email methods are the user's contact fields,
//! changed through the same checks as the admin center's form; the software OATH method is
//! their authenticator app, which can be listed and removed but only set up by its owner.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_api::graph::methods::{
    all_methods, email_method, names_email_method, optional_string_property, parse_graph_phone, phone_method,
    software_oath_method, string_property, PhoneType, SOFTWARE_OATH_METHOD_ID,
};
use roster_api::graph::GraphError;
use roster_domain::contact::ContactInput;
use roster_domain::directory::ApiUserChange;
use roster_domain::{Actor, User};
use serde_json::{json, Value};

use crate::api::graph::{base_url, change_user, GraphCaller, GraphFailure, GraphJson, GraphResult};
use crate::api::openapi::{
    EmailMethodDoc, EmailMethodWriteDoc, GraphFailures, MethodKey, MethodListDoc, PhoneMethodDoc, PhoneMethodWriteDoc,
    SoftwareOathMethodDoc, UserKey,
};
use crate::extract::{Caller, ReadMethods, WriteMethods};
use crate::AppState;

pub(crate) fn collection(state: &AppState, key: &str, what: &str, value: Vec<Value>) -> Json<Value> {
    let base = base_url(state);
    Json(json!({
        "@odata.context": format!("{base}/v1.0/$metadata#users('{key}')/authentication/{what}"),
        "value": value,
    }))
}

pub(crate) fn not_found(what: &str) -> GraphFailure {
    GraphFailure::new(GraphError {
        status: 404,
        code: "itemNotFound",
        message: format!("The {what} was not found for this user."),
    })
}

fn conflict(message: &str) -> GraphFailure {
    GraphFailure::new(GraphError::bad_request(message))
}

/// The contact form of `user` with one phone changed.
fn with_phone(user: &User, kind: PhoneType, number: Option<String>) -> ApiUserChange {
    let mut contact: ContactInput = user.contact.to_input();
    let slot = match kind {
        PhoneType::Mobile => &mut contact.mobile_phone,
        PhoneType::AlternateMobile => &mut contact.alternate_mobile_phone,
        PhoneType::Office => &mut contact.office_phone,
    };
    *slot = number.unwrap_or_default();
    ApiUserChange { contact, ..ApiUserChange::default() }
}

/// `GET …/authentication/methods`: the password, phones, email addresses and authenticator app.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/methods",
    tag = "authentication methods",
    summary = "List a user's authentication methods",
    params(UserKey),
    responses((status = 200, description = "Password, phone, email and software OATH methods", body = MethodListDoc), GraphFailures)
)]
pub async fn list(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let has_password = state.directory.has_password(&actor, user.id).await?;
    let has_app = state.directory.has_authenticator_app(&actor, user.id).await?;
    let pass = state.directory.access_pass(&actor, user.id).await?;
    let passkeys = state.directory.passkeys_of(&actor, user.id).await?;
    let methods = all_methods(&user, has_password, has_app, pass.as_ref(), &passkeys);
    Ok(collection(&state, &key, "methods", methods).into_response())
}

/// `GET …/authentication/softwareOathMethods`: the authenticator app, if one is set up.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/softwareOathMethods",
    tag = "authentication methods",
    summary = "List software OATH methods (the authenticator app)",
    params(UserKey),
    responses((status = 200, description = "The authenticator app, or none", body = MethodListDoc), GraphFailures)
)]
pub async fn list_software_oath(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let apps = match state.directory.has_authenticator_app(&actor, user.id).await? {
        true => vec![software_oath_method()],
        false => Vec::new(),
    };
    Ok(collection(&state, &key, "softwareOathMethods", apps).into_response())
}

/// The user `key` names, if `id` names their authenticator app and they have one set up.
async fn with_app(state: &AppState, actor: &Actor, key: &str, id: &str) -> Result<User, GraphFailure> {
    let user = state.directory.user_by_key(actor, key).await?;
    let found = id.eq_ignore_ascii_case(SOFTWARE_OATH_METHOD_ID)
        && state.directory.has_authenticator_app(actor, user.id).await?;
    found.then_some(user).ok_or_else(|| not_found("software OATH method"))
}

/// `GET …/authentication/softwareOathMethods/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/softwareOathMethods/{id}",
    tag = "authentication methods",
    summary = "Get the software OATH method",
    params(MethodKey),
    responses((status = 200, description = "The authenticator app", body = SoftwareOathMethodDoc), GraphFailures)
)]
pub async fn get_software_oath(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    with_app(&state, &actor, &key, &id).await?;
    Ok(Json(software_oath_method()).into_response())
}

/// `DELETE …/authentication/softwareOathMethods/{id}`: 204; the user is told by email.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{key}/authentication/softwareOathMethods/{id}",
    tag = "authentication methods",
    summary = "Remove the authenticator app",
    params(MethodKey),
    responses((status = 204, description = "Removed"), GraphFailures)
)]
pub async fn delete_software_oath(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
) -> GraphResult {
    let user = with_app(&state, &actor, &key, &id).await?;
    state.directory.remove_authenticator_app(&actor, user.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/authentication/phoneMethods`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/phoneMethods",
    tag = "authentication methods",
    summary = "List phone methods",
    params(UserKey),
    responses((status = 200, description = "Phone methods", body = MethodListDoc), GraphFailures)
)]
pub async fn list_phones(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let phones = PhoneType::ALL.into_iter().filter_map(|k| k.of(&user).map(|n| phone_method(k, n))).collect();
    Ok(collection(&state, &key, "phoneMethods", phones).into_response())
}

/// `GET …/authentication/phoneMethods/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/phoneMethods/{id}",
    tag = "authentication methods",
    summary = "Get a phone method",
    params(MethodKey),
    responses((status = 200, description = "The phone method", body = PhoneMethodDoc), GraphFailures)
)]
pub async fn get_phone(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let kind = PhoneType::from_id(&id).ok_or_else(|| not_found("phone method"))?;
    let number = kind.of(&user).ok_or_else(|| not_found("phone method"))?;
    Ok(Json(phone_method(kind, number)).into_response())
}

/// `POST …/authentication/phoneMethods`: 201 with the method.
#[utoipa::path(
    post,
    path = "/v1.0/users/{key}/authentication/phoneMethods",
    tag = "authentication methods",
    summary = "Add a phone method",
    params(UserKey),
    request_body(content = PhoneMethodWriteDoc, content_type = "application/json"),
    responses((status = 201, description = "The new method", body = PhoneMethodDoc), GraphFailures)
)]
pub async fn add_phone(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
    body: GraphJson,
) -> GraphResult {
    let body = body.value()?;
    let number = parse_graph_phone(string_property(&body, "phoneNumber")?)?;
    let type_name = string_property(&body, "phoneType")?;
    let kind = PhoneType::from_name(type_name).ok_or_else(|| {
        GraphFailure::new(GraphError::bad_request(format!(
            "Invalid phoneType '{type_name}': use mobile, alternateMobile or office."
        )))
    })?;
    let user = change_user(&state, &actor, &key, |user| {
        if kind.of(user).is_some() {
            return Err(conflict(&format!(
                "The user already has a {} phone method; update it or delete it first.",
                kind.name()
            )));
        }
        if kind == PhoneType::AlternateMobile && user.contact.mobile_phone.is_none() {
            return Err(conflict("Add a mobile phone method before an alternateMobile one."));
        }
        Ok(with_phone(user, kind, Some(number.clone())))
    })
    .await?;
    let stored = kind.of(&user).unwrap_or_default();
    Ok((StatusCode::CREATED, Json(phone_method(kind, stored))).into_response())
}

/// `PATCH …/authentication/phoneMethods/{id}`: 204.
#[utoipa::path(
    patch,
    path = "/v1.0/users/{key}/authentication/phoneMethods/{id}",
    tag = "authentication methods",
    summary = "Change a phone method's number",
    params(MethodKey),
    request_body(content = PhoneMethodWriteDoc, content_type = "application/json"),
    responses((status = 204, description = "Updated"), GraphFailures)
)]
pub async fn update_phone(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
    body: GraphJson,
) -> GraphResult {
    let body = body.value()?;
    let kind = PhoneType::from_id(&id).ok_or_else(|| not_found("phone method"))?;
    if let Some(type_name) = optional_string_property(&body, "phoneType")? {
        if PhoneType::from_name(type_name) != Some(kind) {
            return Err(conflict("A phone method's type can't change: add a method of the new type instead."));
        }
    }
    let number = parse_graph_phone(string_property(&body, "phoneNumber")?)?;
    change_user(&state, &actor, &key, |user| {
        kind.of(user).ok_or_else(|| not_found("phone method"))?;
        Ok(with_phone(user, kind, Some(number.clone())))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE …/authentication/phoneMethods/{id}`: 204.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{key}/authentication/phoneMethods/{id}",
    tag = "authentication methods",
    summary = "Delete a phone method",
    params(MethodKey),
    responses((status = 204, description = "Deleted"), GraphFailures)
)]
pub async fn delete_phone(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
) -> GraphResult {
    let kind = PhoneType::from_id(&id).ok_or_else(|| not_found("phone method"))?;
    change_user(&state, &actor, &key, |user| {
        kind.of(user).ok_or_else(|| not_found("phone method"))?;
        if kind == PhoneType::Mobile && user.contact.alternate_mobile_phone.is_some() {
            return Err(conflict(
                "The mobile phone can't be deleted while an alternateMobile exists; update the mobile instead.",
            ));
        }
        Ok(with_phone(user, kind, None))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/authentication/emailMethods`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/emailMethods",
    tag = "authentication methods",
    summary = "List email methods",
    params(UserKey),
    responses((status = 200, description = "Email methods", body = MethodListDoc), GraphFailures)
)]
pub async fn list_emails(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let emails = user.contact.alternate_emails.iter().enumerate().map(|(i, a)| email_method(i, a)).collect();
    Ok(collection(&state, &key, "emailMethods", emails).into_response())
}

/// The position of the address whose method id is `id`.
fn email_position(user: &User, id: &str) -> Result<usize, GraphFailure> {
    user.contact
        .alternate_emails
        .iter()
        .enumerate()
        .position(|(i, a)| names_email_method(id, i, a))
        .ok_or_else(|| not_found("email method"))
}

/// `GET …/authentication/emailMethods/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{key}/authentication/emailMethods/{id}",
    tag = "authentication methods",
    summary = "Get an email method",
    params(MethodKey),
    responses((status = 200, description = "The email method", body = EmailMethodDoc), GraphFailures)
)]
pub async fn get_email(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<ReadMethods>,
) -> GraphResult {
    let user = state.directory.user_by_key(&actor, &key).await?;
    let at = email_position(&user, &id)?;
    Ok(Json(email_method(at, &user.contact.alternate_emails[at])).into_response())
}

/// The contact form of `user` with its alternate addresses changed by `edit`.
fn with_emails(user: &User, edit: impl FnOnce(&mut Vec<String>)) -> ApiUserChange {
    let mut contact = user.contact.to_input();
    edit(&mut contact.alternate_emails);
    ApiUserChange { contact, ..ApiUserChange::default() }
}

/// `POST …/authentication/emailMethods`: 201 with the method.
#[utoipa::path(
    post,
    path = "/v1.0/users/{key}/authentication/emailMethods",
    tag = "authentication methods",
    summary = "Add an email method",
    params(UserKey),
    request_body(content = EmailMethodWriteDoc, content_type = "application/json"),
    responses((status = 201, description = "The new method", body = EmailMethodDoc), GraphFailures)
)]
pub async fn add_email(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
    body: GraphJson,
) -> GraphResult {
    let body = body.value()?;
    let address = string_property(&body, "emailAddress")?.trim().to_string();
    let user = change_user(&state, &actor, &key, |user| {
        if user.contact.alternate_emails.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
            return Err(conflict("The user already has this email method."));
        }
        Ok(with_emails(user, |emails| emails.push(address.clone())))
    })
    .await?;
    let emails = &user.contact.alternate_emails;
    let at = emails.iter().position(|a| a.eq_ignore_ascii_case(&address)).unwrap_or(emails.len());
    let stored = emails.get(at).map_or(address.as_str(), String::as_str);
    Ok((StatusCode::CREATED, Json(email_method(at, stored))).into_response())
}

/// `PATCH …/authentication/emailMethods/{id}`: 204.
#[utoipa::path(
    patch,
    path = "/v1.0/users/{key}/authentication/emailMethods/{id}",
    tag = "authentication methods",
    summary = "Change an email method's address",
    params(MethodKey),
    request_body(content = EmailMethodWriteDoc, content_type = "application/json"),
    responses((status = 204, description = "Updated"), GraphFailures)
)]
pub async fn update_email(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
    body: GraphJson,
) -> GraphResult {
    let body = body.value()?;
    let address = string_property(&body, "emailAddress")?.trim().to_string();
    change_user(&state, &actor, &key, |user| {
        let at = email_position(user, &id)?;
        Ok(with_emails(user, |emails| emails[at] = address.clone()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE …/authentication/emailMethods/{id}`: 204.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{key}/authentication/emailMethods/{id}",
    tag = "authentication methods",
    summary = "Delete an email method",
    params(MethodKey),
    responses((status = 204, description = "Deleted"), GraphFailures)
)]
pub async fn delete_email(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Caller { actor, .. }: GraphCaller<WriteMethods>,
) -> GraphResult {
    change_user(&state, &actor, &key, |user| {
        let at = email_position(user, &id)?;
        Ok(with_emails(user, |emails| {
            emails.remove(at);
        }))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
