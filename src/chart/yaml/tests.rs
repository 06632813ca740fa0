use super::*;

fn p(s: &str) -> Node {
    parse_first_document(s).unwrap()
}

#[test]
fn yaml11_resolution() {
    assert_eq!(resolve_plain("yes"), Node::Bool(true));
    assert_eq!(resolve_plain("Off"), Node::Bool(false));
    assert_eq!(resolve_plain("0777"), Node::Int(511));
    assert_eq!(resolve_plain("0x1F"), Node::Int(31));
    assert_eq!(resolve_plain("1_000"), Node::Int(1000));
    assert_eq!(resolve_plain("08"), Node::Float(8.0));
    assert_eq!(resolve_plain("1.10"), Node::Float(1.1));
    assert_eq!(resolve_plain(".5"), Node::Float(0.5));
    assert_eq!(resolve_plain("1.2.3"), Node::Str("1.2.3".into()));
    assert_eq!(resolve_plain("2020-01-02"), Node::Str("2020-01-02".into()));
    assert_eq!(resolve_plain("~"), Node::Null);
    assert_eq!(resolve_plain("1e3"), Node::Float(1000.0));
    assert_eq!(resolve_plain("-0b101"), Node::Int(-5));
    assert_eq!(resolve_plain("18446744073709551615"), Node::Uint(u64::MAX));
}

#[test]
fn go_float32_text() {
    assert_eq!(go_format_float32_g(1.0), "1");
    assert_eq!(go_format_float32_g(1.10), "1.1");
    assert_eq!(go_format_float32_g(1000000.0), "1e+06");
    assert_eq!(go_format_float32_g(123456.0), "123456");
    assert_eq!(go_format_float32_g(1234567.0), "1.234567e+06");
    assert_eq!(go_format_float32_g(0.0001), "0.0001");
    assert_eq!(go_format_float32_g(0.00001), "1e-05");
    assert_eq!(go_format_float32_g(0.0), "0");
    assert_eq!(go_format_float32_g(-2.5), "-2.5");
    assert_eq!(go_format_float32_g(1.2345678), "1.2345678");
}

#[test]
fn parse_documents() {
    assert_eq!(p(""), Node::Null);
    assert_eq!(
        p("a: 1\n---\nb: 2\n"),
        Node::Map(vec![(Node::Str("a".into()), Node::Int(1))])
    );
    assert_eq!(
        p("a: &x {k: v}\nb: *x\n"),
        Node::Map(vec![
            (
                Node::Str("a".into()),
                Node::Map(vec![(Node::Str("k".into()), Node::Str("v".into()))])
            ),
            (
                Node::Str("b".into()),
                Node::Map(vec![(Node::Str("k".into()), Node::Str("v".into()))])
            ),
        ])
    );
    assert_eq!(
        p("a: '1.0'\nb: !!str 2\n"),
        Node::Map(vec![
            (Node::Str("a".into()), Node::Str("1.0".into())),
            (Node::Str("b".into()), Node::Str("2".into())),
        ])
    );
    let merged = p("base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3\n");
    let Node::Map(m) = merged else { panic!() };
    assert_eq!(
        m[1].1,
        Node::Map(vec![
            (Node::Str("x".into()), Node::Int(1)),
            (Node::Str("z".into()), Node::Int(2)),
            (Node::Str("z".into()), Node::Int(3)),
        ])
    );
    assert!(parse_first_document("a: [1, 2\n").is_err());
}

