//! Group memberships as CSV: one row per membership, a group's name and a member's username,
//! under the header `Group,User Name`. Headers match in any order and case; other columns are
//! refused so that a file meant for something else is not half read. Rows and cells are
//! bounded before they are split, as for users.

use std::io::{Read, Write};

/// The most rows one import takes.
pub const MAX_ROWS: usize = 100_000;
/// The longest cell, in bytes.
const MAX_CELL_BYTES: usize = 1024;

/// One membership as read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    /// The line the row starts on, for problems.
    pub line: u64,
    pub group: String,
    pub username: String,
}

/// A problem with a file or one of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The line, or 1 for the header and the file as a whole.
    pub line: u64,
    pub message: String,
}

/// Reads every row, or every problem found.
pub fn read_memberships(input: impl Read) -> Result<Vec<MembershipRow>, Vec<RowProblem>> {
    let problem = |line: u64, message: String| RowProblem { line, message };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = reader.headers().map_err(|e| vec![problem(1, format!("The header can't be read: {e}."))])?.clone();
    let mut group_at = None;
    let mut user_at = None;
    for (i, name) in headers.iter().enumerate() {
        match name.trim().trim_start_matches('\u{feff}').to_lowercase().as_str() {
            "group" => group_at = Some(i),
            "user name" | "username" => user_at = Some(i),
            other => {
                return Err(vec![problem(1, format!("Unknown column “{other}”: the columns are Group and User Name."))])
            }
        }
    }
    let (Some(group_at), Some(user_at)) = (group_at, user_at) else {
        return Err(vec![problem(1, "The file needs the columns Group and User Name.".into())]);
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(problem(line, format!("The row can't be read: {e}.")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if rows.len() + problems.len() >= MAX_ROWS {
            problems.push(problem(line, format!("A file holds at most {MAX_ROWS} memberships.")));
            break;
        }
        let cell = |i: usize| record.get(i).unwrap_or_default().trim().to_string();
        let (group, username) = (cell(group_at), cell(user_at));
        if group.len() > MAX_CELL_BYTES || username.len() > MAX_CELL_BYTES {
            problems.push(problem(line, format!("A cell holds at most {MAX_CELL_BYTES} bytes.")));
        } else if group.is_empty() || username.is_empty() {
            problems.push(problem(line, "Both Group and User Name are needed.".into()));
        } else {
            rows.push(MembershipRow { line, group, username });
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Writes memberships under the header.
pub fn write_memberships<'a>(
    output: impl Write,
    rows: impl Iterator<Item = (&'a str, &'a str)>,
) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(["Group", "User Name"])?;
    for (group, username) in rows {
        writer.write_record([group, username])?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_in_any_column_order() {
        let mut out = Vec::new();
        write_memberships(&mut out, [("Sales, EMEA", "ada@contoso.com")].into_iter()).unwrap();
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "Group,User Name\n\"Sales, EMEA\",ada@contoso.com\n");
        let rows = read_memberships(out.as_slice()).unwrap();
        assert_eq!(
            rows,
            vec![MembershipRow { line: 2, group: "Sales, EMEA".into(), username: "ada@contoso.com".into() }]
        );
        let swapped = "\u{feff}user name , GROUP\nbob@contoso.com,Ops\n";
        assert_eq!(read_memberships(swapped.as_bytes()).unwrap()[0].group, "Ops");
    }

    #[test]
    fn every_bad_row_is_named_and_unknown_columns_refused() {
        let problems = read_memberships("Group,User Name\n,ada@contoso.com\nOps,\n".as_bytes()).unwrap_err();
        assert_eq!(problems.iter().map(|p| p.line).collect::<Vec<_>>(), [2, 3]);
        let problems = read_memberships("Group,User Name,Role\n".as_bytes()).unwrap_err();
        assert!(problems[0].message.contains("“role”"), "{problems:?}");
        assert!(read_memberships("Group\n".as_bytes()).is_err());
    }
}
