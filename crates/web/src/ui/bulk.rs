//! Active users' bulk actions: the people chosen by their checkboxes, a confirmation saying
//! what will happen to them, then the action done for each in turn, and what became of each
//! reported (done, or refused and why, under the role table).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::csv_users::Writer;
use roster_domain::{DomainError, User, UserId};
use serde::Deserialize;

use crate::error::{render, PageError};
use crate::extract::Checked;
use crate::session::Admin;
use crate::ui::confirm::Danger;
use crate::ui::import::USERS_CSV;
use crate::ui::layout::{Layout, Section};
use crate::ui::wording::count;
use crate::AppState;

/// The most people one bulk action takes: a few pages of Active users.
const MAX_CHOSEN: usize = 500;

/// What can be done to several people at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    ResetPassword,
    Block,
    Allow,
    Delete,
    Export,
}

impl Action {
    fn parse(code: &str) -> Option<Action> {
        Some(match code {
            "reset" => Action::ResetPassword,
            "block" => Action::Block,
            "allow" => Action::Allow,
            "delete" => Action::Delete,
            "export" => Action::Export,
            _ => return None,
        })
    }

    fn code(self) -> &'static str {
        match self {
            Action::ResetPassword => "reset",
            Action::Block => "block",
            Action::Allow => "allow",
            Action::Delete => "delete",
            Action::Export => "export",
        }
    }

    /// The confirmation's heading and button, for `n` people.
    fn question(self, n: u64) -> String {
        let people = count(n, "user", "users");
        match self {
            Action::ResetPassword => format!("Reset the passwords of {people}"),
            Action::Block => format!("Block sign-in for {people}"),
            Action::Allow => format!("Allow sign-in for {people}"),
            Action::Delete => format!("Delete {people}"),
            Action::Export => format!("Export {people}"),
        }
    }

    /// What will happen, said before it does.
    fn consequence(self) -> &'static str {
        match self {
            Action::ResetPassword => {
                "Each person gets a new one-time password, shown once on the next page, and chooses their own \
                 at their next sign-in. They are signed out everywhere, and applications they signed in to \
                 through Roster lose their sign-in."
            }
            Action::Block => Danger::Block.consequence(),
            Action::Allow => "They can sign in again with their password and second step.",
            Action::Delete => Danger::Delete.consequence(),
            Action::Export => "",
        }
    }

    /// The word for a person it was done to.
    fn done(self) -> &'static str {
        match self {
            Action::ResetPassword => "Password reset",
            Action::Block => "Blocked",
            Action::Allow => "Allowed",
            Action::Delete => "Deleted",
            Action::Export => "Exported",
        }
    }
}

/// The form of Active users: the action pressed and the people ticked.
#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    id: Vec<String>,
    /// Each person as the confirmation showed them, `id@version`: what is done is done only to
    /// people nobody changed since, so that sending the form again (a reload of the answer)
    /// does nothing twice, and nobody's change made meanwhile goes unseen.
    #[serde(default)]
    seen: Vec<String>,
}

/// The version of each person the confirmation showed, from a bulk form's `seen` fields.
fn seen_versions(form: &BulkForm) -> Result<HashMap<UserId, i64>, DomainError> {
    if form.seen.is_empty() && !form.id.is_empty() {
        return Err(DomainError::invalid(
            "seen",
            "This form does not say which version of each person you confirmed: choose them again in Active users.",
        ));
    }
    form.seen
        .iter()
        .map(|seen| {
            let parsed = seen.split_once('@').and_then(|(id, version)| Some((id.parse().ok()?, version.parse().ok()?)));
            parsed.ok_or_else(|| DomainError::invalid("seen", format!("{seen} is not a user id and version.")))
        })
        .collect()
}

/// The action and the people of a bulk form, checked.
fn read(form: &BulkForm) -> Result<(Action, Vec<UserId>), DomainError> {
    let action = Action::parse(&form.action)
        .ok_or_else(|| DomainError::invalid("action", "Choose reset, block, allow, delete or export."))?;
    if form.id.len() > MAX_CHOSEN {
        return Err(DomainError::invalid("id", format!("Choose at most {MAX_CHOSEN} people at a time.")));
    }
    let ids = form
        .id
        .iter()
        .map(|id| id.parse().map_err(|_| DomainError::invalid("id", format!("{id} is not a user id."))))
        .collect::<Result<Vec<UserId>, _>>()?;
    Ok((action, ids))
}

/// One person as the confirmation lists them.
struct Chosen {
    id: String,
    display_name: String,
    username: String,
    version: i64,
}

