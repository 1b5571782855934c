//! One module per subcommand.

pub mod apps;
pub mod audit;
pub mod backup;
pub mod check_config;
pub mod copy;
pub mod demo_data;
pub mod groups;
pub mod keys;
pub mod migrate;
pub mod report;
pub mod serve;
pub mod users;
