//! The pages: one module per area, each with its handlers and template structs.

pub mod account;
pub mod account_state;
pub mod apps;
pub mod audit;
pub mod contact;
pub mod cursor;
pub mod form;
pub mod groups;
pub mod import;
pub mod layout;
pub mod methods;
pub mod new_user;
pub mod outbox;
pub mod readiness;
pub mod reset;
pub mod reset_password;
pub mod roles;
pub mod second_step;
pub mod security_info;
pub mod sessions;
pub mod settings;
pub mod signin;
pub mod signin_log;
pub mod user_view;
pub mod users;
pub mod verification;
