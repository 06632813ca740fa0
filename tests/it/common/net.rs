//! A corporate network on loopback only: certificates from tls.rs's `TestCa`, a TLS terminator
//! answering for names that are not loopback (reachable only through a proxy that maps them to
//! its loopback port: no DNS, no /etc/hosts), forward proxies (CONNECT and absolute-form plain
//! http; with or without basic auth; counting what they were asked), a SOCKS5 proxy, a
//! TLS-inspecting proxy that mints certificates with its own CA, a client-certificate gateway,
//! and a plain-HTTP server to be reached with https://. [`Corp`] puts them together.
//!
//! Every server listens on 127.0.0.1 only, connects only to loopback addresses, polls a stop
//! flag in every loop (accept, reads, pumps) and stops, joining its threads, when dropped.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use super::hostile::{Answer, Scripted};
use super::tls::TestCa;
use super::world::World;

/// The registry's name in the corporate network (behind the TLS terminator).
pub const CORP_HOST: &str = "ccr.corp.example";
/// A plain Helm repository (a static index.yaml) in the corporate network: Helm's own
/// reference, `helm repo add ref https://charts.corp.example/`.
pub const CHARTS_HOST: &str = "charts.corp.example";

/// How long a blocking read waits before the loop looks at its stop flag again.
const POLL: Duration = Duration::from_millis(20);
/// A connection with nothing moving for this long is closed (bounds every loop).
const IDLE: Duration = Duration::from_secs(60);
/// Bound on a TLS handshake and on each write.
const HANDSHAKE: Duration = Duration::from_secs(20);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

// ---------------------------------------------------------------------------------------------
// Certificates: the CAs are tls.rs's TestCa; here, what TLS servers and clients need of them.

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// Writes `ca`'s certificate (PEM) to `path`.
pub fn write_ca(ca: &TestCa, path: &Path) -> PathBuf {
    std::fs::write(path, ca.pem()).unwrap();
    path.to_path_buf()
}

/// Writes a certificate signed by `ca` and its key as `STEM.pem` and `STEM-key.pem` in `dir`
/// (a client certificate: TLS servers here check only who signed it); returns (cert, key).
pub fn write_leaf(ca: &TestCa, name: &str, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = ca.leaf(&[name]);
    let (c, k) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}-key.pem")),
    );
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    (c, k)
}

