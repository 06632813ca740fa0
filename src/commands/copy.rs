//! `helm ccr copy SRC/CHART... DEST` (or `copy SRC DEST --all`): copies chart versions from one
//! CCR repository to another, byte for byte, with their provenance files.
//!
//! Here: the arguments checked (usage errors before any request), both sides resolved and
//! connected, each with its own side's credentials, then [`crate::copy::run`] (the engine) and
//! the report.

use anyhow::{Context, Result};

use crate::chart::constraint;
use crate::copy::{self, Charts, Plan};
use crate::error::UsageError;
use crate::registry::Registry;
use crate::settings::reference::{self, RepoArg};
use crate::settings::{self, Global, Repo};
use crate::ui::output::Format;
use crate::ui::report::Reporter;
use crate::ui::text::redact_userinfo;

/// What `copy` was asked for.
pub struct CopySettings {
    /// `SRC/CHART...`, or `SRC` alone with `--all`.
    pub sources: Vec<String>,
    /// `DEST`: a repository.
    pub dest: String,
    pub version: Option<String>,
    pub devel: bool,
    /// `--all`: every version (of the charts named, or of every chart of `SRC`).
    pub all: bool,
    /// `--force`: replace a version the destination holds with other bytes.
    pub force: bool,
    pub dry_run: bool,
    pub format: Format,
}

/// Splits the arguments into the source repository and the charts, refusing the combinations
/// that mean nothing (usage errors, before any request).
fn parse_sources(s: &CopySettings) -> Result<(RepoArg, Charts)> {
    if s.all && s.version.is_some() {
        return Err(UsageError("--all copies every version: it takes no --version".into()).into());
    }
    if s.all && s.devel {
        return Err(UsageError(
            "--all copies every version, pre-releases included: it takes no --devel".into(),
        )
        .into());
    }
    if let Some(w) = &s.version {
        constraint::check_version_flag(w)?;
    }
    // `SRC` alone: a repository, not a chart.
    if s.sources.len() == 1 {
        if let Ok(repo) = reference::parse_repo(&s.sources[0]) {
            if !s.all {
                return Err(UsageError(format!(
                    "{:?} is a repository: name the charts to copy (helm ccr copy SRC/CHART... DEST), or add --all to copy every version of every chart",
                    redact_userinfo(&s.sources[0])
                ))
                .into());
            }
            return Ok((repo, Charts::Every));
        }
    }
    let mut repo: Option<RepoArg> = None;
    let mut charts = Vec::new();
    for arg in &s.sources {
        let (r, chart) = reference::parse_chart_ref(arg).map_err(|e| {
            if s.sources.len() > 1 && reference::parse_repo(arg).is_ok() {
                UsageError(format!(
                    "{:?} is a repository: give SRC alone with --all, or SRC/CHART... (every source in one repository)",
                    redact_userinfo(arg)
                ))
                .into()
            } else {
                e
            }
        })?;
        if let Some((_, v)) = constraint::version_suffix(&chart) {
            return Err(UsageError(format!(
                "{:?}: the version goes in --version, not after the chart name: --version {v}",
                redact_userinfo(arg)
            ))
            .into());
        }
        match &repo {
            Some(first) if *first != r => {
                return Err(UsageError(format!(
                "the charts to copy come from one repository: {:?} is not in the same one as {:?}",
                redact_userinfo(arg),
                redact_userinfo(&s.sources[0])
            ))
                .into())
            }
            Some(_) => {}
            None => repo = Some(r),
        }
        if !charts.contains(&chart) {
            charts.push(chart);
        }
    }
    let repo = repo.ok_or_else(|| UsageError("nothing to copy".into()))?;
    Ok((repo, Charts::Named(charts)))
}

/// One side of the copy: its repository and its client.
struct Side {
    repo: Repo,
    client: Registry,
}

/// Connects to one side with its own credentials; the error names the side.
fn connect(arg: &RepoArg, side: &str, global: &Global) -> Result<Side> {
    let repo = settings::resolve_repo(arg, &global.env).with_context(|| side.to_string())?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)
        .with_context(|| format!("{side} {}", repo.display))?;
    Ok(Side { repo, client })
}

