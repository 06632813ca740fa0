//! `ccr-emulator`: an in-memory (optionally directory-backed) stand-in for the Helm chart API of
//! Baidu Cloud Container Registry (CCR) Enterprise Edition, for tests.
//!
//! It verifies BCE auth v1 signatures with its own implementation, implements the eight chart
//! endpoints of `ccr-api.md`, and can misbehave on demand ([`Fault`]). Start it in-process with
//! [`start`], or run the `ccr-emulator` binary.
//!
//! Behaviour notes:
//! - Any instance and project exist (created lazily).
//! - `latestVersion` of a chart is the highest version by semver precedence, ignoring
//!   pre-releases unless a chart has only pre-releases.
//! - Version lists are newest-created first; chart lists are sorted by name.
//! - A chart whose last version is deleted disappears.
//! - Admin endpoints under `/_emulator/` are unauthenticated, never recorded, never faulted.
//! - Throttling ([`Emulator::set_max_in_flight`], `--max-in-flight`, `{"max_in_flight": N}`):
//!   an API request arriving while N are in flight is answered `429 TooManyRequests` with
//!   `Retry-After: 1`, before any queued fault, fail-all or latency (a gateway in front of the
//!   registry); refused requests are recorded with their 429 and hold no place.

#![warn(missing_docs)]

mod api;
pub mod auth;
pub mod clock;
pub mod faults;
mod http;
mod multipart;
pub mod store;

use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use api::lock;
pub use faults::Fault;
use faults::{FaultQueue, InFlight, Queued};
use http::{Body, ReadError, Request, Response};
use store::Store;

/// An access key the emulator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Access key id (AK).
    pub access_key_id: String,
    /// Secret access key (SK).
    pub secret_access_key: String,
    /// STS session token: when set, requests must send and sign `x-bce-security-token`.
    pub security_token: Option<String>,
}

impl Key {
    /// A permanent key.
    pub fn new(ak: &str, sk: &str) -> Self {
        Key {
            access_key_id: ak.to_string(),
            secret_access_key: sk.to_string(),
            security_token: None,
        }
    }

    /// An STS temporary key with its session token.
    pub fn with_token(ak: &str, sk: &str, token: &str) -> Self {
        Key {
            security_token: Some(token.to_string()),
            ..Key::new(ak, sk)
        }
    }
}

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accepted keys.
    pub keys: Vec<Key>,
    /// Replace an existing version on upload (201) instead of answering 409.
    pub overwrite: bool,
    /// Persist charts under this directory (and load what is there at start).
    pub data_dir: Option<PathBuf>,
    /// Largest accepted chart archive in bytes (413 `EntityTooLarge` above it).
    pub max_chart_size: Option<u64>,
    /// Address to bind (default `127.0.0.1`).
    pub host: String,
    /// Port to bind (default 0: any free port).
    pub port: u16,
    /// Delay before every API answer, in milliseconds (default 0; see [`Emulator::set_latency`]).
    pub latency_ms: u64,
    /// Answer 429 with `Retry-After: 1` to a request arriving while this many are in flight
    /// (default `None`: no limit; see [`Emulator::set_max_in_flight`]).
    pub max_in_flight: Option<usize>,
}

impl Config {
    /// Defaults: 409 on duplicates, in memory, no size limit, `127.0.0.1`, any port.
    pub fn new(keys: Vec<Key>) -> Self {
        Config {
            keys,
            overwrite: false,
            data_dir: None,
            max_chart_size: None,
            host: "127.0.0.1".to_string(),
            port: 0,
            latency_ms: 0,
            max_in_flight: None,
        }
    }
}

/// One API request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Raw path and query as received.
    pub path: String,
    /// Status answered; `None` when the connection was reset (or the answer could not be sent).
    pub status: Option<u16>,
    /// Request headers (lowercase names).
    pub headers: Vec<(String, String)>,
    /// Request body length.
    pub body_len: usize,
}

impl Recorded {
    /// First value of a request header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The recorded requests. A request's number stays its own across clears: one still being
/// served when the record is cleared updates nothing (not a newer request's entry).
#[derive(Debug, Default)]
struct Log {
    /// Requests forgotten so far.
    cleared: usize,
    items: Vec<Recorded>,
}

impl Log {
    /// Records a request; returns its number.
    fn push(&mut self, r: Recorded) -> usize {
        self.items.push(r);
        self.cleared + self.items.len() - 1
    }

