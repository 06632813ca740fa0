//! `helm ccr pull REPO/CHART`: pick a version, download it to a temporary file, check its
//! digest, then rename it into place (or unpack it with `--untar`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::chart::constraint;
use crate::chart::tgz;
use crate::copy::export::{self, Counts};
use crate::copy::Side;
use crate::error::UsageError;
use crate::provenance;
use crate::provenance::gpg::Gpg;
use crate::provenance::identity::{self, Selected};
use crate::provenance::sign;
use crate::registry::download::part_file_in;
use crate::registry::model::HelmChartVersion;
use crate::registry::{Expected, PartIn, Registry};
use crate::settings::reference;
use crate::settings::{self, Global};
use crate::ui::output::Format;
use crate::ui::report::{Action, Record, Reporter};
use crate::ui::text::redact_userinfo;

/// What `pull` was asked for.
pub struct PullSettings {
    pub chart: String,
    /// `--all`: every version of every chart of the repository (or of the chart named), with
    /// their provenance files (the air-gap export).
    pub all: bool,
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

/// Chooses the version of `chart` to fetch.
pub fn choose(
    client: &Registry,
    chart: &str,
    wanted: Option<&str>,
    devel: bool,
    repo_display: &str,
) -> Result<HelmChartVersion> {
    if let Some(w) = wanted {
        constraint::check_version_flag(w)?;
    }
    let versions = client.existing_versions(chart, repo_display)?;
    match constraint::select(&versions, wanted, devel)? {
        Some(v) => Ok(v.clone()),
        None => match wanted {
            Some(w) => bail!(
                "chart {chart:?} has no version matching {w:?} in {repo_display}{}",
                newest_hint(&versions, devel, chart, repo_display)
            ),
            None => bail!(
                "chart {chart:?} has only pre-release versions in {repo_display} (use --devel)"
            ),
        },
    }
}

/// `; the newest are 1.2.0, 1.1.0, 1.0.0 (helm ccr ls REPO/CHART)`: what there is instead, by
/// the pre-release rule of `ls` (with `--devel`, pre-releases count).
fn newest_hint(versions: &[HelmChartVersion], devel: bool, chart: &str, repo: &str) -> String {
    let newest = constraint::newest(versions, devel, 3);
    let verb = match newest.len() {
        0 => return String::new(),
        1 => "is",
        _ => "are",
    };
    format!(
        "; the newest {verb} {} (helm ccr ls {repo}/{chart}{})",
        newest.join(", "),
        if devel { " --devel" } else { "" }
    )
}

/// A version written into the chart reference (`myccr/mychart:0.2.0`) is a usage error that
/// shows the `--version` form, before any request.
fn refuse_version_suffix(arg: &str, chart: &str) -> Result<()> {
    let Some((_, version)) = constraint::version_suffix(chart) else {
        return Ok(());
    };
    let without = arg.strip_suffix(&format!(":{version}")).unwrap_or(arg);
    Err(UsageError(format!(
        "{:?}: the version goes in --version, not after the chart name: helm ccr pull {} --version {version}",
        redact_userinfo(arg),
        redact_userinfo(without)
    ))
    .into())
}

pub fn run(s: &PullSettings, global: &Global) -> Result<()> {
    if s.all {
        return export_all(s, global);
    }
    if let Some(w) = &s.version {
        constraint::check_version_flag(w)?;
        if s.devel && crate::chart::metadata::parse_loose_version(w).is_ok() {
            global.output().warn(&format!(
                "--devel changes nothing with an exact --version {w}: that version is pulled whether it is a pre-release or not"
            ));
        }
    }
    let (repo_arg, chart) = reference::parse_chart_ref(&s.chart)?;
    refuse_version_suffix(&s.chart, &chart)?;
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
        Some(sign::fetch(&client, &file_name, &repo.display)?)
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
        let tmp = client
            .download_verified(&file_name, Expected::from(&v), &PartIn(&untar_dir))?
            .file;
        record.size = tmp.as_file().metadata().ok().map(|m| m.len());
        let kept = check_package(s, prov.as_deref(), tmp.path(), &file_name, &v, global)?;
        let dir = tgz::untar_as(tmp.path(), &file_name, &untar_dir)?;
        keep_provenance(kept, &s.destination, &file_name)?;
        record.path = Some(dir.display().to_string());
    } else {
        let tmp = client
            .download_verified(&file_name, Expected::from(&v), &PartIn(&s.destination))?
            .file;
        record.size = tmp.as_file().metadata().ok().map(|m| m.len());
        let kept = check_package(s, prov.as_deref(), tmp.path(), &file_name, &v, global)?;
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

/// Checks the downloaded package (`package`, named `file_name` in the registry, listed as
/// `v`) before anything is written: with `--verify`, against its provenance file with gpg;
/// always, that its `Chart.yaml` names the chart and version selected (the digest only proves
/// the registry serves what it lists, not that it lists the right thing). Then prints the
/// signer as `helm verify` does. Returns the provenance file when `--prov` keeps it.
fn check_package(
    s: &PullSettings,
    prov: Option<&[u8]>,
    package: &Path,
    file_name: &str,
    v: &HelmChartVersion,
    global: &Global,
) -> Result<Option<Vec<u8>>> {
    let selected = Selected {
        name: &v.name,
        version: &v.version,
    };
    let verified = match prov {
        Some(prov) if s.verify => {
            let gpg = Gpg::from_env(&global.env, global.output());
            let keyring = s.keyring.as_deref();
            sign::verify_package(prov, package, file_name, selected, &gpg, keyring)?
        }
        _ => Vec::new(),
    };
    let file =
        std::fs::File::open(package).with_context(|| format!("reading {file_name} again"))?;
    identity::check_package(std::io::BufReader::new(file), file_name, selected)?;
    let out = global.output();
    for line in verified {
        // With -o json|yaml stdout is the list alone: who signed goes to stderr.
        if s.format == Format::Text {
            out.info(&line);
        } else if !global.quiet {
            eprintln!("{line}");
        }
    }
    Ok(prov.filter(|_| s.prov).map(<[u8]>::to_vec))
}

/// `--prov`: writes the provenance file next to the package (atomically).
fn keep_provenance(prov: Option<Vec<u8>>, dir: &Path, file_name: &str) -> Result<()> {
    let Some(prov) = prov else { return Ok(()) };
    let name = provenance::prov_name(file_name);
    let mut tmp = part_file_in(dir)?;
    tmp.write_all(&prov)
        .with_context(|| format!("writing {name}"))?;
    let dest = dir.join(&name);
    tmp.persist(&dest)
        .map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error))?;
    Ok(())
}

