//! OData `$filter` on users, compiled to a [`UserFilter`].
//!
//! A tokenizer and a recursive-descent parser for the subset Graph accepts on `/v1.0/users`:
//! comparisons, `in`, `startswith`/`endswith`, `and`/`or`/`not`, parentheses and `any()` on the
//! two collections. `not` binds tighter than `and`, which binds tighter than `or`.

use roster_domain::clock::Timestamp;
use roster_domain::user_filter::{Attr, Op, UserFilter, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::GraphError;

/// Longest `$filter` accepted, in characters.
const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and `any()`; bounds the parser's recursion.
const MAX_DEPTH: usize = 32;

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFilter {
    /// The condition listed users satisfy.
    pub filter: UserFilter,
    /// Whether Graph only allows this filter in an advanced query (`ConsistencyLevel: eventual`
    /// and `$count=true`): it uses `ne`, `not`, `endswith` or a comparison with `null`.
    pub advanced: bool,
}

/// Parses a (URL-decoded) `$filter` value.
pub fn parse_filter(text: &str) -> Result<ParsedFilter, GraphError> {
    if text.chars().count() > MAX_LEN {
        return Err(clause(format!("the filter is longer than {MAX_LEN} characters")));
    }
    let mut parser = Parser { tokens: tokenize(text)?, pos: 0, depth: 0, advanced: false, range: None };
    let filter = parser.or()?;
    if *parser.peek() != Tok::End {
        return Err(parser.expected("'and', 'or' or the end of the filter"));
    }
    Ok(ParsedFilter { filter, advanced: parser.advanced })
}

/// Brings a phone number as Graph shows it (`+1 425 555 0101`, `+1 (425) 555-0101 ext. 12`)
/// towards the stored form (`+14255550101x12`). Clients copy numbers from Graph's responses and
/// type them with spacing, while Roster stores E.164; stripping the punctuation instead of
/// parsing the number keeps partial numbers usable as prefixes.
pub(crate) fn normalise_phone(value: &str) -> String {
    let digits: String = value.chars().filter(|c| !" -.()".contains(*c)).collect();
    digits.to_lowercase().replace("ext", "x")
}

/// What a property holds, which decides the operators and values it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    Text,
    Phone,
    Bool,
    Time,
}

impl Kind {
    fn edm(self) -> &'static str {
        match self {
            Kind::Id | Kind::Text | Kind::Phone => "Edm.String",
            Kind::Bool => "Edm.Boolean",
            Kind::Time => "Edm.DateTimeOffset",
        }
    }
}

/// A filterable Graph property; a collection's `kind` is that of its elements.
#[derive(Debug, Clone, Copy)]
struct Property {
    name: &'static str,
    attr: Attr,
    kind: Kind,
    collection: bool,
}

const fn one(name: &'static str, attr: Attr, kind: Kind) -> Property {
    Property { name, attr, kind, collection: false }
}

const PROPERTIES: &[Property] = &[
    one("id", Attr::Id, Kind::Id),
    one("displayName", Attr::DisplayName, Kind::Text),
    one("givenName", Attr::FirstName, Kind::Text),
    one("surname", Attr::LastName, Kind::Text),
    one("userPrincipalName", Attr::Username, Kind::Text),
    one("mail", Attr::Mail, Kind::Text),
    Property { name: "otherMails", attr: Attr::AlternateEmail, kind: Kind::Text, collection: true },
    one("mobilePhone", Attr::MobilePhone, Kind::Phone),
    Property { name: "businessPhones", attr: Attr::OfficePhone, kind: Kind::Phone, collection: true },
    one("faxNumber", Attr::Fax, Kind::Phone),
    one("jobTitle", Attr::JobTitle, Kind::Text),
    one("department", Attr::Department, Kind::Text),
    one("officeLocation", Attr::Office, Kind::Text),
    one("streetAddress", Attr::StreetAddress, Kind::Text),
    one("city", Attr::City, Kind::Text),
    one("state", Attr::State, Kind::Text),
    one("postalCode", Attr::PostalCode, Kind::Text),
    one("country", Attr::Country, Kind::Text),
    one("employeeId", Attr::EmployeeId, Kind::Text),
    one("companyName", Attr::CompanyName, Kind::Text),
    one("preferredLanguage", Attr::PreferredLanguage, Kind::Text),
    one("accountEnabled", Attr::Enabled, Kind::Bool),
    one("createdDateTime", Attr::CreatedAt, Kind::Time),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
    Slash,
    Colon,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    Text(String),
    Bool(bool),
    Null,
    Time(Timestamp),
}

