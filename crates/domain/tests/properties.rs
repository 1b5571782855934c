//! Properties of the validation that untrusted text goes through before it reaches a user:
//! phone numbers, email addresses and the bulk-user CSV file. Each must refuse bad input with
//! an error, never a panic, and what it accepts must be stable. The fuzz targets in `fuzz/`
//! check the same things at greater length.

use proptest::prelude::*;
use roster_domain::csv_users::{Column, Reader};
use roster_domain::email;
use roster_domain::phone::{self, Phone, Region};

/// Regions with different national prefixes and number lengths.
const REGIONS: [&str; 8] = ["US", "GB", "DE", "FR", "JP", "IN", "BR", "AU"];

fn region() -> impl Strategy<Value = Region> {
    prop::sample::select(&REGIONS[..]).prop_map(|code| Region::parse(code).unwrap())
}

/// Numbers as people type them: in the formats of a few countries, with and without
/// `+country`, spacing and an extension, and as loose groups of digits.
fn typed_phone() -> impl Strategy<Value = String> {
    let extension = prop::sample::select(vec!["", "", " x12", " ext. 345", ";ext=9", " #7"]);
    let formatted = prop_oneof![
        "\\+1 [2-9][0-9]{2}-[2-9][0-9]{2}-[0-9]{4}",
        "\\(?[2-9][0-9]{2}\\)? ?[2-9][0-9]{2}[-. ][0-9]{4}",
        "\\+44 ?(20|7[1-9][0-9]{2}) ?[0-9]{3,4} ?[0-9]{3,4}",
        "0(20|7[1-9][0-9]{2}) [0-9]{3,4} [0-9]{3,4}",
        "\\+49 ?1[5-7][0-9] ?[0-9]{7,8}",
        "\\+81 ?[1-9]{1,2}-[0-9]{4}-[0-9]{4}",
        "(\\+91 |0)?[6-9][0-9]{4} [0-9]{5}",
    ];
    let prefix = prop::sample::select(vec!["", "+1 ", "+44 ", "+49 ", "+33 ", "+81 ", "+91 ", "+61 ", "0", "00 44 "]);
    let separator = prop::sample::select(vec![" ", "-", ".", "", "(", ") "]);
    let loose = (prefix, prop::collection::vec(("[0-9]{1,4}", separator), 1..5)).prop_map(|(prefix, groups)| {
        let digits: String = groups.into_iter().map(|(g, s)| format!("{g}{s}")).collect();
        format!("{prefix}{digits}")
    });
    (prop_oneof![formatted, loose], extension).prop_map(|(number, extension)| format!("{number}{extension}"))
}

/// Addresses as people type them, with the mistakes they make: spaces, display names, case,
/// missing parts, quoted local parts and literal domains.
fn typed_email() -> impl Strategy<Value = String> {
    let local = prop_oneof![
        4 => "[A-Za-z0-9][A-Za-z0-9._%+'-]{0,11}",
        1 => Just("\"a b\"".to_string()),
        1 => "[a-zé.]{1,6}",
    ];
    let domain = prop_oneof![
        4 => "[A-Za-z0-9][A-Za-z0-9-]{0,9}(\\.[A-Za-z]{2,6}){1,2}",
        1 => Just("[127.0.0.1]".to_string()),
        1 => Just("xn--bcher-kva.example".to_string()),
        1 => "[a-zé]{1,6}\\.[a-z]{2,3}",
    ];
    let around = prop::sample::select(vec!["", "", "", "", " ", "\t", "Name <", ">"]);
    let at = prop::sample::select(vec!["@", "@", "@", "@", "@@", ""]);
    (around.clone(), local, at, domain, around)
        .prop_map(|(before, local, at, domain, after)| format!("{before}{local}{at}{domain}{after}"))
}

/// A CSV cell: plain text, text that needs quoting, or a quote left open.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 @.+-]{0,12}",
        "[a-z ,;\"\r\n]{0,8}".prop_map(|text| format!("\"{}\"", text.replace('"', "\"\""))),
        "[a-z\"\r\n,]{0,6}",
        typed_phone(),
        typed_email(),
    ]
}

