//! SCIM filters (RFC 7644 §3.4.2.2): the grammar, its canonical text, and an evaluator over a
//! resource held as JSON.
//!
//! `not` binds tighter than `and`, which binds tighter than `or`; operators, keywords, literals
//! and attribute names are case-insensitive. The ABNF writes `not(…)`; a space after `not` is
//! also accepted, and any run of whitespace stands for the ABNF's single space.
//!
//! How [`matches()`] reads a filter, where the RFC leaves room:
//! - A multi-valued attribute matches when any of its values does; a complex value is compared
//!   through its `value` sub-attribute, so `emails co "x"` means `emails.value co "x"`.
//! - `ne` is the negation of `eq`: it holds when no value equals, including when there is no
//!   value at all. This is how Roster's user filters read `ne`, so the two agree.
//! - A null, an empty string, an empty array and a missing attribute are all "unassigned"
//!   (RFC 7643 §2.5): `pr` is false for them, `eq null` means "not present" and `ne null`
//!   means "present"; other operators never match null.
//! - Booleans only compare with `eq` and `ne`; numbers compare numerically; a value of another
//!   JSON type than the attribute's never matches (so `ne` with it always does).
//! - Strings compare case-insensitively unless the caller's `case_exact` says otherwise.
//!   `gt`/`ge`/`lt`/`le` order strings by code point, except for the dateTime attributes every
//!   resource has, `meta.created` and `meta.lastModified`, which compare as instants when both
//!   sides are RFC 3339 times. Text order is chronological only when both sides are UTC `Z`
//!   times written with the same precision, which is why those two are told apart.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Number, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ScimError;

/// Longest filter accepted, in characters.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not (…)` and value filters; bounds the parser's recursion.
pub const MAX_DEPTH: usize = 32;

