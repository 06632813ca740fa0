use super::*;
use std::os::unix::fs::symlink;

/// A chart directory holding only a Chart.yaml named `name`.
fn chart_dir(name: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    fs::write(
        t.path().join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
    )
    .unwrap();
    t
}

/// The review's symbolic link DAG: directories `d/0` to `d/DEPTH`, each but the last
/// holding two links `a` and `b` to the next; the last holds `f.txt`. Helm packages the
/// leaf once per path: 2^(DEPTH-k) times below `d/k`.
fn link_dag(root: &Path, depth: usize) {
    for k in 0..=depth {
        fs::create_dir_all(root.join(format!("d/{k}"))).unwrap();
    }
    for k in 0..depth {
        for link in ["a", "b"] {
            symlink(format!("../{}", k + 1), root.join(format!("d/{k}/{link}"))).unwrap();
        }
    }
    fs::write(root.join(format!("d/{depth}/f.txt")), "leaf\n").unwrap();
}

fn names(c: &Chart) -> Vec<&str> {
    c.files.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn a_symlink_dag_of_depth_18_stops_at_the_entry_bound_naming_the_setting() {
    let t = chart_dir("dag");
    link_dag(t.path(), 18);
    let e = load_dir(t.path(), DEFAULT_MAX_ENTRIES)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("more than 100000 files, directories and links")
            && e.contains("set HELM_CCR_MAX_ENTRIES to a higher number"),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");
}

#[test]
fn a_symlink_dag_within_the_bound_is_packaged_along_every_path_as_helm_does() {
    let t = chart_dir("dag");
    link_dag(t.path(), 3);
    let c = load_dir(t.path(), DEFAULT_MAX_ENTRIES).unwrap();
    let n = names(&c);
    // 2^3 + 2^2 + 2^1 + 1 copies of the leaf, one per path, in Helm's order.
    assert_eq!(n.len(), 15, "{n:?}");
    assert_eq!(n[0], "d/0/a/a/a/f.txt");
    assert_eq!(n[7], "d/0/b/b/b/f.txt");
    assert_eq!(n[14], "d/3/f.txt");
    // Entries: Chart.yaml, d, d/0..d/3 (4), the links below d/0 (2+4+8), below d/1
    // (2+4), below d/2 (2), and the 15 files.
    let entries = 1 + 1 + 4 + 14 + 6 + 2 + 15;
    assert!(load_dir(t.path(), entries).is_ok());
    let e = load_dir(t.path(), entries - 1).unwrap_err().to_string();
    assert!(e.contains(&format!("more than {}", entries - 1)), "{e}");
}

#[test]
fn a_directory_with_more_names_than_the_bound_is_refused_while_it_is_read() {
    let t = chart_dir("wide");
    fs::create_dir(t.path().join("many")).unwrap();
    for i in 0..50 {
        fs::write(t.path().join(format!("many/{i}")), "").unwrap();
    }
    let e = load_dir(t.path(), 40).unwrap_err().to_string();
    assert!(
        e.contains("more than 40 files, directories and links (stopped at many;"),
        "{e}"
    );
    // Chart.yaml, many, and its 50 files.
    assert!(load_dir(t.path(), 52).is_ok());
    assert!(load_dir(t.path(), 51).is_err());
}

#[test]
fn a_chain_of_1500_nested_directories_is_walked() {
    let t = chart_dir("deep");
    let mut rel = String::new();
    for _ in 0..1500 {
        rel.push_str("d/");
    }
    fs::create_dir_all(t.path().join(&rel)).unwrap();
    rel.push_str("f.txt");
    fs::write(t.path().join(&rel), "deep\n").unwrap();
    let c = load_dir(t.path(), DEFAULT_MAX_ENTRIES).unwrap();
    assert_eq!(names(&c), [rel.as_str()]);
    assert_eq!(c.metadata.name, "deep");
}

#[test]
fn a_symlink_cycle_is_an_error_naming_the_link() {
    // Helm follows it until the system answers "too many levels of symbolic links".
    let t = chart_dir("cycle");
    fs::create_dir(t.path().join("sub")).unwrap();
    symlink("..", t.path().join("sub/up")).unwrap();
    let e = load_dir(t.path(), DEFAULT_MAX_ENTRIES)
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("\": sub/up: symbolic link loop"), "{e}");
    // A link to a sibling directory is no loop: its content is packaged under both names.
    let t = chart_dir("twice");
    fs::create_dir(t.path().join("real")).unwrap();
    fs::write(t.path().join("real/x.txt"), "x").unwrap();
    symlink("real", t.path().join("alias")).unwrap();
    let c = load_dir(t.path(), DEFAULT_MAX_ENTRIES).unwrap();
    assert_eq!(names(&c), ["alias/x.txt", "real/x.txt"]);
}

#[test]
fn go_path_clean() {
    assert_eq!(clean_path("a/./b//c/"), "a/b/c");
    assert_eq!(clean_path(""), ".");
    assert_eq!(clean_path("../x"), "../x");
    assert_eq!(clean_path("a/../../x"), "../x");
    assert_eq!(clean_path("/a/.."), "/");
}

#[test]
fn values_must_be_maps() {
    assert!(parse_values(b"a: 1\n").is_ok());
    assert!(parse_values(b"").is_ok());
    assert!(parse_values(b"# only a comment\n").is_ok());
    assert!(parse_values(b"a: 1\n---\nb: 2\n").is_ok());
    assert!(parse_values(b"- a\n").is_err());
    assert!(parse_values(b"just a string\n").is_err());
    assert!(parse_values(b"a: 1\n---\n- x\n").is_err());
    assert!(parse_values(b"a: [1\n").is_err());
}

#[test]
fn lock_times() {
    assert_eq!(rfc3339_secs("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        rfc3339_secs("2024-05-06T07:08:09.6+01:00"),
        Some(1714975690)
    );
}
