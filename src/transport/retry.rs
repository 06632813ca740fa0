//! When to try a request again and how long to wait: the attempt budget ([`Attempts`]),
//! exponential backoff with jitter, the server's `Retry-After`, and the one re-signing after a
//! `RequestExpired` with the clock corrected from the server's `Date`.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};

use super::messages::retry_wait_message;
use super::{Failure, Transport};
use crate::support::clock::parse_http_date;

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The attempt budget of one request: decides, failure by failure, whether to try again.
pub struct Attempts<'t> {
    transport: &'t Transport,
    /// Attempts made so far (the one that just failed included).
    made: u32,
    /// Whether this request was already re-signed after a `RequestExpired`.
    resigned: bool,
}

impl<'t> Attempts<'t> {
    pub fn new(transport: &'t Transport) -> Self {
        Attempts {
            transport,
            made: 0,
            resigned: false,
        }
    }

    /// `Ok(())`: try again (after waiting as needed). `Err`: the final error, naming the last
    /// cause and how many attempts were made.
    pub fn on_failure(&mut self, failure: Failure) -> Result<()> {
        let budget = self.transport.cfg.attempts.max(1);
        match failure {
            Failure::Api(err, meta) => {
                if err.is_request_expired()
                    && !self.resigned
                    && self.transport.correct_clock(meta.date.as_deref())
                {
                    // Not a transient fault: does not count against the budget.
                    self.resigned = true;
                    return Ok(());
                }
                self.made += 1;
                if err.is_transient() && self.made < budget {
                    self.transport.backoff(self.made, meta.retry_after, &err)?;
                    return Ok(());
                }
                Err(self.give_up(err.into()))
            }
            Failure::Transport(e, transient) => {
                self.made += 1;
                if transient && self.made < budget {
                    self.transport.backoff(self.made, None, &format!("{e:#}"))?;
                    return Ok(());
                }
                Err(self.give_up(e))
            }
        }
    }

    fn give_up(&self, e: anyhow::Error) -> anyhow::Error {
        if self.made > 1 {
            e.context(format!("gave up after {} attempts", self.made))
        } else {
            e
        }
    }
}

impl Transport {
    /// On `RequestExpired`, learns the clock offset from the server's `Date`. Returns whether
    /// the request is worth signing again (the server sent a usable `Date`).
    fn correct_clock(&self, date: Option<&str>) -> bool {
        let Some(server) = date.and_then(parse_http_date) else {
            self.out().debug(
                "RequestExpired, and the server sent no usable Date to correct the clock with",
            );
            return false;
        };
        let local = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let offset = server - local;
        let old = self.clock_offset.swap(offset, Ordering::SeqCst);
        if old != offset {
            self.out().debug(&format!(
                "RequestExpired: the local clock is {}s off the server's (Date: {}); re-signing with the server's time and retrying once",
                local - server,
                date.unwrap_or_default()
            ));
        } else {
            self.out()
                .debug("RequestExpired: re-signing with the server's time and retrying once");
        }
        true
    }

    /// Waits before attempt `attempt + 1`: exponential backoff with jitter, or the server's
    /// `Retry-After` (at most a minute). Never waits past the `--timeout` deadline.
    pub fn backoff(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        cause: &dyn std::fmt::Display,
    ) -> Result<()> {
        let base = Duration::from_millis(250u64 << attempt.clamp(1, 6).saturating_sub(1));
        let base = base.min(Duration::from_secs(8));
        let wait = match retry_after {
            Some(ra) => ra.min(MAX_RETRY_AFTER),
            None => jitter(base),
        };
        if let Some(left) = self
            .remaining()
            .map_err(|e| anyhow!("{e} (last failure: {cause})"))?
        {
            if wait >= left {
                let d = self.cfg.deadline.as_ref();
                bail!(
                    "{}",
                    retry_wait_message(d.map(|d| (d.limit, d.source.as_str(), d.knob)), cause)
                );
            }
        }
        self.out().debug(&format!(
            "attempt {attempt} of {} failed ({cause}); retrying in {} ms{}",
            self.cfg.attempts,
            wait.as_millis(),
            if retry_after.is_some() {
                " (Retry-After)"
            } else {
                ""
            }
        ));
        std::thread::sleep(wait);
        Ok(())
    }
}

/// `Retry-After`: delta-seconds or an HTTP date (relative to `now`, Unix seconds).
pub fn parse_retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(Duration::from_secs(at.saturating_sub(now).max(0) as u64))
}

/// A duration between `d/2` and `d`, from the clock's low bits (no need for a CSPRNG).
fn jitter(d: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0) as u64;
    let mixed = nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    let half = d / 2;
    half + Duration::from_nanos(mixed % (half.as_nanos() as u64).max(1))
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::support::clock;

    proptest! {
        #[test]
        fn header_parsing_never_panics(s in ".{0,40}", now in any::<i64>()) {
            let _ = parse_http_date(&s);
            let _ = parse_retry_after(&s, now);
        }

        #[test]
        fn http_date_shaped_headers_never_panic(
            day in any::<i64>(), year in any::<i64>(), h in any::<i64>(), m in any::<i64>(), sec in any::<i64>(),
        ) {
            let s = format!("Mon, {day} Jan {year} {h}:{m}:{sec} GMT");
            let _ = parse_http_date(&s);
            let _ = parse_retry_after(&s, 0);
            let _ = parse_retry_after(&s, i64::MIN);
            let _ = parse_retry_after(&s, i64::MAX);
        }

        #[test]
        fn http_dates_round_trip(t in 0i64..4_102_444_800) {
            // Through the signer's timestamp: YYYY-MM-DDThh:mm:ssZ.
            let ts = clock::format_timestamp(t);
            let (date, time) = ts.trim_end_matches('Z').split_once('T').unwrap();
            let mut d = date.split('-');
            let (y, m, day) = (d.next().unwrap(), d.next().unwrap(), d.next().unwrap());
            let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                [m.parse::<usize>().unwrap() - 1];
            let http = format!("Mon, {day} {month} {y} {time} GMT");
            prop_assert_eq!(parse_http_date(&http), Some(t));
            prop_assert_eq!(parse_retry_after(&http, t), Some(Duration::ZERO));
            prop_assert_eq!(parse_retry_after(&http, t - 5), Some(Duration::from_secs(5)));
        }

        #[test]
        fn jitter_is_bounded(ms in 2u64..100_000) {
            let d = Duration::from_millis(ms);
            let j = jitter(d);
            prop_assert!(j >= d / 2 && j <= d);
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 3 ", 0), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-1", 0), None);
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 - 10),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 + 10),
            Some(Duration::ZERO),
            "a date in the past: retry now"
        );
    }
}
