//! `--sts-credentials-file`: upstream keys from a file re-read when it changes, so that a
//! rotating Kubernetes Secret mounted in the pod keeps the server signing with live keys.
//!
//! The format is the environment's own names, one `KEY=VALUE` a line (blank lines and `#`
//! comments left out, a value may be quoted):
//!
//! ```text
//! BCE_ACCESS_KEY_ID=...
//! BCE_SECRET_ACCESS_KEY=...
//! BCE_SECURITY_TOKEN=...
//! ```
//!
//! The same names as the credential chain's variables, so one Secret can serve as either, and
//! any rotation job (or a shell) writes it without a JSON encoder. The keys replace the
//! chain's for every served repository; the destination check was made for them as ambient
//! credentials when the registries were connected, and a swap keeps each registry's endpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::registry::Registry;
use crate::transport::auth::Keys;

use super::watched::Watched;

/// Reads the keys of an STS credentials file. Errors name the file and the missing key, never
/// a value.
pub fn read_keys(path: &Path) -> Result<Keys> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

/// The keys of the file's text.
pub fn parse(text: &str) -> Result<Keys> {
    let (mut ak, mut sk, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            bail!("a line is not KEY=VALUE");
        };
        let value = unquote(value.trim());
        match key.trim() {
            "BCE_ACCESS_KEY_ID" => ak = Some(value),
            "BCE_SECRET_ACCESS_KEY" => sk = Some(value),
            "BCE_SECURITY_TOKEN" => token = Some(value),
            _ => {}
        }
    }
    let (Some(ak), Some(sk)) = (ak, sk) else {
        bail!("expected BCE_ACCESS_KEY_ID=... and BCE_SECRET_ACCESS_KEY=... lines (and BCE_SECURITY_TOKEN=...)");
    };
    Keys::new(ak, sk, token).context("BCE_ACCESS_KEY_ID or BCE_SECRET_ACCESS_KEY is empty")
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// The file and the registries whose keys it sets.
pub struct StsFile {
    file: Watched,
    registries: Vec<Arc<Registry>>,
}

impl StsFile {
    /// `path`, whose keys the registries were connected with (read at start-up).
    pub fn new(path: PathBuf, registries: Vec<Arc<Registry>>) -> StsFile {
        StsFile {
            file: Watched::taken_now(path),
            registries,
        }
    }

    /// Before upstream requests: when the file changed since last read, its keys replace
    /// every registry's. A file that cannot be read or parsed keeps the keys read before (and
    /// is logged, without any value).
    pub fn refresh(&self) {
        let path = self.file.path();
        let taken = self.file.reload(|text| {
            let keys = parse(text).with_context(|| format!("in {}", path.display()))?;
            for r in &self.registries {
                r.transport().set_keys(keys.clone());
            }
            super::log::event(&format!(
                "upstream keys re-read from {} (access key {})",
                path.display(),
                keys.access_key_id
            ));
            Ok(())
        });
        if let Err(e) = taken {
            super::log::event(&format!("{e:#}; keeping the upstream keys read before"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lines() {
        let k = parse("# rotated\nBCE_ACCESS_KEY_ID=ak\nexport BCE_SECRET_ACCESS_KEY=\"s=k\"\n\nBCE_SECURITY_TOKEN='tok'\nOTHER=x\n").unwrap();
        assert_eq!(k, Keys::new("ak", "s=k", Some("tok")).unwrap());
        let k = parse("BCE_ACCESS_KEY_ID=ak\nBCE_SECRET_ACCESS_KEY=sk\n").unwrap();
        assert_eq!(k.security_token, None);
        for bad in [
            "BCE_ACCESS_KEY_ID=ak\n",
            "BCE_ACCESS_KEY_ID=ak\nBCE_SECRET_ACCESS_KEY=\n",
            "BCE_ACCESS_KEY_ID=ak\nsecret\n",
        ] {
            let e = format!("{:#}", parse(bad).unwrap_err());
            assert!(!e.contains("ak"), "{e}");
        }
    }
}
