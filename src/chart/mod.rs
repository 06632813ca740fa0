//! Chart packages: loading and validating chart directories, `.helmignore`, building and
//! reading `.tgz` archives.
pub mod compare;
pub mod constraint;
pub mod prepare;
pub mod retention;

pub mod ignore;
pub mod load;
pub mod metadata;
pub mod package;
pub mod pgzip;
#[cfg(test)]
mod proptests;
pub mod tar_reader;
pub mod tgz;
pub mod yaml;

pub use package::{package_dir, repack_tgz, validate_version_override, Overrides, Packaged};
