//! One resolution of what a command uses to reach the registry, each value with where it came
//! from ([`resolve`] -> [`Resolved`]): the endpoint and region, the credentials and whether they
//! may go there, and the per-connection values ([`Connection`]); [`Resolved::into_registry`]
//! builds the client on them.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::registry::{Registry, DEFAULT_LIST_LIMIT};
use crate::settings::credentials::{self, Credentials};
use crate::settings::destination::{self, Trust, REGIONS};
use crate::settings::env::vars as env_vars;
use crate::settings::global::{Global, TimeLimit};
use crate::settings::reference::CcrUrl;
use crate::settings::repositories::entry_tls;
use crate::settings::source::{Source, Sourced};
use crate::transport::{
    route_of, ClientCertFiles, Endpoint, ProxyEnv, Route, TlsSettings, Trust as TrustRoots,
};
use crate::transport::{Deadline, Transport, TransportConfig, DEFAULT_MAX_DOWNLOAD};
use crate::ui::output::Output;

/// What a command will use to reach the registry, each value with where it came from: one
/// resolution for [`connect`](crate::settings::connect), the getter and `helm ccr env` alike.
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

    /// The trust roots these settings give, described (reads them as a client would).
    pub fn trust(&self) -> Result<TrustRoots> {
        crate::transport::tls::describe(&TlsSettings {
            client_cert: None,
            ..self.tls()
        })
    }

    /// Reads the client certificate and key, if any, as a client would: an error says what
    /// is wrong with them.
    pub fn check_client_cert(&self) -> Result<()> {
        match self.tls().client_cert {
            Some(files) => crate::transport::tls::client_cert(&files).map(drop),
            None => Ok(()),
        }
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
mod tests;
