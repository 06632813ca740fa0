//! Settings every command shares, resolved once: the environment, the global flags, the
//! repository (URL or Helm repository name), the endpoint and the credentials.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::credentials::{self, Credentials};
pub use crate::env::{read_if_exists, Endpoint, Env};
use crate::error::UsageError;
use crate::output::Output;
use crate::registry::Registry;
use crate::repo_ref::{CcrUrl, RepoArg};
use crate::transport::{Transport, TransportConfig};

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
    /// `--timeout`: bounds the whole command.
    pub timeout: Option<Duration>,
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

    pub fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| self.started + t)
    }

    pub fn output(&self) -> Output {
        Output::new(self.quiet, self.debug)
    }
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
        serde_saphyr::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not valid: {e}", path.display()))?
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
                    entry.url
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
    let profile = credentials::bce_profile(&global.env, &mut warn)?;
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
    let transport = Transport::new(TransportConfig {
        endpoint,
        credentials,
        attempts: global.attempts,
        deadline: global.deadline(),
        ca_file: global.ca_file.clone(),
        insecure_skip_tls_verify: global.insecure_skip_tls_verify,
        output: out,
        parallel: global.env.parallel()?,
    })?;
    Ok(Registry::new(transport, &url.instance, &url.namespace))
}

/// Parses a Go-style duration: `90s`, `5m`, `1h30m`, `500ms`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
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
    if !total.is_finite() || total <= 0.0 || total > 1e9 {
        bail!("invalid duration {s:?}");
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
        for bad in ["", "5x", "m", "-1s", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
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
