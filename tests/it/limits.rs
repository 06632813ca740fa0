//! A registry that sends too much: endless or oversized JSON, pages that never end, downloads
//! past the limit or announcing more than it. Each ends in one `Error:` line, is not retried,
//! and stays within bounded time and memory (the child's peak resident memory, its `VmHWM`,
//! with generous bounds).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Oversized and endless JSON.

#[test]
fn an_endless_list_answer_is_bounded() {
    let reg = Scripted::start(Box::new(|_, _, _| {
        Answer::Endless(br#"{"total":1,"items":["#.to_vec(), b' ')
    }));
    let w = World::new();
    let started = Instant::now();
    let out = w
        .cmd_at(&reg.url)
        .args(["ls", REPO])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_one_error(&out, 1, "larger than 4 MiB");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(reg.seen().len(), 1, "not retried");
}

#[test]
fn an_endless_error_answer_is_bounded() {
    let reg = Scripted::start(Box::new(|_, _, n| {
        if n == 0 {
            return Answer::Json(500, "x".repeat(10 << 20), Vec::new());
        }
        ok_json(serde_json::json!({"total": 1, "items": [{"name": "app"}]}))
    }));
    let w = World::new();
    let out = w.cmd_at(&reg.url).args(["ls", REPO]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("app"));
}

#[test]
fn a_registry_that_ignores_page_numbers_is_not_followed_forever() {
    let reg = Scripted::start(Box::new(|_, _, _| {
        let items: Vec<serde_json::Value> = (0..100)
            .map(|i| serde_json::json!({"name": format!("c{i}")}))
            .collect();
        ok_json(serde_json::json!({"total": 1_000_000_000u64, "items": items}))
    }));
    let w = World::new();
    let out = w
        .cmd_at(&reg.url)
        .args(["ls", REPO])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_one_error(&out, 1, "same items");
    assert_eq!(reg.seen().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Listing memory is bounded.

#[test]
fn a_page_of_millions_of_entries_ends_in_one_line_in_bounded_memory() {
    // 2.5 million entries: as objects (7.5 MB: over the page size limit), and as one-byte
    // numbers within it (refused at the 5,001st entry, while it is read).
    let objects = format!(r#"{{"total":1,"items":[{}{{}}]}}"#, "{},".repeat(2_500_000));
    let numbers = format!(r#"{{"total":1,"items":[{}1]}}"#, "1,".repeat(1_500_000));
    let names = format!(
        r#"{{"total":1,"items":[{}{{"name":"x"}}]}}"#,
        r#"{"name":"x"},"#.repeat(300_000)
    );
    for (what, body, says) in [
        ("2.5M objects", objects, "larger than 4 MiB"),
        ("1.5M numbers", numbers, "more than 5000 entries"),
        ("300k named charts", names, "more than 5000 entries"),
    ] {
        let reg = Scripted::start(Box::new(move |_, _, _| {
            Answer::Json(200, body.clone(), Vec::new())
        }));
        let w = World::new();
        for args in [
            vec!["ls", REPO],
            vec!["ls", "ccr://ccr-test/ns/app", "-o", "json"],
        ] {
            let m = measured(&w, &reg.url, &args, &[]);
            assert_eq!(m.out.status.code(), Some(1), "{what}: {}", stderr(&m.out));
            let line = error_line(&m.out);
            assert!(line.contains(says), "{what}: {line}");
            assert!(m.peak_mib < 64, "{what} {args:?}: peak {} MiB", m.peak_mib);
        }
        // Not retried: a hostile answer is no transient fault.
        assert_eq!(reg.seen().len(), 2, "{what}");
    }
}

#[test]
fn endless_distinct_pages_stop_at_the_list_limit() {
    // Every page 100 new charts, each with a description, and a total that never comes.
    let reg = Scripted::start(Box::new(|_, url, _| {
        let page: u64 = url
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("pageNo="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let items: Vec<serde_json::Value> = (0..100)
            .map(|i| {
                serde_json::json!({
                    "name": format!("chart-{page}-{i}"),
                    "latestVersion": "1.0.0",
                    "description": "d".repeat(120),
                })
            })
            .collect();
        ok_json(serde_json::json!({"total": 1_000_000_000u64, "items": items}))
    }));
    let w = World::new();
    let m = measured(&w, &reg.url, &["ls", REPO], &[]);
    assert_eq!(m.out.status.code(), Some(1), "{}", stderr(&m.out));
    let line = error_line(&m.out);
    assert!(
        line.contains("more than 100000 entries") && line.contains("HELM_CCR_LIST_LIMIT"),
        "{line}"
    );
    assert!(m.peak_mib < 96, "peak {} MiB", m.peak_mib);
    assert_eq!(reg.seen().len(), 1001);

    // The limit is a setting: lower, it stops sooner; not a number, it is a usage error.
    let m = measured(
        &w,
        &reg.url,
        &["ls", REPO],
        &[("HELM_CCR_LIST_LIMIT", "250")],
    );
    assert!(error_line(&m.out).contains("more than 250 entries"));
    for bad in ["lots", "0", "-5"] {
        let out = w
            .cmd_at(&reg.url)
            .env("HELM_CCR_LIST_LIMIT", bad)
            .args(["ls", REPO])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "HELM_CCR_LIST_LIMIT");
    }
    // The getter's index counts every chart's versions together.
    let reg = Scripted::start(Box::new(|_, url, _| {
        if url.contains("/versions") {
            let chart = url
                .split("/charts/")
                .nth(1)
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string();
            let items: Vec<serde_json::Value> = (0..40)
                .map(|i| serde_json::json!({"name": chart, "version": format!("1.0.{i}"), "digest": "ab".repeat(32)}))
                .collect();
            versions_page(serde_json::json!(items))
        } else {
            let items: Vec<serde_json::Value> = (0..30)
                .map(|i| serde_json::json!({"name": format!("c{i}")}))
                .collect();
            ok_json(serde_json::json!({"total": 30, "items": items}))
        }
    }));
    let out = w
        .cmd_at(&reg.url)
        .env("HELM_CCR_LIST_LIMIT", "1000")
        .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "more than 1000 charts and versions");
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Downloads are capped.

#[test]
fn downloads_are_capped_at_the_limit_and_the_announced_length() {
    // An endless (chunked) package.
    let reg = Scripted::start(Box::new(|_, url, _| {
        if url.contains("/download/") {
            Answer::Endless(b"\x1f\x8b".to_vec(), 0)
        } else {
            versions_page(serde_json::json!([{
                "name": "app", "version": "1.0.0", "digest": "ab".repeat(32), "urls": ["app-1.0.0.tgz"]
            }]))
        }
    }));
    let w = World::new();
    for args in [
        vec![
            "pull".to_string(),
            format!("{REPO}/app"),
            "-d".into(),
            "o".into(),
        ],
        vec![
            "pull".to_string(),
            format!("{REPO}/app"),
            "-d".into(),
            "o".into(),
            "--untar".into(),
        ],
        vec![
            "download".into(),
            "".into(),
            "".into(),
            "".into(),
            format!("{REPO}/app-1.0.0.tgz"),
        ],
    ] {
        let before = reg.seen().len();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let m = measured(&w, &reg.url, &args, &[("HELM_CCR_MAX_DOWNLOAD", "8MiB")]);
        assert_eq!(m.out.status.code(), Some(1), "{args:?}: {}", stderr(&m.out));
        let line = error_line(&m.out);
        assert!(
            line.contains("stopped at the download limit (HELM_CCR_MAX_DOWNLOAD)"),
            "{line}"
        );
        assert!(m.out.stdout.is_empty());
        assert!(m.peak_mib < 64, "{args:?}: peak {} MiB", m.peak_mib);
        assert!(files_below(w.work.path()).is_empty(), "{args:?}");
        let downloads = reg.seen()[before..]
            .iter()
            .filter(|r| r.contains("/download/"))
            .count();
        assert_eq!(downloads, 1, "{args:?}: not retried");
    }
    let out = w
        .cmd_at(&reg.url)
        .env("HELM_CCR_MAX_DOWNLOAD", "a lot")
        .args(["pull", &format!("{REPO}/app")])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "HELM_CCR_MAX_DOWNLOAD");

    // A length over the limit is refused before a byte is read.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if conn.read(&mut b).unwrap_or(0) == 0 {
                    break;
                }
                head.push(b[0]);
            }
            if String::from_utf8_lossy(&head).contains("/download/") {
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 1099511627776\r\nconnection: close\r\n\r\nxx",
                );
            } else {
                let body = serde_json::json!({"total": 1, "items": [{"name": "app", "version": "1.0.0", "urls": ["app-1.0.0.tgz"]}]}).to_string();
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        }
    });
    let out = w
        .cmd_at(&url)
        .args(["pull", &format!("{REPO}/app"), "-d", "o"])
        .output()
        .unwrap();
    assert_one_error(
        &out,
        1,
        "announces 1048576 MiB for app-1.0.0.tgz, over the download limit of 512 MiB",
    );
    assert!(files_below(w.work.path()).is_empty());
}
