//! Repository and chart references: `ccr://` URLs and names of Helm repositories.

use anyhow::{bail, Result};

pub use crate::chart::metadata::check_chart_name;
use crate::error::UsageError;
pub use crate::ui::text::redact_userinfo;

/// A parsed `ccr://[API_HOST/]INSTANCE_ID/NAMESPACE[/REST]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcrUrl {
    /// The API host named in the URL (`ccr://ccr.bj.baidubce.com/inst/ns`), used over HTTPS.
    pub api_host: Option<String>,
    pub instance: String,
    pub namespace: String,
    /// What follows the namespace, without the leading slash (a chart name, a file name).
    pub rest: Option<String>,
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl CcrUrl {
    /// Parses a `ccr://` URL. The first part is an API host when it contains a dot.
    pub fn parse(url: &str) -> Result<CcrUrl> {
        let Some(rest) = url.strip_prefix("ccr://") else {
            bail!("{:?} is not a ccr:// URL", redact_userinfo(url));
        };
        let first_part = rest.split('/').next().unwrap_or("");
        if first_part.contains('@') {
            bail!(
                "{:?}: a ccr:// URL takes no user or password; give credentials in the environment, \
                 ~/.bce/config.json or the Helm repository entry",
                redact_userinfo(url)
            );
        }
        if rest.contains(['?', '#']) {
            bail!("{url:?}: a ccr:// URL takes no query or fragment");
        }
        let mut parts = rest.splitn(2, '/');
        let first = parts.next().unwrap_or("");
        let mut tail = parts.next().unwrap_or("");
        let api_host = if first.contains('.') || first.contains(':') {
            if first.contains('@') || first.is_empty() {
                bail!("{url:?}: bad API host {first:?}");
            }
            Some(first.to_string())
        } else {
            None
        };
        let instance = if api_host.is_some() {
            let mut p = tail.splitn(2, '/');
            let inst = p.next().unwrap_or("");
            tail = p.next().unwrap_or("");
            inst
        } else {
            first
        };
        let mut p = tail.splitn(2, '/');
        let namespace = p.next().unwrap_or("");
        let rest = p
            .next()
            .map(|r| r.trim_end_matches('/'))
            .filter(|r| !r.is_empty());
        if !valid_segment(instance) {
            bail!("{url:?}: expected ccr://INSTANCE_ID/NAMESPACE, the instance id is missing or invalid");
        }
        if !valid_segment(namespace) {
            bail!("{url:?}: expected ccr://INSTANCE_ID/NAMESPACE, the namespace is missing or invalid");
        }
        Ok(CcrUrl {
            api_host,
            instance: instance.to_string(),
            namespace: namespace.to_string(),
            rest: rest.map(str::to_string),
        })
    }

    /// The repository URL, without `rest`.
    pub fn repo_url(&self) -> String {
        match &self.api_host {
            Some(h) => format!("ccr://{h}/{}/{}", self.instance, self.namespace),
            None => format!("ccr://{}/{}", self.instance, self.namespace),
        }
    }
}

/// How the user named a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoArg {
    /// A `ccr://` URL.
    Url(CcrUrl),
    /// The name of a Helm repository (from `helm repo add`).
    Named(String),
}

/// Splits a `REPO` argument. A trailing slash is allowed.
pub fn parse_repo(arg: &str) -> Result<RepoArg> {
    let shown = redact_userinfo(arg);
    if arg.starts_with("ccr://") {
        let url = CcrUrl::parse(arg)?;
        if let Some(rest) = &url.rest {
            bail!("{shown:?}: expected a repository (ccr://INSTANCE_ID/NAMESPACE), found extra path {rest:?}");
        }
        return Ok(RepoArg::Url(url));
    }
    if arg.contains("://") {
        return Err(foreign_scheme(&shown).into());
    }
    let name = arg.trim_end_matches('/');
    if name.is_empty() || name.contains('/') {
        bail!("{shown:?} is neither a ccr:// URL nor a Helm repository name");
    }
    Ok(RepoArg::Named(name.to_string()))
}

