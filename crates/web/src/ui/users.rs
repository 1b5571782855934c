//! Users → Active users, a user's details, and Deleted users.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use roster_domain::permission::Permission;
use roster_domain::time_zone::Zone;
use roster_domain::user::UserPage;
use roster_domain::{ListFilter, UserCount, UserQuery, UserSort, UserSummary};
use serde::Deserialize;

use crate::error::{render, urlencode, PageError};
use crate::extract::{Checked, ReaderZone, UserPath};
use crate::session::Admin;
use crate::ui::access_pass::{self, PassView};
use crate::ui::confirm::Panel;
use crate::ui::cursor::{decode_cursor, encode_cursor};
use crate::ui::groups::UserGroups;
use crate::ui::layout::{Layout, Section};
use crate::ui::methods::MethodView;
use crate::ui::passkeys::PasskeyRow;
use crate::ui::readiness::Glance;
use crate::ui::time_zone::Moment;
use crate::ui::user_view::{show_phone, UserView};
use crate::ui::wording::count;
use crate::AppState;

/// Rows per page of Active users.
pub const PAGE_SIZE: u32 = 50;

/// A column of Active users that each administrator may show or hide; the display name, which
/// opens the person, is always there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Username,
    MobilePhone,
    AlternateEmail,
    Department,
    Roles,
    Status,
    Created,
}

impl Column {
    /// Every column, in the order the table shows them.
    pub const ALL: [Column; 7] = [
        Column::Username,
        Column::MobilePhone,
        Column::AlternateEmail,
        Column::Department,
        Column::Roles,
        Column::Status,
        Column::Created,
    ];

    /// What an administrator sees before choosing.
    const DEFAULT: [Column; 4] = [Column::Username, Column::MobilePhone, Column::Roles, Column::Status];

    /// The column's code in forms and in the kept choice.
    pub fn code(self) -> &'static str {
        match self {
            Column::Username => "username",
            Column::MobilePhone => "mobile_phone",
            Column::AlternateEmail => "alternate_email",
            Column::Department => "department",
            Column::Roles => "roles",
            Column::Status => "status",
            Column::Created => "created",
        }
    }

    /// The column's heading.
    pub fn label(self) -> &'static str {
        match self {
            Column::Username => "Username",
            Column::MobilePhone => "Mobile phone",
            Column::AlternateEmail => "Alternate email",
            Column::Department => "Department",
            Column::Roles => "Roles",
            Column::Status => "Status",
            Column::Created => "Created",
        }
    }

    /// The columns a kept choice names, in the table's order; unknown codes are left out.
    fn chosen(kept: Option<&str>) -> Vec<Column> {
        match kept {
            None => Column::DEFAULT.to_vec(),
            Some(codes) => {
                let codes: Vec<&str> = codes.split(',').collect();
                Column::ALL.into_iter().filter(|c| codes.contains(&c.code())).collect()
            }
        }
    }
}

/// The preference that keeps each administrator's choice of columns.
const COLUMNS_PREFERENCE: &str = "active_users.columns";

/// One cell of a row: its text, or the Blocked badge.
pub struct Cell {
    pub text: String,
    pub blocked_badge: bool,
}

/// One row of the list.
pub struct Row {
    pub id: String,
    pub display_name: String,
    pub username: String,
    /// The cells of the chosen columns, in their order.
    pub cells: Vec<Cell>,
}

impl Row {
    fn of(u: &UserSummary, columns: &[Column], zone: &Zone) -> Row {
        let cell = |column: &Column| {
            let text = match column {
                Column::Username => u.username.to_string(),
                Column::MobilePhone => show_phone(&u.mobile_phone),
                Column::AlternateEmail => u.alternate_email.clone().unwrap_or_default(),
                Column::Department => u.department.clone().unwrap_or_default(),
                Column::Roles => u.roles.display(),
                // Only a blocked person carries a badge: "Enabled" on every row says nothing.
                Column::Status => String::new(),
                Column::Created => zone.date(u.created_at),
            };
            Cell { text, blocked_badge: *column == Column::Status && !u.enabled }
        };
        Row {
            id: u.id.to_string(),
            display_name: u.display_name.clone(),
            username: u.username.to_string(),
            cells: columns.iter().map(cell).collect(),
        }
    }
}

