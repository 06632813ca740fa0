//! install-binary.sh, the plugin's install/update hook, run as Helm runs it (`sh`, only
//! HELM_PLUGIN_DIR set) against release assets served from a local HTTP server through
//! HELM_CCR_RELEASE_BASE_URL. A fake `cargo` on PATH shows whether the source-build fallback ran.
#![cfg(unix)]

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{repo_root, sha256, stderr};

const ASSET_BINARY: &str = "#!/bin/sh\necho \"helm-ccr from-release-asset $*\"\n";
const SOURCE_BINARY: &str = "#!/bin/sh\necho \"helm-ccr from-source $*\"\n";

fn plugin_version() -> String {
    let text = fs::read_to_string(repo_root().join("plugin.yaml")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("version:"))
        .map(|v| v.trim().trim_matches('"').to_string())
        .expect("plugin.yaml has a version")
}

fn asset_name() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("helm-ccr-{}-{os}-{arch}.tar.gz", plugin_version())
}

/// A release tarball holding `helm-ccr` (a shell script standing in for the binary).
fn asset_tarball(binary: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_ustar();
    header.set_size(binary.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    tar.append_data(&mut header, "helm-ccr", binary.as_bytes())
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

/// Serves fixed files under `/rel/`; anything else is a 404. Remembers what was asked for.
struct Releases {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    base: String,
    requested: Arc<Mutex<Vec<String>>>,
}

impl Releases {
    fn serve(files: HashMap<String, Vec<u8>>) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let s = Arc::clone(&server);
        let requested = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requested);
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                let name = req.url().strip_prefix("/rel/").unwrap_or("").to_string();
                log.lock().unwrap().push(name.clone());
                let _ = match files.get(&name) {
                    Some(body) => req.respond(tiny_http::Response::from_data(body.clone())),
                    None => req.respond(
                        tiny_http::Response::from_string("not found").with_status_code(404),
                    ),
                };
            }
        });
        Releases {
            server,
            thread: Some(thread),
            base: format!("http://127.0.0.1:{port}/rel"),
            requested,
        }
    }

    fn requested(&self) -> Vec<String> {
        self.requested.lock().unwrap().clone()
    }
}

impl Drop for Releases {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A plugin directory as Helm lays it out: `<tmp>/plugins/ccr` holding the hook, the manifests
/// and (so a wrong fall-through would show) what makes it look like a source checkout.
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("plugins/ccr");
        fs::create_dir_all(dir.join("getter")).unwrap();
        fs::create_dir_all(dir.join("src")).unwrap();
        for f in ["plugin.yaml", "install-binary.sh", "getter/ccr-getter.yaml"] {
            fs::copy(repo_root().join(f), dir.join(f)).unwrap();
        }
        fs::write(dir.join("Cargo.toml"), "[package]\nname = \"helm-ccr\"\n").unwrap();
        fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
        // A fake cargo: records that it ran, then "builds" into $CARGO_TARGET_DIR.
        let fake = tmp.path().join("fakebin");
        fs::create_dir_all(&fake).unwrap();
        let cargo = fake.join("cargo");
        let mut f = fs::File::create(&cargo).unwrap();
        write!(
            f,
            "#!/bin/sh\necho \"$@\" >\"{marker}\"\nmkdir -p \"$CARGO_TARGET_DIR/release\"\n\
             printf '%s' '{bin}' >\"$CARGO_TARGET_DIR/release/helm-ccr\"\n\
             chmod 755 \"$CARGO_TARGET_DIR/release/helm-ccr\"\n",
            marker = tmp.path().join("cargo-ran").display(),
            bin = SOURCE_BINARY,
        )
        .unwrap();
        drop(f);
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox { tmp }
    }

    fn plugin_dir(&self) -> PathBuf {
        self.tmp.path().join("plugins/ccr")
    }

    fn binary(&self) -> PathBuf {
        self.plugin_dir().join("bin/helm-ccr")
    }

    fn getter_dir(&self) -> PathBuf {
        self.tmp.path().join("plugins/ccr-getter")
    }

    fn cargo_ran(&self) -> bool {
        self.tmp.path().join("cargo-ran").exists()
    }

    /// Runs the hook as Helm 4 does: `sh -c`, the caller's environment plus HELM_PLUGIN_DIR.
    fn install(&self, base_url: &str, extra: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.tmp.path().join("fakebin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("sh \"$HELM_PLUGIN_DIR/install-binary.sh\"")
            .env("HELM_PLUGIN_DIR", self.plugin_dir())
            .env("HELM_CCR_RELEASE_BASE_URL", base_url)
            .env("CARGO_TARGET_DIR", self.tmp.path().join("target"))
            .env("TMPDIR", self.tmp.path())
            .env("PATH", path)
            .env_remove("HELM_CCR_BINARY")
            .env_remove("HELM_CCR_SKIP_DOWNLOAD");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn leftovers(&self) -> Vec<String> {
        let mut names = Vec::new();
        for dir in [self.plugin_dir().join("bin"), self.tmp.path().to_path_buf()] {
            if let Ok(rd) = fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with(".helm-ccr.tmp") || n.starts_with("helm-ccr-install.") {
                        names.push(n);
                    }
                }
            }
        }
        names
    }
}

