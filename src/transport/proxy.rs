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
use std::net::{IpAddr, Ipv6Addr};

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

/// A parsed proxy URL. `Display` redacts the password (Go's `URL.Redacted` form).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub scheme: ProxyScheme,
    /// As in a URL: an IPv6 address is in brackets.
    pub host: String,
    /// The port written in the value, if any; see [`ProxyUrl::port`].
    pub explicit_port: Option<u16>,
    /// Percent-decoded.
    pub username: Option<String>,
    /// Percent-decoded; never displayed.
    pub password: Option<String>,
}

impl ProxyUrl {
    /// The port to connect to: the written one or the scheme's default.
    pub fn port(&self) -> u16 {
        self.explicit_port
            .unwrap_or_else(|| self.scheme.default_port())
    }

    /// `scheme://host:port` with no credentials at all.
    pub fn without_credentials(&self) -> String {
        format!("{}://{}:{}", self.scheme.as_str(), self.host, self.port())
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some(user) = &self.username {
            let user = percent_encoding::utf8_percent_encode(user, USERINFO);
            match self.password {
                Some(_) => write!(f, "{user}:xxxxx@")?,
                None => write!(f, "{user}@")?,
            }
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.explicit_port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// Characters percent-encoded when a user name is displayed.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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

/// An IP as Go's `net.IP` compares it: an IPv4-mapped IPv6 address is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The request host as Go's `netip.ParseAddr` reads it (an IPv6 zone is allowed and dropped),
/// canonicalised.
fn parse_host_ip(host: &str) -> Option<IpAddr> {
    if let Some((addr, zone)) = host.split_once('%') {
        if zone.is_empty() {
            return None;
        }
        return addr.parse::<Ipv6Addr>().ok().map(|v6| canonical(v6.into()));
    }
    host.parse::<IpAddr>().ok().map(canonical)
}

/// `NO_PROXY`, parsed as Go's `config.init` does.
struct NoProxy {
    ip: Vec<Entry>,
    domain: Vec<Entry>,
}

struct Entry {
    written: String,
    matcher: Matcher,
}

enum Matcher {
    All,
    Cidr {
        net: IpAddr,
        bits: u8,
    },
    Ip {
        ip: IpAddr,
        port: String,
    },
    /// `suffix` starts with a dot; `exact` also matches the name without it.
    Domain {
        suffix: String,
        exact: bool,
        port: String,
    },
}

impl Matcher {
    fn matches_all(&self) -> bool {
        matches!(self, Matcher::All)
    }

    fn matches_ip(&self, ip: IpAddr, port: &str) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Cidr { net, bits } => in_net(ip, *net, *bits),
            Matcher::Ip { ip: want, port: p } => *want == ip && (p.is_empty() || p == port),
            Matcher::Domain { .. } => false,
        }
    }

    fn matches_name(&self, name: &str, port: &str) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Domain {
                suffix,
                exact,
                port: p,
            } => {
                (name.ends_with(suffix.as_str()) || (*exact && name == &suffix[1..]))
                    && (p.is_empty() || p == port)
            }
            _ => false,
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl NoProxy {
    fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy {
            ip: Vec::new(),
            domain: Vec::new(),
        };
        for written in list.split(',').map(str::trim) {
            let p = written.to_lowercase();
            if p.is_empty() {
                continue;
            }
            let entry = |matcher| Entry {
                written: written.to_string(),
                matcher,
            };
            if p == "*" {
                // Go drops every other entry.
                out.ip = vec![entry(Matcher::All)];
                out.domain = vec![entry(Matcher::All)];
                return out;
            }
            if let Some((net, bits)) = parse_cidr(&p) {
                out.ip.push(entry(Matcher::Cidr { net, bits }));
                continue;
            }
            let (host, port) = match split_host_port(&p) {
                Some((host, port)) => {
                    if host.is_empty() {
                        continue;
                    }
                    let host = host
                        .strip_prefix('[')
                        .and_then(|h| h.strip_suffix(']'))
                        .unwrap_or(host);
                    (host, port)
                }
                None => (p.as_str(), ""),
            };
            if let Ok(ip) = host.parse::<IpAddr>() {
                out.ip.push(entry(Matcher::Ip {
                    ip: canonical(ip),
                    port: port.to_string(),
                }));
                continue;
            }
            if host.is_empty() {
                continue;
            }
            let host = host
                .strip_prefix('*')
                .filter(|h| h.starts_with('.'))
                .unwrap_or(host);
            let (suffix, exact) = match host.starts_with('.') {
                true => (host.to_string(), false),
                false => (format!(".{host}"), true),
            };
            out.domain.push(entry(Matcher::Domain {
                suffix: to_ascii(&suffix),
                exact,
                port: port.to_string(),
            }));
        }
        out
    }
}

/// Go's `net.ParseCIDR`, answering the network the way `net.IPNet.Contains` compares it: an
/// IPv4-mapped network of /96 or longer is an IPv4 network.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = s.split_once('/')?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => (bits <= 32).then_some((IpAddr::V4(v4), bits as u8)),
        IpAddr::V6(v6) => {
            if bits > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            let net = Ipv6Addr::from(u128::from(v6) & mask);
            match net.to_ipv4_mapped() {
                Some(v4) if bits >= 96 => Some((IpAddr::V4(v4), (bits - 96) as u8)),
                _ => Some((IpAddr::V6(net), bits as u8)),
            }
        }
    }
}

