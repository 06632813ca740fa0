//! A hand-built `multipart/form-data` body for the upload: the layout (every byte but the
//! files' own) is computed up front, so the `Content-Length` is exact and the files stream
//! from disk. Boundaries come from an injected seed, so tests are exact.

use std::io::{self, Cursor, Read};
use std::time::{SystemTime, UNIX_EPOCH};

/// A file part of the form.
#[derive(Debug, Clone)]
pub struct Part {
    pub field: &'static str,
    pub file_name: String,
    pub content_type: &'static str,
    pub len: u64,
}

/// The boundary for a seed: fixed prefix plus 32 hex digits.
pub fn boundary(seed: u128) -> String {
    format!("helm-ccr-{seed:032x}")
}

/// A seed that differs between runs and processes.
pub fn seed() -> u128 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let pid = u128::from(std::process::id());
    let x = nanos ^ (pid << 64) ^ (pid << 17);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15)
}

fn quote(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '"' => "%22".to_string(),
            '\\' => "%5C".to_string(),
            '\r' | '\n' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The bytes around the files: `heads[i]` before part i's content, `tail` after the last.
#[derive(Debug, Clone)]
pub struct Layout {
    heads: Vec<Vec<u8>>,
    tail: Vec<u8>,
    lens: Vec<u64>,
}

impl Layout {
    pub fn new(boundary: &str, parts: &[Part]) -> Layout {
        let mut heads = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let lead = if i == 0 { "" } else { "\r\n" };
            heads.push(
                format!(
                    "{lead}--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                    p.field,
                    quote(&p.file_name),
                    p.content_type
                )
                .into_bytes(),
            );
        }
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        Layout {
            heads,
            tail,
            lens: parts.iter().map(|p| p.len).collect(),
        }
    }

    /// The exact length of the whole body.
    pub fn total_len(&self) -> u64 {
        self.heads.iter().map(|h| h.len() as u64).sum::<u64>()
            + self.lens.iter().sum::<u64>()
            + self.tail.len() as u64
    }

    /// The body as a reader over the given files (one per part, in order). A file that is
    /// shorter or longer than announced makes the read fail rather than send a wrong body.
    pub fn reader<R: Read + 'static>(&self, files: Vec<R>) -> impl Read {
        let mut chain: Box<dyn Read> = Box::new(io::empty());
        for ((head, len), file) in self.heads.iter().zip(&self.lens).zip(files) {
            chain = Box::new(
                chain
                    .chain(Cursor::new(head.clone()))
                    .chain(Exact::new(file, *len)),
            );
        }
        chain.chain(Cursor::new(self.tail.clone()))
    }
}

/// Reads exactly `len` bytes from the inner reader, failing if it ends early or has more.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Exact<R> {
    fn new(inner: R, len: u64) -> Self {
        Exact { inner, left: len }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(
                    "the file grew while it was being uploaded",
                )),
            };
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being uploaded",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_exact_and_deterministic() {
        let b = boundary(0xabc);
        assert_eq!(b, "helm-ccr-00000000000000000000000000000abc");
        let parts = vec![
            Part {
                field: "chart",
                file_name: "app-1.0.0.tgz".into(),
                content_type: "application/gzip",
                len: 3,
            },
            Part {
                field: "prov",
                file_name: "app-1.0.0.tgz.prov".into(),
                content_type: "application/octet-stream",
                len: 2,
            },
        ];
        let layout = Layout::new(&b, &parts);
        let mut body = Vec::new();
        layout
            .reader(vec![
                Cursor::new(b"abc".to_vec()),
                Cursor::new(b"pv".to_vec()),
            ])
            .read_to_end(&mut body)
            .unwrap();
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"chart\"; filename=\"app-1.0.0.tgz\"\r\nContent-Type: application/gzip\r\n\r\nabc\r\n--{b}\r\nContent-Disposition: form-data; name=\"prov\"; filename=\"app-1.0.0.tgz.prov\"\r\nContent-Type: application/octet-stream\r\n\r\npv\r\n--{b}--\r\n"
        );
        assert_eq!(String::from_utf8(body).unwrap(), expected);
        assert_eq!(layout.total_len(), expected.len() as u64);
    }

    #[test]
    fn a_file_of_the_wrong_size_fails_the_body() {
        let part = Part {
            field: "chart",
            file_name: "a.tgz".into(),
            content_type: "application/gzip",
            len: 4,
        };
        let layout = Layout::new("b", std::slice::from_ref(&part));
        let mut sink = Vec::new();
        assert!(layout
            .reader(vec![Cursor::new(b"abc".to_vec())])
            .read_to_end(&mut sink)
            .is_err());
        let mut sink = Vec::new();
        assert!(layout
            .reader(vec![Cursor::new(b"abcde".to_vec())])
            .read_to_end(&mut sink)
            .is_err());
    }

    #[test]
    fn seeds_differ() {
        assert_ne!(boundary(seed()), boundary(seed().wrapping_add(1)));
    }
}
