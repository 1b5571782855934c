//! Everything the two engines say differently in the SQL they share, side by side: each engine
//! names its [`Dialect`] and the shared SQL in `sql/` reads it from there (see `sql/sql.rs`).
//!
//! What differs beyond spelling (how a change reaches the disk, the catalogs a copy reads)
//! lives in each engine's own folder instead.

/// One engine's spelling of what the shared SQL needs.
pub(crate) struct Dialect {
    /// The engine's name, as the status reports it.
    pub engine: &'static str,
    /// Starts a transaction that changes the database.
    pub begin_write: &'static str,
    /// Starts a read-only transaction that reads one snapshot throughout.
    pub begin_snapshot: &'static str,
    /// Whether the table named `$1` exists.
    pub table_exists: &'static str,
    /// Appended to a `select`: locks the rows read until the transaction ends.
    pub for_update: &'static str,
    /// As `for_update`, but leaves rows that reference the locked ones free to change.
    pub for_no_key_update: &'static str,
    /// The condition that picks, from the values of `column` a `select` returns, those no other
    /// transaction is changing, locking them.
    pub unlocked_among: fn(column: &str, select: &str) -> String,
    /// A statement that makes changes to group nesting wait for each other: a cycle can only
    /// be refused reliably when no other nesting commits between the check and the write.
    pub lock_nesting: &'static str,
    /// The larger of two values.
    pub greatest: &'static str,
    /// Appended to a text expression: compare it byte by byte, as Rust does.
    pub byte_order: &'static str,
    /// The position of a text in another (`f(haystack, needle)`), 0 when absent.
    pub contains: &'static str,
    /// The last `chars` (at least one) characters of a text expression.
    pub ends_with: fn(expr: &str, chars: usize) -> String,
    /// The key of the users' own order, and the condition for rows past a cursor's key (text).
    pub row_key: &'static str,
    pub row_key_after: fn(cmp: &str, key: &str) -> String,
    /// A key tested while walking the list: written so that the planner keeps to the list's
    /// own index, which is what makes the walk stop after one page.
    pub walked: fn(key: &str) -> String,
    /// The statement that reads the best page from the pages of a search's sources
    /// (`select k, id` queries), given the list's order (`… id`), the order of `k, id` and the
    /// limit's placeholder; `columns` are the columns to read.
    pub best_page: fn(sources: &[String], columns: &str, order: &str, page_order: &str, limit: &str) -> String,
    /// Ends a correlated subquery that must stay one, probed row by row along an index, rather
    /// than be merged into the query around it.
    pub fence: &'static str,
    /// Users one multi-row insert takes (thirty parameters each).
    pub users_per_insert: usize,
    /// Parameters one statement takes at most.
    pub max_parameters: usize,
    /// Parameters past which a statement binds them more slowly than a second statement would
    /// cost (see [`Dialect::rows_per_statement`]).
    pub quick_parameters: usize,
    /// The declared types of integer and byte columns (text is `text` in both).
    pub integer_type: &'static str,
    pub bytes_type: &'static str,
}

impl Dialect {
    /// Rows of `per_row` parameters each that one statement should carry: `wanted`, or fewer
    /// where binding that many parameters would be slow.
    pub(crate) const fn rows_per_statement(&self, wanted: usize, per_row: usize) -> usize {
        let quick = self.quick_parameters / per_row;
        if quick == 0 {
            1
        } else if quick < wanted {
            quick
        } else {
            wanted
        }
    }
}

