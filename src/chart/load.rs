//! Loading a chart the way Helm's loader does, without holding file contents in memory:
//! the directory walk (`.helmignore`, symlinks followed, Helm's refusals), the sorting of files
//! into a chart (Chart.yaml, Chart.lock, values, schema, templates, other files, subcharts),
//! expansion of `charts/*.tgz`, and validation.
//!
//! Only the small files Helm interprets (Chart.yaml, Chart.lock, requirements.*, values.yaml,
//! values.schema.json; each at most 5 MiB) are read here; every other file is a [`Source`]
//! streamed later by the packager. Subchart archives are unpacked into a temporary directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use flate2::read::GzDecoder;

use super::ignore::Rules;
use super::metadata::{self, Lock, Metadata};
use super::tar_reader::{shown_name, TarReader};
use super::yaml::{self, Node};

/// Helm refuses chart files larger than this (5 MiB).
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// Helm refuses archives that expand to more than this (100 MiB).
pub const MAX_ARCHIVE_SIZE: u64 = 100 * 1024 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One file of a chart: its chart-relative name and where its bytes are.
#[derive(Debug, Clone)]
pub struct Source {
    /// `/`-separated, relative to the chart it belongs to.
    pub name: String,
    /// Where to read it (a leading UTF-8 BOM is dropped when it is read).
    pub path: PathBuf,
    /// Seconds since the epoch (rounded, as Go's tar writer rounds).
    pub mtime: i64,
}

/// A loaded chart, ready to be written.
#[derive(Debug)]
pub struct Chart {
    pub metadata: Metadata,
    /// Modification time of Chart.yaml.
    pub metadata_mtime: i64,
    /// `Chart.lock` (or `requirements.lock`) and the time Helm 4 stamps it with.
    pub lock: Option<(Lock, i64)>,
    pub values: Option<Source>,
    pub schema: Option<Source>,
    pub templates: Vec<Source>,
    pub files: Vec<Source>,
    pub subcharts: Vec<Chart>,
    /// Keeps unpacked subchart archives alive as long as the chart.
    pub(crate) _spill: Vec<Arc<tempfile::TempDir>>,
}

fn mtime_secs(t: io::Result<SystemTime>) -> i64 {
    match t {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64 + i64::from(d.subsec_nanos() >= 500_000_000),
            Err(e) => {
                let d = e.duration();
                -(d.as_secs() as i64) - i64::from(d.subsec_nanos() >= 500_000_000)
            }
        },
        Err(_) => 0,
    }
}

/// Reads a small file whole, dropping a leading BOM (as Helm's loader does).
fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    fs::File::open(path)?
        .take(MAX_FILE_SIZE + 3)
        .read_to_end(&mut data)?;
    if data.starts_with(UTF8_BOM) {
        data.drain(..3);
    }
    Ok(data)
}

// ---------------------------------------------------------------------------------------------
// Directory walk

/// The most entries (files, directories and symbolic links, ignored ones included) a chart
/// directory walk visits unless its caller says otherwise. Symbolic links are followed as
/// Helm follows them, so a linked directory counts its content again each time it is reached;
/// without a bound a few links to links make the walk exponential. A chart installs as one
/// Kubernetes Secret of at most 1 MiB, so no installable chart comes near this.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// The setting that raises [`DEFAULT_MAX_ENTRIES`] (named in the error; read by the caller).
pub const MAX_ENTRIES_SETTING: &str = "HELM_CCR_MAX_ENTRIES";

/// A directory on the current descent.
struct Dir {
    abs: PathBuf,
    rel: String,
    /// Device and inode: the directory itself, however it was reached.
    id: (u64, u64),
    /// Its entries not walked yet, in Helm's (bytewise) order.
    names: std::vec::IntoIter<OsString>,
}

/// Helm's walk (`sympath.Walk`): depth first, entries sorted bytewise, symbolic links followed
/// (the link's name, the target's content). Iterative, so depth costs no stack; a directory met
/// again on its own descent is a loop (Helm goes round until the system refuses the path).
struct Walker<'a> {
    rules: &'a Rules,
    label: &'a str,
    max_entries: usize,
    entries: usize,
    out: Vec<Source>,
    /// The directories from the chart's root to the one being walked.
    stack: Vec<Dir>,
}

