//! The other OData query options of `GET /v1.0/users`: `$top`, `$orderby`, `$select`,
//! `$search`, `$count`, and the `$skiptoken` of a next-page link.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use roster_domain::user_filter::{Attr, Op, UserFilter, Value};

use super::filter::{combine, normalise_phone};
use super::user::PROPERTIES;
use super::GraphError;

/// The page size when `$top` is absent.
pub const DEFAULT_TOP: u32 = 100;

const MAX_TOP: u32 = 999;

/// Longest `$search` accepted, in characters.
const MAX_SEARCH_LEN: usize = 4096;

/// Graph's properties when `$select` is absent.
const DEFAULT_SELECT: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

/// Properties `$search` accepts, and how each matches.
const SEARCHABLE: [(&str, Attr, Op); 6] = [
    // Graph matches the start of each word of a display name; a substring match finds all of
    // those and a few more, without a word index.
    ("displayName", Attr::DisplayName, Op::Contains),
    ("givenName", Attr::FirstName, Op::StartsWith),
    ("surname", Attr::LastName, Op::StartsWith),
    ("mail", Attr::Mail, Op::StartsWith),
    ("userPrincipalName", Attr::Username, Op::StartsWith),
    ("mobilePhone", Attr::MobilePhone, Op::StartsWith),
];

/// Reads `$top`: 100 when absent, otherwise 1 to 999.
pub fn parse_top(raw: Option<&str>) -> Result<u32, GraphError> {
    let Some(raw) = raw else { return Ok(DEFAULT_TOP) };
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_TOP).contains(n))
        .ok_or_else(|| GraphError::invalid_page_size(raw))
}

/// The order of a user list, from `$orderby`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderBy {
    /// By id, Graph's order when `$orderby` is absent.
    #[default]
    Default,
    /// By display name, ignoring case, then id.
    DisplayName { descending: bool },
    /// By user principal name (unique).
    UserPrincipalName { descending: bool },
}

/// Reads `$orderby`: `displayName` or `userPrincipalName`, optionally `asc` or `desc`.
pub fn parse_orderby(raw: Option<&str>) -> Result<OrderBy, GraphError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(OrderBy::Default) };
    if raw.contains(',') {
        return Err(GraphError::unsupported_query("Sorting by more than one property is not supported."));
    }
    let words: Vec<&str> = raw.split_whitespace().collect();
    let descending = match words.as_slice() {
        [_] => false,
        [_, dir] if dir.eq_ignore_ascii_case("asc") => false,
        [_, dir] if dir.eq_ignore_ascii_case("desc") => true,
        _ => return Err(GraphError::unsupported_query(format!("'{raw}' is not a supported $orderby."))),
    };
    let property = words[0];
    if property.eq_ignore_ascii_case("displayName") {
        Ok(OrderBy::DisplayName { descending })
    } else if property.eq_ignore_ascii_case("userPrincipalName") {
        Ok(OrderBy::UserPrincipalName { descending })
    } else {
        Err(GraphError::unsupported_query(format!(
            "Sorting by '{property}' is not supported; sort by displayName or userPrincipalName."
        )))
    }
}

/// A resource's properties as `$select` names them.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// Every property the resource has, in Graph's spelling.
    pub properties: &'static [&'static str],
    /// Those returned when `$select` is absent.
    pub default: &'static [&'static str],
    /// Graph's type name, for errors: `microsoft.graph.user`.
    pub type_name: &'static str,
}

/// The user resource.
pub const USER: Resource =
    Resource { properties: PROPERTIES, default: &DEFAULT_SELECT, type_name: "microsoft.graph.user" };

/// The properties to return, from `$select`; `id` is always returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    properties: Vec<&'static str>,
    explicit: bool,
}

impl Default for Select {
    fn default() -> Self {
        Select::all_of(&USER)
    }
}

impl Select {
    /// The properties a resource returns when `$select` is absent.
    pub fn all_of(resource: &Resource) -> Select {
        Select { properties: resource.default.to_vec(), explicit: false }
    }

    /// The selected properties in Graph's spelling, in the order requested.
    pub fn properties(&self) -> &[&'static str] {
        &self.properties
    }

