//! One version's copy, by push's rules at the destination: look at what the destination
//! lists (the same digest is `unchanged` without a download), download the package verified
//! against the source's digest and check that it is the chart and version selected, decide
//! (another digest is compared by content with `chart::compare`: the same chart is
//! `unchanged`, another one is refused unless `--force`), then upload it with its `.prov` and
//! say what was done.

use std::io;

use anyhow::{bail, Context, Result};

use super::{download_prov, Copier, Job};
use crate::chart::compare::{self, Stored};
use crate::provenance;
use crate::provenance::identity::{self, Selected};
use crate::registry::download::{Dest, Verified};
use crate::registry::model::HelmChartVersion;
use crate::registry::{is_conflict, Expected, Upload, UploadOutcome};
use crate::ui::report::{Action, Record};

/// The package between its verified download and its upload.
type Package = Verified<tempfile::NamedTempFile>;

/// One version as its records name it.
struct Named<'a> {
    v: &'a HelmChartVersion,
    /// `NAME VERSION`.
    id: String,
    src: &'a str,
    dest: &'a str,
}

impl Named<'_> {
    fn record(
        &self,
        action: Action,
        digest: Option<&str>,
        size: Option<u64>,
        line: String,
    ) -> Record {
        Record {
            name: Some(self.v.name.clone()),
            version: Some(self.v.version.clone()),
            digest: digest.map(|d| format!("sha256:{d}")),
            size,
            source: Some(self.src.to_string()),
            line,
            ..Record::new(self.dest, action)
        }
    }

    /// The record of a package that the destination holds already, byte for byte.
    fn same_package(&self, digest: &str, size: Option<u64>) -> Record {
        let line = format!(
            "Unchanged {}: {} holds the same package",
            self.id, self.dest
        );
        self.record(Action::Unchanged, Some(digest), size, line)
    }

    fn different(&self, what: &str) -> String {
        format!(
            "{} already exists in {} with different content ({what}); use --force to replace it",
            self.id, self.dest
        )
    }
}

/// What the destination's answer leaves to do.
enum Decision {
    /// Nothing to upload: the record says why.
    Done(Record),
    /// Upload, over the version there (`Some`, with its digest when listed) or not (`None`).
    Upload(Option<Option<String>>),
}

