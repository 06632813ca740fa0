//! The liveliness limits against real sockets: silent peers, endless interim answers,
//! trickling bodies, a registry that reads an upload slowly, the overall limit and a body
//! that stalls halfway. Each drives a [`Transport`] against a scripted local server.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::*;
use crate::transport::auth::Keys;
use crate::ui::output::Output;

/// A path shaped like the registry's (the scripted servers do not look at it).
const LIST_PATH: &str = "/v1/instances/i/projects/n/charts";

fn test_transport(url: &str, attempts: u32, idle: Duration) -> Transport {
    test_transport_with(
        url,
        attempts,
        Limits {
            connect: Duration::from_secs(5),
            idle,
            ..Limits::default()
        },
    )
}

fn test_transport_with(url: &str, attempts: u32, limits: Limits) -> Transport {
    let endpoint = Endpoint::parse(url).unwrap();
    Transport::with_limits(
        TransportConfig {
            endpoint,
            keys: Keys::new("ak", "sk", None).unwrap(),
            attempts,
            deadline: None,
            max_download: DEFAULT_MAX_DOWNLOAD,
            tls: Default::default(),
            proxy: Default::default(),
            output: Output::new(true, false),
            parallel: 4,
        },
        limits,
    )
    .unwrap()
}

/// A first page of a listing, as the registry asks for it.
fn list(t: &Transport) -> Result<Vec<u8>> {
    let query = vec![
        ("pageNo".to_string(), "1".to_string()),
        ("pageSize".to_string(), "100".to_string()),
    ];
    t.call("GET", LIST_PATH, &query, None)
}

/// `GET /download/{file_name}` into `out`, the file name naming it in messages.
fn download(t: &Transport, file_name: &str, out: &mut dyn Write) -> Result<u64> {
    t.get_to(&format!("{LIST_PATH}/download/{file_name}"), file_name, out)
}

#[test]
fn a_silent_peer_is_an_idle_timeout_retried_then_named() {
    // Accepts (the kernel does) and never answers: without --timeout, the idle-read
    // timeout ends each attempt.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let transport = test_transport(&url, 2, Duration::from_millis(300));
    let started = Instant::now();
    let err = list(&transport).unwrap_err();
    let took = started.elapsed();
    let msg = format!("{err:#}");
    assert!(msg.contains("gave up after 2 attempts"), "{msg}");
    assert!(
        msg.contains("no answer for 300ms (the idle limit)"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(listener);
}

/// A one-connection-at-a-time server running `script` on each connection (after reading
/// the request head), until the test ends.
fn serve(script: fn(&mut std::net::TcpStream)) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                script(&mut conn);
            });
        }
    });
    url
}

fn short_limits() -> Limits {
    Limits {
        connect: Duration::from_secs(5),
        idle: Duration::from_millis(800),
        response: Duration::from_millis(1500),
        floor_window: Duration::from_millis(1000),
        floor_bytes: 10 << 10,
    }
}

