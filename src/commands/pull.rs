//! `helm ccr pull REPO/CHART`: pick a version, download it to a temporary file, check its
//! digest, then rename it into place (or unpack it with `--untar`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::api::HelmChartVersion;
use crate::chart::tgz;
use crate::cleanup;
use crate::error::UsageError;
use crate::gpg::Gpg;
use crate::output::{Format, Output};
use crate::provenance;
use crate::registry::{self, Registry};
use crate::repo_ref;
use crate::report::{Action, Record, Reporter};
use crate::settings::{self, Global};
use crate::transport::BodyBroken;
use crate::version;

/// What `pull` was asked for.
pub struct PullSettings {
    pub chart: String,
    pub version: Option<String>,
    pub devel: bool,
    pub destination: PathBuf,
    pub untar: bool,
    pub untardir: PathBuf,
    /// `-o`: the path written, or a JSON/YAML list of one [`Record`].
    pub format: Format,
    /// `--verify`: check the package against its provenance file before writing it.
    pub verify: bool,
    /// `--keyring` for `--verify`.
    pub keyring: Option<PathBuf>,
    /// `--prov`: keep the provenance file next to the package.
    pub prov: bool,
}

/// A writer that hashes what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Chooses the version of `chart` to fetch.
pub fn choose(
    client: &Registry,
    chart: &str,
    wanted: Option<&str>,
    devel: bool,
    repo_display: &str,
) -> Result<HelmChartVersion> {
    if let Some(w) = wanted {
        check_constraint(w)?;
    }
    let versions = client.existing_versions(chart, repo_display)?;
    match version::select(&versions, wanted, devel)? {
        Some(v) => Ok(v.clone()),
        None => match wanted {
            Some(w) => bail!("chart {chart:?} has no version matching {w:?} in {repo_display}"),
            None => bail!(
                "chart {chart:?} has only pre-release versions in {repo_display} (use --devel)"
            ),
        },
    }
}

/// A `--version` that cannot be a constraint is a usage error, said once, before any request.
pub fn check_constraint(w: &str) -> Result<()> {
    if w.trim().is_empty() {
        return Err(UsageError("--version is empty".into()).into());
    }
    version::Constraint::parse(w).map(|_| ()).map_err(|_| {
        UsageError(format!(
            "invalid --version {w:?}: give a version or a constraint such as 1.2.3, ^1.2, ~1.2.3 or \">=1.0 <2.0\""
        ))
        .into()
    })
}

/// Downloads `v` into a temporary file in `dir` and checks it against the registry's digest.
/// A body cut short or a wrong digest is retried on a fresh file; the temporary file is gone
/// whenever this fails.
pub fn fetch_verified(
    client: &Registry,
    v: &HelmChartVersion,
    file_name: &str,
    dir: &Path,
    out: &Output,
) -> Result<tempfile::NamedTempFile> {
    let attempts = client.attempts();
    let mut last: Option<anyhow::Error> = None;
    for attempt in 1..=attempts {
        let tmp = part_file(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        let (result, digest) = {
            let mut writer = Hashing {
                inner: io::BufWriter::new(tmp.as_file()),
                hasher: Sha256::new(),
            };
            let result = client
                .download(file_name, &mut writer)
                .and_then(|n| writer.flush().map(|_| n).map_err(anyhow::Error::from));
            (result, hex::encode(writer.hasher.finalize()))
        };
        match result {
            // The registry's digest is normalised (any-case `sha256:` prefix, any-case hex);
            // an empty or malformed one counts as none: only the length was checked.
            Ok(_) => match v.digest.as_deref() {
                Some(want) if want != digest => {
                    last = Some(anyhow!(
                        "digest mismatch for {file_name}: the registry lists sha256:{want}, the download has sha256:{digest}"
                    ));
                }
                None => {
                    out.warn(&missing_digest_warning(v, file_name));
                    return Ok(tmp);
                }
                Some(_) => return Ok(tmp),
            },
            // Only a body cut short is worth another download here: failures before the
            // body were already retried by the client.
            Err(e) if e.downcast_ref::<BodyBroken>().is_some() => last = Some(e),
            Err(e) => return Err(e),
        }
        drop(tmp);
        if let Some(e) = &last {
            out.debug(&format!("download attempt {attempt} failed: {e:#}"));
            if attempt < attempts {
                client.backoff(attempt, None, e)?;
            }
        }
    }
    let e = last.unwrap_or_else(|| anyhow!("download of {file_name} failed"));
    Err(if attempts > 1 {
        e.context(format!("gave up after {attempts} downloads"))
    } else {
        e
    })
}

/// The warning for a download that has no usable digest to check against.
pub fn missing_digest_warning(v: &HelmChartVersion, file_name: &str) -> String {
    match &v.malformed_digest {
        Some(given) => {
            let shown: String = given.chars().take(80).collect();
            format!(
                "the registry's digest for {file_name} is not a sha256 ({shown:?}); only its length could be verified"
            )
        }
        None => format!(
            "the registry gives no digest for {file_name}; only its length could be verified"
        ),
    }
}

/// Creates the download's temporary file in `dir`: `.helm-ccr-XXXXXX.part` (short and
/// unrelated to the file's name, so that a registry file name of up to 255 bytes still
/// leaves room for it), with the mode Helm gives a pulled chart (0644, less what the umask
/// takes away), so that the renamed file has it. Registered for removal on a signal.
fn part_file(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".helm-ccr-").suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    cleanup::create(|| b.tempfile_in(dir))
}