impl Side {
    fn side(&self) -> copy::Side<'_> {
        copy::Side {
            client: &self.client,
            display: &self.repo.display,
        }
    }
}

pub fn run(s: &CopySettings, global: &Global) -> Result<()> {
    let (src_arg, charts) = parse_sources(s)?;
    let dest_arg = parse_dest(s, &src_arg)?;
    let src = connect(&src_arg, "source", global)?;
    let dest = connect(&dest_arg, "destination", global)?;
    refuse_same_registry(&src, &dest)?;
    let parallel = global.env.parallel()?;
    let report = Reporter::new(s.format, global.output(), false);
    let plan = Plan {
        charts,
        all: s.all,
        version: s.version.clone(),
        devel: s.devel,
        force: s.force,
        dry_run: s.dry_run,
        keep_in: global.env.replaced_dir(),
    };
    copy::run(&plan, &src.side(), &dest.side(), parallel, &report)?;
    report.finish()
}

/// `DEST`, a repository that is not the source's (as written).
fn parse_dest(s: &CopySettings, src_arg: &RepoArg) -> Result<RepoArg> {
    let dest_arg = reference::parse_repo(&s.dest)
        .map_err(|e| UsageError(format!("DEST: {e:#}")))
        .map_err(anyhow::Error::from)?;
    let same = match (src_arg, &dest_arg) {
        (RepoArg::Url(a), RepoArg::Url(b)) => a == b,
        (RepoArg::Named(a), RepoArg::Named(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(UsageError(format!(
            "the source and the destination are the same repository ({})",
            redact_userinfo(&s.dest)
        ))
        .into());
    }
    Ok(dest_arg)
}

/// Two names (or a name and a URL) for one repository of one registry.
fn refuse_same_registry(src: &Side, dest: &Side) -> Result<()> {
    if src.repo.url.repo_url() == dest.repo.url.repo_url()
        && src.client.transport().config().endpoint == dest.client.transport().config().endpoint
    {
        return Err(UsageError(format!(
            "the source and the destination are the same repository ({})",
            dest.repo.display
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(sources: &[&str], all: bool) -> CopySettings {
        CopySettings {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            dest: "prod".into(),
            version: None,
            devel: false,
            all,
            force: false,
            dry_run: false,
            format: Format::Text,
        }
    }

    fn usage(s: &CopySettings) -> String {
        let e = parse_sources(s).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        e.to_string()
    }

    #[test]
    fn the_argument_forms() {
        let (repo, charts) = parse_sources(&settings(&["staging"], true)).unwrap();
        assert_eq!(repo, RepoArg::Named("staging".into()));
        assert_eq!(charts, Charts::Every);
        let (repo, charts) = parse_sources(&settings(
            &["ccr://i/ns/web", "ccr://i/ns/api", "ccr://i/ns/web"],
            false,
        ))
        .unwrap();
        assert!(matches!(repo, RepoArg::Url(u) if u.repo_url() == "ccr://i/ns"));
        assert_eq!(charts, Charts::Named(vec!["web".into(), "api".into()]));
        let (_, charts) = parse_sources(&settings(&["staging/web"], true)).unwrap();
        assert_eq!(charts, Charts::Named(vec!["web".into()]));
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        assert!(usage(&settings(&["staging"], false)).contains("add --all"));
        assert!(usage(&settings(&["staging", "staging/web"], true)).contains("is a repository"));
        assert!(usage(&settings(&["a/web", "b/api"], false)).contains("one repository"));
        assert!(usage(&settings(&["a/web:1.0.0"], false)).contains("--version 1.0.0"));
        let mut s = settings(&["staging"], true);
        s.version = Some("1.0.0".into());
        assert!(usage(&s).contains("no --version"));
        let mut s = settings(&["staging"], true);
        s.devel = true;
        assert!(usage(&s).contains("no --devel"));
        let mut s = settings(&["staging/web"], false);
        s.version = Some("not a version".into());
        assert!(usage(&s).contains("invalid --version"));
    }
}
