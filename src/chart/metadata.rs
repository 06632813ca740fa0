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
    /// Decodes a YAML document onto this metadata, setting only the fields it names (what
    /// Helm does with `requirements.yaml`, which it decodes onto the parsed `Chart.yaml`).
    pub fn merge_yaml(&mut self, bytes: &[u8]) -> Result<()> {
        let doc = document(bytes)?;
        let entries = match &doc {
            Node::Null => return Ok(()),
            Node::Map(m) => object_entries(m)?,
            other => bail!("cannot unmarshal {} into chart metadata", other.kind_name()),
        };
        const FIELDS: &[&str] = &[
            "name",
            "home",
            "sources",
            "version",
            "description",
            "keywords",
            "maintainers",
            "icon",
            "apiVersion",
            "condition",
            "tags",
            "appVersion",
            "deprecated",
            "annotations",
            "kubeVersion",
            "dependencies",
            "type",
        ];
        for (key, v) in entries {
            let Some(f) = field_for(&key, FIELDS) else {
                continue;
            };
            match f {
                "name" => set_string(&mut self.name, v, f)?,
                "home" => set_string(&mut self.home, v, f)?,
                "sources" => set_string_list(&mut self.sources, v, f)?,
                "version" => set_string(&mut self.version, v, f)?,
                "description" => set_string(&mut self.description, v, f)?,
                "keywords" => set_string_list(&mut self.keywords, v, f)?,
                "maintainers" => match v {
                    Node::Null => self.maintainers.clear(),
                    Node::Seq(items) => {
                        let mut out = Vec::new();
                        for it in items {
                            match it {
                                Node::Map(m) => out.push(decode_maintainer(m)?),
                                Node::Null => {
                                    bail!("maintainers must not contain empty or null nodes")
                                }
                                other => bail!(
                                    "field \"maintainers\": cannot unmarshal {} into a maintainer",
                                    other.kind_name()
                                ),
                            }
                        }
                        self.maintainers = out;
                    }
                    other => bail!(
                        "field \"maintainers\": cannot unmarshal {} into a list",
                        other.kind_name()
                    ),
                },
                "icon" => set_string(&mut self.icon, v, f)?,
                "apiVersion" => set_string(&mut self.api_version, v, f)?,
                "condition" => set_string(&mut self.condition, v, f)?,
                "tags" => set_string(&mut self.tags, v, f)?,
                "appVersion" => set_string(&mut self.app_version, v, f)?,
                "deprecated" => set_bool(&mut self.deprecated, v, f)?,
                "annotations" => match v {
                    Node::Null => self.annotations.clear(),
                    Node::Map(m) => {
                        for (k, val) in object_entries(m)? {
                            let s = match val {
                                Node::Null => String::new(),
                                other => other.scalar_text().ok_or_else(|| {
                                    anyhow!(
                                        "field \"annotations\": cannot unmarshal {} into a string (key {k:?})",
                                        other.kind_name()
                                    )
                                })?,
                            };
                            self.annotations.insert(k, s);
                        }
                    }
                    other => bail!(
                        "field \"annotations\": cannot unmarshal {} into a map",
                        other.kind_name()
                    ),
                },
                "kubeVersion" => set_string(&mut self.kube_version, v, f)?,
                "dependencies" => match v {
                    Node::Null => self.dependencies.clear(),
                    Node::Seq(items) => {
                        let mut out = Vec::new();
                        for it in items {
                            match it {
                                Node::Map(m) => out.push(decode_dependency(m)?),
                                Node::Null => {
                                    bail!("dependencies must not contain empty or null nodes")
                                }
                                other => bail!(
                                    "field \"dependencies\": cannot unmarshal {} into a dependency",
                                    other.kind_name()
                                ),
                            }
                        }
                        self.dependencies = out;
                    }
                    other => bail!(
                        "field \"dependencies\": cannot unmarshal {} into a list",
                        other.kind_name()
                    ),
                },
                "type" => set_string(&mut self.chart_type, v, f)?,
                _ => unreachable!(),
            }
        }
        Ok(())
    }

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

    /// The data `helm package` writes as `Chart.yaml` (v1 charts drop `dependencies`).
    fn to_out(&self) -> Out {
        let mut m: Vec<(String, Out)> = Vec::new();
        let mut s = |k: &str, v: &str| {
            if !v.is_empty() {
                m.push((k.into(), Out::Str(v.into())));
            }
        };
        s("name", &self.name);
        s("home", &self.home);
        s("version", &self.version);
        s("description", &self.description);
        s("icon", &self.icon);
        s("apiVersion", &self.api_version);
        s("condition", &self.condition);
        s("tags", &self.tags);
        s("appVersion", &self.app_version);
        s("kubeVersion", &self.kube_version);
        s("type", &self.chart_type);
        if !self.sources.is_empty() {
            m.push(("sources".into(), str_seq(&self.sources)));
        }
        if !self.keywords.is_empty() {
            m.push(("keywords".into(), str_seq(&self.keywords)));
        }
        if !self.maintainers.is_empty() {
            let items = self
                .maintainers
                .iter()
                .map(|mt| {
                    let mut e = Vec::new();
                    for (k, v) in [("name", &mt.name), ("email", &mt.email), ("url", &mt.url)] {
                        if !v.is_empty() {
                            e.push((k.to_string(), Out::Str(v.clone())));
                        }
                    }
                    Out::Map(e)
                })
                .collect();
            m.push(("maintainers".into(), Out::Seq(items)));
        }
        if self.deprecated {
            m.push(("deprecated".into(), Out::Bool(true)));
        }
        if !self.annotations.is_empty() {
            m.push((
                "annotations".into(),
                Out::Map(
                    self.annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), Out::Str(v.clone())))
                        .collect(),
                ),
            ));
        }
        if self.api_version != "v1" && !self.dependencies.is_empty() {
            m.push((
                "dependencies".into(),
                Out::Seq(self.dependencies.iter().map(Dependency::to_out).collect()),
            ));
        }
        Out::Map(m)
    }

    /// `Chart.yaml` as `helm package` writes it: keys sorted as Go's YAML marshaller sorts
    /// them, empty fields omitted, `dependencies` omitted for `apiVersion: v1`.
    pub fn to_yaml(&self) -> String {
        yaml::emit_document(&self.to_out())
    }

    /// The version parsed as loose SemVer (what Helm accepts).
    pub fn semver(&self) -> Result<semver::Version> {
        parse_loose_version(&self.version)
    }
}

