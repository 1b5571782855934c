//! Users in Microsoft 365's bulk-add CSV format: the 16 columns of its "Add multiple users"
//! template, plus Roster's own `Alternate mobile phone`, with several alternate addresses in one
//! cell separated by `;`. On import, Roster's `New User Name` column renames the user named in
//! `User Name`; exports leave it out.
//!
//! Headers are matched by name, ignoring case and surrounding spaces, in any order; a column
//! nobody knows is reported rather than dropped, and a file without `User Name` or
//! `Display Name` is refused. The file is UTF-8 with or without a byte-order mark, quoted as
//! RFC 4180 says (commas, quotes and line breaks inside quoted cells). Rows are read one at a
//! time, so memory does not grow with the file. Every value goes through the same validation
//! as the contact form, and every problem is reported by line and column header.
//!
//! Rows, cells and header lines are bounded ([`MAX_ROW_BYTES`], [`MAX_CELL_BYTES`],
//! [`MAX_COLUMNS`]) before anything is split or validated, so one malformed row costs no more
//! than a good one.

use std::io::{self, Read, Write};

use crate::contact::{ContactInfo, ContactInput, ValidationContext};
use crate::phone::Region;
use crate::user::{User, Username};

/// One column the format knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    UserName,
    FirstName,
    LastName,
    DisplayName,
    JobTitle,
    Department,
    OfficeNumber,
    OfficePhone,
    MobilePhone,
    Fax,
    AlternateEmail,
    Address,
    City,
    State,
    PostalCode,
    Country,
    AlternateMobilePhone,
    NewUserName,
}

impl Column {
    /// Every column an import reads: the exported ones, then `New User Name`.
    pub const ALL: [Column; 18] = {
        let mut all = [Column::NewUserName; 18];
        let mut i = 0;
        while i < Column::EXPORTED.len() {
            all[i] = Column::EXPORTED[i];
            i += 1;
        }
        all
    };

    /// The columns an export writes: Microsoft's template, in its order, then Roster's own
    /// alternate mobile phone.
    pub const EXPORTED: [Column; 17] = [
        Column::UserName,
        Column::FirstName,
        Column::LastName,
        Column::DisplayName,
        Column::JobTitle,
        Column::Department,
        Column::OfficeNumber,
        Column::OfficePhone,
        Column::MobilePhone,
        Column::Fax,
        Column::AlternateEmail,
        Column::Address,
        Column::City,
        Column::State,
        Column::PostalCode,
        Column::Country,
        Column::AlternateMobilePhone,
    ];

    /// The header as the template spells it.
    pub fn header(self) -> &'static str {
        match self {
            Column::UserName => "User Name",
            Column::FirstName => "First Name",
            Column::LastName => "Last Name",
            Column::DisplayName => "Display Name",
            Column::JobTitle => "Job Title",
            Column::Department => "Department",
            Column::OfficeNumber => "Office Number",
            Column::OfficePhone => "Office Phone",
            Column::MobilePhone => "Mobile Phone",
            Column::Fax => "Fax",
            Column::AlternateEmail => "Alternate email address",
            Column::Address => "Address",
            Column::City => "City",
            Column::State => "State or Province",
            Column::PostalCode => "ZIP or Postal Code",
            Column::Country => "Country or Region",
            Column::AlternateMobilePhone => "Alternate mobile phone",
            Column::NewUserName => "New User Name",
        }
    }

    /// The column a validation error's field belongs to (`alternate_email.2` is the address
    /// column).
    fn of_field(field: &str) -> Option<Column> {
        Some(match field.split('.').next().unwrap_or(field) {
            "username" => Column::UserName,
            "first_name" => Column::FirstName,
            "last_name" => Column::LastName,
            "display_name" => Column::DisplayName,
            "job_title" => Column::JobTitle,
            "department" => Column::Department,
            "office" => Column::OfficeNumber,
            "office_phone" => Column::OfficePhone,
            "mobile_phone" => Column::MobilePhone,
            "fax" => Column::Fax,
            "alternate_email" => Column::AlternateEmail,
            "street_address" => Column::Address,
            "city" => Column::City,
            "state" => Column::State,
            "postal_code" => Column::PostalCode,
            "country" => Column::Country,
            "alternate_mobile_phone" => Column::AlternateMobilePhone,
            "new_username" => Column::NewUserName,
            _ => return None,
        })
    }
}

