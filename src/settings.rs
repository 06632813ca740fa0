//! Settings every command shares, resolved once: the environment, the global flags, the
//! repository (URL or Helm repository name), the endpoint and the credentials.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::credentials::{self, Credentials};
pub use crate::env::{read_if_exists, Env};
use crate::error::UsageError;
use crate::output::Output;
use crate::registry::{Registry, DEFAULT_LIST_LIMIT};
use crate::repo_ref::{CcrUrl, RepoArg};
use crate::transport::Endpoint;
use crate::transport::{duration_text, Deadline, Transport, TransportConfig, DEFAULT_MAX_DOWNLOAD};

/// CCR regions and their API hosts are `ccr.{region}.baidubce.com`.
pub const REGIONS: &[&str] = &["bj", "bd", "gz", "su", "fwh", "hkg", "cd", "yq"];

/// Default number of attempts for a request that meets a transient fault.
pub const DEFAULT_ATTEMPTS: u32 = 4;

/// The global flags plus what the environment adds, shared by every command.
#[derive(Debug, Clone)]
pub struct Global {
    /// `--region`: picks `https://ccr.{region}.baidubce.com`.
    pub region: Option<String>,
    /// `--endpoint`: the API endpoint URL, overriding everything else.
    pub endpoint: Option<String>,
    /// `--timeout` (or `HELM_CCR_TIMEOUT`, or the getter's default): bounds the whole command.
    pub timeout: Option<TimeLimit>,
    /// `--ca-file`: PEM certificates to trust instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// `--insecure-skip-tls-verify`.
    pub insecure_skip_tls_verify: bool,
    /// `-q/--quiet`: only errors and what a command exists to print.
    pub quiet: bool,
    /// `HELM_DEBUG=true`: log each request (secrets redacted).
    pub debug: bool,
    /// Attempts per request for transient faults (`HELM_CCR_RETRIES`).
    pub attempts: u32,
    /// When the command started; with `timeout`, its deadline.
    pub started: Instant,
    pub env: Env,
}

impl Global {
    pub fn new(env: Env) -> Global {
        let attempts = env
            .get("HELM_CCR_RETRIES")
            .and_then(|v| v.parse::<u32>().ok())
            .map(|r| r.clamp(1, 20))
            .unwrap_or(DEFAULT_ATTEMPTS);
        Global {
            region: None,
            endpoint: None,
            timeout: None,
            ca_file: None,
            insecure_skip_tls_verify: false,
            quiet: false,
            debug: env.debug(),
            attempts,
            started: Instant::now(),
            env,
        }
    }

    /// [`Global::new`], refusing numeric settings of the environment that do not parse
    /// (`HELM_CCR_RETRIES=abc`) with a usage error naming the variable.
    pub fn from_env(env: Env) -> Result<Global> {
        let attempts = env_number::<u32>(&env, "HELM_CCR_RETRIES")?;
        let mut g = Global::new(env);
        if let Some(a) = attempts {
            g.attempts = a.clamp(1, 20);
        }
        Ok(g)
    }

    pub fn deadline(&self) -> Option<Deadline> {
        let t = self.timeout.as_ref()?;
        Some(Deadline {
            at: self.started.checked_add(t.limit)?,
            limit: t.limit,
            source: t.source.clone(),
            knob: t.knob,
        })
    }

    pub fn output(&self) -> Output {
        Output::new(self.quiet, self.debug)
    }
}

/// An overall time limit and how the user set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeLimit {
    pub limit: Duration,
    /// `--timeout 4s`, `HELM_CCR_TIMEOUT=4s`, or `the getter's default`.
    pub source: String,
    /// What to raise: `--timeout` or `HELM_CCR_TIMEOUT`.
    pub knob: &'static str,
}