fn run_binary(p: &Path) -> String {
    let o = Command::new(p).arg("version").output().unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn files(sums: String, tarball: Vec<u8>) -> HashMap<String, Vec<u8>> {
    HashMap::from([
        (asset_name(), tarball),
        ("sha256sums.txt".to_string(), sums.into_bytes()),
    ])
}

#[test]
fn install_refuses_a_tampered_asset_and_installs_nothing() {
    let tarball = asset_tarball(ASSET_BINARY);
    // The checksum of the genuine asset; the server hands out a different one.
    let genuine = sha256(&asset_tarball("#!/bin/sh\necho genuine\n"));
    let sums = format!(
        "{}  helm-ccr-0.0.0-other-os.tar.gz\n{genuine}  {}\n",
        "0".repeat(64),
        asset_name()
    );
    let server = Releases::serve(files(sums, tarball));
    let sb = Sandbox::new();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("checksum mismatch"), "stderr: {err}");
    assert!(err.contains("refusing"), "stderr: {err}");
    assert!(
        !sb.binary().exists(),
        "a refused asset must not be installed"
    );
    assert!(
        !sb.cargo_ran(),
        "a refusal must not fall through to building from source"
    );
    assert!(!sb.getter_dir().exists());
    assert_eq!(sb.leftovers(), Vec::<String>::new());
}

#[test]
fn install_refuses_an_asset_missing_from_the_checksums() {
    let tarball = asset_tarball(ASSET_BINARY);
    let sums = format!("{}  something-else.tar.gz\n", sha256(&tarball));
    let server = Releases::serve(files(sums, tarball));
    let sb = Sandbox::new();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("has no checksum"), "stderr: {err}");
    assert!(!sb.binary().exists());
    assert!(!sb.cargo_ran());
}

#[test]
fn install_verifies_and_installs_a_release_asset_and_the_getter() {
    let tarball = asset_tarball(ASSET_BINARY);
    let sums = format!("{}  {}\n", sha256(&tarball), asset_name());
    let server = Releases::serve(files(sums, tarball));
    let sb = Sandbox::new();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "stderr: {err}");
    assert!(!sb.cargo_ran());
    let bin = sb.binary();
    assert!(fs::metadata(&bin).unwrap().permissions().mode() & 0o111 != 0);
    assert_eq!(run_binary(&bin), "helm-ccr from-release-asset version\n");

    // The getter plugin beside it: manifest, marker, binary linked to the CLI plugin's.
    let g = sb.getter_dir();
    let manifest = fs::read_to_string(g.join("plugin.yaml")).unwrap();
    assert!(manifest.contains("name: \"ccr-getter\""));
    assert!(manifest.contains("bin/helm-ccr download"));
    assert!(g.join(".helm-ccr-getter").is_file());
    assert_eq!(fs::read_link(g.join("bin/helm-ccr")).unwrap(), bin);
    assert_eq!(sb.leftovers(), Vec::<String>::new());

    // The delete hook (run after Helm removed the plugin directory) removes the getter.
    let delete = delete_hook();
    fs::remove_dir_all(sb.plugin_dir()).unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(&delete)
        .env("HELM_PLUGIN_DIR", sb.plugin_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!g.exists(), "the delete hook leaves no getter behind");
}

