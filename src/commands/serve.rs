//! `helm ccr serve REPO | --repo NAME=REPO...`: CCR namespaces as plain HTTP Helm
//! repositories. Resolves each repository and its credentials as every command does, then
//! hands them to the server layer (`serve/`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::error::UsageError;
use crate::serve::{self, routes, ServeConfig, Upstream};
use crate::settings::credentials::Credentials;
use crate::settings::duration::parse_duration;
use crate::settings::env::parse_size;
use crate::settings::reference;
use crate::settings::source::Source;
use crate::settings::{self, Global};

/// What `serve` was asked for, as typed.
pub struct ServeSettings {
    /// The one repository served at `/`.
    pub repo: Option<String>,
    /// `NAME=REPO`, each served at `/NAME/`.
    pub repos: Vec<String>,
    pub listen: String,
    pub htpasswd: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub sts_credentials_file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub index_ttl: String,
    pub full_refresh: String,
    pub max_stale: String,
    pub cache_dir: Option<PathBuf>,
    pub cache_size: String,
    pub log_json: bool,
    pub grace: String,
    pub public_provenance: bool,
}

fn usage(msg: String) -> anyhow::Error {
    UsageError(msg).into()
}

fn duration(flag: &str, text: &str) -> Result<Duration> {
    parse_duration(text).map_err(|e| usage(format!("{flag} {text:?}: {e:#}")))
}

pub fn run(s: &ServeSettings, global: &Global) -> Result<()> {
    let named = named_repositories(s)?;
    let config = server_config(s, global)?;
    // A server has no overall deadline (the transport's liveliness limits still hold) and no
    // progress bars.
    let mut global = global.clone();
    global.timeout = None;
    global.quiet = true;
    // The STS file's keys replace the chain's for every repository (checked as ambient
    // credentials: they go only to Baidu's API hosts and to a configured endpoint).
    let sts = match &s.sts_credentials_file {
        Some(path) => Some(Credentials {
            keys: serve::sts::read_keys(path)?,
            source: Source::StsFile(path.clone()),
        }),
        None => None,
    };
    let mut upstreams = Vec::new();
    for (name, repo) in named {
        let arg = reference::parse_repo(&repo)?;
        let resolved = settings::resolve_repo(&arg, &global.env)?;
        let credentials = sts.clone().or(resolved.credentials.clone());
        let registry = settings::connect(&resolved.url, credentials, &global)
            .with_context(|| format!("cannot serve {}", resolved.display))?;
        upstreams.push(Upstream {
            name,
            display: resolved.display,
            registry,
        });
    }
    if upstreams.is_empty() {
        bail!("no repository to serve");
    }
    serve::run(config, upstreams)
}

/// The repositories to serve, each with the path it is served under (`""`: at `/`).
fn named_repositories(s: &ServeSettings) -> Result<Vec<(String, String)>> {
    match (&s.repo, s.repos.is_empty()) {
        (Some(r), true) => Ok(vec![(String::new(), r.clone())]),
        (None, false) => {
            let mut named: Vec<(String, String)> = Vec::new();
            for spec in &s.repos {
                let Some((name, repo)) = spec.split_once('=') else {
                    return Err(usage(format!(
                        "--repo {spec:?}: expected NAME=REPO, e.g. --repo stable=ccr://ccr-xxxx/charts"
                    )));
                };
                if !routes::valid_repo_name(name) {
                    return Err(usage(format!(
                        "--repo {spec:?}: {name:?} cannot be a path segment (letters, digits, '-', '_', '.', '+', '~'; not healthz, readyz, metrics, charts or index.yaml)"
                    )));
                }
                if named.iter().any(|(n, _)| n == name) {
                    return Err(usage(format!("--repo {name:?} is given twice")));
                }
                named.push((name.to_string(), repo.to_string()));
            }
            Ok(named)
        }
        (Some(_), false) => Err(usage(
            "serve takes either one REPO (served at /) or --repo NAME=REPO flags, not both".into(),
        )),
        (None, true) => Err(usage(
            "serve needs a repository: helm ccr serve REPO, or --repo NAME=REPO (repeatable)"
                .into(),
        )),
    }
}

/// The server's settings from the flags: each checked, a usage error naming the flag.
fn server_config(s: &ServeSettings, global: &Global) -> Result<ServeConfig> {
    let tls = match (&s.tls_cert, &s.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => return Err(usage("--tls-cert and --tls-key go together".into())),
    };
    let cache_size = parse_size(&s.cache_size).ok_or_else(|| {
        usage(format!(
            "--cache-size {:?}: expected a size such as 512MiB, 2GiB or 1000000",
            s.cache_size
        ))
    })?;
    let cache_dir = match &s.cache_dir {
        Some(d) => d.clone(),
        None => match global.env.helm_cache_home() {
            Some(c) => c.join("ccr").join("serve"),
            None => std::env::temp_dir().join("helm-ccr-serve"),
        },
    };
    Ok(ServeConfig {
        listen: s.listen.clone(),
        htpasswd: s.htpasswd.clone(),
        token_file: s.token_file.clone(),
        sts_credentials_file: s.sts_credentials_file.clone(),
        tls,
        index_ttl: duration("--index-ttl", &s.index_ttl)?,
        full_refresh: duration("--full-refresh", &s.full_refresh)?,
        max_stale: duration("--max-stale", &s.max_stale)?,
        cache_dir,
        cache_size,
        log_json: s.log_json,
        parallel: global.env.parallel()?,
        grace: duration("--grace-period", &s.grace)?,
        max_connections: 1024,
        public_provenance: s.public_provenance,
    })
}