#[test]
fn endless_interim_answers_end_at_the_response_limit() {
    // 102 Processing every 100 ms, forever: each resets no idle timer worth speaking of,
    // and no final answer ever comes.
    let url = serve(|conn| loop {
        if conn.write_all(b"HTTP/1.1 102 Processing\r\n\r\n").is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    });
    let transport = test_transport_with(&url, 1, short_limits());
    let started = Instant::now();
    let err = list(&transport).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!("{url}: no answer within 1s of the request (the response limit; interim 1xx answers do not count)")
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_trickling_download_is_dropped_at_the_floor() {
    // 20 bytes every 100 ms: never idle, 200 B/s, under the 10 KiB/s floor.
    let url = serve(|conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n");
        for _ in 0..1000 {
            if conn.write_all(&[b'x'; 20]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let transport = test_transport_with(&url, 1, short_limits());
    let started = Instant::now();
    let mut sink = Vec::new();
    let err = download(&transport, "big-0.4.0.tgz", &mut sink).unwrap_err();
    assert!(err.downcast_ref::<BodyBroken>().is_some(), "{err:#}");
    let msg = format!("{err:#}");
    assert!(
        msg.starts_with(
            "the transfer stayed under 10 KiB/s for 1s while downloading big-0.4.0.tgz ("
        ) && msg.ends_with(
            " of 1000000 bytes received); the connection is too slow or the registry stalled"
        ),
        "{msg}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_trickling_json_answer_is_dropped_at_the_floor() {
    let url = serve(|conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n{\"items\":[");
        for _ in 0..1000 {
            if conn.write_all(b"    ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let transport = test_transport_with(&url, 1, short_limits());
    let err = list(&transport).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!("the transfer stayed under 10 KiB/s for 1s while reading an answer from {url}; the connection is too slow or the registry stalled")
    );
}

#[test]
fn a_registry_that_reads_an_upload_slowly_is_dropped_at_the_floor() {
    // Reads about 100 KiB/s: once the socket buffers are full the upload crawls, under a
    // floor of 1 MiB/s (each write still completes well within the idle limit).
    let url = serve(|conn| loop {
        let mut buf = [0u8; 10 << 10];
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    });
    let limits = Limits {
        idle: Duration::from_secs(20),
        floor_bytes: 1 << 20,
        ..short_limits()
    };
    let transport = test_transport_with(&url, 1, limits);
    // A 48 MiB chart in its multipart envelope, as the registry uploads it.
    let len = (48 << 20) + 400;
    let transfer = Transfer::new("big-0.4.0.tgz", true, Some(len));
    let body = Metered::new(
        io::repeat(7).take(len),
        transfer.clone(),
        transport.limits(),
    );
    let started = Instant::now();
    let result = transport.send_once(
        "POST",
        LIST_PATH,
        &[],
        Some("multipart/form-data; boundary=x"),
        ureq::SendBody::from_owned_reader(body),
        Some(len),
        Some(&transfer),
    );
    let msg = match result {
        Err(Failure::Transport(e, _)) => format!("{e:#}"),
        Err(Failure::Api(e, _)) => panic!("an answer: {e}"),
        Ok(resp) => panic!("an answer: {}", resp.status()),
    };
    assert!(
        msg.contains("stayed under 1024 KiB/s for 1s while uploading big-0.4.0.tgz (")
            && msg.contains(" of 49 MiB sent)"),
        "{msg}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn the_overall_limit_names_the_transfer_and_the_knob() {
    // A download at ~200 KiB/s: above the floor, but 40 MiB will not arrive in 1s.
    let url = serve(|conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 41943040\r\n\r\n");
        for _ in 0..2000 {
            if conn.write_all(&[b'x'; 20 << 10]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut transport = test_transport_with(&url, 3, short_limits());
    transport.cfg_mut_for_tests().deadline = Some(Deadline {
        at: Instant::now() + Duration::from_secs(1),
        limit: Duration::from_secs(1),
        source: "--timeout 1s".into(),
        knob: "--timeout",
    });
    let mut sink = Vec::new();
    let err = download(&transport, "big-0.4.0.tgz", &mut sink).unwrap_err();
    // Not retried: the time is up.
    assert!(err.downcast_ref::<BodyBroken>().is_none(), "{err:#}");
    let msg = format!("{err:#}");
    assert!(
        msg.starts_with("timed out after 1s (--timeout 1s) while downloading big-0.4.0.tgz (")
            && msg.ends_with(" of 40 MiB received); raise --timeout"),
        "{msg}"
    );
}

#[test]
fn a_peer_that_stalls_mid_body_is_an_idle_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ncontent-type: application/x-tar\r\n\r\npartial",
        );
        // Holds the connection open, silent.
        std::thread::sleep(Duration::from_secs(2));
        drop(conn);
    });
    let transport = test_transport(&url, 2, Duration::from_millis(300));
    let started = Instant::now();
    let mut sink = Vec::new();
    let err = download(&transport, "a-1.0.0.tgz", &mut sink).unwrap_err();
    assert!(err.downcast_ref::<BodyBroken>().is_some(), "{err:#}");
    assert_eq!(
        format!("{err:#}"),
        "no data for 300ms (the idle limit) while downloading a-1.0.0.tgz (7 of 1000 bytes received)"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(server);
}

/// A server answering every request with `status` (and `Retry-After: 0` when asked), counting
/// the requests in `seen`.
fn answer_always(
    status: u16,
    retry_after: bool,
    seen: &'static std::sync::atomic::AtomicUsize,
) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || loop {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = r#"{"code":"TooManyRequests","message":"slow down"}"#;
                let extra = if retry_after {
                    "retry-after: 0\r\n"
                } else {
                    ""
                };
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n{extra}\r\n{body}",
                    body.len()
                );
                if conn.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            });
        }
    });
    url
}

#[test]
fn a_throttled_request_gets_more_attempts_then_names_helm_ccr_parallel() {
    static SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let url = answer_always(429, true, &SEEN);
    let transport = test_transport(&url, 2, Duration::from_secs(5));
    let err = list(&transport).unwrap_err();
    assert_eq!(SEEN.load(std::sync::atomic::Ordering::SeqCst), 6);
    assert_eq!(
        format!("{err:#}"),
        "gave up after 6 attempts (the registry kept throttling even with 1 request in flight; try again later, or lower HELM_CCR_PARALLEL, now 4): registry answered 429 TooManyRequests: slow down"
    );
    assert_eq!(transport.gate().limit(), 1, "halved down to one");
    assert_eq!(transport.gate().in_flight(), 0);
}

#[test]
fn a_503_with_retry_after_is_throttling_and_without_it_a_failure() {
    static WITH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static WITHOUT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let transport = test_transport(&answer_always(503, true, &WITH), 2, Duration::from_secs(5));
    let err = list(&transport).unwrap_err();
    assert!(
        format!("{err:#}").starts_with("gave up after 6 attempts (the registry kept throttling")
    );
    assert_eq!(WITH.load(std::sync::atomic::Ordering::SeqCst), 6);

    let transport = test_transport(
        &answer_always(503, false, &WITHOUT),
        2,
        Duration::from_secs(5),
    );
    let mut sink = Vec::new();
    let err = download(&transport, "a-1.0.0.tgz", &mut sink).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "gave up after 2 attempts: registry answered 503 TooManyRequests: slow down"
    );
    assert_eq!(WITHOUT.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(transport.gate().limit(), 4, "a failure is no throttling");
}
