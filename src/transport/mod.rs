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
//!
//! By job: [`dispatch`] puts one signed request on the wire ([`auth`] signs it), [`retry`]
//! decides whether and when to try again, [`throttle`] lowers the requests in flight while the
//! registry throttles (and raises them back), [`limits`] holds the limits and meters transfers,
//! [`messages`] words what went wrong, [`endpoint`] says where requests go, [`proxy`] which
//! proxy they go through (Go's rules), [`tls`] whom they trust and with which client
//! certificate.
pub mod proxy;

pub mod auth;
pub mod dispatch;
pub mod endpoint;
pub mod limits;
pub mod messages;
pub mod retry;
#[cfg(test)]
mod tests;
pub mod throttle;
pub mod tls;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use ureq::http;

pub use self::endpoint::Endpoint;
pub use self::limits::{
    Deadline, Limits, Metered, RateFloor, Stall, TooSlow, Transfer, DEFAULT_MAX_DOWNLOAD,
    MAX_JSON_BYTES,
};
use self::messages::stall_of_io;
pub use self::messages::{retry_wait_message, stall_message, TransferState};
pub use self::retry::{parse_retry_after, Attempts};
use self::throttle::Gate;
use crate::error::ApiError;
use crate::ui::output::{Activity, Output};
/// Re-exported for callers that format durations next to transport settings; the home is
/// [`crate::ui::text`].
pub use crate::ui::text::duration_text;
use crate::ui::text::size_text;
use auth::Keys;
pub use proxy::{ProxyEnv, Route};
pub use tls::{ClientCertFiles, TlsSettings, Trust};

/// Everything a transport needs, resolved by [`crate::settings::connect`].
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub endpoint: Endpoint,
    pub keys: Keys,
    /// Attempts per request for transient faults (at least 1).
    pub attempts: u32,
    /// The overall time limit, if any.
    pub deadline: Option<Deadline>,
    /// Largest download accepted, in bytes, and the setting that changes it.
    pub max_download: u64,
    /// Trust roots, client certificate, insecure mode.
    pub tls: TlsSettings,
    /// The proxy variables, as the settings layer read them; [`Transport::new`] picks the
    /// route to the endpoint with Go's rules.
    pub proxy: ProxyEnv,
    pub output: Output,
    /// Requests the caller runs at once at most (`HELM_CCR_PARALLEL`): as many connections
    /// stay open for reuse.
    pub parallel: usize,
}

/// Signed, retrying HTTP requests to one endpoint with one set of credentials.
pub struct Transport {
    agent: ureq::Agent,
    cfg: TransportConfig,
    limits: Limits,
    /// Direct or through which proxy, and why.
    route: Route,
    /// Where the trusted roots come from.
    trust: Trust,
    /// Seconds to add to the local clock, learnt from the server's `Date` on `RequestExpired`.
    clock_offset: AtomicI64,
    /// The requests allowed in flight, lowered while the registry throttles.
    gate: Gate,
    /// The keys requests are signed with: `cfg.keys` at first, swapped by
    /// [`Transport::set_keys`] (a server re-reading rotated STS credentials).
    keys: std::sync::RwLock<Keys>,
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
    /// True when the registry throttled the request: a 429, or a 503 with `Retry-After` (an
    /// overloaded registry saying when to come back). It did nothing; it asks to be asked later.
    pub fn is_throttled(&self) -> bool {
        match self {
            Failure::Api(err, meta) => {
                err.status == 429 || (err.status == 503 && meta.retry_after.is_some())
            }
            Failure::Transport(..) => false,
        }
    }

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

impl Transport {
    pub fn new(cfg: TransportConfig) -> Result<Transport> {
        Transport::with_limits(cfg, Limits::default())
    }

    /// A client with these liveliness limits (tests use short ones).
    pub fn with_limits(cfg: TransportConfig, limits: Limits) -> Result<Transport> {
        let (connect, idle) = (limits.connect, limits.idle);
        let route = route_of(&cfg.proxy, &cfg.endpoint)?;
        let proxy = route.proxy().map(ureq_proxy).transpose()?;
        let tls = tls::build(&cfg.tls)?;
        cfg.output.debug(&format!(
            "{}: {route}; trusting {}",
            cfg.endpoint.base_url(),
            tls.trust.detail()
        ));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Always set: ureq's default reads ALL_PROXY and its own NO_PROXY rules.
            .proxy(proxy)
            .tls_config(tls.config)
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
        let gate = Gate::new(cfg.parallel);
        let keys = std::sync::RwLock::new(cfg.keys.clone());
        Ok(Transport {
            agent,
            keys,
            cfg,
            limits,
            route,
            trust: tls.trust,
            clock_offset: AtomicI64::new(0),
            gate,
        })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.cfg
    }

