//! What a chart package may expand to, counted as the tar reader counts it (a PAX size record
//! included): Helm's limits of 5 MiB a file and 100 MiB in all, extension headers over 1 MiB
//! refused from their header, YAML alias bombs in chart files, inspection's hard cap. Each
//! run is measured: the child's peak resident memory (its `VmHWM`), with generous bounds.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

/// Pulls `app` 1.0.0 from the emulator with `--untar` into `u/`, measured.
fn pull_untar(w: &World) -> Measured {
    measured(
        w,
        &w.emu.url(),
        &[
            "pull",
            &format!("{REPO}/app"),
            "-d",
            "out",
            "--untar",
            "--untardir",
            "u",
        ],
        &[],
    )
}

// ---------------------------------------------------------------------------------------------
// --untar's limits count the size the tar reader uses (a PAX size record included).

#[test]
fn untar_limits_count_pax_sizes() {
    let w = World::new();
    let pkg = w.path("pax-bomb.tgz");
    // 21 entries whose headers say 0 bytes and whose PAX records say 5,000,000 (each under
    // 5 MiB, 105 MB together): the archive really carries 105 MB.
    write_tgz(&pkg, |gz| {
        put_file(gz, b"app/Chart.yaml", &chart_yaml("app"));
        for i in 0..21 {
            let rec = pax_record("size", b"5000000");
            put_entry(
                gz,
                format!("app/PaxHeaders/f{i:02}").as_bytes(),
                b'x',
                rec.len() as u64,
                &rec,
                rec.len() as u64,
                0,
            );
            put_entry(
                gz,
                format!("app/f{i:02}").as_bytes(),
                b'0',
                0,
                b"",
                5_000_000,
                0,
            );
        }
    });
    w.emu
        .put_raw(INSTANCE, NS, "app", "1.0.0", std::fs::read(&pkg).unwrap());
    std::fs::remove_file(&pkg).unwrap();
    let m = pull_untar(&w);
    assert_eq!(m.out.status.code(), Some(1), "{}", stderr(&m.out));
    let line = error_line(&m.out);
    assert!(
        line.contains("expands to more than Helm's limit of 100 MiB"),
        "{line}"
    );
    assert!(
        files_below(w.work.path()).is_empty(),
        "{:?}",
        files_below(w.work.path())
    );
    assert!(m.peak_mib < 64, "peak {} MiB", m.peak_mib);

    // The same sizes count when the package is pushed (a warning: Helm will refuse it) and
    // when it is repacked (Helm's loader: refused).
    w.write("pax-bomb.tgz", &w.stored("app", "1.0.0").unwrap());
    let out = w.ok(&["push", "pax-bomb.tgz", REPO, "--dry-run", "--skip-existing"]);
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("expands to 100.1 MiB, over its limit of 100 MiB in all"),
        "{err}"
    );
    let out = w
        .cmd()
        .args([
            "push",
            "pax-bomb.tgz",
            REPO,
            "--version",
            "2.0.0",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "expands to more than 100 MiB");
}

// ---------------------------------------------------------------------------------------------
// Long names and PAX headers over 1 MiB are refused from their header, everywhere.

/// Packages whose one extension header declares (and carries) `size` bytes.
fn long_header_package(path: &Path, typeflag: u8, size: u64) {
    write_tgz(path, |gz| {
        put_file(gz, b"app/Chart.yaml", &chart_yaml("app"));
        put_entry(gz, b"././@LongLink", typeflag, size, b"", size, b'a');
        put_file(gz, b"app/short", b"x");
    });
}

#[test]
fn oversized_extension_headers_are_refused_before_they_are_buffered() {
    const SIZE: u64 = 96 << 20;
    for (what, flag) in [
        ("GNU long name", b'L'),
        ("GNU long link name", b'K'),
        ("PAX header", b'x'),
    ] {
        let w = World::new();
        let pkg = w.path("long.tgz");
        long_header_package(&pkg, flag, SIZE);
        let bytes = std::fs::read(&pkg).unwrap();
        std::fs::remove_file(&pkg).unwrap();

        // pull --untar
        w.emu.put_raw(INSTANCE, NS, "app", "1.0.0", bytes.clone());
        let m = pull_untar(&w);
        assert_eq!(m.out.status.code(), Some(1), "{what}: {}", stderr(&m.out));
        let line = error_line(&m.out);
        assert!(
            line.contains(&format!("{what} of {SIZE} bytes is over the limit")),
            "{line}"
        );
        assert!(
            m.peak_mib < 48,
            "{what}: pull --untar peaked at {} MiB",
            m.peak_mib
        );
        assert!(files_below(w.work.path()).is_empty(), "{what}");

        // push X.tgz (inspection)
        w.write("long.tgz", &bytes);
        let m = measured(&w, &w.emu.url(), &["push", "long.tgz", REPO], &[]);
        assert_eq!(m.out.status.code(), Some(1), "{what}: {}", stderr(&m.out));
        assert!(error_line(&m.out).contains("over the limit"), "{what}");
        assert!(m.peak_mib < 48, "{what}: push peaked at {} MiB", m.peak_mib);

        // A chart directory with it as a subchart archive, and a repack (Helm's loader).
        std::fs::create_dir_all(w.path("dir/charts")).unwrap();
        w.write("dir/Chart.yaml", &chart_yaml("dir"));
        std::fs::rename(w.path("long.tgz"), w.path("dir/charts/sub.tgz")).unwrap();
        let m = measured(&w, &w.emu.url(), &["push", "dir", REPO], &[]);
        assert_eq!(m.out.status.code(), Some(1), "{what}: {}", stderr(&m.out));
        assert!(error_line(&m.out).contains("over the limit"), "{what}");
        assert!(
            m.peak_mib < 48,
            "{what}: push DIR peaked at {} MiB",
            m.peak_mib
        );
        std::fs::rename(w.path("dir/charts/sub.tgz"), w.path("long.tgz")).unwrap();
        let m = measured(
            &w,
            &w.emu.url(),
            &["push", "long.tgz", REPO, "--version", "2.0.0"],
            &[],
        );
        assert_eq!(m.out.status.code(), Some(1), "{what}: {}", stderr(&m.out));
        assert!(
            m.peak_mib < 48,
            "{what}: repack peaked at {} MiB",
            m.peak_mib
        );
        assert_eq!(w.count("POST"), 0, "{what}: nothing uploaded");
    }
}