#[test]
fn delete_hook_leaves_a_foreign_ccr_getter_alone() {
    let sb = Sandbox::new();
    let g = sb.getter_dir();
    fs::create_dir_all(&g).unwrap();
    fs::write(g.join("plugin.yaml"), "name: someone-elses\n").unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(delete_hook())
        .env("HELM_PLUGIN_DIR", sb.plugin_dir())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(g.join("plugin.yaml").exists());
}

/// The delete hook's shell text, read from plugin.yaml (a YAML double-quoted scalar).
fn delete_hook() -> String {
    let text = fs::read_to_string(repo_root().join("plugin.yaml")).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("delete:"))
        .expect("plugin.yaml has a delete hook");
    let v: String = serde_saphyr::from_str(line.trim()).unwrap();
    v
}

#[test]
fn install_builds_from_source_when_no_asset_exists() {
    let server = Releases::serve(HashMap::new()); // every download is a 404
    let sb = Sandbox::new();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "stderr: {err}");
    assert!(sb.cargo_ran(), "the source build runs when no asset exists");
    let args = fs::read_to_string(sb.tmp.path().join("cargo-ran")).unwrap();
    assert!(args.starts_with("build --release --locked"), "{args}");
    // Built into CARGO_TARGET_DIR, copied into bin/.
    assert_eq!(run_binary(&sb.binary()), "helm-ccr from-source version\n");
    assert!(sb.getter_dir().join("plugin.yaml").is_file());
}

