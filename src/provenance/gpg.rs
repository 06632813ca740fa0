//! GnuPG as a subprocess (`$HELM_CCR_GPG`, default `gpg`): clear-signing a provenance message
//! with the user's keys (agent, pinentry, smart cards, a loopback passphrase in CI), and
//! checking one against a keyring. No OpenPGP is parsed here: gpg reports through
//! `--status-fd`, whose lines ([`judge_signature`], [`judge_signing`]) decide.
//!
//! - Signing uses the user's GnuPG home as it is, or, with a legacy secret keyring file
//!   (`--keyring secring.gpg`), a temporary home the file is imported into; its agent is
//!   stopped and the home removed afterwards.
//! - Verifying always runs in a temporary home with `--no-autostart`, so gpg never talks to
//!   the user's agent and writes nothing to the user's home: the keyring is read in place
//!   (`--keyring`, for a legacy `pubring.gpg` or a keybox) or imported (armored exports,
//!   secret keyrings).
//!
//! Passphrases reach gpg by file name (`HELM_CCR_GPG_PASSPHRASE_FILE`) or through its stdin
//! (`HELM_KEY_PASSPHRASE`, Helm's variable); never on its command line, in output or in logs.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use crate::settings::env::Env;
use crate::ui::output::Output;

mod status;
use status::{colon_user_ids, import_counts, judge_signing, reason_suffix, ImportCounts};
pub use status::{judge_signature, SignatureProblem};

/// How gpg gets the key's passphrase.
#[derive(Clone)]
enum Passphrase {
    /// The agent asks (pinentry), or the key needs none.
    Agent,
    /// `--pinentry-mode loopback --passphrase-file FILE`.
    File(PathBuf),
    /// `--pinentry-mode loopback --passphrase-fd 0`, written to gpg's stdin.
    Value(String),
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Passphrase::Agent => f.write_str("Agent"),
            Passphrase::File(p) => write!(f, "File({})", p.display()),
            Passphrase::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

/// The gpg program and how to run it.
#[derive(Debug, Clone)]
pub struct Gpg {
    program: String,
    passphrase: Passphrase,
    /// The user's GnuPG home (`$GNUPGHOME`, else `~/.gnupg`).
    user_home: Option<PathBuf>,
    out: Output,
}

/// A clear-signed message.
#[derive(Debug, Clone)]
pub struct Signed {
    pub text: Vec<u8>,
    /// Fingerprint of the key that signed (upper-case hex).
    pub fingerprint: String,
    /// OpenPGP public-key algorithm number (1 RSA, 17 DSA, 19 ECDSA, 22 EdDSA).
    pub algorithm: u32,
}

/// A signature gpg found good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodSignature {
    /// Fingerprint of the signing key (a subkey or the primary key).
    pub signing_fingerprint: String,
    /// Fingerprint of the primary key, which `helm verify` prints.
    pub primary_fingerprint: String,
    /// The user id gpg names in `GOODSIG`.
    pub user_id: String,
}

/// The outcome of checking a clear-signed message.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signed text, as gpg recovered it.
    pub text: String,
    pub signature: GoodSignature,
    /// Every user id of the signing key, in keyring order.
    pub identities: Vec<String>,
}

/// What a gpg run left.
struct Run {
    success: bool,
    /// `--status-fd 1` lines.
    status: String,
    stderr: String,
}

/// A throwaway directory for one operation, with a GnuPG home (mode 0700) inside; an agent
/// started in that home is stopped before the directory goes.
struct TempHome {
    dir: tempfile::TempDir,
    /// The GnuPG home: `DIR/g`.
    gnupg: PathBuf,
    gpgconf: PathBuf,
    agent: bool,
}