impl Walker<'_> {
    fn run(mut self, root: &Path, meta: &fs::Metadata) -> Result<Vec<Source>> {
        let label = self.label;
        self.enter(root.to_path_buf(), String::new(), meta)?;
        while let Some(dir) = self.stack.last_mut() {
            let Some(name) = dir.names.next() else {
                self.stack.pop();
                continue;
            };
            let name_str = name.to_str().ok_or_else(|| {
                anyhow!(
                    "chart {label:?}: {}: file name is not valid UTF-8",
                    Path::new(&dir.rel).join(&name).display()
                )
            })?;
            let rel = if dir.rel.is_empty() {
                name_str.to_string()
            } else {
                format!("{}/{name_str}", dir.rel)
            };
            let abs = dir.abs.join(&name);
            self.entries += 1;
            if self.entries > self.max_entries {
                return Err(self.too_many(&rel));
            }
            self.visit(abs, rel)?;
        }
        Ok(self.out)
    }

    /// The error of a walk that would visit more than `max_entries` entries.
    fn too_many(&self, at: &str) -> anyhow::Error {
        anyhow!(
            "chart {:?}: more than {} files, directories and links (stopped at {at}; a linked directory counts again each time it is reached); set {MAX_ENTRIES_SETTING} to a higher number if the chart really holds that many",
            self.label,
            self.max_entries
        )
    }

    /// One entry of a directory: a file is taken (or refused), a directory entered.
    fn visit(&mut self, abs: PathBuf, rel: String) -> Result<()> {
        let label = self.label;
        let mut meta =
            fs::symlink_metadata(&abs).with_context(|| format!("chart {label:?}: {rel}"))?;
        if meta.file_type().is_symlink() {
            meta = fs::metadata(&abs)
                .map_err(|e| anyhow!("chart {label:?}: {rel}: broken symbolic link ({e})"))?;
        }
        if meta.is_dir() {
            if self.rules.ignore(&rel, true) {
                return Ok(());
            }
            return self.enter(abs, rel, &meta);
        }
        if self.rules.ignore(&rel, false) {
            return Ok(());
        }
        if !meta.is_file() {
            bail!(
                "chart {label:?}: {rel}: not a regular file (fifo, socket or device); Helm refuses irregular files"
            );
        }
        if meta.len() > MAX_FILE_SIZE {
            bail!(
                "chart {label:?}: {rel}: file is larger than Helm's maximum of 5 MiB ({} bytes)",
                meta.len()
            );
        }
        self.out.push(Source {
            name: rel,
            path: abs,
            mtime: mtime_secs(meta.modified()),
        });
        Ok(())
    }

    /// Reads a directory's names and puts it on the descent, unless it is already there.
    fn enter(&mut self, abs: PathBuf, rel: String, meta: &fs::Metadata) -> Result<()> {
        let label = self.label;
        let id = (meta.dev(), meta.ino());
        if self.stack.iter().any(|d| d.id == id) {
            bail!("chart {label:?}: {rel}: symbolic link loop");
        }
        let reading = || format!("chart {label:?}: reading directory {}", abs.display());
        // Every name read is visited (and counted) later: a directory with more names than the
        // bound leaves is refused before they are all in memory.
        let mut names: Vec<OsString> = Vec::new();
        for e in fs::read_dir(&abs).with_context(reading)? {
            names.push(e.with_context(reading)?.file_name());
            if self.entries + names.len() > self.max_entries {
                return Err(self.too_many(if rel.is_empty() { "." } else { &rel }));
            }
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        self.stack.push(Dir {
            abs,
            rel,
            id,
            names: names.into_iter(),
        });
        Ok(())
    }
}

/// A display label for a chart directory or archive: its base name.
pub fn label_for(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    abs.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| abs.display().to_string())
}

