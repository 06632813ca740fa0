//! `helm ccr push CHART... REPO`: package (or check) each chart, look for the version in the
//! registry, then upload it, never overwriting without `--force`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};

use crate::chart::{package, tgz};
use crate::error::UsageError;
use crate::registry::{is_conflict, Registry, Upload, UploadOutcome};
use crate::repo_ref;
use crate::settings::{self, Global};

/// At most this many charts are packaged and pushed at once.
const MAX_PARALLEL: usize = 4;

/// What to do when the version is already in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail (the default): never overwrite.
    Fail,
    /// `--force`: replace it.
    Replace,
    /// `--skip-existing`: succeed without uploading.
    Skip,
}

/// What `push` was asked for.
pub struct PushSettings {
    pub charts: Vec<PathBuf>,
    pub repo: String,
    pub version: Option<String>,
    pub app_version: Option<String>,
    pub dependency_update: bool,
    pub existing: Existing,
    pub dry_run: bool,
}

/// A package ready to upload, kept alive (temporary files) until the upload is done.
struct Prepared {
    path: PathBuf,
    file_name: String,
    prov: Option<PathBuf>,
    name: String,
    version: String,
    sha256: String,
    size: u64,
    _temp: Option<package::Packaged>,
}

pub fn run(s: &PushSettings, global: &Global) -> Result<()> {
    if s.charts.len() > 1 && (s.version.is_some() || s.app_version.is_some()) {
        return Err(UsageError("--version and --app-version take exactly one chart".into()).into());
    }
    if let Some(v) = &s.version {
        package::validate_version_override(v)?;
    }
    let repo_arg = repo_ref::parse_repo(&s.repo)?;
    let repo = settings::resolve_repo(&repo_arg, &global.env)?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
    let out = global.output();

    if s.charts.len() == 1 {
        let line = push_one(&s.charts[0], s, &client, &repo.display, global)?;
        out.info(&line);
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(0usize);
    std::thread::scope(|scope| {
        for _ in 0..MAX_PARALLEL.min(s.charts.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(chart) = s.charts.get(i) else { break };
                match push_one(chart, s, &client, &repo.display, global) {
                    Ok(line) => out.info(&line),
                    Err(e) => {
                        eprintln!("Error: {}: {e:#}", chart.display());
                        *failures.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    }
                }
            });
        }
    });
    let failed = *failures.lock().unwrap_or_else(|p| p.into_inner());
    if failed > 0 {
        bail!("{failed} of {} charts failed", s.charts.len());
    }
    Ok(())
}

fn source_date_epoch(global: &Global) -> Result<Option<i64>> {
    match global.env.get("SOURCE_DATE_EPOCH") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| anyhow!("SOURCE_DATE_EPOCH {v:?} is not a number of seconds")),
    }
}

fn dependency_update(dir: &Path, global: &Global) -> Result<()> {
    let helm = global.env.get("HELM_BIN").unwrap_or("helm").to_string();
    let output = std::process::Command::new(&helm)
        .arg("dependency")
        .arg("update")
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {helm} dependency update"))?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let line = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        bail!("{helm} dependency update {} failed: {line}", dir.display());
    }
    Ok(())
}

fn prepare(path: &Path, s: &PushSettings, global: &Global) -> Result<Prepared> {
    let overrides = package::Overrides {
        version: s.version.clone(),
        app_version: s.app_version.clone(),
    };
    let sde = source_date_epoch(global)?;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{}: no such chart directory or package", path.display()))?;
    if meta.is_dir() {
        if s.dependency_update {
            dependency_update(path, global)?;
        }
        let p = package::package_dir(path, &overrides, sde)?;
        let label = path.display().to_string();
        warn_load_limits(&tgz::inspect_package_as(p.path(), &label)?, global);
        return Ok(from_packaged(p));
    }
    let inspection = tgz::inspect_package(path)?;
    warn_load_limits(&inspection, global);
    let md = inspection.metadata;
    if overrides.version.is_some() || overrides.app_version.is_some() {
        let p = package::repack_tgz(path, &overrides, sde)?;
        let prov = sibling_prov(path);
        if prov.is_some() {
            global.output().warn(&format!(
                "{}.prov is not uploaded: it signs the package before --version/--app-version changed it",
                path.display()
            ));
        }
        return Ok(from_packaged(p));
    }
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
    Ok(Prepared {
        path: path.to_path_buf(),
        file_name,
        prov: sibling_prov(path),
        name: md.name.clone(),
        version: md.version.clone(),
        sha256: tgz::sha256_file(path)?,
        size: meta.len(),
        _temp: None,
    })
}

/// One warning line when Helm will refuse to load the package (its files over Helm's limits).
fn warn_load_limits(inspection: &tgz::Inspection, global: &Global) {
    for w in &inspection.warnings {
        global.output().warn(w);
    }
}

fn from_packaged(p: package::Packaged) -> Prepared {
    Prepared {
        path: p.path().to_path_buf(),
        file_name: p.file_name.clone(),
        prov: None,
        name: p.metadata.name.clone(),
        version: p.metadata.version.clone(),
        sha256: p.sha256.clone(),
        size: p.size,
        _temp: Some(p),
    }
}

