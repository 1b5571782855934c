//! "Security info": every user's own recovery contacts, with a code to prove each is theirs.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use roster_domain::directory::{Enrolment, SecondFactors};
use roster_domain::recovery::MethodKind;
use roster_domain::time_zone::Zone;
use roster_domain::{DomainError, FieldError};
use serde::Deserialize;

use axum_extra::extract::cookie::CookieJar;

use crate::error::{describe, local_path, render, urlencode, PageError};
use crate::extract::{Checked, CheckedPost, ReaderZone};
use crate::session::session_cookie;
use crate::session::SignedIn;
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::methods::MethodView;
use crate::ui::passkeys::PasskeyRow;
use crate::ui::second_step::RecoveryCodesPage;
use crate::ui::time_zone::Moment;
use crate::AppState;

#[derive(Template)]
#[template(path = "security_info.html")]
pub(crate) struct SecurityInfoPage {
    layout: Layout,
    methods: Vec<MethodView>,
    send_action: &'static str,
    send_label: &'static str,
    /// The contact a code is being entered for: its key and its value as shown.
    pending: Option<(String, String)>,
    code: Field,
    errors: Vec<SummaryItem>,
    status: Option<String>,
    problem: Option<String>,
    factors: SecondFactors,
    new_email: Field,
    mobile: Field,
    alternate_mobile: Field,
    /// When the Temporary Access Pass that opened the session ends.
    pass_until: Option<Moment>,
    passkeys_available: bool,
    passkeys: Vec<PasskeyRow>,
    passkey_name: Field,
}

