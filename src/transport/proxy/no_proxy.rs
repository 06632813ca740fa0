//! `NO_PROXY` as Go matches it: names and their subdomains, IPs, CIDR ranges, `host:port`,
//! `*`; names compared in their ASCII (punycode) form.

use std::net::{IpAddr, Ipv6Addr};

/// An IP as Go's `net.IP` compares it: an IPv4-mapped IPv6 address is the IPv4 address.
pub(super) fn canonical(ip: IpAddr) -> IpAddr {
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
pub(super) fn parse_host_ip(host: &str) -> Option<IpAddr> {
    if let Some((addr, zone)) = host.split_once('%') {
        if zone.is_empty() {
            return None;
        }
        return addr.parse::<Ipv6Addr>().ok().map(|v6| canonical(v6.into()));
    }
    host.parse::<IpAddr>().ok().map(canonical)
}

/// `NO_PROXY`, parsed as Go's `config.init` does.
pub(super) struct NoProxy {
    pub(super) ip: Vec<Entry>,
    pub(super) domain: Vec<Entry>,
}

pub(super) struct Entry {
    pub(super) written: String,
    pub(super) matcher: Matcher,
}

pub(super) enum Matcher {
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
    pub(super) fn matches_all(&self) -> bool {
        matches!(self, Matcher::All)
    }

    pub(super) fn matches_ip(&self, ip: IpAddr, port: &str) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Cidr { net, bits } => in_net(ip, *net, *bits),
            Matcher::Ip { ip: want, port: p } => *want == ip && (p.is_empty() || p == port),
            Matcher::Domain { .. } => false,
        }
    }

    pub(super) fn matches_name(&self, name: &str, port: &str) -> bool {
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
    pub(super) fn parse(list: &str) -> NoProxy {
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
pub(super) fn to_ascii(name: &str) -> String {
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
pub(super) fn punycode(label: &str) -> Option<String> {
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
