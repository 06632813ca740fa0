//! Which proxy a request uses: the environment read exactly as Go's `net/http` reads it
//! (`golang.org/x/net/http/httpproxy`, `FromEnvironment` and `Config.ProxyFunc`), which is how
//! Helm reads proxies.
//!
//! Pure: the environment comes in as a lookup function ([`ProxyEnv::from_lookup`]); nothing here
//! reads the process environment or touches the network.
//!
//! Go's rules, as implemented here:
//! - `HTTPS_PROXY` (else `https_proxy`) for https requests, `HTTP_PROXY` (else `http_proxy`) for
//!   http requests; `ALL_PROXY` is not read. An empty upper-case value does not hide the lower-case
//!   one (Go's `getEnvAny` takes the first non-empty value); the same holds for `NO_PROXY`.
//! - `localhost` and loopback addresses (127.0.0.0/8, `::1`, `::ffff:127.x.x.x`) are never proxied.
//!   As in Go, the `localhost` test is case-sensitive (`LOCALHOST` is a name like any other).
//! - `NO_PROXY` is a comma list, each entry trimmed and lower-cased: `*` (everything), an IP, a
//!   CIDR range (v4 or v6), `[v6]:port` or `v4:port` (the port must match), `example.com` (the
//!   host and its subdomains), `.example.com` and `*.example.com` (subdomains only), each domain
//!   optionally with `:port`. Malformed entries are skipped. As in Go, a bracketed IPv6 entry
//!   without a port (`[::2]`) matches nothing: write `::2` or `[::2]:443`.
//! - A proxy value without `scheme://` means `http://`; the schemes are `http`, `https`, `socks5`
//!   and `socks5h`; `user:password@` is kept (percent-decoded) and never displayed.
//! - Under CGI (`REQUEST_METHOD` set) an http request with `HTTP_PROXY` set is refused.
//!
//! Two deliberate differences from Go, both turning a silent surprise into an error: an
//! unparseable proxy value, which Go ignores (the request goes direct), is an error naming the
//! variable, and so is a scheme Go's transport would fail on later (`ftp://`, `socks4://`).

use std::fmt;

use percent_encoding::percent_decode_str;

/// Every variable this module reads, for an environment snapshot.
pub const VARIABLES: [&str; 7] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// The request's scheme: which variable applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// `http` or `https` in any case; anything else is `None` (Go uses no proxy for it).
    pub fn parse(s: &str) -> Option<Scheme> {
        if s.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else if s.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else {
            None
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A proxy's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    Http,
    Https,
    Socks5,
    /// SOCKS5 with the proxy resolving the name.
    Socks5h,
}

impl ProxyScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }

    /// The port used when the URL has none (Go's transport: 80, 443, 1080).
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => 1080,
        }
    }
}

/// Why a request goes direct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Neither variable for the request's scheme is set (or both are empty).
    NoVariable { upper: &'static str },
    /// `localhost` or a loopback address: never proxied.
    Loopback,
    /// A `NO_PROXY` entry matched; `entry` is as written (trimmed).
    NoProxy { entry: String, from: &'static str },
    /// A host no URL can hold (brackets inside it): Go's `useProxy` answers no.
    NotAHost,
}

/// The route a request takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Direct(Reason),
    Proxy {
        url: ProxyUrl,
        /// The variable the proxy came from, e.g. `HTTPS_PROXY` or `https_proxy`.
        from: &'static str,
    },
}

impl Route {
    /// The proxy, if any.
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        match self {
            Route::Proxy { url, .. } => Some(url),
            Route::Direct(_) => None,
        }
    }

    /// One line for `helm ccr env`: the proxy and why, never a password.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Proxy { url, from } => write!(f, "proxy {url} (from {from})"),
            Route::Direct(Reason::NoVariable { upper }) => {
                let lower = upper.to_ascii_lowercase();
                write!(f, "direct (no {upper} or {lower} set)")
            }
            Route::Direct(Reason::Loopback) => f.write_str("direct (loopback is never proxied)"),
            Route::Direct(Reason::NoProxy { entry, from }) => {
                write!(f, "direct ({from} entry {entry:?} matches)")
            }
            Route::Direct(Reason::NotAHost) => f.write_str("direct (not a host name)"),
        }
    }
}

/// A proxy variable that cannot be used. The message never shows a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("{variable}={value:?} is not a proxy URL: {reason}")]
    NotAUrl {
        variable: &'static str,
        /// The value with any password replaced by `xxxxx`.
        value: String,
        reason: String,
    },
    #[error(
        "{variable}={value:?} is not a proxy URL: scheme {scheme:?} is not supported \
         (use http, https, socks5 or socks5h)"
    )]
    Scheme {
        variable: &'static str,
        value: String,
        scheme: String,
    },
    #[error(
        "refusing to use {variable} for an http request: REQUEST_METHOD is set (a CGI \
         environment, where {variable} may come from the client); see golang.org/s/cgihttpproxy"
    )]
    Cgi { variable: &'static str },
}

