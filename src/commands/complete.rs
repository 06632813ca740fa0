//! `helm-ccr __complete WORDS...`: dynamic shell completion, run by the plugin's
//! `plugin.complete` when Helm completes `helm ccr ...` (Helm passes the words after `ccr`, the
//! last one being the word under the cursor). Prints one candidate a line, then `:N`, cobra's
//! directive. Candidates: the names of `helm repo add`ed ccr:// repositories, the charts of a
//! repository and the versions of a chart (asked of the registry, bounded by a short timeout),
//! and the values of `-o` and `--region`. Subcommand and flag names are completion.yaml's, which
//! Helm lists itself. Nothing but the directive is printed when anything fails.

use std::time::Duration;

use crate::cli;
use crate::registry::Registry;
use crate::repo_ref::RepoArg;
use crate::settings::{self, Env, Global, REGIONS};

/// Cobra's directives.
const DEFAULT: u32 = 0;
const NO_SPACE: u32 = 2;
const NO_FILE: u32 = 4;
const FILTER_DIRS: u32 = 16;
const KEEP_ORDER: u32 = 32;

/// How long the registry may take to answer a completion.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Whether a flag of `sub` takes a value (the next word).
fn takes_value(sub: &str, flag: &str) -> bool {
    cli::flags_of(sub)
        .unwrap_or_default()
        .iter()
        .any(|f| f.takes_value && (f.long == flag || f.short.as_deref() == Some(flag)))
}

/// What completion may ask of the world; failures are empty answers.
pub trait Source {
    /// Names of the Helm repositories whose URL is a ccr:// URL.
    fn repositories(&self) -> Vec<String>;
    /// Chart names of a repository (by name).
    fn charts(&self, repo: &str) -> Vec<String>;
    /// Versions of a chart, newest first.
    fn versions(&self, repo: &str, chart: &str) -> Vec<String>;
}

/// The candidates for `words` (the last is the word being completed) and the directive.
pub fn complete(words: &[String], src: &dyn Source) -> (Vec<String>, u32) {
    let Some((cur, before)) = words.split_last() else {
        return (Vec::new(), NO_FILE);
    };
    let Some((sub, rest)) = before.split_first() else {
        // The subcommand itself: completion.yaml lists them.
        return (Vec::new(), NO_FILE);
    };
    let sub = sub.as_str();
    let subcommands = cli::subcommands();
    if !subcommands.iter().any(|s| s == sub) {
        return (Vec::new(), NO_FILE);
    }
    if cur.starts_with('-') {
        // Flag names come from completion.yaml; Helm lists them itself.
        return (Vec::new(), NO_FILE);
    }
    // Positionals so far, and whether the word under the cursor is a flag's value.
    let mut positionals: Vec<&str> = Vec::new();
    let mut pending: Option<&str> = None;
    for w in rest {
        if let Some(_flag) = pending.take() {
            continue;
        }
        if w.starts_with('-') {
            if takes_value(sub, w) && !w.contains('=') {
                pending = Some(w);
            }
            continue;
        }
        positionals.push(w);
    }
    if let Some(flag) = pending {
        return flag_value(sub, flag, cur, &positionals, src);
    }
    let prefixed = |items: Vec<String>| -> Vec<String> {
        items
            .into_iter()
            .filter(|c| c.starts_with(cur.as_str()))
            .collect()
    };
    match (sub, positionals.len()) {
        ("push", 0) => (Vec::new(), DEFAULT),
        ("push", _) => (prefixed(src.repositories()), DEFAULT),
        ("pull", 0) | ("ls", 0) | ("rm", _) => chart_refs(cur, src),
        ("env", 0) => (prefixed(src.repositories()), NO_FILE),
        ("help", 0) => (
            prefixed(subcommands.into_iter().filter(|s| s != "help").collect()),
            NO_FILE,
        ),
        _ => (Vec::new(), NO_FILE),
    }
}

/// `REPO/` candidates (no space after them), or with a `REPO/` typed, `REPO/CHART` ones.
fn chart_refs(cur: &str, src: &dyn Source) -> (Vec<String>, u32) {
    match cur.split_once('/') {
        None => (
            src.repositories()
                .into_iter()
                .filter(|r| r.starts_with(cur))
                .map(|r| format!("{r}/"))
                .collect(),
            NO_SPACE | NO_FILE,
        ),
        Some((repo, _)) => (
            src.charts(repo)
                .into_iter()
                .map(|c| format!("{repo}/{c}"))
                .filter(|c| c.starts_with(cur))
                .collect(),
            NO_FILE,
        ),
    }
}

fn flag_value(
    sub: &str,
    flag: &str,
    cur: &str,
    positionals: &[&str],
    src: &dyn Source,
) -> (Vec<String>, u32) {
    let pick = |items: &[&str]| -> Vec<String> {
        items
            .iter()
            .filter(|i| i.starts_with(cur))
            .map(|i| i.to_string())
            .collect()
    };
    match flag {
        "-o" | "--output" if sub == "ls" => (pick(&["table", "json", "yaml"]), NO_FILE),
        "-o" | "--output" => (pick(&["text", "json", "yaml"]), NO_FILE),
        "--region" => (pick(REGIONS), NO_FILE),
        "-d" | "--destination" | "--untardir" => (Vec::new(), FILTER_DIRS),
        "--ca-file" | "--keyring" => (Vec::new(), DEFAULT),
        "--version" if sub == "pull" || sub == "rm" => {
            let Some((repo, chart)) = positionals.iter().find_map(|p| p.split_once('/')) else {
                return (Vec::new(), NO_FILE);
            };
            let versions = src
                .versions(repo, chart)
                .into_iter()
                .filter(|v| v.starts_with(cur))
                .collect();
            (versions, NO_FILE | KEEP_ORDER)
        }
        _ => (Vec::new(), NO_FILE),
    }
}

