//! Shell completion inside Helm: completion.yaml (subcommands and flags) kept in step with the
//! command line, and plugin.complete answering `helm __complete ccr ...` with repositories,
//! charts and versions from the registry, in real Helm 3.17.3 and 4.1.4.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::common::*;

#[derive(Debug, Deserialize)]
struct YamlCommand {
    name: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default, rename = "validArgs")]
    valid_args: Vec<String>,
    #[serde(default)]
    commands: Vec<YamlCommand>,
}

#[test]
fn completion_yaml_lists_every_subcommand_and_flag() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/completion.yaml")).unwrap();
    let root: YamlCommand = serde_saphyr::from_str(&text).unwrap();
    let listed: BTreeSet<String> = root.commands.iter().map(|c| c.name.clone()).collect();
    let real: BTreeSet<String> = helm_ccr::cli::subcommands().into_iter().collect();
    assert_eq!(listed, real, "completion.yaml's commands");
    for c in &root.commands {
        if c.name == "help" {
            let mut want = real.clone();
            want.remove("help");
            assert_eq!(c.valid_args.iter().cloned().collect::<BTreeSet<_>>(), want);
            continue;
        }
        assert!(helm_ccr::cli::flags_of(&c.name).is_some(), "{}", c.name);
        // A subcommand's flags come from plugin.complete, with descriptions: listed here too,
        // Helm would show them twice.
        assert!(c.flags.is_empty(), "flags of {} in completion.yaml", c.name);
    }
    // The plugin's own flags and the global switches, a shorthand at the position of its long
    // name among the long ones (Helm pairs them so).
    assert_eq!(
        root.flags,
        [
            "version",
            "V",
            "help",
            "h",
            "quiet",
            "q",
            "insecure-skip-tls-verify"
        ]
    );
}

/// Candidates Helm printed (its stdout without the directive line) and the directive.
fn completed(h: &PluginHelm, words: &[&str]) -> (Vec<String>, String) {
    let mut args = vec!["__complete", "ccr"];
    args.extend_from_slice(words);
    let out = h.ok(&args);
    let text = stdout(&out);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let directive = lines.pop().unwrap_or_default();
    assert!(directive.starts_with(':'), "{text}");
    (lines, directive)
}

fn completes_in_helm(version: u32) {
    let w = World::new();
    w.push_chart("web", "1.0.0");
    w.push_chart("web", "1.2.0");
    w.push_chart("worker", "0.1.0");
    let h = PluginHelm::install(version, &w);
    h.ok(&[
        "repo",
        "add",
        "myccr",
        REPO,
        "--username",
        AK,
        "--password",
        SK,
    ]);
    // A repository that is not ccr:// is no candidate.
    let mut file = std::fs::read_to_string(h.repository_config()).unwrap();
    file.push_str("- name: plain\n  url: https://charts.example.invalid\n");
    std::fs::write(h.repository_config(), file).unwrap();

    let (subs, d) = completed(&h, &[""]);
    assert_eq!(d, ":4");
    for s in ["push", "pull", "ls", "rm", "env", "version", "help"] {
        assert!(subs.contains(&s.to_string()), "{subs:?}");
    }

    assert_eq!(
        completed(&h, &["pull", ""]),
        (vec!["myccr/".into()], ":6".into())
    );
    assert_eq!(
        completed(&h, &["pull", "myccr/w"]),
        (vec!["myccr/web".into(), "myccr/worker".into()], ":4".into())
    );
    assert_eq!(
        completed(&h, &["pull", "myccr/web", "--version", ""]),
        (vec!["1.2.0".into(), "1.0.0".into()], ":36".into())
    );
    assert_eq!(
        completed(&h, &["rm", "myccr/worker", "--version", ""]).0,
        ["0.1.0"]
    );
    assert_eq!(completed(&h, &["env", ""]).0, ["myccr"]);
    assert_eq!(completed(&h, &["ls", "-o", "j"]).0, ["json"]);

    // Flags once each: plugin.complete's, with their description, not doubled by
    // completion.yaml's.
    let (flags, _) = completed(&h, &["push", "--sk"]);
    assert_eq!(
        flags,
        ["--skip-existing\tKeep a version that already exists with different content (a warning says what differs)"]
    );

    // A registry that fails gives nothing, quietly.
    w.emu.set_fail_all(Some(ccr_emulator::Fault::Status {
        status: 500,
        code: None,
    }));
    assert_eq!(completed(&h, &["pull", "myccr/"]), (vec![], ":4".into()));
    w.emu.set_fail_all(None);
}

