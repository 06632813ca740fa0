//! The HTTP transport under the CCR API: BCE-signed requests, retries with backoff for
//! transient faults, clock-skew correction, connect/idle/overall timeouts, a floor under the
//! transfer rate, bounded JSON bodies and streamed, capped downloads. It knows nothing of
//! charts or namespaces: [`crate::registry`] builds the paths and decides what answers mean.
//!
//! Nothing a peer does keeps a command alive forever, with or without `--timeout`: no answer
//! within [`Limits::response`] of a request (endless `1xx` interim answers included), no byte
//! for [`Limits::idle`], or a transfer slower than [`Limits::floor_bytes`] per
//! [`Limits::floor_window`], each ends the attempt with a message naming the limit and, for a
//! transfer, how far it got.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use ureq::http;

use crate::clock::{self, parse_http_date};
use crate::credentials::Credentials;
use crate::env::Endpoint;
use crate::error::ApiError;
use crate::output::{Activity, Output};
use crate::sign;
/// Re-exported for callers that format durations next to transport settings; the home is
/// [`crate::text`].
pub use crate::text::duration_text;
use crate::text::size_text;

/// Largest JSON answer read (a list page, an error body). A page of 100 items is a few tens of
/// KiB; this is far above it, and far below what would strain memory.
pub const MAX_JSON_BYTES: u64 = 4 << 20;
/// Default cap on one download: far above any chart Helm can load (100 MiB expanded).
pub const DEFAULT_MAX_DOWNLOAD: u64 = 512 << 20;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

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

