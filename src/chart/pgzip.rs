//! Gzip compression on every core, with output that does not depend on the number of cores.
//!
//! The input is cut into blocks of [`BLOCK`] bytes. Each block is deflated on its own, with
//! the last 32 KiB of the block before it as the dictionary (the window deflate would have
//! had), and ended with a sync flush (an empty stored block, so the next block starts on a
//! byte boundary); the last block ends the stream. The compressed blocks, written in order,
//! are one ordinary deflate stream in one gzip member, which every gzip reader reads. The
//! trailer's CRC-32 covers the whole input: each block's CRC is combined in order.
//!
//! A block's bytes depend only on its own input and the input before it, never on which
//! thread compressed it or when: the same input gives the same file with one thread or many.
//! Inputs under [`PARALLEL_MIN`] are compressed on the caller's thread (same bytes).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

use anyhow::{anyhow, Result};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Input bytes per independently compressed block.
pub const BLOCK: usize = 128 * 1024;
/// The deflate window: how much of the previous block each block may refer to.
const WINDOW: usize = 32 * 1024;
/// Inputs smaller than this are compressed on one thread.
pub const PARALLEL_MIN: usize = 1 << 20;
/// Blocks handed out but not yet written, per worker thread (bounds memory).
const IN_FLIGHT_PER_THREAD: usize = 4;

/// The gzip header to write: what goes in the optional fields. The modification time is
/// always 0 (no time, for reproducible output) and the operating system "unknown" (255).
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub extra: Option<&'a [u8]>,
    pub comment: Option<&'a str>,
}

/// Compression threads to use by default: the processors this process may run on.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Writes one gzip stream to `out` holding everything `produce` writes, deflated at `level`
/// on up to `threads` threads (see the module docs), and returns `out`.
pub fn compress<W, F>(out: W, header: Header, level: u32, threads: usize, produce: F) -> Result<W>
where
    W: Write + Send,
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    let mut out = out;
    out.write_all(&header_bytes(header, level))?;
    std::thread::scope(|scope| {
        let mut blocks = Blocks {
            scope,
            level,
            threads: threads.max(1),
            cur: Vec::with_capacity(BLOCK),
            mode: Mode::Inline {
                out,
                pending: Vec::new(),
                trailer: Trailer::new(),
            },
            seq: 0,
            prev_tail: Vec::new(),
        };
        match produce(&mut blocks) {
            Ok(()) => blocks.finish(),
            // A failed output stops the producer too: its error is the one to report.
            Err(e) => Err(blocks.abort().err().unwrap_or(e)),
        }
    })
}

/// The gzip header bytes (RFC 1952) for `header` at `level`.
fn header_bytes(header: Header, level: u32) -> Vec<u8> {
    const FEXTRA: u8 = 4;
    const FCOMMENT: u8 = 16;
    let mut flags = 0;
    let mut rest = Vec::new();
    if let Some(extra) = header.extra {
        flags |= FEXTRA;
        let len = u16::try_from(extra.len()).expect("gzip extra field under 64 KiB");
        rest.extend_from_slice(&len.to_le_bytes());
        rest.extend_from_slice(extra);
    }
    if let Some(comment) = header.comment {
        flags |= FCOMMENT;
        rest.extend(comment.bytes().filter(|&b| b != 0));
        rest.push(0);
    }
    // XFL: 2 for the best compression, 4 for the fastest, else 0.
    let xfl = match level {
        9.. => 2,
        0 | 1 => 4,
        _ => 0,
    };
    let mut h = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, xfl, 255];
    h.extend_from_slice(&rest);
    h
}

/// One block to compress.
struct Job {
    seq: u64,
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

/// One compressed block.
struct Done {
    seq: u64,
    deflated: Vec<u8>,
    crc: Crc,
    len: usize,
}

/// Whole-stream state kept by whoever writes the blocks in order.
struct Trailer {
    crc: Crc,
    len: u64,
}

impl Trailer {
    fn new() -> Self {
        Trailer {
            crc: Crc::new(),
            len: 0,
        }
    }

    fn add(&mut self, crc: &Crc, len: usize) {
        self.crc.combine(crc);
        self.len += len as u64;
    }

    fn add_data(&mut self, data: &[u8]) {
        let mut crc = Crc::new();
        crc.update(data);
        self.add(&crc, data.len());
    }

