//! The audit log page: every change, newest first, filterable by user.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::{AuditEntry, AuditQuery};
use serde::Deserialize;

use crate::error::{render, PageError};
use crate::session::Admin;
use crate::ui::layout::{Layout, Section};
use crate::ui::users::parse_id;
use crate::AppState;

const PAGE_SIZE: u32 = 50;

/// One record as shown.
pub struct EntryView {
    pub at: String,
    pub actor: String,
    pub target: String,
    pub target_id: String,
    pub action: &'static str,
    /// (field, before, after) for each changed field.
    pub changes: Vec<(String, String, String)>,
    pub client_ip: String,
    pub request_id: String,
}

impl EntryView {
    fn of(e: &AuditEntry) -> EntryView {
        EntryView {
            at: e.at.display(),
            actor: e.actor_name.clone(),
            target: e.target_name.clone(),
            target_id: e.target_id.map(|id| id.to_string()).unwrap_or_default(),
            action: e.action.label(),
            changes: e
                .changes
                .iter()
                .map(|c| (c.field.clone(), c.before.clone().unwrap_or_default(), c.after.clone().unwrap_or_default()))
                .collect(),
            client_ip: e.client_ip.clone().unwrap_or_default(),
            request_id: e.request_id.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<EntryView>,
    user: String,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditParams {
    #[serde(default)]
    user: String,
    #[serde(default)]
    before: Option<i64>,
}

/// The audit log.
pub async fn list(
    Admin(me): Admin,
    State(state): State<AppState>,
    Query(q): Query<AuditParams>,
) -> Result<Response, PageError> {
    let user = q.user.trim().to_string();
    let target = if user.is_empty() { None } else { Some(parse_id(&user)?) };
    let query = AuditQuery { target, before_id: q.before, limit: PAGE_SIZE };
    let entries = state.directory.audit_log(&me.actor, &query).await?;
    let next_href = (entries.len() == PAGE_SIZE as usize)
        .then(|| entries.last().map(|e| format!("/admin/audit?user={user}&before={}", e.id)))
        .flatten();
    let page = AuditPage {
        layout: Layout::new(&me, "Audit log", Section::Audit),
        entries: entries.iter().map(EntryView::of).collect(),
        user,
        next_href,
    };
    Ok(render(StatusCode::OK, &page))
}