/// The real world: Helm's repository file and the registry, quietly, one attempt each,
/// within [`TIMEOUT`].
struct Live<'a> {
    env: &'a Env,
}

impl Live<'_> {
    fn client(&self, repo: &str) -> Option<Registry> {
        let resolved = settings::resolve_repo(&RepoArg::Named(repo.to_string()), self.env).ok()?;
        let mut global = Global::new(self.env.clone());
        global.quiet = true;
        global.debug = false;
        global.attempts = 1;
        global.timeout = Some(settings::TimeLimit {
            limit: TIMEOUT,
            source: "completion's limit".into(),
            knob: "--timeout",
        });
        settings::connect(&resolved.url, resolved.credentials, &global).ok()
    }
}

impl Source for Live<'_> {
    fn repositories(&self) -> Vec<String> {
        let Ok((_, entries)) = settings::helm_repositories(self.env) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .into_iter()
            .filter(|e| e.url.starts_with("ccr://") && !e.name.is_empty())
            .map(|e| e.name)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn charts(&self, repo: &str) -> Vec<String> {
        self.client(repo)
            .and_then(|c| c.list_charts().ok())
            .map(|charts| charts.into_iter().map(|c| c.name).collect())
            .unwrap_or_default()
    }

    fn versions(&self, repo: &str, chart: &str) -> Vec<String> {
        let Some(mut versions) = self.client(repo).and_then(|c| c.list_versions(chart).ok()) else {
            return Vec::new();
        };
        crate::version::sort_newest_first(&mut versions);
        versions.into_iter().map(|v| v.version).collect()
    }
}

/// Prints the candidates for `words`, then the directive.
pub fn run(words: &[String], env: &Env) {
    let (candidates, directive) = complete(words, &Live { env });
    let mut text = String::new();
    for c in candidates {
        // One candidate a line: a name with a line break in it is no candidate.
        if !c.contains(['\n', '\r']) {
            text.push_str(&c);
            text.push('\n');
        }
    }
    text.push_str(&format!(":{directive}\n"));
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    impl Source for Fake {
        fn repositories(&self) -> Vec<String> {
            vec!["myccr".into(), "other".into()]
        }
        fn charts(&self, repo: &str) -> Vec<String> {
            match repo {
                "myccr" => vec!["web".into(), "worker".into()],
                _ => Vec::new(),
            }
        }
        fn versions(&self, repo: &str, chart: &str) -> Vec<String> {
            match (repo, chart) {
                ("myccr", "web") => vec!["1.10.0".into(), "1.2.0".into(), "0.9.0".into()],
                _ => Vec::new(),
            }
        }
    }

    fn c(words: &[&str]) -> (Vec<String>, u32) {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        complete(&words, &Fake)
    }

    #[test]
    fn repositories_then_charts_then_versions() {
        assert_eq!(
            c(&["pull", ""]),
            (vec!["myccr/".into(), "other/".into()], NO_SPACE | NO_FILE)
        );
        assert_eq!(c(&["pull", "my"]).0, ["myccr/"]);
        assert_eq!(
            c(&["pull", "myccr/w"]),
            (vec!["myccr/web".into(), "myccr/worker".into()], NO_FILE)
        );
        assert_eq!(
            c(&["pull", "myccr/web", "--version", "1."]),
            (vec!["1.10.0".into(), "1.2.0".into()], NO_FILE | KEEP_ORDER)
        );
        assert_eq!(
            c(&["rm", "myccr/web", "--all", "--version", ""]).0,
            ["1.10.0", "1.2.0", "0.9.0"]
        );
        assert_eq!(c(&["env", ""]).0, ["myccr", "other"]);
        assert_eq!(c(&["push", ""]), (vec![], DEFAULT));
        assert_eq!(c(&["push", "./chart", "o"]).0, ["other"]);
    }

    #[test]
    fn flag_names_and_values() {
        assert_eq!(c(&["ls", "-o", ""]).0, ["table", "json", "yaml"]);
        assert_eq!(c(&["push", "x", "--output", "j"]).0, ["json"]);
        assert!(c(&["ls", "--region", ""]).0.contains(&"bj".to_string()));
        assert_eq!(c(&["pull", "--untar", "--untardir", ""]).1, FILTER_DIRS);
        assert_eq!(
            c(&["pull", "r/c", "--verify", "--keyring", ""]),
            (vec![], DEFAULT)
        );
        // Flag names are completion.yaml's: listing them here too would double them.
        assert_eq!(c(&["ls", "--d"]), (vec![], NO_FILE));
        // A flag's value is not a positional: the chart is still completed.
        assert_eq!(
            c(&["pull", "--region", "bj", "myccr/"]).0,
            ["myccr/web", "myccr/worker"]
        );
    }

    #[test]
    fn unknown_or_nothing_gives_no_candidates() {
        assert_eq!(c(&[]), (vec![], NO_FILE));
        assert_eq!(c(&[""]), (vec![], NO_FILE));
        assert_eq!(c(&["nope", ""]), (vec![], NO_FILE));
        assert_eq!(c(&["pull", "nope/"]), (vec![], NO_FILE));
        assert_eq!(c(&["version", ""]), (vec![], NO_FILE));
    }
}