    fn get_mut(&mut self, number: usize) -> Option<&mut Recorded> {
        let i = number.checked_sub(self.cleared)?;
        self.items.get_mut(i)
    }

    fn clear(&mut self) {
        self.cleared += self.items.len();
        self.items.clear();
    }
}

#[derive(Debug, Clone, Default)]
struct Settings {
    overwrite: bool,
    skew_secs: i64,
    latency_ms: u64,
    fail_all: Option<Fault>,
    chunked_downloads: bool,
    /// Request and response bodies of API calls move at most this many bytes a second
    /// (0: as fast as they can), so that a test can act while a transfer is under way.
    throttle_bytes_per_sec: u64,
    /// Requests in flight above which an arriving one is answered 429 (None: no limit).
    max_in_flight: Option<usize>,
}

pub(crate) struct Shared {
    keys: Vec<Key>,
    max_chart_size: Option<u64>,
    settings: Mutex<Settings>,
    store: Mutex<Store>,
    faults: Mutex<FaultQueue>,
    requests: Mutex<Log>,
    in_flight: InFlight,
    shutdown: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    counter: AtomicU64,
}

impl Shared {
    fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// The emulator's clock: real time plus the configured skew.
    fn now(&self) -> i64 {
        clock::real_now() + lock(&self.settings).skew_secs
    }

    fn request_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mix = t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (mix >> 32) as u32,
            (mix >> 16) as u16,
            n & 0xfff,
            (t >> 8) & 0xfff,
            (mix ^ (n << 20)) & 0xffff_ffff_ffff
        )
    }

    fn set_status(&self, idx: usize, status: Option<u16>) {
        if let Some(r) = lock(&self.requests).get_mut(idx) {
            r.status = status;
        }
    }
}

/// A running emulator. Dropping it stops the server and closes open connections.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    host: String,
    accept: Option<JoinHandle<()>>,
}

/// Starts an emulator on `config.host:config.port` and serves in background threads.
pub fn start(config: Config) -> io::Result<Emulator> {
    let store = Store::open(config.data_dir.clone())?;
    let listener = TcpListener::bind((config.host.as_str(), config.port))?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        keys: config.keys,
        max_chart_size: config.max_chart_size,
        settings: Mutex::new(Settings {
            overwrite: config.overwrite,
            latency_ms: config.latency_ms,
            max_in_flight: config.max_in_flight,
            ..Settings::default()
        }),
        store: Mutex::new(store),
        faults: Mutex::new(FaultQueue::default()),
        requests: Mutex::new(Log::default()),
        in_flight: InFlight::default(),
        shutdown: AtomicBool::new(false),
        conns: Mutex::new(HashMap::new()),
        counter: AtomicU64::new(1),
    });
    let s2 = shared.clone();
    let accept = std::thread::Builder::new()
        .name("ccr-emulator-accept".into())
        .spawn(move || accept_loop(s2, listener))?;
    let host = if addr.ip().is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    Ok(Emulator {
        shared,
        addr,
        host,
        accept: Some(accept),
    })
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut next_conn = 0u64;
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // EMFILE and friends: back off a little instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        next_conn += 1;
        let id = next_conn;
        if let Ok(c) = stream.try_clone() {
            lock(&shared.conns).insert(id, c);
        }
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("ccr-emulator-conn".into())
            .spawn(move || {
                serve_connection(&s, stream);
                lock(&s.conns).remove(&id);
            });
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
        }
    }
}

fn is_download(path: &str) -> bool {
    path.contains("/charts/download/")
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    let mut w = stream;
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let mut req = match http::read_head(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Closed | ReadError::Io) => return,
            Err(ReadError::Bad(status, msg)) => {
                let rid = shared.request_id();
                let resp = api::error(status, faults::default_code(status), &msg, &rid);
                send(shared, &mut w, resp, &rid, false, false);
                return;
            }
        };
        let keep = if req.path == "/_emulator" || req.path.starts_with("/_emulator/") {
            serve_admin(shared, &mut reader, &mut w, &mut req)
        } else {
            serve_api(shared, &mut reader, &mut w, &mut req)
        };
        if !keep {
            let _ = w.shutdown(Shutdown::Write);
            return;
        }
    }
}

fn continue_if_expected(w: &mut TcpStream, req: &Request) -> io::Result<()> {
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    Ok(())
}

