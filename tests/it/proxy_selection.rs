//! The real binary picks proxies as Go does (issue 18): loopback never proxied, `NO_PROXY`
//! CIDR and `host:port` entries honoured, a proxy's 407 and an unusable proxy value worded
//! for the user, never a proxy password in any output (with or without `--debug`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::common::world::{World, REPO};

const PASSWORD: &str = "pr0xy-s3cret";

/// A forward proxy that answers every CONNECT with `status` and records the request lines.
fn fake_proxy(status: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read_exact(&mut byte).is_ok() {
                head.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&head).to_string();
            log.lock().unwrap().push(text);
            let _ = conn.write_all(
                format!("HTTP/1.1 {status}\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (port, seen)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_loopback_endpoint_never_goes_through_a_proxy() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let out = w
        .cmd()
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env("HTTPS_PROXY", "http://127.0.0.1:1")
        .env("ALL_PROXY", "socks5h://127.0.0.1:1")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("app"), "{}", text(&out));
}

#[test]
fn no_proxy_cidr_and_host_port_entries_go_direct() {
    let w = World::new();
    let route = |endpoint: &str, no_proxy: &str| {
        let out = w
            .cmd()
            .env(
                "HTTPS_PROXY",
                format!("http://user:{PASSWORD}@proxy.corp:3128"),
            )
            .env("NO_PROXY", no_proxy)
            .args(["env", "--endpoint", endpoint])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(!text(&out).contains(PASSWORD));
        text(&out)
            .lines()
            .find(|l| l.starts_with("proxy:"))
            .unwrap()
            .to_string()
    };
    assert!(
        route("https://10.1.2.3", "example.com, 10.0.0.0/8").contains("\"10.0.0.0/8\" matches"),
        "{}",
        route("https://10.1.2.3", "example.com, 10.0.0.0/8")
    );
    let r = route("https://ccr.corp:8443", "ccr.corp:8443");
    assert!(r.contains("\"ccr.corp:8443\" matches"), "{r}");
    let r = route("https://ccr.corp", "ccr.corp:8443");
    assert!(
        r.contains("proxy http://user:xxxxx@proxy.corp:3128 (from HTTPS_PROXY)"),
        "{r}"
    );
    let r = route("https://[::1]:9", "");
    assert!(r.contains("loopback"), "{r}");
}

#[test]
fn a_proxy_asking_for_authentication_is_named_once_without_its_password() {
    let w = World::new();
    let (port, seen) = fake_proxy("407 Proxy Authentication Required");
    for (proxy, debug) in [
        (format!("http://127.0.0.1:{port}"), false),
        (format!("http://alice:{PASSWORD}@127.0.0.1:{port}"), true),
    ] {
        let mut cmd = w.cmd();
        cmd.env("HELM_CCR_ENDPOINT", "https://ccr.example.test")
            .env("HTTPS_PROXY", &proxy)
            .args(["ls", REPO]);
        if debug {
            cmd.env("HELM_DEBUG", "true");
        }
        let out = cmd.output().unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(!all.contains(PASSWORD), "{all}");
        assert!(all.contains("(from HTTPS_PROXY)"), "{all}");
        assert!(!all.contains("gave up after"), "not retried: {all}");
        if debug {
            assert!(all.contains("alice:xxxxx@"), "{all}");
        } else {
            assert!(
                all.contains("asks for authentication (set user:password in HTTPS_PROXY)"),
                "{all}"
            );
        }
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with("CONNECT ccr.example.test:443 "),
        "{seen:?}"
    );
}

#[test]
fn an_unusable_proxy_value_names_its_variable_before_any_request() {
    let w = World::new();
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", "https://ccr.example.test")
        .env("https_proxy", format!("ftp://u:{PASSWORD}@proxy:21"))
        .args(["ls", REPO])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("https_proxy="), "{all}");
    assert!(!all.contains(PASSWORD), "{all}");
}