/// Everything a transport needs, resolved by [`crate::settings::connect`].
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub endpoint: Endpoint,
    pub credentials: Credentials,
    /// Attempts per request for transient faults (at least 1).
    pub attempts: u32,
    /// The overall time limit, if any.
    pub deadline: Option<Deadline>,
    /// Largest download accepted, in bytes, and the setting that changes it.
    pub max_download: u64,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
    pub output: Output,
    /// Requests the caller runs at once at most (`HELM_CCR_PARALLEL`): as many connections
    /// stay open for reuse.
    pub parallel: usize,
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

    fn add(&self, n: u64) {
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

/// Signed, retrying HTTP requests to one endpoint with one set of credentials.
pub struct Transport {
    agent: ureq::Agent,
    cfg: TransportConfig,
    limits: Limits,
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
        Transport::with_limits(cfg, Limits::default())
    }

    /// A client with these liveliness limits (tests use short ones).
    pub fn with_limits(cfg: TransportConfig, limits: Limits) -> Result<Transport> {
        let (connect, idle) = (limits.connect, limits.idle);
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
            .timeout_recv_response(Some(limits.response))
            .max_idle_connections(cfg.parallel.max(1))
            .max_idle_connections_per_host(cfg.parallel.max(1))
            .user_agent(concat!("helm-ccr/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Transport {
            agent,
            cfg,
            limits,
            clock_offset: AtomicI64::new(0),
        })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.cfg
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    #[cfg(test)]
    pub(crate) fn cfg_mut_for_tests(&mut self) -> &mut TransportConfig {
        &mut self.cfg
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

    /// Time left before the overall deadline (None: no deadline); an error once it passed.
    pub fn remaining(&self) -> Result<Option<Duration>> {
        match &self.cfg.deadline {
            None => Ok(None),
            Some(d) => {
                let left = d.at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    bail!(
                        "{}",
                        stall_message(
                            Stall::Overall,
                            &self.cfg.endpoint.base_url(),
                            &self.limits,
                            Some(d),
                            None
                        )
                    );
                }
                Ok(Some(left))
            }
        }
    }

    /// The message for a request that ran into `stall`, with the transfer's progress.
    fn stall_text(&self, stall: Stall, transfer: Option<&Transfer>) -> String {
        stall_message(
            stall,
            &self.cfg.endpoint.base_url(),
            &self.limits,
            self.cfg.deadline.as_ref(),
            transfer.map(|t| TransferState {
                label: &t.label,
                upload: t.upload,
                done: t.done(),
                total: t.total,
            }),
        )
    }

    /// A failure to send or to read: a stall named with its limit, or the transport error.
    /// Returns the message and whether another attempt may help.
    fn describe(&self, e: &ureq::Error, transfer: Option<&Transfer>) -> (String, bool) {
        match stall_of(e) {
            Some(stall) => (self.stall_text(stall, transfer), stall != Stall::Overall),
            None => {
                let transient = matches!(
                    e,
                    ureq::Error::Io(_)
                        | ureq::Error::Timeout(_)
                        | ureq::Error::ConnectionFailed
                        | ureq::Error::Protocol(_)
                );
                (describe_transport(e, &self.cfg.endpoint), transient)
            }
        }
    }

    /// Sends one signed request to `path` (already encoded, see [`sign::build_path`]); no
    /// retries. `transfer` names an upload in messages (its body a [`Metered`] reader).
    #[allow(clippy::too_many_arguments)]
    pub fn send_once(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: ureq::SendBody<'_>,
        content_length: Option<u64>,
        transfer: Option<&Transfer>,
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
                let (msg, transient) = self.describe(&e, transfer);
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
            let failure = match self.send_once(method, path, query, ct, send_body, len, None) {
                Ok(resp) => match self.read_json_body(resp) {
                    Ok(Some(bytes)) => return Ok(bytes),
                    Ok(None) => bail!(
                        "the registry's answer to {method} {path} is larger than {} MiB",
                        MAX_JSON_BYTES >> 20
                    ),
                    Err(f) => f,
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

    /// Reads a JSON answer's body, at most [`MAX_JSON_BYTES`] (`None` past it), under the
    /// idle timeout and the rate floor.
    fn read_json_body(&self, resp: http::Response<ureq::Body>) -> Result<Option<Vec<u8>>, Failure> {
        let mut reader = resp.into_body().into_reader();
        let mut floor = RateFloor::new(&self.limits, Instant::now());
        let mut body = Vec::new();
        let mut buf = [0u8; 16 << 10];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(Some(body)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.body_failure(&e, None)),
            };
            if body.len() as u64 + n as u64 > MAX_JSON_BYTES {
                return Ok(None);
            }
            body.extend_from_slice(&buf[..n]);
            if floor.record(n as u64, Instant::now()).is_err() {
                return Err(Failure::Transport(
                    anyhow!("{}", self.stall_text(Stall::Floor, None)),
                    true,
                ));
            }
        }
    }

    /// A body that broke off or stalled: a stall named with its limit, else a broken answer.
    fn body_failure(&self, e: &io::Error, transfer: Option<&Transfer>) -> Failure {
        match stall_of_io(e) {
            Some(stall) => Failure::Transport(
                anyhow!("{}", self.stall_text(stall, transfer)),
                stall != Stall::Overall,
            ),
            None => Failure::Transport(
                anyhow!(
                    "{}: the answer broke off: {e}",
                    self.cfg.endpoint.base_url()
                ),
                true,
            ),
        }
    }

    /// Streams the body of a GET of `path` into `out`, `label` naming it in messages and on the
    /// progress bar. Failures before the body starts are retried here; a body cut short or
    /// stalled is a [`BodyBroken`] error (the caller starts again on a fresh file). A body
    /// over [`TransportConfig::max_download`], or announced as one, is refused.
    pub fn get_to(&self, path: &str, label: &str, out: &mut dyn Write) -> Result<u64> {
        let mut tries = Attempts::new(self);
        let resp = loop {
            match self.send_once("GET", path, &[], None, ureq::SendBody::none(), None, None) {
                Ok(resp) => break resp,
                Err(f) => tries.on_failure(f)?,
            }
        };
        let max = self.cfg.max_download;
        let expected = header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok());
        if let Some(len) = expected.filter(|l| *l > max) {
            bail!(
                "the registry announces {} for {label}, over the download limit of {} (HELM_CCR_MAX_DOWNLOAD)",
                size_text(len),
                size_text(max)
            );
        }
        let transfer = Transfer::new(label, false, expected);
        let mut floor = RateFloor::new(&self.limits, Instant::now());
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
                    return Err(match self.body_failure(&e, Some(&transfer)) {
                        Failure::Transport(msg, false) => msg,
                        Failure::Transport(msg, true) if stall_of_io(&e).is_some() => {
                            BodyBroken(format!("{msg:#}")).into()
                        }
                        _ => {
                            let of = expected.map(|l| format!(" of {l}")).unwrap_or_default();
                            BodyBroken(format!(
                                "download of {label} is truncated: the connection broke off after {total}{of} bytes ({e})"
                            ))
                            .into()
                        }
                    });
                }
            };
            total += n as u64;
            transfer.add(n as u64);
            // More than announced cannot come over HTTP/1.1 framing; more than the cap can
            // (a chunked body): stop before writing it.
            if total > max || expected.is_some_and(|l| total > l) {
                bail!(
                    "the registry sent more than {} for {label}; stopped at the download limit (HELM_CCR_MAX_DOWNLOAD)",
                    size_text(expected.unwrap_or(max).min(max))
                );
            }
            out.write_all(&buf[..n])
                .with_context(|| format!("writing {label}"))?;
            if let Some(b) = &bar {
                b.set_position(total);
            }
            if floor.record(n as u64, Instant::now()).is_err() {
                return Err(BodyBroken(self.stall_text(Stall::Floor, Some(&transfer))).into());
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

/// Which limit a failed request ran into, if a liveliness limit it was.
fn stall_of(e: &ureq::Error) -> Option<Stall> {
    match e {
        ureq::Error::Timeout(t) => match t {
            ureq::Timeout::Global | ureq::Timeout::PerCall => Some(Stall::Overall),
            ureq::Timeout::PerRead | ureq::Timeout::PerWrite => Some(Stall::Idle),
            ureq::Timeout::RecvResponse => Some(Stall::Response),
            _ => None,
        },
        ureq::Error::Io(io) => stall_of_io(io),
        _ => None,
    }
}

/// [`stall_of`] for an I/O error from a body reader or from our own [`Metered`] reader.
fn stall_of_io(e: &io::Error) -> Option<Stall> {
    if let Some(inner) = e.get_ref() {
        if inner.is::<TooSlow>() {
            return Some(Stall::Floor);
        }
        if let Some(u) = inner.downcast_ref::<ureq::Error>() {
            return stall_of(u);
        }
    }
    None
}

/// A transfer's state for a message.
#[derive(Debug, Clone, Copy)]
pub struct TransferState<'a> {
    pub label: &'a str,
    pub upload: bool,
    pub done: u64,
    pub total: Option<u64>,
}

/// `14 of 49 MiB sent`, `3.2 MiB received`, ...
fn progress_text(t: &TransferState<'_>) -> String {
    const MIB: u64 = 1 << 20;
    let verb = if t.upload { "sent" } else { "received" };
    match t.total {
        // Under a MiB of a large total: `29 KiB of 40 MiB`, not `0 of 40 MiB`.
        Some(total) if total >= 10 * MIB && t.done < MIB => {
            format!(
                "{} of {} MiB {verb}",
                size_text(t.done),
                total.div_ceil(MIB)
            )
        }
        Some(total) if total >= 10 * MIB => {
            format!("{} of {} MiB {verb}", t.done / MIB, total.div_ceil(MIB))
        }
        Some(total) if total >= MIB => format!(
            "{:.1} of {:.1} MiB {verb}",
            t.done as f64 / MIB as f64,
            total as f64 / MIB as f64
        ),
        Some(total) => format!("{} of {total} bytes {verb}", t.done),
        None => format!("{} {verb}", size_text(t.done)),
    }
}

/// The one line for a request that ran into a liveliness limit. Pure, for snapshot tests.
pub fn stall_message(
    stall: Stall,
    base: &str,
    limits: &Limits,
    deadline: Option<&Deadline>,
    transfer: Option<TransferState<'_>>,
) -> String {
    let during = transfer.map(|t| {
        format!(
            " while {} {} ({})",
            if t.upload { "uploading" } else { "downloading" },
            t.label,
            progress_text(&t)
        )
    });
    match stall {
        Stall::Overall => {
            let (limit, source, knob) = match deadline {
                Some(d) => (duration_text(d.limit), d.source.clone(), d.knob),
                None => ("the limit".to_string(), "--timeout".to_string(), "--timeout"),
            };
            let during = during.unwrap_or_else(|| format!(" waiting for {base}"));
            format!("timed out after {limit} ({source}){during}; raise {knob}")
        }
        Stall::Idle => match during {
            Some(during) => format!(
                "no data for {} (the idle limit){during}",
                duration_text(limits.idle)
            ),
            None => format!(
                "{base}: no answer for {} (the idle limit)",
                duration_text(limits.idle)
            ),
        },
        Stall::Response => format!(
            "{base}: no answer within {} of the request (the response limit; interim 1xx answers do not count)",
            duration_text(limits.response)
        ),
        Stall::Floor => {
            let rate = limits.floor_bytes as f64
                / limits.floor_window.as_secs_f64().max(0.001)
                / 1024.0;
            let what = during.unwrap_or_else(|| format!(" while reading an answer from {base}"));
            format!(
                "the transfer stayed under {rate:.0} KiB/s for {}{what}; the connection is too slow or the registry stalled",
                duration_text(limits.floor_window)
            )
        }
    }
}

/// The line for a retry that would wait past the overall deadline.
pub fn retry_wait_message(
    deadline: Option<(Duration, &str, &str)>,
    cause: &dyn std::fmt::Display,
) -> String {
    match deadline {
        Some((limit, source, knob)) => format!(
            "timed out after {} ({source}) while waiting to retry after: {cause}; raise {knob}",
            duration_text(limit)
        ),
        None => format!("timed out while waiting to retry after: {cause}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn stall_messages() {
        let limits = Limits::default();
        let deadline = |limit: u64, source: &str, knob: &'static str| Deadline {
            at: Instant::now(),
            limit: Duration::from_secs(limit),
            source: source.into(),
            knob,
        };
        let flag = deadline(4, "--timeout 4s", "--timeout");
        let env = deadline(90, "HELM_CCR_TIMEOUT=90s", "HELM_CCR_TIMEOUT");
        let getter = deadline(600, "the getter's default limit of 10m", "HELM_CCR_TIMEOUT");
        let up = TransferState {
            label: "big-0.4.0.tgz",
            upload: true,
            done: 14 * MIB + MIB / 2,
            total: Some(49 * MIB - 4096),
        };
        let down = TransferState {
            label: "big-0.4.0.tgz",
            upload: false,
            done: 3 * MIB,
            total: Some(49 * MIB),
        };
        let small = TransferState {
            label: "app-1.0.0.tgz",
            upload: false,
            done: 700,
            total: Some(3000),
        };
        let mid = TransferState {
            label: "mid-1.0.0.tgz",
            upload: true,
            done: MIB + MIB / 5,
            total: Some(3 * MIB + MIB / 2),
        };
        let chunked = TransferState {
            label: "app-1.0.0.tgz",
            upload: false,
            done: 5 * MIB / 2,
            total: None,
        };
        let base = "https://ccr.bj.baidubce.com";
        let msg = |stall, d: Option<&Deadline>, t: Option<TransferState<'_>>| {
            format!("Error: {}", stall_message(stall, base, &limits, d, t))
        };
        let lines = [
            msg(Stall::Overall, Some(&flag), Some(up)),
            msg(Stall::Overall, Some(&flag), Some(down)),
            msg(Stall::Overall, Some(&env), Some(small)),
            msg(Stall::Overall, Some(&getter), Some(chunked)),
            msg(Stall::Overall, Some(&flag), None),
            format!(
                "Error: {}",
                retry_wait_message(
                    Some((flag.limit, &flag.source, flag.knob)),
                    &"registry answered 429 TooManyRequests"
                )
            ),
            msg(Stall::Idle, None, Some(up)),
            msg(Stall::Idle, None, Some(down)),
            msg(Stall::Idle, None, Some(mid)),
            msg(Stall::Idle, None, None),
            msg(Stall::Response, None, None),
            msg(Stall::Floor, None, Some(down)),
            msg(Stall::Floor, None, Some(up)),
            msg(Stall::Floor, None, None),
        ];
        insta::assert_snapshot!(lines.join("\n"));
    }

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
