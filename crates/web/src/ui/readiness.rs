//! Reports → Recovery readiness: how many people in the reset scope could reset a forgotten
//! password on their own, as figures and a chart, broken down by groups of the directory, and
//! the people in each readiness group.

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::group::{GroupId, Scope, MAX_POLICY_GROUPS};
use roster_domain::readiness::{Breakdown, Readiness, ReadinessReport};
use roster_domain::user::Cursor;
use roster_domain::{DomainError, Timestamp, User};
use serde::Deserialize;

use crate::error::{render, PageError};
use crate::extract::{user_id, Checked};
use crate::session::Admin;
use crate::ui::cursor::{decode_cursor, encode_cursor};
use crate::ui::layout::{Layout, Section};
use crate::ui::wording::{count, number, percent};
use crate::AppState;

/// Users per page of a group.
const GROUP_PAGE: usize = 50;
/// How often the admin home's figures are counted again in the background.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The latest figures, for the admin home: counting a large directory takes seconds, too long
/// for every visit, so the home shows the last count with its time.
#[derive(Default)]
pub struct Latest(std::sync::Mutex<Option<(Timestamp, ReadinessReport)>>);

impl Latest {
    /// Keeps `report`, counted from `started`, unless a count that started later is kept already.
    pub fn keep(&self, started: Timestamp, report: ReadinessReport) {
        let mut latest = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if latest.as_ref().is_none_or(|(at, _)| *at <= started) {
            *latest = Some((started, report));
        }
    }

    /// The kept figures and when their count started.
    pub fn get(&self) -> Option<(Timestamp, ReadinessReport)> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Counts the figures now and then for the admin home, for as long as the server runs.
pub async fn refresh_regularly(directory: roster_domain::Directory, latest: std::sync::Arc<Latest>) {
    let mut tick = tokio::time::interval(REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = Timestamp::now();
        match directory.readiness(&roster_domain::Actor::system("Roster reports"), &[]).await {
            Ok(report) => latest.keep(started, report.all),
            Err(e) => tracing::warn!(error = %e, "counting recovery readiness failed"),
        }
    }
}

/// The admin home's one-line summary of the latest figures.
pub struct Glance {
    pub ready: String,
    pub users: String,
    /// Nobody is in the reset scope, so there is no share to give.
    pub nobody: bool,
    pub percent: String,
    /// "2 administrators lack the two methods they need", when any do.
    pub administrators_not_ready: Option<String>,
    pub as_of: String,
}

impl Glance {
    /// The summary of the kept figures, if there are any yet.
    pub fn of(latest: &Latest) -> Option<Glance> {
        latest.get().map(|(at, r)| Glance {
            ready: number(r.ready),
            users: number(r.users),
            nobody: r.users == 0,
            percent: percent(r.ready, r.users),
            administrators_not_ready: (r.administrators_not_ready > 0).then(|| {
                let n = count(r.administrators_not_ready, "administrator lacks", "administrators lack");
                format!("{n} the two methods they need")
            }),
            as_of: at.display(),
        })
    }
}

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

/// One directory group's row of the breakdown.
pub struct BreakdownRow {
    pub id: String,
    pub name: String,
    pub users: u64,
    /// Each readiness group's code and count, in the order of [`Readiness::ALL`].
    pub counts: Vec<(&'static str, u64)>,
    pub ready_percent: String,
    pub outside_scope: u64,
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
    /// The administrators short of methods, in a sentence.
    administrators_note: String,
    /// The people whose contacts nobody verified, in a sentence.
    unverified_note: String,
    passkey_note: String,
    /// Who self-service reset is enabled for, in words.
    scope: String,
    groups: Vec<GroupView>,
    summary: String,
    /// The breakdown form's text (group names, one per line), and why it was refused.
    by: String,
    by_error: Option<String>,
    breakdown: Vec<BreakdownRow>,
    group: Option<GroupView>,
    /// The directory group the list is narrowed to: (id, name).
    within: Option<(String, String)>,
    members: Vec<MemberView>,
    more_href: Option<String>,
    /// Whether the group's people can be asked to register (everyone but those ready).
    can_ask: bool,
    status: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ReadinessParams {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    after: Option<String>,
    /// Groups to break the figures down by, one name or id per line; the reset scope's when
    /// absent.
    #[serde(default)]
    by: Option<String>,
    /// A directory group's id: the list shows only its members.
    #[serde(default)]
    within: Option<String>,
    /// What asking to register came to, after the post.
    #[serde(default)]
    asked: Option<usize>,
    #[serde(default)]
    recently: usize,
    #[serde(default)]
    refused: usize,
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
                percent: percent(count, report.users),
                x,
                width,
                colour: colour(g),
            };
            x += width;
            view
        })
        .collect()
}

