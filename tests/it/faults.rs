//! Fault injection against the emulator. Every command meets transient faults, permanent
//! faults, lost answers, a skewed clock and broken downloads, and `push --force` a registry that
//! refuses overwrites; each test asserts the command's outcome and that nothing was lost,
//! duplicated or left half-written.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use ccr_emulator::{Config, Fault, Key};
use serde_json::Value;

use crate::common::*;

const APP_1: &str = "1.0.0";
const APP_2: &str = "2.0.0";

fn app_bytes(version: &str) -> Vec<u8> {
    chart_tgz("app", version, version)
}

fn status(code: u16) -> Fault {
    Fault::Status {
        status: code,
        code: None,
    }
}

/// A registry holding `app` 1.0.0 and 2.0.0 and `old` 1.0.0 and 1.1.0, and a work directory
/// with a package `app-3.0.0.tgz` and a chart directory `dirchart/`.
fn fixture() -> World {
    fixture_with(Config::new(vec![Key::new(AK, SK)]))
}

fn fixture_with(config: Config) -> World {
    let w = World::with(config);
    for v in [APP_1, APP_2] {
        w.emu.put_raw(INSTANCE, NS, "app", v, app_bytes(v));
    }
    for v in ["1.0.0", "1.1.0"] {
        w.emu
            .put_raw(INSTANCE, NS, "old", v, chart_tgz("old", v, "old"));
    }
    w.write("app-3.0.0.tgz", &app_bytes("3.0.0"));
    w.write(
        "dirchart/Chart.yaml",
        b"apiVersion: v2\nname: dirchart\nversion: 0.1.0\ndescription: a directory\n",
    );
    w.write("dirchart/values.yaml", b"replicas: 1\n");
    w.write(
        "dirchart/templates/cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
    );
    w
}

/// One command line and what its success must leave behind.
struct Case {
    name: &'static str,
    args: Vec<String>,
    check: fn(&World, &Output),
}

fn cases() -> Vec<Case> {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        Case {
            name: "push a package",
            args: s(&["push", "app-3.0.0.tgz", REPO]),
            check: |w, out| {
                assert!(
                    stdout(out).starts_with("Pushed app 3.0.0"),
                    "{}",
                    stdout(out)
                );
                assert_eq!(w.versions("app"), [APP_1, APP_2, "3.0.0"]);
                assert_eq!(w.stored("app", "3.0.0").unwrap(), app_bytes("3.0.0"));
            },
        },
        Case {
            name: "push a directory",
            args: s(&["push", "dirchart", REPO]),
            check: |w, out| {
                assert!(
                    stdout(out).starts_with("Pushed dirchart 0.1.0"),
                    "{}",
                    stdout(out)
                );
                assert_eq!(w.versions("dirchart"), ["0.1.0"]);
                let stored = w.stored("dirchart", "0.1.0").unwrap();
                assert!(stdout(out).contains(&sha256(&stored)), "{}", stdout(out));
            },
        },
        Case {
            name: "pull",
            args: s(&["pull", &format!("{REPO}/app"), "-d", "out"]),
            check: |w, out| {
                assert_eq!(stdout(out).trim(), "out/app-2.0.0.tgz");
                assert_eq!(files_below(&w.path("out")), ["app-2.0.0.tgz"]);
                assert_eq!(
                    std::fs::read(w.path("out/app-2.0.0.tgz")).unwrap(),
                    app_bytes(APP_2)
                );
            },
        },
        Case {
            name: "pull --untar",
            args: s(&[
                "pull",
                &format!("{REPO}/app"),
                "--version",
                APP_1,
                "-d",
                "out",
                "--untar",
                "--untardir",
                "u",
            ]),
            check: |w, _| {
                assert_eq!(
                    files_below(&w.path("out")),
                    [
                        "u/app/Chart.yaml",
                        "u/app/templates/cm.yaml",
                        "u/app/values.yaml"
                    ]
                );
                let values = std::fs::read_to_string(w.path("out/u/app/values.yaml")).unwrap();
                assert!(values.contains(APP_1), "{values}");
            },
        },
        Case {
            name: "ls REPO",
            args: s(&["ls", REPO, "-o", "json"]),
            check: |_, out| {
                let json: Value = serde_json::from_slice(&out.stdout).unwrap();
                let names: Vec<&str> = json
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["name"].as_str().unwrap())
                    .collect();
                assert_eq!(names, ["app", "old"]);
            },
        },
        Case {
            name: "ls REPO/CHART",
            args: s(&["ls", &format!("{REPO}/app"), "-o", "json"]),
            check: |_, out| {
                let json: Value = serde_json::from_slice(&out.stdout).unwrap();
                let versions: Vec<&str> = json
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["version"].as_str().unwrap())
                    .collect();
                assert_eq!(versions, [APP_2, APP_1]);
            },
        },
        Case {
            name: "rm --version",
            args: s(&["rm", &format!("{REPO}/old"), "--version", "1.0.0"]),
            check: |w, _| assert_eq!(w.versions("old"), ["1.1.0"]),
        },
        Case {
            name: "rm --all",
            args: s(&["rm", &format!("{REPO}/old"), "--all"]),
            check: |w, _| {
                assert!(w.versions("old").is_empty());
                assert_eq!(w.versions("app"), [APP_1, APP_2], "other charts untouched");
            },
        },
        Case {
            name: "getter index.yaml",
            args: s(&["download", "", "", "", &format!("{REPO}/index.yaml")]),
            check: |_, out| {
                let text = stdout(out);
                assert!(
                    text.contains("\"app\":") && text.contains("\"old\":"),
                    "{text}"
                );
                assert!(text.contains(&sha256(&app_bytes(APP_1))), "{text}");
            },
        },
        Case {
            name: "getter .tgz",
            args: s(&["download", "", "", "", &format!("{REPO}/app-1.0.0.tgz")]),
            check: |_, out| assert_eq!(out.stdout, app_bytes(APP_1)),
        },
    ]
}

