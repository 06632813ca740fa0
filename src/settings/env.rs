//! The ground floor of settings: a snapshot of the environment, taken once, and reading
//! optional files. The rest of `settings/` builds on it; it uses nothing of theirs.
//!
//! Every `HELM_CCR_*` variable is read here, through a typed accessor of [`Env`] (see
//! [`vars`] for the list); [`Env::get`] is for the variables of others (`HOME`, `BCE_*`,
//! `HELM_*`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::error::UsageError;

/// Requests in flight at most, unless `HELM_CCR_PARALLEL` says otherwise.
pub const DEFAULT_PARALLEL: usize = 32;
/// The largest `HELM_CCR_PARALLEL` accepted.
pub const MAX_PARALLEL: usize = 256;
/// The attempts `HELM_CCR_RETRIES` may ask for: at least one, at most twenty.
pub const RETRIES_RANGE: std::ops::RangeInclusive<u32> = 1..=20;

/// The `HELM_CCR_*` variables helm-ccr reads, each through the [`Env`] accessor named after it,
/// and documented once, in [`vars::TABLE`], which `helm ccr help environment` prints.
pub mod vars {
    /// `--endpoint`'s variable (see [`TABLE`]).
    pub const ENDPOINT: &str = "HELM_CCR_ENDPOINT";
    /// `--timeout`'s variable (see [`TABLE`]).
    pub const TIMEOUT: &str = "HELM_CCR_TIMEOUT";
    /// Attempts per request (see [`TABLE`]).
    pub const RETRIES: &str = "HELM_CCR_RETRIES";
    /// The largest download (see [`TABLE`]).
    pub const MAX_DOWNLOAD: &str = "HELM_CCR_MAX_DOWNLOAD";
    /// The most entries of a listing (see [`TABLE`]).
    pub const LIST_LIMIT: &str = "HELM_CCR_LIST_LIMIT";
    /// Requests in flight (see [`TABLE`]).
    pub const PARALLEL: &str = "HELM_CCR_PARALLEL";
    /// The GnuPG program (see [`TABLE`]).
    pub const GPG: &str = "HELM_CCR_GPG";
    /// The passphrase file for signing (see [`TABLE`]).
    pub const GPG_PASSPHRASE_FILE: &str = "HELM_CCR_GPG_PASSPHRASE_FILE";
    /// The signing key (see [`TABLE`]).
    pub const SIGN_KEY: &str = "HELM_CCR_SIGN_KEY";
    /// The most entries walked in a chart directory (see [`TABLE`]).
    pub const MAX_ENTRIES: &str = "HELM_CCR_MAX_ENTRIES";

    /// Every variable with what it does, in the order `helm ccr help environment` lists them.
    pub const TABLE: &[(&str, &str)] = &[
        (
            ENDPOINT,
            "The API endpoint URL (https://HOST[:PORT], or http:// for a plain-HTTP one). \
             --endpoint and an API host written in a ccr:// URL beat it; it beats the region. \
             Credentials from the environment or a BCE profile may go to it, as to Baidu's CCR \
             hosts. 'helm ccr env REPO' shows the endpoint that applies and where it came from.",
        ),
        (
            TIMEOUT,
            "The time limit of the whole command (90s, 5m, 1h30m; 0 for none), as --timeout, \
             which beats it. The ccr:// getter's default is 10m.",
        ),
        (
            RETRIES,
            "Attempts per request for a transient fault (connection failures, timeouts, 429, \
             5xx): 1 to 20, default 4.",
        ),
        (
            MAX_DOWNLOAD,
            "The largest download accepted (512MiB, 2GiB, a number of bytes); default 512MiB.",
        ),
        (
            LIST_LIMIT,
            "The most charts and versions one listing (or the getter's index) takes; at least 1, \
             default 100000.",
        ),
        (
            PARALLEL,
            "Requests in flight at most: 1 to 256, default 32.",
        ),
        (
            GPG,
            "The GnuPG program push --sign and pull --verify run; default gpg.",
        ),
        (
            GPG_PASSPHRASE_FILE,
            "A file holding the signing key's passphrase, handed to gpg by name (for CI).",
        ),
        (
            SIGN_KEY,
            "The key push --sign signs with when --key names none; else gpg's default key.",
        ),
        (
            MAX_ENTRIES,
            "The most files, directories and links push walks in a chart directory; default \
             100000.",
        ),
    ];

