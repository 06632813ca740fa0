//! The ground floor of settings: a snapshot of the environment, taken once, the API endpoint
//! type, and reading optional files. Everything above (credentials, transport, registry,
//! settings) may use this; it uses nothing of theirs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Requests in flight at most, unless `HELM_CCR_PARALLEL` says otherwise.
pub const DEFAULT_PARALLEL: usize = 32;
/// The largest `HELM_CCR_PARALLEL` accepted.
pub const MAX_PARALLEL: usize = 256;

/// A snapshot of the environment, taken once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        Env {
            vars: pairs.into_iter().collect(),
        }
    }

    /// A variable's value, if set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }

    /// True when `HELM_DEBUG` is set to a true value, as `helm --debug` does.
    pub fn debug(&self) -> bool {
        matches!(self.get("HELM_DEBUG"), Some(v) if v == "1" || v.eq_ignore_ascii_case("true"))
    }

    /// Requests in flight at most (`HELM_CCR_PARALLEL`, 1 to [`MAX_PARALLEL`]; default
    /// [`DEFAULT_PARALLEL`]). Any other value is an error naming the variable.
    pub fn parallel(&self) -> Result<usize> {
        let Some(v) = self.get("HELM_CCR_PARALLEL") else {
            return Ok(DEFAULT_PARALLEL);
        };
        match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_PARALLEL).contains(&n) => Ok(n),
            _ => bail!(
                "HELM_CCR_PARALLEL {v:?} is not a number of requests from 1 to {MAX_PARALLEL}"
            ),
        }
    }

    /// Where `helm repo add` writes repositories.
    pub fn repository_config(&self) -> Option<PathBuf> {
        if let Some(p) = self.get("HELM_REPOSITORY_CONFIG") {
            return Some(PathBuf::from(p));
        }
        if let Some(h) = self.get("HELM_CONFIG_HOME") {
            return Some(PathBuf::from(h).join("repositories.yaml"));
        }
        if let Some(x) = self.get("XDG_CONFIG_HOME") {
            return Some(PathBuf::from(x).join("helm").join("repositories.yaml"));
        }
        self.home()
            .map(|h| h.join(".config").join("helm").join("repositories.yaml"))
    }
}

/// A file's text, or None when it does not exist; any other failure is an error naming it.
pub fn read_if_exists(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_from_the_environment() {
        let env = |v: &str| Env::from_pairs([("HELM_CCR_PARALLEL".to_string(), v.to_string())]);
        assert_eq!(Env::default().parallel().unwrap(), DEFAULT_PARALLEL);
        assert_eq!(env("").parallel().unwrap(), DEFAULT_PARALLEL);
        assert_eq!(env("1").parallel().unwrap(), 1);
        assert_eq!(env(" 64 ").parallel().unwrap(), 64);
        for bad in ["0", "-1", "x", "1.5", "257"] {
            let e = env(bad).parallel().unwrap_err().to_string();
            assert!(e.contains("HELM_CCR_PARALLEL") && e.contains(bad), "{e}");
        }
    }
}
