//! `helm-ccr __complete WORDS...`: dynamic shell completion, run by the plugin's
//! `plugin.complete` when Helm completes `helm ccr ...` (Helm passes the words after `ccr`, the
//! last one being the word under the cursor). Prints one candidate a line, then `:N`, cobra's
//! directive. Candidates: the names of `helm repo add`ed ccr:// repositories, the charts of a
//! repository and the versions of a chart (asked of the registry, bounded by a short timeout),
//! and the values of `-o` and `--region`; flag names with their descriptions (cobra's
//! `NAME\tDESCRIPTION` form: Helm gives the flags of completion.yaml none, so that file lists
//! only the subcommands). A name the registry or the repository file holds with a control
//! character in it (an escape sequence, a tab that would become a description) is no candidate.
//! Nothing but the directive is printed when anything fails.

use std::time::Duration;

use clap::CommandFactory;

use crate::cli;
use crate::registry::Registry;
use crate::settings::reference::RepoArg;
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

/// Whether a name can be shown as a candidate: no control character (C0, DEL, C1), which
/// could move the cursor, recolour or retitle the terminal, or (a tab) turn the rest of the
/// name into a description.
fn printable(name: &str) -> bool {
    !name.chars().any(char::is_control)
}

/// [`Source`] with every name that is not [`printable`] left out.
struct Printable<'a>(&'a dyn Source);

impl Source for Printable<'_> {
    fn repositories(&self) -> Vec<String> {
        let mut names = self.0.repositories();
        names.retain(|n| printable(n));
        names
    }
    fn charts(&self, repo: &str) -> Vec<String> {
        let mut names = self.0.charts(repo);
        names.retain(|n| printable(n));
        names
    }
    fn versions(&self, repo: &str, chart: &str) -> Vec<String> {
        let mut names = self.0.versions(repo, chart);
        names.retain(|n| printable(n));
        names
    }
}

/// A flag for completion: its names and the first line of its help.
struct FlagHelp {
    long: String,
    short: Option<String>,
    takes_value: bool,
    help: String,
}

/// The first line of an argument's help, as cobra shows a flag's usage.
fn help_of(a: &clap::Arg) -> String {
    let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
    help.lines().next().unwrap_or("").trim().to_string()
}

/// The flags of `sub` (as [`cli::flags_of`] lists them), or of the plugin itself when `sub` is
/// `None` (its own and the global ones), with their help.
fn flags(sub: Option<&str>) -> Vec<FlagHelp> {
    let mut root = cli::Cli::command();
    root.build();
    let Some(sub) = sub else {
        return root
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_positional())
            .filter_map(|a| {
                Some(FlagHelp {
                    long: format!("--{}", a.get_long()?),
                    short: a.get_short().map(|c| format!("-{c}")),
                    takes_value: a.get_action().takes_values(),
                    help: help_of(a),
                })
            })
            .collect();
    };
    let Some(cmd) = root.find_subcommand(sub) else {
        return Vec::new();
    };
    cli::flags_of(sub)
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let help = cmd
                .get_arguments()
                .find(|a| a.get_long().is_some_and(|l| f.long[2..] == *l))
                .map(help_of)
                .unwrap_or_default();
            FlagHelp {
                long: f.long,
                short: f.short,
                takes_value: f.takes_value,
                help,
            }
        })
        .collect()
}

/// Cobra's flag name candidates for `cur`: `--long\thelp`, and `-s\thelp` where `cur` allows.
fn flag_names(sub: Option<&str>, cur: &str) -> (Vec<String>, u32) {
    let mut out = Vec::new();
    for f in flags(sub) {
        for name in std::iter::once(&f.long).chain(f.short.as_ref()) {
            if name.starts_with(cur) {
                out.push(if f.help.is_empty() {
                    name.clone()
                } else {
                    format!("{name}\t{}", f.help)
                });
            }
        }
    }
    (out, NO_FILE)
}