/// The proxy variables of one environment, read once. `Debug` redacts passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `(variable, value)` of the first non-empty of `HTTPS_PROXY`, `https_proxy`.
    pub https: Option<(&'static str, String)>,
    /// `(variable, value)` of the first non-empty of `HTTP_PROXY`, `http_proxy`.
    pub http: Option<(&'static str, String)>,
    /// `(variable, value)` of the first non-empty of `NO_PROXY`, `no_proxy`.
    pub no_proxy: Option<(&'static str, String)>,
    /// `REQUEST_METHOD` is set and non-empty.
    pub cgi: bool,
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<(&'static str, String)>| v.as_ref().map(|(n, v)| (*n, redact(v)));
        f.debug_struct("ProxyEnv")
            .field("https", &shown(&self.https))
            .field("http", &shown(&self.http))
            .field("no_proxy", &self.no_proxy)
            .field("cgi", &self.cgi)
            .finish()
    }
}

impl ProxyEnv {
    /// Reads the variables through `lookup` (e.g. `|k| std::env::var(k).ok()` or a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let any = |names: [&'static str; 2]| {
            names.into_iter().find_map(|n| match lookup(n) {
                Some(v) if !v.is_empty() => Some((n, v)),
                _ => None,
            })
        };
        ProxyEnv {
            https: any(["HTTPS_PROXY", "https_proxy"]),
            http: any(["HTTP_PROXY", "http_proxy"]),
            no_proxy: any(["NO_PROXY", "no_proxy"]),
            cgi: lookup("REQUEST_METHOD").is_some_and(|v| !v.is_empty()),
        }
    }

    /// The route of a request to `host` (a name, an IPv4 or an IPv6 address, with or without
    /// brackets) on `port` (`None`: the scheme's default).
    pub fn route(
        &self,
        scheme: Scheme,
        host: &str,
        port: Option<u16>,
    ) -> Result<Route, ProxyError> {
        let (set, upper) = match scheme {
            Scheme::Https => (&self.https, "HTTPS_PROXY"),
            Scheme::Http => (&self.http, "HTTP_PROXY"),
        };
        let Some((variable, value)) = set else {
            return Ok(Route::Direct(Reason::NoVariable { upper }));
        };
        if scheme == Scheme::Http && self.cgi {
            return Err(ProxyError::Cgi { variable });
        }
        if let Some(reason) = self.bypass(host, port.unwrap_or(scheme.default_port())) {
            return Ok(Route::Direct(reason));
        }
        let url = parse_proxy(variable, value)?;
        Ok(Route::Proxy {
            url,
            from: variable,
        })
    }

    /// Why `host:port` goes direct whatever the proxy (Go's `useProxy` answering false).
    fn bypass(&self, host: &str, port: u16) -> Option<Reason> {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = percent_decode_str(host).decode_utf8_lossy();
        if host.contains(['[', ']']) {
            return Some(Reason::NotAHost);
        }
        if host == "localhost" {
            return Some(Reason::Loopback);
        }
        let ip = parse_host_ip(&host);
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return Some(Reason::Loopback);
        }
        let (from, list) = self.no_proxy.as_ref()?;
        let name = to_ascii(&host.trim().to_lowercase());
        let port = port.to_string();
        let entries = NoProxy::parse(list);
        let matched = match ip {
            Some(ip) => entries
                .ip
                .iter()
                .find(|e| e.matcher.matches_ip(ip, &port))
                .or_else(|| entries.domain.iter().find(|e| e.matcher.matches_all())),
            None => entries
                .domain
                .iter()
                .find(|e| e.matcher.matches_name(&name, &port)),
        }?;
        Some(Reason::NoProxy {
            entry: matched.written.clone(),
            from,
        })
    }
}

/// The route of one request, reading the environment through `lookup`.
pub fn route(
    lookup: impl Fn(&str) -> Option<String>,
    scheme: Scheme,
    host: &str,
    port: Option<u16>,
) -> Result<Route, ProxyError> {
    ProxyEnv::from_lookup(lookup).route(scheme, host, port)
}

mod no_proxy;
#[cfg(test)]
mod tests;
mod url;

use no_proxy::{parse_host_ip, to_ascii, NoProxy};
use url::redact;
pub use url::{parse_proxy, ProxyUrl};
