//! Reading chart packages: checking a ready `.tgz` before it is pushed, and unpacking a pulled
//! one safely (`--untar`) within Helm's limits.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use flate2::read::GzDecoder;

use crate::chart::metadata::{self, Metadata};
use crate::chart::tar_reader::{shown_name, EntryHeader, TarReader};
use crate::support::hashing::Hashing;

/// Helm refuses packages that expand to more than this.
pub const MAX_TOTAL_BYTES: u64 = 100 << 20;
/// Helm refuses files in a package larger than this.
pub const MAX_FILE_BYTES: u64 = 5 << 20;
/// Inspecting a package before a push stops at this much expanded data: far above what Helm
/// loads, so only a package no Helm could use meets it.
pub const INSPECT_MAX_BYTES: u64 = 1 << 30;

fn open(path: &Path) -> Result<TarReader<GzDecoder<BufReader<File>>>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(TarReader::new(GzDecoder::new(BufReader::new(file))))
}

/// Splits an entry path into its components, refusing absolute paths, `..`, drive letters
/// and backslashes. Returns the components after the first (the chart's own directory) and
/// that first component.
fn split_entry(raw: &[u8]) -> Result<(String, Vec<String>)> {
    let shown = shown_name(raw);
    let text =
        std::str::from_utf8(raw).map_err(|_| anyhow!("the entry name {shown} is not UTF-8"))?;
    if text.starts_with('/') || text.contains('\\') || text.contains('\0') {
        bail!("entry {shown} has an absolute or unsafe path");
    }
    let mut parts = Vec::new();
    for c in Path::new(text).components() {
        match c {
            Component::Normal(s) => {
                let s = s.to_str().unwrap_or_default();
                if s.contains(':') && parts.is_empty() && s.len() == 2 {
                    bail!("entry {shown} has a drive letter");
                }
                parts.push(s.to_string());
            }
            Component::CurDir => {}
            _ => bail!("entry {shown} leaves the chart directory"),
        }
    }
    if parts.is_empty() {
        bail!("entry {shown} is empty");
    }
    let top = parts.remove(0);
    Ok((top, parts))
}

/// What [`inspect`] found.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub metadata: Metadata,
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Bytes the package expands to (its files' sizes).
    pub expanded: u64,
    /// One line when Helm will refuse to load the package (a file over 5 MiB, or over
    /// 100 MiB in all), else none.
    pub warnings: Vec<String>,
}

/// Checks a ready package: a gzip tar whose top-level `Chart.yaml` holds a name and a version.
/// Returns its metadata, with the SHA-256 and size of the file, all in one read of the file,
/// and measures what it expands to against Helm's load limits. Reads the whole archive, so a
/// truncated file is caught here; a package expanding to more than [`INSPECT_MAX_BYTES`] is
/// refused without reading further.
pub fn inspect(path: &Path) -> Result<Inspected> {
    inspect_as(path, &path.display().to_string())
}

/// [`inspect`], naming the package `label` in errors and warnings (the chart directory a
/// temporary package was made from).
pub fn inspect_as(path: &Path, label: &str) -> Result<Inspected> {
    let what = label;
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let hashing = Hashing::new(file);
    // GzDecoder reads through a buffer of its own.
    let mut archive = TarReader::new(GzDecoder::new(hashing));
    let mut found: Option<Metadata> = None;
    let mut top_dir: Option<String> = None;
    let mut expanded = 0u64;
    let mut over_file_limit: Vec<(String, u64)> = Vec::new();
    while let Some(entry) = archive
        .next_entry()
        .map_err(|e| anyhow!("{what} is not a valid chart package: {e:#}"))?
    {
        let (top, rest) = split_entry(&entry.path).map_err(|e| anyhow!("{what}: {e}"))?;
        match &top_dir {
            None => top_dir = Some(top.clone()),
            Some(t) if *t != top => bail!(
                "{what}: entries lie in two top-level directories ({} and {})",
                shown_name(t.as_bytes()),
                shown_name(top.as_bytes())
            ),
            _ => {}
        }
        if entry.is_file() {
            expanded = expanded.saturating_add(entry.size);
            if expanded > INSPECT_MAX_BYTES {
                bail!(
                    "{what} expands to more than {} MiB; not reading further (Helm loads at most {} MiB)",
                    INSPECT_MAX_BYTES >> 20,
                    MAX_TOTAL_BYTES >> 20
                );
            }
            if entry.size > MAX_FILE_BYTES {
                over_file_limit.push((rest.join("/"), entry.size));
            }
        }
        if rest.len() == 1 && rest[0] == "Chart.yaml" && entry.is_file() {
            let mut bytes = Vec::new();
            (&mut archive)
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| anyhow!("{what}: reading Chart.yaml: {e}"))?;
            let md = metadata::parse(&bytes).map_err(|e| anyhow!("{what}: Chart.yaml: {e:#}"))?;
            found = Some(md);
        }
        io::copy(&mut archive, &mut io::sink())
            .map_err(|e| anyhow!("{what} is not a valid chart package: {e}"))?;
    }
    // The hash covers the whole file: what follows the archive's end too (as before, those
    // bytes are not interpreted).
    let mut hashing = archive.into_inner().into_inner();
    io::copy(&mut hashing, &mut io::sink()).with_context(|| format!("reading {what}"))?;
    let Some(md) = found else {
        bail!("{what} is not a chart package: no Chart.yaml in its top-level directory");
    };
    if md.name.trim().is_empty() {
        bail!("{what}: Chart.yaml has no name");
    }
    // The name becomes a path segment of every request: a plain name only.
    super::metadata::check_chart_name(&md.name)
        .map_err(|e| anyhow!("{what}: Chart.yaml: the chart name is invalid: {e}"))?;
    if md.version.trim().is_empty() {
        bail!("{what}: Chart.yaml has no version");
    }
    let warnings = load_limit_warning(what, expanded, &over_file_limit)
        .into_iter()
        .collect();
    let (_, sha256, size) = hashing.finish();
    Ok(Inspected {
        metadata: md,
        sha256,
        size,
        expanded,
        warnings,
    })
}