/// An attribute path (RFC 7644 §3.10): an optional schema URN, an attribute and a sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN written before the attribute, e.g. the enterprise extension's.
    pub urn: Option<String>,
    /// The attribute's name, as written.
    pub attr: String,
    /// The sub-attribute after the dot, as in `name.givenName`.
    pub sub_attr: Option<String>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`.
    Compare { path: AttrPath, op: CompareOp, value: CompValue },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `path[filter]`: some value of a (multi-valued) complex attribute satisfies the filter,
    /// whose paths name sub-attributes of that value.
    ValuePath { path: AttrPath, filter: Box<Filter> },
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// `not (…)`.
    Not(Box<Filter>),
}

impl AttrPath {
    /// A path to an attribute with no URN and no sub-attribute.
    pub fn new(attr: impl Into<String>) -> Self {
        AttrPath { urn: None, attr: attr.into(), sub_attr: None }
    }

    /// Whether the path names `attr` and `sub_attr`, ignoring case and any URN.
    pub fn is(&self, attr: &str, sub_attr: Option<&str>) -> bool {
        self.attr.eq_ignore_ascii_case(attr)
            && match (&self.sub_attr, sub_attr) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl CompareOp {
    /// Every operator, in RFC 7644's order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator's keyword, lower-case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_keyword(word: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => f.write_str(&Value::String(s.clone()).to_string()),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parentheses only where the parse would otherwise group differently: `and` and `or`
        // associate to the left, so a right operand of the same kind needs them too.
        fn operand(f: &mut fmt::Formatter<'_>, filter: &Filter, group: bool) -> fmt::Result {
            if group {
                write!(f, "({filter})")
            } else {
                write!(f, "{filter}")
            }
        }
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(a, b) => {
                operand(f, a, matches!(**a, Filter::Or(..)))?;
                f.write_str(" and ")?;
                operand(f, b, matches!(**b, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(a, b) => {
                operand(f, a, false)?;
                f.write_str(" or ")?;
                operand(f, b, matches!(**b, Filter::Or(..)))
            }
        }
    }
}

/// Parses a (URL-decoded) `filter` parameter.
pub fn parse(text: &str) -> Result<Filter, ScimError> {
    if text.chars().count() > MAX_LEN {
        return Err(ScimError::invalid_filter(format!("The filter is longer than {MAX_LEN} characters.")));
    }
    let mut parser = Parser::new(text, "filter");
    let filter = parser.or(false).map_err(ScimError::invalid_filter)?;
    parser.end("'and', 'or' or the end of the filter").map_err(ScimError::invalid_filter)?;
    Ok(filter)
}

/// A lexical token.
#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(&'a str),
    Str(String),
    Num(Number),
    End,
}

/// A token and the byte range it covers.
struct Lexed<'a> {
    tok: Tok<'a>,
    start: usize,
    end: usize,
}

/// A recursive-descent parser over filter text, also used for PATCH paths. Errors are details
/// for people; the caller picks the `scimType`.
pub(crate) struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
    depth: usize,
    /// What the text is ("filter" or "path"), for messages.
    what: &'static str,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_:.$".contains(c)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    name == "$ref"
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// Splits `[URN ":"] ATTRNAME ["." ATTRNAME]` at the last colon, since URNs contain colons and
/// dots but attribute names contain neither.
fn attr_path(word: &str) -> Result<AttrPath, String> {
    let (urn, rest) = match word.rfind(':') {
        Some(i) => (Some(&word[..i]), &word[i + 1..]),
        None => (None, word),
    };
    if let Some(urn) = urn {
        let segments_ok = urn.split(':').all(|s| !s.is_empty() && !s.contains('$'));
        if !segments_ok || !urn.contains(':') || !urn.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!("'{word}' does not start with a valid schema URN"));
        }
    }
    let (attr, sub_attr) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    if !is_name(attr) || sub_attr.is_some_and(|s| !is_name(s)) {
        return Err(format!("'{word}' is not a valid attribute path"));
    }
    Ok(AttrPath { urn: urn.map(str::to_string), attr: attr.to_string(), sub_attr: sub_attr.map(str::to_string) })
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str, what: &'static str) -> Self {
        Parser { text, pos: 0, depth: 0, what }
    }

    /// The 1-based character position of a byte offset.
    fn column(&self, byte: usize) -> usize {
        self.text[..byte].chars().count() + 1
    }

    fn lex(&self, from: usize) -> Result<Lexed<'a>, String> {
        let rest = &self.text[from..];
        let start = from + (rest.len() - rest.trim_start().len());
        let Some(c) = self.text[start..].chars().next() else {
            return Ok(Lexed { tok: Tok::End, start, end: start });
        };
        let single = |tok| Ok(Lexed { tok, start, end: start + 1 });
        match c {
            '(' => single(Tok::Open),
            ')' => single(Tok::Close),
            '[' => single(Tok::OpenBracket),
            ']' => single(Tok::CloseBracket),
            '"' => self.string(start),
            '-' | '0'..='9' => self.number(start),
            c if c.is_ascii_alphabetic() || c == '$' => {
                let len = self.text[start..].find(|c| !is_word_char(c)).unwrap_or(self.text.len() - start);
                Ok(Lexed { tok: Tok::Word(&self.text[start..start + len]), start, end: start + len })
            }
            c => Err(format!("Unexpected character '{c}' at position {}.", self.column(start))),
        }
    }

    fn string(&self, start: usize) -> Result<Lexed<'a>, String> {
        let mut escaped = false;
        for (i, c) in self.text[start + 1..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    let end = start + 1 + i + 1;
                    return serde_json::from_str::<String>(&self.text[start..end])
                        .map(|s| Lexed { tok: Tok::Str(s), start, end })
                        .map_err(|_| {
                            format!(
                                "The string at position {} has an invalid escape or an unescaped control character.",
                                self.column(start)
                            )
                        });
                }
                _ => {}
            }
        }
        Err(format!("The string starting at position {} has no closing '\"'.", self.column(start)))
    }

    /// Reads a JSON number. Its value is parsed here rather than by serde_json so that the
    /// text printed for a float reads back as the same float.
    fn number(&self, start: usize) -> Result<Lexed<'a>, String> {
        let bytes = self.text.as_bytes();
        let digits = |mut i: usize| {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        let invalid = || format!("Invalid number at position {}.", self.column(start));
        let mut i = start + usize::from(bytes[start] == b'-');
        let int_end = digits(i);
        if int_end == i || (bytes[i] == b'0' && int_end > i + 1) {
            return Err(invalid());
        }
        i = int_end;
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            let frac_end = digits(i + 1);
            if frac_end == i + 1 {
                return Err(invalid());
            }
            i = frac_end;
            integer = false;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            let exp_end = digits(j);
            if exp_end == j {
                return Err(invalid());
            }
            i = exp_end;
            integer = false;
        }
        let text = &self.text[start..i];
        let number = if integer {
            text.parse::<i64>()
                .map(Number::from)
                .ok()
                .or_else(|| text.parse::<u64>().ok().map(Number::from))
                .or_else(|| text.parse::<f64>().ok().and_then(Number::from_f64))
        } else {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        };
        let number = number.ok_or_else(|| format!("The number at position {} is out of range.", self.column(start)))?;
        Ok(Lexed { tok: Tok::Num(number), start, end: i })
    }

    fn peek(&self) -> Result<Lexed<'a>, String> {
        self.lex(self.pos)
    }

    fn describe(&self, tok: &Tok<'_>) -> String {
        match tok {
            Tok::Open => "'('".into(),
            Tok::Close => "')'".into(),
            Tok::OpenBracket => "'['".into(),
            Tok::CloseBracket => "']'".into(),
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(_) => "a string".into(),
            Tok::Num(_) => "a number".into(),
            Tok::End => format!("the end of the {}", self.what),
        }
    }

    fn expected(&self, what: &str, found: &Lexed<'_>) -> String {
        format!("Expected {what} at position {}, found {}.", self.column(found.start), self.describe(&found.tok))
    }

    /// Checks that nothing but whitespace is left.
    pub(crate) fn end(&mut self, what: &str) -> Result<(), String> {
        let next = self.peek()?;
        if next.tok == Tok::End {
            Ok(())
        } else {
            Err(self.expected(what, &next))
        }
    }

    fn keyword(&mut self, keyword: &str) -> Result<bool, String> {
        let next = self.peek()?;
        match next.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case(keyword) => {
                self.pos = next.end;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Parses `inner`, having just read the opening token at `start`, up to `close`.
    fn nested(
        &mut self,
        start: usize,
        close: Tok<'static>,
        expected: &str,
        inner: impl FnOnce(&mut Self) -> Result<Filter, String>,
    ) -> Result<Filter, String> {
        if self.depth == MAX_DEPTH {
            return Err(format!(
                "The {} nests deeper than {MAX_DEPTH} levels at position {}.",
                self.what,
                self.column(start)
            ));
        }
        self.depth += 1;
        let filter = inner(self)?;
        let next = self.peek()?;
        if next.tok != close {
            return Err(self.expected(expected, &next));
        }
        self.pos = next.end;
        self.depth -= 1;
        Ok(filter)
    }

    pub(crate) fn or(&mut self, in_value_filter: bool) -> Result<Filter, String> {
        let mut left = self.and(in_value_filter)?;
        while self.keyword("or")? {
            let right = self.and(in_value_filter)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, in_value_filter: bool) -> Result<Filter, String> {
        let mut left = self.unary(in_value_filter)?;
        while self.keyword("and")? {
            let right = self.unary(in_value_filter)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, in_value_filter: bool) -> Result<Filter, String> {
        let next = self.peek()?;
        let group_end = "'and', 'or' or ')'";
        match next.tok {
            Tok::Open => {
                self.pos = next.end;
                self.nested(next.start, Tok::Close, group_end, |p| p.or(in_value_filter))
            }
            Tok::Word(word) => {
                if word.eq_ignore_ascii_case("not") {
                    let after = self.lex(next.end)?;
                    match after.tok {
                        Tok::Open => {
                            self.pos = after.end;
                            let inner = self.nested(after.start, Tok::Close, group_end, |p| p.or(in_value_filter))?;
                            return Ok(Filter::Not(Box::new(inner)));
                        }
                        // An attribute that happens to be called "not".
                        Tok::OpenBracket => {}
                        Tok::Word(w) if w.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(w).is_some() => {}
                        _ => return Err(self.expected("'(' after 'not'", &after)),
                    }
                }
                let path = self.attr_path()?;
                self.after_path(path, in_value_filter)
            }
            _ => Err(self.expected("an attribute name, 'not' or '('", &next)),
        }
    }

    fn after_path(&mut self, path: AttrPath, in_value_filter: bool) -> Result<Filter, String> {
        let next = self.peek()?;
        if in_value_filter && next.tok == Tok::OpenBracket {
            return Err(format!("Value filters can't be nested: '[' at position {}.", self.column(next.start)));
        }
        if let Some(filter) = self.value_filter(&path)? {
            return Ok(Filter::ValuePath { path, filter: Box::new(filter) });
        }
        if let Tok::Word(w) = next.tok {
            if w.eq_ignore_ascii_case("pr") {
                self.pos = next.end;
                return Ok(Filter::Present(path));
            }
            if let Some(op) = CompareOp::from_keyword(w) {
                self.pos = next.end;
                let value = self.comp_value()?;
                return Ok(Filter::Compare { path, op, value });
            }
        }
        Err(self.expected(&format!("an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after '{path}'"), &next))
    }

    fn comp_value(&mut self) -> Result<CompValue, String> {
        let next = self.peek()?;
        let value = match &next.tok {
            Tok::Str(s) => CompValue::String(s.clone()),
            Tok::Num(n) => CompValue::Number(n.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                return Err(self.expected("a value (a string in double quotes, a number, true, false or null)", &next));
            }
        };
        self.pos = next.end;
        Ok(value)
    }

    /// Reads one attribute path.
    pub(crate) fn attr_path(&mut self) -> Result<AttrPath, String> {
        let next = self.peek()?;
        match next.tok {
            Tok::Word(word) => {
                self.pos = next.end;
                attr_path(word).map_err(|m| format!("{m} (position {}).", self.column(next.start)))
            }
            _ => Err(self.expected("an attribute name", &next)),
        }
    }

    /// Reads `[valFilter]` after `path` if a `[` comes next.
    pub(crate) fn value_filter(&mut self, path: &AttrPath) -> Result<Option<Filter>, String> {
        let next = self.peek()?;
        if next.tok != Tok::OpenBracket {
            return Ok(None);
        }
        if let Some(sub) = &path.sub_attr {
            return Err(format!(
                "A value filter follows a multi-valued attribute, not the sub-attribute '{sub}' (position {}).",
                self.column(next.start)
            ));
        }
        self.pos = next.end;
        self.nested(next.start, Tok::CloseBracket, "'and', 'or' or ']'", |p| p.or(true)).map(Some)
    }

    /// Reads `.name` if a dot comes right next, as after a value filter in a PATCH path.
    pub(crate) fn sub_attr(&mut self) -> Result<Option<String>, String> {
        if !self.text[self.pos..].starts_with('.') {
            return Ok(None);
        }
        let start = self.pos + 1;
        let len = self.text[start..].find(|c: char| !is_word_char(c)).unwrap_or(self.text.len() - start);
        let name = &self.text[start..start + len];
        if !is_name(name) {
            return Err(format!(
                "Expected a sub-attribute name after '.' at position {}, found '{name}'.",
                self.column(start)
            ));
        }
        self.pos = start + len;
        Ok(Some(name.to_string()))
    }
}

/// Whether `resource` satisfies `filter`; `case_exact` tells which string attributes compare
/// with case (it is given full paths, such as `emails.type` inside `emails[…]`).
pub fn matches(filter: &Filter, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    eval(filter, resource, None, case_exact)
}

/// Whether one value of the complex attribute `parent` satisfies a value filter.
pub(crate) fn matches_value(
    filter: &Filter,
    value: &Value,
    parent: &AttrPath,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    eval(filter, value, Some(parent), case_exact)
}

fn eval(filter: &Filter, node: &Value, parent: Option<&AttrPath>, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, node, parent, case_exact) && eval(b, node, parent, case_exact),
        Filter::Or(a, b) => eval(a, node, parent, case_exact) || eval(b, node, parent, case_exact),
        Filter::Not(inner) => !eval(inner, node, parent, case_exact),
        Filter::Present(path) => resolve(node, path).into_iter().any(is_present),
        Filter::Compare { path, op, value } => {
            let full = full_path(parent, path);
            let date_time = full.is("meta", Some("created")) || full.is("meta", Some("lastModified"));
            compare(&resolve(node, path), *op, value, case_exact(&full), date_time)
        }
        Filter::ValuePath { path, filter } => {
            let full = full_path(parent, path);
            resolve(node, path).into_iter().any(|v| eval(filter, v, Some(&full), case_exact))
        }
    }
}

fn full_path(parent: Option<&AttrPath>, path: &AttrPath) -> AttrPath {
    match parent {
        None => path.clone(),
        Some(p) => AttrPath { urn: p.urn.clone(), attr: p.attr.clone(), sub_attr: Some(path.attr.clone()) },
    }
}

/// The member of a JSON object whose name equals `name` ignoring case.
pub(crate) fn member<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Whether a resource lists `urn` among its `schemas`.
pub(crate) fn lists_schema(resource: &Value, urn: &str) -> bool {
    member(resource, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn))))
}

/// The values a path reaches: an extension's attributes sit in an object under its URN, the
/// core schema's at the top; arrays are flattened.
fn resolve<'v>(node: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let container = match &path.urn {
        None => Some(node),
        Some(urn) => member(node, urn).or_else(|| lists_schema(node, urn).then_some(node)),
    };
    let Some(value) = container.and_then(|c| member(c, &path.attr)) else {
        return Vec::new();
    };
    let values = flatten(value);
    match &path.sub_attr {
        None => values,
        Some(sub) => values.into_iter().filter_map(|v| member(v, sub)).flat_map(flatten).collect(),
    }
}

fn flatten(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// RFC 7644's `pr`: a non-empty value, or a complex value with a non-empty member.
pub(crate) fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(members) => members.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(held: &[&Value], op: CompareOp, wanted: &CompValue, exact: bool, date_time: bool) -> bool {
    match (op, wanted) {
        (CompareOp::Eq, CompValue::Null) => !held.iter().any(|v| is_present(v)),
        (CompareOp::Ne, CompValue::Null) => held.iter().any(|v| is_present(v)),
        (_, CompValue::Null) => false,
        (CompareOp::Ne, _) => !compare(held, CompareOp::Eq, wanted, exact, date_time),
        _ => held.iter().any(|v| {
            let v = if v.is_object() { member(v, "value") } else { Some(*v) };
            v.is_some_and(|v| test(v, op, wanted, exact, date_time))
        }),
    }
}

fn test(held: &Value, op: CompareOp, wanted: &CompValue, exact: bool, date_time: bool) -> bool {
    match (held, wanted) {
        (Value::String(h), CompValue::String(w)) => {
            if date_time && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                if let (Some(h), Some(w)) = (parse_time(h), parse_time(w)) {
                    return ordered(op, h.cmp(&w));
                }
            }
            if exact {
                text(op, h, w)
            } else {
                text(op, &h.to_lowercase(), &w.to_lowercase())
            }
        }
        (Value::Number(h), CompValue::Number(w)) => compare_numbers(h, w).is_some_and(|o| ordered(op, o)),
        (Value::Bool(h), CompValue::Bool(w)) => op == CompareOp::Eq && h == w,
        _ => false,
    }
}

/// Parses an RFC 3339 time, as SCIM's dateTime values are written.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn text(op: CompareOp, held: &str, wanted: &str) -> bool {
    match op {
        CompareOp::Co => held.contains(wanted),
        CompareOp::Sw => held.starts_with(wanted),
        CompareOp::Ew => held.ends_with(wanted),
        _ => ordered(op, held.cmp(wanted)),
    }
}

fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn path(text: &str) -> AttrPath {
        attr_path(text).unwrap()
    }

    fn cmp(p: &str, op: CompareOp, value: &str) -> Filter {
        Filter::Compare { path: path(p), op, value: CompValue::String(value.into()) }
    }

    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn error(text: &str) -> String {
        let err = parse(text).unwrap_err();
        assert_eq!(err.scim_type, Some("invalidFilter"));
        assert_eq!(err.status, 400);
        err.detail
    }

    #[test]
    fn every_operator_parses() {
        for op in CompareOp::ALL {
            assert_eq!(parse(&format!("userName {op} \"bjensen\"")).unwrap(), cmp("userName", op, "bjensen"));
        }
        assert_eq!(parse("title pr").unwrap(), pr("title"));
    }

    #[test]
    fn keywords_and_literals_ignore_case() {
        assert_eq!(
            parse(r#"userName EQ "x" AND title PR Or not(active Eq TRUE)"#).unwrap(),
            or(
                and(cmp("userName", CompareOp::Eq, "x"), pr("title")),
                not(Filter::Compare { path: path("active"), op: CompareOp::Eq, value: CompValue::Bool(true) })
            )
        );
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let a = || pr("a");
        let b = || pr("b");
        let c = || pr("c");
        assert_eq!(parse("a pr or b pr and c pr").unwrap(), or(a(), and(b(), c())));
        assert_eq!(parse("a pr and b pr or c pr").unwrap(), or(and(a(), b()), c()));
        assert_eq!(parse("not (a pr) and b pr").unwrap(), and(not(a()), b()));
        assert_eq!(parse("a pr and b pr and c pr").unwrap(), and(and(a(), b()), c()));
    }

    #[test]
    fn parentheses_group() {
        assert_eq!(parse("(a pr or b pr) and c pr").unwrap(), and(or(pr("a"), pr("b")), pr("c")));
        assert_eq!(parse("a pr and (b pr or c pr)").unwrap(), and(pr("a"), or(pr("b"), pr("c"))));
        assert_eq!(parse("((a pr))").unwrap(), pr("a"));
        assert_eq!(parse("not ( a pr or b pr )").unwrap(), not(or(pr("a"), pr("b"))));
    }

    #[test]
    fn paths_take_schema_urns_and_sub_attributes() {
        let f = parse(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales""#).unwrap();
        let Filter::Compare { path, .. } = f else { panic!("{f:?}") };
        assert_eq!(path.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!((path.attr.as_str(), path.sub_attr), ("department", None));

        let f = parse("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName pr").unwrap();
        assert_eq!(
            f,
            Filter::Present(AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                attr: "name".into(),
                sub_attr: Some("familyName".into()),
            })
        );
        assert_eq!(parse(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#).unwrap().to_string(), {
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#
        });
        assert_eq!(parse("members.$ref pr").unwrap(), pr("members.$ref"));
    }

    #[test]
    fn value_filters() {
        let f = parse(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp"]"#).unwrap();
        assert_eq!(
            f,
            or(
                Filter::ValuePath {
                    path: path("emails"),
                    filter: Box::new(and(
                        cmp("type", CompareOp::Eq, "work"),
                        cmp("value", CompareOp::Co, "@example.com")
                    )),
                },
                Filter::ValuePath { path: path("ims"), filter: Box::new(cmp("type", CompareOp::Eq, "xmpp")) },
            )
        );
        assert!(matches!(parse(r#"emails[not (type eq "work")]"#).unwrap(), Filter::ValuePath { .. }));
    }

    #[test]
    fn values_are_json_literals() {
        let value = |text: &str| match parse(&format!("x eq {text}")).unwrap() {
            Filter::Compare { value, .. } => value,
            f => panic!("{f:?}"),
        };
        assert_eq!(value(r#""a\"b\\c\u00e9\n""#), CompValue::String("a\"b\\cé\n".into()));
        assert_eq!(value(r#""😀 ünï""#), CompValue::String("😀 ünï".into()));
        assert_eq!(value("42"), CompValue::Number(42.into()));
        assert_eq!(value("-7"), CompValue::Number((-7).into()));
        assert_eq!(value("1.5e3"), CompValue::Number(Number::from_f64(1500.0).unwrap()));
        assert_eq!(value("true"), CompValue::Bool(true));
        assert_eq!(value("False"), CompValue::Bool(false));
        assert_eq!(value("null"), CompValue::Null);
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        assert_eq!(
            error("userName eq"),
            "Expected a value (a string in double quotes, a number, true, false or null) at position 12, found \
             the end of the filter."
        );
        assert_eq!(
            error("userName xx \"a\""),
            "Expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after 'userName' at position 10, \
             found 'xx'."
        );
        assert_eq!(
            error("title pr title pr"),
            "Expected 'and', 'or' or the end of the filter at position 10, found 'title'."
        );
        assert_eq!(error("(title pr"), "Expected 'and', 'or' or ')' at position 10, found the end of the filter.");
        assert_eq!(error(""), "Expected an attribute name, 'not' or '(' at position 1, found the end of the filter.");
        assert_eq!(error("not title pr"), "Expected '(' after 'not' at position 5, found 'title'.");
        assert_eq!(error(r#"x eq "abc"#), "The string starting at position 6 has no closing '\"'.");
        assert!(error(r#"x eq "a\qb""#).contains("invalid escape"));
        assert_eq!(error("x eq 01"), "Invalid number at position 6.");
        assert_eq!(error("x eq 1e999"), "The number at position 6 is out of range.");
        assert_eq!(error("x eq 'a'"), "Unexpected character ''' at position 6.");
        assert!(error(r#"emails[value[type pr]]"#).contains("can't be nested"));
        assert!(error("name.given.name pr").contains("'name.given.name' is not a valid attribute path (position 1)"));
        assert!(error("urn::x pr").contains("valid schema URN"));
        assert_eq!(error("é pr"), "Unexpected character 'é' at position 1.");
        assert_eq!(error("ä eq \"x\" or"), "Unexpected character 'ä' at position 1.");
        assert_eq!(
            error("x eq \"é\" or"),
            "Expected an attribute name, 'not' or '(' at position 12, found the end of the filter."
        );
    }

    #[test]
    fn attributes_named_like_keywords_are_attributes() {
        assert_eq!(parse("not pr").unwrap(), pr("not"));
        assert_eq!(parse("a pr and and pr").unwrap(), and(pr("a"), pr("and")));
        assert_eq!(parse(r#"not eq "x""#).unwrap(), cmp("not", CompareOp::Eq, "x"));
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert!(error(&nested(MAX_DEPTH + 1)).contains("nests deeper than 32 levels at position 33"));
        let nots = format!("{}a pr{}", "not (".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(error(&nots).contains("nests deeper"));
        let long = format!("userName eq \"{}\"", "a".repeat(MAX_LEN));
        assert!(error(&long).contains("longer than 4096 characters"));
    }

    #[test]
    fn the_longest_filters_stay_within_the_stack() {
        let chain = format!("{}title pr", "title pr and ".repeat((MAX_LEN - 8) / 13));
        let filter = parse(&chain).unwrap();
        assert_eq!(filter.to_string(), chain);
        assert!(!matches(&filter, &user(), &never_exact));
    }

    #[test]
    fn prints_canonical_text() {
        for (text, canonical) in [
            ("userName Eq \"x\"", "userName eq \"x\""),
            ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("a pr or (b pr and c pr)", "a pr or b pr and c pr"),
            ("not(a pr)", "not (a pr)"),
            ("emails[type eq \"work\"  and value co \"@x\"]", "emails[type eq \"work\" and value co \"@x\"]"),
            ("x eq \"a\\u0041\\\"\"", "x eq \"aA\\\"\""),
        ] {
            assert_eq!(parse(text).unwrap().to_string(), canonical);
        }
    }

    fn never_exact(_: &AttrPath) -> bool {
        false
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "Bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "title": "",
            "active": true,
            "nickName": null,
            "loginCount": 12,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "x509Certificates": [],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations"},
            "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34.5+02:00"}
        })
    }

    fn holds(text: &str) -> bool {
        matches(&parse(text).unwrap(), &user(), &never_exact)
    }

    #[test]
    fn evaluates_string_operators_ignoring_case() {
        assert!(holds(r#"userName eq "bjensen@EXAMPLE.com""#));
        assert!(holds(r#"USERNAME sw "bjen""#));
        assert!(holds(r#"userName ew ".COM""#));
        assert!(holds(r#"name.familyName co "ens""#));
        assert!(holds(r#"name.givenName gt "Alice" and name.givenName lt "carl""#));
        assert!(holds(r#"name.givenName ge "barbara" and name.givenName le "BARBARA""#));
        assert!(!holds(r#"userName ne "bjensen@example.com""#));
        let exact = |p: &AttrPath| p.is("userName", None);
        assert!(!matches(&parse(r#"userName eq "bjensen@example.com""#).unwrap(), &user(), &exact));
    }

    #[test]
    fn multi_valued_attributes_match_when_any_value_does() {
        assert!(holds(r#"emails co "jensen.org""#));
        assert!(holds(r#"emails.value ew "example.com""#));
        assert!(holds(r#"emails.type eq "home""#));
        assert!(holds(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!holds(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(holds(r#"emails[not (type eq "work")]"#));
        // `ne` is "no value equals".
        assert!(!holds(r#"emails ne "babs@jensen.org""#));
        assert!(holds(r#"emails ne "nobody@jensen.org""#));
    }

    #[test]
    fn presence_and_null() {
        assert!(holds("userName pr"));
        assert!(!holds("title pr"), "an empty string is unassigned");
        assert!(!holds("nickName pr"), "null is unassigned");
        assert!(!holds("x509Certificates pr"), "an empty array is unassigned");
        assert!(!holds("missing pr"));
        assert!(holds("name pr"));
        assert!(holds("title eq null") && holds("missing eq null") && !holds("userName eq null"));
        assert!(holds("userName ne null") && !holds("missing ne null"));
        assert!(!holds("userName gt null"));
        assert!(holds(r#"missing ne "x""#) && !holds(r#"missing eq "x""#) && !holds(r#"missing lt "x""#));
    }

    #[test]
    fn booleans_numbers_and_mismatched_types() {
        assert!(holds("active eq true") && !holds("active eq false") && holds("active ne false"));
        assert!(!holds("active gt false"));
        assert!(!holds(r#"active eq "true""#));
        assert!(holds("loginCount eq 12") && holds("loginCount gt 11.5") && holds("loginCount le 12"));
        assert!(!holds(r#"loginCount eq "12""#) && !holds("loginCount co 1"));
    }

    #[test]
    fn date_times_compare_as_instants() {
        // 04:42:34.5+02:00 is 02:42:34.5Z: later than 02:00Z, though "04…" > "02…" as text anyway;
        // against 03:00Z text order and time order disagree.
        assert!(holds(r#"meta.lastModified gt "2011-05-13T02:00:00Z""#));
        assert!(holds(r#"meta.lastModified lt "2011-05-13T03:00:00Z""#));
        assert!(holds(r#"meta.lastModified eq "2011-05-13T02:42:34.500Z""#));
        assert!(holds(r#"meta.created ge "2010-01-23T05:56:22+01:00""#));
        assert!(holds(r#"meta.created sw "2010-01""#));
        assert!(holds(r#"meta.created gt "2010""#), "not a time: compared as text");
    }

    #[test]
    fn urns_select_the_extension_or_the_core_schema() {
        assert!(holds(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#));
        assert!(holds(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:userName sw "b""#));
        assert!(!holds(r#"urn:ietf:params:scim:schemas:core:2.0:User:department pr"#));
        assert!(!holds(r#"urn:example:other:userName pr"#));
    }

    #[test]
    fn value_filters_see_full_paths_for_case_exactness() {
        let seen = std::cell::RefCell::new(Vec::new());
        let exact = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            false
        };
        matches(&parse(r#"emails[type eq "work"]"#).unwrap(), &user(), &exact);
        assert!(seen.borrow().iter().all(|p| p == "emails.type"), "{seen:?}");
    }

    fn name_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z][a-zA-Z0-9_-]{0,5}",
            1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "$ref"]).prop_map(String::from),
        ]
    }

    fn path_strategy(with_sub: bool) -> impl Strategy<Value = AttrPath> {
        let urn = prop::option::weighted(
            0.3,
            prop::sample::select(vec![
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:example:x-1.2",
            ]),
        );
        let sub = if with_sub { prop::option::of(name_strategy()).boxed() } else { Just(None).boxed() };
        (urn, name_strategy(), sub).prop_map(|(urn, attr, sub_attr)| AttrPath {
            urn: urn.map(String::from),
            attr,
            sub_attr,
        })
    }

    fn value_strategy() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            any::<u64>().prop_map(|n| CompValue::Number(n.into())),
            any::<f64>().prop_filter_map("finite", Number::from_f64).prop_map(CompValue::Number),
            any::<String>().prop_map(CompValue::String),
        ]
    }

    fn leaf_strategy() -> impl Strategy<Value = Filter> {
        prop_oneof![
            (path_strategy(true), prop::sample::select(CompareOp::ALL.to_vec()), value_strategy())
                .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            path_strategy(true).prop_map(Filter::Present),
        ]
    }

    fn logic(inner: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            inner.prop_map(not),
        ]
    }

    fn filter_strategy() -> impl Strategy<Value = Filter> {
        let value_filter = leaf_strategy().prop_recursive(3, 8, 2, |inner| logic(inner.boxed()));
        let top_leaf = prop_oneof![
            3 => leaf_strategy(),
            1 => (path_strategy(false), value_filter)
                .prop_map(|(path, filter)| Filter::ValuePath { path, filter: Box::new(filter) }),
        ];
        top_leaf.prop_recursive(4, 24, 2, |inner| logic(inner.boxed()))
    }

    proptest! {
        #[test]
        fn printed_filters_parse_back_to_themselves(filter in filter_strategy()) {
            let text = filter.to_string();
            prop_assert_eq!(parse(&text).map_err(|e| e.detail), Ok(filter), "{}", text);
        }

        #[test]
        fn parsing_never_panics(text in "[a-zé()\\[\\] \"\\\\.:0-9-]{0,40}") {
            let _ = parse(&text);
        }
    }
}
