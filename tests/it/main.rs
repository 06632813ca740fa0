//! The one integration-test binary: drives the built `helm-ccr` against the in-process CCR
//! emulator, and the real Helm binaries where a test says so.

mod chart_walk;
mod common;
mod completion;
mod config_files;
mod core;
mod faults;
mod force_replace;
mod getter_integrity;
mod install;
mod limits;
mod package_limits;
mod packaging;
mod parallel;
mod paths;
mod provenance;
mod push_dir;
mod recipes;
mod registry_answers;
mod release;
mod secrets;
mod serve;
mod settings_env;
mod signals;
mod snapshots;
mod structure;
mod tar_safety;
mod throttling;
mod timeouts;
mod ux;
mod ux_registry;
mod verify_substitution;
