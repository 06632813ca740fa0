//! One module per subcommand.
pub mod download;
