//! Helm's repository file (`repositories.yaml`, as `helm repo add` writes it): its entries, and
//! the one lookup of an entry, by name (`helm ccr ls myccr`) or by URL (the getter).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::settings::credentials::Credentials;
use crate::settings::env::{read_if_exists, Env};
use crate::settings::reference::{CcrUrl, RepoArg};
use crate::settings::source::Source;
use crate::ui::output::Output;

/// A Helm repository entry, as `helm repo add` writes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HelmRepoEntry {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    /// `helm repo add --ca-file`.
    #[serde(default, rename = "caFile")]
    pub ca_file: Option<String>,
    /// `helm repo add --cert-file`.
    #[serde(default, rename = "certFile")]
    pub cert_file: Option<String>,
    /// `helm repo add --key-file`.
    #[serde(default, rename = "keyFile")]
    pub key_file: Option<String>,
    /// `helm repo add --insecure-skip-tls-verify`.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// `helm repo add --pass-credentials`: basic auth to every host of the repository.
    #[serde(default)]
    pub pass_credentials_all: bool,
}

/// Which entry of Helm's repository file.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// The entry of this name (`helm repo add NAME`).
    Name(&'a str),
    /// Entries whose URL is this repository's (the getter, which Helm gives only a URL).
    Url(&'a CcrUrl),
}

impl HelmRepoEntry {
    /// The entry's `--username`/`--password`, taken as access key id and secret key; `by_url`
    /// when the entry was found by its URL.
    pub fn credentials(&self, by_url: bool) -> Option<Credentials> {
        Credentials::new(
            self.username.as_deref().unwrap_or(""),
            self.password.as_deref().unwrap_or(""),
            None,
            Source::Repository {
                name: self.name.clone(),
                by_url,
            },
        )
    }

    /// The entry's `--username`/`--password` as basic auth (a plain Helm repository's, for
    /// `helm ccr mirror`), when either is set.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let (u, p) = (self.username.clone(), self.password.clone());
        (u.is_some() || p.is_some()).then(|| (u.unwrap_or_default(), p.unwrap_or_default()))
    }

    /// The entry's `caFile`, if set.
    pub fn ca_file(&self) -> Option<PathBuf> {
        nonempty(&self.ca_file)
    }

    /// The entry's `certFile` and `keyFile`, when both are set.
    pub fn client_cert(&self) -> Option<(PathBuf, PathBuf)> {
        Some((nonempty(&self.cert_file)?, nonempty(&self.key_file)?))
    }

    /// Whether the entry sets any TLS setting.
    pub fn has_tls(&self) -> bool {
        self.ca_file().is_some() || self.client_cert().is_some() || self.insecure_skip_tls_verify
    }

    fn matches(&self, lookup: Lookup<'_>) -> bool {
        match lookup {
            Lookup::Name(name) => self.name == name,
            Lookup::Url(repo) => CcrUrl::parse(self.url.trim_end_matches('/'))
                .is_ok_and(|url| url.rest.is_none() && url.repo_url() == repo.repo_url()),
        }
    }
}

fn nonempty(v: &Option<String>) -> Option<PathBuf> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The TLS settings of the repository at `repo` in Helm's repository file: those of the first
/// entry of that URL that has any (`helm ccr ls myccr` finds `myccr`'s by its URL; the getter,
/// which Helm does not give the insecure flag, finds it the same way). A missing or unreadable
/// file gives none (a debug line says why).
pub fn entry_tls(repo: &CcrUrl, env: &Env, out: &Output) -> Option<HelmRepoEntry> {
    match find_entries(env, Lookup::Url(repo)) {
        Ok((_, entries)) => entries.into_iter().find(HelmRepoEntry::has_tls),
        Err(e) => {
            out.debug(&format!("ignoring Helm's repository file: {e:#}"));
            None
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct HelmRepoFile {
    #[serde(default)]
    repositories: Option<Vec<HelmRepoEntry>>,
}

/// The entries of Helm's repository file (none when it does not exist), and its path.
pub fn helm_repositories(env: &Env) -> Result<(PathBuf, Vec<HelmRepoEntry>)> {
    let Some(path) = env.repository_config() else {
        bail!("no Helm repository file (set HELM_REPOSITORY_CONFIG or HOME)");
    };
    let text = read_if_exists(&path)?.unwrap_or_default();
    let file: HelmRepoFile = if text.trim().is_empty() {
        HelmRepoFile::default()
    } else {
        // The file holds passwords: an error names the place, never the text around it (no
        // snippet, no message quoting a value). Helm's own file uses no aliases: a few
        // thousand replayed events are plenty, and bound what an alias bomb can cost.
        let options = serde_saphyr::options! {
            with_snippet: false,
            alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 10_000 },
        };
        serde_saphyr::from_str_with_options(&text, options).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{} is not a valid Helm repository file{at}", path.display())
        })?
    };
    Ok((path, file.repositories.unwrap_or_default()))
}

