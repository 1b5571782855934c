//! "My account": every user's own page, and changing one's own password.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use roster_domain::directory::MyApp;
use roster_domain::oidc::grant::Scope;
use roster_domain::time_zone::Zone;
use roster_domain::{DomainError, FieldError};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{render, PageError};
use crate::extract::{Checked, ReaderZone};
use crate::session::SignedIn;
use crate::ui::form::{new_password_fields, summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::time_zone::Moment;
use crate::ui::user_view::UserView;
use crate::AppState;

#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct AccountPage {
    layout: Layout,
    user: UserView,
    status: Option<String>,
    /// Contacts that could carry codes but nobody has verified.
    unverified: usize,
    /// No contact a code could be sent to: no way to reset a forgotten password alone.
    no_contacts: bool,
    /// The time zone chosen (or being chosen), and the zones to choose among by region.
    zone: String,
    zones: Vec<(&'static str, Vec<String>)>,
    zone_error: Option<String>,
    errors: Vec<SummaryItem>,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    #[serde(default)]
    changed: Option<String>,
}

/// The signed-in user's own page.
pub async fn show(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let status = q.changed.map(|what| match what.as_str() {
        "time-zone" => format!("Times are now shown in {}.", zone.name()),
        _ => "Your password was changed.".to_string(),
    });
    Ok(render(StatusCode::OK, &page(&me, &state, &zone, status, zone.name(), &[]).await?))
}

/// My account read in `zone`, with `status` said at the top, `chosen` in the time zone list,
/// and `errors` of the time zone.
pub(crate) async fn page(
    me: &SignedIn,
    state: &AppState,
    zone: &Zone,
    status: Option<String>,
    chosen: &str,
    errors: &[FieldError],
) -> Result<AccountPage, PageError> {
    let contacts = state.directory.contact_states(&me.actor, me.user.id).await?;
    let reachable: Vec<_> = contacts.iter().filter(|c| c.method.kind.channel().is_some()).collect();
    let unverified = reachable.iter().filter(|c| c.verified_at.is_none()).count();
    Ok(AccountPage {
        layout: Layout::new(me, "My account", Section::Account),
        user: UserView::of(&me.user, zone).with_manager(state.directory.contact_input(&me.user).await?.manager),
        status,
        unverified,
        no_contacts: reachable.is_empty(),
        zone: chosen.to_string(),
        zones: Zone::choices(),
        zone_error: errors.first().map(|e| e.message.clone()),
        errors: summary(errors),
    })
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    must_change: bool,
    /// Signed in with a Temporary Access Pass: the current password is not asked for.
    by_pass: bool,
    fields: Vec<Field>,
    errors: Vec<SummaryItem>,
}

fn password_page(me: &SignedIn, errors: &[FieldError], min_length: usize) -> PasswordPage {
    let by_pass = me.session.by_access_pass();
    let current = Field::text("current_password", "Current password", "")
        .kind("password")
        .autocomplete("current-password")
        .required()
        .with_errors(errors);
    let current = (!by_pass).then_some(current);
    let fields = current.into_iter().chain(new_password_fields(errors, min_length)).collect();
    PasswordPage {
        layout: Layout::new(me, "Change your password", Section::Account),
        must_change: me.user.must_change_password,
        by_pass,
        fields,
        errors: summary(errors),
    }
}

/// The change-password form.
pub async fn show_password(me: SignedIn, State(state): State<AppState>) -> Result<Response, PageError> {
    let min_length = state.directory.min_password_length().await?;
    Ok(render(StatusCode::OK, &password_page(&me, &[], min_length)))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// Changes the signed-in user's password; their other sessions end.
pub async fn change_password(
    me: SignedIn,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<PasswordForm>>,
) -> Result<Response, PageError> {
    if me.session.by_access_pass() {
        let changed =
            state.directory.set_password_with_pass(&me.actor, &me.session, &form.new_password, &form.confirm_password);
        return match changed.await {
            Ok(()) => Ok(Redirect::to("/account/security?saved=password").into_response()),
            Err(DomainError::Invalid(errors)) => {
                let min_length = state.directory.min_password_length().await?;
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &password_page(&me, &errors, min_length)))
            }
            Err(e) => Err(e.into()),
        };
    }
    if form.new_password != form.confirm_password {
        let errors = [FieldError::new("confirm_password", "The two new passwords don't match.")];
        let min_length = state.directory.min_password_length().await?;
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &password_page(&me, &errors, min_length)));
    }
    match state.directory.change_own_password(&me.actor, &me.token, &form.current_password, &form.new_password).await {
        Ok(()) => Ok(Redirect::to("/account?changed=password").into_response()),
        Err(DomainError::Invalid(errors)) => {
            let min_length = state.directory.min_password_length().await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &password_page(&me, &errors, min_length)))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    layout: Layout,
    apps: Vec<AppTile>,
}

