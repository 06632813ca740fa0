//! `helm-ccr download CERT KEY CA URL` (hidden): the command Helm runs for a `ccr://` URL
//! (plugin `ccr-getter`). The getter layer does the work; this only hands it the arguments.

use anyhow::Result;

use crate::settings::Global;

/// Serves `url` on stdout, with Helm's CERT, KEY and CA file arguments.
pub fn run_args(cert: &str, key: &str, ca: &str, url: &str, global: &Global) -> Result<()> {
    crate::getter::run_args(cert, key, ca, url, global)
}
