//! Where credentials may go. Ambient credentials (the `BCE_*` variables, the BCE CLI profile,
//! bcecmd's credentials file) go only to Baidu's CCR API hosts and to an endpoint the user
//! configured (`--endpoint`, `HELM_CCR_ENDPOINT`, the BCE CLI profile's `endpoint`); a
//! repository entry's credentials (its `username`/`password`, or what Helm hands the getter for
//! it) also to the API host written in that entry's URL. Anything else is refused before a
//! request is made: a `ccr://` URL in a third-party chart's `dependencies` must not receive a
//! signed request, let alone a security token.
//!
//! The check compares the final endpoint (whatever precedence chose it) with the hosts allowed
//! for the credentials' source: host and port, the host without case or a trailing dot.

use anyhow::{anyhow, Result};

use crate::settings::credentials::Credentials;
use crate::settings::reference::CcrUrl;
use crate::settings::source::{Source, Sourced};
use crate::transport::Endpoint;

/// CCR regions; their API hosts are `ccr.{region}.baidubce.com` (HTTPS).
pub const REGIONS: &[&str] = &["bj", "bd", "gz", "su", "fwh", "hkg", "cd", "yq"];

/// Why the credentials may go to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// `https://ccr.{region}.baidubce.com` of a CCR region ([`REGIONS`]), on the usual port.
    BaiduHost,
    /// An endpoint the user configured: `--endpoint`, `HELM_CCR_ENDPOINT`, the BCE CLI profile.
    Configured(Source),
    /// The API host written in the URL of the repository the credentials were given for.
    RepositoryUrl,
}

impl Trust {
    /// Why, as `helm ccr env` says it: `a Baidu CCR API host`, ...
    pub fn reason(&self) -> String {
        match self {
            Trust::BaiduHost => "a Baidu CCR API host".into(),
            Trust::Configured(Source::BceProfile) => "the endpoint of the BCE CLI profile".into(),
            Trust::Configured(source) => format!("the endpoint {source} names"),
            Trust::RepositoryUrl => {
                "the API host in the URL the repository's credentials were given for".into()
            }
        }
    }
}

/// Whether credentials from this source are ambient (found in the environment or the user's
/// BCE files, or serve's `--sts-credentials-file` for every repository) rather than given for
/// one repository.
pub fn is_ambient(source: &Source) -> bool {
    matches!(
        source,
        Source::EnvKeyPair | Source::BceProfile | Source::BcecliCredentials(_) | Source::StsFile(_)
    )
}

/// Whether `e` is a CCR API host of Baidu: `https://ccr.{region}.baidubce.com`, default port.
pub fn is_baidu_ccr_host(e: &Endpoint) -> bool {
    let host = normal_host(&e.host);
    e.https
        && e.port.is_none()
        && host
            .strip_prefix("ccr.")
            .and_then(|h| h.strip_suffix(".baidubce.com"))
            .is_some_and(|region| REGIONS.contains(&region))
}

