//! Choosing versions: SemVer ordering of the registry's versions and Helm-style (Masterminds)
//! constraints such as `^1.2`, `~1.2.3`, `>=1.0 <2.0`, `1.2.x` or `1.0 || 2.x`.

use std::cmp::Ordering;

use anyhow::{bail, Result};
use semver::Version;

use crate::chart::metadata::parse_loose_version;
use crate::error::UsageError;
use crate::registry::model::HelmChartVersion;

/// A `--version` that cannot be a constraint is a usage error, said once, before any request.
pub fn check_version_flag(w: &str) -> anyhow::Result<()> {
    if w.trim().is_empty() {
        return Err(UsageError("--version is empty".into()).into());
    }
    Constraint::parse(w).map(|_| ()).map_err(|_| {
        UsageError(format!(
            "invalid --version {w:?}: give a version or a constraint such as 1.2.3, ^1.2, ~1.2.3 or \">=1.0 <2.0\""
        ))
        .into()
    })
}

/// Orders versions by SemVer precedence (build metadata ignored); versions that do not parse
/// sort below every version that does, by text.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse_loose_version(a), parse_loose_version(b)) {
        (Ok(x), Ok(y)) => x.cmp_precedence(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Sorts newest first.
pub fn sort_newest_first(versions: &mut [HelmChartVersion]) {
    versions.sort_by(|a, b| compare(&b.version, &a.version));
}

/// True for a version with a pre-release part.
pub fn is_prerelease(v: &str) -> bool {
    parse_loose_version(v).is_ok_and(|v| !v.pre.is_empty())
}

/// The `n` newest versions by the rule `ls` shows them: stable versions unless `devel`, all
/// of them when a chart has nothing but pre-releases.
pub fn newest(versions: &[HelmChartVersion], devel: bool, n: usize) -> Vec<String> {
    let mut all: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
    all.sort_by(|a, b| compare(b, a));
    all.dedup();
    let stable: Vec<&str> = all.iter().copied().filter(|v| !is_prerelease(v)).collect();
    let shown = if devel || stable.is_empty() {
        all
    } else {
        stable
    };
    shown.into_iter().take(n).map(str::to_string).collect()
}

/// A chart name with a version after its last `:` (`mychart:0.2.0`, the `NAME:TAG` habit of
/// images and OCI references): the name and the version. `None` for anything else.
pub fn version_suffix(chart: &str) -> Option<(&str, &str)> {
    let (name, version) = chart.rsplit_once(':')?;
    if name.is_empty() || parse_loose_version(version).is_err() {
        return None;
    }
    Some((name, version))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Tilde,
    Caret,
}

/// A version with wildcards: how many of major/minor/patch were given.
#[derive(Debug, Clone)]
struct Partial {
    v: Version,
    given: usize,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    p: Partial,
}

/// A parsed constraint: alternatives (`||`) of comparator sets (all must hold).
#[derive(Debug, Clone)]
pub struct Constraint {
    alternatives: Vec<Vec<Comparator>>,
}

fn parse_partial(s: &str, whole: &str) -> Result<Partial> {
    let bad = || anyhow::anyhow!("invalid version constraint {whole:?}");
    let s = s.strip_prefix('v').unwrap_or(s);
    if s.is_empty() {
        bail!(bad());
    }
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        bail!(bad());
    }
    let mut nums = [0u64; 3];
    let mut given = 0;
    for (i, p) in parts.iter().enumerate() {
        if matches!(*p, "x" | "X" | "*") {
            break;
        }
        nums[i] = p.parse().map_err(|_| bad())?;
        given = i + 1;
    }
    if given < parts.len() && !rest.is_empty() {
        bail!(bad());
    }
    let text = format!("{}.{}.{}{}", nums[0], nums[1], nums[2], rest);
    let v = Version::parse(&text).map_err(|_| bad())?;
    Ok(Partial { v, given })
}

