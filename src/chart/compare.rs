//! Whether two chart packages hold the same chart, and what to do when the version a push (or a
//! copy) would upload is already in the registry.
//!
//! "The same chart" is what Helm users mean by it: the same files, each with the same bytes,
//! `Chart.yaml` and `Chart.lock` compared as data (Helm re-serialises both when it packages,
//! and Helm 3 and 4 may write them differently). Time stamps, modes, owners, the order of the
//! entries, directory entries and the gzip bytes do not count: two `helm package` runs of one
//! directory differ in those, and so does a fresh CI clone, whose files all have new times.
//!
//! The comparison streams: each entry's bytes are hashed (sha256) as they are read, into a
//! map from path to digest; only the maps are compared, so neither package is held in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::chart::metadata;
use crate::chart::tar_reader::{shown_name, TarReader};
use crate::chart::tgz::{INSPECT_MAX_BYTES, MAX_FILE_BYTES};
use crate::registry::download::{Expected, Spool};
use crate::registry::model::HelmChartVersion;
use crate::registry::Registry;

/// Entries a package may hold for a comparison: far above any chart, and a bound on the map.
pub const MAX_ENTRIES: usize = 200_000;

/// What a package holds: each file's path below the chart's directory, with the sha256 of its
/// content (of its data, for `Chart.yaml` and `Chart.lock`).
pub type Entries = BTreeMap<String, [u8; 32]>;

/// How one package differs from another: paths below the chart's directory, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// In ours, not in theirs.
    pub added: Vec<String>,
    /// In theirs, not in ours.
    pub removed: Vec<String>,
    /// In both, with different content.
    pub changed: Vec<String>,
}

impl Comparison {
    pub fn is_identical(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Every differing path, sorted, with `(added)` or `(removed)` after a file only one side
    /// holds.
    pub fn paths(&self) -> Vec<String> {
        let mut all: Vec<(&str, &str)> = Vec::new();
        all.extend(self.changed.iter().map(|p| (p.as_str(), "")));
        all.extend(self.added.iter().map(|p| (p.as_str(), " (added)")));
        all.extend(self.removed.iter().map(|p| (p.as_str(), " (removed)")));
        all.sort();
        all.into_iter()
            .map(|(p, note)| format!("{}{note}", shown_path(p)))
            .collect()
    }

    /// What differs, for one line: `values.yaml differs`, `a, b and c differ`,
    /// `templates/deploy.yaml, values.yaml and 3 more files differ` (at most three items).
    pub fn describe(&self) -> String {
        let paths = self.paths();
        match paths.len() {
            0 => "nothing differs".into(),
            1 => format!("{} differs", paths[0]),
            2 | 3 => format!(
                "{} and {} differ",
                paths[..paths.len() - 1].join(", "),
                paths[paths.len() - 1]
            ),
            n => format!("{} and {} more files differ", paths[..2].join(", "), n - 2),
        }
    }
}

/// A path for a message: as it is when plain, escaped and quoted otherwise.
fn shown_path(p: &str) -> String {
    let plain = p
        .chars()
        .all(|c| !c.is_control() && c != '"' && c != '\\' && c != ' ' && c != ',');
    if plain {
        p.to_string()
    } else {
        shown_name(p.as_bytes())
    }
}

/// Compares the entries of two packages (`ours` against `theirs`).
pub fn compare_entries(ours: &Entries, theirs: &Entries) -> Comparison {
    let mut c = Comparison::default();
    for (path, digest) in ours {
        match theirs.get(path) {
            None => c.added.push(path.clone()),
            Some(d) if d != digest => c.changed.push(path.clone()),
            Some(_) => {}
        }
    }
    c.removed = theirs
        .keys()
        .filter(|p| !ours.contains_key(*p))
        .cloned()
        .collect();
    c
}

/// Compares the packages at `ours` and `theirs` by content (see the module documentation).
pub fn compare_packages(ours: &Path, theirs: &Path) -> Result<Comparison> {
    let a = entries_of_file(ours)?;
    let b = entries_of_file(theirs)?;
    Ok(compare_entries(&a, &b))
}

/// [`read_entries`] of the package at `path`.
pub fn entries_of_file(path: &Path) -> Result<Entries> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    read_entries(BufReader::new(file), &path.display().to_string())
}

