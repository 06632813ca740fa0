//! A throwaway GnuPG home with one agent-held signing key, for tests that need signed
//! packages (tests/it/provenance.rs has a fuller one of its own).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A GnuPG home in a temporary directory; its agent is stopped on drop.
pub struct TestGpg {
    dir: tempfile::TempDir,
    /// The fingerprint of its one key.
    pub fingerprint: String,
}

impl TestGpg {
    /// A home holding one RSA signing key for `uid` (any text: control characters too),
    /// without a passphrase. Panics without gpg (scripts/test.sh installs it).
    pub fn with_key(uid: &str) -> TestGpg {
        // Short: the agent's socket path must fit.
        let dir = tempfile::Builder::new().prefix("gk").tempdir().unwrap();
        let mut g = TestGpg {
            dir,
            fingerprint: String::new(),
        };
        std::fs::create_dir(g.home()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(g.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        g.gpg(&[
            "--batch".as_ref(),
            "--pinentry-mode".as_ref(),
            "loopback".as_ref(),
            "--passphrase".as_ref(),
            "".as_ref(),
            "--quick-generate-key".as_ref(),
            uid.as_ref(),
            "rsa2048".as_ref(),
            "sign".as_ref(),
            "never".as_ref(),
        ]);
        let listing = g.gpg(&[
            "--batch".as_ref(),
            "--with-colons".as_ref(),
            "--list-secret-keys".as_ref(),
        ]);
        g.fingerprint = String::from_utf8(listing.stdout)
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("a fingerprint");
        g
    }

    /// The GnuPG home (for `GNUPGHOME`).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("g")
    }

    /// `gpg --export` (binary, the keyring format Helm reads) into `to`.
    pub fn export_public(&self, to: &Path) {
        std::fs::write(
            to,
            self.gpg(&["--batch".as_ref(), "--export".as_ref()]).stdout,
        )
        .unwrap();
    }

    fn gpg(&self, args: &[&OsStr]) -> Output {
        let out = Command::new("gpg")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GNUPGHOME", self.home())
            .stdin(Stdio::null())
            .output()
            .expect("gpg runs (scripts/test.sh installs GnuPG)");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for TestGpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