/// Something wrong with a file: where (line, and column when one is at fault) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line in the file where the row starts (the header is line 1).
    pub line: u64,
    /// The column's header as the file spells it, when one column is at fault.
    pub column: Option<String>,
    /// A sentence for people.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// One row as read: the username and the contact form it fills in, not yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line in the file where the row starts.
    pub line: u64,
    /// The `User Name` cell, as written.
    pub username: String,
    /// The `New User Name` cell, as written: empty unless the row renames its user.
    pub new_username: String,
    /// The other cells, as the contact form would receive them.
    pub contact: ContactInput,
}

/// A valid row: what to create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    /// The line in the file where the row starts.
    pub line: u64,
    pub username: Username,
    /// The name the user is to have from now on, when the row renames them.
    pub new_username: Option<Username>,
    pub contact: ContactInfo,
}

/// The longest row a file may have, in bytes (line breaks inside quoted cells included): a full
/// row of the template with every cell at its longest fits several times over.
pub const MAX_ROW_BYTES: usize = 64 * 1024;
/// The longest cell, in bytes: ten alternate addresses of 254 characters with their separators
/// fit, as does a street address of 1,024 characters in any script.
pub const MAX_CELL_BYTES: usize = 8 * 1024;
/// The most columns a header line may name (the template has 17).
pub const MAX_COLUMNS: usize = 64;

/// Where [`RowLimit`] is within a row, following the CSV reader's own reading of quotes: a
/// quote opens a quoted cell only at the start of a cell, and inside one two quotes are one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    CellStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: the cell's end, or the first of two.
    QuoteInQuoted,
}

/// Passes bytes through, failing as soon as a row grows past [`MAX_ROW_BYTES`], so that a
/// file of one endless row (or one endless quoted cell) is refused before the CSV reader
/// buffers it.
struct RowLimit<R> {
    inner: R,
    quoting: Quoting,
    /// Bytes of the current row read so far.
    length: usize,
    /// Lines ended so far (`\r\n`, `\n` or `\r`), for the error's line number.
    lines: u64,
    /// The row under way started on this line (1-based).
    row_line: u64,
    after_cr: bool,
}

impl<R> RowLimit<R> {
    fn new(inner: R) -> Self {
        RowLimit { inner, quoting: Quoting::CellStart, length: 0, lines: 0, row_line: 1, after_cr: false }
    }

    fn take(&mut self, byte: u8) -> io::Result<()> {
        let line_break = byte == b'\r' || (byte == b'\n' && !self.after_cr);
        self.after_cr = byte == b'\r';
        if line_break {
            self.lines += 1;
        }
        let row_ends = matches!(byte, b'\r' | b'\n') && self.quoting != Quoting::Quoted;
        self.quoting = match (self.quoting, byte) {
            (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
            (Quoting::Quoted, _) => Quoting::Quoted,
            (Quoting::QuoteInQuoted, b'"') | (Quoting::CellStart, b'"') => Quoting::Quoted,
            (_, b',' | b'\r' | b'\n') => Quoting::CellStart,
            _ => Quoting::Unquoted,
        };
        if row_ends {
            self.length = 0;
            self.row_line = self.lines + 1;
            return Ok(());
        }
        self.length += 1;
        if self.length > MAX_ROW_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the row starting on line {} is longer than {} KiB", self.row_line, MAX_ROW_BYTES / 1024),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for RowLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            self.take(byte)?;
        }
        Ok(n)
    }
}

/// A file's rows, read one at a time.
pub struct Reader<R: Read> {
    csv: csv::Reader<RowLimit<R>>,
    /// Each of the file's columns: the known column it is, or `None`.
    columns: Vec<Option<Column>>,
    /// The file's headers, as written.
    headers: Vec<String>,
    /// The input failed to read: nothing more will come of it.
    broken: bool,
}

