//! Building the package `helm package` builds, streamed: tar → gzip → a temporary file, with
//! the SHA-256 computed on the way. The tar stream is written on this thread and compressed
//! on every core ([`pgzip`]); the bytes do not depend on the number of cores.
//!
//! Layout as Helm's `chartutil.Save`: `<name>/Chart.yaml` (re-serialised), `Chart.lock` (v2),
//! `values.yaml` (raw), `values.schema.json`, templates, other files, then subcharts under
//! `charts/<name>/`. Only file entries, mode 0644, uid/gid 0. Names that do not fit a USTAR
//! header (non-ASCII, or too long to split into prefix and name) get a PAX `path` record, as
//! Go's tar writer does.
//!
//! Unlike Helm the result is reproducible: entry times come from `SOURCE_DATE_EPOCH` when it
//! is given (else from each file, as Helm 4 does), the gzip header carries no time, and
//! subcharts are written in name order.

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::load::{self, Chart, Source};
use super::metadata::{self, Metadata};
use super::pgzip;
use crate::support::hashing::Hashing;

/// `--version` / `--app-version`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub version: Option<String>,
    pub app_version: Option<String>,
}

/// A built package in a temporary file (removed when this is dropped).
#[derive(Debug)]
pub struct Packaged {
    pub file: tempfile::NamedTempFile,
    /// `NAME-VERSION.tgz`.
    pub file_name: String,
    pub metadata: Metadata,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    pub size: u64,
    /// Bytes the package expands to (its files' sizes), for Helm's load limits.
    pub expanded: u64,
}

impl Packaged {
    /// Where the package is.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Helm's compression level (Go's default, 6).
const GZIP_LEVEL: u32 = 6;

/// The extra field Helm puts in the gzip header of every package.
const HELM_GZIP_EXTRA: &[u8] = b"+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=";

/// Checks a `--version` value the way Helm does (loose SemVer), before anything else happens.
pub fn validate_version_override(v: &str) -> Result<()> {
    metadata::parse_loose_version(v)
        .map(|_| ())
        .map_err(|_| anyhow!("--version {v:?} is not a valid SemVer"))
}

/// Packages a chart directory exactly as `helm package DIR` would (see the module docs).
pub fn package_dir(dir: &Path, ov: &Overrides, source_date_epoch: Option<i64>) -> Result<Packaged> {
    package_dir_limited(dir, ov, source_date_epoch, load::DEFAULT_MAX_ENTRIES)
}

/// [`package_dir`] walking at most `max_entries` entries of the directory (see
/// [`load::DEFAULT_MAX_ENTRIES`]).
pub fn package_dir_limited(
    dir: &Path,
    ov: &Overrides,
    source_date_epoch: Option<i64>,
    max_entries: usize,
) -> Result<Packaged> {
    let threads = pgzip::default_threads();
    package_dir_threads(dir, ov, source_date_epoch, threads, max_entries)
}

/// [`package_dir_limited`] compressing on at most `threads` threads (the bytes are the same
/// for any number).
pub fn package_dir_threads(
    dir: &Path,
    ov: &Overrides,
    source_date_epoch: Option<i64>,
    threads: usize,
    max_entries: usize,
) -> Result<Packaged> {
    if let Some(v) = &ov.version {
        validate_version_override(v)?;
    }
    let label = load::label_for(dir);
    let chart = load::load_dir(dir, max_entries)?;
    finish(chart, &label, ov, source_date_epoch, threads)
}

/// Rewrites an existing package with `--version`/`--app-version` applied (Helm's archive
/// loader, then the same writer as [`package_dir`]).
pub fn repack_tgz(tgz: &Path, ov: &Overrides, source_date_epoch: Option<i64>) -> Result<Packaged> {
    if let Some(v) = &ov.version {
        validate_version_override(v)?;
    }
    let label = load::label_for(tgz);
    let chart = load::load_archive(tgz)?;
    finish(
        chart,
        &label,
        ov,
        source_date_epoch,
        pgzip::default_threads(),
    )
}

fn finish(
    mut chart: Chart,
    label: &str,
    ov: &Overrides,
    source_date_epoch: Option<i64>,
    threads: usize,
) -> Result<Packaged> {
    if let Some(v) = &ov.version {
        chart.metadata.version = v.clone();
    }
    if let Some(v) = &ov.app_version {
        chart.metadata.app_version = v.clone();
    }
    load::check_dependencies(&chart, label)?;
    chart
        .metadata
        .validate()
        .map_err(|e| anyhow!("chart {label:?}: Chart.yaml: {e}"))?;
    let file_name = format!("{}-{}.tgz", chart.metadata.name, chart.metadata.version);
    let tmp = tempfile::Builder::new()
        .prefix(".helm-ccr-")
        .suffix(".tgz")
        .tempfile()
        .context("creating a temporary file for the package")?;
    let out = Hashing::new(BufWriter::with_capacity(
        256 * 1024,
        tmp.as_file().try_clone()?,
    ));
    let header = pgzip::Header {
        extra: Some(HELM_GZIP_EXTRA),
        comment: Some("Helm"),
    };
    let mut expanded = 0u64;
    let mut out = pgzip::compress(out, header, GZIP_LEVEL, threads, |gz| {
        let mut w = TarWriter {
            gz,
            epoch: source_date_epoch,
            buf: vec![0u8; 128 * 1024],
            expanded: 0,
        };
        w.chart(&chart, "", label)?;
        expanded = w.expanded;
        // The end of the archive: two zero blocks.
        w.gz.write_all(&[0u8; 1024])?;
        Ok(())
    })?;
    out.flush()?;
    let (_, sha256, size) = out.finish();
    Ok(Packaged {
        file: tmp,
        file_name,
        metadata: chart.metadata,
        sha256,
        size,
        expanded,
    })
}

struct TarWriter<'a> {
    gz: &'a mut dyn Write,
    epoch: Option<i64>,
    buf: Vec<u8>,
    /// The sizes of the entries written so far.
    expanded: u64,
}

