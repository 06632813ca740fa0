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
use crate::support::{cleanup, clock};
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

/// The old version kept on disk while `--force` replaces it (see [`Registry::replace`]): in a
/// temporary directory (removed on a signal) while it is being downloaded, then, from the
/// delete on, a plain directory that only [`KeptCopy::discard`] removes, so that neither a
/// signal, a panic nor SIGKILL takes it while the registry may lack the version.
struct KeptCopy {
    dir: KeptDir,
    file_name: String,
    tgz: PathBuf,
    prov: Option<PathBuf>,
    /// sha256 hex of the kept package.
    sha256: String,
}

enum KeptDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl KeptCopy {
    /// From now on the directory outlives the run, whatever ends it.
    fn keep(&mut self) {
        let dir = std::mem::replace(&mut self.dir, KeptDir::Kept(PathBuf::new()));
        self.dir = match dir {
            KeptDir::Temporary(t) => {
                cleanup::forget(t.path());
                KeptDir::Kept(t.keep())
            }
            kept => kept,
        };
    }

    /// The replacement is settled: the copy is no longer needed; neither are the directories
    /// made for it (`<keep_in>/<instance>/<namespace>`), when empty.
    fn discard(self) {
        let dir = match self.dir {
            KeptDir::Temporary(t) => t.path().to_path_buf(),
            KeptDir::Kept(d) => d,
        };
        let _ = std::fs::remove_dir_all(&dir);
        let mut parent = dir.parent();
        for _ in 0..2 {
            match parent {
                Some(p) if std::fs::remove_dir(p).is_ok() => parent = p.parent(),
                _ => break,
            }
        }
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
    /// package (and its provenance file, when it has one) in a new directory below `keep_in`
    /// (`<keep_in>/<instance>/<namespace>/<name>-<version>-<time>-<random>/`), hand its path
    /// to `announce` (before anything is deleted), delete the old version, upload the new one;
    /// if the new upload fails, put the old package back.
    ///
    /// From the delete until the new package or the old one is stored again, SIGINT, SIGTERM
    /// and SIGHUP wait (a [`cleanup::Critical`] section). The copy is removed once that is
    /// settled; when it is not (the delete's or the restore's outcome is unknown), it is kept
    /// and the error says where. The error says which package the registry (`repo`, as shown
    /// to the user) holds now.
    pub fn replace(
        &self,
        up: &Upload<'_>,
        repo: &str,
        keep_in: &Path,
        announce: &dyn Fn(&Path),
    ) -> Result<UploadOutcome> {
        let id = format!("{} {}", up.name, up.version);
        let Some(old) = self.find_version(up.name, up.version)? else {
            // Gone since the registry refused it: nothing to keep, nothing to delete.
            return self.upload(up);
        };
        let mut kept = self.keep_copy(&old, &id, keep_in)?;
        // From here on a signal waits, and the copy is no longer a temporary file: the path
        // said is there until the replacement is settled.
        let section = cleanup::hold(&format!(
            "replacing {id} in {repo} (the old package is kept at {})",
            kept.tgz.display()
        ));
        kept.keep();
        announce(&kept.tgz);
        let result = self.replace_held(up, repo, &id, kept);
        section.end(match &result {
            Ok(_) => format!("Replaced {id} in {repo} (sha256:{})", up.sha256),
            Err(e) => format!("Error: {e:#}"),
        });
        result
    }

    /// [`Registry::replace`] from the delete on, `kept` already safe on disk.
    fn replace_held(
        &self,
        up: &Upload<'_>,
        repo: &str,
        id: &str,
        kept: KeptCopy,
    ) -> Result<UploadOutcome> {
        self.transport.out().debug(&format!(
            "{id}: the registry refuses to overwrite; kept the old package (sha256:{}) at {}, deleting it",
            kept.sha256,
            kept.tgz.display()
        ));
        if let Err(e) = self.delete_version(up.name, up.version) {
            // A lost answer may hide a delete that happened: look before deciding.
            match self.find_version(up.name, up.version) {
                Ok(None) => self.transport.out().debug(&format!(
                    "{id}: deleting it failed ({e:#}), but it is gone: uploading the new package"
                )),
                Ok(Some(v))
                    if v.digest
                        .as_deref()
                        .is_some_and(|d| d.eq_ignore_ascii_case(&kept.sha256)) =>
                {
                    let old_sha = kept.sha256.clone();
                    kept.discard();
                    bail!(
                        "{id}: deleting it to replace it failed ({e:#}); {repo} holds {id} as before (sha256:{old_sha})"
                    );
                }
                // Something else is there, or the registry cannot be read: keep the copy.
                _ => bail!(
                    "{id}: deleting it to replace it failed ({e:#}); a copy of the old package is saved at {}",
                    kept.tgz.display()
                ),
            }
        }
        let new_error = match self.upload(up) {
            Ok(outcome) => {
                kept.discard();
                return Ok(outcome);
            }
            Err(e) => e,
        };
        let old_sha = kept.sha256.clone();
        match self.restore(up, &kept) {
            Restored::NewIsThere => {
                kept.discard();
                Ok(UploadOutcome::AlreadyStored)
            }
            Restored::OldIsBack => {
                kept.discard();
                bail!(
                    "{id}: the new package was refused after the old one was deleted ({new_error:#}); the old package was uploaded again, so {repo} holds {id} as before (sha256:{old_sha})"
                )
            }
            Restored::Failed(restore_error) => {
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
                    kept.tgz.display()
                )
            }
        }
    }

