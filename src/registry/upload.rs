//! Uploads: one multipart request streamed from disk, settled exactly once when an answer is
//! lost ([`Registry::upload`]), and the replace transaction for `--force` on a registry that
//! refuses to overwrite ([`Registry::replace`]).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::download::{Expected, KeepAt};
use super::{is_conflict, is_not_found, Registry};
use crate::registry::model::HelmChartVersion;
use crate::registry::multipart;
use crate::transport::{Attempts, Failure, Metered, Transfer};
use crate::ui::output::Activity;

/// How an upload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The registry accepted it.
    Uploaded,
    /// An attempt's answer was lost, and the registry holds exactly our bytes.
    AlreadyStored,
}

/// A package to upload.
pub struct Upload<'a> {
    pub chart: &'a Path,
    pub file_name: &'a str,
    pub prov: Option<&'a Path>,
    pub name: &'a str,
    pub version: &'a str,
    /// sha256 hex of the package.
    pub sha256: &'a str,
}

/// An upload's request body, the same for every attempt.
struct Body {
    path: String,
    content_type: String,
    layout: multipart::Layout,
    transfer: std::sync::Arc<Transfer>,
}

/// The old version kept on disk while `--force` replaces it (see [`Registry::replace`]).
struct KeptCopy {
    dir: tempfile::TempDir,
    file_name: String,
    tgz: PathBuf,
    prov: Option<PathBuf>,
    /// sha256 hex of the kept package.
    sha256: String,
}

impl KeptCopy {
    /// Keeps the directory past the run; returns the package's path in it.
    fn keep(self) -> PathBuf {
        self.dir.keep().join(&self.file_name)
    }
}

/// How putting the old package back ended.
enum Restored {
    /// The registry holds the new package after all (a lost answer).
    NewIsThere,
    /// The registry holds the old package again.
    OldIsBack,
    Failed(anyhow::Error),
}

impl Registry {
    /// Uploads a package (and its provenance file) as one multipart request with an exact
    /// `Content-Length`, streamed from disk. An attempt whose answer is lost is settled by
    /// looking at the registry: our digest there means success, another digest an error.
    /// A 409 on a first attempt is returned as an [`ApiError`] for the caller to decide.
    pub fn upload(&self, up: &Upload<'_>) -> Result<UploadOutcome> {
        self.upload_replacing(up, None)
    }

    /// Like [`Registry::upload`], replacing a version whose digest was `replacing` (`--force`
    /// on a registry that overwrites): finding that digest after a lost answer means our
    /// upload did not land yet, not a conflict.
    pub fn upload_replacing(
        &self,
        up: &Upload<'_>,
        replacing: Option<&str>,
    ) -> Result<UploadOutcome> {
        let out = self.transport.out();
        let body = self.body(up)?;
        let mut tries = Attempts::new(&self.transport);
        let mut outcome_unknown = false;
        loop {
            if outcome_unknown {
                // The last attempt may have been stored: look before sending it again.
                if let Some(v) = self.find_version(up.name, up.version)? {
                    match self.compare_stored(up, &v, replacing)? {
                        Some(outcome) => return Ok(outcome),
                        None => out.debug(&format!(
                            "{} {} still has the digest being replaced: uploading again",
                            up.name, up.version
                        )),
                    }
                }
            }
            let result = self.send_body(up, &body)?;
            let failure = match result {
                Ok(_) => return Ok(UploadOutcome::Uploaded),
                Err(f) => f,
            };
            if let Failure::Api(err, _) = &failure {
                if err.is_conflict() && outcome_unknown {
                    // Our earlier attempt (or someone else) stored it: whose is it?
                    return self.settle_upload(up, replacing);
                }
            }
            let unknown = failure.outcome_unknown();
            if let Err(e) = tries.on_failure(failure) {
                if unknown || outcome_unknown {
                    // The last answer is lost too: look before giving up.
                    out.debug(&format!(
                        "upload of {} {} gave up ({e:#}); looking whether an attempt was stored",
                        up.name, up.version
                    ));
                    if let Ok(UploadOutcome::AlreadyStored) = self.settle_upload(up, replacing) {
                        return Ok(UploadOutcome::AlreadyStored);
                    }
                }
                return Err(e);
            }
            outcome_unknown |= unknown;
        }
    }

