//! When to try a request again and how long to wait: the attempt budgets ([`Attempts`]: one
//! for failures, a larger one for throttled answers), exponential backoff with jitter, the
//! server's `Retry-After` (spread, see [`spread`]), and the one re-signing after a
//! `RequestExpired` with the clock corrected from the server's `Date`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};

use super::messages::{retry_wait_message, throttled_message};
use super::throttle::Permit;
use super::{Failure, Transport};
use crate::support::clock::parse_http_date;

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A throttled request gets this many times the attempts of a failing one
/// ([`super::TransportConfig::attempts`]): 12 by default. A throttled answer says the registry
/// is healthy and did nothing; it is safe and cheap to ask again once the load is down, which
/// the spread `Retry-After` and the [`super::throttle::Gate`] see to. The overall deadline
/// still bounds the whole.
pub const THROTTLED_ATTEMPTS_FACTOR: u32 = 3;

/// The attempt budgets of one request: decides, failure by failure, whether to try again.
pub struct Attempts<'t> {
    transport: &'t Transport,
    /// Failed attempts so far (the one that just failed included), throttled answers aside.
    made: u32,
    /// Throttled answers so far.
    throttled: u32,
    /// Requests in flight when the last throttled answer came, when known.
    in_flight: Option<usize>,
    /// Whether this request was already re-signed after a `RequestExpired`.
    resigned: bool,
}

impl<'t> Attempts<'t> {
    pub fn new(transport: &'t Transport) -> Self {
        Attempts {
            transport,
            made: 0,
            throttled: 0,
            in_flight: None,
            resigned: false,
        }
    }

    /// Attempts for throttled answers: [`THROTTLED_ATTEMPTS_FACTOR`] times those for failures.
    pub fn throttled_budget(attempts: u32) -> u32 {
        attempts.max(1).saturating_mul(THROTTLED_ATTEMPTS_FACTOR)
    }

    /// [`Attempts::on_failure`] for an attempt made under `permit`: a throttled answer lowers
    /// the transport's limit on requests in flight; the place is given back before any wait.
    pub fn on_failure_under(&mut self, failure: Failure, permit: Permit<'_>) -> Result<()> {
        if failure.is_throttled() {
            self.in_flight = Some(permit.throttled());
        } else {
            drop(permit);
        }
        self.on_failure(failure)
    }

