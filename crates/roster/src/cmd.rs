//! One module per subcommand.

pub mod check_config;
pub mod demo_data;
pub mod serve;
pub mod users;
