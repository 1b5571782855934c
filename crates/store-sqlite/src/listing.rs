//! Listing and searching users: keyset pages in display-name or username order.
//!
//! A search matches a prefix of the display name, first name, last name, username or an
//! alternate address. The rows whose *sort column* matches form one contiguous range of the
//! list's index and are read directly. The other matches ("side matches", e.g. a last name when
//! sorting by display name) are scattered through the list: when there are many, walking the
//! list's index and testing each entry finds a page quickly; when there are few, they are
//! collected from their own indexes and sorted. A bounded count decides which. Both halves are
//! merged in one statement.

use roster_domain::user::{Cursor, UserQuery, UserSort, UserSummary};
use roster_domain::StoreError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Sqlite};

use crate::rows::{summary_from_row, SUMMARY_COLUMNS};
use crate::{backend, SqliteStore};

/// Side matches counted before a search walks the list index instead of collecting them.
const DENSE_THRESHOLD: i64 = 5_000;

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

/// SQL fragments for one query: order, keyset condition, and bound values.
struct Plan {
    order: String,
    after: String,
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
        let status = if query.deleted { "deleted_at is not null" } else { "deleted_at is null" };
        // Parameters: ?1 prefix, ?2 prefix's upper bound, ?3 limit, ?4/?5 cursor.
        let mut args = SqliteArguments::default();
        let prefix = query.search.clone().unwrap_or_default();
        args.add(prefix.clone()).map_err(backend)?;
        args.add(format!("{prefix}\u{10FFFF}")).map_err(backend)?;
        args.add(i64::from(query.limit)).map_err(backend)?;
        let after = match query.after.as_ref().or(query.before.as_ref()) {
            None => String::new(),
            Some(Cursor { key, id }) => {
                args.add(key.clone()).map_err(backend)?;
                if c.tiebreak.is_empty() {
                    format!(" and {} {cmp} ?4", c.sort)
                } else {
                    args.add(id.to_string()).map_err(backend)?;
                    format!(" and ({}, {}) {cmp} (?4, ?5)", c.sort, c.tiebreak)
                }
            }
        };
        let plan = Plan { order, after };
        let sql = match &query.search {
            None => format!(
                "select {SUMMARY_COLUMNS} from users where {status}{} order by {} limit ?3",
                plan.after, plan.order
            ),
            Some(_) if query.deleted => format!(
                "select {SUMMARY_COLUMNS} from users where {status} and ({}){} order by {} limit ?3",
                any_match(&c),
                plan.after,
                plan.order
            ),
            Some(prefix) => {
                let dense = self.count_side_matches(&c, prefix).await? >= DENSE_THRESHOLD;
                self.search_sql(&c, &plan, dense)
            }
        };
        let rows = sqlx::query_with::<Sqlite, _>(&sql, args).fetch_all(&self.readers).await.map_err(backend)?;
        rows.iter().map(summary_from_row).collect()
    }

    fn search_sql(&self, c: &Columns, plan: &Plan, dense: bool) -> String {
        let in_range = format!("{col} >= ?1 and {col} < ?2", col = c.sort);
        let head = format!(
            "select {}, id from users where deleted_at is null and {in_range}{} order by {} limit ?3",
            c.sort, plan.after, plan.order
        );
        let side = if dense {
            // `+` keeps the planner on the list's own index: the walk is what makes it fast.
            let terms: Vec<String> =
                c.others.iter().map(|o| format!("+{o} >= ?1 and +{o} < ?2")).chain([alternate_in()]).collect();
            format!(
                "select {sort}, id from users where deleted_at is null and not (+{sort} >= ?1 and +{sort} < ?2) \
                 and ({}){} order by {} limit ?3",
                terms.join(" or "),
                plan.after,
                plan.order,
                sort = c.sort
            )
        } else {
            let sources: Vec<String> = c
                .others
                .iter()
                .map(|o| format!("select id from users where deleted_at is null and {o} >= ?1 and {o} < ?2"))
                .chain(["select user_id from alternate_emails where address_key >= ?1 and address_key < ?2".into()])
                .collect();
            format!(
                "select {}, id from users where deleted_at is null and not ({in_range}) and id in ({}){} \
                 order by {} limit ?3",
                c.sort,
                sources.join(" union "),
                plan.after,
                plan.order
            )
        };
        format!(
            "select {SUMMARY_COLUMNS} from users where id in (select id from ({head}) union all select id from ({side})) \
             order by {} limit ?3",
            plan.order
        )
    }

    /// Side matches (outside the sort column's own range), counted up to [`DENSE_THRESHOLD`].
    async fn count_side_matches(&self, c: &Columns, prefix: &str) -> Result<i64, StoreError> {
        let outside = format!("not ({sort} >= ?1 and {sort} < ?2)", sort = c.sort);
        let mut branches: Vec<String> = c
            .others
            .iter()
            .map(|o| format!("select 1 from users where deleted_at is null and {o} >= ?1 and {o} < ?2 and {outside}"))
            .collect();
        branches.push(format!(
            "select 1 from alternate_emails e join users u on u.id = e.user_id \
             where e.address_key >= ?1 and e.address_key < ?2 and u.deleted_at is null and not (u.{sort} >= ?1 and u.{sort} < ?2)",
            sort = c.sort
        ));
        let sql = format!("select count(*) from ({} limit ?3)", branches.join(" union all "));
        sqlx::query_scalar(&sql)
            .bind(prefix)
            .bind(format!("{prefix}\u{10FFFF}"))
            .bind(DENSE_THRESHOLD)
            .fetch_one(&self.readers)
            .await
            .map_err(backend)
    }
}

fn alternate_in() -> String {
    "id in (select user_id from alternate_emails where address_key >= ?1 and address_key < ?2)".into()
}

/// Any searchable key matches (used for the small Deleted users list).
fn any_match(c: &Columns) -> String {
    let mut terms: Vec<String> =
        [c.sort].iter().chain(c.others.iter()).map(|k| format!("{k} >= ?1 and {k} < ?2")).collect();
    terms.push(alternate_in());
    terms.join(" or ")
}