    /// Whether `property` (Graph's spelling) is returned.
    pub fn includes(&self, property: &str) -> bool {
        property == "id" || self.properties.contains(&property)
    }

    /// What follows `$metadata#users` in `@odata.context`: `(displayName,mail)` after a `$select`, else nothing.
    pub fn context_suffix(&self) -> String {
        if self.explicit {
            format!("({})", self.properties.join(","))
        } else {
            String::new()
        }
    }
}

/// Reads `$select` of users: comma-separated property names, matched ignoring case.
pub fn parse_select(raw: Option<&str>) -> Result<Select, GraphError> {
    parse_select_of(raw, &USER)
}

/// Reads `$select` of a resource's properties.
pub fn parse_select_of(raw: Option<&str>, resource: &Resource) -> Result<Select, GraphError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(Select::all_of(resource)) };
    let mut properties = Vec::new();
    for name in raw.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(GraphError::bad_request(format!("The $select '{raw}' has an empty property name.")));
        }
        let Some(&property) = resource.properties.iter().find(|p| p.eq_ignore_ascii_case(name)) else {
            return Err(GraphError::unknown_property_of(name, resource.type_name));
        };
        if !properties.contains(&property) {
            properties.push(property);
        }
    }
    Ok(Select { properties, explicit: true })
}

/// Reads `$search`: `"property:text"` clauses joined by `AND` and `OR`, `AND` binding tighter.
///
/// `displayName` matches anywhere in the name; the other properties match at the start, as
/// Graph's do.
pub fn parse_search(raw: Option<&str>) -> Result<Option<UserFilter>, GraphError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(None) };
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() > MAX_SEARCH_LEN {
        return Err(GraphError::bad_request(format!("The $search is longer than {MAX_SEARCH_LEN} characters.")));
    }
    let invalid_at =
        |i: usize| format!("Syntax error: character '{}' is not valid at position {i} in '{raw}'.", chars[i]);
    let skip_space = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        i
    };
    let mut alternatives = Vec::new();
    let mut all_of = Vec::new();
    let mut i = skip_space(0);
    loop {
        if chars[i] != '"' {
            return Err(GraphError::bad_request(invalid_at(i)));
        }
        let start = i;
        let mut clause = String::new();
        i += 1;
        loop {
            match chars.get(i) {
                None => {
                    return Err(GraphError::bad_request(format!(
                        "Syntax error: the quote at position {start} in '{raw}' is never closed."
                    )))
                }
                Some('"') => break,
                Some('\\') if i + 1 < chars.len() => {
                    clause.push(chars[i + 1]);
                    i += 1;
                }
                Some(&c) => clause.push(c),
            }
            i += 1;
        }
        all_of.push(search_clause(&clause)?);
        i = skip_space(i + 1);
        if i == chars.len() {
            break;
        }
        let word_end = (i..chars.len()).find(|&j| chars[j].is_whitespace() || chars[j] == '"').unwrap_or(chars.len());
        let word: String = chars[i..word_end].iter().collect();
        if word.eq_ignore_ascii_case("OR") {
            alternatives.push(combine(std::mem::take(&mut all_of), UserFilter::And));
        } else if !word.eq_ignore_ascii_case("AND") {
            return Err(GraphError::bad_request(invalid_at(i)));
        }
        i = skip_space(word_end);
        if i == chars.len() {
            return Err(GraphError::bad_request(format!("Syntax error: '{raw}' ends after '{word}'.")));
        }
    }
    alternatives.push(combine(all_of, UserFilter::And));
    Ok(Some(combine(alternatives, UserFilter::Or)))
}

fn search_clause(clause: &str) -> Result<UserFilter, GraphError> {
    let Some((name, text)) = clause.split_once(':') else {
        return Err(GraphError::bad_request(format!(
            "The search clause \"{clause}\" must have the form \"property:text\", such as \"displayName:adele\"."
        )));
    };
    let (name, text) = (name.trim(), text.trim());
    let Some(&(property, attr, op)) = SEARCHABLE.iter().find(|(p, ..)| p.eq_ignore_ascii_case(name)) else {
        if PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            return Err(GraphError::unsupported_query(format!(
                "Searching '{name}' is not supported; search displayName, givenName, surname, mail, \
                 userPrincipalName or mobilePhone."
            )));
        }
        return Err(GraphError::unknown_property(name));
    };
    if text.is_empty() {
        return Err(GraphError::bad_request(format!(
            "The search clause \"{clause}\" has no text to search {property} for."
        )));
    }
    let text = if attr == Attr::MobilePhone { normalise_phone(text) } else { text.to_string() };
    Ok(UserFilter::Compare { attr, op, value: Value::Text(text) })
}

