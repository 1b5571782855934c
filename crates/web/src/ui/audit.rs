//! The audit log page: every change, newest first, filtered by who, whom, what and when, and
//! exported as CSV.

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_domain::audit::LogCursor;
use roster_domain::directory::AuditFilterInput;
use roster_domain::time_zone::Zone;
use roster_domain::{AuditAction, AuditEntry, AuditQuery, DomainError, FieldChange};
use serde::Deserialize;

use crate::error::{render, urlencode, PageError};
use crate::extract::ReaderZone;
use crate::session::Admin;
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::ui::time_zone::Moment;
use crate::ui::user_view::show_phone;
use crate::AppState;

const PAGE_SIZE: u32 = 50;

/// One record as shown.
pub struct EntryView {
    pub at: Moment,
    pub actor: String,
    pub target: String,
    pub target_id: String,
    pub group_id: String,
    pub action: &'static str,
    pub changes: Vec<ChangeView>,
    pub client_ip: String,
    pub request_id: String,
}

impl EntryView {
    fn of(e: &AuditEntry, zone: &Zone) -> EntryView {
        EntryView {
            at: Moment::at(zone, e.at),
            actor: e.actor_name.clone(),
            target: e.target_name.clone(),
            target_id: e.target_id.map(|id| id.to_string()).unwrap_or_default(),
            group_id: e.group_id.map(|id| id.to_string()).unwrap_or_default(),
            action: e.action.label(),
            changes: e.changes.iter().map(ChangeView::of).collect(),
            client_ip: e.client_ip.clone().unwrap_or_default(),
            request_id: e.request_id.clone().unwrap_or_default(),
        }
    }
}

/// Values longer than this many characters are shortened, the whole value a click away.
const SHORT_CHARS: usize = 60;

/// A value as a record shows it.
pub struct ValueView {
    /// The value, shortened if long; empty for none.
    pub shown: String,
    /// The whole value, when `shown` is shortened.
    pub whole: Option<String>,
}

/// One changed field of a record, named and written as the admin center writes it.
pub struct ChangeView {
    pub field: String,
    pub before: ValueView,
    pub after: ValueView,
}

impl ChangeView {
    fn of(change: &FieldChange) -> ChangeView {
        let value = |v: &Option<String>| {
            let readable = readable_value(&change.field, v.as_deref().unwrap_or_default());
            match readable.chars().count() > SHORT_CHARS {
                true => ValueView {
                    shown: format!("{}…", readable.chars().take(SHORT_CHARS - 1).collect::<String>()),
                    whole: Some(readable),
                },
                false => ValueView { shown: readable, whole: None },
            }
        };
        ChangeView { field: field_label(&change.field), before: value(&change.before), after: value(&change.after) }
    }
}

/// A recorded field by the name the admin center gives it ("Mobile phone", not
/// `mobile_phone`); a field no page names is written out in words.
pub fn field_label(field: &str) -> String {
    let known = match field {
        "display_name" => "Display name",
        "first_name" => "First name",
        "last_name" => "Last name",
        "formatted_name" => "Full name",
        "job_title" => "Job title",
        "office_phone" => "Office phone",
        "mobile_phone" => "Mobile phone",
        "alternate_mobile_phone" => "Alternate mobile phone",
        "fax" => "Fax number",
        "alternate_emails" => "Alternate email addresses",
        "street_address" => "Street address",
        "state" => "State or province",
        "postal_code" => "ZIP or postal code",
        "country" => "Country or region",
        "mail" => "Primary email address",
        "employee_id" => "Employee ID",
        "enabled" => "Sign-in allowed",
        "must_change_password" => "Must change password at next sign-in",
        "external_id" => "External id",
        "access_pass" => "Temporary Access Pass",
        "access_pass_scope" => "Temporary Access Pass: who can use one",
        "access_pass_groups" => "Temporary Access Pass: groups",
        "access_pass_default_lifetime" => "Temporary Access Pass: default lifetime (minutes)",
        "access_pass_min_lifetime" => "Temporary Access Pass: minimum lifetime (minutes)",
        "access_pass_max_lifetime" => "Temporary Access Pass: maximum lifetime (minutes)",
        "access_pass_one_time" => "Temporary Access Pass: one sign-in only",
        "access_pass_length" => "Temporary Access Pass: length",
        _ => {
            let words = field.replace(['_', '.'], " ");
            let mut chars = words.chars();
            return chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
        }
    };
    known.to_string()
}

