//! Property tests: no input makes the Chart.yaml reader, the YAML parser, the `.helmignore`
//! parser, the Go glob matcher or the package reader panic, and the glob matcher agrees with
//! simple facts about `filepath.Match`.

use std::io::Write;

use proptest::prelude::*;

use super::{ignore, metadata, tgz, yaml};

/// Chart.yaml-ish text: known keys with scalars, lists, maps, anchors, tags, odd quoting.
fn chart_yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("apiVersion"),
        Just("name"),
        Just("version"),
        Just("appVersion"),
        Just("kubeVersion"),
        Just("description"),
        Just("type"),
        Just("keywords"),
        Just("maintainers"),
        Just("dependencies"),
        Just("annotations"),
        Just("deprecated"),
        Just("icon"),
        Just("home"),
        Just("sources"),
        Just("<<"),
        Just("x"),
    ];
    let scalar = prop_oneof![
        Just("v2".to_string()),
        Just("1.0.0".to_string()),
        Just("~".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("0x1F".to_string()),
        Just("1e3".to_string()),
        Just(".inf".to_string()),
        Just("!!binary aGVsbG8=".to_string()),
        Just("&a x".to_string()),
        Just("*a".to_string()),
        Just("\"\\u00e9\\x41\"".to_string()),
        Just("'it''s'".to_string()),
        Just("|\n  block\n".to_string()),
        Just("[a, {b: c}, [d]]".to_string()),
        Just("{name: x, version: 1}".to_string()),
        Just("\n  - name: d\n    version: 1.0.0\n    repository: file://../d\n".to_string()),
        Just("\n  - x\n  - {email: a@b}\n".to_string()),
        "[ -~]{0,20}",
    ];
    prop::collection::vec((key, scalar, 0usize..3), 0..12).prop_map(|entries| {
        let mut s = String::new();
        for (k, v, indent) in entries {
            s.push_str(&" ".repeat(indent));
            s.push_str(k);
            s.push_str(": ");
            s.push_str(&v);
            s.push('\n');
        }
        s
    })
}

/// Bytes that are mostly pattern material.
fn globish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b'*'),
            Just(b'?'),
            Just(b'['),
            Just(b']'),
            Just(b'^'),
            Just(b'-'),
            Just(b'\\'),
            Just(b'/'),
            Just(b'a'),
            Just(b'b'),
            Just(b'.'),
            Just(b'!'),
            Just(b'\n'),
            Just(b' '),
            Just(b'#'),
            Just(0xC3),
            Just(0xA9),
            Just(0xFF),
            any::<u8>(),
        ],
        0..24,
    )
}

fn plain_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{0,12}"
}