/// Reads a gzip tar chart package, hashing each file's content as it streams by. `label` names
/// the package in errors. Paths lose their first component (the chart's directory, as Helm
/// reads them); directory entries are skipped; a link counts as a file holding its target.
/// Bounded: at most [`MAX_ENTRIES`] entries and [`INSPECT_MAX_BYTES`] of expanded data (what
/// push accepts of a package), and only `Chart.yaml`/`Chart.lock` up to Helm's 5 MiB a file are
/// buffered (to be read as data).
pub fn read_entries(reader: impl Read, label: &str) -> Result<Entries> {
    let mut archive = TarReader::new(GzDecoder::new(reader));
    let mut entries = Entries::new();
    let mut expanded = 0u64;
    while let Some(entry) = archive
        .next_entry()
        .map_err(|e| anyhow!("{label} is not a valid chart package: {e:#}"))?
    {
        if entry.is_dir() {
            continue;
        }
        let path = chart_path(&entry.path).ok_or_else(|| {
            anyhow!(
                "{label}: entry {} is not below the chart's directory",
                entry.shown_path()
            )
        })?;
        if entries.len() >= MAX_ENTRIES {
            bail!("{label} holds more than {MAX_ENTRIES} files; not comparing it");
        }
        expanded = expanded.saturating_add(entry.size);
        if expanded > INSPECT_MAX_BYTES {
            bail!(
                "{label} expands to more than {} MiB; not comparing it",
                INSPECT_MAX_BYTES >> 20
            );
        }
        let mut hasher = Sha256::new();
        if !entry.is_file() {
            // Not content Helm would load; kept apart from any file's bytes.
            hasher.update([0xff, entry.typeflag]);
            hasher.update(&entry.link);
        } else if let Some(kind) = data_file(&path) {
            let mut bytes = Vec::new();
            (&mut archive)
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| anyhow!("{label}: reading {}: {e}", shown_path(&path)))?;
            match (bytes.len() as u64 <= MAX_FILE_BYTES)
                .then(|| as_data(kind, &bytes))
                .flatten()
            {
                Some(text) => {
                    hasher.update([0xfe]);
                    hasher.update(text.as_bytes());
                }
                None => hasher.update(&bytes),
            }
        }
        // The rest of the entry (all of it, for most files), hashed as it streams.
        let mut sink = HashWriter(&mut hasher);
        io::copy(&mut archive, &mut sink)
            .map_err(|e| anyhow!("{label} is not a valid chart package: {e}"))?;
        entries.insert(path, hasher.finalize().into());
    }
    Ok(entries)
}

struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An entry's path below the chart's directory (`templates/a.yaml`), or None for one that has
/// nothing below it. `.` components are dropped.
fn chart_path(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut parts = text.split('/').filter(|p| !p.is_empty() && *p != ".");
    parts.next()?;
    let rest: Vec<&str> = parts.collect();
    (!rest.is_empty()).then(|| rest.join("/"))
}

#[derive(Clone, Copy)]
enum DataFile {
    Chart,
    Lock,
}

/// `Chart.yaml` or `Chart.lock` of the chart or of a subchart (`charts/NAME/Chart.yaml`, at
/// any depth): the files Helm writes from its model rather than copies.
fn data_file(path: &str) -> Option<DataFile> {
    let parts: Vec<&str> = path.split('/').collect();
    let (last, dir) = parts.split_last()?;
    let kind = match *last {
        "Chart.yaml" => DataFile::Chart,
        "Chart.lock" => DataFile::Lock,
        _ => return None,
    };
    let mut dir = dir;
    while let [rest @ .., "charts", _] = dir {
        dir = rest;
    }
    dir.is_empty().then_some(kind)
}