impl<R: Read> Reader<R> {
    /// Reads the header line; refuses a file whose headers lack `User Name` or `Display Name`
    /// or name one column twice.
    pub fn new(input: R) -> Result<Self, Problem> {
        let input = RowLimit::new(input);
        let mut csv = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(input);
        let headers = csv.headers().map_err(|e| Problem { line: 1, column: None, message: describe(&e) })?;
        if headers.len() > MAX_COLUMNS {
            return Err(Problem {
                line: 1,
                column: None,
                message: format!("The header line names {} columns; at most {MAX_COLUMNS} are allowed.", headers.len()),
            });
        }
        let headers: Vec<String> = headers
            .iter()
            .enumerate()
            // A byte-order mark is not part of the first header.
            .map(|(i, h)| if i == 0 { h.trim_start_matches('\u{feff}') } else { h }.to_string())
            .collect();
        let columns: Vec<Option<Column>> = headers
            .iter()
            .map(|h| Column::ALL.into_iter().find(|c| c.header().eq_ignore_ascii_case(h.trim())))
            .collect();
        for required in [Column::UserName, Column::DisplayName] {
            if !columns.contains(&Some(required)) {
                return Err(Problem {
                    line: 1,
                    column: None,
                    message: format!("The header line has no \"{}\" column; it is required.", required.header()),
                });
            }
        }
        for (i, column) in columns.iter().enumerate() {
            if let Some(column) = column {
                if columns[..i].contains(&Some(*column)) {
                    return Err(Problem {
                        line: 1,
                        column: Some(headers[i].clone()),
                        message: format!("The \"{}\" column appears twice.", column.header()),
                    });
                }
            }
        }
        Ok(Reader { csv, columns, headers, broken: false })
    }

    /// The file's headers that are no known column, as written: their cells are not imported.
    pub fn unknown_columns(&self) -> Vec<&str> {
        self.headers.iter().zip(&self.columns).filter(|(_, c)| c.is_none()).map(|(h, _)| h.as_str()).collect()
    }

    /// How many bytes of the file have been read.
    pub fn bytes_read(&self) -> u64 {
        self.csv.position().byte()
    }

    /// Whether the file has this column.
    pub fn has(&self, column: Column) -> bool {
        self.columns.contains(&Some(column))
    }

    /// Fills the cells of the columns this file lacks from a stored user's information, so that
    /// updating the user changes only what the file has columns for.
    pub fn complete(&self, row: &mut Row, stored: &ContactInfo) {
        let stored = stored.to_input();
        let input = &mut row.contact;
        let cells: [(Column, &mut String, &String); 15] = [
            (Column::FirstName, &mut input.first_name, &stored.first_name),
            (Column::LastName, &mut input.last_name, &stored.last_name),
            (Column::DisplayName, &mut input.display_name, &stored.display_name),
            (Column::JobTitle, &mut input.job_title, &stored.job_title),
            (Column::Department, &mut input.department, &stored.department),
            (Column::OfficeNumber, &mut input.office, &stored.office),
            (Column::OfficePhone, &mut input.office_phone, &stored.office_phone),
            (Column::MobilePhone, &mut input.mobile_phone, &stored.mobile_phone),
            (Column::Fax, &mut input.fax, &stored.fax),
            (Column::Address, &mut input.street_address, &stored.street_address),
            (Column::City, &mut input.city, &stored.city),
            (Column::State, &mut input.state, &stored.state),
            (Column::PostalCode, &mut input.postal_code, &stored.postal_code),
            (Column::Country, &mut input.country, &stored.country),
            (Column::AlternateMobilePhone, &mut input.alternate_mobile_phone, &stored.alternate_mobile_phone),
        ];
        for (column, cell, value) in cells {
            if !self.columns.contains(&Some(column)) {
                cell.clone_from(value);
            }
        }
        if !self.has(Column::AlternateEmail) {
            input.alternate_emails = stored.alternate_emails;
        }
        // The format has no columns for these: an update keeps them.
        input.mail = stored.mail;
        input.formatted_name = stored.formatted_name;
        input.employee_id = stored.employee_id;
        input.company_name = stored.company_name;
        input.cost_center = stored.cost_center;
        input.division = stored.division;
        input.preferred_language = stored.preferred_language;
        input.locale = stored.locale;
        input.manager = stored.manager;
    }

    /// The file's header for a known column.
    fn header_of(&self, column: Column) -> String {
        self.columns
            .iter()
            .position(|c| *c == Some(column))
            .map_or_else(|| column.header().to_string(), |i| self.headers[i].clone())
    }

    /// A problem with one of this file's rows, in a known column or in none.
    pub fn problem(&self, line: u64, column: Option<Column>, message: impl Into<String>) -> Problem {
        Problem { line, column: column.map(|c| self.header_of(c)), message: message.into() }
    }