/// A directory in OpenSSL's hashed layout (`openssl rehash`) holding `cas`, for SSL_CERT_DIR.
pub fn hashed_dir(dir: &Path, cas: &[&TestCa]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (i, ca) in cas.iter().enumerate() {
        write_ca(ca, &dir.join(format!("test-ca-{i}.pem")));
    }
    let out = std::process::Command::new("openssl")
        .arg("rehash")
        .arg(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl rehash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.to_path_buf()
}

/// A TLS server configuration presenting a certificate for `names` signed by `ca`, speaking
/// HTTP/1.1 (ALPN); with `client_ca`, a client certificate signed by it is required.
pub fn server_config(ca: &TestCa, names: &[&str], client_ca: Option<&TestCa>) -> Arc<ServerConfig> {
    let mut c = match client_ca {
        None => (*ca.server_config(names)).clone(),
        Some(client_ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(der(&client_ca.pem())).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .unwrap();
            let (cert, key) = ca.leaf(names);
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(
                    vec![der(&cert)],
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap()
        }
    };
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

fn client_config(roots: &[Arc<TestCa>]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for ca in roots {
        store.add(der(&ca.pem())).unwrap();
    }
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth(),
    )
}

// ---------------------------------------------------------------------------------------------
// A loopback server: an accept loop and a thread per connection, all stopped when dropped.

type Stop = AtomicBool;

struct Server {
    addr: SocketAddr,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start<F>(handler: F) -> Server
    where
        F: Fn(TcpStream, &Stop) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut children: Vec<JoinHandle<()>> = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let (h, s) = (handler.clone(), s.clone());
                        children.push(std::thread::spawn(move || h(conn, &s)));
                    }
                    Err(_) => std::thread::sleep(POLL),
                }
                children.retain(|c| !c.is_finished());
            }
            for c in children {
                let _ = c.join();
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Reads an HTTP request head (up to the blank line, byte by byte so nothing after it is
/// consumed), giving up when stopped, idle or over 64 KiB.
fn read_head(s: &mut TcpStream, stop: &Stop) -> Option<String> {
    s.set_read_timeout(Some(POLL)).ok()?;
    let (mut buf, start, mut byte) = (Vec::new(), Instant::now(), [0u8; 1]);
    loop {
        if stop.load(Ordering::Relaxed) || start.elapsed() > IDLE || buf.len() > 65536 {
            return None;
        }
        match s.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => {
                buf.push(byte[0]);
                if buf.ends_with(b"\r\n\r\n") {
                    return Some(String::from_utf8_lossy(&buf).into_owned());
                }
            }
            Err(e) if timed_out(&e) => {}
            Err(_) => return None,
        }
    }
}

enum Step {
    Moved,
    Idle,
    Closed,
}

fn step(from: &mut dyn Duplex, to: &mut dyn Duplex, buf: &mut [u8]) -> Step {
    match from.read(buf) {
        Ok(0) => Step::Closed,
        Ok(n) => match to.write_all(&buf[..n]).and_then(|_| to.flush()) {
            Ok(()) => Step::Moved,
            Err(_) => Step::Closed,
        },
        Err(e) if timed_out(&e) => Step::Idle,
        Err(_) => Step::Closed,
    }
}

trait Duplex: Read + Write {}
impl<T: Read + Write> Duplex for T {}

/// Copies bytes both ways until either side closes, the server stops or nothing moves for
/// [`IDLE`]. Both sides' sockets must have a short read timeout ([`POLL`]).
fn pump(a: &mut dyn Duplex, b: &mut dyn Duplex, stop: &Stop) {
    let mut buf = vec![0u8; 16384];
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) && last.elapsed() < IDLE {
        let x = step(a, b, &mut buf);
        let y = step(b, a, &mut buf);
        if matches!(x, Step::Closed) || matches!(y, Step::Closed) {
            return;
        }
        if matches!(x, Step::Moved) || matches!(y, Step::Moved) {
            last = Instant::now();
        }
    }
}

fn polling(s: &TcpStream) {
    let _ = s.set_read_timeout(Some(POLL));
    let _ = s.set_write_timeout(Some(HANDSHAKE));
}

/// Connects to a loopback address only.
fn connect_loopback(addr: SocketAddr) -> Option<TcpStream> {
    assert!(
        addr.ip().is_loopback(),
        "test servers connect to loopback only"
    );
    let s = TcpStream::connect_timeout(&addr, HANDSHAKE).ok()?;
    polling(&s);
    Some(s)
}

/// Completes a TLS handshake on a blocking socket, bounded by [`HANDSHAKE`].
fn handshake<S: rustls::SideData>(
    conn: &mut rustls::ConnectionCommon<S>,
    tcp: &mut TcpStream,
) -> Result<(), String> {
    let _ = tcp.set_read_timeout(Some(HANDSHAKE));
    let _ = tcp.set_write_timeout(Some(HANDSHAKE));
    let start = Instant::now();
    while conn.is_handshaking() {
        if start.elapsed() > HANDSHAKE {
            return Err("handshake timed out".into());
        }
        conn.complete_io(tcp).map_err(|e| e.to_string())?;
    }
    // Flush what the handshake left to send (TLS 1.3 session tickets).
    while conn.wants_write() {
        conn.write_tls(tcp).map_err(|e| e.to_string())?;
    }
    polling(tcp);
    Ok(())
}

fn addr_of(url: &str) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The TLS terminator (and, with a client CA, the client-certificate gateway).

/// TLS in front of a plain-HTTP loopback backend; connections are piped to the backend.
pub struct Terminator {
    pub addr: SocketAddr,
    /// Handshake failures, as the server saw them (for a test's diagnostics).
    pub failures: Arc<Mutex<Vec<String>>>,
    _server: Server,
}

