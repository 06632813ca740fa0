//! Where `helm ccr mirror` reads from: a Helm HTTP(S) chart repository (its `index.yaml` and
//! the packages it names) or a local directory of `.tgz` files (the air-gap import).
//!
//! The HTTP client is an unsigned GET client on the transport's building blocks: the same
//! trust roots and client certificate ([`crate::transport::tls`]), the same proxy selection
//! (Go's rules, [`ProxyEnv`]), the same liveliness limits ([`Limits`]) and the download cap
//! (`HELM_CCR_MAX_DOWNLOAD`). Basic auth goes only to the repository's own host, unless the
//! entry says `pass_credentials_all` (as Helm does).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use ureq::http::{self, Uri};

use crate::chart::tgz;
use crate::chart::yaml::{self, Node};
use crate::transport::limits::RateFloor;
use crate::transport::messages::{self, NetContext};
use crate::transport::proxy::{Route, Scheme};
use crate::transport::{tls, ureq_proxy, Deadline, Limits, ProxyEnv, TlsSettings};
use crate::ui::output::{Activity, Output};
use crate::ui::text::{duration_text, redact_userinfo, size_text};

/// One package the source offers.
#[derive(Debug, Clone)]
pub struct SourcePackage {
    pub name: String,
    pub version: String,
    /// sha256 hex (lower case) the source promises: the index's `digest`, or the file's own
    /// for a directory. None: the index gave none.
    pub digest: Option<String>,
    /// The package's absolute URL, or its path in the directory.
    pub location: Location,
}

#[derive(Debug, Clone)]
pub enum Location {
    Url(String),
    File(PathBuf),
}

impl SourcePackage {
    /// The file name the destination stores it under: `NAME-VERSION.tgz`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.tgz", self.name, self.version)
    }
}

/// How to reach an HTTP repository: `helm repo add`'s settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub url: String,
    pub basic_auth: Option<(String, String)>,
    pub pass_credentials_all: bool,
    pub tls: TlsSettings,
    pub proxy: ProxyEnv,
    /// Largest index or package read (`HELM_CCR_MAX_DOWNLOAD`).
    pub max_download: u64,
    /// `--timeout` / `HELM_CCR_TIMEOUT`: no request runs past it.
    pub deadline: Option<Deadline>,
    pub output: Output,
}

/// A Helm HTTP(S) chart repository.
pub struct HttpRepo {
    s: HttpSettings,
    base: Uri,
    limits: Limits,
    tls: ureq::tls::TlsConfig,
    /// The trusted roots, described for messages.
    trust: String,
    /// One agent per proxy route (chart URLs may name other hosts).
    agents: Mutex<HashMap<String, ureq::Agent>>,
}

/// What a GET found.
pub enum Got {
    /// The body was written out: its length.
    Written(u64),
    /// 404: there is none (a `.prov`).
    NotFound,
}

impl HttpRepo {
    pub fn new(s: HttpSettings) -> Result<HttpRepo> {
        let base: Uri = s
            .url
            .parse()
            .map_err(|_| anyhow!("{} is not a URL", redact_userinfo(&s.url)))?;
        if !matches!(base.scheme_str(), Some("http" | "https")) || base.host().is_none() {
            bail!(
                "{} is not an http:// or https:// chart repository",
                redact_userinfo(&s.url)
            );
        }
        // The same roots, client certificate and insecure mode as every other request.
        let built = tls::build(&s.tls)?;
        Ok(HttpRepo {
            s,
            base,
            limits: Limits::default(),
            tls: built.config,
            trust: built.trust.to_string(),
            agents: Mutex::new(HashMap::new()),
        })
    }

    /// The repository as the user reads it (no userinfo).
    pub fn display(&self) -> String {
        redact_userinfo(self.s.url.trim_end_matches('/'))
    }

    /// The packages of `index.yaml`, leniently as Helm reads it: an entry without a version
    /// or a URL is left out (with a warning). Not YAML, or no `entries`: an error.
    pub fn packages(&self) -> Result<Vec<SourcePackage>> {
        let url = self.index_url();
        let mut body = Vec::new();
        match self.get(&url, "index.yaml", &mut body)? {
            Got::Written(_) => {}
            Got::NotFound => bail!("{} has no index.yaml (404 Not Found)", self.display()),
        }
        let text = String::from_utf8(body)
            .map_err(|_| anyhow!("{}/index.yaml is not YAML (not UTF-8 text)", self.display()))?;
        let (packages, skipped) = parse_index(&text, &url)
            .map_err(|e| anyhow!("{}/index.yaml is not a chart index: {e}", self.display()))?;
        for s in skipped {
            self.s.output.warn(&format!("index.yaml: {s}"));
        }
        Ok(packages)
    }