/// A recorded value as people read it: phones in international format, yes and no for flags.
fn readable_value(field: &str, value: &str) -> String {
    match (field, value) {
        (_, "true") => "Yes".into(),
        (_, "false") => "No".into(),
        ("office_phone" | "mobile_phone" | "alternate_mobile_phone" | "fax", phone) if !phone.is_empty() => {
            show_phone(&Some(phone.to_string()))
        }
        (_, other) => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<EntryView>,
    fields: Vec<Field>,
    action: String,
    actions: Vec<(&'static str, &'static str)>,
    action_error: Option<String>,
    errors: Vec<SummaryItem>,
    export_href: String,
    next_href: Option<String>,
}

/// The filters and the page, as the query string carries them.
#[derive(Deserialize, Default)]
pub struct AuditParams {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: Option<String>,
}

impl AuditParams {
    fn input(&self, zone: &Zone) -> AuditFilterInput {
        AuditFilterInput {
            actor: self.actor.clone(),
            user: self.user.clone(),
            action: self.action.clone(),
            group: self.group.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            zone: zone.clone(),
        }
    }

    /// The filters as a query string, for links that keep them.
    fn query_string(&self) -> String {
        [
            ("actor", &self.actor),
            ("user", &self.user),
            ("action", &self.action),
            ("group", &self.group),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// The audit log, filtered.
pub async fn list(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<AuditParams>,
) -> Result<Response, PageError> {
    let filters = q.query_string();
    let (entries, errors) = match state.directory.audit_query(&q.input(&zone)).await {
        Ok(query) => {
            let before = q.before.as_deref().and_then(LogCursor::decode);
            let query = AuditQuery { before, limit: PAGE_SIZE, ..query };
            (state.directory.audit_log(&me.actor, &query).await?, Vec::new())
        }
        Err(DomainError::Invalid(errors)) => (Vec::new(), errors),
        Err(e) => return Err(e.into()),
    };
    let next_href = (entries.len() == PAGE_SIZE as usize)
        .then(|| entries.last().map(|e| format!("/admin/audit?{filters}&before={}", LogCursor::of(e).encode())))
        .flatten();
    let field = |name: &str, label: &str, value: &str| Field::text(name, label, value).with_errors(&errors);
    let page = AuditPage {
        layout: Layout::new(&me, "Audit log", Section::Audit),
        entries: entries.iter().map(|e| EntryView::of(e, &zone)).collect(),
        fields: vec![
            field("actor", "Changed by", &q.actor).hint("Username or id of the administrator or user"),
            field("user", "User", &q.user).hint("Username or id of the user the change was about"),
            field("group", "Group", &q.group).hint("Name or id of the group the change was made to or in"),
            field("from", "From", &q.from).kind("date").hint(&format!("Days in {}", zone.name())),
            field("to", "To", &q.to).kind("date"),
        ],
        action: q.action.trim().to_string(),
        actions: AuditAction::ALL.iter().map(|a| (a.code(), a.label())).collect(),
        action_error: errors.iter().find(|e| e.field == "action").map(|e| e.message.clone()),
        errors: summary(&errors),
        export_href: format!("/admin/audit/export?{filters}"),
        next_href,
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(render(status, &page))
}

/// Records per page of an export.
const EXPORT_PAGE: u32 = 1_000;

/// Streams every record the filters find, newest first, as CSV.
pub async fn export(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<AuditParams>,
) -> Result<Response, PageError> {
    let query = state.directory.audit_query(&q.input(&zone)).await?;
    // Refused before the download starts, rather than as a broken file.
    state.directory.audit_log(&me.actor, &AuditQuery { limit: 1, ..query.clone() }).await?;
    let directory = state.directory.clone();
    let actor = me.actor.clone();
    // (the record to continue after, whether the header is written, done)
    let start: (Option<LogCursor>, bool, bool) = (None, false, false);
    let pages = futures_util::stream::unfold(start, move |(before, headed, done)| {
        let (directory, actor, query) = (directory.clone(), actor.clone(), query.clone());
        async move {
            if done {
                return None;
            }
            let page = AuditQuery { before, limit: EXPORT_PAGE, ..query };
            let chunk = match directory.audit_log(&actor, &page).await {
                Ok(entries) => csv_chunk(&entries, !headed).map(|bytes| (bytes, entries)),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            Some(match chunk {
                Ok((bytes, entries)) => {
                    let last = entries.last().map(LogCursor::of);
                    let done = entries.len() < EXPORT_PAGE as usize;
                    (Ok(Bytes::from(bytes)), (last, true, done))
                }
                // The status line is sent already: a broken connection is the only way left to
                // say the file is incomplete.
                Err(e) => (Err(e), (None, true, true)),
            })
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}

/// One page of records as CSV, with the header line first if `header`.
fn csv_chunk(entries: &[AuditEntry], header: bool) -> Result<Vec<u8>, std::io::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if header {
        out.write_record([
            "Time (UTC)",
            "Action",
            "Changed by",
            "User",
            "Changes",
            "Client address",
            "Request id",
            "Record id",
            "Group id",
        ])?;
    }
    for e in entries {
        let changes: Vec<String> = e
            .changes
            .iter()
            .map(|c| {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(empty)".into());
                format!("{}: {} -> {}", c.field, show(&c.before), show(&c.after))
            })
            .collect();
        out.write_record([
            e.at.rfc3339(),
            e.action.label().to_string(),
            e.actor_name.clone(),
            e.target_name.clone(),
            changes.join("; "),
            e.client_ip.clone().unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            e.id.to_string(),
            e.group_id.map(|id| id.to_string()).unwrap_or_default(),
        ])?;
    }
    out.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_as_the_admin_center_names_them() {
        assert_eq!(field_label("mobile_phone"), "Mobile phone");
        assert_eq!(field_label("enabled"), "Sign-in allowed");
        assert_eq!(field_label("cost_center"), "Cost center");
        assert_eq!(field_label("signing_key"), "Signing key");
    }

    #[test]
    fn values_read_as_words_and_long_ones_are_shortened_whole_value_kept() {
        let change = |field: &str, after: &str| FieldChange {
            field: field.into(),
            sensitive: false,
            before: None,
            after: Some(after.into()),
        };
        assert_eq!(ChangeView::of(&change("enabled", "false")).after.shown, "No");
        assert_eq!(ChangeView::of(&change("mobile_phone", "+14255550100")).after.shown, "+1 425-555-0100");
        let long = "a".repeat(100);
        let view = ChangeView::of(&change("reason", &long));
        assert_eq!(view.after.shown.chars().count(), SHORT_CHARS);
        assert_eq!(view.after.whole.as_deref(), Some(long.as_str()));
        assert_eq!(view.before.shown, "");
    }
}
