//! `helm-ccr download CERT KEY CA URL`: the `ccr-getter` plugin's entry, run by Helm for every
//! `ccr://` URL it needs. It writes the requested file to stdout and nothing else there:
//!
//! - `ccr://…/NAMESPACE/index.yaml`: an index synthesised from the list endpoints (see
//!   [`crate::getter::index`]), the charts' versions listed with up to `HELM_CCR_PARALLEL` requests in
//!   flight, starting as soon as the first page of charts arrives;
//! - `ccr://…/NAMESPACE/FILE.tgz` and `FILE.tgz.prov`: streamed from the download endpoint.
//!
//! Credentials: `HELM_PLUGIN_USERNAME`/`HELM_PLUGIN_PASSWORD` (what `helm repo add --username
//! --password` stored) as access key id and secret key, else those of the Helm repository entry
//! of the same URL, else the usual chain (see [`settings::getter_repo`]).
pub mod index;

use std::collections::BTreeMap;
use std::io::{self, Seek, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context, Result};

use crate::provenance::identity::{self, Selected};
use crate::registry::model::HelmChartVersion;
use crate::registry::{Expected, Registry, Spool};
use crate::settings::reference::CcrUrl;
use crate::settings::{self, Global, Source};
use crate::support::hashing::Hashing;
use crate::support::pool;
use index::IndexVersion;

/// What a getter URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Index,
    /// A chart package or its provenance file, by its download file name.
    File(String),
}

/// Splits a getter URL into the repository and what is asked of it.
pub fn parse_request(url: &str) -> Result<(CcrUrl, Request)> {
    let parsed = CcrUrl::parse(url)?;
    let Some(rest) = parsed.rest.clone() else {
        bail!("{url}: names no file (Helm asks for .../index.yaml, .../NAME-VERSION.tgz or .../NAME-VERSION.tgz.prov)");
    };
    let req = if rest == "index.yaml" {
        Request::Index
    } else if (rest.ends_with(".tgz") || rest.ends_with(".tgz.prov"))
        && index::is_safe_file_name(&rest)
    {
        Request::File(rest)
    } else {
        bail!("{url}: the ccr getter serves only index.yaml, NAME-VERSION.tgz and NAME-VERSION.tgz.prov in a repository, not {rest:?}");
    };
    Ok((
        CcrUrl {
            rest: None,
            ..parsed
        },
        req,
    ))
}

/// The getter's full argument list, `CERT KEY CA URL` (empty strings when Helm has none): the
/// repository entry's `certFile`, `keyFile` and `caFile`. A CA file is trusted like
/// `--ca-file` and a certificate and key are presented like `--cert-file/--key-file`, unless
/// those flags are given. (The entry's `insecure_skip_tls_verify`, which Helm does not pass,
/// is found by the repository's URL: see [`settings::resolve`].)
pub fn run_args(cert: &str, key: &str, ca: &str, url: &str, global: &Global) -> Result<()> {
    let mut global = global.clone();
    if !ca.is_empty() && global.ca_file.is_none() {
        global.ca_file = Some(ca.into());
        global.ca_file_source = Source::Helm("the CA file of the Helm repository");
    }
    match (cert.is_empty(), key.is_empty()) {
        (false, false) if global.client_cert.is_none() => {
            global.client_cert = Some((cert.into(), key.into()));
            global.client_cert_source =
                Source::Helm("the client certificate of the Helm repository");
        }
        (false, true) | (true, false) if global.client_cert.is_none() => bail!(
            "cannot fetch {url}: Helm passed a client {} but no {} (give the Helm repository both --cert-file and --key-file)",
            if key.is_empty() { "certificate" } else { "key" },
            if key.is_empty() { "key" } else { "certificate" },
        ),
        _ => {}
    }
    run(url, &global)
}

/// Serves `url` on stdout.
pub fn run(url: &str, global: &Global) -> Result<()> {
    let (repo, req) = parse_request(url)?;
    // Helm shows the getter's stderr only on failure; keep it free of progress bars.
    let mut global = global.clone();
    global.quiet = true;
    let getter = settings::getter_repo(&repo, &global);
    let client = settings::connect(&repo, getter.credentials, &global)
        .with_context(|| format!("cannot fetch {url}"))?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
    match req {
        Request::Index => {
            let parallel = global.env.parallel()?;
            let text = build_index(&client, SystemTime::now(), parallel)
                .with_context(|| format!("cannot build the index of {}", repo.repo_url()))?;
            out.write_all(text.as_bytes())
        }
        Request::File(name) => {
            let mut file = spool(&client, &name).with_context(|| format!("cannot fetch {url}"))?;
            io::copy(&mut file, &mut out).map(|_| ())
        }
    }
    .and_then(|()| out.flush())
    .with_context(|| format!("writing {url} to Helm"))?;
    Ok(())
}

