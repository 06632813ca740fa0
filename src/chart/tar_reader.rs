//! A streaming tar reader with bounded headers, for chart packages from anywhere.
//!
//! It reads what Go's `archive/tar` (Helm's reader) reads: V7, USTAR (with its name prefix),
//! PAX (`x` records apply to the next entry: `path`, `linkpath`, `size`, `mtime`; `g` records
//! are read and ignored) and GNU (`L` long names, `K` long link names). The sizes that frame the
//! archive are the ones Go uses: a PAX `size` record overrides the header's, and links,
//! directories, devices and fifos carry no data whatever their header says.
//!
//! Unlike a general-purpose reader it never buffers more than [`MAX_SPECIAL_BYTES`] of any
//! extension header: a long name, long link or PAX header that declares more is refused from
//! its header, before a byte of it is read (Go refuses the same ones, after reading them).
//! Entry data is never buffered: [`TarReader`] is itself a [`Read`] over the current entry.

use std::io::{self, Read};

use anyhow::{anyhow, bail, Result};

/// Largest GNU long name/link or PAX header read (Go's `maxSpecialFileSize`, 1 MiB).
pub const MAX_SPECIAL_BYTES: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// Bytes of a name shown in a message (escaped), at most.
const SHOWN_NAME_BYTES: usize = 120;

/// One entry's header, extensions applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// The path as stored (PAX `path`, else the GNU long name, else prefix/name).
    pub path: Vec<u8>,
    /// The link target (PAX `linkpath`, else the GNU long link, else the header's).
    pub link: Vec<u8>,
    /// The type flag byte (`0`, `5`, `2`, ...).
    pub typeflag: u8,
    /// Bytes of data the entry carries (PAX `size` applied; 0 for header-only types).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

impl EntryHeader {
    /// A regular file (`0`, NUL, or `7` contiguous), not a directory written the old way.
    pub fn is_file(&self) -> bool {
        matches!(self.typeflag, b'0' | 0 | b'7') && !self.path.ends_with(b"/")
    }

    /// A directory (`5`, or an old-style regular entry whose name ends in `/`).
    pub fn is_dir(&self) -> bool {
        self.typeflag == b'5' || (matches!(self.typeflag, b'0' | 0) && self.path.ends_with(b"/"))
    }

    pub fn is_symlink(&self) -> bool {
        self.typeflag == b'2'
    }

    pub fn is_hard_link(&self) -> bool {
        self.typeflag == b'1'
    }

    /// The path for messages: see [`shown_name`].
    pub fn shown_path(&self) -> String {
        shown_name(&self.path)
    }
}

/// A name for a message: quoted and escaped as Rust's `{:?}` does (invalid UTF-8 and control
/// characters escaped), cut after [`SHOWN_NAME_BYTES`] bytes of that, with the name's length
/// when it was cut, so that no message echoes a megabyte of an archive's name.
pub fn shown_name(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    let mut out = String::from("\"");
    let mut cut = false;
    for c in text.chars() {
        let escaped = format!("{:?}", c.to_string());
        let escaped = &escaped[1..escaped.len() - 1];
        if out.len() + escaped.len() > SHOWN_NAME_BYTES {
            cut = true;
            break;
        }
        out.push_str(escaped);
    }
    if cut {
        out.push_str(&format!("... ({} bytes)", name.len()));
    }
    out.push('"');
    out
}

/// Reads entries from a tar stream; between [`TarReader::next_entry`] calls it reads the
/// current entry's data (and reports end of file at its end).
pub struct TarReader<R> {
    inner: R,
    /// Data bytes of the current entry not read yet.
    remaining: u64,
    /// Padding after the current entry's data.
    pad: u64,
    done: bool,
}

