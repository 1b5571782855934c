//! Listing and searching users: keyset pages in display-name or username order, the same pages
//! on both engines.
//!
//! A search matches a prefix of the display name, first name, last name, username or an active
//! alternate address. Rows whose sort column matches are one range of the list's own index.
//! Every other source is indexed by its first three letters and then in list order (see the
//! migration that created those indexes), so for a prefix of three letters or more each source
//! is read in the page's own order and stops after one page. The pages are combined,
//! deduplicated and the best page of their union kept: the best page of a union is always
//! within the union of the best pages. A one- or two-letter prefix matches so large a share of
//! the directory that walking the list's own index, testing each entry, finds a page soonest;
//! the Deleted users list, small, is filtered the same way.
//!
//! Ranges are `key >= prefix and key < prefix || U+10FFFF`: byte order in both engines (the
//! PostgreSQL columns are `collate "C"`), so both cut the same ranges. How the source pages are
//! combined, and how a walk keeps to the list's index, is each engine's own (`best_page` and
//! `walked` in `crate::dialect`): their planners need different statements to stop after one
//! page.

use async_trait::async_trait;
use roster_domain::store::{FoundUser, ListingStore, UserFind};
use roster_domain::user::{Cursor, ListFilter, UserQuery, UserSort, UserSummary};
use roster_domain::user_filter::UserFilter;
use roster_domain::StoreError;

use super::rows::{summary_from_row, Params, SUMMARY_COLUMNS};
use super::{find, Store, DIALECT};

/// Letters of a search that the source indexes are keyed on; shorter searches walk the list.
pub(super) const LEADING_LETTERS: usize = 3;

/// The sort column and the other searchable keys of the users table, per sort.
struct Columns {
    sort: &'static str,
    /// Whether the sort column needs the id as tie-break (`username` is unique).
    tiebreak: bool,
    others: [&'static str; 3],
}

fn columns(sort: UserSort) -> Columns {
    match sort {
        UserSort::DisplayName => {
            Columns { sort: "display_key", tiebreak: true, others: ["first_key", "last_key", "username"] }
        }
        UserSort::Username => {
            Columns { sort: "username", tiebreak: false, others: ["display_key", "first_key", "last_key"] }
        }
    }
}

/// The order and keyset condition of one query, with its parameters' placeholders.
struct Plan {
    columns: Columns,
    /// `asc` or `desc`.
    dir: &'static str,
    /// `>` or `<`, by direction.
    cmp: &'static str,
    /// Placeholders of the cursor's key and id, when there is a cursor.
    cursor: Option<(String, String)>,
    limit: String,
}

impl Plan {
    /// The keyset condition on the sort column and `id_column` (`and …`), or nothing.
    fn after(&self, id_column: &str) -> String {
        let sort = self.columns.sort;
        match &self.cursor {
            None => String::new(),
            Some((key, _)) if !self.columns.tiebreak => format!(" and {sort} {} {key}", self.cmp),
            Some((key, id)) => format!(" and ({sort}, {id_column}) {} ({key}, {id})", self.cmp),
        }
    }

