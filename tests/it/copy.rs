//! `helm ccr copy` between namespaces and between instances with their own credentials (byte
//! for byte, with the `.prov`, checked by the real `helm verify`), idempotent re-runs, `--all`,
//! `--dry-run`, `--force`, bad input; and the air-gap export `helm ccr pull REPO --all -d DIR`.

use std::path::Path;

use ccr_emulator::{Config, Fault, Key};

use crate::common::*;

const AK2: &str = "other-ak-0002";
const SK2: &str = "other-sk-secret-0002";
const PROD: &str = "ccr://ccr-test/prod";

/// Pushes `name-version` signed with `g`'s key to `REPO`.
fn push_signed(w: &World, g: &TestGpg, name: &str, version: &str) {
    let file = format!("{name}-{version}.tgz");
    w.write(&file, &chart_tgz(name, version, ""));
    let out = w
        .cmd()
        .env("GNUPGHOME", g.home())
        .args(["push", &file, REPO, "--sign"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Stores `name-version` directly in the emulator (test setup, no requests counted later).
fn put(w: &World, instance: &str, ns: &str, name: &str, version: &str, extra: &str) -> Vec<u8> {
    let bytes = chart_tgz(name, version, extra);
    w.emu.put_raw(instance, ns, name, version, bytes.clone());
    bytes
}

/// Uploads the emulator saw since its request log was cleared.
fn uploads(w: &World) -> usize {
    w.count("POST")
}

/// The package and `.prov` stored at `instance/ns`, written into `dir`, then `helm verify`
/// (Helm 4) with `g`'s public key: asserts it passes.
fn helm_verify_stored(w: &World, g: &TestGpg, instance: &str, ns: &str, name: &str, version: &str) {
    let dir = w.path(&format!("verify-{instance}-{ns}"));
    std::fs::create_dir_all(&dir).unwrap();
    let tgz = dir.join(format!("{name}-{version}.tgz"));
    std::fs::write(
        &tgz,
        w.emu.chart_bytes(instance, ns, name, version).unwrap(),
    )
    .unwrap();
    let prov = w
        .emu
        .prov_bytes(instance, ns, name, version)
        .expect("the .prov was copied");
    std::fs::write(dir.join(format!("{name}-{version}.tgz.prov")), prov).unwrap();
    let keyring = w.path("pubring.gpg");
    g.export_public(&keyring);
    let home = w.path("helm-home");
    let out = run_helm(
        4,
        &home,
        &[
            "verify".as_ref(),
            tgz.as_os_str(),
            "--keyring".as_ref(),
            keyring.as_os_str(),
        ],
    );
    assert!(
        stdout(&out).contains("Chart Hash Verified"),
        "{}",
        stdout(&out)
    );
}

fn same_bytes(w: &World, (i1, n1): (&str, &str), (i2, n2): (&str, &str), name: &str, v: &str) {
    let a = w.emu.chart_bytes(i1, n1, name, v).expect("source package");
    let b = w
        .emu
        .chart_bytes(i2, n2, name, v)
        .unwrap_or_else(|| panic!("{name} {v} missing at {i2}/{n2}"));
    assert_eq!(sha256(&a), sha256(&b), "{name} {v}: digests differ");
    assert_eq!(
        w.emu.prov_bytes(i1, n1, name, v),
        w.emu.prov_bytes(i2, n2, name, v),
        "{name} {v}: .prov differs"
    );
}

#[test]
fn copy_between_namespaces_keeps_the_digest_and_the_prov_and_a_rerun_copies_nothing() {
    let w = World::new();
    let g = TestGpg::with_key("Release Signer <release@helm-ccr.invalid>");
    push_signed(&w, &g, "app", "1.0.0");
    push_signed(&w, &g, "app", "1.1.0");
    put(&w, INSTANCE, NS, "app", "2.0.0-rc.1", "");
    w.emu.clear_requests();
    // The latest stable version by default.
    let out = w.ok(&["copy", &format!("{REPO}/app"), PROD]);
    assert!(
        stdout(&out)
            .contains("Copied app 1.1.0 from ccr://ccr-test/ns to ccr://ccr-test/prod (sha256:")
            && stdout(&out).contains("with its .prov"),
        "{}",
        stdout(&out)
    );
    assert_eq!(uploads(&w), 1);
    assert_eq!(w.emu.versions(INSTANCE, "prod", "app"), ["1.1.0"]);
    same_bytes(&w, (INSTANCE, NS), (INSTANCE, "prod"), "app", "1.1.0");
    helm_verify_stored(&w, &g, INSTANCE, "prod", "app", "1.1.0");
    // Again: nothing uploaded, said as unchanged.
    w.emu.clear_requests();
    let out = w.ok(&["copy", &format!("{REPO}/app"), PROD, "-o", "json"]);
    assert_eq!(uploads(&w), 0);
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records[0]["action"], "unchanged", "{records}");
    assert_eq!(records[0]["version"], "1.1.0");
    // --version, --devel.
    w.ok(&["copy", &format!("{REPO}/app"), PROD, "--version", "~1.0"]);
    w.ok(&["copy", &format!("{REPO}/app"), PROD, "--devel"]);
    assert_eq!(
        w.emu.versions(INSTANCE, "prod", "app"),
        ["1.0.0", "1.1.0", "2.0.0-rc.1"]
    );
    same_bytes(&w, (INSTANCE, NS), (INSTANCE, "prod"), "app", "1.0.0");
}

#[test]
fn copy_between_instances_uses_each_sides_credentials() {
    let w = World::with(Config::new(vec![Key::new(AK, SK), Key::new(AK2, SK2)]));
    let g = TestGpg::with_key("Release Signer <release@helm-ccr.invalid>");
    push_signed(&w, &g, "app", "1.0.0");
    put(&w, INSTANCE, NS, "web", "0.1.0", "");
    // The destination is a Helm repository with its own key pair; the source's come from the
    // environment.
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!(
            "apiVersion: \"\"\nrepositories:\n- name: other\n  url: ccr://ccr-other/prod\n  username: {AK2}\n  password: {SK2}\n"
        ),
    )
    .unwrap();
    w.emu.clear_requests();
    let out = w.ok(&[
        "copy",
        &format!("{REPO}/app"),
        &format!("{REPO}/web"),
        "other",
    ]);
    assert!(stdout(&out).contains("to other"), "{}", stdout(&out));
    same_bytes(&w, (INSTANCE, NS), ("ccr-other", "prod"), "app", "1.0.0");
    same_bytes(&w, (INSTANCE, NS), ("ccr-other", "prod"), "web", "0.1.0");
    helm_verify_stored(&w, &g, "ccr-other", "prod", "app", "1.0.0");
    let requests = w.emu.requests();
    let signer = |r: &ccr_emulator::Recorded| {
        r.headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (mut src, mut dest) = (0, 0);
    for r in &requests {
        if r.path.contains("/instances/ccr-other/") {
            dest += 1;
            assert!(
                signer(r).contains(&format!("/{AK2}/")),
                "{} {}",
                r.path,
                signer(r)
            );
        } else {
            src += 1;
            assert!(
                signer(r).contains(&format!("/{AK}/")),
                "{} {}",
                r.path,
                signer(r)
            );
        }
    }
    assert!(src > 0 && dest > 0);
    // Again: nothing uploaded.
    w.emu.clear_requests();
    w.ok(&[
        "copy",
        &format!("{REPO}/app"),
        &format!("{REPO}/web"),
        "other",
    ]);
    assert_eq!(uploads(&w), 0);
}

#[test]
fn copy_all_copies_every_version_and_dry_run_uploads_nothing() {
    let w = World::new();
    let mut expected = Vec::new();
    for c in ["a", "b", "c"] {
        for v in ["1.0.0", "1.1.0", "2.0.0-beta.1"] {
            put(&w, INSTANCE, NS, c, v, "");
            expected.push((c, v));
        }
    }
    w.emu.clear_requests();
    let out = w.ok(&["copy", REPO, PROD, "--all", "--dry-run", "-o", "json"]);
    assert_eq!(uploads(&w), 0);
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 9);
    assert!(
        records.iter().all(|r| r["action"] == "would copy"),
        "{records:?}"
    );
    assert!(w.emu.versions(INSTANCE, "prod", "a").is_empty());
    // For real.
    let out = w.ok(&["copy", REPO, PROD, "--all", "-o", "yaml"]);
    assert_eq!(uploads(&w), 9);
    assert_eq!(
        stdout(&out).matches("action: copied").count(),
        9,
        "{}",
        stdout(&out)
    );
    for (c, v) in &expected {
        same_bytes(&w, (INSTANCE, NS), (INSTANCE, "prod"), c, v);
    }
    // Again, and with charts named: nothing to upload.
    w.emu.clear_requests();
    let out = w.ok(&["copy", REPO, PROD, "--all"]);
    assert_eq!(uploads(&w), 0);
    assert_eq!(
        stdout(&out).matches("Unchanged").count(),
        9,
        "{}",
        stderr(&out)
    );
    w.ok(&[
        "copy",
        &format!("{REPO}/a"),
        &format!("{REPO}/b"),
        PROD,
        "--all",
    ]);
    assert_eq!(uploads(&w), 0);
}

#[test]
fn a_version_changed_at_the_destination_is_refused_unless_forced() {
    let w = World::new();
    let source = put(&w, INSTANCE, NS, "app", "1.0.0", "");
    let other = put(&w, INSTANCE, "prod", "app", "1.0.0", "x: 1\n");
    w.emu.clear_requests();
    let out = w
        .cmd()
        .args(["copy", &format!("{REPO}/app"), PROD])
        .output()
        .unwrap();
    assert_one_error(
        &out,
        1,
        "app 1.0.0 already exists in ccr://ccr-test/prod with different content (values.yaml differs); use --force",
    );
    assert_eq!(uploads(&w), 0);
    assert_eq!(
        w.emu.chart_bytes(INSTANCE, "prod", "app", "1.0.0"),
        Some(other)
    );
    let out = w
        .cmd()
        .args(["copy", &format!("{REPO}/app"), PROD, "--force", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("replacing the existing version"),
        "{}",
        stdout(&out)
    );
    assert_eq!(uploads(&w), 0);
    // --dry-run says it would fail, and fails.
    let out = w
        .cmd()
        .args([
            "copy",
            &format!("{REPO}/app"),
            PROD,
            "--dry-run",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records[0]["action"], "would fail", "{records}");
    assert_eq!(uploads(&w), 0);
    let out = w.ok(&["copy", &format!("{REPO}/app"), PROD, "--force"]);
    assert!(
        stdout(&out).contains("Replaced app 1.0.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        w.emu.chart_bytes(INSTANCE, "prod", "app", "1.0.0"),
        Some(source)
    );
}

#[test]
fn the_same_chart_in_other_package_bytes_is_unchanged() {
    use std::io::{Read, Write};
    let w = World::new();
    let source = put(&w, INSTANCE, NS, "app", "1.0.0", "");
    // The same files, compressed again at another level: another digest, the same chart.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(source.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).unwrap();
    let other = gz.finish().unwrap();
    assert_ne!(sha256(&other), sha256(&source));
    w.emu
        .put_raw(INSTANCE, "prod", "app", "1.0.0", other.clone());
    w.emu.clear_requests();
    let out = w.ok(&["copy", &format!("{REPO}/app"), PROD, "-o", "json"]);
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records[0]["action"], "unchanged", "{records}");
    assert_eq!(uploads(&w), 0);
    assert_eq!(
        w.emu.chart_bytes(INSTANCE, "prod", "app", "1.0.0"),
        Some(other)
    );
}

#[test]
fn bad_input_is_one_error_line_and_nothing_at_the_destination() {
    let w = World::new();
    put(&w, INSTANCE, NS, "app", "1.0.0", "");
    let nothing_there = |w: &World| {
        assert!(w.emu.versions(INSTANCE, "prod", "app").is_empty());
        assert_eq!(uploads(w), 0);
    };
    // An unknown chart.
    let out = w
        .cmd()
        .args(["copy", &format!("{REPO}/nope"), PROD])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "chart \"nope\" not found");
    nothing_there(&w);
    // A package the source lists but answers 404 for.
    w.emu.clear_requests();
    w.emu.push_fault_for(
        "GET",
        "/download/app-1.0.0.tgz",
        Fault::Status {
            status: 404,
            code: Some("NotFound".into()),
        },
    );
    let out = w
        .cmd()
        .args(["copy", &format!("{REPO}/app"), PROD])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "app-1.0.0.tgz");
    nothing_there(&w);
    w.emu.clear_faults();
    // Credentials for one side only: the source's in its repository entry, none for the
    // destination.
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("apiVersion: \"\"\nrepositories:\n- name: src\n  url: {REPO}\n  username: {AK}\n  password: {SK}\n"),
    )
    .unwrap();
    w.emu.clear_requests();
    let out = w.bare().args(["copy", "src/app", PROD]).output().unwrap();
    assert_one_error(&out, 1, "destination ccr://ccr-test/prod");
    nothing_there(&w);
    // Usage errors, before any request.
    for args in [
        vec!["copy", REPO, PROD],
        vec!["copy", REPO, PROD, "--all", "--version", "1.0.0"],
        vec!["copy", REPO, PROD, "--all", "--devel"],
        vec!["copy", REPO, REPO, "--all"],
        vec![
            "copy",
            "ccr://ccr-test/ns/app",
            "ccr://ccr-test/other/web",
            PROD,
        ],
        vec!["copy", "src/app:1.0.0", PROD],
        vec!["copy", "src/app", PROD, "--version", "not a version"],
    ] {
        w.emu.clear_requests();
        let out = w.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let errors = stderr(&out)
            .lines()
            .filter(|l| l.starts_with("Error: "))
            .count();
        assert_eq!(errors, 1, "{args:?}: {}", stderr(&out));
        assert!(w.emu.requests().is_empty(), "{args:?}");
    }
    nothing_there(&w);
}