/// Reads the body; on malformed framing answers the error and returns false.
fn read_body_or_answer<R: io::BufRead>(
    shared: &Shared,
    reader: &mut R,
    w: &mut TcpStream,
    req: &mut Request,
    record: Option<usize>,
) -> bool {
    if continue_if_expected(w, req).is_err() {
        return false;
    }
    match http::read_body(reader, req) {
        Ok(()) => true,
        Err(ReadError::Bad(status, msg)) => {
            let rid = shared.request_id();
            let resp = api::error(status, faults::default_code(status), &msg, &rid);
            if let Some(i) = record {
                shared.set_status(i, Some(status));
            }
            let ok = send(shared, w, resp, &rid, false, req.method == "HEAD");
            if let (Some(i), false) = (record, ok) {
                shared.set_status(i, None);
            }
            false
        }
        Err(_) => false,
    }
}

/// Writes a response with the standard headers. Returns whether it was fully written.
fn send(
    shared: &Shared,
    w: &mut dyn Write,
    mut resp: Response,
    rid: &str,
    keep: bool,
    head_only: bool,
) -> bool {
    resp.headers
        .push(("x-bce-request-id".into(), rid.to_string()));
    let date = clock::rfc1123(shared.now());
    http::write_response(w, &resp, &date, keep, head_only).is_ok()
}