/// One line saying why Helm will refuse to load a package (`what`, expanding to `expanded`
/// bytes, with these files over 5 MiB), or None when it will not.
pub fn load_limit_warning(
    what: &str,
    expanded: u64,
    big_files: &[(String, u64)],
) -> Option<String> {
    let mut reasons = Vec::new();
    if let Some((name, size)) = big_files.first() {
        let more = match big_files.len() {
            1 => String::new(),
            n => format!(
                " (and {} more file{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        };
        reasons.push(format!(
            "{} is {}, over its limit of 5 MiB a file{more}",
            shown_name(name.as_bytes()),
            mib(*size)
        ));
    }
    if expanded > MAX_TOTAL_BYTES {
        reasons.push(format!(
            "the package expands to {}, over its limit of 100 MiB in all",
            mib(expanded)
        ));
    }
    if reasons.is_empty() {
        return None;
    }
    Some(format!(
        "{what}: Helm 3.17.3+ and Helm 4 will refuse to load this chart (install, upgrade, template, pull --untar): {}; no Helm flag or setting raises these limits",
        reasons.join(", and ")
    ))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Unpacks a package into `untar_dir/<chart name>` the way `helm pull --untar` does: the
/// name comes from its `Chart.yaml`, which must be there, and the archive's top directory must
/// be that name. Anything that would land outside is refused: absolute paths, `..`, links,
/// devices. Helm's limits apply (100 MiB in all, 5 MiB a file, counting the sizes the archive
/// really carries). The files land in a temporary directory first and are renamed into place
/// only when all is well; a directory already there is an error.
pub fn untar(path: &Path, untar_dir: &Path) -> Result<PathBuf> {
    untar_as(path, &path.display().to_string(), untar_dir)
}

/// [`untar`], naming the package `label` in errors (a pulled package's registry file name
/// rather than its temporary file).
pub fn untar_as(path: &Path, label: &str, untar_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(untar_dir)
        .with_context(|| format!("creating {}", untar_dir.display()))?;
    let staging = crate::support::cleanup::create(|| {
        tempfile::Builder::new()
            .prefix(".helm-ccr-untar-")
            .tempdir_in(untar_dir)
    })
    .with_context(|| format!("creating a temporary directory in {}", untar_dir.display()))?;
    let what = label;
    let mut archive = open(path)?;
    let mut seen = Unpacked::default();
    while let Some(entry) = archive
        .next_entry()
        .map_err(|e| anyhow!("{what} is not a valid chart package: {e:#}"))?
    {
        let (top, rest) = split_entry(&entry.path).map_err(|e| anyhow!("{what}: {e}"))?;
        if !seen.admit(&entry, &top, &rest, what)? {
            continue;
        }
        let name = entry.shown_path();
        let mut dest = staging.path().join(&top);
        for part in &rest {
            dest.push(part);
        }
        if let Some(parent) = dest.parent() {
            dir_builder()
                .create(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut file = file_options()
            .open(&dest)
            .with_context(|| format!("{what}: writing {name}"))?;
        if rest.len() == 1 && rest[0] == "Chart.yaml" {
            let chart = unpack_chart_yaml(&mut archive, &mut file, &top, what, &name)?;
            seen.chart_name = Some(chart);
        } else {
            io::copy(&mut archive, &mut file)
                .map_err(|e| anyhow!("{what}: reading {name}: {e}"))?;
        }
    }
    if seen.top_dir.is_none() {
        bail!("{what} is empty");
    }
    let Some(chart) = seen.chart_name else {
        bail!("{what} is not a chart package: no Chart.yaml in its top-level directory");
    };
    let target = untar_dir.join(&chart);
    if target.symlink_metadata().is_ok() {
        bail!(
            "{} already exists; remove it or choose another --untardir",
            target.display()
        );
    }
    std::fs::rename(staging.path().join(&chart), &target)
        .with_context(|| format!("moving the chart into {}", target.display()))?;
    Ok(target)
}

/// What an unpack has met so far: the archive's one top directory, the chart's name (from its
/// Chart.yaml) and the bytes the files carry.
#[derive(Default)]
struct Unpacked {
    top_dir: Option<String>,
    chart_name: Option<String>,
    total: u64,
}

impl Unpacked {
    /// Checks an entry as Helm would let it land (one top directory, only regular files below
    /// it, Helm's size limits): true for a file to write, false for a directory to skip.
    fn admit(
        &mut self,
        entry: &EntryHeader,
        top: &str,
        rest: &[String],
        what: &str,
    ) -> Result<bool> {
        let name = entry.shown_path();
        match &self.top_dir {
            None => {
                if top == "." || top == ".." {
                    bail!(
                        "{what}: bad top-level directory {}",
                        shown_name(top.as_bytes())
                    );
                }
                self.top_dir = Some(top.to_string())
            }
            Some(t) if t != top => bail!(
                "{what}: entries lie in two top-level directories ({} and {})",
                shown_name(t.as_bytes()),
                shown_name(top.as_bytes())
            ),
            _ => {}
        }
        if entry.is_dir() {
            return Ok(false);
        }
        if entry.is_symlink() || entry.is_hard_link() {
            bail!("{what}: entry {name} is a link; chart packages hold only files");
        }
        if !entry.is_file() {
            bail!("{what}: entry {name} is not a regular file");
        }
        if rest.is_empty() {
            bail!("{what}: entry {name} is a file at the top level");
        }
        // The size the archive really carries for this entry (a PAX size included).
        if entry.size > MAX_FILE_BYTES {
            bail!("{what}: {name} is larger than Helm's limit of 5 MiB a file");
        }
        self.total = self.total.saturating_add(entry.size);
        if self.total > MAX_TOTAL_BYTES {
            bail!("{what} expands to more than Helm's limit of 100 MiB");
        }
        Ok(true)
    }
}

/// Writes the package's Chart.yaml to `file` once it is read and checked: a valid chart name
/// that is also the archive's top directory. Returns the name.
fn unpack_chart_yaml(
    archive: &mut impl Read,
    file: &mut std::fs::File,
    top: &str,
    what: &str,
    name: &str,
) -> Result<String> {
    let mut bytes = Vec::new();
    archive
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("{what}: reading {name}: {e}"))?;
    let md = metadata::parse(&bytes).map_err(|e| anyhow!("{what}: Chart.yaml: {e:#}"))?;
    super::metadata::check_chart_name(&md.name)
        .map_err(|e| anyhow!("{what}: Chart.yaml: the chart name is invalid: {e}"))?;
    if md.name != top {
        bail!(
            "{what}: its files lie in {}/, but Chart.yaml names the chart {}; refusing to unpack a package whose top directory is not the chart's name",
            shown_name(top.as_bytes()),
            shown_name(md.name.as_bytes())
        );
    }
    io::Write::write_all(file, &bytes).with_context(|| format!("{what}: writing {name}"))?;
    Ok(md.name)
}

/// Directories as Helm's `--untar` makes them: 0755, less what the umask takes away.
fn dir_builder() -> std::fs::DirBuilder {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o755);
    b
}

/// Files as Helm's `--untar` writes them: 0644, less what the umask takes away; never over an
/// existing file.
fn file_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o644);
    o
}

/// sha256 hex of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hashing = Hashing::sink();
    io::copy(&mut file, &mut hashing).with_context(|| format!("reading {}", path.display()))?;
    Ok(hashing.finish().1)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn package(extra_after: &[u8]) -> tempfile::NamedTempFile {
        let mut tar = tar::Builder::new(Vec::new());
        let meta = b"apiVersion: v2\nname: app\nversion: 1.2.3\n";
        let mut h = tar::Header::new_ustar();
        h.set_size(meta.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, "app/Chart.yaml", &meta[..])
            .unwrap();
        let big = vec![7u8; 300_000];
        h.set_size(big.len() as u64);
        tar.append_data(&mut h, "app/files/big", &big[..]).unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&tar).unwrap();
        let mut bytes = gz.finish().unwrap();
        bytes.extend_from_slice(extra_after);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&bytes).unwrap();
        f
    }

    #[test]
    fn inspect_hashes_the_whole_file_in_the_same_read() {
        for after in [&b""[..], b"trailing bytes after the gzip member"] {
            let f = package(after);
            let bytes = std::fs::read(f.path()).unwrap();
            let got = inspect(f.path()).unwrap();
            assert_eq!(got.metadata.name, "app");
            assert_eq!(got.metadata.version, "1.2.3");
            assert_eq!(got.size, bytes.len() as u64);
            assert_eq!(
                got.sha256,
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
            );
        }
    }
}