impl Constraint {
    pub fn parse(s: &str) -> Result<Constraint> {
        let whole = s;
        let mut alternatives = Vec::new();
        for alt in s.split("||") {
            let mut tokens: Vec<String> = Vec::new();
            let mut pending_op: Option<String> = None;
            let cleaned = alt.replace(',', " ");
            let words: Vec<&str> = cleaned.split_whitespace().collect();
            let mut i = 0;
            let mut comparators = Vec::new();
            while i < words.len() {
                let w = words[i];
                // Hyphen range: `1.2 - 1.4.5`.
                if i + 2 < words.len() && words[i + 1] == "-" {
                    comparators.push(Comparator {
                        op: Op::Ge,
                        p: parse_partial(w, whole)?,
                    });
                    let hi = parse_partial(words[i + 2], whole)?;
                    comparators.push(Comparator { op: Op::Le, p: hi });
                    i += 3;
                    continue;
                }
                let is_op_only = w.chars().all(|c| "=<>!~^".contains(c));
                if is_op_only {
                    if pending_op.is_some() {
                        bail!("invalid version constraint {whole:?}");
                    }
                    pending_op = Some(w.to_string());
                } else {
                    tokens.push(format!("{}{}", pending_op.take().unwrap_or_default(), w));
                }
                i += 1;
            }
            if pending_op.is_some() {
                bail!("invalid version constraint {whole:?}");
            }
            for t in tokens {
                let (op, rest) = split_op(&t);
                let op = match op {
                    "" | "=" | "==" => Op::Eq,
                    "!=" => Op::Ne,
                    ">" => Op::Gt,
                    ">=" | "=>" => Op::Ge,
                    "<" => Op::Lt,
                    "<=" | "=<" => Op::Le,
                    "~" | "~>" => Op::Tilde,
                    "^" => Op::Caret,
                    _ => bail!("invalid version constraint {whole:?}"),
                };
                comparators.push(Comparator {
                    op,
                    p: parse_partial(rest, whole)?,
                });
            }
            if comparators.is_empty() {
                bail!("invalid version constraint {whole:?}");
            }
            alternatives.push(comparators);
        }
        Ok(Constraint { alternatives })
    }

    /// True when `v` satisfies the constraint. A pre-release satisfies it only when `devel`
    /// or a comparator of the same alternative names a pre-release.
    pub fn matches(&self, v: &Version, devel: bool) -> bool {
        self.alternatives.iter().any(|set| {
            let allows_pre = devel || set.iter().any(|c| !c.p.v.pre.is_empty());
            (v.pre.is_empty() || allows_pre) && set.iter().all(|c| c.matches(v))
        })
    }
}

fn split_op(t: &str) -> (&str, &str) {
    let n = t.find(|c: char| !"=<>!~^".contains(c)).unwrap_or(t.len());
    (&t[..n], &t[n..])
}

fn bump(p: &Partial, level: usize) -> Version {
    let v = &p.v;
    match level {
        0 => Version::new(v.major + 1, 0, 0),
        1 => Version::new(v.major, v.minor + 1, 0),
        _ => Version::new(v.major, v.minor, v.patch + 1),
    }
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        let p = &self.p;
        let lo = &p.v;
        let cmp = |a: &Version, b: &Version| a.cmp_precedence(b);
        // The upper end (exclusive) of a wildcard: `1.2.x` spans [1.2.0, 1.3.0).
        let wild_hi = || match p.given {
            0 => None,
            1 => Some(bump(p, 0)),
            2 => Some(bump(p, 1)),
            _ => None,
        };
        match self.op {
            Op::Eq | Op::Ne => {
                let eq = match p.given {
                    0 => true,
                    1 => v.major == lo.major,
                    2 => v.major == lo.major && v.minor == lo.minor,
                    _ => cmp(v, lo) == Ordering::Equal,
                };
                eq == (self.op == Op::Eq)
            }
            Op::Gt => match wild_hi() {
                Some(hi) => cmp(v, &hi) != Ordering::Less,
                None if p.given == 0 => false,
                None => cmp(v, lo) == Ordering::Greater,
            },
            Op::Ge => cmp(v, lo) != Ordering::Less,
            Op::Lt => cmp(v, lo) == Ordering::Less,
            Op::Le => match wild_hi() {
                Some(hi) => cmp(v, &hi) == Ordering::Less,
                None if p.given == 0 => true,
                None => cmp(v, lo) != Ordering::Greater,
            },
            Op::Tilde => {
                let hi = if p.given <= 1 { bump(p, 0) } else { bump(p, 1) };
                cmp(v, lo) != Ordering::Less && cmp(v, &hi) == Ordering::Less
            }
            Op::Caret => {
                let hi = if lo.major > 0 || p.given <= 1 {
                    bump(p, 0)
                } else if lo.minor > 0 || p.given == 2 {
                    bump(p, 1)
                } else {
                    bump(p, 2)
                };
                cmp(v, lo) != Ordering::Less && cmp(v, &hi) == Ordering::Less
            }
        }
    }
}