/// `pull REPO --all -d DIR`: the air-gap export ([`crate::copy::export`]), then its summary.
fn export_all(s: &PullSettings, global: &Global) -> Result<()> {
    let (repo_arg, chart) = match reference::parse_repo(&s.chart) {
        Ok(r) => (r, None),
        Err(_) => {
            let (r, c) = reference::parse_chart_ref(&s.chart)?;
            (r, Some(c))
        }
    };
    if s.untardir.as_os_str() != "." {
        return Err(UsageError("--all writes packages: it takes no --untardir".into()).into());
    }
    let repo = settings::resolve_repo(&repo_arg, &global.env)?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
    std::fs::create_dir_all(&s.destination)
        .with_context(|| format!("creating {}", s.destination.display()))?;
    let report = Reporter::new(s.format, global.output(), true);
    let side = Side {
        client: &client,
        display: &repo.display,
    };
    let counts = export::run(
        &side,
        chart.as_deref(),
        &s.destination,
        global.env.parallel()?,
        &report,
    )?;
    export_summary(s, global, &repo.display, &counts);
    report.finish()
}

/// `Pulled N chart versions (M with a .prov) from REPO into DIR[; F failed]`: on stdout, or
/// with `-o json|yaml` (where stdout is the list alone) on stderr.
fn export_summary(s: &PullSettings, global: &Global, repo: &str, counts: &Counts) {
    let n = counts.versions;
    let summary = format!(
        "Pulled {n} chart version{} ({} with a .prov) from {} into {}{}",
        if n == 1 { "" } else { "s" },
        counts.provs,
        redact_userinfo(repo),
        s.destination.display(),
        match counts.failed {
            0 => String::new(),
            f => format!("; {f} failed"),
        }
    );
    if s.format == Format::Text {
        global.output().result(&summary);
    } else if !global.quiet {
        eprintln!("{summary}");
    }
}