/// Downloads `name` into an anonymous temporary file and returns it, rewound, once it is known
/// to be what the index this getter synthesises says: only files that index would list are
/// served (a listed version's package, by its listed file name or `NAME-VERSION.tgz`, or its
/// provenance file), a package only when its bytes match the digest the registry lists for
/// that version (as `pull` checks it) and its `Chart.yaml` names that chart and version. Any
/// other file is refused: a hostile namespace could otherwise name a file of its choosing
/// and have Helm cache bytes under a digest they do not have. Helm never receives part of a
/// file.
fn spool(client: &Registry, name: &str) -> Result<std::fs::File> {
    // Looked up once the download is whole: a failing registry gets no request more.
    if let Some(package) = name.strip_suffix(".prov") {
        // A provenance file has no digest of its own: served as it is, for a listed package.
        let prov = client.download_verified(name, Expected::Unlisted, &Spool)?;
        listed_version(client, package)?;
        return Ok(prov.file);
    }
    let mut listed = None;
    let look_up = || {
        let v = listed_version(client, name)?;
        listed = Some(v.clone());
        Ok(Some(v))
    };
    let mut file = client.download_verified_after(name, look_up)?.file;
    let v = listed.ok_or_else(|| anyhow!("{name}: no listed version was looked up"))?;
    let selected = Selected {
        name: &v.name,
        version: &v.version,
    };
    identity::check_package(io::BufReader::new(&mut file), name, selected)?;
    file.rewind().context("rewinding a temporary file")?;
    Ok(file)
}

/// Whether the index lists `v` under `file`: its listed file name (the base name of its
/// first URL, see [`index::chart_file_name`]) or `NAME-VERSION.tgz`.
fn serves(v: &HelmChartVersion, file: &str) -> bool {
    index_version(v).url == file || format!("{}-{}.tgz", v.name, v.version) == file
}

/// The version the package `file` belongs to, as the index names it. First every split of
/// the name at a `-` followed by a digit (or `v`) is tried as `NAME-VERSION` (chart names and
/// versions may both hold dashes), one exact look-up each; a file named otherwise (a version
/// whose first URL names another file) is looked for in every chart's versions, as the index
/// lists them. A file no listed version is served under is an error.
fn listed_version(client: &Registry, file: &str) -> Result<HelmChartVersion> {
    let not_listed = || {
        anyhow!(
            "the repository lists no version whose package is {file}: the ccr getter serves only the files its index.yaml lists"
        )
    };
    let Some(stem) = file.strip_suffix(".tgz") else {
        return Err(not_listed());
    };
    for (at, _) in stem.match_indices('-') {
        let (name, version) = (&stem[..at], &stem[at + 1..]);
        if name.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit() || c == 'v') {
            continue;
        }
        if let Some(v) = client
            .find_version(name, version)
            .with_context(|| format!("looking up the version {file} belongs to"))?
        {
            if serves(&v, file) {
                return Ok(v);
            }
        }
    }
    let found = every_listed_version(client, |v| serves(v, file))
        .with_context(|| format!("looking up the version {file} belongs to"))?;
    found.ok_or_else(not_listed)
}

/// The first version, chart by chart as the registry lists them, for which `wanted` holds;
/// bounded by the list limit as the index is.
fn every_listed_version(
    client: &Registry,
    wanted: impl Fn(&HelmChartVersion) -> bool,
) -> Result<Option<HelmChartVersion>> {
    let mut pages = client.chart_pages();
    let mut seen = std::collections::BTreeSet::new();
    let mut listed = 0usize;
    while let Some(page) = pages.next_page()? {
        for chart in page {
            if !seen.insert(chart.name.clone()) {
                continue;
            }
            let versions = client.find_versions(&chart.name)?.unwrap_or_default();
            listed += 1 + versions.len();
            if listed > client.list_limit() {
                bail!(
                    "the registry listed more than {} charts and versions; stopped there (set HELM_CCR_LIST_LIMIT to a higher number if the repository really holds that many)",
                    client.list_limit()
                );
            }
            if let Some(v) = versions.into_iter().find(&wanted) {
                return Ok(Some(v));
            }
        }
    }
    Ok(None)
}

