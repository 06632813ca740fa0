//! Packaging compared with real Helm: every valid chart of `tests/charts/valid` is packaged by
//! `helm_ccr::chart::package_dir` and by `helm package` (3.17.3 and 4.1.4); the packages must
//! hold the same entries, the same bytes per entry except Chart.yaml/Chart.lock (equal as
//! YAML data), in the same order within each chart (subchart order aside). Our packages must
//! pass `helm lint` and `helm template`. Every chart of `tests/charts/invalid` (and the ones
//! made at run time: fifo, oversized file, broken link) must be refused by Helm and by us.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use helm_ccr::chart::yaml::{self, Node};
use helm_ccr::chart::{package_dir, repack_tgz, validate_version_override, Overrides};

use crate::common::{helm, repo_root};

/// The real Helm binary of that major version (`3` or `4`).
fn helm_cmd(version: u32, home: &Path) -> Command {
    let mut c = Command::new(helm(version));
    c.env("HOME", home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("HELM_DEBUG");
    c
}

fn corpus(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(repo_root().join("tests/charts").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Runs `helm package` and returns the package path, or the error text.
fn helm_package(version: u32, dir: &Path, out: &Path) -> Result<PathBuf, String> {
    let home = tempfile::tempdir().unwrap();
    let o = helm_cmd(version, home.path())
        .arg("package")
        .arg(dir)
        .arg("-d")
        .arg(out)
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    let tgz: Vec<PathBuf> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tgz"))
        .collect();
    assert_eq!(tgz.len(), 1, "helm {version} wrote {tgz:?}");
    Ok(tgz.into_iter().next().unwrap())
}

struct Entry {
    name: String,
    data: Vec<u8>,
    mode: u32,
    uid: u64,
    gid: u64,
    kind: u8,
}

fn read_tgz(p: &Path) -> Vec<Entry> {
    let f = fs::File::open(p).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header();
        let kind = h.entry_type().as_byte();
        let mode = h.mode().unwrap();
        let uid = h.uid().unwrap();
        let gid = h.gid().unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(Entry {
            name,
            data,
            mode,
            uid,
            gid,
            kind,
        });
    }
    out
}

/// YAML data with maps compared regardless of key order.
#[derive(Debug, PartialEq)]
enum Data {
    Scalar(String),
    Seq(Vec<Data>),
    Map(BTreeMap<String, Data>),
}

fn data(n: &Node) -> Data {
    match n {
        Node::Seq(items) => Data::Seq(items.iter().map(data).collect()),
        Node::Map(m) => Data::Map(
            m.iter()
                .map(|(k, v)| (yaml::map_key_string(k).unwrap(), data(v)))
                .collect(),
        ),
        Node::Null => Data::Scalar("null".into()),
        other => Data::Scalar(format!("{other:?}")),
    }
}

fn yaml_data(b: &[u8]) -> Data {
    data(&yaml::parse_first_document(std::str::from_utf8(b).unwrap()).unwrap())
}

/// The chart an entry belongs to: the longest `<root>` or `…/charts/<sub>` prefix that holds
/// a Chart.yaml.
fn owner(name: &str, roots: &BTreeSet<String>) -> String {
    roots
        .iter()
        .filter(|r| name.starts_with(&format!("{r}/")))
        .max_by_key(|r| r.len())
        .cloned()
        .unwrap_or_default()
}

fn roots(entries: &[Entry]) -> BTreeSet<String> {
    entries
        .iter()
        .filter_map(|e| e.name.strip_suffix("/Chart.yaml"))
        .filter(|d| !d.contains('/') || d.rsplit('/').nth(1) == Some("charts"))
        .map(str::to_string)
        .collect()
}

fn is_meta(name: &str) -> bool {
    name.ends_with("/Chart.yaml") || name.ends_with("/Chart.lock")
}

/// Compares our package with Helm's; returns a description of every difference.
fn compare(ours: &Path, theirs: &Path) -> Vec<String> {
    let a = read_tgz(ours);
    let b = read_tgz(theirs);
    let mut diffs = Vec::new();
    for e in &a {
        if e.kind != b'0' || e.mode != 0o644 || e.uid != 0 || e.gid != 0 {
            diffs.push(format!(
                "{}: kind {} mode {:o} uid {} gid {}",
                e.name, e.kind as char, e.mode, e.uid, e.gid
            ));
        }
    }
    let am: BTreeMap<&str, &Entry> = a.iter().map(|e| (e.name.as_str(), e)).collect();
    let bm: BTreeMap<&str, &Entry> = b.iter().map(|e| (e.name.as_str(), e)).collect();
    if am.len() != a.len() {
        diffs.push("duplicate entries in ours".into());
    }
    for n in bm.keys() {
        if !am.contains_key(n) {
            diffs.push(format!("missing in ours: {n}"));
        }
    }
    for (n, e) in &am {
        match bm.get(n) {
            None => diffs.push(format!("extra in ours: {n}")),
            Some(h) if is_meta(n) => {
                if yaml_data(&e.data) != yaml_data(&h.data) {
                    diffs.push(format!(
                        "{n} differs as data:\nours:\n{}\nhelm:\n{}",
                        String::from_utf8_lossy(&e.data),
                        String::from_utf8_lossy(&h.data)
                    ));
                }
            }
            Some(h) => {
                if e.data != h.data {
                    diffs.push(format!("{n}: bytes differ"));
                }
            }
        }
    }
    // Order within each chart.
    let ra = roots(&a);
    let order = |v: &[Entry]| -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in v {
            m.entry(owner(&e.name, &ra))
                .or_default()
                .push(e.name.clone());
        }
        m
    };
    let (oa, ob) = (order(&a), order(&b));
    for (k, v) in &oa {
        if ob.get(k) != Some(v) {
            diffs.push(format!(
                "order differs in {k}:\nours {v:?}\nhelm {:?}",
                ob.get(k)
            ));
        }
    }
    diffs
}

fn ours(dir: &Path, sde: Option<i64>) -> helm_ccr::chart::Packaged {
    package_dir(dir, &Overrides::default(), sde)
        .unwrap_or_else(|e| panic!("{}: {e:#}", dir.display()))
}

/// `helm lint` and `helm template` (which Helm refuses for every library chart, so those get
/// `helm lint` only).
fn helm_accepts(version: u32, pkg: &Path, library: bool) -> Result<(), String> {
    let home = tempfile::tempdir().unwrap();
    let all = [&["lint"][..], &["template", "release"][..]];
    for args in &all[..if library { 1 } else { 2 }] {
        let o = helm_cmd(version, home.path())
            .args(*args)
            .arg(pkg)
            .output()
            .unwrap();
        if !o.status.success() {
            return Err(format!(
                "helm {version} {args:?}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    Ok(())
}

#[test]
fn valid_charts_match_helm_package() {
    let mut failures = Vec::new();
    let charts = corpus("valid");
    assert!(charts.len() >= 5, "corpus missing");
    for dir in charts {
        let p = ours(&dir, Some(1_700_000_000));
        // Keep our package under its real name for helm lint/template.
        let named_dir = tempfile::tempdir().unwrap();
        let named = named_dir.path().join(&p.file_name);
        fs::copy(p.path(), &named).unwrap();
        for v in [3, 4] {
            let out = tempfile::tempdir().unwrap();
            match helm_package(v, &dir, out.path()) {
                Err(e) => failures.push(format!("{}: helm {v} refused: {e}", dir.display())),
                Ok(theirs) => {
                    let name = theirs.file_name().unwrap().to_str().unwrap();
                    if name != p.file_name {
                        failures.push(format!(
                            "{}: file name {} vs helm {v} {name}",
                            dir.display(),
                            p.file_name
                        ));
                    }
                    for d in compare(p.path(), &theirs) {
                        failures.push(format!("{} vs helm {v}: {d}", dir.display()));
                    }
                }
            }
            if let Err(e) = helm_accepts(v, &named, p.metadata.chart_type == "library") {
                failures.push(format!("{}: {e}", dir.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn assert_refused(dir: &Path, what: &str) {
    let mut helm_refusals = Vec::new();
    for v in [3, 4] {
        let out = tempfile::tempdir().unwrap();
        match helm_package(v, dir, out.path()) {
            Ok(_) => helm_refusals.push(format!("helm {v} accepted")),
            Err(e) => helm_refusals.push(e),
        }
    }
    let both_accept = helm_refusals.iter().all(|e| e.ends_with("accepted"));
    assert!(
        !both_accept,
        "{what}: Helm accepts this chart; it is not an invalid chart"
    );
    match package_dir(dir, &Overrides::default(), Some(0)) {
        Ok(p) => panic!(
            "{what}: we accepted it ({}); helm said {helm_refusals:?}",
            p.file_name
        ),
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(!msg.contains('\n'), "{what}: not one line: {msg}");
            assert!(msg.starts_with("chart \""), "{what}: {msg}");
        }
    }
}

#[test]
fn invalid_charts_are_refused_like_helm() {
    let charts = corpus("invalid");
    assert!(charts.len() >= 8, "corpus missing");
    for dir in charts {
        assert_refused(&dir, &dir.display().to_string());
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_dir(&e.path(), &t);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &t).unwrap();
        } else {
            fs::copy(e.path(), &t).unwrap();
        }
    }
}

fn scratch_chart() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("scratch");
    copy_dir(&repo_root().join("tests/charts/valid/create"), &dir);
    (t, dir)
}

#[test]
fn runtime_refusals_fifo_big_file_broken_link() {
    // A fifo.
    let (_t, dir) = scratch_chart();
    let fifo = dir.join("templates/pipe");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    assert_refused(&dir, "fifo");
    // An ignored fifo is fine, for Helm and for us.
    fs::write(dir.join(".helmignore"), "pipe\n").unwrap();
    package_dir(&dir, &Overrides::default(), None).unwrap();

    // A file over 5 MiB.
    let (_t, dir) = scratch_chart();
    fs::write(dir.join("big.bin"), vec![b'x'; 5 * 1024 * 1024 + 1]).unwrap();
    assert_refused(&dir, "big file");
    // Exactly 5 MiB is accepted.
    fs::write(dir.join("big.bin"), vec![b'x'; 5 * 1024 * 1024]).unwrap();
    package_dir(&dir, &Overrides::default(), None).unwrap();

    // A broken symlink (even when .helmignore names it, Helm resolves links first).
    let (_t, dir) = scratch_chart();
    std::os::unix::fs::symlink("does-not-exist", dir.join("dangling")).unwrap();
    assert_refused(&dir, "broken link");
}

#[test]
fn reproducible_with_source_date_epoch() {
    let dir = repo_root().join("tests/charts/valid/kitchen-sink");
    let a = ours(&dir, Some(1_600_000_000));
    let b = ours(&dir, Some(1_600_000_000));
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(fs::read(a.path()).unwrap(), fs::read(b.path()).unwrap());
    // Touching files does not change the package when the epoch is fixed.
    let (_t, copy) = scratch_chart();
    let c = ours(&copy, Some(5));
    let st = Command::new("touch")
        .arg("-d")
        .arg("@981158400")
        .arg(copy.join("values.yaml"))
        .status()
        .unwrap();
    assert!(st.success());
    let d = ours(&copy, Some(5));
    assert_eq!(c.sha256, d.sha256);
    // Without an epoch, entry times follow the files (as Helm 4 does).
    let e = ours(&copy, None);
    let entries = {
        let f = fs::File::open(e.path()).unwrap();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        ar.entries()
            .unwrap()
            .map(|x| {
                let x = x.unwrap();
                (
                    String::from_utf8(x.path_bytes().into_owned()).unwrap(),
                    x.header().mtime().unwrap(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(entries["create/values.yaml"], 981_158_400);
}

#[test]
fn overrides_for_directories_and_packages() {
    let dir = repo_root().join("tests/charts/valid/create");
    let ov = Overrides {
        version: Some("2.0.0-rc.1".into()),
        app_version: Some("9.9".into()),
    };
    let p = package_dir(&dir, &ov, Some(0)).unwrap();
    assert_eq!(p.file_name, "create-2.0.0-rc.1.tgz");
    assert_eq!(p.metadata.version, "2.0.0-rc.1");
    assert_eq!(p.metadata.app_version, "9.9");
    // Helm's own --version/--app-version give the same package content.
    for v in [3, 4] {
        let out = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let o = helm_cmd(v, home.path())
            .arg("package")
            .arg(&dir)
            .args(["--version", "2.0.0-rc.1", "--app-version", "9.9", "-d"])
            .arg(out.path())
            .output()
            .unwrap();
        assert!(o.status.success());
        let theirs = out.path().join("create-2.0.0-rc.1.tgz");
        let d = compare(p.path(), &theirs);
        assert!(d.is_empty(), "helm {v}: {d:?}");
    }
    // Repacking a .tgz applies the overrides and keeps everything else.
    let base = package_dir(&dir, &Overrides::default(), Some(0)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let tgz = tmp.path().join(&base.file_name);
    fs::copy(base.path(), &tgz).unwrap();
    let r = repack_tgz(&tgz, &ov, Some(0)).unwrap();
    assert_eq!(r.file_name, "create-2.0.0-rc.1.tgz");
    assert_eq!(
        fs::read(r.path()).unwrap(),
        fs::read(p.path()).unwrap(),
        "repacked package differs from the directory's"
    );
    // 1.2.3.4 is refused before anything else.
    assert!(validate_version_override("1.2.3.4").is_err());
    let bad = Overrides {
        version: Some("1.2.3.4".into()),
        app_version: None,
    };
    let e = package_dir(&dir, &bad, None).unwrap_err().to_string();
    assert!(e.contains("1.2.3.4"), "{e}");
    assert!(repack_tgz(&tgz, &bad, None).is_err());
    // Loose forms Helm accepts.
    assert!(validate_version_override("v1.2").is_ok());
    assert!(validate_version_override("1.0").is_ok());
}
