//! A registry that throttles: `429 TooManyRequests` with `Retry-After: 1` to a request arriving
//! while 4 are in flight (the emulator's in-flight limit). The getter's index and `ls` complete
//! under it, with the same output as unthrottled; a registry that never stops throttling is an
//! error naming HELM_CCR_PARALLEL. No timing assertions: counts only.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;

/// Charts in the namespace: one page of charts, one versions listing per chart.
const CHARTS: usize = 60;

fn charts(w: &World) {
    for i in 0..CHARTS {
        let name = format!("t{i:02}");
        for v in 0..3 {
            let version = format!("1.{v}.0");
            w.emu.put_raw(
                INSTANCE,
                NS,
                &name,
                &version,
                chart_tgz(&name, &version, ""),
            );
        }
    }
}

/// Requests the emulator answered 429, and those it answered otherwise.
fn throttled_and_served(w: &World) -> (usize, usize) {
    let reqs = w.emu.requests();
    let throttled = reqs.iter().filter(|r| r.status == Some(429)).count();
    (throttled, reqs.len() - throttled)
}

#[test]
fn the_index_completes_under_throttling_and_is_the_unthrottled_index() {
    let w = World::new();
    charts(&w);
    // Each answer takes a little while, so that requests overlap as they would over a network.
    w.emu.set_latency(20);
    let plain = w.index("32");
    assert!(plain.status.success(), "{}", stderr(&plain));
    let sent = w.emu.requests().len();
    assert_eq!(sent, 1 + CHARTS);

    w.emu.set_max_in_flight(Some(4));
    w.emu.clear_requests();
    let out = w.index("32");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(without_time(&out.stdout), without_time(&plain.stdout));
    let (throttled, served) = throttled_and_served(&w);
    assert!(throttled > 0, "the registry throttled");
    assert_eq!(served, sent, "each listing served once");
    wait_in_flight(&w, 0);
}

#[test]
fn ls_of_a_repository_completes_under_throttling() {
    let w = World::new();
    charts(&w);
    w.emu.set_latency(20);
    let ls = |w: &World| {
        w.cmd()
            .env("HELM_CCR_PARALLEL", "32")
            .args(["ls", REPO])
            .output()
            .unwrap()
    };
    let plain = ls(&w);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let sent = w.emu.requests().len();

    w.emu.set_max_in_flight(Some(4));
    w.emu.clear_requests();
    let out = ls(&w);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), stdout(&plain));
    let (throttled, served) = throttled_and_served(&w);
    assert!(throttled > 0, "the registry throttled");
    assert_eq!(served, sent);
}

/// An upload's head without its body, so that the request stays in flight at the emulator
/// until the stream is dropped: another client's load.
fn held_request(w: &World) -> TcpStream {
    let mut s = TcpStream::connect(w.emu.url().trim_start_matches("http://")).unwrap();
    let head = format!(
        "POST /v1/instances/{INSTANCE}/projects/{NS}/charts HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// Waits until the emulator serves `n` requests (a poll, not a timing assertion).
fn wait_in_flight(w: &World, n: usize) {
    let until = Instant::now() + Duration::from_secs(60);
    while w.emu.in_flight() != n {
        assert!(Instant::now() < until, "in flight: {}", w.emu.in_flight());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn ls_of_a_chart_waits_out_a_registry_busy_with_others() {
    let w = World::new();
    charts(&w);
    let plain = w.ok(&["ls", &format!("{REPO}/t07")]);
    // Its request is in flight until the handler returns, a moment after the answer.
    wait_in_flight(&w, 0);
    w.emu.set_max_in_flight(Some(4));
    let held: Vec<TcpStream> = (0..4).map(|_| held_request(&w)).collect();
    wait_in_flight(&w, 4);
    w.emu.clear_requests();
    let child = w
        .std_cmd()
        .args(["ls", &format!("{REPO}/t07")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the registry has turned it away, the others finish.
    let until = Instant::now() + Duration::from_secs(60);
    while throttled_and_served(&w).0 == 0 {
        assert!(Instant::now() < until, "never throttled");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), stdout(&plain));
    let (throttled, served) = throttled_and_served(&w);
    assert!(throttled >= 1);
    assert_eq!(served, 1);
}

#[test]
fn a_registry_that_keeps_throttling_is_an_error_naming_helm_ccr_parallel() {
    let w = World::new();
    charts(&w);
    w.emu.set_max_in_flight(Some(1));
    let _held = held_request(&w);
    wait_in_flight(&w, 1);
    w.emu.clear_requests();
    let out = w
        .cmd()
        .env("HELM_CCR_PARALLEL", "8")
        .env("HELM_CCR_RETRIES", "1")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "429 TooManyRequests");
    let line = error_line(&out);
    assert!(
        line.contains("the registry kept throttling") && line.contains("HELM_CCR_PARALLEL, now 8"),
        "{line}"
    );
    let (throttled, served) = throttled_and_served(&w);
    assert!(
        throttled > 1,
        "a throttled answer is retried even with HELM_CCR_RETRIES=1"
    );
    assert_eq!(served, 0);
    assert!(
        line.contains(&format!("gave up after {throttled} attempts")),
        "{line}"
    );
}