    /// The list's order, tie-broken by `id_column` where the sort column needs it.
    fn order(&self, id_column: &str) -> String {
        if self.columns.tiebreak {
            format!("{} {dir}, {id_column} {dir}", self.columns.sort, dir = self.dir)
        } else {
            format!("{} {}", self.columns.sort, self.dir)
        }
    }
}

/// A search's placeholders: the prefix, its upper bound and its leading letters.
struct Search {
    low: String,
    high: String,
    lead: String,
}

#[async_trait]
impl ListingStore for Store {
    async fn list_users(&self, query: &UserQuery) -> Result<Vec<UserSummary>, StoreError> {
        let (sql, params) = statement(query)?;
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn count_listed(&self, query: &UserQuery, bound: u64) -> Result<u64, StoreError> {
        let (sql, params) = count_statement(query, bound)?;
        let counted: i64 = sqlx::query_scalar_with(&sql, params.into_arguments()).fetch_one(self.reader()).await?;
        u64::try_from(counted).map_err(StoreError::backend)
    }

    async fn find_users(&self, find: &UserFind) -> Result<Vec<FoundUser>, StoreError> {
        find::find_users(self, find).await
    }

    async fn count_found(&self, filter: Option<&UserFilter>) -> Result<u64, StoreError> {
        find::count_found(self, filter).await
    }
}

/// The statement that reads one page, with its parameters.
pub(crate) fn statement(query: &UserQuery) -> Result<(String, Params<'static>), StoreError> {
    let mut params = Params::default();
    let columns = columns(query.sort);
    // Reading the previous page walks the index the other way; the domain flips the rows.
    let descending = query.descending != query.before.is_some();
    let walk = query.deleted || query.search.as_ref().is_some_and(|p| p.chars().count() < LEADING_LETTERS);
    let search = match &query.search {
        Some(prefix) => Some(Search {
            low: params.push(prefix.clone())?,
            high: params.push(format!("{prefix}\u{10FFFF}"))?,
            lead: if walk {
                String::new()
            } else {
                params.push(prefix.chars().take(LEADING_LETTERS).collect::<String>())?
            },
        }),
        None => None,
    };
    let cursor = match query.after.as_ref().or(query.before.as_ref()) {
        Some(Cursor { key, id }) => {
            let key = params.push(key.clone())?;
            let id = if columns.tiebreak { params.push(id.to_string())? } else { String::new() };
            Some((key, id))
        }
        None => None,
    };
    let plan = Plan {
        columns,
        dir: if descending { "desc" } else { "asc" },
        cmp: if descending { "<" } else { ">" },
        cursor,
        limit: params.push(i64::from(query.limit))?,
    };
    let status = status(query.deleted, query.filter);
    let (after, order, limit) = (plan.after("id"), plan.order("id"), &plan.limit);
    let sql = match &search {
        None => format!("select {SUMMARY_COLUMNS} from users where {status}{after} order by {order} limit {limit}"),
        Some(search) if walk => format!(
            "select {SUMMARY_COLUMNS} from users where {status} and ({}){after} order by {order} limit {limit}",
            any_match(&plan.columns, search, query.deleted)
        ),
        Some(search) => {
            let k_order = if plan.columns.tiebreak {
                format!("k {dir}, id {dir}", dir = plan.dir)
            } else {
                format!("k {}", plan.dir)
            };
            (DIALECT.best_page)(&sources(&plan, search, query.filter), SUMMARY_COLUMNS, &order, &k_order, limit)
        }
    };
    Ok((sql, params))
}

/// The statement that counts the users of a list, up to `bound + 1`. A search counts the union
/// of its sources' ranges, each read along its own index.
pub(crate) fn count_statement(query: &UserQuery, bound: u64) -> Result<(String, Params<'static>), StoreError> {
    let mut params = Params::default();
    let limit = params.push(i64::try_from(bound.saturating_add(1)).map_err(StoreError::backend)?)?;
    let status = status(query.deleted, query.filter);
    let matched = match &query.search {
        None => format!("select id from users where {status} limit {limit}"),
        Some(prefix) => {
            let low = params.push(prefix.clone())?;
            let high = params.push(format!("{prefix}\u{10FFFF}"))?;
            let search = Search { low, high, lead: String::new() };
            if query.deleted {
                let any = any_match(&columns(UserSort::DisplayName), &search, true);
                format!("select id from users where {status} and ({any}) limit {limit}")
            } else {
                // Each range read along an index: the display name's and the username's own, and
                // the first and last names' and the addresses' by their leading letters (a prefix
                // shorter than those is a range of them).
                let Search { low, high, .. } = &search;
                let lead = match prefix.chars().count() < LEADING_LETTERS {
                    true => None,
                    false => Some(params.push(prefix.chars().take(LEADING_LETTERS).collect::<String>())?),
                };
                let led = |k: &str| {
                    let first = format!("substr({k}, 1, {LEADING_LETTERS})");
                    match &lead {
                        Some(lead) => format!("{first} = {lead} and {k} >= {low} and {k} < {high}"),
                        None => format!("{first} >= {low} and {first} < {high}"),
                    }
                };
                let own = ["display_key", "username"]
                    .map(|k| format!("select id from users where {status} and {k} >= {low} and {k} < {high}"));
                let names =
                    ["first_key", "last_key"].map(|k| format!("select id from users where {status} and {}", led(k)));
                let addresses = format!(
                    "select user_id as id from alternate_emails where active = 1 and {}{}",
                    led("address_key"),
                    on_owner(query.filter)
                );
                format!("{} union {} union {addresses} limit {limit}", own.join(" union "), names.join(" union "))
            }
        }
    };
    Ok((format!("select count(*) from ({matched}) as matched"), params))
}

/// The list's condition on the users table: deleted or active, and the filter's.
fn status(deleted: bool, filter: ListFilter) -> String {
    if deleted {
        return "deleted_at is not null".into();
    }
    match kept(filter, "users") {
        Some(kept) => format!("deleted_at is null and {kept}"),
        None => "deleted_at is null".into(),
    }
}

/// The filter's condition on a user row named `user`, or none for all users. The administrators
/// and blocked users have partial indexes in each list order; the contact conditions are read
/// off each row as a list is walked.
fn kept(filter: ListFilter, user: &str) -> Option<String> {
    let unverified = |column: &str| {
        format!(
            "(coalesce({user}.{column}, '') != '' and not exists (select 1 from contact_verifications v \
             where v.user_id = {user}.id and v.method = '{column}' and v.value = {user}.{column}))"
        )
    };
    let empty = |column: &str| format!("coalesce({user}.{column}, '') = ''");
    const PHONES: [&str; 3] = ["mobile_phone", "alternate_mobile_phone", "office_phone"];
    match filter {
        ListFilter::All => None,
        ListFilter::Administrators => Some(format!("{user}.roles != 0")),
        ListFilter::Blocked => Some(format!("{user}.enabled = 0")),
        ListFilter::NoContacts => {
            let phones = PHONES.map(empty).join(" and ");
            Some(format!("{user}.alternate_email_list = '[]' and {phones}"))
        }
        ListFilter::Unverified => {
            let addresses = format!(
                "exists (select 1 from alternate_emails a where a.user_id = {user}.id and not exists \
                 (select 1 from contact_verifications v where v.user_id = a.user_id and v.method = 'email' \
                 and v.value = a.address))"
            );
            Some(format!("({} or {addresses})", PHONES.map(unverified).join(" or ")))
        }
    }
}

/// The filter's condition on the owner of an `alternate_emails` row (` and …`), or nothing.
fn on_owner(filter: ListFilter) -> String {
    match kept(filter, "owner") {
        Some(kept) => {
            format!(" and exists (select 1 from users owner where owner.id = alternate_emails.user_id and {kept})")
        }
        None => String::new(),
    }
}

/// Any searchable key or alternate address matches, as a filter on a walk of the list. Active
/// users' addresses are found through the addresses' search index: for a prefix no longer than
/// its leading letters, a range on those letters is the same range as on the whole address.
/// A deleted user's addresses (not in that index) are looked up by user.
fn any_match(c: &Columns, search: &Search, deleted: bool) -> String {
    let Search { low, high, .. } = search;
    let mut terms: Vec<String> = [c.sort]
        .iter()
        .chain(c.others.iter())
        // The Deleted users list is small: only a walk of the active list needs keeping to it.
        .map(|k| if deleted { k.to_string() } else { (DIALECT.walked)(k) })
        .map(|key| format!("{key} >= {low} and {key} < {high}"))
        .collect();
    terms.push(if deleted {
        format!(
            "exists (select 1 from alternate_emails where user_id = users.id \
             and address_key >= {low} and address_key < {high})"
        )
    } else {
        format!(
            "id in (select user_id from alternate_emails where active = 1 \
             and substr(address_key, 1, 3) >= {low} and substr(address_key, 1, 3) < {high})"
        )
    });
    terms.join(" or ")
}

/// One page from each source, read in list order past the cursor, as `select k, id` queries
/// (`k` the sort key) for the engine's `best_page` to combine. Each source's condition repeats its index's
/// expression (`substr(…, 1, 3)`) exactly, which is what lets the planner use that index. The
/// addresses' source counts each user once, so that several matching addresses of one user
/// cannot crowd another user out of its page.
fn sources(plan: &Plan, search: &Search, filter: ListFilter) -> Vec<String> {
    let Search { low, high, lead } = search;
    let (sort, limit) = (plan.columns.sort, &plan.limit);
    let (after, order) = (plan.after("id"), plan.order("id"));
    let status = status(false, filter);
    let head = format!(
        "select {sort} as k, id from users where {status} and {sort} >= {low} and {sort} < {high}\
         {after} order by {order} limit {limit}"
    );
    [head]
        .into_iter()
        .chain(plan.columns.others.iter().map(|o| {
            format!(
                "select {sort} as k, id from users where {status} and substr({o}, 1, 3) = {lead} \
                 and {o} >= {low} and {o} < {high}{after} order by {order} limit {limit}"
            )
        }))
        .chain([format!(
            "select distinct {sort} as k, user_id as id from alternate_emails where active = 1 \
             and substr(address_key, 1, 3) = {lead} and address_key >= {low} and address_key < {high}{}{} \
             order by {} limit {limit}",
            on_owner(filter),
            plan.after("user_id"),
            plan.order("user_id")
        )])
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use roster_domain::contact::ContactInfo;
    use roster_domain::recovery::methods::{ContactMethod, MethodKind, Verification};
    use roster_domain::user::{sort_key, ListFilter, User, UserCount, UserId, UserPage, UserQuery, UserSort, Username};
    use roster_domain::{Actor, Directory, Role, RoleSet, Timestamp};

    use super::super::fixtures::test_store;

    pub(crate) fn person(i: usize, first: &str, last: &str, alternate: Option<String>) -> User {
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
            external_id: None,
        }
    }