#[test]
fn helm3_completes_repositories_charts_and_versions() {
    completes_in_helm(3);
}

#[test]
fn helm4_completes_repositories_charts_and_versions() {
    completes_in_helm(4);
}

#[test]
fn a_slow_registry_gives_no_candidates_and_no_error() {
    let w = World::new();
    w.push_chart("web", "1.0.0");
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!(
            "repositories:\n- name: myccr\n  url: {REPO}\n  username: {AK}\n  password: {SK}\n"
        ),
    )
    .unwrap();
    let out = w
        .bare()
        .args(["__complete", "pull", "myccr/"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "myccr/web\n:4\n");
    // Slower than completion waits: the answer is cut short, and says nothing.
    w.emu.set_latency(6_000);
    let out = w
        .bare()
        .args(["__complete", "pull", "myccr/"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out), ":4\n");
    assert_eq!(stderr(&out), "");
}

/// Every subcommand offers its flags with descriptions and the global flags, once each, in
/// real Helm; the plugin itself its own flags and the global switches, and a global flag before
/// the subcommand does not hide it.
fn flags_in_helm(version: u32) {
    let w = World::new();
    let h = PluginHelm::install(version, &w);
    let globals = [
        "--region",
        "--endpoint",
        "--timeout",
        "--ca-file",
        "--insecure-skip-tls-verify",
        "--quiet",
    ];
    for sub in ["push", "pull", "ls", "rm", "env"] {
        let (lines, directive) = completed(&h, &[sub, "--"]);
        assert_eq!(directive, ":4", "{sub}");
        // Helm's own global flags come first, with theirs; then the plugin's.
        let ours: Vec<&String> = lines
            .iter()
            .filter(|l| {
                let name = l.split('\t').next().unwrap_or("");
                helm_ccr::cli::flags_of(sub)
                    .unwrap()
                    .iter()
                    .any(|f| f.long == name)
            })
            .collect();
        let want = helm_ccr::cli::flags_of(sub).unwrap();
        assert_eq!(ours.len(), want.len(), "{sub}: each flag once: {lines:?}");
        for l in &ours {
            let (_, description) = l.split_once('\t').unwrap_or(("", ""));
            assert!(
                !description.trim().is_empty(),
                "{sub}: {l:?} has no description"
            );
        }
        for g in globals {
            assert!(
                ours.iter().any(|l| l.starts_with(&format!("{g}\t"))),
                "helm {version} ccr {sub}: {g} missing: {lines:?}"
            );
        }
    }
    let (short, _) = completed(&h, &["pull", "-q"]);
    assert_eq!(
        short,
        ["-q\tPrint only errors and what the command exists to print"]
    );
    // The plugin itself (Helm asks no plugin.complete there): completion.yaml's switches.
    let (lines, _) = completed(&h, &["-"]);
    for f in [
        "--version",
        "-V",
        "--help",
        "-h",
        "--quiet",
        "-q",
        "--insecure-skip-tls-verify",
    ] {
        assert!(lines.iter().any(|l| l == f), "{f}: {lines:?}");
    }
    // Global flags before the subcommand: it is still found.
    for before in [
        &["--region", "bj"][..],
        &["-q"],
        &["--insecure-skip-tls-verify"],
    ] {
        let mut words = before.to_vec();
        words.extend(["ls", "--dev"]);
        let (lines, _) = completed(&h, &words);
        assert!(
            lines.iter().any(|l| l.starts_with("--devel\t")),
            "helm {version} ccr {words:?}: {lines:?}"
        );
    }
}

#[test]
fn helm3_offers_flags_with_descriptions_and_the_global_ones() {
    flags_in_helm(3);
}

#[test]
fn helm4_offers_flags_with_descriptions_and_the_global_ones() {
    flags_in_helm(4);
}
