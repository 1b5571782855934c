//! Moving a whole directory from one database to another (SQLite and PostgreSQL, either way).
//!
//! Stores hand over their tables as rows of typed [`Cell`]s through [`Transfer`] and take them
//! back through a [`CopyWriter`]; everything else is decided here, once for both engines: which
//! tables and in what order (parents before the tables whose foreign keys point at them), that
//! the target is empty and has the source's schema, and whether both sides end up equal.
//!
//! A table's [`Fingerprint`] is its row count and a SHA-256 over a canonical encoding of its
//! rows in primary-key order. Each row is the byte `R`, its number of cells (u32, big-endian)
//! and its cells; a cell is a tag and its value: `0` for null; `1` and the integer as 8 bytes
//! big-endian two's complement; `2`, the length (u64, big-endian) and the UTF-8 bytes of a
//! text; `3`, the length and the bytes of a blob. The encoding never depends on the engine, so
//! equal fingerprints on both sides mean equal tables.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::StoreError;

/// Rows a copy inserts with one statement: few enough for every engine's limit on parameters,
/// many enough that round trips do not dominate.
pub const BATCH_ROWS: usize = 500;

/// Rows a reading task may run ahead of the copy, so that memory stays flat however big a table is.
const ROWS_IN_FLIGHT: usize = 1024;

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// SQL null.
    Null,
    /// An integer (SQLite `integer`, PostgreSQL `bigint`).
    Int(i64),
    /// A text (`text` on both engines).
    Text(String),
    /// Raw bytes (SQLite `blob`, PostgreSQL `bytea`).
    Bytes(Vec<u8>),
}

impl Cell {
    /// Whether the cell may go into a column of `kind` (null goes anywhere).
    fn fits(&self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Cell::Null, _) | (Cell::Int(_), Kind::Int) | (Cell::Text(_), Kind::Text) | (Cell::Bytes(_), Kind::Bytes)
        )
    }

    /// The kind of a value, for error messages.
    fn describe(&self) -> &'static str {
        match self {
            Cell::Null => "null",
            Cell::Int(_) => "an integer",
            Cell::Text(_) => "a text",
            Cell::Bytes(_) => "bytes",
        }
    }
}

/// What a column holds besides null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SQLite `integer`, PostgreSQL `bigint`.
    Int,
    /// `text`.
    Text,
    /// SQLite `blob`, PostgreSQL `bytea`.
    Bytes,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Int => "integer",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
        })
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: Kind,
}

/// One table, as a copy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Its name.
    pub name: String,
    /// Its columns, in the table's order.
    pub columns: Vec<Column>,
    /// The primary key's columns in key order; rows are read in this order (empty: all columns).
    pub primary_key: Vec<String>,
    /// The tables its foreign keys point at.
    pub references: BTreeSet<String>,
}

impl TableInfo {
    /// The columns rows are ordered by: the primary key, or every column when there is none.
    pub fn order_by(&self) -> Vec<&Column> {
        match self.primary_key.is_empty() {
            true => self.columns.iter().collect(),
            false => self.primary_key.iter().filter_map(|k| self.columns.iter().find(|c| &c.name == k)).collect(),
        }
    }

    /// The columns, key and references, for error messages.
    fn describe(&self) -> String {
        let columns: Vec<String> = self.columns.iter().map(|c| format!("{} {}", c.name, c.kind)).collect();
        let references: Vec<&str> = self.references.iter().map(String::as_str).collect();
        format!(
            "({}) keyed by ({}) referencing ({})",
            columns.join(", "),
            self.primary_key.join(", "),
            references.join(", ")
        )
    }
}

/// One row: its cells in column order.
pub type Row = Vec<Cell>;

/// The rows of one table as a store reads them.
pub type Rows = BoxStream<'static, Result<Row, StoreError>>;

/// Where a store's reading task puts the rows that [`row_channel`]'s stream yields.
pub type RowSender = tokio::sync::mpsc::Sender<Result<Row, StoreError>>;

/// A bounded hand-over from a task that reads a table to the stream a copy consumes: stores
/// read in a task of their own because their query must outlive the call that starts it. A
/// send fails once the stream is dropped, which tells the task to stop.
pub fn row_channel() -> (RowSender, Rows) {
    let (sender, receiver) = tokio::sync::mpsc::channel(ROWS_IN_FLIGHT);
    let rows = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|row| (row, receiver))
    });
    (sender, rows.boxed())
}

