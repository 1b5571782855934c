//! Listing and searching users: keyset pages in display-name or username order.
//!
//! A search matches a prefix of the display name, first name, last name, username or an
//! alternate address. Rows whose *sort column* matches form one contiguous range of the list's
//! index and are read from it directly. Every other source is indexed by its first three letters
//! and then in list order (see the migration that created those indexes), so for a prefix of
//! three letters or more each source is walked in the page's own order and stops after one
//! page; the best page of the at most five short lists is kept, and only its rows are read from
//! the table. A one- or two-letter prefix matches so large a share of the directory that a walk
//! of the list itself, testing each entry, finds a page soonest.

use roster_domain::user::{Cursor, UserQuery, UserSort, UserSummary};
use roster_domain::StoreError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Sqlite};

use crate::sqlite::rows::{summary_from_row, SUMMARY_COLUMNS};
use crate::sqlite::SqliteStore;

/// Letters of a search that the source indexes are keyed on; shorter searches walk the list.
const LEADING_LETTERS: usize = 3;

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

/// The order and keyset condition of one query.
struct Plan {
    /// `asc` or `desc`.
    dir: &'static str,
    /// `>` or `<`, by direction.
    cmp: &'static str,
    has_cursor: bool,
}

impl Plan {
    /// The keyset condition on the sort column and `id_column` (`and …`), or nothing.
    fn after(&self, c: &Columns, id_column: &str) -> String {
        match (self.has_cursor, c.tiebreak.is_empty()) {
            (false, _) => String::new(),
            (true, true) => format!(" and {} {} ?5", c.sort, self.cmp),
            (true, false) => format!(" and ({}, {id_column}) {} (?5, ?6)", c.sort, self.cmp),
        }
    }

    /// `order by` terms for the sort column and `id_column`.
    fn order(&self, c: &Columns, id_column: &str) -> String {
        if c.tiebreak.is_empty() {
            format!("{} {}", c.sort, self.dir)
        } else {
            format!("{} {dir}, {id_column} {dir}", c.sort, dir = self.dir)
        }
    }
}

impl SqliteStore {
    pub(crate) async fn list_users(&self, query: &UserQuery) -> Result<Vec<UserSummary>, StoreError> {
        let c = columns(query.sort);
        // Reading the previous page walks the index the other way; the domain flips the rows.
        let descending = query.descending != query.before.is_some();
        let (dir, cmp) = if descending { ("desc", "<") } else { ("asc", ">") };
        let plan = Plan { dir, cmp, has_cursor: query.after.is_some() || query.before.is_some() };
        let status = if query.deleted { "deleted_at is not null" } else { "deleted_at is null" };
        let after = plan.after(&c, "id");
        let order = plan.order(&c, "id");
        let sql = match &query.search {
            None => format!("select {SUMMARY_COLUMNS} from users where {status}{after} order by {order} limit ?3"),
            Some(prefix) if query.deleted || prefix.chars().count() < LEADING_LETTERS => format!(
                "select {SUMMARY_COLUMNS} from users where {status} and ({}){after} order by {order} limit ?3",
                any_match(&c, !query.deleted),
            ),
            Some(_) => sources_sql(&c, &plan),
        };
        let rows = sqlx::query_with::<Sqlite, _>(&sql, arguments(query, &c)?).fetch_all(&self.readers).await?;
        rows.iter().map(summary_from_row).collect()
    }
}

