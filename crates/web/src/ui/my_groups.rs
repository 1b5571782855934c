//! My groups: every user's list of the groups they own and are in, and the page where an owner
//! adds and removes the members of a group they own, with no administrator role.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::group::{GroupId, MemberId};
use roster_domain::DomainError;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{describe, render, PageError};
use crate::extract::Checked;
use crate::session::SignedIn;
use crate::ui::groups::{group_id, member_value, GroupRow, MemberRow, MembersForm, CANDIDATES, PAGE_SIZE};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

#[derive(Template)]
#[template(path = "my_groups.html")]
struct MyGroupsPage {
    layout: Layout,
    owned: Vec<GroupRow>,
    member_of: Vec<GroupRow>,
}

/// The groups the signed-in user owns and those they are in.
pub async fn list(me: SignedIn, State(state): State<AppState>) -> Result<Response, PageError> {
    let groups = state.directory.my_groups(&me.actor).await?;
    let page = MyGroupsPage {
        layout: Layout::new(&me, "My groups", Section::Account),
        owned: groups.owned.iter().map(GroupRow::of).collect(),
        member_of: groups.member_of.iter().map(GroupRow::of).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "my_group.html")]
struct MyGroupPage {
    layout: Layout,
    group: GroupRow,
    status: Option<&'static str>,
    problem: Option<String>,
    members: Vec<MemberRow>,
    member_count: u64,
    next_members_href: Option<String>,
    first_members_href: Option<String>,
    find: String,
    candidates: Vec<MemberRow>,
    members_path: String,
    members_hint: &'static str,
    can_change_members: bool,
}

#[derive(Deserialize, Default)]
pub struct GroupQuery {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    find: String,
}

async fn group_page(
    me: &SignedIn,
    state: &AppState,
    id: GroupId,
    q: &GroupQuery,
    problem: Option<String>,
) -> Result<MyGroupPage, PageError> {
    let after = q.after.as_deref().and_then(|a| Uuid::parse_str(a).ok());
    let find = q.find.trim().to_string();
    let search = (!find.is_empty()).then_some((find.as_str(), CANDIDATES));
    let page = state.directory.owned_group_page(&me.actor, id, after, PAGE_SIZE, search).await?;
    let group = page.group;
    let members = page.members.members.iter().map(|m| MemberRow::member(m, false)).collect();
    let candidates = page.candidates.iter().map(|u| MemberRow::user(u, member_value(MemberId::User(u.id)))).collect();
    let status = q.saved.as_deref().map(|saved| match saved {
        "added" => "Members added.",
        "removed" => "Members removed.",
        _ => "Saved.",
    });
    Ok(MyGroupPage {
        layout: Layout::new(me, &group.display_name, Section::Account),
        group: GroupRow::of(&group),
        status,
        problem,
        members,
        member_count: page.member_count,
        next_members_href: page.members.next.map(|n| format!("/account/groups/{id}?after={n}#members-heading")),
        first_members_href: q.after.as_ref().map(|_| format!("/account/groups/{id}#members-heading")),
        find,
        candidates,
        members_path: format!("/account/groups/{id}"),
        members_hint:
            "You own this group, so you choose who is in it. A group that is a member brings its own members too.",
        can_change_members: true,
    })
}

/// A group the signed-in user owns: its members, and finding people to add.
pub async fn show(
    me: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<GroupQuery>,
) -> Result<Response, PageError> {
    let page = group_page(&me, &state, group_id(&id)?, &q, None).await?;
    Ok(render(StatusCode::OK, &page))
}

/// Adds or removes the chosen members of a group the signed-in user owns.
pub async fn change_members(
    me: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Checked(Form(form)): Checked<Form<MembersForm>>,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    state.directory.owned_group(&me.actor, id).await?;
    match form.apply(&state, &me.actor, id).await {
        Ok(saved) => Ok(Redirect::to(&format!("/account/groups/{id}?saved={saved}#members-heading")).into_response()),
        Err(e @ (DomainError::Invalid(_) | DomainError::NotFound("member") | DomainError::Forbidden(_))) => {
            let (status, why) = describe(&e);
            let page = group_page(&me, &state, id, &GroupQuery::default(), Some(why)).await?;
            Ok(render(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}
