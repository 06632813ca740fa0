//! Pushing chart directories through the CLI: overrides, several charts at once.

use std::ffi::OsStr;
use std::path::Path;

use crate::common::*;

fn corpus(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charts/valid")
        .join(name)
}

#[test]
fn a_pushed_directory_pulls_back_intact_and_renders() {
    let w = World::new();
    copy_dir(&corpus("create"), &w.path("create"));
    let out = w
        .cmd()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["push", "create", REPO, "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dry = stdout(&out);
    let out = w
        .cmd()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["push", "create", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = w.stored("create", "0.1.0").expect("stored");
    let digest = sha256(&stored);
    assert!(stdout(&out).contains(&digest), "{}", stdout(&out));
    assert!(
        dry.contains(&digest),
        "same SOURCE_DATE_EPOCH, same package: {dry}"
    );

    w.ok(&["pull", &format!("{REPO}/create"), "-d", "pulled"]);
    let pulled = w.path("pulled/create-0.1.0.tgz");
    assert_eq!(std::fs::read(&pulled).unwrap(), stored);
    for v in [3, 4] {
        let home = tempfile::tempdir().unwrap();
        let out = run_helm(
            v,
            home.path(),
            &[
                OsStr::new("template"),
                OsStr::new("rel"),
                pulled.as_os_str(),
            ],
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("kind: Deployment"));
    }
}

#[test]
fn version_overrides_apply_to_directories_and_packages() {
    let w = World::new();
    copy_dir(&corpus("create"), &w.path("create"));
    w.ok(&[
        "push",
        "create",
        REPO,
        "--version",
        "2.3.4",
        "--app-version",
        "9.9",
    ]);
    assert_eq!(w.versions("create"), ["2.3.4"]);

    // A ready package is repacked with the new version; its .prov no longer applies.
    w.write("p-1.0.0.tgz", &chart_tgz("p", "1.0.0", "x"));
    w.write("p-1.0.0.tgz.prov", b"signature");
    let out = w.ok(&["push", "p-1.0.0.tgz", REPO, "--version", "1.0.1"]);
    assert!(
        stderr(&out).contains(".prov is not uploaded"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.versions("p"), ["1.0.1"]);
    assert!(w.emu.prov_bytes(INSTANCE, NS, "p", "1.0.1").is_none());
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/create"), "-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["appVersion"], "9.9");
}

#[test]
fn several_charts_push_concurrently_and_one_failure_spares_the_others() {
    let w = World::new();
    for name in ["one", "two", "three"] {
        w.write(
            &format!("charts/{name}-1.0.0.tgz"),
            &chart_tgz(name, "1.0.0", name),
        );
    }
    w.write("charts/bad.tgz", b"not a package");
    let out = w
        .cmd()
        .args([
            "push",
            "charts/one-1.0.0.tgz",
            "charts/bad.tgz",
            "charts/two-1.0.0.tgz",
            "charts/three-1.0.0.tgz",
            REPO,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let pushed = stdout(&out);
    assert_eq!(
        pushed.lines().filter(|l| l.starts_with("Pushed ")).count(),
        3,
        "{pushed}"
    );
    assert!(stderr(&out).contains("bad.tgz"), "{}", stderr(&out));
    for name in ["one", "two", "three"] {
        assert_eq!(w.versions(name), ["1.0.0"]);
    }
    // The monorepo pipeline re-runs: everything is there already, unchanged.
    let out = w.ok(&[
        "push",
        "charts/one-1.0.0.tgz",
        "charts/two-1.0.0.tgz",
        "charts/three-1.0.0.tgz",
        REPO,
        "--skip-existing",
    ]);
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("Unchanged "))
            .count(),
        3
    );
}

#[test]
fn dependency_update_runs_helm_first() {
    let w = World::new();
    copy_dir(&corpus("create"), &w.path("create"));
    // A stand-in `helm` records how it was called.
    let fake = w.path("fake-helm");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/helm-args\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = w
        .cmd()
        .env("HELM_BIN", &fake)
        .args(["push", "create", REPO, "--dependency-update", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(w.path("helm-args")).unwrap().trim(),
        "dependency update create"
    );
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'Error: no repository definition for x' >&2\nexit 1\n",
    )
    .unwrap();
    let out = w
        .cmd()
        .env("HELM_BIN", &fake)
        .args(["push", "create", REPO, "--dependency-update"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "no repository definition");
    assert_eq!(w.count("POST"), 0);
}