/// The getter's overall limit when neither `--timeout` nor `HELM_CCR_TIMEOUT` sets one: Helm
/// runs it with no flag of ours, and a stuck getter would hang `helm install`.
pub const GETTER_DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The overall limit: `--timeout`, else `HELM_CCR_TIMEOUT`, else (for the getter only)
/// [`GETTER_DEFAULT_TIMEOUT`]. `0` (or `0s`, ...) means no limit. A value that does not parse,
/// or that is longer than a year, is a usage error naming where it came from.
pub fn resolve_timeout(flag: Option<&str>, env: &Env, getter: bool) -> Result<Option<TimeLimit>> {
    let (text, source_name, knob) = match (flag, env.get("HELM_CCR_TIMEOUT")) {
        (Some(f), _) => (f.to_string(), "--timeout ", "--timeout"),
        (None, Some(e)) => (e.to_string(), "HELM_CCR_TIMEOUT=", "HELM_CCR_TIMEOUT"),
        (None, None) if getter => {
            return Ok(Some(TimeLimit {
                limit: GETTER_DEFAULT_TIMEOUT,
                source: format!(
                    "the getter's default limit of {}",
                    duration_text(GETTER_DEFAULT_TIMEOUT)
                ),
                knob: "HELM_CCR_TIMEOUT",
            }))
        }
        (None, None) => return Ok(None),
    };
    let limit = parse_duration(&text).map_err(|e| {
        UsageError(format!(
            "{}: {e:#}",
            source_name.trim_end_matches([' ', '='])
        ))
    })?;
    if limit.is_zero() {
        return Ok(None);
    }
    Ok(Some(TimeLimit {
        limit,
        source: format!("{source_name}{}", duration_text(limit)),
        knob,
    }))
}

/// A numeric setting of the environment: None when unset or empty; a value that does not parse
/// is a usage error naming the variable (`HELM_CCR_RETRIES="abc" is not a whole number`).
pub fn env_number<T: std::str::FromStr>(env: &Env, name: &str) -> Result<Option<T>> {
    let Some(v) = env.get(name) else {
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

/// A size setting from the environment (`512MiB`, `1GiB`, `100MB`, `1048576`): `None` when
/// unset or empty; anything else that does not parse is a usage error naming the variable.
pub fn env_size(env: &Env, name: &str) -> Result<Option<u64>> {
    let Some(v) = env.get(name) else {
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

/// A Helm repository entry, as `helm repo add` writes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HelmRepoEntry {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl HelmRepoEntry {
    /// The entry's `--username`/`--password`, taken as access key id and secret key.
    pub fn credentials(&self, source: &str) -> Option<Credentials> {
        Credentials::new(
            self.username.as_deref().unwrap_or(""),
            self.password.as_deref().unwrap_or(""),
            None,
            source,
        )
    }
}

#[derive(Debug, Default, Deserialize)]
struct HelmRepoFile {
    #[serde(default)]
    repositories: Option<Vec<HelmRepoEntry>>,
}

/// The entries of Helm's repository file (none when it does not exist), and its path.
pub fn helm_repositories(env: &Env) -> Result<(PathBuf, Vec<HelmRepoEntry>)> {
    let Some(path) = env.repository_config() else {
        bail!("no Helm repository file (set HELM_REPOSITORY_CONFIG or HOME)");
    };
    let text = read_if_exists(&path)?.unwrap_or_default();
    let file: HelmRepoFile = if text.trim().is_empty() {
        HelmRepoFile::default()
    } else {
        // The file holds passwords: an error names the place, never the text around it (no
        // snippet, no message quoting a value). Helm's own file uses no aliases: a few
        // thousand replayed events are plenty, and bound what an alias bomb can cost.
        let options = serde_saphyr::options! {
            with_snippet: false,
            alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 10_000 },
        };
        serde_saphyr::from_str_with_options(&text, options).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{} is not a valid Helm repository file{at}", path.display())
        })?
    };
    Ok((path, file.repositories.unwrap_or_default()))
}