/// A database seen as tables of typed rows: what a store offers for copying a directory.
#[async_trait]
pub trait Transfer: Send + Sync {
    /// Every table of the directory (not the migrations' own bookkeeping), in any order.
    async fn tables(&self) -> Result<Vec<TableInfo>, StoreError>;

    /// The number of rows in `table`.
    async fn count(&self, table: &TableInfo) -> Result<u64, StoreError>;

    /// Every row of `table`, cells as its columns declare them, in primary-key order (texts
    /// compared byte by byte), read as they are consumed.
    fn rows(&self, table: &TableInfo) -> Rows;

    /// Opens the one transaction a copy writes in; dropping the writer rolls it back.
    async fn begin_copy(&self) -> Result<Box<dyn CopyWriter>, StoreError>;
}

/// The target's side of a copy, inside its transaction.
#[async_trait]
pub trait CopyWriter: Send {
    /// Inserts rows (cells already checked against the columns), explicit ids included.
    async fn insert(&mut self, table: &TableInfo, rows: &[Row]) -> Result<(), StoreError>;

    /// Moves every id generator past the ids copied, then commits.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Why a copy did not start, or did not finish (in which case the target is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The target already holds a directory, or part of one.
    #[error("the target is not empty: table {table} holds {rows} row{}; copy only into an empty database", plural(*.rows))]
    NotEmpty {
        /// The first table found with rows.
        table: String,
        /// How many.
        rows: u64,
    },
    /// Source and target do not have the same tables and columns.
    #[error("the source and the target have different schemas: {0}")]
    SchemaDiffers(String),
    /// Foreign keys leave no order in which every table comes after those it points at.
    #[error("the foreign keys of {0} point at each other in a cycle; no copy order satisfies them")]
    Cycle(String),
    /// A row that does not fit its table's columns.
    #[error("table {table}: {problem}")]
    BadRow {
        /// The table.
        table: String,
        /// What is wrong, naming the column.
        problem: String,
    },
    /// A store failed while working on a table.
    #[error("table {table}: {error}")]
    Table {
        /// The table.
        table: String,
        /// The store's error.
        error: StoreError,
    },
    /// A store failed outside any one table.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ending of "row" for `n` of them.
fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Wraps a store error with the table it happened on.
fn on(table: &TableInfo) -> impl Fn(StoreError) -> TransferError + '_ {
    |error| TransferError::Table { table: table.name.clone(), error }
}

/// The tables ordered so that each comes after every table its foreign keys point at; tables
/// free to go in either order go by name, so both sides of a copy list the same order.
pub fn dependency_order(tables: Vec<TableInfo>) -> Result<Vec<TableInfo>, TransferError> {
    let mut waiting: BTreeMap<String, TableInfo> = tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut ordered = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        // A table pointing at itself, or at a table that does not exist, waits for nothing.
        let ready = waiting.values().find(|t| t.references.iter().all(|r| r == &t.name || !waiting.contains_key(r)));
        let Some(name) = ready.map(|t| t.name.clone()) else {
            return Err(TransferError::Cycle(waiting.into_keys().collect::<Vec<_>>().join(", ")));
        };
        ordered.extend(waiting.remove(&name));
    }
    Ok(ordered)
}

/// The tables to copy, in dependency order, once the target is found to have exactly the
/// source's tables and columns.
pub async fn plan(source: &dyn Transfer, target: &dyn Transfer) -> Result<Vec<TableInfo>, TransferError> {
    let from = dependency_order(source.tables().await?)?;
    let to: BTreeMap<String, TableInfo> = target.tables().await?.into_iter().map(|t| (t.name.clone(), t)).collect();
    for table in &from {
        let Some(other) = to.get(&table.name) else {
            return Err(TransferError::SchemaDiffers(format!("table {} is missing from the target", table.name)));
        };
        if other != table {
            return Err(TransferError::SchemaDiffers(format!(
                "table {} has {} in the source but {} in the target",
                table.name,
                table.describe(),
                other.describe(),
            )));
        }
    }
    if let Some(extra) = to.keys().find(|name| !from.iter().any(|t| &t.name == *name)) {
        return Err(TransferError::SchemaDiffers(format!("table {extra} is only in the target")));
    }
    Ok(from)
}

