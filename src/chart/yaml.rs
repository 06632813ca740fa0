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

/// Resolves a scalar as `yaml.v2` does when decoding into `interface{}`.
pub fn resolve_scalar(value: &str, plain: bool, tag_suffix: Option<&str>) -> Node {
    match tag_suffix {
        Some("str") | Some("binary") => return Node::Str(value.to_string()),
        _ => {}
    }
    if !plain && tag_suffix.is_none() {
        return Node::Str(value.to_string());
    }
    resolve_plain(value)
}

/// `yaml.v2`'s resolution of a plain scalar (timestamps stay strings, as they do when
/// decoding into `interface{}`).
pub fn resolve_plain(s: &str) -> Node {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Node::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Node::Bool(false)
        }
        ".nan" | ".NaN" | ".NAN" => return Node::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Node::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Node::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => {
            if let Some(f) = go_parse_float(s) {
                return Node::Float(f);
            }
        }
        b'0'..=b'9' | b'+' | b'-' => {
            if looks_like_timestamp(s) {
                return Node::Str(s.to_string());
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Node::Int(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Node::Uint(u);
            }
            if is_yaml_style_float(&plain) {
                if let Some(f) = go_parse_float(&plain) {
                    return Node::Float(f);
                }
            }
        }
        _ => {}
    }
    Node::Str(s.to_string())
}

/// yaml.v2's timestamp test: four digits, `-`, then one of its accepted layouts.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    // Layouts: 2006-1-2, 2006-1-2 15:4:5.999999999, 2006-1-2T15:4:5.999999999Z07:00 (and `t`).
    let rest = &s[5..];
    let (date, time) = match rest.find(['T', 't', ' ']) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let mut dp = date.split('-');
    let (Some(m), Some(d), None) = (dp.next(), dp.next(), dp.next()) else {
        return false;
    };
    let num12 = |x: &str| (1..=2).contains(&x.len()) && x.bytes().all(|c| c.is_ascii_digit());
    if !num12(m) || !num12(d) {
        return false;
    }
    let (Ok(mv), Ok(dv)) = (m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    if !(1..=12).contains(&mv) || !(1..=31).contains(&dv) {
        return false;
    }
    match time {
        None => true,
        // A time part: be generous, a string that merely resembles a timestamp is quoted when
        // emitted and is a string when read either way.
        Some(t) => t.len() > 1 && t[1..].contains(':'),
    }
}

fn is_yaml_style_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseInt(s, 0, 64)` (underscores already removed by the caller).
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let mag = go_parse_uint(body)?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((mag as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else if mag <= i64::MAX as u64 {
        Some(mag as i64)
    } else {
        None
    }
}

/// Go `strconv.ParseUint(s, 0, 64)`.
fn go_parse_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (radix, digits) = if b[0] == b'0' && b.len() > 1 {
        match b[1] {
            b'x' | b'X' => (16, &s[2..]),
            b'o' | b'O' => (8, &s[2..]),
            b'b' | b'B' => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go `strconv.ParseFloat(s, 64)` for decimal forms (overflow is an error, as in Go).
fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty()
        || !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() {
        return None;
    }
    Some(f)
}

/// Go `strconv.FormatFloat(f, 'g', -1, 32)`: what `sigs.k8s.io/yaml` makes of a YAML float
/// decoded into a string field (`1.10` becomes `1.1`, `1.0` becomes `1`).
pub fn go_format_float32_g(f: f64) -> String {
    let x = f as f32;
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    go_g_shortest(&format!("{:e}", x))
}

/// Go `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_format_float64_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    go_g_shortest(&format!("{:e}", f))
}

