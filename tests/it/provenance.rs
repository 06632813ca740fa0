//! Provenance with a real gpg, each test in its own throwaway GnuPG home: `push --sign` with an
//! agent-held key, from a legacy secret keyring, and with a passphrase-protected key in CI
//! mode; what `helm verify` of Helm 3.17.3 and 4.1.4 makes of the stored `.prov`; and
//! `pull --verify` accepting and refusing. (`helm pull --verify` through `ccr://`, with the
//! plugin installed as users install it, is in scripts/e2e.sh.)

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::*;

/// Fails (never skips) without gpg: scripts/test.sh installs it.
fn gpg_program() -> &'static str {
    let ok = Command::new("gpg")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "gpg is not installed: the provenance tests need GnuPG (scripts/test.sh installs it)"
    );
    "gpg"
}

/// A throwaway GnuPG home (agent-held keys, no secring.gpg); its agent is stopped on drop.
struct GnuPg {
    dir: tempfile::TempDir,
}

impl GnuPg {
    /// An empty home.
    fn empty() -> GnuPg {
        gpg_program();
        let dir = tempfile::Builder::new().prefix("gt").tempdir().unwrap();
        let g = GnuPg { dir };
        std::fs::create_dir(g.home()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(g.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        g
    }

    /// A home with one RSA signing key for `uid`, protected by `passphrase` (empty: none).
    fn with_key(uid: &str, passphrase: &str) -> (GnuPg, String) {
        let g = GnuPg::empty();
        let fpr = g.add_key(uid, passphrase);
        (g, fpr)
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("g")
    }

    /// Runs gpg in this home with a clean environment; asserts success.
    fn gpg(&self, args: &[&OsStr]) -> Output {
        let out = Command::new(gpg_program())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GNUPGHOME", self.home())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Adds a key and returns its fingerprint; then stops the agent so that no passphrase
    /// stays cached.
    fn add_key(&self, uid: &str, passphrase: &str) -> String {
        self.add_key_of(uid, passphrase, "rsa3072")
    }

    /// [`GnuPg::add_key`] with a GnuPG algorithm name (`rsa3072`, `ed25519`, ...).
    fn add_key_of(&self, uid: &str, passphrase: &str, algo: &str) -> String {
        self.gpg(&[
            "--batch".as_ref(),
            "--pinentry-mode".as_ref(),
            "loopback".as_ref(),
            "--passphrase".as_ref(),
            passphrase.as_ref(),
            "--quick-generate-key".as_ref(),
            uid.as_ref(),
            algo.as_ref(),
            "sign".as_ref(),
            "never".as_ref(),
        ]);
        self.kill_agent();
        let listing = self.gpg(&[
            "--batch".as_ref(),
            "--with-colons".as_ref(),
            "--list-secret-keys".as_ref(),
            uid.as_ref(),
        ]);
        String::from_utf8(listing.stdout)
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("a fingerprint")
    }

    /// `gpg --export` (binary: the keyring format Helm reads) into `to`.
    fn export_public(&self, to: &Path, armor: bool) {
        let mut args: Vec<&OsStr> = vec!["--batch".as_ref()];
        if armor {
            args.push("--armor".as_ref());
        }
        args.push("--export".as_ref());
        std::fs::write(to, self.gpg(&args).stdout).unwrap();
    }

    /// `gpg --export-secret-keys` into `to` (a legacy secret keyring, or armored).
    fn export_secret(&self, to: &Path, passphrase: &str, armor: bool) {
        let mut args: Vec<&OsStr> = vec![
            "--batch".as_ref(),
            "--pinentry-mode".as_ref(),
            "loopback".as_ref(),
            "--passphrase".as_ref(),
            passphrase.as_ref(),
        ];
        if armor {
            args.push("--armor".as_ref());
        }
        args.push("--export-secret-keys".as_ref());
        std::fs::write(to, self.gpg(&args).stdout).unwrap();
        self.kill_agent();
    }

    fn kill_agent(&self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for GnuPg {
    fn drop(&mut self) {
        self.kill_agent();
    }
}

/// `helm-ccr` in `w` with this GnuPG home and its own TMPDIR (to see what it leaves there).
fn ccr(w: &World, g: &GnuPg, tmp: &Path) -> assert_cmd::Command {
    let mut c = w.cmd();
    c.env("GNUPGHOME", g.home()).env("TMPDIR", tmp);
    c
}

/// Runs `helm verify` of Helm `major` on `tgz` (its `.prov` beside it); returns stdout.
fn helm_verify(major: u32, home: &Path, tgz: &Path, keyring: &Path) -> String {
    let out = helm_verify_output(major, home, tgz, keyring);
    assert!(
        out.status.success(),
        "helm {major} verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// `helm verify TGZ --keyring KEYRING` in Helm `major`, whatever the outcome.
fn helm_verify_output(major: u32, home: &Path, tgz: &Path, keyring: &Path) -> Output {
    helm_output(
        major,
        home,
        &[
            "verify".as_ref(),
            tgz.as_os_str(),
            "--keyring".as_ref(),
            keyring.as_os_str(),
        ],
    )
}

/// Writes the stored package and its `.prov` into `dir`; returns the package path.
fn stored_pair(w: &World, name: &str, version: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let tgz = dir.join(format!("{name}-{version}.tgz"));
    std::fs::write(&tgz, w.stored(name, version).expect("stored chart")).unwrap();
    let prov = w
        .emu
        .prov_bytes(INSTANCE, NS, name, version)
        .expect("a stored .prov");
    std::fs::write(dir.join(format!("{name}-{version}.tgz.prov")), prov).unwrap();
    tgz
}

/// Both Helms accept the stored pair with `keyring`, naming the signer and the hash.
fn helm_accepts(w: &World, name: &str, version: &str, keyring: &Path, uid: &str, fpr: &str) {
    let dir = w.path(&format!("helm-verify-{name}-{version}"));
    let tgz = stored_pair(w, name, version, &dir);
    let digest = sha256(&std::fs::read(&tgz).unwrap());
    for major in [3, 4] {
        let text = helm_verify(major, w.home.path(), &tgz, keyring);
        assert!(
            text.contains(&format!("Signed by: {uid}")),
            "helm {major}: {text}"
        );
        assert!(
            text.contains(&format!("Using Key With Fingerprint: {fpr}")),
            "helm {major}: {text}"
        );
        assert!(
            text.contains(&format!("Chart Hash Verified: sha256:{digest}")),
            "helm {major}: {text}"
        );
    }
}

/// Processes whose command line names `path` (an agent left running in a temporary home).
fn processes_naming(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                if cmd.contains(&needle) {
                    found.push(cmd);
                }
            }
        }
    }
    found
}

/// Nothing left in the command's TMPDIR, and no agent running from it.
fn assert_cleaned_up(tmp: &Path) {
    assert_eq!(files_below(tmp), Vec::<String>::new(), "left in TMPDIR");
    assert_eq!(
        std::fs::read_dir(tmp).unwrap().count(),
        0,
        "directories left in TMPDIR"
    );
    // gpgconf --kill returns once the agent was told; give it a moment to exit.
    for _ in 0..50 {
        if processes_naming(tmp).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("still running: {:?}", processes_naming(tmp));
}

/// Replaces what changes from run to run.
fn stable(w: &World, text: &str, fprs: &[&str]) -> String {
    let mut t = text.replace(&w.emu.url(), "http://EMULATOR");
    for (i, f) in fprs.iter().enumerate() {
        t = t.replace(f, &format!("FINGERPRINT{}", i + 1));
        // Long key ids are the fingerprint's last 16 digits.
        t = t.replace(&f[f.len() - 16..], &format!("KEYID{}", i + 1));
    }
    if let Some(i) = t.find("request id ") {
        let end = t[i..].find(')').map_or(t.len(), |e| i + e);
        t.replace_range(i..end, "request id ID");
    }
    t.replace(&w.work.path().display().to_string(), "WORK")
}

#[test]
fn push_sign_with_the_agent_key_passes_helm_verify_and_pull_verify() {
    let w = World::new();
    let uid = "Agent Signer <agent@helm-ccr.invalid>";
    let (g, fpr) = GnuPg::with_key(uid, "");
    assert!(
        !g.home().join("secring.gpg").exists(),
        "the key must live with the agent, not in a secring.gpg"
    );
    let tmp = tempfile::tempdir().unwrap();
    let pubring = w.path("pubring.gpg");
    g.export_public(&pubring, false);

    w.write("app-1.0.0.tgz", &chart_tgz("app", "1.0.0", ""));
    let out = ccr(&w, &g, tmp.path())
        .args(["push", "app-1.0.0.tgz", REPO, "--sign"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("signed with key {fpr}")),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.count("POST"), 1, "chart and .prov go in one request");
    assert_cleaned_up(tmp.path());

    // The stored .prov is Helm's format and both Helms accept it.
    let prov = String::from_utf8(w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").unwrap()).unwrap();
    let digest = sha256(&w.stored("app", "1.0.0").unwrap());
    assert!(prov.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"));
    assert!(
        prov.contains(&format!(
            "apiVersion: v2\nappVersion: \"1.0\"\ndescription: test chart app\nname: app\nversion: 1.0.0\n\n...\nfiles:\n  app-1.0.0.tgz: sha256:{digest}\n-----BEGIN PGP SIGNATURE-----"
        )),
        "{prov}"
    );
    helm_accepts(&w, "app", "1.0.0", &pubring, uid, &fpr);

    // helm ccr pull --verify: with --keyring, and with the user's GnuPG keys by default.
    let out = ccr(&w, &g, tmp.path())
        .args([
            "pull",
            &format!("{REPO}/app"),
            "--verify",
            "--keyring",
            "pubring.gpg",
            "-d",
            "k",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_below(&w.path("k")), ["app-1.0.0.tgz"]);
    insta::assert_snapshot!("prov_pull_verify", stable(&w, &stdout(&out), &[&fpr]));
    let out = ccr(&w, &g, tmp.path())
        .args([
            "pull",
            &format!("{REPO}/app"),
            "--verify",
            "--prov",
            "-d",
            "d",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("Signed by: {uid}")));
    assert_eq!(
        files_below(&w.path("d")),
        ["app-1.0.0.tgz", "app-1.0.0.tgz.prov"]
    );
    assert_eq!(
        std::fs::read_to_string(w.path("d/app-1.0.0.tgz.prov")).unwrap(),
        prov
    );
    // Helm's default keyring, ~/.gnupg/pubring.gpg, when GNUPGHOME is not set.
    let dot = w.home.path().join(".gnupg");
    std::fs::create_dir_all(&dot).unwrap();
    std::fs::copy(&pubring, dot.join("pubring.gpg")).unwrap();
    let out = w
        .cmd()
        .env("TMPDIR", tmp.path())
        .args([
            "pull",
            &format!("{REPO}/app"),
            "--verify",
            "--untar",
            "-d",
            "u",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.path("u/app/Chart.yaml").is_file());
    assert_cleaned_up(tmp.path());
}

#[test]
fn push_sign_from_a_legacy_secret_keyring() {
    let w = World::new();
    let uid = "Legacy Signer <legacy@helm-ccr.invalid>";
    let (signer, fpr) = GnuPg::with_key(uid, "");
    let secring = w.path("secring.gpg");
    let pubring = w.path("pubring.gpg");
    let armored = w.path("pubring.asc");
    signer.export_secret(&secring, "", false);
    signer.export_public(&pubring, false);
    signer.export_public(&armored, true);
    drop(signer);
    // The user's own GnuPG home holds no key at all.
    let user = GnuPg::empty();
    let tmp = tempfile::tempdir().unwrap();

    w.write("app-2.0.0.tgz", &chart_tgz("app", "2.0.0", ""));
    let out = ccr(&w, &user, tmp.path())
        .args([
            "push",
            "app-2.0.0.tgz",
            REPO,
            "--sign",
            "--keyring",
            "secring.gpg",
            "--key",
            "Legacy Signer",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&fpr), "{}", stdout(&out));
    // The temporary home it imported into is gone, and so is its agent.
    assert_cleaned_up(tmp.path());
    helm_accepts(&w, "app", "2.0.0", &pubring, uid, &fpr);

    // Verification with the same kinds of keyring Helm takes: secret, binary public, armored.
    for (i, ring) in ["secring.gpg", "pubring.gpg", "pubring.asc"]
        .iter()
        .enumerate()
    {
        let dest = format!("v{i}");
        let out = ccr(&w, &user, tmp.path())
            .args([
                "pull",
                &format!("{REPO}/app"),
                "--verify",
                "--keyring",
                ring,
                "-d",
                &dest,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{ring}: {}", stderr(&out));
        assert!(stdout(&out).contains(&format!("Using Key With Fingerprint: {fpr}")));
        assert_eq!(files_below(&w.path(&dest)), ["app-2.0.0.tgz"]);
        assert_cleaned_up(tmp.path());
    }

    // No key for the name in the keyring: one clear line, nothing uploaded.
    w.write("app-2.1.0.tgz", &chart_tgz("app", "2.1.0", ""));
    let out = ccr(&w, &user, tmp.path())
        .args([
            "push",
            "app-2.1.0.tgz",
            REPO,
            "--sign",
            "--keyring",
            "secring.gpg",
            "--key",
            "someone-else",
        ])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "key \"someone-else\": no secret key");
    // A public keyring cannot sign.
    let out = ccr(&w, &user, tmp.path())
        .args([
            "push",
            "app-2.1.0.tgz",
            REPO,
            "--sign",
            "--keyring",
            "pubring.gpg",
        ])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "holds no secret key");
    assert_eq!(w.versions("app"), ["2.0.0"]);
    assert_cleaned_up(tmp.path());
}

#[test]
fn pull_verify_refuses_and_writes_nothing() {
    let w = World::new();
    let (g, fpr) = GnuPg::with_key("Real Signer <real@helm-ccr.invalid>", "");
    let (other, other_fpr) = GnuPg::with_key("Other Signer <other@helm-ccr.invalid>", "");
    let pubring = w.path("pubring.gpg");
    let other_ring = w.path("other.gpg");
    g.export_public(&pubring, false);
    other.export_public(&other_ring, false);
    let tmp = tempfile::tempdir().unwrap();
    for v in ["1.0.0", "1.1.0"] {
        let file = format!("app-{v}.tgz");
        w.write(&file, &chart_tgz("app", v, ""));
        let out = ccr(&w, &g, tmp.path())
            .args(["push", &file, REPO, "--sign"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    w.write("app-2.0.0.tgz", &chart_tgz("app", "2.0.0", ""));
    w.ok(&["push", "app-2.0.0.tgz", REPO]);
    let signed = w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").unwrap();

    // 1.0.0: the package's bytes changed after signing (the registry's digest follows them).
    w.emu.put_raw_with_prov(
        INSTANCE,
        NS,
        "app",
        "1.0.0",
        chart_tgz("app", "1.0.0", "tampered"),
        signed.clone(),
    );
    // 1.1.0: the .prov itself changed after signing.
    let prov = String::from_utf8(w.emu.prov_bytes(INSTANCE, NS, "app", "1.1.0").unwrap()).unwrap();
    let forged = prov.replace("appVersion: \"1.0\"", "appVersion: \"6.6\"");
    assert_ne!(forged, prov);
    w.emu.put_raw_with_prov(
        INSTANCE,
        NS,
        "app",
        "1.1.0",
        w.stored("app", "1.1.0").unwrap(),
        forged.into_bytes(),
    );

    let mut lines = Vec::new();
    for (case, version, ring, needle) in [
        (
            "changed package",
            "1.0.0",
            &pubring,
            "does not match its provenance file",
        ),
        ("changed .prov", "1.1.0", &pubring, "BAD signature"),
        (
            "key not in the keyring",
            "1.0.0",
            &other_ring,
            "not in the keyring",
        ),
        ("no .prov", "2.0.0", &pubring, "has no provenance file"),
    ] {
        for untar in [false, true] {
            let dest = w.path(&format!("out-{version}-{untar}"));
            let mut args = vec![
                "pull".to_string(),
                format!("{REPO}/app"),
                "--version".into(),
                version.into(),
                "--verify".into(),
                "--keyring".into(),
                ring.display().to_string(),
                "--prov".into(),
                "-d".into(),
                dest.display().to_string(),
            ];
            if untar {
                args.push("--untar".into());
            }
            let out = ccr(&w, &g, tmp.path()).args(&args).output().unwrap();
            assert_one_error(&out, 1, needle);
            assert_eq!(stdout(&out), "", "{case}: nothing on stdout");
            assert_eq!(
                files_below(&dest),
                Vec::<String>::new(),
                "{case}: files written"
            );
            if !untar {
                lines.push(format!("{case}: {}", stderr(&out).trim_end()));
            }
        }
        assert_cleaned_up(tmp.path());
    }
    // A hostile registry's endless .prov is cut off, not read into memory.
    w.emu.put_raw_with_prov(
        INSTANCE,
        NS,
        "app",
        "2.0.1",
        chart_tgz("app", "2.0.1", ""),
        vec![b'-'; 3 << 20],
    );
    let out = ccr(&w, &g, tmp.path())
        .args([
            "pull",
            &format!("{REPO}/app"),
            "--version",
            "2.0.1",
            "--verify",
            "-d",
            "big",
        ])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "larger than 1 MiB");
    assert_eq!(files_below(&w.path("big")), Vec::<String>::new());
    insta::assert_snapshot!(
        "prov_pull_verify_refusals",
        stable(&w, &lines.join("\n"), &[&fpr, &other_fpr])
    );
    // The tampered package also fails Helm's own check: the test's tampering is real.
    let dir = w.path("helm-tampered");
    let tgz = stored_pair(&w, "app", "1.0.0", &dir);
    let out = helm_verify_output(4, w.home.path(), &tgz, &pubring);
    assert!(!out.status.success());
}

#[test]
fn passphrase_protected_key_in_ci_mode_never_leaks_the_passphrase() {
    let w = World::new();
    let pass = "Tr0ub4dor-and-3-horses";
    let uid = "CI Signer <ci@helm-ccr.invalid>";
    let (dev, fpr) = GnuPg::with_key(uid, pass);
    let key_asc = w.path("signing-key.asc");
    dev.export_secret(&key_asc, pass, true);
    let pubring = w.path("pubring.gpg");
    dev.export_public(&pubring, false);
    drop(dev);
    // The CI recipe: a fresh GnuPG home, the armored secret key imported in batch mode.
    let ci = GnuPg::empty();
    ci.gpg(&["--batch".as_ref(), "--import".as_ref(), key_asc.as_os_str()]);
    ci.kill_agent();
    let tmp = tempfile::tempdir().unwrap();
    let pass_file = w.write("passphrase.txt", pass.as_bytes());

    w.write("app-3.0.0.tgz", &chart_tgz("app", "3.0.0", ""));
    let push = |envs: &[(&str, &OsStr)]| {
        let mut c = ccr(&w, &ci, tmp.path());
        c.env("HELM_DEBUG", "true");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.args([
            "push",
            "app-3.0.0.tgz",
            REPO,
            "--sign",
            "--key",
            "ci@helm-ccr.invalid",
        ])
        .output()
        .unwrap()
    };
    let no_secret = |out: &Output, secret: &str| {
        for text in [stdout(out), stderr(out)] {
            assert!(!text.contains(secret), "the passphrase leaked: {text}");
        }
    };

    // Without a passphrase no pinentry can ask (no terminal): a clear line saying what to set.
    let out = push(&[]);
    assert_one_error(&out, 1, "HELM_CCR_GPG_PASSPHRASE_FILE");
    assert!(w.versions("app").is_empty());
    let out = push(&[("HELM_CCR_GPG_PASSPHRASE_FILE", "missing.txt".as_ref())]);
    assert_one_error(&out, 1, "HELM_CCR_GPG_PASSPHRASE_FILE names missing.txt");
    // A wrong passphrase is named as such, and not shown.
    let wrong = w.write("wrong.txt", b"not-the-passphrase");
    let out = push(&[("HELM_CCR_GPG_PASSPHRASE_FILE", wrong.as_os_str())]);
    assert_one_error(&out, 1, "passphrase is wrong");
    no_secret(&out, "not-the-passphrase");
    assert!(w.versions("app").is_empty());

    // HELM_CCR_GPG_PASSPHRASE_FILE: loopback pinentry, the file read by gpg itself.
    let out = push(&[("HELM_CCR_GPG_PASSPHRASE_FILE", pass_file.as_os_str())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[debug] running gpg "),
        "debug output was on"
    );
    assert!(stderr(&out).contains("--pinentry-mode loopback --passphrase-file"));
    no_secret(&out, pass);
    helm_accepts(&w, "app", "3.0.0", &pubring, uid, &fpr);
    assert_cleaned_up(tmp.path());

    // HELM_KEY_PASSPHRASE (Helm's variable), handed to gpg on its stdin.
    ci.kill_agent();
    w.write("app-3.0.1.tgz", &chart_tgz("app", "3.0.1", ""));
    let mut c = ccr(&w, &ci, tmp.path());
    let out = c
        .env("HELM_DEBUG", "true")
        .env("HELM_KEY_PASSPHRASE", pass)
        .args(["push", "app-3.0.1.tgz", REPO, "--sign", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("--passphrase-fd 0"));
    no_secret(&out, pass);
    assert_eq!(w.versions("app"), ["3.0.0"], "--dry-run uploads nothing");
    assert_cleaned_up(tmp.path());
}

#[test]
fn key_choice_dry_run_and_usage() {
    let w = World::new();
    let (g, first) = GnuPg::with_key("First Key <first@helm-ccr.invalid>", "");
    let second = g.add_key("Second Key <second@helm-ccr.invalid>", "");
    let tmp = tempfile::tempdir().unwrap();
    let push = |file: &str, version: &str, env_key: Option<&str>, extra: &[&str]| {
        w.write(file, &chart_tgz("app", version, ""));
        let mut c = ccr(&w, &g, tmp.path());
        if let Some(k) = env_key {
            c.env("HELM_CCR_SIGN_KEY", k);
        }
        c.args(["push", file, REPO, "--sign"])
            .args(extra)
            .output()
            .unwrap()
    };
    // gpg's default key, then HELM_CCR_SIGN_KEY, then --key over it.
    for (version, env_key, extra, want) in [
        ("1.0.0", None, &[][..], &first),
        ("1.0.1", Some("second@helm-ccr.invalid"), &[][..], &second),
        (
            "1.0.2",
            Some("second@helm-ccr.invalid"),
            &["--key", "First Key"][..],
            &first,
        ),
    ] {
        let out = push(&format!("app-{version}.tgz"), version, env_key, extra);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).ends_with(&format!("signed with key {want}\n")),
            "{}",
            stdout(&out)
        );
    }
    // Several charts at once: each gets its own .prov.
    w.write("a-1.0.0.tgz", &chart_tgz("a", "1.0.0", ""));
    w.write("b-1.0.0.tgz", &chart_tgz("b", "1.0.0", ""));
    let out = ccr(&w, &g, tmp.path())
        .args(["push", "a-1.0.0.tgz", "b-1.0.0.tgz", REPO, "--sign"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["a", "b"] {
        let prov = w
            .emu
            .prov_bytes(INSTANCE, NS, name, "1.0.0")
            .expect("a .prov");
        let digest = sha256(&w.stored(name, "1.0.0").unwrap());
        assert!(String::from_utf8(prov)
            .unwrap()
            .contains(&format!("  {name}-1.0.0.tgz: sha256:{digest}\n")));
    }

    // A package file not named NAME-VERSION.tgz: the .prov names it as the registry serves it.
    w.write("release.tgz", &chart_tgz("app", "1.0.3", ""));
    let out = ccr(&w, &g, tmp.path())
        .args(["push", "release.tgz", REPO, "--sign"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ccr(&w, &g, tmp.path())
        .args([
            "pull",
            &format!("{REPO}/app"),
            "--version",
            "1.0.3",
            "--verify",
            "-d",
            "r",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_below(&w.path("r")), ["app-1.0.3.tgz"]);

    // --dry-run signs and prints the .prov's digest; nothing is uploaded.
    let posts = w.count("POST");
    let out = push("app-1.1.0.tgz", "1.1.0", None, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let i = line.find("with app-1.1.0.tgz.prov (sha256:").expect(&line)
        + "with app-1.1.0.tgz.prov (sha256:".len();
    let digest = &line[i..i + 64];
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    insta::assert_snapshot!("prov_push_dry_run", line.replace(digest, "PROV_DIGEST"));
    assert_eq!(w.count("POST"), posts);

    // Refusals: an unknown key, no gpg, flags without their switch.
    let out = push(
        "app-1.2.0.tgz",
        "1.2.0",
        None,
        &["--key", "nobody@helm-ccr.invalid"],
    );
    assert_one_error(&out, 1, "key \"nobody@helm-ccr.invalid\": no secret key");
    let mut lines = vec![stderr(&out)];
    let out = ccr(&w, &g, tmp.path())
        .env("HELM_CCR_GPG", "/nonexistent/gpg")
        .args(["push", "app-1.2.0.tgz", REPO, "--sign"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "/nonexistent/gpg not found");
    lines.push(stderr(&out));
    let keyless = GnuPg::empty();
    let out = ccr(&w, &keyless, tmp.path())
        .args(["push", "app-1.2.0.tgz", REPO, "--sign"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "no secret key");
    lines.push(stderr(&out));
    insta::assert_snapshot!("prov_sign_errors", lines.concat());
    let out = ccr(&w, &g, tmp.path())
        .args(["push", "app-1.2.0.tgz", REPO, "--key", "x"])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "--sign");
    let out = ccr(&w, &g, tmp.path())
        .args(["pull", &format!("{REPO}/app"), "--keyring", "x.gpg"])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "--verify");
    // No keyring at all: Helm's default file does not exist and GNUPGHOME has no keys.
    let empty = GnuPg::empty();
    let out = ccr(&w, &empty, tmp.path())
        .args(["pull", &format!("{REPO}/app"), "--verify", "-d", "none"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "no keyring to verify with");
    assert!(!w.path("none").join("app-1.1.0.tgz").exists());
    assert_eq!(w.versions("app"), ["1.0.0", "1.0.1", "1.0.2", "1.0.3"]);
    // --prov alone keeps the registry's bytes as they are.
    let out = ccr(&w, &g, tmp.path())
        .args([
            "pull",
            &format!("{REPO}/app"),
            "--version",
            "1.0.1",
            "--prov",
            "-d",
            "p",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(w.path("p/app-1.0.1.tgz.prov")).unwrap(),
        w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.1").unwrap()
    );
    assert_cleaned_up(tmp.path());
}

#[test]
fn eddsa_keys_sign_with_a_warning_that_helm_3_cannot_check_them() {
    let w = World::new();
    let g = GnuPg::empty();
    let uid = "Ed Signer <ed@helm-ccr.invalid>";
    let fpr = g.add_key_of(uid, "", "ed25519");
    let pubring = w.path("pubring.gpg");
    g.export_public(&pubring, false);
    let tmp = tempfile::tempdir().unwrap();
    w.write("app-1.0.0.tgz", &chart_tgz("app", "1.0.0", ""));
    let out = ccr(&w, &g, tmp.path())
        .args(["push", "app-1.0.0.tgz", REPO, "--sign"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("Warning: app-1.0.0.tgz is signed with an EdDSA key: Helm 3 cannot check it"),
        "{}",
        stderr(&out)
    );
    // What the warning says: Helm 4 and helm ccr accept it, Helm 3 does not.
    let dir = w.path("pair");
    let tgz = stored_pair(&w, "app", "1.0.0", &dir);
    let text = helm_verify(4, w.home.path(), &tgz, &pubring);
    assert!(
        text.contains(&format!("Using Key With Fingerprint: {fpr}")),
        "{text}"
    );
    let h3 = helm_verify_output(3, w.home.path(), &tgz, &pubring);
    assert!(
        !h3.status.success(),
        "Helm 3 now checks EdDSA: drop the warning"
    );
    let out = ccr(&w, &g, tmp.path())
        .args([
            "pull",
            &format!("{REPO}/app"),
            "--verify",
            "--keyring",
            "pubring.gpg",
            "-d",
            "d",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("Signed by: {uid}")));
}
