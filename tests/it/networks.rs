//! Every network Helm works in (issue 18), side by side with Helm 4.1.4: a TLS terminator in
//! front of the emulator answering for `ccr.corp.example` (reachable only through a proxy that
//! resolves that name to loopback), proxies with and without auth and with TLS inspection, and
//! a client-certificate gateway (tests/it/common/net.rs). Helm's own `helm repo add` of an
//! https repository in the same network is the reference: the CLI (`helm ccr ls`) and the
//! `ccr://` getter (`helm repo add … ccr://…`) must work exactly where it works.

use std::ffi::OsString;
use std::process::Output;

use crate::common::net::*;
use crate::common::*;

/// The emulator's namespace, through the corporate name.
const CORP_REPO: &str = "ccr://ccr.corp.example/ccr-test/ns";
const CHARTS_URL: &str = "https://charts.corp.example/";
const CHART: &str = "corpapp";
const PROXY_USER: &str = "corp-user";
const PROXY_PASSWORD: &str = "pw-VERY-secret-4242";

type Env = Vec<(&'static str, OsString)>;

fn env(pairs: &[(&'static str, &dyn AsRef<std::ffi::OsStr>)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (*k, v.as_ref().to_os_string()))
        .collect()
}

/// A world holding one chart, [`CHART`] 1.0.0.
fn world() -> World {
    let w = World::new();
    w.push_chart(CHART, "1.0.0");
    w
}

/// The private endpoint, configured (ambient credentials go only to Baidu's hosts and to a
/// configured endpoint); the `ccr://` URLs name the same host.
const CORP_ENDPOINT: &str = "https://ccr.corp.example";

/// `helm ARGS` (Helm 4 with the plugin) with credentials, the corporate endpoint and `env`.
fn helm4(ph: &PluginHelm, env: &Env, args: &[&str]) -> Output {
    let mut c = ph.cmd();
    c.env("HELM_CCR_ENDPOINT", CORP_ENDPOINT)
        .env("BCE_ACCESS_KEY_ID", AK)
        .env("BCE_SECRET_ACCESS_KEY", SK);
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

/// The `helm-ccr` binary directly, with credentials, the corporate endpoint and `env`.
fn ccr(world: &World, env: &Env, args: &[&str]) -> Output {
    let mut c = world.std_cmd();
    c.env("HELM_CCR_ENDPOINT", CORP_ENDPOINT);
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn ok(out: &Output) -> bool {
    out.status.success()
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// Helm's reference, the CLI and the getter in the same network; `tag` keeps repository
/// names apart. Returns (helm repo add https://…, helm ccr ls ccr://…, helm repo add ccr://…).
fn side_by_side(ph: &PluginHelm, env: &Env, tag: &str) -> [Output; 3] {
    [
        helm4(ph, env, &["repo", "add", &format!("ref-{tag}"), CHARTS_URL]),
        helm4(ph, env, &["ccr", "ls", CORP_REPO]),
        helm4(ph, env, &["repo", "add", &format!("corp-{tag}"), CORP_REPO]),
    ]
}

/// All three work (and the CLI lists the chart).
fn assert_all_work(sides: &[Output; 3], setup: &str) {
    let [helm, cli, getter] = sides;
    assert!(
        ok(helm),
        "Helm's reference must work {setup}: {}",
        show("helm", helm)
    );
    assert!(ok(cli), "{setup}: {}", show("helm ccr ls", cli));
    assert!(
        stdout(cli).contains(CHART),
        "{setup}: {}",
        show("helm ccr ls", cli)
    );
    assert!(
        ok(getter),
        "{setup}: {}",
        show("helm repo add ccr://", getter)
    );
}

/// All three fail: Helm with Go's unknown-authority error, the CLI and the getter with the
/// untrusted-certificate message (the name, and the ways to trust it).
fn assert_all_untrusted(sides: &[Output; 3], setup: &str) {
    let [helm, cli, getter] = sides;
    assert!(
        !ok(helm),
        "Helm's reference must fail {setup}: {}",
        show("helm", helm)
    );
    assert!(
        stderr(helm).contains("x509"),
        "{setup}: {}",
        show("helm", helm)
    );
    for (what, out) in [("helm ccr ls", cli), ("helm repo add ccr://", getter)] {
        assert!(!ok(out), "{setup}: {}", show(what, out));
        assert_untrusted(out, &format!("{setup}, {what}"));
    }
}

fn assert_untrusted(out: &Output, what: &str) {
    let err = stderr(out);
    for needle in [CORP_HOST, "--ca-file", "SSL_CERT_FILE"] {
        assert!(
            err.contains(needle),
            "{what}: the untrusted-certificate message should name {needle:?}: {err}"
        );
    }
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// CONNECTs to the registry's name the proxy saw.
fn connects(proxy: &Proxy) -> usize {
    proxy
        .seen()
        .iter()
        .filter(|s| s.starts_with(&format!("CONNECT {CORP_HOST}")))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Trust: SSL_CERT_FILE, SSL_CERT_DIR, a TLS-inspecting proxy.

#[test]
fn ssl_cert_file_is_trusted_where_helm_trusts_it() {
    let world = world();
    let corp = Corp::new(&world);
    let ph = PluginHelm::install(4, &world);

    let proxy_only = env(&[("HTTPS_PROXY", &corp.proxy.url())]);
    let sides = side_by_side(&ph, &proxy_only, "untrusted");
    assert_all_untrusted(&sides, "without the corporate CA");

    // Not retried: the failed request, and at most the one handshake that reads the issuer.
    corp.proxy.reset();
    let out = ccr(&world, &proxy_only, &["ls", CORP_REPO]);
    assert!(!ok(&out));
    assert_untrusted(&out, "helm-ccr ls");
    assert!(connects(&corp.proxy) <= 2, "{:?}", corp.proxy.seen());

    let with_file = env(&[
        ("HTTPS_PROXY", &corp.proxy.url()),
        ("SSL_CERT_FILE", &corp.ca_file()),
    ]);
    assert_all_work(&side_by_side(&ph, &with_file, "file"), "with SSL_CERT_FILE");
    assert!(connects(&corp.proxy) > 1, "{:?}", corp.proxy.seen());
}

#[test]
fn ssl_cert_dir_is_trusted_where_helm_trusts_it() {
    let world = world();
    let corp = Corp::new(&world);
    let ph = PluginHelm::install(4, &world);
    let dir = hashed_dir(&corp.dir.path().join("certs"), &[&corp.ca]);
    let with_dir = env(&[("HTTPS_PROXY", &corp.proxy.url()), ("SSL_CERT_DIR", &dir)]);
    assert_all_work(&side_by_side(&ph, &with_dir, "dir"), "with SSL_CERT_DIR");

    // An empty directory trusts nothing more.
    let empty = corp.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let with_empty = env(&[("HTTPS_PROXY", &corp.proxy.url()), ("SSL_CERT_DIR", &empty)]);
    assert_all_untrusted(
        &side_by_side(&ph, &with_empty, "empty"),
        "with an empty SSL_CERT_DIR",
    );
}

#[test]
fn a_tls_inspecting_proxy_works_where_helm_works() {
    let world = world();
    let corp = Corp::new(&world);
    let ph = PluginHelm::install(4, &world);
    let (inspecting, inspect_ca) = corp.inspecting_proxy();

    let with_its_ca = env(&[
        ("HTTPS_PROXY", &inspecting.url()),
        ("SSL_CERT_FILE", &inspect_ca),
    ]);
    assert_all_work(
        &side_by_side(&ph, &with_its_ca, "inspected"),
        "through TLS inspection with its CA in SSL_CERT_FILE",
    );

    // The corporate CA alone does not vouch for the inspecting proxy's certificates (the two
    // CAs have the same name and different keys: Go still says "unknown authority").
    let corp_ca_only = env(&[
        ("HTTPS_PROXY", &inspecting.url()),
        ("SSL_CERT_FILE", &corp.ca_file()),
    ]);
    assert_all_untrusted(
        &side_by_side(&ph, &corp_ca_only, "uninspected"),
        "through TLS inspection without its CA",
    );
    assert!(connects(&inspecting) > 0, "{:?}", inspecting.seen());
    assert_eq!(corp.proxy.count(), 0, "{:?}", corp.proxy.seen());
}

#[test]
fn a_socks5_proxy_works_where_helm_works() {
    let world = world();
    let corp = Corp::new(&world);
    let ph = PluginHelm::install(4, &world);
    let socks = Socks::start(
        ProxyConfig::default()
            .name(CORP_HOST, corp.api.addr)
            .name(CHARTS_HOST, corp.charts.addr),
    );
    let e = env(&[
        ("HTTPS_PROXY", &socks.url("socks5")),
        ("SSL_CERT_FILE", &corp.ca_file()),
    ]);
    assert_all_work(&side_by_side(&ph, &e, "socks5"), "through a SOCKS5 proxy");
    // socks5h: the proxy resolves the name (the CLI alone).
    let e = env(&[
        ("HTTPS_PROXY", &socks.url("socks5h")),
        ("SSL_CERT_FILE", &corp.ca_file()),
    ]);
    let out = ccr(&world, &e, &["ls", CORP_REPO]);
    assert!(ok(&out), "{}", show("ls through socks5h://", &out));
    assert!(
        socks
            .seen()
            .iter()
            .any(|s| s.starts_with(&format!("SOCKS {CORP_HOST}:443 ok"))),
        "{:?}",
        socks.seen()
    );
    assert_eq!(corp.proxy.count(), 0, "{:?}", corp.proxy.seen());
}

// ---------------------------------------------------------------------------------------------
// Proxy selection in the real binary.

#[test]
fn a_loopback_endpoint_is_never_proxied() {
    let world = world();
    let dead = "http://127.0.0.1:1";
    let out = world
        .cmd()
        .env("HTTPS_PROXY", dead)
        .env("HTTP_PROXY", dead)
        .env("https_proxy", dead)
        .env("http_proxy", dead)
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(ok(&out), "{}", show("ls with a dead proxy", &out));
    assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));

    // The same on IPv6 loopback, http://[::1]:PORT.
    let mut config = ccr_emulator::Config::new(vec![ccr_emulator::Key::new(AK, SK)]);
    config.host = "::1".into();
    let world6 = World::with(config);
    world6.push_chart(CHART, "1.0.0");
    assert!(
        world6.emu.url().starts_with("http://[::1]:"),
        "{}",
        world6.emu.url()
    );
    let out = world6
        .cmd()
        .env("HTTPS_PROXY", dead)
        .env("HTTP_PROXY", dead)
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(ok(&out), "{}", show("ls on [::1] with a dead proxy", &out));
    assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));
}

/// `0.0.0.0` is not loopback for Go's proxy selection (so a proxy applies to it) but Linux
/// connects it to the local host: a direct connection stays on this machine, and the proxy
/// resolves it to the emulator's loopback address.
#[test]
fn proxy_variables_are_read_as_go_reads_them() {
    let world = world();
    let emu: std::net::SocketAddr = world
        .emu
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    // Helm's reference: a plain Helm repository on loopback, added as http://0.0.0.0:PORT/.
    let repo = Scripted::start(Box::new(|_, url, _| {
        if url.ends_with("index.yaml") {
            Answer::Bytes(CHARTS_INDEX.as_bytes().to_vec())
        } else {
            Answer::Json(404, "{}".into(), Vec::new())
        }
    }));
    let repo_port = repo.url.rsplit(':').next().unwrap().to_string();
    let proxy = Proxy::start(
        ProxyConfig::default()
            .name(&format!("0.0.0.0:{}", emu.port()), emu)
            .name(
                &format!("0.0.0.0:{repo_port}"),
                repo.url.trim_start_matches("http://").parse().unwrap(),
            ),
    );
    let endpoint = format!("http://0.0.0.0:{}", emu.port());
    let home = tempfile::tempdir().unwrap();
    // Side by side with Go: `{proxy}` is the counting proxy, `{port}` the port of the server
    // each run talks to (the repository for Helm, the emulator for helm-ccr).
    let both = [("HTTP_PROXY", "{proxy}"), ("HTTPS_PROXY", "{proxy}")];
    let with = |extra: &[(&'static str, &'static str)]| [&both[..], extra].concat();
    let cases: Vec<(Vec<(&str, &str)>, bool)> = vec![
        (with(&[("NO_PROXY", "10.0.0.0/8")]), true),
        (with(&[("NO_PROXY", "0.0.0.0/8")]), false),
        (with(&[("NO_PROXY", "192.168.0.0/16, 0.0.0.0/32")]), false),
        (with(&[("NO_PROXY", "0.0.0.0:{port}")]), false),
        (with(&[("NO_PROXY", "0.0.0.0:1")]), true),
        // An empty NO_PROXY does not hide no_proxy.
        (with(&[("NO_PROXY", ""), ("no_proxy", "0.0.0.0/8")]), false),
        // Lower case alone; ALL_PROXY ignored; HTTPS_PROXY is not for http://.
        (vec![("http_proxy", "{proxy}")], true),
        (with(&[("ALL_PROXY", "http://127.0.0.1:1")]), true),
        (vec![("ALL_PROXY", "{proxy}")], false),
        (vec![("HTTPS_PROXY", "{proxy}")], false),
    ];
    let proxy_url = proxy.url();
    let fill = |vars: &[(&'static str, &str)], port: &str| -> Env {
        vars.iter()
            .map(|(k, v)| {
                let v = v.replace("{proxy}", &proxy_url).replace("{port}", port);
                (*k, OsString::from(v))
            })
            .collect()
    };
    for (vars, proxied) in cases {
        proxy.reset();
        let mut reference = std::process::Command::new(helm(4));
        reference
            .args(["repo", "add", "--force-update", "ref"])
            .arg(format!("http://0.0.0.0:{repo_port}/"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("HELM_CONFIG_HOME", home.path().join("config"))
            .env("HELM_DATA_HOME", home.path().join("data"))
            .env("HELM_CACHE_HOME", home.path().join("cache"));
        for (k, v) in fill(&vars, &repo_port) {
            reference.env(k, v);
        }
        let reference = reference.output().unwrap();
        assert!(ok(&reference), "{}", show("helm repo add", &reference));
        assert_eq!(
            proxy.count() > 0,
            proxied,
            "Helm's reference, {vars:?}: the proxy saw {:?}",
            proxy.seen()
        );

        proxy.reset();
        let mut c = world.std_cmd_at(&endpoint);
        for (k, v) in fill(&vars, &emu.port().to_string()) {
            c.env(k, v);
        }
        let out = c.args(["ls", REPO]).output().unwrap();
        assert!(ok(&out), "{}", show(&format!("{vars:?}"), &out));
        assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));
        assert_eq!(
            proxy.count() > 0,
            proxied,
            "{vars:?}: the proxy saw {:?}",
            proxy.seen()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Client certificates.

#[test]
fn a_client_certificate_gateway_works_with_the_certificate() {
    let world = world();
    let corp = Corp::gateway(&world);
    let ph = PluginHelm::install(4, &world);
    let (cert, key) = corp.client_files();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let e = env(&[
        ("HTTPS_PROXY", &corp.proxy.url()),
        ("SSL_CERT_FILE", &corp.ca_file()),
    ]);

    // Helm's reference, with and without the certificate.
    let with = ["--cert-file", cert, "--key-file", key];
    let out = helm4(
        &ph,
        &e,
        &[&["repo", "add", "ref", CHARTS_URL][..], &with].concat(),
    );
    assert!(
        ok(&out),
        "{}",
        show("helm repo add https:// with a certificate", &out)
    );
    let out = helm4(&ph, &e, &["repo", "add", "ref-nocert", CHARTS_URL]);
    assert!(
        !ok(&out),
        "{}",
        show("helm repo add https:// without", &out)
    );

    // The CLI.
    let out = helm4(&ph, &e, &[&["ccr"][..], &with, &["ls", CORP_REPO]].concat());
    assert!(
        ok(&out),
        "{}",
        show("helm ccr --cert-file --key-file ls", &out)
    );
    assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));
    let out = ccr(&world, &e, &[&with[..], &["ls", CORP_REPO]].concat());
    assert!(
        ok(&out),
        "{}",
        show("helm-ccr --cert-file --key-file ls", &out)
    );
    let out = ccr(&world, &e, &["ls", CORP_REPO]);
    assert!(
        !ok(&out),
        "{}",
        show("helm-ccr ls without a certificate", &out)
    );
    assert_asked_for_certificate(&out, "helm-ccr ls without a certificate");
    // Refused once, not retried.
    let failures = corp.api.failures_at_least(1);
    assert_eq!(failures.len(), 1, "{failures:?}");

    // The getter (without the certificate before any entry for that URL has one), and the
    // entry's certificate reused by the CLI.
    let out = helm4(&ph, &e, &["repo", "add", "corp-nocert", CORP_REPO]);
    assert!(!ok(&out), "{}", show("helm repo add ccr:// without", &out));
    assert_asked_for_certificate(&out, "helm repo add ccr:// without a certificate");
    let out = helm4(
        &ph,
        &e,
        &[&["repo", "add", "corp", CORP_REPO][..], &with].concat(),
    );
    assert!(
        ok(&out),
        "{}",
        show("helm repo add ccr:// --cert-file --key-file", &out)
    );
    let out = helm4(&ph, &e, &["ccr", "ls", "corp"]);
    assert!(
        ok(&out),
        "{}",
        show("helm ccr ls ENTRY (its certFile/keyFile)", &out)
    );
    assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));
}

fn assert_asked_for_certificate(out: &Output, what: &str) {
    let err = stderr(out).to_lowercase();
    assert!(
        err.contains("client certificate"),
        "{what}: the message should say the server asked for a client certificate: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

// ---------------------------------------------------------------------------------------------
// A repository entry's TLS settings.

#[test]
fn a_repository_entrys_ca_file_and_insecure_flag_are_reused() {
    let world = world();
    let corp = Corp::new(&world);
    let ca = corp.ca_file();
    let ca = ca.to_str().unwrap();
    let e = env(&[("HTTPS_PROXY", &corp.proxy.url())]);

    // Each flag in its own Helm, so that no other entry has the same URL.
    let ph = PluginHelm::install(4, &world);
    let out = helm4(
        &ph,
        &e,
        &["repo", "add", "ref", CHARTS_URL, "--ca-file", ca],
    );
    assert!(
        ok(&out),
        "{}",
        show("helm repo add https:// --ca-file", &out)
    );
    // The URL alone, before any entry names it, has no CA.
    let out = helm4(&ph, &e, &["ccr", "ls", CORP_REPO]);
    assert!(!ok(&out), "{}", show("helm ccr ls URL", &out));
    let out = helm4(
        &ph,
        &e,
        &["repo", "add", "named", CORP_REPO, "--ca-file", ca],
    );
    assert!(ok(&out), "{}", show("helm repo add ccr:// --ca-file", &out));
    let out = helm4(&ph, &e, &["ccr", "ls", "named"]);
    assert!(ok(&out), "{}", show("helm ccr ls NAME (its caFile)", &out));
    assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));

    let ph = PluginHelm::install(4, &world);
    let insecure = "--insecure-skip-tls-verify";
    let out = helm4(&ph, &e, &["repo", "add", "ref", CHARTS_URL, insecure]);
    assert!(
        ok(&out),
        "{}",
        show("helm repo add https:// --insecure", &out)
    );
    let out = helm4(&ph, &e, &["repo", "add", "insecure", CORP_REPO, insecure]);
    assert!(
        ok(&out),
        "{}",
        show("helm repo add ccr:// --insecure", &out)
    );
    let out = helm4(&ph, &e, &["ccr", "ls", "insecure"]);
    assert!(ok(&out), "{}", show("helm ccr ls NAME (insecure)", &out));
    assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));
}

// ---------------------------------------------------------------------------------------------
// Proxy credentials never show.

#[test]
fn no_proxy_password_appears_in_any_output() {
    let world = world();
    let corp = Corp::with_proxy(
        &world,
        ProxyConfig::default().auth(PROXY_USER, PROXY_PASSWORD),
    );
    let ph = PluginHelm::install(4, &world);
    let good = corp.proxy.url_with(PROXY_USER, PROXY_PASSWORD);
    let wrong = corp.proxy.url_with(PROXY_USER, "wrong-VERY-secret-1");
    let none = corp.proxy.url();

    let mut n = 0;
    for (proxy, works) in [(&good, true), (&wrong, false), (&none, false)] {
        for debug in [false, true] {
            n += 1;
            let mut e = env(&[("HTTPS_PROXY", proxy), ("SSL_CERT_FILE", &corp.ca_file())]);
            let mut runs = Vec::new();
            if debug {
                e.push(("HELM_DEBUG", "true".into()));
                runs.push(helm4(&ph, &e, &["--debug", "ccr", "ls", CORP_REPO]));
                runs.push(helm4(&ph, &e, &["--debug", "ccr", "env"]));
                runs.push(helm4(
                    &ph,
                    &e,
                    &["--debug", "repo", "add", &format!("c{n}"), CORP_REPO],
                ));
            } else {
                runs.push(helm4(&ph, &e, &["ccr", "ls", CORP_REPO]));
                runs.push(helm4(&ph, &e, &["ccr", "env"]));
                runs.push(helm4(
                    &ph,
                    &e,
                    &["repo", "add", &format!("c{n}"), CORP_REPO],
                ));
            }
            corp.proxy.reset();
            runs.push(ccr(&world, &e, &["ls", CORP_REPO]));
            if !works {
                // A 407 is not retried.
                assert_eq!(corp.proxy.count(), 1, "{:?}", corp.proxy.seen());
            }
            runs.push(ccr(&world, &e, &["env"]));
            // `helm ccr env` shows the proxy in use (without its password).
            assert!(
                stdout(runs.last().unwrap()).contains(&corp.proxy.addr.to_string()),
                "{}",
                show("env", runs.last().unwrap())
            );
            let reference = helm4(&ph, &e, &["repo", "add", &format!("r{n}"), CHARTS_URL]);
            let setup = format!("proxy {proxy}, debug {debug}");
            assert_eq!(
                ok(&reference),
                works,
                "{setup}: {}",
                show("helm", &reference)
            );
            for (i, out) in runs.iter().enumerate() {
                assert_no_secret(out, &format!("{setup}, run {i}"));
            }
            let [ls, _, getter, direct, _] = &runs[..] else {
                unreachable!()
            };
            for (what, out) in [("ls", ls), ("getter", getter), ("direct ls", direct)] {
                assert_eq!(ok(out), works, "{setup}: {}", show(what, out));
                if !works {
                    // "the proxy … asks for authentication (set user:password in HTTPS_PROXY)",
                    // "the proxy … refused the user:password in HTTPS_PROXY (407)".
                    let err = stderr(out);
                    assert!(
                        err.contains("the proxy http://") && err.contains("in HTTPS_PROXY"),
                        "{setup}: {}",
                        show(what, out)
                    );
                }
            }
        }
    }
    assert!(
        corp.proxy.seen().iter().any(|s| s.ends_with(" 407")),
        "{:?}",
        corp.proxy.seen()
    );
}

// ---------------------------------------------------------------------------------------------
// Network failures: words for the user, at once.

#[test]
fn network_failures_say_what_to_do_at_once() {
    let world = world();

    // https:// to a plain-HTTP server: once, and it says so.
    let plain = PlainHttp::start();
    let out = ccr(
        &world,
        &Vec::new(),
        &["--endpoint", &format!("https://{}", plain.addr), "ls", REPO],
    );
    assert!(!ok(&out), "{}", show("https:// to plain http", &out));
    assert!(
        error_line(&out).contains("does not speak TLS"),
        "{}",
        show("https:// to plain http", &out)
    );
    assert_eq!(plain.connections(), 1, "not retried");

    // A dead proxy: named, with the variable it came from.
    let dead = env(&[("HTTPS_PROXY", &"http://127.0.0.1:1")]);
    let out = ccr(&world, &dead, &["ls", CORP_REPO]);
    assert!(!ok(&out), "{}", show("dead proxy", &out));
    let line = error_line(&out);
    assert!(
        line.contains("127.0.0.1:1") && line.contains("HTTPS_PROXY"),
        "{}",
        show("dead proxy", &out)
    );

    // An unparseable proxy URL: an error naming the variable, not silence.
    let bad = env(&[("HTTPS_PROXY", &"http://[not-a-proxy")]);
    let out = ccr(&world, &bad, &["ls", CORP_REPO]);
    assert!(!ok(&out), "{}", show("unparseable proxy", &out));
    assert!(
        error_line(&out).contains("HTTPS_PROXY"),
        "{}",
        show("unparseable proxy", &out)
    );

    // Endpoint schemes in any case.
    let out = ccr(
        &world,
        &Vec::new(),
        &[
            "--endpoint",
            &world.emu.url().replace("http://", "HTTP://"),
            "ls",
            REPO,
        ],
    );
    assert!(ok(&out), "{}", show("HTTP:// endpoint", &out));
}

// ---------------------------------------------------------------------------------------------
// What already worked before issue 18 keeps working: --ca-file, the insecure flag, proxy auth.

#[test]
fn ca_file_insecure_flag_and_proxy_auth_keep_working() {
    let world = world();
    let corp = Corp::with_proxy(
        &world,
        ProxyConfig::default().auth(PROXY_USER, PROXY_PASSWORD),
    );
    let e = env(&[(
        "HTTPS_PROXY",
        &corp.proxy.url_with(PROXY_USER, PROXY_PASSWORD),
    )]);
    let ca = corp.ca_file();
    for args in [
        &["--ca-file", ca.to_str().unwrap(), "ls", CORP_REPO][..],
        &["--insecure-skip-tls-verify", "ls", CORP_REPO],
    ] {
        let out = ccr(&world, &e, args);
        assert!(ok(&out), "{}", show(&format!("{args:?}"), &out));
        assert!(stdout(&out).contains(CHART), "{}", show("ls", &out));
        assert_no_secret(&out, "ls through an authenticating proxy");
    }
    assert!(connects(&corp.proxy) >= 2, "{:?}", corp.proxy.seen());
}
