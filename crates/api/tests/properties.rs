//! Properties of the parsers that read what API clients send: SCIM filters, SCIM PATCH bodies
//! and Graph `$filter`. Each must refuse bad input with an error, never a panic, and what it
//! accepts must keep the invariants the rest of Roster relies on. The fuzz targets in `fuzz/`
//! check the same things at greater length.

use proptest::prelude::*;
use roster_api::graph::filter::parse_filter;
use roster_api::scim::filter::{self, CompareOp, MAX_DEPTH, MAX_LEN};
use roster_api::scim::patch::{apply, parse_patch_request, PATCH_OP_SCHEMA};
use roster_api::scim::user::{case_exact, resource, user_filter};
use roster_domain::clock::Timestamp;
use roster_domain::user_filter::{Attr, Op, UserFilter, Value as FilterValue};
use roster_domain::{ContactInfo, RoleSet, User, Username};
use serde_json::{json, Value};

fn user() -> User {
    User {
        id: "2819c223-7f76-453a-919d-413861904646".parse().unwrap(),
        username: Username::parse("adele.vance@contoso.com").unwrap(),
        contact: ContactInfo {
            display_name: "Adele Vance".into(),
            first_name: Some("Adele".into()),
            last_name: Some("Vance".into()),
            job_title: Some("Retail Manager".into()),
            department: Some("Retail".into()),
            mobile_phone: Some("+14255550101".into()),
            office_phone: Some("+14255550102".into()),
            alternate_emails: vec!["adele@example.org".into(), "av@fabrikam.com".into()],
            city: Some("Redmond".into()),
            ..ContactInfo::default()
        },
        roles: RoleSet::NONE,
        enabled: true,
        must_change_password: false,
        created_at: Timestamp(1_700_000_000_000),
        updated_at: Timestamp(1_717_245_000_000),
        updated_by: "test".into(),
        version: 3,
        deleted_at: None,
        external_id: None,
    }
}

fn scim_user() -> Value {
    resource(&user(), "https://roster.example/scim/v2/Users/2819c223-7f76-453a-919d-413861904646")
}

/// Text made of a grammar's own tokens, so that most of it gets past the tokenizer and into
/// the parser's deeper branches.
fn token_soup(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens), 0..max).prop_map(|parts| parts.join(" "))
}

