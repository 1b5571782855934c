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
//! combined, and how a walk keeps to the list's index, is each engine's own ([`best_page`],
//! [`walked`]): their planners need different statements to stop after one page.

use async_trait::async_trait;
use roster_domain::store::{FoundUser, ListingStore, UserFind};
use roster_domain::user::{Cursor, UserQuery, UserSort, UserSummary};
use roster_domain::user_filter::UserFilter;
use roster_domain::StoreError;

use super::rows::{summary_from_row, Params, SUMMARY_COLUMNS};
use super::{best_page, find, walked, Store};

/// Letters of a search that the source indexes are keyed on; shorter searches walk the list.
const LEADING_LETTERS: usize = 3;

/// The sort column and the other searchable keys of the users table, per sort.
pub(crate) struct Columns {
    pub sort: &'static str,
    /// Whether the sort column needs the id as tie-break (`username` is unique).
    pub tiebreak: bool,
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
pub(crate) struct Plan {
    pub columns: Columns,
    /// `asc` or `desc`.
    pub dir: &'static str,
    /// `>` or `<`, by direction.
    cmp: &'static str,
    /// Placeholders of the cursor's key and id, when there is a cursor.
    cursor: Option<(String, String)>,
    pub limit: String,
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
    pub(crate) fn order(&self, id_column: &str) -> String {
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
    let status = if query.deleted { "deleted_at is not null" } else { "deleted_at is null" };
    let (after, order, limit) = (plan.after("id"), plan.order("id"), &plan.limit);
    let sql = match &search {
        None => format!("select {SUMMARY_COLUMNS} from users where {status}{after} order by {order} limit {limit}"),
        Some(search) if walk => format!(
            "select {SUMMARY_COLUMNS} from users where {status} and ({}){after} order by {order} limit {limit}",
            any_match(&plan.columns, search, query.deleted)
        ),
        Some(search) => best_page(&sources(&plan, search), &plan),
    };
    Ok((sql, params))
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
        .map(|k| format!("{key} >= {low} and {key} < {high}", key = walked(k)))
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
/// (`k` the sort key) for [`best_page`] to combine. Each source's condition repeats its index's
/// expression (`substr(…, 1, 3)`) exactly, which is what lets the planner use that index. The
/// addresses' source counts each user once, so that several matching addresses of one user
/// cannot crowd another user out of its page.
fn sources(plan: &Plan, search: &Search) -> Vec<String> {
    let Search { low, high, lead } = search;
    let (sort, limit) = (plan.columns.sort, &plan.limit);
    let (after, order) = (plan.after("id"), plan.order("id"));
    let head = format!(
        "select {sort} as k, id from users where deleted_at is null and {sort} >= {low} and {sort} < {high}\
         {after} order by {order} limit {limit}"
    );
    [head]
        .into_iter()
        .chain(plan.columns.others.iter().map(|o| {
            format!(
                "select {sort} as k, id from users where deleted_at is null and substr({o}, 1, 3) = {lead} \
                 and {o} >= {low} and {o} < {high}{after} order by {order} limit {limit}"
            )
        }))
        .chain([format!(
            "select distinct {sort} as k, user_id as id from alternate_emails where active = 1 \
             and substr(address_key, 1, 3) = {lead} and address_key >= {low} and address_key < {high}{} \
             order by {} limit {limit}",
            plan.after("user_id"),
            plan.order("user_id")
        )])
        .collect()
}