impl Literal {
    fn edm(&self) -> &'static str {
        match self {
            Literal::Text(_) => "Edm.String",
            Literal::Bool(_) => "Edm.Boolean",
            Literal::Time(_) => "Edm.DateTimeOffset",
            Literal::Null => "null",
        }
    }
}

pub(crate) fn clause(detail: String) -> GraphError {
    GraphError::bad_request(format!("Invalid filter clause: {detail}."))
}

/// Splits the text into tokens, each with its position in characters from 0.
pub(crate) fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, GraphError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        i += 1;
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            '/' => Tok::Slash,
            ':' => Tok::Colon,
            '\'' => {
                let mut text = String::new();
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => {
                            return Err(clause(format!("the string starting at position {start} has no closing quote")))
                        }
                        (Some('\''), Some('\'')) => {
                            text.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => {
                            i += 1;
                            break;
                        }
                        (Some(&c), _) => {
                            text.push(c);
                            i += 1;
                        }
                    }
                }
                Tok::Str(text)
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                // Date literals (2024-01-01T00:00:00+02:00) start with a digit and hold `-:.+`;
                // names do not, so the `x:x` of a lambda still splits at its colon.
                let extra = if c.is_ascii_digit() { "-:.+" } else { "" };
                while chars.get(i).is_some_and(|&c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c)) {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().collect())
            }
            other => return Err(clause(format!("unexpected character '{other}' at position {start}"))),
        };
        tokens.push((tok, start));
    }
    tokens.push((Tok::End, chars.len()));
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    advanced: bool,
    /// Inside `collection/any(x: …)`: the range variable and the collection it ranges over.
    range: Option<(String, Property)>,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].0
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn expected(&self, what: &str) -> GraphError {
        let found = match self.peek() {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(s) => format!("the string '{s}'"),
            Tok::Open => "'('".into(),
            Tok::Close => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Slash => "'/'".into(),
            Tok::Colon => "':'".into(),
            Tok::End => "the end of the filter".into(),
        };
        clause(format!("expected {what} at position {} but found {found}", self.tokens[self.pos].1))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), GraphError> {
        if *self.peek() != tok {
            return Err(self.expected(what));
        }
        self.pos += 1;
        Ok(())
    }

    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T, GraphError>) -> Result<T, GraphError> {
        if self.depth == MAX_DEPTH {
            return Err(clause(format!("the filter nests deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<UserFilter, GraphError> {
        let mut parts = vec![self.and()?];
        while self.is_keyword("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(combine(parts, UserFilter::Or))
    }

    fn and(&mut self) -> Result<UserFilter, GraphError> {
        let mut parts = vec![self.unary()?];
        while self.is_keyword("and") {
            // any(a and b) is not any(a) and any(b), and UserFilter can only express the latter.
            if self.range.is_some() {
                return Err(unsupported("Inside any(), conditions can only be joined with 'or'."));
            }
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(combine(parts, UserFilter::And))
    }

    fn unary(&mut self) -> Result<UserFilter, GraphError> {
        if !self.is_keyword("not") {
            return self.primary();
        }
        if self.range.is_some() {
            return Err(unsupported("'not' is not supported inside any()."));
        }
        self.pos += 1;
        self.advanced = true;
        Ok(UserFilter::Not(Box::new(self.nested(Self::unary)?)))
    }

    fn primary(&mut self) -> Result<UserFilter, GraphError> {
        match self.peek().clone() {
            Tok::Open => {
                self.pos += 1;
                let inner = self.nested(Self::or)?;
                self.expect(Tok::Close, "')'")?;
                Ok(inner)
            }
            Tok::Word(name) if self.tokens[self.pos + 1].0 == Tok::Open => {
                self.pos += 1;
                self.function(&name)
            }
            Tok::Word(name) if is_name(&name) => {
                self.pos += 1;
                self.comparison(&name)
            }
            _ => Err(self.expected("a condition")),
        }
    }

    fn function(&mut self, name: &str) -> Result<UserFilter, GraphError> {
        let op = match name.to_ascii_lowercase().as_str() {
            "startswith" => Op::StartsWith,
            "endswith" => {
                self.advanced = true;
                Op::EndsWith
            }
            _ => return Err(unsupported(format!("The function '{name}' is not supported on users."))),
        };
        self.expect(Tok::Open, "'('")?;
        let Tok::Word(arg) = self.peek().clone() else {
            return Err(self.expected("a property name"));
        };
        self.pos += 1;
        let property = self.resolve(&arg)?;
        if property.collection {
            return Err(collection_only_with_any(property));
        }
        self.expect(Tok::Comma, "','")?;
        let value = self.literal()?;
        self.expect(Tok::Close, "')'")?;
        self.compile(property, op, value)
    }

    fn comparison(&mut self, name: &str) -> Result<UserFilter, GraphError> {
        let property = self.resolve(name)?;
        if property.collection {
            return self.lambda(property);
        }
        let op = match self.peek() {
            Tok::Word(w) => w.to_ascii_lowercase(),
            _ => String::new(),
        };
        let op = match op.as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "in" => {
                self.pos += 1;
                return self.membership(property);
            }
            _ => return Err(self.expected("a comparison operator (eq, ne, gt, ge, lt, le or in)")),
        };
        self.pos += 1;
        let value = self.literal()?;
        self.compile(property, op, value)
    }

    fn membership(&mut self, property: Property) -> Result<UserFilter, GraphError> {
        self.expect(Tok::Open, "'(' after 'in'")?;
        let mut parts = Vec::new();
        loop {
            let value = self.literal()?;
            parts.push(self.compile(property, Op::Eq, value)?);
            if *self.peek() != Tok::Comma {
                break;
            }
            self.pos += 1;
        }
        self.expect(Tok::Close, "',' or ')'")?;
        Ok(combine(parts, UserFilter::Or))
    }

    fn lambda(&mut self, collection: Property) -> Result<UserFilter, GraphError> {
        if *self.peek() != Tok::Slash {
            return Err(collection_only_with_any(collection));
        }
        self.pos += 1;
        if self.is_keyword("all") {
            return Err(unsupported("The lambda operator 'all' is not supported; use 'any'."));
        }
        if !self.is_keyword("any") {
            return Err(self.expected("'any'"));
        }
        self.pos += 1;
        self.expect(Tok::Open, "'('")?;
        if *self.peek() == Tok::Close {
            self.pos += 1;
            return Ok(UserFilter::Present(collection.attr));
        }
        let variable = match self.peek() {
            Tok::Word(w) if is_name(w) => w.clone(),
            _ => return Err(self.expected("a range variable name")),
        };
        self.pos += 1;
        self.expect(Tok::Colon, "':'")?;
        self.range = Some((variable, collection));
        let body = self.nested(Self::or);
        self.range = None;
        let body = body?;
        self.expect(Tok::Close, "')'")?;
        Ok(body)
    }

    /// The property a name refers to; inside `any()` only the range variable may be named.
    fn resolve(&self, name: &str) -> Result<Property, GraphError> {
        if let Some((variable, collection)) = &self.range {
            if name == variable {
                return Ok(Property { collection: false, ..*collection });
            }
            return Err(clause(format!(
                "only the range variable '{variable}' can be used inside {}/any(), not '{name}'",
                collection.name
            )));
        }
        if let Some(property) = PROPERTIES.iter().find(|p| p.name.eq_ignore_ascii_case(name)) {
            return Ok(*property);
        }
        if super::user::PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            return Err(unsupported(format!("Filtering on '{name}' is not supported.")));
        }
        Err(GraphError::unknown_property(name))
    }

    fn literal(&mut self) -> Result<Literal, GraphError> {
        let at = self.tokens[self.pos].1;
        let literal = match self.peek() {
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Tok::Word(w) => match OffsetDateTime::parse(w, &Rfc3339) {
                Ok(t) => Literal::Time(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64)),
                Err(_) => {
                    return Err(clause(format!(
                        "'{w}' at position {at} is not a value: text goes in single quotes ('{w}') and dates \
                         are written like 2024-01-01T00:00:00Z"
                    )))
                }
            },
            _ => return Err(self.expected("a value")),
        };
        self.pos += 1;
        Ok(literal)
    }

    fn compile(&mut self, property: Property, op: Op, literal: Literal) -> Result<UserFilter, GraphError> {
        let function = matches!(op, Op::StartsWith | Op::EndsWith);
        let supported = match property.kind {
            Kind::Id | Kind::Bool => matches!(op, Op::Eq | Op::Ne),
            Kind::Text | Kind::Phone => true,
            Kind::Time => !function,
        };
        if !supported {
            return Err(unsupported(format!("'{}' is not supported on '{}'.", op_name(op), property.name)));
        }
        // any(x: x ne 'a') means "some other value exists", which UserFilter cannot express.
        if self.range.is_some() && (op == Op::Ne || literal == Literal::Null) {
            return Err(unsupported(format!(
                "Inside {}/any(), compare with a value using eq, in, ge, gt, le, lt, startswith or endswith.",
                property.name
            )));
        }
        if op == Op::Ne {
            self.advanced = true;
        }
        let value = match (property.kind, literal) {
            (_, Literal::Null) => {
                return match op {
                    Op::Eq => {
                        self.advanced = true;
                        Ok(UserFilter::Not(Box::new(UserFilter::Present(property.attr))))
                    }
                    Op::Ne => Ok(UserFilter::Present(property.attr)),
                    _ => Err(clause(format!("null can only be compared with eq or ne, not '{}'", op_name(op)))),
                };
            }
            (Kind::Phone, Literal::Text(s)) => Value::Text(normalise_phone(&s)),
            (Kind::Id | Kind::Text, Literal::Text(s)) => Value::Text(s),
            (Kind::Bool, Literal::Bool(b)) => Value::Bool(b),
            (Kind::Time, Literal::Time(t)) => Value::Time(t),
            (kind, literal) => {
                return Err(GraphError::bad_request(if function {
                    format!(
                        "No function signature for the function with name '{}' matches the specified arguments.",
                        op_name(op)
                    )
                } else {
                    format!(
                        "A binary operator with incompatible types was detected. Found operand types '{}' and \
                         '{}' for operator kind '{}' on property '{}'.",
                        kind.edm(),
                        literal.edm(),
                        operator_kind(op),
                        property.name
                    )
                }));
            }
        };
        Ok(UserFilter::Compare { attr: property.attr, op, value })
    }
}

/// Whether a word can name a property or range variable (rather than be a literal).
fn is_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && !["true", "false", "null"].iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// One condition as itself, several joined by `join`.
pub(crate) fn combine(mut parts: Vec<UserFilter>, join: fn(Vec<UserFilter>) -> UserFilter) -> UserFilter {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        join(parts)
    }
}

fn unsupported(reason: impl std::fmt::Display) -> GraphError {
    GraphError::unsupported_query(reason)
}

fn collection_only_with_any(collection: Property) -> GraphError {
    unsupported(format!("'{0}' is a collection: filter it with any(), as in {0}/any(x:x eq 'value').", collection.name))
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "eq",
        Op::Ne => "ne",
        Op::StartsWith => "startswith",
        Op::EndsWith => "endswith",
        Op::Contains => "contains",
        Op::Gt => "gt",
        Op::Ge => "ge",
        Op::Lt => "lt",
        Op::Le => "le",
    }
}

