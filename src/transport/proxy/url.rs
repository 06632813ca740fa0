//! A proxy URL as Go reads one from the environment (`http://` when no scheme is written,
//! credentials kept but never shown) and the errors naming the variable it came from.

use std::fmt;
use std::net::Ipv6Addr;

use percent_encoding::percent_decode_str;

use super::{ProxyError, ProxyScheme};

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
pub(super) fn redact(value: &str) -> String {
    let Some(at) = value.rfind('@') else {
        return value.to_string();
    };
    let start = value[..at].find("://").map_or(0, |i| i + 3);
    match value[start..at].find(':') {
        Some(colon) => format!("{}:xxxxx{}", &value[..start + colon], &value[at..]),
        None => value.to_string(),
    }
}
