//! The served `index.yaml` of one repository: built with the getter's listing at start-up,
//! kept in memory, refreshed at most every `--index-ttl` when asked for, by one rebuild that
//! every request arriving meanwhile waits for (single flight). A refresh is incremental: a
//! chart whose `latestVersion` and `totalVersions` did not change since the last listing keeps
//! its versions unlisted, except at least every `--full-refresh` (a version replaced with
//! `push --force` changes neither). A failed refresh keeps the last good index, served with
//! a `Warning`, until `--max-stale`; then the index is unavailable.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

use super::metrics::Metrics;
use crate::getter::index::{self, IndexVersion};
use crate::registry::Registry;
use crate::support::pool;

/// A built index and what the package routes need from it.
#[derive(Debug)]
pub struct Built {
    pub text: hyper::body::Bytes,
    /// The quoted entity tag: the sha256 of the text.
    pub etag: String,
    /// When the entries last changed (a rebuild with the same entries keeps the earlier text).
    pub last_modified: SystemTime,
    /// File name (as `charts/FILE` names it) → the version it is.
    pub files: HashMap<String, Arc<IndexVersion>>,
    /// The sha256 of the entries without the `generated` line.
    entries_sha256: String,
}

/// What a request gets.
pub enum Answer {
    /// The index; with the reason when a refresh failed and this is the last good one.
    Fresh(Arc<Built>, Option<String>),
    /// No index to serve: none built yet, or the last good one is older than `--max-stale`.
    Unavailable(String),
}

/// How the cache refreshes.
#[derive(Debug, Clone)]
pub struct Policy {
    pub ttl: Duration,
    pub full_refresh: Duration,
    pub max_stale: Duration,
    pub parallel: usize,
}

struct Chart {
    latest: Option<String>,
    total: Option<u64>,
    versions: Vec<IndexVersion>,
}

#[derive(Default)]
struct State {
    current: Option<Arc<Built>>,
    last_success: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    build_seconds: Option<f64>,
}

/// One repository's index cache.
pub struct IndexCache {
    pub name: String,
    registry: Arc<Registry>,
    policy: Policy,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    /// Held by the one refresh under way; holds what incremental refreshes reuse.
    refresh: tokio::sync::Mutex<Listing>,
}

#[derive(Default)]
struct Listing {
    charts: BTreeMap<String, Chart>,
    last_full: Option<Instant>,
}

