//! `helm ccr rm REPO/CHART... (--version V... | --all)`: delete versions, or whole charts;
//! `helm ccr rm REPO[/CHART]... (--keep N | --older-than DURATION)`: retention, every chart of
//! a repository when REPO comes alone. Which versions a retention rule selects (and its rules)
//! is `chart::retention`; this file resolves, looks up, plans, deletes and reports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

use crate::chart::constraint;
use crate::chart::retention::{self, Retention, Selection};
use crate::error::UsageError;
use crate::registry::model::HelmChartVersion;
use crate::registry::Registry;
use crate::settings::reference;
use crate::settings::{self, Global};
use crate::ui::output::{Format, Output};
use crate::ui::report::{Action, Record, Reporter};
use crate::ui::text::{did_you_mean, redact_userinfo};

/// What `rm` was asked for.
pub struct RmSettings {
    pub charts: Vec<String>,
    pub versions: Vec<String>,
    pub all: bool,
    /// `--keep N`: all but the newest N versions of each chart go.
    pub keep: Option<usize>,
    /// `--older-than DURATION`, as typed (parsed by [`retention::parse_age`]).
    pub older_than: Option<String>,
    /// `--devel` (with `--keep`): pre-releases counted with the stable versions.
    pub devel: bool,
    pub dry_run: bool,
    /// `-o`: the result lines, or one JSON/YAML list of [`Record`]s (one per version deleted,
    /// one per chart with `--all`).
    pub format: Format,
}

pub fn run(s: &RmSettings, global: &Global) -> Result<()> {
    refuse_version_suffixes(&s.charts)?;
    let retention = retention(s)?;
    let versions = match retention {
        Some(_) => Vec::new(),
        None => requested_versions(s)?,
    };
    let groups = resolve(&s.charts, retention.is_some(), global)?;
    let report = Reporter::new(s.format, global.output(), false);
    let mut done = Done {
        report: &report,
        dry_run: s.dry_run,
        text: s.format == Format::Text,
        index: 0,
    };
    if let Some(rule) = &retention {
        let (failed, pruned) = retain(rule, &groups, &mut done, global)?;
        let finished = report.finish();
        if failed > 0 {
            bail!("deleting failed for {failed} of {} charts", failed + pruned);
        }
        return finished;
    }
    for (repo, target) in groups.values() {
        let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
        // Everything named is checked first: nothing is deleted unless it all exists.
        let plan = look_up(&client, &target.charts, &versions, s.all, &repo.display)?;
        delete(&client, &plan, &versions, &repo.display, &mut done)?;
    }
    report.finish()
}

/// Retention over every repository named: every chart is listed and judged first (an unknown
/// chart deletes nothing), then each loses what `rule` selects. Returns how many charts failed
/// to lose their versions and how many did.
fn retain(
    rule: &Retention,
    groups: &BTreeMap<String, (settings::Repo, Target)>,
    done: &mut Done<'_>,
    global: &Global,
) -> Result<(usize, usize)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut judged = Vec::new();
    for (repo, target) in groups.values() {
        let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
        let plans = look_up_retention(&client, target, rule, now, &repo.display)?;
        judged.push((client, plans, &repo.display));
    }
    let (mut failed, mut pruned) = (0, 0);
    for (client, plans, repo) in &judged {
        let (f, p) = prune(client, plans, repo, done, &global.output());
        failed += f;
        pruned += p;
    }
    Ok((failed, pruned))
}

/// The retention rule of `--keep`/`--older-than`, checked; `None` without either.
fn retention(s: &RmSettings) -> Result<Option<Retention>> {
    if s.keep.is_none() && s.older_than.is_none() {
        return Ok(None);
    }
    if s.keep == Some(0) {
        return Err(UsageError(
            "--keep 0 would delete every version; keep at least 1 (--keep 1), or delete whole charts with --all".into(),
        )
        .into());
    }
    let older_than = match &s.older_than {
        None => None,
        Some(text) => {
            let age =
                retention::parse_age(text).map_err(|e| UsageError(format!("--older-than: {e}")))?;
            Some(age)
        }
    };
    Ok(Some(Retention {
        keep: s.keep,
        older_than,
        devel: s.devel,
        all: s.all,
    }))
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
            "refusing to delete whole charts without --all; name versions with --version, or prune with --keep N / --older-than DURATION".into(),
        )
        .into());
    }
    Ok(versions)
}

/// What is named in one repository: charts, and with `REPO` alone (retention only) every
/// chart it holds.
struct Target {
    charts: Vec<String>,
    whole: bool,
}