/// Extensions waiting for the next real entry.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_link: Option<Vec<u8>>,
    pax_size: Option<u64>,
    pax_mtime: Option<i64>,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> TarReader<R> {
        TarReader {
            inner,
            remaining: 0,
            pad: 0,
            done: false,
        }
    }

    /// The reader underneath, positioned after whatever was read of the archive.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next entry (directories, links and other types included; extension headers are
    /// applied, not returned), or `None` at the end of the archive. Whatever is left of the
    /// previous entry's data is skipped.
    pub fn next_entry(&mut self) -> Result<Option<EntryHeader>> {
        if self.done {
            return Ok(None);
        }
        let mut pending = Pending::default();
        let mut specials = 0u32;
        loop {
            self.skip_rest()?;
            let Some(block) = self.read_header_block()? else {
                if specials > 0 {
                    bail!("the archive ends after an extension header, without its entry");
                }
                self.done = true;
                return Ok(None);
            };
            let typeflag = block[156];
            let header_size = parse_numeric(&block[124..136])
                .ok_or_else(|| anyhow!("an entry header has an invalid size field"))?;
            match typeflag {
                b'L' | b'K' | b'x' | b'g' => {
                    specials += 1;
                    if specials > 64 {
                        bail!("more than 64 extension headers in a row");
                    }
                    let what = match typeflag {
                        b'L' => "a GNU long name",
                        b'K' => "a GNU long link name",
                        b'x' => "a PAX header",
                        _ => "a PAX global header",
                    };
                    if header_size > MAX_SPECIAL_BYTES {
                        bail!(
                            "{what} of {header_size} bytes is over the limit of {} bytes (1 MiB, as Go's archive/tar)",
                            MAX_SPECIAL_BYTES
                        );
                    }
                    self.start_data(header_size);
                    let mut data = Vec::with_capacity(header_size as usize);
                    self.read_to_end(&mut data)
                        .map_err(|e| anyhow!("reading {what}: {e}"))?;
                    match typeflag {
                        b'L' => pending.long_name = Some(c_string(&data).to_vec()),
                        b'K' => pending.long_link = Some(c_string(&data).to_vec()),
                        b'x' => apply_pax(&data, &mut pending)?,
                        _ => {
                            // Global records: checked for well-formedness, otherwise ignored
                            // (Helm's loader skips them too).
                            parse_pax_records(&data)?;
                        }
                    }
                }
                b'S' => bail!("GNU sparse entries are not supported in chart packages"),
                _ => {
                    // Go prefers the GNU long name over a PAX path.
                    let path = pending
                        .long_name
                        .take()
                        .or(pending.pax_path.take())
                        .unwrap_or_else(|| header_name(&block));
                    let link = pending
                        .long_link
                        .take()
                        .or(pending.pax_link.take())
                        .unwrap_or_else(|| c_string(&block[157..257]).to_vec());
                    let size = if header_only(typeflag) {
                        0
                    } else {
                        pending.pax_size.unwrap_or(header_size)
                    };
                    let mtime = pending.pax_mtime.unwrap_or_else(|| {
                        parse_numeric(&block[136..148])
                            .and_then(|m| i64::try_from(m).ok())
                            .unwrap_or(0)
                    });
                    self.start_data(size);
                    return Ok(Some(EntryHeader {
                        path,
                        link,
                        typeflag,
                        size,
                        mtime,
                    }));
                }
            }
        }
    }

    fn start_data(&mut self, size: u64) {
        self.remaining = size;
        self.pad = (BLOCK - size % BLOCK) % BLOCK;
    }

    /// Skips the unread data and padding of the current entry.
    fn skip_rest(&mut self) -> Result<()> {
        let skip = self.remaining + self.pad;
        if skip == 0 {
            return Ok(());
        }
        let copied = io::copy(&mut (&mut self.inner).take(skip), &mut io::sink())?;
        // The padding after the last entry may be missing: only the data must be there.
        if copied < self.remaining {
            bail!("the archive is truncated");
        }
        self.remaining = 0;
        self.pad = 0;
        Ok(())
    }

    /// The next header block, checksum checked; `None` at the end of the archive (end of
    /// input, or a zero block).
    fn read_header_block(&mut self) -> Result<Option<[u8; 512]>> {
        let mut block = [0u8; 512];
        let got = read_full(&mut self.inner, &mut block)?;
        if got == 0 {
            return Ok(None);
        }
        if got < block.len() {
            bail!("the archive is truncated (a partial header)");
        }
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let stored = parse_octal(&block[148..156])
            .ok_or_else(|| anyhow!("an entry header has an invalid checksum field"))?;
        let (unsigned, signed) = checksums(&block);
        if stored != unsigned && stored as i64 != signed {
            bail!("an entry header's checksum does not match (not a tar archive, or corrupt)");
        }
        Ok(Some(block))
    }
}

impl<R: Read> Read for TarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive is truncated",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Types whose entries carry no data, whatever the size field says (as Go reads them).
fn header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

/// The bytes before the first NUL.
fn c_string(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    &b[..end]
}

