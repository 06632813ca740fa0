//! Uploads: one multipart request streamed from disk, settled exactly once when an answer is
//! lost ([`Registry::upload`]), and the replace transaction for `--force` on a registry that
//! refuses to overwrite ([`Registry::replace`]).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::download::{Expected, KeepAt};
use super::{is_conflict, is_not_found, Registry};
use crate::api::HelmChartVersion;
use crate::multipart;
use crate::output::Activity;
use crate::transport::{Attempts, Failure, Metered, Transfer};

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
        let path = self.path(&[])?;
        let out = self.transport.out();
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
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let transfer = Transfer::new(up.file_name, true, Some(layout.total_len()));
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
            let mut files =
                vec![File::open(up.chart)
                    .with_context(|| format!("opening {}", up.chart.display()))?];
            if let Some(prov) = up.prov {
                files
                    .push(File::open(prov).with_context(|| format!("opening {}", prov.display()))?);
            }
            let reader = layout.reader(files);
            let bar = out.transfer_bar(layout.total_len(), Activity::Uploading, up.file_name);
            let reader: Box<dyn Read> = match &bar {
                Some(b) => Box::new(b.wrap_read(reader)),
                None => Box::new(reader),
            };
            let reader = Metered::new(reader, transfer.clone(), self.transport.limits());
            let result = self.transport.send_once(
                "POST",
                &path,
                &[],
                Some(&content_type),
                ureq::SendBody::from_owned_reader(reader),
                Some(layout.total_len()),
                Some(&transfer),
            );
            if let Some(b) = bar {
                b.finish_and_clear();
            }
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
        // When the old version cannot be put back, this copy must outlive the run (and an
        // interrupted run): `keep_in` is not the run's private temporary directory.
        let keep = tempfile::Builder::new()
            .prefix("helm-ccr-force-")
            .tempdir_in(keep_in)
            .context("creating a temporary directory for the package being replaced")?;
        let old_name = old.file_name();
        let old_tgz_path = keep.path().join(&old_name);
        let old_sha = self
            .download_verified(&old_name, Expected::from(&old), &KeepAt(&old_tgz_path))
            .with_context(|| format!("{id}: keeping a copy of the version being replaced"))?
            .sha256;
        let old_prov_path = keep.path().join(format!("{old_name}.prov"));
        let old_prov = match self.download_verified(
            &format!("{old_name}.prov"),
            Expected::Unlisted,
            &KeepAt(&old_prov_path),
        ) {
            Ok(_) => Some(old_prov_path.as_path()),
            Err(e) if is_not_found(&e) => None,
            Err(e) => {
                return Err(e.context(format!(
                    "{id}: keeping a copy of the provenance file of the version being replaced"
                )))
            }
        };
        self.transport.out().debug(&format!(
            "{id}: the registry refuses to overwrite; kept the old package (sha256:{old_sha}) at {}, deleting it",
            old_tgz_path.display()
        ));
        if let Err(e) = self.delete_version(up.name, up.version) {
            // It may be gone all the same (a lost answer): keep the copy.
            let kept = keep.keep();
            bail!(
                "{id}: deleting it to replace it failed ({e:#}); a copy of the old package is saved at {}",
                kept.join(&old_name).display()
            );
        }
        let new_error = match self.upload(up) {
            Ok(outcome) => return Ok(outcome),
            Err(e) => e,
        };
        let restore = Upload {
            chart: &old_tgz_path,
            file_name: &old_name,
            prov: old_prov,
            name: up.name,
            version: up.version,
            sha256: &old_sha,
        };
        let restored = match self.upload(&restore) {
            // A conflict now means some package is there after all (an answer to the new
            // upload was lost, or someone else pushed): say which.
            Err(e) if is_conflict(&e) => match self.find_version(up.name, up.version) {
                Ok(Some(v)) if v.digest.as_deref() == Some(up.sha256) => {
                    return Ok(UploadOutcome::AlreadyStored)
                }
                Ok(Some(v)) if v.digest.as_deref() == Some(old_sha.as_str()) => {
                    Ok(UploadOutcome::Uploaded)
                }
                Ok(Some(_)) => Err(anyhow!("another package was pushed meanwhile")),
                Ok(None) => Err(e),
                Err(look) => Err(anyhow!(
                    "{e:#}; looking at the registry then failed: {look:#}"
                )),
            },
            other => other,
        };
        match restored {
            Ok(_) => bail!(
                "{id}: the new package was refused after the old one was deleted ({new_error:#}); the old package was uploaded again, so {repo} holds {id} as before (sha256:{old_sha})"
            ),
            Err(restore_error) => {
                let kept = keep.keep();
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
                    kept.join(&old_name).display()
                )
            }
        }
    }
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}
