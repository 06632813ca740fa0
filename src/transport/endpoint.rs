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
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if s.contains("://") {
            bail!("endpoint {s:?}: only http:// and https:// are supported");
        } else {
            (true, s)
        };
        let hostport = rest.trim_end_matches('/');
        if hostport.is_empty() || hostport.contains(['/', '?', '#', '@', ' ']) {
            bail!("endpoint {s:?} is not of the form https://HOST[:PORT]");
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
                let port: u16 = p
                    .parse()
                    .with_context(|| format!("endpoint {s:?}: bad port {p:?}"))?;
                (h.to_string(), Some(port))
            }
            _ => (hostport.to_string(), None),
        };
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
        for bad in ["ftp://x", "http://", "http://x/path", "http://x:notaport"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