impl TarWriter<'_> {
    fn mtime(&self, own: i64) -> u64 {
        self.epoch.unwrap_or(own).max(0) as u64
    }

    fn chart(&mut self, c: &Chart, prefix: &str, label: &str) -> Result<()> {
        let base = format!("{prefix}{}", c.metadata.name);
        let chart_yaml = c.metadata.to_yaml();
        self.bytes(
            &format!("{base}/Chart.yaml"),
            chart_yaml.as_bytes(),
            c.metadata_mtime,
        )?;
        if c.metadata.api_version == "v2" {
            if let Some((lock, t)) = &c.lock {
                self.bytes(&format!("{base}/Chart.lock"), lock.to_yaml().as_bytes(), *t)?;
            }
        }
        if let Some(v) = &c.values {
            self.file(&base, v, label)?;
        }
        if let Some(s) = &c.schema {
            let data = fs::read(&s.path)
                .with_context(|| format!("chart {label:?}: values.schema.json: cannot read"))?;
            let data = data
                .strip_prefix(b"\xEF\xBB\xBF".as_slice())
                .unwrap_or(&data);
            if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_err() {
                bail!("chart {label:?}: values.schema.json: invalid JSON");
            }
            self.bytes(&format!("{base}/values.schema.json"), data, s.mtime)?;
        }
        for f in c.templates.iter().chain(c.files.iter()) {
            self.file(&base, f, label)?;
        }
        for sc in &c.subcharts {
            let sub_label = format!("{label}/charts/{}", sc.metadata.name);
            self.chart(sc, &format!("{base}/charts/"), &sub_label)?;
        }
        Ok(())
    }

    fn bytes(&mut self, name: &str, data: &[u8], mtime: i64) -> Result<()> {
        self.header(name, data.len() as u64, mtime)?;
        self.gz.write_all(data)?;
        self.pad(data.len() as u64)
    }

    /// Streams one file (without its BOM); its size is taken when it is opened.
    fn file(&mut self, base: &str, f: &Source, label: &str) -> Result<()> {
        let name = format!("{base}/{}", f.name);
        let ctx = || format!("chart {label:?}: {}: cannot read", f.name);
        let mut file = fs::File::open(&f.path).with_context(ctx)?;
        let len = file.metadata().with_context(ctx)?.len();
        if len > load::MAX_FILE_SIZE + 3 {
            bail!(
                "chart {label:?}: {}: file is larger than Helm's maximum of 5 MiB",
                f.name
            );
        }
        let mut head = [0u8; 3];
        let mut got = 0;
        while got < 3 {
            let k = file.read(&mut head[got..]).with_context(ctx)?;
            if k == 0 {
                break;
            }
            got += k;
        }
        let bom = got == 3 && head == *b"\xEF\xBB\xBF";
        let size = if bom { len - 3 } else { len };
        self.header(&name, size, f.mtime)?;
        let mut written = 0u64;
        if !bom {
            let n = (got as u64).min(size) as usize;
            self.gz.write_all(&head[..n])?;
            written += n as u64;
        }
        while written < size {
            let want = ((size - written) as usize).min(self.buf.len());
            let k = file.read(&mut self.buf[..want]).with_context(ctx)?;
            if k == 0 {
                bail!(
                    "chart {label:?}: {}: file changed while being packaged",
                    f.name
                );
            }
            self.gz.write_all(&self.buf[..k])?;
            written += k as u64;
        }
        self.pad(size)
    }

    fn pad(&mut self, size: u64) -> Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.gz.write_all(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    fn header(&mut self, name: &str, size: u64, mtime: i64) -> Result<()> {
        self.expanded = self.expanded.saturating_add(size);
        let mtime = self.mtime(mtime);
        match ustar_split(name) {
            Some((prefix, short)) => {
                let h = ustar_header(prefix.as_bytes(), short.as_bytes(), size, mtime, b'0');
                self.gz.write_all(&h)?;
            }
            None => {
                // PAX extended header carrying the full path, then the entry with a
                // best-effort ASCII name (readers use the PAX path).
                let record = pax_record("path", name);
                let base = name.rsplit('/').next().unwrap_or(name);
                let pax_name = ascii_truncate(&format!("PaxHeaders.0/{base}"), 100);
                let h = ustar_header(b"", pax_name.as_bytes(), record.len() as u64, mtime, b'x');
                self.gz.write_all(&h)?;
                self.gz.write_all(record.as_bytes())?;
                self.pad(record.len() as u64)?;
                let fallback = ascii_truncate(name, 100);
                let h = ustar_header(b"", fallback.as_bytes(), size, mtime, b'0');
                self.gz.write_all(&h)?;
            }
        }
        Ok(())
    }
}