/// Reads `$count`: `true` or `false`, absent meaning `false`.
pub fn parse_count(raw: Option<&str>) -> Result<bool, GraphError> {
    match raw.map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(GraphError::bad_request(format!("'{v}' is not a valid value for $count; use true or false."))),
    }
}

/// Where the next page starts: the sort key and id of the last user returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipToken {
    /// The store's cursor key of the last user (opaque here).
    pub key: String,
    /// The last user's id.
    pub id: String,
}

const SKIP_TOKEN_VERSION: u8 = 1;

impl SkipToken {
    /// The opaque, URL-safe `$skiptoken` value.
    pub fn encode(&self) -> String {
        let body = serde_json::json!([SKIP_TOKEN_VERSION, self.key, self.id, checksum(&self.key, &self.id)]);
        URL_SAFE_NO_PAD.encode(body.to_string())
    }

    /// Reads a `$skiptoken` made by [`SkipToken::encode`].
    pub fn decode(token: &str) -> Result<SkipToken, GraphError> {
        let invalid = || GraphError::bad_request("The skip token is not valid.");
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
        let (version, key, id, sum): (u8, String, String, u32) =
            serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if version != SKIP_TOKEN_VERSION || sum != checksum(&key, &id) {
            return Err(invalid());
        }
        Ok(SkipToken { key, id })
    }
}

