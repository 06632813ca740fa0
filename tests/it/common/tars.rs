//! Chart packages and tar bytes built here, not by the code under test: well-formed ones
//! ([`chart_tgz`], [`tgz_of`]), raw entries written as given ([`raw_tgz`]), and headers built
//! block by block ([`put_entry`]) for sizes and names no library would write.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tar::EntryType;

/// A chart package built here (not by the code under test): `name/Chart.yaml`, values and a
/// template, plus `extra` bytes so that two builds can differ.
pub fn chart_tgz(name: &str, version: &str, extra: &str) -> Vec<u8> {
    let files: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{name}/Chart.yaml"),
            format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"1.0\"\ndescription: test chart {name}\n"
            )
            .into_bytes(),
        ),
        (format!("{name}/values.yaml"), format!("extra: {extra:?}\n").into_bytes()),
        (
            format!("{name}/templates/cm.yaml"),
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  extra: {{ .Values.extra | quote }}\n".to_vec(),
        ),
    ];
    tgz_of(&files)
}

/// A gzip tar of the given (path, bytes) entries, as regular files.
pub fn tgz_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// `n` bytes that do not compress (xorshift from `seed`): packages that stay as large as they
/// are.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
/// A minimal Chart.yaml of chart `name`, version 1.0.0.
pub fn chart_yaml(name: &str) -> Vec<u8> {
    format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Raw entries: names and links as given, `..` and absolute paths included.

/// A gzip tar of raw entries: (name bytes, type, link target, data). Names and links are
/// written as given, `..` and absolute paths included.
pub type RawEntry<'a> = (&'a [u8], EntryType, Option<&'a [u8]>, Vec<u8>);

pub fn raw_tgz(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, kind, link, data) in entries {
        raw_entry(&mut b, name, *kind, *link, data);
    }
    b.into_inner().unwrap().finish().unwrap()
}

pub fn raw_entry<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    name: &[u8],
    kind: EntryType,
    link: Option<&[u8]>,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    {
        let old = h.as_old_mut();
        old.name.fill(0);
        old.name[..name.len()].copy_from_slice(name);
        if let Some(l) = link {
            old.linkname.fill(0);
            old.linkname[..l.len()].copy_from_slice(l);
        }
    }
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A PAX extended-header record, `LEN KEY=VALUE\n`, its length counting itself.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

// ---------------------------------------------------------------------------------------------
// Tar bytes, built block by block.

/// A USTAR header block with the given name, type flag and size field, checksum set.
pub fn tar_header(name: &[u8], typeflag: u8, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    if size < 0o77777777777 {
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    } else {
        // GNU base-256.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    h[136..147].copy_from_slice(b"14540000000");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// Writes one entry: its header (size field `size`), then `data_len` bytes (from `data`, then
/// `fill`) and the padding, streaming (gigabytes of zeros cost nothing compressed).
pub fn put_entry(
    out: &mut impl Write,
    name: &[u8],
    typeflag: u8,
    size: u64,
    data: &[u8],
    data_len: u64,
    fill: u8,
) {
    out.write_all(&tar_header(name, typeflag, size)).unwrap();
    out.write_all(&data[..data.len().min(data_len as usize)])
        .unwrap();
    let mut left = data_len.saturating_sub(data.len() as u64);
    let chunk = vec![fill; 1 << 20];
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    let pad = (512 - data_len % 512) % 512;
    out.write_all(&vec![0u8; pad as usize]).unwrap();
}

/// A file entry holding `data`.
pub fn put_file(out: &mut impl Write, name: &[u8], data: &[u8]) {
    put_entry(
        out,
        name,
        b'0',
        data.len() as u64,
        data,
        data.len() as u64,
        0,
    );
}

/// Writes a gzip tar into `path` from a function that writes its entries.
pub fn write_tgz(path: &Path, entries: impl FnOnce(&mut GzEncoder<File>)) {
    let mut gz = GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
    entries(&mut gz);
    gz.write_all(&[0u8; 1024]).unwrap();
    gz.finish().unwrap();
}
