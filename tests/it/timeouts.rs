//! Time limits: Retry-After honoured (and failing at once past the timeout), --timeout and
//! HELM_CCR_TIMEOUT values, the message of a transfer the timeout cut, and a peer that
//! trickles dropped without any timeout.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Retry-After.

#[test]
fn retry_after_is_honoured() {
    for (status, value) in [(429u16, "2".to_string()), (503, String::new())] {
        let value2 = value.clone();
        let reg = Scripted::start(Box::new(move |_, _, n| {
            if n == 0 {
                // An HTTP date two seconds ahead when no delta-seconds is given.
                let v = if value2.is_empty() {
                    http_date_in(2)
                } else {
                    value2.clone()
                };
                return Answer::Json(
                    status,
                    r#"{"code":"TooManyRequests","message":"slow down"}"#.into(),
                    vec![("Retry-After", v)],
                );
            }
            ok_json(serde_json::json!({"total": 1, "items": [{"name": "app"}]}))
        }));
        let w = World::new();
        let started = Instant::now();
        let out = w
            .cmd_at(&reg.url)
            .env("HELM_DEBUG", "true")
            // -o json: the one list call, no per-chart version lists.
            .args(["ls", REPO, "-o", "json"])
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("(Retry-After)"), "{}", stderr(&out));
        // Backoff alone would wait at most 250 ms.
        assert!(
            took >= Duration::from_millis(900),
            "{status} {value:?}: {took:?}"
        );
        assert_eq!(reg.seen().len(), 2);
    }
}

#[test]
fn a_retry_after_past_the_timeout_fails_at_once_naming_the_cause() {
    let reg = Scripted::start(Box::new(|_, _, _| {
        Answer::Json(
            429,
            r#"{"code":"TooManyRequests"}"#.into(),
            vec![("Retry-After", "30".into())],
        )
    }));
    let w = World::new();
    let started = Instant::now();
    let out = w
        .cmd_at(&reg.url)
        .args(["ls", REPO, "--timeout", "5s"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "timed out");
    assert!(
        stderr(&out).contains("429 TooManyRequests"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

fn http_date_in(secs: u64) -> String {
    // RFC 1123 from Unix seconds (days-to-civil), enough for a test.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs
        + 1;
    let days = (t / 86_400) as i64;
    let rem = t % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------------
// --timeout values.

#[test]
fn timeouts_that_overflow_are_usage_errors_and_zero_means_no_limit() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    for bad in [
        "18446744073709551615",
        "99999999999999999999999",
        "9999999999h",
        "8761h",
        "soon",
        "1e9s",
    ] {
        let out = w
            .cmd()
            .args(["ls", REPO, "--timeout", bad])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "--timeout");
    }
    for bad in ["18446744073709551615", "x"] {
        let out = w
            .cmd()
            .env("HELM_CCR_TIMEOUT", bad)
            .args(["ls", REPO])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "HELM_CCR_TIMEOUT");
        let out = w
            .cmd()
            .env("HELM_CCR_TIMEOUT", bad)
            .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "HELM_CCR_TIMEOUT");
    }
    // 0 and 0s alike: no limit.
    for zero in ["0", "0s", "0m"] {
        let out = w
            .cmd()
            .args(["ls", REPO, "--timeout", zero])
            .output()
            .unwrap();
        assert!(out.status.success(), "{zero}: {}", stderr(&out));
        let out = w
            .cmd()
            .env("HELM_CCR_TIMEOUT", zero)
            .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{zero}: {}", stderr(&out));
    }
    // The flag wins over the variable.
    let out = w
        .cmd()
        .env("HELM_CCR_TIMEOUT", "nonsense-is-ignored-under-the-flag")
        .args(["ls", REPO, "--timeout", "30s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A registry that serves `app` 1.0.0 (40 MiB announced) at about 200 KiB/s.
fn slow_download_registry() -> String {
    download_registry(20 << 10, Duration::from_millis(100))
}

/// A registry that serves `app` 1.0.0 (40 MiB announced), `chunk` bytes every `every`.
fn download_registry(chunk: usize, every: Duration) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if conn.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head);
                if head.contains("/download/") {
                    let _ = conn.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 41943040\r\nconnection: close\r\n\r\n",
                    );
                    let mut sent = 0;
                    while sent < 40 << 20 {
                        if conn.write_all(&vec![7u8; chunk]).is_err() {
                            return;
                        }
                        sent += chunk;
                        std::thread::sleep(every);
                    }
                } else {
                    let body = serde_json::json!({"total": 1, "items": [{
                        "name": "app", "version": "1.0.0", "digest": "ab".repeat(32), "urls": ["app-1.0.0.tgz"]
                    }]})
                    .to_string();
                    let _ = conn.write_all(
                        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                            .as_bytes(),
                    );
                }
            });
        }
    });
    url
}

#[test]
fn a_timeout_names_the_transfer_how_far_it_got_and_what_to_raise() {
    let url = slow_download_registry();
    let w = World::new();
    let out = w
        .cmd_at(&url)
        .args(["pull", &format!("{REPO}/app"), "-d", "o", "--timeout", "2s"])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        line.starts_with(
            "Error: timed out after 2s (--timeout 2s) while downloading app-1.0.0.tgz ("
        ) && line.ends_with(" of 40 MiB received); raise --timeout"),
        "{line}"
    );
    assert!(files_below(w.work.path()).is_empty());
    // The getter, under HELM_CCR_TIMEOUT (Helm passes it no flag of ours).
    let out = w
        .cmd_at(&url)
        .env("HELM_CCR_TIMEOUT", "2s")
        .args(["download", "", "", "", &format!("{REPO}/app-1.0.0.tgz")])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert!(
        line.contains("timed out after 2s (HELM_CCR_TIMEOUT=2s) while downloading app-1.0.0.tgz (")
            && line.ends_with("; raise HELM_CCR_TIMEOUT"),
        "{line}"
    );
    assert!(out.stdout.is_empty(), "nothing half-written to Helm");
}

// ---------------------------------------------------------------------------------------------
// Without --timeout, a peer that trickles is still dropped (the real limits: 1 KiB/s over
// 60 s). Endless 1xx answers and slow uploads are tested against the transport with short
// limits (its unit tests); the getter's default overall limit is in the snapshot of the
// transport's messages and under HELM_CCR_TIMEOUT above.

#[test]
fn a_trickling_registry_is_dropped_without_a_timeout() {
    // 100 bytes every 200 ms: never idle for a second, 500 B/s, under the 1 KiB/s floor.
    let url = download_registry(100, Duration::from_millis(200));
    let w = World::new();
    let started = Instant::now();
    let run = measured(
        &w,
        &url,
        &["pull", &format!("{REPO}/app"), "-d", "o"],
        &[("HELM_CCR_RETRIES", "1")],
    );
    let took = started.elapsed();
    let line = error_line(&run.out);
    assert_eq!(run.out.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with(
            "Error: the transfer stayed under 1 KiB/s for 60s while downloading app-1.0.0.tgz ("
        ) && line.ends_with(
            " KiB of 40 MiB received); the connection is too slow or the registry stalled"
        ),
        "{line}"
    );
    // Dropped at the first window's end, not at the (absent) overall limit.
    assert!(took < Duration::from_secs(110), "{took:?}");
    assert!(run.peak_mib < 64, "peak {} MiB", run.peak_mib);
    assert!(files_below(w.work.path()).is_empty());
}
