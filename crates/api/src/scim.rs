//! SCIM 2.0 (RFC 7643, RFC 7644): filters, attribute paths and their evaluation, PATCH requests,
//! and users in the SCIM User resource's shape.
//!
//! Nothing here knows HTTP: the web layer renders a [`ScimError`] with [`ScimError::body`].

pub mod discovery;
pub mod filter;
pub mod group;
pub mod patch;
pub mod path;
pub mod projection;
pub mod user;

/// The schema URN of SCIM error responses.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A refused request as SCIM reports it (RFC 7644 §3.12): HTTP status, detail error keyword and
/// a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    /// The HTTP status code.
    pub status: u16,
    /// The `scimType` keyword, when one of RFC 7644's applies.
    pub scim_type: Option<&'static str>,
    /// What went wrong, for people.
    pub detail: String,
}

impl ScimError {
    fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError { status: 400, scim_type: Some(scim_type), detail: detail.into() }
    }

    /// `400 invalidFilter`: the filter is malformed or compares something unsupported.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        ScimError::bad_request("invalidFilter", detail)
    }

    /// `409 uniqueness`: a value is already in use, such as a taken `userName`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        ScimError { status: 409, scim_type: Some("uniqueness"), detail: detail.into() }
    }

    /// `400 mutability`: the change is not allowed by the attribute's mutability.
    pub fn mutability(detail: impl Into<String>) -> Self {
        ScimError::bad_request("mutability", detail)
    }

    /// `400 invalidSyntax`: the request body does not have the message's structure.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        ScimError::bad_request("invalidSyntax", detail)
    }

    /// `400 invalidPath`: a PATCH `path` is malformed.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        ScimError::bad_request("invalidPath", detail)
    }

    /// `400 noTarget`: a PATCH `path` selects nothing that can be operated on.
    pub fn no_target(detail: impl Into<String>) -> Self {
        ScimError::bad_request("noTarget", detail)
    }

    /// `400 invalidValue`: a value is missing or of the wrong type for its attribute.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        ScimError::bad_request("invalidValue", detail)
    }

    /// `400 sensitive`: personal information was sent in a request URI (RFC 7644 §7.5.2).
    pub fn sensitive(detail: impl Into<String>) -> Self {
        ScimError::bad_request("sensitive", detail)
    }

    /// The error response body; `status` is a string, as RFC 7644 §3.12 shows it.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "detail": self.detail,
            "status": self.status.to_string(),
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = scim_type.into();
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_error_message() {
        let body = ScimError::invalid_filter("expected 'eq'").body();
        assert_eq!(
            body,
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "scimType": "invalidFilter",
                "detail": "expected 'eq'",
                "status": "400",
            })
        );
        assert_eq!(ScimError::uniqueness("taken").status, 409);
    }
}