impl Dependency {
    fn to_out(&self) -> Out {
        let mut e = vec![
            ("name".to_string(), Out::Str(self.name.clone())),
            ("repository".to_string(), Out::Str(self.repository.clone())),
        ];
        for (k, v) in [
            ("version", &self.version),
            ("condition", &self.condition),
            ("alias", &self.alias),
        ] {
            if !v.is_empty() {
                e.push((k.to_string(), Out::Str(v.clone())));
            }
        }
        if !self.tags.is_empty() {
            e.push(("tags".into(), str_seq(&self.tags)));
        }
        if self.enabled {
            e.push(("enabled".into(), Out::Bool(true)));
        }
        if !self.import_values.is_empty() {
            e.push(("import-values".into(), Out::Seq(self.import_values.clone())));
        }
        Out::Map(e)
    }
}

impl Lock {
    /// `Chart.lock` as `helm package` writes it.
    pub fn to_yaml(&self) -> String {
        let deps = match &self.dependencies {
            None => Out::Null,
            Some(d) => Out::Seq(
                d.iter()
                    .map(|x| x.as_ref().map_or(Out::Null, Dependency::to_out))
                    .collect(),
            ),
        };
        yaml::emit_document(&Out::Map(vec![
            ("generated".into(), Out::Str(self.generated.clone())),
            ("digest".into(), Out::Str(self.digest.clone())),
            ("dependencies".into(), deps),
        ]))
    }
}

fn str_seq(v: &[String]) -> Out {
    Out::Seq(v.iter().map(|s| Out::Str(s.clone())).collect())
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers (the behaviour of sigs.k8s.io/yaml + encoding/json)

/// A YAML mapping as the JSON object Helm's YAML layer builds: keys as strings, a repeated key
/// keeps its last value, keys in sorted order (the order `encoding/json` then decodes them in).
fn object_entries(m: &[(Node, Node)]) -> Result<Vec<(String, &Node)>> {
    let mut map: BTreeMap<String, &Node> = BTreeMap::new();
    for (k, v) in m {
        let key = yaml::map_key_string(k).map_err(|e| anyhow!("{e}"))?;
        map.insert(key, v);
    }
    Ok(map.into_iter().collect())
}

/// The struct field `encoding/json` picks for a key: exact match, else case-insensitive.
fn field_for<'a>(key: &str, fields: &[&'a str]) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(key)))
        .copied()
}

fn set_string(field: &mut String, v: &Node, name: &str) -> Result<()> {
    match v {
        Node::Null => Ok(()),
        other => {
            *field = other.scalar_text().ok_or_else(|| {
                anyhow!(
                    "field {name:?}: cannot unmarshal {} into a string",
                    other.kind_name()
                )
            })?;
            Ok(())
        }
    }
}