fn serve_api(
    shared: &Shared,
    reader: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    req: &mut Request,
) -> bool {
    let idx = {
        lock(&shared.requests).push(Recorded {
            method: req.method.clone(),
            path: req.target.clone(),
            status: None,
            headers: req.headers.clone(),
            body_len: 0,
        })
    };
    let settings = shared.settings();
    // Held until the answer is written (the request is in flight until then).
    let Some(_slot) = shared.in_flight.enter(settings.max_in_flight) else {
        return throttle(shared, reader, w, req, idx);
    };
    let fault = match settings.fail_all.clone() {
        Some(f) => Some(f),
        None => lock(&shared.faults).take(&req.method, &req.target, is_download(&req.path)),
    };
    if fault == Some(Fault::Reset) {
        // Close without reading the body: unread data makes the kernel send RST.
        let _ = w.shutdown(Shutdown::Both);
        return false;
    }
    let body_read = if settings.throttle_bytes_per_sec > 0 {
        let mut slow = http::Throttled::new(&mut *reader, settings.throttle_bytes_per_sec);
        read_body_or_answer(shared, &mut slow, w, req, Some(idx))
    } else {
        read_body_or_answer(shared, reader, w, req, Some(idx))
    };
    if !body_read {
        return false;
    }
    if let Some(r) = lock(&shared.requests).get_mut(idx) {
        r.body_len = req.body.len();
    }
    if settings.latency_ms > 0 {
        std::thread::sleep(Duration::from_millis(settings.latency_ms));
    }
    if let Some(Fault::Latency { ms }) = fault {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let rid = shared.request_id();
    let head_only = req.method == "HEAD";
    let resp = match &fault {
        Some(Fault::Status { status, code }) => {
            let code = code
                .clone()
                .unwrap_or_else(|| faults::default_code(*status).to_string());
            api::error(*status, &code, "injected fault", &rid)
        }
        _ => api::handle(shared, req, &rid),
    };
    let status = resp.status;
    match fault {
        Some(Fault::ResetAfterHandling) => {
            let _ = w.shutdown(Shutdown::Both);
            false
        }
        Some(Fault::Truncate { keep_bytes }) => {
            let mut resp = resp;
            resp.headers.push(("x-bce-request-id".into(), rid.clone()));
            let body = resp.body.as_slice();
            let keep = keep_bytes
                .unwrap_or(body.len() as u64 / 2)
                .min(body.len().saturating_sub(1) as u64) as usize;
            shared.set_status(idx, Some(status));
            let date = clock::rfc1123(shared.now());
            let head = http::head_bytes(&resp, &date, true, Some(body.len()));
            let ok = w
                .write_all(&head)
                .and_then(|_| w.write_all(&body[..keep]))
                .and_then(|_| w.flush());
            if ok.is_err() {
                shared.set_status(idx, None);
            }
            let _ = w.shutdown(Shutdown::Both);
            false
        }
        Some(Fault::Corrupt) => {
            let mut data = resp.body.as_slice().to_vec();
            if !data.is_empty() {
                let mid = data.len() / 2;
                data[mid] ^= 0xff;
            }
            let resp = Response {
                body: Body::Bytes(data),
                ..resp
            };
            // Recorded before writing so a client that got the answer sees it recorded.
            shared.set_status(idx, Some(status));
            let ok = send(shared, w, resp, &rid, req.keep_alive, head_only);
            if !ok {
                shared.set_status(idx, None);
            }
            ok && req.keep_alive
        }
        _ => {
            // Recorded before writing so a client that got the answer sees it recorded.
            shared.set_status(idx, Some(status));
            let ok = if settings.chunked_downloads
                && status == 200
                && is_download(&req.path)
                && !head_only
            {
                let mut resp = resp;
                resp.headers.push(("x-bce-request-id".into(), rid.clone()));
                let date = clock::rfc1123(shared.now());
                http::write_chunked(w, &resp, &date, req.keep_alive).is_ok()
            } else if settings.throttle_bytes_per_sec > 0 {
                let mut slow = http::Throttled::new(&mut *w, settings.throttle_bytes_per_sec);
                send(shared, &mut slow, resp, &rid, req.keep_alive, head_only)
            } else {
                send(shared, w, resp, &rid, req.keep_alive, head_only)
            };
            if !ok {
                shared.set_status(idx, None);
            }
            ok && req.keep_alive
        }
    }
}

/// Answers a request over the in-flight limit: 429 with `Retry-After`, after reading its body
/// (the connection stays usable).
fn throttle(
    shared: &Shared,
    reader: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    req: &mut Request,
    idx: usize,
) -> bool {
    if !read_body_or_answer(shared, reader, w, req, Some(idx)) {
        return false;
    }
    let rid = shared.request_id();
    let mut resp = api::error(
        429,
        faults::default_code(429),
        "too many requests in flight",
        &rid,
    );
    resp.headers.push((
        "Retry-After".into(),
        faults::THROTTLE_RETRY_AFTER_SECS.to_string(),
    ));
    shared.set_status(idx, Some(429));
    let ok = send(shared, w, resp, &rid, req.keep_alive, req.method == "HEAD");
    if !ok {
        shared.set_status(idx, None);
    }
    ok && req.keep_alive
}

fn serve_admin(
    shared: &Shared,
    reader: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    req: &mut Request,
) -> bool {
    if !read_body_or_answer(shared, reader, w, req, None) {
        return false;
    }
    let rid = shared.request_id();
    let resp = admin(shared, req, &rid);
    send(shared, w, resp, &rid, req.keep_alive, false) && req.keep_alive
}

fn settings_json(s: &Settings) -> Value {
    json!({
        "skew_secs": s.skew_secs,
        "latency_ms": s.latency_ms,
        "overwrite": s.overwrite,
        "fail_all": s.fail_all,
        "chunked_downloads": s.chunked_downloads,
        "throttle_bytes_per_sec": s.throttle_bytes_per_sec,
        "max_in_flight": s.max_in_flight,
    })
}

fn admin(shared: &Shared, req: &Request, rid: &str) -> Response {
    let body_json = || -> Result<Value, Response> {
        serde_json::from_slice(&req.body).map_err(|e| {
            api::error(
                400,
                "InvalidParameter",
                &format!("body is not JSON: {e}"),
                rid,
            )
        })
    };
    let bad = |m: &str| api::error(400, "InvalidParameter", m, rid);
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/_emulator/health") => Response::json(200, &json!({"ok": true})),
        ("POST", "/_emulator/faults") => {
            let v = match body_json() {
                Ok(v) => v,
                Err(r) => return r,
            };
            match faults::parse_fault_list(&v) {
                Ok(list) => {
                    let mut q = lock(&shared.faults);
                    for f in list {
                        q.push(f);
                    }
                    Response::json(200, &json!({"queued": q.len()}))
                }
                Err(e) => bad(&e),
            }
        }
        ("DELETE", "/_emulator/faults") => {
            lock(&shared.faults).clear();
            lock(&shared.settings).fail_all = None;
            Response::json(200, &json!({"queued": 0}))
        }
        ("GET", "/_emulator/config") => Response::json(200, &settings_json(&shared.settings())),
        ("POST", "/_emulator/config") => {
            let v = match body_json() {
                Ok(v) => v,
                Err(r) => return r,
            };
            let Some(obj) = v.as_object() else {
                return bad("expected a JSON object");
            };
            let mut next = shared.settings();
            for (k, val) in obj {
                match k.as_str() {
                    "skew_secs" => match val.as_i64() {
                        Some(n) => next.skew_secs = n,
                        None => return bad("skew_secs must be an integer"),
                    },
                    "latency_ms" => match val.as_u64() {
                        Some(n) => next.latency_ms = n,
                        None => return bad("latency_ms must be a non-negative integer"),
                    },
                    "overwrite" => match val.as_bool() {
                        Some(b) => next.overwrite = b,
                        None => return bad("overwrite must be a boolean"),
                    },
                    "throttle_bytes_per_sec" => match val.as_u64() {
                        Some(n) => next.throttle_bytes_per_sec = n,
                        None => {
                            return bad("throttle_bytes_per_sec must be a non-negative integer")
                        }
                    },
                    "max_in_flight" => match (val.is_null(), val.as_u64()) {
                        (true, _) => next.max_in_flight = None,
                        (false, Some(n)) if n > 0 => next.max_in_flight = Some(n as usize),
                        _ => return bad("max_in_flight must be a positive integer or null"),
                    },
                    "chunked_downloads" => match val.as_bool() {
                        Some(b) => next.chunked_downloads = b,
                        None => return bad("chunked_downloads must be a boolean"),
                    },
                    "fail_all" => {
                        if val.is_null() {
                            next.fail_all = None;
                        } else {
                            match serde_json::from_value::<Fault>(val.clone()) {
                                Ok(f) => next.fail_all = Some(f),
                                Err(e) => return bad(&format!("bad fail_all: {e}")),
                            }
                        }
                    }
                    other => return bad(&format!("unknown setting {other}")),
                }
            }
            *lock(&shared.settings) = next.clone();
            Response::json(200, &settings_json(&next))
        }
        ("GET", "/_emulator/requests") => {
            let reqs = lock(&shared.requests).items.clone();
            Response::json(200, &serde_json::to_value(reqs).unwrap_or(Value::Null))
        }
        ("DELETE", "/_emulator/requests") => {
            lock(&shared.requests).clear();
            Response::empty(200)
        }
        ("POST", "/_emulator/patch") => {
            let v = match body_json() {
                Ok(v) => v,
                Err(r) => return r,
            };
            let s = |k: &str| v.get(k).and_then(Value::as_str);
            let (Some(i), Some(p), Some(c), Some(ver), Some(patch)) = (
                s("instance"),
                s("project"),
                s("chart"),
                s("version"),
                v.get("patch").filter(|p| p.is_object()),
            ) else {
                return bad(
                    "expected {\"instance\",\"project\",\"chart\",\"version\",\"patch\":{...}}",
                );
            };
            if lock(&shared.store).patch(i, p, c, ver, patch) {
                Response::json(200, &json!({"patched": true}))
            } else {
                api::error(404, "NotFound", "no such chart version", rid)
            }
        }
        _ => api::error(
            404,
            "NotFound",
            &format!("no admin endpoint {} {}", req.method, req.path),
            rid,
        ),
    }
}