/// A file with some of Microsoft's columns in random order (usually with the two it requires)
/// and rows of random cells, ended by any of the line endings people's tools write.
fn csv_file() -> impl Strategy<Value = Vec<u8>> {
    let header = (prop::sample::subsequence(Column::ALL.to_vec(), 0..=Column::ALL.len()).prop_shuffle(), any::<bool>())
        .prop_map(|(mut columns, complete)| {
            for required in [Column::UserName, Column::DisplayName] {
                if complete && !columns.contains(&required) {
                    columns.push(required);
                }
            }
            columns
        });
    let ending = prop::sample::select(vec!["\n", "\r\n", "\r"]);
    (header, prop::collection::vec(prop::collection::vec(cell(), 0..20), 0..6), ending, any::<bool>()).prop_map(
        |(columns, rows, ending, bom)| {
            let mut text = if bom { "\u{feff}".to_string() } else { String::new() };
            let headers: Vec<&str> = columns.iter().map(|c| c.header()).collect();
            text.push_str(&headers.join(","));
            for row in rows {
                text.push_str(ending);
                text.push_str(&row.join(","));
            }
            text.into_bytes()
        },
    )
}

/// Lines as the CSV reader ends them: at `\n`, `\r` or `\r\n`.
fn lines(data: &[u8]) -> usize {
    let lone_cr =
        data.windows(2).filter(|w| w[0] == b'\r' && w[1] != b'\n').count() + usize::from(data.last() == Some(&b'\r'));
    1 + data.iter().filter(|&&b| b == b'\n').count() + lone_cr
}

/// Reads every row of a file and checks each, as an import does; returns how many rows came
/// out, or `None` when the header line was refused.
fn read_all(data: &[u8]) -> Option<usize> {
    let mut reader = Reader::new(data).ok()?;
    // One past the number of lines is enough to see the limit broken, and keeps a reader that
    // never ends from hanging the test.
    let rows: Vec<_> = reader.by_ref().take(lines(data) + 1).collect();
    for row in rows.iter().flatten() {
        let _ = reader.check(row, Region::default());
    }
    Some(rows.len())
}

proptest! {
    #[test]
    fn phones_never_panic_on_any_text(text in any::<String>(), region in region()) {
        let _ = Phone::parse(&text, region);
        let _ = phone::optional("mobile_phone", "Mobile phone", &text, region);
    }

    #[test]
    fn a_parsed_phone_reads_back_from_its_stored_form(text in typed_phone(), region in region()) {
        if let Ok(parsed) = Phone::parse(&text, region) {
            let stored = parsed.stored();
            prop_assert_eq!(Phone::from_stored(&stored).map(|p| p.stored()), Some(stored.clone()), "{:?}", text);
            let _ = parsed.international();
        }
    }

    #[test]
    fn the_optional_field_accepts_what_the_parser_accepts(text in typed_phone(), region in region()) {
        let field = phone::optional("mobile_phone", "Mobile phone", &text, region);
        match Phone::parse(&text, region) {
            Ok(parsed) => prop_assert_eq!(field.ok(), Some(Some(parsed))),
            Err(_) => prop_assert!(field.is_err()),
        }
    }

    #[test]
    fn email_never_panics_on_any_text(text in any::<String>()) {
        let _ = email::normalise(&text);
    }

    #[test]
    fn a_normalised_email_normalises_to_itself(text in typed_email()) {
        if let Ok(address) = email::normalise(&text) {
            prop_assert_eq!(email::normalise(&address), Ok(address.clone()), "{:?}", text);
            prop_assert!(address.chars().count() <= email::MAX_LEN);
            prop_assert!(!address.contains(char::is_whitespace));
            let (_, domain) = address.rsplit_once('@').unwrap();
            prop_assert_eq!(domain, domain.to_ascii_lowercase());
        }
    }

    #[test]
    fn csv_files_never_yield_more_rows_than_lines(data in csv_file()) {
        if let Some(rows) = read_all(&data) {
            prop_assert!(rows < lines(&data), "{} rows after the header from {} lines", rows, lines(&data));
        }
    }

    #[test]
    fn csv_reading_never_panics_on_any_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut with_header = b"User Name,Display Name,Mobile Phone\n".to_vec();
        with_header.extend_from_slice(&data);
        for bytes in [&data, &with_header] {
            if let Some(rows) = read_all(bytes) {
                prop_assert!(rows < lines(bytes));
            }
        }
    }
}
