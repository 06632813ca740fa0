//! Issue 12: hardening, round two. Each test builds its hostile input here (tar bytes, JSON
//! pages, YAML, configuration files), runs the real binary, and asserts one `Error:` line, the
//! exit status, no file left behind and, where memory is the point, the child's peak resident
//! memory (its `VmHWM`), with generous bounds.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccr_emulator::Fault;
use flate2::write::GzEncoder;

use crate::common::*;
use crate::hostile::{
    assert_no_secret, ok_json, pax_record, versions_page, Answer, Scripted, SECRET,
};

// ---------------------------------------------------------------------------------------------
// Running the binary with its peak memory measured.

/// A finished run and its peak resident set size.
struct Measured {
    out: Output,
    peak_mib: u64,
}

/// [`World::std_cmd`] with another registry as the endpoint.
fn std_cmd(w: &World, endpoint: &str) -> Command {
    let mut c = w.std_cmd();
    c.env("HELM_CCR_ENDPOINT", endpoint);
    c
}

/// The high-water mark of a process's resident memory (`VmHWM`), in KiB; `None` once it has
/// exited.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd` to its end (killing it after `limit`) and samples its peak memory every
/// millisecond or so. `VmHWM` is the kernel's own high-water mark of the process (after exec,
/// so none of the test process's pages count, unlike a forked child's `ru_maxrss`): a sample
/// can miss only what is allocated in the last moment before exit.
fn run_measured(mut cmd: Command, limit: Duration) -> Measured {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let sampler = std::thread::spawn(move || {
        let started = Instant::now();
        let mut peak = 0u64;
        while !done2.load(Ordering::SeqCst) {
            if let Some(kib) = vm_hwm_kib(pid) {
                peak = peak.max(kib);
            }
            if started.elapsed() > limit {
                // SAFETY: signalling our own child, which has not been reaped (done is false).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        peak
    });
    let status = child.wait().unwrap();
    done.store(true, Ordering::SeqCst);
    Measured {
        out: Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        peak_mib: sampler.join().unwrap() / 1024,
    }
}

fn measured(w: &World, endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Measured {
    let mut c = std_cmd(w, endpoint);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run_measured(c, Duration::from_secs(120))
}

/// The one `Error:` line of a failed run (asserting there is exactly one).
fn error_line(out: &Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(lines.len(), 1, "one Error: line expected: {err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

// ---------------------------------------------------------------------------------------------
// Tar bytes, built block by block.

/// A USTAR header block with the given name, type flag and size field, checksum set.
fn tar_header(name: &[u8], typeflag: u8, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    if size < 0o77777777777 {
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    } else {
        // GNU base-256.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    h[136..147].copy_from_slice(b"14540000000");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// Writes one entry: its header (size field `size`), then `data_len` bytes (from `data`, then
/// `fill`) and the padding, streaming (gigabytes of zeros cost nothing compressed).
fn put_entry(
    out: &mut impl Write,
    name: &[u8],
    typeflag: u8,
    size: u64,
    data: &[u8],
    data_len: u64,
    fill: u8,
) {
    out.write_all(&tar_header(name, typeflag, size)).unwrap();
    out.write_all(&data[..data.len().min(data_len as usize)])
        .unwrap();
    let mut left = data_len.saturating_sub(data.len() as u64);
    let chunk = vec![fill; 1 << 20];
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    let pad = (512 - data_len % 512) % 512;
    out.write_all(&vec![0u8; pad as usize]).unwrap();
}

/// A file entry holding `data`.
fn put_file(out: &mut impl Write, name: &[u8], data: &[u8]) {
    put_entry(
        out,
        name,
        b'0',
        data.len() as u64,
        data,
        data.len() as u64,
        0,
    );
}

fn chart_yaml(name: &str) -> Vec<u8> {
    format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n").into_bytes()
}

/// Writes a gzip tar into `path` from a function that writes its entries.
fn write_tgz(path: &Path, entries: impl FnOnce(&mut GzEncoder<File>)) {
    let mut gz = GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
    entries(&mut gz);
    gz.write_all(&[0u8; 1024]).unwrap();
    gz.finish().unwrap();
}

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
// 1. --untar's limits count the size the tar reader uses (a PAX size record included).

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
// 2. Long names and PAX headers over 1 MiB are refused from their header, everywhere; no
//    message echoes more than a few hundred bytes of a name.

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

// ---------------------------------------------------------------------------------------------
// 3. Listing memory is bounded.

#[test]
fn a_page_of_millions_of_entries_ends_in_one_line_in_bounded_memory() {
    // 2.5 million entries: as objects (7.5 MB: over the page size limit), and as one-byte
    // numbers within it (refused at the 5,001st entry, while it is read).
    let objects = format!(r#"{{"total":1,"items":[{}{{}}]}}"#, "{},".repeat(2_500_000));
    let numbers = format!(r#"{{"total":1,"items":[{}1]}}"#, "1,".repeat(1_500_000));
    let names = format!(
        r#"{{"total":1,"items":[{}{{"name":"x"}}]}}"#,
        r#"{"name":"x"},"#.repeat(300_000)
    );
    for (what, body, says) in [
        ("2.5M objects", objects, "larger than 4 MiB"),
        ("1.5M numbers", numbers, "more than 5000 entries"),
        ("300k named charts", names, "more than 5000 entries"),
    ] {
        let reg = Scripted::start(Box::new(move |_, _, _| {
            Answer::Json(200, body.clone(), Vec::new())
        }));
        let w = World::new();
        for args in [
            vec!["ls", REPO],
            vec!["ls", "ccr://ccr-test/ns/app", "-o", "json"],
        ] {
            let m = measured(&w, &reg.url, &args, &[]);
            assert_eq!(m.out.status.code(), Some(1), "{what}: {}", stderr(&m.out));
            let line = error_line(&m.out);
            assert!(line.contains(says), "{what}: {line}");
            assert!(m.peak_mib < 64, "{what} {args:?}: peak {} MiB", m.peak_mib);
        }
        // Not retried: a hostile answer is no transient fault.
        assert_eq!(reg.seen().len(), 2, "{what}");
    }
}

#[test]
fn endless_distinct_pages_stop_at_the_list_limit() {
    // Every page 100 new charts, each with a description, and a total that never comes.
    let reg = Scripted::start(Box::new(|_, url, _| {
        let page: u64 = url
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("pageNo="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let items: Vec<serde_json::Value> = (0..100)
            .map(|i| {
                serde_json::json!({
                    "name": format!("chart-{page}-{i}"),
                    "latestVersion": "1.0.0",
                    "description": "d".repeat(120),
                })
            })
            .collect();
        ok_json(serde_json::json!({"total": 1_000_000_000u64, "items": items}))
    }));
    let w = World::new();
    let m = measured(&w, &reg.url, &["ls", REPO], &[]);
    assert_eq!(m.out.status.code(), Some(1), "{}", stderr(&m.out));
    let line = error_line(&m.out);
    assert!(
        line.contains("more than 100000 entries") && line.contains("HELM_CCR_LIST_LIMIT"),
        "{line}"
    );
    assert!(m.peak_mib < 96, "peak {} MiB", m.peak_mib);
    assert_eq!(reg.seen().len(), 1001);

    // The limit is a setting: lower, it stops sooner; not a number, it is a usage error.
    let m = measured(
        &w,
        &reg.url,
        &["ls", REPO],
        &[("HELM_CCR_LIST_LIMIT", "250")],
    );
    assert!(error_line(&m.out).contains("more than 250 entries"));
    for bad in ["lots", "0", "-5"] {
        let out = w
            .cmd()
            .env("HELM_CCR_ENDPOINT", &reg.url)
            .env("HELM_CCR_LIST_LIMIT", bad)
            .args(["ls", REPO])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "HELM_CCR_LIST_LIMIT");
    }
    // The getter's index counts every chart's versions together.
    let reg = Scripted::start(Box::new(|_, url, _| {
        if url.contains("/versions") {
            let chart = url
                .split("/charts/")
                .nth(1)
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string();
            let items: Vec<serde_json::Value> = (0..40)
                .map(|i| serde_json::json!({"name": chart, "version": format!("1.0.{i}"), "digest": "ab".repeat(32)}))
                .collect();
            versions_page(serde_json::json!(items))
        } else {
            let items: Vec<serde_json::Value> = (0..30)
                .map(|i| serde_json::json!({"name": format!("c{i}")}))
                .collect();
            ok_json(serde_json::json!({"total": 30, "items": items}))
        }
    }));
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &reg.url)
        .env("HELM_CCR_LIST_LIMIT", "1000")
        .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "more than 1000 charts and versions");
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 4. YAML aliases are bounded.

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

#[test]
fn an_alias_bomb_in_the_repository_file_is_bounded() {
    let w = World::new();
    let mut doc = String::from("apiVersion: \"\"\nx0: &x0 [\"lol\"]\n");
    for l in 1..=9 {
        let refs = vec![format!("*x{}", l - 1); 10].join(", ");
        doc.push_str(&format!("x{l}: &x{l} [{refs}]\n"));
    }
    doc.push_str("repositories:\n- name: myccr\n  url: ccr://ccr-test/ns\n");
    std::fs::write(w.home.path().join("repositories.yaml"), doc).unwrap();
    let m = measured(&w, &w.emu.url(), &["ls", "myccr"], &[]);
    assert_eq!(m.out.status.code(), Some(1), "{}", stderr(&m.out));
    let line = error_line(&m.out);
    assert!(
        line.contains("repositories.yaml is not a valid Helm repository file"),
        "{line}"
    );
    assert!(m.peak_mib < 64, "peak {} MiB", m.peak_mib);
}

// ---------------------------------------------------------------------------------------------
// 5. No secret in a configuration error.

#[test]
fn configuration_errors_name_the_place_never_the_secret() {
    let w = World::new();
    let repos = w.home.path().join("repositories.yaml");
    for case in [
        (
            "syntax error after a password",
            format!("apiVersion: \"\"\nrepositories:\n- name: myccr\n  url: ccr://ccr-test/ns\n  password: [{SECRET}\n"),
            "line ",
        ),
        (
            "a password where a list belongs",
            format!("apiVersion: \"\"\nrepositories: {SECRET}\n"),
            "(line 2, column ",
        ),
        (
            "a tab in the indentation",
            format!("repositories:\n- name: myccr\n\tpassword: {SECRET}\n"),
            "line ",
        ),
    ] {
        broken_file_is_named_without_its_secret(
            &w,
            &repos,
            case,
            &["ls", "myccr"],
            "repositories.yaml is not a valid Helm repository file",
        );
    }
    std::fs::remove_file(&repos).unwrap();

    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    let cfg = w.home.path().join(".bce/config.json");
    for case in [
        (
            "a secret where the profiles belong",
            format!(r#"{{"current":"default","profiles":"{SECRET}"}}"#),
            "a value of the wrong type at line 1, column",
        ),
        (
            "a truncated file",
            format!("{{\"profiles\":[{{\"name\":\"default\",\n\"secret_access_key\":\"{SECRET}"),
            "at line 2, column",
        ),
        (
            "a stray word",
            format!("{{\"profiles\":[{{\"secret_access_key\": {SECRET}}}]}}"),
            "a JSON syntax error at line 1, column",
        ),
    ] {
        broken_file_is_named_without_its_secret(
            &w,
            &cfg,
            case,
            &["ls", REPO],
            "config.json is not valid BCE CLI configuration",
        );
    }
}

/// Writes the case's broken `text` into `file`, runs `args` with debug output on and no
/// credentials in the environment, and asserts one `Error:` line with `error`, the case's
/// place (`says`), and no secret in any output.
fn broken_file_is_named_without_its_secret(
    w: &World,
    file: &Path,
    (what, text, says): (&str, String, &str),
    args: &[&str],
    error: &str,
) {
    std::fs::write(file, text).unwrap();
    let out = w
        .bare()
        .env("HELM_DEBUG", "true")
        .args(args)
        .output()
        .unwrap();
    assert_one_error(&out, 1, error);
    assert!(stderr(&out).contains(says), "{what}: {}", stderr(&out));
    assert_no_secret(&out, what);
}

#[test]
fn a_non_ccr_repository_url_is_redacted() {
    let w = World::new();
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("apiVersion: \"\"\nrepositories:\n- name: web\n  url: https://user:{SECRET}@charts.example.com/x\n"),
    )
    .unwrap();
    for args in [
        vec!["ls", "web"],
        vec!["pull", "web/app"],
        vec!["rm", "web/app", "--all"],
    ] {
        let out = w.cmd().args(&args).output().unwrap();
        assert_one_error(&out, 1, "not a ccr:// repository");
        assert!(
            stderr(&out).contains("https://***@charts.example.com/x"),
            "{}",
            stderr(&out)
        );
        assert_no_secret(&out, "non-ccr URL");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Control characters from the registry are neutralised.

#[test]
fn control_characters_from_the_registry_never_reach_the_terminal() {
    let reg = Scripted::start(Box::new(|_, url, _| {
        if url.contains("/versions") && !url.contains("/ctl/") {
            let digest = "\u{1b}[2J\u{1b}]0;owned\u{7}";
            return versions_page(serde_json::json!([{
                "name": "app", "version": "1.0.0", "digest": digest, "urls": ["app-1.0.0.tgz"]
            }]));
        }
        if url.contains("/download/") {
            return Answer::Bytes(chart_tgz("app", "1.0.0", ""));
        }
        Answer::Json(
            403,
            serde_json::json!({
                "code": "Denied\u{1b}[31m",
                "message": "no\r\nError: fake line\u{7}\u{9b}2J\u{202e}",
                "requestId": "r-\u{1b}]0;title\u{7}",
            })
            .to_string(),
            vec![("X-Bce-Request-Id", "r-header".into())],
        )
    }));
    let w = World::new();
    for args in [
        vec!["ls".to_string(), REPO.to_string()],
        vec!["ls".to_string(), format!("{REPO}/ctl")],
        vec!["rm".to_string(), format!("{REPO}/ctl"), "--all".to_string()],
        vec![
            "pull".to_string(),
            format!("{REPO}/app"),
            "-d".into(),
            "o".into(),
        ],
    ] {
        let out = w
            .cmd()
            .env("HELM_CCR_ENDPOINT", &reg.url)
            .env("HELM_DEBUG", "true")
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&out);
        for c in err.chars() {
            assert!(c == '\n' || !c.is_control(), "{args:?}: {c:?} in {err:?}");
            assert!(c != '\u{202e}', "{args:?}: {err:?}");
        }
        if args[0] == "pull" {
            assert!(out.status.success(), "{err}");
            assert!(
                err.contains("is not a sha256"),
                "the malformed digest is named: {err}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1));
            let line = error_line(&out);
            assert!(
                line.contains("403 Denied [31m: no  Error: fake line"),
                "{line}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. --untar expands into the chart's own name.

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
// 8. Digests.

#[test]
fn digests_are_compared_leniently_and_malformed_ones_count_as_missing() {
    let bytes = chart_tgz("app", "1.0.0", "");
    let real = sha256(&bytes);
    for (given, warned) in [
        (format!("SHA256:{}", real.to_uppercase()), false),
        (format!("sha256:{real}"), false),
        (real.to_uppercase(), false),
        (format!(" Sha256:{real} "), false),
        (String::new(), true),
        ("not-a-digest".to_string(), true),
        ("sha256:".to_string(), true),
        (format!("md5:{real}"), true),
    ] {
        let (b2, g2) = (bytes.clone(), given.clone());
        let reg = Scripted::start(Box::new(move |_, url, _| {
            if url.contains("/download/") {
                Answer::Bytes(b2.clone())
            } else if url.contains("/versions") {
                versions_page(serde_json::json!([{
                    "name": "app", "version": "1.0.0", "digest": g2, "urls": ["app-1.0.0.tgz"]
                }]))
            } else {
                ok_json(serde_json::json!({"total": 1, "items": [{"name": "app"}]}))
            }
        }));
        let w = World::new();
        let out = w
            .cmd()
            .env("HELM_CCR_ENDPOINT", &reg.url)
            .args(["pull", &format!("{REPO}/app"), "-d", "o"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{given:?}: {err}");
        assert_eq!(
            err.contains("Warning:") && err.contains("only its length"),
            warned,
            "{given:?}: {err}"
        );
        assert_eq!(std::fs::read(w.path("o/app-1.0.0.tgz")).unwrap(), bytes);
        // The getter: the index carries the real digest either way (computed when malformed).
        let out = w
            .cmd()
            .env("HELM_CCR_ENDPOINT", &reg.url)
            .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{given:?}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("digest: \"{real}\"")),
            "{given:?}: {}",
            stdout(&out)
        );
    }
    // A well-formed digest that differs is still a mismatch, and nothing is left.
    let wrong = "ab".repeat(32);
    let b2 = bytes.clone();
    let reg = Scripted::start(Box::new(move |_, url, _| {
        if url.contains("/download/") {
            Answer::Bytes(b2.clone())
        } else {
            versions_page(serde_json::json!([{
                "name": "app", "version": "1.0.0", "digest": format!("SHA256:{wrong}"), "urls": ["app-1.0.0.tgz"]
            }]))
        }
    }));
    let w = World::new();
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &reg.url)
        .env("HELM_CCR_RETRIES", "1")
        .args(["pull", &format!("{REPO}/app"), "-d", "o"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "digest mismatch");
    assert!(files_below(w.work.path()).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 9. --timeout values.

#[test]
fn timeouts_that_overflow_are_usage_errors_and_zero_means_no_limit() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    for bad in [
        "18446744073709551615",
        "99999999999999999999999",
        "9999999999h",
        "8761h",
        "soon",
        "1e9s",
    ] {
        let out = w
            .cmd()
            .args(["ls", REPO, "--timeout", bad])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "--timeout");
    }
    for bad in ["18446744073709551615", "x"] {
        let out = w
            .cmd()
            .env("HELM_CCR_TIMEOUT", bad)
            .args(["ls", REPO])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "HELM_CCR_TIMEOUT");
        let out = w
            .cmd()
            .env("HELM_CCR_TIMEOUT", bad)
            .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
            .output()
            .unwrap();
        assert_one_error(&out, 2, "HELM_CCR_TIMEOUT");
    }
    // 0 and 0s alike: no limit.
    for zero in ["0", "0s", "0m"] {
        let out = w
            .cmd()
            .args(["ls", REPO, "--timeout", zero])
            .output()
            .unwrap();
        assert!(out.status.success(), "{zero}: {}", stderr(&out));
        let out = w
            .cmd()
            .env("HELM_CCR_TIMEOUT", zero)
            .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{zero}: {}", stderr(&out));
    }
    // The flag wins over the variable.
    let out = w
        .cmd()
        .env("HELM_CCR_TIMEOUT", "nonsense-is-ignored-under-the-flag")
        .args(["ls", REPO, "--timeout", "30s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A registry that serves `app` 1.0.0 (40 MiB announced) at about 200 KiB/s.
fn slow_download_registry() -> String {
    download_registry(20 << 10, Duration::from_millis(100))
}

/// A registry that serves `app` 1.0.0 (40 MiB announced), `chunk` bytes every `every`.
fn download_registry(chunk: usize, every: Duration) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if conn.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head);
                if head.contains("/download/") {
                    let _ = conn.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 41943040\r\nconnection: close\r\n\r\n",
                    );
                    let mut sent = 0;
                    while sent < 40 << 20 {
                        if conn.write_all(&vec![7u8; chunk]).is_err() {
                            return;
                        }
                        sent += chunk;
                        std::thread::sleep(every);
                    }
                } else {
                    let body = serde_json::json!({"total": 1, "items": [{
                        "name": "app", "version": "1.0.0", "digest": "ab".repeat(32), "urls": ["app-1.0.0.tgz"]
                    }]})
                    .to_string();
                    let _ = conn.write_all(
                        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                            .as_bytes(),
                    );
                }
            });
        }
    });
    url
}

#[test]
fn a_timeout_names_the_transfer_how_far_it_got_and_what_to_raise() {
    let url = slow_download_registry();
    let w = World::new();
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &url)
        .args(["pull", &format!("{REPO}/app"), "-d", "o", "--timeout", "2s"])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        line.starts_with(
            "Error: timed out after 2s (--timeout 2s) while downloading app-1.0.0.tgz ("
        ) && line.ends_with(" of 40 MiB received); raise --timeout"),
        "{line}"
    );
    assert!(files_below(w.work.path()).is_empty());
    // The getter, under HELM_CCR_TIMEOUT (Helm passes it no flag of ours).
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &url)
        .env("HELM_CCR_TIMEOUT", "2s")
        .args(["download", "", "", "", &format!("{REPO}/app-1.0.0.tgz")])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert!(
        line.contains("timed out after 2s (HELM_CCR_TIMEOUT=2s) while downloading app-1.0.0.tgz (")
            && line.ends_with("; raise HELM_CCR_TIMEOUT"),
        "{line}"
    );
    assert!(out.stdout.is_empty(), "nothing half-written to Helm");
}

// ---------------------------------------------------------------------------------------------
// 11. Without --timeout, a peer that trickles is still dropped (the real limits: 1 KiB/s over
//     60 s). Endless 1xx answers and slow uploads are tested against the transport with short
//     limits (src/registry.rs); the getter's default overall limit is in the snapshot of
//     messages (src/transport.rs) and under HELM_CCR_TIMEOUT above.

#[test]
fn a_trickling_registry_is_dropped_without_a_timeout() {
    // 100 bytes every 200 ms: never idle for a second, 500 B/s, under the 1 KiB/s floor.
    let url = download_registry(100, Duration::from_millis(200));
    let w = World::new();
    let started = Instant::now();
    let run = measured(
        &w,
        &url,
        &["pull", &format!("{REPO}/app"), "-d", "o"],
        &[("HELM_CCR_RETRIES", "1")],
    );
    let took = started.elapsed();
    let line = error_line(&run.out);
    assert_eq!(run.out.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with(
            "Error: the transfer stayed under 1 KiB/s for 60s while downloading app-1.0.0.tgz ("
        ) && line.ends_with(
            " KiB of 40 MiB received); the connection is too slow or the registry stalled"
        ),
        "{line}"
    );
    // Dropped at the first window's end, not at the (absent) overall limit.
    assert!(took < Duration::from_secs(110), "{took:?}");
    assert!(run.peak_mib < 64, "peak {} MiB", run.peak_mib);
    assert!(files_below(w.work.path()).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 10. --force on a registry that refuses overwrites never loses the old version.

#[test]
fn force_on_a_registry_that_refuses_overwrites_never_loses_the_old_version() {
    let w = World::new();
    w.emu.set_overwrite(false);
    let old = chart_tgz("app", "1.0.0", "old");
    w.write("old.tgz", &old);
    w.write("old.tgz.prov", b"old provenance\n");
    w.ok(&["push", "old.tgz", REPO]);
    let new = chart_tgz("app", "1.0.0", "new");
    w.write("new.tgz", &new);

    // The first upload meets the registry's 409; after the delete, the new upload is refused
    // (not a transient fault): the old package and its provenance go back.
    let conflict = || Fault::Status {
        status: 409,
        code: Some("StatusConflict".into()),
    };
    w.emu.push_fault_for("POST", "", conflict());
    w.emu.push_fault_for(
        "POST",
        "",
        Fault::Status {
            status: 400,
            code: Some("InvalidChart".into()),
        },
    );
    let out = w
        .cmd()
        .args(["push", "new.tgz", REPO, "--force"])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        line.contains("InvalidChart"),
        "names why the new one failed: {line}"
    );
    assert!(
        line.contains(&format!(
            "holds app 1.0.0 as before (sha256:{})",
            sha256(&old)
        )),
        "{line}"
    );
    assert_eq!(w.stored("app", "1.0.0").unwrap(), old);
    assert_eq!(
        w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").as_deref(),
        Some(&b"old provenance\n"[..])
    );

    // Both the new upload and the restore refused: the error says the registry holds nothing
    // and where the old package is.
    w.emu.push_fault_for("POST", "", conflict());
    for _ in 0..2 {
        w.emu.push_fault_for(
            "POST",
            "",
            Fault::Status {
                status: 400,
                code: None,
            },
        );
    }
    let out = w
        .cmd()
        .args(["push", "new.tgz", REPO, "--force"])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert!(line.contains("does not hold app 1.0.0 now"), "{line}");
    let saved = line.rsplit("saved at ").next().unwrap().trim();
    assert_eq!(
        std::fs::read(saved).unwrap(),
        old,
        "the copy is the old package"
    );
    assert!(w.stored("app", "1.0.0").is_none());
    std::fs::remove_dir_all(Path::new(saved).parent().unwrap()).unwrap();

    // And when all goes well, the new package replaces the old one.
    w.ok(&["push", "old.tgz", REPO]);
    w.ok(&["push", "new.tgz", REPO, "--force"]);
    assert_eq!(w.stored("app", "1.0.0").unwrap(), new);
}

// ---------------------------------------------------------------------------------------------
// 12. Downloads are capped.

#[test]
fn downloads_are_capped_at_the_limit_and_the_announced_length() {
    // An endless (chunked) package.
    let reg = Scripted::start(Box::new(|_, url, _| {
        if url.contains("/download/") {
            Answer::Endless(b"\x1f\x8b".to_vec(), 0)
        } else {
            versions_page(serde_json::json!([{
                "name": "app", "version": "1.0.0", "digest": "ab".repeat(32), "urls": ["app-1.0.0.tgz"]
            }]))
        }
    }));
    let w = World::new();
    for args in [
        vec![
            "pull".to_string(),
            format!("{REPO}/app"),
            "-d".into(),
            "o".into(),
        ],
        vec![
            "pull".to_string(),
            format!("{REPO}/app"),
            "-d".into(),
            "o".into(),
            "--untar".into(),
        ],
        vec![
            "download".into(),
            "".into(),
            "".into(),
            "".into(),
            format!("{REPO}/app-1.0.0.tgz"),
        ],
    ] {
        let before = reg.seen().len();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let m = measured(&w, &reg.url, &args, &[("HELM_CCR_MAX_DOWNLOAD", "8MiB")]);
        assert_eq!(m.out.status.code(), Some(1), "{args:?}: {}", stderr(&m.out));
        let line = error_line(&m.out);
        assert!(
            line.contains("stopped at the download limit (HELM_CCR_MAX_DOWNLOAD)"),
            "{line}"
        );
        assert!(m.out.stdout.is_empty());
        assert!(m.peak_mib < 64, "{args:?}: peak {} MiB", m.peak_mib);
        assert!(files_below(w.work.path()).is_empty(), "{args:?}");
        let downloads = reg.seen()[before..]
            .iter()
            .filter(|r| r.contains("/download/"))
            .count();
        assert_eq!(downloads, 1, "{args:?}: not retried");
    }
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &reg.url)
        .env("HELM_CCR_MAX_DOWNLOAD", "a lot")
        .args(["pull", &format!("{REPO}/app")])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "HELM_CCR_MAX_DOWNLOAD");

    // A length over the limit is refused before a byte is read.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if conn.read(&mut b).unwrap_or(0) == 0 {
                    break;
                }
                head.push(b[0]);
            }
            if String::from_utf8_lossy(&head).contains("/download/") {
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 1099511627776\r\nconnection: close\r\n\r\nxx",
                );
            } else {
                let body = serde_json::json!({"total": 1, "items": [{"name": "app", "version": "1.0.0", "urls": ["app-1.0.0.tgz"]}]}).to_string();
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        }
    });
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", &url)
        .args(["pull", &format!("{REPO}/app"), "-d", "o"])
        .output()
        .unwrap();
    assert_one_error(
        &out,
        1,
        "announces 1048576 MiB for app-1.0.0.tgz, over the download limit of 512 MiB",
    );
    assert!(files_below(w.work.path()).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 13. File names of 243-255 bytes.

#[test]
fn file_names_of_up_to_255_bytes_pull_fine() {
    let bytes = chart_tgz("app", "1.0.0", "");
    for len in [243usize, 250, 255] {
        let name = format!("app-1.0.0-{}.tgz", "x".repeat(len - "app-1.0.0-.tgz".len()));
        assert_eq!(name.len(), len);
        let (b2, n2) = (bytes.clone(), name.clone());
        let digest = sha256(&bytes);
        let reg = Scripted::start(Box::new(move |_, url, _| {
            if url.contains("/download/") {
                Answer::Bytes(b2.clone())
            } else {
                versions_page(serde_json::json!([{
                    "name": "app", "version": "1.0.0", "digest": digest, "urls": [n2]
                }]))
            }
        }));
        let w = World::new();
        let out = w
            .cmd()
            .env("HELM_CCR_ENDPOINT", &reg.url)
            .args(["pull", &format!("{REPO}/app"), "-d", "o"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{len}: {}", stderr(&out));
        assert_eq!(files_below(w.work.path()), [format!("o/{name}")]);
        let out = w
            .cmd()
            .env("HELM_CCR_ENDPOINT", &reg.url)
            .args(["pull", &format!("{REPO}/app"), "-d", "u", "--untar"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{len}: {}", stderr(&out));
        assert!(w.path("u/app/Chart.yaml").is_file());
    }
}

// ---------------------------------------------------------------------------------------------
// 14. A broken ~/.bce/config.json stops only what needs it.

#[test]
fn a_broken_bce_config_stops_only_commands_that_need_it() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    std::fs::write(
        w.home.path().join(".bce/config.json"),
        "{\"profiles\": [oops",
    )
    .unwrap();
    // Credentials from the environment, endpoint named: the file is never read.
    let out = w.ok(&["ls", REPO]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // Credentials from the Helm repository entry.
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("apiVersion: \"\"\nrepositories:\n- name: myccr\n  url: {REPO}\n  username: {AK}\n  password: {SK}\n"),
    )
    .unwrap();
    let out = w.bare().args(["ls", "myccr"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // The getter, with Helm's credentials.
    let out = w
        .bare()
        .env("HELM_PLUGIN_USERNAME", AK)
        .env("HELM_PLUGIN_PASSWORD", SK)
        .args(["download", "", "", "", &format!("{REPO}/index.yaml")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A profile named in BCE_PROFILE is not needed either.
    let out = w
        .cmd()
        .env("BCE_PROFILE", "nope")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Needed for the credentials: the error names the file and the place.
    let out = w.bare().args(["ls", REPO]).output().unwrap();
    assert_one_error(
        &out,
        1,
        "config.json is not valid BCE CLI configuration: a JSON syntax error at line 1, column",
    );
}

// ---------------------------------------------------------------------------------------------
// 15. A package Helm cannot load is flagged before upload.

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
