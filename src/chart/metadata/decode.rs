//! Decoding `Chart.yaml` data onto [`Metadata`] the way `sigs.k8s.io/yaml` and `encoding/json`
//! do: numbers and booleans where a string is expected, keys matched case-insensitively when no
//! exact match exists, unknown keys ignored.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use super::super::yaml::{self, Node, Out};
use super::{document, Dependency, Maintainer, Metadata};

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
}

/// A YAML mapping as the JSON object Helm's YAML layer builds: keys as strings, a repeated key
/// keeps its last value, keys in sorted order (the order `encoding/json` then decodes them in).
pub(super) fn object_entries(m: &[(Node, Node)]) -> Result<Vec<(String, &Node)>> {
    let mut map: BTreeMap<String, &Node> = BTreeMap::new();
    for (k, v) in m {
        let key = yaml::map_key_string(k).map_err(|e| anyhow!("{e}"))?;
        map.insert(key, v);
    }
    Ok(map.into_iter().collect())
}

/// The struct field `encoding/json` picks for a key: exact match, else case-insensitive.
pub(super) fn field_for<'a>(key: &str, fields: &[&'a str]) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(key)))
        .copied()
}

pub(super) fn set_string(field: &mut String, v: &Node, name: &str) -> Result<()> {
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

pub(super) fn decode_dependency(m: &[(Node, Node)]) -> Result<Dependency> {
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
pub(super) fn sanitize(s: &mut String) {
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
