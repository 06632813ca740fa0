//! Issue 5: hostile or broken registries and packages, and secrets. A registry may hand out
//! file names that climb out of the destination, chart packages that would write outside the
//! target, endless or oversized JSON; none of it may write outside the destination, hang or
//! panic. Secret keys and tokens never show, debug output included.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccr_emulator::{Config, Fault, Key};
use flate2::write::GzEncoder;
use tar::EntryType;

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// A scripted registry: answers by a closure, ignores signatures, records what it was asked.

pub(crate) type Handler = dyn Fn(&str, &str, usize) -> Answer + Send + Sync;

/// What the scripted registry answers.
pub(crate) enum Answer {
    Json(u16, String, Vec<(&'static str, String)>),
    Bytes(Vec<u8>),
    /// An endless body (chunked): `prefix` then `fill` forever.
    Endless(Vec<u8>, u8),
}

pub(crate) struct Scripted {
    pub(crate) url: String,
    seen: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scripted {
    /// `handler(method, url, n)`: `n` counts requests from 0.
    pub(crate) fn start(handler: Box<Handler>) -> Scripted {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s2, seen2) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for req in s2.incoming_requests() {
                let n = {
                    let mut seen = seen2.lock().unwrap();
                    seen.push(format!("{} {}", req.method(), req.url()));
                    seen.len() - 1
                };
                let answer = handler(req.method().as_str(), req.url(), n);
                let _ = match answer {
                    Answer::Json(status, body, headers) => {
                        let mut resp = tiny_http::Response::from_string(body)
                            .with_status_code(status)
                            .with_header(
                                tiny_http::Header::from_bytes("Content-Type", "application/json")
                                    .unwrap(),
                            );
                        for (k, v) in headers {
                            resp.add_header(tiny_http::Header::from_bytes(k, v).unwrap());
                        }
                        req.respond(resp)
                    }
                    Answer::Bytes(b) => req.respond(tiny_http::Response::from_data(b)),
                    Answer::Endless(prefix, fill) => {
                        let reader = std::io::Cursor::new(prefix).chain(std::io::repeat(fill));
                        req.respond(tiny_http::Response::new(
                            200.into(),
                            vec![
                                tiny_http::Header::from_bytes("Content-Type", "application/json")
                                    .unwrap(),
                            ],
                            reader,
                            None,
                            None,
                        ))
                    }
                };
            }
        });
        Scripted {
            url: format!("http://127.0.0.1:{port}"),
            seen,
            server,
            thread: Some(thread),
        }
    }

