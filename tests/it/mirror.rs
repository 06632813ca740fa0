//! `helm ccr mirror SOURCE DEST`: a static Helm chart repository (index.yaml and packages,
//! behind basic auth) served by a test server into the emulator, every good package with its
//! digest, the bad one refused by name, nothing uploaded the second time; a directory
//! exported from one namespace restored into an empty one; bad input gets one error and
//! writes nothing.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};

use crate::common::*;

const USER: &str = "mirror-user";
const PASSWORD: &str = "mirror-pass";

/// A static HTTP chart repository: path → bytes, basic auth when `auth`.
struct StaticRepo {
    url: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    server: Arc<tiny_http::Server>,
}

impl Drop for StaticRepo {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

impl StaticRepo {
    fn start(auth: bool) -> StaticRepo {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let expected = format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes()));
        let (s2, f2) = (server.clone(), files.clone());
        std::thread::spawn(move || {
            for req in s2.incoming_requests() {
                let authorized = !auth
                    || req
                        .headers()
                        .iter()
                        .any(|h| h.field.equiv("Authorization") && h.value.as_str() == expected);
                if !authorized {
                    let _ = req.respond(
                        tiny_http::Response::from_string("unauthorized")
                            .with_status_code(401)
                            .with_header(
                                tiny_http::Header::from_bytes("WWW-Authenticate", "Basic").unwrap(),
                            ),
                    );
                    continue;
                }
                let path = req.url().split('?').next().unwrap_or("").to_string();
                let body = f2.lock().unwrap().get(&path).cloned();
                let _ = match body {
                    Some(b) => req.respond(tiny_http::Response::from_data(b)),
                    None => req.respond(
                        tiny_http::Response::from_string("not found").with_status_code(404),
                    ),
                };
            }
        });
        StaticRepo {
            url: format!("http://127.0.0.1:{port}/charts"),
            files,
            server,
        }
    }

    fn put(&self, path: &str, bytes: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_string(), bytes);
    }
}

fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

const PROV: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: x\n...\nfiles:\n  x.tgz: sha256:00\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n";

/// One package of the repository: name, version, its bytes and the digest index.yaml gives.
struct Pkg {
    name: String,
    version: String,
    bytes: Vec<u8>,
    indexed: String,
    prov: bool,
}

/// 20 charts × 3 versions, real packages; `c07 1.0.1` is served with bytes that do not match
/// its index digest; every fifth package has a `.prov`; URLs relative, in a subfolder and
/// absolute. Returns the packages (the bad one last).
fn fill(repo: &StaticRepo) -> Vec<Pkg> {
    let mut pkgs = Vec::new();
    let mut index = String::from("apiVersion: v1\nentries:\n");
    for c in 0..20 {
        let name = format!("c{c:02}");
        index.push_str(&format!("  {name}:\n"));
        for (k, version) in ["1.0.0", "1.0.1", "2.0.0-rc.1"].iter().enumerate() {
            let bytes = chart_tgz(&name, version, &format!("{c}-{k}"));
            let indexed = sha256(&bytes);
            let file = format!("{name}-{version}.tgz");
            let url = match (c + k) % 3 {
                0 => file.clone(),
                1 => format!("pkgs/{file}"),
                _ => format!("{}/{file}", repo.url),
            };
            let served_at = match (c + k) % 3 {
                1 => format!("/charts/pkgs/{file}"),
                _ => format!("/charts/{file}"),
            };
            let bad = name == "c07" && *version == "1.0.1";
            let served = if bad {
                chart_tgz(&name, version, "tampered")
            } else {
                bytes.clone()
            };
            repo.put(&served_at, served);
            let prov = (c * 3 + k) % 5 == 0;
            if prov {
                repo.put(&format!("{served_at}.prov"), PROV.to_vec());
            }
            index.push_str(&format!(
                "  - apiVersion: v2\n    name: {name}\n    version: {version}\n    digest: {indexed}\n    created: \"2024-01-01T00:00:00Z\"\n    urls:\n    - {url}\n"
            ));
            pkgs.push(Pkg {
                name: name.clone(),
                version: version.to_string(),
                bytes,
                indexed,
                prov,
            });
        }
    }
    index.push_str("generated: \"2024-01-01T00:00:00Z\"\n");
    repo.put("/charts/index.yaml", index.into_bytes());
    pkgs
}

/// `helm-ccr mirror ARGS`, the password on stdin when `password`.
fn mirror(w: &World, args: &[&str], password: Option<&str>) -> Output {
    let mut c = w.std_cmd();
    run_mirror(&mut c, args, password)
}

