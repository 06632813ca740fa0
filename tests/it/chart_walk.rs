//! Issue 17, defect 8: walking a chart directory. `helm-ccr push DIR --dry-run` on the review's
//! symbolic link DAG (depth 18: 2^18 paths to one file) stops at the entry bound with one error
//! naming the setting that raises it, in bounded memory (the child's `VmHWM`); 1,500 nested
//! directories are packaged; a link cycle is one clear error. No timing is asserted.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use crate::common::*;

/// A chart directory `dir` holding only a Chart.yaml named `name`.
fn chart(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
    )
    .unwrap();
}

/// Directories `d/0` to `d/DEPTH`, each but the last holding links `a` and `b` to the next.
fn link_dag(root: &Path, depth: usize) {
    for k in 0..=depth {
        std::fs::create_dir_all(root.join(format!("d/{k}"))).unwrap();
    }
    for k in 0..depth {
        for link in ["a", "b"] {
            symlink(format!("../{}", k + 1), root.join(format!("d/{k}/{link}"))).unwrap();
        }
    }
    std::fs::write(root.join(format!("d/{depth}/f.txt")), "leaf\n").unwrap();
}

#[test]
fn a_symlink_dag_of_depth_18_is_one_error_naming_the_setting_in_bounded_memory() {
    let w = World::new();
    let dir = w.path("dag");
    chart(&dir, "dag");
    link_dag(&dir, 18);
    let mut cmd = w.std_cmd();
    cmd.args(["push", "dag", REPO, "--dry-run"]);
    let Measured { out, peak_mib } = run_measured(cmd, Duration::from_secs(600));
    assert_one_error(&out, 1, "set HELM_CCR_MAX_ENTRIES to a higher number");
    assert!(
        stderr(&out).contains("more than 100000 files, directories and links"),
        "{}",
        stderr(&out)
    );
    // At most 100,000 entries are held (about 20 MiB in all); walking the 2^18 paths took
    // about 140 MiB.
    assert!(peak_mib < 64, "peak resident memory {peak_mib} MiB");
    assert_eq!(w.count("POST"), 0, "nothing uploaded");
}

#[test]
fn the_setting_raises_or_lowers_the_bound_and_is_checked() {
    let w = World::new();
    let dir = w.path("small");
    chart(&dir, "small");
    link_dag(&dir, 3);
    let out = w
        .cmd()
        .args(["push", "small", REPO, "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Would push small-0.1.0.tgz"),
        "{}",
        stdout(&out)
    );
    let out = w
        .cmd()
        .env("HELM_CCR_MAX_ENTRIES", "10")
        .args(["push", "small", REPO, "--dry-run"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "more than 10 files, directories and links");
    let out = w
        .cmd()
        .env("HELM_CCR_MAX_ENTRIES", "lots")
        .args(["push", "small", REPO, "--dry-run"])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "HELM_CCR_MAX_ENTRIES");
}

#[test]
fn fifteen_hundred_nested_directories_are_packaged() {
    let w = World::new();
    let dir = w.path("deep");
    chart(&dir, "deep");
    let mut nested = dir.clone();
    for _ in 0..1500 {
        nested.push("d");
    }
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("f.txt"), "deep\n").unwrap();
    let out = w
        .cmd()
        .args(["push", "deep", REPO, "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Would push deep-0.1.0.tgz"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_symlink_cycle_is_one_clear_error() {
    // Helm follows it round until the system refuses the path ("too many levels of symbolic
    // links"); here the loop is named at once.
    let w = World::new();
    let dir = w.path("cycle");
    chart(&dir, "cycle");
    std::fs::create_dir(dir.join("sub")).unwrap();
    symlink("..", dir.join("sub/up")).unwrap();
    let out = w
        .cmd()
        .args(["push", "cycle", REPO, "--dry-run"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "chart \"cycle\": sub/up: symbolic link loop");
}