fn normal_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Same host and port (the scheme's default port when none is written).
pub fn same_host(a: &Endpoint, b: &Endpoint) -> bool {
    let port = |e: &Endpoint| e.port.unwrap_or(if e.https { 443 } else { 80 });
    normal_host(&a.host) == normal_host(&b.host) && port(a) == port(b)
}

/// The API host written in a `ccr://` URL, as the endpoint it names (HTTPS).
pub fn url_host(url: &CcrUrl) -> Option<Endpoint> {
    let e = Endpoint::parse(url.api_host.as_deref()?).ok()?;
    Some(Endpoint { https: true, ..e })
}

/// Whether `credentials` may go to `endpoint`, the final one for repository `url` (none for
/// `helm ccr env` without REPO). `configured` are the endpoints the user configured, each with
/// where it came from. The error names the host and the ways to allow it.
pub fn check(
    endpoint: &Sourced<Endpoint>,
    url: Option<&CcrUrl>,
    credentials: &Credentials,
    configured: &[Sourced<Endpoint>],
) -> Result<Trust> {
    let e = &endpoint.value;
    if let Some(c) = configured.iter().find(|c| same_host(&c.value, e)) {
        return Ok(Trust::Configured(c.source.clone()));
    }
    if is_baidu_ccr_host(e) {
        return Ok(Trust::BaiduHost);
    }
    if !is_ambient(&credentials.source) && url.and_then(url_host).is_some_and(|h| same_host(&h, e))
    {
        return Ok(Trust::RepositoryUrl);
    }
    let named = match (&endpoint.source, url) {
        (Source::UrlApiHost, Some(u)) => format!("named in {}", u.repo_url()),
        (source, _) => format!("from {source}"),
    };
    let add = url.map_or_else(
        || "ccr://HOST/INSTANCE_ID/NAMESPACE".to_string(),
        CcrUrl::repo_url,
    );
    let whose = if is_ambient(&credentials.source) {
        format!(
            "credentials from {} go only to Baidu's CCR API hosts (ccr.REGION.baidubce.com) and to an endpoint you configure",
            credentials.source
        )
    } else {
        format!(
            "credentials from {} go only to the host of that repository's URL, Baidu's CCR API hosts and an endpoint you configure",
            credentials.source
        )
    };
    Err(anyhow!(
        "refusing to send credentials to {} ({named}): {whose}; to trust it, set HELM_CCR_ENDPOINT={} (or pass --endpoint), or add the repository with its own credentials: helm repo add NAME {add} --username AK --password-stdin",
        e.host_header(),
        e.base_url(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(source: Source) -> Credentials {
        Credentials::new("ak", "sk", Some("tok"), source).unwrap()
    }

    fn from_url(url: &CcrUrl) -> Sourced<Endpoint> {
        Sourced::new(url_host(url).unwrap(), Source::UrlApiHost)
    }

    #[test]
    fn baidu_hosts_are_exactly_the_regions_api_hosts() {
        for ok in [
            "https://ccr.bj.baidubce.com",
            "ccr.gz.baidubce.com:443",
            "https://CCR.SU.baidubce.com.",
        ] {
            assert!(is_baidu_ccr_host(&Endpoint::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "https://ccr.mars.baidubce.com",
            "https://evil.baidubce.com",
            "https://ccr.bj.baidubce.com.evil.example",
            "https://ccr.bj.baidubce.com:8443",
            "http://ccr.bj.baidubce.com",
            "https://bj.baidubce.com",
            "https://x.ccr.bj.baidubce.com",
            "https://ccr.bj.baidubce.co",
        ] {
            assert!(!is_baidu_ccr_host(&Endpoint::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn ambient_credentials_go_only_to_baidu_and_configured_hosts() {
        let evil = CcrUrl::parse("ccr://ccr.evil.example/i/ns").unwrap();
        let err = check(
            &from_url(&evil),
            Some(&evil),
            &creds(Source::EnvKeyPair),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "refusing to send credentials to ccr.evil.example (named in ccr://ccr.evil.example/i/ns): credentials from the environment"
            ),
            "{err}"
        );
        assert!(
            err.contains("HELM_CCR_ENDPOINT=https://ccr.evil.example"),
            "{err}"
        );
        for source in [Source::BceProfile, Source::BcecliCredentials("/c".into())] {
            assert!(check(&from_url(&evil), Some(&evil), &creds(source), &[]).is_err());
        }
        // Configured: the same host and port, whatever came first.
        let configured = |s: &str, source| vec![Sourced::new(Endpoint::parse(s).unwrap(), source)];
        let env = Source::Env("HELM_CCR_ENDPOINT");
        assert_eq!(
            check(
                &from_url(&evil),
                Some(&evil),
                &creds(Source::EnvKeyPair),
                &configured("https://CCR.evil.example:443", env.clone())
            )
            .unwrap(),
            Trust::Configured(env.clone())
        );
        assert!(check(
            &from_url(&evil),
            Some(&evil),
            &creds(Source::EnvKeyPair),
            &configured("https://ccr.evil.example:8443", env.clone())
        )
        .is_err());
        let baidu = CcrUrl::parse("ccr://ccr.hkg.baidubce.com/i/ns").unwrap();
        assert_eq!(
            check(
                &from_url(&baidu),
                Some(&baidu),
                &creds(Source::BceProfile),
                &[]
            )
            .unwrap(),
            Trust::BaiduHost
        );
        let ported = CcrUrl::parse("ccr://127.0.0.1:8443/i/ns").unwrap();
        assert!(check(
            &from_url(&ported),
            Some(&ported),
            &creds(Source::EnvKeyPair),
            &[]
        )
        .is_err());
        assert!(check(
            &from_url(&ported),
            Some(&ported),
            &creds(Source::EnvKeyPair),
            &configured("https://127.0.0.1:8443", Source::Flag("--endpoint"))
        )
        .is_ok());
    }

    #[test]
    fn a_repository_entrys_credentials_go_to_its_own_host() {
        let url = CcrUrl::parse("ccr://ccr.mine.example/i/ns").unwrap();
        let entry = Source::Repository {
            name: "mine".into(),
            by_url: false,
        };
        assert_eq!(
            check(&from_url(&url), Some(&url), &creds(entry.clone()), &[]).unwrap(),
            Trust::RepositoryUrl
        );
        assert_eq!(
            check(
                &from_url(&url),
                Some(&url),
                &creds(Source::HELM_PLUGIN_CREDENTIALS),
                &[]
            )
            .unwrap(),
            Trust::RepositoryUrl
        );
        // Not to another host (an endpoint chosen elsewhere, say).
        let other = Sourced::new(
            Endpoint::parse("https://ccr.other.example").unwrap(),
            Source::Given("test".into()),
        );
        let err = check(&other, Some(&url), &creds(entry), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("to ccr.other.example (from test)"), "{err}");
    }
}
