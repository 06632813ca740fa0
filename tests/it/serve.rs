//! `helm ccr serve`: CCR namespaces as plain HTTP Helm repositories. Real Helm 3 and 4 with no
//! plugin installed read them; hostile requests get 401 or 404; refreshes, the package cache
//! and the shutdown behave as documented. Requests here are raw HTTP/1.1 over a socket, so
//! the paths go to the server exactly as written.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use ccr_emulator::Fault;

use crate::common::gnupg::TestGpg;
use crate::common::helm::helm_output;
use crate::common::output::stdout;
use crate::common::tars::{chart_tgz, noise, sha256, tgz_of};
use crate::common::world::{World, REPO};

/// A running `helm-ccr serve`, killed on drop.
struct Served {
    child: Child,
    /// Its stderr so far (drained by a thread, so the log never blocks it).
    log: Arc<std::sync::Mutex<String>>,
    drain: Option<std::thread::JoinHandle<()>>,
    /// `http://127.0.0.1:PORT` (or https).
    url: String,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs Helm `major` in `home` and asserts it succeeded; a failure shows Helm's stderr and
/// serve's log.
fn helm_ok(major: u32, home: &std::path::Path, s: &Served, args: &[&str]) -> std::process::Output {
    let os: Vec<&std::ffi::OsStr> = args.iter().map(|a| h(a)).collect();
    let out = helm_output(major, home, &os);
    assert!(
        out.status.success(),
        "helm {major} {args:?}: {}\nserve's log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log.lock().unwrap()
    );
    out
}

/// Starts `helm-ccr serve ARGS` on a free port with its cache in the work directory; returns
/// once it printed its URL.
fn serve(w: &World, args: &[&str]) -> Served {
    let mut c = w.std_cmd();
    c.arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0", "--cache-dir"])
        .arg(w.path("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(url.starts_with("http"), "serve printed {url:?}");
    let addr = url.split("://").nth(1).unwrap().to_string();
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let sink = log.clone();
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    Served {
        child,
        log,
        drain: Some(drain),
        url,
        addr,
    }
}

impl Served {
    /// Waits until `/readyz` answers 200.
    fn ready(&self) {
        for _ in 0..600 {
            if get(&self.addr, "/readyz", &[]).status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve never became ready");
    }

    /// Stops it with `sig` and returns its exit status and stderr.
    fn stop(self, sig: &str) -> (Option<i32>, String) {
        signal(&self.child, sig);
        self.stop_waiting()
    }

    /// Waits for it to exit on its own; its exit status and whole log.
    fn stop_waiting(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        if let Some(d) = self.drain.take() {
            let _ = d.join();
        }
        let log = self.log.lock().unwrap().clone();
        (status.code(), log)
    }
}

fn signal(child: &Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection, `path` sent as written.
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    read_response(&mut BufReader::new(s))
}

fn read_response(r: &mut impl BufRead) -> Got {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    Got {
        status,
        headers,
        body,
    }
}

fn basic(user: &str, password: &str) -> String {
    // Standard base64 of "user:password".
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

fn htpasswd(w: &World, user: &str, password: &str) -> String {
    let hash = bcrypt::hash(password, 4).unwrap();
    let p = w.write("htpasswd", format!("{user}:{hash}\n").as_bytes());
    p.to_string_lossy().into_owned()
}

/// Emulator requests that list the charts of the namespace (not a chart's versions).
fn chart_listings(w: &World) -> usize {
    w.emu
        .requests()
        .iter()
        .filter(|r| {
            let p = r.path.split('?').next().unwrap_or("");
            r.method == "GET" && p.ends_with("/charts")
        })
        .count()
}

fn version_listings(w: &World) -> usize {
    w.emu
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .ends_with("/versions")
        })
        .count()
}

fn downloads(w: &World) -> usize {
    w.emu
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/download/"))
        .count()
}

fn h(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Helm 3.17.3 and 4.1.4 without any plugin: repo add (basic auth), update, search, template,
/// pull --verify of a package signed by `push --sign`, dependency update of a chart that
/// depends on it.
#[test]
fn helm_without_the_plugin_uses_the_served_repository() {
    let w = World::new();
    let g = TestGpg::with_key("Serve Signer <serve@helm-ccr.invalid>");
    let pubring = w.path("pubring.gpg");
    g.export_public(&pubring);
    w.write("app-1.0.0.tgz", &chart_tgz("app", "1.0.0", "one"));
    let out = w
        .cmd()
        .env("GNUPGHOME", g.home())
        .args(["push", "app-1.0.0.tgz", REPO, "--sign"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.push_chart("other", "0.2.0");
    let pw = htpasswd(&w, "alice", "s3cret pass");
    // Helm 4 asks for a .prov without the repository's credentials.
    let s = serve(&w, &[REPO, "--htpasswd", &pw, "--public-provenance"]);
    s.ready();
    for major in [3, 4] {
        let home = tempfile::tempdir().unwrap();
        let home = home.path();
        let ok = |args: &[&str]| helm_ok(major, home, &s, args);
        ok(&[
            "repo",
            "add",
            "mine",
            &s.url,
            "--username",
            "alice",
            "--password",
            "s3cret pass",
        ]);
        ok(&["repo", "update"]);
        let found = stdout(&ok(&["search", "repo", "mine/"]));
        assert!(
            found.contains("mine/app") && found.contains("mine/other"),
            "{found}"
        );
        let rendered = stdout(&ok(&["template", "r1", "mine/app", "--version", "1.0.0"]));
        assert!(rendered.contains("extra: \"one\""), "{rendered}");
        let dest = home.join("pulled");
        std::fs::create_dir_all(&dest).unwrap();
        let pulled = ok(&[
            "pull",
            "mine/app",
            "--verify",
            "--keyring",
            pubring.to_str().unwrap(),
            "-d",
            dest.to_str().unwrap(),
        ]);
        assert_eq!(
            std::fs::read(dest.join("app-1.0.0.tgz")).unwrap(),
            w.stored("app", "1.0.0").unwrap(),
            "helm {major}: {}",
            stdout(&pulled)
        );
        let parent = home.join("parent");
        std::fs::create_dir_all(&parent).unwrap();
        std::fs::write(
            parent.join("Chart.yaml"),
            format!(
                "apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n- name: app\n  version: \"^1.0.0\"\n  repository: \"{}\"\n",
                s.url
            ),
        )
        .unwrap();
        ok(&["dependency", "update", parent.to_str().unwrap()]);
        assert_eq!(
            std::fs::read(parent.join("charts").join("app-1.0.0.tgz")).unwrap(),
            w.stored("app", "1.0.0").unwrap()
        );
        // Wrong credentials: Helm is refused.
        let bad = helm_output(
            major,
            home,
            &[
                h("repo"),
                h("add"),
                h("bad"),
                h(&s.url),
                h("--username"),
                h("alice"),
                h("--password"),
                h("nope"),
            ],
        );
        assert!(
            !bad.status.success(),
            "helm {major} added with a wrong password"
        );
    }
    let (code, err) = s.stop("TERM");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !err.contains("s3cret"),
        "the password reached the log: {err}"
    );
}

#[test]
fn routes_auth_traversal_and_conditional_requests() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let pw = htpasswd(&w, "bob", "pw");
    let s = serve(&w, &["--repo", &format!("team={REPO}"), "--htpasswd", &pw]);
    s.ready();
    let auth = basic("bob", "pw");
    let ok = [("Authorization", auth.as_str())];
    // Probes need no credentials; everything else does.
    assert_eq!(get(&s.addr, "/healthz", &[]).status, 200);
    for (headers, what) in [
        (vec![], "none"),
        (
            vec![("Authorization", basic("bob", "wrong"))],
            "wrong password",
        ),
        (vec![("Authorization", basic("eve", "pw"))], "unknown user"),
        (
            vec![("Authorization", "Bearer pw".to_string())],
            "another scheme",
        ),
    ] {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for path in [
            "/team/index.yaml",
            "/team/charts/app-1.0.0.tgz",
            "/nothing",
            "/metrics",
        ] {
            let r = get(&s.addr, path, &hs);
            assert_eq!(r.status, 401, "{what} {path}");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Basic realm=\"helm-ccr\"")
            );
            assert!(!r.text().contains("apiVersion"), "{what} {path}");
        }
    }
    let index = get(&s.addr, "/team/index.yaml", &ok);
    assert_eq!(index.status, 200);
    let text = index.text();
    assert!(text.contains("    - \"charts/app-1.0.0.tgz\"\n"), "{text}");
    let etag = index.header("etag").unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", sha256(&index.body)));
    let lm = index.header("last-modified").unwrap().to_string();
    assert_eq!(
        get(
            &s.addr,
            "/team/index.yaml",
            &[ok[0], ("If-None-Match", &etag)]
        )
        .status,
        304
    );
    assert_eq!(
        get(
            &s.addr,
            "/team/index.yaml",
            &[ok[0], ("If-Modified-Since", &lm)]
        )
        .status,
        304
    );
    assert_eq!(
        get(
            &s.addr,
            "/team/index.yaml",
            &[ok[0], ("If-None-Match", "\"other\"")]
        )
        .status,
        200
    );
    let tgz = get(&s.addr, "/team/charts/app-1.0.0.tgz", &ok);
    assert_eq!(tgz.status, 200, "{}", tgz.text());
    assert_eq!(tgz.body, w.stored("app", "1.0.0").unwrap());
    assert_eq!(
        tgz.header("content-length"),
        Some(tgz.body.len().to_string().as_str())
    );
    for path in [
        "/team/charts/../index.yaml",
        "/team/charts/%2e%2e/index.yaml",
        "/team/charts/%2E%2E%2Fapp-1.0.0.tgz",
        "/team/charts/..%2Fapp-1.0.0.tgz",
        "/team//charts/app-1.0.0.tgz",
        "//team/index.yaml",
        "/team/charts\\app-1.0.0.tgz",
        "/team/charts/%5Capp-1.0.0.tgz",
        "/team/./index.yaml",
        "/team/charts/app-9.9.9.tgz",
        "/team/charts/app-1.0.0.tgz.prov",
        "/index.yaml",
        "/other/index.yaml",
        "/team/index.yaml/",
        "/etc/passwd",
        "/team/charts/%00.tgz",
    ] {
        let r = get(&s.addr, path, &ok);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
    }
    let metrics = get(&s.addr, "/metrics", &ok).text();
    assert!(
        metrics.contains("helm_ccr_serve_requests_total{route=\"index\",status=\"304\"} 2"),
        "{metrics}"
    );
    // The package, and the provenance file the registry does not have (asked once).
    assert!(
        metrics.contains("helm_ccr_serve_cache_misses_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("helm_ccr_serve_index_age_seconds{repo="),
        "{metrics}"
    );
    let (code, err) = s.stop("INT");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("GET /team/index.yaml 304"), "{err}");
    assert!(!err.contains(&auth[6..]), "credentials reached the log");
}

/// A chart pushed after the index was built appears once --index-ttl passed; a deleted one
/// goes; a version replaced with --force is served with its new bytes (full refresh).
#[test]
fn refreshes_show_pushed_deleted_and_replaced_versions() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let s = serve(&w, &[REPO, "--index-ttl", "1s", "--full-refresh", "2s"]);
    s.ready();
    let first = get(&s.addr, "/index.yaml", &[]).text();
    assert!(!first.contains("late"), "{first}");
    let old = get(&s.addr, "/charts/app-1.0.0.tgz", &[]).body;
    w.push_chart("late", "0.1.0");
    let replaced = chart_tgz("app", "1.0.0", "replaced");
    w.write("replaced/app-1.0.0.tgz", &replaced);
    w.ok(&["push", "replaced/app-1.0.0.tgz", REPO, "--force"]);
    assert_ne!(old, replaced);
    poll(|| {
        get(&s.addr, "/index.yaml", &[])
            .text()
            .contains("charts/late-0.1.0.tgz")
    });
    poll(|| {
        get(&s.addr, "/index.yaml", &[])
            .text()
            .contains(&sha256(&replaced))
    });
    assert_eq!(get(&s.addr, "/charts/app-1.0.0.tgz", &[]).body, replaced);
    w.ok(&["rm", &format!("{REPO}/late"), "--all"]);
    poll(|| !get(&s.addr, "/index.yaml", &[]).text().contains("late"));
    assert_eq!(get(&s.addr, "/charts/late-0.1.0.tgz", &[]).status, 404);
}

fn poll(mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the condition never held");
}

/// 200 clients asking for the index while it is refreshed share one rebuild; 50 first
/// requests for one package share one download.
#[test]
fn concurrent_requests_share_one_rebuild_and_one_download() {
    let w = World::new();
    for c in ["a", "b", "c"] {
        w.push_chart(c, "1.0.0");
    }
    let s = serve(&w, &[REPO, "--index-ttl", "2s", "--full-refresh", "0s"]);
    s.ready();
    // Past the ttl: the next request refreshes, slowly.
    std::thread::sleep(Duration::from_millis(2100));
    w.emu.set_latency(300);
    w.emu.clear_requests();
    let storm = |n: usize, path: &'static str| {
        let barrier = Arc::new(Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let b = barrier.clone();
                let addr = s.addr.clone();
                std::thread::spawn(move || {
                    b.wait();
                    get(&addr, path, &[])
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<Got>>()
    };
    let answers = storm(200, "/index.yaml");
    assert!(answers.iter().all(|g| g.status == 200));
    assert!(answers
        .iter()
        .all(|g| g.text().contains("charts/c-1.0.0.tgz")));
    assert_eq!(
        chart_listings(&w),
        1,
        "{:#?}",
        w.emu.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(version_listings(&w), 3);
    w.emu.set_latency(0);
    w.emu.clear_requests();
    let answers = storm(50, "/charts/b-1.0.0.tgz");
    let want = w.stored("b", "1.0.0").unwrap();
    assert!(answers.iter().all(|g| g.status == 200 && g.body == want));
    assert_eq!(downloads(&w), 1);
}

/// Bytes that do not match the registry's digest are a 502 and never cached; the next
/// request, once the registry is sound, downloads again and serves the real bytes. A failed
/// refresh keeps the last index with a Warning.
#[test]
fn a_digest_mismatch_is_a_502_and_a_failing_refresh_serves_the_last_index() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let s = serve(&w, &[REPO, "--index-ttl", "1s"]);
    s.ready();
    for _ in 0..20 {
        w.emu.push_fault_for("GET", "/download/", Fault::Corrupt);
    }
    let r = get(&s.addr, "/charts/app-1.0.0.tgz", &[]);
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("digest mismatch"), "{}", r.text());
    let cached: Vec<_> = std::fs::read_dir(w.path("cache")).unwrap().collect();
    assert!(cached.is_empty(), "{cached:?}");
    w.emu.clear_faults();
    let r = get(&s.addr, "/charts/app-1.0.0.tgz", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, w.stored("app", "1.0.0").unwrap());

    w.emu.set_fail_all(Some(Fault::Status {
        status: 500,
        code: None,
    }));
    poll(|| get(&s.addr, "/index.yaml", &[]).header("warning").is_some());
    let r = get(&s.addr, "/index.yaml", &[]);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("charts/app-1.0.0.tgz"));
    assert!(
        r.header("warning")
            .unwrap()
            .starts_with("110 - \"stale index: "),
        "{:?}",
        r.header("warning")
    );
    assert_eq!(get(&s.addr, "/readyz", &[]).status, 200);
    w.emu.set_fail_all(None);
    poll(|| get(&s.addr, "/index.yaml", &[]).header("warning").is_none());
}

/// SIGTERM while a client is still reading a large package: the download completes, then the
/// server exits 0.
#[test]
fn sigterm_lets_a_large_download_finish() {
    let w = World::new();
    let big = tgz_of(&[
        (
            "big/Chart.yaml".into(),
            b"apiVersion: v2\nname: big\nversion: 1.0.0\n".to_vec(),
        ),
        ("big/blob.bin".into(), noise(24 << 20, 7)),
    ]);
    w.write("big-1.0.0.tgz", &big);
    w.ok(&["push", "big-1.0.0.tgz", REPO]);
    let s = serve(&w, &[REPO]);
    s.ready();
    let mut conn = TcpStream::connect(&s.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        conn,
        "GET /charts/big-1.0.0.tgz HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::with_capacity(1024, conn);
    // The status line: the server has the package and is sending it.
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.contains(" 200 "), "{line}");
    signal(&s.child, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    let text_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = &rest[text_end..];
    assert_eq!(body.len(), big.len());
    assert_eq!(sha256(body), sha256(&big));
    let (code, err) = s.stop_waiting();
    assert_eq!(code, Some(0), "{err}");
}

/// A self-signed certificate for 127.0.0.1 (openssl), as (cert, key) paths.
fn self_signed(w: &World) -> (String, String) {
    let (cert, key) = (w.path("tls.crt"), w.path("tls.key"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

/// With --tls-cert/--tls-key, Helm 3 and 4 trusting the certificate (--ca-file) read the
/// repository over HTTPS with basic auth.
#[test]
fn helm_reads_the_repository_over_https() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let (cert, key) = self_signed(&w);
    let pw = htpasswd(&w, "alice", "pw");
    let s = serve(
        &w,
        &[
            REPO,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--htpasswd",
            &pw,
        ],
    );
    assert!(s.url.starts_with("https://"), "{}", s.url);
    for major in [3, 4] {
        let home = tempfile::tempdir().unwrap();
        let home = home.path();
        let run = |args: &[&str]| helm_ok(major, home, &s, args);
        run(&[
            "repo",
            "add",
            "tls",
            &s.url,
            "--ca-file",
            &cert,
            "--username",
            "alice",
            "--password",
            "pw",
        ]);
        let dest = home.join("pulled");
        std::fs::create_dir_all(&dest).unwrap();
        run(&["pull", "tls/app", "-d", dest.to_str().unwrap()]);
        assert_eq!(
            std::fs::read(dest.join("app-1.0.0.tgz")).unwrap(),
            w.stored("app", "1.0.0").unwrap()
        );
    }
}

/// A refresh of an unchanged namespace lists the charts and no chart's versions (until the
/// full refresh).
#[test]
fn an_unchanged_namespace_refreshes_with_one_listing() {
    let w = World::new();
    for c in ["a", "b", "c", "d"] {
        w.push_chart(c, "1.0.0");
    }
    let s = serve(&w, &[REPO, "--index-ttl", "1s"]);
    s.ready();
    let before = get(&s.addr, "/index.yaml", &[]);
    w.emu.clear_requests();
    poll(|| {
        chart_listings(&w) >= 2 || {
            get(&s.addr, "/index.yaml", &[]);
            false
        }
    });
    assert_eq!(version_listings(&w), 0);
    // Same entries: same text, same ETag.
    let after = get(&s.addr, "/index.yaml", &[]);
    assert_eq!(after.header("etag"), before.header("etag"));
    // A new version of one chart re-lists that chart only.
    w.push_chart("b", "1.1.0");
    w.emu.clear_requests();
    poll(|| {
        get(&s.addr, "/index.yaml", &[])
            .text()
            .contains("b-1.1.0.tgz")
    });
    assert_eq!(version_listings(&w), 1);
}

/// A client sending its headers a byte at a time, and many idle connections, do not keep
/// others from being served.
#[test]
fn slow_and_idle_clients_do_not_block_others() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let s = serve(&w, &[REPO]);
    s.ready();
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    let addr = s.addr.clone();
    let slow = std::thread::spawn(move || {
        let mut c = TcpStream::connect(&addr).unwrap();
        for b in b"GET /index.yaml HTTP/1.1\r\nX-Slow: " {
            if c.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    for _ in 0..20 {
        assert_eq!(get(&s.addr, "/index.yaml", &[]).status, 200);
    }
    drop(idle);
    slow.join().unwrap();
}

/// Past --max-stale with the registry still failing, the index is a 503 and /readyz says
/// not ready; the JSON log says so line by line.
#[test]
fn past_max_stale_the_index_is_unavailable() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let s = serve(
        &w,
        &[
            REPO,
            "--index-ttl",
            "1s",
            "--max-stale",
            "2s",
            "--log-format",
            "json",
        ],
    );
    s.ready();
    w.emu.set_fail_all(Some(Fault::Status {
        status: 500,
        code: None,
    }));
    poll(|| get(&s.addr, "/index.yaml", &[]).status == 503);
    assert_eq!(get(&s.addr, "/readyz", &[]).status, 503);
    w.emu.set_fail_all(None);
    poll(|| get(&s.addr, "/index.yaml", &[]).status == 200);
    assert_eq!(get(&s.addr, "/readyz", &[]).status, 200);
    let (code, log) = s.stop("TERM");
    assert_eq!(code, Some(0));
    let mut statuses = Vec::new();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        if let Some(st) = v.get("status") {
            statuses.push(st.as_u64().unwrap());
            assert!(
                v["duration_ms"].is_number() && v["bytes"].is_number(),
                "{line}"
            );
        }
    }
    assert!(statuses.contains(&503) && statuses.contains(&200), "{log}");
}

/// The package cache keeps to --cache-size: the least recently used package goes first.
#[test]
fn the_package_cache_evicts_the_least_recently_used() {
    let w = World::new();
    let a = w.push_chart("a", "1.0.0");
    let b = w.push_chart("b", "1.0.0");
    let limit = (a.len().max(b.len()) + 10).to_string();
    let s = serve(&w, &[REPO, "--cache-size", &limit]);
    s.ready();
    assert_eq!(get(&s.addr, "/charts/a-1.0.0.tgz", &[]).body, a);
    assert_eq!(get(&s.addr, "/charts/b-1.0.0.tgz", &[]).body, b);
    let cached: Vec<String> = std::fs::read_dir(w.path("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cached, [format!("{}.tgz", sha256(&b))]);
    w.emu.clear_requests();
    assert_eq!(get(&s.addr, "/charts/a-1.0.0.tgz", &[]).body, a);
    assert_eq!(downloads(&w), 1);
    assert_eq!(get(&s.addr, "/charts/a-1.0.0.tgz", &[]).body, a);
    assert_eq!(downloads(&w), 1);
}

/// Usage mistakes are said before anything listens (exit 2).
#[test]
fn usage_errors() {
    let w = World::new();
    for (args, needle) in [
        (&["serve"][..], "serve needs a repository"),
        (
            &["serve", REPO, "--repo", "a=ccr://ccr-test/ns"],
            "not both",
        ),
        (
            &["serve", "--repo", "ccr://ccr-test/ns"],
            "expected NAME=REPO",
        ),
        (
            &["serve", "--repo", "metrics=ccr://ccr-test/ns"],
            "cannot be a path segment",
        ),
        (
            &["serve", REPO, "--tls-cert", "x.pem"],
            "--tls-cert and --tls-key go together",
        ),
        (
            &["serve", REPO, "--index-ttl", "soon"],
            "--index-ttl \"soon\"",
        ),
        (
            &["serve", REPO, "--cache-size", "big"],
            "--cache-size \"big\"",
        ),
    ] {
        let out = w.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// The server's chart (deploy/helm-ccr-serve) passes `helm lint` and renders with its default
/// values and with every option on (ci/full-values.yaml), on Helm 3 and 4.
#[test]
fn the_deploy_chart_lints_and_renders() {
    let chart = crate::common::files::repo_root().join("deploy/helm-ccr-serve");
    let full = chart.join("ci/full-values.yaml");
    let home = tempfile::tempdir().unwrap();
    for major in [3, 4] {
        let run = |args: &[&std::ffi::OsStr]| {
            let out = helm_output(major, home.path(), args);
            assert!(
                out.status.success(),
                "helm {major} {args:?}: {}{}",
                stdout(&out),
                String::from_utf8_lossy(&out.stderr)
            );
            stdout(&out)
        };
        run(&[h("lint"), chart.as_os_str(), h("--strict")]);
        run(&[
            h("lint"),
            chart.as_os_str(),
            h("--strict"),
            h("-f"),
            full.as_os_str(),
        ]);
        let default = run(&[h("template"), h("r"), chart.as_os_str()]);
        assert!(default.contains("kind: Deployment") && default.contains("kind: Service\n"));
        assert!(!default.contains("kind: Ingress") && !default.contains("ServiceMonitor"));
        assert!(
            default.contains("- \"ccr://ccr-xxxxxxxx/charts\""),
            "{default}"
        );
        assert!(
            default.contains("path: /readyz") && default.contains("readOnlyRootFilesystem: true")
        );
        let all = run(&[
            h("template"),
            h("r"),
            chart.as_os_str(),
            h("-f"),
            full.as_os_str(),
        ]);
        for want in [
            "kind: Ingress",
            "kind: ServiceMonitor",
            "- \"stable=ccr://ccr-xxxxxxxx/stable\"",
            "- --htpasswd=/etc/helm-ccr/auth/htpasswd",
            "- --tls-cert=/etc/helm-ccr/tls/tls.crt",
            "name: helm-ccr-upstream",
            "scheme: HTTPS",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }
    }
}

/// README's GitOps section: every YAML document parses and names its kind; the shell block
/// uses only flags `serve` has.
#[test]
fn the_readme_gitops_examples_parse() {
    let readme =
        std::fs::read_to_string(crate::common::files::repo_root().join("README.md")).unwrap();
    let start = readme
        .find("## GitOps (Argo CD, Flux)")
        .expect("a GitOps section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut kinds = Vec::new();
    let mut blocks = section.split("```yaml\n").skip(1);
    for block in blocks.by_ref() {
        let block = &block[..block.find("```").unwrap()];
        for doc in block.split("\n---\n") {
            let v: serde_json::Value =
                serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{doc}\n{e}"));
            kinds.push(v["kind"].as_str().unwrap().to_string());
            assert!(v["apiVersion"].is_string() && v["metadata"]["name"].is_string());
        }
    }
    assert_eq!(
        kinds,
        [
            "Secret",
            "Application",
            "Secret",
            "HelmRepository",
            "HelmRelease"
        ]
    );
    let help = String::from_utf8(
        crate::common::world::World::new()
            .ok(&["serve", "--help"])
            .stdout,
    )
    .unwrap();
    for flag in [
        "--listen",
        "--htpasswd",
        "--public-provenance",
        "--tls-cert",
    ] {
        assert!(section.contains(flag) && help.contains(flag), "{flag}");
    }
}

/// `--token-file`: `Authorization: Bearer TOKEN` with a token of the file is accepted (as is
/// basic auth with `--htpasswd` too); a wrong or missing one is a 401 naming both schemes;
/// the file is re-read when it changes; tokens never reach the log.
#[test]
fn bearer_tokens_from_a_file_that_is_re_read() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let tokens = w.write("tokens", b"# CI\n\n  tok-first-0001  \n");
    let pw = htpasswd(&w, "bob", "pw");
    let s = serve(
        &w,
        &[
            REPO,
            "--token-file",
            &tokens.to_string_lossy(),
            "--htpasswd",
            &pw,
        ],
    );
    s.ready();
    let bearer = |t: &str| format!("Bearer {t}");
    let status = |auth: Option<&str>| {
        let hs: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        get(&s.addr, "/index.yaml", &hs).status
    };
    assert_eq!(status(Some(&bearer("tok-first-0001"))), 200);
    assert_eq!(status(Some(&basic("bob", "pw"))), 200);
    assert_eq!(
        get(
            &s.addr,
            "/charts/app-1.0.0.tgz",
            &[("Authorization", &bearer("tok-first-0001"))]
        )
        .status,
        200
    );
    for wrong in [
        None,
        Some(bearer("tok-first-000")),
        Some(bearer("tok-first-00011")),
        Some(bearer("# CI")),
        Some(bearer("")),
        Some(basic("bob", "tok-first-0001")),
        Some("tok-first-0001".to_string()),
    ] {
        let hs: Vec<(&str, &str)> = wrong
            .as_deref()
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        let r = get(&s.addr, "/index.yaml", &hs);
        assert_eq!(r.status, 401, "{wrong:?}");
        let challenges: Vec<&str> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            challenges,
            ["Basic realm=\"helm-ccr\"", "Bearer realm=\"helm-ccr\""],
            "{wrong:?}"
        );
        assert!(!r.text().contains("apiVersion"));
    }
    // Rotated: the new token works at once, the old one no longer does.
    std::fs::write(&tokens, b"tok-second-02\n").unwrap();
    assert_eq!(status(Some(&bearer("tok-second-02"))), 200);
    assert_eq!(status(Some(&bearer("tok-first-0001"))), 401);
    assert_eq!(status(Some(&basic("bob", "pw"))), 200);
    let (code, log) = s.stop("TERM");
    assert_eq!(code, Some(0));
    assert!(log.contains("/index.yaml 401"), "{log}");
    for secret in ["tok-first", "tok-second"] {
        assert!(!log.contains(secret), "{log}");
    }
}

/// `--token-file` alone: bearer tokens only, and an empty file is refused at start-up.
#[test]
fn a_token_file_alone_and_an_empty_one() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    let tokens = w.write("tokens", b"only-token\n");
    let s = serve(&w, &[REPO, "--token-file", &tokens.to_string_lossy()]);
    s.ready();
    assert_eq!(
        get(
            &s.addr,
            "/index.yaml",
            &[("Authorization", "Bearer only-token")]
        )
        .status,
        200
    );
    let r = get(&s.addr, "/index.yaml", &[]);
    assert_eq!(r.status, 401);
    drop(s);
    let empty = w.write("empty", b"# nothing yet\n\n");
    let out = w
        .cmd()
        .args(["serve", REPO, "--listen", "127.0.0.1:0", "--token-file"])
        .arg(&empty)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no token"), "{err}");
}

/// `--sts-credentials-file`: its keys replace the chain's (the environment's keys are not the
/// emulator's here) and are re-read when the file changes: an expired session token fails the
/// first build (503, not ready), the rotated one makes the next refresh succeed; rotated to a
/// wrong one again, refreshes fail and the last index is served with a `Warning`.
#[test]
fn sts_credentials_from_a_file_that_is_re_read() {
    let w = World::with(ccr_emulator::Config::new(vec![
        ccr_emulator::Key::with_token("sts-ak", "sts-secret-key", "session-token-live"),
    ]));
    w.emu.put_raw(
        crate::common::world::INSTANCE,
        crate::common::world::NS,
        "app",
        "1.0.0",
        chart_tgz("app", "1.0.0", ""),
    );
    let file = |token: &str| {
        format!(
            "# rotated by a job\nBCE_ACCESS_KEY_ID=sts-ak\nBCE_SECRET_ACCESS_KEY=\"sts-secret-key\"\nBCE_SECURITY_TOKEN={token}\n"
        )
    };
    let creds = w.write("sts.env", file("session-token-expired").as_bytes());
    let s = serve(
        &w,
        &[
            REPO,
            "--sts-credentials-file",
            &creds.to_string_lossy(),
            "--index-ttl",
            "1s",
        ],
    );
    poll(|| get(&s.addr, "/index.yaml", &[]).status == 503);
    assert_eq!(get(&s.addr, "/readyz", &[]).status, 503);
    std::fs::write(&creds, file("session-token-live")).unwrap();
    poll(|| get(&s.addr, "/index.yaml", &[]).status == 200);
    assert_eq!(get(&s.addr, "/readyz", &[]).status, 200);
    assert!(get(&s.addr, "/index.yaml", &[])
        .text()
        .contains("charts/app-1.0.0.tgz"));
    assert_eq!(get(&s.addr, "/charts/app-1.0.0.tgz", &[]).status, 200);
    std::fs::write(&creds, file("session-token-revoked")).unwrap();
    poll(|| get(&s.addr, "/index.yaml", &[]).header("warning").is_some());
    let (code, log) = s.stop("TERM");
    assert_eq!(code, Some(0));
    assert!(log.contains("upstream keys re-read"), "{log}");
    for secret in ["sts-secret-key", "session-token"] {
        assert!(!log.contains(secret), "{log}");
    }
}

/// An STS credentials file without the keys is a start-up error naming the file and the
/// format, never a value of it.
#[test]
fn an_sts_credentials_file_without_keys_is_refused() {
    let w = World::new();
    let creds = w.write(
        "sts.env",
        b"BCE_ACCESS_KEY_ID=ak-visible\nBCE_SECURITY_TOKEN=tok-hidden\n",
    );
    let out = w
        .cmd()
        .args([
            "serve",
            REPO,
            "--listen",
            "127.0.0.1:0",
            "--sts-credentials-file",
        ])
        .arg(&creds)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sts.env") && err.contains("BCE_SECRET_ACCESS_KEY="),
        "{err}"
    );
    assert!(
        !err.contains("tok-hidden") && !err.contains("ak-visible"),
        "{err}"
    );
}

/// The chart passes the client token and STS files when their Secrets are set, mounting each
/// Secret whole (no subPath) so that its rotation reaches the file.
#[test]
fn the_deploy_chart_passes_token_and_sts_files() {
    let chart = crate::common::files::repo_root().join("deploy/helm-ccr-serve");
    let home = tempfile::tempdir().unwrap();
    for major in [3, 4] {
        let out = helm_output(
            major,
            home.path(),
            &[
                h("template"),
                h("r"),
                chart.as_os_str(),
                h("--set"),
                h("auth.tokenSecret=tok,upstream.stsSecret=sts,auth.publicProvenance=true"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = stdout(&out);
        for want in [
            "- --token-file=/etc/helm-ccr/tokens/tokens",
            "- --sts-credentials-file=/etc/helm-ccr/sts/credentials",
            "- --public-provenance",
            "secretName: tok",
            "secretName: sts",
            "mountPath: /etc/helm-ccr/sts",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert!(
            !text.contains("--htpasswd") && !text.contains("subPath"),
            "{text}"
        );
    }
}

/// The STS file's keys are ambient credentials: to a `ccr://` URL naming an unknown host (no
/// configured endpoint) serve refuses to start, and nothing connects to that host.
#[test]
fn sts_file_keys_go_only_where_ambient_credentials_may() {
    let w = World::new();
    let creds = w.write(
        "sts.env",
        b"BCE_ACCESS_KEY_ID=sts-ak\nBCE_SECRET_ACCESS_KEY=sts-sk-hidden\nBCE_SECURITY_TOKEN=tok-hidden\n",
    );
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    host.set_nonblocking(true).unwrap();
    let addr = host.local_addr().unwrap();
    let out = w
        .std_cmd()
        .env_remove("HELM_CCR_ENDPOINT")
        .env_remove("BCE_ACCESS_KEY_ID")
        .env_remove("BCE_SECRET_ACCESS_KEY")
        .args(["serve", &format!("ccr://{addr}/inst/ns")])
        .args(["--listen", "127.0.0.1:0", "--sts-credentials-file"])
        .arg(&creds)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("refusing to send credentials to {addr}"))
            && err.contains("--sts-credentials-file"),
        "{err}"
    );
    assert!(
        !err.contains("sts-sk-hidden") && !err.contains("tok-hidden"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        host.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}
