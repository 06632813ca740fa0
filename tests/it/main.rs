//! The one integration-test binary: drives the built `helm-ccr` against the in-process CCR
//! emulator, and the real Helm binaries where a test says so.

mod chart_walk;
mod common;
mod completion;
mod core;
mod faults;
mod hostile;
mod hostile2;
mod install;
mod packaging;
mod parallel;
mod provenance;
mod push_dir;
mod recipes;
mod release;
mod signals;
mod snapshots;
mod structure;
mod ux;
