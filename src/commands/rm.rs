//! `helm ccr rm REPO/CHART... (--version V... | --all)`: delete versions, or whole charts.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};

use crate::chart::constraint;
use crate::error::UsageError;
use crate::registry::model::HelmChartVersion;
use crate::registry::Registry;
use crate::settings::reference;
use crate::settings::{self, Global};
use crate::ui::output::Format;
use crate::ui::report::{Action, Record, Reporter};
use crate::ui::text::{did_you_mean, redact_userinfo};

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
    refuse_version_suffixes(&s.charts)?;
    let versions = requested_versions(s)?;
    let groups = resolve(&s.charts, global)?;
    let report = Reporter::new(s.format, global.output(), false);
    let mut done = Done {
        report: &report,
        dry_run: s.dry_run,
        index: 0,
    };
    for (repo, charts) in groups.values() {
        let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
        // Everything named is checked first: nothing is deleted unless it all exists.
        let plan = look_up(&client, charts, &versions, s.all, &repo.display)?;
        delete(&client, &plan, &versions, &repo.display, &mut done)?;
    }
    report.finish()
}

/// A version written after a chart name (`myccr/mychart:1.0.0`) is a usage error that shows
/// the `--version` form; said first, as it explains a missing `--version`.
fn refuse_version_suffixes(chart_refs: &[String]) -> Result<()> {
    for c in chart_refs {
        let Ok((_, chart)) = reference::parse_chart_ref(c) else {
            continue;
        };
        if let Some((_, version)) = constraint::version_suffix(&chart) {
            let shown = redact_userinfo(c);
            let without = shown.strip_suffix(&format!(":{version}")).unwrap_or(&shown);
            return Err(UsageError(format!(
                "{shown:?}: the version goes in --version, not after the chart name: helm ccr rm {without} --version {version}"
            ))
            .into());
        }
    }
    Ok(())
}

/// The versions named (trimmed, blanks and repeats dropped, in order); naming none without
/// `--all` is a usage error.
fn requested_versions(s: &RmSettings) -> Result<Vec<String>> {
    let mut seen = BTreeSet::new();
    let versions: Vec<String> = s
        .versions
        .iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && seen.insert(v.clone()))
        .collect();
    if !s.all && versions.is_empty() {
        return Err(UsageError(
            "refusing to delete whole charts without --all; name versions with --version".into(),
        )
        .into());
    }
    Ok(versions)
}

/// The charts named, grouped by repository (each chart once, in the order given).
fn resolve(
    chart_refs: &[String],
    global: &Global,
) -> Result<BTreeMap<String, (settings::Repo, Vec<String>)>> {
    let mut groups: BTreeMap<String, (settings::Repo, Vec<String>)> = BTreeMap::new();
    for c in chart_refs {
        let (repo_arg, chart) = reference::parse_chart_ref(c)?;
        let repo = settings::resolve_repo(&repo_arg, &global.env)?;
        let key = repo.url.repo_url();
        let entry = groups.entry(key).or_insert_with(|| (repo, Vec::new()));
        if !entry.1.contains(&chart) {
            entry.1.push(chart);
        }
    }
    Ok(groups)
}

/// What one repository loses, checked against what it holds.
enum Plan<'a> {
    /// `--all`: these charts, with every version.
    Charts(&'a [String]),
    /// The versions named, of each chart (with every version the chart holds, for digests).
    Versions(Vec<(&'a String, Vec<HelmChartVersion>)>),
}

/// Looks up what exists: every chart named (with `--all`), else every version named of every
/// chart; anything missing is an error naming it.
fn look_up<'a>(
    client: &Registry,
    charts: &'a [String],
    versions: &[String],
    all: bool,
    repo: &str,
) -> Result<Plan<'a>> {
    if all {
        let existing = client.list_charts()?;
        let missing: Vec<&String> = charts
            .iter()
            .filter(|c| !existing.iter().any(|e| &e.name == *c))
            .collect();
        if !missing.is_empty() {
            // One chart missing: the closest name the registry has, if one is close.
            let hint = match missing.as_slice() {
                [one] => did_you_mean(one, existing.iter().map(|e| e.name.as_str())),
                _ => String::new(),
            };
            bail!("{} not found in {repo}{hint}", names("chart", &missing));
        }
        return Ok(Plan::Charts(charts));
    }
    let mut plan = Vec::new();
    for chart in charts {
        let present = client.existing_versions(chart, repo)?;
        let missing: Vec<&String> = versions
            .iter()
            .filter(|v| !present.iter().any(|p| &&p.version == v))
            .collect();
        if !missing.is_empty() {
            bail!(
                "chart {chart:?} has no {} in {repo}",
                names("version", &missing)
            );
        }
        plan.push((chart, present));
    }
    Ok(Plan::Versions(plan))
}

/// Where the deletions are reported, and whether they are only described (`--dry-run`).
struct Done<'r> {
    report: &'r Reporter,
    dry_run: bool,
    /// The next record's place.
    index: usize,
}

impl Done<'_> {
    fn add(&mut self, repo: &str, record: impl FnOnce(Record) -> Record) {
        let action = if self.dry_run {
            Action::WouldDelete
        } else {
            Action::Deleted
        };
        self.report
            .add(self.index, record(Record::new(repo, action)));
        self.index += 1;
    }

    fn verb(&self) -> &'static str {
        if self.dry_run {
            "Would delete"
        } else {
            "Deleted"
        }
    }
}

/// Deletes what `plan` names (unless `--dry-run`), reporting it chart by chart.
fn delete(
    client: &Registry,
    plan: &Plan<'_>,
    versions: &[String],
    repo: &str,
    done: &mut Done<'_>,
) -> Result<()> {
    let verb = done.verb();
    match plan {
        Plan::Charts(charts) => {
            if !done.dry_run {
                match charts {
                    [one] => client.delete_chart(one)?,
                    many => client.delete_charts(many)?,
                }
            }
            for c in charts.iter() {
                done.add(repo, |base| Record {
                    name: Some(c.clone()),
                    line: format!("{verb} chart {c} (every version) from {repo}"),
                    ..base
                });
            }
        }
        Plan::Versions(charts) => {
            for (chart, present) in charts {
                if !done.dry_run {
                    match versions {
                        [one] => client.delete_version(chart, one)?,
                        many => client.delete_versions(chart, many)?,
                    }
                }
                report_versions(chart, present, versions, repo, done);
            }
        }
    }
    Ok(())
}

/// One line per chart for people, one record per version for programs.
fn report_versions(
    chart: &str,
    present: &[HelmChartVersion],
    versions: &[String],
    repo: &str,
    done: &mut Done<'_>,
) {
    let verb = done.verb();
    for (i, v) in versions.iter().enumerate() {
        let line = if i == 0 {
            format!("{verb} {chart} {} from {repo}", versions.join(", "))
        } else {
            String::new()
        };
        let digest = present
            .iter()
            .find(|p| &p.version == v)
            .and_then(|p| p.digest.as_ref())
            .map(|d| format!("sha256:{d}"));
        done.add(repo, |base| Record {
            name: Some(chart.to_string()),
            version: Some(v.clone()),
            digest,
            line,
            ..base
        });
    }
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
