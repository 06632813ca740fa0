//! `helm ccr mirror SOURCE DEST`: every package of a Helm chart repository (or of a directory
//! of packages) into a CCR namespace, each checked against the source's digest before it is
//! uploaded, only what the destination does not hold yet.
//!
//! First the source's list and the destination's versions of every chart concerned are read
//! (a failure there is the command's one error, before anything is written); then each
//! package is decided ([`decide`]: unchanged, conflicting, to mirror) and mirrored on
//! [`pool`] workers: downloaded to a temporary file while hashing, refused on a digest
//! mismatch, uploaded with its `.prov` when the source has one.

pub mod source;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context, Result};

use crate::chart::constraint::Constraint;
use crate::chart::tgz;
use crate::registry::{is_conflict, Registry, Upload};
use crate::support::cleanup;
use crate::support::hashing::Hashing;
use crate::support::pool;
use crate::ui::output::Output;
use crate::ui::report::{Action, Record, Reporter};
use crate::ui::text::{did_you_mean, size_text};
use source::{Got, HttpRepo, Location, SourcePackage};

/// Where packages come from.
pub enum Source {
    Http(Box<HttpRepo>),
    Dir(PathBuf),
}

impl Source {
    /// The source as the user reads it.
    pub fn display(&self) -> String {
        match self {
            Source::Http(h) => h.display(),
            Source::Dir(d) => d.display().to_string(),
        }
    }

    fn packages(&self) -> Result<Vec<SourcePackage>> {
        match self {
            Source::Http(h) => h.packages(),
            Source::Dir(d) => source::dir_packages(d),
        }
    }
}

/// Which packages, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--chart`: only these charts (each must be in the source).
    pub charts: Vec<String>,
    /// `--version`: only versions matching this constraint.
    pub version: Option<String>,
    /// `--devel`: with `--version`, pre-releases match too.
    pub devel: bool,
    pub dry_run: bool,
    /// Packages mirrored at once (`HELM_CCR_PARALLEL`).
    pub parallel: usize,
}

/// The destination: its client and its name in messages.
pub struct Dest<'a> {
    pub registry: &'a Registry,
    pub display: &'a str,
}

/// What a run did, for the summary line.
#[derive(Debug, Default)]
pub struct Summary {
    pub mirrored: u64,
    pub bytes: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub dry_run: bool,
}

impl Summary {
    /// `Mirrored 57 packages (12 MiB), 3 unchanged, 1 failed`.
    pub fn line(&self) -> String {
        let verb = if self.dry_run {
            "Would mirror"
        } else {
            "Mirrored"
        };
        let plural = if self.mirrored == 1 { "" } else { "s" };
        let mut line = format!("{verb} {} package{plural}", self.mirrored);
        if !self.dry_run {
            line.push_str(&format!(" ({})", size_text(self.bytes)));
        }
        line.push_str(&format!(", {} unchanged", self.unchanged));
        if self.failed > 0 {
            line.push_str(&format!(", {} failed", self.failed));
        }
        line
    }
}