/// Picks the version to pull: an exact text match first; else the highest version satisfying
/// the constraint; with no constraint the latest (pre-releases only with `devel`).
pub fn select<'a>(
    versions: &'a [HelmChartVersion],
    wanted: Option<&str>,
    devel: bool,
) -> Result<Option<&'a HelmChartVersion>> {
    if let Some(w) = wanted {
        if let Some(v) = versions.iter().find(|v| v.version == w) {
            return Ok(Some(v));
        }
    }
    let constraint = match wanted {
        Some(w) => Some(Constraint::parse(w)?),
        None => None,
    };
    let mut best: Option<(&HelmChartVersion, Version)> = None;
    for hv in versions {
        let Ok(v) = parse_loose_version(&hv.version) else {
            continue;
        };
        let ok = match &constraint {
            Some(c) => c.matches(&v, devel),
            None => devel || v.pre.is_empty(),
        };
        if ok
            && best
                .as_ref()
                .is_none_or(|(_, b)| v.cmp_precedence(b) == Ordering::Greater)
        {
            best = Some((hv, v));
        }
    }
    Ok(best.map(|(hv, _)| hv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: &str, v: &str) -> bool {
        Constraint::parse(c)
            .unwrap()
            .matches(&parse_loose_version(v).unwrap(), false)
    }

    #[test]
    fn masterminds_constraints() {
        assert!(m("^1.2", "1.9.0") && !m("^1.2", "2.0.0") && !m("^1.2", "1.1.9"));
        assert!(m("^0.2.3", "0.2.9") && !m("^0.2.3", "0.3.0"));
        assert!(m("~1.2.3", "1.2.9") && !m("~1.2.3", "1.3.0"));
        assert!(m("~1", "1.9.9") && !m("~1", "2.0.0"));
        assert!(m(">=1.0 <2.0", "1.5.0") && !m(">=1.0 <2.0", "2.0.0"));
        assert!(m(">= 1.0, < 2.0", "1.0.0"));
        assert!(m("1.2.x", "1.2.7") && !m("1.2.x", "1.3.0"));
        assert!(m("1.2", "1.2.5"), "a partial version is a wildcard");
        assert!(m("1.0 || 2.x", "2.3.0") && !m("1.0 || 2.x", "3.0.0"));
        assert!(m("1.2 - 1.4.5", "1.4.5") && !m("1.2 - 1.4.5", "1.4.6"));
        assert!(m("!=1.0.0", "1.0.1") && !m("!=1.0.0", "1.0.0"));
        assert!(m(">1.2.x", "1.3.0") && !m(">1.2.x", "1.2.9"));
        assert!(m("*", "3.0.0"));
        assert!(!m(">=1.0", "2.0.0-rc.1"), "pre-releases need asking for");
        assert!(m(">=2.0.0-0", "2.0.0-rc.1"));
        assert!(m("v1.2.3", "1.2.3"));
    }

    #[test]
    fn bad_constraints_are_errors() {
        for bad in ["", "abc", ">=", "1.2.3.4", "1.x.3-rc", "^^1", "1 ||"] {
            assert!(Constraint::parse(bad).is_err(), "{bad}");
        }
    }

    fn hv(v: &str) -> HelmChartVersion {
        let raw = serde_json::json!({"name": "a", "version": v});
        HelmChartVersion::from_json(&raw.to_string()).unwrap()
    }

    #[test]
    fn selection() {
        let vs: Vec<_> = ["1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1", "weird", "v0.5"]
            .iter()
            .map(|v| hv(v))
            .collect();
        let pick =
            |w: Option<&str>, devel| select(&vs, w, devel).unwrap().map(|v| v.version.clone());
        assert_eq!(pick(None, false).as_deref(), Some("1.10.0"));
        assert_eq!(pick(None, true).as_deref(), Some("2.0.0-rc.1"));
        assert_eq!(pick(Some("~1.9"), false).as_deref(), Some("1.9.0"));
        assert_eq!(pick(Some("weird"), false).as_deref(), Some("weird"));
        assert_eq!(pick(Some("0.5.0"), false).as_deref(), Some("v0.5"));
        assert_eq!(pick(Some(">=3"), false), None);
        let mut sorted = vs.clone();
        sort_newest_first(&mut sorted);
        let order: Vec<_> = sorted.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(
            order,
            ["2.0.0-rc.1", "1.10.0", "1.9.0", "1.0.0", "v0.5", "weird"]
        );
    }

    #[test]
    fn newest_versions_follow_the_prerelease_rule() {
        let vs: Vec<_> = ["1.0.0", "1.2.0", "2.0.0-rc.1", "1.1.0", "0.9.0"]
            .iter()
            .map(|v| hv(v))
            .collect();
        assert_eq!(newest(&vs, false, 3), ["1.2.0", "1.1.0", "1.0.0"]);
        assert_eq!(newest(&vs, true, 2), ["2.0.0-rc.1", "1.2.0"]);
        let pre: Vec<_> = ["0.1.0-rc.1", "0.1.0-rc.2"].iter().map(|v| hv(v)).collect();
        assert_eq!(newest(&pre, false, 3), ["0.1.0-rc.2", "0.1.0-rc.1"]);
        assert!(newest(&[], false, 3).is_empty());
    }

    #[test]
    fn versions_written_into_a_chart_name() {
        assert_eq!(version_suffix("mychart:0.2.0"), Some(("mychart", "0.2.0")));
        assert_eq!(version_suffix("a:v1.2"), Some(("a", "v1.2")));
        assert_eq!(
            version_suffix("my:chart:1.0.0-rc.1"),
            Some(("my:chart", "1.0.0-rc.1"))
        );
        assert_eq!(version_suffix("mychart"), None);
        assert_eq!(version_suffix("mychart:latest"), None);
        assert_eq!(version_suffix(":1.0.0"), None);
    }
}
