//! Hostile chart packages: entries that climb out (`..`, absolute, backslashes, PAX paths and
//! GNU long names), links, devices, names that are paths. `pull --untar` refuses them and
//! writes nothing, expands only into the chart's own directory and never through what is
//! already there; `push` refuses them before any request; messages cut long names short.

use std::path::Path;

use flate2::write::GzEncoder;
use tar::EntryType;

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Hostile packages and --untar.

fn hostile_packages() -> Vec<(&'static str, Vec<u8>)> {
    let ok = |n: &'static [u8]| (n, EntryType::Regular, None, chart_yaml("app"));
    let file = |n: &'static [u8]| (n, EntryType::Regular, None, b"evil\n".to_vec());
    let mut big = vec![ok(b"app/Chart.yaml")];
    let five_mib = vec![0u8; 5 << 20];
    let names: Vec<&'static [u8]> = vec![
        b"app/f00", b"app/f01", b"app/f02", b"app/f03", b"app/f04", b"app/f05", b"app/f06",
        b"app/f07", b"app/f08", b"app/f09", b"app/f10", b"app/f11", b"app/f12", b"app/f13",
        b"app/f14", b"app/f15", b"app/f16", b"app/f17", b"app/f18", b"app/f19", b"app/f20",
    ];
    for n in names {
        big.push((n, EntryType::Regular, None, five_mib.clone()));
    }
    // A PAX header naming the next entry's path.
    let pax = {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        raw_entry(
            &mut b,
            b"app/Chart.yaml",
            EntryType::Regular,
            None,
            &chart_yaml("app"),
        );
        raw_entry(
            &mut b,
            b"PaxHeaders/x",
            EntryType::XHeader,
            None,
            &pax_record("path", b"app/../../pax-evil"),
        );
        raw_entry(&mut b, b"app/innocent", EntryType::Regular, None, b"evil\n");
        b.into_inner().unwrap().finish().unwrap()
    };
    // A GNU long name climbing out.
    let long = {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        raw_entry(
            &mut b,
            b"app/Chart.yaml",
            EntryType::Regular,
            None,
            &chart_yaml("app"),
        );
        let mut name = b"app/".to_vec();
        name.extend(b"../".repeat(40));
        name.extend(b"long-evil\0");
        raw_entry(
            &mut b,
            b"././@LongLink",
            EntryType::GNULongName,
            None,
            &name,
        );
        raw_entry(&mut b, b"app/short", EntryType::Regular, None, b"evil\n");
        b.into_inner().unwrap().finish().unwrap()
    };
    vec![
        (
            "dot-dot entry",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"app/../../dotdot-evil")]),
        ),
        (
            "dot-dot top",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"../dotdot-evil")]),
        ),
        (
            "absolute entry",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"/tmp/helm-ccr-abs-evil")]),
        ),
        (
            "backslash entry",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"app\\..\\..\\bs-evil")]),
        ),
        (
            "symlink out, then through it",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (
                    b"app/link",
                    EntryType::Symlink,
                    Some(b"../../.."),
                    Vec::new(),
                ),
                file(b"app/link/symlink-evil"),
            ]),
        ),
        (
            "absolute symlink",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/etc", EntryType::Symlink, Some(b"/etc"), Vec::new()),
            ]),
        ),
        (
            "hard link out",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (
                    b"app/hard",
                    EntryType::Link,
                    Some(b"../../outside"),
                    Vec::new(),
                ),
            ]),
        ),
        (
            "char device",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/dev", EntryType::Char, None, Vec::new()),
            ]),
        ),
        (
            "block device",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/blk", EntryType::Block, None, Vec::new()),
            ]),
        ),
        (
            "fifo",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (b"app/fifo", EntryType::Fifo, None, Vec::new()),
            ]),
        ),
        ("pax path", pax),
        ("gnu long name", long),
        (
            "file over 5 MiB",
            raw_tgz(&[
                ok(b"app/Chart.yaml"),
                (
                    b"app/big",
                    EntryType::Regular,
                    None,
                    vec![0u8; (5 << 20) + 1],
                ),
            ]),
        ),
        ("over 100 MiB in all", raw_tgz(&big)),
        (
            "two top-level directories",
            raw_tgz(&[ok(b"app/Chart.yaml"), file(b"other/x")]),
        ),
        ("a file at the top", raw_tgz(&[file(b"toplevel")])),
        ("not gzip", b"this is not a package".to_vec()),
        ("truncated gzip", {
            let t = chart_tgz("app", "1.0.0", "");
            t[..t.len() / 2].to_vec()
        }),
    ]
}

/// Absolute places a climbing entry could reach.
fn assert_no_evil_outside(what: &str) {
    for p in [
        "/tmp/helm-ccr-abs-evil",
        "/long-evil",
        "/pax-evil",
        "/dotdot-evil",
        "/symlink-evil",
        "/tmp/long-evil",
    ] {
        assert!(!Path::new(p).exists(), "{what}: wrote {p}");
    }
}

#[test]
fn hostile_packages_are_refused_by_untar_and_write_nothing() {
    let w = World::new();
    // Deep enough that every relative climb of the corpus stays inside the work directory,
    // where it would be seen.
    let dest = "a/b/c/d/e/f/g/out";
    for (what, tgz) in hostile_packages() {
        w.emu.put_raw(INSTANCE, NS, "app", "1.0.0", tgz.clone());
        let out = w
            .cmd()
            .args([
                "pull",
                &format!("{REPO}/app"),
                "-d",
                dest,
                "--untar",
                "--untardir",
                "u",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("Error: ")).count(),
            1,
            "{what}: {err}"
        );
        assert!(
            files_below(w.work.path()).is_empty(),
            "{what}: left {:?}",
            files_below(w.work.path())
        );
        assert_no_evil_outside(what);
    }
}

