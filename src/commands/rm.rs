//! `helm ccr rm REPO/CHART... (--version V... | --all)`: delete versions, or whole charts.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::error::UsageError;
use crate::output::Format;
use crate::repo_ref;
use crate::report::{Action, Record, Reporter};
use crate::settings::{self, Global};

/// What `rm` was asked for.
pub struct RmSettings {
    pub charts: Vec<String>,
    pub versions: Vec<String>,
    pub all: bool,
    pub dry_run: bool,
    /// `-o`: the result lines, or one JSON/YAML list of [`Record`]s (one per version deleted,
    /// one per chart with `--all`).
    pub format: Format,
}

pub fn run(s: &RmSettings, global: &Global) -> Result<()> {
    let versions: Vec<String> = {
        let mut v: Vec<String> = s
            .versions
            .iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        v.dedup();
        let mut seen = std::collections::BTreeSet::new();
        v.retain(|x| seen.insert(x.clone()));
        v
    };
    if !s.all && versions.is_empty() {
        return Err(UsageError(
            "refusing to delete whole charts without --all; name versions with --version".into(),
        )
        .into());
    }
    // Group the charts by repository, keeping the order given.
    let mut groups: BTreeMap<String, (settings::Repo, Vec<String>)> = BTreeMap::new();
    for c in &s.charts {
        let (repo_arg, chart) = repo_ref::parse_chart_ref(c)?;
        let repo = settings::resolve_repo(&repo_arg, &global.env)?;
        let key = repo.url.repo_url();
        let entry = groups.entry(key).or_insert_with(|| (repo, Vec::new()));
        if !entry.1.contains(&chart) {
            entry.1.push(chart);
        }
    }
    let report = Reporter::new(s.format, global.output(), false);
    let verb = if s.dry_run { "Would delete" } else { "Deleted" };
    let action = if s.dry_run {
        Action::WouldDelete
    } else {
        Action::Deleted
    };
    let mut index = 0;
    for (repo, charts) in groups.values() {
        let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
        if s.all {
            let existing = client.list_charts()?;
            let missing: Vec<&String> = charts
                .iter()
                .filter(|c| !existing.iter().any(|e| &e.name == *c))
                .collect();
            if !missing.is_empty() {
                bail!("{} not found in {}", names("chart", &missing), repo.display);
            }
            if !s.dry_run {
                match charts.as_slice() {
                    [one] => client.delete_chart(one)?,
                    many => client.delete_charts(many)?,
                }
            }
            for c in charts {
                report.add(
                    index,
                    Record {
                        name: Some(c.clone()),
                        line: format!("{verb} chart {c} (every version) from {}", repo.display),
                        ..Record::new(&repo.display, action)
                    },
                );
                index += 1;
            }
        } else {
            // Check every chart first: nothing is deleted unless everything named exists.
            let mut plan = Vec::new();
            for chart in charts {
                let present = client.existing_versions(chart, &repo.display)?;
                let missing: Vec<&String> = versions
                    .iter()
                    .filter(|v| !present.iter().any(|p| &&p.version == v))
                    .collect();
                if !missing.is_empty() {
                    bail!(
                        "chart {chart:?} has no {} in {}",
                        names("version", &missing),
                        repo.display
                    );
                }
                plan.push((chart, present));
            }
            for (chart, present) in plan {
                if !s.dry_run {
                    match versions.as_slice() {
                        [one] => client.delete_version(chart, one)?,
                        many => client.delete_versions(chart, many)?,
                    }
                }
                for (i, v) in versions.iter().enumerate() {
                    // One line per chart for people, one record per version for programs.
                    let line = if i == 0 {
                        format!(
                            "{verb} {chart} {} from {}",
                            versions.join(", "),
                            repo.display
                        )
                    } else {
                        String::new()
                    };
                    report.add(
                        index,
                        Record {
                            name: Some(chart.clone()),
                            version: Some(v.clone()),
                            digest: present
                                .iter()
                                .find(|p| &p.version == v)
                                .and_then(|p| p.digest.as_ref())
                                .map(|d| format!("sha256:{d}")),
                            line,
                            ..Record::new(&repo.display, action)
                        },
                    );
                    index += 1;
                }
            }
        }
    }
    report.finish()
}

fn names(kind: &str, items: &[&String]) -> String {
    let list = items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() == 1 {
        format!("{kind} {list}")
    } else {
        format!("{kind}s {list}")
    }
}