/// The data of a `Chart.yaml` or `Chart.lock`, as Helm writes it; None when it does not parse
/// (then its bytes count).
fn as_data(kind: DataFile, bytes: &[u8]) -> Option<String> {
    match kind {
        DataFile::Chart => metadata::parse(bytes).ok().map(|m| m.to_yaml()),
        DataFile::Lock => metadata::parse_lock(bytes).ok().map(|l| l.to_yaml()),
    }
}

/// What the registry holds at the version about to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The version is not there.
    Absent,
    /// It is there with the same content (`digest`: the registry's, when listed).
    Identical { digest: Option<String> },
    /// It is there with other content.
    Different {
        digest: Option<String>,
        comparison: Comparison,
    },
}

/// Compares the package at `ours` (sha256 hex `our_sha256`) with the version the registry
/// lists (`existing`): equal digests are identical without a download; otherwise the stored
/// package is downloaded (verified against its digest, into an anonymous temporary file that
/// is gone when closed) and compared entry by entry.
pub fn against_registry(
    client: &Registry,
    existing: Option<&HelmChartVersion>,
    ours: &Path,
    our_sha256: &str,
) -> Result<Stored> {
    let Some(e) = existing else {
        return Ok(Stored::Absent);
    };
    let digest = e.digest.clone();
    if digest.as_deref() == Some(our_sha256) {
        return Ok(Stored::Identical { digest });
    }
    let file_name = e.file_name();
    let context = || {
        format!(
            "{} {}: comparing with the version in the registry",
            e.name, e.version
        )
    };
    let stored = client
        .download_verified(&file_name, Expected::from(e), &Spool)
        .with_context(context)?;
    let theirs = read_entries(
        BufReader::new(stored.file),
        &format!("the stored {file_name}"),
    )
    .with_context(context)?;
    let mine = entries_of_file(ours)?;
    let comparison = compare_entries(&mine, &theirs);
    Ok(if comparison.is_identical() {
        Stored::Identical { digest }
    } else {
        Stored::Different { digest, comparison }
    })
}

/// What to do when the version is already in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail (the default) when the content differs; never overwrite.
    Fail,
    /// `--force`: replace it when the content differs.
    Replace,
    /// `--skip-existing`: keep it when the content differs, with a warning.
    Skip,
}

/// What to do with a package, decided from what the registry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Upload it: the version is not there.
    Push,
    /// The registry holds the same chart: upload nothing; the record's line.
    Unchanged(String),
    /// `--force`: upload over the version there, whose digest is `replacing` (when listed).
    Replace { replacing: Option<String> },
    /// `--dry-run`: say what would be uploaded (`replacing`: over an existing version).
    DryRun { replacing: bool },
    /// `--skip-existing` over different content: upload nothing; the record's line, and the
    /// warning that says what was kept.
    Skip {
        line: String,
        warning: Option<String>,
    },
    /// `--dry-run` of a changed chart without a version bump: the record's line.
    WouldFail(String),
    /// The command's error.
    Fail(String),
}

