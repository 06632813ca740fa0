//! First contact with the registry: a wrong endpoint that answers HTML, which endpoint applies
//! (the URL's host beats `HELM_CCR_ENDPOINT`), a version written into the chart reference,
//! "did you mean" for repository and chart names, the versions there are when none matches,
//! an empty namespace. Messages are pinned by snapshots.

use crate::common::*;

/// Runs with [`World::cmd`] and returns the finished run.
fn run(w: &World, args: &[&str]) -> std::process::Output {
    w.cmd().args(args).output().unwrap()
}

/// A registry that answers every request with a web server's HTML page and `status`.
fn html_server(status: u16) -> Scripted {
    Scripted::start(Box::new(move |_, _, _| {
        Answer::Json(
            status,
            "\n<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body><h1>Not Found</h1></body></html>\n".into(),
            Vec::new(),
        )
    }))
}

#[test]
fn an_html_answer_names_the_request_and_the_endpoint_settings() {
    let w = World::new();
    let server = html_server(404);
    let out = w.cmd_at(&server.url).args(["ls", REPO]).output().unwrap();
    assert_one_error(&out, 1, "not a CCR API response");
    let line = error_line(&out);
    assert!(
        line.contains(&format!(
            "GET {}/v1/instances/{INSTANCE}/projects/{NS}/charts",
            server.url
        )),
        "the method and the full URL: {line}"
    );
    for knob in ["--endpoint", "HELM_CCR_ENDPOINT", "--region"] {
        assert!(line.contains(knob), "{knob}: {line}");
    }
    assert!(
        !line.contains(SK) && !line.contains("authorization"),
        "{line}"
    );
    assert_eq!(server.seen().len(), 1, "a 404 page is not retried");
    insta::assert_snapshot!(
        "html_404_ls",
        line.replace(&server.url, "http://WRONG-ENDPOINT")
    );

    // An HTML 404 is no "chart not found": the registry was never asked.
    let out = w
        .cmd_at(&server.url)
        .args(["pull", &format!("{REPO}/web")])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "not a CCR API response");
    assert!(
        !error_line(&out).contains("not found in"),
        "{}",
        stderr(&out)
    );

    // A gateway's HTML 503 is still retried, and said to be perhaps a gateway's.
    let server = html_server(503);
    let out = w
        .cmd_at(&server.url)
        .env("HELM_CCR_RETRIES", "2")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "answered 503 with an HTML page");
    assert!(
        error_line(&out).contains("proxy or gateway"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.seen().len(), 2, "5xx keeps its retries");
}

