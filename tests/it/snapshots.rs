//! What humans read, pinned: help texts, tables, error lines.

use crate::common::*;

#[test]
fn help_texts() {
    let w = World::new();
    for (name, args) in [
        ("help", vec!["--help"]),
        ("push_help", vec!["push", "--help"]),
        ("pull_help", vec!["pull", "--help"]),
        ("ls_help", vec!["ls", "--help"]),
        ("rm_help", vec!["rm", "--help"]),
    ] {
        let out = w.bare().args(&args).output().unwrap();
        assert!(out.status.success());
        insta::assert_snapshot!(name, stdout(&out));
    }
}

#[test]
fn tables_and_errors() {
    let w = World::new();
    for (name, version, desc) in [
        ("web", "1.0.0", "A web server"),
        ("web", "1.10.0", "A web server"),
        ("worker-long-name", "0.2.0-rc.1", "Background jobs"),
    ] {
        let file = format!("{name}-{version}.tgz");
        w.write(&file, &chart_tgz(name, version, desc));
        w.cmd().args(["push", &file, REPO]).assert().success();
        w.emu.patch_version(
            INSTANCE,
            NS,
            name,
            version,
            serde_json::json!({"created": "2026-01-02T03:04:05Z", "description": desc}),
        );
    }
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/web")])
        .output()
        .unwrap();
    insta::assert_snapshot!("ls_versions", stdout(&out));
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/worker-long-name"), "--devel"])
        .output()
        .unwrap();
    insta::assert_snapshot!("ls_versions_devel", stdout(&out));
    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/nope")])
        .output()
        .unwrap();
    insta::assert_snapshot!("error_not_found", stable(&w, &stderr(&out)));
    let out = w
        .bare()
        .env("BCE_ACCESS_KEY_ID", AK)
        .env("BCE_SECRET_ACCESS_KEY", "not-the-secret")
        .args(["ls", REPO])
        .output()
        .unwrap();
    insta::assert_snapshot!("error_signature", stable(&w, &stderr(&out)));
    let out = w
        .cmd()
        .args(["rm", &format!("{REPO}/web")])
        .output()
        .unwrap();
    insta::assert_snapshot!("error_usage", stderr(&out));
}
