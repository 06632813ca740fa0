//! A small YAML layer that reproduces what Helm's YAML stack (`sigs.k8s.io/yaml` on top of
//! `yaml.v2`, i.e. YAML 1.1 scalar resolution) makes of a document, and an emitter whose
//! output Helm reads back as the same data.
//!
//! Parsing uses the event parser that ships with `serde-saphyr` (`granit_parser`), so the raw
//! text and style of every scalar is known and plain scalars can be resolved the way `yaml.v2`
//! resolves them (`yes` is a boolean, `0777` is octal, `1_000` is an integer, `1.10` is the
//! float 1.1, ...).

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

/// A YAML node after `yaml.v2` resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; merge keys (`<<`) already applied.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The name Go's JSON decoder uses for this kind of value in its error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "bool",
            Node::Int(_) | Node::Uint(_) | Node::Float(_) => "number",
            Node::Str(_) => "string",
            Node::Seq(_) => "array",
            Node::Map(_) => "object",
        }
    }

    /// The text `sigs.k8s.io/yaml` gives a scalar decoded into a Go string field, or `None`
    /// for null (which leaves the field unchanged) and for collections (an error).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Str(s) => Some(s.clone()),
            Node::Bool(b) => Some(b.to_string()),
            Node::Int(i) => Some(i.to_string()),
            Node::Uint(u) => Some(u.to_string()),
            Node::Float(f) => Some(go_format_float32_g(*f)),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }
}

/// What an alias may expand to in all, beyond `yaml.v2`'s ratio rule: Go shares the text of
/// an aliased string, a clone here does not.
const MAX_ALIASED_BYTES: usize = 32 << 20;

/// `yaml.v2`'s refusal of alias bombs ("billion laughs").
const EXCESSIVE_ALIASING: &str = "document contains excessive aliasing";

/// `yaml.v2`'s `allowedAliasRatio`: the share of decoded nodes that may come from alias
/// expansion, 99% for documents up to 400,000 nodes, falling to 10% at 4,000,000.
fn allowed_alias_ratio(decoded: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// Parses the first document of `text` (as `yaml.Unmarshal` does). An empty stream is `Null`.
/// Aliases are bounded as `yaml.v2` bounds them: once more than 100 of more than 1,000
/// decoded nodes come from alias expansion and their share passes [`allowed_alias_ratio`],
/// the document is refused ("document contains excessive aliasing"), before it is expanded.
pub fn parse_first_document(text: &str) -> Result<Node, String> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder::default();
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| e.to_string())?;
        match ev {
            Event::StreamStart | Event::DocumentStart(..) => {}
            Event::StreamEnd => break,
            Event::DocumentEnd => break,
            Event::Alias(id) => {
                let (weight, bytes) = match b.anchors.get(&id) {
                    Some(a) => (a.weight, a.bytes),
                    None => return Err(format!("unknown anchor at line {}", span.start.line())),
                };
                // The alias node itself, then every node of the expansion.
                b.decoded += 1 + weight;
                b.aliased += weight;
                b.aliased_bytes = b.aliased_bytes.saturating_add(bytes);
                b.check_aliasing()?;
                let n = b.anchors[&id].node.clone();
                b.push(n, false, 1 + weight, bytes)?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                b.decoded += 1;
                let plain = style == ScalarStyle::Plain;
                let tag_suffix = tag.as_ref().map(|t| t.suffix().to_string());
                let node = resolve_scalar(&value, plain, tag_suffix.as_deref());
                let is_merge = plain && tag_suffix.is_none() && value == "<<";
                if anchor != 0 {
                    b.anchors.insert(
                        anchor,
                        Anchored {
                            node: node.clone(),
                            weight: 1,
                            bytes: value.len(),
                        },
                    );
                }
                b.push(node, is_merge, 1, value.len())?;
            }
            Event::SequenceStart(_, anchor, _) => {
                b.decoded += 1;
                b.stack.push(Frame::Seq(Open::new(anchor), Vec::new()))
            }
            Event::MappingStart(_, anchor, _) => {
                b.decoded += 1;
                b.stack.push(Frame::Map {
                    open: Open::new(anchor),
                    entries: Vec::new(),
                    key: None,
                })
            }
            Event::SequenceEnd => match b.stack.pop() {
                Some(Frame::Seq(open, items)) => {
                    let n = Node::Seq(items);
                    b.close(open, n)?;
                }
                _ => return Err("unbalanced sequence".into()),
            },
            Event::MappingEnd => match b.stack.pop() {
                Some(Frame::Map { open, entries, .. }) => {
                    let n = Node::Map(entries);
                    b.close(open, n)?;
                }
                _ => return Err("unbalanced mapping".into()),
            },
            _ => {}
        }
    }
    Ok(b.done.unwrap_or(Node::Null))
}