/// The entries of Helm's repository file that `lookup` names, in the file's order, and its
/// path.
pub fn find_entries(env: &Env, lookup: Lookup<'_>) -> Result<(PathBuf, Vec<HelmRepoEntry>)> {
    let (path, entries) = helm_repositories(env)?;
    Ok((
        path,
        entries.into_iter().filter(|e| e.matches(lookup)).collect(),
    ))
}

/// A repository resolved from what the user typed.
#[derive(Debug, Clone)]
pub struct Repo {
    pub url: CcrUrl,
    /// How to name it to the user (`myccr` or the URL).
    pub display: String,
    /// Credentials of the Helm repository entry, if it has some.
    pub credentials: Option<Credentials>,
}

/// Resolves a repository argument, reading Helm's repository file for names.
pub fn resolve_repo(arg: &RepoArg, env: &Env) -> Result<Repo> {
    match arg {
        RepoArg::Url(url) => Ok(Repo {
            url: url.clone(),
            display: url.repo_url(),
            credentials: None,
        }),
        RepoArg::Named(name) => {
            let (path, entries) = find_entries(env, Lookup::Name(name))
                .with_context(|| format!("repository {name:?}"))?;
            let Some(entry) = entries.into_iter().next() else {
                // A slip of the keyboard (`helm repo list` names) gets the closest name.
                let all = helm_repositories(env)
                    .map(|(_, all)| all)
                    .unwrap_or_default();
                let hint = crate::ui::text::did_you_mean(name, all.iter().map(|e| e.name.as_str()));
                if !hint.is_empty() {
                    bail!("repository {name:?} not found in {}{hint}", path.display());
                }
                bail!(
                    "repository {name:?} not found in {} (add it with `helm repo add {name} ccr://INSTANCE_ID/NAMESPACE`, or pass a ccr:// URL)",
                    path.display()
                );
            };
            if !entry.url.starts_with("ccr://") {
                bail!(
                    "repository {name:?} is {:?}, not a ccr:// repository",
                    crate::ui::text::redact_userinfo(&entry.url)
                );
            }
            let url = CcrUrl::parse(entry.url.trim_end_matches('/'))
                .with_context(|| format!("repository {name:?}"))?;
            let has = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
            match (has(&entry.username), has(&entry.password)) {
                (true, false) => bail!(
                    "repository {name:?} has a username (access key id) but no password (secret key) in {}; add it again with `helm repo add {name} {} --username AK --password-stdin`",
                    path.display(),
                    url.repo_url()
                ),
                (false, true) => bail!(
                    "repository {name:?} has a password (secret key) but no username (access key id) in {}; add it again with `helm repo add {name} {} --username AK --password-stdin`",
                    path.display(),
                    url.repo_url()
                ),
                _ => {}
            }
            let credentials = entry.credentials(false);
            Ok(Repo {
                url: CcrUrl { rest: None, ..url },
                display: name.clone(),
                credentials,
            })
        }
    }
}

