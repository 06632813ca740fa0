//! One module per subcommand.

pub mod complete;
pub mod copy;
pub mod download;
pub mod env;
pub mod ls;
pub mod mirror;
pub mod pull;
pub mod push;
pub mod rm;
pub mod serve;
pub mod version;
