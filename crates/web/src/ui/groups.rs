//! Groups → Active groups, adding a group, a group's details with its members and owners,
//! Deleted groups, and the groups on a user's details page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::directory::{GroupEdit, GroupPage, GroupPageQuery, NewGroup};
use roster_domain::group::{Group, GroupCursor, GroupId, GroupInput, Member, MemberId};
use roster_domain::permission::{self, Permission};
use roster_domain::user::{UserId, UserSummary};
use roster_domain::{Actor, DomainError, FieldError, RoleSet, UserQuery, UserSort};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{describe, render, urlencode, PageError};
use crate::extract::{user_id, Checked, UserPath};
use crate::session::{Admin, SignedIn};
use crate::ui::cursor::{decode_cursor, encode_cursor};
use crate::ui::form::{summary, Field, SummaryItem};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

/// Rows per page of groups and of members.
pub const PAGE_SIZE: u32 = 50;
/// Users offered at once when searching for members to add.
pub(crate) const CANDIDATES: u32 = 20;

/// The group a page is about, from the path; anything else is a group not found.
pub(crate) fn group_id(text: &str) -> Result<GroupId, PageError> {
    text.parse().map_err(|_| PageError::Domain(DomainError::NotFound("group")))
}

/// Whether the signed-in administrator may add, change and delete groups.
fn manages_groups(me: &SignedIn) -> bool {
    permission::check(me.user.roles, Permission::ManageGroups, RoleSet::NONE).is_ok()
}

/// One row of a group list.
pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    pub mail_nickname: String,
    pub description: String,
    pub deleted_at: String,
}

