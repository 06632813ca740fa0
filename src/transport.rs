//! The HTTP transport under the CCR API: BCE-signed requests, retries with backoff for
//! transient faults, clock-skew correction, connect/idle/overall timeouts, bounded JSON bodies
//! and streamed downloads. It knows nothing of charts or namespaces: [`crate::registry`] builds
//! the paths and decides what answers mean.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use ureq::http;

use crate::clock::{self, parse_http_date};
use crate::credentials::Credentials;
use crate::env::Endpoint;
use crate::error::ApiError;
use crate::output::{Activity, Output};
use crate::sign;

/// Largest JSON answer read (a list page, an error body).
const MAX_JSON_BYTES: u64 = 32 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// No byte for this long on an open connection means a dead peer.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Everything a transport needs, resolved by [`crate::settings::connect`].
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub endpoint: Endpoint,
    pub credentials: Credentials,
    /// Attempts per request for transient faults (at least 1).
    pub attempts: u32,
    /// No request starts or runs past this instant.
    pub deadline: Option<Instant>,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
    pub output: Output,
    /// Requests the caller runs at once at most (`HELM_CCR_PARALLEL`): as many connections
    /// stay open for reuse.
    pub parallel: usize,
}

/// Signed, retrying HTTP requests to one endpoint with one set of credentials.
pub struct Transport {
    agent: ureq::Agent,
    cfg: TransportConfig,
    /// Seconds to add to the local clock, learnt from the server's `Date` on `RequestExpired`.
    clock_offset: AtomicI64,
}

/// What the headers of an error answer tell us.
pub struct AnswerMeta {
    /// The server's `Date`, for clock-skew correction.
    date: Option<String>,
    /// `Retry-After` on a 429/503 answer.
    retry_after: Option<Duration>,
}

/// What happened to a request that did not succeed.
pub enum Failure {
    /// The server answered with an error status.
    Api(ApiError, AnswerMeta),
    /// No answer: the request may or may not have been processed.
    Transport(anyhow::Error, bool),
}

impl Failure {
    /// True when the request may have been carried out although no success came back: no
    /// answer at all, or a 5xx (a gateway may time out after the backend did the work).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Failure::Api(err, _) => err.status >= 500,
            Failure::Transport(_, transient) => *transient,
        }
    }
}