fn set_bool(field: &mut bool, v: &Node, name: &str) -> Result<()> {
    match v {
        Node::Null => Ok(()),
        Node::Bool(b) => {
            *field = *b;
            Ok(())
        }
        other => bail!(
            "field {name:?}: cannot unmarshal {} into a bool",
            other.kind_name()
        ),
    }
}

fn set_string_list(field: &mut Vec<String>, v: &Node, name: &str) -> Result<()> {
    match v {
        Node::Null => {
            field.clear();
            Ok(())
        }
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                out.push(match it {
                    Node::Null => String::new(),
                    other => other.scalar_text().ok_or_else(|| {
                        anyhow!(
                            "field {name:?}: cannot unmarshal {} into a string",
                            other.kind_name()
                        )
                    })?,
                });
            }
            *field = out;
            Ok(())
        }
        other => bail!(
            "field {name:?}: cannot unmarshal {} into a list of strings",
            other.kind_name()
        ),
    }
}

fn decode_maintainer(m: &[(Node, Node)]) -> Result<Maintainer> {
    let mut mt = Maintainer::default();
    for (k, v) in object_entries(m)? {
        match field_for(&k, &["name", "email", "url"]) {
            Some("name") => set_string(&mut mt.name, v, "maintainers.name")?,
            Some("email") => set_string(&mut mt.email, v, "maintainers.email")?,
            Some("url") => set_string(&mut mt.url, v, "maintainers.url")?,
            _ => {}
        }
    }
    Ok(mt)
}

fn decode_dependency(m: &[(Node, Node)]) -> Result<Dependency> {
    let mut d = Dependency::default();
    const F: &[&str] = &[
        "name",
        "version",
        "repository",
        "condition",
        "tags",
        "enabled",
        "import-values",
        "alias",
    ];
    for (k, v) in object_entries(m)? {
        match field_for(&k, F) {
            Some("name") => set_string(&mut d.name, v, "dependencies.name")?,
            Some("version") => set_string(&mut d.version, v, "dependencies.version")?,
            Some("repository") => set_string(&mut d.repository, v, "dependencies.repository")?,
            Some("condition") => set_string(&mut d.condition, v, "dependencies.condition")?,
            Some("tags") => set_string_list(&mut d.tags, v, "dependencies.tags")?,
            Some("enabled") => set_bool(&mut d.enabled, v, "dependencies.enabled")?,
            Some("import-values") => match v {
                Node::Null => d.import_values.clear(),
                Node::Seq(items) => {
                    d.import_values = items
                        .iter()
                        .map(Out::from_node)
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|e| anyhow!("field \"dependencies.import-values\": {e}"))?
                }
                other => bail!(
                    "field \"dependencies.import-values\": cannot unmarshal {} into a list",
                    other.kind_name()
                ),
            },
            Some("alias") => set_string(&mut d.alias, v, "dependencies.alias")?,
            _ => {}
        }
    }
    Ok(d)
}

/// Go's `sanitizeString`: every Unicode space becomes ' ', non-printable characters go.
fn sanitize(s: &mut String) {
    if s.chars()
        .all(|c| (c == ' ' || !c.is_whitespace()) && is_go_printable(c))
    {
        return;
    }
    *s = s
        .chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if is_go_printable(c) {
                Some(c)
            } else {
                None
            }
        })
        .collect();
}