#[test]
fn quoting_round_trips() {
    for s in [
        "1.0",
        "1.1",
        "yes",
        "no",
        "",
        "~",
        "null",
        "1.2.3",
        "v1",
        "# x",
        "a: b",
        "a #b",
        "-x",
        "- x",
        "x:",
        "2020-01-01",
        "1:20",
        "0777",
        "héllo",
        "tab\there",
        "line\nbreak",
        "'q'",
        "\"d\"",
        " lead",
        "trail ",
        "<<",
        "@x",
        "a,b",
        "[x]",
        "{x}",
        "*",
        "&a",
        "!t",
        "|",
        ">",
        "%",
        "`",
        "?",
        "? x",
        ":x",
    ] {
        let doc = emit_document(&Out::Map(vec![("k".into(), Out::Str(s.into()))]));
        let back = p(&doc);
        assert_eq!(
            back,
            Node::Map(vec![(Node::Str("k".into()), Node::Str(s.into()))]),
            "{s:?} -> {doc:?}"
        );
    }
    assert_eq!(quote_str("1.0.0"), "1.0.0");
    assert_eq!(quote_str("1.1"), "\"1.1\"");
}

#[test]
fn key_order_is_yaml_v2s() {
    let mut keys = vec!["b", "a10", "a9", "B", "_x", "a-b", "ab", "1"];
    keys.sort_by(|a, b| {
        if yaml_v2_key_less(a, b) {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        }
    });
    assert_eq!(keys, vec!["_x", "1", "B", "a-b", "a9", "a10", "ab", "b"]);
}

#[test]
fn emit_layout() {
    let v = Out::Map(vec![
        ("name".into(), Out::Str("x".into())),
        (
            "deps".into(),
            Out::Seq(vec![Out::Map(vec![
                ("name".into(), Out::Str("a".into())),
                ("tags".into(), Out::Seq(vec![Out::Str("t".into())])),
            ])]),
        ),
        (
            "ann".into(),
            Out::Map(vec![("k".into(), Out::Str("v".into()))]),
        ),
    ]);
    assert_eq!(
        emit_document(&v),
        "ann:\n  k: v\ndeps:\n- name: a\n  tags:\n  - t\nname: x\n"
    );
}

/// A "billion laughs" document: `levels` levels of `fan` aliases to the level below.
pub(crate) fn billion_laughs(levels: usize, fan: usize) -> String {
    let mut doc = String::from("a0: &a0 [\"lol\"]\n");
    for l in 1..=levels {
        let refs = vec![format!("*a{}", l - 1); fan].join(", ");
        doc.push_str(&format!("a{l}: &a{l} [{refs}]\n"));
    }
    doc
}

#[test]
fn alias_bombs_are_refused_as_yaml_v2_refuses_them() {
    // 10^9 "lol"s if expanded; refused after a few thousand nodes.
    let err = parse_first_document(&billion_laughs(9, 10)).unwrap_err();
    assert_eq!(err, "document contains excessive aliasing");
    // Wide rather than deep.
    let err = parse_first_document(&billion_laughs(3, 200)).unwrap_err();
    assert!(err.contains("excessive aliasing"), "{err}");
    // A few big strings aliased many times: fine for yaml.v2's ratio, not for memory here.
    let big = "x".repeat(1 << 20);
    let doc = format!("s: &s \"{big}\"\nl: [{}]\n", vec!["*s"; 200].join(", "));
    let err = parse_first_document(&doc).unwrap_err();
    assert!(
        err.contains("excessive aliasing") && err.contains("MiB"),
        "{err}"
    );
}

#[test]
fn ordinary_aliases_still_work() {
    // Under yaml.v2's thresholds (few aliases, or mostly plain nodes): accepted.
    let n = parse_first_document(&billion_laughs(2, 10)).unwrap();
    let Node::Map(entries) = n else { panic!() };
    let Node::Seq(level2) = &entries[2].1 else {
        panic!()
    };
    assert_eq!(level2.len(), 10);
    let mut doc = String::from("base: &b {x: 1, y: 2}\n");
    for i in 0..150 {
        doc.push_str(&format!("k{i}: {{<<: *b, z: {i}}}\n"));
    }
    for i in 0..3000 {
        doc.push_str(&format!("plain{i}: v\n"));
    }
    assert!(parse_first_document(&doc).is_ok());
    assert!(allowed_alias_ratio(0) == 0.99 && allowed_alias_ratio(10_000_000) == 0.10);
    let mid = allowed_alias_ratio(2_200_000);
    assert!(mid > 0.10 && mid < 0.99);
}
