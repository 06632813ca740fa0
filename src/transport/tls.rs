//! TLS as Helm has it: the roots Go trusts (the system's bundle and certificate directories,
//! `SSL_CERT_FILE`, `SSL_CERT_DIR`), `--ca-file` replacing them (Helm builds a pool holding only
//! that file), a client certificate, and `--insecure-skip-tls-verify`.
//!
//! Nothing here reads the environment: [`TlsSettings`] carries `SSL_CERT_FILE`/`SSL_CERT_DIR`
//! as the settings layer read them. The system roots are read once per process and setting.
//! When nothing loads (a minimal container without a CA bundle), ureq's bundled Mozilla roots
//! (webpki-roots) are used, where Go would fail every request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

/// Go's CA bundles on Linux (`crypto/x509/root_linux.go`): the first one that reads is used.
#[cfg(all(unix, not(target_os = "macos")))]
const CERT_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Go's certificate directories on Linux: every file of each is read.
#[cfg(all(unix, not(target_os = "macos")))]
const CERT_DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// A client certificate and its key, PEM files, and where they were named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `--cert-file/--key-file`, `the Helm repository's certFile/keyFile`, ...
    pub source: String,
}

/// The TLS settings of one transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificates trusted instead of the system's roots (`--ca-file`, the getter's CA,
    /// the repository entry's `caFile`).
    pub ca_file: Option<PathBuf>,
    /// How `ca_file` was named, for messages: `--ca-file`, ...
    pub ca_file_source: String,
    /// `SSL_CERT_FILE`, as set: replaces Go's list of CA bundles.
    pub ssl_cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`, as set (`:`-separated): replaces Go's certificate directories.
    pub ssl_cert_dir: Option<String>,
    pub client_cert: Option<ClientCertFiles>,
    /// `--insecure-skip-tls-verify` (or the repository entry's `insecure_skip_tls_verify`).
    pub insecure: bool,
}

/// Where the trusted roots come from, with how many certificates were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Verification is off.
    Insecure,
    /// Only the certificates of this file (`--ca-file` and kin).
    CaFile {
        path: PathBuf,
        source: String,
        count: usize,
    },
    /// The system's roots: `read` names the files and directories that gave certificates,
    /// `variables` is `SSL_CERT_FILE=…`/`SSL_CERT_DIR=…` when set.
    System {
        read: Vec<String>,
        variables: Vec<String>,
        count: usize,
    },
    /// Nothing loaded from the system: the bundled Mozilla roots.
    Bundled { variables: Vec<String> },
}

/// `helm ccr env`'s words: where the roots come from, not the machine's details (see
/// [`Trust::detail`]).
impl std::fmt::Display for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trust::Insecure => f.write_str("none: certificates are not verified (insecure)"),
            Trust::CaFile { path, source, .. } => write!(
                f,
                "{source} {} (only its certificates, as Helm)",
                path.display()
            ),
            Trust::System { variables, .. } if variables.is_empty() => {
                f.write_str("the system store")
            }
            Trust::System { variables, .. } => f.write_str(&variables.join(", ")),
            Trust::Bundled { variables } if variables.is_empty() => {
                f.write_str("the bundled Mozilla roots (the system store has no certificate)")
            }
            Trust::Bundled { variables } => write!(
                f,
                "the bundled Mozilla roots ({} hold no certificate)",
                variables.join(", ")
            ),
        }
    }
}

impl Trust {
    /// The debug line's words: also how many certificates, read from where.
    pub fn detail(&self) -> String {
        match self {
            Trust::CaFile { count, .. } => format!("{self}: {count} certificates"),
            Trust::System { read, count, .. } => {
                format!("{self}: {count} certificates from {}", read.join(", "))
            }
            _ => self.to_string(),
        }
    }
}

/// What the transport needs: ureq's configuration and a description of the roots.
pub struct Built {
    pub config: TlsConfig,
    pub trust: Trust,
}

/// Builds the TLS configuration: reads `--ca-file` or the system's roots (once per process),
/// and the client certificate, checking the key against the certificate.
pub fn build(settings: &TlsSettings) -> Result<Built> {
    let mut tls = TlsConfig::builder();
    let trust = if settings.insecure {
        tls = tls.disable_verification(true);
        Trust::Insecure
    } else if let Some(ca) = &settings.ca_file {
        let certs = read_ca_file(ca, &settings.ca_file_source)?;
        let count = certs.len();
        tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        Trust::CaFile {
            path: ca.clone(),
            source: settings.ca_file_source.clone(),
            count,
        }
    } else {
        let (roots, trust) = system_roots(settings);
        if let Some(roots) = roots {
            tls = tls.root_certs(RootCerts::Specific(roots));
        } else {
            tls = tls.root_certs(RootCerts::WebPki);
        }
        trust
    };
    if let Some(files) = &settings.client_cert {
        tls = tls.client_cert(Some(client_cert(files)?));
    }
    Ok(Built {
        config: tls.build(),
        trust,
    })
}

/// The trust roots `settings` give, described, without building a client (`helm ccr env`).
pub fn describe(settings: &TlsSettings) -> Result<Trust> {
    Ok(build(settings)?.trust)
}

fn read_ca_file(ca: &Path, source: &str) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(ca).with_context(|| format!("reading {source} {}", ca.display()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        bail!("{source} {}: no PEM certificate in it", ca.display());
    }
    Ok(certs)
}

type RootsKey = (Option<PathBuf>, Option<String>);
type Loaded = (Option<Arc<Vec<Certificate<'static>>>>, Trust);

/// The system's roots, read once per process for each (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
fn system_roots(settings: &TlsSettings) -> Loaded {
    static CACHE: Mutex<Option<HashMap<RootsKey, Loaded>>> = Mutex::new(None);
    let key = (
        settings.ssl_cert_file.clone(),
        settings.ssl_cert_dir.clone(),
    );
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    cache
        .entry(key)
        .or_insert_with(|| {
            load_system_roots(
                settings.ssl_cert_file.as_deref(),
                settings.ssl_cert_dir.as_deref(),
            )
        })
        .clone()
}

fn variables(file: Option<&Path>, dir: Option<&str>) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(f) = file {
        v.push(format!("SSL_CERT_FILE={}", f.display()));
    }
    if let Some(d) = dir {
        v.push(format!("SSL_CERT_DIR={d}"));
    }
    v
}

/// Go's `loadSystemRoots` on Linux: `SSL_CERT_FILE` replaces the list of bundles (the first
/// that reads counts), `SSL_CERT_DIR` the list of directories (each file of each is read).
#[cfg(all(unix, not(target_os = "macos")))]
fn load_system_roots(file: Option<&Path>, dir: Option<&str>) -> Loaded {
    let mut certs = Vec::new();
    let mut read = Vec::new();
    let files: Vec<PathBuf> = match file {
        Some(f) => vec![f.to_path_buf()],
        None => CERT_FILES.iter().map(PathBuf::from).collect(),
    };
    for f in &files {
        // Go takes the first bundle that reads, whatever it holds.
        if std::fs::File::open(f).is_err() {
            continue;
        }
        let loaded = rustls_native_certs::load_certs_from_paths(Some(f), None);
        if !loaded.certs.is_empty() {
            read.push(f.display().to_string());
        }
        certs.extend(loaded.certs);
        break;
    }
    let dirs: Vec<PathBuf> = match dir {
        Some(d) => d
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => CERT_DIRS.iter().map(PathBuf::from).collect(),
    };
    for d in &dirs {
        let loaded = rustls_native_certs::load_certs_from_paths(None, Some(d));
        if !loaded.certs.is_empty() {
            read.push(d.display().to_string());
        }
        certs.extend(loaded.certs);
    }
    finish(certs, read, variables(file, dir))
}

/// Elsewhere: the platform's store through rustls-native-certs (which reads `SSL_CERT_FILE`
/// and `SSL_CERT_DIR` itself).
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn load_system_roots(file: Option<&Path>, dir: Option<&str>) -> Loaded {
    let loaded = rustls_native_certs::load_native_certs();
    finish(
        loaded.certs,
        vec!["the platform's store".into()],
        variables(file, dir),
    )
}

fn finish(
    mut certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    read: Vec<String>,
    variables: Vec<String>,
) -> Loaded {
    certs.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
    certs.dedup();
    if certs.is_empty() {
        return (None, Trust::Bundled { variables });
    }
    let count = certs.len();
    let roots: Vec<Certificate<'static>> = certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    (
        Some(Arc::new(roots)),
        Trust::System {
            read,
            variables,
            count,
        },
    )
}

/// Reads a client certificate (chain) and its key (PKCS#8, PKCS#1 `RSA PRIVATE KEY` or SEC1
/// `EC PRIVATE KEY`; RSA, ECDSA or Ed25519), and checks that they belong together: a mismatch
/// is an error here, before any request, naming both files.
pub fn client_cert(files: &ClientCertFiles) -> Result<ClientCert> {
    let what = &files.source;
    let cert_pem = std::fs::read(&files.cert).with_context(|| {
        format!(
            "reading the client certificate {} ({what})",
            files.cert.display()
        )
    })?;
    let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(&cert_pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if chain.is_empty() {
        bail!(
            "the client certificate {} ({what}) holds no PEM certificate",
            files.cert.display()
        );
    }
    let key_pem = std::fs::read(&files.key)
        .with_context(|| format!("reading the client key {} ({what})", files.key.display()))?;
    let key: PrivateKey<'static> = ureq::tls::parse_pem(&key_pem)
        .find_map(|item| match item {
            Ok(PemItem::PrivateKey(k)) => Some(k),
            _ => None,
        })
        .ok_or_else(|| {
            anyhow!(
                "the client key {} ({what}) holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY; an encrypted key must be decrypted first)",
                files.key.display()
            )
        })?;
    check_pair(&chain, &key_pem).map_err(|e| {
        anyhow!(
            "the client key {} does not go with the certificate {} ({what}): {e}",
            files.key.display(),
            files.cert.display()
        )
    })?;
    Ok(ClientCert::new_with_certs(&chain, key))
}

/// What ureq would do with the pair on the first connection (where a failure panics): the
/// key as rustls reads it, then rustls's check that it goes with the certificate.
fn check_pair(chain: &[Certificate<'static>], key_pem: &[u8]) -> Result<(), rustls::Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| rustls::Error::General(format!("the key does not read: {e}")))?;
    let chain = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map(drop)
}

/// Who issued the certificate `host:port` presents (`CN=…, O=…`), for the message about an
/// untrusted certificate: one more handshake, direct or through an `http://` proxy without
/// credentials, that stops as soon as the certificate arrives. `None` when that does not work.
pub fn peer_issuer(
    host: &str,
    port: u16,
    via: Option<&super::proxy::ProxyUrl>,
    timeout: std::time::Duration,
) -> Option<String> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let connect = |h: &str, p: u16| -> Option<TcpStream> {
        let addr = (h, p).to_socket_addrs().ok()?.next()?;
        let s = TcpStream::connect_timeout(&addr, timeout).ok()?;
        s.set_read_timeout(Some(timeout)).ok()?;
        s.set_write_timeout(Some(timeout)).ok()?;
        Some(s)
    };
    let mut sock = match via {
        None => connect(bare, port)?,
        Some(p) if p.scheme == super::proxy::ProxyScheme::Http && p.username.is_none() => {
            let proxy_host = p.host.trim_start_matches('[').trim_end_matches(']');
            let mut s = connect(proxy_host, p.port())?;
            write!(
                s,
                "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
            )
            .ok()?;
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
                s.read_exact(&mut byte).ok()?;
                head.push(byte[0]);
            }
            let status = String::from_utf8_lossy(&head);
            if status.split_whitespace().nth(1) != Some("200") {
                return None;
            }
            s
        }
        Some(_) => return None,
    };
    let seen = Arc::new(Mutex::new(None));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Capture {
            seen: seen.clone(),
            schemes: provider
                .signature_verification_algorithms
                .supported_schemes(),
        }))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(bare.to_string()).ok()?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    // Fails by design once the certificate is seen.
    let _ = conn.complete_io(&mut sock);
    let der: Vec<u8> = seen.lock().ok()?.take()?;
    issuer_of(&der)
}