    fn bytes(&self) -> [u8; 8] {
        let mut t = [0u8; 8];
        t[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        // ISIZE is the input length modulo 2^32.
        t[4..].copy_from_slice(&(self.len as u32).to_le_bytes());
        t
    }
}

enum Mode<'scope, W> {
    /// On this thread. With one thread each full block is compressed at once; with more,
    /// full blocks wait in `pending` until there are enough to be worth the threads.
    Inline {
        out: W,
        pending: Vec<Vec<u8>>,
        trailer: Trailer,
    },
    /// Blocks go to the workers; a writer thread puts them in order into the output.
    Parallel {
        jobs: Sender<Job>,
        credits: Receiver<()>,
        in_flight: usize,
        max_in_flight: usize,
        writer: ScopedJoinHandle<'scope, Result<W>>,
    },
    /// Transient, while switching modes.
    Switching,
}

/// The producer's side: collects written bytes into blocks and hands them on.
struct Blocks<'scope, 'env, W> {
    scope: &'scope Scope<'scope, 'env>,
    level: u32,
    threads: usize,
    /// The block being filled; sent on only when more input arrives after it is full (the
    /// last block is compressed differently).
    cur: Vec<u8>,
    mode: Mode<'scope, W>,
    /// Sequence number of the next block sent on.
    seq: u64,
    /// The last [`WINDOW`] bytes of the block sent before: the next block's dictionary.
    prev_tail: Vec<u8>,
}

impl<'scope, W: Write + Send + 'scope> Blocks<'scope, '_, W> {
    /// Sends on the full current block.
    fn push_full(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.cur, Vec::with_capacity(BLOCK));
        match &mut self.mode {
            Mode::Inline { pending, .. } => {
                pending.push(data);
                if self.threads == 1 {
                    self.compress_inline(None)
                } else if pending.len() * BLOCK >= PARALLEL_MIN {
                    self.start_parallel()
                } else {
                    Ok(())
                }
            }
            Mode::Parallel { .. } => self.dispatch(data, false),
            Mode::Switching => unreachable!("mode switch interrupted"),
        }
    }

    /// Compresses the pending blocks on this thread (then `last`, ending the stream).
    fn compress_inline(&mut self, last: Option<Vec<u8>>) -> io::Result<()> {
        let Blocks {
            mode,
            prev_tail,
            level,
            seq,
            ..
        } = self;
        let Mode::Inline {
            out,
            pending,
            trailer,
        } = mode
        else {
            unreachable!("not inline")
        };
        let mut deflated = Vec::new();
        let blocks = pending.drain(..).map(|d| (d, false));
        for (data, is_last) in blocks.chain(last.map(|d| (d, true))) {
            deflate_block(*level, prev_tail, &data, is_last, &mut deflated)?;
            out.write_all(&deflated)?;
            trailer.add_data(&data);
            *prev_tail = tail(&data).to_vec();
            *seq += 1;
        }
        Ok(())
    }

    /// Starts the workers and the writer, and sends them the blocks buffered so far.
    fn start_parallel(&mut self) -> io::Result<()> {
        let Mode::Inline {
            out,
            pending,
            trailer,
        } = std::mem::replace(&mut self.mode, Mode::Switching)
        else {
            unreachable!("already parallel")
        };
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<io::Result<Done>>();
        let (credit_tx, credit_rx) = channel::<()>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        for _ in 0..self.threads {
            let done_tx = done_tx.clone();
            let jobs_rx = Arc::clone(&jobs_rx);
            let level = self.level;
            self.scope.spawn(move || worker(&jobs_rx, done_tx, level));
        }
        drop(done_tx);
        let first = self.seq;
        let writer = self
            .scope
            .spawn(move || write_in_order(out, trailer, first, done_rx, credit_tx));
        self.mode = Mode::Parallel {
            jobs: jobs_tx,
            credits: credit_rx,
            in_flight: 0,
            max_in_flight: self.threads * IN_FLIGHT_PER_THREAD,
            writer,
        };
        for data in pending {
            self.dispatch(data, false)?;
        }
        Ok(())
    }

    /// Hands one block to the workers, waiting while too many are in flight.
    fn dispatch(&mut self, data: Vec<u8>, last: bool) -> io::Result<()> {
        let Mode::Parallel {
            jobs,
            credits,
            in_flight,
            max_in_flight,
            ..
        } = &mut self.mode
        else {
            unreachable!("dispatch outside parallel mode")
        };
        let stopped = || io::Error::other("the compression writer stopped");
        while *in_flight >= *max_in_flight {
            credits.recv().map_err(|_| stopped())?;
            *in_flight -= 1;
        }
        let dict = std::mem::replace(&mut self.prev_tail, tail(&data).to_vec());
        jobs.send(Job {
            seq: self.seq,
            dict,
            data,
            last,
        })
        .map_err(|_| stopped())?;
        *in_flight += 1;
        self.seq += 1;
        Ok(())
    }

