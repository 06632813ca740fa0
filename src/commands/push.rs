//! `helm ccr push CHART... REPO`: package (or check) each chart, look for the version in the
//! registry, then upload it, never overwriting without `--force`.
//!
//! Several charts go through a pipeline: packaging (as many at once as there are cores) feeds
//! publishing (look, then upload: up to `HELM_CCR_PARALLEL` at once), so uploads start while
//! later charts are still being packaged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};

use crate::chart::{package, pgzip, tgz};
use crate::error::UsageError;
use crate::gpg::Gpg;
use crate::output::{self, Activity, Format};
use crate::provenance;
use crate::registry::{is_conflict, Registry, Upload, UploadOutcome};
use crate::repo_ref;
use crate::report::{Action, Record, Reporter};
use crate::settings::{self, Global};

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
    /// `-o`: the result lines, or one JSON/YAML list of [`Record`]s.
    pub format: Format,
    /// `--sign`: make and upload a provenance file.
    pub sign: Option<SignSettings>,
}

/// `--sign [--key NAME] [--keyring FILE]`.
#[derive(Debug, Clone, Default)]
pub struct SignSettings {
    /// `--key`; else `HELM_CCR_SIGN_KEY`; else gpg's default key.
    pub key: Option<String>,
    /// A legacy secret keyring to sign from instead of the GnuPG home.
    pub keyring: Option<PathBuf>,
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
        package::validate_version_override(v).map_err(|e| UsageError(format!("{e:#}")))?;
    }
    check_order(s)?;
    source_date_epoch(global)?;
    let repo_arg = repo_ref::parse_repo(&s.repo)?;
    let repo = settings::resolve_repo(&repo_arg, &global.env)?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
    let report = Reporter::new(s.format, global.output(), false);

    if s.charts.len() == 1 {
        // One chart: its error is the command's error, said once.
        let chart = &s.charts[0];
        let p = prepare(chart, s, global)?;
        let record = publish(&p, chart, s, &client, &repo.display, global)?;
        report.add(0, record);
        return report.finish();
    }
    let parallel = global.env.parallel()?;
    let packagers = pgzip::default_threads().min(s.charts.len());
    let publishers = parallel.min(s.charts.len());
    let next = AtomicUsize::new(0);
    // Packages waiting for a publisher: at most one per publisher (temporary files on disk).
    let (ready_tx, ready_rx) = sync_channel::<(usize, Result<Prepared>)>(publishers);
    let ready_rx = Mutex::new(ready_rx);
    std::thread::scope(|scope| {
        for _ in 0..packagers {
            let ready_tx = ready_tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(chart) = s.charts.get(i) else { break };
                if ready_tx.send((i, prepare(chart, s, global))).is_err() {
                    break;
                }
            });
        }
        drop(ready_tx);
        for _ in 0..publishers {
            scope.spawn(|| loop {
                let received = ready_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((i, prepared)) = received else { break };
                let chart = &s.charts[i];
                match prepared.and_then(|p| publish(&p, chart, s, &client, &repo.display, global)) {
                    Ok(record) => report.add(i, record),
                    Err(e) => report.fail(i, &chart.display().to_string(), &repo.display, &e),
                }
            });
        }
    });
    report.finish()
}

/// `push REPO CHART`: the last argument is a chart on disk while the first is not, or names a
/// repository; or the first is a `ccr://` URL while the last is not. Said before anything else
/// happens.
fn check_order(s: &PushSettings) -> Result<()> {
    let last = Path::new(&s.repo);
    let is_chart = |p: &Path| {
        p.join("Chart.yaml").is_file() || (p.is_file() && p.extension().is_some_and(|e| e == "tgz"))
    };
    let first = &s.charts[0];
    let first_is_url = first.to_string_lossy().starts_with("ccr://") && !first.exists();
    if !s.repo.contains("://") && !is_chart(last) && first_is_url {
        // `push ccr://I/N ./missing`: the chart is not there, but the order is still wrong.
        return Err(UsageError(format!(
            "{:?} is a repository: the repository comes last (helm ccr push CHART... REPO)",
            first.display().to_string()
        ))
        .into());
    }
    if s.repo.contains("://") || !is_chart(last) {
        return Ok(());
    }
    let first_missing = !first.exists();
    if first_missing || first.to_string_lossy().starts_with("ccr://") {
        return Err(UsageError(format!(
            "{:?} is a chart and {:?} is not: the repository comes last (helm ccr push CHART... REPO)",
            s.repo,
            first.display().to_string()
        ))
        .into());
    }
    Err(UsageError(format!(
        "{:?} is a chart, not a repository: the repository comes last (helm ccr push CHART... REPO)",
        s.repo
    ))
    .into())
}

fn source_date_epoch(global: &Global) -> Result<Option<i64>> {
    settings::env_number::<i64>(&global.env, "SOURCE_DATE_EPOCH")
}