/// An approximation of Go's `unicode.IsPrint` for non-space characters: control and format
/// characters, private-use code points and noncharacters are not printable.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if c.is_control() {
        return false;
    }
    let format = matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let nonchar = (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE;
    !(format || private || nonchar)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_semver() {
        let ok = |s: &str, want: &str| {
            assert_eq!(parse_loose_version(s).unwrap().to_string(), want, "{s}")
        };
        ok("1.0", "1.0.0");
        ok("1", "1.0.0");
        ok("v1.2.3", "1.2.3");
        ok("01.2.3", "1.2.3");
        ok("1.2.3-alpha.1+build.01", "1.2.3-alpha.1+build.01");
        ok("1.2.3-0a", "1.2.3-0a");
        for bad in [
            "1.2.3.4",
            "",
            "v",
            "V1.2.3",
            "1.2.",
            ".1",
            "1..2",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.3-a_b",
            "x1",
            "1.2.3 ",
            "18446744073709551616",
        ] {
            assert!(parse_loose_version(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn lenient_decoding() {
        let md = parse(
            b"\xEF\xBB\xBFname: x\nversion: 1.0\nappVersion: 1.10\nkeywords: [1, yes, ~]\n\
              deprecated: yes\nannotations: {a: 1, b: ~}\nunknown: [1]\nHome: h\n",
        )
        .unwrap();
        assert_eq!(md.api_version, "v1");
        assert_eq!(md.version, "1");
        assert_eq!(md.app_version, "1.1");
        assert_eq!(md.keywords, vec!["1", "true", ""]);
        assert!(md.deprecated);
        assert_eq!(md.annotations["a"], "1");
        assert_eq!(md.annotations["b"], "");
        assert_eq!(md.home, "h");
        assert!(parse(b"name: [x]\n").is_err());
        assert!(parse(b"deprecated: 'true'\n").is_err());
        assert!(parse(b"maintainers: [~]\n").is_err());
        assert!(parse(b"- a\n").is_err());
        assert_eq!(parse(b"").unwrap().name, "");
    }

    #[test]
    fn validation_rules() {
        let v = |y: &str| parse(y.as_bytes()).unwrap().validate();
        assert!(v("apiVersion: v2\nname: a\nversion: 1.0.0\n").is_ok());
        assert!(v("name: a\nversion: v1.2\n").is_ok());
        assert!(v("apiVersion: v3\nname: a\nversion: 1.0.0\n").is_err());
        assert!(v("name: a/b\nversion: 1.0.0\n").is_err());
        assert!(v("name: ..\nversion: 1.0.0\n").is_err());
        assert!(v("version: 1.0.0\n").is_err());
        assert!(v("name: a\n").is_err());
        assert!(v("name: a\nversion: 1.2.3.4\n")
            .unwrap_err()
            .contains("SemVer"));
        assert!(v("name: a\nversion: 1.0.0\ntype: app\n").is_err());
        assert!(v(
            "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n- name: x\n  alias: a.b\n"
        )
        .is_err());
        assert!(v(
            "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n- name: x\n- name: x\n"
        )
        .is_err());
        let mut md =
            parse(b"name: a\nversion: 1.0.0\ndescription: \"a\\tb\\u200bc\\nd\"\n").unwrap();
        md.validate().unwrap();
        assert_eq!(md.description, "a bc d");
    }

    #[test]
    fn serialisation_as_helm() {
        let md = parse(
            b"apiVersion: v2\nname: mychart\ndescription: A Helm chart for Kubernetes\ntype: application\n\
              version: 0.1.0\nappVersion: \"1.16.0\"\n# comment\nextra: dropped\n\
              dependencies:\n- name: sub\n  version: ~1.0\n  repository: file://../sub\n  import-values: [data, {child: a, parent: b}]\n\
              maintainers:\n- name: me\n  email: me@x\n",
        )
        .unwrap();
        assert_eq!(
            md.to_yaml(),
            "apiVersion: v2\nappVersion: 1.16.0\ndependencies:\n- import-values:\n  - data\n  - child: a\n    parent: b\n  \
             name: sub\n  repository: file://../sub\n  version: ~1.0\ndescription: A Helm chart for Kubernetes\n\
             maintainers:\n- email: me@x\n  name: me\nname: mychart\ntype: application\nversion: 0.1.0\n"
        );
        let again = parse(md.to_yaml().as_bytes()).unwrap();
        assert_eq!(again, md);
        // v1 charts do not carry dependencies in Chart.yaml.
        let mut v1 = md.clone();
        v1.api_version = "v1".into();
        assert!(!v1.to_yaml().contains("dependencies"));
        // Strings that would read back as something else are quoted.
        let q = parse(
            b"name: a\nversion: 1.0.0\nappVersion: '1.10'\nannotations: {x: 'yes', y: '1e3'}\n",
        )
        .unwrap();
        assert_eq!(parse(q.to_yaml().as_bytes()).unwrap(), q);
        assert!(q.to_yaml().contains("appVersion: \"1.10\""));
    }

    #[test]
    fn lock_round_trip() {
        let l = parse_lock(
            b"dependencies:\n- name: sub\n  repository: file://../sub\n  version: 0.1.0\n\
              digest: sha256:abc\ngenerated: \"2024-05-06T07:08:09.120000+00:00\"\n",
        )
        .unwrap();
        assert_eq!(l.generated, "2024-05-06T07:08:09.12Z");
        assert_eq!(parse_lock(l.to_yaml().as_bytes()).unwrap(), l);
        assert_eq!(parse_lock(b"digest: x\n").unwrap().generated, GO_ZERO_TIME);
        assert!(parse_lock(b"generated: yesterday\n").is_err());
        assert!(parse_lock(b"generated: 2024-05-06T07:08:09+08:00\n").is_ok());
    }
}
