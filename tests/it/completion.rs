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
        let flags = helm_ccr::cli::flags_of(&c.name).unwrap();
        let want: BTreeSet<String> = flags
            .iter()
            .flat_map(|f| [Some(f.long.clone()), f.short.clone()])
            .flatten()
            .map(|f| f.trim_start_matches('-').to_string())
            .collect();
        let got: BTreeSet<String> = c.flags.iter().cloned().collect();
        assert_eq!(got, want, "flags of {} in completion.yaml", c.name);
    }
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

    // Flags once each: completion.yaml's, not doubled by plugin.complete.
    let (flags, _) = completed(&h, &["push", "--sk"]);
    assert_eq!(flags, ["--skip-existing"]);

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
