//! PATCH paths (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`, such as `title`,
//! `name.givenName`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`,
//! `emails[type eq "work"]` or `emails[type eq "work"].value`.

use std::fmt;

use super::filter::{AttrPath, Filter, Parser, MAX_LEN};
use super::ScimError;

/// A parsed PATCH path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The attribute; it has a sub-attribute only when there is no value filter.
    pub attr: AttrPath,
    /// The filter selecting values of a multi-valued attribute, from `[…]`.
    pub value_filter: Option<Filter>,
    /// The sub-attribute of the selected values, from `.name` after the `]`.
    pub sub_attr: Option<String>,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.value_filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parses the `path` of a PATCH operation.
pub fn parse_path(text: &str) -> Result<Path, ScimError> {
    if text.chars().count() > MAX_LEN {
        return Err(ScimError::invalid_path(format!("The path is longer than {MAX_LEN} characters.")));
    }
    read(&mut Parser::new(text, "path")).map_err(ScimError::invalid_path)
}

fn read(parser: &mut Parser<'_>) -> Result<Path, String> {
    let attr = parser.attr_path()?;
    let value_filter = parser.value_filter(&attr)?;
    let sub_attr = match value_filter {
        Some(_) => parser.sub_attr()?,
        None => None,
    };
    parser.end(match (&value_filter, &sub_attr) {
        (None, _) => "'[' or the end of the path",
        (Some(_), None) => "'.' and a sub-attribute, or the end of the path",
        (Some(_), Some(_)) => "the end of the path",
    })?;
    Ok(Path { attr, value_filter, sub_attr })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::{CompValue, CompareOp};

    fn type_eq(t: &str) -> Filter {
        Filter::Compare { path: AttrPath::new("type"), op: CompareOp::Eq, value: CompValue::String(t.into()) }
    }

    #[test]
    fn plain_and_sub_attribute_paths() {
        assert_eq!(
            parse_path("title").unwrap(),
            Path { attr: AttrPath::new("title"), value_filter: None, sub_attr: None }
        );
        let p = parse_path("name.givenName").unwrap();
        assert_eq!(p.attr.sub_attr.as_deref(), Some("givenName"));
        assert_eq!(p.value_filter, None);
    }

    #[test]
    fn urn_prefixed_paths() {
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").unwrap();
        assert_eq!(p.attr.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(p.attr.attr, "department");
        let p = parse_path("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName").unwrap();
        assert_eq!(p.attr.urn.as_deref(), Some("urn:ietf:params:scim:schemas:core:2.0:User"));
        assert!(p.attr.is("name", Some("familyName")));
    }

    #[test]
    fn value_paths_with_and_without_a_sub_attribute() {
        let p = parse_path(r#"emails[type eq "work"]"#).unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(p.value_filter, Some(type_eq("work")));
        assert_eq!(p.sub_attr, None);

        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.value_filter, Some(type_eq("work")));
        assert_eq!(p.sub_attr.as_deref(), Some("value"));

        let p = parse_path(r#"emails[type eq "other" and value eq "a@b.com"]"#).unwrap();
        assert!(matches!(p.value_filter, Some(Filter::And(..))));
    }

    #[test]
    fn paths_print_as_parsed() {
        for text in [
            "title",
            "name.givenName",
            r#"emails[type eq "work"].value"#,
            r#"addresses[type eq "work" and (locality sw "Red" or region pr)].streetAddress"#,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ] {
            assert_eq!(parse_path(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn malformed_paths_are_invalid_path_errors() {
        for (text, fragment) in [
            ("", "Expected an attribute name at position 1, found the end of the path"),
            ("emails[type eq \"work\"", "Expected 'and', 'or' or ']' at position 22"),
            ("emails[type eq \"work\"].", "Expected a sub-attribute name after '.' at position 24"),
            ("emails[type eq \"work\"]x", "Expected '.' and a sub-attribute"),
            ("emails.value[type eq \"work\"]", "not the sub-attribute 'value'"),
            ("emails[value[type pr]]", "can't be nested"),
            ("name.given.name", "not a valid attribute path"),
            ("title eq \"x\"", "Expected '[' or the end of the path at position 7, found 'eq'"),
            ("1abc", "Expected an attribute name at position 1, found a number"),
        ] {
            let err = parse_path(text).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidPath"), "{text}");
            assert!(err.detail.contains(fragment), "{text}: {}", err.detail);
        }
    }
}
