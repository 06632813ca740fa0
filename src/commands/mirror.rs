//! `helm ccr mirror SOURCE DEST`: resolve the source (a Helm HTTP(S) repository URL, a Helm
//! repository name, or a directory of packages) with its credentials and TLS settings as
//! `helm repo add` takes them, connect to the destination with the usual chain, and hand over
//! to [`crate::mirror::run`]; then the summary line.
//!
//! The TLS flags (`--ca-file`, `--cert-file/--key-file`, `--insecure-skip-tls-verify`) are the
//! source's here, as `helm repo add` takes them; the destination keeps its own (repository
//! entry, `SSL_CERT_FILE`, the system store).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use crate::error::{AlreadyReported, UsageError};
use crate::mirror::source::{HttpRepo, HttpSettings};
use crate::mirror::{self, Dest, Options, Source};
use crate::settings::reference;
use crate::settings::repositories::{find_entries, HelmRepoEntry, Lookup};
use crate::settings::{self, Global};
use crate::transport::{ClientCertFiles, TlsSettings, DEFAULT_MAX_DOWNLOAD};
use crate::ui::output::Format;
use crate::ui::report::Reporter;
use crate::ui::text::redact_userinfo;

/// What `mirror` was asked for.
pub struct MirrorSettings {
    pub source: String,
    pub dest: String,
    pub charts: Vec<String>,
    pub version: Option<String>,
    pub devel: bool,
    pub dry_run: bool,
    /// `--username`: the source's basic auth user.
    pub username: Option<String>,
    /// `--password-stdin`: read the source's password from standard input.
    pub password_stdin: bool,
    pub format: Format,
}

pub fn run(s: &MirrorSettings, global: &Global) -> Result<()> {
    if s.source.starts_with("ccr://") {
        return Err(UsageError(format!(
            "{:?} is a CCR repository: mirror reads a Helm chart repository (http:// or https://), a repository name or a directory",
            s.source
        ))
        .into());
    }
    let password = if s.password_stdin {
        let mut p = String::new();
        std::io::stdin()
            .take(64 << 10)
            .read_to_string(&mut p)
            .map_err(|e| anyhow!("reading the password from standard input: {e}"))?;
        Some(p.trim_end_matches(['\n', '\r']).to_string())
    } else {
        None
    };
    // The destination: the usual chain, and not the source's TLS flags.
    let mut dest_global = global.clone();
    dest_global.ca_file = None;
    dest_global.client_cert = None;
    dest_global.insecure_skip_tls_verify = false;
    let repo_arg = reference::parse_repo(&s.dest)?;
    let repo = settings::resolve_repo(&repo_arg, &global.env)?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), &dest_global)?;

    let source = open_source(s, password, global)?;
    let out = global.output();
    let report = Reporter::new(s.format, out, false);
    let summary = mirror::run(
        &source,
        &Dest {
            registry: &client,
            display: &repo.display,
        },
        &Options {
            charts: s.charts.clone(),
            version: s.version.clone(),
            devel: s.devel,
            dry_run: s.dry_run,
            parallel: global.env.parallel()?,
        },
        out,
        &report,
    )?;
    if s.format == Format::Text {
        out.info(&summary.line());
    }
    // Each failed package had its `Error:` line, and the summary counts them: no second one.
    report.finish().map_err(|e| {
        if summary.failed > 0 {
            AlreadyReported(format!("{e:#}")).into()
        } else {
            e
        }
    })
}

/// The source: a directory, an `http(s)://` URL, or a Helm repository name.
fn open_source(s: &MirrorSettings, password: Option<String>, global: &Global) -> Result<Source> {
    let arg = s.source.as_str();
    if arg.starts_with("http://") || arg.starts_with("https://") {
        let auth = s
            .username
            .clone()
            .map(|u| (u, password.unwrap_or_default()));
        return http(arg, auth, false, None, global);
    }
    if arg.contains("://") {
        bail!(
            "{}: mirror reads http:// and https:// chart repositories",
            redact_userinfo(arg)
        );
    }
    let path = Path::new(arg);
    if path.is_dir() {
        return Ok(Source::Dir(path.to_path_buf()));
    }
    if path.exists() {
        bail!("{arg}: not a directory of chart packages");
    }
    if arg.contains('/') || arg.starts_with('.') {
        bail!("{arg}: no such directory");
    }
    let (file, entries) = find_entries(&global.env, Lookup::Name(arg))?;
    let Some(entry) = entries.into_iter().next() else {
        bail!(
            "{arg:?} is neither a directory nor a repository in {} (give an https:// URL, a directory, or a name from helm repo list)",
            file.display()
        );
    };
    if entry.url.starts_with("ccr://") {
        return Err(UsageError(format!(
            "repository {arg:?} is a CCR repository ({}): mirror reads a Helm chart repository",
            entry.url
        ))
        .into());
    }
    let auth = match &s.username {
        Some(u) => Some((u.clone(), password.unwrap_or_default())),
        None => entry.basic_auth(),
    };
    let url = entry.url.clone();
    http(&url, auth, entry.pass_credentials_all, Some(&entry), global)
}

/// An HTTP source: the flags first, then the repository entry's TLS settings.
fn http(
    url: &str,
    basic_auth: Option<(String, String)>,
    pass_credentials_all: bool,
    entry: Option<&HelmRepoEntry>,
    global: &Global,
) -> Result<Source> {
    let env = &global.env;
    let (ca_file, ca_source) = match (&global.ca_file, entry.and_then(HelmRepoEntry::ca_file)) {
        (Some(f), _) => (Some(f.clone()), "--ca-file".to_string()),
        (None, Some(f)) => (Some(f), "the repository's caFile".to_string()),
        (None, None) => (None, String::new()),
    };
    let client_cert = match (
        &global.client_cert,
        entry.and_then(HelmRepoEntry::client_cert),
    ) {
        (Some((c, k)), _) => Some(cert(c, k, "--cert-file/--key-file")),
        (None, Some((c, k))) => Some(cert(&c, &k, "the repository's certFile/keyFile")),
        (None, None) => None,
    };
    let tls = TlsSettings {
        ca_file,
        ca_file_source: ca_source,
        ssl_cert_file: env.ssl_cert_file(),
        ssl_cert_dir: env.ssl_cert_dir().map(str::to_string),
        client_cert,
        insecure: global.insecure_skip_tls_verify
            || entry.is_some_and(|e| e.insecure_skip_tls_verify),
    };
    let repo = HttpRepo::new(HttpSettings {
        url: url.to_string(),
        basic_auth,
        pass_credentials_all,
        tls,
        proxy: env.proxy(),
        max_download: env.max_download()?.unwrap_or(DEFAULT_MAX_DOWNLOAD),
        deadline: global.deadline(),
        output: global.output(),
    })?;
    Ok(Source::Http(Box::new(repo)))
}

fn cert(c: &Path, k: &Path, source: &str) -> ClientCertFiles {
    ClientCertFiles {
        cert: PathBuf::from(c),
        key: PathBuf::from(k),
        source: source.to_string(),
    }
}
