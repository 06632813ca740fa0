//! `helm ccr env [REPO] [--check]`: the settings a command would use, each with where it came
//! from: repository, instance, namespace, endpoint, region and the credentials' source (the
//! access key id, never the secret) and whether they may go to the endpoint's host, as
//! [`settings::resolve`] finds them for every command; the proxy requests would take and why,
//! the trusted roots and the client certificate.
//! `--check` makes one signed list call, with a client built from that very resolution.

use anyhow::Result;

use crate::error::UsageError;
use crate::registry::Registry;
use crate::settings::reference;
use crate::settings::{self, Global, Repo, Resolved, Source};

/// What `env` was asked for.
pub struct EnvSettings {
    pub repo: Option<String>,
    pub check: bool,
}

/// `key: value` lines, the values aligned (every key is shorter than `credentials`).
fn lines(rows: &[(&str, String)]) -> String {
    let width = "credentials:".len();
    rows.iter()
        .map(|(k, v)| format!("{:<width$} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn run(s: &EnvSettings, global: &Global) -> Result<()> {
    if s.check && s.repo.is_none() {
        return Err(
            UsageError("--check needs a REPO to list: helm ccr env REPO --check".into()).into(),
        );
    }
    let out = global.output();
    let repo = match &s.repo {
        Some(r) => Some(settings::resolve_repo(
            &reference::parse_repo(r)?,
            &global.env,
        )?),
        None => None,
    };
    // The very resolution every other command makes: the BCE CLI profile is read only when
    // the credentials or the region need it.
    let resolved = settings::resolve(
        repo.as_ref().map(|r| &r.url),
        repo.as_ref().and_then(|r| r.credentials.clone()),
        global,
    )?;
    out.result(&lines(&rows(repo.as_ref(), &resolved, global)));
    if resolved.credentials.is_err() {
        return resolved.credentials.map(drop);
    }
    if let Some(Err(refused)) = resolved.sending {
        return Err(refused);
    }
    if let (true, Some(r)) = (s.check, &repo) {
        let endpoint = resolved.endpoint.value.base_url();
        let client = resolved.into_registry(&r.url, global.output())?;
        out.result(&lines(&[("check", check(&client, r, &endpoint)?)]));
    }
    Ok(())
}

/// The settings shown, each with where it came from.
fn rows(repo: Option<&Repo>, resolved: &Resolved, global: &Global) -> Vec<(&'static str, String)> {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(r) = repo {
        let url = r.url.repo_url();
        rows.push((
            "repository",
            if r.display == url {
                url
            } else {
                format!("{} ({url})", r.display)
            },
        ));
        rows.push(("instance", r.url.instance.clone()));
        rows.push(("namespace", r.url.namespace.clone()));
    }
    rows.push(("endpoint", endpoint_row(resolved, global)));
    let region = &resolved.region;
    rows.push((
        "region",
        match &region.source {
            Source::Default => format!("{} (default)", region.value),
            Source::BceProfile => format!("{} (from the BCE CLI profile)", region.value),
            from => format!("{} (from {from})", region.value),
        },
    ));
    rows.extend(network_rows(resolved));
    rows.push((
        "credentials",
        match &resolved.credentials {
            Ok(c) => format!(
                "access key {} from {}{}",
                c.access_key_id,
                c.source,
                if c.security_token.is_some() {
                    ", with a security token"
                } else {
                    ""
                }
            ),
            Err(_) => "none usable (see the error below)".into(),
        },
    ));
    let host = resolved.endpoint.value.base_url();
    match &resolved.sending {
        Some(Ok(trust)) => rows.push((
            "sending",
            format!("credentials to {host}: allowed, {}", trust.reason()),
        )),
        Some(Err(_)) => rows.push((
            "sending",
            format!("nothing: credentials may not go to {host} (see the error below)"),
        )),
        None => {}
    }
    rows
}

/// The endpoint and where it came from; when the URL's API host won over a set
/// `HELM_CCR_ENDPOINT`, that the variable was overridden.
fn endpoint_row(resolved: &Resolved, global: &Global) -> String {
    let endpoint = &resolved.endpoint;
    let from = format!("{} (from {}", endpoint.value.base_url(), endpoint.source);
    match (&endpoint.source, global.env.endpoint()) {
        (Source::UrlApiHost, Some(e)) => format!(
            "{from}; it overrides {}={})",
            settings::env::vars::ENDPOINT,
            crate::ui::text::redact_userinfo(e)
        ),
        _ => format!("{from})"),
    }
}

/// How requests would travel: the proxy (or why none) and the trusted roots, and the client
/// certificate if one is given. Never a proxy password.
fn network_rows(resolved: &Resolved) -> Vec<(&'static str, String)> {
    let c = match &resolved.connection {
        Ok(c) => c,
        Err(e) => return vec![("proxy", format!("unknown: {e:#}"))],
    };
    let mut rows = vec![
        (
            "proxy",
            match c.route(&resolved.endpoint.value) {
                Ok(route) => route.to_string(),
                Err(e) => format!("unusable: {e:#}"),
            },
        ),
        (
            "trust",
            match c.trust() {
                Ok(trust) => trust.to_string(),
                Err(e) => format!("unusable: {e:#}"),
            },
        ),
    ];
    if let Some(cert) = &c.client_cert {
        rows.push((
            "client cert",
            format!(
                "{} with key {} (from {})",
                cert.value.0.display(),
                cert.value.1.display(),
                cert.source
            ),
        ));
    }
    rows
}

/// `--check`: one signed list call; the `check:` value, or the error saying what failed.
fn check(client: &Registry, repo: &Repo, endpoint: &str) -> Result<String> {
    let total = client.probe().map_err(|e| {
        e.context(format!(
            "access check failed: listing the charts of {} at {endpoint}",
            repo.display
        ))
    })?;
    let charts = match total {
        Some(1) => "1 chart".to_string(),
        Some(n) => format!("{n} charts"),
        None => "charts listed".to_string(),
    };
    Ok(format!(
        "ok: a signed list call succeeded ({charts} in {})",
        repo.url.namespace
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_align_on_the_longest_key() {
        assert_eq!(
            lines(&[("region", "bj".into()), ("check", "ok".into())]),
            "region:      bj\ncheck:       ok"
        );
    }
}
