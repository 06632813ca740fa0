//! The emitter: a block-style document laid out as `yaml.v2` lays it out, map keys in its
//! order, every string quoted so that Helm reads back exactly that string.

use super::resolve::{
    go_format_float32_g, go_format_float64_g, looks_like_timestamp, resolve_plain,
};
use super::Node;

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
