//! Roster's storage: the directory in SQLite (the embedded default, one file in the data
//! folder) or in PostgreSQL (one database that several nodes share).
//!
//! Both engines hold the same schema and give the same answers, so a directory can move between
//! them. The SQL they share is written once, in `sql/`, and compiled into each engine's module
//! with that engine's types; what really differs (SQLite's single writer, group commit and
//! checkpoints, PostgreSQL's row locks and `skip locked` claims) lives in the engine's own
//! folder. ARCHITECTURE.md tells how, and why this way.

// Including `sql/` once per engine is the design (see above), not an accident.
#![allow(clippy::duplicate_mod)]

mod dialect;
pub mod postgres;
pub mod sqlite;