/// A URL that is not `ccr://` where a repository belongs: which forms are accepted, and what
/// to use for the URL given.
fn foreign_scheme(shown: &str) -> UsageError {
    let scheme = shown.split("://").next().unwrap_or("").to_ascii_lowercase();
    let instead = match scheme.as_str() {
        "oci" => " (an oci:// registry is Helm's own: helm push / helm pull oci://...)",
        "http" | "https" => {
            " (an http(s):// chart repository is Helm's own: helm repo add / helm pull)"
        }
        _ => "",
    };
    UsageError(format!(
        "{shown:?} is not a CCR repository{instead}; REPO is ccr://INSTANCE_ID/NAMESPACE, ccr://API_HOST/INSTANCE_ID/NAMESPACE, or the name of a repository added with `helm repo add NAME ccr://INSTANCE_ID/NAMESPACE`"
    ))
}

/// Splits a `REPO/CHART` argument into the repository and the chart name.
pub fn parse_chart_ref(arg: &str) -> Result<(RepoArg, String)> {
    let shown = redact_userinfo(arg);
    if arg.contains("://") && !arg.starts_with("ccr://") {
        return Err(foreign_scheme(&shown).into());
    }
    let (repo, chart) = if arg.starts_with("ccr://") {
        let url = CcrUrl::parse(arg)?;
        let Some(chart) = url.rest.clone() else {
            bail!("{shown:?}: expected REPO/CHART, the chart name is missing");
        };
        (RepoArg::Url(CcrUrl { rest: None, ..url }), chart)
    } else {
        match arg.split_once('/') {
            // `./mychart`, `../charts/app`, `~/app`: a path where a reference belongs.
            Some((".." | "." | "~", _)) => {
                return Err(UsageError(format!(
                    "{shown:?} is a path; this takes REPO/CHART (e.g. myccr/mychart or ccr://INSTANCE_ID/NAMESPACE/mychart)"
                ))
                .into())
            }
            Some((repo, chart)) if !repo.is_empty() && !repo.contains(':') => {
                (RepoArg::Named(repo.to_string()), chart.to_string())
            }
            _ => bail!("{shown:?}: expected REPO/CHART (e.g. myccr/mychart or ccr://INSTANCE_ID/NAMESPACE/mychart)"),
        }
    };
    check_chart_name(&chart).map_err(|e| anyhow::anyhow!("{shown:?}: {e}"))?;
    Ok((repo, chart))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_url_forms() {
        let u = CcrUrl::parse("ccr://ccr-4k74gw7d/ns-test").unwrap();
        assert_eq!(u.api_host, None);
        assert_eq!(u.instance, "ccr-4k74gw7d");
        assert_eq!(u.namespace, "ns-test");
        assert_eq!(u.rest, None);
        let u = CcrUrl::parse("ccr://ccr.bj.baidubce.com/ccr-1/ns/app-1.0.0.tgz.prov").unwrap();
        assert_eq!(u.api_host.as_deref(), Some("ccr.bj.baidubce.com"));
        assert_eq!(u.rest.as_deref(), Some("app-1.0.0.tgz.prov"));
        assert_eq!(u.repo_url(), "ccr://ccr.bj.baidubce.com/ccr-1/ns");
        assert_eq!(
            CcrUrl::parse("ccr://i/n/").unwrap().rest,
            None,
            "trailing slash"
        );
    }

    #[test]
    fn a_path_is_not_a_chart_reference() {
        for path in ["./mychart", "../charts/app", "~/app", "./"] {
            let e = parse_chart_ref(path).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{path}: {e}");
            assert!(
                e.to_string().contains("is a path; this takes REPO/CHART"),
                "{e}"
            );
        }
        assert!(parse_chart_ref("myccr/app").is_ok());
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "ccr://",
            "ccr://inst",
            "ccr://inst/",
            "ccr://a.b/inst",
            "ccr://inst/n s",
            "ccr://inst/../x",
            "ccr://inst/ns?x=1",
            "http://inst/ns",
        ] {
            assert!(CcrUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_in_urls_are_never_echoed() {
        assert_eq!(
            redact_userinfo("ccr://ak:sk@ccr.bj.baidubce.com/i/n"),
            "ccr://***@ccr.bj.baidubce.com/i/n"
        );
        assert_eq!(redact_userinfo("https://u:p@h:1"), "https://***@h:1");
        assert_eq!(redact_userinfo("ccr://i/n/a@b"), "ccr://i/n/a@b");
        assert_eq!(redact_userinfo("u:p@h"), "***@h");
        for url in [
            "ccr://ak:s3cr3t@ccr-1/ns",
            "ccr://ak:s3cr3t@h.com/i/ns/c",
            "ccr://:s3cr3t@/x",
        ] {
            let e = format!("{:#}", CcrUrl::parse(url).unwrap_err());
            assert!(!e.contains("s3cr3t"), "{e}");
            let e = format!("{:#}", parse_chart_ref(url).unwrap_err());
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn splits_chart_references() {
        let (r, c) = parse_chart_ref("myccr/app").unwrap();
        assert_eq!(r, RepoArg::Named("myccr".into()));
        assert_eq!(c, "app");
        let (r, c) = parse_chart_ref("ccr://i/n/app").unwrap();
        assert!(matches!(r, RepoArg::Url(ref u) if u.rest.is_none() && u.namespace == "n"));
        assert_eq!(c, "app");
        for bad in [
            "app",
            "/app",
            "r/",
            "r/a/b",
            "ccr://i/n",
            "ccr://i/n/a/b",
            "r/..",
        ] {
            assert!(parse_chart_ref(bad).is_err(), "{bad}");
        }
        assert!(parse_repo("ccr://i/n/x").is_err());
        assert_eq!(
            parse_repo("myccr/").unwrap(),
            RepoArg::Named("myccr".into())
        );
        for foreign in ["https://x/y", "oci://reg/charts", "http://u:secret@h/x"] {
            let e = parse_repo(foreign).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{foreign}");
            assert!(e.to_string().contains("ccr://INSTANCE_ID/NAMESPACE"), "{e}");
            assert!(!e.to_string().contains("secret"), "{e}");
            let e = parse_chart_ref(&format!("{foreign}/chart")).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{foreign}");
        }
        assert!(parse_repo("oci://r/c")
            .unwrap_err()
            .to_string()
            .contains("helm push"));
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn refish() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,40}",
            "(ccr://)?[a-z0-9.:@-]{0,10}(/[a-z0-9._?#%-]{0,8}){0,4}/?",
            "[a-z./]{0,20}",
        ]
    }

    proptest! {
        #[test]
        fn reference_parsing_never_panics(s in refish()) {
            let _ = CcrUrl::parse(&s);
            let _ = parse_repo(&s);
            let _ = parse_chart_ref(&s);
            let _ = check_chart_name(&s);
        }

        #[test]
        fn parsed_urls_round_trip(s in refish()) {
            if let Ok(u) = CcrUrl::parse(&s) {
                let again = CcrUrl::parse(&u.repo_url()).unwrap();
                prop_assert_eq!(again, CcrUrl { rest: None, ..u.clone() });
                prop_assert!(u.instance != ".." && u.namespace != "..");
            }
            if let Ok((_, chart)) = parse_chart_ref(&s) {
                prop_assert!(!chart.is_empty() && chart != "." && chart != "..");
                prop_assert!(!chart.contains('/') && !chart.contains('\\'));
            }
        }

        #[test]
        fn valid_references_parse_back(inst in "[a-z0-9-]{1,12}", ns in "[a-z0-9_-]{1,12}", chart in "[a-z0-9][a-z0-9._-]{0,12}") {
            prop_assume!(chart != "." && chart != "..");
            let (repo, c) = parse_chart_ref(&format!("ccr://{inst}/{ns}/{chart}")).unwrap();
            prop_assert_eq!(c, chart);
            match repo {
                RepoArg::Url(u) => {
                    prop_assert_eq!(u.instance, inst);
                    prop_assert_eq!(u.namespace, ns);
                }
                RepoArg::Named(_) => prop_assert!(false),
            }
        }
    }
}
