//! Retention: which versions of a chart a rule (`helm ccr rm --keep N` / `--older-than
//! DURATION`) selects, the `--older-than` duration and the registry's `created` times. Pure:
//! the command (`commands::rm`) lists, deletes and reports.
//!
//! The rules (README "Retention" says the same):
//! - `--keep N` (N >= 1) keeps the newest N versions of each chart in SemVer order. Pre-releases
//!   are counted on their own: the newest N stable versions and the newest N pre-releases stay.
//!   With `--devel` they are counted with the stable versions (the newest N of all stay).
//! - `--older-than D` selects the versions whose registry `created` time is more than D ago.
//!   A version without a `created` time that parses is never deleted by age (a warning says so).
//! - Both: a version goes only when both select it.
//! - `--older-than` without `--keep` never takes a chart's last version: the newest (stable if
//!   the chart has one) stays, with a note, unless `--all` is given too.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::chart::constraint;
use crate::registry::model::HelmChartVersion;
use crate::support::clock;

/// A retention rule: which versions of a chart go.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Keep the newest N (N >= 1).
    pub keep: Option<usize>,
    /// Delete what was created longer ago than this.
    pub older_than: Option<Duration>,
    /// Pre-releases counted with the stable versions.
    pub devel: bool,
    /// `--all`: `--older-than` may take every version of a chart.
    pub all: bool,
}

/// The longest `--older-than`: a hundred years (a typo beyond that, or an overflow).
const MAX_AGE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Parses `--older-than`: Go's units `h`, `m`, `s` plus `d` (24h) and `w` (7d), combined as Go
/// combines them (`1w2d`, `36h`, `1.5d`). A unit is required, and the age must be above zero.
pub fn parse_age(text: &str) -> Result<Duration> {
    let s = text.trim();
    let example = "use e.g. 30d, 12w, 36h";
    if s.is_empty() {
        bail!("empty duration ({example})");
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = match num.parse() {
            Ok(v) => v,
            Err(_) => bail!("invalid duration {s:?} ({example})"),
        };
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let factor = match unit {
            "w" => 7.0 * 86_400.0,
            "d" => 86_400.0,
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "" => bail!("duration {s:?} needs a unit: w, d, h, m or s ({example})"),
            _ => bail!("invalid duration {s:?}: unknown unit {unit:?} ({example})"),
        };
        total += value * factor;
        rest = next;
    }
    if !total.is_finite() || total > MAX_AGE.as_secs_f64() {
        bail!("duration {s:?} is longer than a hundred years");
    }
    if total < 1.0 {
        bail!("duration {s:?} would select every version; give an age, e.g. 30d");
    }
    Ok(Duration::from_secs_f64(total))
}

/// What a retention rule does to one chart.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// The versions to delete, newest first.
    pub delete: Vec<String>,
    /// How many versions stay.
    pub kept: usize,
    /// Versions `--older-than` could not judge (no `created` time that parses): kept.
    pub undated: Vec<String>,
    /// The newest version, kept because `--older-than` alone would have taken every version.
    pub spared: Option<String>,
}

/// Judges a chart's versions by `rule` at `now` (Unix seconds). Pure: see the module's rules.
pub fn select(present: &[HelmChartVersion], rule: &Retention, now: i64) -> Selection {
    let mut all: Vec<&HelmChartVersion> = present.iter().collect();
    all.sort_by(|a, b| constraint::compare(&b.version, &a.version));
    all.dedup_by(|a, b| a.version == b.version);
    let name = |v: &&HelmChartVersion| v.version.clone();
    // The versions beyond the newest N (all of them without --keep).
    let beyond: HashSet<String> = match rule.keep {
        None => all.iter().map(name).collect(),
        Some(n) if rule.devel => all.iter().skip(n).map(name).collect(),
        Some(n) => {
            let (pre, stable): (Vec<_>, Vec<_>) = all
                .iter()
                .partition(|v| constraint::is_prerelease(&v.version));
            stable
                .into_iter()
                .skip(n)
                .chain(pre.into_iter().skip(n))
                .map(name)
                .collect()
        }
    };
    let cutoff = rule
        .older_than
        .map(|d| now.saturating_sub(d.as_secs() as i64));
    let mut sel = Selection::default();
    for v in &all {
        if !beyond.contains(&v.version) {
            continue;
        }
        if let Some(cutoff) = cutoff {
            match v.created.as_deref().and_then(parse_rfc3339) {
                Some(t) if t < cutoff => {}
                Some(_) => continue,
                None => {
                    sel.undated.push(v.version.clone());
                    continue;
                }
            }
        }
        sel.delete.push(v.version.clone());
    }
    if !all.is_empty() && sel.delete.len() == all.len() && !rule.all {
        let newest = all
            .iter()
            .find(|v| !constraint::is_prerelease(&v.version))
            .unwrap_or(&all[0]);
        sel.delete.retain(|d| d != &newest.version);
        sel.spared = Some(newest.version.clone());
    }
    sel.kept = all.len() - sel.delete.len();
    sel
}