/// The reset scope in words, naming its groups as `breakdown` found them.
fn describe_scope(scope: &Scope, breakdown: &Breakdown) -> String {
    match scope {
        Scope::Everyone => "everyone".to_string(),
        Scope::Nobody => "nobody".to_string(),
        Scope::Groups(ids) => {
            let names: Vec<&str> =
                breakdown.groups.iter().filter(|g| ids.contains(&g.id)).map(|g| g.name.as_str()).collect();
            match names.split_last() {
                None => "the members of the groups chosen in settings".to_string(),
                Some((last, [])) => format!("the members of {last}"),
                Some((last, rest)) => format!("the members of {} and {last}", rest.join(", ")),
            }
        }
    }
}

fn breakdown_rows(breakdown: &Breakdown) -> Vec<BreakdownRow> {
    breakdown
        .groups
        .iter()
        .map(|g| BreakdownRow {
            id: g.id.to_string(),
            name: g.name.clone(),
            users: g.report.users,
            counts: Readiness::ALL.iter().map(|r| (r.code(), g.report.count(*r))).collect(),
            ready_percent: percent(g.report.ready, g.report.users),
            outside_scope: g.report.outside_scope,
        })
        .collect()
}

/// The report, and a group's members when one is chosen.
pub async fn show(
    Admin(me): Admin,
    State(state): State<AppState>,
    Query(q): Query<ReadinessParams>,
) -> Result<Response, PageError> {
    let started = Timestamp::now();
    let scope = state.directory.reset_scope().await?;
    let within = parse_within(q.within.as_deref())?;
    // The groups of the breakdown table, then the scope's (named in the page's first line).
    let (mut shown, by_error) = match q.by.as_deref() {
        None => (scope.groups().to_vec(), None),
        Some(text) => match state.directory.groups_named(&me.actor, "by", text).await {
            Ok(groups) if groups.len() > MAX_POLICY_GROUPS => {
                (Vec::new(), Some(format!("Choose at most {MAX_POLICY_GROUPS} groups.")))
            }
            Ok(groups) => (groups, None),
            Err(DomainError::Invalid(errors)) => (Vec::new(), errors.into_iter().next().map(|e| e.message)),
            Err(other) => return Err(other.into()),
        },
    };
    shown.extend(within.filter(|w| !shown.contains(w)));
    let mut counted = shown.clone();
    counted.extend(scope.groups().iter().filter(|g| !shown.contains(g)));
    let breakdown = state.directory.readiness(&me.actor, &counted).await?;
    state.readiness.keep(started, breakdown.all.clone());
    let within = within.and_then(|id| breakdown.groups.iter().find(|g| g.id == id));
    let table = Breakdown {
        all: breakdown.all.clone(),
        groups: breakdown.groups.iter().filter(|g| shown.contains(&g.id)).cloned().collect(),
    };
    let by =
        q.by.clone().unwrap_or_else(|| table.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join("\n"));
    let report = breakdown.all.clone();
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
            let narrowed = within.map(|w| w.id);
            let (users, next) = state.directory.readiness_group(&me.actor, group, narrowed, after, GROUP_PAGE).await?;
            let members = users
                .iter()
                .map(|u| MemberView {
                    id: u.id.to_string(),
                    display_name: u.contact.display_name.clone(),
                    username: u.username.to_string(),
                    roles: u.roles.display(),
                })
                .collect();
            let more = next.map(|c| {
                format!(
                    "/admin/reports/readiness?group={}{}&after={}",
                    group.code(),
                    within_query(within.map(|w| w.id)),
                    encode_cursor(&c)
                )
            });
            (members, more)
        }
    };
    let status = q.asked.map(|asked| {
        let mut text = format!("Emails queued: {asked}.");
        if q.recently > 0 {
            text.push_str(&format!(" Asked in the last day already, so not again: {}.", q.recently));
        }
        if q.refused > 0 {
            text.push_str(&format!(" Not asked, as your role can't manage their recovery contacts: {}.", q.refused));
        }
        text
    });
    let page = ReadinessPage {
        can_ask: chosen.is_some_and(|g| g != Readiness::Ready),
        status,
        layout: Layout::new(&me, "Recovery readiness", Section::Readiness),
        scope: describe_scope(&scope, &breakdown),
        by,
        by_error,
        breakdown: breakdown_rows(&table),
        group: chosen.and_then(|g| {
            let counted = within.map_or(&report, |w| &w.report);
            groups(counted).into_iter().find(|v| v.code == g.code())
        }),
        within: within.map(|w| (w.id.to_string(), w.name.clone())),
        groups: views,
        summary,
        administrators_note: administrators_note(&report),
        unverified_note: unverified_note(&report),
        passkey_note: passkey_note(&report),
        report,
        members,
        more_href,
    };
    Ok(render(StatusCode::OK, &page))
}

