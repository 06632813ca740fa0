//! The API endpoint: scheme, host and port, parsed once from a flag, a variable or a region.

use anyhow::{bail, Context, Result};

/// An API endpoint: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: Option<u16>,
}

impl Endpoint {
    /// Parses `https://host[:port]`, `http://host[:port]` or a bare `host[:port]` (HTTPS).
    pub fn parse(s: &str) -> Result<Endpoint> {
        if s.contains('@') {
            bail!(
                "endpoint {:?} is not of the form https://HOST[:PORT] (no user or password)",
                crate::ui::text::redact_userinfo(s)
            );
        }
        // The scheme in any case (`HTTPS://`), as URLs allow.
        let (https, rest) = match s.split_once("://") {
            Some((scheme, r)) if scheme.eq_ignore_ascii_case("https") => (true, r),
            Some((scheme, r)) if scheme.eq_ignore_ascii_case("http") => (false, r),
            Some(_) => bail!("endpoint {s:?}: only http:// and https:// are supported"),
            None => (true, s),
        };
        let hostport = rest.trim_end_matches('/');
        if hostport.is_empty() || hostport.contains(['/', '?', '#', '@', ' ']) {
            bail!("endpoint {s:?} is not of the form https://HOST[:PORT]");
        }
        // `[v6]`, `[v6]:port`, `host`, `host:port`.
        let (host, port) = if hostport.starts_with('[') {
            match hostport.split_once(']') {
                Some((h, "")) => (format!("{h}]"), None),
                Some((h, p)) if p.starts_with(':') => (format!("{h}]"), Some(&p[1..])),
                _ => bail!("endpoint {s:?} is not of the form https://HOST[:PORT]"),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => bail!(
                    "endpoint {s:?}: an IPv6 address goes in brackets, e.g. http://[::1]:8080"
                ),
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .with_context(|| format!("endpoint {s:?}: bad port {p:?}"))
            })
            .transpose()?;
        if host.is_empty() {
            bail!("endpoint {s:?} has no host");
        }
        let default_port = if https { 443 } else { 80 };
        Ok(Endpoint {
            https,
            host,
            port: port.filter(|p| *p != default_port),
        })
    }

    /// The `Host` header value: the host, plus the port when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// `scheme://host[:port]`.
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.host_header()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(e.host_header(), "127.0.0.1:8080");
        assert_eq!(e.base_url(), "http://127.0.0.1:8080");
        let e = Endpoint::parse("https://ccr.bj.baidubce.com:443/").unwrap();
        assert_eq!(e.host_header(), "ccr.bj.baidubce.com");
        let e = Endpoint::parse("ccr.gz.baidubce.com").unwrap();
        assert!(e.https);
        let e = Endpoint::parse("HTTPS://ccr.bj.baidubce.com").unwrap();
        assert_eq!(e.base_url(), "https://ccr.bj.baidubce.com");
        assert!(!Endpoint::parse("Http://127.0.0.1:9").unwrap().https);
        let e = Endpoint::parse("http://[::1]").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("[::1]", None));
        assert_eq!(e.base_url(), "http://[::1]");
        let e = Endpoint::parse("http://[::1]:8080/").unwrap();
        assert_eq!(e.base_url(), "http://[::1]:8080");
        for bad in [
            "ftp://x",
            "http://",
            "http://x/path",
            "http://x:notaport",
            "http://[::1",
            "http://[::1]x",
            "http://::1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
