//! `helm ccr serve`: CCR namespaces as plain HTTP Helm repositories.
//!
//! hyper's HTTP/1.1 server (keep-alive, a bounded request header, a header read timeout) on a
//! tokio runtime that only [`run`] creates, so every other command starts as it did. Upstream
//! calls go through the blocking [`Registry`] on tokio's bounded pool of blocking threads.
//! Layout: [`routes`] (paths, pure), [`index`] (the index cache: single-flight, incremental,
//! stale), [`packages`] (the disk cache), [`auth`] (htpasswd, bearer tokens), [`sts`] (the
//! upstream keys' file), [`metrics`], [`log`],
//! [`handler`] (one request), [`body`] (response bodies); the accept loop, TLS and the
//! graceful shutdown are here.

pub mod auth;
pub mod body;
pub mod handler;
pub mod index;
pub mod log;
pub mod metrics;
pub mod packages;
pub mod routes;
pub mod sts;
mod watched;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::registry::Registry;
use index::{IndexCache, Policy};
use metrics::Metrics;
use packages::Packages;

/// A request's header block may not be larger than this (hyper's read buffer).
const MAX_HEADER_BYTES: usize = 16 << 10;
/// A client must send a request's whole header within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS handshake must finish within this time.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything `serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: String,
    pub htpasswd: Option<PathBuf>,
    /// Bearer tokens, one a line.
    pub token_file: Option<PathBuf>,
    /// Upstream keys re-read when the file changes (see [`sts`]); the registries were
    /// connected with the keys it held at start-up.
    pub sts_credentials_file: Option<PathBuf>,
    /// Certificate chain and private key (PEM) for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub index_ttl: Duration,
    pub full_refresh: Duration,
    pub max_stale: Duration,
    pub cache_dir: PathBuf,
    pub cache_size: u64,
    pub log_json: bool,
    /// Upstream requests in flight for one index build (`HELM_CCR_PARALLEL`).
    pub parallel: usize,
    /// How long in-flight requests may take to finish once a signal asks to stop.
    pub grace: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Serve provenance files without client authentication (Helm 4 fetches them without
    /// the repository's credentials).
    pub public_provenance: bool,
}

/// One served repository.
pub struct Upstream {
    /// The path segment it is served under (`/NAME/`); empty for `/`.
    pub name: String,
    /// How to name it in logs and metrics.
    pub display: String,
    pub registry: Registry,
}

/// What every request shares.
pub struct App {
    pub prefixes: Vec<String>,
    pub indexes: Vec<IndexCache>,
    pub registries: Vec<Arc<Registry>>,
    pub packages: Packages,
    pub auth: Option<auth::Htpasswd>,
    pub tokens: Option<auth::Tokens>,
    /// Re-read before upstream requests.
    pub sts: Option<sts::StsFile>,
    /// See [`ServeConfig::public_provenance`].
    pub public_provenance: bool,
    pub metrics: Arc<Metrics>,
}

impl App {
    /// Before upstream requests: the STS file's keys, when it changed.
    pub fn refresh_keys(&self) {
        if let Some(s) = &self.sts {
            s.refresh();
        }
    }
}

/// Serves `upstreams` until SIGTERM or SIGINT, then lets in-flight requests finish within the
/// grace period. Prints the URL it listens on to stdout once bound.
pub fn run(config: ServeConfig, upstreams: Vec<Upstream>) -> Result<()> {
    log::set_json(config.log_json);
    let metrics = Arc::new(Metrics::default());
    let auth = config
        .htpasswd
        .clone()
        .map(auth::Htpasswd::open)
        .transpose()?;
    let tokens = config
        .token_file
        .clone()
        .map(auth::Tokens::open)
        .transpose()?;
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let packages = Packages::open(config.cache_dir.clone(), config.cache_size, metrics.clone())?;
    let policy = Policy {
        ttl: config.index_ttl,
        full_refresh: config.full_refresh,
        max_stale: config.max_stale,
        parallel: config.parallel,
    };
    let mut prefixes = Vec::new();
    let mut indexes = Vec::new();
    let mut registries = Vec::new();
    for u in upstreams {
        let registry = Arc::new(u.registry);
        prefixes.push(u.name);
        indexes.push(IndexCache::new(
            u.display,
            registry.clone(),
            policy.clone(),
            metrics.clone(),
        ));
        registries.push(registry);
    }
    let sts = config
        .sts_credentials_file
        .clone()
        .map(|path| sts::StsFile::new(path, registries.clone()));
    let app = Arc::new(App {
        prefixes,
        indexes,
        registries,
        packages,
        auth,
        tokens,
        sts,
        public_provenance: config.public_provenance,
        metrics,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("helm-ccr-serve")
        // Upstream listings and downloads: each index build uses up to `parallel` of them.
        .max_blocking_threads((config.parallel * 2).max(8) + 8)
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(serve(config, app, tls))
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| anyhow::anyhow!("reading the certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("reading the private key {}: {e}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve(
    config: ServeConfig,
    app: Arc<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<()> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{url}");
        let _ = out.flush();
    }
    if app.auth.is_none() && app.tokens.is_none() && !addr.ip().is_loopback() {
        log::event(&format!(
            "warning: serving {addr} without client authentication: anyone who can reach it reads the charts (use --htpasswd FILE or --token-file FILE)"
        ));
    }
    let names: Vec<String> = app
        .indexes
        .iter()
        .zip(&app.prefixes)
        .map(|(c, p)| format!("{} at /{}", c.name, if p.is_empty() { "" } else { p }))
        .collect();
    log::event(&format!("serving {} on {url}", names.join(", ")));
    // The first builds, at once; /readyz turns ready when they are done.
    for i in 0..app.indexes.len() {
        let app = app.clone();
        tokio::spawn(async move {
            app.refresh_keys();
            app.indexes[i].get().await;
        });
    }

    let connections = Arc::new(Semaphore::new(config.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut signals = Box::pin(stop_signal());
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut signals => break,
        };
        let (stream, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, not spin.
                    log::event(&format!("accepting a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut signals => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(stream, app, stop).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    if let Ok(Ok(s)) = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await
                    {
                        connection(s, app, stop).await;
                    }
                }
            }
        });
    }
    drop(listener);
    log::event(&format!(
        "stopping: no new connections; waiting up to {}s for requests in flight",
        config.grace.as_secs()
    ));
    let _ = stop_tx.send(true);
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    match tokio::time::timeout(config.grace, connections.acquire_many(all)).await {
        Ok(_) => log::event("stopped"),
        Err(_) => log::event("stopped: the grace period ended with requests still in flight"),
    }
    Ok(())
}

/// Serves one connection until it closes, or until `stop` asks, then finishes the request in
/// flight and closes.
async fn connection<I>(io: I, app: Arc<App>, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(handler::handle(app, req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    if *stop.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.changed() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// Resolves on SIGTERM or SIGINT.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