/// The header's own name: USTAR's `prefix/name` when the header is USTAR (STAR's shorter
/// prefix when it carries STAR's trailer), the name field alone otherwise (V7, GNU).
fn header_name(block: &[u8; 512]) -> Vec<u8> {
    let name = c_string(&block[0..100]);
    let ustar = &block[257..263] == b"ustar\0" && &block[263..265] == b"00";
    if !ustar {
        return name.to_vec();
    }
    let prefix = if &block[508..512] == b"tar\0" {
        c_string(&block[345..476])
    } else {
        c_string(&block[345..500])
    };
    if prefix.is_empty() {
        return name.to_vec();
    }
    let mut full = prefix.to_vec();
    full.push(b'/');
    full.extend_from_slice(name);
    full
}

/// Sums of the header with the checksum field taken as spaces: unsigned and signed bytes.
fn checksums(block: &[u8; 512]) -> (u64, i64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    (unsigned, signed)
}

/// An octal field (spaces and NULs around it allowed); an empty field is 0.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let trimmed: &[u8] = {
        let start = field
            .iter()
            .position(|b| *b != b' ' && *b != 0)
            .unwrap_or(field.len());
        let end = field
            .iter()
            .rposition(|b| *b != b' ' && *b != 0)
            .map_or(start, |e| e + 1);
        &field[start..end.max(start)]
    };
    let digits = c_string(trimmed);
    if digits.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    for d in digits {
        if !(b'0'..=b'7').contains(d) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// A numeric field: octal, or GNU base-256 when the top bit of the first byte is set
/// (negative values refused).
fn parse_numeric(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(b) if b & 0x80 != 0 => {
            if b & 0x40 != 0 {
                return None;
            }
            let mut v: u64 = u64::from(b & 0x3f);
            for b in &field[1..] {
                if v >> 56 != 0 {
                    return None;
                }
                v = (v << 8) | u64::from(*b);
            }
            (v >> 63 == 0).then_some(v)
        }
        _ => parse_octal(field),
    }
}

/// PAX records (`"%d %s=%s\n"`), as Go reads them: each length counts the whole record.
fn parse_pax_records(mut data: &[u8]) -> Result<Vec<(&[u8], &[u8])>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let bad = || anyhow!("a PAX header has a malformed record");
        let sp = data.iter().position(|b| *b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len < 5 || len > data.len() || len <= sp + 1 {
            return Err(bad());
        }
        let record = &data[sp + 1..len];
        let Some((&b'\n', body)) = record.split_last() else {
            return Err(bad());
        };
        let eq = body.iter().position(|b| *b == b'=').ok_or_else(bad)?;
        if eq == 0 {
            return Err(bad());
        }
        out.push((&body[..eq], &body[eq + 1..]));
        data = &data[len..];
    }
    Ok(out)
}