fn dependency_update(dir: &Path, global: &Global) -> Result<()> {
    let helm = global.env.get("HELM_BIN").unwrap_or("helm").to_string();
    let output = match std::process::Command::new(&helm)
        .arg("dependency")
        .arg("update")
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "--dependency-update runs `{helm} dependency update`, but {helm:?} was not found; set HELM_BIN to the helm binary (Helm sets it when it runs the plugin)"
        ),
        Err(e) => {
            return Err(e).with_context(|| {
                format!("running {helm} dependency update (set HELM_BIN to the helm binary)")
            })
        }
    };
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
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let what = if path.extension().is_some_and(|e| e == "tgz") {
                "package"
            } else {
                "directory"
            };
            bail!("{}: no such chart {what}", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    if meta.is_dir() {
        let max_entries =
            settings::env_number(&global.env, crate::chart::load::MAX_ENTRIES_SETTING)?
                .unwrap_or(crate::chart::load::DEFAULT_MAX_ENTRIES);
        if s.dependency_update {
            dependency_update(path, global)?;
        }
        let spinner = packaging_spinner(path, global);
        let p = package::package_dir_limited(path, &overrides, sde, max_entries);
        if let Some(b) = spinner {
            b.finish_and_clear();
        }
        let p = p?;
        // Files over 5 MiB are refused while packaging, as by `helm package`; the total is
        // flagged here.
        let label = path.display().to_string();
        warn_load_limits(tgz::load_limit_warning(&label, p.expanded, &[]), global);
        return Ok(from_packaged(p));
    }
    if overrides.version.is_some() || overrides.app_version.is_some() {
        // One pass: Helm's archive loader reads and checks it, the package is written anew.
        let p = package::repack_tgz(path, &overrides, sde)?;
        repo_ref::check_chart_name(&p.metadata.name).map_err(|e| {
            anyhow!(
                "{}: Chart.yaml: the chart name is invalid: {e}",
                path.display()
            )
        })?;
        let prov = sibling_prov(path);
        if prov.is_some() {
            global.output().warn(&format!(
                "{}.prov is not uploaded: it signs the package before --version/--app-version changed it",
                path.display()
            ));
        }
        return Ok(from_packaged(p));
    }
    // One read: checked, hashed and measured together.
    let found = tgz::inspect(path)?;
    warn_load_limits(found.warnings.first().cloned(), global);
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
    Ok(Prepared {
        path: path.to_path_buf(),
        file_name,
        prov: sibling_prov(path),
        name: found.metadata.name,
        version: found.metadata.version,
        sha256: found.sha256,
        size: found.size,
        _temp: None,
    })
}

/// One warning line when Helm will refuse to load the package (its files over Helm's limits).
fn warn_load_limits(warning: Option<String>, global: &Global) {
    if let Some(w) = warning {
        global.output().warn(&w);
    }
}

/// Directories larger than this get a spinner while they are packaged.
const PACKAGING_SPINNER_BYTES: u64 = 4 << 20;

/// `Packaging ./big (1200 files, 48 MiB)` on a terminal, for a directory of more than a few MB.
fn packaging_spinner(dir: &Path, global: &Global) -> Option<indicatif::ProgressBar> {
    let out = global.output();
    if !out.shows_progress() {
        return None;
    }
    let (files, bytes) = dir_size(dir);
    if bytes <= PACKAGING_SPINNER_BYTES {
        return None;
    }
    out.spinner(
        Activity::Packaging,
        &format!(
            "{} ({files} files, {})",
            dir.display(),
            output::human_bytes(bytes)
        ),
    )
}

