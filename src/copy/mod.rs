//! The copy engine: chart versions from one CCR repository to another, byte for byte, with
//! their provenance files (`helm ccr copy`), and the air-gap export of a repository into a
//! directory (`helm ccr pull --all`, [`export`]).
//!
//! A pipeline on `support::pool`: the source's chart pages (with `--all` and `SRC` alone) queue
//! one listing per chart; a chart's listing (source and destination) queues one copy per
//! version; a copy ([`transfer`]) downloads the package into a temporary file, verified against
//! the source's digest, then uploads that file (and the `.prov`) in one request. Nothing is
//! uploaded before its download is verified, and an upload lands whole or not at all, so a
//! failure leaves nothing half-written at the destination.

pub mod export;
mod transfer;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use anyhow::{bail, Context, Result};

use crate::chart::constraint;
use crate::registry::model::HelmChartVersion;
use crate::registry::{is_not_found, ChartPages, Registry};
use crate::support::pool;
use crate::ui::report::Reporter;

/// Which charts to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charts {
    /// `SRC --all`: every chart of the source.
    Every,
    /// `SRC/CHART...`.
    Named(Vec<String>),
}

/// What to copy, and how.
pub struct Plan {
    pub charts: Charts,
    /// `--all`: every version (of the charts named, or of every chart of `SRC`).
    pub all: bool,
    pub version: Option<String>,
    pub devel: bool,
    /// `--force`: replace a version the destination holds with other bytes.
    pub force: bool,
    pub dry_run: bool,
    /// Where `--force` keeps the old package while replacing it on a registry that refuses
    /// to overwrite.
    pub keep_in: PathBuf,
}

/// One side of the copy: its client and its name in messages.
pub struct Side<'a> {
    pub client: &'a Registry,
    pub display: &'a str,
}

/// Copies what `plan` selects from `src` to `dest`, `parallel` at once, each version's record
/// (or failure) into `report`. Only the source's chart list fails the whole run; every other
/// failure is one line, except with one chart and one version: its error is the run's error,
/// said once.
pub fn run(plan: &Plan, src: &Side, dest: &Side, parallel: usize, report: &Reporter) -> Result<()> {
    let copier = Copier {
        plan,
        src,
        dest,
        report,
        charts_seen: Mutex::new(HashMap::new()),
        next_chart: AtomicUsize::new(0),
        pages: Mutex::new(src.client.chart_pages()),
    };
    let initial: Vec<Task> = match &plan.charts {
        Charts::Every => vec![Task::Page],
        Charts::Named(names) => names
            .iter()
            .map(|n| Task::Chart(copier.chart_index(n), n.clone()))
            .collect(),
    };
    if let (Charts::Named(names), false) = (&plan.charts, plan.all) {
        if let [name] = names.as_slice() {
            for (v, existing) in copier.versions_of(name)? {
                let job = Job {
                    index: 0,
                    v,
                    existing,
                };
                report.add(0, copier.copy(&job)?);
            }
            return Ok(());
        }
    }
    pool::run(parallel, initial, |task, queue| copier.work(task, queue))
}

/// One unit of the pipeline.
enum Task {
    /// The next page of the source's charts.
    Page,
    /// List a chart at both sides, then queue its versions.
    Chart(usize, String),
    /// Copy one version.
    Version(Box<Job>),
}

/// One version to copy, and what the destination holds of it.
struct Job {
    index: usize,
    v: HelmChartVersion,
    existing: Option<HelmChartVersion>,
}

struct Copier<'a> {
    plan: &'a Plan,
    src: &'a Side<'a>,
    dest: &'a Side<'a>,
    report: &'a Reporter,
    /// Charts queued so far and their position (records come out in that order).
    charts_seen: Mutex<HashMap<String, usize>>,
    next_chart: AtomicUsize,
    pages: Mutex<ChartPages<'a>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records are ordered by chart, then version: room for this many versions per chart.
const PER_CHART: usize = 1 << 20;

/// Provenance files are a few kilobytes; anything beyond this is refused.
const MAX_PROV_BYTES: usize = 1 << 20;