/// Joins conditions the way both grammars do, up to a few levels deep, so that most of the
/// text is accepted and the checks on what is accepted get to run.
fn combined(leaf: BoxedStrategy<String>, not: &'static str) -> impl Strategy<Value = String> {
    leaf.prop_recursive(4, 24, 2, move |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b}) and {a}")),
            inner.clone().prop_map(move |a| format!("{not}({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// SCIM filters: attributes, operators and values in any combination, some of which compare
/// values of the wrong type or use a value filter where none is allowed.
fn scim_filter_text() -> impl Strategy<Value = String> {
    let attr = prop::sample::select(vec![
        "userName",
        "name.givenName",
        "emails",
        "emails.value",
        "phoneNumbers.type",
        "active",
        "meta.lastModified",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "$ref",
    ]);
    let op = prop::sample::select(CompareOp::ALL.to_vec());
    let value = prop_oneof![
        "[a-zA-Z0-9@. é\\\\\"]{0,8}".prop_map(|s| Value::String(s).to_string()),
        Just("\"2024-01-01T00:00:00+02:00\"".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
        prop::sample::select(vec!["true", "False", "null"]).prop_map(String::from),
    ];
    let compare = (attr.clone(), op, value.clone()).prop_map(|(a, o, v)| format!("{a} {o} {v}"));
    let present = attr.prop_map(|a| format!("{a} pr"));
    let value_filter = (prop::sample::select(vec!["emails", "phoneNumbers", "addresses"]), value)
        .prop_map(|(a, v)| format!("{a}[type eq \"work\" and (value sw {v} or not (primary pr))]"));
    combined(prop_oneof![compare, present, value_filter].boxed(), "not ")
}

/// Graph filters: properties with values of their own type or another, functions, `in` and
/// lambdas.
fn graph_filter_text() -> impl Strategy<Value = String> {
    let property = prop::sample::select(vec![
        "displayName",
        "givenName",
        "city",
        "mobilePhone",
        "faxNumber",
        "id",
        "createdDateTime",
        "otherMails",
    ]);
    let literal = prop_oneof![
        4 => "[a-zA-Z0-9 ()+.é'-]{0,10}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        1 => prop::sample::select(vec!["true", "null", "2024-01-01T00:00:00Z", "2024-02-30T25:00:00Z"])
            .prop_map(String::from),
    ];
    let op = prop::sample::select(vec!["eq", "ne", "gt", "ge", "lt", "le"]);
    let compare = (property.clone(), op, literal.clone()).prop_map(|(p, o, l)| format!("{p} {o} {l}"));
    let function = (prop::sample::select(vec!["startswith", "endswith"]), property.clone(), literal.clone())
        .prop_map(|(f, p, l)| format!("{f}({p},{l})"));
    let membership = (property, prop::collection::vec(literal.clone(), 1..4))
        .prop_map(|(p, ls)| format!("{p} in ({})", ls.join(", ")));
    let lambda = (prop::sample::select(vec!["otherMails", "businessPhones"]), literal.clone(), literal)
        .prop_map(|(c, a, b)| format!("{c}/any(x:x eq {a} or startswith(x, {b}))"));
    let enabled =
        prop::sample::select(vec!["accountEnabled eq true", "accountEnabled ne false"]).prop_map(String::from);
    combined(prop_oneof![compare, function, membership, lambda, enabled].boxed(), "not ")
}

const SCIM_TOKENS: &[&str] = &[
    "userName",
    "emails",
    "emails.value",
    "name.givenName",
    "meta.lastModified",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "type",
    "value",
    "not",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "le",
    "pr",
    "and",
    "or",
    "(",
    ")",
    "[",
    "]",
    "\"work\"",
    "\"2024-01-01T00:00:00Z\"",
    "\"a\\\"b\"",
    "\"\\u00e9\"",
    "12",
    "-0.5e3",
    "true",
    "null",
];

const GRAPH_TOKENS: &[&str] = &[
    "displayName",
    "city",
    "mobilePhone",
    "businessPhones",
    "accountEnabled",
    "createdDateTime",
    "id",
    "otherMails/any(x:",
    "x",
    "eq",
    "ne",
    "ge",
    "lt",
    "in",
    "and",
    "or",
    "not",
    "(",
    ")",
    ",",
    "startswith(",
    "endswith(",
    "'Redmond'",
    "'+1 (425) 555-0101'",
    "'O''Brien'",
    "true",
    "null",
    "2024-01-01T00:00:00Z",
];

/// The member named `name` ignoring case, found the way the PATCH applier finds it.
fn member<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Checks what the Graph parser promises of the tree it builds; returns whether the tree uses
/// something that only an advanced query allows (`not`, `ne`, `endswith`).
fn well_formed(filter: &UserFilter) -> Result<bool, TestCaseError> {
    Ok(match filter {
        UserFilter::And(parts) | UserFilter::Or(parts) => {
            prop_assert!(parts.len() >= 2, "a join of fewer than two conditions: {filter:?}");
            let mut advanced = false;
            for part in parts {
                advanced |= well_formed(part)?;
            }
            advanced
        }
        UserFilter::Not(inner) => {
            well_formed(inner)?;
            true
        }
        UserFilter::Present(_) => false,
        UserFilter::Compare { attr, op, value } => {
            prop_assert_ne!(*op, Op::Contains, "Graph has no contains: {:?}", filter);
            match (attr, value) {
                (Attr::Enabled, FilterValue::Bool(_)) | (Attr::Id, FilterValue::Text(_)) => {
                    prop_assert!(matches!(op, Op::Eq | Op::Ne), "{filter:?}")
                }
                (Attr::CreatedAt, FilterValue::Time(_)) => {
                    prop_assert!(!matches!(op, Op::StartsWith | Op::EndsWith), "{filter:?}")
                }
                (Attr::MobilePhone | Attr::OfficePhone | Attr::Fax, FilterValue::Text(text)) => {
                    prop_assert!(!text.contains([' ', '-', '.', '(', ')']), "a number left as typed: {filter:?}")
                }
                (Attr::Enabled | Attr::Id | Attr::CreatedAt, _) | (_, FilterValue::Bool(_) | FilterValue::Time(_)) => {
                    prop_assert!(false, "a value of the wrong type: {filter:?}")
                }
                _ => {}
            }
            matches!(op, Op::Ne | Op::EndsWith)
        }
    })
}

/// Text nested `depth` times by one of the ways each grammar nests.
fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// JSON values of the kinds PATCH operations carry, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(vec!["x", "True", "False", "work", "other", "adele@example.org", ""])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        let names = prop::sample::select(vec!["value", "type", "primary", "givenName", "display", "Primary"]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(names.prop_map(String::from), inner, 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn patch_operation() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec!["add", "Replace", "remove", "REMOVE", "copy"]);
    let path = prop_oneof![
        prop::sample::select(vec![
            "title",
            "name.givenName",
            "name",
            "emails",
            "emails[type eq \"other\"]",
            "emails[type eq \"work\"].primary",
            "emails[value ew \"example.org\" or primary eq true]",
            "phoneNumbers[type eq \"fax\"].value",
            "phoneNumbers[type pr]",
            "addresses[type eq \"work\"].locality",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "userName",
            "id",
            "meta.version",
            "active",
            "schemas",
        ])
        .prop_map(|p| Some(Value::from(p))),
        token_soup(SCIM_TOKENS, 6).prop_map(|p| Some(Value::from(p))),
        Just(None),
    ];
    let pathless = prop::collection::btree_map(
        prop::sample::select(vec![
            "displayName",
            "emails",
            "active",
            "id",
            "name.familyName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ])
        .prop_map(String::from),
        json_value(),
        0..3,
    )
    .prop_map(|members| Value::Object(members.into_iter().collect()));
    (op, path, prop_oneof![json_value(), pathless]).prop_map(|(op, path, value)| {
        let mut operation = json!({"op": op, "value": value});
        if let Some(path) = path {
            operation["path"] = path;
        }
        operation
    })
}

proptest! {
    #[test]
    fn scim_filters_never_panic_on_any_text(text in any::<String>()) {
        let _ = filter::parse(&text);
    }

    #[test]
    fn accepted_scim_filters_print_as_text_that_parses_back(
        text in prop_oneof![scim_filter_text(), token_soup(SCIM_TOKENS, 16)],
    ) {
        if let Ok(parsed) = filter::parse(&text) {
            let printed = parsed.to_string();
            prop_assert_eq!(filter::parse(&printed).ok(), Some(parsed.clone()), "{} printed as {}", text, printed);
            filter::matches(&parsed, &scim_user(), &case_exact);
            let _ = user_filter(&parsed);
        }
    }

    #[test]
    fn scim_filters_nested_too_deep_are_refused(
        depth in 0..=3 * MAX_DEPTH,
        (open, close) in prop::sample::select(vec![("(", ")"), ("not (", ")"), ("not(", ")")]),
    ) {
        let result = filter::parse(&nested(open, close, depth, "title pr"));
        prop_assert_eq!(result.is_ok(), depth <= MAX_DEPTH);
    }

    #[test]
    fn scim_patch_bodies_never_panic_and_failures_change_nothing(
        operations in prop::collection::vec(patch_operation(), 0..4),
        schema in prop::sample::select(vec![PATCH_OP_SCHEMA, "urn:ietf:params:scim:api:messages:2.0:patchop", "x"]),
    ) {
        let body = json!({"schemas": [schema], "Operations": operations});
        let Ok(ops) = parse_patch_request(&body) else { return Ok(()) };
        let before = scim_user();
        let mut after = before.clone();
        if apply(&mut after, &ops).is_err() {
            prop_assert_eq!(after, before);
            return Ok(());
        }
        for owned in ["id", "meta"] {
            prop_assert_eq!(member(&after, owned), member(&before, owned), "{} changed", owned);
        }
        for required in ["userName", "active"] {
            prop_assert!(member(&after, required).is_some(), "{} was removed", required);
        }
        if let Some(Value::Array(emails)) = member(&after, "emails") {
            let primaries = emails.iter().filter(|e| member(e, "primary") == Some(&Value::Bool(true))).count();
            prop_assert!(primaries <= 1, "{} primary addresses: {}", primaries, after);
        }
    }

    #[test]
    fn scim_patch_bodies_of_any_shape_never_panic(body in json_value()) {
        if let Ok(ops) = parse_patch_request(&body) {
            let _ = apply(&mut scim_user(), &ops);
        }
    }

    #[test]
    fn graph_filters_never_panic_on_any_text(text in any::<String>()) {
        let _ = parse_filter(&text);
    }

    #[test]
    fn accepted_graph_filters_are_well_formed(
        text in prop_oneof![graph_filter_text(), token_soup(GRAPH_TOKENS, 16)],
    ) {
        if let Ok(parsed) = parse_filter(&text) {
            let needs_advanced = well_formed(&parsed.filter)?;
            prop_assert!(parsed.advanced || !needs_advanced, "{} is not marked advanced", text);
            parsed.filter.matches(&user());
        }
    }

    #[test]
    fn graph_filters_nested_too_deep_are_refused(
        depth in 0..=3 * MAX_DEPTH,
        (open, close) in prop::sample::select(vec![("(", ")"), ("not ", "")]),
    ) {
        // Graph's limit is private; it is the same 32 levels as SCIM's. (`not (` would count
        // two levels, one for each.)
        let result = parse_filter(&nested(open, close, depth, "city eq 'Redmond'"));
        prop_assert_eq!(result.is_ok(), depth <= MAX_DEPTH);
    }
}

#[test]
fn very_deep_nesting_is_refused_without_exhausting_the_stack() {
    for text in ["(".repeat(100_000), "not (".repeat(20_000), "emails[".repeat(100_000)] {
        assert!(filter::parse(&text).is_err());
    }
    for text in ["(".repeat(100_000), "not ".repeat(25_000)] {
        assert!(parse_filter(&text).is_err());
    }
}

#[test]
fn a_filter_of_the_longest_accepted_length_is_parsed() {
    let clause = "title pr or ";
    let scim = format!("{}title pr", clause.repeat((MAX_LEN - 8) / clause.len()));
    assert!(scim.len() <= MAX_LEN);
    assert!(filter::parse(&scim).is_ok());
    let values = "'a',".repeat((MAX_LEN - 16) / 4);
    let graph = format!("city in ({values}'a')");
    assert!(graph.len() <= MAX_LEN);
    assert!(parse_filter(&graph).is_ok());
}
