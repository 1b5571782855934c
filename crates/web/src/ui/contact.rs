//! "Manage contact information": the form, its validation errors, conflicts and refusals.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::contact::{alternate_email_field, ContactInput, MAX_ALTERNATE_EMAILS};
use roster_domain::permission::{self, Permission};
use roster_domain::{DomainError, FieldError, User};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::{Checked, UserPath};
use crate::session::{Admin, SignedIn};
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

#[derive(Template)]
#[template(path = "admin/contact.html")]
struct ContactPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    username: String,
    version: i64,
    profile: Vec<Field>,
    phones: Vec<Field>,
    mail: Vec<Field>,
    emails: Vec<Field>,
    address: Vec<Field>,
    organization: Vec<Field>,
    errors: Vec<SummaryItem>,
    /// A refusal or conflict that is about the whole form, not one field.
    problem: Option<String>,
    can_edit_profile: bool,
    can_edit_recovery: bool,
    max_emails: usize,
}

fn contact_page(me: &SignedIn, user: &User, input: &ContactInput, version: i64, errors: &[FieldError]) -> ContactPage {
    let can_edit_profile = permission::check(me.user.roles, Permission::EditProfile, user.roles).is_ok();
    let can_edit_recovery = permission::check(me.user.roles, Permission::EditRecoveryContacts, user.roles).is_ok();
    let profile_field = |name: &str, label: &str, value: &str, autocomplete: &'static str| {
        Field::text(name, label, value).autocomplete(autocomplete).readonly(!can_edit_profile).with_errors(errors)
    };
    let phone = |name: &str, label: &str, value: &str, recovery: bool| {
        Field::text(name, label, value)
            .kind("tel")
            .group_hint("phones-hint")
            .autocomplete("off")
            .readonly(if recovery { !can_edit_recovery } else { !can_edit_profile })
            .with_errors(errors)
    };
    let profile = vec![
        profile_field("display_name", "Display name", &input.display_name, "off").required(),
        profile_field("first_name", "First name", &input.first_name, "off"),
        profile_field("last_name", "Last name", &input.last_name, "off"),
        profile_field("formatted_name", "Full name (as provisioning formats it)", &input.formatted_name, "off"),
        profile_field("job_title", "Job title", &input.job_title, "off"),
        profile_field("department", "Department", &input.department, "off"),
        profile_field("office", "Office", &input.office, "off"),
    ];
    let phones = vec![
        phone("office_phone", "Office phone", &input.office_phone, true),
        phone("mobile_phone", "Mobile phone", &input.mobile_phone, true),
        phone("alternate_mobile_phone", "Alternate mobile phone", &input.alternate_mobile_phone, true),
        phone("fax", "Fax number", &input.fax, false),
    ];
    let mut addresses: Vec<&str> = input.alternate_emails.iter().map(String::as_str).collect();
    // Without JavaScript, a blank input is how a new address is added; clearing one removes it.
    if addresses.len() < MAX_ALTERNATE_EMAILS && addresses.last().is_none_or(|a| !a.trim().is_empty()) {
        addresses.push("");
    }
    let emails = addresses
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let label = if i == 0 {
                "Alternate email address".to_string()
            } else {
                format!("Alternate email address {}", i + 1)
            };
            Field::text(&alternate_email_field(i), &label, value)
                .kind("email")
                .group_hint("emails-hint")
                .readonly(!can_edit_recovery)
                .with_errors(errors)
        })
        .collect();
    let address = vec![
        profile_field("street_address", "Street address", &input.street_address, "off").kind("textarea"),
        profile_field("city", "City", &input.city, "off"),
        profile_field("state", "State or province", &input.state, "off"),
        profile_field("postal_code", "ZIP or postal code", &input.postal_code, "off"),
        profile_field("country", "Country or region", &input.country, "off"),
    ];
    let mail = vec![Field::text("mail", "Primary email address", &input.mail)
        .kind("email")
        .group_hint("mail-hint")
        .autocomplete("off")
        .readonly(!can_edit_recovery)
        .with_errors(errors)];
    let organization = vec![
        profile_field("employee_id", "Employee ID", &input.employee_id, "off"),
        profile_field("company_name", "Company name", &input.company_name, "off"),
        profile_field("cost_center", "Cost center", &input.cost_center, "off"),
        profile_field("division", "Division", &input.division, "off"),
        profile_field("manager", "Manager (username)", &input.manager, "off"),
        profile_field("preferred_language", "Preferred language (such as en-US)", &input.preferred_language, "off"),
        profile_field("locale", "Locale (such as en-US)", &input.locale, "off"),
    ];
    ContactPage {
        layout: Layout::new(
            me,
            format!("Manage contact information – {}", user.contact.display_name),
            Section::ActiveUsers,
        ),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        username: user.username.to_string(),
        version,
        profile,
        phones,
        mail,
        emails,
        address,
        organization,
        errors: summary(errors),
        problem: None,
        can_edit_profile,
        can_edit_recovery,
        max_emails: MAX_ALTERNATE_EMAILS,
    }
}

