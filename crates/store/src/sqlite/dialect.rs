//! What SQLite says differently from PostgreSQL, for the shared SQL in `sql/`.

use roster_domain::user::User;
use roster_domain::StoreError;

use crate::sqlite::rows::Params;
use crate::sqlite::sql::listing::Plan;
use crate::sqlite::stored_user::{StoredUser, STORED_USER_FIELDS};
use crate::sqlite::SqliteStore;

/// The engine's name, as the status reports it.
pub(crate) const ENGINE: &str = "SQLite";

/// Whether the table named `$1` exists.
pub(crate) const TABLE_EXISTS: &str = "select exists (select 1 from sqlite_master where type = 'table' and name = $1)";

/// Rows a transaction reads to change are safe without a lock: SQLite has one writer, and
/// every change holds its lock from `begin`.
pub(crate) const FOR_UPDATE: &str = "";

/// As [`FOR_UPDATE`]: no lock to ask for.
pub(crate) const FOR_NO_KEY_UPDATE: &str = "";

/// The condition that picks, from the ids `select` returns, those no other transaction is
/// changing: all of them, as SQLite has one writer.
pub(crate) fn unlocked_among(column: &str, select: &str) -> String {
    format!("{column} in ({select})")
}

/// Users per multi-row insert: 40 × 30 parameters stay far below SQLite's limit.
pub(crate) const USERS_PER_INSERT: usize = 40;

/// What this engine calls the larger of two values.
pub(crate) const GREATEST: &str = "max";

/// Text compares in byte order already.
pub(crate) const BYTE_ORDER: &str = "";

/// The position of a text in another, 0 when absent.
pub(crate) const CONTAINS: &str = "instr";

/// The last `chars` (at least one) characters of `expr`.
pub(crate) fn ends_with(expr: &str, chars: usize) -> String {
    format!("substr({expr}, -{chars})")
}

/// The key of the users' own order: the order rows were added, read page after page, where
/// the random ids would scatter every row of a page across the file.
pub(crate) const ROW_KEY: &str = "rowid";

/// Rows past the [`ROW_KEY`] a cursor holds (as text).
pub(crate) fn row_key_after(cmp: &str, key: &str) -> String {
    format!("rowid {cmp} cast({key} as integer)")
}

/// A key of a walk of the list: the unary `+` keeps the planner on the list's own index, which
/// is what makes the walk stop early.
pub(crate) fn walked(key: &str) -> String {
    format!("+{key}")
}

/// The users of the best page among the source pages (`select k, id` queries). `union` drops
/// a user found by two sources. The unary `+` in the outer order stops the planner from
/// walking the whole list index and testing every entry against the ids.
pub(crate) fn best_page(sources: &[String], plan: &Plan) -> String {
    let pages: Vec<String> = sources.iter().map(|s| format!("select k, id from ({s})")).collect();
    let dir = plan.dir;
    let page_order = if plan.columns.tiebreak { format!("k {dir}, id {dir}") } else { format!("k {dir}") };
    let outer: Vec<String> = plan.order("id").split(", ").map(|term| format!("+{term}")).collect();
    format!(
        "select {} from users where id in (select id from ({} order by {page_order} limit {limit})) \
         order by {} limit {limit}",
        crate::sqlite::rows::SUMMARY_COLUMNS,
        pages.join(" union "),
        outer.join(", "),
        limit = plan.limit,
    )
}

impl SqliteStore {
    /// The users of `page` (a query of `row_key`, `display_key` and the user columns, in
    /// `order`), each with its row key. The whole page comes as one JSON value: a page of a
    /// thousand users handed over row by row from SQLite's thread costs several times the
    /// query itself.
    pub(crate) async fn read_found(
        &self,
        page: &str,
        args: Params<'_>,
        order: &str,
    ) -> Result<Vec<(User, String)>, StoreError> {
        let outer_order = order.replace("rowid", "row_key");
        let sql = format!(
            "select json_group_array(json_object({STORED_USER_FIELDS}, 'row_key', row_key) order by {outer_order}) \
             from ({page}) as users"
        );
        let json: String = sqlx::query_scalar_with(&sql, args.into_arguments()).fetch_one(&self.readers).await?;
        let stored: Vec<StoredUser> = serde_json::from_str(&json).map_err(StoreError::backend)?;
        stored
            .into_iter()
            .map(|s| {
                let row_key = s.row_key.unwrap_or_default().to_string();
                Ok((s.into_user()?, row_key))
            })
            .collect()
    }
}
