//! Where credentials may go (issue 17, defect 3): a `ccr://` URL naming an unknown host, as a
//! third-party chart's `dependencies` may, gets no signed request and no security token from
//! ambient credentials (environment, BCE CLI profile, bcecmd file); an endpoint the user
//! configured and a repository entry's own URL still get theirs. The host is a TLS capture
//! server trusted through the getter's CA argument, so that a request, had one been made,
//! would have been read in full.

use std::net::SocketAddr;
use std::path::Path;

use crate::common::*;

const TOKEN: &str = "sts-token-must-not-leak";
const ENTRY_AK: &str = "entry-ak-0001";
const ENTRY_SK: &str = "entry-sk-secret-0001";

fn repo_at(addr: SocketAddr) -> String {
    format!("ccr://{addr}/inst/ns")
}

/// The getter run as Helm runs it: `helm-ccr download "" "" CA URL/index.yaml`, with the
/// world's hermetic environment, no configured endpoint and no credentials unless `env` adds
/// some.
fn getter(w: &World, ca: &Path, url: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = w.std_bare();
    c.env_remove("HELM_CCR_ENDPOINT")
        .args(["download", "", ""])
        .arg(ca)
        .arg(format!("{url}/index.yaml"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ambient_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("BCE_ACCESS_KEY_ID", AK),
        ("BCE_SECRET_ACCESS_KEY", SK),
        ("BCE_SECURITY_TOKEN", TOKEN),
    ]
}

fn assert_refused(out: &std::process::Output, addr: SocketAddr) {
    assert!(!out.status.success(), "{}", stdout(out));
    let err = stderr(out);
    let url = repo_at(addr);
    assert!(
        err.contains(&format!(
            "refusing to send credentials to {addr} (named in {url})"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("HELM_CCR_ENDPOINT=https://{addr}")),
        "{err}"
    );
    assert!(err.contains("helm repo add NAME"), "{err}");
    assert!(!err.contains(SK) && !err.contains(TOKEN), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("Error:")).count(),
        1,
        "{err}"
    );
}

/// Nothing at all reached the server: no connection, so no header and no token.
fn assert_untouched(server: &CaptureServer) {
    assert_eq!(server.connections(), 0, "{:?}", server.requests());
    assert!(server.requests().is_empty());
}

/// What reached the server carried these credentials: every request signed with `ak`, with the
/// security token when `token`.
fn assert_signed(server: &CaptureServer, ak: &str, token: Option<&str>) {
    let requests = server.requests();
    assert!(!requests.is_empty(), "no request reached the server");
    for r in &requests {
        let auth = r.header("authorization").unwrap_or("");
        assert!(
            auth.starts_with(&format!("bce-auth-v1/{ak}/")),
            "{} {}: {auth:?}",
            r.method,
            r.path
        );
        assert_eq!(r.header("x-bce-security-token"), token, "{r:?}");
    }
}

#[test]
fn ambient_credentials_never_reach_an_unknown_host_named_in_the_url() {
    let w = World::new();
    let ca = TestCa::new();
    let ca_file = ca.write_to(w.work.path());
    let (addr, server) = CaptureServer::start(&ca);
    let url = repo_at(addr);

    // The environment's key pair and STS token.
    let out = getter(&w, &ca_file, &url, &ambient_env());
    assert_refused(&out, addr);

    // The BCE CLI profile (its token too), then bcecmd's credentials file.
    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    std::fs::write(
        w.home.path().join(".bce/config.json"),
        format!(
            r#"{{"current":"p","profiles":[{{"name":"p","mode":"StsToken","access_key_id":"{AK}","secret_access_key":"{SK}","security_token":"{TOKEN}","region":"bj","endpoint":"ccr.gz.baidubce.com"}}]}}"#
        ),
    )
    .unwrap();
    assert_refused(&getter(&w, &ca_file, &url, &[]), addr);
    std::fs::remove_file(w.home.path().join(".bce/config.json")).unwrap();
    std::fs::create_dir_all(w.home.path().join(".go-bcecli")).unwrap();
    std::fs::write(
        w.home.path().join(".go-bcecli/credentials"),
        format!("[Defaults]\nAk = {AK}\nSk = {SK}\nSts = {TOKEN}\n"),
    )
    .unwrap();
    assert_refused(&getter(&w, &ca_file, &url, &[]), addr);

    // `helm ccr env` says why.
    let out = w
        .bare()
        .env_remove("HELM_CCR_ENDPOINT")
        .envs(ambient_env())
        .args(["env", &url])
        .output()
        .unwrap();
    assert_refused(&out, addr);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "sending:     nothing: credentials may not go to https://{addr}"
        )),
        "{text}"
    );
    assert_untouched(&server);
}