/// A collection being built: its anchor, and the decode weight and scalar bytes of what is in
/// it so far (alias expansions included).
struct Open {
    anchor: usize,
    weight: usize,
    bytes: usize,
}

impl Open {
    fn new(anchor: usize) -> Open {
        Open {
            anchor,
            weight: 1,
            bytes: 0,
        }
    }
}

enum Frame {
    Seq(Open, Vec<Node>),
    Map {
        open: Open,
        entries: Vec<(Node, Node)>,
        /// The pending key, and whether it is the merge key `<<`.
        key: Option<(Node, bool)>,
    },
}

/// An anchored node, with the nodes and scalar bytes an alias to it expands to.
struct Anchored {
    node: Node,
    weight: usize,
    bytes: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    done: Option<Node>,
    /// Nodes decoded, alias expansions included (`yaml.v2`'s `decodeCount`).
    decoded: usize,
    /// Nodes decoded inside alias expansions (`yaml.v2`'s `aliasCount`).
    aliased: usize,
    /// Scalar bytes copied by alias expansions.
    aliased_bytes: usize,
}

impl Builder {
    fn check_aliasing(&self) -> Result<(), String> {
        if self.aliased > 100
            && self.decoded > 1000
            && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
        {
            return Err(EXCESSIVE_ALIASING.into());
        }
        if self.aliased_bytes > MAX_ALIASED_BYTES {
            return Err(format!(
                "{EXCESSIVE_ALIASING} (aliases expand to more than {} MiB of text)",
                MAX_ALIASED_BYTES >> 20
            ));
        }
        Ok(())
    }

    fn close(&mut self, open: Open, n: Node) -> Result<(), String> {
        if open.anchor != 0 {
            self.anchors.insert(
                open.anchor,
                Anchored {
                    node: n.clone(),
                    weight: open.weight,
                    bytes: open.bytes,
                },
            );
        }
        self.push(n, false, open.weight, open.bytes)
    }

    fn push(&mut self, n: Node, is_merge: bool, weight: usize, bytes: usize) -> Result<(), String> {
        match self.stack.last_mut() {
            None => {
                if self.done.is_none() {
                    self.done = Some(n);
                }
            }
            Some(Frame::Seq(open, items)) => {
                open.weight = open.weight.saturating_add(weight);
                open.bytes = open.bytes.saturating_add(bytes);
                items.push(n)
            }
            Some(Frame::Map {
                open, entries, key, ..
            }) => {
                open.weight = open.weight.saturating_add(weight);
                open.bytes = open.bytes.saturating_add(bytes);
                match key.take() {
                    None => *key = Some((n, is_merge)),
                    Some((_, true)) => {
                        // yaml.v2 merges in place: the merged keys are set now, later keys win.
                        let maps = match n {
                            Node::Map(m) => vec![m],
                            Node::Seq(items) => {
                                let mut v = Vec::new();
                                for it in items {
                                    match it {
                                    Node::Map(m) => v.push(m),
                                    _ => return Err("map merge requires map or sequence of maps as the value".into()),
                                }
                                }
                                v
                            }
                            _ => {
                                return Err(
                                    "map merge requires map or sequence of maps as the value"
                                        .into(),
                                )
                            }
                        };
                        for m in maps {
                            entries.extend(m);
                        }
                    }
                    Some((k, false)) => entries.push((k, n)),
                }
            }
        }
        Ok(())
    }
}

mod emit;
mod resolve;
#[cfg(test)]
mod tests;

pub use emit::{emit_document, map_key_string, quote_str, yaml_v2_key_less, Out};
pub use resolve::{go_format_float32_g, go_format_float64_g, resolve_plain, resolve_scalar};
