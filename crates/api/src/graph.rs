//! Microsoft Graph v1.0: the OData query options of `/v1.0/users`, users in Graph's JSON shape
//! and Graph request bodies in Roster's terms.
//!
//! Nothing here knows HTTP: the web layer renders a [`GraphError`] as Graph's error body,
//! `{"error":{"code":…,"message":…,"innerError":{…}}}`.

pub mod filter;
pub mod group;
pub mod methods;
pub mod query;
pub mod user;

/// A refused request as Graph reports it: HTTP status, Graph error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct GraphError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl GraphError {
    /// `400 Request_BadRequest`: the request is malformed or names something that does not exist.
    pub fn bad_request(message: impl Into<String>) -> Self {
        GraphError { status: 400, code: "Request_BadRequest", message: message.into() }
    }

    /// `400 Request_UnsupportedQuery`: valid OData that Graph does not support on users.
    pub fn unsupported_query(reason: impl std::fmt::Display) -> Self {
        GraphError { status: 400, code: "Request_UnsupportedQuery", message: format!("Unsupported Query. {reason}") }
    }

    /// `400 BadRequest`: a request body that is not readable JSON, in Graph's wording.
    pub fn unreadable_body() -> Self {
        GraphError {
            status: 400,
            code: "BadRequest",
            message: "Unable to read JSON request payload. Please ensure Content-Type header is set and payload \
                      is of valid JSON format."
                .to_string(),
        }
    }

    /// `400 Request_BadRequest` for a `$top` outside 1..=999.
    pub fn invalid_page_size(raw: &str) -> Self {
        GraphError::bad_request(format!("Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."))
    }

    /// `400 Request_BadRequest` for a property the user resource does not have.
    pub fn unknown_property(name: &str) -> Self {
        GraphError::unknown_property_of(name, "microsoft.graph.user")
    }

    /// `400 Request_BadRequest` for a property a resource of `type_name` does not have.
    pub fn unknown_property_of(name: &str, type_name: &str) -> Self {
        GraphError::bad_request(format!("Property '{name}' does not exist on type '{type_name}'."))
    }
}