    /// `index.yaml` beside the repository's URL, its query kept (as Helm builds it).
    fn index_url(&self) -> String {
        let (path, query) = split_query(&self.s.url);
        format!("{}/index.yaml{query}", path.trim_end_matches('/'))
    }

    /// GETs `url` into `out` (at most the download cap), `label` naming it in messages.
    pub fn get(&self, url: &str, label: &str, out: &mut dyn Write) -> Result<Got> {
        let uri: Uri = url
            .parse()
            .map_err(|_| anyhow!("{label}: {} is not a URL", redact_userinfo(url)))?;
        if let Some(d) = &self.s.deadline {
            if Instant::now() >= d.at {
                bail!(
                    "{label}: timed out after {} ({}); raise {}",
                    duration_text(d.limit),
                    d.source,
                    d.knob
                );
            }
        }
        let (agent, route) = self.agent(&uri)?;
        let mut req = http::Request::get(url);
        if let Some((user, password)) = self.auth_for(&uri) {
            req = req.header("Authorization", basic(user, password));
        }
        let req = req.body(()).map_err(|e| anyhow!("{label}: {e}"))?;
        let shown = redact_userinfo(url);
        let resp = agent
            .run(req)
            .map_err(|e| anyhow!("{label}: {}", self.network_error(&e, &uri, &route)))?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => {}
            404 => return Ok(Got::NotFound),
            401 | 403 => bail!(
                "{label}: {shown} answered {status} {}: check the source's credentials (--username and --password-stdin, or the repository entry)",
                reason(status)
            ),
            _ => bail!("{label}: {shown} answered {status} {}", reason(status)),
        }
        let max = self.s.max_download;
        let announced = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = announced.filter(|l| *l > max) {
            bail!(
                "{label}: the source announces {}, over the download limit of {} (HELM_CCR_MAX_DOWNLOAD)",
                size_text(len),
                size_text(max)
            );
        }
        let bar = self
            .s
            .output
            .transfer_bar(announced.unwrap_or(0), Activity::Downloading, label);
        let mut reader = resp.into_body().into_reader();
        let mut floor = RateFloor::new(&self.limits, Instant::now());
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    bail!("{label}: the download from {shown} broke off after {total} bytes: {e}")
                }
            };
            total += n as u64;
            if total > max {
                bail!(
                    "{label}: the source sent more than {}; stopped at the download limit (HELM_CCR_MAX_DOWNLOAD)",
                    size_text(max)
                );
            }
            out.write_all(&buf[..n])
                .with_context(|| format!("writing {label}"))?;
            if let Some(b) = &bar {
                b.set_position(total);
            }
            if floor.record(n as u64, Instant::now()).is_err() {
                bail!("{label}: the download from {shown} is too slow (under 1 KiB/s), stopped after {total} bytes");
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(len) = announced.filter(|l| *l != total) {
            bail!("{label}: the download from {shown} is truncated: {total} of {len} bytes");
        }
        Ok(Got::Written(total))
    }

    /// Basic auth for `uri`: to the repository's own host (and port), or everywhere with
    /// `pass_credentials_all` (Helm's rule).
    fn auth_for(&self, uri: &Uri) -> Option<(&str, &str)> {
        let (user, password) = self.s.basic_auth.as_ref()?;
        let same_host = uri.authority().map(|a| host_port(a.as_str()))
            == self.base.authority().map(|a| host_port(a.as_str()));
        (same_host || self.s.pass_credentials_all).then_some((user.as_str(), password.as_str()))
    }

    /// A failure below HTTP in the transport's words ([`messages::network_message`]: TLS,
    /// proxies), else `cannot reach URL: ERROR`.
    fn network_error(&self, e: &ureq::Error, uri: &Uri, route: &Route) -> String {
        let fault =
            messages::classify(e, route.proxy().is_some(), self.s.tls.client_cert.is_some());
        let Some(fault) = fault else {
            return format!("cannot reach {}: {e}", redact_userinfo(&uri.to_string()));
        };
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let ctx = NetContext {
            base: format!(
                "{}://{}",
                uri.scheme_str().unwrap_or("https"),
                host_port(uri.authority().map_or("", |a| a.as_str()))
            ),
            authority: format!("{host}:{port}"),
            host,
            proxy: match route {
                Route::Proxy { url, from } => Some((url.to_string(), url.username.is_some(), from)),
                Route::Direct(_) => None,
            },
            client_cert: self
                .s
                .tls
                .client_cert
                .as_ref()
                .map(|c| format!("{} ({})", c.cert.display(), c.source)),
            trust: self.trust.clone(),
        };
        messages::network_message(&fault, &ctx)
    }

    /// The agent for `uri`'s proxy route (Go's rules), built once per route.
    fn agent(&self, uri: &Uri) -> Result<(ureq::Agent, Route)> {
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .unwrap_or("")
            .trim_matches(['[', ']'])
            .to_string();
        let scheme = if https { Scheme::Https } else { Scheme::Http };
        let route = self.s.proxy.route(scheme, &host, uri.port_u16())?;
        let key = route.proxy().map(|p| format!("{p:?}")).unwrap_or_default();
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = agents.get(&key) {
            return Ok((a.clone(), route));
        }
        let proxy = route.proxy().map(ureq_proxy).transpose()?;
        let l = self.limits;
        // The agent settings of crate::transport::Transport, without signing or retries.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(10)
            .proxy(proxy)
            .tls_config(self.tls.clone())
            .timeout_resolve(Some(l.connect))
            .timeout_connect(Some(l.connect))
            .timeout_per_read(Some(l.idle))
            .timeout_per_write(Some(l.idle))
            .timeout_recv_response(Some(l.response))
            .timeout_global(
                self.s
                    .deadline
                    .as_ref()
                    .map(|d| d.at.saturating_duration_since(Instant::now())),
            )
            .user_agent(concat!("helm-ccr/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        agents.insert(key, agent.clone());
        Ok((agent, route))
    }
}

fn host_port(authority: &str) -> &str {
    authority.rsplit('@').next().unwrap_or(authority)
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn basic(user: &str, password: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let b = input.as_bytes();
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    format!("Basic {s}")
}

/// `(everything before ?, ?query or "")`.
fn split_query(url: &str) -> (&str, &str) {
    match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    }
}

/// A chart URL of the index resolved against the index's URL as Helm does
/// (`repo.ResolveReferenceURL`): absolute URLs stay; others are relative to the repository's
/// URL (with a trailing `/`), and the repository's query is kept.
pub fn resolve_url(index_url: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (base, query) = split_query(index_url);
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let (origin, path) = match base[scheme_end..].find('/') {
        Some(i) => base.split_at(scheme_end + i),
        None => (base, ""),
    };
    let (reference, _) = split_query(reference);
    if let Some(rest) = reference.strip_prefix("//") {
        return format!("{}{rest}{query}", &base[..scheme_end]);
    }
    let joined = if reference.starts_with('/') {
        reference.to_string()
    } else {
        // The directory of index.yaml.
        let dir = &path[..path.rfind('/').map(|i| i + 1).unwrap_or(0)];
        format!("{dir}{reference}")
    };
    let mut segments: Vec<&str> = Vec::new();
    for seg in joined.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("{origin}/{}{query}", segments.join("/"))
}

/// Reads `index.yaml`: its packages, and what was left out (an entry without a version or a
/// URL). Not YAML, or not a mapping with `entries`: an error.
pub fn parse_index(text: &str, index_url: &str) -> Result<(Vec<SourcePackage>, Vec<String>)> {
    let doc = yaml::parse_first_document(text).map_err(|e| anyhow!("not YAML: {e}"))?;
    let Node::Map(top) = doc else {
        bail!("not YAML of a chart index (no mapping)");
    };
    let entries = top
        .iter()
        .find(|(k, _)| k.scalar_text().as_deref() == Some("entries"))
        .map(|(_, v)| v);
    let entries = match entries {
        Some(Node::Map(m)) => m.as_slice(),
        Some(Node::Null) => &[],
        _ => bail!("no entries"),
    };
    let mut packages = Vec::new();
    let mut skipped = Vec::new();
    for (key, versions) in entries {
        let chart = key.scalar_text().unwrap_or_default();
        let Node::Seq(versions) = versions else {
            skipped.push(format!(
                "entry {chart:?} is not a list of versions, ignored"
            ));
            continue;
        };
        for v in versions {
            let Node::Map(fields) = v else { continue };
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k.scalar_text().as_deref() == Some(name))
                    .map(|(_, v)| v)
            };
            let text = |name: &str| {
                get(name)
                    .and_then(Node::scalar_text)
                    .filter(|s| !s.is_empty())
            };
            let name = text("name").unwrap_or_else(|| chart.clone());
            let Some(version) = text("version") else {
                skipped.push(format!("a version of {chart:?} has no version, ignored"));
                continue;
            };
            let url = match get("urls") {
                Some(Node::Seq(urls)) => urls.iter().find_map(Node::scalar_text),
                _ => None,
            };
            let Some(url) = url.filter(|u| !u.is_empty()) else {
                skipped.push(format!("{name} {version} has no URL, ignored"));
                continue;
            };
            let digest = text("digest")
                .map(|d| d.strip_prefix("sha256:").unwrap_or(&d).to_ascii_lowercase());
            packages.push(SourcePackage {
                name,
                version,
                digest,
                location: Location::Url(resolve_url(index_url, &url)),
            });
        }
    }
    Ok((packages, skipped))
}