fn run(w: &World, case: &Case, env: &[(&str, &str)]) -> Output {
    let mut c = w.cmd();
    c.args(&case.args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.timeout(Duration::from_secs(60));
    c.output().unwrap()
}

fn assert_success(case: &Case, out: &Output) {
    assert!(
        out.status.success(),
        "{}: {}\n{}",
        case.name,
        stderr(out),
        stdout(out)
    );
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

/// The emulator's state and the work directory are unchanged by a failed command.
fn assert_nothing_changed(w: &World, case: &Case) {
    assert_eq!(w.versions("app"), [APP_1, APP_2], "{}", case.name);
    assert_eq!(w.versions("old"), ["1.0.0", "1.1.0"], "{}", case.name);
    assert!(w.versions("dirchart").is_empty(), "{}", case.name);
    let left: Vec<String> = files_below(w.work.path())
        .into_iter()
        .filter(|f| f != "app-3.0.0.tgz" && !f.starts_with("dirchart/"))
        .collect();
    assert!(left.is_empty(), "{}: left behind {left:?}", case.name);
}

#[test]
fn every_command_survives_a_500_then_a_reset() {
    for case in cases() {
        let w = fixture();
        w.emu.push_fault(status(500));
        w.emu.push_fault(Fault::Reset);
        let out = run(&w, &case, &[]);
        assert_success(&case, &out);
        (case.check)(&w, &out);
        let statuses: Vec<Option<u16>> = w.emu.requests().iter().map(|r| r.status).collect();
        assert_eq!(
            statuses[..2],
            [Some(500), None],
            "{}: both faults were met",
            case.name
        );
    }
}

#[test]
fn every_command_fails_within_its_budget_naming_the_last_cause() {
    for (fault, cause) in [
        (status(500), "registry answered 500 InternalError"),
        (status(503), "registry answered 503 ServiceUnavailable"),
        (Fault::Reset, "connection reset"),
    ] {
        for case in cases() {
            let w = fixture();
            w.emu.set_fail_all(Some(fault.clone()));
            let started = Instant::now();
            let out = run(&w, &case, &[("HELM_CCR_RETRIES", "3")]);
            let took = started.elapsed();
            w.emu.set_fail_all(None);
            assert_one_error(&out, 1, cause);
            assert!(
                stderr(&out).contains("gave up after 3 attempts"),
                "{}: {}",
                case.name,
                stderr(&out)
            );
            // Three attempts, two waits of at most 250 + 500 ms, nothing else.
            let sent = w.emu.requests().len();
            assert_eq!(sent, 3, "{} ({fault:?}): {sent} requests", case.name);
            assert!(took < Duration::from_secs(10), "{}: {took:?}", case.name);
            assert_nothing_changed(&w, &case);
        }
    }
}

#[test]
fn the_default_budget_is_four_attempts() {
    let w = fixture();
    w.emu.set_fail_all(Some(status(502)));
    let out = w.cmd().args(["ls", REPO]).output().unwrap();
    assert_one_error(
        &out,
        1,
        "gave up after 4 attempts: registry answered 502 BadGateway",
    );
    assert_eq!(w.emu.requests().len(), 4);
    w.emu.set_fail_all(None);
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "1")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(out.status.success());
    w.emu.set_fail_all(Some(status(502)));
    w.emu.clear_requests();
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "1")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "registry answered 502 BadGateway");
    assert_eq!(w.emu.requests().len(), 1, "HELM_CCR_RETRIES=1: no retry");
}

