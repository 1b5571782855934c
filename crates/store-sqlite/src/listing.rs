//! Listing and searching users: keyset pages in display-name or username order.
//!
//! A search matches a prefix of the display name, first name, last name, username or an
//! alternate address. Rows whose *sort column* matches form one contiguous range of the list's
//! index and are read from it directly. The other ("side") matches are scattered through the
//! list. Common ones (a frequent surname) fill a page within a short walk of the list's index;
//! rare ones are collected from their own covering indexes and only the best page is kept. The
//! walk is tried first, in a bounded window, and the collection is the fallback; both read
//! indexes only, and the table only for the rows shown. A one- or two-letter prefix matches so
//! much that an unbounded walk is what such searches do.

use roster_domain::user::{Cursor, UserQuery, UserSort, UserSummary};
use roster_domain::StoreError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Sqlite};

use crate::rows::{summary_from_row, SUMMARY_COLUMNS};
use crate::{backend, SqliteStore};

/// Prefixes this short are searched by walking the list index (they match a large share).
const WALK_MAX_PREFIX_CHARS: usize = 2;

/// The sort column and the other searchable keys of the users table, per sort.
struct Columns {
    sort: &'static str,
    /// Tie-break after the sort column (`username` is unique and needs none).
    tiebreak: &'static str,
    others: [&'static str; 3],
}

fn columns(sort: UserSort) -> Columns {
    match sort {
        UserSort::DisplayName => {
            Columns { sort: "display_key", tiebreak: "id", others: ["first_key", "last_key", "username"] }
        }
        UserSort::Username => {
            Columns { sort: "username", tiebreak: "", others: ["display_key", "first_key", "last_key"] }
        }
    }
}

/// Side matches are first looked for among this many entries of the list index after the
/// cursor; when they are too sparse to fill a page there, they are collected instead.
const WALK_WINDOW: u32 = 2_000;

/// The order and keyset condition of one query.
struct Plan {
    order: String,
    /// `>` or `<`, by direction.
    cmp: &'static str,
    has_cursor: bool,
}

impl Plan {
    /// The keyset condition on the sort column and `id_column` (`and …`), or nothing.
    fn after(&self, c: &Columns, id_column: &str) -> String {
        match (self.has_cursor, c.tiebreak.is_empty()) {
            (false, _) => String::new(),
            (true, true) => format!(" and {} {} ?4", c.sort, self.cmp),
            (true, false) => format!(" and ({}, {id_column}) {} (?4, ?5)", c.sort, self.cmp),
        }
    }
}

impl SqliteStore {
    pub(crate) async fn list_users(&self, query: &UserQuery) -> Result<Vec<UserSummary>, StoreError> {
        let c = columns(query.sort);
        // Reading the previous page walks the index the other way; the domain flips the rows.
        let descending = query.descending != query.before.is_some();
        let (dir, cmp) = if descending { ("desc", "<") } else { ("asc", ">") };
        let order = if c.tiebreak.is_empty() {
            format!("{} {dir}", c.sort)
        } else {
            format!("{} {dir}, {} {dir}", c.sort, c.tiebreak)
        };
        let plan = Plan { order, cmp, has_cursor: query.after.is_some() || query.before.is_some() };
        let status = if query.deleted { "deleted_at is not null" } else { "deleted_at is null" };
        let after = plan.after(&c, "id");
        let sql = match &query.search {
            None => {
                format!("select {SUMMARY_COLUMNS} from users where {status}{after} order by {} limit ?3", plan.order)
            }
            Some(prefix) if query.deleted || prefix.chars().count() <= WALK_MAX_PREFIX_CHARS => format!(
                "select {SUMMARY_COLUMNS} from users where {status} and ({}){after} order by {} limit ?3",
                any_match(&c, !query.deleted),
                plan.order
            ),
            Some(_) => {
                let walk = side_walk_sql(&c, &plan);
                let found: i64 =
                    sqlx::query_scalar_with(&format!("select count(*) from ({walk})"), arguments(query, &c)?)
                        .fetch_one(&self.readers)
                        .await
                        .map_err(backend)?;
                let side = if found >= i64::from(query.limit) { walk } else { side_collect_sql(&c, &plan) };
                merge_sql(&c, &plan, &side)
            }
        };
        let rows = sqlx::query_with::<Sqlite, _>(&sql, arguments(query, &c)?)
            .fetch_all(&self.readers)
            .await
            .map_err(backend)?;
        rows.iter().map(summary_from_row).collect()
    }
}

/// Parameters: ?1 prefix, ?2 the prefix's upper bound, ?3 page size, ?4/?5 the cursor.
fn arguments(query: &UserQuery, c: &Columns) -> Result<SqliteArguments<'static>, StoreError> {
    let mut args = SqliteArguments::default();
    let prefix = query.search.clone().unwrap_or_default();
    args.add(prefix.clone()).map_err(backend)?;
    args.add(format!("{prefix}\u{10FFFF}")).map_err(backend)?;
    args.add(i64::from(query.limit)).map_err(backend)?;
    if let Some(Cursor { key, id }) = query.after.as_ref().or(query.before.as_ref()) {
        args.add(key.clone()).map_err(backend)?;
        if !c.tiebreak.is_empty() {
            args.add(id.to_string()).map_err(backend)?;
        }
    }
    Ok(args)
}

