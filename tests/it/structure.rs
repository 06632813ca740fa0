//! The shape of `src/`: imports point only downward. Each file is a module; an edge A -> B is
//! a `crate::b` path (in a `use` or in code) or a top-level `use super::b` in A. A cycle is a
//! failure that names the modules in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of a source file: `src/chart/tgz.rs` -> `chart::tgz`, `src/chart/mod.rs` ->
/// `chart`, `src/lib.rs` -> `` (the crate root).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

fn collect(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            if rel == Path::new("main.rs") {
                continue;
            }
            out.insert(module_of(rel), std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The longest known module that `path` (`a::b::c`, words only) names.
fn resolve(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let words: Vec<&str> = path.split("::").collect();
    (1..=words.len())
        .rev()
        .map(|n| words[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// `crate::x::y` paths in code lines (comments skipped), including grouped `use crate::{a, b}`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + "crate::".len()..];
        if let Some(group) = tail.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item = item.trim();
                let word: String = item
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                if !word.is_empty() {
                    found.push(word);
                }
            }
        } else {
            let word: String = tail
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            found.push(word.trim_end_matches(':').to_string());
        }
        rest = tail;
    }
    found
}

fn edges(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in modules {
        let parent = module.rsplit_once("::").map(|(p, _)| p).unwrap_or("");
        let targets = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for p in crate_paths(code) {
                if let Some(t) = resolve(&p, &names) {
                    targets.insert(t);
                }
            }
            if let Some(rest) = line.strip_prefix("use super::") {
                let first: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let full = if parent.is_empty() {
                    first
                } else {
                    format!("{parent}::{first}")
                };
                if let Some(t) = resolve(&full, &names) {
                    targets.insert(t);
                }
            }
        }
        targets.remove(module);
        // A module's parent (`chart` for `chart::tgz`) only declares it: not an import cycle.
        targets.remove("");
    }
    graph
}

/// Every cycle's modules, found by depth-first search (each reported once, from its smallest
/// member).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(pos) = stack.iter().position(|n| n == node) {
            found.push(stack[pos..].to_vec());
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn src_modules_import_only_downward() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    collect(&root, &root, &mut modules);
    assert!(modules.contains_key("transport") && modules.contains_key("registry"));
    let graph = edges(&modules);
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "import cycles among src/ modules: {}",
        found
            .iter()
            .map(|c| c.join(" -> "))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let uses = |a: &str, b: &str| graph.get(a).is_some_and(|t| t.contains(b));
    assert!(uses("registry", "transport") && uses("commands::push", "registry"));
    let upward = upward_imports(&graph);
    assert!(
        upward.is_empty(),
        "imports that point up the layers (see ARCHITECTURE.md): {}",
        upward.join("; ")
    );
    assert!(!uses("settings::env", "settings") && !uses("settings::credentials", "settings"));
}

/// The layers, top first: a module may import from its own top-level folder and from layers
/// below its own (ARCHITECTURE.md says what each holds). `""` is the crate root (`lib.rs`).
const LAYERS: &[&str] = &[
    "",
    "commands",
    "cli",
    "mirror",
    "serve",
    "copy",
    "getter",
    "provenance",
    "settings",
    "chart",
    "registry",
    "transport",
    "error",
    "ui",
    "support",
];

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    LAYERS
        .iter()
        .position(|l| *l == top)
        .unwrap_or_else(|| panic!("src/{top} is in no layer: add it to LAYERS and ARCHITECTURE.md"))
}

/// Every edge `a -> b` that leaves `a`'s folder for a layer above it.
fn upward_imports(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for (a, targets) in graph {
        for b in targets {
            let (ta, tb) = (a.split("::").next(), b.split("::").next());
            if ta != tb && layer(b) < layer(a) {
                found.push(format!("{a} -> {b}"));
            }
        }
    }
    found
}

/// Each command only orchestrates: it imports no other command (by `crate::commands::` or
/// `super::`), and transport failures are the registry layer's business: no command (nor the
/// getter) names `BodyBroken` or runs its own attempts and backoff.
#[test]
fn commands_are_thin_and_independent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    collect(&root, &root, &mut modules);
    let mut found = Vec::new();
    for (module, text) in &modules {
        let command = module.starts_with("commands::");
        if !command && !module.starts_with("getter") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let code = code.trim();
            if command
                && (code.contains("crate::commands::")
                    || (code.contains("super::") && code != "use super::*;"))
            {
                found.push(format!("{module}:{}: another command: {code}", n + 1));
            }
            for word in ["BodyBroken", ".attempts()", ".backoff(", "Attempts::"] {
                if code.contains(word) {
                    found.push(format!("{module}:{}: retries by hand ({word})", n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_layer_check_finds_upward_imports() {
    let mut modules = BTreeMap::new();
    modules.insert(
        "transport::retry".to_string(),
        "use crate::registry::Registry;".to_string(),
    );
    modules.insert(
        "registry".to_string(),
        "use crate::transport::Transport;".to_string(),
    );
    modules.insert(
        "commands::push".to_string(),
        "use crate::registry::Registry;".to_string(),
    );
    let graph = edges(&modules);
    assert_eq!(
        upward_imports(&graph),
        vec!["transport::retry -> registry".to_string()]
    );
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut modules = BTreeMap::new();
    modules.insert("a".to_string(), "use crate::b::Thing;".to_string());
    modules.insert("b".to_string(), "use crate::{c, x};".to_string());
    modules.insert("c".to_string(), "fn f() { crate::a::g() }".to_string());
    modules.insert("d".to_string(), "// crate::a in a comment".to_string());
    let graph = edges(&modules);
    let found = cycles(&graph);
    assert_eq!(found, vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    assert!(graph["d"].is_empty());
}