/// The charts named, grouped by repository (each chart once, in the order given). `REPO`
/// alone names every chart of the repository, and only a retention rule may take that.
fn resolve(
    chart_refs: &[String],
    retention: bool,
    global: &Global,
) -> Result<BTreeMap<String, (settings::Repo, Target)>> {
    let mut groups: BTreeMap<String, (settings::Repo, Target)> = BTreeMap::new();
    for c in chart_refs {
        let (repo_arg, chart) = match reference::parse_chart_ref(c) {
            Ok((repo_arg, chart)) => (repo_arg, Some(chart)),
            Err(e) => match reference::parse_repo(c) {
                Ok(repo_arg) if retention => (repo_arg, None),
                Ok(_) => {
                    let shown = redact_userinfo(c);
                    let shown = shown.trim_end_matches('/');
                    return Err(UsageError(format!(
                        "{shown:?} is a whole repository: name charts as REPO/CHART (e.g. {shown}/mychart), or prune every chart of it with --keep N or --older-than DURATION"
                    ))
                    .into());
                }
                Err(_) => return Err(e),
            },
        };
        let repo = settings::resolve_repo(&repo_arg, &global.env)?;
        let key = repo.url.repo_url();
        let entry = groups.entry(key).or_insert_with(|| {
            (
                repo,
                Target {
                    charts: Vec::new(),
                    whole: false,
                },
            )
        });
        match chart {
            Some(chart) if !entry.1.charts.contains(&chart) => entry.1.charts.push(chart),
            Some(_) => {}
            None => entry.1.whole = true,
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
    /// Text output: the lines that are no record ("Nothing to delete ...") are printed.
    text: bool,
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
                report_versions(chart, present, versions, repo, "", done);
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
    suffix: &str,
    done: &mut Done<'_>,
) {
    let verb = done.verb();
    for (i, v) in versions.iter().enumerate() {
        let line = if i == 0 {
            format!("{verb} {chart} {} from {repo}{suffix}", versions.join(", "))
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

/// One chart's fate under a retention rule.
struct Pruning {
    chart: String,
    /// Every version the chart holds (for digests).
    present: Vec<HelmChartVersion>,
    selection: Selection,
}

/// Lists every chart concerned (those named, then with `REPO` alone every chart the
/// repository holds) and judges each by `rule`; nothing is deleted here.
fn look_up_retention(
    client: &Registry,
    target: &Target,
    rule: &Retention,
    now: i64,
    repo: &str,
) -> Result<Vec<Pruning>> {
    let mut charts = target.charts.clone();
    if target.whole {
        for c in client.list_charts()? {
            if !charts.contains(&c.name) {
                charts.push(c.name);
            }
        }
    }
    let mut plans = Vec::new();
    for chart in charts {
        let present = client.existing_versions(&chart, repo)?;
        let selection = retention::select(&present, rule, now);
        plans.push(Pruning {
            chart,
            present,
            selection,
        });
    }
    Ok(plans)
}

/// Deletes what each chart's selection names (one call per chart, the batch endpoint for
/// several versions) unless `--dry-run`, and reports it. A failed delete is reported for its
/// chart and the others go on. Returns how many charts failed and how many lost versions.
fn prune(
    client: &Registry,
    plans: &[Pruning],
    repo: &str,
    done: &mut Done<'_>,
    out: &Output,
) -> (usize, usize) {
    let (mut failed, mut pruned) = (0, 0);
    if plans.is_empty() && done.text {
        out.info(&format!("Nothing to delete in {repo}: it holds no charts"));
    }
    for p in plans {
        let sel = &p.selection;
        if !sel.undated.is_empty() {
            out.warn(&format!(
                "{}: the registry gives no creation time for {}; a version without one is never deleted by age",
                p.chart,
                sel.undated.join(", ")
            ));
        }
        if let Some(v) = &sel.spared {
            out.note(&format!(
                "kept {} {v}, its newest version: --older-than alone never deletes every version of a chart (add --all to allow it)",
                p.chart
            ));
        }
        if sel.delete.is_empty() {
            if done.text {
                out.info(&format!(
                    "Nothing to delete from {} in {repo} ({} kept)",
                    p.chart, sel.kept
                ));
            }
            continue;
        }
        if !done.dry_run {
            let deleted = match sel.delete.as_slice() {
                [one] => client.delete_version(&p.chart, one),
                many => client.delete_versions(&p.chart, many),
            };
            if let Err(e) = deleted {
                done.report.fail(done.index, &p.chart, repo, &e);
                done.index += 1;
                failed += 1;
                continue;
            }
        }
        pruned += 1;
        let kept = format!(" ({} kept)", sel.kept);
        report_versions(&p.chart, &p.present, &sel.delete, repo, &kept, done);
    }
    (failed, pruned)
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
