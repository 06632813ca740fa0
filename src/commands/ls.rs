//! `helm ccr ls REPO | REPO/CHART`: charts of a repository, or versions of a chart.

use anyhow::Result;
use serde_json::Value;

use crate::chart::constraint;
use crate::error::UsageError;
use crate::registry::model::{HelmChart, HelmChartVersion};
use crate::registry::Registry;
use crate::settings::reference::{self, CcrUrl, RepoArg};
use crate::settings::{self, Global, Repo};
use crate::support::pool;
use crate::ui::output::{self, Format, Output};
use crate::ui::text::{redact_userinfo, table};

/// `helm search`'s default `--max-col-width`: longer cells are cut to this width with `...`.
const MAX_DESCRIPTION_WIDTH: usize = 50;

/// What `ls` was asked for.
pub struct LsSettings {
    pub target: String,
    /// `Text` is the table.
    pub format: Format,
    pub devel: bool,
}

/// Splits `REPO` from `REPO/CHART`.
fn parse_target(target: &str) -> Result<(RepoArg, Option<String>)> {
    if target.starts_with("ccr://") {
        let url = CcrUrl::parse(target)?;
        if url.rest.is_some() {
            let (repo, chart) = reference::parse_chart_ref(target)?;
            return Ok((repo, Some(chart)));
        }
        return Ok((RepoArg::Url(url), None));
    }
    let trimmed = target.trim_end_matches('/');
    if trimmed.contains('/') {
        let (repo, chart) = reference::parse_chart_ref(trimmed)?;
        return Ok((repo, Some(chart)));
    }
    Ok((reference::parse_repo(trimmed)?, None))
}

/// The versions shown, newest first, by the rule `pull` uses too: stable versions only unless
/// `devel`; a chart with nothing but pre-releases shows them (the bool says so).
pub fn shown_versions(
    mut versions: Vec<HelmChartVersion>,
    devel: bool,
) -> (Vec<HelmChartVersion>, bool) {
    constraint::sort_newest_first(&mut versions);
    if devel {
        return (versions, false);
    }
    let stable: Vec<HelmChartVersion> = versions
        .iter()
        .filter(|v| !constraint::is_prerelease(&v.version))
        .cloned()
        .collect();
    if stable.is_empty() && !versions.is_empty() {
        return (versions, true);
    }
    (stable, false)
}

/// A registry time as shown: `-` for nothing or Go's zero time (`0001-01-01T00:00:00Z`).
fn when(t: Option<&str>) -> String {
    match t.map(str::trim) {
        None | Some("") => "-".into(),
        Some(t) if t.starts_with("0001-01-01") => "-".into(),
        Some(t) => t.to_string(),
    }
}

/// Cuts a cell to `max` characters the way `helm search` does: `...` ends a cut cell.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