/// OData's name for a binary operator, as Graph's type errors use it.
fn operator_kind(op: Op) -> &'static str {
    match op {
        Op::Eq => "Equal",
        Op::Ne => "NotEqual",
        Op::Gt => "GreaterThan",
        Op::Ge => "GreaterThanOrEqual",
        Op::Lt => "LessThan",
        Op::Le => "LessThanOrEqual",
        Op::StartsWith | Op::EndsWith | Op::Contains => op_name(op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> UserFilter {
        parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}")).filter
    }

    fn error(text: &str) -> GraphError {
        parse_filter(text).expect_err(text)
    }

    fn cmp(attr: Attr, op: Op, value: &str) -> UserFilter {
        UserFilter::Compare { attr, op, value: Value::Text(value.into()) }
    }

    #[test]
    fn compiles_comparisons_and_maps_properties() {
        assert_eq!(parse("displayName eq 'Adele Vance'"), UserFilter::eq(Attr::DisplayName, "Adele Vance"));
        assert_eq!(parse("mail eq 'a@contoso.com'"), UserFilter::eq(Attr::Mail, "a@contoso.com"));
        assert_eq!(parse("employeeId eq '701984'"), UserFilter::eq(Attr::EmployeeId, "701984"));
        assert_eq!(parse("givenName ge 'M'"), cmp(Attr::FirstName, Op::Ge, "M"));
        assert_eq!(parse("officeLocation lt 'B'"), cmp(Attr::Office, Op::Lt, "B"));
        assert_eq!(parse("startswith(surname,'Van')"), cmp(Attr::LastName, Op::StartsWith, "Van"));
        let enabled = parse("accountEnabled eq false");
        assert_eq!(enabled, UserFilter::Compare { attr: Attr::Enabled, op: Op::Eq, value: Value::Bool(false) });
        assert!(!parse_filter("id eq 'x' and startswith(jobTitle,'Eng')").unwrap().advanced);
    }

    #[test]
    fn operators_functions_and_properties_ignore_case() {
        assert_eq!(parse("DISPLAYNAME EQ 'a'"), parse("displayName eq 'a'"));
        assert_eq!(
            parse("StartsWith(JobTitle,'x') Or Not city Eq 'y'"),
            parse("startswith(jobTitle,'x') or not city eq 'y'")
        );
        assert_eq!(parse("accountEnabled eq TRUE"), parse("accountEnabled eq true"));
    }

    #[test]
    fn string_literals_escape_quotes_by_doubling() {
        assert_eq!(parse("surname eq 'O''Brien'"), UserFilter::eq(Attr::LastName, "O'Brien"));
        assert_eq!(parse("city eq ''''"), UserFilter::eq(Attr::City, "'"));
        assert_eq!(parse("city eq ''"), UserFilter::eq(Attr::City, ""));
        assert_eq!(parse("city eq ' and or ( '"), UserFilter::eq(Attr::City, " and or ( "));
        assert_eq!(parse("city eq 'Zürich'"), UserFilter::eq(Attr::City, "Zürich"));
    }

    #[test]
    fn whitespace_is_free_between_tokens() {
        let spaced = parse("  (  city  eq\t'a' )  and  startswith ( state , 'b' ) ");
        assert_eq!(spaced, parse("(city eq 'a')and startswith(state,'b')"));
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let (a, b, c) =
            (UserFilter::eq(Attr::City, "a"), UserFilter::eq(Attr::City, "b"), UserFilter::eq(Attr::City, "c"));
        let not_c = UserFilter::Not(Box::new(c.clone()));
        assert_eq!(
            parse("city eq 'a' or city eq 'b' and not city eq 'c'"),
            UserFilter::Or(vec![a.clone(), UserFilter::And(vec![b.clone(), not_c.clone()])])
        );
        assert_eq!(
            parse("not city eq 'c' and city eq 'a' or city eq 'b'"),
            UserFilter::Or(vec![UserFilter::And(vec![not_c, a.clone()]), b.clone()])
        );
        assert_eq!(
            parse("(city eq 'a' or city eq 'b') and city eq 'c'"),
            UserFilter::And(vec![UserFilter::Or(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(parse("city eq 'a' and city eq 'b' and city eq 'c'"), UserFilter::And(vec![a, b, c]));
    }

    #[test]
    fn negations_endswith_and_null_need_an_advanced_query() {
        for text in ["city ne 'a'", "not (city eq 'a')", "endswith(mail,'@contoso.com')", "jobTitle eq null"] {
            assert!(parse_filter(text).unwrap().advanced, "{text}");
        }
        assert_eq!(parse("jobTitle eq null"), UserFilter::Not(Box::new(UserFilter::Present(Attr::JobTitle))));
        assert_eq!(parse("jobTitle ne null"), UserFilter::Present(Attr::JobTitle));
        assert_eq!(parse("city ne 'a'"), cmp(Attr::City, Op::Ne, "a"));
        assert_eq!(parse("endswith(mail,'.com')"), cmp(Attr::Mail, Op::EndsWith, ".com"));
    }

    #[test]
    fn dates_are_unquoted_rfc3339_literals() {
        let at =
            |op| UserFilter::Compare { attr: Attr::CreatedAt, op, value: Value::Time(Timestamp(1_704_067_200_000)) };
        assert_eq!(parse("createdDateTime ge 2024-01-01T00:00:00Z"), at(Op::Ge));
        assert_eq!(parse("createdDateTime lt 2024-01-01T02:00:00+02:00"), at(Op::Lt));
        let quoted = error("createdDateTime ge '2024-01-01T00:00:00Z'");
        assert_eq!(quoted.code, "Request_BadRequest");
        assert!(quoted.message.contains("'Edm.DateTimeOffset' and 'Edm.String'"), "{}", quoted.message);
        assert!(error("createdDateTime ge 2024-13-01T00:00:00Z").message.contains("is not a value"));
        assert_eq!(error("startswith(createdDateTime,'2024')").code, "Request_UnsupportedQuery");
    }

    #[test]
    fn in_is_a_disjunction_of_equalities() {
        assert_eq!(
            parse("department in ('Sales', 'HR')"),
            UserFilter::Or(vec![UserFilter::eq(Attr::Department, "Sales"), UserFilter::eq(Attr::Department, "HR")])
        );
        assert_eq!(parse("id in ('x')"), UserFilter::eq(Attr::Id, "x"));
        assert!(error("department in ()").message.contains("expected a value"));
        assert!(error("department in ('a' 'b')").message.contains("expected ',' or ')'"));
    }

    #[test]
    fn collections_are_filtered_through_any() {
        let mail = |op, v| cmp(Attr::AlternateEmail, op, v);
        assert_eq!(parse("otherMails/any(x:x eq 'a@b.com')"), mail(Op::Eq, "a@b.com"));
        assert_eq!(parse("otherMails/ANY( m : startswith(m, 'a') )"), mail(Op::StartsWith, "a"));
        assert_eq!(
            parse("otherMails/any(x:x eq 'a' or x in ('b'))"),
            UserFilter::Or(vec![mail(Op::Eq, "a"), mail(Op::Eq, "b")])
        );
        assert_eq!(parse("otherMails/any()"), UserFilter::Present(Attr::AlternateEmail));
        assert_eq!(
            parse("businessPhones/any(p:p eq '+1 425-555-0101')"),
            cmp(Attr::OfficePhone, Op::Eq, "+14255550101")
        );
        assert_eq!(
            parse("otherMails/any(x:x eq 'a') and city eq 'b'"),
            UserFilter::And(vec![mail(Op::Eq, "a"), UserFilter::eq(Attr::City, "b")])
        );
        for text in [
            "otherMails eq 'a'",
            "startswith(otherMails,'a')",
            "otherMails/all(x:x eq 'a')",
            "otherMails/any(x:x ne 'a')",
            "otherMails/any(x:x eq 'a' and x eq 'b')",
            "otherMails/any(x:not x eq 'a')",
        ] {
            assert_eq!(error(text).code, "Request_UnsupportedQuery", "{text}");
        }
        assert!(error("otherMails/any(x:y eq 'a')").message.contains("range variable 'x'"));
        assert!(error("otherMails/any(x:city eq 'a')").message.contains("not 'city'"));
    }

    #[test]
    fn phone_values_lose_their_punctuation() {
        assert_eq!(
            parse("mobilePhone eq '+1 (425) 555-0101 ext. 12'"),
            UserFilter::eq(Attr::MobilePhone, "+14255550101x12")
        );
        assert_eq!(parse("startswith(faxNumber,'+44 20')"), cmp(Attr::Fax, Op::StartsWith, "+4420"));
        assert_eq!(parse("jobTitle eq 'A-B (C)'"), UserFilter::eq(Attr::JobTitle, "A-B (C)"));
    }

    #[test]
    fn unknown_and_unfilterable_properties_are_named() {
        let unknown = error("foo eq 'a'");
        assert_eq!(unknown.code, "Request_BadRequest");
        assert_eq!(unknown.message, "Property 'foo' does not exist on type 'microsoft.graph.user'.");
        assert_eq!(error("employeeOrgData eq 'en'").code, "Request_UnsupportedQuery");
    }

    #[test]
    fn operators_a_property_lacks_are_unsupported() {
        for text in [
            "startswith(accountEnabled,'t')",
            "accountEnabled gt true",
            "startswith(id,'a')",
            "contains(displayName,'a')",
        ] {
            let e = error(text);
            assert_eq!((e.status, e.code), (400, "Request_UnsupportedQuery"), "{text}");
            assert!(e.message.starts_with("Unsupported Query."), "{}", e.message);
        }
        let mismatch = error("accountEnabled eq 'true'");
        assert_eq!(mismatch.code, "Request_BadRequest");
        assert!(mismatch.message.contains("'Edm.Boolean' and 'Edm.String'"), "{}", mismatch.message);
        assert!(error("startswith(city,true)").message.contains("'startswith'"));
        assert!(error("city gt null").message.contains("null can only be compared"));
    }

    #[test]
    fn syntax_errors_say_what_was_expected_and_where() {
        let cases = [
            (
                "displayName eqq 'a'",
                "expected a comparison operator (eq, ne, gt, ge, lt, le or in) at position 12 but found 'eqq'",
            ),
            ("displayName eq 'a", "the string starting at position 15 has no closing quote"),
            ("displayName eq \"a\"", "unexpected character '\"' at position 15"),
            (
                "displayName eq 'a' city",
                "expected 'and', 'or' or the end of the filter at position 19 but found 'city'",
            ),
            ("(displayName eq 'a'", "expected ')' at position 19 but found the end of the filter"),
            ("", "expected a condition at position 0 but found the end of the filter"),
            ("city eq 'a' and", "expected a condition at position 15"),
            ("displayName eq adele", "'adele' at position 15 is not a value"),
            ("startswith(city 'a')", "expected ',' at position 16 but found the string 'a'"),
            ("true", "expected a condition at position 0 but found 'true'"),
        ];
        for (text, wanted) in cases {
            let e = error(text);
            assert_eq!(e.code, "Request_BadRequest", "{text}");
            assert!(e.message.starts_with("Invalid filter clause: "), "{}", e.message);
            assert!(e.message.contains(wanted), "{text}: {}", e.message);
        }
    }

    #[test]
    fn refuses_deep_nesting_and_long_filters() {
        let nested = |n: usize| format!("{}city eq 'a'{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nested(MAX_DEPTH)).is_ok());
        assert!(error(&nested(MAX_DEPTH + 1)).message.contains("nests deeper than 32 levels"));
        assert!(error(&format!("{}city eq 'a'", "not ".repeat(1000))).message.contains("nests deeper"));
        assert!(error(&nested(5000)).message.contains("longer than 4096 characters"));
        let long = format!("city eq '{}'", "a".repeat(MAX_LEN));
        assert!(error(&long).message.contains("longer than"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = parse_filter(&text);
        }

        #[test]
        fn never_panics_on_filter_like_text(parts in proptest::collection::vec(
            prop_oneof![
                Just("city"), Just("eq"), Just("'a'"), Just("("), Just(")"), Just("and"), Just("or"), Just("not"),
                Just("otherMails/any(x:"), Just("x"), Just(","), Just("in"), Just("startswith("), Just("null"),
            ],
            0..24,
        )) {
            let _ = parse_filter(&parts.join(" "));
        }

        #[test]
        fn any_string_round_trips_through_a_literal(value in "\\PC{0,40}") {
            let text = format!("city eq '{}'", value.replace('\'', "''"));
            prop_assert_eq!(parse_filter(&text).unwrap().filter, UserFilter::eq(Attr::City, &value));
        }
    }
}