/// Files and bytes below `dir` (symbolic links not followed; unreadable parts skipped).
fn dir_size(dir: &Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    (files, bytes)
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
    // In the system's temporary directory itself, not the run's private one: when the old
    // version cannot be put back, this copy must outlive the run (and an interrupted run).
    let keep = tempfile::Builder::new()
        .prefix("helm-ccr-force-")
        .tempdir_in(std::env::temp_dir())
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

/// Looks for the prepared package of `path` in the registry, then uploads it (or not: see
/// [`Existing`]).
fn publish(
    p: &Prepared,
    path: &Path,
    s: &PushSettings,
    client: &Registry,
    repo: &str,
    global: &Global,
) -> Result<Record> {
    let id = format!("{} {}", p.name, p.version);
    let record = |action: Action, line: String| Record {
        name: Some(p.name.clone()),
        version: Some(p.version.clone()),
        digest: Some(format!("sha256:{}", p.sha256)),
        size: Some(p.size),
        source: Some(path.display().to_string()),
        line,
        ..Record::new(repo, action)
    };
    let existing = client.find_version(&p.name, &p.version)?;
    if let Some(e) = &existing {
        let same = e.digest.as_deref() == Some(p.sha256.as_str());
        match s.existing {
            Existing::Skip => {
                return Ok(record(
                    Action::Skipped,
                    format!(
                        "Skipped {id}: already in {repo}{}",
                        if same {
                            " (identical)"
                        } else {
                            " (different content)"
                        }
                    ),
                ))
            }
            Existing::Fail => bail!(
                "{id} already exists in {repo}{}; use --force to replace it or --skip-existing to keep it",
                if same { " (identical content)" } else { " with different content" }
            ),
            Existing::Replace => {}
        }
    }
    let signed = match &s.sign {
        Some(sign) => Some(sign_package(p, sign, global)?),
        None => None,
    };
    if s.dry_run {
        let action = if existing.is_some() {
            Action::WouldReplace
        } else {
            Action::WouldPush
        };
        return Ok(record(
            action,
            format!(
                "Would push {} ({} bytes, sha256:{}){} to {repo}{}",
                p.file_name,
                p.size,
                p.sha256,
                signed
                    .as_ref()
                    .map_or(String::new(), |x| x.describe(&p.file_name)),
                if existing.is_some() {
                    ", replacing the existing version"
                } else {
                    ""
                }
            ),
        ));
    }
    let up = Upload {
        chart: &p.path,
        file_name: &p.file_name,
        prov: match &signed {
            Some(x) => Some(x.file.path()),
            None => p.prov.as_deref(),
        },
        name: &p.name,
        version: &p.version,
        sha256: &p.sha256,
    };
    // With --force on a registry that overwrites, the old digest may still be there after a
    // lost answer: that is not someone else's push.
    let replacing = existing.as_ref().and_then(|e| e.digest.as_deref());
    let mut action = if existing.is_some() {
        Action::Replaced
    } else {
        Action::Pushed
    };
    let outcome = match client.upload_replacing(&up, replacing) {
        Ok(o) => o,
        Err(e) if is_conflict(&e) => match s.existing {
            // Someone pushed it between our look and our upload.
            Existing::Skip => {
                return Ok(record(
                    Action::Skipped,
                    format!("Skipped {id}: already in {repo}"),
                ))
            }
            Existing::Fail => bail!(
                "{id} already exists in {repo}; use --force to replace it or --skip-existing to keep it"
            ),
            Existing::Replace => {
                // A registry that refuses duplicates: keep the old one, delete, upload, and
                // put it back if the new one is refused.
                action = Action::Replaced;
                replace_on_refusing_registry(client, &up, repo, global)?
            }
        },
        Err(e) => return Err(e),
    };
    let note = match outcome {
        UploadOutcome::Uploaded => "",
        UploadOutcome::AlreadyStored => " (confirmed after a lost answer)",
    };
    let signed_note = signed.as_ref().map_or(String::new(), |x| {
        format!(", signed with key {}", x.fingerprint)
    });
    Ok(record(
        action,
        format!(
            "Pushed {id} to {repo} (sha256:{}){note}{signed_note}",
            p.sha256
        ),
    ))
}

/// A provenance file made by `--sign`, in a temporary file until the upload is done.
struct SignedProv {
    file: tempfile::NamedTempFile,
    sha256: String,
    fingerprint: String,
}

impl SignedProv {
    /// ` with NAME.prov (sha256:HEX)`, for `--dry-run`.
    fn describe(&self, file_name: &str) -> String {
        format!(
            " with {} (sha256:{})",
            provenance::prov_name(file_name),
            self.sha256
        )
    }
}

/// `--sign`: the provenance file `helm package --sign` would write for this package (its
/// Chart.yaml data as Helm marshals it, then its sha256), clear-signed by gpg.
fn sign_package(p: &Prepared, sign: &SignSettings, global: &Global) -> Result<SignedProv> {
    let out = global.output();
    let mut md = tgz::inspect(&p.path)?.metadata;
    md.validate()
        .map_err(|e| anyhow!("{}: cannot sign: Chart.yaml: {e}", p.file_name))?;
    // Helm checks the hash by the name the registry serves the package under, which is
    // NAME-VERSION.tgz whatever the local file is called.
    let served = format!("{}-{}.tgz", p.name, p.version);
    if served != p.file_name {
        out.debug(&format!(
            "{}: the provenance file names it {served}, as the registry serves it",
            p.file_name
        ));
    }
    let message = provenance::message(&md.to_yaml(), &served, &p.sha256);
    if p.prov.is_some() {
        out.debug(&format!(
            "{}: the .prov beside it is replaced by a new signature (--sign)",
            p.file_name
        ));
    }
    let key = sign
        .key
        .as_deref()
        .or_else(|| global.env.get("HELM_CCR_SIGN_KEY"));
    let signed = Gpg::from_env(&global.env, out)
        .clearsign(&message, key, sign.keyring.as_deref())
        .with_context(|| format!("signing {}", p.file_name))?;
    if signed.algorithm == 22 {
        out.warn(&format!(
            "{} is signed with an EdDSA key: Helm 3 cannot check it (helm verify fails to read the keyring); Helm 4 and helm ccr pull --verify can",
            p.file_name
        ));
    }
    let mut file = tempfile::Builder::new()
        .prefix(".helm-ccr-")
        .suffix(".prov")
        .tempfile()
        .context("creating a temporary file for the provenance file")?;
    std::io::Write::write_all(&mut file, &signed.text).context("writing the provenance file")?;
    Ok(SignedProv {
        file,
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&signed.text)),
        fingerprint: signed.fingerprint,
    })
}