/// Side matches found by walking a bounded window of the list index (index-only): complete
/// whenever it yields a full page, since the window is the start of the rest of the list.
fn side_walk_sql(c: &Columns, plan: &Plan) -> String {
    let sort = c.sort;
    let others = c.others.join(", ");
    let terms: Vec<String> = c
        .others
        .iter()
        .map(|o| format!("{o} >= ?1 and {o} < ?2"))
        .chain(["id in (select user_id from alternate_emails where active = 1 \
                 and address_key >= ?1 and address_key < ?2)"
            .to_string()])
        .collect();
    format!(
        "select {sort}, id from (select {sort}, id, {others} from users where deleted_at is null{} \
         order by {} limit {WALK_WINDOW}) where not ({sort} >= ?1 and {sort} < ?2) and ({}) order by {} limit ?3",
        plan.after(c, "id"),
        plan.order,
        terms.join(" or "),
        plan.order
    )
}

/// Side matches collected from their own covering indexes, each source already narrowed to
/// rows outside the sort column's range and past the cursor; the best page is kept.
fn side_collect_sql(c: &Columns, plan: &Plan) -> String {
    let sort = c.sort;
    let outside = format!("not ({sort} >= ?1 and {sort} < ?2)");
    let sources: Vec<String> = c
        .others
        .iter()
        .map(|o| {
            format!(
                "select {sort}, id from users where deleted_at is null and {o} >= ?1 and {o} < ?2 and {outside}{}",
                plan.after(c, "id")
            )
        })
        .chain([format!(
            "select {sort}, user_id as id from alternate_emails where active = 1 \
             and address_key >= ?1 and address_key < ?2 and {outside}{}",
            plan.after(c, "user_id")
        )])
        .collect();
    format!("select {sort}, id from ({}) order by {} limit ?3", sources.join(" union "), plan.order)
}

/// The head (sort-column matches, straight from the index) merged with the side page.
fn merge_sql(c: &Columns, plan: &Plan, side: &str) -> String {
    let sort = c.sort;
    let head = format!(
        "select {sort}, id from users where deleted_at is null and {sort} >= ?1 and {sort} < ?2{} order by {} limit ?3",
        plan.after(c, "id"),
        plan.order
    );
    // At most two pages of ids: look each up and sort them. The unary `+` stops the planner from
    // walking the list index in order and testing every entry against the ids instead.
    let order: Vec<String> = plan.order.split(", ").map(|term| format!("+{term}")).collect();
    format!(
        "select {SUMMARY_COLUMNS} from users where id in (select id from ({head}) union all select id from ({side})) \
         order by {} limit ?3",
        order.join(", ")
    )
}

