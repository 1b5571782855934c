//! Integration tests: the real server on a random port, a fresh database each, driven over HTTP.

mod admin_center;
mod audit;
mod browser;
mod contact;
mod copy;
mod delivery;
mod graph;
mod groups;
mod harness;
mod import;
mod limits;
mod mfa;
mod nodes;
mod operations;
mod passwords;
mod peers;
mod process;
mod readiness;
mod recovery;
mod schemathesis;
mod scim;
mod scim_conformance;
mod scim_groups;
mod scim_provisioning;
mod signin;
mod signin_log;
