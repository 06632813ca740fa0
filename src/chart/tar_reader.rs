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
pub(crate) mod tests;

#[cfg(test)]
mod proptests;