/// A repository resolved from what the user typed.
#[derive(Debug, Clone)]
pub struct Repo {
    pub url: CcrUrl,
    /// How to name it to the user (`myccr` or the URL).
    pub display: String,
    /// Credentials of the Helm repository entry, if it has some.
    pub credentials: Option<Credentials>,
}

/// Resolves a repository argument, reading Helm's repository file for names.
pub fn resolve_repo(arg: &RepoArg, env: &Env) -> Result<Repo> {
    match arg {
        RepoArg::Url(url) => Ok(Repo {
            url: url.clone(),
            display: url.repo_url(),
            credentials: None,
        }),
        RepoArg::Named(name) => {
            let (path, entries) =
                helm_repositories(env).with_context(|| format!("repository {name:?}"))?;
            let Some(entry) = entries.into_iter().find(|r| r.name == *name) else {
                bail!(
                    "repository {name:?} not found in {} (add it with `helm repo add {name} ccr://INSTANCE_ID/NAMESPACE`, or pass a ccr:// URL)",
                    path.display()
                );
            };
            if !entry.url.starts_with("ccr://") {
                bail!(
                    "repository {name:?} is {:?}, not a ccr:// repository",
                    crate::repo_ref::redact_userinfo(&entry.url)
                );
            }
            let url = CcrUrl::parse(entry.url.trim_end_matches('/'))
                .with_context(|| format!("repository {name:?}"))?;
            let has = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
            match (has(&entry.username), has(&entry.password)) {
                (true, false) => bail!(
                    "repository {name:?} has a username (access key id) but no password (secret key) in {}; add it again with `helm repo add {name} {} --username AK --password-stdin`",
                    path.display(),
                    url.repo_url()
                ),
                (false, true) => bail!(
                    "repository {name:?} has a password (secret key) but no username (access key id) in {}; add it again with `helm repo add {name} {} --username AK --password-stdin`",
                    path.display(),
                    url.repo_url()
                ),
                _ => {}
            }
            let credentials = entry.credentials(&format!("Helm repository {name:?}"));
            Ok(Repo {
                url: CcrUrl { rest: None, ..url },
                display: name.clone(),
                credentials,
            })
        }
    }
}

/// Picks the endpoint: `--endpoint`, `HELM_CCR_ENDPOINT`, the URL's API host, then the region's
/// host (region from `--region`, `BCE_REGION`, the BCE CLI profile, or `bj`).
pub fn resolve_endpoint(
    url: &CcrUrl,
    global: &Global,
    profile_region: Option<&str>,
) -> Result<Endpoint> {
    Ok(explain_endpoint(Some(url), global, profile_region)?.0)
}

/// The region and where it came from: `--region`, `BCE_REGION`, the BCE CLI profile, or the
/// default `bj`.
pub fn resolve_region<'a>(
    global: &'a Global,
    profile_region: Option<&'a str>,
) -> (&'a str, &'static str) {
    if let Some(r) = global.region.as_deref() {
        (r, "--region")
    } else if let Some(r) = global.env.get("BCE_REGION") {
        (r, "BCE_REGION")
    } else if let Some(r) = profile_region {
        (r, "the BCE CLI profile")
    } else {
        ("bj", "default")
    }
}