    /// All of them, in the order of [`TABLE`].
    pub const ALL: &[&str] = &[
        ENDPOINT,
        TIMEOUT,
        RETRIES,
        MAX_DOWNLOAD,
        LIST_LIMIT,
        PARALLEL,
        GPG,
        GPG_PASSPHRASE_FILE,
        SIGN_KEY,
        MAX_ENTRIES,
    ];
}

/// A snapshot of the environment, taken once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// The `ccr://` URLs of the parent process's command line when it also holds
    /// `--insecure-skip-tls-verify` (see [`Env::parent_insecure`]).
    parent_insecure: Vec<String>,
}

impl Env {
    pub fn from_process() -> Env {
        let mut env = Env::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        );
        env.parent_insecure = parent_insecure_urls();
        env
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        Env {
            vars: pairs.into_iter().collect(),
            parent_insecure: Vec::new(),
        }
    }

    /// `ccr://` URLs that the command running this one (Helm, for the getter) was given with
    /// `--insecure-skip-tls-verify`: Helm does not pass that flag to a getter, and during
    /// `helm repo add NAME ccr://… --insecure-skip-tls-verify` the repository entry that would
    /// say so is not written yet.
    pub fn parent_insecure(&self) -> &[String] {
        &self.parent_insecure
    }

    /// [`Env::parent_insecure`] as given (tests).
    pub fn with_parent_insecure(mut self, urls: Vec<String>) -> Env {
        self.parent_insecure = urls;
        self
    }

    /// A variable's value, if set and not empty. Not for `HELM_CCR_*`: those have accessors.
    pub fn get(&self, key: &str) -> Option<&str> {
        debug_assert!(
            !key.starts_with("HELM_CCR_"),
            "{key} is read through its Env accessor"
        );
        self.var(key)
    }

    fn var(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether a variable is set (and not empty): the setting came from there.
    pub fn is_set(&self, key: &str) -> bool {
        self.var(key).is_some()
    }

    pub fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }

    /// True when `HELM_DEBUG` is set to a true value, as `helm --debug` does.
    pub fn debug(&self) -> bool {
        matches!(self.get("HELM_DEBUG"), Some(v) if v == "1" || v.eq_ignore_ascii_case("true"))
    }

    /// `HELM_CCR_ENDPOINT`, as written (parsed where it is used: `--endpoint` beats it).
    pub fn endpoint(&self) -> Option<&str> {
        self.var(vars::ENDPOINT)
    }

    /// `HELM_CCR_TIMEOUT`, as written (parsed with `--timeout`'s rules where it is used).
    pub fn timeout(&self) -> Option<&str> {
        self.var(vars::TIMEOUT)
    }

    /// `HELM_CCR_RETRIES`, brought into [`RETRIES_RANGE`]; a value that is not a whole
    /// number is a usage error naming the variable.
    pub fn retries(&self) -> Result<Option<u32>> {
        Ok(number::<u32>(vars::RETRIES, self.var(vars::RETRIES))?
            .map(|r| r.clamp(*RETRIES_RANGE.start(), *RETRIES_RANGE.end())))
    }

    /// `HELM_CCR_MAX_DOWNLOAD`, in bytes; a value that is not a size is a usage error.
    pub fn max_download(&self) -> Result<Option<u64>> {
        size(vars::MAX_DOWNLOAD, self.var(vars::MAX_DOWNLOAD))
    }

    /// `HELM_CCR_MAX_ENTRIES` (default [`crate::chart::load::DEFAULT_MAX_ENTRIES`]); a value
    /// that is not a whole number is a usage error.
    pub fn max_entries(&self) -> Result<usize> {
        Ok(
            number::<usize>(vars::MAX_ENTRIES, self.var(vars::MAX_ENTRIES))?
                .unwrap_or(crate::chart::load::DEFAULT_MAX_ENTRIES),
        )
    }

    /// `HELM_CCR_LIST_LIMIT`; a value that is not a whole number above 0 is a usage error.
    pub fn list_limit(&self) -> Result<Option<usize>> {
        match number::<usize>(vars::LIST_LIMIT, self.var(vars::LIST_LIMIT))? {
            Some(0) => {
                Err(UsageError("HELM_CCR_LIST_LIMIT=\"0\" must be at least 1".into()).into())
            }
            n => Ok(n),
        }
    }

    /// Requests in flight at most (`HELM_CCR_PARALLEL`, 1 to [`MAX_PARALLEL`]; default
    /// [`DEFAULT_PARALLEL`]). Any other value is an error naming the variable.
    pub fn parallel(&self) -> Result<usize> {
        let Some(v) = self.var(vars::PARALLEL) else {
            return Ok(DEFAULT_PARALLEL);
        };
        match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_PARALLEL).contains(&n) => Ok(n),
            _ => bail!(
                "HELM_CCR_PARALLEL {v:?} is not a number of requests from 1 to {MAX_PARALLEL}"
            ),
        }
    }

    /// `HELM_CCR_GPG`, else `gpg`.
    pub fn gpg_program(&self) -> &str {
        self.var(vars::GPG).unwrap_or("gpg")
    }

    /// `HELM_CCR_GPG_PASSPHRASE_FILE`.
    pub fn gpg_passphrase_file(&self) -> Option<&str> {
        self.var(vars::GPG_PASSPHRASE_FILE)
    }

    /// `HELM_CCR_SIGN_KEY`.
    pub fn sign_key(&self) -> Option<&str> {
        self.var(vars::SIGN_KEY)
    }

    /// Helm's cache directory: `$HELM_CACHE_HOME`, else `$XDG_CACHE_HOME/helm`, else
    /// `~/Library/Caches/helm` on macOS and `~/.cache/helm` elsewhere (Helm's `helmpath`).
    pub fn helm_cache_home(&self) -> Option<PathBuf> {
        if let Some(h) = self.get("HELM_CACHE_HOME") {
            return Some(PathBuf::from(h));
        }
        if let Some(x) = self.get("XDG_CACHE_HOME") {
            return Some(PathBuf::from(x).join("helm"));
        }
        let home = self.home()?;
        Some(if cfg!(target_os = "macos") {
            home.join("Library").join("Caches").join("helm")
        } else {
            home.join(".cache").join("helm")
        })
    }

    /// Where `push --force` keeps the version it replaces until the replacement is settled:
    /// `ccr/replaced` in [`Env::helm_cache_home`], else in the system's temporary directory.
    pub fn replaced_dir(&self) -> PathBuf {
        let base = match self.helm_cache_home() {
            Some(c) => c.join("ccr"),
            None => std::env::temp_dir().join("helm-ccr"),
        };
        base.join("replaced")
    }

    /// The proxy variables ([`crate::transport::proxy::VARIABLES`]) as Go reads them: an
    /// empty upper-case value does not hide the lower-case one.
    pub fn proxy(&self) -> crate::transport::ProxyEnv {
        crate::transport::ProxyEnv::from_lookup(|k| self.vars.get(k).cloned())
    }

    /// `SSL_CERT_FILE`: the CA bundle that replaces the system's (as Go reads it).
    pub fn ssl_cert_file(&self) -> Option<PathBuf> {
        self.get("SSL_CERT_FILE").map(PathBuf::from)
    }

    /// `SSL_CERT_DIR`: `:`-separated directories that replace the system's certificate
    /// directories (as Go reads it).
    pub fn ssl_cert_dir(&self) -> Option<&str> {
        self.get("SSL_CERT_DIR")
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

/// The parent's `ccr://` arguments when its command line holds `--insecure-skip-tls-verify`
/// (Linux: `/proc/PPID/cmdline`); none elsewhere or when it cannot be read.
fn parent_insecure_urls() -> Vec<String> {
    #[cfg(target_os = "linux")]
    {
        let ppid = std::os::unix::process::parent_id();
        let Ok(raw) = std::fs::read(format!("/proc/{ppid}/cmdline")) else {
            return Vec::new();
        };
        parse_parent_args(&raw)
    }
    #[cfg(not(target_os = "linux"))]
    Vec::new()
}

/// The `ccr://` arguments of a NUL-separated command line that holds
/// `--insecure-skip-tls-verify` (or `=true`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_parent_args(raw: &[u8]) -> Vec<String> {
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let insecure = args
        .iter()
        .any(|a| a == "--insecure-skip-tls-verify" || a == "--insecure-skip-tls-verify=true");
    if !insecure {
        return Vec::new();
    }
    args.into_iter()
        .filter(|a| a.starts_with("ccr://"))
        .collect()
}