/// Fails with [`TransferError::NotEmpty`] naming the first table (in dependency order) that
/// holds rows.
pub async fn ensure_empty(target: &dyn Transfer) -> Result<(), TransferError> {
    for table in dependency_order(target.tables().await?)? {
        let rows = target.count(&table).await.map_err(on(&table))?;
        if rows > 0 {
            return Err(TransferError::NotEmpty { table: table.name, rows });
        }
    }
    Ok(())
}

/// How far a copy has come, reported after each batch and once more as each table is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// The table being copied.
    pub table: &'a str,
    /// Its rows copied so far.
    pub copied: u64,
    /// Its rows in the source when the table was started.
    pub total: u64,
    /// Whether every row of the table is copied.
    pub finished: bool,
}

/// Copies every row of `tables` (from [`plan`]) from `source` into the empty `target`, in
/// batches of [`BATCH_ROWS`], all in one transaction on the target: a copy that fails leaves
/// the target as empty as it found it.
pub async fn copy(
    source: &dyn Transfer,
    target: &dyn Transfer,
    tables: &[TableInfo],
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<(), TransferError> {
    ensure_empty(target).await?;
    let mut writer = target.begin_copy().await?;
    for table in tables {
        let total = source.count(table).await.map_err(on(table))?;
        let mut rows = source.rows(table);
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let mut copied = 0;
        loop {
            let row = rows.next().await.transpose().map_err(on(table))?;
            let done = row.is_none();
            if let Some(row) = row {
                check_row(table, &row)?;
                batch.push(row);
            }
            if batch.len() == BATCH_ROWS || (done && !batch.is_empty()) {
                writer.insert(table, &batch).await.map_err(on(table))?;
                copied += batch.len() as u64;
                batch.clear();
                progress(Progress { table: &table.name, copied, total, finished: false });
            }
            if done {
                break;
            }
        }
        progress(Progress { table: &table.name, copied, total, finished: true });
    }
    writer.commit().await?;
    Ok(())
}

/// Refuses a row whose cells do not match the table's columns.
fn check_row(table: &TableInfo, row: &[Cell]) -> Result<(), TransferError> {
    if row.len() != table.columns.len() {
        return Err(TransferError::BadRow {
            table: table.name.clone(),
            problem: format!("a row has {} cells for {} columns", row.len(), table.columns.len()),
        });
    }
    match table.columns.iter().zip(row).find(|(column, cell)| !cell.fits(column.kind)) {
        Some((column, cell)) => Err(TransferError::BadRow {
            table: table.name.clone(),
            problem: format!("column {} ({}) holds {}", column.name, column.kind, cell.describe()),
        }),
        None => Ok(()),
    }
}

/// A table's row count and the SHA-256 of its rows in the canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// The rows hashed.
    pub rows: u64,
    /// The digest.
    pub sha256: [u8; 32],
}

impl Fingerprint {
    /// The digest in lower-case hex.
    pub fn hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Hashes rows, one at a time and in order, in the canonical encoding (see the module docs).
#[derive(Default)]
pub struct Checksum {
    hasher: Sha256,
    rows: u64,
}

impl Checksum {
    /// Adds the next row.
    pub fn add(&mut self, row: &[Cell]) {
        self.hasher.update(b"R");
        self.hasher.update(u32::try_from(row.len()).unwrap_or(u32::MAX).to_be_bytes());
        for cell in row {
            match cell {
                Cell::Null => self.hasher.update([0]),
                Cell::Int(value) => {
                    self.hasher.update([1]);
                    self.hasher.update(value.to_be_bytes());
                }
                Cell::Text(text) => self.add_bytes(2, text.as_bytes()),
                Cell::Bytes(bytes) => self.add_bytes(3, bytes),
            }
        }
        self.rows += 1;
    }

    fn add_bytes(&mut self, tag: u8, bytes: &[u8]) {
        self.hasher.update([tag]);
        self.hasher.update((bytes.len() as u64).to_be_bytes());
        self.hasher.update(bytes);
    }

    /// The fingerprint of the rows added.
    pub fn finish(self) -> Fingerprint {
        Fingerprint { rows: self.rows, sha256: self.hasher.finalize().into() }
    }
}

/// Reads every row of `table` from `store` and fingerprints them.
pub async fn fingerprint(store: &dyn Transfer, table: &TableInfo) -> Result<Fingerprint, TransferError> {
    let mut rows = store.rows(table);
    let mut checksum = Checksum::default();
    while let Some(row) = rows.next().await {
        checksum.add(&row.map_err(on(table))?);
    }
    Ok(checksum.finish())
}

/// One table on both sides of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    /// The table.
    pub table: String,
    /// Its fingerprint in the source.
    pub source: Fingerprint,
    /// Its fingerprint in the target.
    pub target: Fingerprint,
}