/// [`resolve_endpoint`], also saying where the endpoint came from (`helm ccr env`). With no
/// repository URL, only the flags, the environment and the region count.
pub fn explain_endpoint(
    url: Option<&CcrUrl>,
    global: &Global,
    profile_region: Option<&str>,
) -> Result<(Endpoint, String)> {
    if let Some(e) = &global.endpoint {
        return Ok((
            Endpoint::parse(e).context("--endpoint")?,
            "--endpoint".into(),
        ));
    }
    if let Some(e) = global.env.get("HELM_CCR_ENDPOINT") {
        return Ok((
            Endpoint::parse(e).context("HELM_CCR_ENDPOINT")?,
            "HELM_CCR_ENDPOINT".into(),
        ));
    }
    if let Some(h) = url.and_then(|u| u.api_host.as_ref()) {
        let e = Endpoint::parse(h)?;
        return Ok((
            Endpoint { https: true, ..e },
            "the API host in the repository URL".into(),
        ));
    }
    let (region, _) = resolve_region(global, profile_region);
    if !REGIONS.contains(&region) {
        bail!(
            "unknown region {region:?} (CCR regions: {})",
            REGIONS.join(", ")
        );
    }
    Ok((
        Endpoint {
            https: true,
            host: format!("ccr.{region}.baidubce.com"),
            port: None,
        },
        format!("region {region}"),
    ))
}

/// Builds a registry client for the repository: endpoint and credentials resolved, nothing
/// sent yet. Fails before any request when no credentials can be found.
pub fn connect(url: &CcrUrl, explicit: Option<Credentials>, global: &Global) -> Result<Registry> {
    let out = global.output();
    let mut warn = |w: String| out.warn(&w);
    let profile = needed_profile(url, explicit.is_some(), global, &mut warn)?;
    let endpoint = resolve_endpoint(
        url,
        global,
        profile.as_ref().and_then(|p| p.region.as_deref()),
    )?;
    let credentials = credentials::resolve(explicit, &global.env, profile.as_ref(), &mut warn)?;
    out.debug(&format!(
        "endpoint {}, access key {} (from {})",
        endpoint.base_url(),
        credentials.access_key_id,
        credentials.source
    ));
    let max_download =
        env_size(&global.env, "HELM_CCR_MAX_DOWNLOAD")?.unwrap_or(DEFAULT_MAX_DOWNLOAD);
    let list_limit = match env_number::<usize>(&global.env, "HELM_CCR_LIST_LIMIT")? {
        Some(0) => {
            return Err(UsageError("HELM_CCR_LIST_LIMIT=\"0\" must be at least 1".into()).into())
        }
        Some(n) => n,
        None => DEFAULT_LIST_LIMIT,
    };
    let transport = Transport::new(TransportConfig {
        endpoint,
        credentials,
        attempts: global.attempts,
        deadline: global.deadline(),
        max_download,
        ca_file: global.ca_file.clone(),
        insecure_skip_tls_verify: global.insecure_skip_tls_verify,
        output: out,
        parallel: global.env.parallel()?,
    })?;
    Ok(Registry::new(transport, &url.instance, &url.namespace).with_list_limit(list_limit))
}