/// Mirrors `source` into `dest`: results go to `report` as they come; returns the counts.
/// A failure to read either side, or a filter that names nothing, is the error returned;
/// a package that fails is reported and the others go on.
pub fn run(
    source: &Source,
    dest: &Dest<'_>,
    opts: &Options,
    out: Output,
    report: &Reporter,
) -> Result<Summary> {
    let shown = source.display();
    let all = source.packages()?;
    if all.is_empty() {
        out.warn(&format!("{shown} has no chart packages"));
    }
    let packages = select(all, opts, &shown)?;
    let names: Vec<String> = packages
        .iter()
        .map(|p| p.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let held = held_versions(dest, &names, opts.parallel)?;
    let held: HashMap<&str, HashMap<String, Option<String>>> =
        names.iter().map(String::as_str).zip(held).collect();

    let total = packages.len();
    let (mirrored, bytes, unchanged, failed, done) = (
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
    );
    let bar = out.spinner(
        crate::ui::output::Activity::Uploading,
        &format!("{total} packages"),
    );
    let ctx = Ctx {
        source,
        shown: &shown,
        dest,
        opts,
    };
    pool::run(opts.parallel, 0..total, |i, _| {
        let p = &packages[i];
        let there = held
            .get(p.name.as_str())
            .and_then(|versions| versions.get(&p.version));
        match ctx.one(p, there) {
            Ok(record) => {
                match record.action {
                    Action::Unchanged => unchanged.fetch_add(1, Ordering::Relaxed),
                    _ => mirrored.fetch_add(1, Ordering::Relaxed),
                };
                if record.action == Action::Mirrored {
                    bytes.fetch_add(record.size.unwrap_or(0), Ordering::Relaxed);
                }
                report.add(i, record);
            }
            Err(e) => {
                failed.fetch_add(1, Ordering::Relaxed);
                report.fail(i, &format!("{} {}", p.name, p.version), dest.display, &e);
            }
        }
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(b) = &bar {
            b.set_message(format!(
                "Mirroring: {n}/{total} packages, {}",
                size_text(bytes.load(Ordering::Relaxed))
            ));
        }
        Ok(())
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Summary {
        mirrored: mirrored.into_inner(),
        bytes: bytes.into_inner(),
        unchanged: unchanged.into_inner(),
        failed: failed.into_inner(),
        dry_run: opts.dry_run,
    })
}

/// What the destination holds of each chart named: its versions and their digests, listed
/// `parallel` at a time.
fn held_versions(
    dest: &Dest<'_>,
    names: &[String],
    parallel: usize,
) -> Result<Vec<HashMap<String, Option<String>>>> {
    pool::map(names, parallel, |name| {
        Ok(dest
            .registry
            .find_versions(name)
            .with_context(|| format!("listing {name} in {}", dest.display))?
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.version, v.digest))
            .collect::<HashMap<String, Option<String>>>())
    })
}

/// The packages `--chart`, `--version` and `--devel` select, by name then version. A chart
/// named that the source does not have, or a constraint nothing matches, is an error.
fn select(mut all: Vec<SourcePackage>, opts: &Options, shown: &str) -> Result<Vec<SourcePackage>> {
    let names: BTreeSet<&str> = all.iter().map(|p| p.name.as_str()).collect();
    for chart in &opts.charts {
        if !names.contains(chart.as_str()) {
            let hint = did_you_mean(chart, names.iter().copied());
            bail!("chart {chart:?} not found in {shown}{hint}");
        }
    }
    if !opts.charts.is_empty() {
        all.retain(|p| opts.charts.contains(&p.name));
    }
    if let Some(c) = &opts.version {
        let constraint = Constraint::parse(c)?;
        all.retain(|p| {
            semver::Version::parse(p.version.trim_start_matches('v'))
                .is_ok_and(|v| constraint.matches(&v, opts.devel))
        });
        if all.is_empty() {
            bail!("no version in {shown} matches {c:?}");
        }
    }
    // One package per name and version: an index listing one twice mirrors it once.
    all.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| crate::chart::constraint::compare(&a.version, &b.version))
    });
    all.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    Ok(all)
}

/// What to do with one package, from the digest the source promises and what the destination
/// holds of that version.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Not there: download, check, upload.
    Mirror,
    /// There, with the same digest.
    Unchanged,
    /// There with another digest: refused, naming both.
    Conflict(String),
    /// There, but the source gives no digest to compare: download first, then compare.
    CompareAfterDownload(Option<String>),
}

fn decide(source_digest: Option<&str>, there: Option<&Option<String>>) -> Decision {
    match (there, source_digest) {
        (None, _) => Decision::Mirror,
        (Some(Some(held)), Some(ours)) if held == ours => Decision::Unchanged,
        (Some(Some(held)), Some(_)) => Decision::Conflict(held.clone()),
        (Some(held), None) => Decision::CompareAfterDownload(held.clone()),
        (Some(None), Some(_)) => Decision::CompareAfterDownload(None),
    }
}

struct Ctx<'a> {
    source: &'a Source,
    shown: &'a str,
    dest: &'a Dest<'a>,
    opts: &'a Options,
}