/// Loads and validates a chart directory as `helm package` does, walking at most
/// `max_entries` entries ([`DEFAULT_MAX_ENTRIES`] unless the user raised it with
/// [`MAX_ENTRIES_SETTING`]).
pub fn load_dir(dir: &Path, max_entries: usize) -> Result<Chart> {
    let label = label_for(dir);
    let meta = fs::metadata(dir).with_context(|| format!("chart {label:?}: {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("chart {label:?}: {} is not a directory", dir.display());
    }
    let ignore_file = dir.join(".helmignore");
    let mut rules = match fs::metadata(&ignore_file) {
        Ok(_) => {
            let data = fs::read(&ignore_file)
                .with_context(|| format!("chart {label:?}: .helmignore: cannot read"))?;
            Rules::parse(&data).map_err(|e| anyhow!("chart {label:?}: .helmignore: {e}"))?
        }
        Err(_) => Rules::empty(),
    };
    rules.add_defaults();
    let files = Walker {
        rules: &rules,
        label: &label,
        max_entries,
        entries: 0,
        out: Vec::new(),
        stack: Vec::new(),
    }
    .run(dir, &meta)?;
    load_files(files, &label)
}

/// Loads and validates a chart package (`.tgz`) as Helm's archive loader does.
pub fn load_archive(tgz: &Path) -> Result<Chart> {
    let label = label_for(tgz);
    let spill = Arc::new(tempfile::tempdir().context("creating a temporary directory")?);
    let file = fs::File::open(tgz).with_context(|| format!("{}: cannot open", tgz.display()))?;
    let files = unpack_archive(file, spill.path(), &label)?;
    let mut c = load_files(files, &label)?;
    c._spill.push(spill);
    Ok(c)
}

/// Unpacks an archive's files into `spill` (numbered, not by name) with Helm's rules: the
/// first path component is dropped, unsafe paths are refused, 5 MiB per file, 100 MiB total.
fn unpack_archive(r: impl Read, spill: &Path, label: &str) -> Result<Vec<Source>> {
    let mut ar = TarReader::new(GzDecoder::new(io::BufReader::new(r)));
    let mut out = Vec::new();
    let mut remaining = MAX_ARCHIVE_SIZE;
    let mut i = 0usize;
    while let Some(entry) = ar
        .next_entry()
        .map_err(|e| anyhow!("chart {label:?}: bad archive: {e:#}"))?
    {
        i += 1;
        // Extension headers are applied by the reader; directories carry nothing.
        if entry.is_dir() {
            continue;
        }
        let shown = entry.shown_path();
        let raw = String::from_utf8(entry.path.clone())
            .map_err(|_| anyhow!("chart {label:?}: the entry name {shown} is not valid UTF-8"))?;
        if raw.ends_with('/') {
            continue;
        }
        let delim = if raw.contains('\\') { '\\' } else { '/' };
        let parts: Vec<&str> = raw.split(delim).collect();
        let n = parts[1..].join("/");
        if n.starts_with('/') {
            bail!("chart {label:?}: archive illegally contains absolute paths");
        }
        let n = clean_path(&n);
        if n == "." {
            bail!("chart {label:?}: archive entry {shown} is outside the chart directory");
        }
        if n.starts_with("..") {
            bail!("chart {label:?}: archive illegally references parent directory");
        }
        let nb = n.as_bytes();
        if nb.len() >= 2 && nb[0].is_ascii_alphabetic() && nb[1] == b':' {
            bail!("chart {label:?}: archive contains illegally named files");
        }
        if parts[0] == "Chart.yaml" {
            bail!("chart {label:?}: Chart.yaml is not in the archive's base directory");
        }
        // The size the archive really carries (a PAX size record included).
        let size = entry.size;
        if size > remaining {
            bail!("chart {label:?}: archive expands to more than 100 MiB");
        }
        if size > MAX_FILE_SIZE {
            bail!(
                "chart {label:?}: {}: file is larger than Helm's maximum of 5 MiB",
                shown_name(n.as_bytes())
            );
        }
        let mtime = entry.mtime;
        let dest = spill.join(format!("{i}"));
        let mut f = fs::File::create(&dest).context("writing a temporary file")?;
        let mut head = [0u8; 3];
        let mut got = 0;
        while got < 3 {
            let k = ar.read(&mut head[got..])?;
            if k == 0 {
                break;
            }
            got += k;
        }
        let skip = if got == 3 && head == *UTF8_BOM { 3 } else { 0 };
        io::Write::write_all(&mut f, &head[skip..got])?;
        let copied = io::copy(&mut (&mut ar).take(remaining), &mut f)? + got as u64;
        remaining = remaining.saturating_sub(copied);
        if copied < size || remaining == 0 {
            bail!("chart {label:?}: archive expands to more than 100 MiB");
        }
        out.push(Source {
            name: n,
            path: dest,
            mtime,
        });
    }
    if out.is_empty() {
        bail!("chart {label:?}: no files in chart archive");
    }
    Ok(out)
}

/// Go's `path.Clean`.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

// ---------------------------------------------------------------------------------------------
// Sorting files into a chart (Helm's LoadFiles)

fn parse_values(data: &[u8]) -> std::result::Result<(), String> {
    let text = std::str::from_utf8(data).map_err(|_| "not valid UTF-8".to_string())?;
    // Helm 3 reads the first document; Helm 4 reads and merges every document. Each must be
    // a mapping (or empty).
    for doc in split_documents(text) {
        let node = yaml::parse_first_document(doc).map_err(|e| format!("invalid YAML: {e}"))?;
        match &node {
            Node::Null => {}
            Node::Map(_) => check_keys(&node)?,
            other => return Err(format!("values must be a map, found {}", other.kind_name())),
        }
    }
    Ok(())
}

/// Every map key must be convertible to a JSON key (as Helm's YAML layer requires).
fn check_keys(n: &Node) -> std::result::Result<(), String> {
    match n {
        Node::Map(m) => {
            for (k, v) in m {
                yaml::map_key_string(k)?;
                check_keys(v)?;
            }
            Ok(())
        }
        Node::Seq(items) => items.iter().try_for_each(check_keys),
        _ => Ok(()),
    }
}

/// Splits a YAML stream at `---` document markers (at the start of a line), as the Kubernetes
/// YAML reader Helm 4 uses does.
fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end_matches(['\n', '\r']);
        if t == "---" || (t.starts_with("--- ") || t.starts_with("---\t")) {
            if pos > start {
                docs.push(&text[start..pos]);
            }
            start = pos;
        }
        pos += line.len();
    }
    if pos > start {
        docs.push(&text[start..pos]);
    }
    if docs.is_empty() {
        docs.push("");
    }
    docs
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Seconds since the epoch of a normalised RFC 3339 time (as `metadata` prints them).
fn rfc3339_secs(s: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    let mut t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    let rest = &s[19..];
    let frac_end = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let frac = rest[..frac_end].trim_start_matches('.');
    if frac.as_bytes().first().is_some_and(|c| *c >= b'5') {
        t += 1;
    }
    let zone = &rest[frac_end..];
    if zone.len() == 6 {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let zh: i64 = zone[1..3].parse().ok()?;
        let zm: i64 = zone[4..6].parse().ok()?;
        t -= sign * (zh * 3600 + zm * 60);
    }
    Some(t)
}