// ---------------------------------------------------------------------------------------------
// YAML aliases are bounded.

fn billion_laughs(levels: usize) -> String {
    let mut doc = String::from("apiVersion: v2\nname: app\nversion: 1.0.0\nx0: &x0 [\"lol\"]\n");
    for l in 1..=levels {
        let refs = vec![format!("*x{}", l - 1); 10].join(", ");
        doc.push_str(&format!("x{l}: &x{l} [{refs}]\n"));
    }
    doc
}

#[test]
fn alias_bombs_in_chart_files_are_refused_at_once() {
    let w = World::new();
    // In Chart.yaml and in values.yaml of a directory, and in a ready package.
    w.write("c1/Chart.yaml", billion_laughs(9).as_bytes());
    w.write("c2/Chart.yaml", &chart_yaml("c2"));
    w.write("c2/values.yaml", billion_laughs(9).as_bytes());
    w.write(
        "bomb.tgz",
        &tgz_of(&[("app/Chart.yaml".to_string(), billion_laughs(9).into_bytes())]),
    );
    for chart in ["c1", "c2", "bomb.tgz"] {
        let started = Instant::now();
        let m = measured(&w, &w.emu.url(), &["push", chart, REPO], &[]);
        assert_eq!(m.out.status.code(), Some(1), "{chart}: {}", stderr(&m.out));
        assert!(error_line(&m.out).contains("excessive aliasing"), "{chart}");
        assert!(m.peak_mib < 48, "{chart}: peak {} MiB", m.peak_mib);
        assert!(started.elapsed() < Duration::from_secs(30), "{chart}");
    }
    // Pulled with --untar: the Chart.yaml read there is bounded too.
    w.emu.put_raw(
        INSTANCE,
        NS,
        "app",
        "1.0.0",
        tgz_of(&[("app/Chart.yaml".to_string(), billion_laughs(9).into_bytes())]),
    );
    std::fs::remove_dir_all(w.path("c1")).unwrap();
    std::fs::remove_dir_all(w.path("c2")).unwrap();
    std::fs::remove_file(w.path("bomb.tgz")).unwrap();
    let m = pull_untar(&w);
    assert!(error_line(&m.out).contains("excessive aliasing"));
    assert!(files_below(w.work.path()).is_empty());
    assert_eq!(w.count("POST"), 0);
}

// ---------------------------------------------------------------------------------------------
// A package Helm cannot load is flagged before upload.

#[test]
fn packages_helm_cannot_load_are_flagged_before_upload() {
    let w = World::new();
    let mut files = vec![
        ("app/Chart.yaml".to_string(), chart_yaml("app")),
        ("app/files/big.json".to_string(), vec![b' '; (5 << 20) + 1]),
    ];
    w.write("big.tgz", &tgz_of(&files));
    let out = w.ok(&["push", "big.tgz", REPO]);
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("big.tgz: Helm 3.17.3+ and Helm 4 will refuse to load this chart")
            && warnings[0]
                .contains("\"files/big.json\" is 5.0 MiB, over its limit of 5 MiB a file")
            && warnings[0].contains("no Helm flag or setting raises these limits"),
        "{err}"
    );
    assert!(w.stored("app", "1.0.0").is_some(), "flagged, still pushed");
    // Several: one line, counting the others.
    files.push(("app/files/big2.json".to_string(), vec![b' '; 6 << 20]));
    files[0].1 = b"apiVersion: v2\nname: app\nversion: 2.0.0\n".to_vec();
    w.write("big2.tgz", &tgz_of(&files));
    let out = w.ok(&["push", "big2.tgz", REPO, "--dry-run"]);
    assert!(
        stderr(&out).contains("(and 1 more file)"),
        "{}",
        stderr(&out)
    );
    // Within the limits: no warning.
    w.write("small.tgz", &chart_tgz("small", "1.0.0", ""));
    let out = w.ok(&["push", "small.tgz", REPO]);
    assert!(!stderr(&out).contains("Warning"), "{}", stderr(&out));

    // Inspection stops at its hard cap: an entry announcing 1.5 GiB is refused at once,
    // without reading it.
    let pkg = w.path("huge.tgz");
    write_tgz(&pkg, |gz| {
        put_file(gz, b"app/Chart.yaml", &chart_yaml("app"));
        put_entry(gz, b"app/huge", b'0', 3 << 29, b"", 1 << 20, 0);
    });
    let started = Instant::now();
    let m = measured(&w, &w.emu.url(), &["push", "huge.tgz", REPO], &[]);
    assert_eq!(m.out.status.code(), Some(1));
    assert!(error_line(&m.out).contains("expands to more than 1024 MiB; not reading further"));
    assert!(m.peak_mib < 48, "peak {} MiB", m.peak_mib);
    assert!(started.elapsed() < Duration::from_secs(30));
}
