//! Names that become paths: file names a registry hands out are reduced to a safe base name,
//! chart names and versions travel as percent-encoded path segments, and file names of up to
//! 255 bytes pull fine. Nothing is written outside the destination, no other chart is reached.

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Registry-given file names.

#[test]
fn registry_file_names_are_reduced_to_a_safe_base_name() {
    let bytes = chart_tgz("app", "1.0.0", "");
    let digest = sha256(&bytes);
    for (urls, written) in [
        (serde_json::json!(["../../evil.tgz"]), "evil.tgz"),
        (serde_json::json!(["/etc/evil.tgz"]), "evil.tgz"),
        (serde_json::json!(["..\\..\\evil.tgz"]), "evil.tgz"),
        (
            serde_json::json!(["https://elsewhere/x/../evil.tgz?x=/../y"]),
            "evil.tgz",
        ),
        (serde_json::json!([".."]), "app-1.0.0.tgz"),
        (serde_json::json!(["../.."]), "app-1.0.0.tgz"),
        (serde_json::json!(["charts/"]), "app-1.0.0.tgz"),
        (serde_json::json!([".bashrc"]), "app-1.0.0.tgz"),
        (serde_json::json!(["c:evil.tgz"]), "app-1.0.0.tgz"),
        (serde_json::json!(["evil\n.tgz"]), "app-1.0.0.tgz"),
        (serde_json::json!([]), "app-1.0.0.tgz"),
        (serde_json::json!(null), "app-1.0.0.tgz"),
        (serde_json::json!("../../evil.tgz"), "evil.tgz"),
    ] {
        let reg = one_version(bytes.clone(), digest.clone().into(), urls.clone());
        let w = World::new();
        for untar in [false, true] {
            let mut c = w.cmd_at(&reg.url);
            c.args(["pull", &format!("{REPO}/app"), "-d", "a/b/c"]);
            if untar {
                c.args(["--untar", "--untardir", "u"]);
            }
            let out = c.output().unwrap();
            assert!(out.status.success(), "{urls}: {}", stderr(&out));
        }
        let mut files = files_below(w.work.path());
        files.sort();
        assert_eq!(
            files,
            [
                format!("a/b/c/{written}"),
                "a/b/c/u/app/Chart.yaml".to_string(),
                "a/b/c/u/app/templates/cm.yaml".to_string(),
                "a/b/c/u/app/values.yaml".to_string(),
            ],
            "{urls}"
        );
        let downloads: Vec<String> = reg
            .seen()
            .into_iter()
            .filter(|r| r.contains("/download/"))
            .collect();
        for d in &downloads {
            assert!(
                d.ends_with(&format!("/charts/download/{written}")),
                "{urls}: asked for {d}"
            );
        }
    }
}

#[test]
fn a_hostile_url_in_the_emulator_writes_nothing_outside() {
    let w = World::new();
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    w.emu.patch_version(
        INSTANCE,
        NS,
        "app",
        "1.0.0",
        serde_json::json!({"urls": ["../../evil.tgz"]}),
    );
    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/app"), "-d", "a/b"])
        .output()
        .unwrap();
    // The emulator serves only the real name: the reduced name is not found, and said so.
    assert_one_error(&out, 1, "evil.tgz");
    assert!(files_below(w.work.path()).is_empty());
    let paths: Vec<String> = w.emu.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("/charts/download/evil.tgz")),
        "{paths:?}"
    );
    assert!(paths.iter().all(|p| !p.contains("..")), "{paths:?}");
}

// ---------------------------------------------------------------------------------------------
// Names and versions as path segments.

#[test]
fn chart_names_and_versions_are_percent_encoded_path_segments() {
    let w = World::new();
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    w.emu
        .put_raw(INSTANCE, NS, "x", "1.0.0", chart_tgz("x", "1.0.0", ""));
    for name in [
        "..%2Fx",
        "%2e%2e",
        "x%2F..%2F..%2Fapp",
        "a?b=c",
        "a#b",
        "a;b",
        "ä",
    ] {
        for args in [
            vec!["ls".to_string(), format!("{REPO}/{name}")],
            vec![
                "pull".to_string(),
                format!("{REPO}/{name}"),
                "-d".into(),
                "o".into(),
            ],
            vec![
                "rm".to_string(),
                format!("{REPO}/{name}"),
                "--version".into(),
                "1.0.0".into(),
            ],
            vec!["rm".to_string(), format!("{REPO}/{name}"), "--all".into()],
        ] {
            w.emu.clear_requests();
            let out = w.cmd().args(&args).output().unwrap();
            // Refused before sending, or not found: never another chart's path.
            assert_one_error(&out, 1, "");
            for r in w.emu.requests() {
                let path = r.path.split('?').next().unwrap();
                let segs: Vec<&str> = path.split('/').collect();
                assert_eq!(
                    &segs[..7],
                    ["", "v1", "instances", INSTANCE, "projects", NS, "charts"],
                    "{args:?}: {}",
                    r.path
                );
                assert!(
                    segs[7..]
                        .iter()
                        .all(|s| !s.is_empty() && *s != ".." && *s != "."),
                    "{}",
                    r.path
                );
                assert!(
                    !path.contains('#') && !path.contains(';') && !path.contains("/../"),
                    "{}",
                    r.path
                );
            }
        }
    }
    // Versions too: one that would climb reaches no other path, and deletes nothing.
    for version in ["../../x/versions/1.0.0", "..", "1.0.0/../../x"] {
        let out = w
            .cmd()
            .args(["rm", &format!("{REPO}/app"), "--version", version])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{version}: {}", stderr(&out));
    }
    assert_eq!(w.versions("app"), ["1.0.0"]);
    assert_eq!(w.versions("x"), ["1.0.0"]);
    assert!(files_below(w.work.path()).is_empty());
}

#[test]
fn a_build_metadata_version_travels_encoded() {
    let w = World::new();
    let bytes = chart_tgz("b", "1.0.0+build.1", "");
    w.write("b.tgz", &bytes);
    let out = w.cmd().args(["push", "b.tgz", REPO]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w
        .cmd()
        .args(["rm", &format!("{REPO}/b"), "--version", "1.0.0+build.1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w
        .emu
        .requests()
        .iter()
        .any(|r| r.path.contains("1.0.0%2Bbuild.1")));
    assert!(w.versions("b").is_empty());
}

// ---------------------------------------------------------------------------------------------
// File names of 243-255 bytes.

#[test]
fn file_names_of_up_to_255_bytes_pull_fine() {
    let bytes = chart_tgz("app", "1.0.0", "");
    for len in [243usize, 250, 255] {
        let name = format!("app-1.0.0-{}.tgz", "x".repeat(len - "app-1.0.0-.tgz".len()));
        assert_eq!(name.len(), len);
        let reg = one_version(
            bytes.clone(),
            sha256(&bytes).into(),
            serde_json::json!([name.clone()]),
        );
        let w = World::new();
        let out = w
            .cmd_at(&reg.url)
            .args(["pull", &format!("{REPO}/app"), "-d", "o"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{len}: {}", stderr(&out));
        assert_eq!(files_below(w.work.path()), [format!("o/{name}")]);
        let out = w
            .cmd_at(&reg.url)
            .args(["pull", &format!("{REPO}/app"), "-d", "u", "--untar"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{len}: {}", stderr(&out));
        assert!(w.path("u/app/Chart.yaml").is_file());
    }
}