    /// The answer by brute force: every matching user of the list, fully sorted.
    pub(crate) fn expected(
        users: &[User],
        prefix: &str,
        sort: UserSort,
        descending: bool,
        deleted: bool,
    ) -> Vec<UserId> {
        let starts = |v: &str| v.to_lowercase().starts_with(prefix);
        let mut hits: Vec<(String, UserId)> = users
            .iter()
            .filter(|u| u.deleted_at.is_some() == deleted)
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

    /// Every page forward from the start, then every page back from the last one.
    pub(crate) async fn walk(
        directory: &Directory,
        prefix: &str,
        sort: UserSort,
        descending: bool,
        deleted: bool,
    ) -> (Vec<Vec<UserId>>, Vec<Vec<UserId>>) {
        walk_filtered(directory, prefix, ListFilter::All, sort, descending, deleted).await
    }

    /// [`walk`] through the users a filter keeps.
    pub(crate) async fn walk_filtered(
        directory: &Directory,
        prefix: &str,
        filter: ListFilter,
        sort: UserSort,
        descending: bool,
        deleted: bool,
    ) -> (Vec<Vec<UserId>>, Vec<Vec<UserId>>) {
        let actor = Actor::system("test");
        let query = |after, before| UserQuery {
            search: Some(prefix.to_string()).filter(|p| !p.is_empty()),
            sort,
            descending,
            after,
            before,
            deleted,
            filter,
            limit: 50,
        };
        let ids = |page: &UserPage| page.users.iter().map(|u| u.id).collect::<Vec<_>>();
        let mut forward = Vec::new();
        let mut after = None;
        let mut before = None;
        loop {
            let page = directory.list_users(&actor, query(after.clone(), None)).await.unwrap();
            forward.push(ids(&page));
            before = page.previous.clone().or(before);
            after = page.next.clone();
            if after.is_none() {
                break;
            }
        }
        let mut backward = vec![forward.last().cloned().unwrap_or_default()];
        while let Some(cursor) = before {
            let page = directory.list_users(&actor, query(None, Some(cursor))).await.unwrap();
            backward.insert(0, ids(&page));
            before = page.previous.clone();
        }
        (forward, backward)
    }

    #[tokio::test]
    async fn searches_page_exactly_like_a_full_sort_in_every_order() {
        let Some((_db, store)) = test_store().await else { return };
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
        let directory = Directory::new(Arc::new(store));
        directory
            .create_users_bulk(&Actor::system("test"), users.len(), &mut users.chunks(1000).map(<[User]>::to_vec))
            .await
            .unwrap();

        for prefix in ["zed", "ze", "z", "vos", "mia.vos2000", "quill", "nomatch"] {
            for sort in [UserSort::DisplayName, UserSort::Username] {
                for descending in [false, true] {
                    let want = expected(&users, prefix, sort, descending, false);
                    let (forward, backward) = walk(&directory, prefix, sort, descending, false).await;
                    assert_eq!(forward.concat(), want, "{prefix} {sort:?} desc={descending}");
                    assert_eq!(backward.concat(), want, "back: {prefix} {sort:?} desc={descending}");
                }
            }
        }
    }

    /// A directory with what makes searches hard: several matching addresses per user,
    /// deleted users (whose addresses match only in Deleted users), names without first or
    /// last name, names beyond ASCII, equal display names told apart by id.
    pub(crate) fn awkward_directory() -> Vec<User> {
        let mut users = Vec::new();
        let firsts = ["Ann", "Åsa", "Zoë", "Zed", "Émile", "Bob", "zed", "Zedekiah"];
        let lasts = ["Zed", "Zedd", "Østergaard", "Quill", "Zander", "Vos"];
        for i in 0..700 {
            let (first, last) = (firsts[i % firsts.len()], lasts[i / firsts.len() % lasts.len()]);
            let mut u = person(i, first, last, None);
            if i % 5 == 0 {
                u.contact.alternate_emails =
                    (0..3).map(|n| format!("zed{n}.{i}@fabrikam.com")).chain(["other@fabrikam.com".into()]).collect();
            }
            if i % 9 == 0 {
                u.contact.first_name = None;
                u.contact.display_name = format!("Zed Same {}", i % 2);
            }
            if i % 11 == 0 {
                u.contact.last_name = None;
            }
            if i % 13 == 0 {
                u.deleted_at = Some(Timestamp(i as i64));
            }
            users.push(u);
        }
        users
    }

    /// The searches [`awkward_directory`] is tried with.
    pub(crate) const AWKWARD_PREFIXES: [&str; 13] =
        ["", "z", "ze", "zed", "zed1", "zed2.", "øs", "émi", "åsa", "zoë", "other", "ann.", "nomatch"];

    #[tokio::test]
    async fn several_matching_addresses_of_one_user_crowd_no_one_out() {
        let Some((_db, store)) = test_store().await else { return };
        let mut many = person(1, "Amy", "Adams", None);
        many.contact.alternate_emails = (0..3).map(|n| format!("zzz{n}@fabrikam.com")).collect();
        let one = person(2, "Ben", "Brown", Some("zzz9@fabrikam.com".into()));
        let users = vec![many, one];
        let directory = Directory::new(Arc::new(store));
        directory.create_users_bulk(&Actor::system("test"), 2, &mut std::iter::once(users.clone())).await.unwrap();
        let page = directory
            .list_users(
                &Actor::system("test"),
                UserQuery { search: Some("zzz".into()), limit: 2, ..UserQuery::default() },
            )
            .await
            .unwrap();
        let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
        assert_eq!(ids, [users[0].id, users[1].id]);
    }

    #[tokio::test]
    async fn awkward_pages_are_the_full_sort_in_every_list() {
        let Some((_db, store)) = test_store().await else { return };
        let users = awkward_directory();
        let directory = Directory::new(Arc::new(store));
        directory
            .create_users_bulk(&Actor::system("test"), users.len(), &mut users.chunks(100).map(<[User]>::to_vec))
            .await
            .unwrap();
        for prefix in AWKWARD_PREFIXES.iter().filter(|p| !p.is_empty()) {
            for sort in [UserSort::DisplayName, UserSort::Username] {
                for descending in [false, true] {
                    for deleted in [false, true] {
                        let label = format!("{prefix:?} {sort:?} desc={descending} deleted={deleted}");
                        let (forward, backward) = walk(&directory, prefix, sort, descending, deleted).await;
                        let want = expected(&users, prefix, sort, descending, deleted);
                        assert!(forward.concat() == want, "{label}: not the full sort's order");
                        assert!(backward.concat() == want, "{label}: back, not the full sort's order");
                    }
                }
            }
        }
    }

    /// The awkward directory with roles, blocked users, phones, and some contacts verified:
    /// every filter keeps some users and leaves out others.
    fn filterable_directory() -> (Vec<User>, Vec<(UserId, Verification)>) {
        let mut users = awkward_directory();
        let mut verified = Vec::new();
        for (i, u) in users.iter_mut().enumerate() {
            if i % 6 == 0 {
                u.roles = RoleSet::of(&[Role::HelpdeskAdministrator]);
            }
            u.enabled = i % 4 != 1;
            if i % 3 == 0 {
                u.contact.mobile_phone = Some(format!("+4420794{i:05}"));
            }
            if i % 8 == 0 {
                u.contact.office_phone = Some(format!("+4420795{i:05}x12"));
            }
            let mut proved = |kind, value: &String| {
                let method = ContactMethod { kind, value: value.clone() };
                verified.push((u.id, Verification { method, verified_at: Timestamp(1) }));
            };
            if i % 2 == 0 {
                if let Some(mobile) = &u.contact.mobile_phone {
                    proved(MethodKind::MobilePhone, mobile);
                }
                if let Some(office) = &u.contact.office_phone {
                    proved(MethodKind::OfficePhone, office);
                }
                // The first address only: a user with others is still unverified.
                if let Some(first) = u.contact.alternate_emails.first() {
                    proved(MethodKind::AlternateEmail, first);
                }
            }
            if i % 10 == 0 {
                u.contact.alternate_emails.truncate(1);
            }
        }
        (users, verified)
    }

    #[tokio::test]
    async fn each_filter_pages_and_counts_exactly_the_users_it_means() {
        let Some((_db, store)) = test_store().await else { return };
        let (users, verified) = filterable_directory();
        let store = Arc::new(store);
        let directory = Directory::new(store.clone());
        directory
            .create_users_bulk(&Actor::system("test"), users.len(), &mut users.chunks(100).map(<[User]>::to_vec))
            .await
            .unwrap();
        for (user, v) in &verified {
            sqlx::query(
                "insert into contact_verifications (user_id, method, value, verified_at) values ($1, $2, $3, 1)",
            )
            .bind(user.to_string())
            .bind(v.method.kind.code())
            .bind(&v.method.value)
            .execute(store.writer())
            .await
            .unwrap();
        }
        let actor = Actor::system("test");
        for filter in ListFilter::ALL {
            let proofs = |u: &User| -> Vec<Verification> {
                verified.iter().filter(|(id, _)| *id == u.id).map(|(_, v)| v.clone()).collect()
            };
            let kept: Vec<User> = users.iter().filter(|u| filter.keeps(u, &proofs(u))).cloned().collect();
            assert!(kept.len() < users.len() || filter == ListFilter::All, "{filter:?} leaves someone out");
            for prefix in ["", "z", "zed", "zed1", "other", "ann.", "nomatch"] {
                for (sort, descending) in [(UserSort::DisplayName, false), (UserSort::Username, true)] {
                    let label = format!("{filter:?} {prefix:?} {sort:?} desc={descending}");
                    let want = expected(&kept, prefix, sort, descending, false);
                    let (forward, backward) = walk_filtered(&directory, prefix, filter, sort, descending, false).await;
                    assert!(forward.concat() == want, "{label}: not the full sort's order");
                    assert!(backward.concat() == want, "{label}: back, not the full sort's order");
                    let query = UserQuery {
                        search: Some(prefix.to_string()),
                        filter,
                        limit: 7,
                        after: None,
                        ..UserQuery::default()
                    };
                    let counted = directory.count_listed(&actor, query).await.unwrap();
                    assert_eq!(counted, UserCount::Exactly(want.len() as u64), "{label}: count");
                }
            }
        }
    }
}