/// Turns Rust's shortest `{:e}` rendering (`-1.25e-7`) into Go's `%g` shortest form.
fn go_g_shortest(e: &str) -> String {
    let (neg, e) = match e.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, e),
    };
    let (mant, exp) = e.split_once('e').unwrap_or((e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if digits.is_empty() {
        out.push('0');
        return out;
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Emitting

/// A value to emit. Map keys are sorted at emission time the way `yaml.v2` sorts them.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Out>),
    Map(Vec<(String, Out)>),
}

impl Out {
    /// What a decoded generic value becomes after Helm's JSON round trip (numbers become
    /// float64, integral ones print as integers).
    pub fn from_node(n: &Node) -> Result<Out, String> {
        Ok(match n {
            Node::Null => Out::Null,
            Node::Bool(b) => Out::Bool(*b),
            Node::Int(i) => Out::Int(*i),
            Node::Uint(u) => Out::Uint(*u),
            Node::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 1e21 {
                    Out::Int(*f as i64)
                } else {
                    Out::Float(*f)
                }
            }
            Node::Str(s) => Out::Str(s.clone()),
            Node::Seq(items) => {
                Out::Seq(items.iter().map(Out::from_node).collect::<Result<_, _>>()?)
            }
            Node::Map(entries) => {
                let mut m: Vec<(String, Out)> = Vec::new();
                for (k, v) in entries {
                    let key = map_key_string(k)?;
                    let v = Out::from_node(v)?;
                    if let Some(slot) = m.iter_mut().find(|(kk, _)| *kk == key) {
                        slot.1 = v;
                    } else {
                        m.push((key, v));
                    }
                }
                Out::Map(m)
            }
        })
    }
}

/// How `sigs.k8s.io/yaml` turns a YAML map key into a JSON object key.
pub fn map_key_string(k: &Node) -> Result<String, String> {
    Ok(match k {
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        Node::Uint(u) => u.to_string(),
        Node::Float(f) => {
            let s = go_format_float32_g(*f);
            match s.as_str() {
                "+Inf" => ".inf".into(),
                "-Inf" => "-.inf".into(),
                "NaN" => ".nan".into(),
                _ => s,
            }
        }
        Node::Bool(b) => b.to_string(),
        other => return Err(format!("unsupported map key of type {}", other.kind_name())),
    })
}

/// `yaml.v2`'s map key order: runs of digits compare as numbers, non-letters sort before
/// letters, letters by code point.
pub fn yaml_v2_key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

fn sort_keys(m: &[(String, Out)]) -> Vec<&(String, Out)> {
    let mut v: Vec<&(String, Out)> = m.iter().collect();
    v.sort_by(|a, b| {
        if yaml_v2_key_less(&a.0, &b.0) {
            std::cmp::Ordering::Less
        } else if yaml_v2_key_less(&b.0, &a.0) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    v
}

/// Emits a block-style document the way `yaml.v2` lays it out (sequences inside mappings are
/// not indented, nested mappings are indented by two spaces).
pub fn emit_document(root: &Out) -> String {
    let mut s = String::new();
    match root {
        Out::Map(m) if !m.is_empty() => emit_map_body(&mut s, m, 0),
        Out::Seq(items) if !items.is_empty() => emit_seq_body(&mut s, items, 0),
        other => {
            s.push_str(&scalar_or_empty(other));
            s.push('\n');
        }
    }
    s
}

fn scalar_or_empty(v: &Out) -> String {
    match v {
        Out::Map(_) => "{}".into(),
        Out::Seq(_) => "[]".into(),
        _ => emit_scalar(v),
    }
}

fn is_block(v: &Out) -> bool {
    match v {
        Out::Map(m) => !m.is_empty(),
        Out::Seq(s) => !s.is_empty(),
        _ => false,
    }
}

fn indent(s: &mut String, n: usize) {
    for _ in 0..n {
        s.push(' ');
    }
}

fn emit_map_body(s: &mut String, m: &[(String, Out)], ind: usize) {
    for (i, (k, v)) in sort_keys(m).into_iter().enumerate() {
        if i > 0 {
            indent(s, ind);
        }
        s.push_str(&quote_str(k));
        s.push(':');
        match v {
            Out::Map(mm) if !mm.is_empty() => {
                s.push('\n');
                indent(s, ind + 2);
                emit_map_body(s, mm, ind + 2);
            }
            Out::Seq(items) if !items.is_empty() => {
                s.push('\n');
                indent(s, ind);
                emit_seq_body(s, items, ind);
            }
            other => {
                s.push(' ');
                s.push_str(&scalar_or_empty(other));
                s.push('\n');
            }
        }
    }
}

fn emit_seq_body(s: &mut String, items: &[Out], ind: usize) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            indent(s, ind);
        }
        s.push_str("- ");
        if is_block(v) {
            match v {
                Out::Map(mm) => emit_map_body(s, mm, ind + 2),
                Out::Seq(ss) => emit_seq_body(s, ss, ind + 2),
                _ => unreachable!(),
            }
        } else {
            s.push_str(&scalar_or_empty(v));
            s.push('\n');
        }
    }
}

