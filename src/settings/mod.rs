//! Settings every command shares, resolved once: the environment, the global flags, the
//! repository (URL or Helm repository name), the endpoint and the credentials, each value with
//! where it came from ([`resolve`] -> [`Resolved`]).
pub mod credentials;
pub mod destination;
pub mod duration;
pub mod env;
pub mod reference;
pub mod repositories;
pub mod source;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::error::UsageError;
use crate::registry::{Registry, DEFAULT_LIST_LIMIT};
pub use crate::settings::duration::{parse_duration, MAX_DURATION};
use crate::settings::env::vars as env_vars;
pub use crate::settings::env::{env_number, env_size, parse_size, read_if_exists, Env};
use crate::settings::reference::CcrUrl;
pub use crate::settings::repositories::{
    entry_tls, find_entries, getter_credentials, helm_repositories, resolve_repo, HelmRepoEntry,
    Lookup, Repo,
};
pub use crate::settings::source::{Source, Sourced};
use crate::transport::{duration_text, Deadline, Transport, TransportConfig, DEFAULT_MAX_DOWNLOAD};
use crate::transport::{route_of, ClientCertFiles, Endpoint, ProxyEnv, Route, TlsSettings};
use crate::ui::output::Output;
use credentials::Credentials;

pub use destination::{Trust, REGIONS};

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
    /// Where `ca_file` came from: `--ca-file`, unless the getter took Helm's.
    pub ca_file_source: Source,
    /// `--insecure-skip-tls-verify`.
    pub insecure_skip_tls_verify: bool,
    /// `--cert-file` and `--key-file` (both or neither): a client certificate, PEM.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Where `client_cert` came from: `--cert-file/--key-file`, unless the getter took Helm's.
    pub client_cert_source: Source,
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
    /// The settings of `env` alone; a `HELM_CCR_RETRIES` that does not parse counts as unset
    /// (see [`Global::from_env`]).
    pub fn new(env: Env) -> Global {
        let attempts = env.retries().ok().flatten().unwrap_or(DEFAULT_ATTEMPTS);
        Global {
            region: None,
            endpoint: None,
            timeout: None,
            ca_file: None,
            ca_file_source: Source::Flag("--ca-file"),
            insecure_skip_tls_verify: false,
            client_cert: None,
            client_cert_source: Source::Flag("--cert-file/--key-file"),
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
        env.retries()?;
        Ok(Global::new(env))
    }

    /// [`Global::attempts`] and where it came from: `HELM_CCR_RETRIES`, the default, or the
    /// code that set it (completion makes one attempt).
    pub fn attempts_sourced(&self) -> Sourced<u32> {
        let source = match self.env.retries() {
            Ok(Some(n)) if n == self.attempts => Source::Env(env_vars::RETRIES),
            _ if self.attempts == DEFAULT_ATTEMPTS => Source::Default,
            _ => Source::Given("set by the command".into()),
        };
        Sourced::new(self.attempts, source)
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

impl TimeLimit {
    /// Where the limit came from, read from the label [`resolve_timeout`] gives it; a limit
    /// set in code (completion's) is [`Source::Given`] its label.
    pub fn origin(&self) -> Source {
        if self.source.starts_with("--timeout ") {
            Source::Flag("--timeout")
        } else if self.source.starts_with("HELM_CCR_TIMEOUT=") {
            Source::Env(env_vars::TIMEOUT)
        } else if self.source.starts_with("the getter's default") {
            Source::Default
        } else {
            Source::Given(self.source.clone())
        }
    }
}

/// The getter's overall limit when neither `--timeout` nor `HELM_CCR_TIMEOUT` sets one: Helm
/// runs it with no flag of ours, and a stuck getter would hang `helm install`.
pub const GETTER_DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The overall limit: `--timeout`, else `HELM_CCR_TIMEOUT`, else (for the getter only)
/// [`GETTER_DEFAULT_TIMEOUT`]. `0` (or `0s`, ...) means no limit. A value that does not parse,
/// or that is longer than a year, is a usage error naming where it came from.
pub fn resolve_timeout(flag: Option<&str>, env: &Env, getter: bool) -> Result<Option<TimeLimit>> {
    let (text, source_name, knob) = match (flag, env.timeout()) {
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

/// What a command will use to reach the registry, each value with where it came from: one
/// resolution for [`connect`], the getter and `helm ccr env` alike.
#[derive(Debug)]
pub struct Resolved {
    pub endpoint: Sourced<Endpoint>,
    /// The region, shown by `helm ccr env` also when the endpoint does not come from it. From
    /// `--region`, `BCE_REGION`, the BCE CLI profile (when it was read: see [`resolve`]), or
    /// the default `bj`.
    pub region: Sourced<String>,
    /// The credentials ([`Credentials::source`] says where from), or why none are usable:
    /// `helm ccr env` shows the other settings before that error.
    pub credentials: Result<Credentials>,
    /// With credentials: why they may go to the endpoint's host, or the refusal naming it
    /// (see [`destination`]); [`Resolved::into_registry`] fails on a refusal before any
    /// request.
    pub sending: Option<Result<Trust>>,
    /// The other per-connection values, or the first environment variable that does not
    /// parse (only a command that connects fails on it).
    pub connection: Result<Connection>,
}

/// The per-connection values besides endpoint and credentials.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Attempts per request for a transient fault (`HELM_CCR_RETRIES`, default 4).
    pub attempts: Sourced<u32>,
    /// The command's deadline (`--timeout`, `HELM_CCR_TIMEOUT`, the getter's default).
    pub deadline: Option<Sourced<Deadline>>,
    /// Largest download accepted (`HELM_CCR_MAX_DOWNLOAD`, default 512 MiB).
    pub max_download: Sourced<u64>,
    /// Most entries one listing takes (`HELM_CCR_LIST_LIMIT`).
    pub list_limit: Sourced<usize>,
    /// Requests in flight at most (`HELM_CCR_PARALLEL`).
    pub parallel: Sourced<usize>,
    /// PEM certificates to trust (`--ca-file`, or the CA file Helm passes the getter).
    pub ca_file: Option<Sourced<PathBuf>>,
    /// `--insecure-skip-tls-verify`, or the repository entry's `insecure_skip_tls_verify`.
    pub insecure_skip_tls_verify: Sourced<bool>,
    /// A client certificate and key (`--cert-file/--key-file`, the getter's CERT and KEY,
    /// the repository entry's `certFile`/`keyFile`).
    pub client_cert: Option<Sourced<(PathBuf, PathBuf)>>,
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR`, which replace the system's roots as in Go.
    pub ssl_cert_file: Option<PathBuf>,
    pub ssl_cert_dir: Option<String>,
    /// The proxy variables (Go's rules pick the route: [`Connection::route`]).
    pub proxy: ProxyEnv,
}

impl Connection {
    /// The TLS settings the transport gets.
    pub fn tls(&self) -> TlsSettings {
        TlsSettings {
            ca_file: self.ca_file.as_ref().map(|f| f.value.clone()),
            ca_file_source: self
                .ca_file
                .as_ref()
                .map(|f| f.source.to_string())
                .unwrap_or_default(),
            ssl_cert_file: self.ssl_cert_file.clone(),
            ssl_cert_dir: self.ssl_cert_dir.clone(),
            client_cert: self.client_cert.as_ref().map(|c| ClientCertFiles {
                cert: c.value.0.clone(),
                key: c.value.1.clone(),
                source: c.source.to_string(),
            }),
            insecure: self.insecure_skip_tls_verify.value,
        }
    }

    /// The trust roots these settings give, described (reads them, and the client
    /// certificate, as a client would).
    pub fn trust(&self) -> Result<crate::transport::Trust> {
        crate::transport::tls::describe(&self.tls())
    }

    /// The route requests to `endpoint` take, as Go decides it; an unusable proxy value is
    /// an error naming its variable.
    pub fn route(&self, endpoint: &Endpoint) -> Result<Route> {
        route_of(&self.proxy, endpoint)
    }
}

/// Resolves the settings for a command's repository (`url`; none for `helm ccr env` without
/// REPO). `explicit` are the repository entry's (or the getter's) credentials.
///
/// The BCE CLI profile is read only when something needs it (see [`needed_profile`]): a broken
/// `~/.bce/config.json` is an error only when the credentials would come from it. An endpoint
/// that does not parse, or an unknown region, is an error; the credentials and the other
/// values carry theirs (see [`Resolved`]). Warnings (a file readable by others, a profile
/// ignored for the region) go to the command's output.
pub fn resolve(
    url: Option<&CcrUrl>,
    explicit: Option<Credentials>,
    global: &Global,
) -> Result<Resolved> {
    let out = global.output();
    let mut warn = |w: String| out.warn(&w);
    let profile = needed_profile(url, explicit.is_some(), global, &mut warn)?;
    let profile_region = profile.as_ref().and_then(|p| p.region.as_deref());
    let endpoint = explain_endpoint(url, global, profile_region)?;
    let region = resolve_region(global, profile_region);
    let credentials = credentials::resolve(explicit, &global.env, profile.as_ref(), &mut warn);
    let sending = credentials
        .as_ref()
        .ok()
        .map(|c| may_send(&endpoint, url, c, global, profile.as_ref()));
    Ok(Resolved {
        endpoint,
        region,
        credentials,
        sending,
        connection: resolve_connection(global, url),
    })
}

/// Whether `credentials` may go to the final `endpoint` (see [`destination::check`]). The
/// endpoints the user configured: `--endpoint`, `HELM_CCR_ENDPOINT` and the BCE CLI profile's
/// (read here, silently, when it was not needed before and only it could allow the host).
fn may_send(
    endpoint: &Sourced<Endpoint>,
    url: Option<&CcrUrl>,
    credentials: &Credentials,
    global: &Global,
    profile: Option<&credentials::Profile>,
) -> Result<Trust> {
    let parsed =
        |e: Option<&str>, source: Source| Endpoint::parse(e?).ok().map(|e| Sourced::new(e, source));
    let mut configured: Vec<Sourced<Endpoint>> = [
        parsed(global.endpoint.as_deref(), Source::Flag("--endpoint")),
        parsed(global.env.endpoint(), Source::Env(env_vars::ENDPOINT)),
        parsed(
            profile.and_then(|p| p.endpoint.as_deref()),
            Source::BceProfile,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let first = destination::check(endpoint, url, credentials, &configured);
    if first.is_ok() || profile.is_some() {
        return first;
    }
    let read = credentials::bce_profile(&global.env, &mut |_| {})
        .ok()
        .flatten();
    match parsed(
        read.as_ref().and_then(|p| p.endpoint.as_deref()),
        Source::BceProfile,
    ) {
        Some(e) => {
            configured.push(e);
            destination::check(endpoint, url, credentials, &configured)
        }
        None => first,
    }
}

fn resolve_connection(global: &Global, url: Option<&CcrUrl>) -> Result<Connection> {
    let env = &global.env;
    let max_download = Sourced::env_or(
        env.max_download()?,
        env_vars::MAX_DOWNLOAD,
        DEFAULT_MAX_DOWNLOAD,
    );
    let list_limit = Sourced::env_or(env.list_limit()?, env_vars::LIST_LIMIT, DEFAULT_LIST_LIMIT);
    let parallel = Sourced::new(
        env.parallel()?,
        if env.is_set(env_vars::PARALLEL) {
            Source::Env(env_vars::PARALLEL)
        } else {
            Source::Default
        },
    );
    let deadline = global.deadline().map(|d| {
        let source = global
            .timeout
            .as_ref()
            .map_or(Source::Default, TimeLimit::origin);
        Sourced::new(d, source)
    });
    // The repository entry's TLS settings, found by the repository's URL, fill in what the
    // flags (or Helm, for the getter) leave unset.
    let entry = url.and_then(|u| entry_tls(u, env, &global.output()));
    let from_entry = |what: &str| {
        let name = entry.as_ref().map(|e| e.name.as_str()).unwrap_or_default();
        Source::Given(format!("Helm repository {name:?} ({what})"))
    };
    let ca_file = match (&global.ca_file, entry.as_ref().and_then(|e| e.ca_file())) {
        (Some(f), _) => Some(Sourced::new(f.clone(), global.ca_file_source.clone())),
        (None, Some(f)) => Some(Sourced::new(f, from_entry("caFile"))),
        (None, None) => None,
    };
    let client_cert = match (
        &global.client_cert,
        entry.as_ref().and_then(|e| e.client_cert()),
    ) {
        (Some(c), _) => Some(Sourced::new(c.clone(), global.client_cert_source.clone())),
        (None, Some(c)) => Some(Sourced::new(c, from_entry("certFile/keyFile"))),
        (None, None) => None,
    };
    let insecure_skip_tls_verify = if global.insecure_skip_tls_verify {
        Sourced::new(true, Source::Flag("--insecure-skip-tls-verify"))
    } else if entry.as_ref().is_some_and(|e| e.insecure_skip_tls_verify) {
        Sourced::new(true, from_entry("insecure_skip_tls_verify"))
    } else if url.is_some_and(|u| {
        env.parent_insecure().iter().any(|p| {
            CcrUrl::parse(p.trim_end_matches('/')).is_ok_and(|p| p.repo_url() == u.repo_url())
        })
    }) {
        Sourced::new(
            true,
            Source::Helm("--insecure-skip-tls-verify of the helm command running the getter"),
        )
    } else {
        Sourced::new(false, Source::Default)
    };
    Ok(Connection {
        attempts: global.attempts_sourced(),
        deadline,
        max_download,
        list_limit,
        parallel,
        ca_file,
        insecure_skip_tls_verify,
        client_cert,
        ssl_cert_file: env.ssl_cert_file(),
        ssl_cert_dir: env.ssl_cert_dir().map(str::to_string),
        proxy: env.proxy(),
    })
}

impl Resolved {
    /// A registry client for `url` on these settings: nothing sent yet. Fails before any
    /// request when no credentials were found, or a per-connection value does not parse.
    pub fn into_registry(self, url: &CcrUrl, out: Output) -> Result<Registry> {
        let credentials = self.credentials?;
        if let Some(Err(refused)) = self.sending {
            return Err(refused);
        }
        out.debug(&format!(
            "endpoint {}, access key {} (from {})",
            self.endpoint.value.base_url(),
            credentials.access_key_id,
            credentials.source
        ));
        let c = self.connection?;
        let tls = c.tls();
        let transport = Transport::new(TransportConfig {
            endpoint: self.endpoint.value,
            keys: credentials.keys,
            attempts: c.attempts.value,
            deadline: c.deadline.map(|d| d.value),
            max_download: c.max_download.value,
            tls,
            proxy: c.proxy,
            output: out,
            parallel: c.parallel.value,
        })?;
        Ok(Registry::new(transport, &url.instance, &url.namespace)
            .with_list_limit(c.list_limit.value))
    }
}

/// Picks the endpoint: `--endpoint`, the API host written in the URL, `HELM_CCR_ENDPOINT`,
/// then the region's host (region from `--region`, `BCE_REGION`, the BCE CLI profile, or `bj`).
pub fn resolve_endpoint(
    url: &CcrUrl,
    global: &Global,
    profile_region: Option<&str>,
) -> Result<Endpoint> {
    Ok(explain_endpoint(Some(url), global, profile_region)?.value)
}

/// The region and where it came from: `--region`, `BCE_REGION`, the BCE CLI profile, or the
/// default `bj`.
pub fn resolve_region(global: &Global, profile_region: Option<&str>) -> Sourced<String> {
    if let Some(r) = global.region.as_deref() {
        Sourced::new(r.to_string(), Source::Flag("--region"))
    } else if let Some(r) = global.env.get("BCE_REGION") {
        Sourced::new(r.to_string(), Source::Env("BCE_REGION"))
    } else if let Some(r) = profile_region {
        Sourced::new(r.to_string(), Source::BceProfile)
    } else {
        Sourced::new("bj".to_string(), Source::Default)
    }
}

/// [`resolve_endpoint`], also saying where the endpoint came from. With no repository URL,
/// only the flags, the environment and the region count.
pub fn explain_endpoint(
    url: Option<&CcrUrl>,
    global: &Global,
    profile_region: Option<&str>,
) -> Result<Sourced<Endpoint>> {
    if let Some(e) = &global.endpoint {
        return Ok(Sourced::new(
            Endpoint::parse(e).context("--endpoint")?,
            Source::Flag("--endpoint"),
        ));
    }
    // The host written in the URL is the more specific setting: it beats the environment.
    if let Some(h) = url.and_then(|u| u.api_host.as_ref()) {
        let e = Endpoint::parse(h)?;
        return Ok(Sourced::new(
            Endpoint { https: true, ..e },
            Source::UrlApiHost,
        ));
    }
    if let Some(e) = global.env.endpoint() {
        return Ok(Sourced::new(
            Endpoint::parse(e).context("HELM_CCR_ENDPOINT")?,
            Source::Env(env_vars::ENDPOINT),
        ));
    }
    let region = resolve_region(global, profile_region).value;
    if !REGIONS.contains(&region.as_str()) {
        bail!(
            "unknown region {region:?} (CCR regions: {})",
            REGIONS.join(", ")
        );
    }
    Ok(Sourced::new(
        Endpoint {
            https: true,
            host: format!("ccr.{region}.baidubce.com"),
            port: None,
        },
        Source::Region(region),
    ))
}

/// Builds a registry client for the repository: [`resolve`], then the transport and the
/// registry on top; nothing sent yet. Fails before any request when no credentials can be
/// found.
pub fn connect(url: &CcrUrl, explicit: Option<Credentials>, global: &Global) -> Result<Registry> {
    resolve(Some(url), explicit, global)?.into_registry(url, global.output())
}

/// The getter's repository: `url`, with the credentials Helm passes or those of the Helm
/// repository entry of the same URL (see [`getter_credentials`]).
pub fn getter_repo(url: &CcrUrl, global: &Global) -> Repo {
    Repo {
        url: url.clone(),
        display: url.repo_url(),
        credentials: getter_credentials(url, &global.env, &global.output()),
    }
}

/// The BCE CLI profile, read only when something needs it: the credentials (when neither the
/// repository entry nor the environment gives them) or the region (when nothing else names
/// the endpoint). A broken `~/.bce/config.json` therefore stops only a command that needs it
/// for its credentials; one that needs only a region from it warns and uses the default.
fn needed_profile(
    url: Option<&CcrUrl>,
    explicit_credentials: bool,
    global: &Global,
    warn: &mut dyn FnMut(String),
) -> Result<Option<credentials::Profile>> {
    let needs_credentials =
        !explicit_credentials && !credentials::env_names_credentials(&global.env);
    let needs_region = global.endpoint.is_none()
        && global.env.endpoint().is_none()
        && url.is_none_or(|u| u.api_host.is_none())
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
        // The URL's host beats the environment; the environment beats the region.
        let g = global(&[
            ("HELM_CCR_ENDPOINT", "http://127.0.0.1:9"),
            ("BCE_REGION", "cd"),
        ]);
        let e = explain_endpoint(Some(&host_url), &g, None).unwrap();
        assert_eq!(e.value.base_url(), "https://ccr.su.baidubce.com");
        assert_eq!(e.source, Source::UrlApiHost);
        let e = explain_endpoint(Some(&url), &g, None).unwrap();
        assert_eq!(e.value.base_url(), "http://127.0.0.1:9");
        assert_eq!(e.source, Source::Env(env_vars::ENDPOINT));
        // --endpoint beats both.
        let mut g = global(&[("HELM_CCR_ENDPOINT", "http://127.0.0.1:9")]);
        g.endpoint = Some("http://localhost:1".into());
        assert_eq!(
            resolve_endpoint(&url, &g, None).unwrap().base_url(),
            "http://localhost:1"
        );
        assert_eq!(
            resolve_endpoint(&host_url, &g, None).unwrap().base_url(),
            "http://localhost:1"
        );
        let mut g = global(&[]);
        g.region = Some("mars".into());
        assert!(resolve_endpoint(&url, &g, None).is_err());
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

    /// A home whose `~/.bce/config.json` does not parse.
    fn broken_profile_home() -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".bce")).unwrap();
        std::fs::write(home.path().join(".bce/config.json"), "{ broken").unwrap();
        home
    }

    /// The settings of an environment of `pairs` and `HOME=home`.
    fn global_in(home: &std::path::Path, pairs: &[(&str, &str)]) -> Global {
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.push(("HOME".into(), home.display().to_string()));
        Global::new(Env::from_pairs(v))
    }

    #[test]
    fn the_bce_profile_is_read_only_when_needed() {
        let home = broken_profile_home();
        let url = CcrUrl::parse("ccr://inst/ns").unwrap();
        let g = |pairs: &[(&str, &str)]| global_in(home.path(), pairs);
        let creds = [("BCE_ACCESS_KEY_ID", "ak"), ("BCE_SECRET_ACCESS_KEY", "sk")];
        let mut warnings = Vec::new();
        // Credentials and region from elsewhere: not read at all.
        let global = g(&[creds[0], creds[1], ("BCE_REGION", "gz")]);
        assert!(
            needed_profile(Some(&url), false, &global, &mut |w| warnings.push(w))
                .unwrap()
                .is_none()
        );
        assert!(
            needed_profile(Some(&url), true, &g(&[("BCE_REGION", "gz")]), &mut |w| {
                warnings.push(w)
            })
            .unwrap()
            .is_none()
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        // Only the region would come from it: a warning, and the default region.
        let global = g(&creds);
        assert!(
            needed_profile(Some(&url), false, &global, &mut |w| warnings.push(w))
                .unwrap()
                .is_none()
        );
        assert!(
            warnings.iter().any(|w| w.contains("using region bj")),
            "{warnings:?}"
        );
        // The credentials would come from it: an error naming the file.
        let err = needed_profile(Some(&url), false, &g(&[("BCE_REGION", "gz")]), &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.json is not valid BCE CLI configuration"),
            "{err}"
        );
    }

    #[test]
    fn resolve_gives_every_value_its_source() {
        let home = broken_profile_home();
        let url = CcrUrl::parse("ccr://inst/ns").unwrap();
        let g = |pairs: &[(&str, &str)]| global_in(home.path(), pairs);
        // Environment credentials and endpoint: the broken profile is never read.
        let global = g(&[
            ("BCE_ACCESS_KEY_ID", "ak"),
            ("BCE_SECRET_ACCESS_KEY", "sk"),
            ("HELM_CCR_ENDPOINT", "http://127.0.0.1:9"),
            ("HELM_CCR_PARALLEL", "4"),
        ]);
        let r = resolve(Some(&url), None, &global).unwrap();
        assert_eq!(r.endpoint.source, Source::Env("HELM_CCR_ENDPOINT"));
        assert_eq!(r.region, Sourced::new("bj".to_string(), Source::Default));
        assert_eq!(r.credentials.unwrap().source, Source::EnvKeyPair);
        let c = r.connection.unwrap();
        assert_eq!(
            c.parallel,
            Sourced::new(4, Source::Env("HELM_CCR_PARALLEL"))
        );
        assert_eq!(
            c.max_download,
            Sourced::new(DEFAULT_MAX_DOWNLOAD, Source::Default)
        );
        assert_eq!(c.list_limit.source, Source::Default);
        assert_eq!(c.attempts, Sourced::new(DEFAULT_ATTEMPTS, Source::Default));
        assert!(c.deadline.is_none() && c.ca_file.is_none());
        assert_eq!(c.insecure_skip_tls_verify.source, Source::Default);

        // Flags and the caller's credentials; a bad per-connection value stays inside.
        let mut global = g(&[("HELM_CCR_RETRIES", "2"), ("HELM_CCR_LIST_LIMIT", "0")]);
        global.region = Some("gz".into());
        global.ca_file = Some("ca.pem".into());
        global.timeout = resolve_timeout(Some("5s"), &global.env, false).unwrap();
        let r = resolve(
            Some(&url),
            Credentials::new("ak", "sk", None, "test"),
            &global,
        )
        .unwrap();
        assert_eq!(r.endpoint.source, Source::Region("gz".into()));
        assert_eq!(r.endpoint.value.host, "ccr.gz.baidubce.com");
        assert_eq!(r.region.source, Source::Flag("--region"));
        assert_eq!(r.credentials.unwrap().source, Source::from("test"));
        let err = r.connection.unwrap_err().to_string();
        assert!(err.contains("HELM_CCR_LIST_LIMIT"), "{err}");
        let global = Global {
            env: Env::from_pairs([("HELM_CCR_RETRIES".to_string(), "2".to_string())]),
            ..global
        };
        let c = resolve_connection(&global, None).unwrap();
        assert_eq!(c.attempts, Sourced::new(2, Source::Env("HELM_CCR_RETRIES")));
        assert_eq!(c.deadline.unwrap().source, Source::Flag("--timeout"));
        assert_eq!(c.ca_file.unwrap().source, Source::Flag("--ca-file"));

        // No credentials anywhere: the error is kept, the rest resolved.
        let global = g(&[("HELM_CCR_ENDPOINT", "http://127.0.0.1:9")]);
        std::fs::remove_file(home.path().join(".bce/config.json")).unwrap();
        let r = resolve(None, None, &global).unwrap();
        assert!(r.credentials.is_err());
        assert!(r.connection.is_ok());
        assert_eq!(r.endpoint.value.base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn ambient_credentials_may_go_to_configured_endpoints_only() {
        let home = tempfile::tempdir().unwrap();
        let evil = CcrUrl::parse("ccr://ccr.evil.example/i/ns").unwrap();
        let g = |pairs: &[(&str, &str)]| {
            let mut v: Vec<(String, String)> = [
                ("BCE_ACCESS_KEY_ID", "ak"),
                ("BCE_SECRET_ACCESS_KEY", "sk"),
                ("BCE_SECURITY_TOKEN", "tok"),
            ]
            .iter()
            .chain(pairs)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            v.push(("HOME".into(), home.path().display().to_string()));
            Global::new(Env::from_pairs(v))
        };
        let sending = |g: &Global| resolve(Some(&evil), None, g).unwrap().sending.unwrap();
        let err = sending(&g(&[])).unwrap_err().to_string();
        assert!(
            err.starts_with("refusing to send credentials to ccr.evil.example (named in ccr://ccr.evil.example/i/ns)"),
            "{err}"
        );
        let r = resolve(Some(&evil), None, &g(&[])).unwrap();
        assert!(r.into_registry(&evil, Output::new(true, false)).is_err());
        // Configured by the variable, the flag, or the BCE CLI profile (read for this alone).
        assert_eq!(
            sending(&g(&[("HELM_CCR_ENDPOINT", "https://ccr.evil.example")])).unwrap(),
            Trust::Configured(Source::Env("HELM_CCR_ENDPOINT"))
        );
        let mut flagged = g(&[]);
        flagged.endpoint = Some("ccr.evil.example:443".into());
        assert_eq!(
            sending(&flagged).unwrap(),
            Trust::Configured(Source::Flag("--endpoint"))
        );
        std::fs::create_dir_all(home.path().join(".bce")).unwrap();
        std::fs::write(
            home.path().join(".bce/config.json"),
            r#"{"current":"p","profiles":[{"name":"p","endpoint":"https://ccr.evil.example"}]}"#,
        )
        .unwrap();
        assert_eq!(
            sending(&g(&[])).unwrap(),
            Trust::Configured(Source::BceProfile)
        );
        // The repository entry's own credentials go to its URL's host.
        std::fs::remove_file(home.path().join(".bce/config.json")).unwrap();
        let entry = Credentials::new(
            "rak",
            "rsk",
            None,
            Source::Repository {
                name: "third".into(),
                by_url: true,
            },
        );
        let r = resolve(Some(&evil), entry, &g(&[])).unwrap();
        assert_eq!(r.sending.unwrap().unwrap(), Trust::RepositoryUrl);
    }

    #[test]
    fn time_limits_and_attempts_say_where_they_came_from() {
        let env = Env::from_pairs([("HELM_CCR_TIMEOUT".to_string(), "9s".to_string())]);
        let origin = |flag: Option<&str>, getter: bool, env: &Env| {
            resolve_timeout(flag, env, getter)
                .unwrap()
                .unwrap()
                .origin()
        };
        assert_eq!(origin(Some("4"), false, &env), Source::Flag("--timeout"));
        assert_eq!(origin(None, false, &env), Source::Env("HELM_CCR_TIMEOUT"));
        assert_eq!(origin(None, true, &Env::default()), Source::Default);
        let mut g = Global::new(Env::default());
        g.attempts = 1;
        assert_eq!(
            g.attempts_sourced().source,
            Source::Given("set by the command".into())
        );
    }
}