pub fn run(s: &PullSettings, global: &Global) -> Result<()> {
    if let Some(w) = &s.version {
        check_constraint(w)?;
        if s.devel && crate::chart::metadata::parse_loose_version(w).is_ok() {
            global.output().warn(&format!(
                "--devel changes nothing with an exact --version {w}: that version is pulled whether it is a pre-release or not"
            ));
        }
    }
    let (repo_arg, chart) = repo_ref::parse_chart_ref(&s.chart)?;
    let repo = settings::resolve_repo(&repo_arg, &global.env)?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
    let out = global.output();
    let v = choose(
        &client,
        &chart,
        s.version.as_deref(),
        s.devel,
        &repo.display,
    )?;
    let file_name = v.file_name();
    let prov = if s.verify || s.prov {
        Some(fetch_provenance(&client, &file_name, &repo.display)?)
    } else {
        None
    };
    let report = Reporter::new(s.format, out, true);
    let mut record = Record {
        name: Some(v.name.clone()),
        version: Some(v.version.clone()),
        digest: v.digest.as_ref().map(|d| format!("sha256:{d}")),
        ..Record::new(&repo.display, Action::Pulled)
    };
    std::fs::create_dir_all(&s.destination)
        .with_context(|| format!("creating {}", s.destination.display()))?;
    if s.untar {
        let untar_dir: PathBuf = if s.untardir.is_absolute() {
            s.untardir.clone()
        } else {
            s.destination.join(&s.untardir)
        }
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
        let untar_dir = if untar_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            untar_dir
        };
        std::fs::create_dir_all(&untar_dir)
            .with_context(|| format!("creating {}", untar_dir.display()))?;
        let tmp = fetch_verified(&client, &v, &file_name, &untar_dir, &out)?;
        record.size = tmp.as_file().metadata().ok().map(|m| m.len());
        let kept = check_provenance(s, prov.as_deref(), tmp.path(), &file_name, global)?;
        let dir = tgz::untar_as(tmp.path(), &file_name, &untar_dir)?;
        keep_provenance(kept, &s.destination, &file_name)?;
        record.path = Some(dir.display().to_string());
    } else {
        let tmp = fetch_verified(&client, &v, &file_name, &s.destination, &out)?;
        record.size = tmp.as_file().metadata().ok().map(|m| m.len());
        let kept = check_provenance(s, prov.as_deref(), tmp.path(), &file_name, global)?;
        let dest = s.destination.join(&file_name);
        tmp.persist(&dest)
            .map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error))?;
        keep_provenance(kept, &s.destination, &file_name)?;
        record.path = Some(dest.display().to_string());
    }
    record.line = record.path.clone().unwrap_or_default();
    report.add(0, record);
    report.finish()
}

/// Provenance files are a few kilobytes; anything beyond this is refused.
const MAX_PROV_BYTES: usize = 1 << 20;

/// `--verify`/`--prov`: the package's provenance file, fetched before the package so that a
/// chart without one fails before anything is downloaded.
fn fetch_provenance(client: &Registry, file_name: &str, repo: &str) -> Result<Vec<u8>> {
    struct Capped(Vec<u8>);
    impl Write for Capped {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0.len() + buf.len() > MAX_PROV_BYTES {
                return Err(io::Error::other("larger than 1 MiB"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let name = provenance::prov_name(file_name);
    let mut body = Capped(Vec::new());
    match client.download(&name, &mut body) {
        Ok(_) => Ok(body.0),
        Err(e) if registry::is_not_found(&e) => {
            bail!("{file_name} has no provenance file ({name}) in {repo}: it was not signed, so it cannot be verified ({e})")
        }
        Err(e) => Err(e.context(format!("downloading {name}"))),
    }
}

/// `--verify`: checks the downloaded package (`package`, named `file_name` in the registry)
/// against its provenance file with gpg and prints the signer as `helm verify` does. Returns
/// the provenance file when `--prov` keeps it.
fn check_provenance(
    s: &PullSettings,
    prov: Option<&[u8]>,
    package: &Path,
    file_name: &str,
    global: &Global,
) -> Result<Option<Vec<u8>>> {
    let Some(prov) = prov else { return Ok(None) };
    if s.verify {
        let out = global.output();
        let name = provenance::prov_name(file_name);
        let block = provenance::clearsigned_block(prov)
            .ok_or_else(|| anyhow!("{name} is not a clear-signed provenance file"))?;
        let verified = Gpg::from_env(&global.env, out)
            .verify(block, s.keyring.as_deref())
            .with_context(|| format!("verifying {file_name}"))?;
        let sha256 = tgz::sha256_file(package)?;
        let hash = provenance::check_hash(&verified.text, file_name, &sha256)
            .with_context(|| format!("verifying {file_name}"))?;
        for line in provenance::verified_lines(
            &verified.identities,
            &verified.signature.primary_fingerprint,
            &hash,
        ) {
            // With -o json|yaml stdout is the list alone: who signed goes to stderr.
            if s.format == Format::Text {
                out.info(&line);
            } else if !global.quiet {
                eprintln!("{line}");
            }
        }
    }
    Ok(s.prov.then(|| prov.to_vec()))
}

/// `--prov`: writes the provenance file next to the package (atomically).
fn keep_provenance(prov: Option<Vec<u8>>, dir: &Path, file_name: &str) -> Result<()> {
    let Some(prov) = prov else { return Ok(()) };
    let name = provenance::prov_name(file_name);
    let mut tmp = part_file(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(&prov)
        .with_context(|| format!("writing {name}"))?;
    let dest = dir.join(&name);
    tmp.persist(&dest)
        .map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error))?;
    Ok(())
}