    /// Checks a row read from this file, with the organisation's default phone region: its
    /// username and every contact field, each problem named by the file's own header.
    pub fn check(&self, row: &Row, region: Region) -> Result<ValidRow, Vec<Problem>> {
        let problem = |column: Option<Column>, message: String| self.problem(row.line, column, message);
        let username = Username::parse(&row.username);
        let new_username = new_username(row);
        // Contacts are checked against the name the user will sign in with after the import.
        let checked_against = match (&new_username, &username) {
            (Ok(Some(new)), _) => new.as_str().to_string(),
            (_, Ok(username)) => username.as_str().to_string(),
            (_, Err(_)) => row.username.trim().to_lowercase(),
        };
        let contact = row.contact.validate(ValidationContext { region, username: &checked_against });
        let mut problems = Vec::new();
        if let Err(e) = &username {
            problems.push(problem(Some(Column::UserName), e.message.clone()));
        }
        if let Err(e) = &new_username {
            problems.push(problem(Some(Column::NewUserName), e.message.clone()));
        }
        if let Err(errors) = &contact {
            problems.extend(errors.iter().map(|e| problem(Column::of_field(&e.field), e.message.clone())));
        }
        match (username, new_username, contact) {
            (Ok(username), Ok(new_username), Ok(contact)) => {
                let new_username = new_username.filter(|new| *new != username);
                Ok(ValidRow { line: row.line, username, new_username, contact })
            }
            _ => Err(problems),
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Row, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.broken {
            return None;
        }
        let mut record = csv::StringRecord::new();
        match self.csv.read_record(&mut record) {
            Ok(false) => None,
            Err(e) => {
                self.broken = matches!(e.kind(), csv::ErrorKind::Io(_));
                let line = e.position().map_or(self.csv.get_ref().row_line, |p| p.line());
                Some(Err(Problem { line, column: None, message: describe(&e) }))
            }
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                if let Some((i, cell)) = record.iter().enumerate().find(|(_, cell)| cell.len() > MAX_CELL_BYTES) {
                    return Some(Err(Problem {
                        line,
                        column: self.headers.get(i).cloned(),
                        message: format!(
                            "This cell is {} bytes long; a cell can be at most {} KiB.",
                            cell.len(),
                            MAX_CELL_BYTES / 1024
                        ),
                    }));
                }
                if record.len() > self.columns.len() {
                    return Some(Err(Problem {
                        line,
                        column: None,
                        message: format!(
                            "The row has {} cells; the header line names {} columns.",
                            record.len(),
                            self.columns.len()
                        ),
                    }));
                }
                Some(Ok(self.row(line, &record)))
            }
        }
    }
}

impl<R: Read> Reader<R> {
    fn row(&self, line: u64, record: &csv::StringRecord) -> Row {
        let cell = |column: Column| -> String {
            self.columns
                .iter()
                .position(|c| *c == Some(column))
                .and_then(|i| record.get(i))
                .unwrap_or_default()
                .to_string()
        };
        let alternate_emails = cell(Column::AlternateEmail)
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        Row {
            line,
            username: cell(Column::UserName),
            new_username: cell(Column::NewUserName),
            contact: ContactInput {
                display_name: cell(Column::DisplayName),
                first_name: cell(Column::FirstName),
                last_name: cell(Column::LastName),
                job_title: cell(Column::JobTitle),
                department: cell(Column::Department),
                office: cell(Column::OfficeNumber),
                office_phone: cell(Column::OfficePhone),
                mobile_phone: cell(Column::MobilePhone),
                alternate_mobile_phone: cell(Column::AlternateMobilePhone),
                fax: cell(Column::Fax),
                alternate_emails,
                street_address: cell(Column::Address),
                city: cell(Column::City),
                state: cell(Column::State),
                postal_code: cell(Column::PostalCode),
                country: cell(Column::Country),
                ..ContactInput::default()
            },
        }
    }
}

/// Writes users in the format [`Reader`] reads: every column, phones in international form,
/// alternate addresses separated by `; `.
pub struct Writer<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> Writer<W> {
    /// Writes the header line.
    pub fn new(output: W) -> csv::Result<Self> {
        let mut csv = csv::WriterBuilder::new().from_writer(output);
        csv.write_record(Column::EXPORTED.iter().map(|c| c.header()))?;
        Ok(Writer { csv })
    }

    /// Writes rows only: the rest of a file whose header line went out earlier.
    pub fn continuing(output: W) -> Self {
        Writer { csv: csv::WriterBuilder::new().from_writer(output) }
    }