/// A numeric setting of the environment (not a `HELM_CCR_*` one: those have [`Env`]
/// accessors): None when unset or empty; a value that does not parse is a usage error naming
/// the variable (`SOURCE_DATE_EPOCH="abc" is not a whole number`).
pub fn env_number<T: std::str::FromStr>(env: &Env, name: &str) -> Result<Option<T>> {
    number(name, env.get(name))
}

/// A size setting of the environment (`512MiB`, `1GiB`, `100MB`, `1048576`), as
/// [`env_number`].
pub fn env_size(env: &Env, name: &str) -> Result<Option<u64>> {
    size(name, env.get(name))
}

/// `name`'s value `v` as a whole number: None when unset; else a usage error naming it.
fn number<T: std::str::FromStr>(name: &str, v: Option<&str>) -> Result<Option<T>> {
    let Some(v) = v else {
        return Ok(None);
    };
    match v.trim().parse::<T>() {
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(UsageError(format!(
            "{name}={v:?} is not a whole number; set it to a number or unset it"
        ))
        .into()),
    }
}

/// `name`'s value `v` as a size: None when unset; anything that does not parse is a usage
/// error naming the variable.
fn size(name: &str, v: Option<&str>) -> Result<Option<u64>> {
    let Some(v) = v else {
        return Ok(None);
    };
    parse_size(v).map(Some).ok_or_else(|| {
        UsageError(format!(
            "{name}={v:?} is not a size (use e.g. 512MiB, 2GiB or a number of bytes)"
        ))
        .into()
    })
}

