//! Shared test fixtures: a hermetic command, an in-process emulator, chart packages built here.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ccr_emulator::{Config, Emulator, Key};
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

pub const AK: &str = "test-ak-0001";
pub const SK: &str = "test-sk-secret-0001";
pub const INSTANCE: &str = "ccr-test";
pub const NS: &str = "ns";
pub const REPO: &str = "ccr://ccr-test/ns";

/// An emulator and a throwaway home directory for one test.
pub struct World {
    pub emu: Emulator,
    pub home: tempfile::TempDir,
    pub work: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World::with(Config::new(vec![Key::new(AK, SK)]))
    }

    pub fn with(config: Config) -> World {
        World {
            emu: ccr_emulator::start(config).expect("emulator starts"),
            home: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// `helm-ccr` with a clean environment: own HOME, no proxies, no stray HELM_* or BCE_*,
    /// credentials in the environment and the emulator as endpoint; cwd is the work dir.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// Runs `helm-ccr ARGS` with [`World::cmd`] and asserts it succeeded.
    pub fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "helm-ccr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Builds `NAME-VERSION.tgz` with [`chart_tgz`], pushes it to [`REPO`] and returns its bytes.
    pub fn push_chart(&self, name: &str, version: &str) -> Vec<u8> {
        let bytes = chart_tgz(name, version, "");
        let file = format!("{name}-{version}.tgz");
        self.write(&file, &bytes);
        self.ok(&["push", &file, REPO]);
        bytes
    }

    /// Like [`World::cmd`] but with no credentials at all.
    pub fn bare(&self) -> Command {
        Command::from_std(self.std_bare())
    }

    /// [`World::bare`] as a `std::process::Command`: the base of every command here.
    pub fn std_bare(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_helm-ccr"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env(
                "HELM_REPOSITORY_CONFIG",
                self.home.path().join("repositories.yaml"),
            )
            .env("HELM_CCR_ENDPOINT", self.emu.url())
            .current_dir(self.work.path());
        c
    }

    /// [`World::cmd`] as a `std::process::Command`, for a run the test signals or waits on.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = self.std_bare();
        c.env("BCE_ACCESS_KEY_ID", AK)
            .env("BCE_SECRET_ACCESS_KEY", SK);
        c
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn stored(&self, chart: &str, version: &str) -> Option<Vec<u8>> {
        self.emu.chart_bytes(INSTANCE, NS, chart, version)
    }

    pub fn versions(&self, chart: &str) -> Vec<String> {
        let mut v = self.emu.versions(INSTANCE, NS, chart);
        v.sort();
        v
    }

    /// Requests the emulator saw with this method.
    pub fn count(&self, method: &str) -> usize {
        self.emu
            .requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }
}

/// A chart package built here (not by the code under test): `name/Chart.yaml`, values and a
/// template, plus `extra` bytes so that two builds can differ.
pub fn chart_tgz(name: &str, version: &str, extra: &str) -> Vec<u8> {
    let files: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{name}/Chart.yaml"),
            format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"1.0\"\ndescription: test chart {name}\n"
            )
            .into_bytes(),
        ),
        (format!("{name}/values.yaml"), format!("extra: {extra:?}\n").into_bytes()),
        (
            format!("{name}/templates/cm.yaml"),
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  extra: {{ .Values.extra | quote }}\n".to_vec(),
        ),
    ];
    tgz_of(&files)
}

/// A gzip tar of the given (path, bytes) entries, as regular files.
pub fn tgz_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// `n` bytes that do not compress (xorshift from `seed`): packages that stay as large as they
/// are.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure with the given exit code and exactly one `Error:` line naming `needle`.
pub fn assert_one_error(out: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(errors.len(), 1, "one Error: line expected, got: {err}");
    assert!(
        errors[0].contains(needle),
        "error line {:?} should mention {needle:?}",
        errors[0]
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Lists the files below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The pinned Helm binary of a major version (installed by scripts/install-helm.sh).
pub fn helm(version: u32) -> PathBuf {
    let (var, dir) = match version {
        3 => ("HELM_CCR_TEST_HELM3", "3.17.3"),
        4 => ("HELM_CCR_TEST_HELM4", "4.1.4"),
        _ => panic!("no Helm {version}"),
    };
    let p = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        // Where scripts/install-helm.sh puts it.
        std::env::var_os("HELM_CCR_TOOLS_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache"))
            .join("helm")
            .join(dir)
            .join("helm")
    });
    assert!(
        p.is_file(),
        "Helm {version} not found at {} (run scripts/install-helm.sh or set {var})",
        p.display()
    );
    p
}

/// Runs the real `helm` with a clean environment and homes below `home`; whatever the outcome.
pub fn helm_output(version: u32, home: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(helm(version))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .output()
        .unwrap()
}

/// Runs a Helm binary with a throwaway home; panics with its stderr on failure.
pub fn run_helm(version: u32, home: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let out = helm_output(version, home, args);
    assert!(
        out.status.success(),
        "helm {version} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Copies a directory tree (following symlinks).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A real Helm (3 or 4) with throwaway homes and this checkout's plugin installed the way
/// users install it (`helm plugin install DIR`; the hook copies the built binary through
/// HELM_CCR_BINARY), talking to `world`'s emulator.
pub struct PluginHelm {
    pub version: u32,
    pub dir: tempfile::TempDir,
    endpoint: String,
}

impl PluginHelm {
    pub fn install(version: u32, world: &World) -> PluginHelm {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("plugin-src");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(&src).unwrap();
        for f in [
            "plugin.yaml",
            "install-binary.sh",
            "completion.yaml",
            "plugin.complete",
        ] {
            std::fs::copy(root.join(f), src.join(f)).unwrap();
        }
        copy_dir(&root.join("getter"), &src.join("getter"));
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(helm(version), bin.join("helm")).unwrap();
        let h = PluginHelm {
            version,
            dir,
            endpoint: world.emu.url(),
        };
        let out = h
            .cmd()
            .args(["plugin", "install"])
            .arg(&src)
            .env("HELM_CCR_BINARY", env!("CARGO_BIN_EXE_helm-ccr"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm {version} plugin install: {}{}",
            stdout(&out),
            stderr(&out)
        );
        h
    }

    /// `helm` (on PATH first) with only this Helm's homes, the emulator as endpoint and no
    /// credentials in the environment.
    pub fn cmd(&self) -> std::process::Command {
        self.with_env(std::process::Command::new(
            self.dir.path().join("bin").join("helm"),
        ))
    }

    /// `sh -c SCRIPT` in the environment of [`PluginHelm::cmd`] (this `helm` first on PATH),
    /// in the Helm's directory.
    pub fn sh(&self, script: &str) -> std::process::Command {
        let mut c = self.with_env(std::process::Command::new("sh"));
        c.arg("-c").arg(script);
        c
    }

    fn with_env(&self, mut c: std::process::Command) -> std::process::Command {
        let home = self.dir.path();
        let mut path = std::ffi::OsString::from(home.join("bin"));
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        c.env_clear()
            .env("PATH", path)
            .env("HOME", home.join("home"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_PLUGINS", home.join("data").join("plugins"))
            .env("HELM_CCR_ENDPOINT", &self.endpoint)
            .current_dir(home);
        c
    }

    /// Runs `helm ARGS` and asserts it succeeded.
    pub fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "helm {} {args:?}: {}",
            self.version,
            stderr(&out)
        );
        out
    }

    /// Helm's repository file.
    pub fn repository_config(&self) -> PathBuf {
        self.dir.path().join("config").join("repositories.yaml")
    }
}