#[test]
fn pull_all_exports_every_version_with_its_prov() {
    let w = World::new();
    let g = TestGpg::with_key("Release Signer <release@helm-ccr.invalid>");
    push_signed(&w, &g, "app", "1.0.0");
    push_signed(&w, &g, "app", "1.1.0");
    let mut names = vec![
        "app-1.0.0.tgz".to_string(),
        "app-1.0.0.tgz.prov".into(),
        "app-1.1.0.tgz".into(),
        "app-1.1.0.tgz.prov".into(),
    ];
    for c in ["db", "web"] {
        for v in ["0.1.0", "0.2.0-rc.1", "1.0.0"] {
            put(&w, INSTANCE, NS, c, v, "");
            names.push(format!("{c}-{v}.tgz"));
        }
    }
    names.sort();
    let out = w.ok(&["pull", REPO, "--all", "-d", "export", "-o", "json"]);
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 8, "{records}");
    assert!(records
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["action"] == "pulled"));
    assert_eq!(files_below(&w.path("export")), names);
    let dir = w.path("export");
    for r in records.as_array().unwrap() {
        let (name, version) = (r["name"].as_str().unwrap(), r["version"].as_str().unwrap());
        let file = dir.join(format!("{name}-{version}.tgz"));
        let bytes = std::fs::read(&file).unwrap();
        let stored = w.stored(name, version).unwrap();
        assert_eq!(sha256(&bytes), sha256(&stored));
        assert_eq!(r["digest"], format!("sha256:{}", sha256(&stored)));
        let prov = Path::new(&format!("{}.prov", file.display())).to_path_buf();
        assert_eq!(
            std::fs::read(&prov).ok(),
            w.emu.prov_bytes(INSTANCE, NS, name, version)
        );
    }
    // Text: one summary line; REPO/CHART --all exports one chart.
    let out = w.ok(&["pull", &format!("{REPO}/web"), "--all", "-d", "web-only"]);
    assert_eq!(
        stdout(&out).trim(),
        "Pulled 3 chart versions (0 with a .prov) from ccr://ccr-test/ns into web-only"
    );
    assert_eq!(files_below(&w.path("web-only")).len(), 3);
    // Bad combinations are usage errors.
    for extra in [["--version", "1.0.0"], ["--untar", "--devel"]] {
        let out = w
            .cmd()
            .args(["pull", REPO, "--all"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    }
}

#[test]
fn copy_help_and_messages() {
    let w = World::new();
    let out = w.bare().args(["copy", "--help"]).output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("copy_help", stdout(&out));
    put(&w, INSTANCE, NS, "app", "1.0.0", "");
    put(&w, INSTANCE, "prod", "app", "1.0.0", "x: 1\n");
    let mut lines = Vec::new();
    for args in [
        vec!["copy", REPO, PROD],
        vec!["copy", REPO, PROD, "--all", "--version", "1.0.0"],
        vec!["copy", REPO, REPO, "--all"],
        vec![
            "copy",
            "ccr://ccr-test/ns/app",
            "ccr://ccr-test/other/web",
            PROD,
        ],
        vec!["copy", "ccr://ccr-test/ns/app:1.0.0", PROD],
        vec!["copy", "ccr://ccr-test/ns/nope", PROD],
        vec!["copy", "ccr://ccr-test/ns/app", PROD],
    ] {
        let out = w.cmd().args(&args).output().unwrap();
        lines.push(format!(
            "{} -> {:?}: {}",
            args[1..].join(" "),
            out.status.code(),
            error_line(&out)
        ));
    }
    insta::assert_snapshot!("copy_errors", stable(&w, &lines.join("\n")));
}
