//! The world of one test: an in-process emulator, a throwaway home and work directory, and
//! the hermetic base command every run starts from (own HOME, no proxies, no stray HELM_* or
//! BCE_* variables).

use std::path::PathBuf;

use assert_cmd::Command;
use ccr_emulator::{Config, Emulator, Key};

use super::tars::chart_tgz;

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

    /// The getter's `index.yaml` of [`REPO`], with `HELM_CCR_PARALLEL=parallel`.
    pub fn index(&self, parallel: &str) -> std::process::Output {
        self.cmd()
            .env("HELM_CCR_PARALLEL", parallel)
            .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
            .output()
            .unwrap()
    }

    /// `helm-ccr` with a clean environment: own HOME, no proxies, no stray HELM_* or BCE_*,
    /// credentials in the environment and the emulator as endpoint; cwd is the work dir.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`World::cmd`] with another registry (a scripted one) as the endpoint.
    pub fn cmd_at(&self, endpoint: &str) -> Command {
        Command::from_std(self.std_cmd_at(endpoint))
    }

    /// [`World::std_cmd`] with another registry as the endpoint.
    pub fn std_cmd_at(&self, endpoint: &str) -> std::process::Command {
        let mut c = self.std_cmd();
        c.env("HELM_CCR_ENDPOINT", endpoint);
        c
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