/// Decides what to do with chart `name` `version`, given what the registry holds (`stored`),
/// the existing-version `policy` and `--dry-run`. `repo` names the repository in messages.
pub fn plan(
    stored: &Stored,
    name: &str,
    version: &str,
    policy: Existing,
    dry_run: bool,
    repo: &str,
) -> Plan {
    let id = format!("{name} {version}");
    match stored {
        Stored::Absent if dry_run => Plan::DryRun { replacing: false },
        Stored::Absent => Plan::Push,
        Stored::Identical { .. } => {
            let note = if policy == Existing::Replace {
                " (--force uploads nothing over an identical chart)"
            } else {
                ""
            };
            Plan::Unchanged(format!(
                "Unchanged {id}: identical to the version in {repo}{note}"
            ))
        }
        Stored::Different { digest, comparison } => {
            let what = comparison.describe();
            match policy {
                Existing::Skip => Plan::Skip {
                    line: format!(
                        "Skipped {id}: already in {repo} with different content (--skip-existing)"
                    ),
                    warning: Some(format!(
                        "{id} was kept as it is in {repo} (--skip-existing), but {what}: the change is not published; bump the version to publish it"
                    )),
                },
                Existing::Fail if dry_run => Plan::WouldFail(format!(
                    "Would fail: {id} already exists in {repo} with different content: {what} (changed without a version bump); bump the version, or use --force to replace it"
                )),
                Existing::Fail => Plan::Fail(format!(
                    "{id} already exists in {repo} with different content: {what} (changed without a version bump); bump the version, or use --force to replace it"
                )),
                Existing::Replace if dry_run => Plan::DryRun { replacing: true },
                Existing::Replace => Plan::Replace {
                    replacing: digest.clone(),
                },
            }
        }
    }
}