impl Copier<'_> {
    /// Copies one version (or says what it would do).
    pub(super) fn copy(&self, job: &Job) -> Result<Record> {
        let named = Named {
            v: &job.v,
            id: format!("{} {}", job.v.name, job.v.version),
            src: self.src.display,
            dest: self.dest.display,
        };
        if let Some(record) = self.look(job, &named) {
            return Ok(record);
        }
        // Nothing goes to the destination before the whole package is here and verified.
        let package = self.download(&job.v)?;
        match self.decide(job, &named, &package)? {
            Decision::Done(record) => Ok(record),
            Decision::Upload(replacing) => self.transfer(&named, &package, replacing),
        }
    }

    /// What the listings alone tell: the destination lists the source's digest, or (with
    /// `--dry-run`) it has no such version.
    fn look(&self, job: &Job, named: &Named) -> Option<Record> {
        let v = &job.v;
        if let (Some(e), Some(d)) = (&job.existing, &v.digest) {
            if e.digest.as_deref() == Some(d.as_str()) {
                return Some(named.same_package(d, None));
            }
        }
        if job.existing.is_none() && self.plan.dry_run {
            let line = format!(
                "Would copy {} from {} to {}",
                named.id, named.src, named.dest
            );
            return Some(named.record(Action::WouldCopy, v.digest.as_deref(), None, line));
        }
        None
    }

    /// The package in a temporary file, verified against the source's digest, and checked to
    /// be the chart and version selected.
    fn download(&self, v: &HelmChartVersion) -> Result<Package> {
        let file_name = v.file_name();
        let package = self
            .src
            .client
            .download_verified(&file_name, Expected::from(v), &SpoolFile)
            .with_context(|| format!("downloading {file_name} from {}", self.src.display))?;
        identity::check_package(
            io::BufReader::new(package.file.reopen().context("reading the package again")?),
            &file_name,
            Selected {
                name: &v.name,
                version: &v.version,
            },
        )?;
        Ok(package)
    }

    /// Decides from what the destination holds (compared by content when the digests
    /// differ), `--force` and `--dry-run`.
    fn decide(&self, job: &Job, named: &Named, package: &Package) -> Result<Decision> {
        let (sha256, size) = (package.sha256.as_str(), Some(package.size));
        let stored = compare::against_registry(
            self.dest.client,
            job.existing.as_ref(),
            package.file.path(),
            sha256,
        )
        .with_context(|| format!("in {}", named.dest))?;
        let replacing = match stored {
            Stored::Absent => None,
            Stored::Identical { digest } => {
                if digest.as_deref() == Some(sha256) {
                    return Ok(Decision::Done(named.same_package(sha256, size)));
                }
                let line = format!(
                    "Unchanged {}: {} holds the same chart (the same files, other package bytes)",
                    named.id, named.dest
                );
                let record = named.record(Action::Unchanged, Some(sha256), size, line);
                return Ok(Decision::Done(record));
            }
            Stored::Different { digest, comparison } => {
                let what = comparison.describe();
                if !self.plan.force && self.plan.dry_run {
                    let line = format!("Would fail: {}", named.different(&what));
                    let record = named.record(Action::WouldFail, Some(sha256), size, line);
                    return Ok(Decision::Done(record));
                }
                if !self.plan.force {
                    bail!("{}", named.different(&what));
                }
                Some(digest)
            }
        };
        if !self.plan.dry_run {
            return Ok(Decision::Upload(replacing));
        }
        let (action, how) = match replacing {
            Some(_) => (Action::WouldReplace, ", replacing the existing version"),
            None => (Action::WouldCopy, ""),
        };
        let line = format!(
            "Would copy {} from {} to {}{how}",
            named.id, named.src, named.dest
        );
        Ok(Decision::Done(named.record(
            action,
            Some(sha256),
            size,
            line,
        )))
    }

    /// Uploads the package with the source's `.prov` (over the version there when
    /// `replacing`), and says what was done.
    fn transfer(
        &self,
        named: &Named,
        package: &Package,
        replacing: Option<Option<String>>,
    ) -> Result<Record> {
        let v = named.v;
        let file_name = v.file_name();
        let prov = self.provenance(&file_name)?;
        let up = Upload {
            chart: package.file.path(),
            file_name: &file_name,
            prov: prov.as_ref().map(|p| p.path()),
            name: &v.name,
            version: &v.version,
            sha256: &package.sha256,
        };
        let action = if replacing.is_some() {
            Action::Replaced
        } else {
            Action::Copied
        };
        let uploaded = self
            .dest
            .client
            .upload_replacing(&up, replacing.flatten().as_deref());
        let (action, outcome) = match uploaded {
            Ok(o) => (action, o),
            Err(e) if is_conflict(&e) => match self.on_conflict(named, &up)? {
                Some(o) => (Action::Replaced, o),
                None => return Ok(named.same_package(&package.sha256, Some(package.size))),
            },
            Err(e) => return Err(e),
        };
        Ok(copied(named, package, action, outcome, prov.is_some()))
    }

    /// The destination refused the upload as a duplicate: stored since we looked (or a
    /// registry that refuses to overwrite). Looks again: None when it now holds the same
    /// chart; else, with `--force`, replaces it.
    fn on_conflict(&self, named: &Named, up: &Upload) -> Result<Option<UploadOutcome>> {
        let again = self.dest.client.find_version(up.name, up.version)?;
        match compare::against_registry(self.dest.client, again.as_ref(), up.chart, up.sha256)? {
            Stored::Identical { .. } => return Ok(None),
            Stored::Different { comparison, .. } if !self.plan.force => {
                bail!("{}", named.different(&comparison.describe()))
            }
            _ => {}
        }
        let (id, dest) = (&named.id, named.dest);
        let outcome = self.dest.client.replace(up, dest, &self.plan.keep_in, &|kept| {
            eprintln!(
                "Replacing {id} in {dest}: the registry refuses to overwrite, so the old version is deleted first; until the new one (or the old one again) is stored, the old package is kept at {}",
                kept.display()
            )
        })?;
        Ok(Some(outcome))
    }

    /// The source's provenance file of `file_name` in a temporary file, or None when the
    /// package has none.
    fn provenance(&self, file_name: &str) -> Result<Option<tempfile::NamedTempFile>> {
        let name = provenance::prov_name(file_name);
        let mut file = tempfile::NamedTempFile::new().context("creating a temporary file")?;
        let found = download_prov(self.src.client, &name, &mut file)
            .map_err(|e| e.context(format!("downloading {name} from {}", self.src.display)))?;
        Ok(found.then_some(file))
    }
}

/// The record of a version uploaded.
fn copied(
    named: &Named,
    package: &Package,
    action: Action,
    outcome: UploadOutcome,
    with_prov: bool,
) -> Record {
    let note = match outcome {
        UploadOutcome::Uploaded => "",
        UploadOutcome::AlreadyStored => " (confirmed after a lost answer)",
    };
    let verb = if action == Action::Replaced {
        "Replaced"
    } else {
        "Copied"
    };
    let with_prov = if with_prov { " with its .prov" } else { "" };
    let sha256 = &package.sha256;
    let line = format!(
        "{verb} {} from {} to {} (sha256:{sha256}){with_prov}{note}",
        named.id, named.src, named.dest
    );
    named.record(action, Some(sha256), Some(package.size), line)
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