/// Parameters: ?1 prefix, ?2 the prefix's upper bound, ?3 page size, ?4 the prefix's leading
/// letters, ?5/?6 the cursor.
fn arguments(query: &UserQuery, c: &Columns) -> Result<SqliteArguments<'static>, StoreError> {
    let mut args = SqliteArguments::default();
    let prefix = query.search.clone().unwrap_or_default();
    args.add(prefix.clone()).map_err(StoreError::backend)?;
    args.add(format!("{prefix}\u{10FFFF}")).map_err(StoreError::backend)?;
    args.add(i64::from(query.limit)).map_err(StoreError::backend)?;
    args.add(prefix.chars().take(LEADING_LETTERS).collect::<String>()).map_err(StoreError::backend)?;
    if let Some(Cursor { key, id }) = query.after.as_ref().or(query.before.as_ref()) {
        args.add(key.clone()).map_err(StoreError::backend)?;
        if !c.tiebreak.is_empty() {
            args.add(id.to_string()).map_err(StoreError::backend)?;
        }
    }
    Ok(args)
}

/// One page from each source, walked in list order past the cursor; the best page of their
/// union is read from the table. Each source's condition repeats its index's expression
/// (`substr(…, 1, 3)`) exactly, which is what lets SQLite use that index.
fn sources_sql(c: &Columns, plan: &Plan) -> String {
    let sort = c.sort;
    let head = format!(
        "select {sort} as k, id from users where deleted_at is null and {sort} >= ?1 and {sort} < ?2{} \
         order by {} limit ?3",
        plan.after(c, "id"),
        plan.order(c, "id")
    );
    let page = |sql: String| format!("select k, id from ({sql})");
    let sources: Vec<String> = [page(head)]
        .into_iter()
        .chain(c.others.iter().map(|o| {
            page(format!(
                "select {sort} as k, id from users where deleted_at is null and substr({o}, 1, 3) = ?4 \
                 and {o} >= ?1 and {o} < ?2{} order by {} limit ?3",
                plan.after(c, "id"),
                plan.order(c, "id")
            ))
        }))
        // A user with several matching addresses counts once, or they could fill the page alone.
        .chain([page(format!(
            "select distinct {sort} as k, user_id as id from alternate_emails where active = 1 \
             and substr(address_key, 1, 3) = ?4 and address_key >= ?1 and address_key < ?2{} order by {} limit ?3",
            plan.after(c, "user_id"),
            plan.order(c, "user_id")
        ))])
        .collect();
    // `union` drops a user found by two sources. The unary `+` in the outer order stops the
    // planner from walking the whole list index and testing every entry against the ids.
    let page_order =
        if c.tiebreak.is_empty() { format!("k {}", plan.dir) } else { format!("k {dir}, id {dir}", dir = plan.dir) };
    let outer: Vec<String> = plan.order(c, "id").split(", ").map(|term| format!("+{term}")).collect();
    format!(
        "select {SUMMARY_COLUMNS} from users where id in (select id from ({} order by {page_order} limit ?3)) \
         order by {} limit ?3",
        sources.join(" union "),
        outer.join(", ")
    )
}

/// Any searchable key matches, as a filter on a walk of the list. With `walk`, the unary `+`
/// keeps the planner on the list's own index, which is what makes the walk stop early. With a
/// prefix no longer than the indexed leading letters, a range on those letters is the same
/// range as on the whole address, and it can be read from the addresses' search index.
fn any_match(c: &Columns, walk: bool) -> String {
    let plus = if walk { "+" } else { "" };
    let mut terms: Vec<String> =
        [c.sort].iter().chain(c.others.iter()).map(|k| format!("{plus}{k} >= ?1 and {plus}{k} < ?2")).collect();
    terms.push(if walk {
        "id in (select user_id from alternate_emails where active = 1 \
         and substr(address_key, 1, 3) >= ?1 and substr(address_key, 1, 3) < ?2)"
            .into()
    } else {
        "id in (select user_id from alternate_emails where address_key >= ?1 and address_key < ?2)".into()
    });
    terms.join(" or ")
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use roster_domain::store::*;
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
        // People with several matching addresses, who must not crowd others off a page.
        for i in 0..60 {
            let mut many = person(30_000 + i, "Ola", "Berg", None);
            many.contact.alternate_emails = (0..3).map(|n| format!("zed{i}.{n}@fabrikam.com")).collect();
            users.push(many);
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
