//! Roster's directory rules, free of HTTP and SQL.
//!
//! Everything a surface (admin center, CLI, later APIs) may do to the directory goes through
//! [`Directory`], which validates input, checks the caller's permission and hands one complete
//! change (with its audit record) to a [`Store`]. Storage engines implement [`Store`] and nothing
//! else; no storage or web type appears here.

pub mod access_pass;
pub mod apps;
pub mod audit;
pub mod clock;
pub mod contact;
pub mod csv_groups;
pub mod csv_users;
pub mod directory;
pub mod email;
pub mod error;
pub mod group;
pub mod mfa;
pub mod notify;
pub mod oidc;
pub mod outbox;
pub mod passkey;
pub mod password;
pub mod permission;
pub mod phone;
pub mod readiness;
pub mod recovery;
pub mod role;
pub mod session;
pub mod signin_log;
pub mod store;
pub mod text;
pub mod time_zone;
pub mod transfer;
pub mod user;
pub mod user_filter;

pub use audit::{AuditAction, AuditEntry, AuditQuery, FieldChange};
pub use clock::Timestamp;
pub use contact::{ContactInfo, ContactInput};
pub use directory::{Actor, ContactState, Directory, NewUserInput, ResetStep, ResetView, SignInOutcome};
pub use error::{DomainError, FieldError, StoreError};
pub use role::{Role, RoleSet};
pub use store::Store;
pub use user::{ListFilter, User, UserCount, UserId, UserPage, UserQuery, UserSort, UserSummary, Username};