/// The candidates for `words` (the last is the word being completed) and the directive.
pub fn complete(words: &[String], src: &dyn Source) -> (Vec<String>, u32) {
    let src = &Printable(src);
    let Some((cur, before)) = words.split_last() else {
        return (Vec::new(), NO_FILE);
    };
    // The subcommand: the first word that is no flag nor a global flag's value.
    let root_flags = flags(None);
    let mut at = 0;
    while at < before.len() && before[at].starts_with('-') {
        let w = &before[at];
        let value_next = !w.contains('=')
            && root_flags
                .iter()
                .any(|f| f.takes_value && (f.long == *w || f.short.as_deref() == Some(w)));
        at += if value_next { 2 } else { 1 };
    }
    if at > before.len() {
        // The value of a global flag given before the subcommand.
        return flag_value("", &before[before.len() - 1], cur, &[], src);
    }
    let subcommands = cli::subcommands();
    let Some((sub, rest)) = before.get(at..).and_then(|b| b.split_first()) else {
        if cur.starts_with('-') {
            return flag_names(None, cur);
        }
        if before.is_empty() {
            // Helm lists completion.yaml's subcommands itself.
            return (Vec::new(), NO_FILE);
        }
        // After global flags Helm no longer knows a subcommand comes.
        let subs = subcommands
            .into_iter()
            .filter(|s| s.starts_with(cur.as_str()))
            .collect();
        return (subs, NO_FILE);
    };
    // An alias completes as its command (`list` as `ls`).
    let Some(sub) = cli::canonical_subcommand(sub) else {
        return (Vec::new(), NO_FILE);
    };
    let sub = sub.as_str();
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
    if cur.starts_with('-') {
        return flag_names(Some(sub), cur);
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
        ("pull", 0) | ("ls", 0) | ("rm", _) | ("copy", _) => chart_refs(cur, src),
        ("env", 0) | ("serve", 0) => (prefixed(src.repositories()), NO_FILE),
        // mirror SOURCE DEST: a directory (or a URL, or a repository name), then a repository.
        ("mirror", 0) => (Vec::new(), FILTER_DIRS),
        ("mirror", 1) => (prefixed(src.repositories()), NO_FILE),
        ("help", 0) => (
            prefixed(
                subcommands
                    .into_iter()
                    .filter(|s| s != "help")
                    .chain(["environment".to_string()])
                    .collect(),
            ),
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
        "--keep" if sub == "rm" => (pick(&["1", "3", "5", "10"]), NO_FILE | KEEP_ORDER),
        "--older-than" if sub == "rm" => {
            (pick(&["30d", "90d", "180d", "365d"]), NO_FILE | KEEP_ORDER)
        }
        "--htpasswd" | "--token-file" | "--sts-credentials-file" | "--tls-cert" | "--tls-key" => {
            (Vec::new(), DEFAULT)
        }
        "--cache-dir" => (Vec::new(), FILTER_DIRS),
        "--log-format" => (pick(&["text", "json"]), NO_FILE),
        "--repo" if sub == "serve" => {
            // NAME=REPO: after the `=`, the repositories.
            match cur.split_once('=') {
                Some((name, typed)) => (
                    src.repositories()
                        .into_iter()
                        .filter(|r| r.starts_with(typed))
                        .map(|r| format!("{name}={r}"))
                        .collect(),
                    NO_FILE,
                ),
                None => (Vec::new(), NO_FILE),
            }
        }
        "--version" if sub == "pull" || sub == "rm" || sub == "copy" => {
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
        crate::chart::constraint::sort_newest_first(&mut versions);
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
        assert_eq!(c(&["copy", "myccr/w"]).0, ["myccr/web", "myccr/worker"]);
        assert_eq!(c(&["copy", "myccr/web", "o"]).0, ["other/"]);
        assert_eq!(
            c(&["copy", "myccr/web", "other", "--version", "1."]).0,
            ["1.10.0", "1.2.0"]
        );
        assert!(c(&["copy", "--"])
            .0
            .iter()
            .any(|f| f.starts_with("--all\t")));
        assert_eq!(c(&["push", ""]), (vec![], DEFAULT));
        assert_eq!(c(&["push", "./chart", "o"]).0, ["other"]);
    }

    #[test]
    fn serve_flags() {
        assert_eq!(c(&["serve", ""]).0, ["myccr", "other"]);
        assert_eq!(c(&["serve", "--repo", "team=o"]).0, ["team=other"]);
        assert_eq!(
            c(&["serve", "myccr", "--log-format", ""]).0,
            ["text", "json"]
        );
        assert_eq!(c(&["serve", "--cache-dir", ""]).1, FILTER_DIRS);
        assert_eq!(c(&["serve", "--htpasswd", ""]).1, DEFAULT);
        assert_eq!(c(&["serve", "--token-file", ""]).1, DEFAULT);
        assert_eq!(c(&["serve", "--sts-credentials-file", ""]).1, DEFAULT);
        assert!(c(&["serve", "--"])
            .0
            .iter()
            .any(|f| f.starts_with("--index-ttl")));
    }

    #[test]
    fn flag_names_and_values() {
        assert_eq!(c(&["ls", "-o", ""]).0, ["table", "json", "yaml"]);
        assert_eq!(c(&["push", "x", "--output", "j"]).0, ["json"]);
        assert!(c(&["ls", "--region", ""]).0.contains(&"bj".to_string()));
        assert_eq!(c(&["pull", "--untar", "--untardir", ""]).1, FILTER_DIRS);
        assert_eq!(
            c(&["rm", "myccr", "--older-than", "3"]),
            (vec!["30d".into(), "365d".into()], NO_FILE | KEEP_ORDER)
        );
        assert_eq!(c(&["rm", "--keep", "1"]).0, ["1", "10"]);
        assert_eq!(c(&["rm", "--keep", "3", ""]).0, ["myccr/", "other/"]);
        assert_eq!(
            c(&["pull", "r/c", "--verify", "--keyring", ""]),
            (vec![], DEFAULT)
        );
        // Flag names with their help, cobra's way (completion.yaml lists none).
        assert_eq!(
            c(&["ls", "--d"]),
            (
                vec!["--devel\tShow pre-release versions too".into()],
                NO_FILE
            )
        );
        // A flag's value is not a positional: the chart is still completed.
        assert_eq!(
            c(&["pull", "--region", "bj", "myccr/"]).0,
            ["myccr/web", "myccr/worker"]
        );
    }

    /// A registry and a repository file full of terminal tricks.
    struct Hostile;

    impl Source for Hostile {
        fn repositories(&self) -> Vec<String> {
            vec![
                "ok".into(),
                "esc\u{1b}[2J".into(),
                "tab\tdescription".into(),
                "del\u{7f}".into(),
            ]
        }
        fn charts(&self, _repo: &str) -> Vec<String> {
            vec![
                "web".into(),
                "osc\u{1b}]0;owned\u{7}".into(),
                "c1\u{9b}31m".into(),
                "bell\u{7}".into(),
                "cr\rweb".into(),
                "naïve".into(),
            ]
        }
        fn versions(&self, _repo: &str, _chart: &str) -> Vec<String> {
            vec!["1.0.0".into(), "1.0.1\tlatest".into(), "2.0.0\u{85}".into()]
        }
    }

    #[test]
    fn names_with_control_characters_are_no_candidates() {
        let c = |words: &[&str]| {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            complete(&words, &Hostile).0
        };
        assert_eq!(c(&["pull", ""]), ["ok/"]);
        assert_eq!(c(&["env", ""]), ["ok"]);
        assert_eq!(c(&["push", "x", ""]), ["ok"]);
        assert_eq!(c(&["ls", "ok/"]), ["ok/web", "ok/naïve"]);
        assert_eq!(c(&["pull", "ok/web", "--version", ""]), ["1.0.0"]);
    }

    #[test]
    fn flags_have_descriptions_and_the_global_ones_are_everywhere() {
        let globals = [
            "--region",
            "--endpoint",
            "--timeout",
            "--ca-file",
            "--insecure-skip-tls-verify",
            "--quiet",
        ];
        for sub in ["push", "pull", "ls", "rm", "env"] {
            let (names, d) = c(&[sub, "--"]);
            assert_eq!(d, NO_FILE);
            for n in &names {
                let (flag, help) = n.split_once('\t').unwrap_or_else(|| panic!("{sub}: {n:?}"));
                assert!(flag.starts_with("--") && !help.is_empty(), "{sub}: {n:?}");
            }
            for g in globals {
                assert!(
                    names.iter().any(|n| n.starts_with(&format!("{g}\t"))),
                    "{sub} lacks {g}: {names:?}"
                );
            }
        }
        // A lone dash offers the shorthands too.
        let (names, _) = c(&["push", "-"]);
        assert!(names
            .contains(&"-q\tPrint only errors and what the command exists to print".to_string()));
        assert!(names.contains(&"-o\tOutput format of the results".to_string()));
        // The plugin itself: its own flags and the global ones.
        let (names, d) = c(&["--"]);
        assert_eq!(d, NO_FILE);
        assert!(
            names.contains(&"--version\tPrint the plugin's version".to_string()),
            "{names:?}"
        );
        for g in globals {
            assert!(
                names.iter().any(|n| n.starts_with(&format!("{g}\t"))),
                "{names:?}"
            );
        }
        assert_eq!(
            c(&["--ti"]).0,
            ["--timeout\tTime limit for the whole command, e.g. 90s, 5m"]
        );
    }

    #[test]
    fn global_flags_before_the_subcommand_are_skipped() {
        assert_eq!(
            c(&["--region", "bj", "pull", "myccr/w"]).0,
            ["myccr/web", "myccr/worker"]
        );
        assert_eq!(c(&["-q", "--timeout=5s", "env", ""]).0, ["myccr", "other"]);
        assert_eq!(c(&["--region", "bj", "p"]).0, ["push", "pull"]);
        assert_eq!(c(&["--region", "b"]).0, ["bj", "bd"]);
        assert_eq!(c(&["--quiet", "nope", ""]), (vec![], NO_FILE));
    }

    #[test]
    fn aliases_complete_as_their_command() {
        assert_eq!(c(&["list", "myccr/w"]), c(&["ls", "myccr/w"]));
        assert_eq!(c(&["list", "-o", ""]).0, ["table", "json", "yaml"]);
        assert_eq!(
            c(&["delete", "myccr/web", "--version", ""]).0,
            ["1.10.0", "1.2.0", "0.9.0"]
        );
        assert_eq!(c(&["delete", "--a"]), c(&["rm", "--a"]));
        assert_eq!(c(&["--region", "bj", "l"]).0, ["ls", "list"]);
        assert_eq!(c(&["help", "e"]).0, ["env", "environment"]);
        assert_eq!(c(&["help", "d"]).0, ["delete"]);
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