/// A download whose body broke off or came short: worth starting again on a fresh file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyBroken(pub String);

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
    pub fn new(cfg: TransportConfig) -> Result<Transport> {
        Transport::with_io_timeouts(cfg, CONNECT_TIMEOUT, IDLE_TIMEOUT)
    }

    /// A client whose connect (and name resolution) and idle-read/write timeouts are these.
    pub(crate) fn with_io_timeouts(
        cfg: TransportConfig,
        connect: Duration,
        idle: Duration,
    ) -> Result<Transport> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &cfg.ca_file {
            let pem =
                std::fs::read(ca).with_context(|| format!("reading --ca-file {}", ca.display()))?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                bail!("--ca-file {}: no PEM certificate in it", ca.display());
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        if cfg.insecure_skip_tls_verify {
            tls = tls.disable_verification(true);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls.build())
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect))
            .timeout_per_read(Some(idle))
            .timeout_per_write(Some(idle))
            .max_idle_connections(cfg.parallel.max(1))
            .max_idle_connections_per_host(cfg.parallel.max(1))
            .user_agent(concat!("helm-ccr/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Transport {
            agent,
            cfg,
            clock_offset: AtomicI64::new(0),
        })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.cfg
    }

    pub fn out(&self) -> &Output {
        &self.cfg.output
    }

    fn now_unix(&self) -> i64 {
        let local = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        local + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Time left before the `--timeout` deadline (None: no deadline); an error once it passed.
    pub fn remaining(&self) -> Result<Option<Duration>> {
        match self.cfg.deadline {
            None => Ok(None),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    bail!("timed out (--timeout)");
                }
                Ok(Some(left))
            }
        }
    }

    /// Sends one signed request to `path` (already encoded, see [`sign::build_path`]); no
    /// retries.
    pub fn send_once(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: ureq::SendBody<'_>,
        content_length: Option<u64>,
    ) -> Result<http::Response<ureq::Body>, Failure> {
        let creds = &self.cfg.credentials;
        let timestamp = clock::format_timestamp(self.now_unix());
        let host = self.cfg.endpoint.host_header();
        let mut signed = vec![
            ("host".to_string(), host.clone()),
            ("x-bce-date".to_string(), timestamp.clone()),
        ];
        if let Some(token) = &creds.security_token {
            signed.push(("x-bce-security-token".to_string(), token.clone()));
        }
        let signature = sign::sign(
            &sign::Request {
                method,
                path,
                query,
                headers: &signed,
            },
            &sign::SigningKey {
                access_key_id: &creds.access_key_id,
                secret_access_key: &creds.secret_access_key,
            },
            &timestamp,
            sign::DEFAULT_EXPIRATION_SECONDS,
        );
        let qs = sign::canonical_query(query);
        let url = if qs.is_empty() {
            format!("{}{}", self.cfg.endpoint.base_url(), path)
        } else {
            format!("{}{}?{}", self.cfg.endpoint.base_url(), path, qs)
        };
        let mut builder = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("host", &host)
            .header("x-bce-date", &timestamp)
            .header("authorization", &signature.authorization);
        if let Some(token) = &creds.security_token {
            builder = builder.header("x-bce-security-token", token);
        }
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        if let Some(len) = content_length {
            builder = builder.header("content-length", len.to_string());
        }
        if self.out().debug {
            self.out().debug(&format!(
                "{method} {url} (authorization: bce-auth-v1/{}/{timestamp}/{}/{}/<redacted>{})",
                creds.access_key_id,
                sign::DEFAULT_EXPIRATION_SECONDS,
                signature.signed_headers,
                if creds.security_token.is_some() {
                    ", x-bce-security-token: <redacted>"
                } else {
                    ""
                }
            ));
        }
        let request = builder
            .body(body)
            .map_err(|e| Failure::Transport(anyhow!("bad request: {e}"), false))?;
        let remaining = self.remaining().map_err(|e| Failure::Transport(e, false))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(remaining)
            .build();
        let started = Instant::now();
        match self.agent.run(request) {
            Ok(resp) => {
                let request_id = header(&resp, "x-bce-request-id");
                self.out().debug(&format!(
                    "{method} {url} -> {} ({} ms{})",
                    resp.status().as_u16(),
                    started.elapsed().as_millis(),
                    request_id
                        .as_deref()
                        .map(|id| format!(", request id {id}"))
                        .unwrap_or_default()
                ));
                if resp.status().is_success() {
                    return Ok(resp);
                }
                let status = resp.status().as_u16();
                let date = header(&resp, "date");
                let retry_after = if matches!(status, 429 | 503) {
                    header(&resp, "retry-after")
                        .and_then(|v| parse_retry_after(&v, self.now_unix()))
                } else {
                    None
                };
                let mut resp = resp;
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(64 << 10)
                    .read_to_vec()
                    .unwrap_or_default();
                Err(Failure::Api(
                    ApiError::from_body(status, &body, request_id),
                    AnswerMeta { date, retry_after },
                ))
            }
            Err(e) => {
                self.out().debug(&format!("{method} {url} -> {e}"));
                let transient = matches!(
                    e,
                    ureq::Error::Io(_)
                        | ureq::Error::Timeout(_)
                        | ureq::Error::ConnectionFailed
                        | ureq::Error::Protocol(_)
                );
                let msg = describe_transport(&e, &self.cfg.endpoint);
                Err(Failure::Transport(anyhow!(msg), transient))
            }
        }
    }

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
            .map_err(|e| anyhow!("{e} after: {cause}"))?
        {
            if wait >= left {
                bail!("timed out (--timeout) while waiting to retry after: {cause}");
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

    /// A JSON call with retries: transient faults are retried, a `RequestExpired` is corrected
    /// once. Returns the body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        let mut tries = Attempts::new(self);
        let mut outcome_unknown = false;
        loop {
            let send_body = match &body {
                Some(b) => ureq::SendBody::from_owned_reader(io::Cursor::new(b.to_vec())),
                None => ureq::SendBody::none(),
            };
            let (ct, len) = match &body {
                Some(b) => (Some("application/json"), Some(b.len() as u64)),
                None => (None, None),
            };
            let failure = match self.send_once(method, path, query, ct, send_body, len) {
                Ok(mut resp) => match resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_JSON_BYTES)
                    .read_to_vec()
                {
                    Ok(bytes) => return Ok(bytes),
                    Err(ureq::Error::BodyExceedsLimit(_)) => bail!(
                        "the registry's answer to {method} {path} is larger than {} MiB",
                        MAX_JSON_BYTES >> 20
                    ),
                    Err(e) => Failure::Transport(
                        anyhow!(
                            "{}: the answer broke off: {e}",
                            self.cfg.endpoint.base_url()
                        ),
                        true,
                    ),
                },
                Err(f) => f,
            };
            // A DELETE whose earlier answer was lost may have done its work.
            if let Failure::Api(err, _) = &failure {
                if method == "DELETE" && outcome_unknown && err.is_not_found() {
                    self.out()
                        .debug("DELETE answered 404 after a lost answer: already deleted");
                    return Ok(Vec::new());
                }
            }
            outcome_unknown |= failure.outcome_unknown();
            tries.on_failure(failure)?;
        }
    }

    /// Streams the body of a GET of `path` into `out`, `label` naming it in messages and on the
    /// progress bar. Failures before the body starts are retried here; a body cut short is a
    /// [`BodyBroken`] error (the caller starts again on a fresh file).
    pub fn get_to(&self, path: &str, label: &str, out: &mut dyn Write) -> Result<u64> {
        let mut tries = Attempts::new(self);
        let resp = loop {
            match self.send_once("GET", path, &[], None, ureq::SendBody::none(), None) {
                Ok(resp) => break resp,
                Err(f) => tries.on_failure(f)?,
            }
        };
        let expected = header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok());
        let bar = self
            .out()
            .transfer_bar(expected.unwrap_or(0), Activity::Downloading, label);
        let mut reader = resp.into_body().into_reader();
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let of = expected.map(|l| format!(" of {l}")).unwrap_or_default();
                    return Err(BodyBroken(format!(
                        "download of {label} is truncated: the connection broke off after {total}{of} bytes ({e})"
                    ))
                    .into());
                }
            };
            out.write_all(&buf[..n])
                .with_context(|| format!("writing {label}"))?;
            total += n as u64;
            if let Some(b) = &bar {
                b.set_position(total);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(len) = expected {
            if total != len {
                return Err(BodyBroken(format!(
                    "download of {label} is truncated: {total} of {len} bytes"
                ))
                .into());
            }
        }
        Ok(total)
    }
}

pub fn header(resp: &http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn describe_transport(e: &ureq::Error, endpoint: &Endpoint) -> String {
    let base = endpoint.base_url();
    match e {
        ureq::Error::Timeout(t) => format!("{base}: timed out ({t})"),
        ureq::Error::HostNotFound => format!("{base}: host not found"),
        ureq::Error::ConnectionFailed => format!("{base}: connection failed"),
        ureq::Error::Io(io) => match io.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => {
                format!("{base}: connection reset: the registry closed it without an answer ({io})")
            }
            io::ErrorKind::ConnectionRefused => format!("{base}: connection refused ({io})"),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                format!("{base}: timed out waiting for the registry ({io})")
            }
            _ => format!("{base}: {io}"),
        },
        other => format!("{base}: {other}"),
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
