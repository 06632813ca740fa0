use std::ffi::OsString;

use clap::CommandFactory;

use super::*;

fn err(args: &[&str]) -> (String, Option<String>, Option<String>) {
    let mut v = vec!["helm-ccr"];
    v.extend_from_slice(args);
    match parse(v) {
        Err(Usage::Error {
            message,
            tip,
            subcommand,
        }) => (message, tip, subcommand),
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn completion_sees_flags_with_the_global_ones() {
    let push = flags_of("push").unwrap();
    let out = push.iter().find(|f| f.long == "--output").unwrap();
    assert_eq!(out.short.as_deref(), Some("-o"));
    assert!(out.takes_value);
    assert!(push.iter().any(|f| f.long == "--region" && f.takes_value));
    assert!(push.iter().any(|f| f.long == "--force" && !f.takes_value));
    assert!(flags_of("download").is_none());
    assert!(subcommands().contains(&"env".to_string()));
    assert!(subcommands().contains(&"help".to_string()));
    assert!(!subcommands().contains(&"download".to_string()));
}

#[test]
fn clap_definitions_are_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn push_takes_charts_then_the_repository() {
    let cli = parse(["helm-ccr", "push", "a", "b", "r"]).unwrap();
    let Command::Push(p) = cli.command else {
        panic!()
    };
    assert_eq!(p.charts, ["a", "b"]);
    assert_eq!(p.repo, "r");
}

#[test]
fn missing_arguments_are_named() {
    let (m, _, sub) = err(&["push"]);
    assert!(m.contains("<CHART>...") && m.contains("<REPO>"), "{m}");
    assert_eq!(sub.as_deref(), Some("push"));
    // Charts but no repository: REPO is named, not the charts clap would name.
    for args in [
        &["push", "./x"][..],
        &["push", "-o", "json", "--version", "1.0.0", "./x"],
    ] {
        let (m, tip, _) = err(args);
        assert!(m.contains("missing REPO") && !m.contains("<CHART>"), "{m}");
        assert!(tip.unwrap().contains("CHART... REPO"));
    }
    // A flag's missing companion stays named.
    let (m, _, _) = err(&["push", "./x", "r", "--key", "k"]);
    assert!(m.contains("--sign"), "{m}");
}

fn text(args: &[&str]) -> String {
    let mut v = vec!["helm-ccr"];
    v.extend_from_slice(args);
    match parse(v) {
        Err(Usage::Text(t)) => t,
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn list_and_delete_are_ls_and_rm() {
    let cli = parse(["helm-ccr", "list", "r"]).unwrap();
    assert!(matches!(cli.command, Command::Ls(_)));
    let cli = parse(["helm-ccr", "-q", "delete", "r/c", "--all"]).unwrap();
    assert!(matches!(cli.command, Command::Rm(_)));
    assert_eq!(text(&["help", "list"]), text(&["ls", "--help"]));
    assert_eq!(text(&["delete", "--help"]), text(&["rm", "--help"]));
    let (_, _, sub) = err(&["list"]);
    assert_eq!(sub.as_deref(), Some("ls"));
    assert_eq!(canonical_subcommand("delete").as_deref(), Some("rm"));
    assert_eq!(flags_of("list"), flags_of("ls"));
    let subs = subcommands();
    let at = |n: &str| subs.iter().position(|s| s == n).unwrap();
    assert_eq!((at("ls") + 1, at("rm") + 1), (at("list"), at("delete")));
}

#[test]
fn help_has_topics_and_its_own_help() {
    assert_eq!(text(&["help"]), text(&["--help"]));
    assert_eq!(text(&["help", "push"]), text(&["push", "--help"]));
    let own = text(&["help", "--help"]);
    assert!(
        own.contains("Usage: helm ccr help [COMMAND | environment]"),
        "{own}"
    );
    assert_eq!(text(&["help", "-h"]), own);
    let env = text(&["help", "environment"]);
    for (name, _) in crate::settings::env::vars::TABLE {
        assert!(env.contains(&format!("\n  {name}\n")), "{name}: {env}");
    }
    for name in ["BCE_ACCESS_KEY_ID", "BCE_REGION", "HELM_DEBUG", "HELM_BIN"] {
        assert!(env.contains(name), "{name}");
    }
    assert!(env.lines().all(|l| l.chars().count() <= 100), "{env}");
    let (m, _, sub) = err(&["help", "nope"]);
    assert!(m.contains("environment"), "{m}");
    assert_eq!(sub.as_deref(), Some("help"));
}

#[test]
fn debug_is_taken_anywhere_before_a_double_dash() {
    let take = |args: &[&str]| {
        let mut v: Vec<OsString> = args.iter().map(OsString::from).collect();
        let on = take_debug(&mut v);
        (
            on,
            v.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        take(&["b", "ls", "r", "--debug"]),
        (true, vec!["b".into(), "ls".into(), "r".into()])
    );
    assert_eq!(
        take(&["b", "--debug", "ls"]),
        (true, vec!["b".into(), "ls".into()])
    );
    assert_eq!(
        take(&["b", "ls", "--debug=false"]),
        (false, vec!["b".into(), "ls".into()])
    );
    assert!(take(&["b", "ls", "--debug=true"]).0);
    assert_eq!(
        take(&["b", "ls", "--", "--debug"]),
        (
            false,
            vec!["b".into(), "ls".into(), "--".into(), "--debug".into()]
        )
    );
}

#[test]
fn negative_timeouts_are_named() {
    for args in [
        &["ls", "r", "--timeout", "-1s"][..],
        &["--timeout=-1s", "ls", "r"],
        &["ls", "r", "--timeout", "-.5m"],
    ] {
        let (m, tip, sub) = err(args);
        assert!(
            m.contains("cannot be negative") && m.contains("use 0 for no limit"),
            "{m}"
        );
        assert_eq!(tip, None);
        assert_eq!(sub.as_deref(), Some("ls"));
    }
    assert!(parse(["helm-ccr", "ls", "r", "--timeout", "0"]).is_ok());
}

#[test]
fn tips_and_possible_values_survive() {
    let (m, tip, sub) = err(&["psh"]);
    assert!(m.contains("'psh'"), "{m}");
    assert!(tip.unwrap().contains("'push'"));
    assert_eq!(sub, None);
    let (m, _, sub) = err(&["--region", "bj", "pull", "r/c", "-o", "xml"]);
    assert!(m.contains("text, json, yaml"), "{m}");
    assert_eq!(sub.as_deref(), Some("pull"));
}