    /// Stops the workers and the writer, returning the writer's error if it had one.
    fn abort(self) -> Result<()> {
        if let Mode::Parallel { jobs, writer, .. } = self.mode {
            drop(jobs);
            writer
                .join()
                .map_err(|_| anyhow!("the compression writer panicked"))??;
        }
        Ok(())
    }

    /// Compresses the last block, waits for everything to be written, writes the trailer.
    fn finish(mut self) -> Result<W> {
        let last = std::mem::take(&mut self.cur);
        match std::mem::replace(&mut self.mode, Mode::Switching) {
            mode @ Mode::Inline { .. } => {
                self.mode = mode;
                self.compress_inline(Some(last))?;
                let Mode::Inline {
                    mut out, trailer, ..
                } = std::mem::replace(&mut self.mode, Mode::Switching)
                else {
                    unreachable!()
                };
                out.write_all(&trailer.bytes())?;
                Ok(out)
            }
            mode @ Mode::Parallel { .. } => {
                self.mode = mode;
                let sent = self.dispatch(last, true);
                let Mode::Parallel { jobs, writer, .. } =
                    std::mem::replace(&mut self.mode, Mode::Switching)
                else {
                    unreachable!()
                };
                // No more jobs: the workers end, then the writer.
                drop(jobs);
                let written = writer
                    .join()
                    .map_err(|_| anyhow!("the compression writer panicked"))?;
                let out = written?;
                sent?;
                Ok(out)
            }
            Mode::Switching => unreachable!("finished twice"),
        }
    }
}

impl<'scope, W: Write + Send + 'scope> Write for Blocks<'scope, '_, W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.cur.len() == BLOCK {
                self.push_full()?;
            }
            let k = (BLOCK - self.cur.len()).min(buf.len());
            self.cur.extend_from_slice(&buf[..k]);
            buf = &buf[k..];
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The last [`WINDOW`] bytes of a block.
fn tail(data: &[u8]) -> &[u8] {
    &data[data.len().saturating_sub(WINDOW)..]
}

/// A compression thread: takes blocks until there are no more.
fn worker(jobs: &Mutex<Receiver<Job>>, done: Sender<io::Result<Done>>, level: u32) {
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let mut deflated = Vec::new();
        let result =
            deflate_block(level, &job.dict, &job.data, job.last, &mut deflated).map(|()| {
                let mut crc = Crc::new();
                crc.update(&job.data);
                Done {
                    seq: job.seq,
                    deflated,
                    crc,
                    len: job.data.len(),
                }
            });
        if done.send(result).is_err() {
            return;
        }
    }
}

/// The writer thread: writes compressed blocks in sequence, then the trailer.
fn write_in_order<W: Write>(
    mut out: W,
    mut trailer: Trailer,
    first: u64,
    done: Receiver<io::Result<Done>>,
    credits: Sender<()>,
) -> Result<W> {
    let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = first;
    for d in done {
        let d = d?;
        waiting.insert(d.seq, d);
        while let Some(d) = waiting.remove(&next) {
            out.write_all(&d.deflated)?;
            trailer.add(&d.crc, d.len);
            next += 1;
            // The producer may have stopped waiting: nothing to tell then.
            let _ = credits.send(());
        }
    }
    if !waiting.is_empty() {
        return Err(anyhow!("compression stopped with blocks missing"));
    }
    out.write_all(&trailer.bytes())?;
    Ok(out)
}