/// Downloads the provenance file `name` into `file`, refusing more than [`MAX_PROV_BYTES`].
/// False when the registry has none.
fn download_prov(
    client: &Registry,
    name: &str,
    file: &mut tempfile::NamedTempFile,
) -> Result<bool> {
    struct Capped<W>(W, usize);
    impl<W: Write> Write for Capped<W> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.1 + buf.len() > MAX_PROV_BYTES {
                return Err(io::Error::other("larger than 1 MiB"));
            }
            self.1 += buf.len();
            self.0.write_all(buf).map(|_| buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }
    let result = {
        let mut out = Capped(io::BufWriter::new(file.as_file_mut()), 0);
        let r = client.download(name, &mut out);
        r.and_then(|n| out.flush().map(|_| n).map_err(anyhow::Error::from))
    };
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

impl Copier<'_> {
    fn chart_index(&self, name: &str) -> usize {
        *lock(&self.charts_seen)
            .entry(name.to_string())
            .or_insert_with(|| self.next_chart.fetch_add(1, Ordering::SeqCst))
    }

    fn work(&self, task: Task, queue: &pool::Queue<Task>) -> Result<()> {
        match task {
            Task::Page => self.next_page(queue),
            Task::Chart(i, name) => {
                self.list_chart(i, &name, queue);
                Ok(())
            }
            Task::Version(job) => {
                let id = format!("{} {}", job.v.name, job.v.version);
                match self.copy(&job) {
                    Ok(record) => self.report.add(job.index, record),
                    Err(e) => self.report.fail(job.index, &id, self.dest.display, &e),
                }
                Ok(())
            }
        }
    }

    /// Reads the next page of the source's charts, queues the page after it and one listing
    /// per chart not seen yet.
    fn next_page(&self, queue: &pool::Queue<Task>) -> Result<()> {
        let page = lock(&self.pages)
            .next_page()
            .with_context(|| format!("listing the charts of {}", self.src.display))?;
        let Some(page) = page else { return Ok(()) };
        queue.push_front(Task::Page);
        for chart in page {
            let known = lock(&self.charts_seen).contains_key(&chart.name);
            if !known {
                let i = self.chart_index(&chart.name);
                queue.push_back(Task::Chart(i, chart.name));
            }
        }
        Ok(())
    }

    /// Lists chart `name` (number `i`) at both sides and queues its versions; a failure is
    /// the chart's one line.
    fn list_chart(&self, i: usize, name: &str, queue: &pool::Queue<Task>) {
        match self.versions_of(name) {
            Ok(jobs) => {
                for (k, (v, existing)) in jobs.into_iter().enumerate() {
                    queue.push_front(Task::Version(Box::new(Job {
                        index: i * PER_CHART + k,
                        v,
                        existing,
                    })));
                }
            }
            Err(e) => {
                let source = format!("{}/{name}", self.src.display);
                self.report
                    .fail(i * PER_CHART, &source, self.dest.display, &e);
            }
        }
    }

    /// The versions of `chart` to copy, each with the destination's version of the same
    /// number (if any).
    fn versions_of(
        &self,
        chart: &str,
    ) -> Result<Vec<(HelmChartVersion, Option<HelmChartVersion>)>> {
        let src = &self.src;
        if self.plan.charts == Charts::Every {
            // Named by the chart list: one that is gone since has nothing to copy.
            let versions = src.client.find_versions(chart)?.unwrap_or_default();
            return self.with_destination(chart, every_version(versions));
        }
        let versions = src
            .client
            .existing_versions(chart, src.display)
            .map_err(|e| {
                crate::ui::text::suggest_on_not_found(
                    e,
                    &format!("chart {chart:?} not found"),
                    chart,
                    || {
                        src.client
                            .list_charts()
                            .ok()
                            .map(|cs| cs.into_iter().map(|c| c.name).collect())
                    },
                )
            })?;
        let chosen = if self.plan.all {
            every_version(versions)
        } else {
            vec![self.select(chart, &versions)?]
        };
        self.with_destination(chart, chosen)
    }

    /// The one version of `chart` that `--version` and `--devel` select.
    fn select(&self, chart: &str, versions: &[HelmChartVersion]) -> Result<HelmChartVersion> {
        let wanted = self.plan.version.as_deref();
        match constraint::select(versions, wanted, self.plan.devel)? {
            Some(v) => Ok(v.clone()),
            None => match wanted {
                Some(w) => bail!(
                    "chart {chart:?} has no version matching {w:?} in {}",
                    self.src.display
                ),
                None => bail!(
                    "chart {chart:?} has only pre-release versions in {} (use --devel)",
                    self.src.display
                ),
            },
        }
    }

    /// Pairs each chosen version of `chart` with the destination's version of the same
    /// number, if any (one listing of the chart at the destination).
    fn with_destination(
        &self,
        chart: &str,
        chosen: Vec<HelmChartVersion>,
    ) -> Result<Vec<(HelmChartVersion, Option<HelmChartVersion>)>> {
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let at_dest: BTreeMap<String, HelmChartVersion> = self
            .dest
            .client
            .find_versions(chart)
            .with_context(|| format!("listing the versions of {chart} in {}", self.dest.display))?
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.version.clone(), v))
            .collect();
        Ok(chosen
            .into_iter()
            .map(|v| {
                let existing = at_dest.get(&v.version).cloned();
                (v, existing)
            })
            .collect())
    }
}

/// Every version, oldest first, each once.
fn every_version(mut all: Vec<HelmChartVersion>) -> Vec<HelmChartVersion> {
    all.sort_by(|a, b| constraint::compare(&a.version, &b.version));
    all.dedup_by(|a, b| a.version == b.version);
    all
}