/// Decides again when the registry refused the upload as a duplicate (409): someone pushed
/// the version between our look and our upload, or the registry refuses to overwrite.
pub fn plan_on_conflict(name: &str, version: &str, policy: Existing, repo: &str) -> Plan {
    let id = format!("{name} {version}");
    match policy {
        Existing::Skip => Plan::Skip {
            line: format!("Skipped {id}: already in {repo}"),
            warning: None,
        },
        Existing::Fail => Plan::Fail(format!(
            "{id} already exists in {repo}; use --force to replace it or --skip-existing to keep it"
        )),
        Existing::Replace => Plan::Replace { replacing: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A USTAR archive of `(path, typeflag, mtime, mode, data)`, gzipped at `level`.
    fn tgz(entries: &[(&str, u8, i64, u32, &[u8])], level: u32) -> Vec<u8> {
        let mut tar = Vec::new();
        for (path, flag, mtime, mode, data) in entries {
            let mut h = [0u8; 512];
            h[..path.len()].copy_from_slice(path.as_bytes());
            let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
                let s = format!("{v:0w$o}\0", w = len - 1);
                h[at..at + len].copy_from_slice(s.as_bytes());
            };
            octal(&mut h, 100, 8, u64::from(*mode));
            octal(&mut h, 108, 8, 0);
            octal(&mut h, 116, 8, 0);
            octal(&mut h, 124, 12, data.len() as u64);
            octal(&mut h, 136, 12, *mtime as u64);
            h[156] = *flag;
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[148..156].copy_from_slice(b"        ");
            let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
            let s = format!("{sum:06o}\0 ");
            h[148..156].copy_from_slice(s.as_bytes());
            tar.extend_from_slice(&h);
            tar.extend_from_slice(data);
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.resize(tar.len() + 1024, 0);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn entries(bytes: &[u8]) -> Entries {
        read_entries(bytes, "test.tgz").unwrap()
    }

    const CHART: &[u8] = b"apiVersion: v2\nname: app\nversion: 1.0.0\n";

    fn base(mtime: i64, level: u32) -> Vec<u8> {
        tgz(
            &[
                ("app/Chart.yaml", b'0', mtime, 0o644, CHART),
                ("app/values.yaml", b'0', mtime, 0o644, b"a: 1\n"),
                (
                    "app/templates/cm.yaml",
                    b'0',
                    mtime,
                    0o644,
                    b"kind: ConfigMap\n",
                ),
            ],
            level,
        )
    }

    #[test]
    fn times_modes_order_directories_and_gzip_do_not_count() {
        let a = base(1, 6);
        let b = tgz(
            &[
                ("app/", b'5', 99, 0o755, b""),
                (
                    "app/templates/cm.yaml",
                    b'0',
                    12345,
                    0o600,
                    b"kind: ConfigMap\n",
                ),
                ("./app/values.yaml", b'0', 777, 0o755, b"a: 1\n"),
                // Chart.yaml as other data-equal text: comments, key order, quoting.
                (
                    "app/Chart.yaml",
                    b'0',
                    5,
                    0o644,
                    b"# c\nversion: \"1.0.0\"\nname: app\napiVersion: v2\nunknown: x\n",
                ),
            ],
            1,
        );
        assert_ne!(a, b);
        let c = compare_entries(&entries(&a), &entries(&b));
        assert!(c.is_identical(), "{c:?}");
        assert_eq!(c.describe(), "nothing differs");
    }

    #[test]
    fn one_changed_byte_in_any_file_counts() {
        let files: [(&str, &[u8]); 3] = [
            ("app/Chart.yaml", CHART),
            ("app/values.yaml", b"a: 1\n"),
            ("app/templates/cm.yaml", b"kind: ConfigMap\n"),
        ];
        let a = entries(&base(1, 6));
        for i in 0..files.len() {
            let mut changed: Vec<Vec<u8>> = files.iter().map(|f| f.1.to_vec()).collect();
            // Chart.yaml: a byte of the version; other files: their first byte.
            let at = if i == 0 { changed[0].len() - 2 } else { 0 };
            changed[i][at] ^= 1;
            let list: Vec<(&str, u8, i64, u32, &[u8])> = files
                .iter()
                .zip(&changed)
                .map(|(f, d)| (f.0, b'0', 1, 0o644, d.as_slice()))
                .collect();
            let c = compare_entries(&a, &entries(&tgz(&list, 6)));
            let path = files[i].0.strip_prefix("app/").unwrap();
            assert_eq!(c.changed, vec![path.to_string()]);
            assert_eq!(c.describe(), format!("{path} differs"));
        }
    }

    #[test]
    fn added_and_removed_files_are_named() {
        let a = entries(&base(1, 6));
        let b = entries(&tgz(
            &[
                ("app/Chart.yaml", b'0', 1, 0o644, CHART),
                ("app/values.yaml", b'0', 1, 0o644, b"a: 2\n"),
                ("app/README.md", b'0', 1, 0o644, b"hi\n"),
            ],
            6,
        ));
        let c = compare_entries(&a, &b);
        assert_eq!(c.added, vec!["templates/cm.yaml"]);
        assert_eq!(c.removed, vec!["README.md"]);
        assert_eq!(c.changed, vec!["values.yaml"]);
        assert_eq!(
            c.describe(),
            "README.md (removed), templates/cm.yaml (added) and values.yaml differ"
        );
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let c = Comparison {
            changed: ["values.yaml", "templates/deploy.yaml", "a", "b", "c"]
                .map(String::from)
                .to_vec(),
            ..Comparison::default()
        };
        assert_eq!(c.describe(), "a, b and 3 more files differ");
        let c = Comparison {
            changed: vec!["templates/deploy.yaml".into(), "values.yaml".into()],
            ..Comparison::default()
        };
        assert_eq!(c.describe(), "templates/deploy.yaml and values.yaml differ");
        let c = Comparison {
            changed: vec!["a b".into()],
            ..Comparison::default()
        };
        assert_eq!(c.describe(), "\"a b\" differs");
    }

    #[test]
    fn subchart_metadata_is_data_and_other_chart_yamls_are_bytes() {
        assert!(data_file("Chart.yaml").is_some());
        assert!(data_file("Chart.lock").is_some());
        assert!(data_file("charts/db/Chart.yaml").is_some());
        assert!(data_file("charts/db/charts/x/Chart.lock").is_some());
        assert!(data_file("templates/Chart.yaml").is_none());
        assert!(data_file("charts/Chart.yaml").is_none());
        assert!(data_file("files/charts/x/Chart.yaml").is_none());
        let reordered = b"version: 1.0.0\nname: app\napiVersion: v2\n";
        let a = entries(&tgz(
            &[("app/templates/Chart.yaml", b'0', 1, 0o644, CHART)],
            6,
        ));
        let b = entries(&tgz(
            &[("app/templates/Chart.yaml", b'0', 1, 0o644, reordered)],
            6,
        ));
        assert!(!compare_entries(&a, &b).is_identical());
        let a = entries(&tgz(
            &[("app/charts/db/Chart.yaml", b'0', 1, 0o644, CHART)],
            6,
        ));
        let b = entries(&tgz(
            &[("app/charts/db/Chart.yaml", b'0', 1, 0o644, reordered)],
            6,
        ));
        assert!(compare_entries(&a, &b).is_identical());
    }

    #[test]
    fn a_broken_or_huge_package_is_an_error_not_a_difference() {
        let e = read_entries(&b"not gzip"[..], "x.tgz").unwrap_err();
        assert!(
            format!("{e:#}").starts_with("x.tgz is not a valid chart package"),
            "{e:#}"
        );
        let mut cut = base(1, 6);
        cut.truncate(cut.len() / 2);
        assert!(read_entries(cut.as_slice(), "x.tgz").is_err());
    }

    #[test]
    fn packages_compare_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tgz");
        let b = dir.path().join("b.tgz");
        std::fs::write(&a, base(1, 6)).unwrap();
        std::fs::write(&b, base(2, 9)).unwrap();
        assert!(compare_packages(&a, &b).unwrap().is_identical());
    }

    #[test]
    fn the_plan_follows_the_content() {
        let same = Stored::Identical { digest: None };
        let changed = |n: usize| Stored::Different {
            digest: Some("cd".repeat(32)),
            comparison: Comparison {
                changed: (0..n).map(|i| format!("f{i}")).collect(),
                ..Comparison::default()
            },
        };
        for policy in [Existing::Fail, Existing::Skip, Existing::Replace] {
            for dry_run in [false, true] {
                let p = plan(&Stored::Absent, "app", "1.0.0", policy, dry_run, "r");
                let want = if dry_run {
                    Plan::DryRun { replacing: false }
                } else {
                    Plan::Push
                };
                assert_eq!(p, want);
                let Plan::Unchanged(line) = plan(&same, "app", "1.0.0", policy, dry_run, "r")
                else {
                    panic!("identical content is unchanged")
                };
                assert!(line.starts_with("Unchanged app 1.0.0: identical to the version in r"));
            }
        }
        assert_eq!(
            plan(&changed(5), "app", "1.0.0", Existing::Fail, false, "r"),
            Plan::Fail("app 1.0.0 already exists in r with different content: f0, f1 and 3 more files differ (changed without a version bump); bump the version, or use --force to replace it".into())
        );
        assert!(matches!(
            plan(&changed(1), "app", "1.0.0", Existing::Fail, true, "r"),
            Plan::WouldFail(l) if l.starts_with("Would fail: app 1.0.0 already exists in r with different content: f0 differs")
        ));
        assert!(matches!(
            plan(&changed(1), "app", "1.0.0", Existing::Skip, false, "r"),
            Plan::Skip { warning: Some(w), .. } if w.contains("f0 differs")
        ));
        assert_eq!(
            plan(&changed(1), "app", "1.0.0", Existing::Replace, false, "r"),
            Plan::Replace {
                replacing: Some("cd".repeat(32))
            }
        );
        assert_eq!(
            plan(&changed(1), "app", "1.0.0", Existing::Replace, true, "r"),
            Plan::DryRun { replacing: true }
        );
    }

    #[test]
    fn a_refused_upload_is_decided_again() {
        assert_eq!(
            plan_on_conflict("app", "1.0.0", Existing::Skip, "r"),
            Plan::Skip {
                line: "Skipped app 1.0.0: already in r".into(),
                warning: None
            }
        );
        assert_eq!(
            plan_on_conflict("app", "1.0.0", Existing::Fail, "r"),
            Plan::Fail("app 1.0.0 already exists in r; use --force to replace it or --skip-existing to keep it".into())
        );
        assert_eq!(
            plan_on_conflict("app", "1.0.0", Existing::Replace, "r"),
            Plan::Replace { replacing: None }
        );
    }
}