/// Helm's `LoadFiles`: sorts the files into a chart, loads subcharts, validates.
pub fn load_files(files: Vec<Source>, label: &str) -> Result<Chart> {
    let (mut md, md_mtime) = read_chart_yaml(&files, label)?;
    let mut c = Chart {
        metadata: Metadata::default(),
        metadata_mtime: md_mtime,
        lock: None,
        values: None,
        schema: None,
        templates: Vec::new(),
        files: Vec::new(),
        subcharts: Vec::new(),
        _spill: Vec::new(),
    };
    let subcharts = sort_files(files, &mut md, &mut c, label)?;
    md.validate()
        .map_err(|e| anyhow!("chart {label:?}: Chart.yaml: {e}"))?;
    c.metadata = md;
    for (cname, files) in subcharts {
        if cname.starts_with('_') || cname.starts_with('.') {
            continue;
        }
        let sc = load_subchart(&cname, files, label, &c.metadata.name)?;
        c.subcharts.push(sc);
    }
    Ok(c)
}

/// The parsed `Chart.yaml` among `files`, and its modification time.
fn read_chart_yaml(files: &[Source], label: &str) -> Result<(Metadata, i64)> {
    let err = |msg: String| anyhow!("chart {label:?}: Chart.yaml: {msg}");
    let mut found = None;
    for f in files {
        if f.name == "Chart.yaml" {
            let data = read_small(&f.path).map_err(|e| err(e.to_string()))?;
            let m = metadata::parse(&data).map_err(|e| err(format!("{e:#}")))?;
            found = Some((m, f.mtime));
        }
    }
    found.ok_or_else(|| anyhow!("chart {label:?}: Chart.yaml is missing"))
}

