//! A release pipeline that runs `helm ccr push` on every commit, as a monorepo's CI does: a
//! re-run with the same charts uploads nothing and reports them `unchanged` (though a fresh
//! clone gives every file a new time, so the packages' bytes differ); a chart changed without a
//! version bump fails the run by name, never silently dropped; `--skip-existing` keeps the
//! stored one with a warning; `--force` replaces it. Also against a registry that silently
//! overwrites: we look first, so it never gets an identical or an unbumped chart.
//!
//! And the comparison itself against real Helm: a package `helm package` (3.17.3 and 4.1.4)
//! makes of a directory is identical to ours, and a one-byte change in any file is not.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ccr_emulator::{Config, Key};
use helm_ccr::chart::compare::{compare_packages, entries_of_file};
use helm_ccr::chart::{package_dir, Overrides};

use crate::common::*;

/// The charts of the monorepo: name → files (path, content).
fn chart_files(name: &str, values: &str) -> Vec<(String, String)> {
    vec![
        (
            "Chart.yaml".into(),
            format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\ndescription: chart {name}\n"),
        ),
        ("values.yaml".into(), values.to_string()),
        (
            "templates/deploy.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n".into(),
        ),
        ("README.md".into(), format!("# {name}\n")),
    ]
}

/// Writes a fresh clone of the monorepo into `run` (new files, each with a new time, as a
/// CI checkout has), `charts` naming each chart and its `values.yaml`. Returns the chart
/// directories, relative to the work directory.
fn checkout(w: &World, run: usize, charts: &[(&str, &str)]) -> Vec<String> {
    // A time of its own for every run: the packages' gzip bytes differ from run to run.
    let time = SystemTime::now() + Duration::from_secs(3600 * run as u64);
    let mut dirs = Vec::new();
    for (name, values) in charts {
        let dir = format!("run{run}/charts/{name}");
        for (rel, text) in chart_files(name, values) {
            let p = w.write(&format!("{dir}/{rel}"), text.as_bytes());
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(time).unwrap();
        }
        dirs.push(dir);
    }
    dirs
}

fn push(w: &World, dirs: &[String], extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = vec!["push"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend([REPO, "-o", "json"]);
    args.extend(extra);
    w.cmd().args(&args).output().unwrap()
}

/// `(name, action)` of each record of a `-o json` run.
fn actions(out: &std::process::Output) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)));
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = r["name"]
                .as_str()
                .or(r["source"].as_str())
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            (name, r["action"].as_str().unwrap().to_string())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn uploads(w: &World) -> usize {
    w.count("POST")
}