    /// The multipart request of `up`, laid out once for every attempt.
    fn body(&self, up: &Upload<'_>) -> Result<Body> {
        let boundary = multipart::boundary(multipart::seed());
        let mut parts = vec![multipart::Part {
            field: "chart",
            file_name: up.file_name.to_string(),
            content_type: "application/gzip",
            len: file_len(up.chart)?,
        }];
        if let Some(prov) = up.prov {
            parts.push(multipart::Part {
                field: "prov",
                file_name: format!("{}.prov", up.file_name),
                content_type: "application/octet-stream",
                len: file_len(prov)?,
            });
        }
        let layout = multipart::Layout::new(&boundary, &parts);
        Ok(Body {
            path: self.path(&[])?,
            content_type: format!("multipart/form-data; boundary={boundary}"),
            transfer: Transfer::new(up.file_name, true, Some(layout.total_len())),
            layout,
        })
    }

    /// One attempt: the files streamed from disk (metered, with a progress bar).
    fn send_body(&self, up: &Upload<'_>, body: &Body) -> Result<Result<(), Failure>> {
        let out = self.transport.out();
        let mut files =
            vec![File::open(up.chart).with_context(|| format!("opening {}", up.chart.display()))?];
        if let Some(prov) = up.prov {
            files.push(File::open(prov).with_context(|| format!("opening {}", prov.display()))?);
        }
        let total = body.layout.total_len();
        let reader = body.layout.reader(files);
        let bar = out.transfer_bar(total, Activity::Uploading, up.file_name);
        let reader: Box<dyn Read> = match &bar {
            Some(b) => Box::new(b.wrap_read(reader)),
            None => Box::new(reader),
        };
        let reader = Metered::new(reader, body.transfer.clone(), self.transport.limits());
        let result = self.transport.send_once(
            "POST",
            &body.path,
            &[],
            Some(&body.content_type),
            ureq::SendBody::from_owned_reader(reader),
            Some(total),
            Some(&body.transfer),
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok(result.map(|_| ()))
    }

    fn settle_upload(&self, up: &Upload<'_>, replacing: Option<&str>) -> Result<UploadOutcome> {
        let found = self.find_version(up.name, up.version)?;
        match found {
            Some(v) => match self.compare_stored(up, &v, replacing)? {
                Some(outcome) => Ok(outcome),
                None => bail!(
                    "upload of {} {} failed: the registry still holds the version it was to replace",
                    up.name,
                    up.version
                ),
            },
            None => bail!(
                "upload of {} {} failed and the registry does not hold it",
                up.name,
                up.version
            ),
        }
    }

    /// What a version found after a lost answer means: ours (`Some`), the one being replaced
    /// (`None`: upload again), or someone else's (an error).
    fn compare_stored(
        &self,
        up: &Upload<'_>,
        stored: &HelmChartVersion,
        replacing: Option<&str>,
    ) -> Result<Option<UploadOutcome>> {
        match stored.digest.as_deref() {
            Some(d) if d.eq_ignore_ascii_case(up.sha256) => {
                self.transport.out().debug(&format!(
                    "{} {} is in the registry with our digest: the lost upload was stored",
                    up.name, up.version
                ));
                Ok(Some(UploadOutcome::AlreadyStored))
            }
            Some(d) if replacing.is_some_and(|r| r.eq_ignore_ascii_case(d)) => Ok(None),
            Some(d) => bail!(
                "{} {} appeared in the registry with digest sha256:{d} while our upload's answer was lost; ours is sha256:{} (someone else pushed it; nothing was overwritten)",
                up.name,
                up.version,
                up.sha256
            ),
            None => bail!(
                "{} {} appeared in the registry without a digest while our upload's answer was lost; cannot tell whether it is ours",
                up.name,
                up.version
            ),
        }
    }

    /// `--force` on a registry that refuses to overwrite (409): keep a verified copy of the old
    /// package (and its provenance file) in a new directory in `keep_in`, delete the old
    /// version, upload the new one; if the new upload fails, put the old package back. The
    /// error says which package the registry (`repo`, as shown to the user) holds now; if even
    /// that fails, where the old package was saved.
    pub fn replace(&self, up: &Upload<'_>, repo: &str, keep_in: &Path) -> Result<UploadOutcome> {
        let id = format!("{} {}", up.name, up.version);
        let Some(old) = self.find_version(up.name, up.version)? else {
            // Gone since the registry refused it: nothing to keep, nothing to delete.
            return self.upload(up);
        };
        let kept = self.keep_copy(&old, &id, keep_in)?;
        self.transport.out().debug(&format!(
            "{id}: the registry refuses to overwrite; kept the old package (sha256:{}) at {}, deleting it",
            kept.sha256,
            kept.tgz.display()
        ));
        if let Err(e) = self.delete_version(up.name, up.version) {
            // It may be gone all the same (a lost answer): keep the copy.
            bail!(
                "{id}: deleting it to replace it failed ({e:#}); a copy of the old package is saved at {}",
                kept.keep().display()
            );
        }
        let new_error = match self.upload(up) {
            Ok(outcome) => return Ok(outcome),
            Err(e) => e,
        };
        let old_sha = kept.sha256.clone();
        match self.restore(up, &kept) {
            Restored::NewIsThere => Ok(UploadOutcome::AlreadyStored),
            Restored::OldIsBack => bail!(
                "{id}: the new package was refused after the old one was deleted ({new_error:#}); the old package was uploaded again, so {repo} holds {id} as before (sha256:{old_sha})"
            ),
            Restored::Failed(restore_error) => {
                let saved = kept.keep();
                let now = match self.find_version(up.name, up.version) {
                    Ok(None) => format!("{repo} does not hold {id} now"),
                    Ok(Some(v)) => format!(
                        "{repo} holds {id} with sha256:{} now",
                        v.digest.as_deref().unwrap_or("(no digest)")
                    ),
                    Err(e) => format!("could not look at what {repo} holds now ({e:#})"),
                };
                bail!(
                    "{id}: the new package was refused after the old one was deleted ({new_error:#}), and uploading the old one again failed too ({restore_error:#}); {now}; the old package is saved at {}",
                    saved.display()
                )
            }
        }
    }

    /// A verified copy of the version `old` (`id` in messages) and of its provenance file when
    /// it has one, in a new directory in `keep_in`. Each file appears only once whole.
    fn keep_copy(&self, old: &HelmChartVersion, id: &str, keep_in: &Path) -> Result<KeptCopy> {
        // When the old version cannot be put back, this copy must outlive the run (and an
        // interrupted run): `keep_in` is not the run's private temporary directory.
        let dir = tempfile::Builder::new()
            .prefix("helm-ccr-force-")
            .tempdir_in(keep_in)
            .context("creating a temporary directory for the package being replaced")?;
        let file_name = old.file_name();
        let tgz = dir.path().join(&file_name);
        let sha256 = self
            .download_verified(&file_name, Expected::from(old), &KeepAt(&tgz))
            .with_context(|| format!("{id}: keeping a copy of the version being replaced"))?
            .sha256;
        let prov_path = dir.path().join(format!("{file_name}.prov"));
        let prov = match self.download_verified(
            &format!("{file_name}.prov"),
            Expected::Unlisted,
            &KeepAt(&prov_path),
        ) {
            Ok(_) => Some(prov_path),
            Err(e) if is_not_found(&e) => None,
            Err(e) => {
                return Err(e.context(format!(
                    "{id}: keeping a copy of the provenance file of the version being replaced"
                )))
            }
        };
        Ok(KeptCopy {
            dir,
            file_name,
            tgz,
            prov,
            sha256,
        })
    }

    /// Uploads the kept copy again after the new package was refused.
    fn restore(&self, up: &Upload<'_>, kept: &KeptCopy) -> Restored {
        let restore = Upload {
            chart: &kept.tgz,
            file_name: &kept.file_name,
            prov: kept.prov.as_deref(),
            name: up.name,
            version: up.version,
            sha256: &kept.sha256,
        };
        match self.upload(&restore) {
            Ok(_) => Restored::OldIsBack,
            // A conflict now means some package is there after all (an answer to the new
            // upload was lost, or someone else pushed): say which.
            Err(e) if is_conflict(&e) => match self.find_version(up.name, up.version) {
                Ok(Some(v)) if v.digest.as_deref() == Some(up.sha256) => Restored::NewIsThere,
                Ok(Some(v)) if v.digest.as_deref() == Some(kept.sha256.as_str()) => {
                    Restored::OldIsBack
                }
                Ok(Some(_)) => Restored::Failed(anyhow!("another package was pushed meanwhile")),
                Ok(None) => Restored::Failed(e),
                Err(look) => Restored::Failed(anyhow!(
                    "{e:#}; looking at the registry then failed: {look:#}"
                )),
            },
            Err(e) => Restored::Failed(e),
        }
    }
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}