    pub(crate) fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn ok_json(body: serde_json::Value) -> Answer {
    Answer::Json(200, body.to_string(), Vec::new())
}

pub(crate) fn versions_page(items: serde_json::Value) -> Answer {
    let total = items.as_array().map_or(0, Vec::len);
    ok_json(serde_json::json!({"total": total, "pageNo": 1, "pageSize": 100, "items": items}))
}

// ---------------------------------------------------------------------------------------------
// Registry-given file names.

#[test]
fn registry_file_names_are_reduced_to_a_safe_base_name() {
    let bytes = chart_tgz("app", "1.0.0", "");
    let digest = sha256(&bytes);
    for (urls, written) in [
        (serde_json::json!(["../../evil.tgz"]), "evil.tgz"),
        (serde_json::json!(["/etc/evil.tgz"]), "evil.tgz"),
        (serde_json::json!(["..\\..\\evil.tgz"]), "evil.tgz"),
        (
            serde_json::json!(["https://elsewhere/x/../evil.tgz?x=/../y"]),
            "evil.tgz",
        ),
        (serde_json::json!([".."]), "app-1.0.0.tgz"),
        (serde_json::json!(["../.."]), "app-1.0.0.tgz"),
        (serde_json::json!(["charts/"]), "app-1.0.0.tgz"),
        (serde_json::json!([".bashrc"]), "app-1.0.0.tgz"),
        (serde_json::json!(["c:evil.tgz"]), "app-1.0.0.tgz"),
        (serde_json::json!(["evil\n.tgz"]), "app-1.0.0.tgz"),
        (serde_json::json!([]), "app-1.0.0.tgz"),
        (serde_json::json!(null), "app-1.0.0.tgz"),
        (serde_json::json!("../../evil.tgz"), "evil.tgz"),
    ] {
        let (b2, d2, u2) = (bytes.clone(), digest.clone(), urls.clone());
        let reg = Scripted::start(Box::new(move |_, url, _| {
            if url.contains("/download/") {
                Answer::Bytes(b2.clone())
            } else {
                versions_page(serde_json::json!([{
                    "name": "app", "version": "1.0.0", "digest": d2, "urls": u2
                }]))
            }
        }));
        let w = World::new();
        for untar in [false, true] {
            let mut c = w.cmd();
            c.env("HELM_CCR_ENDPOINT", &reg.url).args([
                "pull",
                &format!("{REPO}/app"),
                "-d",
                "a/b/c",
            ]);
            if untar {
                c.args(["--untar", "--untardir", "u"]);
            }
            let out = c.output().unwrap();
            assert!(out.status.success(), "{urls}: {}", stderr(&out));
        }
        let mut files = files_below(w.work.path());
        files.sort();
        assert_eq!(
            files,
            [
                format!("a/b/c/{written}"),
                "a/b/c/u/app/Chart.yaml".to_string(),
                "a/b/c/u/app/templates/cm.yaml".to_string(),
                "a/b/c/u/app/values.yaml".to_string(),
            ],
            "{urls}"
        );
        let downloads: Vec<String> = reg
            .seen()
            .into_iter()
            .filter(|r| r.contains("/download/"))
            .collect();
        for d in &downloads {
            assert!(
                d.ends_with(&format!("/charts/download/{written}")),
                "{urls}: asked for {d}"
            );
        }
    }
}

#[test]
fn a_hostile_url_in_the_emulator_writes_nothing_outside() {
    let w = World::new();
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    w.emu.patch_version(
        INSTANCE,
        NS,
        "app",
        "1.0.0",
        serde_json::json!({"urls": ["../../evil.tgz"]}),
    );
    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/app"), "-d", "a/b"])
        .output()
        .unwrap();
    // The emulator serves only the real name: the reduced name is not found, and said so.
    assert_one_error(&out, 1, "evil.tgz");
    assert!(files_below(w.work.path()).is_empty());
    let paths: Vec<String> = w.emu.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("/charts/download/evil.tgz")),
        "{paths:?}"
    );
    assert!(paths.iter().all(|p| !p.contains("..")), "{paths:?}");
}

// ---------------------------------------------------------------------------------------------
// Names and versions as path segments.

#[test]
fn chart_names_and_versions_are_percent_encoded_path_segments() {
    let w = World::new();
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    w.emu
        .put_raw(INSTANCE, NS, "x", "1.0.0", chart_tgz("x", "1.0.0", ""));
    for name in [
        "..%2Fx",
        "%2e%2e",
        "x%2F..%2F..%2Fapp",
        "a?b=c",
        "a#b",
        "a;b",
        "ä",
    ] {
        for args in [
            vec!["ls".to_string(), format!("{REPO}/{name}")],
            vec![
                "pull".to_string(),
                format!("{REPO}/{name}"),
                "-d".into(),
                "o".into(),
            ],
            vec![
                "rm".to_string(),
                format!("{REPO}/{name}"),
                "--version".into(),
                "1.0.0".into(),
            ],
            vec!["rm".to_string(), format!("{REPO}/{name}"), "--all".into()],
        ] {
            w.emu.clear_requests();
            let out = w.cmd().args(&args).output().unwrap();
            // Refused before sending, or not found: never another chart's path.
            assert_one_error(&out, 1, "");
            for r in w.emu.requests() {
                let path = r.path.split('?').next().unwrap();
                let segs: Vec<&str> = path.split('/').collect();
                assert_eq!(
                    &segs[..7],
                    ["", "v1", "instances", INSTANCE, "projects", NS, "charts"],
                    "{args:?}: {}",
                    r.path
                );
                assert!(
                    segs[7..]
                        .iter()
                        .all(|s| !s.is_empty() && *s != ".." && *s != "."),
                    "{}",
                    r.path
                );
                assert!(
                    !path.contains('#') && !path.contains(';') && !path.contains("/../"),
                    "{}",
                    r.path
                );
            }
        }
    }
    // Versions too: one that would climb reaches no other path, and deletes nothing.
    for version in ["../../x/versions/1.0.0", "..", "1.0.0/../../x"] {
        let out = w
            .cmd()
            .args(["rm", &format!("{REPO}/app"), "--version", version])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{version}: {}", stderr(&out));
    }
    assert_eq!(w.versions("app"), ["1.0.0"]);
    assert_eq!(w.versions("x"), ["1.0.0"]);
    assert!(files_below(w.work.path()).is_empty());
}

