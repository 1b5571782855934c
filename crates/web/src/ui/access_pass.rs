//! A user's Temporary Access Pass in the admin center: creating one (shown once on the page
//! after), seeing its state on the user's details, and removing it.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use roster_domain::access_pass::{self, AccessPassPolicy, AccessPassRequest, Usability};
use roster_domain::directory::{AccessPassView, ShownOnce};
use roster_domain::permission::Permission;
use roster_domain::time_zone::Zone;
use roster_domain::{DomainError, FieldError, User, UserId};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::{Checked, CheckedPost, ReaderZone, UserPath};
use crate::session::{Admin, SignedIn};
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::shown_once;
use crate::ui::time_zone::Moment;
use crate::AppState;

/// A pass as the user's details show it.
pub struct PassView {
    pub state: &'static str,
    pub usable: bool,
    pub starts: Moment,
    pub ends: Moment,
    pub created: Moment,
    pub used: Option<Moment>,
    pub usable_once: bool,
}

impl PassView {
    /// `pass` for a reader in `zone`.
    pub fn of(pass: &AccessPassView, zone: &Zone) -> PassView {
        PassView {
            state: pass.usability.label(),
            usable: pass.usability == Usability::Usable,
            starts: Moment::at(zone, pass.start_at),
            ends: Moment::at(zone, pass.ends_at),
            created: Moment::at(zone, pass.created_at),
            used: pass.used_at.map(|t| Moment::at(zone, t)),
            usable_once: pass.usable_once,
        }
    }
}

/// Whether `me` may give `user` a pass (never themselves).
pub fn may_manage(me: &SignedIn, user: &User) -> bool {
    me.user.id != user.id && me.require(Permission::ManageSignInMethods, user.roles).is_ok()
}

#[derive(Template)]
#[template(path = "admin/access_pass.html")]
struct NewPassPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    current: Option<PassView>,
    start: Field,
    lifetime: Field,
    usable_once: bool,
    /// The policy makes every pass one-time: the choice is shown, checked and fixed.
    one_time_only: bool,
    errors: Vec<SummaryItem>,
    problem: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NewPassForm {
    #[serde(default)]
    start: String,
    #[serde(default)]
    lifetime_minutes: String,
    #[serde(default)]
    usable_once: Option<String>,
}

fn new_pass_page(
    me: &SignedIn,
    user: &User,
    current: Option<PassView>,
    policy: &AccessPassPolicy,
    form: &NewPassForm,
    errors: &[FieldError],
) -> NewPassPage {
    let (min, max) = (policy.min_lifetime_minutes, policy.max_lifetime_minutes);
    let lifetime_hint = format!(
        "From {} to {} ({min}–{max} minutes). Leave it empty for {}.",
        access_pass::minutes(min),
        access_pass::minutes(max),
        access_pass::minutes(policy.default_lifetime_minutes)
    );
    let (problems, field_errors): (Vec<FieldError>, Vec<FieldError>) =
        errors.iter().cloned().partition(|e| e.field == "user");
    NewPassPage {
        layout: Layout::new(me, format!("Temporary Access Pass – {}", user.contact.display_name), Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        current,
        start: Field::text("start", "Starts", &form.start)
            .kind("datetime-local")
            .autocomplete("off")
            .hint("In your time zone. Leave it empty to start now.")
            .with_errors(&field_errors),
        lifetime: Field::text("lifetime_minutes", "Lifetime in minutes", &form.lifetime_minutes)
            .kind("number")
            .autocomplete("off")
            .hint(&lifetime_hint)
            .with_errors(&field_errors),
        usable_once: policy.one_time || form.usable_once.is_some(),
        one_time_only: policy.one_time,
        errors: summary(&field_errors),
        problem: problems.into_iter().next().map(|e| e.message),
    }
}

async fn current(state: &AppState, me: &SignedIn, id: UserId, zone: &Zone) -> Result<Option<PassView>, PageError> {
    Ok(state.directory.access_pass(&me.actor, id).await?.map(|p| PassView::of(&p, zone)))
}

/// `GET /admin/users/{id}/access-pass`: the form that creates a pass.
pub async fn show_new(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    UserPath(id): UserPath,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    if me.user.id == user.id {
        return Err(DomainError::Forbidden(
            "No one can give themselves a Temporary Access Pass; ask another administrator.".into(),
        )
        .into());
    }
    me.require(Permission::ManageSignInMethods, user.roles)?;
    let policy = state.directory.access_pass_policy().await?;
    let current = current(&state, &me, id, &zone).await?;
    let page = new_pass_page(&me, &user, current, &policy, &NewPassForm::default(), &[]);
    Ok(render(StatusCode::OK, &page))
}

/// Where the page that shows a new pass once is.
fn done_path(id: UserId) -> String {
    format!("/admin/users/{id}/access-pass/done")
}

/// `POST /admin/users/{id}/access-pass`: creates the pass, then redirects to the page that
/// shows it once.
pub async fn create(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    jar: CookieJar,
    Checked(Form(form)): Checked<Form<NewPassForm>>,
) -> Result<Response, PageError> {
    let request = AccessPassRequest::from_form(&form.start, &form.lifetime_minutes, form.usable_once.is_some(), &zone);
    let created = match request {
        Ok(request) => state.directory.create_access_pass(&me.actor, id, &request).await,
        Err(errors) => Err(DomainError::Invalid(errors)),
    };
    match created {
        Ok((_, secret)) => {
            let shown = ShownOnce { password: Some(secret), emailed_to: None };
            let path = done_path(id);
            Ok((shown_once::keep(&state, &me, jar, &path, id, &shown), Redirect::to(&path)).into_response())
        }
        Err(DomainError::Invalid(errors)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let policy = state.directory.access_pass_policy().await?;
            let current = current(&state, &me, id, &zone).await?;
            let page = new_pass_page(&me, &user, current, &policy, &form, &errors);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e @ DomainError::Forbidden(_)) => {
            let user = state.directory.get_user(&me.actor, id).await?;
            let policy = state.directory.access_pass_policy().await?;
            let (status, message) = describe(&e);
            let mut page = new_pass_page(&me, &user, None, &policy, &form, &[]);
            page.problem = Some(message);
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/access_pass_created.html")]
struct PassCreatedPage {
    layout: Layout,
    user_id: String,
    display_name: String,
    username: String,
    secret: Option<String>,
    pass: Option<PassView>,
}

/// `GET /admin/users/{id}/access-pass/done`: the new pass, once; a reload shows it no more.
pub async fn done(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    let (jar, shown) = shown_once::take(&state, &me, jar, &done_path(id), id);
    let page = PassCreatedPage {
        layout: Layout::new(&me, "Temporary Access Pass created", Section::ActiveUsers),
        user_id: user.id.to_string(),
        display_name: user.contact.display_name.clone(),
        username: user.username.to_string(),
        secret: shown.and_then(|s| s.password),
        pass: current(&state, &me, id, &zone).await?,
    };
    Ok((jar, render(StatusCode::OK, &page)).into_response())
}

/// `POST /admin/users/{id}/access-pass/remove`: removes the pass; the sessions it opened end.
pub async fn remove(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    _: CheckedPost,
) -> Result<Response, PageError> {
    state.directory.remove_access_pass(&me.actor, id, None).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?saved=access-pass-removed#methods-heading")).into_response())
}