#[test]
fn each_transient_status_is_retried() {
    for code in [429, 500, 502, 503, 504] {
        let w = fixture();
        w.emu.push_fault(status(code));
        let out = w
            .cmd()
            .args(["ls", &format!("{REPO}/app")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{code}: {}", stderr(&out));
        assert_eq!(w.emu.requests().len(), 2, "{code}");
    }
}

#[test]
fn answers_that_will_not_change_are_not_retried() {
    for (code, name) in [
        (400, "InvalidParameter"),
        (401, "Unauthorized"),
        (403, "AccessDenied"),
        (404, "NotFound"),
        (412, "QuotaExceed"),
        (501, "NotImplemented"),
    ] {
        let w = fixture();
        w.emu.push_fault(status(code));
        let out = w.cmd().args(["ls", REPO]).output().unwrap();
        assert_one_error(&out, 1, name);
        assert_eq!(w.emu.requests().len(), 1, "{code} is not retried");
    }
    // An upload refused for quota is neither retried nor "settled".
    let w = fixture();
    w.emu.push_fault_for("POST", "/charts", status(412));
    let out = w
        .cmd()
        .args(["push", "app-3.0.0.tgz", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "QuotaExceed");
    assert_eq!(w.count("POST"), 1);
    assert_eq!(w.versions("app"), [APP_1, APP_2]);
}

#[test]
fn a_stored_upload_answered_with_a_reset_is_a_success_stored_once() {
    let w = fixture();
    w.emu
        .push_fault_for("POST", "/charts", Fault::ResetAfterHandling);
    let out = w
        .cmd()
        .args(["push", "app-3.0.0.tgz", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("confirmed after a lost answer"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.versions("app"), [APP_1, APP_2, "3.0.0"]);
    assert_eq!(w.stored("app", "3.0.0").unwrap(), app_bytes("3.0.0"));
    assert_eq!(w.count("POST"), 1, "not uploaded twice");
}

#[test]
fn a_lost_upload_answer_is_not_sent_again_to_an_overwriting_registry() {
    // A registry that overwrites would take a second upload silently: the retry looks first.
    let mut config = Config::new(vec![Key::new(AK, SK)]);
    config.overwrite = true;
    let w = fixture_with(config);
    w.emu
        .push_fault_for("POST", "/charts", Fault::ResetAfterHandling);
    let out = w
        .cmd()
        .args(["push", "app-3.0.0.tgz", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.count("POST"), 1);
    assert_eq!(w.stored("app", "3.0.0").unwrap(), app_bytes("3.0.0"));
}

#[test]
fn an_upload_reset_before_handling_is_uploaded_again() {
    for fault in [Fault::Reset, status(500), status(503)] {
        let w = fixture();
        w.emu.push_fault_for("POST", "/charts", fault.clone());
        let out = w
            .cmd()
            .args(["push", "app-3.0.0.tgz", REPO])
            .output()
            .unwrap();
        assert!(out.status.success(), "{fault:?}: {}", stderr(&out));
        assert_eq!(w.count("POST"), 2, "{fault:?}");
        assert_eq!(w.versions("app"), [APP_1, APP_2, "3.0.0"]);
        assert_eq!(w.stored("app", "3.0.0").unwrap(), app_bytes("3.0.0"));
    }
}

#[test]
fn a_lost_answer_and_someone_elses_version_is_a_clear_error() {
    let w = fixture();
    let theirs = chart_tgz("app", "3.0.0", "someone else's");
    // The pre-upload look, then the upload (stored, answer lost), then the settling look,
    // slowed down so that someone else's push can replace ours meanwhile.
    w.emu
        .push_fault_for("GET", "chartVersion", Fault::Latency { ms: 0 });
    w.emu
        .push_fault_for("POST", "/charts", Fault::ResetAfterHandling);
    w.emu
        .push_fault_for("GET", "chartVersion", Fault::Latency { ms: 1500 });
    std::thread::scope(|s| {
        let replacer = s.spawn(|| {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                let looks = w
                    .emu
                    .requests()
                    .iter()
                    .filter(|r| r.method == "GET" && r.path.contains("chartVersion"))
                    .count();
                if looks >= 2 {
                    w.emu.put_raw(INSTANCE, NS, "app", "3.0.0", theirs.clone());
                    return true;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            false
        });
        let out = w
            .cmd()
            .args(["push", "app-3.0.0.tgz", REPO])
            .output()
            .unwrap();
        assert!(replacer.join().unwrap(), "the settling look happened");
        assert_one_error(&out, 1, "digest");
        let err = stderr(&out);
        assert!(
            err.contains(&sha256(&theirs)) && err.contains(&sha256(&app_bytes("3.0.0"))),
            "names both digests: {err}"
        );
    });
    assert_eq!(w.stored("app", "3.0.0").unwrap(), theirs, "theirs kept");
    assert_eq!(w.count("POST"), 1, "ours not sent again over theirs");
}

#[test]
fn force_over_an_overwriting_registry_survives_a_lost_answer() {
    let mut config = Config::new(vec![Key::new(AK, SK)]);
    config.overwrite = true;
    let w = fixture_with(config);
    let new = chart_tgz("app", APP_1, "replacement");
    w.write("new/app-1.0.0.tgz", &new);
    // Reset before the registry handles it: the old digest is still there on the look.
    w.emu.push_fault_for("POST", "/charts", Fault::Reset);
    let out = w
        .cmd()
        .args(["push", "new/app-1.0.0.tgz", REPO, "--force"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.stored("app", APP_1).unwrap(), new);
    assert_eq!(w.count("POST"), 2);
}

#[test]
fn a_lost_delete_answer_is_a_success() {
    let w = fixture();
    w.emu
        .push_fault_for("DELETE", "/charts", Fault::ResetAfterHandling);
    let out = w
        .cmd()
        .args(["rm", &format!("{REPO}/old"), "--version", "1.0.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.versions("old"), ["1.1.0"]);

    w.emu
        .push_fault_for("DELETE", "/charts", Fault::ResetAfterHandling);
    let out = w
        .cmd()
        .args(["rm", &format!("{REPO}/old"), "--all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.versions("old").is_empty());
    assert_eq!(w.versions("app"), [APP_1, APP_2]);
}

#[test]
fn a_list_answer_cut_short_is_read_again() {
    let w = fixture();
    w.emu.push_fault_for(
        "GET",
        "/charts/app/versions",
        Fault::Truncate { keep_bytes: None },
    );
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/app"), "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(w.emu.requests().len(), 2);
}

#[test]
fn every_command_succeeds_with_the_registry_clock_20_minutes_ahead() {
    for skew in [20 * 60, -20 * 60] {
        for case in cases() {
            let w = fixture();
            w.emu.set_clock_skew(skew);
            let out = run(&w, &case, &[("HELM_DEBUG", "true")]);
            assert_success(&case, &out);
            (case.check)(&w, &out);
            let err = stderr(&out);
            assert!(
                err.contains("RequestExpired") && err.contains("re-signing"),
                "{}: says so in debug output: {err}",
                case.name
            );
            let expired = w
                .emu
                .requests()
                .iter()
                .filter(|r| r.status == Some(400))
                .count();
            assert_eq!(expired, 1, "{}: corrected once, for good", case.name);
        }
    }
}

#[test]
fn concurrent_pushes_of_several_charts_correct_the_clock_each() {
    // Several charts are pushed in parallel: each thread may meet RequestExpired before the
    // first correction lands, and each must still succeed.
    let w = fixture();
    w.emu.set_clock_skew(20 * 60);
    let mut args = vec!["push".to_string()];
    for i in 0..6 {
        let f = format!("c{i}-1.0.0.tgz");
        w.write(&f, &chart_tgz(&format!("c{i}"), "1.0.0", ""));
        args.push(f);
    }
    args.push(REPO.to_string());
    let out = w.cmd().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for i in 0..6 {
        assert_eq!(w.versions(&format!("c{i}")), ["1.0.0"]);
    }
}

#[test]
fn an_expired_request_is_retried_only_once() {
    let w = fixture();
    w.emu.set_fail_all(Some(Fault::Status {
        status: 400,
        code: Some("RequestExpired".into()),
    }));
    let out = w.cmd().args(["ls", REPO]).output().unwrap();
    assert_one_error(&out, 1, "RequestExpired");
    assert!(
        stderr(&out).contains("check the local clock"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.emu.requests().len(), 2, "one re-signed retry, no more");
}

#[test]
fn truncated_then_corrupted_downloads_never_leave_a_file() {
    for untar in [false, true] {
        for fault in [Fault::Truncate { keep_bytes: None }, Fault::Corrupt] {
            let w = fixture();
            let mut args = vec![
                "pull".to_string(),
                format!("{REPO}/app"),
                "-d".into(),
                "out".into(),
            ];
            if untar {
                args.extend(["--untar".into(), "--untardir".into(), "u".into()]);
            }
            // Every download broken: the pull fails and leaves nothing.
            w.emu.push_fault_for("GET", "/download/", fault.clone());
            w.emu.push_fault_for("GET", "/download/", fault.clone());
            let out = w
                .cmd()
                .env("HELM_CCR_RETRIES", "2")
                .args(&args)
                .output()
                .unwrap();
            let needle = match fault {
                Fault::Corrupt => "digest mismatch",
                _ => "truncated",
            };
            assert_one_error(&out, 1, needle);
            assert!(
                files_below(&w.path("out")).is_empty(),
                "{fault:?} untar={untar}: {:?}",
                files_below(&w.path("out"))
            );

            // Broken once: retried into the right bytes, and only those.
            w.emu.push_fault_for("GET", "/download/", fault.clone());
            let out = w.cmd().args(&args).output().unwrap();
            assert!(out.status.success(), "{fault:?}: {}", stderr(&out));
            let want: Vec<String> = if untar {
                vec![
                    "u/app/Chart.yaml".into(),
                    "u/app/templates/cm.yaml".into(),
                    "u/app/values.yaml".into(),
                ]
            } else {
                vec!["app-2.0.0.tgz".into()]
            };
            assert_eq!(files_below(&w.path("out")), want, "{fault:?}");
            if !untar {
                assert_eq!(
                    std::fs::read(w.path("out/app-2.0.0.tgz")).unwrap(),
                    app_bytes(APP_2)
                );
            }
            let downloads = w
                .emu
                .requests()
                .iter()
                .filter(|r| r.path.contains("/download/"))
                .count();
            assert_eq!(
                downloads,
                2 + 2,
                "{fault:?}: two failed, one broken, one good"
            );
        }
    }
}

#[test]
fn chunked_downloads_cut_short_are_detected() {
    let w = fixture();
    w.emu.set_chunked_downloads(true);
    w.emu.set_fail_all(Some(Fault::Truncate {
        keep_bytes: Some(10),
    }));
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "2")
        .args(["pull", &format!("{REPO}/app"), "-d", "out"])
        .output()
        .unwrap();
    w.emu.set_fail_all(None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(files_below(&w.path("out")).is_empty());
    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/app"), "-d", "out"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(w.path("out/app-2.0.0.tgz")).unwrap(),
        app_bytes(APP_2)
    );
}

#[test]
fn timeout_bounds_the_whole_command() {
    for case in cases() {
        let w = fixture();
        w.emu.set_latency(10_000);
        let started = Instant::now();
        let mut c = w.cmd();
        c.args(&case.args).args(["--timeout", "1s"]);
        let out = c.timeout(Duration::from_secs(30)).output().unwrap();
        let took = started.elapsed();
        assert_one_error(&out, 1, "timed out");
        assert!(took < Duration::from_secs(5), "{}: {took:?}", case.name);
        w.emu.set_latency(0);
        assert_nothing_changed(&w, &case);
    }
}

#[test]
fn a_dead_peer_cannot_hang_a_command() {
    // Accepts connections (the kernel does) and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let w = fixture();
    let started = Instant::now();
    let out = w
        .cmd_at(&url)
        .args(["ls", REPO, "--timeout", "2s"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_one_error(&out, 1, "timed out");
    assert!(took < Duration::from_secs(6), "{took:?}");
    drop(listener);
}

#[test]
fn eight_concurrent_pushes_of_different_versions_all_succeed() {
    let w = fixture();
    for i in 0..8 {
        w.write(
            &format!("p{i}/app-5.{i}.0.tgz"),
            &app_bytes(&format!("5.{i}.0")),
        );
    }
    let outs = eight_at_once(&w, |i| {
        [
            "push".to_string(),
            format!("p{i}/app-5.{i}.0.tgz"),
            REPO.to_string(),
        ]
    });
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    let mut want: Vec<String> = vec![APP_1.into(), APP_2.into()];
    want.extend((0..8).map(|i| format!("5.{i}.0")));
    assert_eq!(w.versions("app"), want);
    for i in 0..8 {
        let v = format!("5.{i}.0");
        assert_eq!(w.stored("app", &v).unwrap(), app_bytes(&v));
    }
}

#[test]
fn eight_concurrent_skip_existing_pushes_store_once() {
    let w = fixture();
    let bytes = app_bytes("6.0.0");
    w.write("app-6.0.0.tgz", &bytes);
    let outs = eight_at_once(&w, |_| ["push", "app-6.0.0.tgz", REPO, "--skip-existing"]);
    let mut pushed = 0;
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
        let line = stdout(out);
        if line.starts_with("Pushed ") {
            pushed += 1;
        } else {
            // Identical content: unchanged (or, when the version was not listed yet at
            // the second look, skipped after the registry refused the duplicate).
            assert!(
                line.starts_with("Unchanged app 6.0.0") || line.starts_with("Skipped app 6.0.0"),
                "{line}"
            );
        }
    }
    assert_eq!(pushed, 1, "exactly one push stored it");
    let stored_posts = w
        .emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && matches!(r.status, Some(200 | 201)))
        .count();
    assert_eq!(stored_posts, 1);
    assert_eq!(w.versions("app"), [APP_1, APP_2, "6.0.0"]);
    assert_eq!(w.stored("app", "6.0.0").unwrap(), bytes);
}

#[test]
fn concurrent_pushes_under_faults_still_store_each_version_once() {
    let w = fixture();
    for i in 0..8 {
        w.write(
            &format!("p{i}/app-7.{i}.0.tgz"),
            &app_bytes(&format!("7.{i}.0")),
        );
    }
    for _ in 0..4 {
        w.emu
            .push_fault_for("POST", "/charts", Fault::ResetAfterHandling);
        w.emu.push_fault(status(503));
    }
    let outs = eight_at_once(&w, |i| {
        [
            "push".to_string(),
            format!("p{i}/app-7.{i}.0.tgz"),
            REPO.to_string(),
        ]
    });
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    for i in 0..8 {
        let v = format!("7.{i}.0");
        assert_eq!(w.stored("app", &v).unwrap(), app_bytes(&v));
    }
    assert_eq!(w.versions("app").len(), 10);
}

#[test]
fn the_getter_never_hands_helm_part_of_a_package() {
    let url = format!("{REPO}/app-1.0.0.tgz");
    for fault in [
        Fault::Truncate { keep_bytes: None },
        Fault::Truncate {
            keep_bytes: Some(0),
        },
    ] {
        let w = fixture();
        // Broken once: retried, and Helm gets the whole package.
        w.emu.push_fault_for("GET", "/download/", fault.clone());
        let out = w
            .cmd()
            .args(["download", "", "", "", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(out.stdout, app_bytes(APP_1));
        // Broken every time: an error, and nothing on stdout.
        w.emu.set_fail_all(Some(fault.clone()));
        let out = w
            .cmd()
            .env("HELM_CCR_RETRIES", "2")
            .args(["download", "", "", "", &url])
            .output()
            .unwrap();
        w.emu.set_fail_all(None);
        assert_one_error(&out, 1, "truncated");
        assert!(
            out.stdout.is_empty(),
            "{} bytes on stdout",
            out.stdout.len()
        );
    }
}

#[test]
fn a_refused_connection_is_retried_then_named() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let w = fixture();
    let started = Instant::now();
    let out = w
        .cmd_at(&format!("http://127.0.0.1:{port}"))
        .env("HELM_CCR_RETRIES", "3")
        .env("HELM_DEBUG", "true")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "gave up after 3 attempts");
    let err = stderr(&out);
    assert!(err.contains("connection"), "{err}");
    assert_eq!(err.matches("retrying in").count(), 2, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Runs eight `helm-ccr` commands at once (`args_of(i)` for i in 0..8); their outputs in order.
fn eight_at_once<A, F>(w: &World, args_of: F) -> Vec<Output>
where
    A: IntoIterator,
    A::Item: AsRef<std::ffi::OsStr>,
    F: Fn(usize) -> A + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let args = &args_of;
                s.spawn(move || w.cmd().args(args(i)).output().unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// --force on a registry that refuses overwrites never loses the old version.

#[test]
fn force_on_a_registry_that_refuses_overwrites_never_loses_the_old_version() {
    let w = World::new();
    w.emu.set_overwrite(false);
    let old = chart_tgz("app", "1.0.0", "old");
    w.write("old.tgz", &old);
    let old_prov = b"-----BEGIN PGP SIGNED MESSAGE-----\nold provenance\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n";
    w.write("old.tgz.prov", old_prov);
    w.ok(&["push", "old.tgz", REPO]);
    let new = chart_tgz("app", "1.0.0", "new");
    w.write("new.tgz", &new);

    // The first upload meets the registry's 409; after the delete, the new upload is refused
    // (not a transient fault): the old package and its provenance go back.
    w.emu.push_fault_for("POST", "", conflict());
    w.emu.push_fault_for(
        "POST",
        "",
        Fault::Status {
            status: 400,
            code: Some("InvalidChart".into()),
        },
    );
    let out = w
        .cmd()
        .args(["push", "new.tgz", REPO, "--force"])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        line.contains("InvalidChart"),
        "names why the new one failed: {line}"
    );
    assert!(
        line.contains(&format!(
            "holds app 1.0.0 as before (sha256:{})",
            sha256(&old)
        )),
        "{line}"
    );
    assert_eq!(w.stored("app", "1.0.0").unwrap(), old);
    assert_eq!(
        w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").as_deref(),
        Some(&old_prov[..])
    );

    // Both the new upload and the restore refused: the error says the registry holds nothing
    // and where the old package is.
    refuse_replacement_and_restore(&w.emu);
    let out = w
        .cmd()
        .args(["push", "new.tgz", REPO, "--force"])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert!(line.contains("does not hold app 1.0.0 now"), "{line}");
    let saved = line.rsplit("saved at ").next().unwrap().trim();
    assert_eq!(
        std::fs::read(saved).unwrap(),
        old,
        "the copy is the old package"
    );
    assert!(w.stored("app", "1.0.0").is_none());
    std::fs::remove_dir_all(Path::new(saved).parent().unwrap()).unwrap();

    // And when all goes well, the new package replaces the old one.
    w.ok(&["push", "old.tgz", REPO]);
    w.ok(&["push", "new.tgz", REPO, "--force"]);
    assert_eq!(w.stored("app", "1.0.0").unwrap(), new);
}