/// `512MiB`, `1GiB`, `100MB`, `64KiB`, `1048576`: bytes, above 0.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor).filter(|b| *b > 0)
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
    fn the_cache_follows_helms_order() {
        let env = |pairs: &[(&str, &str)]| {
            Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        };
        let all = [
            ("HELM_CACHE_HOME", "/hc"),
            ("XDG_CACHE_HOME", "/xdg"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(env(&all).helm_cache_home(), Some(PathBuf::from("/hc")));
        assert_eq!(
            env(&all[1..]).helm_cache_home(),
            Some(PathBuf::from("/xdg/helm"))
        );
        let home_only = env(&all[2..]).helm_cache_home().unwrap();
        assert!(home_only.starts_with("/home/u") && home_only.ends_with("helm"));
        assert_eq!(Env::default().helm_cache_home(), None);
        assert_eq!(env(&all).replaced_dir(), PathBuf::from("/hc/ccr/replaced"));
        // An empty value counts as unset, as Helm does.
        assert_eq!(
            env(&[("HELM_CACHE_HOME", ""), ("XDG_CACHE_HOME", "/xdg")]).helm_cache_home(),
            Some(PathBuf::from("/xdg/helm"))
        );
    }

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

    #[test]
    fn numeric_settings_are_checked() {
        let env = |v: &str| Env::from_pairs([("X".to_string(), v.to_string())]);
        assert_eq!(env_number::<u64>(&Env::default(), "X").unwrap(), None);
        assert_eq!(env_number::<u64>(&env("12"), "X").unwrap(), Some(12));
        for bad in ["-1", "1e3", "many", "99999999999999999999999"] {
            let err = env_number::<u64>(&env(bad), "X").unwrap_err();
            assert!(
                err.downcast_ref::<UsageError>().is_some() && err.to_string().contains("X="),
                "{err}"
            );
        }
        assert_eq!(env_size(&env("512MiB"), "X").unwrap(), Some(512 << 20));
        assert_eq!(env_size(&env("1 GiB"), "X").unwrap(), Some(1 << 30));
        assert_eq!(env_size(&env("100MB"), "X").unwrap(), Some(100_000_000));
        assert_eq!(env_size(&env("4096"), "X").unwrap(), Some(4096));
        for bad in [
            "0",
            "MiB",
            "1.5GiB",
            "12 parsecs",
            "99999999999999999999GiB",
        ] {
            assert!(env_size(&env(bad), "X").is_err(), "{bad}");
        }
    }

    #[test]
    fn helm_ccr_settings_through_their_accessors() {
        let env = |k: &str, v: &str| Env::from_pairs([(k.to_string(), v.to_string())]);
        assert_eq!(Env::default().retries().unwrap(), None);
        assert_eq!(env(vars::RETRIES, " 3 ").retries().unwrap(), Some(3));
        assert_eq!(env(vars::RETRIES, "0").retries().unwrap(), Some(1));
        assert_eq!(env(vars::RETRIES, "99").retries().unwrap(), Some(20));
        assert_eq!(
            env(vars::RETRIES, "abc").retries().unwrap_err().to_string(),
            "HELM_CCR_RETRIES=\"abc\" is not a whole number; set it to a number or unset it"
        );
        assert_eq!(
            env(vars::MAX_DOWNLOAD, "1KiB").max_download().unwrap(),
            Some(1024)
        );
        assert!(env(vars::MAX_DOWNLOAD, "lots").max_download().is_err());
        assert_eq!(env(vars::LIST_LIMIT, "7").list_limit().unwrap(), Some(7));
        assert_eq!(
            env(vars::LIST_LIMIT, "0")
                .list_limit()
                .unwrap_err()
                .to_string(),
            "HELM_CCR_LIST_LIMIT=\"0\" must be at least 1"
        );
        assert_eq!(Env::default().gpg_program(), "gpg");
        assert_eq!(env(vars::GPG, "gpg2").gpg_program(), "gpg2");
        assert_eq!(env(vars::SIGN_KEY, "me").sign_key(), Some("me"));
        assert_eq!(env(vars::ENDPOINT, "").endpoint(), None);
        assert!(env(vars::ENDPOINT, "x").is_set(vars::ENDPOINT));
        assert!(vars::ALL.iter().all(|v| v.starts_with("HELM_CCR_")));
        // Every variable documented once, in the same order.
        let documented: Vec<&str> = vars::TABLE.iter().map(|(name, _)| *name).collect();
        assert_eq!(documented, vars::ALL);
    }

    #[test]
    fn the_parent_s_insecure_flag_names_its_ccr_urls() {
        let line = |args: &[&str]| args.join("\0").into_bytes();
        assert_eq!(
            parse_parent_args(&line(&[
                "helm",
                "repo",
                "add",
                "r",
                "ccr://inst/ns",
                "--insecure-skip-tls-verify"
            ])),
            ["ccr://inst/ns"]
        );
        assert!(
            parse_parent_args(&line(&["helm", "repo", "add", "r", "ccr://inst/ns"])).is_empty()
        );
    }

    #[test]
    fn network_variables_are_in_the_snapshot() {
        let env = Env::from_pairs(
            [
                ("HTTPS_PROXY", ""),
                ("https_proxy", "http://u:p@proxy:3128"),
                ("NO_PROXY", "10.0.0.0/8"),
                ("SSL_CERT_FILE", "/corp.pem"),
                ("SSL_CERT_DIR", "/a:/b"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let proxy = env.proxy();
        assert_eq!(proxy.https.as_ref().unwrap().0, "https_proxy");
        assert_eq!(proxy.no_proxy.as_ref().unwrap().1, "10.0.0.0/8");
        assert!(!format!("{proxy:?}").contains(":p@"));
        assert_eq!(env.ssl_cert_file(), Some(PathBuf::from("/corp.pem")));
        assert_eq!(env.ssl_cert_dir(), Some("/a:/b"));
    }
}
