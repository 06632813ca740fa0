//! Interrupted means clean: SIGINT, SIGTERM and SIGHUP sent to the real binary while it uploads
//! or downloads (the emulator throttled so the transfer is surely under way) leave no temporary
//! file anywhere, neither in TMPDIR nor in the destination, which keeps what it had; the exit
//! status is 128 + the signal (130, 143, 129).
#![cfg(unix)]

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use crate::common::*;

/// Everything below `dir`, directories included, relative and sorted.
fn entries_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                walk(base, &p, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Waits for the command and returns its exit code and stderr.
fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

/// A chart directory with 4 MiB that do not compress.
fn big_chart_dir(w: &World, name: &str) -> String {
    w.write(
        &format!("{name}/Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n").as_bytes(),
    );
    w.write(&format!("{name}/files/blob.bin"), &noise(4 << 20, 7));
    format!("./{name}")
}

fn interrupted_upload(sig: &str, status: i32) {
    let w = World::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = big_chart_dir(&w, "big");
    w.emu.set_throttle(256 << 10);
    let mut child = w
        .std_cmd()
        .env("TMPDIR", tmp.path())
        .args(["push", &dir, REPO])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        "the upload started",
        &mut child,
        Duration::from_secs(60),
        || w.emu.requests().iter().any(|r| r.method == "POST"),
    );
    // The package being uploaded is there: its removal below is the command's doing.
    assert!(
        entries_below(tmp.path())
            .iter()
            .any(|e| e.ends_with(".tgz")),
        "{:?}",
        entries_below(tmp.path())
    );
    signal(&child, sig);
    let (code, err) = finish(child);
    assert_eq!(code, Some(status), "{err}");
    assert!(err.contains(&format!("interrupted by SIG{sig}")), "{err}");
    if sig == "INT" {
        insta::assert_snapshot!("interrupted", err);
    }
    assert_eq!(entries_below(tmp.path()), Vec::<String>::new(), "TMPDIR");
    assert!(w.versions("big").is_empty(), "nothing half-pushed");
    assert_eq!(
        entries_below(w.path("big").as_path()),
        ["Chart.yaml", "files", "files/blob.bin"],
        "the chart directory is untouched"
    );
}

#[test]
fn sigint_mid_upload_leaves_no_temporary_file() {
    interrupted_upload("INT", 130);
}

#[test]
fn sigterm_mid_upload_leaves_no_temporary_file() {
    interrupted_upload("TERM", 143);
}

/// A 3 MiB chart in the registry, and a destination that already holds an older download of
/// it and another file.
fn world_with_big_chart() -> World {
    let w = World::new();
    let tgz = tgz_of(&[
        (
            "big/Chart.yaml".into(),
            b"apiVersion: v2\nname: big\nversion: 1.0.0\n".to_vec(),
        ),
        ("big/files/blob.bin".into(), noise(3 << 20, 11)),
    ]);
    w.emu.put_raw(INSTANCE, NS, "big", "1.0.0", tgz);
    w.write("out/big-1.0.0.tgz", b"what was there before");
    w.write("out/keep.txt", b"keep");
    w
}

fn interrupted_download(sig: &str, status: i32, untar: bool) {
    let w = world_with_big_chart();
    let tmp = tempfile::tempdir().unwrap();
    w.emu.set_throttle(256 << 10);
    let mut args = vec!["pull", "ccr://ccr-test/ns/big", "-d", "out"];
    if untar {
        args.extend_from_slice(&["--untar", "--untardir", "unpacked"]);
    }
    let mut child = w
        .std_cmd()
        .env("TMPDIR", tmp.path())
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out_dir = w.path("out");
    wait_for(
        "the download started",
        &mut child,
        Duration::from_secs(60),
        || files_below(&out_dir).iter().any(|f| f.ends_with(".part")),
    );
    signal(&child, sig);
    let (code, err) = finish(child);
    assert_eq!(code, Some(status), "{err}");
    assert!(err.contains(&format!("interrupted by SIG{sig}")), "{err}");
    assert_eq!(entries_below(tmp.path()), Vec::<String>::new(), "TMPDIR");
    let mut want = vec!["big-1.0.0.tgz".to_string(), "keep.txt".to_string()];
    if untar {
        want.push("unpacked".into());
    }
    assert_eq!(entries_below(&out_dir), want, "the destination");
    assert_eq!(
        std::fs::read(out_dir.join("big-1.0.0.tgz")).unwrap(),
        b"what was there before"
    );
}

#[test]
fn sigint_mid_download_leaves_the_destination_as_it_was() {
    interrupted_download("INT", 130, false);
}

#[test]
fn sigterm_mid_download_leaves_the_destination_as_it_was() {
    interrupted_download("TERM", 143, false);
}

#[test]
fn sighup_mid_download_for_untar_leaves_nothing_behind() {
    interrupted_download("HUP", 129, true);
}