/// The getter's credentials from `helm repo add --username --password`: those Helm passes
/// (`HELM_PLUGIN_USERNAME`/`HELM_PLUGIN_PASSWORD`), else those of the first Helm repository
/// entry whose URL is this very repository and which has some. Helm does not always pass them
/// (Helm 4 fetches a `.prov` without them), and the user gave them for exactly this URL.
/// `None`: the usual chain decides. A missing or unreadable repository file is no error here
/// (a debug line says so): the usual chain still applies.
pub fn getter_credentials(repo: &CcrUrl, env: &Env, out: &Output) -> Option<Credentials> {
    if let Some(c) = Credentials::new(
        env.get("HELM_PLUGIN_USERNAME").unwrap_or(""),
        env.get("HELM_PLUGIN_PASSWORD").unwrap_or(""),
        None,
        Source::HELM_PLUGIN_CREDENTIALS,
    ) {
        return Some(c);
    }
    match find_entries(env, Lookup::Url(repo)) {
        Ok((_, entries)) => entries.iter().find_map(|e| e.credentials(true)),
        Err(e) => {
            out.debug(&format!("ignoring Helm's repository file: {e:#}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_repositories_come_from_helm_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.yaml");
        std::fs::write(
            &path,
            "apiVersion: \"\"\ngenerated: \"0001-01-01T00:00:00Z\"\nrepositories:\n- name: myccr\n  url: ccr://ccr-1/ns\n  username: AK\n  password: SK\n- name: web\n  url: https://charts.example.com\n",
        )
        .unwrap();
        let env = Env::from_pairs([(
            "HELM_REPOSITORY_CONFIG".to_string(),
            path.display().to_string(),
        )]);
        let r = resolve_repo(&RepoArg::Named("myccr".into()), &env).unwrap();
        assert_eq!(r.url.instance, "ccr-1");
        assert_eq!(r.credentials.unwrap().access_key_id, "AK");
        assert!(resolve_repo(&RepoArg::Named("web".into()), &env).is_err());
        let err = resolve_repo(&RepoArg::Named("nope".into()), &env).unwrap_err();
        assert!(err.to_string().contains("not found"));
    }

    #[test]
    fn getter_credentials_from_helm_then_from_the_repository_file() {
        let dir = tempfile::tempdir().unwrap();
        let repos = dir.path().join("repositories.yaml");
        std::fs::write(
            &repos,
            [
                "apiVersion: \"\"",
                "generated: \"0001-01-01T00:00:00Z\"",
                "repositories:",
                "- name: other",
                "  url: ccr://ccr-1/other",
                "  username: OAK",
                "  password: OSK",
                "- name: nocreds",
                "  url: ccr://ccr-1/ns/",
                "- name: mine",
                "  url: ccr://ccr-1/ns/",
                "  username: AK",
                "  password: SK",
                "  caFile: \"\"",
                "  insecure_skip_tls_verify: false",
            ]
            .join("\n"),
        )
        .unwrap();
        let env = |pairs: &[(&str, &str)]| {
            let mut env: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            env.push(("HELM_REPOSITORY_CONFIG".into(), repos.display().to_string()));
            Env::from_pairs(env)
        };
        let out = Output::new(true, false);
        let helm_credentials = |repo: &CcrUrl, env: &Env| getter_credentials(repo, env, &out);
        let repo = CcrUrl::parse("ccr://ccr-1/ns").unwrap();
        let from_helm = helm_credentials(
            &repo,
            &env(&[
                ("HELM_PLUGIN_USERNAME", "HAK"),
                ("HELM_PLUGIN_PASSWORD", "HSK"),
            ]),
        )
        .unwrap();
        assert_eq!(from_helm.access_key_id, "HAK");
        assert_eq!(from_helm.secret_access_key, "HSK");
        let from_file = helm_credentials(
            &repo,
            &env(&[("HELM_PLUGIN_USERNAME", ""), ("HELM_PLUGIN_PASSWORD", "")]),
        )
        .unwrap();
        assert_eq!(from_file.access_key_id, "AK");
        assert!(from_file.source.to_string().contains("mine"));
        let elsewhere = CcrUrl::parse("ccr://ccr-2/ns").unwrap();
        assert!(helm_credentials(&elsewhere, &env(&[])).is_none());
        std::fs::write(&repos, "not: [valid").unwrap();
        assert!(helm_credentials(&repo, &env(&[])).is_none());
    }

    #[test]
    fn an_entry_s_tls_settings_are_found_by_its_url() {
        let dir = tempfile::tempdir().unwrap();
        let repos = dir.path().join("repositories.yaml");
        std::fs::write(
            &repos,
            [
                "repositories:",
                "- name: plain",
                "  url: ccr://ccr-1/ns",
                "  caFile: \"\"",
                "- name: mtls",
                "  url: ccr://ccr-1/ns/",
                "  caFile: /ca.pem",
                "  certFile: /c.pem",
                "  keyFile: /k.pem",
                "  insecure_skip_tls_verify: true",
            ]
            .join("\n"),
        )
        .unwrap();
        let env = Env::from_pairs([(
            "HELM_REPOSITORY_CONFIG".to_string(),
            repos.display().to_string(),
        )]);
        let out = Output::new(true, false);
        let e = entry_tls(&CcrUrl::parse("ccr://ccr-1/ns").unwrap(), &env, &out).unwrap();
        assert_eq!(e.name, "mtls");
        assert_eq!(e.ca_file(), Some(PathBuf::from("/ca.pem")));
        assert_eq!(
            e.client_cert(),
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        assert!(e.insecure_skip_tls_verify);
        assert!(entry_tls(&CcrUrl::parse("ccr://ccr-2/ns").unwrap(), &env, &out).is_none());
    }
}
