//! `helm ccr copy SRC/CHART... DEST` (or `copy SRC DEST --all`): copies chart versions from one
//! CCR repository to another, byte for byte, with their provenance files.
//!
//! Two connections, each with its own side's credentials. A pipeline on `support::pool`: the
//! source's chart pages (with `--all` and `SRC` alone) queue one listing per chart; a chart's
//! listing (source and destination) queues one copy per version; a copy downloads the package
//! into a temporary file, verified against the source's digest, then uploads that file (and the
//! `.prov`) in one request. Nothing is uploaded before its download is verified, and an upload
//! lands whole or not at all, so a failure leaves nothing half-written at the destination.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use anyhow::{bail, Context, Result};

use crate::chart::compare::{self, Stored};
use crate::chart::constraint;
use crate::error::UsageError;
use crate::provenance;
use crate::provenance::identity::{self, Selected};
use crate::registry::download::Dest;
use crate::registry::model::HelmChartVersion;
use crate::registry::{is_conflict, is_not_found, Expected, Registry, Upload, UploadOutcome};
use crate::settings::reference::{self, RepoArg};
use crate::settings::{self, Global, Repo};
use crate::support::pool;
use crate::ui::output::Format;
use crate::ui::report::{Action, Record, Reporter};
use crate::ui::text::redact_userinfo;

/// What `copy` was asked for.
pub struct CopySettings {
    /// `SRC/CHART...`, or `SRC` alone with `--all`.
    pub sources: Vec<String>,
    /// `DEST`: a repository.
    pub dest: String,
    pub version: Option<String>,
    pub devel: bool,
    /// `--all`: every version (of the charts named, or of every chart of `SRC`).
    pub all: bool,
    /// `--force`: replace a version the destination holds with other bytes.
    pub force: bool,
    pub dry_run: bool,
    pub format: Format,
}

/// Which charts to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Charts {
    /// `SRC --all`: every chart of the source.
    Every,
    /// `SRC/CHART...`.
    Named(Vec<String>),
}

/// Provenance files are a few kilobytes; anything beyond this is refused.
const MAX_PROV_BYTES: usize = 1 << 20;

/// Splits the arguments into the source repository and the charts, refusing the combinations
/// that mean nothing (usage errors, before any request).
fn parse_sources(s: &CopySettings) -> Result<(RepoArg, Charts)> {
    if s.all && s.version.is_some() {
        return Err(UsageError("--all copies every version: it takes no --version".into()).into());
    }
    if s.all && s.devel {
        return Err(UsageError(
            "--all copies every version, pre-releases included: it takes no --devel".into(),
        )
        .into());
    }
    if let Some(w) = &s.version {
        check_constraint(w)?;
    }
    // `SRC` alone: a repository, not a chart.
    if s.sources.len() == 1 {
        if let Ok(repo) = reference::parse_repo(&s.sources[0]) {
            if !s.all {
                return Err(UsageError(format!(
                    "{:?} is a repository: name the charts to copy (helm ccr copy SRC/CHART... DEST), or add --all to copy every version of every chart",
                    redact_userinfo(&s.sources[0])
                ))
                .into());
            }
            return Ok((repo, Charts::Every));
        }
    }
    let mut repo: Option<RepoArg> = None;
    let mut charts = Vec::new();
    for arg in &s.sources {
        let (r, chart) = reference::parse_chart_ref(arg).map_err(|e| {
            if s.sources.len() > 1 && reference::parse_repo(arg).is_ok() {
                UsageError(format!(
                    "{:?} is a repository: give SRC alone with --all, or SRC/CHART... (every source in one repository)",
                    redact_userinfo(arg)
                ))
                .into()
            } else {
                e
            }
        })?;
        if let Some((_, v)) = constraint::version_suffix(&chart) {
            return Err(UsageError(format!(
                "{:?}: the version goes in --version, not after the chart name: --version {v}",
                redact_userinfo(arg)
            ))
            .into());
        }
        match &repo {
            Some(first) if *first != r => {
                return Err(UsageError(format!(
                "the charts to copy come from one repository: {:?} is not in the same one as {:?}",
                redact_userinfo(arg),
                redact_userinfo(&s.sources[0])
            ))
                .into())
            }
            Some(_) => {}
            None => repo = Some(r),
        }
        if !charts.contains(&chart) {
            charts.push(chart);
        }
    }
    let repo = repo.ok_or_else(|| UsageError("nothing to copy".into()))?;
    Ok((repo, Charts::Named(charts)))
}

