//! Adding a user: the form, and the page that shows a generated password once.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use roster_domain::contact::alternate_email_field;
use roster_domain::directory::ShownOnce;
use roster_domain::{DomainError, FieldError, NewUserInput, Role, UserId};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::{Checked, UserPath};
use crate::session::{Admin, SignedIn};
use crate::ui::form::{parse_roles, password_hint, role_choices, summary, Field, RoleChoice, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::shown_once;
use crate::AppState;

#[derive(Template)]
#[template(path = "admin/new_user.html")]
struct NewUserPage {
    layout: Layout,
    fields: Vec<Field>,
    /// The address to email the password to, shown with the password choices.
    send_password_to: Field,
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
    #[serde(default)]
    mobile_phone: String,
    #[serde(default)]
    alternate_email: String,
    #[serde(default)]
    send_password_to: String,
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
        Field::text("mobile_phone", "Mobile phone", &form.mobile_phone)
            .kind("tel")
            .hint("For codes by text message. With +country code, or as dialled in the organisation's country.")
            .with_errors(errors),
        Field::text(&alternate_email_field(0), "Alternate email address", &form.alternate_email)
            .kind("email")
            .hint("An address outside the organisation, for resetting a forgotten password.")
            .with_errors(errors),
    ];
    let send_password_to = Field::text("send_password_to", "Email the password to", &form.send_password_to)
        .kind("email")
        .hint(
            "Optional: an address to send the password to once the user is added, such as yours or their \
             manager's. Leave it empty to see the password only on the next page.",
        )
        .with_errors(errors);
    NewUserPage {
        send_password_to,
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
    /// What this page shows once, when it is the page the redirect after adding led to.
    shown: Option<ShownOnce>,
    must_change: bool,
}

/// Where the page after adding a user is.
fn added_path(id: UserId) -> String {
    format!("/admin/users/{id}/added")
}

/// The page after adding a user: the generated password, once. A reload finds it gone, so the
/// password is never on screen longer than the administrator needs it, and never re-posts.
pub async fn added(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    let (jar, shown) = shown_once::take(&state, &me, jar, &added_path(id), id);
    let page = UserCreatedPage {
        layout: Layout::new(&me, "User added", Section::ActiveUsers),
        id: user.id.to_string(),
        username: user.username.to_string(),
        display_name: user.contact.display_name.clone(),
        shown,
        must_change: user.must_change_password,
    };
    Ok((jar, render(StatusCode::OK, &page)).into_response())
}

/// Adds the user, then redirects to the page that shows the generated password once.
pub async fn create(
    Admin(me): Admin,
    State(state): State<AppState>,
    jar: CookieJar,
    Checked(Form(form)): Checked<Form<NewUserForm>>,
) -> Result<Response, PageError> {
    // Without a way for email to leave, the password would only wait in this server's outbox.
    let email_leaves = state.config.email_transport || state.config.shared_outbox;
    if !email_leaves && !form.send_password_to.trim().is_empty() {
        let min_length = state.directory.min_password_length().await?;
        let errors = [FieldError::new(
            "send_password_to",
            "This server sends no email (no SMTP server is set up), so the password can't be emailed. Leave this \
             empty and give the password from the next page.",
        )];
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &new_user_page(&me, &form, &errors, false, min_length)));
    }
    let input = NewUserInput {
        username: form.username.clone(),
        display_name: form.display_name.clone(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        password: (form.password_choice == "typed").then(|| form.password.clone()),
        must_change_password: form.must_change.is_some(),
        roles: parse_roles(&form.role),
        mobile_phone: form.mobile_phone.clone(),
        alternate_email: form.alternate_email.clone(),
        send_password_to: form.send_password_to.clone(),
    };
    let min_length = state.directory.min_password_length().await?;
    match state.directory.create_user(&me.actor, input).await {
        Ok((user, password)) => {
            // The address as the domain checked and used it.
            let emailed_to = roster_domain::email::normalise(&form.send_password_to).ok();
            let shown = ShownOnce { password, emailed_to };
            let path = added_path(user.id);
            Ok((shown_once::keep(&state, &me, jar, &path, user.id, &shown), Redirect::to(&path)).into_response())
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
