//! Adding users, assigning roles, and blocking, deleting or restoring an account.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::{DomainError, FieldError, NewUserInput, Role, RoleSet};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::session::{Admin, SignedIn};
use crate::ui::form::{password_hint, summary, CsrfForm, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::users::parse_id;
use crate::AppState;

/// A role checkbox.
pub struct RoleChoice {
    pub slug: &'static str,
    pub name: &'static str,
    pub checked: bool,
}

fn role_choices(roles: RoleSet) -> Vec<RoleChoice> {
    Role::ALL
        .into_iter()
        .map(|r| RoleChoice { slug: r.slug(), name: r.display_name(), checked: roles.contains(r) })
        .collect()
}

fn parse_roles(slugs: &[String]) -> RoleSet {
    RoleSet::of(&slugs.iter().filter_map(|s| Role::from_slug(s)).collect::<Vec<_>>())
}

#[derive(Template)]
#[template(path = "admin/new_user.html")]
struct NewUserPage {
    layout: Layout,
    fields: Vec<Field>,
    errors: Vec<SummaryItem>,
    problem: Option<String>,
    generate: bool,
    must_change: bool,
    roles: Vec<RoleChoice>,
    can_assign_roles: bool,
    password_hint: String,
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password_choice: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    must_change: Option<String>,
    #[serde(default)]
    role: Vec<String>,
}

fn new_user_page(
    me: &SignedIn,
    form: &NewUserForm,
    errors: &[FieldError],
    fresh: bool,
    min_length: usize,
) -> NewUserPage {
    let fields = vec![
        Field::text("username", "Username", &form.username)
            .kind("email")
            .hint("The sign-in name, such as alex.wilber@contoso.com.")
            .required()
            .with_errors(errors),
        Field::text("display_name", "Display name", &form.display_name).required().with_errors(errors),
        Field::text("first_name", "First name", &form.first_name).with_errors(errors),
        Field::text("last_name", "Last name", &form.last_name).with_errors(errors),
    ];
    NewUserPage {
        layout: Layout::new(me, "Add a user", Section::ActiveUsers),
        fields,
        errors: summary(errors),
        problem: None,
        generate: fresh || form.password_choice != "typed",
        must_change: fresh || form.must_change.is_some(),
        roles: role_choices(parse_roles(&form.role)),
        can_assign_roles: me.user.roles.contains(Role::GlobalAdministrator),
        password_hint: password_hint(min_length),
    }
}

/// The add-user form.
pub async fn show_new(Admin(me): Admin, State(state): State<AppState>) -> Result<Response, PageError> {
    let min_length = state.directory.min_password_length().await?;
    Ok(render(StatusCode::OK, &new_user_page(&me, &NewUserForm::default(), &[], true, min_length)))
}

#[derive(Template)]
#[template(path = "admin/user_created.html")]
struct UserCreatedPage {
    layout: Layout,
    id: String,
    username: String,
    display_name: String,
    password: Option<String>,
    must_change: bool,
}

/// Creates the user and shows a generated password once.
pub async fn create(
    Admin(me): Admin,
    State(state): State<AppState>,
    Form(form): Form<NewUserForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    let input = NewUserInput {
        username: form.username.clone(),
        display_name: form.display_name.clone(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        password: (form.password_choice == "typed").then(|| form.password.clone()),
        must_change_password: form.must_change.is_some(),
        roles: parse_roles(&form.role),
    };
    let min_length = state.directory.min_password_length().await?;
    match state.directory.create_user(&me.actor, input).await {
        Ok((user, password)) => {
            let page = UserCreatedPage {
                layout: Layout::new(&me, "User added", Section::ActiveUsers),
                id: user.id.to_string(),
                username: user.username.to_string(),
                display_name: user.contact.display_name.clone(),
                password,
                must_change: user.must_change_password,
            };
            Ok(render(StatusCode::CREATED, &page))
        }
        Err(DomainError::Invalid(errors)) => {
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &new_user_page(&me, &form, &errors, false, min_length)))
        }
        Err(DomainError::UsernameTaken(name)) => {
            let errors = [FieldError::new("username", format!("The username {name} is already in use."))];
            Ok(render(StatusCode::CONFLICT, &new_user_page(&me, &form, &errors, false, min_length)))
        }
        Err(e @ DomainError::Forbidden(_)) => {
            let (status, message) = describe(&e);
            let mut page = new_user_page(&me, &form, &[], false, min_length);
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    version: i64,
    roles: Vec<RoleChoice>,
    problem: Option<String>,
}

fn roles_page(me: &SignedIn, user: &roster_domain::User, version: i64, roles: RoleSet) -> RolesPage {
    RolesPage {
        layout: Layout::new(me, format!("Manage roles – {}", user.contact.display_name), Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        version,
        roles: role_choices(roles),
        problem: None,
    }
}

/// The manage-roles form (Global Administrators only).
pub async fn show_roles(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, parse_id(&id)?).await?;
    me.require(roster_domain::permission::Permission::AssignRoles, user.roles)?;
    Ok(render(StatusCode::OK, &roles_page(&me, &user, user.version, user.roles)))
}

#[derive(Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    role: Vec<String>,
}

/// Saves the roles.
pub async fn save_roles(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<RolesForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let roles = parse_roles(&form.role);
    match state.directory.set_roles(&me.actor, id, form.version, roles).await {
        Ok(user) => Ok(Redirect::to(&format!("/admin/users/{}?saved=roles", user.id)).into_response()),
        Err(e @ (DomainError::Forbidden(_) | DomainError::VersionConflict { .. })) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let (status, message) = describe(&e);
            let mut page = roles_page(&me, &user, form.version, roles);
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct StateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

/// Blocks or allows sign-in, deletes or restores.
pub async fn change_state(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<StateForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let d = &state.directory;
    let target = match form.action.as_str() {
        "block" => d.set_enabled(&me.actor, id, false).await.map(|u| format!("/admin/users/{}?saved=blocked", u.id)),
        "allow" => d.set_enabled(&me.actor, id, true).await.map(|u| format!("/admin/users/{}?saved=allowed", u.id)),
        "delete" => d.delete_user(&me.actor, id).await.map(|_| "/admin/users?status=deleted".to_string()),
        "restore" => d.restore_user(&me.actor, id).await.map(|u| format!("/admin/users/{}?saved=restored", u.id)),
        _ => Err(DomainError::invalid("action", "Choose block, allow, delete or restore.")),
    }?;
    Ok(Redirect::to(&target).into_response())
}

#[derive(Template)]
#[template(path = "admin/reset_password.html")]
struct ResetPasswordPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    username: String,
    generate: bool,
    must_change: bool,
    errors: Vec<SummaryItem>,
    problem: Option<String>,
    password_hint: String,
}

fn reset_page(
    me: &SignedIn,
    user: &roster_domain::User,
    form: Option<&ResetForm>,
    min_length: usize,
) -> ResetPasswordPage {
    ResetPasswordPage {
        layout: Layout::new(me, format!("Reset password – {}", user.contact.display_name), Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        username: user.username.to_string(),
        generate: form.is_none_or(|f| f.password_choice != "typed"),
        must_change: form.is_none_or(|f| f.must_change.is_some()),
        errors: Vec::new(),
        problem: None,
        password_hint: password_hint(min_length),
    }
}

/// The reset-password form.
pub async fn show_reset(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, parse_id(&id)?).await?;
    me.require(roster_domain::permission::Permission::ResetPassword, user.roles)?;
    let min_length = state.directory.min_password_length().await?;
    Ok(render(StatusCode::OK, &reset_page(&me, &user, None, min_length)))
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password_choice: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    must_change: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/password_was_reset.html")]
struct PasswordWasResetPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    username: String,
    password: Option<String>,
    must_change: bool,
}

/// Resets the password and shows a generated one once.
pub async fn reset(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let typed = (form.password_choice == "typed").then(|| form.password.clone());
    let must_change = form.must_change.is_some();
    match state.directory.reset_password(&me.actor, id, typed, must_change).await {
        Ok(password) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let page = PasswordWasResetPage {
                layout: Layout::new(&me, "Password reset", Section::ActiveUsers),
                user_id: user.id.to_string(),
                display_name: user.contact.display_name.clone(),
                username: user.username.to_string(),
                password,
                must_change,
            };
            Ok(render(StatusCode::OK, &page))
        }
        Err(DomainError::Invalid(errors)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let mut page = reset_page(&me, &user, Some(&form), state.directory.min_password_length().await?);
            page.errors = summary(&errors);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e @ DomainError::Forbidden(_)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let (status, message) = describe(&e);
            let mut page = reset_page(&me, &user, Some(&form), state.directory.min_password_length().await?);
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

/// Ends every session of the user.
pub async fn sign_out_everywhere(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    state.directory.sign_out_everywhere(&me.actor, id).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?saved=signed-out")).into_response())
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
}

/// Sends a verification code to one of the user's contacts.
pub async fn send_verification(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<VerifyForm>,
) -> Result<Response, PageError> {
    me.verify_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    state.directory.send_verification(&me.actor, id, &form.method).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?saved=verification")).into_response())
}
