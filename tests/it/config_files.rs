//! Configuration files: ~/.bce/config.json, the BCE CLI credentials file and Helm's
//! repositories.yaml. A broken file stops only the commands that need it and is named with
//! the place of the fault, never the secret in it; an alias bomb in it is bounded; one
//! readable by others draws a warning.

use std::path::Path;

use crate::common::*;

#[test]
fn configuration_errors_name_the_place_never_the_secret() {
    let w = World::new();
    let repos = w.home.path().join("repositories.yaml");
    for case in [
        (
            "syntax error after a password",
            format!("apiVersion: \"\"\nrepositories:\n- name: myccr\n  url: ccr://ccr-test/ns\n  password: [{SECRET}\n"),
            "line ",
        ),
        (
            "a password where a list belongs",
            format!("apiVersion: \"\"\nrepositories: {SECRET}\n"),
            "(line 2, column ",
        ),
        (
            "a tab in the indentation",
            format!("repositories:\n- name: myccr\n\tpassword: {SECRET}\n"),
            "line ",
        ),
    ] {
        broken_file_is_named_without_its_secret(
            &w,
            &repos,
            case,
            &["ls", "myccr"],
            "repositories.yaml is not a valid Helm repository file",
        );
    }
    std::fs::remove_file(&repos).unwrap();

    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    let cfg = w.home.path().join(".bce/config.json");
    for case in [
        (
            "a secret where the profiles belong",
            format!(r#"{{"current":"default","profiles":"{SECRET}"}}"#),
            "a value of the wrong type at line 1, column",
        ),
        (
            "a truncated file",
            format!("{{\"profiles\":[{{\"name\":\"default\",\n\"secret_access_key\":\"{SECRET}"),
            "at line 2, column",
        ),
        (
            "a stray word",
            format!("{{\"profiles\":[{{\"secret_access_key\": {SECRET}}}]}}"),
            "a JSON syntax error at line 1, column",
        ),
    ] {
        broken_file_is_named_without_its_secret(
            &w,
            &cfg,
            case,
            &["ls", REPO],
            "config.json is not valid BCE CLI configuration",
        );
    }
}

/// Writes the case's broken `text` into `file`, runs `args` with debug output on and no
/// credentials in the environment, and asserts one `Error:` line with `error`, the case's
/// place (`says`), and no secret in any output.
fn broken_file_is_named_without_its_secret(
    w: &World,
    file: &Path,
    (what, text, says): (&str, String, &str),
    args: &[&str],
    error: &str,
) {
    std::fs::write(file, text).unwrap();
    let out = w
        .bare()
        .env("HELM_DEBUG", "true")
        .args(args)
        .output()
        .unwrap();
    assert_one_error(&out, 1, error);
    assert!(stderr(&out).contains(says), "{what}: {}", stderr(&out));
    assert_no_secret(&out, what);
}

#[test]
fn an_alias_bomb_in_the_repository_file_is_bounded() {
    let w = World::new();
    let mut doc = String::from("apiVersion: \"\"\nx0: &x0 [\"lol\"]\n");
    for l in 1..=9 {
        let refs = vec![format!("*x{}", l - 1); 10].join(", ");
        doc.push_str(&format!("x{l}: &x{l} [{refs}]\n"));
    }
    doc.push_str("repositories:\n- name: myccr\n  url: ccr://ccr-test/ns\n");
    std::fs::write(w.home.path().join("repositories.yaml"), doc).unwrap();
    let m = measured(&w, &w.emu.url(), &["ls", "myccr"], &[]);
    assert_eq!(m.out.status.code(), Some(1), "{}", stderr(&m.out));
    let line = error_line(&m.out);
    assert!(
        line.contains("repositories.yaml is not a valid Helm repository file"),
        "{line}"
    );
    assert!(m.peak_mib < 64, "peak {} MiB", m.peak_mib);
}

#[test]
fn a_broken_bce_config_stops_only_commands_that_need_it() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    std::fs::write(
        w.home.path().join(".bce/config.json"),
        "{\"profiles\": [oops",
    )
    .unwrap();
    // Credentials from the environment, endpoint named: the file is never read.
    let out = w.ok(&["ls", REPO]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // Credentials from the Helm repository entry.
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("apiVersion: \"\"\nrepositories:\n- name: myccr\n  url: {REPO}\n  username: {AK}\n  password: {SK}\n"),
    )
    .unwrap();
    let out = w.bare().args(["ls", "myccr"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // The getter, with Helm's credentials.
    let out = w
        .bare()
        .env("HELM_PLUGIN_USERNAME", AK)
        .env("HELM_PLUGIN_PASSWORD", SK)
        .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A profile named in BCE_PROFILE is not needed either.
    let out = w
        .cmd()
        .env("BCE_PROFILE", "nope")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Needed for the credentials: the error names the file and the place.
    let out = w.bare().args(["ls", REPO]).output().unwrap();
    assert_one_error(
        &out,
        1,
        "config.json is not valid BCE CLI configuration: a JSON syntax error at line 1, column",
    );
}

#[cfg(unix)]
#[test]
fn credential_files_readable_by_others_draw_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    std::fs::create_dir_all(w.home.path().join(".go-bcecli")).unwrap();
    let cfg = w.home.path().join(".bce/config.json");
    let ini = w.home.path().join(".go-bcecli/credentials");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"profiles":[{{"name":"default","access_key_id":"{AK}","secret_access_key":"{SK}"}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(&ini, format!("[Defaults]\nAk = {AK}\nSk = {SK}\n")).unwrap();
    let ls = || w.bare().args(["ls", REPO]).output().unwrap();
    for (path, other) in [(&cfg, None), (&ini, Some(&cfg))] {
        if let Some(o) = other {
            // The profile must not answer first: take it away.
            std::fs::remove_file(o).unwrap();
        }
        for (mode, warned) in [
            (0o644, true),
            (0o640, true),
            (0o604, true),
            (0o600, false),
            (0o400, false),
        ] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
            let out = ls();
            assert!(out.status.success(), "{}", stderr(&out));
            let err = stderr(&out);
            assert_eq!(
                err.contains("Warning:") && err.contains("readable by others"),
                warned,
                "{} mode {mode:o}: {err}",
                path.display()
            );
            if warned {
                assert!(err.contains(&path.display().to_string()), "{err}");
                assert!(err.contains("chmod 600"), "{err}");
            }
            assert!(!err.contains(SK));
        }
    }
}