#[test]
fn a_build_metadata_version_travels_encoded() {
    let w = World::new();
    let bytes = chart_tgz("b", "1.0.0+build.1", "");
    w.write("b.tgz", &bytes);
    let out = w.cmd().args(["push", "b.tgz", REPO]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w
        .cmd()
        .args(["rm", &format!("{REPO}/b"), "--version", "1.0.0+build.1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w
        .emu
        .requests()
        .iter()
        .any(|r| r.path.contains("1.0.0%2Bbuild.1")));
    assert!(w.versions("b").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Oversized, endless and malformed JSON.

#[test]
fn an_endless_list_answer_is_bounded() {
    let reg = Scripted::start(Box::new(|_, _, _| {
        Answer::Endless(br#"{"total":1,"items":["#.to_vec(), b' ')
    }));
    let w = World::new();
    let started = Instant::now();
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &reg.url)
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
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &reg.url)
        .args(["ls", REPO])
        .output()
        .unwrap();
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
        .cmd()
        .env("HELM_CCR_ENDPOINT", &reg.url)
        .args(["ls", REPO])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_one_error(&out, 1, "same items");
    assert_eq!(reg.seen().len(), 2);
}

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
            let out = w
                .cmd()
                .env("HELM_CCR_ENDPOINT", &reg.url)
                .args(&args)
                .output()
                .unwrap();
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
            .cmd()
            .env("HELM_CCR_ENDPOINT", &reg.url)
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
        .cmd()
        .env("HELM_CCR_ENDPOINT", &reg.url)
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
// Hostile packages and --untar.

/// A gzip tar of raw entries: (name bytes, type, link target, data). Names and links are
/// written as given, `..` and absolute paths included.
type RawEntry<'a> = (&'a [u8], EntryType, Option<&'a [u8]>, Vec<u8>);

fn raw_tgz(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, kind, link, data) in entries {
        raw_entry(&mut b, name, *kind, *link, data);
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn raw_entry<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    name: &[u8],
    kind: EntryType,
    link: Option<&[u8]>,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    {
        let old = h.as_old_mut();
        old.name.fill(0);
        old.name[..name.len()].copy_from_slice(name);
        if let Some(l) = link {
            old.linkname.fill(0);
            old.linkname[..l.len()].copy_from_slice(l);
        }
    }
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A PAX extended-header record, `LEN KEY=VALUE\n`, its length counting itself.
pub(crate) fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

fn chart_yaml() -> Vec<u8> {
    b"apiVersion: v2\nname: app\nversion: 1.0.0\n".to_vec()
}

fn hostile_packages() -> Vec<(&'static str, Vec<u8>)> {
    let ok = |n: &'static [u8]| (n, EntryType::Regular, None, chart_yaml());
    let file = |n: &'static [u8]| (n, EntryType::Regular, None, b"evil\n".to_vec());
    let mut big = vec![ok(b"app/Chart.yaml")];
    let five_mib = vec![0u8; 5 << 20];
    let names: Vec<&'static [u8]> = vec![
        b"app/f00", b"app/f01", b"app/f02", b"app/f03", b"app/f04", b"app/f05", b"app/f06",
        b"app/f07", b"app/f08", b"app/f09", b"app/f10", b"app/f11", b"app/f12", b"app/f13",
        b"app/f14", b"app/f15", b"app/f16", b"app/f17", b"app/f18", b"app/f19", b"app/f20",
    ];
    for n in names {
        big.push((n, EntryType::Regular, None, five_mib.clone()));
    }
    // A PAX header naming the next entry's path.
    let pax = {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        raw_entry(
            &mut b,
            b"app/Chart.yaml",
            EntryType::Regular,
            None,
            &chart_yaml(),
        );
        raw_entry(
            &mut b,
            b"PaxHeaders/x",
            EntryType::XHeader,
            None,
            &pax_record("path", b"app/../../pax-evil"),
        );
        raw_entry(&mut b, b"app/innocent", EntryType::Regular, None, b"evil\n");
        b.into_inner().unwrap().finish().unwrap()
    };
    // A GNU long name climbing out.
    let long = {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        raw_entry(
            &mut b,
            b"app/Chart.yaml",
            EntryType::Regular,
            None,
            &chart_yaml(),
        );
        let mut name = b"app/".to_vec();
        name.extend(b"../".repeat(40));
        name.extend(b"long-evil\0");
        raw_entry(
            &mut b,
            b"././@LongLink",
            EntryType::GNULongName,
            None,
            &name,
        );
        raw_entry(&mut b, b"app/short", EntryType::Regular, None, b"evil\n");
        b.into_inner().unwrap().finish().unwrap()
    };
    vec![
        (
            "dot-dot entry",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"app/../../dotdot-evil")]),
        ),
        (
            "dot-dot top",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"../dotdot-evil")]),
        ),
        (
            "absolute entry",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"/tmp/helm-ccr-abs-evil")]),
        ),
        (
            "backslash entry",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"app\\..\\..\\bs-evil")]),
        ),
        (
            "symlink out, then through it",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (
                    b"app/link",
                    EntryType::Symlink,
                    Some(b"../../.."),
                    Vec::new(),
                ),
                file(b"app/link/symlink-evil"),
            ]),
        ),
        (
            "absolute symlink",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/etc", EntryType::Symlink, Some(b"/etc"), Vec::new()),
            ]),
        ),
        (
            "hard link out",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (
                    b"app/hard",
                    EntryType::Link,
                    Some(b"../../outside"),
                    Vec::new(),
                ),
            ]),
        ),
        (
            "char device",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/dev", EntryType::Char, None, Vec::new()),
            ]),
        ),
        (
            "block device",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/blk", EntryType::Block, None, Vec::new()),
            ]),
        ),
        (
            "fifo",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/fifo", EntryType::Fifo, None, Vec::new()),
            ]),
        ),
        ("pax path", pax),
        ("gnu long name", long),
        (
            "file over 5 MiB",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (
                    b"app/big",
                    EntryType::Regular,
                    None,
                    vec![0u8; (5 << 20) + 1],
                ),
            ]),
        ),
        ("over 100 MiB in all", raw_tgz(&big)),
        (
            "two top-level directories",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"other/x")]),
        ),
        ("a file at the top", raw_tgz(&[file(b"toplevel")])),
        ("not gzip", b"this is not a package".to_vec()),
        ("truncated gzip", {
            let t = chart_tgz("app", "1.0.0", "");
            t[..t.len() / 2].to_vec()
        }),
    ]
}