/// The BCE CLI profile, read only when something needs it: the credentials (when neither the
/// repository entry nor the environment gives them) or the region (when nothing else names
/// the endpoint). A broken `~/.bce/config.json` therefore stops only a command that needs it
/// for its credentials; one that needs only a region from it warns and uses the default.
fn needed_profile(
    url: &CcrUrl,
    explicit_credentials: bool,
    global: &Global,
    warn: &mut dyn FnMut(String),
) -> Result<Option<credentials::Profile>> {
    let needs_credentials =
        !explicit_credentials && !credentials::env_names_credentials(&global.env);
    let needs_region = global.endpoint.is_none()
        && global.env.get("HELM_CCR_ENDPOINT").is_none()
        && url.api_host.is_none()
        && global.region.is_none()
        && global.env.get("BCE_REGION").is_none();
    if !needs_credentials && !needs_region {
        return Ok(None);
    }
    match credentials::bce_profile(&global.env, warn) {
        Ok(p) => Ok(p),
        Err(e) if !needs_credentials => {
            warn(format!(
                "ignoring the BCE CLI configuration for the region: {e:#}; using region bj (set --region or BCE_REGION)"
            ));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The longest duration accepted: a year. Longer is a typo (or an attempt to overflow).
pub const MAX_DURATION: Duration = Duration::from_secs(8760 * 3600);

/// Parses a Go-style duration: `90s`, `5m`, `1h30m`, `500ms`, or a bare number of seconds.
/// Zero in any form (`0`, `0s`, `0m0s`) is zero: the caller decides what it means (no limit).
/// Longer than [`MAX_DURATION`] is an error.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(secs) if secs <= MAX_DURATION.as_secs() => Ok(Duration::from_secs(secs)),
            _ => bail!("duration {s:?} is longer than a year (8760h); use 0 for no limit"),
        };
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        bail!("invalid duration {s:?}");
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid duration {s:?} (use e.g. 90s, 5m, 1h30m)"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let factor = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => bail!("invalid duration {s:?} (use e.g. 90s, 5m, 1h30m)"),
        };
        total += value * factor;
        rest = next;
    }
    if !total.is_finite() || total < 0.0 {
        bail!("invalid duration {s:?}");
    }
    if total > MAX_DURATION.as_secs_f64() {
        bail!("duration {s:?} is longer than a year (8760h); use 0 for no limit");
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(pairs: &[(&str, &str)]) -> Global {
        Global::new(Env::from_pairs(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    #[test]
    fn endpoint_precedence() {
        let url = CcrUrl::parse("ccr://inst/ns").unwrap();
        let host_url = CcrUrl::parse("ccr://ccr.su.baidubce.com/inst/ns").unwrap();
        let g = global(&[]);
        assert_eq!(
            resolve_endpoint(&url, &g, None).unwrap().host,
            "ccr.bj.baidubce.com"
        );
        assert_eq!(
            resolve_endpoint(&url, &g, Some("gz")).unwrap().host,
            "ccr.gz.baidubce.com"
        );
        let g = global(&[("BCE_REGION", "cd")]);
        assert_eq!(
            resolve_endpoint(&url, &g, Some("gz")).unwrap().host,
            "ccr.cd.baidubce.com"
        );
        assert_eq!(
            resolve_endpoint(&host_url, &g, None).unwrap().host,
            "ccr.su.baidubce.com"
        );
        let g = global(&[("HELM_CCR_ENDPOINT", "http://127.0.0.1:9")]);
        assert_eq!(
            resolve_endpoint(&host_url, &g, None).unwrap().base_url(),
            "http://127.0.0.1:9"
        );
        let mut g = global(&[("HELM_CCR_ENDPOINT", "http://127.0.0.1:9")]);
        g.endpoint = Some("http://localhost:1".into());
        assert_eq!(
            resolve_endpoint(&url, &g, None).unwrap().base_url(),
            "http://localhost:1"
        );
        let mut g = global(&[]);
        g.region = Some("mars".into());
        assert!(resolve_endpoint(&url, &g, None).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        for zero in ["0", "0s", "0ms", "0m0s", "00"] {
            assert_eq!(parse_duration(zero).unwrap(), Duration::ZERO, "{zero}");
        }
        for bad in ["", "5x", "m", "-1s", "s", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for huge in [
            "18446744073709551615",
            "99999999999999999999999",
            "31536001",
            "8761h",
            "99999999999999999999h",
            "1e400s",
        ] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_duration("8760h").unwrap(), MAX_DURATION);
    }

    #[test]
    fn timeouts_resolve_from_flag_env_and_getter_default() {
        let env = |pairs: &[(&str, &str)]| {
            Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        };
        let none = env(&[]);
        assert_eq!(resolve_timeout(None, &none, false).unwrap(), None);
        let t = resolve_timeout(Some("4"), &none, false).unwrap().unwrap();
        assert_eq!(
            (t.limit, t.source.as_str(), t.knob),
            (Duration::from_secs(4), "--timeout 4s", "--timeout")
        );
        let e = env(&[("HELM_CCR_TIMEOUT", "90s")]);
        let t = resolve_timeout(None, &e, false).unwrap().unwrap();
        assert_eq!(t.source, "HELM_CCR_TIMEOUT=90s");
        assert_eq!(t.knob, "HELM_CCR_TIMEOUT");
        // The flag wins; 0 and 0s alike mean no limit, for the getter too.
        assert_eq!(resolve_timeout(Some("0"), &e, true).unwrap(), None);
        assert_eq!(resolve_timeout(Some("0s"), &e, true).unwrap(), None);
        assert_eq!(
            resolve_timeout(None, &env(&[("HELM_CCR_TIMEOUT", "0")]), true).unwrap(),
            None
        );
        let t = resolve_timeout(None, &none, true).unwrap().unwrap();
        assert_eq!(t.limit, GETTER_DEFAULT_TIMEOUT);
        for (flag, env_value, named) in [
            (Some("99999999999999999999"), None, "--timeout"),
            (Some("soon"), None, "--timeout"),
            (None, Some("18446744073709551615"), "HELM_CCR_TIMEOUT"),
            (None, Some("x"), "HELM_CCR_TIMEOUT"),
        ] {
            let e = env_value.map_or_else(|| env(&[]), |v| env(&[("HELM_CCR_TIMEOUT", v)]));
            let err = resolve_timeout(flag, &e, true).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{err}");
            assert!(err.to_string().starts_with(named), "{err}");
        }
    }

    #[test]
    fn the_bce_profile_is_read_only_when_needed() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".bce")).unwrap();
        std::fs::write(home.path().join(".bce/config.json"), "{ broken").unwrap();
        let url = CcrUrl::parse("ccr://inst/ns").unwrap();
        let g = |pairs: &[(&str, &str)]| {
            let mut v: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            v.push(("HOME".into(), home.path().display().to_string()));
            Global::new(Env::from_pairs(v))
        };
        let creds = [("BCE_ACCESS_KEY_ID", "ak"), ("BCE_SECRET_ACCESS_KEY", "sk")];
        let mut warnings = Vec::new();
        // Credentials and region from elsewhere: not read at all.
        let global = g(&[creds[0], creds[1], ("BCE_REGION", "gz")]);
        assert!(
            needed_profile(&url, false, &global, &mut |w| warnings.push(w))
                .unwrap()
                .is_none()
        );
        assert!(
            needed_profile(&url, true, &g(&[("BCE_REGION", "gz")]), &mut |w| warnings
                .push(w))
            .unwrap()
            .is_none()
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        // Only the region would come from it: a warning, and the default region.
        let global = g(&creds);
        assert!(
            needed_profile(&url, false, &global, &mut |w| warnings.push(w))
                .unwrap()
                .is_none()
        );
        assert!(
            warnings.iter().any(|w| w.contains("using region bj")),
            "{warnings:?}"
        );
        // The credentials would come from it: an error naming the file.
        let err = needed_profile(&url, false, &g(&[("BCE_REGION", "gz")]), &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.json is not valid BCE CLI configuration"),
            "{err}"
        );
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
    fn named_repositories_come_from_helm_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.yaml");
        std::fs::write(
            &path,
            "apiVersion: \"\"\ngenerated: \"0001-01-01T00:00:00Z\"\nrepositories:\n- name: myccr\n  url: ccr://ccr-1/ns\n  username: AK\n  password: SK\n- name: web\n  url: https://charts.example.com\n",
        )
        .unwrap();
        let env = Env::from_pairs([(
            "HELM_REPOSITORY_CONFIG".to_string(),
            path.display().to_string(),
        )]);
        let r = resolve_repo(&RepoArg::Named("myccr".into()), &env).unwrap();
        assert_eq!(r.url.instance, "ccr-1");
        assert_eq!(r.credentials.unwrap().access_key_id, "AK");
        assert!(resolve_repo(&RepoArg::Named("web".into()), &env).is_err());
        let err = resolve_repo(&RepoArg::Named("nope".into()), &env).unwrap_err();
        assert!(err.to_string().contains("not found"));
    }
}