/// The contact form, filled with the user's current values.
pub async fn show(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    let input = state.directory.contact_input(&user).await?;
    let page = contact_page(&me, &user, &input, user.version, &[]);
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    version: i64,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    formatted_name: String,
    #[serde(default)]
    job_title: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    office: String,
    #[serde(default)]
    office_phone: String,
    #[serde(default)]
    mobile_phone: String,
    #[serde(default)]
    alternate_mobile_phone: String,
    #[serde(default)]
    fax: String,
    #[serde(default)]
    alternate_email: Vec<String>,
    #[serde(default)]
    street_address: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    mail: String,
    #[serde(default)]
    employee_id: String,
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    cost_center: String,
    #[serde(default)]
    division: String,
    #[serde(default)]
    manager: String,
    #[serde(default)]
    preferred_language: String,
    #[serde(default)]
    locale: String,
}

impl ContactForm {
    fn input(self) -> ContactInput {
        ContactInput {
            display_name: self.display_name,
            first_name: self.first_name,
            last_name: self.last_name,
            formatted_name: self.formatted_name,
            job_title: self.job_title,
            department: self.department,
            office: self.office,
            office_phone: self.office_phone,
            mobile_phone: self.mobile_phone,
            alternate_mobile_phone: self.alternate_mobile_phone,
            fax: self.fax,
            // A blank input means "no address". Beyond one over the limit the rest can only be
            // refused, so they are neither validated nor shown again.
            alternate_emails: self
                .alternate_email
                .into_iter()
                .filter(|a| !a.trim().is_empty())
                .take(MAX_ALTERNATE_EMAILS + 1)
                .collect(),
            street_address: self.street_address,
            city: self.city,
            state: self.state,
            postal_code: self.postal_code,
            country: self.country,
            mail: self.mail,
            employee_id: self.employee_id,
            company_name: self.company_name,
            cost_center: self.cost_center,
            division: self.division,
            manager: self.manager,
            preferred_language: self.preferred_language,
            locale: self.locale,
        }
    }
}

/// Saves the form: all of it, or (on any problem) none of it.
pub async fn save(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    Checked(Form(form)): Checked<Form<ContactForm>>,
) -> Result<Response, PageError> {
    let version = form.version;
    let input = form.input();
    match state.directory.update_contact(&me.actor, id, version, &input).await {
        Ok(user) => Ok(Redirect::to(&format!("/admin/users/{}?saved=contact", user.id)).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let page = contact_page(&me, &user, &input, version, &errors);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e @ (DomainError::Forbidden(_) | DomainError::VersionConflict { .. })) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let (status, message) = describe(&e);
            let mut page = contact_page(&me, &user, &input, version, &[]);
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}
