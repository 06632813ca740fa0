//! What the user reads when a request fails without an answer: the stall messages (which
//! limit, how far a transfer got, what to raise), the retry-wait message and the description
//! of a transport error. Pure functions, for snapshot tests, plus the [`Transport`] methods
//! that fill them in.

use std::io;
use std::time::Duration;

use super::endpoint::Endpoint;
use super::limits::{Deadline, Limits, Stall, TooSlow, Transfer};
use super::proxy::Route;
use super::Transport;
use crate::ui::text::{duration_text, size_text};

impl Transport {
    /// The message for a request that ran into `stall`, with the transfer's progress.
    pub(super) fn stall_text(&self, stall: Stall, transfer: Option<&Transfer>) -> String {
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
    pub(super) fn describe(&self, e: &ureq::Error, transfer: Option<&Transfer>) -> (String, bool) {
        match stall_of(e) {
            Some(stall) => (self.stall_text(stall, transfer), stall != Stall::Overall),
            None => {
                if let Some(mut fault) =
                    classify(e, self.route.proxy().is_some(), self.has_client_cert())
                {
                    if let NetFault::Untrusted { issuer } = &mut fault {
                        *issuer = self.peer_issuer();
                    }
                    return (
                        network_message(&fault, &self.net_context()),
                        fault.transient(),
                    );
                }
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
}

impl Transport {
    fn has_client_cert(&self) -> bool {
        self.cfg.tls.client_cert.is_some()
    }

    /// Who issued the untrusted certificate, asked in one more handshake bounded by the
    /// connect limit (and the deadline).
    fn peer_issuer(&self) -> Option<String> {
        let e = &self.cfg.endpoint;
        let port = e.port.unwrap_or(if e.https { 443 } else { 80 });
        let mut limit = self.limits.connect;
        if let Ok(Some(left)) = self.remaining() {
            limit = limit.min(left);
        }
        if limit.is_zero() {
            return None;
        }
        super::tls::peer_issuer(&e.host, port, self.route.proxy(), limit)
    }

    fn net_context(&self) -> NetContext {
        let e = &self.cfg.endpoint;
        let port = e.port.unwrap_or(if e.https { 443 } else { 80 });
        NetContext {
            base: e.base_url(),
            authority: format!("{}:{port}", e.host),
            host: e.host.clone(),
            proxy: match &self.route {
                Route::Proxy { url, from } => Some((url.to_string(), url.username.is_some(), from)),
                Route::Direct(_) => None,
            },
            client_cert: self
                .cfg
                .tls
                .client_cert
                .as_ref()
                .map(|c| format!("{} ({})", c.cert.display(), c.source)),
            trust: self.trust.to_string(),
        }
    }
}

/// What went wrong on the way to the registry, below HTTP: TLS and proxies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetFault {
    /// A TLS handshake answered by something that is not TLS (a plain-HTTP port).
    NotTls,
    /// The server's certificate chains to no trusted root.
    Untrusted { issuer: Option<String> },
    /// The certificate is not for the name connected to; the names it has.
    WrongName(Vec<String>),
    /// The certificate has expired or is not yet valid.
    Expired,
    /// Another certificate problem, as rustls words it.
    BadCertificate(String),
    /// The server wants a client certificate and none was given.
    ClientCertRequired,
    /// The server refused the client certificate given (the TLS alert).
    ClientCertRefused(String),
    /// Another TLS failure, as rustls words it.
    Tls(String),
    /// The proxy could not be reached (refused, unknown host, timed out).
    ProxyUnreachable(String),
    /// The proxy answered the CONNECT with 407.
    ProxyAuth,
    /// The proxy answered the CONNECT with another status.
    ProxyRefused(u16),
}

impl NetFault {
    /// Whether another attempt may help: only a proxy's 502/503/504.
    pub fn transient(&self) -> bool {
        matches!(self, NetFault::ProxyRefused(502..=504))
    }
}

/// What [`network_message`] names.
#[derive(Debug, Clone)]
pub struct NetContext {
    /// `https://host[:port]`.
    pub base: String,
    /// `host:port`, the port always written.
    pub host: String,
    pub authority: String,
    /// The proxy (password redacted), whether it has credentials, and its variable.
    pub proxy: Option<(String, bool, &'static str)>,
    /// The client certificate's file and where it was named.
    pub client_cert: Option<String>,
    /// The trust roots in use, described ([`super::tls::Trust`]).
    pub trust: String,
}

/// The rustls error inside a ureq error, if any.
fn rustls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// Sorts a failure into a [`NetFault`]; `None`: not one of those (the generic wording applies).
/// `proxied`: the request went through a proxy, so a failure to connect is the proxy's.
pub fn classify(e: &ureq::Error, proxied: bool, client_cert: bool) -> Option<NetFault> {
    use rustls::{AlertDescription as A, CertificateError as C, InvalidMessage as M};
    if let Some(r) = rustls_error(e) {
        return Some(match r {
            rustls::Error::InvalidMessage(M::InvalidContentType | M::UnknownProtocolVersion) => {
                NetFault::NotTls
            }
            rustls::Error::InvalidCertificate(c) => match c {
                // A chain that reaches a trusted name whose key did not sign it (a re-keyed
                // CA, an inspecting proxy's CA named like the real one) is, to Go and so to
                // Helm, "signed by unknown authority": worded the same.
                C::UnknownIssuer | C::BadSignature => NetFault::Untrusted { issuer: None },
                C::NotValidForName => NetFault::WrongName(Vec::new()),
                C::NotValidForNameContext { presented, .. } => {
                    // rustls words them `DnsName("x")`: keep the name.
                    NetFault::WrongName(
                        presented
                            .iter()
                            .map(|n| {
                                let inner = n.split_once('(').map_or(n.as_str(), |(_, r)| r);
                                inner.trim_end_matches(')').trim_matches('"').to_string()
                            })
                            .collect(),
                    )
                }
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => NetFault::Expired,
                other => NetFault::BadCertificate(format!("{other:?}")),
            },
            rustls::Error::AlertReceived(A::CertificateRequired) => NetFault::ClientCertRequired,
            rustls::Error::AlertReceived(A::HandshakeFailure | A::BadCertificate)
                if !client_cert =>
            {
                NetFault::ClientCertRequired
            }
            rustls::Error::AlertReceived(
                a @ (A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::UnsupportedCertificate
                | A::AccessDenied
                | A::HandshakeFailure
                | A::DecryptError),
            ) => NetFault::ClientCertRefused(format!("{a:?}")),
            other => NetFault::Tls(other.to_string()),
        });
    }
    if let ureq::Error::ConnectProxyFailed(text) = e {
        let status = text
            .split(|c: char| !c.is_ascii_digit())
            .find_map(|w| w.parse::<u16>().ok().filter(|s| (100..600).contains(s)));
        return Some(match status {
            Some(407) => NetFault::ProxyAuth,
            Some(s) => NetFault::ProxyRefused(s),
            None => NetFault::ProxyUnreachable(text.clone()),
        });
    }
    if !proxied {
        return None;
    }
    match e {
        ureq::Error::HostNotFound => Some(NetFault::ProxyUnreachable("host not found".into())),
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            Some(NetFault::ProxyUnreachable("timed out connecting".into()))
        }
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => {
            Some(NetFault::ProxyUnreachable("connection refused".into()))
        }
        _ => None,
    }
}

/// The one line for a [`NetFault`]. Pure, for snapshot tests; never a proxy password.
pub fn network_message(fault: &NetFault, c: &NetContext) -> String {
    let (base, authority, host) = (&c.base, &c.authority, &c.host);
    let proxy = || {
        c.proxy
            .as_ref()
            .map(|(url, _, var)| (url.as_str(), *var))
            .unwrap_or(("(none)", "HTTPS_PROXY"))
    };
    match fault {
        NetFault::NotTls => format!(
            "{authority} does not speak TLS; use http://{authority} if it is a plain-HTTP endpoint"
        ),
        NetFault::Untrusted { issuer } => {
            let by = issuer
                .as_ref()
                .map(|i| format!(" (issued by {i})"))
                .unwrap_or_default();
            format!(
                "the certificate of {host}{by} is not signed by a trusted authority (trusting {}); to trust its CA, pass --ca-file CA.pem, or set SSL_CERT_FILE=CA.pem (SSL_CERT_DIR for a directory), or add it to the system store (update-ca-certificates)",
                c.trust
            )
        }
        NetFault::WrongName(names) if names.is_empty() => format!(
            "the certificate {authority} presented is not for the name {host}; use the endpoint's name as its certificate gives it"
        ),
        NetFault::WrongName(names) => format!(
            "the certificate {authority} presented is not for the name {host} but for {}; use one of those names in the endpoint",
            names.join(", ")
        ),
        NetFault::Expired => format!(
            "the certificate {authority} presented has expired or is not yet valid (check the clock of this machine too)"
        ),
        NetFault::BadCertificate(why) => {
            format!("the certificate {authority} presented is not acceptable: {why}")
        }
        NetFault::ClientCertRequired => format!(
            "{base} asked for a client certificate and none was given: pass --cert-file and --key-file (or add the Helm repository with them)"
        ),
        NetFault::ClientCertRefused(alert) => format!(
            "{base} refused the client certificate {} ({alert})",
            c.client_cert.as_deref().unwrap_or("given")
        ),
        NetFault::Tls(why) => format!("{base}: the TLS handshake failed: {why}"),
        NetFault::ProxyUnreachable(why) => {
            let (url, var) = proxy();
            format!(
                "cannot reach the proxy {url} (from {var}): {why}; check {var}, or add {host} to NO_PROXY to go direct"
            )
        }
        NetFault::ProxyAuth => {
            let (url, var) = proxy();
            if c.proxy.as_ref().is_some_and(|p| p.1) {
                format!(
                    "the proxy {url} (from {var}) refused the user:password in {var} (407); check them"
                )
            } else {
                format!(
                    "the proxy {url} (from {var}) asks for authentication (set user:password in {var})"
                )
            }
        }
        NetFault::ProxyRefused(status) => {
            let (url, var) = proxy();
            format!(
                "the proxy {url} (from {var}) would not open a tunnel to {authority}: it answered {status}"
            )
        }
    }
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
pub(super) fn stall_of_io(e: &io::Error) -> Option<Stall> {
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

/// What a request still throttled after its throttled budget gives up with (before the last
/// answer): how many attempts, how many requests were in flight (when known) and the setting
/// that lowers them, `HELM_CCR_PARALLEL`, now `parallel`.
pub fn throttled_message(attempts: u32, in_flight: Option<usize>, parallel: usize) -> String {
    let gave_up = format!("gave up after {attempts} attempts");
    match in_flight {
        _ if parallel <= 1 => format!(
            "{gave_up} (the registry kept throttling with 1 request in flight, HELM_CCR_PARALLEL=1; try again later)"
        ),
        Some(1) => format!(
            "{gave_up} (the registry kept throttling even with 1 request in flight; try again later, or lower HELM_CCR_PARALLEL, now {parallel})"
        ),
        Some(n) => format!(
            "{gave_up} (the registry kept throttling with {n} requests in flight; lower HELM_CCR_PARALLEL, now {parallel})"
        ),
        None => format!(
            "{gave_up} (the registry kept throttling; lower HELM_CCR_PARALLEL, now {parallel})"
        ),
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

#[cfg(test)]
mod tests;