/// Go's choice for a name in a USTAR header: as is when ASCII and at most 100 bytes, else
/// split at a `/` into prefix (≤155) and name (≤100); `None` means a PAX record is needed.
fn ustar_split(name: &str) -> Option<(&str, &str)> {
    if !name.is_ascii() || name.contains('\0') {
        return None;
    }
    if name.len() <= 100 {
        return Some(("", name));
    }
    let mut length = name.len();
    if length > 156 {
        length = 156;
    } else if name.as_bytes()[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].rfind('/')?;
    let nlen = name.len() - i - 1;
    if i == 0 || nlen > 100 || nlen == 0 || i > 155 {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

fn ascii_truncate(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii() && c != '\0' { c } else { '_' })
        .collect();
    out.truncate(max);
    out
}

/// One PAX record: `"<len> key=value\n"` where len counts the whole record.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    loop {
        let total = len.to_string().len() + body.len();
        if total == len {
            return format!("{len}{body}");
        }
        len = total;
    }
}

fn octal(field: &mut [u8], v: u64) {
    // Zero-padded octal, NUL-terminated (as Go writes numeric USTAR fields).
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

fn ustar_header(prefix: &[u8], name: &[u8], size: u64, mtime: u64, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    // Checksum: sum of all bytes with the checksum field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| b as u64).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ustar_names() {
        assert_eq!(ustar_split("a/b"), Some(("", "a/b")));
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert_eq!(ustar_split(&long), Some((&long[..120], &long[121..])));
        assert_eq!(ustar_split(&"x".repeat(101)), None);
        assert_eq!(ustar_split("chart/ünï.txt"), None);
        let too_long_base = format!("a/{}", "f".repeat(120));
        assert_eq!(ustar_split(&too_long_base), None);
    }

    #[test]
    fn pax_records() {
        assert_eq!(pax_record("path", "abc"), "12 path=abc\n");
        let r = pax_record("path", &"x".repeat(95));
        assert_eq!(r.len().to_string(), r.split(' ').next().unwrap());
    }

    #[test]
    fn same_package_with_one_compression_thread_and_four() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("big");
        fs::create_dir_all(chart.join("files")).unwrap();
        fs::write(
            chart.join("Chart.yaml"),
            "apiVersion: v2\nname: big\nversion: 1.0.0\n",
        )
        .unwrap();
        // About 3 MB of text and noise: well above the single-thread limit.
        let mut x: u64 = 7;
        let mut total = 0;
        for i in 0..60 {
            let mut data = Vec::new();
            while data.len() < 50_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                if i % 4 == 0 {
                    data.extend_from_slice(&x.to_le_bytes());
                } else {
                    data.extend_from_slice(
                        format!("key{}: value{}\n", x >> 60, x >> 58).as_bytes(),
                    );
                }
            }
            total += data.len();
            fs::write(chart.join("files").join(format!("f{i:02}.txt")), data).unwrap();
        }
        assert!(total > 2 * pgzip::PARALLEL_MIN, "{total} bytes");
        let ov = Overrides::default();
        let one = package_dir_threads(
            &chart,
            &ov,
            Some(1_700_000_000),
            1,
            load::DEFAULT_MAX_ENTRIES,
        )
        .unwrap();
        let four = package_dir_threads(
            &chart,
            &ov,
            Some(1_700_000_000),
            4,
            load::DEFAULT_MAX_ENTRIES,
        )
        .unwrap();
        assert_eq!(one.sha256, four.sha256);
        assert_eq!(
            fs::read(one.path()).unwrap(),
            fs::read(four.path()).unwrap()
        );
        // And it reads back as the chart.
        let got = crate::chart::tgz::inspect(four.path()).unwrap();
        let md = &got.metadata;
        assert_eq!((md.name.as_str(), md.version.as_str()), ("big", "1.0.0"));
        assert_eq!((got.sha256, got.size), (four.sha256.clone(), four.size));
    }

    #[test]
    fn version_override_check() {
        assert!(validate_version_override("1.2.3").is_ok());
        assert!(validate_version_override("v1.2").is_ok());
        let e = validate_version_override("1.2.3.4")
            .unwrap_err()
            .to_string();
        assert!(e.contains("1.2.3.4") && e.contains("SemVer"), "{e}");
    }
}
