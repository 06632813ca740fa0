//! README's "CI recipes" cannot rot: every code block of that section runs here against the
//! emulator, in real Helm 3.17.3 and 4.1.4 with the plugin installed, the secrets in the
//! environment as a CI system passes them, each block in a fresh registry and Helm home (with
//! `myccr` added beforehand for a recipe that uses it without adding it).
//!
//! - A ```sh block is a script: it runs whole, with `sh -e`.
//! - Any other block (a CI system's YAML) runs its Helm command lines one by one with `sh`: what
//!   remains of a line once YAML's `- `, `run:` and `script:` are taken off, when it starts
//!   with `helm ` or pipes into `helm `. `helm plugin install` lines are left out: the test
//!   installs this checkout's plugin itself.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// A code block of the section: its language and text.
struct Block {
    lang: String,
    text: String,
}

/// The code blocks of README's "CI recipes" section.
fn recipe_blocks() -> Vec<Block> {
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
    let mut current: Option<Block> = None;
    for line in section.lines() {
        if let Some(fence) = line.trim_start().strip_prefix("```") {
            match current.take() {
                Some(b) => blocks.push(b),
                None => {
                    current = Some(Block {
                        lang: fence.trim().to_string(),
                        text: String::new(),
                    })
                }
            }
        } else if let Some(b) = current.as_mut() {
            b.text.push_str(line);
            b.text.push('\n');
        }
    }
    blocks
}

/// The Helm command lines of a CI system's block.
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
    let yaml: Vec<&Block> = blocks.iter().filter(|b| b.lang == "yaml").collect();
    assert!(yaml.len() >= 2, "GitHub Actions and GitLab CI");
    for b in &yaml {
        let cmds = commands(&b.text);
        assert!(
            cmds.iter()
                .any(|c| c.starts_with("helm ccr push charts/*/ ") && c.contains("-o json")),
            "{cmds:?}"
        );
        assert!(
            cmds.iter().any(|c| c.contains("--password-stdin")),
            "{cmds:?}"
        );
    }
    for b in &blocks {
        assert!(
            !b.text.contains("--password \""),
            "no secret on a command line: {}",
            b.text
        );
    }
}

/// An armored secret key for `releases@example.com` protected by `passphrase`, as a CI secret
/// holds it (made in a throwaway GnuPG home).
fn signing_key(passphrase: &str) -> String {
    let home = tempfile::Builder::new().prefix("gk").tempdir().unwrap();
    let gpg = |args: &[&str]| {
        let out = std::process::Command::new("gpg")
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
            ])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GNUPGHOME", home.path())
            .stdin(Stdio::null())
            .output()
            .expect("gpg runs (scripts/test.sh installs it)");
        assert!(out.status.success(), "gpg {args:?}: {}", stderr(&out));
        out
    };
    gpg(&[
        "--quick-generate-key",
        "Releases <releases@example.com>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let key = stdout(&gpg(&[
        "--armor",
        "--export-secret-keys",
        "releases@example.com",
    ]));
    let _ = std::process::Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", home.path())
        .status();
    key
}

fn recipes_run(version: u32) {
    let passphrase = "recipe-passphrase-7";
    let key = signing_key(passphrase);
    for (i, block) in recipe_blocks().iter().enumerate() {
        let w = World::new();
        let h = PluginHelm::install(version, &w);
        // A recipe that uses `myccr` without adding it finds it added (as before its job).
        if block.text.contains("myccr") && !block.text.contains("helm repo add myccr") {
            let added = h
            .sh(&format!(
                "echo \"$BCE_SECRET_ACCESS_KEY\" | helm repo add myccr {REPO} --username \"$BCE_ACCESS_KEY_ID\" --password-stdin"
            ))
            .env("BCE_ACCESS_KEY_ID", AK)
            .env("BCE_SECRET_ACCESS_KEY", SK)
            .output()
            .unwrap();
            assert!(added.status.success(), "{}", stderr(&added));
        }
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
        let scripts: Vec<String> = if block.lang == "sh" {
            vec![format!("set -e\n{}", block.text)]
        } else {
            commands(&block.text)
        };
        assert!(!scripts.is_empty(), "recipe {i} has nothing to run");
        for script in &scripts {
            let out = h
                .sh(script)
                .env("BCE_ACCESS_KEY_ID", AK)
                .env("BCE_SECRET_ACCESS_KEY", SK)
                .env("CCR_REPO", REPO)
                .env("CI", "true")
                .env("SIGNING_KEY", &key)
                .env("SIGNING_PASSPHRASE", passphrase)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "helm {version}, recipe {i}: {script}\n{}{}",
                stdout(&out),
                stderr(&out)
            );
            for text in [stdout(&out), stderr(&out)] {
                assert!(!text.contains(SK) && !text.contains(passphrase), "{text}");
            }
            if script.starts_with("helm ccr push") && script.contains("-o json") {
                let text = if script.contains("> pushed.json") {
                    std::fs::read_to_string(h.dir.path().join("pushed.json")).unwrap()
                } else {
                    stdout(&out)
                };
                let v: serde_json::Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{script}: {e}: {text}"));
                let list = v.as_array().unwrap();
                assert_eq!(list.len(), 2, "{text}");
                for r in list {
                    assert_eq!(r["action"], "pushed", "{text}");
                }
            }
        }
        // Every recipe publishes the charts; a signing one with their provenance files.
        assert_eq!(w.versions("web"), ["1.0.0"], "recipe {i}");
        assert_eq!(w.versions("api"), ["0.3.0"], "recipe {i}");
        if block.text.contains("--sign") {
            assert!(
                w.emu.prov_bytes(INSTANCE, NS, "web", "1.0.0").is_some(),
                "recipe {i} signs"
            );
        }
    }
}