fn tgz_of(files: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            let n = name.len().min(99);
            old.name[..n].copy_from_slice(&name[..n]);
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chart_yaml_reader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = metadata::parse(&bytes);
        let _ = metadata::parse_lock(&bytes);
    }

    #[test]
    fn chart_yaml_reader_never_panics_on_yamlish(text in chart_yamlish()) {
        if let Ok(mut md) = metadata::parse(text.as_bytes()) {
            let _ = md.validate();
            let _ = md.to_yaml();
            let _ = md.semver();
        }
        let _ = metadata::parse_lock(text.as_bytes());
        let _ = yaml::parse_first_document(&text);
    }

    #[test]
    fn yaml_parser_never_panics(text in "[\\[\\]{}:,&*!|>'\"#%@` \n\t-?a-z0-9]{0,200}") {
        let _ = yaml::parse_first_document(&text);
        let _ = metadata::parse(text.as_bytes());
    }

    #[test]
    fn helmignore_parser_never_panics(content in prop::collection::vec(globish(), 0..8), path in globish(), dir: bool) {
        let joined = content.join(&b'\n');
        if let Ok(rules) = ignore::Rules::parse(&joined) {
            let _ = rules.ignore_bytes(&path, dir);
            let _ = rules.ignore(&String::from_utf8_lossy(&path), dir);
            let _ = rules.raw_rules().count();
        }
    }

    #[test]
    fn go_match_never_panics(pattern in globish(), name in globish()) {
        let _ = ignore::go_match(&pattern, &name);
    }

    #[test]
    fn go_match_literal_and_star_facts(name in plain_name(), other in plain_name()) {
        // A name without metacharacters matches itself and only itself.
        prop_assert_eq!(ignore::go_match(name.as_bytes(), name.as_bytes()), Ok(true));
        prop_assert_eq!(ignore::go_match(name.as_bytes(), other.as_bytes()), Ok(name == other));
        // `*` matches any name without a slash, never one with a slash.
        prop_assert_eq!(ignore::go_match(b"*", name.as_bytes()), Ok(true));
        let slashed = format!("{name}/{other}");
        prop_assert_eq!(ignore::go_match(b"*", slashed.as_bytes()), Ok(false));
        // `?` matches exactly one character.
        let q = "?".repeat(name.chars().count());
        prop_assert_eq!(ignore::go_match(q.as_bytes(), name.as_bytes()), Ok(true));
        // A prefix followed by `*`.
        let half = &name[..name.len() / 2];
        let pat = format!("{half}*");
        prop_assert_eq!(ignore::go_match(pat.as_bytes(), name.as_bytes()), Ok(true));
    }

    #[test]
    fn go_match_escaped_names_match_exactly(name in "[ -~]{0,12}") {
        // Every character escaped: matches the name as a literal.
        let mut pat = Vec::new();
        for b in name.bytes() {
            pat.push(b'\\');
            pat.push(b);
        }
        prop_assert_eq!(ignore::go_match(&pat, name.as_bytes()), Ok(true));
    }

    #[test]
    fn tar_reading_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.tgz");
        std::fs::File::create(&p).unwrap().write_all(&bytes).unwrap();
        let _ = tgz::inspect(&p);
        let out = dir.path().join("out");
        let _ = tgz::untar(&p, &out);
        assert_contained(&out);
    }

    #[test]
    fn tar_reading_never_panics_or_escapes(
        entries in prop::collection::vec((globish(), prop::collection::vec(any::<u8>(), 0..64)), 0..6),
        chart in chart_yamlish(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut files: Vec<(Vec<u8>, Vec<u8>)> = vec![(b"c/Chart.yaml".to_vec(), chart.into_bytes())];
        for (name, data) in entries {
            let mut full = b"c/".to_vec();
            full.extend(name);
            files.push((full, data));
        }
        let mut bytes = tgz_of(&files);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.tgz");
        std::fs::write(&p, &bytes).unwrap();
        let _ = tgz::inspect(&p);
        let out = dir.path().join("out");
        let _ = tgz::untar(&p, &out);
        assert_contained(&out);
        // And the same package with a few bytes changed.
        if !bytes.is_empty() {
            for (i, b) in flips {
                let at = i.index(bytes.len());
                bytes[at] ^= b | 1;
            }
            std::fs::write(&p, &bytes).unwrap();
            let _ = tgz::inspect(&p);
            let out = dir.path().join("out2");
            let _ = tgz::untar(&p, &out);
            assert_contained(&out);
        }
        // Nothing landed next to the package but what the tests made.
        let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names.retain(|n| n != "x.tgz" && n != "out" && n != "out2");
        prop_assert!(names.is_empty(), "{:?}", names);
    }
}

/// Everything below `out` is a plain directory or file (no links), and no staging directory
/// was left behind.
fn assert_contained(out: &std::path::Path) {
    fn walk(dir: &std::path::Path) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            assert!(!meta.file_type().is_symlink(), "{}", e.path().display());
            assert!(
                !e.file_name()
                    .to_string_lossy()
                    .starts_with(".helm-ccr-untar-"),
                "staging left: {}",
                e.path().display()
            );
            if meta.is_dir() {
                walk(&e.path());
            }
        }
    }
    walk(out);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for text in [
        "[".repeat(100_000),
        "{a: ".repeat(50_000),
        "- ".repeat(50_000),
        format!("name: {}", "[".repeat(100_000)),
    ] {
        let _ = yaml::parse_first_document(&text);
        let _ = metadata::parse(text.as_bytes());
        let _ = metadata::parse_lock(text.as_bytes());
    }
}