/// "1 of 3 administrators doesn't have the two methods they need."
fn administrators_note(report: &ReadinessReport) -> String {
    let short = report.administrators_not_ready;
    let verb = if short == 1 { "doesn't" } else { "don't" };
    let of = count(report.administrators, "administrator", "administrators");
    format!("{} of {of} {verb} have the two methods they need.", number(short))
}

/// Who can reset only through contacts nobody proved theirs: a code goes to whatever number or
/// address is on file, which is not the same as a person who can reset.
fn unverified_note(report: &ReadinessReport) -> String {
    match report.nothing_verified {
        0 => "Everyone with contacts has verified at least one of them.".into(),
        n => format!(
            "{} contacts nobody has verified yet: a reset code would go to whatever is on file, so \
             those counted as able to reset may not be.",
            count(n, "person has", "people have")
        ),
    }
}

/// Who has a passkey, and who has nothing else to recover with: losing the device leaves them
/// only a Temporary Access Pass.
fn passkey_note(report: &ReadinessReport) -> String {
    let with = count(report.with_passkey, "person has", "people have");
    match report.only_passkey {
        0 => format!("{with} a passkey."),
        n => format!(
            "{with} a passkey; {} no recovery contact besides it, one lost device away from needing a \
             Temporary Access Pass.",
            count(n, "has", "have")
        ),
    }
}

/// The `within` parameter: a directory group's id, or nothing.
fn parse_within(within: Option<&str>) -> Result<Option<GroupId>, DomainError> {
    match within {
        None | Some("") => Ok(None),
        Some(id) => id.parse().map(Some).map_err(|_| DomainError::NotFound("group")),
    }
}

/// `&within=…` for links that keep a list narrowed to a directory group, or nothing.
fn within_query(within: Option<GroupId>) -> String {
    within.map(|id| format!("&within={id}")).unwrap_or_default()
}

/// The people chosen on a group's list.
#[derive(Deserialize)]
pub struct AskForm {
    #[serde(default)]
    group: String,
    #[serde(default)]
    within: Option<String>,
    #[serde(default)]
    user: Vec<String>,
}