impl TempHome {
    fn new(gpg: &str) -> Result<TempHome> {
        // Short names: the agent's socket path must stay under ~100 bytes.
        let dir = tempfile::Builder::new()
            .prefix("hccr-")
            .tempdir()
            .context("creating a temporary GnuPG home")?;
        let gnupg = dir.path().join("g");
        std::fs::create_dir(&gnupg).context("creating a temporary GnuPG home")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for d in [dir.path(), gnupg.as_path()] {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                    .context("restricting the temporary GnuPG home")?;
            }
        }
        let gpgconf = match Path::new(gpg).parent() {
            Some(p) if !p.as_os_str().is_empty() && p.join("gpgconf").is_file() => {
                p.join("gpgconf")
            }
            _ => PathBuf::from("gpgconf"),
        };
        Ok(TempHome {
            dir,
            gnupg,
            gpgconf,
            agent: false,
        })
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        if self.agent {
            let _ = Command::new(&self.gpgconf)
                .arg("--homedir")
                .arg(&self.gnupg)
                .args(["--kill", "gpg-agent"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Keybox files (`pubring.kbx`) start with a header blob whose magic is at offset 8.
fn is_keybox(bytes: &[u8]) -> bool {
    bytes.get(8..12) == Some(b"KBXf")
}

impl Gpg {
    /// `HELM_CCR_GPG` (default `gpg`), the passphrase settings, and the user's GnuPG home.
    pub fn from_env(env: &Env, out: Output) -> Gpg {
        let passphrase = if let Some(f) = env.gpg_passphrase_file() {
            Passphrase::File(PathBuf::from(f))
        } else if let Some(v) = env.get("HELM_KEY_PASSPHRASE") {
            Passphrase::Value(v.to_string())
        } else {
            Passphrase::Agent
        };
        let user_home = env
            .get("GNUPGHOME")
            .map(PathBuf::from)
            .or_else(|| env.home().map(|h| h.join(".gnupg")));
        Gpg {
            program: env.gpg_program().to_string(),
            passphrase,
            user_home,
            out,
        }
    }

    /// Runs gpg with `args`, stdin fed with `input`. Logs the command line (which never holds
    /// a secret) and gpg's messages in debug mode.
    fn run(&self, args: &[OsString], input: Option<&[u8]>) -> Result<Run> {
        let shown: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        self.out
            .debug(&format!("running {} {}", self.program, shown.join(" ")));
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    anyhow!(
                        "{} not found: install GnuPG, or set HELM_CCR_GPG to the gpg program",
                        self.program
                    )
                } else {
                    anyhow!("running {}: {e}", self.program)
                }
            })?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            // Small (a passphrase line); gpg reads it before writing much.
            let _ = stdin.write_all(bytes);
        }
        let output = child
            .wait_with_output()
            .with_context(|| format!("waiting for {}", self.program))?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            self.out
                .debug(&format!("gpg: {}", line.trim_start_matches("gpg: ")));
        }
        Ok(Run {
            success: output.status.success(),
            status: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        })
    }

    /// The loopback arguments and stdin for the passphrase settings.
    fn passphrase_args(&self, args: &mut Vec<OsString>) -> Option<Vec<u8>> {
        match &self.passphrase {
            Passphrase::Agent => None,
            Passphrase::File(f) => {
                args.extend(["--pinentry-mode".into(), "loopback".into()]);
                args.push("--passphrase-file".into());
                args.push(f.clone().into());
                None
            }
            Passphrase::Value(v) => {
                args.extend(["--pinentry-mode".into(), "loopback".into()]);
                args.extend(["--passphrase-fd".into(), "0".into()]);
                Some(format!("{v}\n").into_bytes())
            }
        }
    }

    /// Imports a key file into `home`'s GnuPG home. Public keys need no agent; a file with
    /// secret keys (wanted for signing, or a secret keyring given for verification, whose
    /// public parts come along) is imported with an agent of that home's own.
    fn import(
        &self,
        home: &mut TempHome,
        file: &Path,
        secret_wanted: bool,
    ) -> Result<ImportCounts> {
        let mut args: Vec<OsString> = vec![
            "--homedir".into(),
            home.gnupg.clone().into(),
            "--batch".into(),
            "--no-tty".into(),
            "--status-fd".into(),
            "1".into(),
        ];
        if secret_wanted {
            home.agent = true;
        } else {
            args.push("--no-autostart".into());
        }
        args.push("--import".into());
        args.push(file.into());
        let mut run = self.run(&args, None)?;
        let mut counts = import_counts(&run.status);
        if !secret_wanted && counts.secret_read > 0 {
            home.agent = true;
            args.retain(|a| a != "--no-autostart");
            run = self.run(&args, None)?;
            counts = import_counts(&run.status);
        }
        if counts.imported + counts.unchanged == 0 {
            bail!(
                "keyring {} holds no OpenPGP key gpg could read{}",
                file.display(),
                reason_suffix(&run.stderr)
            );
        }
        Ok(counts)
    }

    /// Clear-signs `message` with SHA-512, as Helm's provenance needs. `key` picks the key
    /// (`--local-user`); `secret_keyring` is a legacy secret keyring file to sign from
    /// instead of the user's GnuPG home.
    pub fn clearsign(
        &self,
        message: &str,
        key: Option<&str>,
        secret_keyring: Option<&Path>,
    ) -> Result<Signed> {
        if let Passphrase::File(f) = &self.passphrase {
            if !f.is_file() {
                bail!(
                    "HELM_CCR_GPG_PASSPHRASE_FILE names {}, which is not a file",
                    f.display()
                );
            }
        }
        let mut home = TempHome::new(&self.program)?;
        let msg = home.file("message");
        let signed = home.file("message.asc");
        std::fs::write(&msg, message).context("writing the provenance message")?;
        let mut args: Vec<OsString> = Vec::new();
        if let Some(ring) = secret_keyring {
            if !ring.is_file() {
                bail!("keyring {}: no such file", ring.display());
            }
            let counts = self.import(&mut home, ring, true)?;
            if counts.secret_imported + counts.secret_dups == 0 {
                bail!(
                    "keyring {} holds no secret key: signing with --keyring needs a secret keyring (gpg --export-secret-keys)",
                    ring.display()
                );
            }
            args.extend(["--homedir".into(), home.gnupg.clone().into()]);
        }
        args.extend([
            "--batch".into(),
            "--status-fd".into(),
            "1".into(),
            "--digest-algo".into(),
            "SHA512".into(),
        ]);
        if let Some(k) = key {
            args.extend(["--local-user".into(), k.into()]);
        }
        let input = self.passphrase_args(&mut args);
        args.extend(["--output".into(), signed.clone().into()]);
        args.push("--clearsign".into());
        args.push(msg.into());
        let run = self.run(&args, input.as_deref())?;
        let (fingerprint, algorithm) = judge_signing(&run.status, run.success, &run.stderr, key)
            .map_err(|e| anyhow!("gpg could not sign: {e}"))?;
        let text = std::fs::read(&signed).context("reading gpg's signature")?;
        drop(home);
        Ok(Signed {
            text,
            fingerprint,
            algorithm,
        })
    }

    /// Checks a clear-signed message against `keyring` (a file: legacy `pubring.gpg`, keybox,
    /// armored export or secret keyring), or by default Helm's default keyring
    /// (`$GNUPGHOME/pubring.gpg` or `~/.gnupg/pubring.gpg`) plus the user's GnuPG public keys
    /// (`pubring.kbx` there), read in place.
    pub fn verify(&self, signed: &[u8], keyring: Option<&Path>) -> Result<Verified> {
        let mut home = TempHome::new(&self.program)?;
        let rings = match keyring {
            Some(file) => vec![file.to_path_buf()],
            None => self.default_keyrings()?,
        };
        let direct = self.take_keyrings(&mut home, &rings, keyring.is_some())?;
        let base = verify_options(&home, &direct);
        let input = home.file("in.prov");
        let plain = home.file("out.txt");
        std::fs::write(&input, signed).context("writing the provenance file")?;
        let mut args = base.clone();
        args.extend([
            "--output".into(),
            plain.clone().into(),
            "--decrypt".into(),
            input.into(),
        ]);
        let run = self.run(&args, None)?;
        let good = judge_signature(&run.status).map_err(|e| match e {
            SignatureProblem::NoPublicKey(k) => {
                let names: Vec<String> = rings.iter().map(|r| r.display().to_string()).collect();
                anyhow!(
                    "the provenance file is signed by key {k}, which is not in the keyring ({})",
                    names.join(", ")
                )
            }
            other => anyhow!("{other}"),
        })?;
        if !run.success {
            bail!(
                "gpg could not check the provenance file{}",
                reason_suffix(&run.stderr)
            );
        }
        let text = std::fs::read(&plain).context("reading the signed text")?;
        let text = String::from_utf8(text)
            .map_err(|_| anyhow!("the signed text of the provenance file is not UTF-8"))?;
        let identities = self.identities(base, &good)?;
        drop(home);
        Ok(Verified {
            text,
            signature: good,
            identities,
        })
    }

    /// Makes `rings` available to a verification in `home`: the keyboxes (and, by default, the
    /// user's own binary keyrings) are read in place and returned; anything else (armored, or
    /// perhaps secret keys) is imported.
    fn take_keyrings(
        &self,
        home: &mut TempHome,
        rings: &[PathBuf],
        given: bool,
    ) -> Result<Vec<PathBuf>> {
        let mut direct = Vec::new();
        for ring in rings {
            let bytes = std::fs::read(ring)
                .with_context(|| format!("reading keyring {}", ring.display()))?;
            let binary = bytes.first().is_some_and(|b| b & 0x80 != 0);
            if is_keybox(&bytes) || (!given && binary) {
                direct.push(std::path::absolute(ring).unwrap_or_else(|_| ring.clone()));
            } else {
                self.import(home, ring, false)?;
            }
        }
        Ok(direct)
    }

    /// The signer's user ids as its key lists them; the one in the signature when the listing
    /// gives none.
    fn identities(&self, base: Vec<OsString>, good: &GoodSignature) -> Result<Vec<String>> {
        let mut list = base;
        list.extend([
            "--with-colons".into(),
            "--fixed-list-mode".into(),
            "--list-keys".into(),
            good.primary_fingerprint.clone().into(),
        ]);
        let listed = self.run(&list, None)?;
        let mut identities = if listed.success {
            colon_user_ids(&listed.status)
        } else {
            Vec::new()
        };
        if identities.is_empty() {
            identities.push(good.user_id.clone());
        }
        Ok(identities)
    }

    /// Helm's default keyring and the user's GnuPG public keys, those that exist.
    fn default_keyrings(&self) -> Result<Vec<PathBuf>> {
        let Some(home) = &self.user_home else {
            bail!("no keyring to verify with (HOME and GNUPGHOME are unset): pass --keyring FILE");
        };
        let found: Vec<PathBuf> = ["pubring.gpg", "pubring.kbx"]
            .iter()
            .map(|f| home.join(f))
            .filter(|p| p.is_file())
            .collect();
        if found.is_empty() {
            bail!(
                "no keyring to verify with: neither {} nor {} exists; pass --keyring FILE (e.g. gpg --export KEY > pubring.gpg)",
                home.join("pubring.gpg").display(),
                home.join("pubring.kbx").display()
            );
        }
        Ok(found)
    }
}

/// The gpg options of a verification in `home`: batch, no agent, no key fetching, status on
/// fd 1; with keyrings read in place, only those and the home's own.
fn verify_options(home: &TempHome, direct: &[PathBuf]) -> Vec<OsString> {
    let mut base: Vec<OsString> = vec![
        "--homedir".into(),
        home.gnupg.clone().into(),
        "--batch".into(),
        "--no-tty".into(),
        "--no-autostart".into(),
        "--lock-never".into(),
        "--trust-model".into(),
        "always".into(),
        "--no-auto-key-retrieve".into(),
        "--status-fd".into(),
        "1".into(),
    ];
    if !direct.is_empty() {
        base.push("--no-default-keyring".into());
        let own = home.gnupg.join("pubring.kbx");
        if own.is_file() {
            base.extend(["--keyring".into(), own.into()]);
        }
        for d in direct {
            base.extend(["--keyring".into(), d.clone().into()]);
        }
    }
    base
}

#[cfg(test)]
mod tests;
