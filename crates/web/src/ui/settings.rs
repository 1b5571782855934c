//! Organisation settings (Global Administrators only).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use roster_domain::access_pass::{self, AccessPassPolicyInput};
use roster_domain::group::{GroupFilter, GroupId, Scope};
use roster_domain::mfa::MfaPolicy;
use roster_domain::passkey::PasskeyPolicy;
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
    reset_scope: &'static str,
    /// The groups the reset scope names, one per line, as the form shows and takes them.
    reset_groups: String,
    mfa_groups: String,
    pass: PassPolicyForm,
    passkeys: PasskeyPolicyForm,
}

/// The Passkeys card's form.
struct PasskeyPolicyForm {
    allowed: &'static str,
    allowed_groups: String,
    required: &'static str,
    required_groups: String,
    administrators_required: bool,
}

/// The Temporary Access Pass card's form.
struct PassPolicyForm {
    scope: &'static str,
    groups: String,
    default_lifetime: Field,
    min_lifetime: Field,
    max_lifetime: Field,
    length: Field,
    one_time: bool,
}

impl PassPolicyForm {
    /// The form showing `input` (the stored policy, or what was sent) and `errors`.
    fn of(scope: &'static str, groups: String, input: &AccessPassPolicyInput, errors: &[FieldError]) -> Self {
        let (low, high) = access_pass::LIFETIME_BOUNDS;
        let minutes = |name: &str, label: &str, value: &str| {
            Field::text(name, label, value)
                .kind("number")
                .autocomplete("off")
                .hint(&format!("In minutes, from {low} to {high} (30 days)."))
                .with_errors(errors)
        };
        let (shortest, longest) = access_pass::LENGTH_BOUNDS;
        PassPolicyForm {
            scope,
            groups,
            default_lifetime: minutes("default_lifetime_minutes", "Default lifetime", &input.default_lifetime_minutes),
            min_lifetime: minutes("min_lifetime_minutes", "Minimum lifetime", &input.min_lifetime_minutes),
            max_lifetime: minutes("max_lifetime_minutes", "Maximum lifetime", &input.max_lifetime_minutes),
            length: Field::text("length", "Length", &input.length)
                .kind("number")
                .autocomplete("off")
                .hint(&format!("Characters in a new pass, from {shortest} to {longest}."))
                .with_errors(errors),
            one_time: input.one_time,
        }
    }
}

/// Groups one per line, by name where only one group has it, else by id.
async fn group_lines(state: &AppState, me: &SignedIn, ids: &[GroupId]) -> Result<String, DomainError> {
    let groups = state.directory.named_groups(&me.actor, ids).await?;
    let mut lines = Vec::new();
    for g in &groups {
        let filter = GroupFilter::DisplayNameIs(g.display_name.clone());
        let unique = state.directory.count_groups(&me.actor, Some(&filter)).await? == 1;
        lines.push(if unique { g.display_name.clone() } else { g.id.to_string() });
    }
    Ok(lines.join("\n"))
}