/// Emails the chosen people asking them to complete their security info.
pub async fn ask(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<AskForm>>,
) -> Result<Response, PageError> {
    let group = Readiness::from_code(&form.group).ok_or(DomainError::NotFound("group"))?;
    if form.user.is_empty() {
        return Err(DomainError::invalid("user", "Choose the people to ask first.").into());
    }
    let ids = form.user.iter().map(|id| user_id(id)).collect::<Result<Vec<_>, _>>()?;
    let outcome = state.directory.ask_to_register(&me.actor, &ids).await?;
    let within = parse_within(form.within.as_deref())?;
    let to = format!(
        "/admin/reports/readiness?group={}{}&asked={}&recently={}&refused={}#members",
        group.code(),
        within_query(within),
        outcome.asked,
        outcome.recently,
        outcome.refused
    );
    Ok(Redirect::to(&to).into_response())
}

/// Streams one group's people as CSV.
pub async fn export(
    Admin(me): Admin,
    State(state): State<AppState>,
    Query(q): Query<ReadinessParams>,
) -> Result<Response, PageError> {
    let group = Readiness::from_code(q.group.as_deref().unwrap_or_default()).ok_or(DomainError::NotFound("group"))?;
    let within = parse_within(q.within.as_deref())?;
    let directory = state.directory.clone();
    let actor = me.actor.clone();
    // (where to go on from, whether the header is written, done)
    let start: (Option<Cursor>, bool, bool) = (None, false, false);
    let pages = futures_util::stream::unfold(start, move |(after, headed, done)| {
        let (directory, actor) = (directory.clone(), actor.clone());
        async move {
            if done {
                return None;
            }
            let chunk = match directory.readiness_group(&actor, group, within, after, EXPORT_PAGE).await {
                Ok((users, next)) => csv_rows(&users, group, !headed).map(|bytes| (bytes, next)),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            Some(match chunk {
                Ok((bytes, next)) => {
                    let done = next.is_none();
                    (Ok(Bytes::from(bytes)), (next, true, done))
                }
                // The status line is sent already: a broken connection is the only way left to
                // say the file is incomplete.
                Err(e) => (Err(e), (None, true, true)),
            })
        }
    });
    let disposition = format!("attachment; filename=\"readiness-{}.csv\"", group.code());
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        Body::from_stream(pages),
    )
        .into_response())
}

/// Users per step of an export.
const EXPORT_PAGE: usize = 500;

fn csv_rows(users: &[User], group: Readiness, header: bool) -> Result<Vec<u8>, std::io::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if header {
        out.write_record(["User Name", "Display Name", "Roles", "Group"])?;
    }
    for u in users {
        out.write_record([u.username.as_str(), &u.contact.display_name, &u.roles.display(), group.label()])?;
    }
    out.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passkey_note_names_those_with_nothing_else() {
        let report =
            |with_passkey, only_passkey| ReadinessReport { with_passkey, only_passkey, ..ReadinessReport::default() };
        assert_eq!(passkey_note(&report(0, 0)), "0 people have a passkey.");
        assert_eq!(
            passkey_note(&report(3, 1)),
            "3 people have a passkey; 1 has no recovery contact besides it, one lost device away from needing a \
             Temporary Access Pass."
        );
    }

    #[test]
    fn notes_agree_in_number_with_their_counts() {
        let report = |administrators, administrators_not_ready, nothing_verified| ReadinessReport {
            administrators,
            administrators_not_ready,
            nothing_verified,
            ..ReadinessReport::default()
        };
        assert_eq!(
            administrators_note(&report(1, 1, 0)),
            "1 of 1 administrator doesn't have the two methods they need."
        );
        assert_eq!(
            administrators_note(&report(3, 0, 0)),
            "0 of 3 administrators don't have the two methods they need."
        );
        assert!(unverified_note(&report(0, 0, 1)).starts_with("1 person has contacts nobody has verified yet"));
        assert!(unverified_note(&report(0, 0, 2)).starts_with("2 people have contacts"));
        assert!(unverified_note(&report(0, 0, 0)).starts_with("Everyone with contacts"));
    }
}