/// A package on disk, ready to upload: its file (and `.prov`), kept until dropped.
struct Local {
    path: PathBuf,
    prov: Option<PathBuf>,
    sha256: String,
    size: u64,
    _temps: Vec<tempfile::NamedTempFile>,
}

impl Ctx<'_> {
    fn record(&self, p: &SourcePackage, action: Action, line: String) -> Record {
        Record {
            name: Some(p.name.clone()),
            version: Some(p.version.clone()),
            digest: p.digest.as_ref().map(|d| format!("sha256:{d}")),
            source: Some(match &p.location {
                Location::Url(u) => crate::ui::text::redact_userinfo(u),
                Location::File(f) => f.display().to_string(),
            }),
            line,
            ..Record::new(self.dest.display, action)
        }
    }

    fn conflict(&self, p: &SourcePackage, held: &str, ours: &str) -> anyhow::Error {
        anyhow!(
            "{} {} already exists in {} with different content (sha256:{held} there, sha256:{ours} in {}); delete it there (helm ccr rm) to mirror it",
            p.name,
            p.version,
            self.dest.display,
            self.shown
        )
    }

    fn unchanged(&self, p: &SourcePackage, digest: &str) -> Record {
        let mut r = self.record(
            p,
            Action::Unchanged,
            format!(
                "Unchanged {} {} in {} (sha256:{digest})",
                p.name, p.version, self.dest.display
            ),
        );
        r.digest = Some(format!("sha256:{digest}"));
        r
    }

    fn one(&self, p: &SourcePackage, there: Option<&Option<String>>) -> Result<Record> {
        let decision = decide(p.digest.as_deref(), there);
        match &decision {
            Decision::Unchanged => return Ok(self.unchanged(p, p.digest.as_deref().unwrap_or(""))),
            Decision::Conflict(held) => {
                return Err(self.conflict(p, held, p.digest.as_deref().unwrap_or("")))
            }
            _ => {}
        }
        if self.opts.dry_run {
            let line = format!(
                "Would mirror {} {} to {}",
                p.name, p.version, self.dest.display
            );
            return Ok(self.record(p, Action::WouldMirror, line));
        }
        let local = self.fetch(p)?;
        if let Decision::CompareAfterDownload(held) = decision {
            return match held {
                Some(h) if h == local.sha256 => Ok(self.unchanged(p, &h)),
                Some(h) => Err(self.conflict(p, &h, &local.sha256)),
                None => bail!(
                    "{} {} already exists in {}, which lists no digest for it: cannot tell whether it is the same",
                    p.name,
                    p.version,
                    self.dest.display
                ),
            };
        }
        self.upload(p, &local)
    }

    /// The package on disk, checked: a directory's file as it is, a repository's downloaded
    /// to a temporary file while hashing and compared with the index's digest, then read as a
    /// chart whose name and version must be the index's.
    fn fetch(&self, p: &SourcePackage) -> Result<Local> {
        match &p.location {
            Location::File(f) => {
                let prov = sibling_prov(f);
                let size = std::fs::metadata(f)
                    .with_context(|| format!("reading {}", f.display()))?
                    .len();
                Ok(Local {
                    path: f.clone(),
                    prov,
                    sha256: p.digest.clone().unwrap_or_default(),
                    size,
                    _temps: Vec::new(),
                })
            }
            Location::Url(url) => {
                let Source::Http(http) = self.source else {
                    bail!("{url}: not an HTTP source");
                };
                let label = p.file_name();
                let temp = cleanup::create(tempfile::NamedTempFile::new)
                    .context("creating a temporary file")?;
                let mut w = Hashing::new(temp.as_file());
                match http.get(url, &label, &mut w)? {
                    Got::Written(_) => {}
                    Got::NotFound => bail!(
                        "{}: {} answered 404 Not Found",
                        label,
                        crate::ui::text::redact_userinfo(url)
                    ),
                }
                let (_, sha256, size) = w.finish();
                if let Some(expected) = &p.digest {
                    if *expected != sha256 {
                        bail!(
                            "{label} does not match the digest in {}/index.yaml (sha256:{expected} there, sha256:{sha256} downloaded): refused",
                            self.shown
                        );
                    }
                }
                let inspected = tgz::inspect_as(temp.path(), &label)?;
                if inspected.metadata.name != p.name || inspected.metadata.version != p.version {
                    bail!(
                        "{label} holds {} {}, not what index.yaml says: refused",
                        inspected.metadata.name,
                        inspected.metadata.version
                    );
                }
                let mut temps = vec![];
                let prov_temp = cleanup::create(tempfile::NamedTempFile::new)
                    .context("creating a temporary file")?;
                let prov = match http.get(
                    &prov_url(url),
                    &format!("{label}.prov"),
                    &mut prov_temp.as_file(),
                )? {
                    Got::Written(_) => {
                        let path = prov_temp.path().to_path_buf();
                        temps.push(prov_temp);
                        Some(path)
                    }
                    Got::NotFound => None,
                };
                let path = temp.path().to_path_buf();
                temps.push(temp);
                Ok(Local {
                    path,
                    prov,
                    sha256,
                    size,
                    _temps: temps,
                })
            }
        }
    }

    fn upload(&self, p: &SourcePackage, local: &Local) -> Result<Record> {
        let file_name = p.file_name();
        let up = Upload {
            chart: &local.path,
            file_name: &file_name,
            prov: local.prov.as_deref(),
            name: &p.name,
            version: &p.version,
            sha256: &local.sha256,
        };
        match self.dest.registry.upload(&up) {
            Ok(_) => {}
            // Someone stored it between our look and our upload: compare again.
            Err(e) if is_conflict(&e) => {
                let held = self
                    .dest
                    .registry
                    .find_version(&p.name, &p.version)?
                    .and_then(|v| v.digest);
                return match held {
                    Some(h) if h == local.sha256 => Ok(self.unchanged(p, &h)),
                    Some(h) => Err(self.conflict(p, &h, &local.sha256)),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
        let prov_note = if local.prov.is_some() {
            " with its .prov"
        } else {
            ""
        };
        let mut r = self.record(
            p,
            Action::Mirrored,
            format!(
                "Mirrored {} {} to {} (sha256:{}){prov_note}",
                p.name, p.version, self.dest.display, local.sha256
            ),
        );
        r.digest = Some(format!("sha256:{}", local.sha256));
        r.size = Some(local.size);
        Ok(r)
    }
}

/// `X.tgz.prov` beside `X.tgz`, when there is one.
fn sibling_prov(f: &Path) -> Option<PathBuf> {
    let mut s = f.as_os_str().to_owned();
    s.push(".prov");
    let prov = PathBuf::from(s);
    prov.is_file().then_some(prov)
}

/// The provenance file's URL: `.prov` after the package's path, before any query.
fn prov_url(url: &str) -> String {
    match url.find('?') {
        Some(i) => format!("{}.prov{}", &url[..i], &url[i..]),
        None => format!("{url}.prov"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let d = |s: Option<&str>, t: Option<Option<&str>>| {
            decide(s, t.map(|x| x.map(str::to_string)).as_ref())
        };
        assert_eq!(d(Some("a"), None), Decision::Mirror);
        assert_eq!(d(Some("a"), Some(Some("a"))), Decision::Unchanged);
        assert_eq!(
            d(Some("a"), Some(Some("b"))),
            Decision::Conflict("b".into())
        );
        assert_eq!(
            d(None, Some(Some("b"))),
            Decision::CompareAfterDownload(Some("b".into()))
        );
    }

    #[test]
    fn summary_line() {
        let s = Summary {
            mirrored: 57,
            bytes: 12 << 20,
            unchanged: 3,
            failed: 1,
            dry_run: false,
        };
        assert_eq!(
            s.line(),
            "Mirrored 57 packages (12 MiB), 3 unchanged, 1 failed"
        );
        assert_eq!(prov_url("http://h/a.tgz?x=1"), "http://h/a.tgz.prov?x=1");
    }
}