/// An application as My apps shows it: a tile with its logo (or initial), its name and where
/// it lives.
struct AppTile {
    name: String,
    /// The logo's address, which changes with each upload so that browsers may keep it.
    logo: Option<String>,
    url: String,
    initial: String,
    /// The home page's host, so that people see where the tile takes them.
    host: String,
}

impl AppTile {
    fn of(app: MyApp) -> AppTile {
        let initial = app.name.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
        let host = app.home_page_url.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default();
        let logo = app.logo_updated_at.map(|at| format!("/apps/{}/logo?v={}", app.id, at.millis()));
        AppTile { initial, host: host.to_string(), name: app.name, url: app.home_page_url, logo }
    }
}

/// `GET /apps/{id}/logo`: an application's logo, for anyone signed in.
pub async fn logo(_me: SignedIn, State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Response, PageError> {
    let logo = state.directory.app_logo(id).await?;
    let headers = [
        (header::CONTENT_TYPE, logo.content_type),
        // The address changes with every upload, so the browser may keep what it fetched.
        (header::CACHE_CONTROL, "private, max-age=86400".to_string()),
    ];
    Ok((headers, logo.bytes).into_response())
}

/// My apps: the applications the person may open, and Roster's own pages, as the App
/// launcher lists them (also for browsers without JavaScript).
pub async fn apps(me: SignedIn, State(state): State<AppState>) -> Result<Response, PageError> {
    let apps = state.directory.my_apps(&me.actor).await?.into_iter().map(AppTile::of).collect();
    Ok(render(StatusCode::OK, &AppsPage { layout: Layout::new(&me, "My apps", Section::Account), apps }))
}

#[derive(Template)]
#[template(path = "signed_in_apps.html")]
struct SignedInAppsPage {
    layout: Layout,
    apps: Vec<SignedInRow>,
    status: Option<String>,
}

/// An application the person has signed in to, as their account page lists it.
struct SignedInRow {
    id: uuid::Uuid,
    name: String,
    last_sign_in: Moment,
    consented: Vec<&'static str>,
}

/// The applications the person has signed in to, when, and what they consented to.
pub async fn signed_in_apps(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let apps = state
        .directory
        .my_signed_in_apps(&me.actor)
        .await?
        .into_iter()
        .map(|a| SignedInRow {
            id: a.grant.app_id,
            name: a.name,
            last_sign_in: Moment::at(&zone, a.grant.last_sign_in_at),
            consented: a.grant.scopes.iter().map(Scope::describe).collect(),
        })
        .collect();
    let status = q.changed.map(|_| "Access removed. The application must ask you again.".to_string());
    let page = SignedInAppsPage { layout: Layout::new(&me, "Apps you use", Section::Account), apps, status };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct RevokeForm {}

/// Withdraws consent to one application and signs the person out of it.
pub async fn revoke_app(
    me: SignedIn,
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<uuid::Uuid>,
    Checked(Form(_form)): Checked<Form<RevokeForm>>,
) -> Result<Response, PageError> {
    state.directory.revoke_my_app(&me.actor, id).await?;
    Ok(Redirect::to("/account/apps?changed=1").into_response())
}