/// The page with the stored settings, `value` in the country field and `errors` shown.
async fn settings_page(
    state: &AppState,
    me: &SignedIn,
    value: &str,
    errors: &[FieldError],
) -> Result<SettingsPage, DomainError> {
    let scope = state.directory.reset_scope().await?;
    let pass = state.directory.access_pass_policy().await?;
    let pass_input = AccessPassPolicyInput {
        default_lifetime_minutes: pass.default_lifetime_minutes.to_string(),
        min_lifetime_minutes: pass.min_lifetime_minutes.to_string(),
        max_lifetime_minutes: pass.max_lifetime_minutes.to_string(),
        one_time: pass.one_time,
        length: pass.length.to_string(),
    };
    let pass_groups = group_lines(state, me, pass.scope.groups()).await?;
    let passkeys = state.directory.passkey_policy().await?;
    let passkeys = PasskeyPolicyForm {
        allowed: passkeys.allowed.code(),
        allowed_groups: group_lines(state, me, passkeys.allowed.groups()).await?,
        required: passkeys.required.code(),
        required_groups: group_lines(state, me, passkeys.required.groups()).await?,
        administrators_required: passkeys.administrators_required,
    };
    Ok(SettingsPage {
        passkeys,
        pass: PassPolicyForm::of(pass.scope.code(), pass_groups, &pass_input, errors),
        reset_scope: scope.code(),
        reset_groups: group_lines(state, me, scope.groups()).await?,
        mfa_groups: group_lines(state, me, &state.directory.mfa_groups().await?).await?,
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
    #[serde(default)]
    mfa_groups: String,
}

/// The settings page again with `errors`, the forms showing what was sent.
async fn refused(
    state: &AppState,
    me: &SignedIn,
    errors: &[FieldError],
    edit: impl FnOnce(&mut SettingsPage),
) -> Result<Response, PageError> {
    let region = state.directory.region().await?;
    let mut page = settings_page(state, me, &region.code(), errors).await?;
    edit(&mut page);
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// Saves who must use a second step at sign-in.
pub async fn save_mfa(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<MfaForm>>,
) -> Result<Response, PageError> {
    let d = &state.directory;
    let saved = match form.required_for.as_str() {
        "everyone" => d.set_mfa_policy(&me.actor, MfaPolicy::Everyone).await,
        "administrators" => d.set_mfa_policy(&me.actor, MfaPolicy::Administrators).await,
        "optional" => d.set_mfa_policy(&me.actor, MfaPolicy::Optional).await,
        "groups" => match d.groups_named(&me.actor, "mfa_groups", &form.mfa_groups).await {
            Ok(groups) => d.set_mfa_groups(&me.actor, groups).await,
            Err(e) => Err(e),
        },
        _ => Err(DomainError::invalid("required_for", "Choose who needs a second step.")),
    };
    match saved {
        Ok(()) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(DomainError::Invalid(errors)) => {
            refused(&state, &me, &errors, |page| {
                page.mfa_policy = MfaPolicy::from_code(Some(&form.required_for)).code();
                page.mfa_groups = form.mfa_groups.clone();
            })
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The scope a settings card chose (`none`, `selected` or `all`): nobody, the members of the
/// groups named one per line in the field `field`, or everyone.
async fn chosen_scope(
    state: &AppState,
    me: &SignedIn,
    choice: &str,
    field: &str,
    groups: &str,
) -> Result<Scope, DomainError> {
    match choice {
        "none" => Ok(Scope::Nobody),
        "all" => Ok(Scope::Everyone),
        "selected" => match state.directory.groups_named(&me.actor, field, groups).await? {
            groups if groups.is_empty() => Err(DomainError::invalid(field, "Name at least one group, one per line.")),
            groups => Ok(Scope::Groups(groups)),
        },
        _ => Err(DomainError::invalid("enabled_for", "Choose None, Selected or All.")),
    }
}

/// The scope choice a refused form shows again.
fn scope_code(choice: &str) -> &'static str {
    match choice {
        "none" => "none",
        "selected" => "selected",
        _ => "all",
    }
}

#[derive(Deserialize)]
pub struct ResetScopeForm {
    #[serde(default)]
    enabled_for: String,
    #[serde(default)]
    reset_groups: String,
}

/// Saves for whom self-service password reset is enabled.
pub async fn save_reset_scope(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<ResetScopeForm>>,
) -> Result<Response, PageError> {
    let d = &state.directory;
    let saved = match chosen_scope(&state, &me, &form.enabled_for, "reset_groups", &form.reset_groups).await {
        Ok(scope) => d.set_reset_scope(&me.actor, scope).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(DomainError::Invalid(errors)) => refused_scope(&state, &me, &errors, &form).await,
        Err(e) => Err(e.into()),
    }
}

async fn refused_scope(
    state: &AppState,
    me: &SignedIn,
    errors: &[FieldError],
    form: &ResetScopeForm,
) -> Result<Response, PageError> {
    refused(state, me, errors, |page| {
        page.reset_scope = scope_code(&form.enabled_for);
        page.reset_groups = form.reset_groups.clone();
    })
    .await
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

#[derive(Deserialize)]
pub struct PassPolicyFields {
    #[serde(default)]
    enabled_for: String,
    #[serde(default)]
    access_pass_groups: String,
    #[serde(default)]
    default_lifetime_minutes: String,
    #[serde(default)]
    min_lifetime_minutes: String,
    #[serde(default)]
    max_lifetime_minutes: String,
    #[serde(default)]
    one_time: Option<String>,
    #[serde(default)]
    length: String,
}

/// Saves the Temporary Access Pass policy.
pub async fn save_access_pass(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<PassPolicyFields>>,
) -> Result<Response, PageError> {
    let d = &state.directory;
    let input = AccessPassPolicyInput {
        default_lifetime_minutes: form.default_lifetime_minutes.clone(),
        min_lifetime_minutes: form.min_lifetime_minutes.clone(),
        max_lifetime_minutes: form.max_lifetime_minutes.clone(),
        one_time: form.one_time.is_some(),
        length: form.length.clone(),
    };
    let scope = chosen_scope(&state, &me, &form.enabled_for, "access_pass_groups", &form.access_pass_groups).await;
    let saved = match scope {
        Ok(scope) => d.set_access_pass_policy(&me.actor, &input, scope).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(DomainError::Invalid(errors)) => {
            let code = scope_code(&form.enabled_for);
            refused(&state, &me, &errors, |page| {
                page.pass = PassPolicyForm::of(code, form.access_pass_groups.clone(), &input, &errors);
            })
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct PasskeyPolicyFields {
    #[serde(default)]
    allowed_for: String,
    #[serde(default)]
    passkey_allowed_groups: String,
    #[serde(default)]
    required_for: String,
    #[serde(default)]
    passkey_required_groups: String,
    #[serde(default)]
    administrators_required: Option<String>,
}

/// Saves who may use passkeys and whose second step must be one.
pub async fn save_passkeys(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<PasskeyPolicyFields>>,
) -> Result<Response, PageError> {
    let allowed = chosen_scope(&state, &me, &form.allowed_for, "passkey_allowed_groups", &form.passkey_allowed_groups);
    let allowed = allowed.await;
    let required =
        chosen_scope(&state, &me, &form.required_for, "passkey_required_groups", &form.passkey_required_groups).await;
    let saved = match (allowed, required) {
        (Ok(allowed), Ok(required)) => {
            let policy =
                PasskeyPolicy { allowed, required, administrators_required: form.administrators_required.is_some() };
            state.directory.set_passkey_policy(&me.actor, policy).await
        }
        (Err(DomainError::Invalid(mut a)), Err(DomainError::Invalid(b))) => {
            a.extend(b);
            Err(DomainError::Invalid(a))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match saved {
        Ok(()) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(DomainError::Invalid(errors)) => {
            refused(&state, &me, &errors, |page| {
                page.passkeys = PasskeyPolicyForm {
                    allowed: scope_code(&form.allowed_for),
                    allowed_groups: form.passkey_allowed_groups.clone(),
                    required: match form.required_for.as_str() {
                        "all" => "all",
                        "selected" => "selected",
                        _ => "none",
                    },
                    required_groups: form.passkey_required_groups.clone(),
                    administrators_required: form.administrators_required.is_some(),
                };
            })
            .await
        }
        Err(e) => Err(e.into()),
    }
}