/// A shown column's heading, with its sort link where it has one.
pub struct ColumnHead {
    pub label: &'static str,
    pub sort: Option<SortHeader>,
}

/// A filter or column as the list's controls offer it, and whether it is the one chosen (or
/// one of those).
pub struct Choice {
    pub code: &'static str,
    pub label: &'static str,
    pub chosen: bool,
}

/// A sortable column header.
pub struct SortHeader {
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub aria_sort: &'static str,
}

/// How many users the list holds, as one sentence: "3 users blocked from signing in match “al”".
fn count_sentence(counted: UserCount, filter: ListFilter, search: &str) -> String {
    let (n, more) = match counted {
        UserCount::Exactly(n) => (n, false),
        UserCount::MoreThan(n) => (n, true),
    };
    let (one, many, which) = match filter {
        ListFilter::All => ("user", "users", ""),
        ListFilter::Administrators => ("administrator", "administrators", ""),
        ListFilter::Blocked => ("user", "users", " blocked from signing in"),
        ListFilter::Unverified => ("user", "users", " with a contact not yet verified"),
        ListFilter::NoContacts => ("user", "users", " with no recovery contact"),
    };
    let head = if more { format!("More than {}", count(n, many, many)) } else { count(n, one, many) };
    match search {
        "" => format!("{head}{which}."),
        _ => format!("{head}{which} {} “{search}”.", if n == 1 && !more { "matches" } else { "match" }),
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ActiveUsersPage {
    layout: Layout,
    /// How many users the list holds, in a sentence.
    count: String,
    filters: Vec<Choice>,
    /// Whether a search or filter narrows the list.
    narrowed: bool,
    /// The export of this list.
    export_href: String,
    search: String,
    rows: Vec<Row>,
    display_header: SortHeader,
    columns: Vec<ColumnHead>,
    choices: Vec<Choice>,
    /// This list's address, for the column chooser to come back to.
    back: String,
    next_href: Option<String>,
    previous_href: Option<String>,
    status: Option<String>,
    readiness: Option<Glance>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// The filter's code; all users when missing or unknown.
    #[serde(default)]
    show: String,
}

impl ListQuery {
    /// The search and filter as a link's query (`&q=…&show=…`), each only when set.
    fn narrowing(&self) -> String {
        let mut out = String::new();
        if !self.q.trim().is_empty() {
            out.push_str(&format!("&q={}", urlencode(self.q.trim())));
        }
        let filter = self.filter();
        if filter != ListFilter::All {
            out.push_str(&format!("&show={}", filter.code()));
        }
        out
    }

    fn filter(&self) -> ListFilter {
        ListFilter::from_code(&self.show).unwrap_or_default()
    }
}

struct Listing {
    base: String,
    query: UserQuery,
    sort_name: &'static str,
}

fn listing(path: &str, q: &ListQuery, deleted: bool) -> Listing {
    let (sort, sort_name) = match q.sort.as_str() {
        "username" => (UserSort::Username, "username"),
        _ => (UserSort::DisplayName, "name"),
    };
    let descending = q.dir == "desc";
    let base = format!("{path}?sort={sort_name}&dir={}{}", if descending { "desc" } else { "asc" }, q.narrowing());
    let query = UserQuery {
        search: Some(q.q.clone()),
        sort,
        descending,
        after: q.after.as_deref().and_then(decode_cursor),
        before: q.before.as_deref().and_then(decode_cursor),
        deleted,
        filter: if deleted { ListFilter::All } else { q.filter() },
        limit: PAGE_SIZE,
    };
    Listing { base, query, sort_name }
}

/// The header of the sortable column `key`, linking to the list sorted by it (the other way
/// when it is the sort already).
fn sort_header(q: &ListQuery, label: &'static str, key: &str, current: &str, descending: bool) -> SortHeader {
    let active = key == current;
    let next_dir = if active && !descending { "desc" } else { "asc" };
    let href = format!("/admin/users?sort={key}&dir={next_dir}{}", q.narrowing());
    let aria_sort = match (active, descending) {
        (false, _) => "none",
        (true, false) => "ascending",
        (true, true) => "descending",
    };
    SortHeader { label, href, aria_sort }
}

fn page_links(base: &str, page: &UserPage) -> (Option<String>, Option<String>) {
    (
        page.next.as_ref().map(|c| format!("{base}&after={}", encode_cursor(c))),
        page.previous.as_ref().map(|c| format!("{base}&before={}", encode_cursor(c))),
    )
}

/// Users → Active users.
pub async fn list(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let l = listing("/admin/users", &q, false);
    let (page, counted, kept) = tokio::try_join!(
        state.directory.list_users(&me.actor, l.query.clone()),
        state.directory.count_listed(&me.actor, l.query.clone()),
        state.directory.preference(&me.actor, COLUMNS_PREFERENCE),
    )?;
    let (next_href, previous_href) = page_links(&l.base, &page);
    let status = match q.status.as_deref() {
        Some("deleted") => Some("The user was deleted. You can restore them from Deleted users for 30 days.".into()),
        Some("none_chosen") => {
            Some("Nothing was done: select the users first, with the boxes beside their names.".into())
        }
        _ => None,
    };
    let filter = l.query.filter;
    let chosen = Column::chosen(kept.as_deref());
    let sorted_by = |label, key| sort_header(&q, label, key, l.sort_name, l.query.descending);
    let columns = chosen
        .iter()
        .map(|&c| ColumnHead {
            label: c.label(),
            sort: (c == Column::Username).then(|| sorted_by("Username", "username")),
        })
        .collect();
    let narrowing = q.narrowing();
    let body = ActiveUsersPage {
        layout: Layout::new(&me, "Active users", Section::ActiveUsers),
        count: count_sentence(counted, filter, q.q.trim()),
        filters: ListFilter::ALL
            .into_iter()
            .map(|f| Choice { code: f.code(), label: f.label(), chosen: f == filter })
            .collect(),
        narrowed: !narrowing.is_empty(),
        export_href: match narrowing.strip_prefix('&') {
            Some(narrowing) => format!("/admin/users/export?{narrowing}"),
            None => "/admin/users/export".into(),
        },
        search: q.q.trim().to_string(),
        rows: page.users.iter().map(|u| Row::of(u, &chosen, &zone)).collect(),
        display_header: sorted_by("Display name", "name"),
        columns,
        choices: Column::ALL
            .into_iter()
            .map(|c| Choice { code: c.code(), label: c.label(), chosen: chosen.contains(&c) })
            .collect(),
        back: l.base.clone(),
        next_href,
        previous_href,
        status,
        readiness: Glance::of(&state.readiness),
    };
    Ok(render(StatusCode::OK, &body))
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPageView {
    layout: Layout,
    user: UserView,
    status: Option<String>,
    can_assign_roles: bool,
    methods: Vec<MethodView>,
    send_action: String,
    send_label: &'static str,
    groups: UserGroups,
    /// The questions the command bar's dialogs ask.
    panels: Vec<Panel>,
    access_pass: Option<PassView>,
    can_manage_pass: bool,
    passkeys: Vec<PasskeyRow>,
    /// Where a passkey's removal posts (before its id), when the reader may remove one.
    remove_base: String,
}

#[derive(Deserialize)]
pub struct DetailsQuery {
    #[serde(default)]
    saved: Option<String>,
    /// The start of a group's name, to find groups to add the user to.
    #[serde(default)]
    group_q: String,
}

/// The column chooser's answer.
#[derive(Deserialize)]
pub struct ColumnsForm {
    #[serde(default)]
    column: Vec<String>,
    /// The list to go back to.
    #[serde(default)]
    back: String,
}

/// Keeps the administrator's choice of columns, then goes back to the list as it was.
pub async fn choose_columns(
    Admin(me): Admin,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<ColumnsForm>>,
) -> Result<Response, PageError> {
    let codes: Vec<&str> =
        Column::ALL.into_iter().map(Column::code).filter(|code| form.column.iter().any(|c| c == code)).collect();
    state.directory.set_preference(&me.actor, COLUMNS_PREFERENCE, &codes.join(",")).await?;
    // Only back to the list itself: a form must not send anyone elsewhere.
    let back = if form.back.starts_with("/admin/users?") { form.back.as_str() } else { "/admin/users" };
    Ok(Redirect::to(back).into_response())
}

/// A user's account details.
pub async fn details(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    UserPath(id): UserPath,
    Query(q): Query<DetailsQuery>,
) -> Result<Response, PageError> {
    let user = state.directory.get_user(&me.actor, id).await?;
    let status = q.saved.as_deref().map(|what| match what {
        "contact" => "Contact information saved.".to_string(),
        "roles" => "Roles saved.".to_string(),
        "username" => "Username changed; the old one still signs the user in for a while. Change saved.".to_string(),
        "blocked" => "Sign-in blocked; the user's sessions were ended. Change saved.".to_string(),
        "allowed" => "Sign-in allowed. Change saved.".to_string(),
        "restored" => "User restored with everything intact. Change saved.".to_string(),
        "signed-out" => "The user was signed out everywhere. Change saved.".to_string(),
        "groups" => "Groups saved.".to_string(),
        "passkey-removed" => "The passkey was removed. Change saved.".to_string(),
        "access-pass-removed" => "The Temporary Access Pass was removed. Change saved.".to_string(),
        "verification" => {
            "A verification code was sent. The user enters it on their Security info page (My account).".to_string()
        }
        _ => "Changes saved.".to_string(),
    });
    let methods = state.directory.contact_states(&me.actor, user.id).await?;
    let groups = UserGroups::load(&state, &me, user.id, &q.group_q).await?;
    let pass = state.directory.access_pass(&me.actor, user.id).await?;
    let can_manage_pass = user.deleted_at.is_none() && access_pass::may_manage(&me, &user);
    let body = UserPageView {
        groups,
        panels: match user.deleted_at {
            None => Panel::offered(&user, pass.is_some() && can_manage_pass),
            Some(_) => Vec::new(),
        },
        access_pass: pass.map(|p| PassView::of(&p, &zone)),
        passkeys: state
            .directory
            .passkeys_of(&me.actor, user.id)
            .await?
            .iter()
            .map(|p| PasskeyRow::of(p, &zone))
            .collect(),
        remove_base: match user.deleted_at.is_none() && me.require(Permission::ManageSignInMethods, user.roles).is_ok()
        {
            true => format!("/admin/users/{}/passkeys", user.id),
            false => String::new(),
        },
        can_manage_pass,
        layout: Layout::new(&me, user.contact.display_name.clone(), Section::ActiveUsers),
        can_assign_roles: me.user.roles.contains(roster_domain::Role::GlobalAdministrator),
        methods: methods.iter().map(|m| MethodView::of(m, &zone)).collect(),
        send_action: if user.deleted_at.is_none() { format!("/admin/users/{}/verify", user.id) } else { String::new() },
        send_label: "Send verification",
        user: UserView::of(&user, &zone)
            .with_external_id(&user)
            .with_manager(state.directory.contact_input(&user).await?.manager),
        status,
    };
    Ok(render(StatusCode::OK, &body))
}

#[derive(Template)]
#[template(path = "admin/deleted.html")]
struct DeletedUsersPage {
    layout: Layout,
    rows: Vec<(Row, Option<Moment>)>,
    next_href: Option<String>,
    previous_href: Option<String>,
}

/// Users → Deleted users, restorable for 30 days.
pub async fn deleted(
    Admin(me): Admin,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let l = listing("/admin/deleted-users", &q, true);
    let page = state.directory.list_users(&me.actor, l.query).await?;
    let (next_href, previous_href) = page_links(&l.base, &page);
    let rows =
        page.users.iter().map(|u| (Row::of(u, &[], &zone), u.deleted_at.map(|t| Moment::at(&zone, t)))).collect();
    let body = DeletedUsersPage {
        layout: Layout::new(&me, "Deleted users", Section::DeletedUsers),
        rows,
        next_href,
        previous_href,
    };
    Ok(render(StatusCode::OK, &body).into_response())
}