#[test]
fn a_configured_endpoint_or_the_entrys_own_url_gets_credentials() {
    let w = World::new();
    let ca = TestCa::new();
    let ca_file = ca.write_to(w.work.path());
    let (addr, server) = CaptureServer::start(&ca);
    let url = repo_at(addr);

    // HELM_CCR_ENDPOINT naming this very host: trusted, token included.
    let mut env = ambient_env();
    let endpoint = format!("https://{addr}");
    env.push(("HELM_CCR_ENDPOINT", &endpoint));
    let out = getter(&w, &ca_file, &url, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("apiVersion: v1"), "{}", stdout(&out));
    assert_signed(&server, AK, Some(TOKEN));
    let shown = w
        .bare()
        .envs(env.iter().copied())
        .args(["env", &url])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(
        stdout(&shown).contains(&format!(
            "sending:     credentials to https://{addr}: allowed, the endpoint HELM_CCR_ENDPOINT names"
        )),
        "{}",
        stdout(&shown)
    );

    // A repository entry with its own credentials for this URL: they go there (found by URL,
    // and as Helm hands them over), the ambient token does not.
    let (addr2, server2) = CaptureServer::start(&ca);
    let url2 = repo_at(addr2);
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!(
            "apiVersion: v1\nrepositories:\n- name: mine\n  url: {url2}\n  username: {ENTRY_AK}\n  password: {ENTRY_SK}\n"
        ),
    )
    .unwrap();
    let out = getter(&w, &ca_file, &url2, &ambient_env());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_signed(&server2, ENTRY_AK, None);
    let (addr3, server3) = CaptureServer::start(&ca);
    let out = getter(
        &w,
        &ca_file,
        &repo_at(addr3),
        &[
            ("HELM_PLUGIN_USERNAME", ENTRY_AK),
            ("HELM_PLUGIN_PASSWORD", ENTRY_SK),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_signed(&server3, ENTRY_AK, None);
    let shown = w
        .bare()
        .env_remove("HELM_CCR_ENDPOINT")
        .args(["env", "mine"])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(
        stdout(&shown).contains(&format!(
            "sending:     credentials to https://{addr2}: allowed, the API host in the URL"
        )),
        "{}",
        stdout(&shown)
    );
}

/// A third-party chart's dependency on `ccr://127.0.0.1:PORT/inst/ns`, never added:
/// `helm dependency update` (Helm 3.17.3 runs the getter for it) sends nothing there; the same
/// repository added with `helm repo add --username` gets its own credentials.
#[test]
fn helm3_dependency_update_of_an_unknown_ccr_host_sends_no_credentials() {
    let w = World::new();
    let h = PluginHelm::install(3, &w);
    let ca = TestCa::new();
    let ca_file = ca.write_to(h.dir.path());
    let (addr, server) = CaptureServer::start(&ca);
    let url = repo_at(addr);
    let chart = h.dir.path().join("app");
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  repository: {url}\n"
        ),
    )
    .unwrap();
    let out = h
        .cmd()
        .env_remove("HELM_CCR_ENDPOINT")
        .envs(ambient_env())
        .args(["dependency", "update"])
        .arg(&chart)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", stdout(&out));
    assert_untouched(&server);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("refusing to send credentials to {addr}")),
        "{err}"
    );
    assert!(!err.contains(SK) && !err.contains(TOKEN), "{err}");

    // Added with its own credentials (and the CA): the entry's key signs, no ambient token.
    let added = h
        .cmd()
        .env_remove("HELM_CCR_ENDPOINT")
        .envs(ambient_env())
        .args(["repo", "add", "third", &url, "--username", ENTRY_AK])
        .args(["--password", ENTRY_SK, "--ca-file"])
        .arg(&ca_file)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr(&added));
    assert_signed(&server, ENTRY_AK, None);
    // The same dependency update now reaches the repository with the entry's key (the
    // capture server lists no chart, so Helm still finds nothing to download).
    let before = server.requests().len();
    let out = h
        .cmd()
        .env_remove("HELM_CCR_ENDPOINT")
        .envs(ambient_env())
        .args(["dependency", "update"])
        .arg(&chart)
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("refusing"), "{}", stderr(&out));
    assert!(server.requests().len() > before, "{}", stderr(&out));
    assert_signed(&server, ENTRY_AK, None);
}
