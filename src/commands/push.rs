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

use anyhow::{anyhow, Result};

use crate::chart::compare::{self, Plan, Stored};
use crate::chart::prepare::{self, Prepared};
use crate::chart::{package, pgzip};
use crate::error::UsageError;
use crate::provenance;
use crate::provenance::gpg::Gpg;
use crate::provenance::sign::{self, SignedProv, ToSign};
use crate::registry::{is_conflict, Registry, Upload, UploadOutcome};
use crate::settings::reference;
use crate::settings::{self, Global};
use crate::ui::output::Format;
use crate::ui::report::{Action, Record, Reporter};

pub use crate::chart::compare::Existing;

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

pub fn run(s: &PushSettings, global: &Global) -> Result<()> {
    if s.charts.len() > 1 && (s.version.is_some() || s.app_version.is_some()) {
        return Err(UsageError("--version and --app-version take exactly one chart".into()).into());
    }
    if let Some(v) = &s.version {
        package::validate_version_override(v).map_err(|e| UsageError(format!("{e:#}")))?;
    }
    check_order(s)?;
    source_date_epoch(global)?;
    let repo_arg = reference::parse_repo(&s.repo)?;
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

fn prepare(path: &Path, s: &PushSettings, global: &Global) -> Result<Prepared> {
    let overrides = package::Overrides {
        version: s.version.clone(),
        app_version: s.app_version.clone(),
    };
    let options = prepare::Options {
        overrides: &overrides,
        source_date_epoch: source_date_epoch(global)?,
        helm_for_dependency_update: s
            .dependency_update
            .then(|| global.env.get("HELM_BIN").unwrap_or("helm")),
        max_entries: global.env.max_entries()?,
    };
    let p = prepare::prepare(path, &options, global.output())?;
    // A sibling .prov is uploaded as it is, unless --sign makes a new one.
    if let (Some(prov), None) = (&p.prov, &s.sign) {
        check_sibling_prov(prov)?;
    }
    Ok(p)
}

/// Looks for the prepared package of `path` in the registry, then does what [`plan`] decides.
fn publish(
    p: &Prepared,
    path: &Path,
    s: &PushSettings,
    client: &Registry,
    repo: &str,
    global: &Global,
) -> Result<Record> {
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
    let stored = compare::against_registry(client, existing.as_ref(), &p.path, &p.sha256)?;
    let planned = compare::plan(&stored, &p.name, &p.version, s.existing, s.dry_run, repo);
    let replacing = match &planned {
        Plan::Unchanged(line) => return Ok(record(Action::Unchanged, line.clone())),
        Plan::Skip { line, warning } => {
            if let Some(w) = warning {
                global.output().warn(w);
            }
            return Ok(record(Action::Skipped, line.clone()));
        }
        Plan::WouldFail(line) => return Ok(record(Action::WouldFail, line.clone())),
        Plan::Fail(message) => return Err(anyhow!(message.clone())),
        Plan::DryRun { .. } | Plan::Push => None,
        Plan::Replace { replacing } => Some(replacing.clone()),
    };
    let signed = match &s.sign {
        Some(sign) => Some(sign_package(p, sign, global)?),
        None => None,
    };
    if let Plan::DryRun { replacing } = planned {
        return Ok(dry_run_record(p, replacing, signed.as_ref(), repo, record));
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
    let mut action = if replacing.is_some() {
        Action::Replaced
    } else {
        Action::Pushed
    };
    // With --force on a registry that overwrites, the old digest may still be there after a
    // lost answer: that is not someone else's push.
    let outcome = match client.upload_replacing(&up, replacing.flatten().as_deref()) {
        Ok(o) => o,
        Err(e) if is_conflict(&e) => match plan_after_conflict(p, s, client, repo, &stored)? {
            Plan::Unchanged(line) => return Ok(record(Action::Unchanged, line)),
            Plan::Skip { line, warning } => {
                if let Some(w) = warning {
                    global.output().warn(&w);
                }
                return Ok(record(Action::Skipped, line));
            }
            Plan::Fail(message) => return Err(anyhow!(message)),
            _ => {
                // A registry that refuses duplicates: keep the old one, delete, upload, and
                // put it back if the new one is refused. The copy is kept outside the run's
                // private temporary directory, so that it outlives a failed run.
                action = Action::Replaced;
                let keep_in = global.env.replaced_dir();
                client.replace(&up, repo, &keep_in, &|kept| announce_kept(p, repo, kept))?
            }
        },
        Err(e) => return Err(e),
    };
    Ok(record(
        action,
        pushed_line(action, p, repo, outcome, signed.as_ref()),
    ))
}

/// Decides again when the registry refused the upload as a duplicate (409): someone pushed
/// the version between our look and our upload, or the registry refuses to overwrite. Looks
/// again: the same content there is `unchanged` (two pipelines pushing one chart at once);
/// other content is decided as before the upload (compared again only when its digest is not
/// the one compared already, `before`).
fn plan_after_conflict(
    p: &Prepared,
    s: &PushSettings,
    client: &Registry,
    repo: &str,
    before: &Stored,
) -> Result<Plan> {
    let again = client.find_version(&p.name, &p.version)?;
    let stored = match (&again, before) {
        (None, _) => Stored::Absent,
        (Some(v), Stored::Different { digest, .. })
            if v.digest.is_some() && v.digest == *digest =>
        {
            before.clone()
        }
        (Some(_), _) => compare::against_registry(client, again.as_ref(), &p.path, &p.sha256)?,
    };
    Ok(match stored {
        Stored::Absent => compare::plan_on_conflict(&p.name, &p.version, s.existing, repo),
        _ => compare::plan(&stored, &p.name, &p.version, s.existing, false, repo),
    })
}

/// Said on stderr before the old version is deleted, even with `--quiet` or `-o json`: after
/// SIGKILL (or a crash) between the delete and the new upload, this line is the only way to
/// find the old package and push it back. The directory is removed once the replacement is
/// settled; a JSON/YAML record, written at the end, would come too late to help.
fn announce_kept(p: &Prepared, repo: &str, kept: &Path) {
    eprintln!(
        "Replacing {} {} in {repo}: the registry refuses to overwrite, so the old version is deleted first; until the new one (or the old one again) is stored, the old package is kept at {}",
        p.name,
        p.version,
        kept.display()
    );
}

/// A `.prov` beside a package given as it is must be a clear-signed message (what Helm reads
/// of a provenance file) before it is uploaded as the package's provenance: an empty or
/// foreign file would be served to everyone who verifies the chart.
fn check_sibling_prov(prov: &Path) -> Result<()> {
    use std::io::Read;
    // Helm's provenance files are a few KiB; a larger file is not one.
    const MAX_PROV: u64 = 1 << 20;
    let mut bytes = Vec::new();
    std::fs::File::open(prov)
        .and_then(|f| f.take(MAX_PROV + 1).read_to_end(&mut bytes))
        .map_err(|e| anyhow!("reading {}: {e}", prov.display()))?;
    let signed = bytes.len() as u64 <= MAX_PROV && provenance::clearsigned_block(&bytes).is_some();
    if !signed {
        return Err(anyhow!(
            "{} is not a provenance file (no clear-signed block from -----BEGIN PGP SIGNED MESSAGE----- to -----END PGP SIGNATURE-----), and would be uploaded as the package's provenance: remove it, or sign the package again (helm package --sign, or push --sign)",
            prov.display()
        ));
    }
    Ok(())
}

/// `Pushed NAME VERSION to REPO (sha256:HEX)` (`Replaced` with `--force` over an existing
/// version, as the record's action says), with how it was confirmed and signed.
fn pushed_line(
    action: Action,
    p: &Prepared,
    repo: &str,
    outcome: UploadOutcome,
    signed: Option<&SignedProv>,
) -> String {
    let note = match outcome {
        UploadOutcome::Uploaded => "",
        UploadOutcome::AlreadyStored => " (confirmed after a lost answer)",
    };
    let signed_note = signed.map_or(String::new(), |x| {
        format!(", signed with key {}", x.fingerprint)
    });
    let (verb, preposition) = if action == Action::Replaced {
        ("Replaced", "in")
    } else {
        ("Pushed", "to")
    };
    format!(
        "{verb} {} {} {preposition} {repo} (sha256:{}){note}{signed_note}",
        p.name, p.version, p.sha256
    )
}

/// `--dry-run`: what would be uploaded, and over what.
fn dry_run_record(
    p: &Prepared,
    replacing: bool,
    signed: Option<&SignedProv>,
    repo: &str,
    record: impl Fn(Action, String) -> Record,
) -> Record {
    let action = if replacing {
        Action::WouldReplace
    } else {
        Action::WouldPush
    };
    record(
        action,
        format!(
            "Would push {} ({} bytes, sha256:{}){} to {repo}{}",
            p.file_name,
            p.size,
            p.sha256,
            signed.map_or(String::new(), |x| x.describe(&p.file_name)),
            if replacing {
                ", replacing the existing version"
            } else {
                ""
            }
        ),
    )
}

/// `--sign`: signs the package with the key of `--key`, else `HELM_CCR_SIGN_KEY`, else gpg's
/// default key.
fn sign_package(p: &Prepared, sign: &SignSettings, global: &Global) -> Result<SignedProv> {
    let out = global.output();
    let key = sign.key.as_deref().or_else(|| global.env.sign_key());
    let request = ToSign {
        package: &p.path,
        file_name: &p.file_name,
        name: &p.name,
        version: &p.version,
        sha256: &p.sha256,
        has_prov: p.prov.is_some(),
        key,
        keyring: sign.keyring.as_deref(),
    };
    sign::sign_package(&request, &Gpg::from_env(&global.env, out), &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sibling_prov_must_be_clear_signed() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let good = write(
            "good.tgz.prov",
            b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: a\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
        );
        check_sibling_prov(&good).unwrap();
        for (name, text) in [
            ("empty.tgz.prov", &b""[..]),
            ("text.tgz.prov", b"old provenance\n"),
            (
                "unsigned.tgz.prov",
                b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: a\n",
            ),
        ] {
            let p = write(name, text);
            let e = check_sibling_prov(&p).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{} is not a provenance file", p.display())),
                "{e}"
            );
        }
    }
}
