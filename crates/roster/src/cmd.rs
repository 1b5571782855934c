//! One module per subcommand.

pub mod demo_data;
pub mod serve;
pub mod users;
