//! Organisation settings (Global Administrators only).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use roster_domain::mfa::MfaPolicy;
use roster_domain::permission::Permission;
use roster_domain::recovery::ResetPolicy;
use roster_domain::{DomainError, FieldError, RoleSet};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::Checked;
use crate::session::{Admin, SignedIn};
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    field: Field,
    errors: Vec<SummaryItem>,
    status: Option<String>,
    problem: Option<String>,
    policy: ResetPolicy,
    mfa_policy: &'static str,
    retention_days: String,
}

/// The page with the stored settings, `value` in the country field and `errors` shown.
async fn settings_page(
    state: &AppState,
    me: &SignedIn,
    value: &str,
    errors: &[FieldError],
) -> Result<SettingsPage, DomainError> {
    Ok(SettingsPage {
        policy: state.directory.reset_policy().await?,
        mfa_policy: state.directory.mfa_policy().await?.code(),
        retention_days: state.directory.audit_retention_days().await?.to_string(),
        layout: Layout::new(me, "Settings", Section::Settings),
        field: Field::text("default_country", "Default country for phone numbers", value)
            .hint(
                "Two-letter code such as US or GB. Numbers typed without +country are read as numbers of this country.",
            )
            .required()
            .with_errors(errors),
        errors: summary(errors),
        status: None,
        problem: None,
    })
}

#[derive(Deserialize)]
pub struct SettingsQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// The settings page.
pub async fn show(
    Admin(me): Admin,
    State(state): State<AppState>,
    Query(q): Query<SettingsQuery>,
) -> Result<Response, PageError> {
    me.require(Permission::ManageSettings, RoleSet::NONE)?;
    let region = state.directory.region().await?;
    let mut page = settings_page(&state, &me, &region.code(), &[]).await?;
    page.status = q.saved.map(|_| "Settings saved.".to_string());
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    default_country: String,
}

/// Saves the settings.
pub async fn save(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<SettingsForm>>,
) -> Result<Response, PageError> {
    match state.directory.set_region(&me.actor, &form.default_country).await {
        Ok(()) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = settings_page(&state, &me, &form.default_country, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e @ DomainError::Forbidden(_)) => {
            let (status, message) = describe(&e);
            let mut page = settings_page(&state, &me, &form.default_country, &[]).await?;
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    methods_required: String,
    #[serde(default)]
    allow_email: Option<String>,
    #[serde(default)]
    allow_sms: Option<String>,
    #[serde(default)]
    allow_unverified: Option<String>,
    #[serde(default)]
    min_password_length: String,
}

/// Saves the self-service password reset policy.
pub async fn save_policy(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<PolicyForm>>,
) -> Result<Response, PageError> {
    let policy = ResetPolicy {
        methods_required: form.methods_required.parse().unwrap_or(0),
        allow_email: form.allow_email.is_some(),
        allow_sms: form.allow_sms.is_some(),
        allow_unverified: form.allow_unverified.is_some(),
        min_password_length: form.min_password_length.trim().parse().unwrap_or(0),
    };
    match state.directory.set_reset_policy(&me.actor, policy).await {
        Ok(()) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(DomainError::Invalid(errors)) => {
            let region = state.directory.region().await?;
            let mut page = settings_page(&state, &me, &region.code(), &errors).await?;
            page.policy = policy;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct MfaForm {
    #[serde(default)]
    required_for: String,
}

/// Saves who must use a second step at sign-in.
pub async fn save_mfa(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<MfaForm>>,
) -> Result<Response, PageError> {
    let policy = match form.required_for.as_str() {
        "everyone" => MfaPolicy::Everyone,
        "administrators" => MfaPolicy::Administrators,
        "optional" => MfaPolicy::Optional,
        _ => return Err(DomainError::invalid("required_for", "Choose who needs a second step.").into()),
    };
    state.directory.set_mfa_policy(&me.actor, policy).await?;
    Ok(Redirect::to("/admin/settings?saved=1").into_response())
}

#[derive(Deserialize)]
pub struct RetentionForm {
    #[serde(default)]
    audit_retention_days: String,
}

/// Saves how long audit records are kept.
pub async fn save_retention(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<RetentionForm>>,
) -> Result<Response, PageError> {
    match state.directory.set_audit_retention(&me.actor, &form.audit_retention_days).await {
        Ok(()) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(DomainError::Invalid(errors)) => {
            let region = state.directory.region().await?;
            let mut page = settings_page(&state, &me, &region.code(), &errors).await?;
            page.retention_days = form.audit_retention_days;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}