impl Emulator {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.addr.port())
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues a fault for the next matching API request. Unfiltered `Truncate` and `Corrupt`
    /// wait for the next download; other kinds hit the next API request of any kind.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.shared.faults).push(Queued {
            method: None,
            path_contains: None,
            fault,
        });
    }

    /// Queues a fault for the next API request with this method (case-insensitive; `""` = any)
    /// whose raw path+query contains `path_contains`.
    pub fn push_fault_for(&self, method: &str, path_contains: &str, fault: Fault) {
        lock(&self.shared.faults).push(Queued {
            method: (!method.is_empty()).then(|| method.to_string()),
            path_contains: Some(path_contains.to_string()),
            fault,
        });
    }

    /// Drops all queued faults (fail-all is left alone).
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Makes every API request fail this way until cleared with `None`.
    pub fn set_fail_all(&self, fault: Option<Fault>) {
        lock(&self.shared.settings).fail_all = fault;
    }

    /// Sets the emulator's clock to real time plus `secs` (Date header and expiry checks).
    pub fn set_clock_skew(&self, secs: i64) {
        lock(&self.shared.settings).skew_secs = secs;
    }

    /// Delays every API answer by `ms` milliseconds.
    pub fn set_latency(&self, ms: u64) {
        lock(&self.shared.settings).latency_ms = ms;
    }

    /// Switches between answering 409 on duplicate versions (`false`) and replacing (`true`).
    pub fn set_overwrite(&self, on: bool) {
        lock(&self.shared.settings).overwrite = on;
    }

    /// Serves successful downloads with `Transfer-Encoding: chunked` instead of Content-Length
    /// (CCR may do either).
    pub fn set_chunked_downloads(&self, on: bool) {
        lock(&self.shared.settings).chunked_downloads = on;
    }

    /// Moves request and response bodies of API calls at most `bytes_per_sec` bytes a second
    /// (0: no limit), so that a test can act while an upload or download is under way.
    pub fn set_throttle(&self, bytes_per_sec: u64) {
        lock(&self.shared.settings).throttle_bytes_per_sec = bytes_per_sec;
    }

    /// Answers `429 TooManyRequests` with `Retry-After: 1` to an API request arriving while
    /// `max` are in flight (`None`: no limit): a registry that throttles concurrency.
    pub fn set_max_in_flight(&self, max: Option<usize>) {
        lock(&self.shared.settings).max_in_flight = max;
    }

    /// API requests being served now (those answered 429 for the in-flight limit excluded).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.now()
    }

    /// Every API request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).items.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Stored versions of a chart, ascending by semver precedence.
    pub fn versions(&self, instance: &str, project: &str, chart: &str) -> Vec<String> {
        lock(&self.shared.store).versions(instance, project, chart)
    }

    /// The stored archive of a version.
    pub fn chart_bytes(
        &self,
        instance: &str,
        project: &str,
        chart: &str,
        version: &str,
    ) -> Option<Vec<u8>> {
        lock(&self.shared.store)
            .get(instance, project, chart, version)
            .map(|e| e.tgz.as_ref().clone())
    }

    /// The stored provenance file of a version.
    pub fn prov_bytes(
        &self,
        instance: &str,
        project: &str,
        chart: &str,
        version: &str,
    ) -> Option<Vec<u8>> {
        lock(&self.shared.store)
            .get(instance, project, chart, version)
            .and_then(|e| e.prov.as_ref().map(|p| p.as_ref().clone()))
    }

    /// Merges `patch`'s fields into the version's `HelmChartVersion` JSON (hostile-server tests,
    /// e.g. `{"urls":["../../evil.tgz"]}` or a wrong `digest`). Downloads still use the real
    /// `NAME-VERSION.tgz` name. Returns whether the version exists.
    pub fn patch_version(
        &self,
        instance: &str,
        project: &str,
        chart: &str,
        version: &str,
        patch: Value,
    ) -> bool {
        lock(&self.shared.store).patch(instance, project, chart, version, &patch)
    }

    /// Stores a chart archive directly (test setup); name and version come from its Chart.yaml
    /// when it parses, otherwise from `chart`/`version` with empty metadata. Replaces any
    /// existing version.
    pub fn put_raw(&self, instance: &str, project: &str, chart: &str, version: &str, tgz: Vec<u8>) {
        let parsed = store::parse_chart(&tgz).unwrap_or_else(|_| store::ParsedChart {
            name: chart.to_string(),
            version: version.to_string(),
            yaml: json!({"name": chart, "version": version}),
        });
        let parsed = store::ParsedChart {
            name: chart.to_string(),
            version: version.to_string(),
            ..parsed
        };
        let now = self.shared.now();
        let _ = lock(&self.shared.store).insert(instance, project, &parsed, tgz, None, now, true);
    }

    /// Like [`Emulator::put_raw`] with a provenance file.
    pub fn put_raw_with_prov(
        &self,
        instance: &str,
        project: &str,
        chart: &str,
        version: &str,
        tgz: Vec<u8>,
        prov: Vec<u8>,
    ) {
        self.put_raw(instance, project, chart, version, tgz);
        let mut s = lock(&self.shared.store);
        if let Some(e) = s.get(instance, project, chart, version).cloned() {
            let mut e = e;
            e.prov = Some(Arc::new(prov));
            s.replace(instance, project, chart, version, e);
        }
    }

    /// Blocks until the server stops (it only stops when the process ends): for the binary.
    pub fn wait(mut self) {
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for (_, c) in lock(&self.shared.conns).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}