/// A `--version` that cannot be a constraint is a usage error, said once, before any request.
fn check_constraint(w: &str) -> Result<()> {
    if w.trim().is_empty() {
        return Err(UsageError("--version is empty".into()).into());
    }
    constraint::Constraint::parse(w).map(|_| ()).map_err(|_| {
        UsageError(format!(
            "invalid --version {w:?}: give a version or a constraint such as 1.2.3, ^1.2, ~1.2.3 or \">=1.0 <2.0\""
        ))
        .into()
    })
}

/// One side of the copy: its repository and its client.
struct Side {
    repo: Repo,
    client: Registry,
}

/// Connects to one side with its own credentials; the error names the side.
fn connect(arg: &RepoArg, side: &str, global: &Global) -> Result<Side> {
    let repo = settings::resolve_repo(arg, &global.env).with_context(|| side.to_string())?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)
        .with_context(|| format!("{side} {}", repo.display))?;
    Ok(Side { repo, client })
}

pub fn run(s: &CopySettings, global: &Global) -> Result<()> {
    let (src_arg, charts) = parse_sources(s)?;
    let dest_arg = reference::parse_repo(&s.dest)
        .map_err(|e| UsageError(format!("DEST: {e:#}")))
        .map_err(anyhow::Error::from)?;
    let same = match (&src_arg, &dest_arg) {
        (RepoArg::Url(a), RepoArg::Url(b)) => a == b,
        (RepoArg::Named(a), RepoArg::Named(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(UsageError(format!(
            "the source and the destination are the same repository ({})",
            redact_userinfo(&s.dest)
        ))
        .into());
    }
    let src = connect(&src_arg, "source", global)?;
    let dest = connect(&dest_arg, "destination", global)?;
    if src.repo.url.repo_url() == dest.repo.url.repo_url()
        && src.client.transport().config().endpoint == dest.client.transport().config().endpoint
    {
        return Err(UsageError(format!(
            "the source and the destination are the same repository ({})",
            dest.repo.display
        ))
        .into());
    }
    let parallel = global.env.parallel()?;
    let report = Reporter::new(s.format, global.output(), false);
    let copier = Copier {
        s,
        src: &src,
        dest: &dest,
        report: &report,
        every: charts == Charts::Every,
        charts_seen: Mutex::new(HashMap::new()),
        next_chart: AtomicUsize::new(0),
        pages: Mutex::new(src.client.chart_pages()),
        keep_in: global.env.replaced_dir(),
    };
    let initial: Vec<Task> = match &charts {
        Charts::Every => vec![Task::Page],
        Charts::Named(names) => names
            .iter()
            .map(|n| Task::Chart(copier.chart_index(n), n.clone()))
            .collect(),
    };
    if let (Charts::Named(names), false) = (&charts, s.all) {
        if let [name] = names.as_slice() {
            // One chart, one version: its error is the command's error, said once.
            for (v, existing) in copier.versions_of(name)? {
                let job = Job {
                    index: 0,
                    v,
                    existing,
                };
                report.add(0, copier.copy(&job)?);
            }
            return report.finish();
        }
    }
    // Only the source's chart list fails the whole run; every other failure is one line.
    pool::run(parallel, initial, |task, queue| copier.work(task, queue))?;
    report.finish()
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
    s: &'a CopySettings,
    src: &'a Side,
    dest: &'a Side,
    report: &'a Reporter,
    /// `SRC --all`: the charts come from the source's chart list.
    every: bool,
    /// Charts queued so far and their position (records come out in that order).
    charts_seen: Mutex<HashMap<String, usize>>,
    next_chart: AtomicUsize,
    pages: Mutex<crate::registry::ChartPages<'a>>,
    /// Where `--force` keeps the old package while replacing it on a registry that refuses
    /// to overwrite.
    keep_in: std::path::PathBuf,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records are ordered by chart, then version: room for this many versions per chart.
const PER_CHART: usize = 1 << 20;

impl Copier<'_> {
    fn chart_index(&self, name: &str) -> usize {
        *lock(&self.charts_seen)
            .entry(name.to_string())
            .or_insert_with(|| self.next_chart.fetch_add(1, Ordering::SeqCst))
    }

    fn work(&self, task: Task, queue: &pool::Queue<Task>) -> Result<()> {
        match task {
            Task::Page => {
                let page = lock(&self.pages)
                    .next_page()
                    .with_context(|| format!("listing the charts of {}", self.src.repo.display))?;
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
            Task::Chart(i, name) => {
                match self.versions_of(&name) {
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
                        let source = format!("{}/{name}", self.src.repo.display);
                        self.report
                            .fail(i * PER_CHART, &source, &self.dest.repo.display, &e);
                    }
                }
                Ok(())
            }
            Task::Version(job) => {
                let id = format!("{} {}", job.v.name, job.v.version);
                match self.copy(&job) {
                    Ok(record) => self.report.add(job.index, record),
                    Err(e) => self
                        .report
                        .fail(job.index, &id, &self.dest.repo.display, &e),
                }
                Ok(())
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
        if self.every {
            // Named by the chart list: one that is gone since has nothing to copy.
            let versions = src.client.find_versions(chart)?.unwrap_or_default();
            return self.with_destination(chart, self.every_version(versions));
        }
        let versions = src
            .client
            .existing_versions(chart, &src.repo.display)
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
        let chosen: Vec<HelmChartVersion> = if self.s.all {
            self.every_version(versions)
        } else {
            let wanted = self.s.version.as_deref();
            match constraint::select(&versions, wanted, self.s.devel)? {
                Some(v) => vec![v.clone()],
                None => match wanted {
                    Some(w) => bail!(
                        "chart {chart:?} has no version matching {w:?} in {}",
                        src.repo.display
                    ),
                    None => bail!(
                        "chart {chart:?} has only pre-release versions in {} (use --devel)",
                        src.repo.display
                    ),
                },
            }
        };
        self.with_destination(chart, chosen)
    }

    /// Every version, oldest first, each once.
    fn every_version(&self, mut all: Vec<HelmChartVersion>) -> Vec<HelmChartVersion> {
        all.sort_by(|a, b| constraint::compare(&a.version, &b.version));
        all.dedup_by(|a, b| a.version == b.version);
        all
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
            .with_context(|| {
                format!(
                    "listing the versions of {chart} in {}",
                    self.dest.repo.display
                )
            })?
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

    /// Copies one version (or says what it would do), by push's rules at the destination:
    /// the same digest is `unchanged` without a download; another digest is compared by
    /// content (`chart::compare`): the same chart is `unchanged`, another one is refused
    /// unless `--force`.
    fn copy(&self, job: &Job) -> Result<Record> {
        let v = &job.v;
        let src_repo = &self.src.repo.display;
        let dest_repo = &self.dest.repo.display;
        let id = format!("{} {}", v.name, v.version);
        let record =
            |action: Action, digest: Option<&str>, size: Option<u64>, line: String| Record {
                name: Some(v.name.clone()),
                version: Some(v.version.clone()),
                digest: digest.map(|d| format!("sha256:{d}")),
                size,
                source: Some(src_repo.clone()),
                line,
                ..Record::new(dest_repo, action)
            };
        let same_package = format!("Unchanged {id}: {dest_repo} holds the same package");
        // The fast path: the destination lists the source's digest.
        if let (Some(e), Some(d)) = (&job.existing, &v.digest) {
            if e.digest.as_deref() == Some(d.as_str()) {
                return Ok(record(Action::Unchanged, Some(d), None, same_package));
            }
        }
        if job.existing.is_none() && self.s.dry_run {
            return Ok(record(
                Action::WouldCopy,
                v.digest.as_deref(),
                None,
                format!("Would copy {id} from {src_repo} to {dest_repo}"),
            ));
        }
        // Nothing goes to the destination before the whole package is here and verified.
        let file_name = v.file_name();
        let downloaded = self
            .src
            .client
            .download_verified(&file_name, Expected::from(v), &SpoolFile)
            .with_context(|| format!("downloading {file_name} from {src_repo}"))?;
        let package = downloaded.file;
        let sha256 = downloaded.sha256;
        let size = Some(downloaded.size);
        identity::check_package(
            io::BufReader::new(package.reopen().context("reading the package again")?),
            &file_name,
            Selected {
                name: &v.name,
                version: &v.version,
            },
        )?;
        let stored = compare::against_registry(
            &self.dest.client,
            job.existing.as_ref(),
            package.path(),
            &sha256,
        )
        .with_context(|| format!("in {dest_repo}"))?;
        let replacing = match stored {
            Stored::Absent => None,
            Stored::Identical { digest } => {
                let line = if digest.as_deref() == Some(sha256.as_str()) {
                    same_package
                } else {
                    format!("Unchanged {id}: {dest_repo} holds the same chart (the same files, other package bytes)")
                };
                return Ok(record(Action::Unchanged, Some(&sha256), size, line));
            }
            Stored::Different { digest, comparison } => {
                let what = comparison.describe();
                if !self.s.force && self.s.dry_run {
                    return Ok(record(
                        Action::WouldFail,
                        Some(&sha256),
                        size,
                        format!("Would fail: {id} already exists in {dest_repo} with different content ({what}); use --force to replace it"),
                    ));
                }
                if !self.s.force {
                    bail!(
                        "{id} already exists in {dest_repo} with different content ({what}); use --force to replace it"
                    );
                }
                Some(digest)
            }
        };
        if self.s.dry_run {
            let (action, how) = match replacing {
                Some(_) => (Action::WouldReplace, ", replacing the existing version"),
                None => (Action::WouldCopy, ""),
            };
            return Ok(record(
                action,
                Some(&sha256),
                size,
                format!("Would copy {id} from {src_repo} to {dest_repo}{how}"),
            ));
        }
        let prov = self.provenance(&file_name)?;
        let up = Upload {
            chart: package.path(),
            file_name: &file_name,
            prov: prov.as_ref().map(|p| p.path()),
            name: &v.name,
            version: &v.version,
            sha256: &sha256,
        };
        let mut action = if replacing.is_some() {
            Action::Replaced
        } else {
            Action::Copied
        };
        let outcome = match self
            .dest
            .client
            .upload_replacing(&up, replacing.clone().flatten().as_deref())
        {
            Ok(o) => o,
            Err(e) if is_conflict(&e) => {
                // Stored since we looked (or a registry that refuses to overwrite): look again.
                let again = self.dest.client.find_version(&v.name, &v.version)?;
                match compare::against_registry(
                    &self.dest.client,
                    again.as_ref(),
                    package.path(),
                    &sha256,
                )? {
                    Stored::Identical { .. } => {
                        return Ok(record(Action::Unchanged, Some(&sha256), size, same_package))
                    }
                    Stored::Different { comparison, .. } if !self.s.force => bail!(
                        "{id} already exists in {dest_repo} with different content ({}); use --force to replace it",
                        comparison.describe()
                    ),
                    _ => {}
                }
                action = Action::Replaced;
                self.dest.client.replace(&up, dest_repo, &self.keep_in, &|kept| {
                    eprintln!(
                        "Replacing {id} in {dest_repo}: the registry refuses to overwrite, so the old version is deleted first; until the new one (or the old one again) is stored, the old package is kept at {}",
                        kept.display()
                    )
                })?
            }
            Err(e) => return Err(e),
        };
        let note = match outcome {
            UploadOutcome::Uploaded => "",
            UploadOutcome::AlreadyStored => " (confirmed after a lost answer)",
        };
        let verb = if action == Action::Replaced {
            "Replaced"
        } else {
            "Copied"
        };
        let with_prov = if prov.is_some() {
            " with its .prov"
        } else {
            ""
        };
        Ok(record(
            action,
            Some(&sha256),
            size,
            format!(
                "{verb} {id} from {src_repo} to {dest_repo} (sha256:{sha256}){with_prov}{note}"
            ),
        ))
    }

    /// The source's provenance file of `file_name` in a temporary file, or None when the
    /// package has none.
    fn provenance(&self, file_name: &str) -> Result<Option<tempfile::NamedTempFile>> {
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
        let name = provenance::prov_name(file_name);
        let mut file = tempfile::NamedTempFile::new().context("creating a temporary file")?;
        let result = {
            let mut out = Capped(io::BufWriter::new(file.as_file_mut()), 0);
            let r = self.src.client.download(&name, &mut out);
            r.and_then(|n| out.flush().map(|_| n).map_err(anyhow::Error::from))
        };
        match result {
            Ok(_) => Ok(Some(file)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.context(format!("downloading {name} from {}", self.src.repo.display))),
        }
    }
}

/// A named temporary file in the run's temporary directory (removed on a signal), for the
/// package between its verified download and its upload.
struct SpoolFile;

impl Dest for SpoolFile {
    type Temp = tempfile::NamedTempFile;
    type Landed = tempfile::NamedTempFile;
    fn create(&self) -> Result<Self::Temp> {
        tempfile::NamedTempFile::new().context("creating a temporary file")
    }
    fn file(temp: &mut Self::Temp) -> &mut std::fs::File {
        temp.as_file_mut()
    }
    fn land(&self, temp: Self::Temp) -> Result<Self::Landed> {
        Ok(temp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(sources: &[&str], all: bool) -> CopySettings {
        CopySettings {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            dest: "prod".into(),
            version: None,
            devel: false,
            all,
            force: false,
            dry_run: false,
            format: Format::Text,
        }
    }

    fn usage(s: &CopySettings) -> String {
        let e = parse_sources(s).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        e.to_string()
    }

    #[test]
    fn the_argument_forms() {
        let (repo, charts) = parse_sources(&settings(&["staging"], true)).unwrap();
        assert_eq!(repo, RepoArg::Named("staging".into()));
        assert_eq!(charts, Charts::Every);
        let (repo, charts) = parse_sources(&settings(
            &["ccr://i/ns/web", "ccr://i/ns/api", "ccr://i/ns/web"],
            false,
        ))
        .unwrap();
        assert!(matches!(repo, RepoArg::Url(u) if u.repo_url() == "ccr://i/ns"));
        assert_eq!(charts, Charts::Named(vec!["web".into(), "api".into()]));
        let (_, charts) = parse_sources(&settings(&["staging/web"], true)).unwrap();
        assert_eq!(charts, Charts::Named(vec!["web".into()]));
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        assert!(usage(&settings(&["staging"], false)).contains("add --all"));
        assert!(usage(&settings(&["staging", "staging/web"], true)).contains("is a repository"));
        assert!(usage(&settings(&["a/web", "b/api"], false)).contains("one repository"));
        assert!(usage(&settings(&["a/web:1.0.0"], false)).contains("--version 1.0.0"));
        let mut s = settings(&["staging"], true);
        s.version = Some("1.0.0".into());
        assert!(usage(&s).contains("no --version"));
        let mut s = settings(&["staging"], true);
        s.devel = true;
        assert!(usage(&s).contains("no --devel"));
        let mut s = settings(&["staging/web"], false);
        s.version = Some("not a version".into());
        assert!(usage(&s).contains("invalid --version"));
    }
}
