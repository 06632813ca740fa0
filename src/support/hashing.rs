//! The one hash-while-copying adapter: a reader or writer that passes bytes through to the one
//! it wraps, hashing (sha256) and counting them on the way. No copy and no allocation per
//! call: each read or write updates the hasher over the bytes that actually went through.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// Wraps a reader or a writer: see the module documentation.
pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    count: u64,
}

impl Hashing<io::Sink> {
    /// A writer that only hashes and counts.
    pub fn sink() -> Hashing<io::Sink> {
        Hashing::new(io::sink())
    }
}

impl<T> Hashing<T> {
    pub fn new(inner: T) -> Hashing<T> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes passed through so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The wrapped reader or writer, the lower-case hex sha256 of what passed through, and
    /// how many bytes that was.
    pub fn finish(self) -> (T, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.count)
    }

    fn record(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.count += bytes.len() as u64;
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.record(&buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.record(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn hashes_what_is_read() {
        let mut r = Hashing::new(&b"abc"[..]);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        let (_, sha, n) = r.finish();
        assert_eq!((got.as_slice(), sha.as_str(), n), (&b"abc"[..], ABC, 3));
    }

    #[test]
    fn hashes_only_what_the_writer_took() {
        // A writer that takes one byte per call: the hash covers exactly what was written.
        struct OneByte(Vec<u8>);
        impl Write for OneByte {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.extend_from_slice(&buf[..buf.len().min(1)]);
                Ok(buf.len().min(1))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Hashing::new(OneByte(Vec::new()));
        w.write_all(b"abc").unwrap();
        assert_eq!(w.count(), 3);
        let (inner, sha, _) = w.finish();
        assert_eq!((inner.0.as_slice(), sha.as_str()), (&b"abc"[..], ABC));
        let mut sink = Hashing::sink();
        sink.write_all(b"abc").unwrap();
        assert_eq!(sink.finish().1, ABC);
    }
}
