//! `pull REPO --all -d DIR`: the air-gap export. Every chart version of the namespace (or of
//! one chart) and its provenance file land in DIR, each verified against the registry's digest
//! and written through a part file renamed into place, so that `mirror DIR DEST` restores it.
//! The same listing pipeline as the copy's, on `support::pool`.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};

use super::{download_prov, lock, Side, PER_CHART};
use crate::provenance;
use crate::provenance::identity::{self, Selected};
use crate::registry::download::part_file_in;
use crate::registry::model::HelmChartVersion;
use crate::registry::{ChartPages, Expected, PartIn};
use crate::support::pool;
use crate::ui::report::{Action, Record, Reporter};

/// What an export did, for the summary line.
#[derive(Debug, Default)]
pub struct Counts {
    /// Versions written.
    pub versions: usize,
    /// Of those, written with their `.prov`.
    pub provs: usize,
    /// Charts and versions that failed (each its own line in the report).
    pub failed: usize,
}

enum Task {
    Page,
    Chart(usize, String),
    Version(usize, Box<HelmChartVersion>),
}

/// Exports every version of `chart` (or of every chart of `repo`) into `dir`, `parallel` at
/// once, each version's record (without a text line) or failure into `report`. Only the
/// repository's chart list fails the whole run.
pub fn run(
    repo: &Side,
    chart: Option<&str>,
    dir: &Path,
    parallel: usize,
    report: &Reporter,
) -> Result<Counts> {
    let exporter = Exporter {
        repo,
        dir,
        report,
        named: chart.is_some(),
        pages: Mutex::new(repo.client.chart_pages()),
        seen: Mutex::new(HashSet::new()),
        next_chart: AtomicUsize::new(0),
        versions: AtomicUsize::new(0),
        provs: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    };
    let initial = match chart {
        Some(c) => {
            lock(&exporter.seen).insert(c.to_string());
            let i = exporter.next_chart.fetch_add(1, Ordering::SeqCst);
            vec![Task::Chart(i, c.to_string())]
        }
        None => vec![Task::Page],
    };
    pool::run(parallel, initial, |task, queue| exporter.work(task, queue))?;
    Ok(Counts {
        versions: exporter.versions.load(Ordering::SeqCst),
        provs: exporter.provs.load(Ordering::SeqCst),
        failed: exporter.failed.load(Ordering::SeqCst),
    })
}

struct Exporter<'a> {
    repo: &'a Side<'a>,
    dir: &'a Path,
    report: &'a Reporter,
    /// One chart named: it must exist.
    named: bool,
    pages: Mutex<ChartPages<'a>>,
    seen: Mutex<HashSet<String>>,
    next_chart: AtomicUsize,
    versions: AtomicUsize,
    provs: AtomicUsize,
    failed: AtomicUsize,
}

impl Exporter<'_> {
    fn work(&self, task: Task, queue: &pool::Queue<Task>) -> Result<()> {
        match task {
            Task::Page => return self.next_page(queue),
            Task::Chart(i, name) => self.list_chart(i, &name, queue),
            Task::Version(index, v) => self.export_one(index, &v),
        }
        Ok(())
    }

    /// Reads the next page of the repository's charts, queues the page after it and one
    /// listing per chart not seen yet.
    fn next_page(&self, queue: &pool::Queue<Task>) -> Result<()> {
        let page = lock(&self.pages)
            .next_page()
            .with_context(|| format!("listing the charts of {}", self.repo.display))?;
        let Some(page) = page else {
            return Ok(());
        };
        queue.push_front(Task::Page);
        for c in page {
            if lock(&self.seen).insert(c.name.clone()) {
                let i = self.next_chart.fetch_add(1, Ordering::SeqCst);
                queue.push_back(Task::Chart(i, c.name));
            }
        }
        Ok(())
    }

    /// Lists chart `name` (number `i`) and queues its versions; a failure is the chart's one
    /// line.
    fn list_chart(&self, i: usize, name: &str, queue: &pool::Queue<Task>) {
        let client = self.repo.client;
        let listed = if self.named {
            client.existing_versions(name, self.repo.display).map(Some)
        } else {
            // Gone since the chart list was read: nothing to export.
            client.find_versions(name)
        };
        match listed.with_context(|| format!("listing the versions of {name}")) {
            Ok(vs) => {
                for (k, v) in vs.unwrap_or_default().into_iter().enumerate() {
                    queue.push_front(Task::Version(i * PER_CHART + k, Box::new(v)));
                }
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::SeqCst);
                self.report.fail(i * PER_CHART, name, self.repo.display, &e);
            }
        }
    }

    /// Exports one version and counts it; a failure is its one line.
    fn export_one(&self, index: usize, v: &HelmChartVersion) {
        match self.export(v) {
            Ok((record, with_prov)) => {
                self.versions.fetch_add(1, Ordering::SeqCst);
                if with_prov {
                    self.provs.fetch_add(1, Ordering::SeqCst);
                }
                self.report.add(index, record);
            }
            Err(e) => {
                let id = format!("{} {}", v.name, v.version);
                self.failed.fetch_add(1, Ordering::SeqCst);
                self.report.fail(index, &id, self.repo.display, &e);
            }
        }
    }

    /// Writes one version (and its `.prov`) into the destination; the record has no text
    /// line (the summary says it all).
    fn export(&self, v: &HelmChartVersion) -> Result<(Record, bool)> {
        let dir = self.dir;
        let file_name = v.file_name();
        let tmp = self
            .repo
            .client
            .download_verified(&file_name, Expected::from(v), &PartIn(dir))?
            .file;
        let size = tmp.as_file().metadata().ok().map(|m| m.len());
        let selected = Selected {
            name: &v.name,
            version: &v.version,
        };
        let file = std::fs::File::open(tmp.path())
            .with_context(|| format!("reading {file_name} again"))?;
        identity::check_package(io::BufReader::new(file), &file_name, selected)?;
        let prov = self.export_provenance(&file_name)?;
        let with_prov = prov.is_some();
        if let Some(prov) = prov {
            let dest = dir.join(provenance::prov_name(&file_name));
            prov.persist(&dest)
                .map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error))?;
        }
        let dest = dir.join(&file_name);
        tmp.persist(&dest)
            .map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error))?;
        let record = Record {
            name: Some(v.name.clone()),
            version: Some(v.version.clone()),
            digest: v.digest.as_ref().map(|d| format!("sha256:{d}")),
            size,
            path: Some(dest.display().to_string()),
            ..Record::new(self.repo.display, Action::Pulled)
        };
        Ok((record, with_prov))
    }

    /// The package's provenance file in a part file of the destination, or None when the
    /// registry has none.
    fn export_provenance(&self, file_name: &str) -> Result<Option<tempfile::NamedTempFile>> {
        let name = provenance::prov_name(file_name);
        let mut file = part_file_in(self.dir)?;
        let found = download_prov(self.repo.client, &name, &mut file)
            .map_err(|e| e.context(format!("downloading {name}")))?;
        Ok(found.then_some(file))
    }
}
