//! Real HTTP round trips against an in-process emulator.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ccr_emulator::{start, Config, Fault, Key};
use common::*;

fn emu() -> ccr_emulator::Emulator {
    start(Config::new(vec![
        key(),
        Key::with_token("sts-ak", "sts-sk", "tok123"),
    ]))
    .unwrap()
}

#[test]
fn upload_list_download_delete() {
    let e = emu();
    let mut c = Client::new(&e);
    let tgz = chart("demo", "1.0.0");
    let r = c.upload(&tgz, Some(b"PROV")).unwrap();
    assert_eq!(r.status, 201, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.json(),
        serde_json::json!({"success": true, "result": null})
    );
    assert!(r.header("x-bce-request-id").is_some());
    assert!(r.header("date").unwrap().ends_with(" GMT"));
    let plus = chart("demo", "1.0.0+build.1");
    assert_eq!(c.upload(&plus, None).unwrap().status, 201);

    // Duplicate: 409 with a CCR error body whose requestId matches the header.
    let r = c.upload(&tgz, None).unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "StatusConflict");
    assert_eq!(r.json()["requestId"].as_str(), r.header("x-bce-request-id"));

    let r = c.get(BASE, "").unwrap();
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(
        (
            j["total"].as_u64(),
            j["pageNo"].as_u64(),
            j["pageSize"].as_u64()
        ),
        (Some(1), Some(1), Some(10))
    );
    assert_eq!(j["items"][0]["name"], "demo");
    assert_eq!(j["items"][0]["totalVersions"], 2);
    assert_eq!(j["items"][0]["latestVersion"], "1.0.0+build.1");

    let r = c
        .get(&format!("{BASE}/demo/versions"), "pageNo=1&pageSize=10")
        .unwrap();
    let j = r.json();
    assert_eq!(j["total"], 2);
    let v = &j["items"][1];
    assert_eq!(v["version"], "1.0.0");
    assert_eq!(v["appVersion"], "9.9");
    assert_eq!(v["apiVersion"], "v2");
    assert_eq!(v["description"], "test chart");
    assert_eq!(v["digest"], sha256_hex(&tgz));
    assert_eq!(v["urls"][0], "demo-1.0.0.tgz");
    assert!(v["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(j["items"][0]["version"], "1.0.0+build.1", "newest first");

    let r = c
        .get(&format!("{BASE}/download/demo-1.0.0.tgz"), "")
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert_eq!(r.body, tgz);
    let r = c
        .get(&format!("{BASE}/download/demo-1.0.0.tgz.prov"), "")
        .unwrap();
    assert_eq!(r.body, b"PROV");
    assert_eq!(
        c.get(&format!("{BASE}/download/demo-1.0.0+build.1.tgz.prov"), "")
            .unwrap()
            .status,
        404
    );
    let r = c
        .get(&format!("{BASE}/download/demo-1.0.0%2Bbuild.1.tgz"), "")
        .unwrap();
    assert_eq!(r.body, plus);
    assert_eq!(
        c.get(&format!("{BASE}/download/nope-1.tgz"), "")
            .unwrap()
            .code(),
        "NotFound"
    );
    assert_eq!(
        e.chart_bytes("ccr-1", "ns", "demo", "1.0.0"),
        Some(tgz.clone())
    );
    assert_eq!(
        e.prov_bytes("ccr-1", "ns", "demo", "1.0.0"),
        Some(b"PROV".to_vec())
    );

    // Encoded version in the path.
    let r = c
        .delete(&format!("{BASE}/demo/versions/1.0.0%2Bbuild.1"), b"")
        .unwrap();
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(e.versions("ccr-1", "ns", "demo"), ["1.0.0"]);
    assert_eq!(
        c.delete(&format!("{BASE}/demo/versions/9.9.9"), b"")
            .unwrap()
            .status,
        404
    );
    assert_eq!(
        c.get(&format!("{BASE}/nope/versions"), "").unwrap().status,
        404
    );

    // Batch deletes are all-or-nothing.
    assert_eq!(
        c.upload(&chart("other", "0.1.0"), None).unwrap().status,
        201
    );
    let r = c.delete(BASE, br#"{"items":["demo","missing"]}"#).unwrap();
    assert_eq!((r.status, r.code().as_str()), (404, "NotFound"));
    assert_eq!(e.versions("ccr-1", "ns", "demo"), ["1.0.0"]);
    assert_eq!(
        c.delete(BASE, br#"{"items":["demo","other"]}"#)
            .unwrap()
            .status,
        200
    );
    assert!(e.versions("ccr-1", "ns", "other").is_empty());

    assert_eq!(c.upload(&chart("x", "1.0.0"), None).unwrap().status, 201);
    assert_eq!(c.upload(&chart("x", "2.0.0"), None).unwrap().status, 201);
    let r = c
        .delete(
            &format!("{BASE}/x/versions"),
            br#"{"items":["1.0.0","3.0.0"]}"#,
        )
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        c.delete(&format!("{BASE}/x/versions"), br#"{"items":["1.0.0"]}"#)
            .unwrap()
            .status,
        200
    );
    assert_eq!(e.versions("ccr-1", "ns", "x"), ["2.0.0"]);
    assert_eq!(c.delete(&format!("{BASE}/x"), b"").unwrap().status, 200);
    assert_eq!(c.delete(&format!("{BASE}/x"), b"").unwrap().status, 404);
    // Everything above went over one keep-alive connection... or reconnected transparently.
    assert!(e.requests().iter().all(|r| r.status.is_some()));
}

#[test]
fn paging_and_filters() {
    let e = emu();
    let mut c = Client::new(&e);
    for i in 0..15 {
        e.put_raw(
            "ccr-1",
            "ns",
            &format!("chart-{i:02}"),
            "1.0.0",
            chart(&format!("chart-{i:02}"), "1.0.0"),
        );
    }
    for v in ["0.1.0", "0.2.0", "1.2.0", "1.10.0", "2.0.0-rc.1"] {
        assert_eq!(c.upload(&chart("app", v), None).unwrap().status, 201);
    }
    let j = c.get(BASE, "pageNo=2&pageSize=10").unwrap().json();
    assert_eq!(j["total"], 16);
    assert_eq!(j["items"].as_array().unwrap().len(), 6);
    let j = c.get(BASE, "pageSize=500").unwrap().json();
    assert_eq!(j["pageSize"], 100);
    assert_eq!(j["items"].as_array().unwrap().len(), 16);
    let j = c.get(BASE, "pageNo=9").unwrap().json();
    assert_eq!(
        (j["total"].as_u64(), j["items"].as_array().unwrap().len()),
        (Some(16), 0)
    );
    assert_eq!(c.get(BASE, "pageNo=0").unwrap().status, 400);
    assert_eq!(c.get(BASE, "pageSize=abc").unwrap().status, 400);
    let j = c.get(BASE, "chartName=rt-1").unwrap().json();
    assert_eq!(j["total"], 5, "fuzzy: chart-10..chart-14");
    let j = c.get(BASE, "chartName=app").unwrap().json();
    assert_eq!(
        j["items"][0]["latestVersion"], "1.10.0",
        "pre-releases are not latest"
    );
    let j = c
        .get(&format!("{BASE}/app/versions"), "chartVersion=1.")
        .unwrap()
        .json();
    assert_eq!(j["total"], 3);
    let j = c
        .get(&format!("{BASE}/app/versions"), "pageSize=2&pageNo=3")
        .unwrap()
        .json();
    assert_eq!(j["items"][0]["version"], "0.1.0");
    // Other projects are separate.
    assert_eq!(
        c.get("/v1/instances/ccr-1/projects/other/charts", "")
            .unwrap()
            .json()["total"],
        0
    );
}

#[test]
fn overwrite_mode() {
    let e = emu();
    let mut c = Client::new(&e);
    assert_eq!(c.upload(&chart("o", "1.0.0"), None).unwrap().status, 201);
    let v2 = ccr_emulator::store::make_chart_tgz(
        "o",
        "name: o\nversion: 1.0.0\ndescription: second\n",
        &[],
    );
    assert_eq!(c.upload(&v2, None).unwrap().status, 409);
    e.set_overwrite(true);
    assert_eq!(c.upload(&v2, None).unwrap().status, 201);
    assert_eq!(e.chart_bytes("ccr-1", "ns", "o", "1.0.0"), Some(v2));
    assert_eq!(e.versions("ccr-1", "ns", "o").len(), 1);
}

#[test]
fn bad_uploads_are_400_or_413() {
    let mut cfg = Config::new(vec![key()]);
    cfg.max_chart_size = Some(4096);
    let e = start(cfg).unwrap();
    let mut c = Client::new(&e);
    let r = c.upload(b"not a tarball", None).unwrap();
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidChart"));
    let no_yaml = ccr_emulator::store::make_chart_tgz("a", "", &[]);
    assert_eq!(c.upload(&no_yaml, None).unwrap().status, 400);
    let r = c
        .send(
            "POST",
            BASE,
            "",
            &[("content-type", "application/json")],
            b"{}",
        )
        .unwrap();
    assert_eq!(r.status, 400);
    let r = c
        .send(
            "POST",
            BASE,
            "",
            &[("content-type", "multipart/form-data; boundary=zz")],
            b"--zz\r\ngarbage",
        )
        .unwrap();
    assert_eq!(r.status, 400);
    let mut x = 88_172_645_463_325_252u64;
    let big: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let tgz = ccr_emulator::store::make_chart_tgz(
        "big",
        "name: big\nversion: 1.0.0\n",
        &[("blob", &big)],
    );
    let r = c.upload(&tgz, None).unwrap();
    assert_eq!((r.status, r.code().as_str()), (413, "EntityTooLarge"));
    for body in [&b"nope"[..], b"{}", br#"{"items":[1]}"#, br#"{"items":[]}"#] {
        assert_eq!(c.delete(BASE, body).unwrap().status, 400);
    }
    assert_eq!(
        c.get("/v1/instances/ccr-1/projects/ns/other", "")
            .unwrap()
            .status,
        404
    );
    assert_eq!(c.send("PUT", BASE, "", &[], b"").unwrap().status, 405);
}

#[test]
fn auth_errors_over_http() {
    let e = emu();
    let mut c = Client::new(&e);
    let r = c
        .raw(format!("GET {BASE} HTTP/1.1\r\nHost: {}\r\n\r\n", c.host).as_bytes())
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "InvalidHTTPAuthHeader")
    );
    c.key = Key::new("unknown", SK);
    assert_eq!(c.get(BASE, "").unwrap().code(), "InvalidAccessKeyId");
    c.key = Key::new(AK, "wrong");
    let r = c.get(BASE, "").unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );
    c.key = Key::new("sts-ak", "sts-sk");
    assert_eq!(c.get(BASE, "").unwrap().code(), "InvalidSessionToken");
    c.key = Key::with_token("sts-ak", "sts-sk", "tok123");
    assert_eq!(c.get(BASE, "").unwrap().status, 200);
    // Query encoding must match what was signed.
    c.key = key();
    let mut h = c.signed_headers("GET", BASE, "chartName=a%20b");
    let mut req = format!("GET {BASE}?chartName=a+b HTTP/1.1\r\n");
    for (n, v) in h.drain(..) {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    assert_eq!(
        c.raw(req.as_bytes()).unwrap().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn clock_skew_expires_requests_and_shows_in_date() {
    let e = emu();
    let mut c = Client::new(&e);
    e.set_clock_skew(3600);
    let r = c.get(BASE, "").unwrap();
    assert_eq!((r.status, r.code().as_str()), (400, "RequestExpired"));
    let expected = ccr_emulator::clock::rfc1123(ccr_emulator::clock::real_now() + 3600);
    assert_eq!(&r.header("date").unwrap()[..20], &expected[..20]);
    c.clock_offset = 3600; // a client that corrected itself from Date
    assert_eq!(c.get(BASE, "").unwrap().status, 200);
    e.set_clock_skew(0);
    c.clock_offset = -1000;
    assert_eq!(c.get(BASE, "").unwrap().code(), "RequestExpired");
}

#[test]
fn faults() {
    let e = emu();
    let mut c = Client::new(&e);
    let tgz = chart("f", "1.0.0");
    assert_eq!(c.upload(&tgz, None).unwrap().status, 201);
    let dl = format!("{BASE}/download/f-1.0.0.tgz");

    e.push_fault(Fault::Status {
        status: 503,
        code: None,
    });
    e.push_fault(Fault::Status {
        status: 429,
        code: Some("Throttled".into()),
    });
    let r = c.get(BASE, "").unwrap();
    assert_eq!((r.status, r.code().as_str()), (503, "ServiceUnavailable"));
    let r = c.get(BASE, "").unwrap();
    assert_eq!((r.status, r.code().as_str()), (429, "Throttled"));
    assert_eq!(c.get(BASE, "").unwrap().status, 200);

    e.push_fault(Fault::Reset);
    assert!(c.get(BASE, "").is_err());
    assert_eq!(c.get(BASE, "").unwrap().status, 200);

    // Truncate waits for the download.
    e.push_fault(Fault::Truncate { keep_bytes: None });
    assert_eq!(c.get(BASE, "").unwrap().status, 200);
    let err = c.get(&dl, "").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    e.push_fault(Fault::Truncate {
        keep_bytes: Some(10),
    });
    let mut s = TcpStream::connect(host_of(&e)).unwrap();
    let h = c.signed_headers("GET", &dl, "");
    let mut req = format!("GET {dl} HTTP/1.1\r\n");
    for (n, v) in h {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains(&format!("Content-Length: {}", tgz.len())));
    let body_start = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - body_start, 10);

    e.push_fault(Fault::Corrupt);
    let r = c.get(&dl, "").unwrap();
    assert_eq!(r.body.len(), tgz.len());
    assert_ne!(r.body, tgz);
    assert_eq!(c.get(&dl, "").unwrap().body, tgz);

    e.push_fault(Fault::Latency { ms: 300 });
    let t = Instant::now();
    assert_eq!(c.get(BASE, "").unwrap().status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    e.set_latency(200);
    let t = Instant::now();
    c.get(BASE, "").unwrap();
    assert!(t.elapsed() >= Duration::from_millis(200));
    e.set_latency(0);

    // ResetAfterHandling: the upload IS stored, the client hears nothing.
    e.push_fault(Fault::ResetAfterHandling);
    assert!(c.upload(&chart("f", "2.0.0"), None).is_err());
    assert_eq!(e.versions("ccr-1", "ns", "f"), ["1.0.0", "2.0.0"]);
    assert_eq!(c.upload(&chart("f", "2.0.0"), None).unwrap().status, 409);

    // Filtered faults.
    e.push_fault_for(
        "POST",
        "/charts",
        Fault::Status {
            status: 500,
            code: None,
        },
    );
    assert_eq!(c.get(BASE, "").unwrap().status, 200);
    let r = c.upload(&chart("f", "3.0.0"), None).unwrap();
    assert_eq!((r.status, r.code().as_str()), (500, "InternalError"));
    assert_eq!(c.upload(&chart("f", "3.0.0"), None).unwrap().status, 201);

    e.set_fail_all(Some(Fault::Status {
        status: 502,
        code: None,
    }));
    for _ in 0..3 {
        assert_eq!(c.get(BASE, "").unwrap().status, 502);
    }
    e.set_fail_all(None);
    assert_eq!(c.get(BASE, "").unwrap().status, 200);

    let statuses: Vec<Option<u16>> = e.requests().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&None));
    let reset = e
        .requests()
        .into_iter()
        .find(|r| r.status.is_none())
        .unwrap();
    assert_eq!(reset.method, "GET");
    assert_eq!(reset.path, BASE);
}

#[test]
fn hostile_patches_and_raw_puts() {
    let e = emu();
    let mut c = Client::new(&e);
    e.put_raw("ccr-1", "ns", "h", "1.0.0", chart("h", "1.0.0"));
    assert!(e.patch_version(
        "ccr-1",
        "ns",
        "h",
        "1.0.0",
        serde_json::json!({"urls": ["../../evil.tgz"], "digest": "00"})
    ));
    let j = c.get(&format!("{BASE}/h/versions"), "").unwrap().json();
    assert_eq!(j["items"][0]["urls"][0], "../../evil.tgz");
    assert_eq!(j["items"][0]["digest"], "00");
    assert_eq!(j["items"][0]["appVersion"], "9.9");
    assert!(!e.patch_version("ccr-1", "ns", "h", "9", serde_json::json!({})));
    // Raw garbage can be stored too (for clients that must reject it).
    e.put_raw("ccr-1", "ns", "junk", "0.0.1", b"garbage".to_vec());
    assert_eq!(
        c.get(&format!("{BASE}/download/junk-0.0.1.tgz"), "")
            .unwrap()
            .body,
        b"garbage"
    );
}

#[test]
fn admin_http_api() {
    let e = emu();
    let mut c = Client::new(&e);
    let admin = |c: &mut Client, m: &str, p: &str, body: &str| {
        let req = format!(
            "{m} {p} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        c.raw(req.as_bytes()).unwrap()
    };
    let r = admin(
        &mut c,
        "POST",
        "/_emulator/faults",
        r#"[{"kind":"status","status":500},{"kind":"reset"}]"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(c.get(BASE, "").unwrap().status, 500);
    assert!(c.get(BASE, "").is_err());
    assert_eq!(
        admin(&mut c, "POST", "/_emulator/faults", r#"[{"kind":"bogus"}]"#).status,
        400
    );
    assert_eq!(
        admin(&mut c, "POST", "/_emulator/faults", "not json").status,
        400
    );
    admin(
        &mut c,
        "POST",
        "/_emulator/faults",
        r#"[{"kind":"status","status":500}]"#,
    );
    assert_eq!(admin(&mut c, "DELETE", "/_emulator/faults", "").status, 200);
    assert_eq!(c.get(BASE, "").unwrap().status, 200);

    let r = admin(
        &mut c,
        "POST",
        "/_emulator/config",
        r#"{"fail_all":{"kind":"status","status":503},"overwrite":true}"#,
    );
    assert_eq!(r.json()["overwrite"], true);
    assert_eq!(c.get(BASE, "").unwrap().status, 503);
    admin(
        &mut c,
        "POST",
        "/_emulator/config",
        r#"{"fail_all":null,"skew_secs":7200,"latency_ms":0}"#,
    );
    assert_eq!(c.get(BASE, "").unwrap().code(), "RequestExpired");
    admin(&mut c, "POST", "/_emulator/config", r#"{"skew_secs":0}"#);
    assert_eq!(
        admin(&mut c, "POST", "/_emulator/config", r#"{"skew_secs":"x"}"#).status,
        400
    );

    assert_eq!(c.upload(&chart("p", "1.0.0"), None).unwrap().status, 201);
    let r = admin(
        &mut c,
        "POST",
        "/_emulator/patch",
        r#"{"instance":"ccr-1","project":"ns","chart":"p","version":"1.0.0","patch":{"digest":"bad"}}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        c.get(&format!("{BASE}/p/versions"), "").unwrap().json()["items"][0]["digest"],
        "bad"
    );

    let reqs = admin(&mut c, "GET", "/_emulator/requests", "").json();
    let arr = reqs.as_array().unwrap();
    assert!(arr
        .iter()
        .all(|r| !r["path"].as_str().unwrap().starts_with("/_emulator")));
    assert_eq!(arr.len(), e.requests().len());
    assert_eq!(arr[0]["status"], 500);
    assert!(arr[1]["status"].is_null());
}

#[test]
fn racing_uploads_store_once() {
    let e = emu();
    let tgz = chart("race", "1.0.0");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut c = Client::new(&e);
                    c.upload(&tgz, None).unwrap().status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
}

#[test]
fn big_chunked_upload() {
    let e = emu();
    let mut c = Client::new(&e);
    // ~50 MB of incompressible data, stored uncompressed in the archive.
    let mut x = 0x1234_5678_9abc_def0u64;
    let blob: Vec<u8> = (0..50 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut tgz = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut tgz, flate2::Compression::none());
        let mut b = tar::Builder::new(gz);
        for (p, d) in [
            ("big/Chart.yaml", &b"name: big\nversion: 1.0.0\n"[..]),
            ("big/blob", &blob),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, p, d).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
    }
    let (ct, body) = multipart(&tgz, None);
    let headers = c.signed_headers("POST", BASE, "");
    let mut req =
        format!("POST {BASE} HTTP/1.1\r\ncontent-type: {ct}\r\ntransfer-encoding: chunked\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    for chunk in body.chunks(1 << 20) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    let r = c.raw(&bytes).unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = c
        .get(&format!("{BASE}/download/big-1.0.0.tgz"), "")
        .unwrap();
    assert_eq!(sha256_hex(&r.body), sha256_hex(&tgz));
}

#[test]
fn malformed_http_gets_400_and_no_panic() {
    let e = emu();
    for raw in [
        &b"BLAH\r\n\r\n"[..],
        b"GET / HTTP/9\r\n\r\n",
        b"POST /v1 HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
        b"GET /v1 HTTP/1.1\r\nbad header\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(host_of(&e)).unwrap();
        s.write_all(raw).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
            "{text}"
        );
    }
    // Still serving.
    assert_eq!(Client::new(&e).get(BASE, "").unwrap().status, 200);
}

#[test]
fn data_dir_survives_restart() {
    let dir = std::env::temp_dir().join(format!("ccr-emu-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = Config::new(vec![key()]);
    cfg.data_dir = Some(dir.clone());
    let tgz = chart("keep", "1.2.3");
    {
        let e = start(cfg.clone()).unwrap();
        assert_eq!(
            Client::new(&e).upload(&tgz, Some(b"sig")).unwrap().status,
            201
        );
    }
    let e = start(cfg).unwrap();
    let mut c = Client::new(&e);
    assert_eq!(
        c.get(&format!("{BASE}/download/keep-1.2.3.tgz.prov"), "")
            .unwrap()
            .body,
        b"sig"
    );
    assert_eq!(
        c.get(&format!("{BASE}/keep/versions"), "").unwrap().json()["items"][0]["digest"],
        sha256_hex(&tgz)
    );
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_prints_url_and_rejects_bad_args() {
    let exe = env!("CARGO_BIN_EXE_ccr-emulator");
    let out = std::process::Command::new(exe)
        .args(["--port", "x", "--keys", "a:b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: ") && err.lines().count() == 1,
        "{err}"
    );
    let out = std::process::Command::new(exe)
        .args(["--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let mut child = std::process::Command::new(exe)
        .args([
            "--port",
            "0",
            "--keys",
            &format!("{AK}:{SK}"),
            "other:sk:tok",
            "--overwrite",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let host = line
        .trim()
        .strip_prefix("http://127.0.0.1:")
        .map(|p| format!("127.0.0.1:{p}"));
    let mut c = Client {
        host: host.unwrap(),
        conn: None,
        key: key(),
        clock_offset: 0,
    };
    assert_eq!(c.upload(&chart("b", "1.0.0"), None).unwrap().status, 201);
    assert_eq!(
        c.upload(&chart("b", "1.0.0"), None).unwrap().status,
        201,
        "--overwrite"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn chunked_downloads() {
    let e = emu();
    let mut c = Client::new(&e);
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let tgz =
        ccr_emulator::store::make_chart_tgz("ch", "name: ch\nversion: 1.0.0\n", &[("b", &big)]);
    e.put_raw("ccr-1", "ns", "ch", "1.0.0", tgz.clone());
    e.set_chunked_downloads(true);
    let dl = format!("{BASE}/download/ch-1.0.0.tgz");
    let r = c.get(&dl, "").unwrap();
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, tgz);
    // Keep-alive still works after a chunked answer; other endpoints keep Content-Length.
    let r = c.get(BASE, "").unwrap();
    assert!(r.header("content-length").is_some());
    e.set_chunked_downloads(false);
    assert!(c.get(&dl, "").unwrap().header("content-length").is_some());
}

#[test]
fn latency_from_the_start_configuration() {
    let mut cfg = Config::new(vec![key()]);
    cfg.latency_ms = 120;
    let e = start(cfg).unwrap();
    let mut c = Client::new(&e);
    let r = c
        .raw(b"GET /_emulator/config HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert_eq!(r.json()["latency_ms"], 120);
    let t = Instant::now();
    assert_eq!(c.get(BASE, "").unwrap().status, 200);
    assert!(t.elapsed() >= Duration::from_millis(120));
}

/// Waits until the emulator serves `n` API requests (a poll, not a timing assertion).
#[track_caller]
fn wait_in_flight(e: &ccr_emulator::Emulator, n: usize) {
    let until = Instant::now() + Duration::from_secs(30);
    while e.in_flight() != n {
        assert!(
            Instant::now() < until,
            "in flight: {} of {n}",
            e.in_flight()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An upload's head without its body: the request stays in flight until the body comes.
fn held_upload(e: &ccr_emulator::Emulator) -> TcpStream {
    let mut s = TcpStream::connect(host_of(e)).unwrap();
    let head = format!("POST {BASE} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s
}

#[test]
fn throttles_requests_arriving_above_the_in_flight_limit() {
    let e = emu();
    let mut c = Client::new(&e);
    assert_eq!(c.upload(&chart("t", "1.0.0"), None).unwrap().status, 201);
    // The upload is in flight until its handler returns, a moment after its answer.
    wait_in_flight(&e, 0);
    e.set_max_in_flight(Some(2));
    let mut held = vec![held_upload(&e), held_upload(&e)];
    wait_in_flight(&e, 2);
    // The held requests, answered after this, leave the new record alone.
    e.clear_requests();

    // A third request arriving: 429, Retry-After: 1, and it takes no place.
    for _ in 0..3 {
        let r = c.get(&format!("{BASE}/t/versions"), "").unwrap();
        assert_eq!((r.status, r.code().as_str()), (429, "TooManyRequests"));
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(e.in_flight(), 2);
    }
    // Its body is read: an upload refused keeps the connection usable.
    assert_eq!(c.upload(&chart("t", "2.0.0"), None).unwrap().status, 429);
    assert_eq!(e.versions("ccr-1", "ns", "t"), ["1.0.0"]);

    // One held request ends: room for one more, on the same connection.
    let mut first = held.remove(0);
    first.write_all(b"0123456789").unwrap();
    let answer = read_response(&mut std::io::BufReader::new(&first)).unwrap();
    // Handled (and refused: it is not signed), not throttled.
    assert!(matches!(answer.status, 400 | 401), "{answer:?}");
    wait_in_flight(&e, 1);
    assert_eq!(
        c.get(&format!("{BASE}/t/versions"), "").unwrap().status,
        200
    );
    let statuses: Vec<Option<u16>> = e.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses[..4], [Some(429); 4], "{statuses:?}");
    assert_eq!(statuses.last(), Some(&Some(200)));

    // Throttling comes before queued faults: a refused request leaves the fault queued.
    e.set_max_in_flight(Some(1));
    e.push_fault(Fault::Status {
        status: 500,
        code: None,
    });
    assert_eq!(c.get(BASE, "").unwrap().status, 429);
    e.set_max_in_flight(None);
    assert_eq!(c.get(BASE, "").unwrap().status, 500);
    assert_eq!(c.get(BASE, "").unwrap().status, 200);
    drop(held);
    wait_in_flight(&e, 0);
}

#[test]
fn the_in_flight_limit_from_the_admin_api_and_the_command_line() {
    let e = emu();
    let mut c = Client::new(&e);
    let config = |c: &mut Client, body: &str| {
        let req = format!(
            "POST /_emulator/config HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        c.raw(req.as_bytes()).unwrap()
    };
    let r = config(&mut c, r#"{"max_in_flight":1}"#);
    assert_eq!(r.json()["max_in_flight"], 1);
    let _held = held_upload(&e);
    wait_in_flight(&e, 1);
    assert_eq!(c.get(BASE, "").unwrap().status, 429);
    for bad in ["0", "-1", "\"4\"", "1.5"] {
        let r = config(&mut c, &format!("{{\"max_in_flight\":{bad}}}"));
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = config(&mut c, r#"{"max_in_flight":null}"#);
    assert!(r.json()["max_in_flight"].is_null());
    assert_eq!(c.get(BASE, "").unwrap().status, 200);

    let exe = env!("CARGO_BIN_EXE_ccr-emulator");
    for bad in ["0", "x"] {
        let out = std::process::Command::new(exe)
            .args(["--keys", "a:b", "--max-in-flight", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--max-in-flight"));
    }
    let mut child = std::process::Command::new(exe)
        .args(["--port", "0", "--keys", &format!("{AK}:{SK}")])
        .args(["--max-in-flight", "3"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let mut c = Client {
        host: line.trim().trim_start_matches("http://").to_string(),
        conn: None,
        key: key(),
        clock_offset: 0,
    };
    let r = c
        .raw(b"GET /_emulator/config HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.json()["max_in_flight"], 3);
}

#[test]
fn help_says_what_it_prints_and_how_to_use_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ccr-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for part in [
        "its base URL",
        "--keys AK:SK",
        "--port N",
        "--overwrite",
        "--latency-ms",
        "--max-in-flight",
        "HELM_CCR_ENDPOINT",
    ] {
        assert!(help.contains(part), "{part}: {help}");
    }
}