impl TableCheck {
    /// Whether both sides hold the same rows.
    pub fn ok(&self) -> bool {
        self.source == self.target
    }
}

/// Fingerprints every table on both sides (the target as committed, read back).
pub async fn verify(
    source: &dyn Transfer,
    target: &dyn Transfer,
    tables: &[TableInfo],
) -> Result<Vec<TableCheck>, TransferError> {
    let mut checks = Vec::with_capacity(tables.len());
    for table in tables {
        checks.push(TableCheck {
            table: table.name.clone(),
            source: fingerprint(source, table).await?,
            target: fingerprint(target, table).await?,
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A database in memory: its tables and their rows (kept in key order by the tests).
    #[derive(Clone)]
    struct Memory {
        tables: Vec<TableInfo>,
        rows: Arc<Mutex<BTreeMap<String, Vec<Row>>>>,
    }

    impl Memory {
        fn new(tables: Vec<TableInfo>) -> Memory {
            Memory { tables, rows: Arc::default() }
        }

        fn with(self, table: &str, rows: Vec<Row>) -> Memory {
            self.rows.lock().unwrap().insert(table.into(), rows);
            self
        }

        fn rows_of(&self, table: &str) -> Vec<Row> {
            self.rows.lock().unwrap().get(table).cloned().unwrap_or_default()
        }
    }

    #[async_trait]
    impl Transfer for Memory {
        async fn tables(&self) -> Result<Vec<TableInfo>, StoreError> {
            Ok(self.tables.clone())
        }
        async fn count(&self, table: &TableInfo) -> Result<u64, StoreError> {
            Ok(self.rows_of(&table.name).len() as u64)
        }
        fn rows(&self, table: &TableInfo) -> Rows {
            futures_util::stream::iter(self.rows_of(&table.name).into_iter().map(Ok)).boxed()
        }
        async fn begin_copy(&self) -> Result<Box<dyn CopyWriter>, StoreError> {
            Ok(Box::new(MemoryWriter { target: self.clone(), written: BTreeMap::new(), inserts: Vec::new() }))
        }
    }

    /// Rows staged until commit, and the size of each insert.
    struct MemoryWriter {
        target: Memory,
        written: BTreeMap<String, Vec<Row>>,
        inserts: Vec<usize>,
    }

    #[async_trait]
    impl CopyWriter for MemoryWriter {
        async fn insert(&mut self, table: &TableInfo, rows: &[Row]) -> Result<(), StoreError> {
            if rows.iter().any(|r| r.contains(&Cell::Text("fail".into()))) {
                return Err(StoreError::backend("refused"));
            }
            self.inserts.push(rows.len());
            self.written.entry(table.name.clone()).or_default().extend_from_slice(rows);
            Ok(())
        }
        async fn commit(self: Box<Self>) -> Result<(), StoreError> {
            assert!(self.inserts.iter().all(|n| (1..=BATCH_ROWS).contains(n)), "{:?}", self.inserts);
            self.target.rows.lock().unwrap().extend(self.written);
            Ok(())
        }
    }

    fn table(name: &str, references: &[&str]) -> TableInfo {
        TableInfo {
            name: name.into(),
            columns: vec![
                Column { name: "id".into(), kind: Kind::Int },
                Column { name: "name".into(), kind: Kind::Text },
                Column { name: "data".into(), kind: Kind::Bytes },
            ],
            primary_key: vec!["id".into()],
            references: references.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn schema() -> Vec<TableInfo> {
        vec![table("sessions", &["users"]), table("audit_log", &[]), table("users", &[]), table("codes", &["users"])]
    }

    fn row(id: i64, name: &str) -> Row {
        vec![Cell::Int(id), Cell::Text(name.into()), Cell::Bytes(name.as_bytes().to_vec())]
    }

    fn names(tables: &[TableInfo]) -> Vec<&str> {
        tables.iter().map(|t| t.name.as_str()).collect()
    }

    fn fingerprint_of(rows: &[Row]) -> Fingerprint {
        let mut checksum = Checksum::default();
        rows.iter().for_each(|r| checksum.add(r));
        checksum.finish()
    }

    #[test]
    fn tables_come_after_the_tables_they_point_at() {
        let ordered = dependency_order(schema()).unwrap();
        assert_eq!(names(&ordered), ["audit_log", "users", "codes", "sessions"]);
        let mut chain = vec![table("c", &["b"]), table("b", &["a", "b"]), table("a", &["elsewhere"])];
        chain.reverse();
        assert_eq!(
            names(&dependency_order(chain).unwrap()),
            ["a", "b", "c"],
            "self and outside references wait for nothing"
        );
    }

    #[test]
    fn a_cycle_of_foreign_keys_is_named() {
        let err = dependency_order(vec![table("a", &["b"]), table("b", &["a"]), table("c", &[])]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the foreign keys of a, b point at each other in a cycle; no copy order satisfies them"
        );
    }

    #[test]
    fn the_encoding_is_fixed_and_tells_values_apart() {
        let empty = Checksum::default().finish();
        assert_eq!(
            (empty.rows, empty.hex().as_str()),
            (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        let one = fingerprint_of(&[vec![Cell::Null, Cell::Int(-1), Cell::Text("é".into()), Cell::Bytes(vec![0xff])]]);
        let mut expected = Sha256::new();
        expected.update(b"R\0\0\0\x04");
        expected.update(b"\x00");
        expected.update(b"\x01\xff\xff\xff\xff\xff\xff\xff\xff");
        expected.update(b"\x02\0\0\0\0\0\0\0\x02\xc3\xa9");
        expected.update(b"\x03\0\0\0\0\0\0\0\x01\xff");
        assert_eq!(one.sha256, <[u8; 32]>::from(expected.finalize()));
        assert_eq!(one.rows, 1);

        let differ = [
            vec![vec![Cell::Null]],
            vec![vec![Cell::Text(String::new())]],
            vec![vec![Cell::Bytes(Vec::new())]],
            vec![vec![Cell::Int(0)]],
            vec![vec![Cell::Text("1".into())]],
            vec![vec![Cell::Int(1)]],
            vec![vec![Cell::Text("ab".into())]],
            vec![vec![Cell::Text("a".into()), Cell::Text("b".into())]],
            vec![vec![Cell::Text("a".into())], vec![Cell::Text("b".into())]],
            vec![vec![Cell::Text("b".into())], vec![Cell::Text("a".into())]],
        ];
        let digests: BTreeSet<[u8; 32]> = differ.iter().map(|rows| fingerprint_of(rows).sha256).collect();
        assert_eq!(digests.len(), differ.len(), "every variant hashes differently");
    }

    #[tokio::test]
    async fn a_copy_moves_every_row_in_batches_and_verifies() {
        let users: Vec<Row> = (0..1234).map(|i| row(i, &format!("user {i}"))).collect();
        let source = Memory::new(schema())
            .with("users", users.clone())
            .with("sessions", vec![row(1, "s"), vec![Cell::Int(2), Cell::Null, Cell::Null]])
            .with("audit_log", vec![row(7, "created")]);
        let target = Memory::new(schema());
        let tables = plan(&source, &target).await.unwrap();
        let mut seen = Vec::new();
        copy(&source, &target, &tables, &mut |p| seen.push((p.table.to_string(), p.copied, p.total, p.finished)))
            .await
            .unwrap();
        assert_eq!(target.rows_of("users"), users);
        let users_progress: Vec<(u64, bool)> =
            seen.iter().filter(|(t, ..)| t == "users").map(|(_, copied, _, finished)| (*copied, *finished)).collect();
        assert_eq!(users_progress, [(500, false), (1000, false), (1234, false), (1234, true)]);
        assert!(seen.contains(&("codes".to_string(), 0, 0, true)), "empty tables are reported too: {seen:?}");

        let checks = verify(&source, &target, &tables).await.unwrap();
        assert_eq!(checks.iter().map(|c| c.table.as_str()).collect::<Vec<_>>(), names(&tables));
        assert!(checks.iter().all(TableCheck::ok), "{checks:?}");
        assert_eq!(checks.iter().find(|c| c.table == "users").unwrap().target.rows, 1234);
    }

    #[tokio::test]
    async fn a_tampered_copy_is_reported_table_by_table() {
        let source =
            Memory::new(schema()).with("users", vec![row(1, "a"), row(2, "b")]).with("sessions", vec![row(1, "s")]);
        let target =
            Memory::new(schema()).with("users", vec![row(1, "a"), row(2, "B")]).with("sessions", vec![row(1, "s")]);
        let checks = verify(&source, &target, &dependency_order(schema()).unwrap()).await.unwrap();
        let failed: Vec<&str> = checks.iter().filter(|c| !c.ok()).map(|c| c.table.as_str()).collect();
        assert_eq!(failed, ["users"]);
        let users = checks.iter().find(|c| c.table == "users").unwrap();
        assert_eq!((users.source.rows, users.target.rows), (2, 2), "same count, different content");

        let short = Memory::new(schema()).with("users", vec![row(1, "a")]).with("sessions", vec![row(1, "s")]);
        let checks = verify(&source, &short, &dependency_order(schema()).unwrap()).await.unwrap();
        let users = checks.iter().find(|c| c.table == "users").unwrap();
        assert!(!users.ok() && users.target.rows == 1);
    }

    #[tokio::test]
    async fn a_non_empty_target_is_refused_and_left_alone() {
        let source = Memory::new(schema()).with("users", vec![row(1, "a")]);
        let target = Memory::new(schema()).with("sessions", vec![row(9, "s"), row(10, "t")]);
        let tables = plan(&source, &target).await.unwrap();
        let err = copy(&source, &target, &tables, &mut |_| {}).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the target is not empty: table sessions holds 2 rows; copy only into an empty database"
        );
        assert!(target.rows_of("users").is_empty());
    }

    #[tokio::test]
    async fn a_failed_copy_commits_nothing() {
        let source = Memory::new(schema()).with("users", vec![row(1, "a")]).with("sessions", vec![row(1, "fail")]);
        let target = Memory::new(schema());
        let tables = plan(&source, &target).await.unwrap();
        let err = copy(&source, &target, &tables, &mut |_| {}).await.unwrap_err();
        assert_eq!(err.to_string(), "table sessions: storage failure: refused");
        assert!(target.rows.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn rows_that_do_not_fit_their_columns_are_refused() {
        let source = Memory::new(schema()).with("users", vec![vec![Cell::Text("1".into()), Cell::Null, Cell::Null]]);
        let target = Memory::new(schema());
        let err = copy(&source, &target, &dependency_order(schema()).unwrap(), &mut |_| {}).await.unwrap_err();
        assert_eq!(err.to_string(), "table users: column id (integer) holds a text");
        let source = Memory::new(schema()).with("users", vec![vec![Cell::Int(1)]]);
        let err = copy(&source, &target, &dependency_order(schema()).unwrap(), &mut |_| {}).await.unwrap_err();
        assert_eq!(err.to_string(), "table users: a row has 1 cells for 3 columns");
    }

    #[tokio::test]
    async fn schemas_must_match_table_for_table() {
        let source = Memory::new(schema());
        let mut fewer = schema();
        fewer.retain(|t| t.name != "codes");
        let err = plan(&source, &Memory::new(fewer)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the source and the target have different schemas: table codes is missing from the target"
        );

        let mut more = schema();
        more.push(table("extra", &[]));
        let err = plan(&source, &Memory::new(more)).await.unwrap_err();
        assert!(err.to_string().ends_with("table extra is only in the target"), "{err}");

        let mut changed = schema();
        changed[2].columns[1].kind = Kind::Bytes;
        let err = plan(&source, &Memory::new(changed)).await.unwrap_err();
        assert!(
            err.to_string().ends_with(
                "table users has (id integer, name text, data bytes) keyed by (id) referencing () in the source \
                 but (id integer, name bytes, data bytes) keyed by (id) referencing () in the target"
            ),
            "{err}"
        );

        let mut repointed = schema();
        repointed[0].references.insert("audit_log".into());
        let err = plan(&source, &Memory::new(repointed)).await.unwrap_err();
        assert!(err.to_string().contains("referencing (users) in the source but"), "{err}");
        assert!(err.to_string().ends_with("referencing (audit_log, users) in the target"), "{err}");
    }

    #[tokio::test]
    async fn the_row_channel_hands_rows_over_and_stops_its_reader() {
        let (sender, mut rows) = row_channel();
        let reader = tokio::spawn(async move {
            let mut sent = 0;
            while sender.send(Ok(vec![Cell::Int(sent)])).await.is_ok() {
                sent += 1;
            }
            sent
        });
        assert_eq!(rows.next().await.unwrap().unwrap(), vec![Cell::Int(0)]);
        drop(rows);
        let sent = reader.await.unwrap();
        assert!(sent <= ROWS_IN_FLIGHT as i64 + 1, "the reader ran at most one buffer ahead: {sent}");
    }
}