fn run_mirror(c: &mut std::process::Command, args: &[&str], password: Option<&str>) -> Output {
    c.arg("mirror").args(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(p) = password {
        stdin.write_all(format!("{p}\n").as_bytes()).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn error_lines(o: &Output) -> Vec<String> {
    text(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("Error:"))
        .map(str::to_string)
        .collect()
}

fn uploads(w: &World) -> usize {
    w.count("POST")
}

const AUTH: [&str; 3] = ["--username", USER, "--password-stdin"];

#[test]
fn a_chart_repository_is_mirrored_with_its_digests_the_bad_package_refused_and_twice_is_once() {
    let w = World::new();
    let repo = StaticRepo::start(true);
    let pkgs = fill(&repo);
    let args = [&[repo.url.as_str(), REPO][..], &AUTH[..]].concat();
    let first = mirror(&w, &args, Some(PASSWORD));
    let (out, err) = (text(&first.stdout), text(&first.stderr));
    assert_eq!(first.status.code(), Some(1), "{out}\n{err}");
    // The bad one refused by name; the others all stored with their original digest.
    let errors = error_lines(&first);
    assert!(
        errors
            .iter()
            .any(|l| l.contains("c07 1.0.1") && l.contains("does not match the digest")),
        "{err}"
    );
    assert_eq!(errors.len(), 1, "the package's line, once: {err}");
    assert!(out.contains(", 1 failed"), "the summary counts it: {out}");
    for p in &pkgs {
        let stored = w.stored(&p.name, &p.version);
        if p.name == "c07" && p.version == "1.0.1" {
            assert!(stored.is_none(), "the bad package is not stored");
            continue;
        }
        let stored = stored.unwrap_or_else(|| panic!("{} {} stored", p.name, p.version));
        assert_eq!(sha256(&stored), p.indexed, "{} {}", p.name, p.version);
        assert_eq!(stored, p.bytes);
        let prov = w.emu.prov_bytes(INSTANCE, NS, &p.name, &p.version);
        assert_eq!(prov.is_some(), p.prov, "{} {} .prov", p.name, p.version);
    }
    assert_eq!(uploads(&w), 59);
    assert!(
        out.contains("Mirrored 59 packages") && out.contains("0 unchanged, 1 failed"),
        "{out}"
    );

    // Again: nothing uploaded, every good package unchanged.
    w.emu.clear_requests();
    let second = mirror(&w, &args, Some(PASSWORD));
    let out = text(&second.stdout);
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(uploads(&w), 0, "{out}");
    assert!(out.contains("Mirrored 0 packages"), "{out}");
    assert!(out.contains("59 unchanged, 1 failed"), "{out}");

    // -o json: one record per package; --dry-run with a filter lists and uploads nothing.
    let json = mirror(
        &w,
        &[
            &args[..],
            &["--chart", "c01", "--dry-run", "-o", "json"][..],
        ]
        .concat(),
        Some(PASSWORD),
    );
    assert!(json.status.success(), "{}", text(&json.stderr));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let actions: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["unchanged"; 3]);
    assert_eq!(uploads(&w), 0);
}

#[test]
fn filters_and_dry_run_upload_only_what_they_name() {
    let w = World::new();
    let repo = StaticRepo::start(false);
    fill(&repo);
    let dry = mirror(
        &w,
        &[
            &repo.url,
            REPO,
            "--chart",
            "c03",
            "--chart",
            "c04",
            "--dry-run",
        ],
        None,
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let out = text(&dry.stdout);
    assert!(out.contains("Would mirror c03 1.0.0 to"), "{out}");
    assert!(
        out.contains("Would mirror 6 packages, 0 unchanged"),
        "{out}"
    );
    assert_eq!(uploads(&w), 0);
    let some = mirror(
        &w,
        &[&repo.url, REPO, "--chart", "c03", "--version", "^1"],
        None,
    );
    assert!(some.status.success(), "{}", text(&some.stderr));
    assert_eq!(w.versions("c03"), ["1.0.0", "1.0.1"]);
    let devel = mirror(
        &w,
        &[
            &repo.url,
            REPO,
            "--chart",
            "c03",
            "--version",
            ">=2.0.0-0",
            "--devel",
        ],
        None,
    );
    assert!(devel.status.success(), "{}", text(&devel.stderr));
    assert_eq!(w.versions("c03"), ["1.0.0", "1.0.1", "2.0.0-rc.1"]);
}

#[test]
fn bad_input_gets_one_error_and_writes_nothing() {
    let w = World::new();
    let repo = StaticRepo::start(true);
    fill(&repo);
    let one_error = |o: &Output, needle: &str| {
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let errors = error_lines(o);
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(needle), "{needle:?} in {err}");
    };
    // Wrong password, and none at all.
    let auth_wrong = [&[repo.url.as_str(), REPO][..], &AUTH[..]].concat();
    one_error(&mirror(&w, &auth_wrong, Some("nope")), "401");
    one_error(&mirror(&w, &[&repo.url, REPO], None), "401");
    // A chart the source does not have.
    let unknown = [&[repo.url.as_str(), REPO, "--chart", "c99"][..], &AUTH[..]].concat();
    one_error(
        &mirror(&w, &unknown, Some(PASSWORD)),
        "chart \"c99\" not found",
    );
    // An unreachable source.
    one_error(
        &mirror(&w, &["http://127.0.0.1:9/charts", REPO], None),
        "cannot reach",
    );
    // Credentials missing on the destination side only.
    let mut bare = w.std_bare();
    let no_dest = run_mirror(
        &mut bare,
        &[&[repo.url.as_str(), REPO][..], &AUTH[..]].concat(),
        Some(PASSWORD),
    );
    assert_eq!(no_dest.status.code(), Some(1));
    assert_eq!(error_lines(&no_dest).len(), 1, "{}", text(&no_dest.stderr));
    // A source index that is not YAML.
    let broken = StaticRepo::start(false);
    broken.put("/charts/index.yaml", b"entries: [unclosed\n  - {".to_vec());
    one_error(&mirror(&w, &[&broken.url, REPO], None), "not YAML");
    assert_eq!(uploads(&w), 0, "nothing written");

    // A 404 package: named, not stored, the other one mirrored.
    let gone = StaticRepo::start(false);
    let good = chart_tgz("g", "1.0.0", "");
    gone.put("/charts/g-1.0.0.tgz", good.clone());
    gone.put(
        "/charts/index.yaml",
        format!(
            "apiVersion: v1\nentries:\n  g:\n  - name: g\n    version: 1.0.0\n    digest: {}\n    urls: [g-1.0.0.tgz]\n  h:\n  - name: h\n    version: 1.0.0\n    urls: [h-1.0.0.tgz]\n",
            sha256(&good)
        )
        .into_bytes(),
    );
    let o = mirror(&w, &[&gone.url, REPO], None);
    assert_eq!(o.status.code(), Some(1));
    let errors = error_lines(&o);
    assert!(
        errors.len() == 1 && errors[0].contains("h 1.0.0") && errors[0].contains("404"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains(", 1 failed"),
        "{}",
        text(&o.stdout)
    );
    assert!(w.versions("h").is_empty());
    assert_eq!(w.stored("g", "1.0.0"), Some(good));
}

#[test]
fn a_directory_exported_from_a_namespace_restores_it_identically() {
    let w = World::new();
    let mut originals = Vec::new();
    for c in 0..4 {
        for v in ["0.1.0", "0.2.0"] {
            let name = format!("exp{c}");
            let bytes = chart_tgz(&name, v, &format!("{c}{v}"));
            if c % 2 == 0 {
                w.emu
                    .put_raw_with_prov(INSTANCE, NS, &name, v, bytes.clone(), PROV.to_vec());
            } else {
                w.emu.put_raw(INSTANCE, NS, &name, v, bytes.clone());
            }
            originals.push((name, v.to_string()));
        }
    }
    // The export, as `pull --all -d DIR` writes it: NAME-VERSION.tgz (+ .prov).
    for (name, v) in &originals {
        let bytes = w.stored(name, v).unwrap();
        w.write(&format!("export/{name}-{v}.tgz"), &bytes);
        if let Some(prov) = w.emu.prov_bytes(INSTANCE, NS, name, v) {
            w.write(&format!("export/{name}-{v}.tgz.prov"), &prov);
        }
    }
    let dest = "ccr://ccr-test/restored";
    let o = mirror(&w, &["export", dest], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Mirrored 8 packages"));
    for (name, v) in &originals {
        assert_eq!(
            w.emu.chart_bytes(INSTANCE, "restored", name, v),
            w.stored(name, v),
            "{name} {v}"
        );
        assert_eq!(
            w.emu.prov_bytes(INSTANCE, "restored", name, v),
            w.emu.prov_bytes(INSTANCE, NS, name, v),
            "{name} {v} .prov"
        );
    }
    // Again: nothing to do.
    w.emu.clear_requests();
    let again = mirror(&w, &["export", dest], None);
    assert!(again.status.success());
    assert_eq!(uploads(&w), 0);
    assert!(text(&again.stdout).contains("8 unchanged"));
}
