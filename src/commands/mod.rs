//! One module per subcommand.

pub mod complete;
pub mod download;
pub mod env;
pub mod ls;
pub mod pull;
pub mod push;
pub mod rm;
pub mod serve;
pub mod version;
