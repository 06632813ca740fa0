//! Malformed and hostile answers from a registry: JSON of every wrong shape, control
//! characters meant for the terminal, digests in odd spellings or none. Never a panic: one
//! clear error or a warning, and nothing reaches the terminal unneutralised.

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Malformed JSON.

#[test]
fn malformed_json_is_a_clear_error_never_a_panic() {
    let bodies: Vec<String> = vec![
        String::new(),
        "null".into(),
        "[]".into(),
        "{\"items\":{}}".into(),
        format!("{{\"items\":{}", "[".repeat(100_000)),
        "{\"items\":[1,\"x\",null,[],{\"name\":7,\"version\":[]}],\"total\":\"-3\"}".into(),
        "\u{feff}{}".into(),
        "{\"total\":1e400,\"items\":[]}".into(),
    ];
    for body in bodies {
        let b2 = body.clone();
        let reg = Scripted::start(Box::new(move |_, _, _| {
            Answer::Json(200, b2.clone(), vec![])
        }));
        let w = World::new();
        for args in [
            vec!["ls".to_string(), REPO.to_string()],
            vec![
                "ls".to_string(),
                format!("{REPO}/app"),
                "-o".into(),
                "json".into(),
            ],
            vec!["pull".to_string(), format!("{REPO}/app")],
            vec!["push".to_string(), "p.tgz".into(), REPO.into()],
            vec![
                "rm".to_string(),
                format!("{REPO}/app"),
                "--version".into(),
                "1.0.0".into(),
            ],
            vec![
                "download".into(),
                "".into(),
                "".into(),
                "".into(),
                format!("{REPO}/index.yaml"),
            ],
        ] {
            w.write("p.tgz", &chart_tgz("p", "1.0.0", ""));
            let out = w.cmd_at(&reg.url).args(&args).output().unwrap();
            let err = stderr(&out);
            assert!(
                !err.contains("panicked") && !err.contains("internal error"),
                "{body:.40}: {args:?}: {err}"
            );
            assert!(matches!(out.status.code(), Some(0 | 1)), "{args:?}: {err}");
            if !out.status.success() {
                assert_eq!(
                    err.lines().filter(|l| l.starts_with("Error: ")).count(),
                    1,
                    "{err}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Control characters from the registry are neutralised.

#[test]
fn control_characters_from_the_registry_never_reach_the_terminal() {
    let reg = Scripted::start(Box::new(|_, url, _| {
        if url.contains("/versions") && !url.contains("/ctl/") {
            let digest = "\u{1b}[2J\u{1b}]0;owned\u{7}";
            return versions_page(serde_json::json!([{
                "name": "app", "version": "1.0.0", "digest": digest, "urls": ["app-1.0.0.tgz"]
            }]));
        }
        if url.contains("/download/") {
            return Answer::Bytes(chart_tgz("app", "1.0.0", ""));
        }
        Answer::Json(
            403,
            serde_json::json!({
                "code": "Denied\u{1b}[31m",
                "message": "no\r\nError: fake line\u{7}\u{9b}2J\u{202e}",
                "requestId": "r-\u{1b}]0;title\u{7}",
            })
            .to_string(),
            vec![("X-Bce-Request-Id", "r-header".into())],
        )
    }));
    let w = World::new();
    for args in [
        vec!["ls".to_string(), REPO.to_string()],
        vec!["ls".to_string(), format!("{REPO}/ctl")],
        vec!["rm".to_string(), format!("{REPO}/ctl"), "--all".to_string()],
        vec![
            "pull".to_string(),
            format!("{REPO}/app"),
            "-d".into(),
            "o".into(),
        ],
    ] {
        let out = w
            .cmd_at(&reg.url)
            .env("HELM_DEBUG", "true")
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&out);
        for c in err.chars() {
            assert!(c == '\n' || !c.is_control(), "{args:?}: {c:?} in {err:?}");
            assert!(c != '\u{202e}', "{args:?}: {err:?}");
        }
        if args[0] == "pull" {
            assert!(out.status.success(), "{err}");
            assert!(
                err.contains("is not a sha256"),
                "the malformed digest is named: {err}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1));
            let line = error_line(&out);
            assert!(
                line.contains("403 Denied [31m: no  Error: fake line"),
                "{line}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Digests.

#[test]
fn digests_are_compared_leniently_and_malformed_ones_count_as_missing() {
    let bytes = chart_tgz("app", "1.0.0", "");
    let real = sha256(&bytes);
    for (given, warned) in [
        (format!("SHA256:{}", real.to_uppercase()), false),
        (format!("sha256:{real}"), false),
        (real.to_uppercase(), false),
        (format!(" Sha256:{real} "), false),
        (String::new(), true),
        ("not-a-digest".to_string(), true),
        ("sha256:".to_string(), true),
        (format!("md5:{real}"), true),
    ] {
        let (b2, g2) = (bytes.clone(), given.clone());
        let reg = Scripted::start(Box::new(move |_, url, _| {
            if url.contains("/download/") {
                Answer::Bytes(b2.clone())
            } else if url.contains("/versions") {
                versions_page(serde_json::json!([{
                    "name": "app", "version": "1.0.0", "digest": g2, "urls": ["app-1.0.0.tgz"]
                }]))
            } else {
                ok_json(serde_json::json!({"total": 1, "items": [{"name": "app"}]}))
            }
        }));
        let w = World::new();
        let out = w
            .cmd_at(&reg.url)
            .args(["pull", &format!("{REPO}/app"), "-d", "o"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{given:?}: {err}");
        assert_eq!(
            err.contains("Warning:") && err.contains("only its length"),
            warned,
            "{given:?}: {err}"
        );
        assert_eq!(std::fs::read(w.path("o/app-1.0.0.tgz")).unwrap(), bytes);
        // The getter: the index carries the real digest either way (computed when malformed).
        let out = w
            .cmd_at(&reg.url)
            .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{given:?}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("digest: \"{real}\"")),
            "{given:?}: {}",
            stdout(&out)
        );
    }
    // A well-formed digest that differs is still a mismatch, and nothing is left.
    let wrong = "ab".repeat(32);
    let reg = one_version(
        bytes.clone(),
        format!("SHA256:{wrong}").into(),
        serde_json::json!(["app-1.0.0.tgz"]),
    );
    let w = World::new();
    let out = w
        .cmd_at(&reg.url)
        .env("HELM_CCR_RETRIES", "1")
        .args(["pull", &format!("{REPO}/app"), "-d", "o"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "digest mismatch");
    assert!(files_below(w.work.path()).is_empty());
}