#[test]
fn untar_never_follows_or_replaces_what_is_already_there() {
    let w = World::new();
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    // The chart directory is a symlink to somewhere else: refused, nothing written there.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(w.path("u")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(elsewhere.path(), w.path("u/app")).unwrap();
    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/app"), "--untar", "--untardir", "u"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "already exists");
    assert!(files_below(elsewhere.path()).is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(w.path("u"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only the symlink: {leftovers:?}");
}

#[test]
fn a_hostile_package_is_refused_by_push_before_any_request() {
    let w = World::new();
    for (what, tgz) in hostile_packages() {
        // Links, devices and sizes are --untar's business (Helm's own push takes them).
        if ["link", "device", "fifo", "MiB"]
            .iter()
            .any(|k| what.contains(k))
        {
            continue;
        }
        w.write("h.tgz", &tgz);
        let out = w.cmd().args(["push", "h.tgz", REPO]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{what}");
    }
    // A package whose Chart.yaml names a path.
    for name in ["../x", "a/b", "..", "a\\b"] {
        w.write(
            "n.tgz",
            &tgz_of(&[(
                "c/Chart.yaml".to_string(),
                format!("apiVersion: v2\nname: \"{name}\"\nversion: 1.0.0\n").into_bytes(),
            )]),
        );
        let out = w.cmd().args(["push", "n.tgz", REPO]).output().unwrap();
        assert_one_error(&out, 1, "name");
    }
    assert_eq!(w.count("POST"), 0);
    assert!(w.emu.requests().is_empty(), "refused before any request");
}

// ---------------------------------------------------------------------------------------------
// --untar expands into the chart's own name.

#[test]
fn untar_expands_into_the_chart_name_and_requires_chart_yaml() {
    let w = World::new();
    // Top directory named as the chart: UNTARDIR/app.
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", chart_tgz("app", "1.0.0", ""));
    let out = w.ok(&[
        "pull",
        &format!("{REPO}/app"),
        "-d",
        "d",
        "--untar",
        "--untardir",
        "u",
    ]);
    assert_eq!(stdout(&out).trim(), "d/u/app");
    assert!(w.path("d/u/app/Chart.yaml").is_file());
    std::fs::remove_dir_all(w.path("d")).unwrap();
    for (what, files, says) in [
        (
            "top directory not the chart's name",
            vec![
                ("other/Chart.yaml".to_string(), chart_yaml("app")),
                ("other/values.yaml".to_string(), b"a: 1\n".to_vec()),
            ],
            "names the chart \"app\"",
        ),
        (
            "no Chart.yaml",
            vec![("app/values.yaml".to_string(), b"a: 1\n".to_vec())],
            "no Chart.yaml",
        ),
        (
            "Chart.yaml below the top directory only",
            vec![("app/sub/Chart.yaml".to_string(), chart_yaml("app"))],
            "no Chart.yaml",
        ),
        (
            "a chart name that is a path",
            vec![(
                "app/Chart.yaml".to_string(),
                b"apiVersion: v2\nname: ../app\nversion: 1.0.0\n".to_vec(),
            )],
            "Chart.yaml",
        ),
    ] {
        w.emu.put_raw(INSTANCE, NS, "app", "1.0.0", tgz_of(&files));
        let out = w
            .cmd()
            .args([
                "pull",
                &format!("{REPO}/app"),
                "-d",
                "d",
                "--untar",
                "--untardir",
                "u",
            ])
            .output()
            .unwrap();
        assert_one_error(&out, 1, says);
        let left = files_below(w.work.path());
        assert!(left.is_empty(), "{what}: left {left:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Long names are cut short in messages.

#[test]
fn long_names_are_cut_short_in_messages() {
    let w = World::new();
    // A PAX path just under 1 MiB that climbs out at its end; a GNU long name of 900 KB with
    // a backslash; a long name that is a file at the top level.
    let mut climbing = b"app/".to_vec();
    climbing.extend(b"d/".repeat(200_000));
    climbing.extend(b"../".repeat(200_001));
    climbing.extend(b"evil");
    let mut backslash = b"app/".to_vec();
    backslash.extend(vec![b'b'; 900_000]);
    backslash.extend(b"\\evil");
    for (what, name, flag) in [
        ("pax path", climbing, b'x'),
        ("long name with a backslash", backslash, b'L'),
    ] {
        let pkg = w.path("n.tgz");
        write_tgz(&pkg, |gz| {
            put_file(gz, b"app/Chart.yaml", &chart_yaml("app"));
            let data = if flag == b'x' {
                pax_record("path", &name)
            } else {
                name.clone()
            };
            put_entry(
                gz,
                b"././@LongLink",
                flag,
                data.len() as u64,
                &data,
                data.len() as u64,
                0,
            );
            put_file(gz, b"app/x", b"x");
        });
        let bytes = std::fs::read(&pkg).unwrap();
        w.emu.put_raw(INSTANCE, NS, "app", "1.0.0", bytes);
        let out = w
            .cmd()
            .args(["pull", &format!("{REPO}/app"), "-d", "out", "--untar"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}");
        let line = error_line(&out);
        assert!(
            line.len() < 400,
            "{what}: {} bytes: {:.300}",
            line.len(),
            line
        );
        assert!(
            line.contains("bytes)"),
            "{what}: says how long the name was: {line}"
        );
        let out = w.cmd().args(["push", "n.tgz", REPO]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}");
        assert!(error_line(&out).len() < 400, "{what}");
        assert!(stderr(&out).len() < 1000, "{what}");
        std::fs::remove_file(&pkg).unwrap();
        assert!(files_below(w.work.path()).is_empty(), "{what}");
    }
}
