//! One module per subcommand.

pub mod download;
pub mod ls;
pub mod pull;
pub mod push;
pub mod rm;
pub mod version;