    /// Writes one user's row.
    pub fn write(&mut self, user: &User) -> csv::Result<()> {
        let c = user.contact.to_input();
        let emails = c.alternate_emails.join("; ");
        let cells: [&str; 17] = [
            user.username.as_str(),
            &c.first_name,
            &c.last_name,
            &c.display_name,
            &c.job_title,
            &c.department,
            &c.office,
            &c.office_phone,
            &c.mobile_phone,
            &c.fax,
            &emails,
            &c.street_address,
            &c.city,
            &c.state,
            &c.postal_code,
            &c.country,
            &c.alternate_mobile_phone,
        ];
        self.csv.write_record(cells)
    }

    /// Flushes what is buffered and returns the output.
    pub fn finish(self) -> Result<W, std::io::Error> {
        self.csv.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// A file to start an import from: the header line alone, or with two example people whose
/// every cell shows the form Roster reads.
pub fn template(with_examples: bool) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new()).expect("writing to memory cannot fail");
    if with_examples {
        for (username, first, last, job, department, office, mobile, alternate) in [
            (
                "alex.wilber@contoso.com",
                "Alex",
                "Wilber",
                "Marketing Assistant",
                "Marketing",
                "131/1104",
                "+12065550110",
                "alex.w@fabrikam.com",
            ),
            (
                "megan.bowen@contoso.com",
                "Megan",
                "Bowen",
                "Marketing Manager",
                "Marketing",
                "12/1110",
                "+442079460958",
                "megan.b@fabrikam.com",
            ),
        ] {
            let contact = ContactInfo {
                display_name: format!("{first} {last}"),
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                job_title: Some(job.into()),
                department: Some(department.into()),
                office: Some(office.into()),
                office_phone: Some("+14255550100".into()),
                mobile_phone: Some(mobile.into()),
                alternate_emails: vec![alternate.into()],
                street_address: Some("1 Microsoft Way".into()),
                city: Some("Redmond".into()),
                state: Some("WA".into()),
                postal_code: Some("98052".into()),
                country: Some("United States".into()),
                ..ContactInfo::default()
            };
            let username = Username::parse(username).expect("the examples' usernames are valid");
            writer.write(&example_user(username, contact)).expect("writing to memory cannot fail");
        }
    }
    writer.finish().expect("writing to memory cannot fail")
}

/// A user holding `contact`, for writing as a row.
fn example_user(username: Username, contact: ContactInfo) -> User {
    let now = crate::clock::Timestamp::now();
    User {
        id: crate::user::UserId::random(),
        username,
        contact,
        roles: crate::role::RoleSet::NONE,
        enabled: true,
        must_change_password: false,
        created_at: now,
        updated_at: now,
        updated_by: String::new(),
        version: 1,
        deleted_at: None,
        external_id: None,
    }
}

/// The row's `New User Name`, parsed: none when the cell is blank.
pub fn new_username(row: &Row) -> Result<Option<Username>, crate::error::FieldError> {
    if row.new_username.trim().is_empty() {
        return Ok(None);
    }
    Username::parse(&row.new_username).map(Some)
}

