//! A file the server re-reads when it changes (htpasswd, tokens, upstream keys): changed means
//! another modification time or size than the version last taken.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{Context, Result};

type Stamp = (SystemTime, u64);

pub struct Watched {
    path: PathBuf,
    taken: Mutex<Option<Stamp>>,
}

impl Watched {
    /// `path`, not read yet: the first [`Watched::reload`] reads it.
    pub fn new(path: PathBuf) -> Watched {
        Watched {
            path,
            taken: Mutex::new(None),
        }
    }

    /// `path` as it is now counts as read (its content was taken another way).
    pub fn taken_now(path: PathBuf) -> Watched {
        let stamp = stamp_of(&path).ok();
        Watched {
            path,
            taken: Mutex::new(stamp),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When the file changed since the version last taken, hands its text to `take`; the new
    /// version counts as taken only when `take` succeeds (a half-written file is read again
    /// next time). `Ok(false)`: unchanged. An unreadable file is an error naming it.
    pub fn reload(&self, take: impl FnOnce(&str) -> Result<()>) -> Result<bool> {
        let stamp =
            stamp_of(&self.path).with_context(|| format!("reading {}", self.path.display()))?;
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        if *taken == Some(stamp) {
            return Ok(false);
        }
        let text = std::fs::read_to_string(&self.path)
            .with_context(|| format!("reading {}", self.path.display()))?;
        take(&text)?;
        *taken = Some(stamp);
        Ok(true)
    }
}

fn stamp_of(path: &Path) -> std::io::Result<Stamp> {
    let md = std::fs::metadata(path)?;
    Ok((md.modified().unwrap_or(std::time::UNIX_EPOCH), md.len()))
}