fn pipeline(overwrite: bool) {
    let mut config = Config::new(vec![Key::new(AK, SK)]);
    config.overwrite = overwrite;
    let w = World::with(config);
    let three = [("api", "a: 1\n"), ("web", "b: 2\n"), ("db", "c: 3\n")];

    // First run: every chart is new.
    let dirs = checkout(&w, 1, &three);
    let out = push(&w, &dirs, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        actions(&out),
        pairs(&[("api", "pushed"), ("web", "pushed"), ("db", "pushed")])
    );
    let first_web = w.stored("web", "0.1.0").unwrap();

    // Second run, a fresh clone of the same commit: nothing to upload.
    let before = uploads(&w);
    let dirs = checkout(&w, 2, &three);
    let out = push(&w, &dirs, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        actions(&out),
        pairs(&[
            ("api", "unchanged"),
            ("web", "unchanged"),
            ("db", "unchanged")
        ])
    );
    assert_eq!(uploads(&w), before, "an unchanged chart is not uploaded");
    // The packages were not byte-identical (new file times): the content decided.
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_ne!(
        v[1]["digest"].as_str().unwrap(),
        format!("sha256:{}", sha256(&first_web)),
        "the second run's package differs in its bytes"
    );
    // The text form says so too.
    let text = w.cmd().args(["push", &dirs[1], REPO]).output().unwrap();
    assert!(text.status.success(), "{}", stderr(&text));
    assert_eq!(
        stdout(&text).trim(),
        format!("Unchanged web 0.1.0: identical to the version in {REPO}")
    );
    assert_eq!(uploads(&w), before);

    // Third run: web's values.yaml changed by one byte, no version bump; a new chart beside.
    let changed = [
        ("api", "a: 1\n"),
        ("web", "b: 3\n"),
        ("db", "c: 3\n"),
        ("cache", "d: 4\n"),
    ];
    let dirs = checkout(&w, 3, &changed);
    let out = push(&w, &dirs, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        actions(&out),
        pairs(&[
            ("api", "unchanged"),
            ("web", "failed"),
            ("db", "unchanged"),
            ("cache", "pushed")
        ])
    );
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert_eq!(
        errors[0],
        format!(
            "Error: run3/charts/web: web 0.1.0 already exists in {REPO} with different content: values.yaml differs (changed without a version bump); bump the version, or use --force to replace it"
        )
    );
    assert_eq!(errors[1], "Error: 1 of 4 charts failed");
    assert_eq!(uploads(&w), before + 1, "only the new chart is uploaded");
    assert_eq!(w.stored("web", "0.1.0").unwrap(), first_web);
    assert_eq!(w.versions("cache"), ["0.1.0"]);

    // The dry run of that commit says what the run would do, and fails as it would.
    let out = push(&w, &dirs, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        actions(&out),
        pairs(&[
            ("api", "unchanged"),
            ("web", "would fail"),
            ("db", "unchanged"),
            ("cache", "unchanged")
        ])
    );
    assert!(
        stderr(&out).contains("Error: 1 of 4 charts would fail (changed without a version bump)"),
        "{}",
        stderr(&out)
    );
    let out = push(&w, &dirs, &["--dry-run", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(actions(&out)[1], pairs(&[("web", "would replace")])[0]);
    assert_eq!(uploads(&w), before + 1, "a dry run uploads nothing");

    // The same commit with --skip-existing: green, the stored web kept, with a warning.
    let out = push(&w, &dirs, &["--skip-existing"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        actions(&out),
        pairs(&[
            ("api", "unchanged"),
            ("web", "skipped"),
            ("db", "unchanged"),
            ("cache", "unchanged")
        ])
    );
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("web 0.1.0") && warnings[0].contains("values.yaml differs"),
        "{err}"
    );
    assert_eq!(uploads(&w), before + 1);
    assert_eq!(w.stored("web", "0.1.0").unwrap(), first_web);

    // And with --force: web replaced, the identical charts still not uploaded.
    let out = push(&w, &dirs, &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        actions(&out),
        pairs(&[
            ("api", "unchanged"),
            ("web", "replaced"),
            ("db", "unchanged"),
            ("cache", "unchanged")
        ])
    );
    let stored = w.stored("web", "0.1.0").unwrap();
    assert_ne!(stored, first_web);
    let kept = w.write("stored-web.tgz", &stored);
    let ours = package_dir(&w.path(&dirs[1]), &Overrides::default(), None).unwrap();
    assert!(compare_packages(ours.path(), &kept).unwrap().is_identical());
    assert_eq!(w.versions("web"), ["0.1.0"]);

    // The next commit's run is green again: nothing to do.
    let before = uploads(&w);
    let dirs = checkout(&w, 4, &changed);
    let out = push(&w, &dirs, &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        actions(&out).iter().all(|(_, a)| a == "unchanged"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        uploads(&w),
        before,
        "--force uploads nothing over identical charts"
    );
}

#[test]
fn a_monorepo_pipeline_never_drops_a_change() {
    pipeline(false);
}

#[test]
fn a_registry_that_silently_overwrites_gets_no_identical_or_unbumped_chart() {
    pipeline(true);
}

/// `helm package DIR -d OUT` with a real Helm; the package's path.
fn helm_package(version: u32, dir: &Path, out: &Path) -> PathBuf {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out).unwrap();
    run_helm(
        version,
        home.path(),
        &[
            "package".as_ref(),
            dir.as_os_str(),
            "-d".as_ref(),
            out.as_os_str(),
        ],
    );
    let tgz: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tgz"))
        .collect();
    assert_eq!(tgz.len(), 1, "helm {version} wrote {tgz:?}");
    tgz.into_iter().next().unwrap()
}

/// A chart with a subchart, a binary file and a `.helmignore`; every file ends in a letter
/// or digit before its newline, where [`one_byte_changed`] makes its change.
fn test_chart(dir: &Path) {
    let files: [(&str, &[u8]); 10] = [
        (
            "Chart.yaml",
            b"apiVersion: v2\nname: cmp\nversion: 1.2.3\ndescription: compared\n",
        ),
        ("values.yaml", b"replicas: 1\nimage: nginx\n"),
        (
            "values.schema.json",
            b"{\"type\": \"object\", \"title\": \"v1\"}",
        ),
        (
            "templates/deploy.yaml",
            b"kind: ConfigMap\nmetadata:\n  name: x\n",
        ),
        (
            "templates/_helpers.tpl",
            b"{{- define \"cmp.name\" -}}cmp{{- end -}}\n",
        ),
        ("templates/NOTES.txt", b"installed\n"),
        (".helmignore", b"*.bak\n# what helm leaves out\n"),
        ("files/data.bin", b"\x00\x01\x02\xff\xfe9"),
        (
            "charts/sub/Chart.yaml",
            b"apiVersion: v2\nname: sub\nversion: 0.0.1\ndescription: subchart\n",
        ),
        ("charts/sub/templates/cm.yaml", b"kind: ConfigMap\n"),
    ];
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    std::fs::write(dir.join("ignored.bak"), b"not packaged\n").unwrap();
}

/// `bytes` with one byte changed: its last letter or digit, to the next one.
fn one_byte_changed(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let at = b
        .iter()
        .rposition(u8::is_ascii_alphanumeric)
        .expect("a letter or digit to change");
    b[at] = match b[at] {
        b'z' => b'a',
        b'Z' => b'A',
        b'9' => b'0',
        c => c + 1,
    };
    b
}

#[test]
fn helm_packages_of_the_same_directory_are_identical_and_one_byte_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("cmp");
    test_chart(&chart);
    let ours = package_dir(&chart, &Overrides::default(), None).unwrap();
    let mut helms = Vec::new();
    for version in [3, 4] {
        let theirs = helm_package(version, &chart, &tmp.path().join(format!("helm{version}")));
        let c = compare_packages(ours.path(), &theirs).unwrap();
        assert!(c.is_identical(), "helm {version}: {c:?}");
        helms.push(theirs);
    }
    assert!(compare_packages(&helms[0], &helms[1])
        .unwrap()
        .is_identical());

    // Every packaged file, changed by one byte, is named as the one difference.
    let packaged: Vec<String> = entries_of_file(ours.path()).unwrap().into_keys().collect();
    assert_eq!(packaged.len(), 10, "{packaged:?}");
    for rel in &packaged {
        let copy = tmp
            .path()
            .join(format!("changed-{}", rel.replace('/', "_")));
        copy_dir(&chart, &copy);
        let original = std::fs::read(copy.join(rel)).unwrap();
        std::fs::write(copy.join(rel), one_byte_changed(&original)).unwrap();
        let changed = package_dir(&copy, &Overrides::default(), None)
            .unwrap_or_else(|e| panic!("{rel}: {e:#}"));
        for theirs in &helms {
            let c = compare_packages(changed.path(), theirs).unwrap();
            assert_eq!(c.changed, std::slice::from_ref(rel), "{rel}: {c:?}");
            assert!(c.added.is_empty() && c.removed.is_empty(), "{rel}: {c:?}");
        }
    }
}

#[test]
fn every_valid_chart_packaged_by_helm_is_identical_to_ours() {
    let valid = repo_root().join("tests/charts/valid");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&valid)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 5);
    for dir in dirs {
        let tmp = tempfile::tempdir().unwrap();
        let ours = package_dir(&dir, &Overrides::default(), None).unwrap();
        for version in [3, 4] {
            let theirs = helm_package(version, &dir, &tmp.path().join(format!("helm{version}")));
            let c = compare_packages(ours.path(), &theirs).unwrap();
            assert!(c.is_identical(), "{} helm {version}: {c:?}", dir.display());
        }
    }
}

#[test]
fn a_helm_package_pushed_over_ours_is_unchanged() {
    let w = World::new();
    let chart = w.path("cmp");
    test_chart(&chart);
    w.ok(&["push", "cmp", REPO]);
    let posts = w.count("POST");
    for version in [3, 4] {
        let tgz = helm_package(version, &chart, &w.path(&format!("helm{version}")));
        let tgz = tgz
            .strip_prefix(w.work.path())
            .unwrap()
            .display()
            .to_string();
        let out = w.ok(&["push", &tgz, REPO]);
        assert_eq!(
            stdout(&out).trim(),
            format!("Unchanged cmp 1.2.3: identical to the version in {REPO}"),
            "helm {version}"
        );
    }
    assert_eq!(w.count("POST"), posts, "nothing uploaded");
}