/// A CSV error in words, without the crate's own position (the problem carries the line).
fn describe(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "The file is not valid UTF-8; save it as CSV UTF-8.".to_string(),
        csv::ErrorKind::Io(io) => format!("The file could not be read: {io}."),
        other => format!("The file is not valid CSV: {other:?}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MICROSOFT_HEADERS: &str = "User Name,First Name,Last Name,Display Name,Job Title,Department,Office Number,\
Office Phone,Mobile Phone,Fax,Alternate email address,Address,City,State or Province,ZIP or Postal Code,Country or Region";

    /// Microsoft's own sample row, from its template.
    const MICROSOFT_SAMPLE: &str = "chris@contoso.com,Chris,Green,Chris Green,IT Manager,Information Technology,\
123451,123-555-1211,123-555-6641,123-555-6700,chris@contoso.com,1 Microsoft way,Redmond,Wa,98052,United States";

    fn read(text: &str) -> (Reader<&[u8]>, Vec<Result<Row, Problem>>) {
        let reader = Reader::new(text.as_bytes()).unwrap();
        let again = Reader::new(text.as_bytes()).unwrap();
        (reader, again.collect())
    }

    fn problems(text: &str) -> Vec<String> {
        let (reader, rows) = read(text);
        rows.into_iter()
            .flat_map(|r| match r {
                Ok(row) => reader.check(&row, Region::default()).err().unwrap_or_default(),
                Err(p) => vec![p],
            })
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn microsofts_sample_row_is_refused_field_by_field() {
        let found = problems(&format!("{MICROSOFT_HEADERS}\n{MICROSOFT_SAMPLE}\n"));
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found.iter().any(|p| p.starts_with("line 2, Office Phone: ") && p.contains("valid phone number")));
        assert!(found.iter().any(|p| p.starts_with("line 2, Mobile Phone: ") && p.contains("valid phone number")));
        assert!(found.iter().any(|p| p.starts_with("line 2, Fax: ") && p.contains("valid phone number")));
        assert!(
            found.iter().any(|p| p.starts_with("line 2, Alternate email address: ") && p.contains("sign-in")),
            "{found:#?}"
        );
    }

    #[test]
    fn a_valid_row_maps_every_column() {
        let text = format!(
            "\u{feff}{MICROSOFT_HEADERS},Alternate mobile phone\n\
             megan@contoso.com,Megan,Bowen,Megan Bowen,Marketing Manager,Marketing,\"Building 3, room 12\",\
             +1 425 555 0109,+44 7911 123456,,\"megan@fabrikam.com; m.bowen@northwind.com\",\"1 Main St\nSuite 4\",\
             Redmond,WA,98052,United States,+49 151 23456789\n"
        );
        let (reader, rows) = read(&text);
        let row = rows.into_iter().next().unwrap().unwrap();
        let valid = reader.check(&row, Region::default()).unwrap();
        assert_eq!(valid.line, 2);
        assert_eq!(valid.username.as_str(), "megan@contoso.com");
        let c = &valid.contact;
        assert_eq!(c.display_name, "Megan Bowen");
        assert_eq!(c.office.as_deref(), Some("Building 3, room 12"), "a quoted comma stays in its cell");
        assert_eq!(c.street_address.as_deref(), Some("1 Main St\nSuite 4"), "a quoted line break too");
        assert_eq!(c.office_phone.as_deref(), Some("+14255550109"));
        assert_eq!(c.mobile_phone.as_deref(), Some("+447911123456"));
        assert_eq!(c.alternate_mobile_phone.as_deref(), Some("+4915123456789"));
        assert_eq!(c.fax, None);
        assert_eq!(c.alternate_emails, ["megan@fabrikam.com", "m.bowen@northwind.com"]);
        assert_eq!(reader.unknown_columns(), Vec::<&str>::new(), "the byte-order mark is not part of a header");
    }

    #[test]
    fn headers_match_in_any_case_and_order_and_unknown_ones_are_reported() {
        let text = "display name,USER NAME,Licenses,City\nAlex Wilber,alex@contoso.com,E5,Seattle\n";
        let (reader, rows) = read(text);
        assert_eq!(reader.unknown_columns(), ["Licenses"]);
        let valid = reader.check(rows[0].as_ref().unwrap(), Region::default()).unwrap();
        assert_eq!((valid.username.as_str(), valid.contact.city.as_deref()), ("alex@contoso.com", Some("Seattle")));
    }

    #[test]
    fn a_new_user_name_is_checked_like_a_username_and_the_same_name_renames_nobody() {
        let text = "User Name,Display Name,New User Name,Alternate email address\n\
                    ada@contoso.com,Ada,Ada.Lovelace@contoso.com,\n\
                    alan@contoso.com,Alan,,\n\
                    bob@contoso.com,Bob,BOB@contoso.com,\n\
                    eve@contoso.com,Eve,not a name,\n\
                    fay@contoso.com,Fay,fay.new@contoso.com,fay.new@contoso.com\n";
        let (reader, rows) = read(text);
        let checked: Vec<_> = rows.iter().map(|r| reader.check(r.as_ref().unwrap(), Region::default())).collect();
        let renamed = |i: usize| checked[i].as_ref().unwrap().new_username.as_ref().map(|u| u.to_string());
        assert_eq!(renamed(0).as_deref(), Some("ada.lovelace@contoso.com"), "lower-cased as usernames are");
        assert_eq!(renamed(1), None, "a blank cell renames nobody");
        assert_eq!(renamed(2), None, "nor does the user's own name");
        let eve = checked[3].as_ref().unwrap_err();
        assert!(eve[0].to_string().starts_with("line 5, New User Name: Enter a username"), "{eve:?}");
        let fay = checked[4].as_ref().unwrap_err();
        assert!(
            fay[0].to_string().starts_with("line 6, Alternate email address: ") && fay[0].message.contains("sign-in"),
            "contacts are checked against the name the user will have: {fay:?}"
        );
        assert!(!Column::EXPORTED.contains(&Column::NewUserName), "an export renames nobody when imported");
    }

    #[test]
    fn wrong_headers_are_refused_by_name() {
        let missing = Reader::new("Username,Display Name\nx,y\n".as_bytes()).err().unwrap();
        assert_eq!(missing.to_string(), "line 1: The header line has no \"User Name\" column; it is required.");
        let twice = Reader::new("User Name,Display Name,city,City\n".as_bytes()).err().unwrap();
        assert_eq!(twice.to_string(), "line 1, City: The \"City\" column appears twice.");
    }

    #[test]
    fn every_kind_of_invalid_value_is_named_with_its_line_and_column() {
        let text = format!(
            "{MICROSOFT_HEADERS}\n\
             not-an-address,A,B,Someone,,,,,,,,,,,,\n\
             ok@contoso.com,,,,,,,,,,,,,,,\n\
             ok2@contoso.com,{},,Name,,,,,+1 425 555 0109,,bad@,,,,,\n\
             ok3@contoso.com,,,Tab\there,,,,,,,,,,,99999999999999999999999999999999999999999,\n\
             short@contoso.com,Too,Many,Cells,,,,,,,,,,,,,extra\n",
            "F".repeat(65)
        );
        let found = problems(&text);
        let expect = |prefix: &str| assert!(found.iter().any(|p| p.starts_with(prefix)), "{prefix} in {found:#?}");
        expect("line 2, User Name: ");
        expect("line 3, Display Name: ");
        expect("line 4, First Name: ");
        expect("line 4, Alternate email address: ");
        expect("line 5, Display Name: ");
        expect("line 5, ZIP or Postal Code: ");
        expect("line 6: The row has 17 cells; the header line names 16 columns.");
    }

    #[test]
    fn a_file_that_is_not_utf8_says_so() {
        let text = b"User Name,Display Name\nz\xe9@contoso.com,Z\n";
        let rows: Vec<_> = Reader::new(&text[..]).unwrap().collect();
        let problem = rows[0].as_ref().err().unwrap();
        assert_eq!(problem.to_string(), "line 2: The file is not valid UTF-8; save it as CSV UTF-8.");
    }

    fn user_with(contact: ContactInfo) -> User {
        example_user(Username::parse("shay@contoso.com").unwrap(), contact)
    }

    #[test]
    fn the_templates_import_as_they_are() {
        let blank = template(false);
        assert_eq!(String::from_utf8(blank.clone()).unwrap().lines().count(), 1, "the header line alone");
        let examples = template(true);
        let reader = Reader::new(&examples[..]).unwrap();
        assert!(reader.unknown_columns().is_empty());
        let rows: Vec<_> = Reader::new(&examples[..]).unwrap().collect();
        assert_eq!(rows.len(), 2);
        for row in rows {
            let valid = reader.check(row.as_ref().unwrap(), Region::default()).unwrap();
            assert_eq!(valid.contact.alternate_emails.len(), 1);
        }
    }

    #[test]
    fn what_the_writer_writes_the_reader_reads_back_the_same() {
        let contact = ContactInfo {
            display_name: "O'Brien, Seán \"Shay\"".into(),
            office: Some("Building 3, room 12".into()),
            office_phone: Some("+442079460958x12".into()),
            mobile_phone: Some("+14255550109".into()),
            alternate_emails: vec!["shay@fabrikam.com".into(), "s.obrien@northwind.com".into()],
            street_address: Some("1 Main St\nSuite 4".into()),
            country: Some("Ireland".into()),
            ..ContactInfo::default()
        };
        let mut writer = Writer::new(Vec::new()).unwrap();
        writer.write(&user_with(contact.clone())).unwrap();
        let bytes = writer.finish().unwrap();
        let reader = Reader::new(&bytes[..]).unwrap();
        assert!(reader.unknown_columns().is_empty());
        let again = Reader::new(&bytes[..]).unwrap();
        let rows: Vec<_> = again.collect();
        let valid = reader.check(rows[0].as_ref().unwrap(), Region::default()).unwrap();
        assert_eq!(valid.contact, contact);
    }

    #[test]
    fn a_row_is_completed_only_in_the_columns_the_file_lacks() {
        let stored = ContactInfo {
            display_name: "Shay".into(),
            city: Some("Cork".into()),
            job_title: Some("Engineer".into()),
            alternate_emails: vec!["shay@fabrikam.com".into()],
            ..ContactInfo::default()
        };
        let (reader, rows) = read("User Name,Display Name,City\nshay@contoso.com,Shay O'Brien,\n");
        let mut row = rows.into_iter().next().unwrap().unwrap();
        reader.complete(&mut row, &stored);
        let valid = reader.check(&row, Region::default()).unwrap();
        assert_eq!(valid.contact.display_name, "Shay O'Brien");
        assert_eq!(valid.contact.city, None, "an empty cell clears the field");
        assert_eq!(valid.contact.job_title.as_deref(), Some("Engineer"), "a missing column keeps it");
        assert_eq!(valid.contact.alternate_emails, ["shay@fabrikam.com"]);
    }

    #[test]
    fn rows_stream_one_at_a_time() {
        let mut text = String::from("User Name,Display Name\n");
        for i in 0..1000 {
            text.push_str(&format!("u{i}@contoso.com,User {i}\n"));
        }
        let mut reader = Reader::new(text.as_bytes()).unwrap();
        let first = reader.next().unwrap().unwrap();
        assert_eq!((first.line, first.username.as_str()), (2, "u0@contoso.com"));
        assert_eq!(reader.count(), 999);
    }

    #[test]
    fn oversized_cells_lines_and_headers_are_refused_before_they_are_split() {
        let addresses: Vec<String> = (0..60_000).map(|i| format!("a{i}@fabrikam.com")).collect();
        let long = addresses[..500].join(";");
        let cell = format!("User Name,Display Name,Alternate email address\nal@contoso.com,Al,{long}\n");
        let expected = format!(
            "line 2, Alternate email address: This cell is {} bytes long; a cell can be at most 8 KiB.",
            long.len()
        );
        assert_eq!(problems(&cell), [expected]);

        let line =
            format!("User Name,Display Name,Alternate email address\nal@contoso.com,Al,{}\n", addresses.join(";"));
        let found = problems(&line);
        assert_eq!(found, ["line 2: The file could not be read: the row starting on line 2 is longer than 64 KiB."]);

        // One quoted cell of many short lines is one row, however its lines are broken.
        let lines = vec!["x".repeat(1000); 100].join("\r\n");
        let quoted = format!("User Name,Display Name,Address\nal@contoso.com,Al,\"{lines}\"\nbo@contoso.com,Bo,\n");
        let found = problems(&quoted);
        assert_eq!(found, ["line 2: The file could not be read: the row starting on line 2 is longer than 64 KiB."]);

        let header = format!(
            "User Name,Display Name,{}\n",
            (0..100).map(|i| format!("Extra {i}")).collect::<Vec<_>>().join(",")
        );
        let refused = Reader::new(header.as_bytes()).err().unwrap();
        assert_eq!(refused.message, "The header line names 102 columns; at most 64 are allowed.");
    }

    #[test]
    fn rows_end_where_the_csv_reader_ends_them() {
        // Quoted line breaks and doubled quotes stay inside a row; a stray quote inside an
        // unquoted cell is a character, as the CSV reader takes it; old Mac files end rows with
        // \r alone, and twenty such rows together are longer than one row may be.
        let address = "y".repeat(6_000);
        let mac: Vec<String> = (0..20).map(|i| format!("u{i}@contoso.com,U{i},{address}")).collect();
        let text = format!(
            "User Name,Display Name,Address\r\nal@contoso.com,\"Al \"\"the\"\" Pal\",\"1 Main St\nFloor 2\"\r\n\
             bo@contoso.com,Bo O\"Brien,\r{}\r",
            mac.join("\r")
        );
        let (_, rows) = read(&text);
        let rows: Vec<Row> = rows.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 22);
        assert_eq!(rows[0].contact.display_name, "Al \"the\" Pal");
        assert_eq!(rows[1].contact.display_name, "Bo O\"Brien");
        assert_eq!(rows[21].contact.street_address, address);
    }

    #[test]
    fn long_cells_inside_the_limits_are_read() {
        // Ten addresses of 250 characters: local parts of 61, domains of three long labels.
        let domain = format!("{}.{}.{}.com", "b".repeat(63), "c".repeat(63), "d".repeat(58));
        let addresses: Vec<String> = (0..10).map(|i| format!("{}{i}@{domain}", "a".repeat(60))).collect();
        let text =
            format!("User Name,Display Name,Alternate email address\nal@contoso.com,Al,{}\n", addresses.join("; "));
        assert_eq!(problems(&text), Vec::<String>::new());
    }
}