impl GroupRow {
    pub(crate) fn of(g: &Group) -> GroupRow {
        GroupRow {
            id: g.id.to_string(),
            display_name: g.display_name.clone(),
            mail_nickname: g.mail_nickname.clone(),
            description: g.description.clone().unwrap_or_default(),
            deleted_at: g.deleted_at.map(|t| t.display()).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    layout: Layout,
    deleted: bool,
    search: String,
    rows: Vec<GroupRow>,
    sort_href: String,
    aria_sort: &'static str,
    next_href: Option<String>,
    previous_href: Option<String>,
    status: Option<String>,
    can_manage: bool,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

fn group_cursor(text: &Option<String>) -> Option<GroupCursor> {
    text.as_deref().and_then(decode_cursor).map(GroupCursor::from_cursor)
}

async fn group_list(me: SignedIn, state: AppState, q: ListQuery, deleted: bool) -> Result<Response, PageError> {
    let path = if deleted { "/admin/deleted-groups" } else { "/admin/groups" };
    let descending = q.dir == "desc";
    let search = q.q.trim().to_string();
    let mut base = format!("{path}?dir={}", if descending { "desc" } else { "asc" });
    if !search.is_empty() {
        base.push_str(&format!("&q={}", urlencode(&search)));
    }
    let query = GroupPageQuery {
        deleted,
        search: Some(search.clone()),
        descending,
        after: group_cursor(&q.after),
        before: group_cursor(&q.before),
        limit: PAGE_SIZE,
    };
    let GroupPage { groups, next, previous } = state.directory.group_page(&me.actor, query).await?;
    let link = |c: &GroupCursor, rel: &str| format!("{base}&{rel}={}", encode_cursor(&c.as_cursor()));
    let mut sort_href = format!("{path}?dir={}", if descending { "asc" } else { "desc" });
    if !search.is_empty() {
        sort_href.push_str(&format!("&q={}", urlencode(&search)));
    }
    let status = match q.status.as_deref() {
        Some("deleted") => Some("The group was deleted. You can restore it from Deleted groups for 30 days.".into()),
        _ => None,
    };
    let title = if deleted { "Deleted groups" } else { "Active groups" };
    let section = if deleted { Section::DeletedGroups } else { Section::ActiveGroups };
    let body = GroupsPage {
        layout: Layout::new(&me, title, section),
        deleted,
        search,
        rows: groups.iter().map(GroupRow::of).collect(),
        sort_href,
        aria_sort: if descending { "descending" } else { "ascending" },
        next_href: next.as_ref().map(|c| link(c, "after")),
        previous_href: previous.as_ref().map(|c| link(c, "before")),
        status,
        can_manage: manages_groups(&me),
    };
    Ok(render(StatusCode::OK, &body))
}

/// Groups → Active groups.
pub async fn list(
    Admin(me): Admin,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    group_list(me, state, q, false).await
}

/// Groups → Deleted groups.
pub async fn deleted(
    Admin(me): Admin,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    group_list(me, state, q, true).await
}

#[derive(Template)]
#[template(path = "admin/new_group.html")]
struct NewGroupPage {
    layout: Layout,
    fields: Vec<Field>,
    errors: Vec<SummaryItem>,
    problem: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct GroupForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    mail_nickname: String,
    #[serde(default)]
    version: Option<i64>,
}

fn group_fields(form: &GroupForm, errors: &[FieldError]) -> Vec<Field> {
    vec![
        Field::text("display_name", "Name", &form.display_name).required().with_errors(errors),
        Field::text("description", "Description", &form.description).kind("textarea").with_errors(errors),
        Field::text("mail_nickname", "Email nickname", &form.mail_nickname)
            .hint("Letters, digits and punctuation other than @ ( ) \\ [ ] \" ; : < > , and no spaces. Leave empty to make one from the name.")
            .with_errors(errors),
    ]
}

/// The add-group form.
pub async fn show_new(Admin(me): Admin) -> Result<Response, PageError> {
    if !manages_groups(&me) {
        return Err(DomainError::Forbidden(
            permission::check(me.user.roles, Permission::ManageGroups, RoleSet::NONE).unwrap_err(),
        )
        .into());
    }
    let page = NewGroupPage {
        layout: Layout::new(&me, "Add a group", Section::ActiveGroups),
        fields: group_fields(&GroupForm::default(), &[]),
        errors: Vec::new(),
        problem: None,
    };
    Ok(render(StatusCode::OK, &page))
}

fn input_of(form: &GroupForm) -> GroupInput {
    GroupInput {
        display_name: form.display_name.clone(),
        description: form.description.clone(),
        mail_nickname: form.mail_nickname.trim().to_string(),
    }
}

/// Adds the group and opens it.
pub async fn create(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<GroupForm>>,
) -> Result<Response, PageError> {
    let new = NewGroup { input: input_of(&form), ..NewGroup::default() };
    match state.directory.create_group(&me.actor, new).await {
        Ok(group) => Ok(Redirect::to(&format!("/admin/groups/{}?saved=created", group.id)).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = NewGroupPage {
                layout: Layout::new(&me, "Add a group: fix the problems", Section::ActiveGroups),
                fields: group_fields(&form, &errors),
                errors: summary(&errors),
                problem: None,
            };
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

/// A member or candidate as a row.
pub struct MemberRow {
    /// `user:<id>` or `group:<id>`, as the forms send it back.
    pub value: String,
    pub href: String,
    pub display_name: String,
    pub detail: String,
    pub kind: &'static str,
}

impl MemberRow {
    /// A member of a group; with `linked`, its name links to its admin center page.
    pub(crate) fn member(m: &Member, linked: bool) -> MemberRow {
        let (href, kind) = match m.id {
            MemberId::User(u) => (format!("/admin/users/{u}"), "User"),
            MemberId::Group(g) => (format!("/admin/groups/{g}"), "Group"),
        };
        MemberRow {
            value: member_value(m.id),
            href: if linked { href } else { String::new() },
            display_name: m.display_name.clone(),
            detail: m.username.clone().unwrap_or_default(),
            kind,
        }
    }

    /// A user found to add, whose form value is `value`.
    pub(crate) fn user(u: &UserSummary, value: String) -> MemberRow {
        MemberRow {
            value,
            href: format!("/admin/users/{}", u.id),
            display_name: u.display_name.clone(),
            detail: u.username.to_string(),
            kind: "User",
        }
    }
}

/// A member as the forms send it back.
pub(crate) fn member_value(id: MemberId) -> String {
    match id {
        MemberId::User(u) => format!("user:{u}"),
        MemberId::Group(g) => format!("group:{g}"),
    }
}

/// A member the forms sent back.
pub(crate) fn parse_member(value: &str) -> Option<MemberId> {
    let (kind, id) = value.split_once(':')?;
    let id = Uuid::parse_str(id).ok()?;
    match kind {
        "user" => Some(MemberId::User(UserId(id))),
        "group" => Some(MemberId::Group(GroupId(id))),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupDetailsPage {
    layout: Layout,
    group: GroupRow,
    version: i64,
    deleted: bool,
    fields: Vec<Field>,
    errors: Vec<SummaryItem>,
    status: Option<String>,
    problem: Option<String>,
    members: Vec<MemberRow>,
    member_count: u64,
    next_members_href: Option<String>,
    first_members_href: Option<String>,
    find: String,
    candidates: Vec<MemberRow>,
    /// Where the members' forms go: this page.
    members_path: String,
    members_hint: &'static str,
    find_owner: String,
    owner_candidates: Vec<MemberRow>,
    owners: Vec<MemberRow>,
    can_manage: bool,
    can_change_members: bool,
}

#[derive(Deserialize, Default)]
pub struct DetailsQuery {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    find: String,
    #[serde(default)]
    find_owner: String,
}

async fn details_page(
    me: &SignedIn,
    state: &AppState,
    id: GroupId,
    q: &DetailsQuery,
    form: Option<(&GroupForm, &[FieldError])>,
    problem: Option<String>,
) -> Result<GroupDetailsPage, PageError> {
    let d = &state.directory;
    let group = d.group(&me.actor, id).await?;
    let deleted = group.deleted_at.is_some();
    let can_manage = manages_groups(me);
    let owner_users = d.owners(&me.actor, id).await?;
    let can_change_members = can_manage || owner_users.iter().any(|o| o.id == me.user.id);
    let (members, member_count, next_members_href) = if deleted {
        (Vec::new(), 0, None)
    } else {
        let after = q.after.as_deref().and_then(|a| Uuid::parse_str(a).ok());
        let page = d.members(&me.actor, id, false, after, PAGE_SIZE).await?;
        let rows = page.members.iter().map(|m| MemberRow::member(m, true)).collect();
        let next = page.next.map(|n| format!("/admin/groups/{id}?after={n}#members-heading"));
        (rows, d.count_members(&me.actor, id).await?, next)
    };
    let find = q.find.trim().to_string();
    let candidates = if find.is_empty() || deleted || !can_change_members {
        Vec::new()
    } else {
        let found = people(state, me, &find).await?;
        found.iter().map(|u| MemberRow::user(u, member_value(MemberId::User(u.id)))).collect()
    };
    let find_owner = q.find_owner.trim().to_string();
    let owner_candidates = if find_owner.is_empty() || deleted || !can_manage {
        Vec::new()
    } else {
        let found = people(state, me, &find_owner).await?;
        found
            .iter()
            .filter(|u| !owner_users.iter().any(|o| o.id == u.id))
            .map(|u| MemberRow::user(u, u.id.to_string()))
            .collect()
    };
    let owners = owner_users
        .iter()
        .map(|u| MemberRow {
            value: u.id.to_string(),
            href: format!("/admin/users/{}", u.id),
            display_name: u.contact.display_name.clone(),
            detail: u.username.to_string(),
            kind: "User",
        })
        .collect();
    let current = GroupForm {
        display_name: group.display_name.clone(),
        description: group.description.clone().unwrap_or_default(),
        mail_nickname: group.mail_nickname.clone(),
        version: Some(group.version),
    };
    let (form, errors) = form.unwrap_or((&current, &[]));
    let status = q.saved.as_deref().map(|what| match what {
        "created" => "Group added. Add its members below.",
        "saved" => "Group details saved.",
        "added" => "Members added.",
        "removed" => "Members removed.",
        "owners" => "Owners saved.",
        "restored" => "Group restored with its members and owners.",
        _ => "Saved.",
    });
    Ok(GroupDetailsPage {
        layout: Layout::new(
            me,
            &group.display_name,
            if deleted { Section::DeletedGroups } else { Section::ActiveGroups },
        ),
        version: group.version,
        group: GroupRow::of(&group),
        deleted,
        fields: group_fields(form, errors),
        errors: summary(errors),
        status: status.map(str::to_string),
        problem,
        first_members_href: q.after.as_ref().map(|_| format!("/admin/groups/{id}#members-heading")),
        members,
        member_count,
        next_members_href,
        find,
        candidates,
        members_path: format!("/admin/groups/{id}"),
        members_hint: "Direct members. A group that is a member brings its own members too, at any depth.",
        find_owner,
        owner_candidates,
        owners,
        can_manage,
        can_change_members,
    })
}

/// Up to a page of active users whose name or username starts with `search`.
async fn people(state: &AppState, me: &SignedIn, search: &str) -> Result<Vec<UserSummary>, PageError> {
    let query = UserQuery {
        search: Some(search.to_string()),
        sort: UserSort::DisplayName,
        limit: CANDIDATES,
        ..UserQuery::default()
    };
    Ok(state.directory.list_users(&me.actor, query).await?.users)
}

/// A group's details, members and owners.
pub async fn details(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DetailsQuery>,
) -> Result<Response, PageError> {
    let page = details_page(&me, &state, group_id(&id)?, &q, None, None).await?;
    Ok(render(StatusCode::OK, &page))
}

/// Saves the name, description and nickname, unless someone saved the group meanwhile.
pub async fn save(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Checked(Form(form)): Checked<Form<GroupForm>>,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    let edit = GroupEdit {
        display_name: Some(form.display_name.clone()),
        description: Some(form.description.clone()),
        mail_nickname: Some(form.mail_nickname.trim().to_string()),
        external_id: None,
        expected_version: form.version,
    };
    let q = DetailsQuery::default();
    match state.directory.update_group(&me.actor, id, edit).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/groups/{id}?saved=saved")).into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = details_page(&me, &state, id, &q, Some((&form, &errors)), None).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(DomainError::VersionConflict { changed_by, changed_at }) => {
            let why = format!(
                "{changed_by} changed this group at {} after you opened it. Nothing was saved; the page now shows \
                 their version. Make your changes again.",
                changed_at.display()
            );
            let page = details_page(&me, &state, id, &q, None, Some(why)).await?;
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(e) => Err(e.into()),
    }
}

/// The members form: add or remove the members chosen.
#[derive(Deserialize, Default)]
pub struct MembersForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    member: Vec<String>,
}

impl MembersForm {
    /// Adds or removes the chosen members as `actor`; what was done, for the page's status.
    pub(crate) async fn apply(
        &self,
        state: &AppState,
        actor: &Actor,
        id: GroupId,
    ) -> Result<&'static str, DomainError> {
        let members: Vec<MemberId> = self.member.iter().filter_map(|m| parse_member(m)).collect();
        if members.is_empty() {
            return Err(DomainError::invalid("member", "Choose at least one member."));
        }
        match self.action.as_str() {
            "add" => state.directory.add_members(actor, id, &members).await.map(|_| "added"),
            "remove" => state.directory.remove_members(actor, id, &members).await.map(|_| "removed"),
            _ => Err(DomainError::invalid("action", "Choose add or remove.")),
        }
    }
}

/// Adds or removes the chosen members.
pub async fn change_members(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Checked(Form(form)): Checked<Form<MembersForm>>,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    match form.apply(&state, &me.actor, id).await {
        Ok(saved) => Ok(Redirect::to(&format!("/admin/groups/{id}?saved={saved}#members-heading")).into_response()),
        Err(e @ (DomainError::Invalid(_) | DomainError::NotFound("member"))) => {
            let (_, why) = describe(&e);
            let page = details_page(&me, &state, id, &DetailsQuery::default(), None, Some(why)).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct OwnersForm {
    #[serde(default)]
    action: String,
    /// The users to make owners, by id.
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    owner: String,
}

/// Adds the owners chosen from a search, or removes one.
pub async fn change_owners(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Checked(Form(form)): Checked<Form<OwnersForm>>,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    let d = &state.directory;
    let outcome = match form.action.as_str() {
        "add" => match form.add.iter().map(|u| user_id(u)).collect::<Result<Vec<_>, _>>() {
            Ok(add) if !add.is_empty() => d.change_owners(&me.actor, id, &add, &[]).await,
            _ => Err(DomainError::invalid("owners", "Choose the people to make owners.")),
        },
        "remove" => match user_id(&form.owner) {
            Ok(owner) => d.change_owners(&me.actor, id, &[], &[owner]).await,
            Err(_) => Err(DomainError::invalid("owner", "Choose an owner to remove.")),
        },
        _ => Err(DomainError::invalid("action", "Choose add or remove.")),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/admin/groups/{id}?saved=owners#owners-heading")).into_response()),
        Err(e @ DomainError::Invalid(_)) => {
            let (_, why) = describe(&e);
            let page = details_page(&me, &state, id, &DetailsQuery::default(), None, Some(why)).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct StateForm {
    #[serde(default)]
    action: String,
}

/// Deletes or restores a group.
pub async fn change_state(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Checked(Form(form)): Checked<Form<StateForm>>,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    let target = match form.action.as_str() {
        "delete" => {
            state.directory.delete_group(&me.actor, id).await.map(|_| "/admin/groups?status=deleted".to_string())
        }
        "restore" => {
            state.directory.restore_group(&me.actor, id).await.map(|g| format!("/admin/groups/{}?saved=restored", g.id))
        }
        _ => Err(DomainError::invalid("action", "Choose delete or restore.")),
    }?;
    Ok(Redirect::to(&target).into_response())
}

/// The groups section of a user's details page.
pub struct UserGroups {
    pub groups: Vec<GroupRow>,
    pub find: String,
    pub candidates: Vec<GroupRow>,
}

impl UserGroups {
    /// The groups `user` is directly in, and the groups whose names start with `find`.
    pub async fn load(state: &AppState, me: &SignedIn, user: UserId, find: &str) -> Result<UserGroups, PageError> {
        let d = &state.directory;
        let groups = d.groups_of_user(&me.actor, user, false).await?;
        let find = find.trim().to_string();
        let candidates = if find.is_empty() {
            Vec::new()
        } else {
            let query = GroupPageQuery { search: Some(find.clone()), limit: CANDIDATES, ..GroupPageQuery::default() };
            let mine: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
            d.group_page(&me.actor, query)
                .await?
                .groups
                .iter()
                .filter(|g| !mine.contains(&g.id))
                .map(GroupRow::of)
                .collect()
        };
        Ok(UserGroups { groups: groups.iter().map(GroupRow::of).collect(), find, candidates })
    }
}

#[derive(Deserialize, Default)]
pub struct UserGroupForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    group: Vec<String>,
}

/// Adds a user to the chosen groups, or removes them from one, from the user's page.
pub async fn change_user_groups(
    Admin(me): Admin,
    State(state): State<AppState>,
    UserPath(user): UserPath,
    Checked(Form(form)): Checked<Form<UserGroupForm>>,
) -> Result<Response, PageError> {
    let groups: Vec<GroupId> = form.group.iter().filter_map(|g| g.parse().ok()).collect();
    if groups.is_empty() {
        return Err(DomainError::invalid("group", "Choose a group.").into());
    }
    let member = [MemberId::User(user)];
    for group in &groups {
        match form.action.as_str() {
            "add" => state.directory.add_members(&me.actor, *group, &member).await?,
            "remove" => state.directory.remove_members(&me.actor, *group, &member).await?,
            _ => return Err(DomainError::invalid("action", "Choose add or remove.").into()),
        };
    }
    Ok(Redirect::to(&format!("/admin/users/{user}?saved=groups#groups-heading")).into_response())
}