impl IndexCache {
    pub fn new(
        name: String,
        registry: Arc<Registry>,
        policy: Policy,
        metrics: Arc<Metrics>,
    ) -> IndexCache {
        IndexCache {
            name,
            registry,
            policy,
            metrics,
            state: Mutex::new(State::default()),
            refresh: tokio::sync::Mutex::new(Listing::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index to serve, refreshing it first when the last attempt is older than the ttl.
    pub async fn get(&self) -> Answer {
        if let Some(a) = self.answer_if_recent() {
            return a;
        }
        let mut listing = self.refresh.lock().await;
        // Whoever held the lock before may have just refreshed.
        if let Some(a) = self.answer_if_recent() {
            return a;
        }
        let full = listing
            .last_full
            .is_none_or(|t| t.elapsed() >= self.policy.full_refresh);
        let previous = std::mem::take(&mut listing.charts);
        let registry = self.registry.clone();
        let metrics = self.metrics.clone();
        let parallel = self.policy.parallel;
        let started = Instant::now();
        Metrics::add(&metrics.index_builds, 1);
        let job = tokio::task::spawn_blocking(move || {
            let mut previous = previous;
            let result = rebuild(&registry, &mut previous, full, parallel, &metrics);
            (previous, result)
        });
        let (charts, result) = match job.await {
            Ok(r) => r,
            Err(e) => (
                BTreeMap::new(),
                Err(anyhow::anyhow!("the rebuild stopped: {e}")),
            ),
        };
        listing.charts = charts;
        let elapsed = started.elapsed();
        let mut state = self.state();
        state.last_attempt = Some(Instant::now());
        match result {
            Ok(versions) => {
                if full {
                    listing.last_full = Some(started);
                }
                let built = self.built(&versions, state.current.as_deref());
                state.current = Some(built);
                state.last_success = Some(Instant::now());
                state.last_error = None;
                state.build_seconds = Some(elapsed.as_secs_f64());
            }
            Err(e) => {
                Metrics::add(&self.metrics.index_build_failures, 1);
                // A failure leaves the reused listings unknown: the next one lists everything.
                listing.charts.clear();
                listing.last_full = None;
                let reason = crate::ui::report::one_line(&format!("{e:#}"));
                super::log::event(&format!(
                    "refreshing the index of {} failed: {reason}",
                    self.name
                ));
                state.last_error = Some(reason);
            }
        }
        self.answer(&state)
    }

    fn answer_if_recent(&self) -> Option<Answer> {
        let state = self.state();
        let recent = state
            .last_attempt
            .is_some_and(|t| t.elapsed() < self.policy.ttl);
        recent.then(|| self.answer(&state))
    }

    fn answer(&self, state: &State) -> Answer {
        let Some(current) = &state.current else {
            return Answer::Unavailable(
                state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the index is not built yet".into()),
            );
        };
        match &state.last_error {
            None => Answer::Fresh(current.clone(), None),
            Some(e) => {
                let age = state.last_success.map(|t| t.elapsed()).unwrap_or_default();
                if age > self.policy.max_stale {
                    Answer::Unavailable(format!(
                        "the last good index is {}s old (over --max-stale) and refreshing it fails: {e}",
                        age.as_secs()
                    ))
                } else {
                    Answer::Fresh(current.clone(), Some(e.clone()))
                }
            }
        }
    }

    /// Whether an index can be served now (for `/readyz`), without refreshing.
    pub fn ready(&self) -> bool {
        matches!(self.answer(&self.state()), Answer::Fresh(..))
    }

    /// Seconds the last good build took and its age, for `/metrics`.
    pub fn gauges(&self) -> (Option<f64>, Option<f64>) {
        let s = self.state();
        (
            s.build_seconds,
            s.last_success.map(|t| t.elapsed().as_secs_f64()),
        )
    }

    fn built(&self, versions: &[IndexVersion], previous: Option<&Built>) -> Arc<Built> {
        let mut served: Vec<IndexVersion> = versions.to_vec();
        let mut files = HashMap::with_capacity(served.len());
        for v in &mut served {
            files.insert(v.url.clone(), Arc::new(v.clone()));
            v.url = format!("charts/{}", v.url);
        }
        let entries_sha256 = hex::encode(Sha256::digest(index::build_index(&served, "")));
        if let Some(p) = previous.filter(|p| p.entries_sha256 == entries_sha256) {
            return Arc::new(Built {
                text: p.text.clone(),
                etag: p.etag.clone(),
                last_modified: p.last_modified,
                files,
                entries_sha256,
            });
        }
        let now = SystemTime::now();
        let text = index::build_index(&served, &crate::support::clock::rfc3339_utc(now));
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(&text)));
        Arc::new(Built {
            text: text.into(),
            etag,
            last_modified: now,
            files,
            entries_sha256,
        })
    }
}

/// Lists the charts, then the versions of each chart that changed (every chart when `full`),
/// with at most `parallel` requests in flight; `charts` holds the previous listing and is
/// left holding this one. Any failure fails the whole.
fn rebuild(
    client: &Registry,
    charts: &mut BTreeMap<String, Chart>,
    full: bool,
    parallel: usize,
    metrics: &Metrics,
) -> Result<Vec<IndexVersion>> {
    let upstream = |ok: bool| {
        Metrics::add(&metrics.upstream_requests, 1);
        if !ok {
            Metrics::add(&metrics.upstream_failures, 1);
        }
    };
    let mut pages = client.chart_pages();
    let mut listed: BTreeMap<String, (Option<String>, Option<u64>)> = BTreeMap::new();
    loop {
        let page = pages.next_page();
        upstream(page.is_ok());
        let Some(page) = page? else { break };
        for c in page {
            listed
                .entry(c.name)
                .or_insert((c.latest_version, c.total_versions));
        }
        if listed.len() > client.list_limit() {
            bail!(
                "the registry listed more than {} charts and versions; stopped there (set HELM_CCR_LIST_LIMIT to a higher number if the repository really holds that many)",
                client.list_limit()
            );
        }
    }
    let mut previous = std::mem::take(charts);
    let mut next: BTreeMap<String, Chart> = BTreeMap::new();
    let mut relist = Vec::new();
    for (name, (latest, total)) in listed {
        match previous.remove(&name) {
            Some(old)
                if !full
                    && latest.is_some()
                    && total.is_some()
                    && old.latest == latest
                    && old.total == total =>
            {
                next.insert(name, old);
            }
            _ => relist.push((name, latest, total)),
        }
    }
    let fresh: Mutex<Vec<(String, Chart)>> = Mutex::new(Vec::new());
    let count =
        AtomicUsize::new(next.len() + next.values().map(|c| c.versions.len()).sum::<usize>());
    pool::run(parallel, relist, |(name, latest, total), _queue| {
        let versions = crate::getter::chart_versions(client, &name);
        upstream(versions.is_ok());
        let versions = versions?;
        let so_far = count.fetch_add(1 + versions.len(), Ordering::Relaxed) + 1 + versions.len();
        if so_far > client.list_limit() {
            bail!(
                "the registry listed more than {} charts and versions; stopped there (set HELM_CCR_LIST_LIMIT to a higher number if the repository really holds that many)",
                client.list_limit()
            );
        }
        fresh.lock().unwrap_or_else(|p| p.into_inner()).push((
            name,
            Chart {
                latest,
                total,
                versions,
            },
        ));
        Ok(())
    })?;
    next.extend(fresh.into_inner().unwrap_or_else(|p| p.into_inner()));
    let all = next
        .values()
        .flat_map(|c| c.versions.iter().cloned())
        .collect();
    *charts = next;
    Ok(all)
}