/// Puts each file where Helm's loader puts it (lock, values, schema, templates, other files),
/// checking what Helm checks on the way; returns the entries of `charts/`, by subchart.
fn sort_files(
    files: Vec<Source>,
    md: &mut Metadata,
    c: &mut Chart,
    label: &str,
) -> Result<BTreeMap<String, Vec<Source>>> {
    let err = |file: &str, msg: String| anyhow!("chart {label:?}: {file}: {msg}");
    let mut subcharts: BTreeMap<String, Vec<Source>> = BTreeMap::new();
    for f in files {
        let name = f.name.as_str();
        match name {
            "Chart.yaml" => {}
            "Chart.lock" | "requirements.lock" => {
                let data = read_small(&f.path).map_err(|e| err(name, e.to_string()))?;
                let lock = metadata::parse_lock(&data).map_err(|e| err(name, format!("{e:#}")))?;
                let t = if lock.generated.starts_with("0001-01-01T00:00:00") {
                    f.mtime
                } else {
                    rfc3339_secs(&lock.generated).unwrap_or(f.mtime)
                };
                c.lock = Some((lock, t));
                if name == "requirements.lock" && md.api_version == "v1" {
                    c.files.push(f);
                }
            }
            "values.yaml" => {
                let data = read_small(&f.path).map_err(|e| err(name, e.to_string()))?;
                parse_values(&data).map_err(|e| err(name, e))?;
                c.values = Some(f);
            }
            "values.schema.json" => c.schema = Some(f),
            "requirements.yaml" => {
                let data = read_small(&f.path).map_err(|e| err(name, e.to_string()))?;
                md.merge_yaml(&data)
                    .map_err(|e| err(name, format!("{e:#}")))?;
                if md.api_version == "v1" {
                    c.files.push(f);
                }
            }
            _ if name.starts_with("templates/") => c.templates.push(f),
            _ if name.starts_with("charts/") => {
                if name.ends_with(".prov") {
                    c.files.push(f);
                    continue;
                }
                let rest = &name["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or("").to_string();
                subcharts.entry(cname).or_default().push(f);
            }
            _ => c.files.push(f),
        }
    }
    Ok(subcharts)
}

/// Loads the subchart `charts/<cname>` of chart `parent` (at `label`): an archive
/// (`charts/x.tgz`, unpacked into a spill directory the subchart keeps) or a directory.
fn load_subchart(cname: &str, files: Vec<Source>, label: &str, parent: &str) -> Result<Chart> {
    let sub_label = format!("{label}/charts/{cname}");
    let wrap = |e: anyhow::Error| anyhow!("{e:#} (while loading subchart {cname} of {parent})");
    if cname.ends_with(".tgz") {
        let first = &files[0];
        if first.name != format!("charts/{cname}") {
            bail!("chart {label:?}: charts/{cname}: expected a chart archive, found a directory");
        }
        let spill = Arc::new(tempfile::tempdir().context("creating a temporary directory")?);
        let file = fs::File::open(&first.path)
            .with_context(|| format!("chart {label:?}: charts/{cname}: cannot open"))?;
        let inner = unpack_archive(file, spill.path(), &sub_label).map_err(wrap)?;
        let mut sc = load_files(inner, &sub_label).map_err(wrap)?;
        sc._spill.push(spill);
        return Ok(sc);
    }
    let prefix_len = "charts/".len() + cname.len() + 1;
    let inner: Vec<Source> = files
        .into_iter()
        .filter(|f| f.name.len() > prefix_len)
        .map(|f| Source {
            name: f.name[prefix_len..].to_string(),
            ..f
        })
        .collect();
    if inner.is_empty() {
        bail!(
            "chart {label:?}: charts/{cname}: not a chart (Helm loads every entry in charts/ as a subchart; Chart.yaml is missing)"
        );
    }
    load_files(inner, &sub_label).map_err(wrap)
}

/// Helm's check that every dependency in Chart.yaml is present in charts/ (by chart name).
pub fn check_dependencies(c: &Chart, label: &str) -> Result<()> {
    let missing: Vec<&str> = c
        .metadata
        .dependencies
        .iter()
        .filter(|d| !c.subcharts.iter().any(|s| s.metadata.name == d.name))
        .map(|d| d.name.as_str())
        .collect();
    if !missing.is_empty() {
        bail!(
            "chart {label:?}: Chart.yaml: dependencies missing in charts/: {} (push with -u/--dependency-update, or run `helm dependency update` first)",
            missing.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