/// Absolute places a climbing entry could reach.
fn assert_no_evil_outside(what: &str) {
    for p in [
        "/tmp/helm-ccr-abs-evil",
        "/long-evil",
        "/pax-evil",
        "/dotdot-evil",
        "/symlink-evil",
        "/tmp/long-evil",
    ] {
        assert!(!Path::new(p).exists(), "{what}: wrote {p}");
    }
}

#[test]
fn hostile_packages_are_refused_by_untar_and_write_nothing() {
    let w = World::new();
    // Deep enough that every relative climb of the corpus stays inside the work directory,
    // where it would be seen.
    let dest = "a/b/c/d/e/f/g/out";
    for (what, tgz) in hostile_packages() {
        w.emu.put_raw(INSTANCE, NS, "app", "1.0.0", tgz.clone());
        let out = w
            .cmd()
            .args([
                "pull",
                &format!("{REPO}/app"),
                "-d",
                dest,
                "--untar",
                "--untardir",
                "u",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("Error: ")).count(),
            1,
            "{what}: {err}"
        );
        assert!(
            files_below(w.work.path()).is_empty(),
            "{what}: left {:?}",
            files_below(w.work.path())
        );
        assert_no_evil_outside(what);
    }
}

#[test]
fn untar_never_follows_or_replaces_what_is_already_there() {
    let w = World::new();
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    // The chart directory is a symlink to somewhere else: refused, nothing written there.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(w.path("u")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(elsewhere.path(), w.path("u/app")).unwrap();
    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/app"), "--untar", "--untardir", "u"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "already exists");
    assert!(files_below(elsewhere.path()).is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(w.path("u"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only the symlink: {leftovers:?}");
}

#[test]
fn a_hostile_package_is_refused_by_push_before_any_request() {
    let w = World::new();
    for (what, tgz) in hostile_packages() {
        // Links, devices and sizes are --untar's business (Helm's own push takes them).
        if ["link", "device", "fifo", "MiB"]
            .iter()
            .any(|k| what.contains(k))
        {
            continue;
        }
        w.write("h.tgz", &tgz);
        let out = w.cmd().args(["push", "h.tgz", REPO]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{what}");
    }
    // A package whose Chart.yaml names a path.
    for name in ["../x", "a/b", "..", "a\\b"] {
        w.write(
            "n.tgz",
            &tgz_of(&[(
                "c/Chart.yaml".to_string(),
                format!("apiVersion: v2\nname: \"{name}\"\nversion: 1.0.0\n").into_bytes(),
            )]),
        );
        let out = w.cmd().args(["push", "n.tgz", REPO]).output().unwrap();
        assert_one_error(&out, 1, "name");
    }
    assert_eq!(w.count("POST"), 0);
    assert!(w.emu.requests().is_empty(), "refused before any request");
}

// ---------------------------------------------------------------------------------------------
// Secrets.

pub(crate) const SECRET: &str = "Sk-VERY-secret-4242";
const TOKEN: &str = "sts-token-VERY-secret-4242";

pub(crate) fn assert_no_secret(out: &std::process::Output, what: &str) {
    for text in [stdout(out), stderr(out)] {
        for s in [SECRET, TOKEN, "VERY-secret"] {
            assert!(!text.contains(s), "{what}: the secret shows in: {text}");
        }
    }
}

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

#[cfg(unix)]
#[test]
fn credential_files_readable_by_others_draw_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    std::fs::create_dir_all(w.home.path().join(".go-bcecli")).unwrap();
    let cfg = w.home.path().join(".bce/config.json");
    let ini = w.home.path().join(".go-bcecli/credentials");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"profiles":[{{"name":"default","access_key_id":"{AK}","secret_access_key":"{SK}"}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(&ini, format!("[Defaults]\nAk = {AK}\nSk = {SK}\n")).unwrap();
    let ls = || w.bare().args(["ls", REPO]).output().unwrap();
    for (path, other) in [(&cfg, None), (&ini, Some(&cfg))] {
        if let Some(o) = other {
            // The profile must not answer first: take it away.
            std::fs::remove_file(o).unwrap();
        }
        for (mode, warned) in [
            (0o644, true),
            (0o640, true),
            (0o604, true),
            (0o600, false),
            (0o400, false),
        ] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
            let out = ls();
            assert!(out.status.success(), "{}", stderr(&out));
            let err = stderr(&out);
            assert_eq!(
                err.contains("Warning:") && err.contains("readable by others"),
                warned,
                "{} mode {mode:o}: {err}",
                path.display()
            );
            if warned {
                assert!(err.contains(&path.display().to_string()), "{err}");
                assert!(err.contains("chmod 600"), "{err}");
            }
            assert!(!err.contains(SK));
        }
    }
}