/// FNV-1a over key and id. It catches tokens cut short or edited by hand; it is no secret and
/// need not be, since a forged token only moves the caller within a list it may read anyway.
fn checksum(key: &str, id: &str) -> u32 {
    key.bytes().chain([0]).chain(id.bytes()).fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn top_defaults_to_100_and_stays_within_1_to_999() {
        assert_eq!(parse_top(None), Ok(100));
        assert_eq!(parse_top(Some("1")), Ok(1));
        assert_eq!(parse_top(Some("999")), Ok(999));
        for bad in ["0", "1000", "-1", "ten", "", "4294967296"] {
            let e = parse_top(Some(bad)).unwrap_err();
            assert_eq!((e.status, e.code), (400, "Request_BadRequest"));
            assert_eq!(
                e.message,
                format!("Invalid page size specified: '{bad}'. Must be between 1 and 999 inclusive.")
            );
        }
    }

    #[test]
    fn orderby_knows_two_properties_and_two_directions() {
        assert_eq!(parse_orderby(None), Ok(OrderBy::Default));
        assert_eq!(parse_orderby(Some("displayName")), Ok(OrderBy::DisplayName { descending: false }));
        assert_eq!(parse_orderby(Some(" DisplayName  DESC ")), Ok(OrderBy::DisplayName { descending: true }));
        assert_eq!(parse_orderby(Some("userPrincipalName asc")), Ok(OrderBy::UserPrincipalName { descending: false }));
        for bad in ["surname", "displayName up", "displayName,surname", "displayName desc extra"] {
            assert_eq!(parse_orderby(Some(bad)).unwrap_err().code, "Request_UnsupportedQuery", "{bad}");
        }
    }

    #[test]
    fn select_validates_and_canonicalises_names() {
        let default = parse_select(None).unwrap();
        assert_eq!(default, Select::default());
        assert_eq!(default.properties().len(), 11);
        assert!(default.includes("preferredLanguage") && !default.includes("department"));
        assert_eq!(default.context_suffix(), "");

        let chosen = parse_select(Some("DisplayName, userPrincipalName,displayname")).unwrap();
        assert_eq!(chosen.properties(), ["displayName", "userPrincipalName"]);
        assert!(chosen.includes("id") && !chosen.includes("mail"));
        assert_eq!(chosen.context_suffix(), "(displayName,userPrincipalName)");

        let unknown = parse_select(Some("displayName,foo")).unwrap_err();
        assert_eq!(unknown.code, "Request_BadRequest");
        assert!(unknown.message.contains("'foo'"));
        assert!(parse_select(Some("displayName,")).is_err());
    }

    #[test]
    fn search_clauses_combine_with_and_over_or() {
        let name =
            |v: &str| UserFilter::Compare { attr: Attr::DisplayName, op: Op::Contains, value: Value::Text(v.into()) };
        let mail = |v: &str| UserFilter::Compare { attr: Attr::Mail, op: Op::StartsWith, value: Value::Text(v.into()) };
        assert_eq!(parse_search(None), Ok(None));
        assert_eq!(parse_search(Some("\"displayName:wa\"")), Ok(Some(name("wa"))));
        assert_eq!(parse_search(Some("\"displayName: adele vance \"")), Ok(Some(name("adele vance"))));
        assert_eq!(parse_search(Some("\"displayName:say \\\"hi\\\"\"")), Ok(Some(name("say \"hi\""))));
        assert_eq!(
            parse_search(Some("\"displayName:wa\" OR \"mail:ad\" AND \"displayName:x\"")),
            Ok(Some(UserFilter::Or(vec![name("wa"), UserFilter::And(vec![mail("ad"), name("x")])])))
        );
        let phone = parse_search(Some("\"mobilePhone:+1 425\"")).unwrap().unwrap();
        assert_eq!(
            phone,
            UserFilter::Compare { attr: Attr::MobilePhone, op: Op::StartsWith, value: Value::Text("+1425".into()) }
        );
    }

    #[test]
    fn search_syntax_errors_point_at_the_character() {
        let e = parse_search(Some("displayName:wa")).unwrap_err();
        assert_eq!(e.code, "Request_BadRequest");
        assert_eq!(e.message, "Syntax error: character 'd' is not valid at position 0 in 'displayName:wa'.");
        let e = parse_search(Some("\"displayName:a\" NEAR \"displayName:b\"")).unwrap_err();
        assert!(e.message.contains("character 'N' is not valid at position 16"), "{}", e.message);
        assert!(parse_search(Some("\"displayName:a")).unwrap_err().message.contains("never closed"));
        assert!(parse_search(Some("\"displayName:a\" OR")).unwrap_err().message.contains("ends after 'OR'"));
        assert!(parse_search(Some("\"adele\"")).unwrap_err().message.contains("property:text"));
        assert!(parse_search(Some("\"displayName:\"")).unwrap_err().message.contains("no text"));
        assert!(parse_search(Some("\"foo:a\"")).unwrap_err().message.contains("'foo'"));
        assert_eq!(parse_search(Some("\"city:a\"")).unwrap_err().code, "Request_UnsupportedQuery");
    }

    #[test]
    fn count_is_true_or_false() {
        assert_eq!(parse_count(None), Ok(false));
        assert_eq!(parse_count(Some("true")), Ok(true));
        assert_eq!(parse_count(Some("False")), Ok(false));
        assert_eq!(parse_count(Some("1")).unwrap_err().code, "Request_BadRequest");
    }

    #[test]
    fn skip_tokens_reject_tampering() {
        let token = SkipToken { key: "adele vance".into(), id: "6e9f1a3c-0000-4000-8000-000000000001".into() }.encode();
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let edited = String::from_utf8(bytes).unwrap().replace("adele", "bdele");
        assert!(SkipToken::decode(&URL_SAFE_NO_PAD.encode(edited)).is_err());
        for bad in ["", "!!", &token[..token.len() - 2], &URL_SAFE_NO_PAD.encode("[2,\"\",\"\",0]")] {
            assert_eq!(SkipToken::decode(bad).unwrap_err().message, "The skip token is not valid.");
        }
    }

    proptest! {
        #[test]
        fn skip_tokens_round_trip(key in "\\PC{0,40}", id in "\\PC{0,40}") {
            let token = SkipToken { key, id };
            prop_assert_eq!(SkipToken::decode(&token.encode()), Ok(token));
        }

        #[test]
        fn search_never_panics(text in "\\PC{0,60}") {
            let _ = parse_search(Some(&text));
        }
    }
}
