//! The message outbox (Global Administrators only): every queued code and notice with its
//! delivery state. Bodies are shown only for channels without a transport on the only node,
//! where the outbox is the only place a developer can read them; once a transport is configured,
//! or while other nodes sharing the outbox may send the message, a code is for its recipient alone.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::outbox::{Channel, DeliveryState, MessageKind, OutboxEntry};
use roster_domain::permission::Permission;
use roster_domain::time_zone::Zone;
use roster_domain::RoleSet;
use serde::Deserialize;

use crate::error::{render, PageError};
use crate::extract::ReaderZone;
use crate::session::Admin;
use crate::ui::layout::{Layout, Section};
use crate::ui::time_zone::Moment;
use crate::AppState;

const PAGE_SIZE: u32 = 50;

/// One message as shown.
pub struct MessageView {
    pub created: Moment,
    pub channel: String,
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub state: String,
    pub state_class: &'static str,
    pub attempts: u32,
    pub last_error: String,
    pub finished: Option<Moment>,
    /// The body, where it may be shown.
    pub body: Option<String>,
    /// Why the body is not shown.
    pub body_note: &'static str,
}

impl MessageView {
    fn of(e: &OutboxEntry, has_transport: bool, zone: &Zone) -> MessageView {
        let (body, body_note) = if e.redacted {
            (None, "Erased after delivery.")
        } else if has_transport {
            (None, "Only the recipient can read it.")
        } else {
            (Some(e.message.text.clone()), "")
        };
        MessageView {
            created: Moment::at(zone, e.message.created_at),
            channel: e.message.channel.to_string(),
            kind: match e.message.kind {
                MessageKind::Code => "Code or password",
                MessageKind::Notice => "Security notice",
            },
            recipient: e.message.recipient.clone(),
            // A text message has no subject; its first line stands in where the body may be read.
            subject: match (e.message.subject.is_empty(), &body) {
                (false, _) => e.message.subject.clone(),
                (true, Some(text)) => text.lines().next().unwrap_or_default().to_string(),
                (true, None) => String::new(),
            },
            state: e.state.to_string(),
            state_class: match e.state {
                DeliveryState::Delivered => "badge-ok",
                DeliveryState::Failed => "badge-error",
                DeliveryState::Pending | DeliveryState::Held => "badge-muted",
            },
            attempts: e.attempts,
            last_error: e.last_error.clone().unwrap_or_default(),
            finished: e.finished_at.map(|t| Moment::at(zone, t)),
            body,
            body_note,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    layout: Layout,
    messages: Vec<MessageView>,
    email_transport: bool,
    sms_transport: bool,
    shared_outbox: bool,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub struct OutboxParams {
    #[serde(default)]
    before: Option<i64>,
}

/// The outbox, newest first.
pub async fn list(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<OutboxParams>,
) -> Result<Response, PageError> {
    me.require(Permission::ManageSettings, RoleSet::NONE)?;
    let entries = state.directory.outbox(&me.actor, q.before, PAGE_SIZE).await?;
    let next_href = (entries.len() == PAGE_SIZE as usize)
        .then(|| entries.last().map(|e| format!("/admin/outbox?before={}", e.message.id)))
        .flatten();
    let config = &state.config;
    let has = |c: Channel| {
        config.shared_outbox
            || match c {
                Channel::Email => config.email_transport,
                Channel::Sms => config.sms_transport,
                Channel::Application => true,
            }
    };
    let page = OutboxPage {
        layout: Layout::new(&me, "Message outbox", Section::Outbox),
        messages: entries.iter().map(|e| MessageView::of(e, has(e.message.channel), &zone)).collect(),
        email_transport: config.email_transport,
        sms_transport: config.sms_transport,
        shared_outbox: config.shared_outbox,
        next_href,
    };
    Ok(render(StatusCode::OK, &page))
}