#[test]
fn install_offline_falls_back_quickly() {
    // A closed loopback port: connection refused at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sb = Sandbox::new();
    let start = Instant::now();
    let out = sb.install(&format!("http://127.0.0.1:{port}/rel"), &[]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(sb.cargo_ran());
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn install_says_what_to_do_when_nothing_works() {
    let server = Releases::serve(HashMap::new());
    let sb = Sandbox::new();
    // Not a source checkout: nothing to build.
    fs::remove_file(sb.plugin_dir().join("Cargo.toml")).unwrap();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.contains("no helm-ccr binary could be installed"),
        "{err}"
    );
    assert!(err.contains("HELM_CCR_BINARY"), "{err}");
    assert!(!sb.binary().exists());
    assert!(!sb.getter_dir().exists());
}

#[test]
fn install_uses_a_named_prebuilt_binary() {
    let sb = Sandbox::new();
    let prebuilt = sb.tmp.path().join("prebuilt-helm-ccr");
    fs::write(&prebuilt, "#!/bin/sh\necho \"helm-ccr prebuilt $*\"\n").unwrap();
    fs::set_permissions(&prebuilt, fs::Permissions::from_mode(0o755)).unwrap();
    // No server at all: the named binary needs none.
    let out = sb.install(
        "http://127.0.0.1:9/unused",
        &[("HELM_CCR_BINARY", prebuilt.to_str().unwrap())],
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(!sb.cargo_ran());
    assert_eq!(run_binary(&sb.binary()), "helm-ccr prebuilt version\n");

    let missing = sb.install(
        "http://127.0.0.1:9/unused",
        &[("HELM_CCR_BINARY", "/nonexistent/helm-ccr")],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("not an executable file"));
}

#[test]
fn install_removes_a_binary_that_does_not_run() {
    let tarball = asset_tarball("#!/bin/sh\nexit 7\n");
    let sums = format!("{}  {}\n", sha256(&tarball), asset_name());
    let server = Releases::serve(files(sums, tarball));
    let sb = Sandbox::new();
    let out = sb.install(&server.base, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not run"), "{}", stderr(&out));
    assert!(!sb.binary().exists());
    assert!(!sb.getter_dir().exists());
}

/// A plugin package (`ccr-VERSION.tgz`) carries checksums.txt: the hook checks the asset against
/// it and nothing else, so a server whose sha256sums.txt agrees with a tampered asset changes
/// nothing.
#[test]
fn packaged_checksums_refuse_an_asset_the_server_vouches_for() {
    let tampered = asset_tarball(ASSET_BINARY);
    let genuine = asset_tarball("#!/bin/sh\necho genuine\n");
    let server_sums = format!("{}  {}\n", sha256(&tampered), asset_name());
    let server = Releases::serve(files(server_sums, tampered));
    let sb = Sandbox::new();
    fs::write(
        sb.plugin_dir().join("checksums.txt"),
        format!("{}  {}\n", sha256(&genuine), asset_name()),
    )
    .unwrap();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("checksums.txt"), "{err}");
    assert!(
        !sb.binary().exists(),
        "a refused asset must not be installed"
    );
    assert!(!sb.getter_dir().exists());
    assert!(
        !sb.cargo_ran(),
        "a refusal must not fall through to a source build"
    );
    assert_eq!(
        server.requested(),
        vec![asset_name()],
        "only the asset is fetched"
    );
    assert_eq!(sb.leftovers(), Vec::<String>::new());
}

#[test]
fn packaged_checksums_install_without_any_sha256sums_txt() {
    let tarball = asset_tarball(ASSET_BINARY);
    let sums = format!(
        "{}  helm-ccr-0.0.0-other-os.tar.gz\n{}  {}\n",
        "1".repeat(64),
        sha256(&tarball).to_uppercase(),
        asset_name()
    );
    // The server has the asset only.
    let server = Releases::serve(HashMap::from([(asset_name(), tarball)]));
    let sb = Sandbox::new();
    fs::write(sb.plugin_dir().join("checksums.txt"), sums).unwrap();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "stderr: {err}");
    assert!(err.contains("checksums.txt"), "{err}");
    assert_eq!(
        run_binary(&sb.binary()),
        "helm-ccr from-release-asset version\n"
    );
    assert!(sb.getter_dir().join("plugin.yaml").is_file());
    assert_eq!(server.requested(), vec![asset_name()]);
}

#[test]
fn packaged_checksums_without_this_platform_refuse_before_downloading() {
    let tarball = asset_tarball(ASSET_BINARY);
    let server = Releases::serve(files(
        format!("{}  {}\n", sha256(&tarball), asset_name()),
        tarball.clone(),
    ));
    let sb = Sandbox::new();
    fs::write(
        sb.plugin_dir().join("checksums.txt"),
        format!("{}  helm-ccr-0.0.0-other-os.tar.gz\n", sha256(&tarball)),
    )
    .unwrap();
    let out = sb.install(&server.base, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("has no checksum"), "{err}");
    assert!(!sb.binary().exists());
    assert!(!sb.cargo_ran());
    assert_eq!(server.requested(), Vec::<String>::new());
}

/// Offline installs: HELM_CCR_RELEASE_BASE_URL may name a directory of downloaded assets.
#[test]
fn install_reads_assets_from_a_local_directory() {
    let tarball = asset_tarball(ASSET_BINARY);
    let sb = Sandbox::new();
    let mirror = sb.tmp.path().join("downloads");
    fs::create_dir_all(&mirror).unwrap();
    fs::write(
        mirror.join("sha256sums.txt"),
        format!("{}  {}\n", sha256(&tarball), asset_name()),
    )
    .unwrap();
    fs::write(mirror.join(asset_name()), &tarball).unwrap();
    for base in [
        mirror.display().to_string(),
        format!("file://{}/", mirror.display()),
    ] {
        let _ = fs::remove_dir_all(sb.plugin_dir().join("bin"));
        let out = sb.install(&base, &[]);
        assert!(out.status.success(), "{base}: {}", stderr(&out));
        assert_eq!(
            run_binary(&sb.binary()),
            "helm-ccr from-release-asset version\n"
        );
    }
    assert!(!sb.cargo_ran());
    // A tampered copy in the directory is refused like a downloaded one.
    fs::write(
        mirror.join(asset_name()),
        asset_tarball("#!/bin/sh\necho evil\n"),
    )
    .unwrap();
    fs::remove_dir_all(sb.plugin_dir().join("bin")).unwrap();
    let out = sb.install(mirror.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("checksum mismatch"));
    assert!(!sb.binary().exists());
}

/// The getter (`helm-ccr download CERT KEY CA URL`, what the installed ccr-getter runs) against
/// the emulator: the index it synthesises, and the bytes it serves.
mod getter {
    use super::*;
    use helm_ccr::registry::Upload;
    use helm_ccr::settings::credentials::Credentials;
    use helm_ccr::settings::reference::CcrUrl;
    use helm_ccr::settings::{self, Env, Global};

    const AK: &str = "getter-ak";
    const SK: &str = "getter-sk";
    const REPO: &str = "ccr://ccr-getter-test/ns";

    fn chart_tgz(name: &str, version: &str) -> Vec<u8> {
        let chart_yaml = format!(
            "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"9.9\"\ndescription: the {name} chart\n"
        );
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (path, body) in [
            (format!("{name}/Chart.yaml"), chart_yaml.as_str()),
            (format!("{name}/values.yaml"), "x: 1\n"),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, path, body.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    fn getter_binary() -> &'static str {
        env!("CARGO_BIN_EXE_helm-ccr")
    }

    struct Registry {
        emu: ccr_emulator::Emulator,
        tmp: tempfile::TempDir,
    }

    impl Registry {
        fn start() -> Registry {
            let emu = ccr_emulator::start(ccr_emulator::Config::new(vec![ccr_emulator::Key::new(
                AK, SK,
            )]))
            .unwrap();
            Registry {
                emu,
                tmp: tempfile::tempdir().unwrap(),
            }
        }

        fn push(&self, name: &str, version: &str, prov: Option<&str>) -> Vec<u8> {
            let mut global = Global::new(Env::from_pairs([(
                "HOME".to_string(),
                self.tmp.path().display().to_string(),
            )]));
            global.endpoint = Some(self.emu.url());
            let client = settings::connect(
                &CcrUrl::parse(REPO).unwrap(),
                Credentials::new(AK, SK, None, "test"),
                &global,
            )
            .unwrap();
            let bytes = chart_tgz(name, version);
            let file_name = format!("{name}-{version}.tgz");
            let path = self.tmp.path().join(&file_name);
            fs::write(&path, &bytes).unwrap();
            let prov_path = prov.map(|p| {
                let pp = self.tmp.path().join(format!("{file_name}.prov"));
                fs::write(&pp, p).unwrap();
                pp
            });
            client
                .upload(&Upload {
                    chart: &path,
                    file_name: &file_name,
                    prov: prov_path.as_deref(),
                    name,
                    version,
                    sha256: &sha256(&bytes),
                })
                .unwrap();
            bytes
        }

        /// Runs the getter as Helm does, with repository credentials and no others.
        fn get(&self, url: &str, user: &str, pass: &str) -> Output {
            Command::new(getter_binary())
                .args(["download", "", "", "", url])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", self.tmp.path())
                .env("HELM_CCR_ENDPOINT", self.emu.url())
                .env("HELM_PLUGIN_USERNAME", user)
                .env("HELM_PLUGIN_PASSWORD", pass)
                .output()
                .unwrap()
        }
    }

    #[test]
    fn index_lists_every_version_with_the_digest_of_the_served_bytes() {
        let reg = Registry::start();
        let mut pushed = HashMap::new();
        for (name, version) in [
            ("zeta", "1.0.0"),
            ("alpha", "0.9.0"),
            ("alpha", "0.10.0"),
            ("alpha", "0.10.0-rc.1"),
        ] {
            pushed.insert(
                format!("{name}-{version}.tgz"),
                reg.push(name, version, None),
            );
        }
        // More charts than the getter's pool has workers.
        for i in 0..12 {
            reg.push(&format!("many-{i:02}"), "1.0.0", None);
        }

        let out = reg.get(&format!("{REPO}/index.yaml"), AK, SK);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc["apiVersion"], "v1");
        assert!(doc["generated"].as_str().unwrap().ends_with('Z'));
        let entries = doc["entries"].as_object().unwrap();
        assert_eq!(entries.len(), 14);
        let alpha: Vec<&str> = entries["alpha"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(alpha, ["0.10.0", "0.10.0-rc.1", "0.9.0"]);
        let first = &entries["alpha"][0];
        assert_eq!(first["apiVersion"], "v2");
        assert_eq!(first["appVersion"], "9.9");
        assert_eq!(first["description"], "the alpha chart");
        assert!(first["created"].as_str().is_some());

        for list in entries.values() {
            for v in list.as_array().unwrap() {
                let url = v["urls"][0].as_str().unwrap();
                assert_eq!(
                    url,
                    format!(
                        "{}-{}.tgz",
                        v["name"].as_str().unwrap(),
                        v["version"].as_str().unwrap()
                    )
                );
                let served = reg.get(&format!("{REPO}/{url}"), AK, SK);
                assert!(served.status.success(), "{}", stderr(&served));
                assert_eq!(
                    v["digest"].as_str().unwrap(),
                    sha256(&served.stdout),
                    "{url}"
                );
                if let Some(bytes) = pushed.get(url) {
                    assert_eq!(&served.stdout, bytes, "{url}");
                }
            }
        }
    }

    #[test]
    fn serves_provenance_files() {
        let reg = Registry::start();
        reg.push(
            "signed",
            "1.0.0",
            Some("-----BEGIN PGP SIGNED MESSAGE-----\nfake\n"),
        );
        reg.push("unsigned", "1.0.0", None);
        let prov = reg.get(&format!("{REPO}/signed-1.0.0.tgz.prov"), AK, SK);
        assert!(prov.status.success(), "{}", stderr(&prov));
        assert_eq!(prov.stdout, b"-----BEGIN PGP SIGNED MESSAGE-----\nfake\n");
        let none = reg.get(&format!("{REPO}/unsigned-1.0.0.tgz.prov"), AK, SK);
        assert_eq!(none.status.code(), Some(1));
        assert!(none.stdout.is_empty());
        assert!(
            stderr(&none).contains("unsigned-1.0.0.tgz.prov"),
            "{}",
            stderr(&none)
        );
    }

    #[test]
    fn credentials_come_from_the_repository_file_when_helm_passes_none() {
        // Helm 4 fetches a .prov without passing the repository's credentials.
        let reg = Registry::start();
        reg.push("signed", "1.0.0", Some("prov\n"));
        let repos = reg.tmp.path().join("repositories.yaml");
        fs::write(
            &repos,
            format!(
                "apiVersion: \"\"\nrepositories:\n- name: r\n  url: {REPO}/\n  username: {AK}\n  password: {SK}\n"
            ),
        )
        .unwrap();
        let out = Command::new(getter_binary())
            .args([
                "download",
                "",
                "",
                "",
                &format!("{REPO}/signed-1.0.0.tgz.prov"),
            ])
            .env_clear()
            .env("HOME", reg.tmp.path())
            .env("HELM_CCR_ENDPOINT", reg.emu.url())
            .env("HELM_PLUGIN_USERNAME", "")
            .env("HELM_PLUGIN_PASSWORD", "")
            .env("HELM_REPOSITORY_CONFIG", &repos)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(out.stdout, b"prov\n");
    }

    #[test]
    fn empty_repository_gives_an_empty_index() {
        let reg = Registry::start();
        let out = reg.get(&format!("{REPO}/index.yaml"), AK, SK);
        assert!(out.status.success(), "{}", stderr(&out));
        let doc: serde_json::Value =
            serde_saphyr::from_str(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["entries"], serde_json::json!({}));
    }

    #[test]
    fn failures_are_one_clear_line_and_nothing_on_stdout() {
        let reg = Registry::start();
        reg.push("app", "1.0.0", None);
        // Wrong secret from `helm repo add --password`.
        let bad = reg.get(&format!("{REPO}/index.yaml"), AK, "wrong");
        assert_eq!(bad.status.code(), Some(1));
        assert!(bad.stdout.is_empty());
        let err = stderr(&bad);
        assert!(err.contains("Error"), "{err}");
        assert!(
            err.contains("SignatureDoesNotMatch") || err.contains("403"),
            "{err}"
        );
        assert!(!err.contains("wrong"), "the secret leaked: {err}");
        // A chart that is not there.
        let missing = reg.get(&format!("{REPO}/app-9.9.9.tgz"), AK, SK);
        assert_eq!(missing.status.code(), Some(1));
        assert!(missing.stdout.is_empty());
        assert!(
            stderr(&missing).contains("app-9.9.9.tgz"),
            "{}",
            stderr(&missing)
        );
        // Something a getter does not serve.
        let odd = reg.get(&format!("{REPO}/app"), AK, SK);
        assert_eq!(odd.status.code(), Some(1));
        assert!(stderr(&odd).contains("index.yaml"), "{}", stderr(&odd));
        // No credentials anywhere.
        let none = reg.get(&format!("{REPO}/index.yaml"), "", "");
        assert_eq!(none.status.code(), Some(1));
        assert!(
            stderr(&none).to_lowercase().contains("credentials"),
            "{}",
            stderr(&none)
        );
    }
}