impl Terminator {
    /// Presents `leaf`; pipes to `backend` (a loopback `http://HOST:PORT` URL or address).
    pub fn start(config: Arc<ServerConfig>, backend: &str) -> Terminator {
        let backend = addr_of(backend);
        let failures = Arc::new(Mutex::new(Vec::new()));
        let f2 = failures.clone();
        let server = Server::start(move |mut tcp, stop| {
            let Ok(mut conn) = ServerConnection::new(config.clone()) else {
                return;
            };
            if let Err(e) = handshake(&mut conn, &mut tcp) {
                f2.lock().unwrap().push(e);
                return;
            }
            let Some(mut back) = connect_loopback(backend) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            pump(&mut tls, &mut back, stop);
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        });
        Terminator {
            addr: server.addr,
            failures,
            _server: server,
        }
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    /// [`Terminator::failures`] once there are at least `n` (the client may have read the
    /// server's alert before the server thread wrote the failure down), or after 10 s.
    pub fn failures_at_least(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        while self.failures().len() < n && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(POLL);
        }
        self.failures()
    }
}

// ---------------------------------------------------------------------------------------------
// A plain-HTTP server that answers anything with 400 (to be reached with https://).

/// Answers every connection, whatever it sends, with a plain-HTTP 400; counts connections.
pub struct PlainHttp {
    pub addr: SocketAddr,
    connections: Arc<Mutex<usize>>,
    _server: Server,
}