/// The packages of a directory: every `*.tgz`, its name and version from its `Chart.yaml`,
/// its digest its own sha256. A file that is not a chart package is an error naming it.
pub fn dir_packages(dir: &Path) -> Result<Vec<SourcePackage>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "tgz"))
        .collect();
    files.sort();
    let mut packages = Vec::new();
    for f in files {
        let i = tgz::inspect(&f)?;
        packages.push(SourcePackage {
            name: i.metadata.name,
            version: i.metadata.version,
            digest: Some(i.sha256),
            location: Location::File(f),
        });
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_urls_resolve_as_helm_resolves_them() {
        let idx = "https://h.example/charts/index.yaml";
        assert_eq!(
            resolve_url(idx, "web-1.0.0.tgz"),
            "https://h.example/charts/web-1.0.0.tgz"
        );
        assert_eq!(
            resolve_url(idx, "./pkgs/web-1.0.0.tgz"),
            "https://h.example/charts/pkgs/web-1.0.0.tgz"
        );
        assert_eq!(
            resolve_url(idx, "/other/web.tgz"),
            "https://h.example/other/web.tgz"
        );
        assert_eq!(
            resolve_url(idx, "https://cdn.example/web.tgz"),
            "https://cdn.example/web.tgz"
        );
        assert_eq!(
            resolve_url("https://h.example/index.yaml?t=1", "web.tgz"),
            "https://h.example/web.tgz?t=1"
        );
    }

    #[test]
    fn basic_auth_goes_only_to_the_repository_s_host() {
        let repo = |pass_all: bool| {
            HttpRepo::new(HttpSettings {
                url: "https://charts.example:8443/stable".into(),
                basic_auth: Some(("u".into(), "p".into())),
                pass_credentials_all: pass_all,
                tls: TlsSettings::default(),
                proxy: ProxyEnv::from_lookup(|_| None),
                max_download: 1 << 20,
                deadline: None,
                output: Output::new(true, false),
            })
            .unwrap()
        };
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        let r = repo(false);
        assert!(r
            .auth_for(&uri("https://charts.example:8443/stable/a.tgz"))
            .is_some());
        assert!(r.auth_for(&uri("https://charts.example/a.tgz")).is_none());
        assert!(r.auth_for(&uri("https://cdn.example/a.tgz")).is_none());
        assert!(repo(true)
            .auth_for(&uri("https://cdn.example/a.tgz"))
            .is_some());
    }

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn the_index_is_read_leniently() {
        let text = "apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: 1.0.0\n    digest: AB\n    urls: [web-1.0.0.tgz]\n  - name: web\n    urls: [x.tgz]\n  db:\n  - version: 2.0.0\n";
        let (p, skipped) = parse_index(text, "http://h/index.yaml").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].digest.as_deref(), Some("ab"));
        assert_eq!(skipped.len(), 2);
        assert!(parse_index("<html>", "http://h/index.yaml").is_err());
        assert!(parse_index("{: [", "http://h/index.yaml").is_err());
    }
}