/// Lists every chart and version of the client's namespace and builds the index text, with
/// at most `parallel` requests in flight.
///
/// A pipeline: the task for a page of charts asks for it, then queues the next page (first in
/// line) and one version listing per chart it names, so versions are listed while later pages
/// are still coming. One request per page and one per chart (more for a chart of over 100
/// versions), as a sequential listing makes; the text is the same whatever the timing, and any
/// failure fails the whole index.
pub fn build_index(client: &Registry, now: SystemTime, parallel: usize) -> Result<String> {
    enum Task {
        Page,
        Versions(String),
    }
    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }
    let pages = Mutex::new(client.chart_pages());
    // The list limit bounds the whole index (charts and versions together), not only each
    // listing.
    let listed = AtomicUsize::new(0);
    let count = |n: usize| -> Result<()> {
        let so_far = listed.fetch_add(n, Ordering::Relaxed) + n;
        if so_far > client.list_limit() {
            bail!(
                "the registry listed more than {} charts and versions; stopped there (set HELM_CCR_LIST_LIMIT to a higher number if the repository really holds that many)",
                client.list_limit()
            );
        }
        Ok(())
    };
    // Every chart named so far (each listed once, whatever the pages repeat), by name.
    let charts: Mutex<BTreeMap<String, Vec<IndexVersion>>> = Mutex::new(BTreeMap::new());
    pool::run(parallel, [Task::Page], |task, queue| match task {
        Task::Page => {
            let Some(page) = lock(&pages).next_page()? else {
                return Ok(());
            };
            queue.push_front(Task::Page);
            let mut charts = lock(&charts);
            let mut new = 0;
            for chart in page {
                if !charts.contains_key(&chart.name) {
                    charts.insert(chart.name.clone(), Vec::new());
                    queue.push_back(Task::Versions(chart.name));
                    new += 1;
                }
            }
            count(new)
        }
        Task::Versions(name) => {
            let versions = chart_versions(client, &name)?;
            count(versions.len())?;
            lock(&charts).insert(name, versions);
            Ok(())
        }
    })?;
    let charts = charts.into_inner().unwrap_or_else(|p| p.into_inner());
    let all: Vec<IndexVersion> = charts.into_values().flatten().collect();
    Ok(index::build_index(
        &all,
        &crate::support::clock::rfc3339_utc(now),
    ))
}

/// The index entries of one chart; none when it vanished since the chart list was read.
pub fn chart_versions(client: &Registry, name: &str) -> Result<Vec<IndexVersion>> {
    let Some(versions) = client
        .find_versions(name)
        .with_context(|| format!("listing the versions of {name}"))?
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(versions.len());
    for v in versions {
        let mut entry = index_version(&v);
        if entry.digest.is_none() {
            // Helm 4 caches by the index digest without checking it: never leave it out or
            // guess it. Hash the bytes the getter would serve.
            entry.digest = Some(sha256_of_download(client, &entry.url).with_context(|| {
                format!(
                    "{} {} has no digest in the registry; hashing {}",
                    v.name, v.version, entry.url
                )
            })?);
        }
        out.push(entry);
    }
    Ok(out)
}

/// The index's view of one registry version.
pub fn index_version(v: &HelmChartVersion) -> IndexVersion {
    IndexVersion {
        name: v.name.clone(),
        version: v.version.clone(),
        api_version: v.api_version.clone(),
        app_version: v.app_version.clone(),
        description: v.description.clone(),
        created: v.created.clone(),
        // Already normalised: a malformed digest is no digest (and is computed).
        digest: v.digest.clone(),
        url: index::chart_file_name(&v.name, &v.version, &v.urls),
        home: v.home.clone(),
        icon: v.icon.clone(),
        sources: v.sources.clone(),
        deprecated: v.deprecated,
    }
}

fn sha256_of_download(client: &Registry, file: &str) -> Result<String> {
    let mut h = Hashing::sink();
    client.download(file, &mut h)?;
    Ok(h.finish().1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let (repo, req) = parse_request("ccr://ccr-1/ns/index.yaml").unwrap();
        assert_eq!(repo.repo_url(), "ccr://ccr-1/ns");
        assert_eq!(req, Request::Index);
        let (repo, req) =
            parse_request("ccr://ccr.bj.baidubce.com/ccr-1/ns/app-1.0.0+b.1.tgz").unwrap();
        assert_eq!(repo.api_host.as_deref(), Some("ccr.bj.baidubce.com"));
        assert_eq!(req, Request::File("app-1.0.0+b.1.tgz".into()));
        let (_, req) = parse_request("ccr://ccr-1/ns/app-1.0.0.tgz.prov").unwrap();
        assert_eq!(req, Request::File("app-1.0.0.tgz.prov".into()));
        for bad in [
            "ccr://ccr-1/ns",
            "ccr://ccr-1/ns/",
            "ccr://ccr-1/ns/app",
            "ccr://ccr-1/ns/sub/index.yaml",
            "ccr://ccr-1/ns/../x.tgz",
            "ccr://ccr-1/ns/a b.tgz",
            "https://x/ns/index.yaml",
        ] {
            assert!(parse_request(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn index_version_from_registry() {
        let v = HelmChartVersion::from_json(&format!(
            r#"{{"name":"app","version":"1.0.0","appVersion":"2","apiVersion":"v2","description":"d",
                "created":"2022-08-16T07:14:26.854394381Z","digest":"sha256:{}",
                "urls":["charts/app-1.0.0.tgz"],"home":"https://h","icon":null,"sources":["https://s",3]}}"#,
            "AB".repeat(32)
        ))
        .unwrap();
        let e = index_version(&v);
        assert_eq!(e.url, "app-1.0.0.tgz");
        assert_eq!(e.digest, Some("ab".repeat(32)));
        assert_eq!(e.home.as_deref(), Some("https://h"));
        assert_eq!(e.icon, None);
        assert_eq!(e.sources, vec!["https://s".to_string()]);
    }
}