impl Chosen {
    fn of(user: &User) -> Chosen {
        Chosen {
            id: user.id.to_string(),
            display_name: user.contact.display_name.clone(),
            username: user.username.to_string(),
            version: user.version,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/bulk_confirm.html")]
struct ConfirmPage {
    layout: Layout,
    action: &'static str,
    question: String,
    consequence: &'static str,
    destructive: bool,
    people: Vec<Chosen>,
}

/// `POST /admin/users/bulk`: the chosen people's file for an export, otherwise the question
/// whether to go ahead, naming each person.
pub async fn confirm(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<BulkForm>>,
) -> Result<Response, PageError> {
    let (action, ids) = read(&form)?;
    let users = state.directory.chosen_users(&me.actor, &ids).await?;
    if users.is_empty() {
        return Ok(Redirect::to("/admin/users?status=none_chosen").into_response());
    }
    if action == Action::Export {
        let mut writer = Writer::new(Vec::new()).map_err(|e| DomainError::Internal(e.to_string()))?;
        for user in &users {
            writer.write(user).map_err(|e| DomainError::Internal(e.to_string()))?;
        }
        let bytes = writer.finish().map_err(|e| DomainError::Internal(e.to_string()))?;
        return Ok((USERS_CSV, bytes).into_response());
    }
    let question = action.question(users.len() as u64);
    let page = ConfirmPage {
        layout: Layout::new(&me, question.clone(), Section::ActiveUsers),
        action: action.code(),
        question,
        consequence: action.consequence(),
        destructive: action != Action::Allow,
        people: users.iter().map(Chosen::of).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// What became of one person.
struct Outcome {
    person: Chosen,
    /// "Blocked", or why not.
    result: Result<&'static str, String>,
    /// A new one-time password, shown this once.
    password: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/bulk_done.html")]
struct DonePage {
    layout: Layout,
    summary: String,
    outcomes: Vec<Outcome>,
    /// Whether any one-time password is shown.
    any_password: bool,
}

/// Why a person was left as they were, in words. Whatever went wrong for one person is theirs
/// alone: the others' outcomes (one-time passwords among them) are still shown.
fn refusal(error: DomainError) -> String {
    match error {
        DomainError::Forbidden(why) | DomainError::Limited(why) => why,
        DomainError::NotFound(_) => "No longer an active user.".into(),
        DomainError::Invalid(errors) => errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" "),
        DomainError::VersionConflict { .. } | DomainError::Contended => {
            "Someone else was changing them at the same moment. Try again for them.".into()
        }
        other => {
            tracing::error!(error = %other, "a bulk action failed for one user");
            "Something went wrong on the server; it is logged. Try again for them.".into()
        }
    }
}

/// `POST /admin/users/bulk/apply`: the action done for each person in turn; a refusal for one
/// stops nothing for the others.
pub async fn apply(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<BulkForm>>,
) -> Result<Response, PageError> {
    let (action, ids) = read(&form)?;
    let seen = seen_versions(&form)?;
    let d = &state.directory;
    let mut outcomes = Vec::new();
    for user in d.chosen_users(&me.actor, &ids).await? {
        if seen.get(&user.id) != Some(&user.version) {
            let why = format!(
                "Changed by {} after you confirmed, so nothing was done. Choose them again if you still mean to.",
                user.updated_by
            );
            outcomes.push(Outcome { person: Chosen::of(&user), result: Err(why), password: None });
            continue;
        }
        let done = match action {
            Action::ResetPassword => d.reset_password(&me.actor, user.id, None, true).await,
            Action::Block => d.set_enabled(&me.actor, user.id, false).await.map(|_| None),
            Action::Allow => d.set_enabled(&me.actor, user.id, true).await.map(|_| None),
            Action::Delete => d.delete_user(&me.actor, user.id).await.map(|_| None),
            Action::Export => Err(DomainError::invalid("action", "An export is downloaded, not applied.")),
        };
        let (result, password) = match done {
            Ok(password) => (Ok(action.done()), password),
            Err(error) => (Err(refusal(error)), None),
        };
        outcomes.push(Outcome { person: Chosen::of(&user), result, password });
    }
    let refused = outcomes.iter().filter(|o| o.result.is_err()).count() as u64;
    let done = outcomes.len() as u64 - refused;
    let summary = match refused {
        0 => format!("{}: {}.", action.done(), count(done, "user", "users")),
        _ => format!("{}: {}. Left as they were: {}.", action.done(), count(done, "user", "users"), refused),
    };
    let layout = Layout::new(&me, action.question(outcomes.len() as u64), Section::ActiveUsers);
    let any_password = outcomes.iter().any(|o| o.password.is_some());
    let page = DonePage { layout, summary, outcomes, any_password };
    Ok(([(header::CACHE_CONTROL, "no-store")], render(StatusCode::OK, &page)).into_response())
}
