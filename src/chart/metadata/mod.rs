//! `Chart.yaml` (and `Chart.lock`) as Helm models them: decoding with Helm's leniency,
//! validation with Helm's rules, and serialisation as Helm's `helm package` writes them.
//!
//! Decoding follows `sigs.k8s.io/yaml`: YAML 1.1 scalars, numbers and booleans accepted where a
//! string is expected (`version: 1.0` is the string `1`, `appVersion: 1.10` is `1.1`, exactly
//! what Helm makes of them), unknown keys ignored, keys matched case-insensitively when no exact
//! match exists, only the first YAML document read.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use super::yaml::{self, Node, Out};
use decode::{decode_dependency, field_for, object_entries, sanitize, set_string};

/// A chart maintainer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// A dependency declared in `Chart.yaml` (or locked in `Chart.lock`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    pub name: String,
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// Free-form entries (strings or `{child, parent}` maps), kept as data.
    pub import_values: Vec<Out>,
    pub alias: String,
}

/// The metadata of a chart: every field Helm's `chart.Metadata` knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub api_version: String,
    pub name: String,
    pub home: String,
    pub sources: Vec<String>,
    pub version: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub maintainers: Vec<Maintainer>,
    pub icon: String,
    /// Deprecated chart-level `condition` (Helm still carries it).
    pub condition: String,
    /// Deprecated chart-level `tags` (a string in Helm's model).
    pub tags: String,
    pub app_version: String,
    pub deprecated: bool,
    pub annotations: BTreeMap<String, String>,
    pub kube_version: String,
    pub dependencies: Vec<Dependency>,
    /// `type`: empty, `application` or `library`.
    pub chart_type: String,
}

/// `Chart.lock` as Helm models it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lock {
    /// RFC 3339 with nanoseconds, as Go prints a `time.Time` (zero time when absent).
    pub generated: String,
    pub digest: String,
    /// `None` when absent or null (Helm then writes `dependencies: null`); `None` entries are
    /// null list items.
    pub dependencies: Option<Vec<Option<Dependency>>>,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn document(bytes: &[u8]) -> Result<Node> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("not valid UTF-8"))?;
    yaml::parse_first_document(text).map_err(|e| anyhow!("invalid YAML: {e}"))
}

/// Parses `Chart.yaml` as Helm's loader does (a missing `apiVersion` means `v1`). No validation:
/// see [`Metadata::validate`].
pub fn parse(bytes: &[u8]) -> Result<Metadata> {
    let mut md = Metadata::default();
    md.merge_yaml(bytes)?;
    if md.api_version.is_empty() {
        md.api_version = "v1".into();
    }
    Ok(md)
}

/// Parses `Chart.lock` (or `requirements.lock`) as Helm does.
pub fn parse_lock(bytes: &[u8]) -> Result<Lock> {
    let doc = document(bytes)?;
    let mut lock = Lock {
        generated: GO_ZERO_TIME.into(),
        ..Lock::default()
    };
    let entries = match &doc {
        Node::Null => return Ok(lock),
        Node::Map(m) => object_entries(m)?,
        other => bail!("cannot unmarshal {} into a lock file", other.kind_name()),
    };
    for (key, value) in entries {
        match field_for(&key, &["generated", "digest", "dependencies"]) {
            Some("generated") => match value {
                Node::Null => {}
                Node::Str(s) => {
                    lock.generated = normalize_rfc3339(s).ok_or_else(|| {
                        anyhow!("field \"generated\": {s:?} is not an RFC 3339 time")
                    })?
                }
                other => bail!(
                    "field \"generated\": cannot unmarshal {} into a time",
                    other.kind_name()
                ),
            },
            Some("digest") => set_string(&mut lock.digest, value, "digest")?,
            Some("dependencies") => match value {
                Node::Null => lock.dependencies = None,
                Node::Seq(items) => {
                    let mut deps = Vec::new();
                    for it in items {
                        deps.push(match it {
                            Node::Null => None,
                            Node::Map(m) => Some(decode_dependency(m)?),
                            other => bail!(
                                "field \"dependencies\": cannot unmarshal {} into a dependency",
                                other.kind_name()
                            ),
                        });
                    }
                    lock.dependencies = Some(deps);
                }
                other => bail!(
                    "field \"dependencies\": cannot unmarshal {} into a list",
                    other.kind_name()
                ),
            },
            _ => {}
        }
    }
    Ok(lock)
}

