//! Release engineering: one version in every file that names it (and `scripts/bump-version.sh`
//! keeps it so), and what `scripts/dist.sh` puts into the plugin package and the platform assets.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::common::repo_root;

fn read(root: &Path, file: &str) -> String {
    fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// `version = "…"` of Cargo.toml's [package] table.
fn cargo_toml_version(text: &str) -> Option<String> {
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(v) = line.strip_prefix("version") {
                let v = v.trim_start().strip_prefix('=')?.trim();
                return Some(v.trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The version of the `helm-ccr` package in Cargo.lock.
fn cargo_lock_version(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"helm-ccr\"" {
            let v = lines.next()?.strip_prefix("version = ")?;
            return Some(v.trim_matches('"').to_string());
        }
    }
    None
}

fn manifest_version(text: &str) -> Option<String> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).ok()?;
    doc["version"].as_str().map(str::to_string)
}

/// The serve chart's `appVersion` (the image tag it deploys by default).
fn chart_app_version(text: &str) -> Option<String> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).ok()?;
    doc["appVersion"].as_str().map(str::to_string)
}

/// The newest released section of CHANGELOG.md: `## [X.Y.Z] - YYYY-MM-DD`.
fn changelog_version(text: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("## [") && !l.starts_with("## [Unreleased]"))?;
    let (version, date) = line.strip_prefix("## [")?.split_once("] - ")?;
    let date_ok = date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    date_ok.then(|| version.to_string())
}

/// Where the version is written down, and what each place says.
fn versions(root: &Path) -> BTreeMap<&'static str, Option<String>> {
    BTreeMap::from([
        ("Cargo.toml", cargo_toml_version(&read(root, "Cargo.toml"))),
        ("Cargo.lock", cargo_lock_version(&read(root, "Cargo.lock"))),
        ("plugin.yaml", manifest_version(&read(root, "plugin.yaml"))),
        (
            "getter/ccr-getter.yaml",
            manifest_version(&read(root, "getter/ccr-getter.yaml")),
        ),
        (
            "deploy/helm-ccr-serve/Chart.yaml (appVersion)",
            chart_app_version(&read(root, "deploy/helm-ccr-serve/Chart.yaml")),
        ),
        (
            "CHANGELOG.md",
            changelog_version(&read(root, "CHANGELOG.md")),
        ),
    ])
}

/// The one version, or a message naming what disagrees.
fn one_version(root: &Path) -> Result<String, String> {
    let all = versions(root);
    let first = all["Cargo.toml"].clone();
    if all.values().all(|v| v.is_some() && *v == first) {
        Ok(first.unwrap())
    } else {
        Err(format!(
            "the version differs between files (scripts/bump-version.sh X.Y.Z sets them all): {all:?}"
        ))
    }
}

#[test]
fn one_version_in_cargo_manifests_plugin_manifests_and_changelog() {
    let v = one_version(&repo_root()).unwrap_or_else(|e| panic!("{e}"));
    // Helm 4 refuses a plugin whose version is not strict SemVer.
    semver::Version::parse(&v).unwrap();
    // The built binary says the same.
    let out = Command::new(env!("CARGO_BIN_EXE_helm-ccr"))
        .arg("version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&v),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The files bump-version.sh edits, copied into a scratch checkout.
fn scratch_checkout() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("getter")).unwrap();
    fs::create_dir_all(tmp.path().join("deploy/helm-ccr-serve")).unwrap();
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "plugin.yaml",
        "getter/ccr-getter.yaml",
        "deploy/helm-ccr-serve/Chart.yaml",
        "CHANGELOG.md",
    ] {
        fs::copy(repo_root().join(f), tmp.path().join(f)).unwrap();
    }
    tmp
}

