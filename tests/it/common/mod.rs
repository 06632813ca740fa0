//! Shared test fixtures, by concern; test files import them all with `use crate::common::*`.
//!
//! - [`world`]: `World`, an emulator, a throwaway home and the hermetic base command;
//! - [`output`]: a finished run's stdout, stderr and its one `Error:` line;
//! - [`files`]: files left below a directory, trees copied;
//! - [`gnupg`]: a throwaway GnuPG home with one signing key;
//! - [`tars`]: chart packages and tar bytes built here (raw and block by block too);
//! - [`hostile`]: a scripted registry that answers what a test says, and the secret;
//! - [`measure`]: a run with its peak resident memory;
//! - [`process`]: waiting on a running command, and signalling it;
//! - [`helm`]: the real Helm binaries, with and without the plugin installed;
//! - [`snapshots`]: text made stable for insta snapshots;
//! - [`tls`]: a throwaway CA (`TestCa`) and a TLS server recording requests (`CaptureServer`).

pub mod files;
pub mod gnupg;
pub mod helm;
pub mod hostile;
pub mod measure;
pub mod output;
pub mod process;
pub mod snapshots;
pub mod tars;
pub mod tls;
pub mod world;

pub use files::*;
pub use gnupg::*;
pub use helm::*;
pub use hostile::*;
pub use measure::*;
pub use output::*;
pub use process::*;
pub use snapshots::*;
pub use tars::*;
pub use tls::*;
pub use world::*;
