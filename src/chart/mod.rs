//! Chart packages: loading and validating chart directories, `.helmignore`, building and
//! reading `.tgz` archives.

pub mod ignore;
pub mod metadata;
pub mod yaml;
pub mod tgz;
