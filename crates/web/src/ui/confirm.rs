//! Asking before an action on one person that a click should not do by accident: without
//! script a page of its own, with it the same panel in a dialog over the person's details.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::{DomainError, User};

use crate::error::{render, PageError};
use crate::extract::user_id;
use crate::session::Admin;
use crate::ui::layout::{Layout, Section};
use crate::AppState;

/// An action that is asked about first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Danger {
    Block,
    SignOut,
    Delete,
    RemoveAccessPass,
}

impl Danger {
    /// Every one, in the order the details page offers them.
    pub const ALL: [Danger; 4] = [Danger::Block, Danger::SignOut, Danger::Delete, Danger::RemoveAccessPass];

    fn parse(code: &str) -> Option<Danger> {
        Danger::ALL.into_iter().find(|d| d.code() == code)
    }

    fn code(self) -> &'static str {
        match self {
            Danger::Block => "block",
            Danger::SignOut => "sign-out",
            Danger::Delete => "delete",
            Danger::RemoveAccessPass => "remove-access-pass",
        }
    }

    /// What happens to the person (or to each of several people), said before it does.
    pub fn consequence(self) -> &'static str {
        match self {
            Danger::Block => {
                "They are signed out everywhere at once, applications they signed in to through Roster lose \
                 their sign-in, and they can't sign in until someone allows it again."
            }
            Danger::SignOut => {
                "Every browser they are signed in on is signed out, and applications they signed in to through \
                 Roster lose their sign-in. They can sign in again at once with their password and second step."
            }
            Danger::Delete => {
                "They move to Deleted users and can't sign in. For 30 days they can be restored with everything \
                 they had; after that they are removed for good."
            }
            Danger::RemoveAccessPass => {
                "The pass stops working at once, and a session it opened ends. They are told by email. A new pass \
                 can be created at any time."
            }
        }
    }
}

/// The question, what will happen, and the form that goes ahead.
pub struct Panel {
    pub code: &'static str,
    pub question: String,
    pub consequence: &'static str,
    /// Where the form posts, and the field that names the action there, if one does.
    pub action: String,
    pub field: Option<(&'static str, &'static str)>,
    pub button: &'static str,
    pub user_id: String,
}

impl Panel {
    /// The panel for doing `danger` to `user`.
    pub fn of(danger: Danger, user: &User) -> Panel {
        let (id, name) = (user.id, &user.contact.display_name);
        let (question, action, field, button) = match danger {
            Danger::Block => (
                format!("Block sign-in for {name}?"),
                format!("/admin/users/{id}/state"),
                Some(("action", "block")),
                "Block sign-in",
            ),
            Danger::SignOut => (
                format!("Sign {name} out everywhere?"),
                format!("/admin/users/{id}/sessions"),
                None,
                "Sign out everywhere",
            ),
            Danger::Delete => (
                format!("Delete {name}?"),
                format!("/admin/users/{id}/state"),
                Some(("action", "delete")),
                "Delete user",
            ),
            Danger::RemoveAccessPass => (
                format!("Remove the Temporary Access Pass of {name}?"),
                format!("/admin/users/{id}/access-pass/remove"),
                None,
                "Remove pass",
            ),
        };
        let consequence = danger.consequence();
        Panel { code: danger.code(), question, consequence, action, field, button, user_id: id.to_string() }
    }

    /// The panels of the actions offered for `user`: blocking only while they may sign in,
    /// removing a pass only when they have one.
    pub fn offered(user: &User, has_pass: bool) -> Vec<Panel> {
        Danger::ALL
            .into_iter()
            .filter(|d| match d {
                Danger::Block => user.enabled,
                Danger::RemoveAccessPass => has_pass,
                Danger::SignOut | Danger::Delete => true,
            })
            .map(|d| Panel::of(d, user))
            .collect()
    }
}

#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub p: Panel,
}

/// `GET /admin/users/{id}/confirm/{action}`: the question on a page of its own.
pub async fn show(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let danger = Danger::parse(&action).ok_or(DomainError::NotFound("action"))?;
    let user = state.directory.get_user(&me.actor, user_id(&id)?).await?;
    if user.deleted_at.is_some() {
        return Err(DomainError::NotFound("user").into());
    }
    let p = Panel::of(danger, &user);
    Ok(render(StatusCode::OK, &ConfirmPage { layout: Layout::new(&me, p.question.clone(), Section::ActiveUsers), p }))
}