fn only_prereleases_note(out: &Output, charts: &[&str], repo: &str) {
    if charts.is_empty() {
        return;
    }
    let (which, has) = match charts {
        [one] => (format!("chart {one:?}"), "has"),
        many => (
            format!(
                "charts {}",
                many.iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "have",
        ),
    };
    out.note(&format!(
        "{which} in {repo} {has} only pre-release versions, shown here; pull them with --devel or a --version that names one"
    ));
}

/// What the table of a repository without charts becomes (`-o json|yaml` print `[]`): no
/// header, a note on stderr naming it, as `helm search` says "No results found" (an empty
/// namespace and a misspelled one look alike).
fn no_charts(out: &Output, repo: &Repo) {
    out.note(&format!(
        "no charts in {} (namespace {:?} of instance {:?} is empty, or does not exist)",
        repo.display, repo.url.namespace, repo.url.instance
    ));
}

pub fn run(s: &LsSettings, global: &Global) -> Result<()> {
    let (repo_arg, chart) = parse_target(&s.target)?;
    if let Some((name, version)) = chart.as_deref().and_then(constraint::version_suffix) {
        let shown = redact_userinfo(&s.target);
        let without = shown.strip_suffix(&format!(":{version}")).unwrap_or(&shown);
        return Err(UsageError(format!(
            "{shown:?}: ls takes no version; helm ccr ls {without} lists every version of {name:?}"
        ))
        .into());
    }
    let repo = settings::resolve_repo(&repo_arg, &global.env)?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
    match chart {
        None => list_charts(s, &client, &repo, global),
        Some(chart) => list_versions(s, &client, &repo, &chart, &global.output()),
    }
}

/// `ls REPO`: the charts, each with its newest version and how many it has (the pre-release
/// rule applied), or the registry's fields as JSON/YAML.
fn list_charts(s: &LsSettings, client: &Registry, repo: &Repo, global: &Global) -> Result<()> {
    let out = global.output();
    let charts = client.list_charts()?;
    if s.format != Format::Text {
        if s.devel {
            out.warn("--devel changes nothing with -o json|yaml on a repository: every chart is listed with the registry's own fields");
        }
        let items: Vec<Value> = charts.iter().map(HelmChart::raw_value).collect();
        out.result(&output::render(s.format, &items)?);
        return Ok(());
    }
    if charts.is_empty() {
        no_charts(&out, repo);
        return Ok(());
    }
    let versions = pool::map(&charts, global.env.parallel()?, |c: &HelmChart| {
        Ok(client.find_versions(&c.name)?.unwrap_or_default())
    })?;
    let mut rows = vec![vec![
        "NAME".to_string(),
        "LATEST VERSION".to_string(),
        "VERSIONS".to_string(),
        "UPDATED".to_string(),
    ]];
    let mut prerelease_only = Vec::new();
    for (c, versions) in charts.iter().zip(versions) {
        let (shown, only_pre) = shown_versions(versions, s.devel);
        if only_pre {
            prerelease_only.push(c.name.as_str());
        }
        rows.push(vec![
            c.name.clone(),
            shown
                .first()
                .map(|v| v.version.clone())
                .unwrap_or_else(|| "-".into()),
            shown.len().to_string(),
            when(c.updated.as_deref().or(c.created.as_deref())),
        ]);
    }
    out.result(&table(&rows));
    only_prereleases_note(&out, &prerelease_only, &repo.display);
    Ok(())
}

/// `ls REPO/CHART`: the chart's versions, newest first (the pre-release rule applied).
fn list_versions(
    s: &LsSettings,
    client: &Registry,
    repo: &Repo,
    chart: &str,
    out: &Output,
) -> Result<()> {
    let versions = client.existing_versions(chart, &repo.display)?;
    let (versions, only_pre) = shown_versions(versions, s.devel);
    let text = match s.format {
        Format::Text => {
            let mut rows = vec![vec![
                "NAME".to_string(),
                "VERSION".to_string(),
                "APP VERSION".to_string(),
                "CREATED".to_string(),
                "DESCRIPTION".to_string(),
            ]];
            for v in &versions {
                rows.push(vec![
                    v.name.clone(),
                    v.version.clone(),
                    v.app_version.clone().unwrap_or_default(),
                    when(v.created.as_deref()),
                    cut(
                        v.description.as_deref().unwrap_or_default(),
                        MAX_DESCRIPTION_WIDTH,
                    ),
                ]);
            }
            table(&rows)
        }
        f => output::render(
            f,
            &versions
                .iter()
                .map(HelmChartVersion::raw_value)
                .collect::<Vec<_>>(),
        )?,
    };
    out.result(&text);
    if only_pre {
        only_prereleases_note(out, &[chart], &repo.display);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cut_like_helm_search() {
        assert_eq!(cut("short", 50), "short");
        let long = "a".repeat(60);
        let c = cut(&long, 50);
        assert_eq!(c.chars().count(), 50);
        assert!(c.ends_with("..."));
        assert_eq!(cut(&"é".repeat(50), 50), "é".repeat(50));
    }

    #[test]
    fn zero_times_show_a_dash() {
        assert_eq!(when(Some("0001-01-01T00:00:00Z")), "-");
        assert_eq!(when(None), "-");
        assert_eq!(when(Some("2026-01-02T03:04:05Z")), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn targets() {
        assert!(matches!(
            parse_target("r").unwrap(),
            (RepoArg::Named(_), None)
        ));
        assert!(matches!(
            parse_target("r/").unwrap(),
            (RepoArg::Named(_), None)
        ));
        assert_eq!(parse_target("r/c").unwrap().1.as_deref(), Some("c"));
        assert_eq!(parse_target("ccr://i/n/c").unwrap().1.as_deref(), Some("c"));
        assert!(parse_target("ccr://i/n").unwrap().1.is_none());
        assert!(parse_target("r/c/d").is_err());
    }
}