/// Deflates one block into `out` (cleared first): `dict` primes the window, and the block
/// ends with a sync flush, or with the end of the stream when it is the last.
///
/// Each block gets a new compressor: a reset one keeps the previous input in its window
/// memory, and the matcher may look at those bytes past the end of the input, so the output
/// would depend on which block the thread compressed before.
fn deflate_block(
    level: u32,
    dict: &[u8],
    data: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let c = &mut Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    out.clear();
    out.reserve(data.len() + data.len() / 64 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&data[consumed..], out, flush)
            .map_err(io::Error::other)?;
        let consumed = c.total_in() as usize;
        let room = out.len() < out.capacity();
        match status {
            Status::StreamEnd => return Ok(()),
            // A sync flush is complete when all input is taken and output room is left.
            _ if !last && consumed == data.len() && room => return Ok(()),
            _ => out.reserve(out.capacity().max(4096)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Compressible and incompressible data, `n` bytes, deterministic.
    fn sample(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n);
        let mut x: u32 = 12345;
        while v.len() < n {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if (v.len() / 50_000) % 3 == 2 {
                v.push((x >> 16) as u8);
            } else {
                v.extend_from_slice(format!("word{} ", (x >> 16) % 300).as_bytes());
            }
        }
        v.truncate(n);
        v
    }

    const HEADER: Header = Header {
        extra: Some(b"xyz"),
        comment: Some("Helm"),
    };

    fn gz(data: &[u8], threads: usize, write_size: usize) -> Vec<u8> {
        compress(Vec::new(), HEADER, 6, threads, |w| {
            for chunk in data.chunks(write_size.max(1)) {
                w.write_all(chunk)?;
            }
            Ok(())
        })
        .unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn same_bytes_with_one_thread_and_four() {
        let data = sample(3 * PARALLEL_MIN + 12_345);
        let one = gz(&data, 1, 1000);
        let four = gz(&data, 4, 7777);
        assert_eq!(one, four);
        assert_eq!(gz(&data, 2, 512), one);
        assert_eq!(gunzip(&one), data);
    }

    #[test]
    fn round_trips_at_block_edges() {
        for n in [
            0,
            1,
            WINDOW,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            2 * BLOCK,
            PARALLEL_MIN,
            PARALLEL_MIN + BLOCK,
            PARALLEL_MIN + 1,
        ] {
            let data = sample(n);
            for threads in [1, 3] {
                let out = gz(&data, threads, 4096);
                assert_eq!(gunzip(&out), data, "{n} bytes, {threads} threads");
            }
        }
    }

    #[test]
    fn one_deflate_stream_with_the_crc_of_everything() {
        let data = sample(PARALLEL_MIN + 3 * BLOCK + 7);
        let out = gz(&data, 2, 65536);
        // A reader of exactly one member reads it all; the trailer holds CRC and length.
        assert_eq!(gunzip(&out), data);
        let mut crc = Crc::new();
        crc.update(&data);
        let n = out.len();
        assert_eq!(out[n - 8..n - 4], crc.sum().to_le_bytes());
        assert_eq!(out[n - 4..], (data.len() as u32).to_le_bytes());
    }

    #[test]
    fn header_as_flate2_writes_it() {
        let mut theirs = flate2::GzBuilder::new()
            .extra(&b"xyz"[..])
            .comment("Helm")
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), Compression::new(6));
        theirs.write_all(b"a").unwrap();
        let theirs = theirs.finish().unwrap();
        let ours = header_bytes(HEADER, 6);
        assert_eq!(ours[..], theirs[..ours.len()]);
    }

    #[test]
    fn nearly_as_small_as_one_stream() {
        let data = sample(2 * PARALLEL_MIN);
        let ours = gz(&data, 2, 65536).len();
        let mut one = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        one.write_all(&data).unwrap();
        let one = one.finish().unwrap().len();
        assert!(ours * 100 <= one * 101, "{ours} vs {one}");
    }

    #[test]
    fn an_error_from_the_producer_is_returned() {
        for threads in [1, 2] {
            let e = compress(Vec::new(), HEADER, 6, threads, |w| {
                w.write_all(&sample(PARALLEL_MIN + BLOCK))?;
                Err(anyhow!("file changed"))
            })
            .unwrap_err();
            assert_eq!(e.to_string(), "file changed");
        }
    }

    #[derive(Debug)]
    struct FailingWriter(usize);
    impl Write for FailingWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_error_from_the_output_is_returned_while_the_input_is_written() {
        for threads in [1, 2] {
            let mut stopped_early = false;
            let e = compress(FailingWriter(100_000), HEADER, 6, threads, |w| {
                // Streaming: the output fails long before 4 MiB of input is taken.
                let r = w.write_all(&sample(4 * PARALLEL_MIN));
                stopped_early = r.is_err();
                Ok(r?)
            })
            .unwrap_err();
            assert!(stopped_early, "{threads} threads");
            assert!(format!("{e:#}").contains("disk full"), "{e:#}");
        }
    }
}