    /// `Ok(())`: try again (after waiting as needed). `Err`: the final error, naming the last
    /// cause and how many attempts were made.
    pub fn on_failure(&mut self, failure: Failure) -> Result<()> {
        let budget = self.transport.cfg.attempts.max(1);
        let throttled = failure.is_throttled();
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
                if throttled {
                    self.throttled += 1;
                    let budget = Self::throttled_budget(budget);
                    if self.throttled < budget {
                        self.transport.wait_to_retry(
                            self.throttled,
                            budget,
                            meta.retry_after,
                            &err,
                        )?;
                        return Ok(());
                    }
                    return Err(self.give_up_throttled(err.into()));
                }
                self.made += 1;
                if err.is_transient() && self.made < budget {
                    self.transport
                        .wait_to_retry(self.made, budget, meta.retry_after, &err)?;
                    return Ok(());
                }
                Err(self.give_up(err.into()))
            }
            Failure::Transport(e, transient) => {
                self.made += 1;
                if transient && self.made < budget {
                    self.transport
                        .wait_to_retry(self.made, budget, None, &format!("{e:#}"))?;
                    return Ok(());
                }
                Err(self.give_up(e))
            }
        }
    }

    fn give_up(&self, e: anyhow::Error) -> anyhow::Error {
        let made = self.made + self.throttled;
        if made > 1 {
            e.context(format!("gave up after {made} attempts"))
        } else {
            e
        }
    }

    /// The registry still throttled after the throttled budget: names `HELM_CCR_PARALLEL`.
    fn give_up_throttled(&self, e: anyhow::Error) -> anyhow::Error {
        e.context(throttled_message(
            self.made + self.throttled,
            self.in_flight,
            self.transport.cfg.parallel.max(1),
        ))
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
    /// `Retry-After` (at most a minute), spread (see [`spread`]). Never waits past the
    /// `--timeout` deadline.
    pub fn backoff(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        cause: &dyn std::fmt::Display,
    ) -> Result<()> {
        self.wait_to_retry(attempt, self.cfg.attempts, retry_after, cause)
    }

    /// [`Transport::backoff`] within a budget of `budget` attempts (for the debug line).
    fn wait_to_retry(
        &self,
        attempt: u32,
        budget: u32,
        retry_after: Option<Duration>,
        cause: &dyn std::fmt::Display,
    ) -> Result<()> {
        let base = Duration::from_millis(250u64 << attempt.clamp(1, 6).saturating_sub(1));
        let base = base.min(Duration::from_secs(8));
        // The least wait: what the server asked for; the spread goes on top when time allows.
        let (least, mut wait) = match retry_after {
            Some(ra) => {
                let ra = ra.min(MAX_RETRY_AFTER);
                (ra, spread(ra))
            }
            None => {
                let j = jitter(base);
                (j, j)
            }
        };
        if let Some(left) = self
            .remaining()
            .map_err(|e| anyhow!("{e} (last failure: {cause})"))?
        {
            if least >= left {
                let d = self.cfg.deadline.as_ref();
                bail!(
                    "{}",
                    retry_wait_message(d.map(|d| (d.limit, d.source.as_str(), d.knob)), cause)
                );
            }
            if wait >= left {
                wait = least;
            }
        }
        self.out().debug(&format!(
            "attempt {attempt} of {budget} failed ({cause}); retrying in {} ms{}",
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

/// The least spread added to a `Retry-After`, so that a `Retry-After: 0` spreads too.
const MIN_SPREAD: Duration = Duration::from_millis(250);

/// The wait for a `Retry-After` of `ra`: `ra` plus a random extra of up to half of it (at
/// least up to [`MIN_SPREAD`]), never less than asked.
///
/// Why: every worker throttled by the same overload hears the same `Retry-After`; waiting
/// exactly that long brings them all back at the same instant, into the same overload. A
/// spread proportional to the wait keeps them apart for any `Retry-After` (a fixed second
/// would be half the wait at `Retry-After: 1` and nothing at a minute), costs a quarter of the
/// wait on average, and never comes back earlier than the registry asked.
pub fn spread(ra: Duration) -> Duration {
    let width = (ra / 2).max(MIN_SPREAD);
    ra + Duration::from_nanos(random() % (width.as_nanos() as u64).max(1))
}

/// A duration between `d/2` and `d`, at random.
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    half + Duration::from_nanos(random() % (half.as_nanos() as u64).max(1))
}

/// A random number from the clock's low bits and a counter, mixed (splitmix64): no need for
/// a CSPRNG, and two threads asking in the same nanosecond still get different numbers.
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0) as u64;
    let n = COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    let mut z = nanos.wrapping_add(n);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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

        #[test]
        fn a_spread_retry_after_is_never_shorter_than_asked(ms in 0u64..120_000) {
            let ra = Duration::from_millis(ms);
            let w = spread(ra);
            prop_assert!(w >= ra, "{w:?} < {ra:?}");
            prop_assert!(w < ra + (ra / 2).max(MIN_SPREAD), "{w:?}");
        }
    }

    #[test]
    fn retry_afters_heard_together_are_spread() {
        for ra in [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(60),
        ] {
            let waits: std::collections::BTreeSet<Duration> = (0..32).map(|_| spread(ra)).collect();
            assert!(waits.len() > 16, "{ra:?}: {waits:?}");
        }
    }

    #[test]
    fn a_throttled_request_has_more_attempts_than_a_failing_one() {
        assert_eq!(Attempts::throttled_budget(4), 12);
        assert_eq!(Attempts::throttled_budget(1), 3);
        assert_eq!(Attempts::throttled_budget(0), 3);
        assert_eq!(Attempts::throttled_budget(u32::MAX), u32::MAX);
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
