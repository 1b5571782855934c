//! The sign-in log page: every attempt to sign in, newest first, filtered by username, result
//! and days.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::audit::LogCursor;
use roster_domain::directory::SignInFilterInput;
use roster_domain::signin_log::{SignInEvent, SignInQuery};
use roster_domain::time_zone::Zone;
use roster_domain::{Directory, DomainError};
use serde::Deserialize;

use crate::error::{render, urlencode, PageError};
use crate::extract::ReaderZone;
use crate::session::Admin;
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::time_zone::Moment;
use crate::AppState;

const PAGE_SIZE: u32 = 50;

/// One attempt as shown.
pub struct EventView {
    pub at: Moment,
    pub username: String,
    pub success: bool,
    pub method: String,
    pub detail: String,
    pub client_ip: String,
}

impl EventView {
    fn of(e: &SignInEvent, zone: &Zone) -> EventView {
        EventView {
            at: Moment::at(zone, e.at),
            username: e.username.clone(),
            success: e.success,
            method: e.method.clone(),
            detail: e.detail.clone(),
            client_ip: e.client_ip.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/signin_log.html")]
struct SignInLogPage {
    layout: Layout,
    events: Vec<EventView>,
    fields: Vec<Field>,
    result: String,
    result_error: Option<String>,
    errors: Vec<SummaryItem>,
    next_href: Option<String>,
}

/// The filters and the page, as the query string carries them.
#[derive(Deserialize, Default)]
pub struct SignInParams {
    #[serde(default)]
    username: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: Option<String>,
}

/// The sign-in log, filtered.
pub async fn list(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<SignInParams>,
) -> Result<Response, PageError> {
    let input = SignInFilterInput {
        username: q.username.clone(),
        result: q.result.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
        zone: zone.clone(),
    };
    let (events, errors) = match Directory::sign_in_query(&input) {
        Ok(query) => {
            let before = q.before.as_deref().and_then(LogCursor::decode);
            let query = SignInQuery { before, limit: PAGE_SIZE, ..query };
            (state.directory.sign_in_log(&me.actor, &query).await?, Vec::new())
        }
        Err(DomainError::Invalid(errors)) => (Vec::new(), errors),
        Err(e) => return Err(e.into()),
    };
    let filters = [("username", &q.username), ("result", &q.result), ("from", &q.from), ("to", &q.to)]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
        .collect::<Vec<_>>()
        .join("&");
    let next_href = (events.len() == PAGE_SIZE as usize)
        .then(|| events.last().map(|e| format!("/admin/sign-ins?{filters}&before={}", e.cursor().encode())))
        .flatten();
    let field = |name: &str, label: &str, value: &str| Field::text(name, label, value).with_errors(&errors);
    let page = SignInLogPage {
        layout: Layout::new(&me, "Sign-in log", Section::SignIns),
        events: events.iter().map(|e| EventView::of(e, &zone)).collect(),
        fields: vec![
            field("username", "Username", &q.username),
            field("from", "From", &q.from).kind("date").hint(&format!("Days in {}", zone.name())),
            field("to", "To", &q.to).kind("date"),
        ],
        result: q.result.trim().to_string(),
        result_error: errors.iter().find(|e| e.field == "result").map(|e| e.message.clone()),
        errors: summary(&errors),
        next_href,
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(render(status, &page))
}