/// SQLite: one writer, which every change holds from `begin`, and text compared by bytes.
pub(crate) const SQLITE: Dialect = Dialect {
    engine: "SQLite",
    // Another process (the command line beside a running server) then makes a change wait at
    // `begin`, where the busy timeout applies, rather than fail when a transaction that has
    // read tries to write.
    begin_write: "begin immediate",
    begin_snapshot: "begin",
    table_exists: "select exists (select 1 from sqlite_master where type = 'table' and name = $1)",
    // Nothing to lock: the transaction holds the only write lock.
    for_update: "",
    for_no_key_update: "",
    unlocked_among: |column, select| format!("{column} in ({select})"),
    // Writers take turns already.
    lock_nesting: "select 1",
    greatest: "max",
    byte_order: "",
    contains: "instr",
    ends_with: |expr, chars| format!("substr({expr}, -{chars})"),
    // The order rows were added, read page after page, where the random ids would scatter every
    // row of a page across the file.
    row_key: "rowid",
    row_key_after: |cmp, key| format!("rowid {cmp} cast({key} as integer)"),
    // The unary `+` keeps a term off every index, so the list's own is the one left.
    walked: |key| format!("+{key}"),
    // `union` drops a user found by two sources. The unary `+` in the outer order stops the
    // planner from walking the whole list index and testing every entry against the ids.
    best_page: |sources, columns, order, page_order, limit| {
        let pages: Vec<String> = sources.iter().map(|s| format!("select k, id from ({s})")).collect();
        let outer: Vec<String> = order.split(", ").map(|term| format!("+{term}")).collect();
        format!(
            "select {columns} from users where id in (select id from ({} order by {page_order} limit {limit})) \
             order by {} limit {limit}",
            pages.join(" union "),
            outer.join(", "),
        )
    },
    // SQLite runs a correlated `exists` as a probe already.
    fence: "",
    // 40 × 30 parameters stay far below SQLite's limit.
    users_per_insert: 40,
    // `SQLITE_MAX_VARIABLE_NUMBER` since 3.32.
    max_parameters: 32_766,
    // The driver binds each parameter by asking SQLite its name, and SQLite finds a name by
    // walking the statement's list of them: binding n parameters takes n²/2 steps. A thousand
    // cost a millisecond or two, more than several statements of a few hundred.
    quick_parameters: 250,
    integer_type: "integer",
    bytes_type: "blob",
};

/// PostgreSQL: several nodes at once, row locks, and `collate "C"` for byte order.
pub(crate) const POSTGRES: Dialect = Dialect {
    engine: "PostgreSQL",
    begin_write: "begin",
    begin_snapshot: "begin isolation level repeatable read read only",
    table_exists: "select to_regclass($1) is not null",
    for_update: " for update",
    for_no_key_update: " for no key update",
    // `skip locked` passes over rows another node holds at this moment instead of waiting for
    // them (and a row whose change committed meanwhile is re-checked). The values are collected
    // with `array(…)`, which runs exactly once: a plain `in (select … limit …)` may be re-run as
    // the inner side of a join, each run locking rows of its own, and so take more than its
    // limit.
    unlocked_among: |column, select| format!("{column} = any(array({select} for update skip locked))"),
    // One lock for all nesting changes, held to the end of the transaction; they are rare.
    lock_nesting: "select pg_advisory_xact_lock(1919251317)",
    greatest: "greatest",
    byte_order: " collate \"C\"",
    contains: "strpos",
    ends_with: |expr, chars| format!("right({expr}, {chars})"),
    row_key: "id",
    row_key_after: |cmp, key| format!("id {cmp} {key}"),
    // The planner keeps to the list's index unprompted.
    walked: |key| key.to_string(),
    // Each source's ids, read once, then the page in list order.
    best_page: |sources, columns, order, _page_order, limit| {
        let ids: Vec<String> =
            sources.iter().enumerate().map(|(n, s)| format!("select id from ({s}) as source{n}")).collect();
        format!("select {columns} from users where id in ({}) order by {order} limit {limit}", ids.join(" union all "))
    },
    // An `offset` keeps PostgreSQL from turning the subquery into a join, whose prepared
    // statement's generic plan then filters a user's every membership for each group probed.
    fence: " offset 0",
    // 500 × 30 parameters stay well inside PostgreSQL's limit.
    users_per_insert: 500,
    max_parameters: 65_535,
    // Parameters travel as one message whatever their number.
    quick_parameters: 65_535,
    integer_type: "bigint",
    bytes_type: "bytea",
};