/// Go's `net.SplitHostPort` (brackets removed from the host, the port not checked).
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let colon = s.rfind(':')?;
    let (host, from_host, from_port) = if s.starts_with('[') {
        let end = s.find(']')?;
        if end + 1 != colon {
            return None;
        }
        (&s[1..end], 1, end + 1)
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if s[from_host..].contains('[') || s[from_port..].contains(']') {
        return None;
    }
    Some((host, &s[colon + 1..]))
}

/// The ASCII form of a name with non-ASCII labels (IDNA: each such label as `xn--` punycode),
/// as Go's `idnaASCII` makes it; an ASCII name is returned unchanged.
fn to_ascii(name: &str) -> String {
    if name.is_ascii() {
        return name.to_string();
    }
    name.split('.')
        .map(|label| match label.is_ascii() {
            true => label.to_string(),
            false => punycode(label).map_or_else(|| label.to_string(), |p| format!("xn--{p}")),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// RFC 3492 punycode encoding of one label (already lower-cased).
fn punycode(label: &str) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    fn adapt(mut delta: u32, points: u32, first: bool) -> u32 {
        delta /= if first { 700 } else { 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - T_MIN) * T_MAX) / 2 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        k + (BASE - T_MIN + 1) * delta / (delta + 38)
    }
    fn digit(d: u32) -> char {
        match d {
            0..=25 => (b'a' + d as u8) as char,
            _ => (b'0' + (d - 26) as u8) as char,
        }
    }
    let input: Vec<u32> = label.chars().map(u32::from).collect();
    let mut out: String = label.chars().filter(char::is_ascii).collect();
    let basic = out.len() as u32;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (128u32, 0u32, 72u32, basic);
    while (handled as usize) < input.len() {
        let m = *input.iter().filter(|&&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &input {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
}

/// Parses a proxy variable's value as Go's `parseProxy` does: a value with no `scheme://` means
/// `http://`. Stricter than Go where Go would accept garbage (see the module comment).
pub fn parse_proxy(variable: &'static str, value: &str) -> Result<ProxyUrl, ProxyError> {
    let bad = |reason: &str| ProxyError::NotAUrl {
        variable,
        value: redact(value),
        reason: reason.to_string(),
    };
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) if !scheme.contains(['/', '?', '#', '@']) => {
            let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if !valid {
                return Err(bad(&format!("{scheme:?} is not a URL scheme")));
            }
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => ("http".to_string(), value),
    };
    let scheme = match scheme.as_str() {
        "http" => ProxyScheme::Http,
        "https" => ProxyScheme::Https,
        "socks5" => ProxyScheme::Socks5,
        "socks5h" => ProxyScheme::Socks5h,
        _ => {
            return Err(ProxyError::Scheme {
                variable,
                value: redact(value),
                scheme,
            })
        }
    };
    // The path, query and fragment of a proxy URL are not used (as in Go).
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if rest[authority.len()..].contains('@') {
        return Err(bad(
            "'@' after the host: percent-encode '/', '?' and '#' in a user name or password",
        ));
    }
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c);
            if !info.chars().all(allowed) {
                return Err(bad("invalid character in the user name or password"));
            }
            let decode = |s: &str| -> Result<String, ProxyError> {
                if !valid_escapes(s) {
                    return Err(bad("invalid percent-escape in the user name or password"));
                }
                percent_decode_str(s)
                    .decode_utf8()
                    .map(|s| s.into_owned())
                    .map_err(|_| bad("the user name or password is not UTF-8"))
            };
            match info.split_once(':') {
                Some((u, p)) => (Some(decode(u)?), Some(decode(p)?)),
                None => (Some(decode(info)?), None),
            }
        }
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("missing ']' in the host"))?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(bad("the address in brackets is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("junk after the host"))?,
            ),
        };
        (format!("[{addr}]"), port)
    } else {
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        };
        let allowed =
            |c: char| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') || !c.is_ascii();
        if !host.chars().all(allowed) {
            return Err(bad("invalid character in the host"));
        }
        (host.to_string(), port)
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let explicit_port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(
            p.parse::<u16>()
                .map_err(|_| bad("the port is out of range"))?,
        ),
        Some(_) => return Err(bad("the port is not a number")),
    };
    Ok(ProxyUrl {
        scheme,
        host,
        explicit_port,
        username,
        password,
    })
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// A variable's value fit for a message: a password (between the first `:` of the user
/// information and its last `@`) is replaced by `xxxxx`.
fn redact(value: &str) -> String {
    let Some(at) = value.rfind('@') else {
        return value.to_string();
    };
    let start = value[..at].find("://").map_or(0, |i| i + 3);
    match value[start..at].find(':') {
        Some(colon) => format!("{}:xxxxx{}", &value[..start + colon], &value[at..]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `scheme://host[:port]` into the three inputs of [`ProxyEnv::route`].
    fn request(req: &str) -> (Scheme, String, Option<u16>) {
        let (scheme, rest) = req.split_once("://").unwrap();
        let scheme = Scheme::parse(scheme).unwrap();
        let (host, port) = match rest.rfind(':') {
            Some(i)
                if !rest[i..].contains(']')
                    && (rest.starts_with('[') || rest.matches(':').count() == 1) =>
            {
                (&rest[..i], Some(rest[i + 1..].parse().unwrap()))
            }
            _ => (rest, None),
        };
        (scheme, host.to_string(), port)
    }

    fn run(env: &[(&str, &str)], req: &str) -> String {
        let (scheme, host, port) = request(req);
        let lookup = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        match route(lookup, scheme, &host, port) {
            Ok(route) => route.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    /// An environment, a request, the route's or the error's text.
    type Case = (
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );

    const HP: &str = "HTTP_PROXY";
    const HSP: &str = "HTTPS_PROXY";
    const NP: &str = "NO_PROXY";

    /// Mirrors Go's `golang.org/x/net/http/httpproxy` tests: `proxyForURLTests` (TestProxyForURL:
    /// scheme-less values, unknown schemes, http vs https variables, CGI, NO_PROXY domain forms,
    /// IDNA names, an IPv6 zone that looks like a domain), TestFromEnvironment,
    /// TestFromEnvironmentWithRequestMethod and TestFromEnvironmentLowerCase (upper case first,
    /// REQUEST_METHOD), TestInvalidNoProxy (`:1`) and TestAllNoProxy (`*`). `UseProxyTests` with
    /// its NO_PROXY list is `go_use_proxy_table` below. Plus what the Go tests leave implicit:
    /// empty values, ALL_PROXY, ports, brackets, credentials and the values Go would ignore.
    #[test]
    fn go_proxy_for_url_table() {
        #[rustfmt::skip]
        let table: &[Case] = &[
            // Values without a scheme mean http://.
            (&[(HP, "127.0.0.1:8080")], "http://example.com", "proxy http://127.0.0.1:8080 (from HTTP_PROXY)"),
            (&[(HP, "cache.corp.example.com:1234")], "http://example.com", "proxy http://cache.corp.example.com:1234 (from HTTP_PROXY)"),
            (&[(HP, "cache.corp.example.com")], "http://example.com", "proxy http://cache.corp.example.com (from HTTP_PROXY)"),
            (&[(HP, "localhost")], "http://example.com", "proxy http://localhost (from HTTP_PROXY)"),
            (&[(HP, "https://cache.corp.example.com")], "http://example.com", "proxy https://cache.corp.example.com (from HTTP_PROXY)"),
            (&[(HP, "http://127.0.0.1:8080")], "http://example.com", "proxy http://127.0.0.1:8080 (from HTTP_PROXY)"),
            (&[(HP, "https://127.0.0.1:8080")], "http://example.com", "proxy https://127.0.0.1:8080 (from HTTP_PROXY)"),
            (&[(HP, "socks5://127.0.0.1")], "http://example.com", "proxy socks5://127.0.0.1 (from HTTP_PROXY)"),
            (&[(HP, "socks5h://127.0.0.1:9050")], "http://example.com", "proxy socks5h://127.0.0.1:9050 (from HTTP_PROXY)"),
            (&[(HP, "HTTP://Proxy.Example:3128/")], "http://example.com", "proxy http://Proxy.Example:3128 (from HTTP_PROXY)"),
            // Go keeps an unknown scheme and its transport fails later: an error here.
            (&[(HP, "foo://host")], "http://example.com", "error: HTTP_PROXY=\"foo://host\" is not a proxy URL: scheme \"foo\" is not supported (use http, https, socks5 or socks5h)"),
            (&[(HSP, "socks4://host")], "https://example.com", "error: HTTPS_PROXY=\"socks4://host\" is not a proxy URL: scheme \"socks4\" is not supported (use http, https, socks5 or socks5h)"),
            // HTTP_PROXY for http, HTTPS_PROXY for https, never the other.
            (&[(HP, "http.proxy.tld"), (HSP, "secure.proxy.tld")], "http://insecure.tld", "proxy http://http.proxy.tld (from HTTP_PROXY)"),
            (&[(HP, "http.proxy.tld"), (HSP, "secure.proxy.tld")], "https://secure.tld", "proxy http://secure.proxy.tld (from HTTPS_PROXY)"),
            (&[(HP, "http.proxy.tld"), (HSP, "https://secure.proxy.tld")], "https://secure.tld", "proxy https://secure.proxy.tld (from HTTPS_PROXY)"),
            (&[(HP, "http.proxy.tld")], "https://secure.tld", "direct (no HTTPS_PROXY or https_proxy set)"),
            (&[(HSP, "secure.proxy.tld")], "http://insecure.tld", "direct (no HTTP_PROXY or http_proxy set)"),
            // ALL_PROXY is not read (Go has no ALL_PROXY).
            (&[("ALL_PROXY", "socks5h://all:1080"), ("all_proxy", "socks5h://all:1080")], "https://example.com", "direct (no HTTPS_PROXY or https_proxy set)"),
            (&[("ALL_PROXY", "socks5h://all:1080"), (HSP, "p:1")], "https://example.com", "proxy http://p:1 (from HTTPS_PROXY)"),
            // CGI: HTTP_PROXY refused, HTTPS_PROXY still used (Go's historical behaviour).
            (&[(HP, "http://10.1.2.3:8080"), ("REQUEST_METHOD", "GET")], "http://example.com", "error: refusing to use HTTP_PROXY for an http request: REQUEST_METHOD is set (a CGI environment, where HTTP_PROXY may come from the client); see golang.org/s/cgihttpproxy"),
            (&[(HSP, "https://secure.proxy.tld"), ("REQUEST_METHOD", "GET")], "https://secure.tld", "proxy https://secure.proxy.tld (from HTTPS_PROXY)"),
            (&[(HP, "http://10.1.2.3:8080"), ("REQUEST_METHOD", "")], "http://example.com", "proxy http://10.1.2.3:8080 (from HTTP_PROXY)"),
            // Nothing set.
            (&[], "http://example.com", "direct (no HTTP_PROXY or http_proxy set)"),
            // NO_PROXY domain forms: a bare domain matches itself and its subdomains, a dotted
            // one only subdomains, never a mere string suffix.
            (&[(NP, "example.com"), (HP, "proxy")], "http://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
            (&[(NP, ".example.com"), (HP, "proxy")], "http://example.com", "proxy http://proxy (from HTTP_PROXY)"),
            (&[(NP, ".example.com"), (HP, "proxy")], "http://www.example.com", "direct (NO_PROXY entry \".example.com\" matches)"),
            (&[(NP, "ample.com"), (HP, "proxy")], "http://example.com", "proxy http://proxy (from HTTP_PROXY)"),
            (&[(NP, "example.com"), (HP, "proxy")], "http://foo.example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
            (&[(NP, ".foo.com"), (HP, "proxy")], "http://example.com", "proxy http://proxy (from HTTP_PROXY)"),
            (&[(NP, "Example.COM"), (HP, "proxy")], "http://WWW.example.com", "direct (NO_PROXY entry \"Example.COM\" matches)"),
            // IDNA: Unicode and xn-- forms match each other.
            (&[(NP, ".示例.com"), (HP, "proxy")], "http://www.示例.com", "direct (NO_PROXY entry \".示例.com\" matches)"),
            (&[(NP, "xn--fsq092h.com"), (HP, "proxy")], "http://www.示例.com", "direct (NO_PROXY entry \"xn--fsq092h.com\" matches)"),
            (&[(NP, "示例.com"), (HP, "proxy")], "http://www.xn--fsq092h.com", "direct (NO_PROXY entry \"示例.com\" matches)"),
            // An IPv6 address whose zone looks like a domain is an address, not a name.
            (&[(NP, "example.com"), (HP, "proxy")], "http://[1000::%25.example.com]:123", "proxy http://proxy (from HTTP_PROXY)"),
            // Upper case first; an empty upper-case value does not hide the lower-case one.
            (&[(HSP, "upper:1"), ("https_proxy", "lower:2")], "https://example.com", "proxy http://upper:1 (from HTTPS_PROXY)"),
            (&[("https_proxy", "lower:2")], "https://example.com", "proxy http://lower:2 (from https_proxy)"),
            (&[(HSP, ""), ("https_proxy", "lower:2")], "https://example.com", "proxy http://lower:2 (from https_proxy)"),
            (&[(HSP, ""), ("https_proxy", "")], "https://example.com", "direct (no HTTPS_PROXY or https_proxy set)"),
            (&[(HP, ""), ("http_proxy", "lower:3")], "http://example.com", "proxy http://lower:3 (from http_proxy)"),
            (&[(HSP, "p:1"), (NP, "example.com"), ("no_proxy", "other.org")], "https://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
            (&[(HSP, "p:1"), (NP, "example.com"), ("no_proxy", "other.org")], "https://other.org", "proxy http://p:1 (from HTTPS_PROXY)"),
            (&[(HSP, "p:1"), (NP, ""), ("no_proxy", "example.com")], "https://example.com", "direct (no_proxy entry \"example.com\" matches)"),
            (&[(HSP, "p:1"), ("no_proxy", "example.com")], "https://example.com", "direct (no_proxy entry \"example.com\" matches)"),
            // Loopback and localhost are never proxied, NO_PROXY or not.
            (&[(HSP, "p:1")], "https://localhost:8443", "direct (loopback is never proxied)"),
            (&[(HSP, "p:1")], "https://127.0.0.1", "direct (loopback is never proxied)"),
            (&[(HSP, "p:1")], "https://127.1.2.3:9", "direct (loopback is never proxied)"),
            (&[(HSP, "p:1")], "https://[::1]:8443", "direct (loopback is never proxied)"),
            (&[(HSP, "p:1")], "https://::1", "direct (loopback is never proxied)"),
            (&[(HSP, "p:1")], "https://[::ffff:127.0.0.1]", "direct (loopback is never proxied)"),
            (&[(HSP, "p:1")], "https://[::2]", "proxy http://p:1 (from HTTPS_PROXY)"),
            (&[(HSP, "p:1")], "https://localhost.example", "proxy http://p:1 (from HTTPS_PROXY)"),
            (&[(HSP, "p:1")], "https://LOCALHOST", "proxy http://p:1 (from HTTPS_PROXY)"),
            (&[(HSP, "p:1"), (NP, "localhost")], "https://LOCALHOST", "direct (NO_PROXY entry \"localhost\" matches)"),
            // Ports: the request's default port is what a `host:port` entry compares.
            (&[(HSP, "p:1"), (NP, "example.com:443")], "https://example.com", "direct (NO_PROXY entry \"example.com:443\" matches)"),
            (&[(HSP, "p:1"), (NP, "example.com:443")], "https://example.com:8443", "proxy http://p:1 (from HTTPS_PROXY)"),
            (&[(HP, "p:1"), (NP, "example.com:443")], "http://example.com", "proxy http://p:1 (from HTTP_PROXY)"),
            (&[(HP, "p:1"), (NP, ".example.com:8080")], "http://a.example.com:8080", "direct (NO_PROXY entry \".example.com:8080\" matches)"),
            (&[(HSP, "p:1"), (NP, "10.1.2.3:8443")], "https://10.1.2.3:8443", "direct (NO_PROXY entry \"10.1.2.3:8443\" matches)"),
            (&[(HSP, "p:1"), (NP, "10.1.2.3:8443")], "https://10.1.2.3", "proxy http://p:1 (from HTTPS_PROXY)"),
            // IP and CIDR entries, v4 and v6, with and without brackets; spaces after commas.
            (&[(HSP, "p:1"), (NP, "a.org, 10.0.0.0/8 ,b.org")], "https://10.200.1.1", "direct (NO_PROXY entry \"10.0.0.0/8\" matches)"),
            (&[(HSP, "p:1"), (NP, "10.0.0.0/8")], "https://11.0.0.1", "proxy http://p:1 (from HTTPS_PROXY)"),
            (&[(HSP, "p:1"), (NP, "10.0.0.0/8")], "https://[::ffff:10.1.1.1]", "direct (NO_PROXY entry \"10.0.0.0/8\" matches)"),
            (&[(HSP, "p:1"), (NP, "fd00::/8")], "https://[fd12::1]:8443", "direct (NO_PROXY entry \"fd00::/8\" matches)"),
            (&[(HSP, "p:1"), (NP, "fd00::/8")], "https://fd12::1", "direct (NO_PROXY entry \"fd00::/8\" matches)"),
            (&[(HSP, "p:1"), (NP, "2001:db8::1")], "https://[2001:DB8::1]", "direct (NO_PROXY entry \"2001:db8::1\" matches)"),
            (&[(HSP, "p:1"), (NP, "[2001:db8::1]:443")], "https://[2001:db8::1]", "direct (NO_PROXY entry \"[2001:db8::1]:443\" matches)"),
            (&[(HSP, "p:1"), (NP, "[2001:db8::1]:80")], "https://[2001:db8::1]", "proxy http://p:1 (from HTTPS_PROXY)"),
            // Go: a bracketed address without a port is read as a domain and matches nothing.
            (&[(HSP, "p:1"), (NP, "[2001:db8::1]")], "https://[2001:db8::1]", "proxy http://p:1 (from HTTPS_PROXY)"),
            // A domain entry never matches an IP host, nor an IP entry a name.
            (&[(HSP, "p:1"), (NP, "10.0.0.1")], "https://10.0.0.1.nip.io", "proxy http://p:1 (from HTTPS_PROXY)"),
            // `*` alone, or anywhere in the list.
            (&[(HSP, "p:1"), (NP, "*")], "https://anything.example", "direct (NO_PROXY entry \"*\" matches)"),
            (&[(HSP, "p:1"), (NP, "a.org, * ")], "https://[2001:db8::9]", "direct (NO_PROXY entry \"*\" matches)"),
            // Malformed entries are skipped (TestInvalidNoProxy).
            (&[(HSP, "p:1"), (NP, ":1")], "https://example.com", "proxy http://p:1 (from HTTPS_PROXY)"),
            (&[(HSP, "p:1"), (NP, ",, ,:443,10.0.0.0/33,example.com")], "https://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
            // Credentials: kept, percent-decoded, never displayed.
            (&[(HSP, "http://user:s%40cret@proxy:3128")], "https://example.com", "proxy http://user:xxxxx@proxy:3128 (from HTTPS_PROXY)"),
            (&[(HSP, "user:secret@proxy:3128")], "https://example.com", "proxy http://user:xxxxx@proxy:3128 (from HTTPS_PROXY)"),
            (&[(HSP, "socks5h://tok@[2001:db8::7]:1080")], "https://example.com", "proxy socks5h://tok@[2001:db8::7]:1080 (from HTTPS_PROXY)"),
            // Bad values: an error naming the variable, the password redacted.
            (&[(HSP, "ht!tp://x")], "https://example.com", "error: HTTPS_PROXY=\"ht!tp://x\" is not a proxy URL: \"ht!tp\" is not a URL scheme"),
            (&[(HSP, "http://pro xy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://pro xy:1\" is not a proxy URL: invalid character in the host"),
            (&[(HSP, "http://u:pa ss@proxy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@proxy:1\" is not a proxy URL: invalid character in the user name or password"),
            (&[(HSP, "http://u:pa/ss@proxy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@proxy:1\" is not a proxy URL: '@' after the host: percent-encode '/', '?' and '#' in a user name or password"),
            (&[(HSP, "http://u:12#x@proxy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@proxy:1\" is not a proxy URL: '@' after the host: percent-encode '/', '?' and '#' in a user name or password"),
            (&[(HSP, "http://proxy:99999")], "https://example.com", "error: HTTPS_PROXY=\"http://proxy:99999\" is not a proxy URL: the port is out of range"),
            (&[(HSP, "http://")], "https://example.com", "error: HTTPS_PROXY=\"http://\" is not a proxy URL: no host"),
            (&[("https_proxy", "http://[::1")], "https://example.com", "error: https_proxy=\"http://[::1\" is not a proxy URL: missing ']' in the host"),
            (&[(HSP, "http://[zz]:1")], "https://example.com", "error: HTTPS_PROXY=\"http://[zz]:1\" is not a proxy URL: the address in brackets is not an IPv6 address"),
            (&[(HSP, "http://u:%zz@p")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@p\" is not a proxy URL: invalid percent-escape in the user name or password"),
            // A bad value that would not be used is not an error (Go ignores it too).
            (&[(HSP, "ht!tp://x")], "https://localhost", "direct (loopback is never proxied)"),
            (&[(HSP, "ht!tp://x"), (NP, "example.com")], "https://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
            (&[(HP, "ht!tp://x")], "https://example.com", "direct (no HTTPS_PROXY or https_proxy set)"),
        ];
        let mut failures = Vec::new();
        for (env, req, want) in table {
            let got = run(env, req);
            if got != *want {
                failures.push(format!("{env:?} {req}\n   got: {got}\n  want: {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Go's `UseProxyTests` against its NO_PROXY list (TestUseProxy), and every one of them
    /// direct under `*` (TestAllNoProxy). `true`: proxied.
    #[test]
    fn go_use_proxy_table() {
        let no_proxy = "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, \
                        192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, \
                        [2001:db8::52:0:3]:80, 2002:db8:a::45/64";
        #[rustfmt::skip]
        let table = [
            ("localhost", false), ("127.0.0.1", false), ("127.0.0.2", false), ("[::1]", false),
            ("[::2]", true),
            ("192.168.1.1", false), ("192.168.1.2", true), ("192.168.1.3", false),
            ("192.168.1.4", true), ("10.0.0.2", false), ("10.0.0.4", true),
            ("[2001:db8::52:0:1]", false), ("[2001:db8::52:0:2]", true),
            ("[2001:db8::52:0:3]", false), ("[2002:db8:a::123]", false),
            ("[fe80::424b:c8be:1643:a1b6]", true),
            ("barbaz.net", true), ("www.barbaz.net", false), ("foobar.com", false),
            ("www.foobar.com", false), ("foofoobar.com", true), ("baz.com", true),
            ("localhost.net", true), ("local.localhost", true), ("barbarbaz.net", true),
            ("wildcard.io", true), ("nested.wildcard.io", false), ("awildcard.io", true),
        ];
        let proxied = |list: &str, host: &str| {
            let env = [("HTTP_PROXY", "proxy:3128"), ("NO_PROXY", list)];
            run(&env, &format!("http://{host}:80")).starts_with("proxy ")
        };
        for (host, want) in table {
            assert_eq!(proxied(no_proxy, host), want, "{host}");
            assert!(!proxied("*", host), "{host} under *");
        }
    }

    #[test]
    fn proxy_urls_keep_credentials_and_ports() {
        let url = parse_proxy("HTTPS_PROXY", "HTTPS://us%3Aer:p%40ss%2F@[::1]").unwrap();
        assert_eq!(url.scheme, ProxyScheme::Https);
        assert_eq!(url.host, "[::1]");
        assert_eq!(url.port(), 443);
        assert_eq!(url.username.as_deref(), Some("us:er"));
        assert_eq!(url.password.as_deref(), Some("p@ss/"));
        assert_eq!(url.to_string(), "https://us%3Aer:xxxxx@[::1]");
        assert_eq!(url.without_credentials(), "https://[::1]:443");
        assert!(!format!("{url:?}").contains("p@ss"));
        let socks = parse_proxy("HTTP_PROXY", "socks5h://gw").unwrap();
        assert_eq!(socks.port(), 1080);
        let empty_password = parse_proxy("HTTP_PROXY", "http://u:@gw:8").unwrap();
        assert_eq!(empty_password.password.as_deref(), Some(""));
        assert_eq!(empty_password.to_string(), "http://u:xxxxx@gw:8");
    }

    #[test]
    fn variables_lists_every_name_read() {
        let read = std::cell::RefCell::new(Vec::new());
        ProxyEnv::from_lookup(|k| {
            read.borrow_mut().push(k.to_string());
            None
        });
        let mut read = read.into_inner();
        read.sort();
        let mut names = VARIABLES.map(String::from).to_vec();
        names.sort();
        assert_eq!(read, names);
    }

    #[test]
    fn punycode_matches_rfc_3492() {
        assert_eq!(punycode("示例").as_deref(), Some("fsq092h"));
        assert_eq!(punycode("bücher").as_deref(), Some("bcher-kva"));
        assert_eq!(to_ascii("www.münchen.de"), "www.xn--mnchen-3ya.de");
    }

    proptest! {
        #[test]
        fn never_panics_and_never_shows_a_password(
            proxy in ".{0,40}",
            no_proxy in "[a-z0-9.:*/\\[\\], %-]{0,40}",
            host in ".{0,30}",
            port in proptest::option::of(any::<u16>()),
            https in any::<bool>(),
            password in "[A-Za-z]{12}",
        ) {
            let with_password = format!("http://user:{password}@{proxy}");
            for value in [proxy.as_str(), with_password.as_str()] {
                let env = [("HTTPS_PROXY", value), ("HTTP_PROXY", value), ("NO_PROXY", &no_proxy)];
                let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
                let snapshot = format!("{:?}", ProxyEnv::from_lookup(lookup));
                if value == with_password {
                    prop_assert!(!snapshot.contains(&password), "{snapshot}");
                }
                let scheme = if https { Scheme::Https } else { Scheme::Http };
                let shown = match route(lookup, scheme, &host, port) {
                    Ok(route) => format!("{route} {route:?}"),
                    Err(e) => format!("{e} {e:?}"),
                };
                if value == with_password {
                    prop_assert!(!shown.contains(&password), "{shown}");
                }
            }
        }
    }
}