    /// The keys the next request is signed with.
    pub fn keys(&self) -> Keys {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Signs the requests from now on with `keys` (same endpoint, so the same destination
    /// check holds: the caller checked it for the keys' source).
    pub fn set_keys(&self, keys: Keys) {
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The limit on requests in flight that [`Transport::call`] and [`Transport::get_to`]
    /// wait for.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The route requests take: direct or through which proxy, and why.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Where the trusted roots come from.
    pub fn trust(&self) -> &Trust {
        &self.trust
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
                    bail!("{}", self.stall_text(Stall::Overall, None));
                }
                Ok(Some(left))
            }
        }
    }

    /// A JSON call with retries: transient faults are retried, a `RequestExpired` is corrected
    /// once, a throttled answer is retried longer (and lowers the requests in flight). Returns
    /// the body.
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
            let mut permit = self.gate.enter();
            let failure = match self.send_once(method, path, query, ct, send_body, len, None) {
                Ok(resp) => match self.read_json_body(resp) {
                    Ok(Some(bytes)) => {
                        permit.succeeded();
                        return Ok(bytes);
                    }
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
            tries.on_failure_under(failure, permit)?;
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
        // Held until the body is in: the request is in flight until then.
        let (resp, _permit) = loop {
            let mut permit = self.gate.enter();
            match self.send_once("GET", path, &[], None, ureq::SendBody::none(), None, None) {
                Ok(resp) => {
                    permit.succeeded();
                    break (resp, permit);
                }
                Err(f) => tries.on_failure_under(f, permit)?,
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
        let bar = self
            .out()
            .transfer_bar(expected.unwrap_or(0), Activity::Downloading, label);
        let total = self.stream_body(resp, &transfer, bar.as_ref(), out)?;
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

    /// Copies a download's body into `out` under the cap, the idle limit and the rate floor,
    /// counting into `transfer` and moving the progress bar. Returns the bytes written.
    fn stream_body(
        &self,
        resp: http::Response<ureq::Body>,
        transfer: &Transfer,
        bar: Option<&indicatif::ProgressBar>,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let (label, expected, max) = (&transfer.label, transfer.total, self.cfg.max_download);
        let mut floor = RateFloor::new(&self.limits, Instant::now());
        let mut reader = resp.into_body().into_reader();
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.download_broke(&e, transfer, total)),
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
            if let Some(b) = bar {
                b.set_position(total);
            }
            if floor.record(n as u64, Instant::now()).is_err() {
                return Err(BodyBroken(self.stall_text(Stall::Floor, Some(transfer))).into());
            }
        }
    }

    /// A download's body failed after `total` bytes: the overall limit is final; a stall or a
    /// cut is a [`BodyBroken`] worth starting again.
    fn download_broke(&self, e: &io::Error, transfer: &Transfer, total: u64) -> anyhow::Error {
        match self.body_failure(e, Some(transfer)) {
            Failure::Transport(msg, false) => msg,
            Failure::Transport(msg, true) if stall_of_io(e).is_some() => {
                BodyBroken(format!("{msg:#}")).into()
            }
            _ => {
                let of = transfer
                    .total
                    .map(|l| format!(" of {l}"))
                    .unwrap_or_default();
                BodyBroken(format!(
                    "download of {} is truncated: the connection broke off after {total}{of} bytes ({e})",
                    transfer.label
                ))
                .into()
            }
        }
    }
}

/// The route to `endpoint` under `proxy`, Go's rules: an unusable proxy value is an error
/// naming its variable, before any request.
pub fn route_of(proxy: &ProxyEnv, endpoint: &Endpoint) -> Result<Route> {
    let scheme = if endpoint.https {
        proxy::Scheme::Https
    } else {
        proxy::Scheme::Http
    };
    Ok(proxy.route(scheme, &endpoint.host, endpoint.port)?)
}

/// ureq's proxy for `url`: the decoded credentials (ureq encodes them), the proxy resolving
/// the registry's name as Go lets it (for SOCKS5 too).
pub fn ureq_proxy(url: &proxy::ProxyUrl) -> Result<ureq::Proxy> {
    use proxy::ProxyScheme;
    let protocol = match url.scheme {
        ProxyScheme::Http => ureq::ProxyProtocol::Http,
        ProxyScheme::Https => ureq::ProxyProtocol::Https,
        ProxyScheme::Socks5 => ureq::ProxyProtocol::Socks5,
        ProxyScheme::Socks5h => ureq::ProxyProtocol::Socks5h,
    };
    let mut b = ureq::Proxy::builder(protocol)
        .host(&url.host)
        .port(url.port())
        .resolve_target(false);
    if let Some(user) = &url.username {
        b = b.username(user);
    }
    if let Some(password) = &url.password {
        b = b.password(password);
    }
    // ureq's own error names nothing: say which proxy (never its password).
    b.build()
        .map_err(|e| anyhow!("the proxy {url} cannot be used: {e}"))
}

/// A header's value, trimmed; None when absent, not text or empty.
pub fn header(resp: &http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
