//! TLS for tests: a throwaway certificate authority and a TLS capture server.
//!
//! - [`TestCa::new`] makes a CA (ECDSA P-256, by rcgen); [`TestCa::pem`] is its certificate,
//!   [`TestCa::write_to`] writes it as `ca.pem` (for `--ca-file`, the getter's CA argument,
//!   `helm repo add --ca-file`), [`TestCa::leaf`] signs a server certificate for the given
//!   names (`"127.0.0.1"` becomes an IP address SAN, `"localhost"` a DNS name) and returns
//!   `(cert_pem, key_pem)`; [`TestCa::server_config`] is a rustls server configuration with
//!   such a leaf, for any TLS server a test builds.
//! - [`CaptureServer::start`] listens on `127.0.0.1:0` with a leaf for `127.0.0.1` and
//!   `localhost`, records every request (method, path, headers: [`Captured`]) and every TCP
//!   connection, and answers a list call (a path ending in `/charts` or `/versions`) with an
//!   empty CCR page, anything else with a CCR-style 404. It returns `(addr, handle)`; the
//!   handle stops the server when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A throwaway certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "helm-ccr test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes [`TestCa::pem`] to `dir/ca.pem` and returns that path.
    pub fn write_to(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.pem()).unwrap();
        path
    }

    /// A server certificate for `names` signed by this CA, and its key (PKCS#8): PEM both.
    pub fn leaf(&self, names: &[&str]) -> (String, String) {
        let (cert, key) = self.signed(names);
        (cert.pem(), key.serialize_pem())
    }

    fn signed(&self, names: &[&str]) -> (rcgen::Certificate, KeyPair) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "helm-ccr test server");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert, key)
    }

    fn leaf_der(&self, names: &[&str]) -> (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>) {
        let (cert, key) = self.signed(names);
        (
            cert.der().clone(),
            PrivatePkcs8KeyDer::from(key.serialize_der()),
        )
    }

    /// A rustls server configuration (ring, TLS 1.2 and 1.3) presenting a leaf for `names`.
    pub fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let (cert, key) = self.leaf_der(names);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(key))
        .unwrap();
        Arc::new(config)
    }
}

/// One request the capture server read.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    /// The request target as sent: path and query.
    pub path: String,
    /// Every header, in order, names as sent.
    pub headers: Vec<(String, String)>,
}

impl Captured {
    /// The first header of this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<Captured>>,
    connections: AtomicUsize,
    stop: AtomicBool,
}

/// A TLS server on 127.0.0.1 that records what reaches it (see the module documentation).
pub struct CaptureServer {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

impl CaptureServer {
    /// Starts the server with a certificate for `127.0.0.1` and `localhost` signed by `ca`.
    pub fn start(ca: &TestCa) -> (SocketAddr, CaptureServer) {
        let config = ca.server_config(&["127.0.0.1", "localhost"]);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let s = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let (config, s) = (Arc::clone(&config), Arc::clone(&s));
                std::thread::spawn(move || serve(stream, config, &s));
            }
        });
        (addr, CaptureServer { addr, seen })
    }

    /// Every request read so far, in arrival order.
    pub fn requests(&self) -> Vec<Captured> {
        self.seen.requests.lock().unwrap().clone()
    }

    /// TCP connections accepted so far (a client that failed the handshake counts too).
    pub fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.seen.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves one connection: requests until the client closes it or sends something unreadable.
fn serve(stream: TcpStream, config: Arc<rustls::ServerConfig>, seen: &Seen) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut reader = BufReader::new(rustls::StreamOwned::new(conn, stream));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, path) = (method.to_string(), path.to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let request = Captured {
            method,
            path,
            headers,
        };
        let length: u64 = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let _ = std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink());
        let list = request.method == "GET"
            && request
                .path
                .split('?')
                .next()
                .is_some_and(|p| p.ends_with("/charts") || p.ends_with("/versions"));
        seen.requests.lock().unwrap().push(request);
        let (status, body) = if list {
            (
                "200 OK",
                r#"{"total":0,"pageNo":1,"pageSize":100,"items":[]}"#,
            )
        } else {
            (
                "404 Not Found",
                r#"{"code":"NotFound","message":"the capture server has nothing","requestId":"capture"}"#,
            )
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let stream = reader.get_mut();
        if stream.write_all(answer.as_bytes()).is_err() || stream.flush().is_err() {
            return;
        }
    }
}

#[test]
fn leaves_and_the_ca_are_pem() {
    let ca = TestCa::new();
    assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let (cert, key) = ca.leaf(&["127.0.0.1", "localhost"]);
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        std::fs::read_to_string(ca.write_to(dir.path())).unwrap(),
        ca.pem()
    );
}
