//! The pages: one module per area, each with its handlers and template structs.

pub mod account;
pub mod apps;
pub mod audit;
pub mod contact;
pub mod form;
pub mod import;
pub mod layout;
pub mod manage;
pub mod methods;
pub mod outbox;
pub mod readiness;
pub mod reset;
pub mod second_step;
pub mod security_info;
pub mod settings;
pub mod signin;
pub mod signin_log;
pub mod users;