fn sibling_prov(tgz: &Path) -> Option<PathBuf> {
    let mut name = tgz.file_name()?.to_os_string();
    name.push(".prov");
    let prov = tgz.with_file_name(name);
    prov.is_file().then_some(prov)
}

/// `--force` on a registry that refuses to overwrite (409): keep a verified local copy of the
/// old package (and its provenance file), delete the old version, upload the new one; if the
/// new upload fails, put the old package back. The error says which package the registry
/// holds now; if even that fails, where the old package was saved.
fn replace_on_refusing_registry(
    client: &Registry,
    up: &Upload<'_>,
    repo: &str,
    global: &Global,
) -> Result<UploadOutcome> {
    let id = format!("{} {}", up.name, up.version);
    let out = global.output();
    let Some(old) = client.find_version(up.name, up.version)? else {
        // Gone since the registry refused it: nothing to keep, nothing to delete.
        return client.upload(up);
    };
    let keep = tempfile::Builder::new()
        .prefix("helm-ccr-force-")
        .tempdir()
        .context("creating a temporary directory for the package being replaced")?;
    let old_name = old.file_name();
    let old_tgz = super::pull::fetch_verified(client, &old, &old_name, keep.path(), &out)
        .with_context(|| format!("{id}: keeping a copy of the version being replaced"))?;
    let old_tgz_path = keep.path().join(&old_name);
    old_tgz.persist(&old_tgz_path).map_err(|e| {
        anyhow!(
            "{id}: keeping a copy of the version being replaced: {}",
            e.error
        )
    })?;
    let old_prov_path = keep.path().join(format!("{old_name}.prov"));
    let old_prov = {
        let mut file = std::fs::File::create(&old_prov_path)
            .context("keeping a copy of the provenance file")?;
        match client.download(&format!("{old_name}.prov"), &mut file) {
            Ok(_) => Some(old_prov_path.as_path()),
            Err(e) if crate::registry::is_not_found(&e) => None,
            Err(e) => {
                return Err(e.context(format!(
                    "{id}: keeping a copy of the provenance file of the version being replaced"
                )))
            }
        }
    };
    let old_sha = tgz::sha256_file(&old_tgz_path)?;
    out.debug(&format!(
        "{id}: the registry refuses to overwrite; kept the old package (sha256:{old_sha}) at {}, deleting it",
        old_tgz_path.display()
    ));
    if let Err(e) = client.delete_version(up.name, up.version) {
        // It may be gone all the same (a lost answer): keep the copy.
        let kept = keep.keep();
        bail!(
            "{id}: deleting it to replace it failed ({e:#}); a copy of the old package is saved at {}",
            kept.join(&old_name).display()
        );
    }
    let new_error = match client.upload(up) {
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
    let restored = match client.upload(&restore) {
        // A conflict now means some package is there after all (an answer to the new upload
        // was lost, or someone else pushed): say which.
        Err(e) if is_conflict(&e) => match client.find_version(up.name, up.version) {
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
            let now = match client.find_version(up.name, up.version) {
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

fn push_one(
    path: &Path,
    s: &PushSettings,
    client: &Registry,
    repo: &str,
    global: &Global,
) -> Result<String> {
    let p = prepare(path, s, global)?;
    let id = format!("{} {}", p.name, p.version);
    let existing = client.find_version(&p.name, &p.version)?;
    if let Some(e) = &existing {
        let same = e.digest.as_deref() == Some(p.sha256.as_str());
        match s.existing {
            Existing::Skip => {
                return Ok(format!(
                    "Skipped {id}: already in {repo}{}",
                    if same { " (identical)" } else { " (different content)" }
                ))
            }
            Existing::Fail => bail!(
                "{id} already exists in {repo}{}; use --force to replace it or --skip-existing to keep it",
                if same { " (identical content)" } else { " with different content" }
            ),
            Existing::Replace => {}
        }
    }
    if s.dry_run {
        return Ok(format!(
            "Would push {} ({} bytes, sha256:{}) to {repo}{}",
            p.file_name,
            p.size,
            p.sha256,
            if existing.is_some() {
                ", replacing the existing version"
            } else {
                ""
            }
        ));
    }
    let up = Upload {
        chart: &p.path,
        file_name: &p.file_name,
        prov: p.prov.as_deref(),
        name: &p.name,
        version: &p.version,
        sha256: &p.sha256,
    };
    // With --force on a registry that overwrites, the old digest may still be there after a
    // lost answer: that is not someone else's push.
    let replacing = existing.as_ref().and_then(|e| e.digest.as_deref());
    let outcome = match client.upload_replacing(&up, replacing) {
        Ok(o) => o,
        Err(e) if is_conflict(&e) => match s.existing {
            // Someone pushed it between our look and our upload.
            Existing::Skip => return Ok(format!("Skipped {id}: already in {repo}")),
            Existing::Fail => bail!(
                "{id} already exists in {repo}; use --force to replace it or --skip-existing to keep it"
            ),
            Existing::Replace => replace_on_refusing_registry(client, &up, repo, global)?,
        },
        Err(e) => return Err(e),
    };
    let note = match outcome {
        UploadOutcome::Uploaded => "",
        UploadOutcome::AlreadyStored => " (confirmed after a lost answer)",
    };
    Ok(format!("Pushed {id} to {repo} (sha256:{}){note}", p.sha256))
}