fn apply_pax(data: &[u8], pending: &mut Pending) -> Result<()> {
    for (key, value) in parse_pax_records(data)? {
        match key {
            b"path" | b"linkpath" => {
                if value.contains(&0) {
                    bail!("a PAX header has a {} with a NUL byte", shown_name(key));
                }
                if key == b"path" {
                    pending.pax_path = Some(value.to_vec());
                } else {
                    pending.pax_link = Some(value.to_vec());
                }
            }
            b"size" => {
                let size = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|s| i64::try_from(*s).is_ok())
                    .ok_or_else(|| anyhow!("a PAX header has an invalid size record"))?;
                pending.pax_size = Some(size);
            }
            b"mtime" => {
                let text = std::str::from_utf8(value).unwrap_or("");
                let whole = text.split('.').next().unwrap_or("");
                if let Ok(t) = whole.parse::<i64>() {
                    pending.pax_mtime = Some(t);
                }
            }
            k if k.starts_with(b"GNU.sparse.") => {
                bail!("GNU sparse entries are not supported in chart packages")
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A raw header block: name, type, size field as given, checksum set.
    pub(crate) fn header(name: &[u8], typeflag: u8, size: u64) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"14540000000");
        h[156] = typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        set_checksum(&mut h);
        h
    }

    pub(crate) fn set_checksum(h: &mut [u8; 512]) {
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    }

    pub(crate) fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
        let body_len = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = body_len + 1;
        while format!("{len}").len() + body_len != len {
            len += 1;
        }
        let mut r = format!("{len} {key}=").into_bytes();
        r.extend_from_slice(value);
        r.push(b'\n');
        r
    }

    /// Appends an entry: header then data padded to a block.
    pub(crate) fn entry(out: &mut Vec<u8>, name: &[u8], typeflag: u8, data: &[u8]) {
        out.extend_from_slice(&header(name, typeflag, data.len() as u64));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    fn all(bytes: &[u8]) -> Result<Vec<(EntryHeader, Vec<u8>)>> {
        let mut r = TarReader::new(bytes);
        let mut out = Vec::new();
        while let Some(h) = r.next_entry()? {
            let mut data = Vec::new();
            r.read_to_end(&mut data)?;
            out.push((h, data));
        }
        Ok(out)
    }

    #[test]
    fn reads_what_the_tar_crate_writes() {
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("app/{}/file.txt", "d".repeat(150));
        for (name, data) in [("app/Chart.yaml", &b"name: app\n"[..]), (&long, b"x")] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, data).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h, "app/templates/", &b""[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let got = all(&bytes).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0.path, b"app/Chart.yaml");
        assert_eq!(got[0].1, b"name: app\n");
        assert!(got[0].0.is_file());
        assert_eq!(got[1].0.path, long.as_bytes(), "GNU long name");
        assert_eq!(got[1].1, b"x");
        assert!(got[2].0.is_dir());
    }

    #[test]
    fn pax_size_frames_the_entry() {
        // Header size 0, PAX size 3: three bytes of data, as Go reads it.
        let mut t = Vec::new();
        entry(&mut t, b"PaxHeaders/a", b'x', &pax_record("size", b"3"));
        let mut data_entry = Vec::new();
        data_entry.extend_from_slice(&header(b"app/a", b'0', 0));
        data_entry.extend_from_slice(b"abc");
        data_entry.resize(1024, 0);
        t.extend_from_slice(&data_entry);
        entry(&mut t, b"app/b", b'0', b"bb");
        let got = all(&t).unwrap();
        assert_eq!(got[0].0.size, 3);
        assert_eq!(got[0].1, b"abc");
        assert_eq!(got[1].0.path, b"app/b");
        assert_eq!(got[1].1, b"bb");
    }

    #[test]
    fn pax_path_and_ustar_prefix() {
        let mut t = Vec::new();
        entry(&mut t, b"x", b'x', &pax_record("path", b"app/../../evil"));
        entry(&mut t, b"app/innocent", b'0', b"1");
        let mut h = header(b"name", b'0', 0);
        h[345..348].copy_from_slice(b"pre");
        set_checksum(&mut h);
        t.extend_from_slice(&h);
        let got = all(&t).unwrap();
        assert_eq!(got[0].0.path, b"app/../../evil");
        assert_eq!(got[1].0.path, b"pre/name");
    }

    #[test]
    fn oversized_extension_headers_are_refused_before_reading() {
        for (flag, what) in [
            (b'L', "GNU long name"),
            (b'K', "GNU long link"),
            (b'x', "PAX header"),
            (b'g', "PAX global header"),
        ] {
            // Only the header: reading any of the declared data would hit the end of input
            // and say "truncated" instead.
            let t = header(b"././@LongLink", flag, MAX_SPECIAL_BYTES + 1);
            let err = all(&t).unwrap_err().to_string();
            assert!(
                err.contains(what) && err.contains("over the limit"),
                "{err}"
            );
        }
        // Exactly at the limit is read.
        let mut t = Vec::new();
        let mut name = b"app/".to_vec();
        name.resize(MAX_SPECIAL_BYTES as usize, b'n');
        entry(&mut t, b"././@LongLink", b'L', &name);
        entry(&mut t, b"short", b'0', b"");
        let got = all(&t).unwrap();
        assert_eq!(got[0].0.path.len(), MAX_SPECIAL_BYTES as usize);
        assert!(got[0].0.shown_path().len() < 200);
    }

    #[test]
    fn header_only_types_carry_no_data() {
        // A symlink whose size field says 512: Go reads no data for it, so the next block is
        // the next header.
        let mut t = Vec::new();
        t.extend_from_slice(&header(b"app/link", b'2', 512));
        entry(&mut t, b"app/next", b'0', b"n");
        let got = all(&t).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.size, 0);
        assert_eq!(got[1].0.path, b"app/next");
    }

    #[test]
    fn malformed_archives_are_errors() {
        let mut bad_sum = header(b"a", b'0', 0);
        bad_sum[0] = b'b';
        assert!(all(&bad_sum).is_err());
        let mut truncated = Vec::new();
        truncated.extend_from_slice(&header(b"a", b'0', 100));
        truncated.extend_from_slice(b"short");
        assert!(all(&truncated).is_err());
        assert!(all(&header(b"a", b'0', 0)[..300]).is_err());
        let mut dangling = Vec::new();
        entry(&mut dangling, b"x", b'x', &pax_record("path", b"a"));
        assert!(all(&dangling).is_err());
        for record in [&b"3 a\n"[..], b"99 path=a\n", b"x path=a\n", b"10 path a\n"] {
            let mut t = Vec::new();
            entry(&mut t, b"x", b'x', record);
            entry(&mut t, b"a", b'0', b"");
            assert!(all(&t).is_err(), "{:?}", String::from_utf8_lossy(record));
        }
        let mut t = Vec::new();
        entry(&mut t, b"x", b'x', &pax_record("size", b"-1"));
        entry(&mut t, b"a", b'0', b"");
        assert!(all(&t).is_err());
        // Empty input and a zero block are empty archives.
        assert!(all(b"").unwrap().is_empty());
        assert!(all(&[0u8; 1024]).unwrap().is_empty());
    }

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_numeric(b"00000000012\0"), Some(10));
        assert_eq!(parse_numeric(b"   12 \0"), Some(10));
        assert_eq!(parse_numeric(b"\0\0\0"), Some(0));
        assert_eq!(parse_numeric(b"0009"), None);
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 7;
        assert_eq!(parse_numeric(&b256), Some(7));
        b256[0] = 0xff;
        assert_eq!(parse_numeric(&b256), None, "negative");
        let mut huge = [0xffu8; 12];
        huge[0] = 0x80;
        assert_eq!(parse_numeric(&huge), None, "overflow");
    }

    #[test]
    fn shown_names_are_short() {
        assert_eq!(shown_name(b"app/x"), "\"app/x\"");
        let long = vec![b'a'; 10_000];
        let s = shown_name(&long);
        assert!(s.len() < 200 && s.contains("10000 bytes"), "{s}");
        assert_eq!(shown_name(b"a\x1b[2J"), "\"a\\u{1b}[2J\"");
        // Escapes count: a name of control characters is cut as short (found by fuzzing).
        let bells = vec![7u8; 1000];
        let s = shown_name(&bells);
        assert!(s.len() < 160 && s.contains("1000 bytes"), "{s}");
        let s = shown_name(&[0xff; 500]);
        assert!(s.len() < 160, "{s}");
    }
}