fn emit_scalar(v: &Out) -> String {
    match v {
        Out::Null => "null".into(),
        Out::Bool(b) => b.to_string(),
        Out::Int(i) => i.to_string(),
        Out::Uint(u) => u.to_string(),
        Out::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    ".inf".into()
                } else {
                    "-.inf".into()
                }
            } else {
                go_format_float64_g(*f)
            }
        }
        Out::Str(s) => quote_str(s),
        Out::Seq(_) | Out::Map(_) => unreachable!(),
    }
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    if !s.contains(':') {
        return false;
    }
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let g = &s[st..i];
        let ok = match g.len() {
            1 => true,
            2 => g.as_bytes()[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

/// Renders a string so that `yaml.v2` reads exactly that string back.
pub fn quote_str(s: &str) -> String {
    let resolves_to_other =
        !matches!(resolve_plain_for_emit(s), Node::Str(_)) || is_base60_float(s);
    let all_printable = s.chars().all(|c| is_printable(c) && c != '\n');
    if !resolves_to_other && all_printable && plain_allowed(s) {
        return s.to_string();
    }
    if !resolves_to_other && all_printable {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

fn resolve_plain_for_emit(s: &str) -> Node {
    if s == "<<" {
        return Node::Null; // the merge key must be quoted
    }
    // yaml.v2 quotes any string that looks like a timestamp.
    if looks_like_timestamp(s) {
        return Node::Null;
    }
    resolve_plain(s)
}

fn plain_allowed(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let first = s.chars().next().unwrap();
    let last = s.chars().last().unwrap();
    if first == ' ' || last == ' ' {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') {
        match s.chars().nth(1) {
            None | Some(' ') => return false,
            _ => {}
        }
    }
    if last == ':' || s.contains(": ") || s.contains(" #") {
        return false;
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            '\0' => o.push_str("\\0"),
            c if is_printable(c) => o.push(c),
            c if (c as u32) <= 0xff => o.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse_first_document(s).unwrap()
    }

    #[test]
    fn yaml11_resolution() {
        assert_eq!(resolve_plain("yes"), Node::Bool(true));
        assert_eq!(resolve_plain("Off"), Node::Bool(false));
        assert_eq!(resolve_plain("0777"), Node::Int(511));
        assert_eq!(resolve_plain("0x1F"), Node::Int(31));
        assert_eq!(resolve_plain("1_000"), Node::Int(1000));
        assert_eq!(resolve_plain("08"), Node::Float(8.0));
        assert_eq!(resolve_plain("1.10"), Node::Float(1.1));
        assert_eq!(resolve_plain(".5"), Node::Float(0.5));
        assert_eq!(resolve_plain("1.2.3"), Node::Str("1.2.3".into()));
        assert_eq!(resolve_plain("2020-01-02"), Node::Str("2020-01-02".into()));
        assert_eq!(resolve_plain("~"), Node::Null);
        assert_eq!(resolve_plain("1e3"), Node::Float(1000.0));
        assert_eq!(resolve_plain("-0b101"), Node::Int(-5));
        assert_eq!(resolve_plain("18446744073709551615"), Node::Uint(u64::MAX));
    }

    #[test]
    fn go_float32_text() {
        assert_eq!(go_format_float32_g(1.0), "1");
        assert_eq!(go_format_float32_g(1.10), "1.1");
        assert_eq!(go_format_float32_g(1000000.0), "1e+06");
        assert_eq!(go_format_float32_g(123456.0), "123456");
        assert_eq!(go_format_float32_g(1234567.0), "1.234567e+06");
        assert_eq!(go_format_float32_g(0.0001), "0.0001");
        assert_eq!(go_format_float32_g(0.00001), "1e-05");
        assert_eq!(go_format_float32_g(0.0), "0");
        assert_eq!(go_format_float32_g(-2.5), "-2.5");
        assert_eq!(go_format_float32_g(1.2345678), "1.2345678");
    }

    #[test]
    fn parse_documents() {
        assert_eq!(p(""), Node::Null);
        assert_eq!(
            p("a: 1\n---\nb: 2\n"),
            Node::Map(vec![(Node::Str("a".into()), Node::Int(1))])
        );
        assert_eq!(
            p("a: &x {k: v}\nb: *x\n"),
            Node::Map(vec![
                (
                    Node::Str("a".into()),
                    Node::Map(vec![(Node::Str("k".into()), Node::Str("v".into()))])
                ),
                (
                    Node::Str("b".into()),
                    Node::Map(vec![(Node::Str("k".into()), Node::Str("v".into()))])
                ),
            ])
        );
        assert_eq!(
            p("a: '1.0'\nb: !!str 2\n"),
            Node::Map(vec![
                (Node::Str("a".into()), Node::Str("1.0".into())),
                (Node::Str("b".into()), Node::Str("2".into())),
            ])
        );
        let merged = p("base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3\n");
        let Node::Map(m) = merged else { panic!() };
        assert_eq!(
            m[1].1,
            Node::Map(vec![
                (Node::Str("x".into()), Node::Int(1)),
                (Node::Str("z".into()), Node::Int(2)),
                (Node::Str("z".into()), Node::Int(3)),
            ])
        );
        assert!(parse_first_document("a: [1, 2\n").is_err());
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "1.0",
            "1.1",
            "yes",
            "no",
            "",
            "~",
            "null",
            "1.2.3",
            "v1",
            "# x",
            "a: b",
            "a #b",
            "-x",
            "- x",
            "x:",
            "2020-01-01",
            "1:20",
            "0777",
            "héllo",
            "tab\there",
            "line\nbreak",
            "'q'",
            "\"d\"",
            " lead",
            "trail ",
            "<<",
            "@x",
            "a,b",
            "[x]",
            "{x}",
            "*",
            "&a",
            "!t",
            "|",
            ">",
            "%",
            "`",
            "?",
            "? x",
            ":x",
        ] {
            let doc = emit_document(&Out::Map(vec![("k".into(), Out::Str(s.into()))]));
            let back = p(&doc);
            assert_eq!(
                back,
                Node::Map(vec![(Node::Str("k".into()), Node::Str(s.into()))]),
                "{s:?} -> {doc:?}"
            );
        }
        assert_eq!(quote_str("1.0.0"), "1.0.0");
        assert_eq!(quote_str("1.1"), "\"1.1\"");
    }

    #[test]
    fn key_order_is_yaml_v2s() {
        let mut keys = vec!["b", "a10", "a9", "B", "_x", "a-b", "ab", "1"];
        keys.sort_by(|a, b| {
            if yaml_v2_key_less(a, b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        assert_eq!(keys, vec!["_x", "1", "B", "a-b", "a9", "a10", "ab", "b"]);
    }

    #[test]
    fn emit_layout() {
        let v = Out::Map(vec![
            ("name".into(), Out::Str("x".into())),
            (
                "deps".into(),
                Out::Seq(vec![Out::Map(vec![
                    ("name".into(), Out::Str("a".into())),
                    ("tags".into(), Out::Seq(vec![Out::Str("t".into())])),
                ])]),
            ),
            (
                "ann".into(),
                Out::Map(vec![("k".into(), Out::Str("v".into()))]),
            ),
        ]);
        assert_eq!(
            emit_document(&v),
            "ann:\n  k: v\ndeps:\n- name: a\n  tags:\n  - t\nname: x\n"
        );
    }

    /// A "billion laughs" document: `levels` levels of `fan` aliases to the level below.
    pub(crate) fn billion_laughs(levels: usize, fan: usize) -> String {
        let mut doc = String::from("a0: &a0 [\"lol\"]\n");
        for l in 1..=levels {
            let refs = vec![format!("*a{}", l - 1); fan].join(", ");
            doc.push_str(&format!("a{l}: &a{l} [{refs}]\n"));
        }
        doc
    }

    #[test]
    fn alias_bombs_are_refused_as_yaml_v2_refuses_them() {
        // 10^9 "lol"s if expanded; refused after a few thousand nodes.
        let err = parse_first_document(&billion_laughs(9, 10)).unwrap_err();
        assert_eq!(err, "document contains excessive aliasing");
        // Wide rather than deep.
        let err = parse_first_document(&billion_laughs(3, 200)).unwrap_err();
        assert!(err.contains("excessive aliasing"), "{err}");
        // A few big strings aliased many times: fine for yaml.v2's ratio, not for memory here.
        let big = "x".repeat(1 << 20);
        let doc = format!("s: &s \"{big}\"\nl: [{}]\n", vec!["*s"; 200].join(", "));
        let err = parse_first_document(&doc).unwrap_err();
        assert!(
            err.contains("excessive aliasing") && err.contains("MiB"),
            "{err}"
        );
    }

    #[test]
    fn ordinary_aliases_still_work() {
        // Under yaml.v2's thresholds (few aliases, or mostly plain nodes): accepted.
        let n = parse_first_document(&billion_laughs(2, 10)).unwrap();
        let Node::Map(entries) = n else { panic!() };
        let Node::Seq(level2) = &entries[2].1 else {
            panic!()
        };
        assert_eq!(level2.len(), 10);
        let mut doc = String::from("base: &b {x: 1, y: 2}\n");
        for i in 0..150 {
            doc.push_str(&format!("k{i}: {{<<: *b, z: {i}}}\n"));
        }
        for i in 0..3000 {
            doc.push_str(&format!("plain{i}: v\n"));
        }
        assert!(parse_first_document(&doc).is_ok());
        assert!(allowed_alias_ratio(0) == 0.99 && allowed_alias_ratio(10_000_000) == 0.10);
        let mid = allowed_alias_ratio(2_200_000);
        assert!(mid > 0.10 && mid < 0.99);
    }
}
