//! Microsoft 365 bulk-user CSV files: the header line, every row, and the validation of each
//! row. A file can never yield more rows than it has lines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_domain::csv_users::Reader;
use roster_domain::phone::Region;

/// Lines as the CSV reader ends them: at `\n`, `\r` or `\r\n`.
fn lines(data: &[u8]) -> usize {
    let lone_cr =
        data.windows(2).filter(|w| w[0] == b'\r' && w[1] != b'\n').count() + usize::from(data.last() == Some(&b'\r'));
    1 + data.iter().filter(|&&b| b == b'\n').count() + lone_cr
}

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = Reader::new(data) else { return };
    let _ = reader.unknown_columns();
    let limit = lines(data);
    let mut rows = Vec::new();
    let mut reader = reader;
    // One past the limit is enough to see the limit broken, and keeps a runaway reader finite.
    for item in reader.by_ref().take(limit + 1) {
        rows.push(item);
    }
    assert!(rows.len() < limit, "{} rows (the header line aside) from {limit} lines", rows.len());
    for row in rows.iter().flatten() {
        let _ = reader.check(row, Region::default());
    }
});