#[test]
fn helm3_runs_the_ci_recipes() {
    recipes_run(3);
}

#[test]
fn helm4_runs_the_ci_recipes() {
    recipes_run(4);
}

/// README's first example adds the repository before it pushes to it.
#[test]
fn the_first_example_adds_the_repository_before_pushing_to_it() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme.find("```console").expect("a console example");
    let block = &readme[start..start + readme[start..].find("\n```\n").unwrap()];
    let add = block
        .find("helm repo add myccr")
        .expect("helm repo add myccr");
    let push = block
        .find("helm ccr push ./mychart myccr")
        .expect("the push");
    assert!(add < push, "{block}");
}

/// README's "by hand, against the emulator" snippet runs as written (the release build it
/// starts with stands in as the binaries this test run built), with Helm 4.1.4 in a
/// throwaway home.
#[test]
fn the_by_hand_snippet_runs() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let at = readme
        .find("By hand, against the emulator")
        .expect("the by-hand section");
    let start = at + readme[at..].find("```sh\n").unwrap() + "```sh\n".len();
    let snippet = &readme[start..start + readme[start..].find("```").unwrap()];
    assert!(
        snippet.starts_with("cargo build --release --locked"),
        "{snippet}"
    );
    let script = snippet
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
        .replace("/tmp/ccr-emulator.url", "\"$PWD/ccr-emulator.url\"");

    // A checkout of the plugin's files, with the binaries where the release build puts them.
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("checkout");
    let root = repo_root();
    std::fs::create_dir_all(checkout.join("target/release")).unwrap();
    for f in [
        "plugin.yaml",
        "install-binary.sh",
        "completion.yaml",
        "plugin.complete",
    ] {
        std::fs::copy(root.join(f), checkout.join(f)).unwrap();
    }
    copy_dir(&root.join("getter"), &checkout.join("getter"));
    let helm_ccr = Path::new(env!("CARGO_BIN_EXE_helm-ccr"));
    let emulator = helm_ccr.with_file_name("ccr-emulator");
    if !emulator.is_file() {
        let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--locked",
                "-p",
                "ccr-emulator",
                "--bin",
                "ccr-emulator",
            ])
            .status()
            .unwrap();
        assert!(built.success(), "building ccr-emulator");
    }
    std::os::unix::fs::symlink(helm_ccr, checkout.join("target/release/helm-ccr")).unwrap();
    std::os::unix::fs::symlink(&emulator, checkout.join("target/release/ccr-emulator")).unwrap();

    // Helm 4.1.4 first on PATH, every home of its own.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(helm(4), bin.join("helm")).unwrap();
    let home = dir.path().join("home");
    let data = home.join("data");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -e\n{script}"))
        .current_dir(&checkout)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        )
        .env("HOME", &home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", &data)
        .env("HELM_PLUGINS", data.join("plugins"))
        .output()
        .unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{script}\n{o}{e}");
    assert!(o.contains("Pushed mychart 0.1.0"), "{o}{e}");
    assert!(
        o.lines()
            .any(|l| l.starts_with("mychart") && l.contains("0.1.0")),
        "{o}"
    );
}