    /// A verified copy of the version `old` (`id` in messages) and of its provenance file when
    /// it has one, in a new directory below `keep_in`, removed on a signal until
    /// [`KeptCopy::keep`]. Each file appears only once whole and verified: a provenance file
    /// the registry does not have leaves no file.
    fn keep_copy(&self, old: &HelmChartVersion, id: &str, keep_in: &Path) -> Result<KeptCopy> {
        let parent = keep_in
            .join(path_segment(&self.instance))
            .join(path_segment(&self.namespace));
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("{id}: creating {}", parent.display()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let stamp: String = clock::format_timestamp(now)
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        let prefix = format!(
            "{}-{}-{stamp}-",
            path_segment(&old.name),
            path_segment(&old.version)
        );
        let dir = cleanup::create(|| {
            tempfile::Builder::new()
                .prefix(&prefix)
                .rand_bytes(4)
                .tempdir_in(&parent)
        })
        .with_context(|| {
            format!(
                "{id}: creating a directory in {} for the package being replaced",
                parent.display()
            )
        })?;
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
            dir: KeptDir::Temporary(dir),
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

/// `s` as one path segment: anything but letters, digits, `.`, `_` and `-` becomes `_`, and
/// no segment is `.` or `..`.
fn path_segment(s: &str) -> String {
    let safe: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        safe.replace('.', "_") + "_"
    } else {
        safe
    }
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_stay_one_segment() {
        assert_eq!(path_segment("ccr-test"), "ccr-test");
        assert_eq!(path_segment("1.0.0+build.1"), "1.0.0_build.1");
        assert_eq!(path_segment("a/b\\c"), "a_b_c");
        assert_eq!(path_segment(".."), "___");
        assert_eq!(path_segment(""), "_");
    }

    #[test]
    fn a_kept_copy_outlives_its_temporary_life_until_discarded() {
        let base = tempfile::tempdir().unwrap();
        let parent = base.path().join("inst").join("ns");
        std::fs::create_dir_all(&parent).unwrap();
        let dir = cleanup::create(|| tempfile::tempdir_in(&parent)).unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("a-1.0.0.tgz"), b"old").unwrap();
        let mut kept = KeptCopy {
            dir: KeptDir::Temporary(dir),
            file_name: "a-1.0.0.tgz".into(),
            tgz: path.join("a-1.0.0.tgz"),
            prov: None,
            sha256: String::new(),
        };
        kept.keep();
        kept.keep();
        assert!(path.join("a-1.0.0.tgz").is_file());
        kept.discard();
        assert!(!path.exists());
        // The empty directories made for it go too; the base stays.
        assert!(!base.path().join("inst").exists());
        assert!(base.path().exists());
    }
}
