//! App registrations (Global Administrators only): applications that call the Graph and SCIM
//! APIs with a client id and secret.

use askama::Template;
use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::apps::{App, AppPermission, AppSecret, DEFAULT_SECRET_DAYS, MAX_LOGO_BYTES, SECRET_LIFETIMES_DAYS};
use roster_domain::directory::{AppInput, SignInInput};
use roster_domain::group::{MemberId, MemberRef};
use roster_domain::oidc::claims::format_mappings;
use roster_domain::oidc::client::GroupsClaim;
use roster_domain::oidc::keys::SigningAlg;
use roster_domain::permission::Permission;
use roster_domain::{DomainError, FieldError, RoleSet, Timestamp};
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{render, PageError};
use crate::extract::Checked;
use crate::session::Admin;
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

/// One permission as a checkbox.
struct Choice {
    name: &'static str,
    description: &'static str,
    checked: bool,
}

fn choices(checked: impl Fn(AppPermission) -> bool) -> Vec<Choice> {
    AppPermission::ALL
        .into_iter()
        .map(|p| Choice { name: p.name(), description: p.description(), checked: checked(p) })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/apps.html")]
struct AppsPage {
    layout: Layout,
    apps: Vec<App>,
    name: Field,
    redirect_uri: Field,
    permissions: Vec<Choice>,
    permissions_error: Option<String>,
    errors: Vec<SummaryItem>,
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/app.html")]
struct AppPage {
    layout: Layout,
    app: App,
    secrets: Vec<SecretRow>,
    permissions: Vec<Choice>,
    permissions_error: Option<String>,
    description: Field,
    lifetimes: Vec<(i64, bool)>,
    redirect_uris: Field,
    post_logout_uris: Field,
    public_client: bool,
    jwks: Field,
    logo: Field,
    claim_mappings: Field,
    backchannel_logout_uri: Field,
    algs: Vec<(&'static str, bool)>,
    /// The `groups` claim's choices: value, label, whether chosen.
    groups_claims: Vec<(&'static str, &'static str, bool)>,
    discovery_url: String,
    home_page: Field,
    assignment_required: bool,
    admin_consent: bool,
    pairwise_subject: bool,
    assignments: Vec<AssignmentRow>,
    assignee: Field,
    errors: Vec<SummaryItem>,
    status: Option<String>,
}

/// A user or group assigned, as the details page lists it.
struct AssignmentRow {
    id: Uuid,
    label: String,
    active: bool,
    kind: &'static str,
}

impl AssignmentRow {
    fn of(member: &MemberRef) -> AssignmentRow {
        let kind = match member.id {
            MemberId::User(_) => "User",
            MemberId::Group(_) => "Group",
        };
        AssignmentRow { id: member.id.uuid(), label: member.label.clone(), active: member.active, kind }
    }
}

/// A secret as the details page lists it.
struct SecretRow {
    id: Uuid,
    description: String,
    hint: String,
    created: String,
    expires: String,
    expired: bool,
}

impl SecretRow {
    fn of(secret: &AppSecret, now: Timestamp) -> SecretRow {
        SecretRow {
            id: secret.id,
            description: secret.description.clone(),
            hint: secret.hint.clone(),
            created: secret.created_at.display(),
            expires: secret.expires_at.display(),
            expired: secret.expires_at <= now,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/app_secret.html")]
struct SecretPage {
    layout: Layout,
    app: App,
    secret: String,
    expires: String,
    registered: bool,
}

#[derive(Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    done: Option<String>,
}

fn status_text(done: Option<&str>) -> Option<String> {
    match done? {
        "removed" => Some("The application was removed. Its tokens no longer work.".into()),
        "permissions" => Some("Permissions saved. Tokens already issued carry them from now on.".into()),
        "secret-removed" => Some("The client secret was removed, with every token issued against it.".into()),
        "sign-in" => Some("Sign-in settings saved.".into()),
        "logo" => Some("Logo saved. My apps shows it from now on.".into()),
        "logo-removed" => Some("Logo removed. My apps shows the application's initial instead.".into()),
        "assigned" => Some("Assigned. They can sign in to the application now.".into()),
        "unassigned" => Some("Assignment removed. They lose the application at its next refresh.".into()),
        _ => None,
    }
}

fn apps_page(me: &Admin, apps: Vec<App>, input: &RegisterForm, errors: &[FieldError]) -> AppsPage {
    let permissions_error = errors.iter().find(|e| e.field == "permissions").map(|e| e.message.clone());
    AppsPage {
        layout: Layout::new(&me.0, "App registrations", Section::Apps),
        apps,
        name: Field::text("name", "Name", &input.name)
            .hint("What the application is, such as HR provisioning or Helpdesk scripts.")
            .required()
            .with_errors(errors),
        redirect_uri: Field::text("redirect_uris", "Redirect URI (optional)", &input.redirect_uris)
            .kind("url")
            .hint("For an application that signs people in: where they go back to. More can be added later.")
            .with_errors(errors),
        permissions: choices(|p| input.permission.iter().any(|n| n == p.name())),
        permissions_error,
        errors: summary(errors),
        status: None,
    }
}

/// The list of registrations and the form to register one.
pub async fn list(
    me: Admin,
    State(state): State<AppState>,
    Query(q): Query<StatusQuery>,
) -> Result<Response, PageError> {
    me.0.require(Permission::ManageApps, RoleSet::NONE)?;
    let apps = state.directory.list_apps(&me.0.actor).await?;
    let mut page = apps_page(&me, apps, &RegisterForm::default(), &[]);
    page.status = status_text(q.done.as_deref());
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    permission: Vec<String>,
    #[serde(default)]
    redirect_uris: String,
}

/// Registers an application and shows its first secret, once.
pub async fn register(
    me: Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<RegisterForm>>,
) -> Result<Response, PageError> {
    let input = AppInput {
        name: form.name.clone(),
        permissions: form.permission.clone(),
        sign_in: SignInInput { redirect_uris: vec![form.redirect_uris.clone()], ..SignInInput::default() },
    };
    match state.directory.register_app(&me.0.actor, &input).await {
        Ok((app, None)) => Ok(Redirect::to(&format!("/admin/apps/{}", app.id)).into_response()),
        Ok((app, Some((secret, plain)))) => {
            let page = SecretPage {
                layout: Layout::new(&me.0, "Application registered", Section::Apps),
                expires: secret.expires_at.display(),
                app,
                secret: plain.expose_secret().to_string(),
                registered: true,
            };
            Ok(render(StatusCode::CREATED, &page))
        }
        Err(DomainError::Invalid(errors)) => {
            let apps = state.directory.list_apps(&me.0.actor).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &apps_page(&me, apps, &form, &errors)))
        }
        Err(e) => Err(e.into()),
    }
}

async fn app_page(
    state: &AppState,
    me: &Admin,
    id: Uuid,
    description: &str,
    days: i64,
    errors: &[FieldError],
) -> Result<AppPage, PageError> {
    app_page_with(state, me, id, (description, days), &saved_settings(state, me, id).await?, "", errors).await
}

/// The Authentication form as saved.
async fn saved_settings(state: &AppState, me: &Admin, id: Uuid) -> Result<SignInForm, PageError> {
    let (app, _) = state.directory.app(&me.0.actor, id).await?;
    Ok(SignInForm {
        redirect_uris: app.sign_in.redirect_uris.join("\n"),
        post_logout_redirect_uris: app.sign_in.post_logout_redirect_uris.join("\n"),
        client_type: if app.sign_in.public_client { "public" } else { "confidential" }.into(),
        id_token_alg: app.sign_in.id_token_alg.name().into(),
        home_page_url: app.sign_in.home_page_url.clone().unwrap_or_default(),
        assignment_required: app.sign_in.assignment_required.then(|| "on".into()),
        admin_consent: app.sign_in.admin_consent.then(|| "on".into()),
        groups_claim: app.sign_in.groups_claim.name().into(),
        jwks: app.sign_in.client_keys.as_ref().map(|k| k.as_json().to_string()).unwrap_or_default(),
        claim_mappings: format_mappings(&app.sign_in.claim_mappings),
        pairwise_subject: app.sign_in.pairwise_subject.then(|| "on".into()),
        backchannel_logout_uri: app.sign_in.backchannel_logout_uri.clone().unwrap_or_default(),
    })
}

async fn app_page_with(
    state: &AppState,
    me: &Admin,
    id: Uuid,
    (description, days): (&str, i64),
    sign_in: &SignInForm,
    assignee: &str,
    errors: &[FieldError],
) -> Result<AppPage, PageError> {
    let (app, secrets) = state.directory.app(&me.0.actor, id).await?;
    let now = Timestamp::now();
    Ok(AppPage {
        jwks: Field::text("jwks", "Public keys for signed assertions (JWKS)", &sign_in.jwks)
            .kind("textarea")
            .hint(
                "For a confidential client that proves itself with a JWT signed by its own key (private_key_jwt) \
                 instead of a client secret: paste its JSON Web Key Set of public keys (RSA, P-256 or Ed25519). \
                 Leave empty to use client secrets.",
            )
            .with_errors(errors),
        backchannel_logout_uri: Field::text(
            "backchannel_logout_uri",
            "Back-channel logout URI",
            &sign_in.backchannel_logout_uri,
        )
        .kind("url")
        .hint(
            "Where Roster posts a logout token when a person's sign-in to Roster ends (they sign out, are signed \
             out everywhere, blocked, deleted or reset), so that the application ends its own session too. \
             Leave empty for none.",
        )
        .with_errors(errors),
        logo: Field::text("logo", "Logo", "")
            .kind("file")
            .hint("A PNG or JPEG image of at most 100 KB, square (215 × 215 pixels looks best), for My apps.")
            .with_errors(errors),
        claim_mappings: Field::text("claim_mappings", "Further claims", &sign_in.claim_mappings)
            .kind("textarea")
            .hint(
                "One per line as claim = attribute, for example employee_number = employeeId. Attributes by their \
                 Graph names: id, userPrincipalName, mail, displayName, givenName, surname, jobTitle, department, \
                 officeLocation, employeeId, companyName, costCenter, division, mobilePhone, businessPhone, \
                 preferredLanguage, country, externalId. Carried in ID tokens and userinfo whatever the scopes.",
            )
            .with_errors(errors),
        home_page: Field::text("home_page_url", "Home page URL", &sign_in.home_page_url)
            .kind("url")
            .hint("Where My apps opens the application. Leave empty to keep it off My apps.")
            .with_errors(errors),
        assignment_required: sign_in.assignment_required.is_some(),
        admin_consent: sign_in.admin_consent.is_some(),
        pairwise_subject: sign_in.pairwise_subject.is_some(),
        assignments: state.directory.app_assignments(&me.0.actor, id).await?.iter().map(AssignmentRow::of).collect(),
        assignee: Field::text("assignee", "Username or group name", assignee).with_errors(errors),
        redirect_uris: Field::text("redirect_uris", "Redirect URIs", &sign_in.redirect_uris)
            .kind("textarea")
            .hint(
                "One per line. Where people go back to after signing in: https, or http://localhost and \
                 http://127.0.0.1 (any port) while developing. Leave empty if the application signs no one in.",
            )
            .with_errors(errors),
        post_logout_uris: Field::text(
            "post_logout_redirect_uris",
            "Sign-out redirect URIs",
            &sign_in.post_logout_redirect_uris,
        )
        .kind("textarea")
        .hint("One per line. Where the application may send people after signing them out of Roster too.")
        .with_errors(errors),
        public_client: sign_in.client_type == "public",
        algs: SigningAlg::ALL.iter().map(|a| (a.name(), a.name() == sign_in.id_token_alg)).collect(),
        groups_claims: GroupsClaim::ALL
            .iter()
            .map(|g| {
                let label = match g {
                    GroupsClaim::Off => "None",
                    GroupsClaim::Ids => "Group ids, which stay the same when a group is renamed",
                    GroupsClaim::Names => "Group names, for applications that match on names",
                };
                let chosen = sign_in.groups_claim.parse::<GroupsClaim>().unwrap_or_default() == *g;
                (g.name(), label, chosen)
            })
            .collect(),
        discovery_url: format!("{}/.well-known/openid-configuration", state.config.public_url),
        layout: Layout::new(&me.0, app.name.clone(), Section::Apps),
        secrets: secrets.iter().map(|s| SecretRow::of(s, now)).collect(),
        permissions: choices(|p| app.permissions.contains(p)),
        permissions_error: errors.iter().find(|e| e.field == "permissions").map(|e| e.message.clone()),
        description: Field::text("description", "Description", description)
            .hint("Where the secret is used, so you know which one to remove later.")
            .with_errors(errors),
        lifetimes: SECRET_LIFETIMES_DAYS.iter().map(|d| (*d, *d == days)).collect(),
        errors: summary(errors),
        status: None,
        app,
    })
}

/// One registration: its client id, permissions and secrets.
pub async fn show(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(q): Query<StatusQuery>,
) -> Result<Response, PageError> {
    let mut page = app_page(&state, &me, id, "", DEFAULT_SECRET_DAYS, &[]).await?;
    page.status = status_text(q.done.as_deref());
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct PermissionsForm {
    #[serde(default)]
    permission: Vec<String>,
}

/// Saves an application's permissions.
pub async fn save_permissions(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Checked(Form(form)): Checked<Form<PermissionsForm>>,
) -> Result<Response, PageError> {
    match state.directory.set_app_permissions(&me.0.actor, id, &form.permission).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/apps/{id}?done=permissions")).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = app_page(&state, &me, id, "", DEFAULT_SECRET_DAYS, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

/// The Authentication section's form.
#[derive(Deserialize, Default)]
pub struct SignInForm {
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    client_type: String,
    #[serde(default)]
    id_token_alg: String,
    #[serde(default)]
    home_page_url: String,
    assignment_required: Option<String>,
    admin_consent: Option<String>,
    #[serde(default)]
    groups_claim: String,
    #[serde(default)]
    jwks: String,
    #[serde(default)]
    claim_mappings: String,
    pairwise_subject: Option<String>,
    #[serde(default)]
    backchannel_logout_uri: String,
}

/// Saves how an application signs people in.
pub async fn save_sign_in(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Checked(Form(form)): Checked<Form<SignInForm>>,
) -> Result<Response, PageError> {
    let input = SignInInput {
        redirect_uris: form.redirect_uris.lines().map(str::to_string).collect(),
        post_logout_redirect_uris: form.post_logout_redirect_uris.lines().map(str::to_string).collect(),
        public_client: form.client_type == "public",
        id_token_alg: form.id_token_alg.clone(),
        home_page_url: form.home_page_url.clone(),
        assignment_required: form.assignment_required.is_some(),
        admin_consent: form.admin_consent.is_some(),
        groups_claim: form.groups_claim.clone(),
        jwks: form.jwks.clone(),
        claim_mappings: form.claim_mappings.lines().map(str::to_string).collect(),
        pairwise_subject: form.pairwise_subject.is_some(),
        backchannel_logout_uri: form.backchannel_logout_uri.clone(),
    };
    match state.directory.set_app_sign_in(&me.0.actor, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/apps/{id}?done=sign-in")).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = app_page_with(&state, &me, id, ("", DEFAULT_SECRET_DAYS), &form, "", &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
}

/// Assigns a user or group to the application.
pub async fn assign(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Checked(Form(form)): Checked<Form<AssignForm>>,
) -> Result<Response, PageError> {
    match state.directory.assign_app(&me.0.actor, id, &form.assignee).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/apps/{id}?done=assigned")).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let sign_in = saved_settings(&state, &me, id).await?;
            let page =
                app_page_with(&state, &me, id, ("", DEFAULT_SECRET_DAYS), &sign_in, &form.assignee, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes an assignment.
pub async fn unassign(
    me: Admin,
    State(state): State<AppState>,
    Path((id, member)): Path<(Uuid, Uuid)>,
    Checked(Form(_form)): Checked<Form<ConfirmForm>>,
) -> Result<Response, PageError> {
    state.directory.unassign_app(&me.0.actor, id, member).await?;
    Ok(Redirect::to(&format!("/admin/apps/{id}?done=unassigned")).into_response())
}

#[derive(Deserialize)]
pub struct SecretForm {
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires: String,
}

/// Adds a client secret and shows it, once.
pub async fn add_secret(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Checked(Form(form)): Checked<Form<SecretForm>>,
) -> Result<Response, PageError> {
    let days = form.expires.trim().parse().unwrap_or(0);
    match state.directory.add_app_secret(&me.0.actor, id, &form.description, days).await {
        Ok((secret, plain)) => {
            let (app, _) = state.directory.app(&me.0.actor, id).await?;
            let page = SecretPage {
                layout: Layout::new(&me.0, "New client secret", Section::Apps),
                expires: secret.expires_at.display(),
                app,
                secret: plain.expose_secret().to_string(),
                registered: false,
            };
            Ok(render(StatusCode::CREATED, &page))
        }
        Err(DomainError::Invalid(errors)) => {
            let page = app_page(&state, &me, id, &form.description, days, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {}

/// Removes a client secret.
pub async fn remove_secret(
    me: Admin,
    State(state): State<AppState>,
    Path((id, secret)): Path<(Uuid, Uuid)>,
    Checked(Form(_form)): Checked<Form<ConfirmForm>>,
) -> Result<Response, PageError> {
    state.directory.remove_app_secret(&me.0.actor, id, secret).await?;
    Ok(Redirect::to(&format!("/admin/apps/{id}?done=secret-removed")).into_response())
}

/// Uploads a logo: a multipart form with the CSRF token first, then the file.
pub async fn upload_logo(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    form: Multipart,
) -> Result<Response, PageError> {
    let saved = match receive_logo(&me, form).await {
        Ok(bytes) => state.directory.set_app_logo(&me.0.actor, id, Some(bytes)).await,
        Err(LogoUnreceived::Unreadable(e)) => {
            Err(DomainError::invalid("logo", format!("The upload could not be read: {e}")))
        }
        Err(LogoUnreceived::Page(e)) => return Err(e),
    };
    match saved {
        Ok(()) => Ok(Redirect::to(&format!("/admin/apps/{id}?done=logo")).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = app_page(&state, &me, id, "", DEFAULT_SECRET_DAYS, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

/// Why a logo upload was not received.
enum LogoUnreceived {
    /// A forged or expired form.
    Page(PageError),
    /// A body that could not be read: cut off, or past the server's limit.
    Unreadable(MultipartError),
}

impl From<PageError> for LogoUnreceived {
    fn from(e: PageError) -> Self {
        LogoUnreceived::Page(e)
    }
}

impl From<MultipartError> for LogoUnreceived {
    fn from(e: MultipartError) -> Self {
        LogoUnreceived::Unreadable(e)
    }
}

/// The logo's bytes from a multipart form whose CSRF token comes first: at most one byte past
/// the limit, enough to refuse it and no more held.
async fn receive_logo(me: &Admin, mut form: Multipart) -> Result<Vec<u8>, LogoUnreceived> {
    let mut csrf_ok = false;
    let mut bytes = Vec::new();
    while let Some(mut field) = form.next_field().await? {
        match field.name().unwrap_or_default() {
            "csrf" => {
                me.0.verify_csrf(&field.text().await?)?;
                csrf_ok = true;
            }
            _ if !csrf_ok => return Err(PageError::BadToken.into()),
            "logo" => {
                while let Some(chunk) = field.chunk().await? {
                    let room = (MAX_LOGO_BYTES + 1).saturating_sub(bytes.len());
                    bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(PageError::BadToken.into());
    }
    Ok(bytes)
}

/// Removes the logo.
pub async fn remove_logo(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Checked(Form(_form)): Checked<Form<ConfirmForm>>,
) -> Result<Response, PageError> {
    state.directory.set_app_logo(&me.0.actor, id, None).await?;
    Ok(Redirect::to(&format!("/admin/apps/{id}?done=logo-removed")).into_response())
}

/// Removes a registration.
pub async fn remove(
    me: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Checked(Form(_form)): Checked<Form<ConfirmForm>>,
) -> Result<Response, PageError> {
    state.directory.unregister_app(&me.0.actor, id).await?;
    Ok(Redirect::to("/admin/apps?done=removed").into_response())
}
