//! Reports → Recovery readiness: how many people could reset a forgotten password on their own,
//! as figures and a chart, and the people in each group.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::readiness::{Readiness, ReadinessReport};
use roster_domain::DomainError;
use serde::Deserialize;

use crate::error::{render, PageError};
use crate::session::Admin;
use crate::ui::layout::{Layout, Section};
use crate::ui::users::{decode_cursor, encode_cursor};
use crate::AppState;

/// Users per page of a group.
const GROUP_PAGE: usize = 50;

/// One group as the chart and the figures show it.
pub struct GroupView {
    pub code: &'static str,
    pub label: &'static str,
    pub count: u64,
    pub percent: String,
    /// The segment's start and width in the chart, out of 1000.
    pub x: u64,
    pub width: u64,
    pub colour: &'static str,
}

/// A user in a group's list.
pub struct MemberView {
    pub id: String,
    pub display_name: String,
    pub username: String,
    pub roles: String,
}

#[derive(Template)]
#[template(path = "admin/readiness.html")]
struct ReadinessPage {
    layout: Layout,
    report: ReadinessReport,
    groups: Vec<GroupView>,
    summary: String,
    group: Option<GroupView>,
    members: Vec<MemberView>,
    more_href: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ReadinessParams {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

/// Each group's colour: told apart by more than hue (the figures and labels carry the same
/// facts), each at least 3:1 against white.
fn colour(group: Readiness) -> &'static str {
    match group {
        Readiness::Ready => "#1e6b34",
        Readiness::NotEnough => "#a15c00",
        Readiness::OnlyUnverified => "#6b3fa0",
        Readiness::NoContacts => "#b3261e",
    }
}

fn groups(report: &ReadinessReport) -> Vec<GroupView> {
    let total = report.users.max(1);
    let mut x = 0;
    Readiness::ALL
        .iter()
        .map(|&g| {
            let count = report.count(g);
            let width = count * 1000 / total;
            let view = GroupView {
                code: g.code(),
                label: g.label(),
                count,
                percent: format!("{:.1} %", count as f64 * 100.0 / total as f64),
                x,
                width,
                colour: colour(g),
            };
            x += width;
            view
        })
        .collect()
}

/// The report, and a group's members when one is chosen.
pub async fn show(
    Admin(me): Admin,
    State(state): State<AppState>,
    Query(q): Query<ReadinessParams>,
) -> Result<Response, PageError> {
    let report = state.directory.readiness(&me.actor).await?;
    let views = groups(&report);
    let summary =
        views.iter().map(|g| format!("{}: {} ({})", g.label, g.count, g.percent)).collect::<Vec<_>>().join("; ");
    let chosen = match q.group.as_deref() {
        None | Some("") => None,
        Some(code) => Some(Readiness::from_code(code).ok_or(DomainError::NotFound("group"))?),
    };
    let (members, more_href) = match chosen {
        None => (Vec::new(), None),
        Some(group) => {
            let after = q.after.as_deref().and_then(decode_cursor);
            let (users, next) = state.directory.readiness_group(&me.actor, group, after, GROUP_PAGE).await?;
            let members = users
                .iter()
                .map(|u| MemberView {
                    id: u.id.to_string(),
                    display_name: u.contact.display_name.clone(),
                    username: u.username.to_string(),
                    roles: u.roles.display(),
                })
                .collect();
            let more =
                next.map(|c| format!("/admin/reports/readiness?group={}&after={}", group.code(), encode_cursor(&c)));
            (members, more)
        }
    };
    let page = ReadinessPage {
        layout: Layout::new(&me, "Recovery readiness", Section::Readiness),
        group: chosen.and_then(|g| groups(&report).into_iter().find(|v| v.code == g.code())),
        groups: views,
        summary,
        report,
        members,
        more_href,
    };
    Ok(render(StatusCode::OK, &page))
}