#[cfg(test)]
mod proptests {
    //! The reader's extension paths: any mix of GNU long names and links, PAX paths, links and
    //! sizes (agreeing with the header or overriding it), directories and links reads back as
    //! written; bytes flipped anywhere never panic, never yield more data than an entry says,
    //! and never a message longer than a few hundred bytes.

    use proptest::prelude::*;

    use super::tests::{entry, header, pax_record};
    use super::*;

    /// How one entry is written.
    #[derive(Debug, Clone)]
    enum Way {
        Plain,
        GnuLongName,
        PaxPath,
        /// PAX `size` with a header size of 0.
        PaxSizeOnly,
        /// PAX path and size, and a GNU long link.
        Everything,
        Dir,
        Symlink,
    }

    fn way() -> impl Strategy<Value = Way> {
        prop_oneof![
            Just(Way::Plain),
            Just(Way::GnuLongName),
            Just(Way::PaxPath),
            Just(Way::PaxSizeOnly),
            Just(Way::Everything),
            Just(Way::Dir),
            Just(Way::Symlink),
        ]
    }

    /// Names of any length up to a few KiB (long names need extensions), never with NUL.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        // Long runs of control characters, invalid UTF-8 or quotes too: their escapes count
        // against the shown length.
        (
            "[a-z]{1,8}(/[a-zA-Z0-9._-]{1,12}){0,3}",
            0usize..3000,
            prop::sample::select(vec![b'p', 7, 0x1b, 0xff, b'"']),
            prop::collection::vec(1u8..=255, 0..8),
        )
            .prop_map(|(base, pad, fill, tail)| {
                let mut n = base.into_bytes();
                if pad > 0 {
                    n.push(b'/');
                    n.extend(std::iter::repeat_n(fill, pad));
                }
                n.extend(tail.into_iter().filter(|b| *b != b'/' && *b != 0));
                n
            })
    }

    /// What a reader must see of one entry: path, data, type flag.
    type Seen = (Vec<u8>, Vec<u8>, u8);

    /// Writes the entries; returns the archive and what a reader must see.
    fn build(entries: &[(Way, Vec<u8>, Vec<u8>)]) -> (Vec<u8>, Vec<Seen>) {
        let mut t = Vec::new();
        let mut want = Vec::new();
        for (way, name, data) in entries {
            // A name that fits the header: its first 100 bytes (no NUL), else a stub.
            let short: Vec<u8> = name.iter().copied().take(100).collect();
            match way {
                Way::Plain => {
                    entry(&mut t, &short, b'0', data);
                    want.push((short, data.clone(), b'0'));
                }
                Way::GnuLongName => {
                    let mut ln = name.clone();
                    ln.push(0);
                    entry(&mut t, b"././@LongLink", b'L', &ln);
                    entry(&mut t, b"stub", b'0', data);
                    want.push((name.clone(), data.clone(), b'0'));
                }
                Way::PaxPath => {
                    entry(&mut t, b"PaxHeaders/x", b'x', &pax_record("path", name));
                    entry(&mut t, b"stub", b'0', data);
                    want.push((name.clone(), data.clone(), b'0'));
                }
                Way::PaxSizeOnly => {
                    let rec = pax_record("size", data.len().to_string().as_bytes());
                    entry(&mut t, b"PaxHeaders/x", b'x', &rec);
                    t.extend_from_slice(&header(&short, b'0', 0));
                    t.extend_from_slice(data);
                    t.resize(t.len().div_ceil(512) * 512, 0);
                    want.push((short, data.clone(), b'0'));
                }
                Way::Everything => {
                    let mut recs = pax_record("path", name);
                    recs.extend(pax_record("size", data.len().to_string().as_bytes()));
                    recs.extend(pax_record("mtime", b"1700000000.5"));
                    recs.extend(pax_record("comment", b"ignored"));
                    entry(&mut t, b"PaxHeaders/x", b'x', &recs);
                    entry(&mut t, b"././@LongLink", b'K', b"target\0");
                    t.extend_from_slice(&header(b"stub", b'0', 7));
                    t.extend_from_slice(data);
                    t.resize(t.len().div_ceil(512) * 512, 0);
                    want.push((name.clone(), data.clone(), b'0'));
                }
                Way::Dir => {
                    let mut d = short.clone();
                    d.truncate(99);
                    d.push(b'/');
                    entry(&mut t, &d, b'5', b"");
                    want.push((d, Vec::new(), b'5'));
                }
                Way::Symlink => {
                    // A size field on a symlink is ignored: no data follows.
                    t.extend_from_slice(&header(&short, b'2', data.len() as u64));
                    want.push((short, Vec::new(), b'2'));
                }
            }
        }
        t.extend_from_slice(&[0u8; 1024]);
        (t, want)
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<(EntryHeader, Vec<u8>)>> {
        let mut r = TarReader::new(bytes);
        let mut out = Vec::new();
        while let Some(h) = r.next_entry()? {
            let mut data = Vec::new();
            (&mut r).take(h.size + 1).read_to_end(&mut data)?;
            out.push((h, data));
        }
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn extension_headers_read_back_as_written(
            entries in prop::collection::vec((way(), name(), prop::collection::vec(any::<u8>(), 0..1200)), 0..6)
        ) {
            let (bytes, want) = build(&entries);
            let got = read_all(&bytes).unwrap();
            prop_assert_eq!(got.len(), want.len());
            for ((h, data), (path, wdata, flag)) in got.iter().zip(&want) {
                prop_assert_eq!(&h.path, path);
                prop_assert_eq!(data, wdata);
                prop_assert_eq!(h.typeflag, *flag);
                prop_assert_eq!(h.size, wdata.len() as u64);
                prop_assert!(h.shown_path().len() < 200);
            }
        }

        #[test]
        fn flipped_bytes_never_panic_or_overread(
            entries in prop::collection::vec((way(), name(), prop::collection::vec(any::<u8>(), 0..600)), 1..5),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate: bool,
        ) {
            let (mut bytes, _) = build(&entries);
            for (at, v) in flips {
                let i = at.index(bytes.len());
                bytes[i] = v;
            }
            if truncate {
                let keep = cut.index(bytes.len());
                bytes.truncate(keep);
            }
            let mut r = TarReader::new(bytes.as_slice());
            loop {
                match r.next_entry() {
                    Ok(Some(h)) => {
                        prop_assert!(h.shown_path().len() < 200);
                        let mut data = Vec::new();
                        let n = (&mut r).take(h.size + 1).read_to_end(&mut data);
                        if let Ok(n) = n {
                            prop_assert!(n as u64 <= h.size);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        prop_assert!(e.to_string().len() < 400, "{}", e);
                        break;
                    }
                }
            }
        }
    }
}