fn bump(root: &Path, version: &str) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("scripts/bump-version.sh"))
        .arg(version)
        .env("HELM_CCR_ROOT", root)
        .env("TODAY", "2031-02-03")
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn version_check_names_a_file_that_disagrees() {
    let tmp = scratch_checkout();
    let text = read(tmp.path(), "getter/ccr-getter.yaml");
    let old = manifest_version(&text).unwrap();
    fs::write(
        tmp.path().join("getter/ccr-getter.yaml"),
        text.replace(&format!("version: \"{old}\""), "version: \"9.8.7\""),
    )
    .unwrap();
    let err = one_version(tmp.path()).unwrap_err();
    assert!(
        err.contains("9.8.7") && err.contains("getter/ccr-getter.yaml"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn bump_version_changes_every_place_and_nothing_else() {
    let tmp = scratch_checkout();
    let old = one_version(tmp.path()).unwrap();
    let out = bump(tmp.path(), "12.3.4-rc.1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(one_version(tmp.path()), Ok("12.3.4-rc.1".to_string()));

    // Only the version lines changed (and CHANGELOG.md gained its heading and link).
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "plugin.yaml",
        "getter/ccr-getter.yaml",
        "deploy/helm-ccr-serve/Chart.yaml",
    ] {
        let before = read(&repo_root(), f);
        let after = read(tmp.path(), f);
        let changed: Vec<(&str, &str)> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(before.lines().count(), after.lines().count(), "{f}");
        assert_eq!(changed.len(), 1, "{f}: {changed:?}");
        assert!(changed[0].0.contains(&old) && changed[0].1.contains("12.3.4-rc.1"));
    }
    let log = read(tmp.path(), "CHANGELOG.md");
    let unreleased = log.find("## [Unreleased]").unwrap();
    let new = log.find("## [12.3.4-rc.1] - 2031-02-03").unwrap();
    let previous = log.find(&format!("## [{old}]")).unwrap();
    assert!(unreleased < new && new < previous, "{log}");
    assert!(log.contains("/compare/v12.3.4-rc.1...HEAD"), "{log}");
    assert!(log.contains("[12.3.4-rc.1]: https://"), "{log}");

    // Running it again for the same version changes nothing more.
    let again = bump(tmp.path(), "12.3.4-rc.1");
    assert!(again.status.success());
    assert_eq!(read(tmp.path(), "CHANGELOG.md"), log);
}

#[cfg(unix)]
#[test]
fn bump_version_refuses_a_version_helm_would_refuse() {
    let tmp = scratch_checkout();
    for bad in ["v1.2.3", "1.2", "1.2.3.4", "01.2.3", ""] {
        let out = bump(tmp.path(), bad);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error:"),
            "{bad}"
        );
    }
    for f in ["Cargo.toml", "Cargo.lock", "plugin.yaml", "CHANGELOG.md"] {
        assert_eq!(read(tmp.path(), f), read(&repo_root(), f), "{f} changed");
    }
}

/// scripts/dist.sh, with a stand-in binary (no release build): the assets, the plugin package
/// and the lists of checksums.
#[cfg(unix)]
mod dist {
    use super::*;

    struct Dist {
        tmp: tempfile::TempDir,
    }

    impl Dist {
        fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            fs::write(tmp.path().join("helm-ccr"), "#!/bin/sh\necho stand-in\n").unwrap();
            Dist { tmp }
        }

        fn dir(&self) -> PathBuf {
            self.tmp.path().join("dist")
        }

        fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
            let mut cmd = Command::new("bash");
            cmd.arg(repo_root().join("scripts/dist.sh"))
                .args(args)
                .env("HELM_CCR_DIST_DIR", self.dir())
                .env("HELM_CCR_DIST_BINARY", self.tmp.path().join("helm-ccr"))
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .env("TMPDIR", self.tmp.path())
                .env_remove("HELM_CCR_SIGN_KEY")
                .env_remove("HELM_CCR_KEYRING")
                .env_remove("HELM_CCR_DIST_PLATFORMS");
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.output().unwrap()
        }

        fn ok(&self, args: &[&str], env: &[(&str, &str)]) {
            let out = self.run(args, env);
            assert!(
                out.status.success(),
                "dist.sh {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// (path, mode, mtime, bytes) of every entry, in archive order.
    fn entries(tgz: &Path) -> Vec<(String, u32, u64, Vec<u8>)> {
        let gz = flate2::read::GzDecoder::new(fs::File::open(tgz).unwrap());
        let mut ar = tar::Archive::new(gz);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                assert_eq!(h.entry_type(), tar::EntryType::Regular);
                assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    data,
                )
            })
            .collect()
    }

    fn sha256_file(p: &Path) -> String {
        hex::encode(Sha256::digest(fs::read(p).unwrap()))
    }

    fn host_platform() -> &'static str {
        match (std::env::consts::OS, std::env::consts::ARCH) {
            ("linux", "x86_64") => "linux-amd64",
            ("linux", "aarch64") => "linux-arm64",
            ("macos", "x86_64") => "darwin-amd64",
            ("macos", "aarch64") => "darwin-arm64",
            other => panic!("no release platform for {other:?}"),
        }
    }

    #[test]
    fn assets_plugin_package_and_checksums() {
        let v = one_version(&repo_root()).unwrap();
        let d = Dist::new();
        // The host asset, and one named by a Rust target (Windows: helm-ccr.exe).
        d.ok(&["build"], &[]);
        d.ok(&["build", "x86_64-pc-windows-msvc"], &[]);
        d.ok(&["package"], &[]);

        let host = d
            .dir()
            .join(format!("helm-ccr-{v}-{}.tar.gz", host_platform()));
        let windows = d.dir().join(format!("helm-ccr-{v}-windows-amd64.tar.gz"));
        let names = |p: &Path| -> Vec<(String, u32)> {
            entries(p).into_iter().map(|(n, m, _, _)| (n, m)).collect()
        };
        assert_eq!(
            names(&host),
            [
                ("helm-ccr".to_string(), 0o755),
                ("LICENSE".to_string(), 0o644),
                ("README.md".to_string(), 0o644)
            ]
        );
        assert_eq!(names(&windows)[0], ("helm-ccr.exe".to_string(), 0o755));

        // The plugin package: ccr/plugin.yaml first and the only plugin.yaml, no sources.
        let tgz = d.dir().join(format!("ccr-{v}.tgz"));
        let pkg = entries(&tgz);
        let paths: Vec<&str> = pkg.iter().map(|(n, _, _, _)| n.as_str()).collect();
        assert_eq!(
            paths,
            [
                "ccr/plugin.yaml",
                "ccr/CHANGELOG.md",
                "ccr/LICENSE",
                "ccr/README.md",
                "ccr/checksums.txt",
                "ccr/completion.yaml",
                "ccr/getter/ccr-getter.yaml",
                "ccr/install-binary.sh",
                "ccr/plugin.complete"
            ]
        );
        assert_eq!(
            paths.iter().filter(|p| p.ends_with("/plugin.yaml")).count(),
            1
        );
        for (name, mode, mtime, data) in &pkg {
            assert_eq!(*mtime, 1_700_000_000, "{name}");
            let want = if name.ends_with(".sh") || name.ends_with("/plugin.complete") {
                0o755
            } else {
                0o644
            };
            assert_eq!(*mode, want, "{name}");
            if let Some(file) = name.strip_prefix("ccr/").filter(|f| *f != "checksums.txt") {
                assert_eq!(data, &fs::read(repo_root().join(file)).unwrap(), "{name}");
            }
        }
        // checksums.txt: every platform asset of this version, nothing else.
        let checksums = String::from_utf8(pkg[4].3.clone()).unwrap();
        let mut want = vec![
            format!(
                "{}  {}",
                sha256_file(&host),
                host.file_name().unwrap().to_str().unwrap()
            ),
            format!(
                "{}  helm-ccr-{v}-windows-amd64.tar.gz",
                sha256_file(&windows)
            ),
        ];
        want.sort_by(|a, b| a[66..].cmp(&b[66..]));
        assert_eq!(checksums, want.join("\n") + "\n");

        // sha256sums.txt: the assets and the plugin package (no .prov without a key).
        let sums = read(&d.dir(), "sha256sums.txt");
        assert_eq!(sums.lines().count(), 3, "{sums}");
        assert!(sums.contains(&format!("{}  ccr-{v}.tgz\n", sha256_file(&tgz))));
        for line in want {
            assert!(sums.contains(&line), "{sums}");
        }
        assert!(!d.dir().join(format!("ccr-{v}.tgz.prov")).exists());

        // Reproducible: the same inputs give the same bytes.
        let first = fs::read(&tgz).unwrap();
        let first_asset = fs::read(&host).unwrap();
        d.ok(&["build"], &[]);
        d.ok(&["package"], &[]);
        assert_eq!(fs::read(&tgz).unwrap(), first);
        assert_eq!(fs::read(&host).unwrap(), first_asset);
    }

    #[test]
    fn package_insists_on_the_named_platforms_and_a_working_key() {
        let d = Dist::new();
        let out = d.run(&["package"], &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no helm-ccr-"));

        d.ok(&["build"], &[]);
        let out = d.run(
            &["package"],
            &[("HELM_CCR_DIST_PLATFORMS", "linux-amd64 linux-arm64")],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("HELM_CCR_DIST_PLATFORMS"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d.ok(
            &["package"],
            &[("HELM_CCR_DIST_PLATFORMS", host_platform())],
        );

        // A key that is not there: an error, and no .prov.
        let empty = d.tmp.path().join("empty.gpg");
        fs::write(&empty, "").unwrap();
        let gnupg = d.tmp.path().join("gnupg");
        fs::create_dir_all(&gnupg).unwrap();
        let out = d.run(
            &["package"],
            &[
                ("HELM_CCR_SIGN_KEY", "nobody@helm-ccr.invalid"),
                ("HELM_CCR_KEYRING", empty.to_str().unwrap()),
                ("GNUPGHOME", gnupg.to_str().unwrap()),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("could not sign"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = one_version(&repo_root()).unwrap();
        assert!(!d.dir().join(format!("ccr-{v}.tgz.prov")).exists());
        assert!(!d.dir().join("helm-ccr-release-key.gpg").exists());
    }

    #[test]
    fn release_notes_are_the_changelog_section_of_the_version() {
        let v = one_version(&repo_root()).unwrap();
        let d = Dist::new();
        let out = d.run(&["notes"], &[]);
        assert!(out.status.success());
        let notes = String::from_utf8(out.stdout).unwrap();
        let log = read(&repo_root(), "CHANGELOG.md");
        let start = log.find(&format!("## [{v}]")).unwrap();
        let section = &log[start..];
        let body = section.split_once('\n').unwrap().1;
        assert!(body.trim_start().starts_with(notes.trim()), "{notes}");
        assert!(!notes.contains("## ["), "{notes}");
        assert!(!notes.contains("]: https://"), "{notes}");
        assert_eq!(
            String::from_utf8(d.run(&["version"], &[]).stdout).unwrap(),
            format!("{v}\n")
        );
    }
}