#[test]
fn the_urls_api_host_beats_helm_ccr_endpoint() {
    let w = World::new();
    // `env` says which applied, and that the variable was overridden.
    let out = run(&w, &["env", "ccr://ccr.su.baidubce.com/ccr-test/ns"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stable(&w, &stdout(&out));
    assert!(
        text.contains("endpoint:    https://ccr.su.baidubce.com (from the API host in the repository URL; it overrides HELM_CCR_ENDPOINT=http://EMULATOR)"),
        "{text}"
    );
    insta::assert_snapshot!("env_url_host_over_env", text);
    // Without a host in the URL the variable applies; --endpoint beats both.
    let out = run(&w, &["env", REPO]);
    assert!(
        stable(&w, &stdout(&out)).contains("endpoint:    http://EMULATOR (from HELM_CCR_ENDPOINT)"),
        "{}",
        stdout(&out)
    );
    let out = run(
        &w,
        &[
            "env",
            "ccr://ccr.su.baidubce.com/ccr-test/ns",
            "--endpoint",
            "http://127.0.0.1:9",
        ],
    );
    assert!(
        stdout(&out).contains("endpoint:    http://127.0.0.1:9 (from --endpoint)\n"),
        "{}",
        stdout(&out)
    );

    // End to end: a command goes to the URL's host, not to the variable's emulator.
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "1")
        .args(["ls", "ccr://127.0.0.1:1/ccr-test/ns"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
    assert_eq!(w.emu.requests().len(), 0, "HELM_CCR_ENDPOINT was not used");
}

#[test]
fn a_version_after_the_chart_name_is_a_usage_error_showing_the_flag() {
    let w = World::new();
    let out = run(&w, &["pull", &format!("{REPO}/mychart:0.2.0")]);
    assert_one_error(
        &out,
        2,
        "helm ccr pull ccr://ccr-test/ns/mychart --version 0.2.0",
    );
    insta::assert_snapshot!("pull_chart_colon_version", stderr(&out));
    let out = run(&w, &["rm", &format!("{REPO}/mychart:v1.0")]);
    assert_one_error(
        &out,
        2,
        "helm ccr rm ccr://ccr-test/ns/mychart --version v1.0",
    );
    let out = run(&w, &["ls", &format!("{REPO}/mychart:1.0.0")]);
    assert_one_error(
        &out,
        2,
        "helm ccr ls ccr://ccr-test/ns/mychart lists every version",
    );
    insta::assert_snapshot!("ls_chart_colon_version", error_line(&out));
    assert_eq!(w.emu.requests().len(), 0, "refused before any request");
}

#[test]
fn misspelled_names_get_the_closest_match() {
    let w = World::new();
    w.push_chart("webapp", "1.0.0");
    w.push_chart("worker", "1.0.0");
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("repositories:\n- name: myccr\n  url: {REPO}\n- name: other\n  url: ccr://ccr-other/ns\n"),
    )
    .unwrap();

    // Repository names: those of `helm repo list`.
    let out = run(&w, &["ls", "mycrr"]);
    assert_one_error(&out, 1, "did you mean \"myccr\"?");
    insta::assert_snapshot!(
        "did_you_mean_repo",
        error_line(&out).replace(&w.home.path().display().to_string(), "HOME")
    );
    let out = run(&w, &["pull", "mycrr/webapp"]);
    assert_one_error(&out, 1, "did you mean \"myccr\"?");
    let out = run(&w, &["ls", "prod"]);
    assert_one_error(&out, 1, "helm repo add prod");
    assert!(!stderr(&out).contains("did you mean"), "{}", stderr(&out));

    // Chart names: those the registry has, when the chart is not found.
    let out = run(&w, &["ls", "myccr/wepapp"]);
    assert_one_error(&out, 1, "did you mean \"webapp\"?");
    insta::assert_snapshot!("did_you_mean_chart_ls", stable(&w, &error_line(&out)));
    let out = run(&w, &["pull", "myccr/wbeapp"]);
    assert_one_error(&out, 1, "did you mean \"webapp\"?");
    let out = run(&w, &["rm", "myccr/workr", "--version", "1.0.0"]);
    assert_one_error(&out, 1, "did you mean \"worker\"?");
    let out = run(&w, &["rm", "myccr/workr", "--all"]);
    assert_one_error(&out, 1, "did you mean \"worker\"?");
    insta::assert_snapshot!("did_you_mean_chart_rm_all", error_line(&out));
    let out = run(&w, &["pull", "myccr/database"]);
    assert_one_error(&out, 1, "not found in myccr");
    assert!(!stderr(&out).contains("did you mean"), "{}", stderr(&out));
    assert_eq!(w.versions("worker"), ["1.0.0"], "nothing deleted");
}

#[test]
fn no_matching_version_lists_the_newest_there_are() {
    let w = World::new();
    for v in ["0.9.0", "1.0.0", "1.1.0", "1.2.0", "1.3.0-rc.1"] {
        w.push_chart("web", v);
    }
    let chart = format!("{REPO}/web");
    let out = run(&w, &["pull", &chart, "--version", "9.9.9"]);
    assert_one_error(
        &out,
        1,
        "the newest are 1.2.0, 1.1.0, 1.0.0 (helm ccr ls ccr://ccr-test/ns/web)",
    );
    insta::assert_snapshot!("pull_no_version_matching", error_line(&out));
    // With --devel pre-releases count, as in `ls --devel`.
    let out = run(&w, &["pull", &chart, "--version", ">=2", "--devel"]);
    assert_one_error(
        &out,
        1,
        "the newest are 1.3.0-rc.1, 1.2.0, 1.1.0 (helm ccr ls ccr://ccr-test/ns/web --devel)",
    );
    // One version: "is".
    w.push_chart("solo", "0.1.0");
    let out = run(&w, &["pull", &format!("{REPO}/solo"), "--version", "^1"]);
    assert_one_error(&out, 1, "; the newest is 0.1.0 (helm ccr ls");
}

#[test]
fn an_empty_namespace_says_so() {
    let w = World::new();
    let out = run(&w, &["ls", REPO]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no table header alone");
    insta::assert_snapshot!("ls_empty_namespace", stderr(&out));
    for format in ["json", "yaml"] {
        let out = run(&w, &["ls", REPO, "-o", format]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "[]\n", "{format}");
        assert_eq!(stderr(&out), "", "{format}");
    }
    // A misspelled namespace looks the same: the note names it.
    w.push_chart("web", "1.0.0");
    let out = run(&w, &["ls", "ccr://ccr-test/nss"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("no charts in ccr://ccr-test/nss (namespace \"nss\""),
        "{}",
        stderr(&out)
    );
    // --quiet: nothing at all.
    let out = run(&w, &["ls", "ccr://ccr-test/nss", "--quiet"]);
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("", ""));
}