/// Parses an RFC 3339 time (`2022-08-01T08:26:41Z`; fractions and offsets allowed) to Unix
/// seconds. `None` for anything else, and for a time before 1970-01-02 (Go's zero time, year
/// 1, is how a registry says "unknown").
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let s = text.trim();
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return None;
    }
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    let (h, mi, sec) = (
        digits(&s[11..13])?,
        digits(&s[14..16])?,
        digits(&s[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' {
                return None;
            }
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let t = clock::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    (t >= 86_400).then_some(t)
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    /// 2026-01-01T00:00:00Z.
    const NOW: i64 = 1_767_225_600;

    /// A version created `age` days before [`NOW`] (`None`: no `created` field).
    fn v(version: &str, age: Option<i64>) -> HelmChartVersion {
        let created = age
            .map(|d| {
                format!(
                    ",\"created\":\"{}\"",
                    clock::format_timestamp(NOW - d * DAY)
                )
            })
            .unwrap_or_default();
        HelmChartVersion::from_json(&format!(
            "{{\"name\":\"app\",\"version\":\"{version}\"{created}}}"
        ))
        .unwrap()
    }

    fn chart() -> Vec<HelmChartVersion> {
        // Listed in upload order, not SemVer order.
        vec![
            v("1.0.0", Some(100)),
            v("1.10.0", Some(10)),
            v("1.2.0", Some(60)),
            v("2.0.0-rc.1", Some(50)),
            v("2.0.0-rc.2", Some(40)),
            v("1.9.0", Some(20)),
            v("0.1.0-alpha", Some(200)),
        ]
    }

    fn rule(keep: Option<usize>, days: Option<u64>, devel: bool, all: bool) -> Retention {
        Retention {
            keep,
            older_than: days.map(|d| Duration::from_secs(d * DAY as u64)),
            devel,
            all,
        }
    }

    #[test]
    fn keep_counts_prereleases_on_their_own() {
        let sel = select(&chart(), &rule(Some(2), None, false, false), NOW);
        assert_eq!(sel.delete, ["1.2.0", "1.0.0", "0.1.0-alpha"]);
        assert_eq!(sel.kept, 4);
        let sel = select(&chart(), &rule(Some(2), None, true, false), NOW);
        assert_eq!(
            sel.delete,
            ["1.10.0", "1.9.0", "1.2.0", "1.0.0", "0.1.0-alpha"],
            "--devel: 2.0.0-rc.2 and 2.0.0-rc.1 are the newest two"
        );
        let sel = select(&chart(), &rule(Some(10), None, false, false), NOW);
        assert!(sel.delete.is_empty());
        assert_eq!(sel.kept, 7);
    }

    #[test]
    fn older_than_goes_by_created_and_keeps_the_last_version() {
        let sel = select(&chart(), &rule(None, Some(45), false, false), NOW);
        assert_eq!(sel.delete, ["2.0.0-rc.1", "1.2.0", "1.0.0", "0.1.0-alpha"]);
        // Everything is older than a day: the newest stable version stays.
        let sel = select(&chart(), &rule(None, Some(1), false, false), NOW);
        assert_eq!(sel.spared.as_deref(), Some("1.10.0"));
        assert_eq!(sel.delete.len(), 6);
        assert_eq!(sel.kept, 1);
        // ... unless --all.
        let sel = select(&chart(), &rule(None, Some(1), false, true), NOW);
        assert_eq!(sel.delete.len(), 7);
        assert_eq!(sel.spared, None);
        // A chart of pre-releases only keeps its newest pre-release.
        let pre = [v("1.0.0-a", Some(9)), v("1.0.0-b", Some(9))];
        let sel = select(&pre, &rule(None, Some(1), false, false), NOW);
        assert_eq!(sel.delete, ["1.0.0-a"]);
    }

    #[test]
    fn both_rules_must_select_a_version() {
        // Beyond the newest 2: 1.2.0, 1.0.0, 0.1.0-alpha; older than 80 days: 1.0.0, 0.1.0-alpha.
        let sel = select(&chart(), &rule(Some(2), Some(80), false, false), NOW);
        assert_eq!(sel.delete, ["1.0.0", "0.1.0-alpha"]);
    }

    #[test]
    fn a_version_without_a_time_is_never_deleted_by_age() {
        let vs = [
            v("3.0.0", Some(1)),
            v("2.0.0", None),
            v("1.0.0", Some(90)),
            v("0.9.0", Some(90)),
        ];
        let mut zero = v("0.5.0", None);
        zero.created = Some("0001-01-01T00:00:00Z".into());
        let mut vs = vs.to_vec();
        vs.push(zero);
        let sel = select(&vs, &rule(None, Some(30), false, false), NOW);
        assert_eq!(sel.delete, ["1.0.0", "0.9.0"]);
        assert_eq!(sel.undated, ["2.0.0", "0.5.0"]);
        // --keep alone does not look at times.
        let sel = select(&vs, &rule(Some(1), None, false, false), NOW);
        assert_eq!(sel.delete, ["2.0.0", "1.0.0", "0.9.0", "0.5.0"]);
        assert!(sel.undated.is_empty());
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("2w").unwrap(), Duration::from_secs(14 * 86_400));
        assert_eq!(parse_age("1w2d").unwrap(), Duration::from_secs(9 * 86_400));
        assert_eq!(parse_age("36h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_age("1.5d").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(5400));
        for bad in [
            "",
            "30",
            "30x",
            "d",
            "-1d",
            "0d",
            "0s",
            "1y",
            "1.2.3d",
            "99999999999w",
        ] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(NOW));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00.123456Z"), Some(NOW));
        assert_eq!(parse_rfc3339("2026-01-01T08:00:00+08:00"), Some(NOW));
        assert_eq!(parse_rfc3339("2025-12-31T19:00:00-05:00"), Some(NOW));
        assert_eq!(parse_rfc3339("2026-01-01 00:00:00Z"), Some(NOW));
        for bad in [
            "",
            "yesterday",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0800",
            "0001-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "２026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