/// Any searchable key matches, as a filter on a walk of the list. With `walk`, the unary `+`
/// keeps the planner on the list's own index, which is what makes the walk stop early.
fn any_match(c: &Columns, walk: bool) -> String {
    let plus = if walk { "+" } else { "" };
    let mut terms: Vec<String> =
        [c.sort].iter().chain(c.others.iter()).map(|k| format!("{plus}{k} >= ?1 and {plus}{k} < ?2")).collect();
    terms.push("id in (select user_id from alternate_emails where address_key >= ?1 and address_key < ?2)".into());
    terms.join(" or ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use roster_domain::contact::ContactInfo;
    use roster_domain::user::{sort_key, User, UserId, UserPage, Username};
    use roster_domain::{Actor, Directory, RoleSet, Timestamp};

    use super::*;

    fn person(i: usize, first: &str, last: &str, alternate: Option<String>) -> User {
        User {
            id: UserId::random(),
            username: Username::from_stored(format!("{}.{}{i}@contoso.com", first.to_lowercase(), last.to_lowercase())),
            contact: ContactInfo {
                display_name: format!("{first} {last}"),
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                alternate_emails: alternate.into_iter().collect(),
                ..ContactInfo::default()
            },
            roles: RoleSet::NONE,
            enabled: true,
            must_change_password: false,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            updated_by: "test".into(),
            version: 1,
            deleted_at: None,
        }
    }

    /// The answer by brute force: every matching user, fully sorted.
    fn expected(users: &[User], prefix: &str, sort: UserSort, descending: bool) -> Vec<UserId> {
        let starts = |v: &str| v.to_lowercase().starts_with(prefix);
        let mut hits: Vec<(String, UserId)> = users
            .iter()
            .filter(|u| {
                let c = &u.contact;
                starts(&c.display_name)
                    || c.first_name.as_deref().is_some_and(starts)
                    || c.last_name.as_deref().is_some_and(starts)
                    || starts(u.username.as_str())
                    || c.alternate_emails.iter().any(|a| starts(a))
            })
            .map(|u| {
                let key = match sort {
                    UserSort::DisplayName => sort_key(&u.contact.display_name),
                    UserSort::Username => u.username.to_string(),
                };
                (key, u.id)
            })
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.to_string().cmp(&b.1.to_string())));
        if descending {
            hits.reverse();
        }
        hits.into_iter().map(|(_, id)| id).collect()
    }

    async fn walk(directory: &Directory, prefix: &str, sort: UserSort, descending: bool) -> (Vec<UserId>, Vec<UserId>) {
        let actor = Actor::system("test");
        let query = |after, before| UserQuery {
            search: Some(prefix.to_string()),
            sort,
            descending,
            after,
            before,
            deleted: false,
            limit: 50,
        };
        let mut forward = Vec::new();
        let mut pages: Vec<UserPage> = Vec::new();
        let mut after = None;
        loop {
            let page = directory.list_users(&actor, query(after.clone(), None)).await.unwrap();
            forward.extend(page.users.iter().map(|u| u.id));
            after = page.next.clone();
            pages.push(page);
            if after.is_none() {
                break;
            }
        }
        let mut backward = Vec::new();
        let mut before = pages.last().and_then(|p| p.previous.clone());
        let mut last = pages.last().map(|p| p.users.iter().map(|u| u.id).collect::<Vec<_>>()).unwrap_or_default();
        while let Some(cursor) = before {
            let page = directory.list_users(&actor, query(None, Some(cursor))).await.unwrap();
            let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
            backward.splice(0..0, last);
            last = ids;
            before = page.previous.clone();
        }
        backward.splice(0..0, last);
        (forward, backward)
    }

    #[tokio::test]
    async fn searches_page_exactly_like_a_full_sort_in_every_order() {
        let data = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(data.path()).await.unwrap();
        let mut users = Vec::new();
        // 6,000 matches on the last name, scattered through the list.
        for i in 0..6_000 {
            let first = ["Ann", "Bob", "Cy", "Dee"][i % 4];
            users.push(person(i, first, "Zed", None));
        }
        // Display-name matches and a few alternate-address matches for "zed" and "ze".
        for i in 0..70 {
            users.push(person(10_000 + i, "Zedd", "Quill", None));
            users.push(person(20_000 + i, "Mia", "Vos", (i % 7 == 0).then(|| format!("zed.alt{i}@fabrikam.com"))));
        }
        let index_sql = "select group_concat(sql, ';') from (select sql from sqlite_master \
                         where type = 'index' and tbl_name in ('users', 'alternate_emails') order by name)";
        let before: String = sqlx::query_scalar(index_sql).fetch_one(&store.readers).await.unwrap();
        let readers = store.readers.clone();
        let directory = Directory::new(Arc::new(store));
        directory
            .create_users_bulk(&Actor::system("test"), users.len(), &mut users.chunks(1000).map(<[User]>::to_vec))
            .await
            .unwrap();
        let after: String = sqlx::query_scalar(index_sql).fetch_one(&readers).await.unwrap();
        assert_eq!(after, before, "a bulk load into an empty directory rebuilds exactly the same indexes");

        for prefix in ["zed", "ze", "z", "vos", "mia.vos2000", "quill", "nomatch"] {
            for sort in [UserSort::DisplayName, UserSort::Username] {
                for descending in [false, true] {
                    let want = expected(&users, prefix, sort, descending);
                    let (forward, backward) = walk(&directory, prefix, sort, descending).await;
                    assert_eq!(forward.len(), want.len(), "{prefix} {sort:?} desc={descending}");
                    assert_eq!(forward, want, "{prefix} {sort:?} desc={descending}");
                    assert_eq!(backward, want, "back: {prefix} {sort:?} desc={descending}");
                }
            }
        }
    }
}