impl PlainHttp {
    pub fn start() -> PlainHttp {
        let connections = Arc::new(Mutex::new(0));
        let c2 = connections.clone();
        let server = Server::start(move |mut tcp, _| {
            *c2.lock().unwrap() += 1;
            let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
            let _ = tcp.read(&mut [0u8; 4096]);
            respond(&mut tcp, "400 Bad Request", "");
        });
        PlainHttp {
            addr: server.addr,
            connections,
            _server: server,
        }
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Forward proxies.

/// What a [`Proxy`] does.
#[derive(Default)]
pub struct ProxyConfig {
    /// Host names or IP literals (`HOST`, or `HOST:PORT` first) the proxy resolves, to loopback
    /// addresses; other hosts
    /// resolve only when they are loopback literals (anything else: 502).
    pub names: HashMap<String, SocketAddr>,
    /// Basic auth required (407 with `Proxy-Authenticate` when missing or wrong).
    pub auth: Option<(String, String)>,
    /// TLS inspection: CONNECTed streams are terminated with certificates minted by this CA
    /// and re-originated with TLS to the target, trusting `upstream`.
    pub inspect: Option<(Arc<TestCa>, Vec<Arc<TestCa>>)>,
}

impl ProxyConfig {
    pub fn name(mut self, host: &str, target: SocketAddr) -> ProxyConfig {
        self.names.insert(host.to_ascii_lowercase(), target);
        self
    }

    pub fn auth(mut self, user: &str, password: &str) -> ProxyConfig {
        self.auth = Some((user.into(), password.into()));
        self
    }

    pub fn inspect(mut self, ca: Arc<TestCa>, upstream: Vec<Arc<TestCa>>) -> ProxyConfig {
        self.inspect = Some((ca, upstream));
        self
    }
}

/// A forward proxy on loopback (HTTP CONNECT, and absolute-form plain http).
pub struct Proxy {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    _server: Server,
}

impl Proxy {
    pub fn start(config: ProxyConfig) -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let config = Arc::new(config);
        let server = Server::start(move |tcp, stop| serve_proxy(&config, &s2, tcp, stop));
        Proxy {
            addr: server.addr,
            seen,
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Every request the proxy was asked, as `METHOD TARGET STATUS` (`CONNECT h:443 200`).
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests (CONNECT or forwarded) it was asked.
    pub fn count(&self) -> usize {
        self.seen().len()
    }

    /// Clears [`Proxy::seen`].
    pub fn reset(&self) {
        self.seen.lock().unwrap().clear();
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn respond(tcp: &mut TcpStream, status: &str, extra: &str) {
    let _ = write!(
        tcp,
        "HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let _ = tcp.flush();
}

fn split_host_port(authority: &str) -> (String, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (
            h.to_string(),
            after.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().ok()),
        None => (authority.to_string(), None),
    }
}

fn resolve(config: &ProxyConfig, host: &str, port: u16) -> Option<SocketAddr> {
    let host = host.to_ascii_lowercase();
    for key in [format!("{host}:{port}"), host.clone()] {
        if let Some(a) = config.names.get(&key) {
            return Some(*a);
        }
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Some(SocketAddr::new(ip, port)),
        _ => None,
    }
}

fn serve_proxy(config: &ProxyConfig, seen: &Mutex<Vec<String>>, mut tcp: TcpStream, stop: &Stop) {
    let Some(head) = read_head(&mut tcp, stop) else {
        return;
    };
    let first = head.lines().next().unwrap_or("").to_string();
    let mut parts = first.split(' ');
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let record = |status: &str| {
        seen.lock()
            .unwrap()
            .push(format!("{method} {target} {status}"))
    };
    if let Some((user, password)) = &config.auth {
        let want = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
        if header(&head, "Proxy-Authorization") != Some(want.as_str()) {
            record("407");
            return respond(
                &mut tcp,
                "407 Proxy Authentication Required",
                "Proxy-Authenticate: Basic realm=\"corp\"\r\n",
            );
        }
    }
    if method == "CONNECT" {
        let (host, port) = split_host_port(&target);
        let Some(addr) = resolve(config, &host, port.unwrap_or(443)) else {
            record("502");
            return respond(&mut tcp, "502 Bad Gateway", "");
        };
        let Some(mut back) = connect_loopback(addr) else {
            record("502");
            return respond(&mut tcp, "502 Bad Gateway", "");
        };
        record("200");
        if tcp
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
        {
            return;
        }
        match &config.inspect {
            None => {
                polling(&tcp);
                pump(&mut tcp, &mut back, stop);
            }
            Some((ca, upstream)) => inspect(ca, upstream, &host, tcp, back, stop),
        }
    } else if let Some(rest) = target.strip_prefix("http://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = split_host_port(authority);
        let Some(mut back) = resolve(config, &host, port.unwrap_or(80)).and_then(connect_loopback)
        else {
            record("502");
            return respond(&mut tcp, "502 Bad Gateway", "");
        };
        record("forwarded");
        // Origin form, one request per connection.
        let version = first.rsplit(' ').next().unwrap_or("HTTP/1.1");
        let mut out = format!("{method} {path} {version}\r\n");
        for line in head.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
            let name = line.split(':').next().unwrap_or("").trim();
            if ["proxy-authorization", "proxy-connection", "connection"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
            {
                continue;
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("Connection: close\r\n\r\n");
        if back.write_all(out.as_bytes()).is_err() {
            return;
        }
        polling(&tcp);
        pump(&mut tcp, &mut back, stop);
    } else {
        record("400");
        respond(&mut tcp, "400 Bad Request", "");
    }
}

/// A SOCKS5 proxy on loopback (RFC 1928 CONNECT; RFC 1929 user/password when `auth` is
/// set), resolving names by its [`ProxyConfig`]; counts what it was asked like [`Proxy`].
pub struct Socks {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    _server: Server,
}

impl Socks {
    pub fn start(config: ProxyConfig) -> Socks {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let config = Arc::new(config);
        let server = Server::start(move |tcp, stop| serve_socks(&config, &s2, tcp, stop));
        Socks {
            addr: server.addr,
            seen,
            _server: server,
        }
    }

    /// `SCHEME://127.0.0.1:PORT` (`socks5`, `socks5h`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Every CONNECT it was asked, as `SOCKS HOST:PORT STATUS`.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads exactly `n` bytes (polling the stop flag).
fn read_exact(tcp: &mut TcpStream, n: usize, stop: &Stop) -> Option<Vec<u8>> {
    let _ = tcp.set_read_timeout(Some(POLL));
    let (mut buf, mut got, start) = (vec![0u8; n], 0, Instant::now());
    while got < n {
        if stop.load(Ordering::Relaxed) || start.elapsed() > IDLE {
            return None;
        }
        match tcp.read(&mut buf[got..]) {
            Ok(0) => return None,
            Ok(k) => got += k,
            Err(e) if timed_out(&e) => {}
            Err(_) => return None,
        }
    }
    Some(buf)
}

fn serve_socks(config: &ProxyConfig, seen: &Mutex<Vec<String>>, mut tcp: TcpStream, stop: &Stop) {
    let Some(hello) = read_exact(&mut tcp, 2, stop) else {
        return;
    };
    let Some(methods) = read_exact(&mut tcp, usize::from(hello[1]), stop) else {
        return;
    };
    let want = if config.auth.is_some() { 2 } else { 0 };
    if hello[0] != 5 || !methods.contains(&want) {
        let _ = tcp.write_all(&[5, 0xff]);
        seen.lock()
            .unwrap()
            .push("SOCKS ? no acceptable method".into());
        return;
    }
    if tcp.write_all(&[5, want]).is_err() {
        return;
    }
    if let Some((user, password)) = &config.auth {
        let field = |tcp: &mut TcpStream| -> Option<Vec<u8>> {
            let len = read_exact(tcp, 1, stop)?[0];
            read_exact(tcp, usize::from(len), stop)
        };
        let Some(_version) = read_exact(&mut tcp, 1, stop) else {
            return;
        };
        let (Some(u), Some(p)) = (field(&mut tcp), field(&mut tcp)) else {
            return;
        };
        if u != user.as_bytes() || p != password.as_bytes() {
            let _ = tcp.write_all(&[1, 1]);
            seen.lock()
                .unwrap()
                .push("SOCKS ? refused credentials".into());
            return;
        }
        if tcp.write_all(&[1, 0]).is_err() {
            return;
        }
    }
    let Some(req) = read_exact(&mut tcp, 4, stop) else {
        return;
    };
    let host = match req[3] {
        1 => read_exact(&mut tcp, 4, stop)
            .map(|a| std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()),
        3 => read_exact(&mut tcp, 1, stop)
            .and_then(|l| read_exact(&mut tcp, usize::from(l[0]), stop))
            .map(|n| String::from_utf8_lossy(&n).into_owned()),
        4 => read_exact(&mut tcp, 16, stop).map(|a| {
            let a: [u8; 16] = a.try_into().unwrap();
            std::net::Ipv6Addr::from(a).to_string()
        }),
        _ => None,
    };
    let (Some(host), Some(port)) = (host, read_exact(&mut tcp, 2, stop)) else {
        return;
    };
    let port = u16::from_be_bytes([port[0], port[1]]);
    let target = resolve(config, &host, port).and_then(connect_loopback);
    let status = if target.is_some() { "ok" } else { "refused" };
    seen.lock()
        .unwrap()
        .push(format!("SOCKS {host}:{port} {status}"));
    let reply = if target.is_some() { 0 } else { 4 };
    if tcp.write_all(&[5, reply, 0, 1, 0, 0, 0, 0, 0, 0]).is_err() {
        return;
    }
    if let Some(mut back) = target {
        polling(&tcp);
        pump(&mut tcp, &mut back, stop);
    }
}

/// TLS inspection of one CONNECTed stream: a certificate for `host` minted by `ca` towards
/// the client, TLS to the target trusting `upstream`, and the plaintext piped between them.
fn inspect(
    ca: &TestCa,
    upstream: &[Arc<TestCa>],
    host: &str,
    mut tcp: TcpStream,
    mut back: TcpStream,
    stop: &Stop,
) {
    let Ok(mut down) = ServerConnection::new(server_config(ca, &[host], None)) else {
        return;
    };
    if handshake(&mut down, &mut tcp).is_err() {
        return;
    }
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return;
    };
    let Ok(mut up) = ClientConnection::new(client_config(upstream), name) else {
        return;
    };
    if handshake(&mut up, &mut back).is_err() {
        return;
    }
    let mut a = rustls::StreamOwned::new(down, tcp);
    let mut b = rustls::StreamOwned::new(up, back);
    pump(&mut a, &mut b, stop);
    a.conn.send_close_notify();
    let _ = a.conn.complete_io(&mut a.sock);
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The corporate network around a World.

/// A corporate network around `world`'s emulator: the corporate CA; [`CORP_HOST`] (the
/// emulator) and [`CHARTS_HOST`] (a static Helm repository, Helm's own reference) behind TLS
/// terminators, or behind client-certificate gateways; a proxy that resolves both names.
pub struct Corp {
    pub ca: Arc<TestCa>,
    pub dir: tempfile::TempDir,
    pub api: Terminator,
    pub charts: Terminator,
    pub proxy: Proxy,
    _repo: Scripted,
}

/// The static Helm repository behind [`CHARTS_HOST`].
pub const CHARTS_INDEX: &str = "apiVersion: v1\nentries: {}\ngenerated: \"2026-01-01T00:00:00Z\"\n";

impl Corp {
    /// Terminators without client authentication.
    pub fn new(world: &World) -> Corp {
        Corp::build(world, false, ProxyConfig::default())
    }

    /// Client-certificate gateways (a certificate from a client CA, [`Corp::client_files`],
    /// required).
    pub fn gateway(world: &World) -> Corp {
        Corp::build(world, true, ProxyConfig::default())
    }

    /// With a proxy configured further (auth) by `proxy`; the names are added here.
    pub fn with_proxy(world: &World, proxy: ProxyConfig) -> Corp {
        Corp::build(world, false, proxy)
    }

    fn build(world: &World, mtls: bool, proxy: ProxyConfig) -> Corp {
        let ca = Arc::new(TestCa::new());
        let client_ca = TestCa::new();
        let dir = tempfile::tempdir().unwrap();
        write_ca(&ca, &dir.path().join("corp-ca.pem"));
        write_leaf(&client_ca, "client.corp.example", dir.path(), "client");
        let required = mtls.then_some(&client_ca);
        let api = Terminator::start(server_config(&ca, &[CORP_HOST], required), &world.emu.url());
        let repo = Scripted::start(Box::new(|_, url, _| {
            if url.ends_with("index.yaml") {
                Answer::Bytes(CHARTS_INDEX.as_bytes().to_vec())
            } else {
                Answer::Json(404, "{}".into(), Vec::new())
            }
        }));
        let charts = Terminator::start(server_config(&ca, &[CHARTS_HOST], required), &repo.url);
        let proxy = Proxy::start(
            proxy
                .name(CORP_HOST, api.addr)
                .name(CHARTS_HOST, charts.addr),
        );
        Corp {
            ca,
            dir,
            api,
            charts,
            proxy,
            _repo: repo,
        }
    }

    /// The corporate CA's PEM file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("corp-ca.pem")
    }

    /// The client certificate and key the gateways accept: (certificate, key).
    pub fn client_files(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("client.pem"),
            self.dir.path().join("client-key.pem"),
        )
    }

    /// A proxy inspecting TLS with its own CA (written to `inspect-ca.pem` here), trusting the
    /// corporate CA upstream, resolving the same names.
    pub fn inspecting_proxy(&self) -> (Proxy, PathBuf) {
        let own = Arc::new(TestCa::new());
        let file = write_ca(&own, &self.dir.path().join("inspect-ca.pem"));
        let proxy = Proxy::start(
            ProxyConfig::default()
                .name(CORP_HOST, self.api.addr)
                .name(CHARTS_HOST, self.charts.addr)
                .inspect(own, vec![self.ca.clone()]),
        );
        (proxy, file)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
