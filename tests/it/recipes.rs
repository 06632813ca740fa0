//! README's "CI recipes" cannot rot: every Helm command line of every code block in that
//! section runs here, in order, with `sh`, against the emulator, in real Helm 3.17.3 and 4.1.4
//! with the plugin installed, the secrets in `BCE_ACCESS_KEY_ID`/`BCE_SECRET_ACCESS_KEY` as a
//! CI system passes them. A command line is what remains of a line once YAML's `- `, `run:` and
//! `script:` are taken off, when it starts with `helm ` or pipes into `helm `. `helm plugin
//! install` lines are left out: the test installs this checkout's plugin itself.

use crate::common::*;

/// The code blocks of README's "CI recipes" section.
fn recipe_blocks() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("\n## CI recipes")
        .expect("README has a CI recipes section");
    let section = &readme[start + 1..];
    let section = match section[3..].find("\n## ") {
        Some(end) => &section[..end + 3],
        None => section,
    };
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(b) => blocks.push(b),
                None => current = Some(String::new()),
            }
        } else if let Some(b) = current.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks
}

/// The Helm command lines of a block.
fn commands(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|l| {
            let mut t = l.trim();
            t = t.strip_prefix("- ").unwrap_or(t).trim_start();
            for key in ["run:", "script:"] {
                t = t.strip_prefix(key).unwrap_or(t).trim_start();
            }
            let is_helm = t.starts_with("helm ") || t.contains("| helm ");
            (is_helm && !t.starts_with("helm plugin ")).then(|| t.to_string())
        })
        .collect()
}

#[test]
fn the_recipes_are_found() {
    let blocks = recipe_blocks();
    assert!(
        blocks.len() >= 2,
        "GitHub Actions and GitLab CI: {blocks:?}"
    );
    for b in &blocks {
        let cmds = commands(b);
        assert!(
            cmds.iter()
                .any(|c| c.starts_with("helm ccr push charts/*/ ") && c.contains("-o json")),
            "{cmds:?}"
        );
        assert!(
            cmds.iter().any(|c| c.contains("--password-stdin")),
            "{cmds:?}"
        );
        assert!(
            !b.contains("--password \""),
            "no secret on a command line: {b}"
        );
    }
}

fn recipes_run(version: u32) {
    let w = World::new();
    let h = PluginHelm::install(version, &w);
    for (name, ver) in [("web", "1.0.0"), ("api", "0.3.0")] {
        let dir = h.dir.path().join("charts").join(name);
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: {ver}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
        )
        .unwrap();
    }
    for (i, block) in recipe_blocks().iter().enumerate() {
        let cmds = commands(block);
        assert!(!cmds.is_empty());
        for cmd in cmds {
            let out = h
                .sh(&cmd)
                .env("BCE_ACCESS_KEY_ID", AK)
                .env("BCE_SECRET_ACCESS_KEY", SK)
                .env("CCR_REPO", REPO)
                .env("CI", "true")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "helm {version}, recipe {i}: {cmd}\n{}{}",
                stdout(&out),
                stderr(&out)
            );
            if cmd.starts_with("helm ccr push") {
                let json_file = h.dir.path().join("pushed.json");
                let text = if cmd.contains("> pushed.json") {
                    std::fs::read_to_string(&json_file).unwrap()
                } else {
                    stdout(&out)
                };
                let v: serde_json::Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{cmd}: {e}: {text}"));
                let names: Vec<&str> = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["name"].as_str().unwrap())
                    .collect();
                assert_eq!(names.len(), 2, "{text}");
                for r in v.as_array().unwrap() {
                    assert!(
                        r["action"] == "pushed" || r["action"] == "skipped",
                        "{text}"
                    );
                }
            }
        }
    }
    assert_eq!(w.versions("web"), ["1.0.0"]);
    assert_eq!(w.versions("api"), ["0.3.0"]);
}

#[test]
fn helm3_runs_the_ci_recipes() {
    recipes_run(3);
}

#[test]
fn helm4_runs_the_ci_recipes() {
    recipes_run(4);
}
