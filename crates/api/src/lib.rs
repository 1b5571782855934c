//! The languages of Roster's standard APIs, as pure code: what a Microsoft Graph or SCIM 2.0
//! request says, parsed into the directory's own terms, and users written back in each API's
//! shapes. The HTTP side lives in `roster-web`.

pub mod graph;
pub mod scim;
