//! The admin center's home: where an administrator lands after signing in, with the figures
//! that need attention and the tasks done most often.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use roster_domain::audit::{AuditAction, AuditEntry, AuditQuery};
use roster_domain::clock::Timestamp;
use roster_domain::readiness::Readiness;
use roster_domain::time_zone::Zone;
use roster_domain::{DomainError, FieldError};
use serde::Deserialize;

use crate::error::{render, PageError};
use crate::extract::ReaderZone;
use crate::session::{Admin, SignedIn};
use crate::ui::form::Field;
use crate::ui::layout::{Layout, Section};
use crate::ui::readiness::Glance;
use crate::ui::time_zone::Moment;
use crate::ui::wording::count;
use crate::AppState;

/// How far back "lately" reaches: from the start (UTC) of the day this many days ago, the
/// first day the audit log's filter then shows.
const RECENT_DAYS: i64 = 7;
/// People named per card; the audit log has the rest.
const NAMED: usize = 5;
/// Records counted per card: past this the card says "or more".
const COUNTED: u32 = 100;

/// Changes of one kind made lately, as a card shows them.
pub struct Recent {
    /// The card's heading and its id.
    pub heading: String,
    pub id: &'static str,
    /// "3 users", or "100 or more users".
    pub summary: String,
    /// The latest few: whom, linked when they are still a user, and when.
    pub people: Vec<(String, Option<String>, Moment)>,
    /// The audit log filtered to these records.
    pub href: String,
}

impl Recent {
    fn of(heading: &str, entries: &[AuditEntry], action: AuditAction, since: Timestamp, zone: &Zone) -> Recent {
        let n = entries.len() as u64;
        let summary = if n >= u64::from(COUNTED) { format!("{n} or more users") } else { count(n, "user", "users") };
        Recent {
            heading: format!("{heading} since {}", zone.date(since)),
            id: action.code(),
            summary,
            people: entries
                .iter()
                .take(NAMED)
                .map(|e| {
                    (e.target_name.clone(), e.target_id.map(|id| format!("/admin/users/{id}")), Moment::at(zone, e.at))
                })
                .collect(),
            href: format!("/admin/audit?action={}&from={}", action.code(), zone.date(since)),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage {
    layout: Layout,
    readiness: Option<Glance>,
    /// Why the signed-in administrator is among those who could not reset, if they are.
    you: Option<&'static str>,
    /// People added and people blocked lately.
    recent: [Recent; 2],
    /// How many messages wait for delivery, for those who may read the outbox.
    outbox: Option<String>,
    reset_user: Field,
}

async fn home_page(
    state: &AppState,
    me: &SignedIn,
    zone: &Zone,
    reset_errors: &[FieldError],
    username: &str,
) -> Result<HomePage, PageError> {
    // From the start of that day where the reader is, as the audit log's day filter reads it.
    let week_ago = Timestamp::now().plus_seconds(-RECENT_DAYS * 24 * 60 * 60);
    let since = zone.start_of_day(week_ago);
    let recent =
        |action| AuditQuery { action: Some(action), from: Some(since), limit: COUNTED, ..AuditQuery::default() };
    let added = state.directory.audit_log(&me.actor, &recent(AuditAction::UserCreated)).await?;
    let blocked = state.directory.audit_log(&me.actor, &recent(AuditAction::UserDisabled)).await?;
    let you = match state.directory.readiness_of(&me.actor, me.user.id).await? {
        None | Some(Readiness::Ready) => None,
        Some(Readiness::NotEnough) => Some("you have fewer recovery methods than an administrator needs"),
        Some(Readiness::OnlyUnverified) => Some("none of your recovery contacts is verified"),
        Some(Readiness::NoContacts) => Some("you have no recovery contacts"),
    };
    let layout = Layout::new(me, "Home", Section::Home);
    let outbox = match layout.is_global_admin {
        true => Some(count(state.directory.status().await?.outbox_pending, "message waits", "messages wait")),
        false => None,
    };
    Ok(HomePage {
        readiness: Glance::of(&state.readiness),
        you,
        recent: [
            Recent::of("Added", &added, AuditAction::UserCreated, since, zone),
            Recent::of("Blocked", &blocked, AuditAction::UserDisabled, since, zone),
        ],
        outbox,
        reset_user: Field::text("username", "Username", username).autocomplete("off").with_errors(reset_errors),
        layout,
    })
}

/// `/admin`.
pub async fn show(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
) -> Result<Response, PageError> {
    Ok(render(StatusCode::OK, &home_page(&state, &me, &zone, &[], "").await?))
}

#[derive(Deserialize)]
pub struct ResetQuery {
    #[serde(default)]
    username: String,
}

/// The home's "Reset a password": on to the user's reset form, or back to the home saying why
/// not.
pub async fn reset_password(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<ResetQuery>,
) -> Result<Response, PageError> {
    let why = if q.username.trim().is_empty() {
        "Enter the username of the person whose password to reset.".to_string()
    } else {
        match state.directory.user_named(&me.actor, &q.username).await {
            Ok(user) if user.deleted_at.is_none() => {
                return Ok(Redirect::to(&format!("/admin/users/{}/password", user.id)).into_response())
            }
            Ok(_) | Err(DomainError::NotFound(_)) => format!("No active user has the username {}.", q.username.trim()),
            Err(other) => return Err(other.into()),
        }
    };
    let errors = [FieldError::new("username", why)];
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &home_page(&state, &me, &zone, &errors, &q.username).await?))
}