/// Keeps the server's certificate and ends the handshake.
#[derive(Debug)]
struct Capture {
    seen: Arc<Mutex<Option<Vec<u8>>>>,
    schemes: Vec<rustls::SignatureScheme>,
}

impl rustls::client::danger::ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.as_ref().to_vec());
        }
        Err(rustls::Error::General("certificate captured".into()))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not verifying".into()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not verifying".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.schemes.clone()
    }
}

/// One DER element: its tag, its content and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |l, b| (l << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The issuer of a DER certificate as `CN=…, O=…` (its common name and organisation, else
/// every attribute that is text).
pub fn issuer_of(cert: &[u8]) -> Option<String> {
    let (_, certificate, _) = der(cert)?;
    let (_, mut tbs, _) = der(certificate)?;
    // [0] version (optional), serial, signature algorithm, then the issuer.
    let (tag, _, rest) = der(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
        tbs = der(tbs)?.2;
    } else {
        tbs = rest;
    }
    tbs = der(tbs)?.2;
    let (_, mut name, _) = der(tbs)?;
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = der(name) {
        name = rest;
        let Some((_, attr, _)) = der(set) else {
            continue;
        };
        let Some((0x06, oid, value)) = der(attr) else {
            continue;
        };
        let Some((_, text, _)) = der(value) else {
            continue;
        };
        let label = match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x0a] => "O",
            _ => continue,
        };
        if let Ok(text) = std::str::from_utf8(text) {
            let text: String = text.chars().filter(|c| !c.is_control()).collect();
            parts.push(format!("{label}={text}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_replaces_the_roots_and_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let settings = TlsSettings {
            ca_file: Some(empty.clone()),
            ca_file_source: "--ca-file".into(),
            ..TlsSettings::default()
        };
        let err = build(&settings).err().unwrap().to_string();
        assert!(
            err.contains("--ca-file") && err.contains("no PEM certificate"),
            "{err}"
        );
        let insecure = TlsSettings {
            insecure: true,
            ..settings
        };
        assert_eq!(build(&insecure).unwrap().trust, Trust::Insecure);
    }

    #[test]
    fn ssl_cert_dir_without_certificates_falls_back_to_the_bundled_roots() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TlsSettings {
            ssl_cert_file: Some(dir.path().join("missing.pem")),
            ssl_cert_dir: Some(dir.path().display().to_string()),
            ..TlsSettings::default()
        };
        let trust = build(&settings).unwrap().trust;
        assert!(
            matches!(&trust, Trust::Bundled { variables } if variables.len() == 2),
            "{trust:?}"
        );
        assert!(trust.to_string().contains("SSL_CERT_FILE="), "{trust}");
        assert!(
            trust.to_string().starts_with("the bundled Mozilla roots"),
            "{trust}"
        );
    }

    /// RSA (PKCS#8 and PKCS#1), ECDSA (SEC1) and Ed25519 keys, made with the `openssl` tool
    /// when there is one; a key of another certificate is refused.
    #[test]
    fn client_keys_of_every_kind_load() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sh = |script: &str| {
            std::process::Command::new("sh")
                .current_dir(d)
                .args(["-c", script])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !sh("openssl version") {
            eprintln!("no openssl: skipped");
            return;
        }
        assert!(sh(concat!(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa8.pem -out rsa.crt -subj /CN=c -days 2",
            " && openssl rsa -in rsa8.pem -traditional -out rsa1.pem",
            " && openssl ecparam -name prime256v1 -genkey -noout -out ec.pem",
            " && openssl req -x509 -new -key ec.pem -out ec.crt -subj /CN=c -days 2",
            " && openssl genpkey -algorithm ed25519 -out ed.pem",
            " && openssl req -x509 -new -key ed.pem -out ed.crt -subj /CN=c -days 2"
        )));
        let files = |cert: &str, key: &str| ClientCertFiles {
            cert: d.join(cert),
            key: d.join(key),
            source: "--cert-file/--key-file".into(),
        };
        for (cert, key, begins) in [
            ("rsa.crt", "rsa8.pem", "BEGIN PRIVATE KEY"),
            ("rsa.crt", "rsa1.pem", "BEGIN RSA PRIVATE KEY"),
            ("ec.crt", "ec.pem", "BEGIN EC PRIVATE KEY"),
            ("ed.crt", "ed.pem", "BEGIN PRIVATE KEY"),
        ] {
            assert!(std::fs::read_to_string(d.join(key))
                .unwrap()
                .contains(begins));
            client_cert(&files(cert, key)).unwrap_or_else(|e| panic!("{cert} {key}: {e:#}"));
        }
        let err = client_cert(&files("rsa.crt", "ec.pem"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("does not go with the certificate"), "{err}");
    }

    #[test]
    fn a_client_key_must_be_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "nothing").unwrap();
        std::fs::write(&key, "nothing").unwrap();
        let files = ClientCertFiles {
            cert,
            key,
            source: "--cert-file/--key-file".into(),
        };
        let err = client_cert(&files).err().unwrap().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
    }
}
