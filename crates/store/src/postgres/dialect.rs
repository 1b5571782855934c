//! What PostgreSQL says differently from SQLite, for the shared SQL in `sql/`.

use roster_domain::user::User;
use roster_domain::StoreError;

use crate::postgres::rows::{user_from_row, Params, SUMMARY_COLUMNS};
use crate::postgres::sql::listing::Plan;
use crate::postgres::PostgresStore;

/// The engine's name, as the status reports it.
pub(crate) const ENGINE: &str = "PostgreSQL";

/// Whether the table named `$1` exists.
pub(crate) const TABLE_EXISTS: &str = "select to_regclass($1) is not null";

/// Locks the rows a transaction reads to change, until it ends.
pub(crate) const FOR_UPDATE: &str = " for update";

/// Locks a row against changes to its key (and deletion) until the transaction ends, leaving
/// rows that reference it free to change.
pub(crate) const FOR_NO_KEY_UPDATE: &str = " for no key update";

/// The condition that picks, from the ids `select` returns, those no other transaction is
/// changing, locking them: `skip locked` passes over rows another node holds at this moment
/// instead of waiting for them (and a row whose change committed meanwhile is re-checked). The
/// ids are collected with `array(…)`, which runs exactly once: a plain `in (select … limit …)`
/// may be re-run as the inner side of a join, each run locking rows of its own, and so take
/// more than its limit.
pub(crate) fn unlocked_among(column: &str, select: &str) -> String {
    format!("{column} = any(array({select} for update skip locked))")
}

/// Users per multi-row insert: 500 × 30 parameters stay well inside PostgreSQL's limit of
/// 65,535 per statement.
pub(crate) const USERS_PER_INSERT: usize = 500;

/// What this engine calls the larger of two values.
pub(crate) const GREATEST: &str = "greatest";

/// Byte order, as SQLite and Rust compare text.
pub(crate) const BYTE_ORDER: &str = " collate \"C\"";

/// The position of a text in another, 0 when absent.
pub(crate) const CONTAINS: &str = "strpos";

/// The last `chars` (at least one) characters of `expr`.
pub(crate) fn ends_with(expr: &str, chars: usize) -> String {
    format!("right({expr}, {chars})")
}

/// The key of the users' own order: the primary key.
pub(crate) const ROW_KEY: &str = "id";

/// Rows past the [`ROW_KEY`] a cursor holds.
pub(crate) fn row_key_after(cmp: &str, key: &str) -> String {
    format!("id {cmp} {key}")
}

/// A key of a walk of the list, as it is: the planner keeps to the list's index unprompted.
pub(crate) fn walked(key: &str) -> String {
    key.to_string()
}

/// The users of the best page among the source pages (`select k, id` queries): their ids, each
/// source's read once, then the page in list order.
pub(crate) fn best_page(sources: &[String], plan: &Plan) -> String {
    let ids: Vec<String> =
        sources.iter().enumerate().map(|(n, s)| format!("select id from ({s}) as source{n}")).collect();
    format!(
        "select {SUMMARY_COLUMNS} from users where id in ({}) order by {} limit {}",
        ids.join(" union all "),
        plan.order("id"),
        plan.limit
    )
}

impl PostgresStore {
    /// The users of `page` (a query of `row_key`, `display_key` and the user columns), each
    /// with its row key.
    pub(crate) async fn read_found(
        &self,
        page: &str,
        args: Params<'_>,
        _order: &str,
    ) -> Result<Vec<(User, String)>, StoreError> {
        let rows = sqlx::query_with(page, args.into_arguments()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let user = user_from_row(row)?;
                let key = user.id.to_string();
                Ok((user, key))
            })
            .collect()
    }
}
