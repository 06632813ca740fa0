//! Real Helm: the pinned binaries (scripts/install-helm.sh), run with throwaway homes, and a
//! Helm with this checkout's plugin installed the way users install it.

use std::path::{Path, PathBuf};

use super::files::copy_dir;
use super::output::{stderr, stdout};
use super::world::World;

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