impl Metadata {
    /// Helm's `Metadata.Validate`: normalises whitespace and drops non-printable characters in
    /// the text fields Helm sanitises, then checks the rules. The error is one sentence naming
    /// the field and the rule. (`apiVersion` other than v1/v2 is refused, as Helm 4 does.)
    pub fn validate(&mut self) -> std::result::Result<(), String> {
        for s in [
            &mut self.name,
            &mut self.description,
            &mut self.home,
            &mut self.icon,
            &mut self.condition,
            &mut self.tags,
            &mut self.app_version,
            &mut self.kube_version,
        ] {
            sanitize(s);
        }
        self.sources.iter_mut().for_each(sanitize);
        self.keywords.iter_mut().for_each(sanitize);
        if self.api_version.is_empty() {
            return Err("apiVersion is required".into());
        }
        if self.api_version != "v1" && self.api_version != "v2" {
            return Err(format!(
                "apiVersion {:?} is not supported (must be v1 or v2)",
                self.api_version
            ));
        }
        if self.name.is_empty() {
            return Err("name is required".into());
        }
        if self.name == "." || self.name == ".." {
            return Err(format!("name {:?} is not allowed", self.name));
        }
        if self.name.contains('/') {
            return Err(format!("name {:?} must not contain '/'", self.name));
        }
        if self.version.is_empty() {
            return Err("version is required".into());
        }
        if parse_loose_version(&self.version).is_err() {
            return Err(format!("version {:?} is not a valid SemVer", self.version));
        }
        if !matches!(self.chart_type.as_str(), "" | "application" | "library") {
            return Err(format!(
                "type {:?} is invalid (must be application or library)",
                self.chart_type
            ));
        }
        for m in &mut self.maintainers {
            sanitize(&mut m.name);
            sanitize(&mut m.email);
            sanitize(&mut m.url);
        }
        let mut seen = std::collections::HashSet::new();
        for d in &mut self.dependencies {
            sanitize(&mut d.name);
            sanitize(&mut d.version);
            sanitize(&mut d.repository);
            sanitize(&mut d.condition);
            d.tags.iter_mut().for_each(sanitize);
            if !d.alias.is_empty()
                && !d
                    .alias
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            {
                return Err(format!(
                    "dependency {:?} has disallowed characters in the alias",
                    d.name
                ));
            }
            let key = if d.alias.is_empty() {
                d.name.clone()
            } else {
                d.alias.clone()
            };
            if !seen.insert(key.clone()) {
                return Err(format!(
                    "more than one dependency with name or alias {key:?}"
                ));
            }
        }
        Ok(())
    }

    /// The version parsed as loose SemVer (what Helm accepts).
    pub fn semver(&self) -> Result<semver::Version> {
        parse_loose_version(&self.version)
    }
}

// ---------------------------------------------------------------------------------------------
// Versions

/// Masterminds SemVer's loose parsing (what Helm uses for chart versions): an optional `v`,
/// one to three numeric parts (`1.0` is 1.0.0), then an optional pre-release and build
/// metadata. `1.2.3.4` is refused, as are pre-release numbers with leading zeros.
pub fn parse_loose_version(s: &str) -> Result<semver::Version> {
    let bad = || anyhow!("{s:?} is not a valid SemVer");
    let body = s.strip_prefix('v').unwrap_or(s);
    // Split off build metadata, then pre-release (the first '-' after the numeric core).
    let (rest, build) = match body.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (body, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(bad());
    }
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        nums[i] = p.parse::<u64>().map_err(|_| bad())?;
    }
    let ident_ok =
        |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
    let pre = match pre {
        None => semver::Prerelease::EMPTY,
        Some(p) => {
            for id in p.split('.') {
                if !ident_ok(id) {
                    return Err(bad());
                }
                if id.bytes().all(|c| c.is_ascii_digit()) && id.len() > 1 && id.starts_with('0') {
                    return Err(bad());
                }
            }
            semver::Prerelease::new(p).map_err(|_| bad())?
        }
    };
    let build = match build {
        None => semver::BuildMetadata::EMPTY,
        Some(b) => {
            if !b.split('.').all(ident_ok) {
                return Err(bad());
            }
            semver::BuildMetadata::new(b).map_err(|_| bad())?
        }
    };
    Ok(semver::Version {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        pre,
        build,
    })
}

// ---------------------------------------------------------------------------------------------
// Time (Chart.lock `generated`)

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Parses an RFC 3339 time as Go's `time.Time.UnmarshalJSON` does and prints it as Go's
/// `MarshalJSON` does (RFC 3339 with nanoseconds, trailing zeros trimmed, `Z` for UTC).
fn normalize_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (_y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac = String::new();
    if b[i] == b'.' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st || i - st > 9 {
            return None;
        }
        frac = s[st..i].trim_end_matches('0').to_string();
    }
    let zone = &s[i..];
    let zone = if zone == "Z" {
        "Z".to_string()
    } else {
        let zb = zone.as_bytes();
        if zb.len() != 6 || !(zb[0] == b'+' || zb[0] == b'-') || zb[3] != b':' {
            return None;
        }
        let zh = num(i + 1..i + 3)?;
        let zm = num(i + 4..i + 6)?;
        if zh > 23 || zm > 59 {
            return None;
        }
        if zh == 0 && zm == 0 {
            "Z".to_string()
        } else {
            zone.to_string()
        }
    };
    let mut out = s[..19].to_string();
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    out.push_str(&zone);
    Some(out)
}

/// Checks a chart name as it may appear in a reference: Helm's rules (no `/`, not `.`/`..`),
/// and nothing that is not a plain name.
pub fn check_chart_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(|c| c.is_control() || c.is_whitespace());
    if !ok {
        bail!("{name:?} is not a valid chart name");
    }
    Ok(())
}

mod decode;
#[cfg(test)]
mod tests;
mod write;
