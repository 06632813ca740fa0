//! A chart made ready to upload: a directory packaged (after `helm dependency update` when
//! asked, with a spinner for a big one), a package repacked with another version, or a package
//! checked as it is; each hashed and measured.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::chart::{package, tgz};
use crate::ui::output::{Activity, Output};

/// A package ready to upload, kept alive (temporary files) until the upload is done.
pub struct Prepared {
    pub path: PathBuf,
    pub file_name: String,
    /// The `.prov` beside a package given as it is.
    pub prov: Option<PathBuf>,
    pub name: String,
    pub version: String,
    /// sha256 hex of the package.
    pub sha256: String,
    pub size: u64,
    /// The temporary package made from a directory or by repacking (removed when dropped).
    pub temp: Option<package::Packaged>,
}

/// How to prepare a chart.
pub struct Options<'a> {
    pub overrides: &'a package::Overrides,
    /// `SOURCE_DATE_EPOCH`: the time stamp of every packaged file.
    pub source_date_epoch: Option<i64>,
    /// `--dependency-update`: the helm binary that runs `helm dependency update` on a
    /// directory first.
    pub helm_for_dependency_update: Option<&'a str>,
    /// The most files, directories and links the walk of a directory takes
    /// (`HELM_CCR_MAX_ENTRIES`).
    pub max_entries: usize,
}

/// Packages the chart directory, or checks (or repacks, with overrides) the package, at `path`.
pub fn prepare(path: &Path, o: &Options<'_>, out: Output) -> Result<Prepared> {
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
        prepare_dir(path, o, out)
    } else if o.overrides.version.is_some() || o.overrides.app_version.is_some() {
        repack(path, o, out)
    } else {
        as_it_is(path, out)
    }
}

fn prepare_dir(path: &Path, o: &Options<'_>, out: Output) -> Result<Prepared> {
    if let Some(helm) = o.helm_for_dependency_update {
        dependency_update(path, helm)?;
    }
    let spinner = packaging_spinner(path, out);
    let p = package::package_dir_limited(path, o.overrides, o.source_date_epoch, o.max_entries);
    if let Some(b) = spinner {
        b.finish_and_clear();
    }
    let p = p?;
    // Files over 5 MiB are refused while packaging, as by `helm package`; the total is
    // flagged here.
    let label = path.display().to_string();
    warn_load_limits(tgz::load_limit_warning(&label, p.expanded, &[]), out);
    Ok(from_packaged(p))
}

fn repack(path: &Path, o: &Options<'_>, out: Output) -> Result<Prepared> {
    // One pass: Helm's archive loader reads and checks it, the package is written anew.
    let p = package::repack_tgz(path, o.overrides, o.source_date_epoch)?;
    super::metadata::check_chart_name(&p.metadata.name).map_err(|e| {
        anyhow!(
            "{}: Chart.yaml: the chart name is invalid: {e}",
            path.display()
        )
    })?;
    if sibling_prov(path).is_some() {
        out.warn(&format!(
            "{}.prov is not uploaded: it signs the package before --version/--app-version changed it",
            path.display()
        ));
    }
    Ok(from_packaged(p))
}

fn as_it_is(path: &Path, out: Output) -> Result<Prepared> {
    // One read: checked, hashed and measured together.
    let found = tgz::inspect(path)?;
    warn_load_limits(found.warnings.first().cloned(), out);
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
        temp: None,
    })
}

/// `helm dependency update DIR`, with `helm` the binary (`HELM_BIN`); its last line of stderr
/// in the error when it fails.
pub fn dependency_update(dir: &Path, helm: &str) -> Result<()> {
    let output = match std::process::Command::new(helm)
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

/// One warning line when Helm will refuse to load the package (its files over Helm's limits).
fn warn_load_limits(warning: Option<String>, out: Output) {
    if let Some(w) = warning {
        out.warn(&w);
    }
}

/// Directories larger than this get a spinner while they are packaged.
const PACKAGING_SPINNER_BYTES: u64 = 4 << 20;

/// `Packaging ./big (1200 files, 48 MiB)` on a terminal, for a directory of more than a few MB.
fn packaging_spinner(dir: &Path, out: Output) -> Option<indicatif::ProgressBar> {
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
            crate::ui::text::size_label(bytes)
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
        temp: Some(p),
    }
}

fn sibling_prov(tgz: &Path) -> Option<PathBuf> {
    let mut name = tgz.file_name()?.to_os_string();
    name.push(".prov");
    let prov = tgz.with_file_name(name);
    prov.is_file().then_some(prov)
}
