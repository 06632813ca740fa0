//! Secret keys, tokens and passwords never show: not in output, not in debug logs, not in an
//! error about a file or a URL, whatever fails on the way.

use ccr_emulator::{Config, Fault, Key};

use crate::common::*;

#[test]
fn secrets_never_show_in_output_or_debug_logs() {
    let w = World::with(Config::new(vec![Key::with_token("sts-ak", SECRET, TOKEN)]));
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    w.emu
        .put_raw(INSTANCE, NS, "old", "1.0.0", chart_tgz("old", "1.0.0", ""));
    w.write("app-2.0.0.tgz", &chart_tgz("app", "2.0.0", ""));
    w.write(
        "dirchart/Chart.yaml",
        b"apiVersion: v2\nname: dirchart\nversion: 0.1.0\n",
    );
    let commands: Vec<Vec<String>> = [
        vec!["push", "app-2.0.0.tgz", REPO],
        vec!["push", "dirchart", REPO],
        vec!["push", "app-2.0.0.tgz", REPO, "--dry-run"],
        vec!["ls", REPO],
        vec!["ls", "ccr://ccr-test/ns/app", "-o", "yaml"],
        vec!["pull", "ccr://ccr-test/ns/app", "-d", "o"],
        vec!["pull", "ccr://ccr-test/ns/app", "-d", "o2", "--untar"],
        vec!["rm", "ccr://ccr-test/ns/old", "--version", "1.0.0"],
        vec!["rm", "ccr://ccr-test/ns/app", "--all", "--dry-run"],
        vec!["download", "", "", "", "ccr://ccr-test/ns/index.yaml"],
        vec!["download", "", "", "", "ccr://ccr-test/ns/app-1.0.0.tgz"],
        vec!["ls", "ccr://ccr-test/ns/missing"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    let run = |args: &[String], token: &str, what: &str| {
        let out = w
            .bare()
            .env("HELM_DEBUG", "true")
            .env("HELM_CCR_RETRIES", "2")
            .env("BCE_ACCESS_KEY_ID", "sts-ak")
            .env("BCE_SECRET_ACCESS_KEY", SECRET)
            .env("BCE_SECURITY_TOKEN", token)
            .args(args)
            .output()
            .unwrap();
        assert_no_secret(&out, &format!("{what} {args:?}"));
        out
    };
    for args in &commands {
        let out = run(args, TOKEN, "plain");
        assert!(
            stderr(&out).contains("[debug]"),
            "debug output is on: {}",
            stderr(&out)
        );
    }
    // Failures: retries, a skewed clock, a wrong token, a wrong secret (the registry's answer
    // is echoed in the error line).
    w.emu.set_clock_skew(1800);
    w.emu.push_fault(Fault::Status {
        status: 500,
        code: None,
    });
    for args in &commands {
        run(args, TOKEN, "skewed");
    }
    w.emu.set_clock_skew(0);
    w.emu.set_fail_all(Some(Fault::Reset));
    for args in &commands {
        run(args, TOKEN, "reset");
    }
    w.emu.set_fail_all(None);
    let wrong_token = "wrong-token-VERY-secret";
    for args in &commands {
        let out = run(args, wrong_token, "wrong token");
        for text in [stdout(&out), stderr(&out)] {
            assert!(!text.contains(wrong_token), "{text}");
        }
    }
}

#[test]
fn secrets_from_files_and_repositories_never_show() {
    let w = World::new();
    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    let cfg = w.home.path().join(".bce/config.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"current":"default","profiles":[{{"name":"default","mode":"AK","access_key_id":"{AK}","secret_access_key":"{SK}"}}]}}"#
        ),
    )
    .unwrap();
    let out = w
        .bare()
        .env("HELM_DEBUG", "true")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(SK) && !stdout(&out).contains(SK));

    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("apiVersion: \"\"\nrepositories:\n- name: myccr\n  url: {REPO}\n  username: {AK}\n  password: {SECRET}\n"),
    )
    .unwrap();
    let out = w
        .bare()
        .env("HELM_DEBUG", "true")
        .args(["ls", "myccr"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "SignatureDoesNotMatch");
    assert_no_secret(&out, "repository password");
    let out = w
        .bare()
        .env("HELM_DEBUG", "true")
        .env("HELM_PLUGIN_USERNAME", AK)
        .env("HELM_PLUGIN_PASSWORD", SECRET)
        .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_no_secret(&out, "getter password");

    // A secret pasted into a URL is refused without being echoed.
    let in_urls: Vec<Vec<String>> = vec![
        vec!["ls".into(), format!("ccr://{AK}:{SECRET}@ccr-test/ns")],
        vec![
            "ls".into(),
            format!("ccr://{AK}:{SECRET}@ccr.bj.baidubce.com/i/ns"),
        ],
        vec![
            "pull".into(),
            format!("ccr://{AK}:{SECRET}@ccr-test/ns/app"),
        ],
        vec!["pull".into(), format!("https://{AK}:{SECRET}@host/ns/app")],
        vec![
            "ls".into(),
            REPO.into(),
            "--endpoint".into(),
            format!("http://u:{SECRET}@127.0.0.1:1"),
        ],
        vec![
            "download".into(),
            "".into(),
            "".into(),
            "".into(),
            format!("ccr://{AK}:{SECRET}@ccr-test/ns/index.yaml"),
        ],
    ];
    for args in in_urls {
        let out = w
            .cmd()
            .env("HELM_DEBUG", "true")
            .args(&args)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?}");
        assert_no_secret(&out, &format!("{args:?}"));
    }
}

#[test]
fn a_non_ccr_repository_url_is_redacted() {
    let w = World::new();
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("apiVersion: \"\"\nrepositories:\n- name: web\n  url: https://user:{SECRET}@charts.example.com/x\n"),
    )
    .unwrap();
    for args in [
        vec!["ls", "web"],
        vec!["pull", "web/app"],
        vec!["rm", "web/app", "--all"],
    ] {
        let out = w.cmd().args(&args).output().unwrap();
        assert_one_error(&out, 1, "not a ccr:// repository");
        assert!(
            stderr(&out).contains("https://***@charts.example.com/x"),
            "{}",
            stderr(&out)
        );
        assert_no_secret(&out, "non-ccr URL");
    }
}