#[derive(Deserialize)]
pub struct SecurityQuery {
    /// The key of the contact to enter a code for.
    #[serde(default)]
    enter: Option<String>,
    #[serde(default)]
    verified: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

pub(crate) async fn page(
    me: &SignedIn,
    state: &AppState,
    zone: &Zone,
    enter: Option<&str>,
    errors: &[FieldError],
) -> Result<SecurityInfoPage, PageError> {
    let methods = state.directory.contact_states(&me.actor, me.user.id).await?;
    let methods: Vec<MethodView> = methods.iter().map(|m| MethodView::of(m, zone)).collect();
    let pending = enter.and_then(|key| methods.iter().find(|m| m.key == key)).map(|m| (m.key.clone(), m.value.clone()));
    let factors = state.directory.second_factors(&me.actor).await?;
    let shown = |kind: MethodKind| methods.iter().find(|m| m.kind == kind).map(|m| m.value.clone()).unwrap_or_default();
    Ok(SecurityInfoPage {
        new_email: Field::text("value.email", "Alternate email address", "")
            .kind("email")
            .autocomplete("email")
            .with_errors(errors),
        mobile: Field::text("value.mobile_phone", "Mobile phone", &shown(MethodKind::MobilePhone))
            .kind("tel")
            .autocomplete("tel")
            .hint("With +country code, or a number of your organisation's country. Leave empty to remove it.")
            .with_errors(errors),
        alternate_mobile: Field::text(
            "value.alternate_mobile_phone",
            "Alternate mobile phone",
            &shown(MethodKind::AlternateMobilePhone),
        )
        .kind("tel")
        .autocomplete("off")
        .with_errors(errors),
        factors,
        passkeys_available: state.directory.passkey_standing(&me.user).await?.allowed,
        passkeys: state.directory.my_passkeys(&me.actor).await?.iter().map(|p| PasskeyRow::of(p, zone)).collect(),
        passkey_name: Field::text("name", "Name for the passkey", "")
            .autocomplete("off")
            .hint("Such as “Work laptop” or “Phone”, so that you can tell your passkeys apart.")
            .with_errors(errors),
        pass_until: me.session.expires_at.map(|t| Moment::at(zone, t)),
        layout: Layout::new(me, "Security info", Section::Account),
        methods,
        send_action: "/account/security/send",
        send_label: "Send code",
        pending,
        code: Field::text("code", "Code", "")
            .autocomplete("one-time-code")
            .hint("The digits in the message, without spaces.")
            .required()
            .with_errors(errors),
        errors: summary(errors),
        status: None,
        problem: None,
    })
}

/// The Security info page.
pub async fn show(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<SecurityQuery>,
) -> Result<Response, PageError> {
    let mut body = page(&me, &state, &zone, q.enter.as_deref(), &[]).await?;
    body.status = match (q.verified, q.saved.as_deref()) {
        (Some(what), _) => Some(format!("Verified: {what} is confirmed as yours.")),
        (None, Some("app-removed")) => Some("The authenticator app was removed.".into()),
        (None, Some("contact")) => Some("Your security info was saved.".into()),
        (None, Some("password")) => Some("Your new password was saved.".into()),
        (None, Some("passkey")) => Some("Your passkey was added.".into()),
        (None, Some("passkey-removed")) => Some("The passkey was removed.".into()),
        (None, Some(_)) => Some("Your choice was saved.".into()),
        (None, None) => None,
    };
    Ok(render(StatusCode::OK, &body))
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    method: String,
}

/// Sends a code to one of the user's own contacts.
pub async fn send(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<SendForm>>,
) -> Result<Response, PageError> {
    match state.directory.send_verification(&me.actor, me.user.id, &form.method).await {
        Ok(()) => Ok(Redirect::to(&format!("/account/security?enter={}", urlencode(&form.method))).into_response()),
        Err(e @ (DomainError::Limited(_) | DomainError::Invalid(_))) => {
            let (status, message) = describe(&e);
            let mut body = page(&me, &state, &zone, None, &[]).await?;
            body.problem = Some(message);
            Ok(render(status, &body))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
}

/// Checks the code the user entered.
pub async fn verify(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<VerifyForm>>,
) -> Result<Response, PageError> {
    match state.directory.verify_contact(&me.actor, &form.method, &form.code).await {
        Ok(method) => {
            Ok(Redirect::to(&format!("/account/security?verified={}", urlencode(&method.masked()))).into_response())
        }
        Err(DomainError::Invalid(errors)) => {
            let body = page(&me, &state, &zone, Some(&form.method), &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &body))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "app_setup.html")]
struct AppSetupPage {
    layout: Layout,
    enrolment: Enrolment,
    app_code: Field,
    errors: Vec<SummaryItem>,
}

async fn app_setup_page(me: &SignedIn, state: &AppState, errors: &[FieldError]) -> Result<AppSetupPage, PageError> {
    let enrolment = state.directory.begin_app_setup(&me.actor, &me.session).await?;
    Ok(AppSetupPage {
        layout: Layout::new(me, "Set up an authenticator app", Section::Account),
        enrolment,
        app_code: Field::text("app_code", "Code from your authenticator app", "")
            .autocomplete("one-time-code")
            .hint("Six digits; a new one every 30 seconds.")
            .required()
            .with_errors(errors),
        errors: summary(errors),
    })
}

/// Setting up an authenticator app: the QR code and its key.
pub async fn show_app_setup(me: SignedIn, State(state): State<AppState>) -> Result<Response, PageError> {
    Ok(render(StatusCode::OK, &app_setup_page(&me, &state, &[]).await?))
}

#[derive(Deserialize)]
pub struct AppForm {
    #[serde(default)]
    app_code: String,
}

/// Confirms the app with its first code; shows recovery codes made with it.
pub async fn confirm_app(
    me: SignedIn,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<AppForm>>,
) -> Result<Response, PageError> {
    match state.directory.confirm_app_setup(&me.actor, &me.session, &form.app_code).await {
        Ok(codes) if codes.is_empty() => Ok(Redirect::to("/account/security?saved=app").into_response()),
        Ok(codes) => Ok(render(
            StatusCode::OK,
            &RecoveryCodesPage {
                status: "Your authenticator app is set up.".into(),
                codes,
                next: "/account/security".into(),
            },
        )),
        Err(DomainError::Invalid(errors)) => {
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &app_setup_page(&me, &state, &errors).await?))
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the authenticator app.
pub async fn remove_app(me: SignedIn, State(state): State<AppState>, _: CheckedPost) -> Result<Response, PageError> {
    state.directory.remove_app(&me.actor, &me.session).await?;
    Ok(Redirect::to("/account/security?saved=app-removed").into_response())
}

/// Replaces the recovery codes and shows the new ones once.
pub async fn new_recovery_codes(
    me: SignedIn,
    State(state): State<AppState>,
    _: CheckedPost,
) -> Result<Response, PageError> {
    let codes = state.directory.regenerate_recovery_codes(&me.actor, &me.session).await?;
    let body = RecoveryCodesPage {
        status: "New recovery codes were made; the old ones no longer work.".into(),
        codes,
        next: "/account/security".into(),
    };
    Ok(render(StatusCode::OK, &body))
}

#[derive(Deserialize)]
pub struct ChoiceForm {
    #[serde(default)]
    second_step: Option<String>,
}

/// Saves whether the user wants a second step at sign-in.
pub async fn choose_second_step(
    me: SignedIn,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<ChoiceForm>>,
) -> Result<Response, PageError> {
    state.directory.choose_second_step(&me.actor, &me.session, form.second_step.is_some()).await?;
    Ok(Redirect::to("/account/security?saved=second-step").into_response())
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage {
    layout: Layout,
    next: String,
    password: Field,
    errors: Vec<SummaryItem>,
}

#[derive(Deserialize)]
pub struct ReauthQuery {
    #[serde(default)]
    next: String,
}

fn reauth_page(me: &SignedIn, next: &str, errors: &[FieldError]) -> ReauthPage {
    ReauthPage {
        layout: Layout::new(me, "Confirm your password", Section::Account),
        next: local_path(next).unwrap_or("/account/security").to_string(),
        password: Field::text("password", "Password", "")
            .kind("password")
            .autocomplete("current-password")
            .required()
            .with_errors(errors),
        errors: summary(errors),
    }
}

/// Asks for the password again before a change that needs a recent sign-in.
pub async fn show_reauth(me: SignedIn, Query(q): Query<ReauthQuery>) -> Response {
    render(StatusCode::OK, &reauth_page(&me, &q.next, &[]))
}

#[derive(Deserialize)]
pub struct ReauthForm {
    #[serde(default)]
    next: String,
    #[serde(default)]
    password: String,
}

/// Checks the password and renews the session.
pub async fn reauth(
    me: SignedIn,
    jar: CookieJar,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<ReauthForm>>,
) -> Result<Response, PageError> {
    match state.directory.reauthenticate(&me.actor, &me.token, &form.password).await {
        Ok(token) => {
            let next = local_path(&form.next).unwrap_or("/account/security").to_string();
            Ok((jar.add(session_cookie(token, state.config.secure_cookies)), Redirect::to(&next)).into_response())
        }
        Err(DomainError::Invalid(errors)) => {
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &reauth_page(&me, &form.next, &errors)))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ContactForm {
    /// `email`, `mobile_phone` or `alternate_mobile_phone`.
    #[serde(default)]
    kind: String,
    /// The value replaced or removed (alternate addresses only).
    #[serde(default)]
    old: Option<String>,
    #[serde(default)]
    value: String,
}

/// Adds, changes or removes one of the user's own contacts.
pub async fn change_contact(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<ContactForm>>,
) -> Result<Response, PageError> {
    let kind = MethodKind::from_code(&form.kind)
        .filter(|k| *k != MethodKind::OfficePhone)
        .ok_or_else(|| DomainError::invalid("kind", "Choose an alternate email address or a mobile phone."))?;
    let result =
        state.directory.change_own_contact(&me.actor, &me.session, kind, form.old.as_deref(), &form.value).await;
    match result {
        Ok(_) => Ok(Redirect::to("/account/security?saved=contact").into_response()),
        Err(DomainError::Invalid(errors)) => {
            // The domain names the one input "value"; the page has one per contact kind.
            let errors: Vec<FieldError> =
                errors.into_iter().map(|e| FieldError::new(format!("value.{}", kind.code()), e.message)).collect();
            let body = page(&me, &state, &zone, None, &errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &body))
        }
        Err(e) => Err(e.into()),
    }
}
