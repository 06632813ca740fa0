//! How long a peer may take and how slowly it may move bytes: the liveliness [`Limits`], the
//! overall [`Deadline`], the [`RateFloor`] under a transfer, the [`Metered`] reader that counts
//! an upload into its [`Transfer`], and the caps on JSON answers and downloads.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest JSON answer read (a list page, an error body). A page of 100 items is a few tens of
/// KiB; this is far above it, and far below what would strain memory.
pub const MAX_JSON_BYTES: u64 = 4 << 20;
/// Default cap on one download: far above any chart Helm can load (100 MiB expanded).
pub const DEFAULT_MAX_DOWNLOAD: u64 = 512 << 20;

/// How long a peer may take, fixed in production (see [`Limits::default`]), short in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Name resolution and connection set-up, each.
    pub connect: Duration,
    /// No byte read or written for this long on an open connection: a dead peer.
    pub idle: Duration,
    /// From the end of the request to the final answer's headers (`1xx` interim answers do
    /// not count as an answer).
    pub response: Duration,
    /// A transfer moving fewer than `floor_bytes` in this long is dropped.
    pub floor_window: Duration,
    pub floor_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect: Duration::from_secs(15),
            idle: Duration::from_secs(60),
            response: Duration::from_secs(300),
            floor_window: Duration::from_secs(60),
            // 1 KiB/s over the window.
            floor_bytes: 60 << 10,
        }
    }
}

/// An overall time limit and where it comes from, for messages.
#[derive(Debug, Clone)]
pub struct Deadline {
    /// No request starts or runs past this instant.
    pub at: Instant,
    pub limit: Duration,
    /// How the user set it: `--timeout 4s`, `HELM_CCR_TIMEOUT=4s`, or the getter's default.
    pub source: String,
    /// What to raise: `--timeout` or `HELM_CCR_TIMEOUT`.
    pub knob: &'static str,
}

/// A transfer in progress: what, which way, how far (for messages), shared with the reader
/// that moves its bytes.
#[derive(Debug)]
pub struct Transfer {
    pub label: String,
    pub upload: bool,
    pub total: Option<u64>,
    done: AtomicU64,
}

impl Transfer {
    pub fn new(label: &str, upload: bool, total: Option<u64>) -> Arc<Transfer> {
        Arc::new(Transfer {
            label: label.to_string(),
            upload,
            total,
            done: AtomicU64::new(0),
        })
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub(super) fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn reset(&self) {
        self.done.store(0, Ordering::Relaxed);
    }
}

/// Which liveliness limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The overall limit (`--timeout`, `HELM_CCR_TIMEOUT`, the getter's default).
    Overall,
    /// No byte for [`Limits::idle`].
    Idle,
    /// No final answer within [`Limits::response`].
    Response,
    /// Slower than the floor.
    Floor,
}

/// The error a [`Metered`] reader returns when the rate stays under the floor.
#[derive(Debug, thiserror::Error)]
#[error("the transfer rate stayed under the floor")]
pub struct TooSlow;

/// The floor under a transfer's rate: fewer than `min_bytes` per `window`, measured over a
/// whole window or more, is too slow. Pure: the caller passes the time.
#[derive(Debug, Clone)]
pub struct RateFloor {
    window: Duration,
    min_bytes: u64,
    start: Instant,
    bytes: u64,
}

impl RateFloor {
    pub fn new(limits: &Limits, now: Instant) -> RateFloor {
        RateFloor {
            window: limits.floor_window,
            min_bytes: limits.floor_bytes,
            start: now,
            bytes: 0,
        }
    }

    /// Records `n` bytes moved at `now`. Once a window or more has passed, the bytes moved
    /// since the window began must reach the floor's rate over that time; then a new window
    /// begins.
    pub fn record(&mut self, n: u64, now: Instant) -> Result<(), TooSlow> {
        self.bytes = self.bytes.saturating_add(n);
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed < self.window || self.window.is_zero() {
            return Ok(());
        }
        let needed = self.min_bytes as f64 * elapsed.as_secs_f64() / self.window.as_secs_f64();
        if (self.bytes as f64) < needed {
            return Err(TooSlow);
        }
        self.start = now;
        self.bytes = 0;
        Ok(())
    }
}

/// A reader that counts what passes into a [`Transfer`] and enforces the [`RateFloor`]
/// (an upload's body).
pub struct Metered<R> {
    inner: R,
    transfer: Arc<Transfer>,
    floor: RateFloor,
}

impl<R: Read> Metered<R> {
    pub fn new(inner: R, transfer: Arc<Transfer>, limits: &Limits) -> Metered<R> {
        transfer.reset();
        Metered {
            inner,
            transfer,
            floor: RateFloor::new(limits, Instant::now()),
        }
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.transfer.add(n as u64);
        self.floor
            .record(n as u64, Instant::now())
            .map_err(io::Error::other)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_floor_needs_a_whole_window() {
        let limits = Limits::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut f = RateFloor::new(&limits, t0);
        // Slow at first is fine until a window has passed.
        assert!(f.record(10, t0 + s(30)).is_ok());
        // 60 s, 60 KiB needed: 10 bytes is too slow.
        assert!(f.record(0, t0 + s(60)).is_err());
        // Enough in the window: a new window starts.
        let mut f = RateFloor::new(&limits, t0);
        assert!(f.record(61 << 10, t0 + s(59)).is_ok());
        assert!(f.record(1, t0 + s(61)).is_ok());
        assert!(
            f.record(1, t0 + s(121)).is_err(),
            "the next window is measured afresh"
        );
        // A byte every 59 s never trips the idle limit, but does trip the floor.
        let mut f = RateFloor::new(&limits, t0);
        assert!(f.record(1, t0 + s(59)).is_ok());
        assert!(f.record(1, t0 + s(118)).is_err());
    }
}
