use super::*;

#[test]
fn loose_semver() {
    let ok =
        |s: &str, want: &str| assert_eq!(parse_loose_version(s).unwrap().to_string(), want, "{s}");
    ok("1.0", "1.0.0");
    ok("1", "1.0.0");
    ok("v1.2.3", "1.2.3");
    ok("01.2.3", "1.2.3");
    ok("1.2.3-alpha.1+build.01", "1.2.3-alpha.1+build.01");
    ok("1.2.3-0a", "1.2.3-0a");
    for bad in [
        "1.2.3.4",
        "",
        "v",
        "V1.2.3",
        "1.2.",
        ".1",
        "1..2",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3+",
        "1.2.3-a..b",
        "1.2.3-a_b",
        "x1",
        "1.2.3 ",
        "18446744073709551616",
    ] {
        assert!(parse_loose_version(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn lenient_decoding() {
    let md = parse(
        b"\xEF\xBB\xBFname: x\nversion: 1.0\nappVersion: 1.10\nkeywords: [1, yes, ~]\n\
          deprecated: yes\nannotations: {a: 1, b: ~}\nunknown: [1]\nHome: h\n",
    )
    .unwrap();
    assert_eq!(md.api_version, "v1");
    assert_eq!(md.version, "1");
    assert_eq!(md.app_version, "1.1");
    assert_eq!(md.keywords, vec!["1", "true", ""]);
    assert!(md.deprecated);
    assert_eq!(md.annotations["a"], "1");
    assert_eq!(md.annotations["b"], "");
    assert_eq!(md.home, "h");
    assert!(parse(b"name: [x]\n").is_err());
    assert!(parse(b"deprecated: 'true'\n").is_err());
    assert!(parse(b"maintainers: [~]\n").is_err());
    assert!(parse(b"- a\n").is_err());
    assert_eq!(parse(b"").unwrap().name, "");
}

#[test]
fn validation_rules() {
    let v = |y: &str| parse(y.as_bytes()).unwrap().validate();
    assert!(v("apiVersion: v2\nname: a\nversion: 1.0.0\n").is_ok());
    assert!(v("name: a\nversion: v1.2\n").is_ok());
    assert!(v("apiVersion: v3\nname: a\nversion: 1.0.0\n").is_err());
    assert!(v("name: a/b\nversion: 1.0.0\n").is_err());
    assert!(v("name: ..\nversion: 1.0.0\n").is_err());
    assert!(v("version: 1.0.0\n").is_err());
    assert!(v("name: a\n").is_err());
    assert!(v("name: a\nversion: 1.2.3.4\n")
        .unwrap_err()
        .contains("SemVer"));
    assert!(v("name: a\nversion: 1.0.0\ntype: app\n").is_err());
    assert!(
        v("apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n- name: x\n  alias: a.b\n")
            .is_err()
    );
    assert!(
        v("apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n- name: x\n- name: x\n")
            .is_err()
    );
    let mut md = parse(b"name: a\nversion: 1.0.0\ndescription: \"a\\tb\\u200bc\\nd\"\n").unwrap();
    md.validate().unwrap();
    assert_eq!(md.description, "a bc d");
}

#[test]
fn serialisation_as_helm() {
    let md = parse(
        b"apiVersion: v2\nname: mychart\ndescription: A Helm chart for Kubernetes\ntype: application\n\
          version: 0.1.0\nappVersion: \"1.16.0\"\n# comment\nextra: dropped\n\
          dependencies:\n- name: sub\n  version: ~1.0\n  repository: file://../sub\n  import-values: [data, {child: a, parent: b}]\n\
          maintainers:\n- name: me\n  email: me@x\n",
    )
    .unwrap();
    assert_eq!(
        md.to_yaml(),
        "apiVersion: v2\nappVersion: 1.16.0\ndependencies:\n- import-values:\n  - data\n  - child: a\n    parent: b\n  \
         name: sub\n  repository: file://../sub\n  version: ~1.0\ndescription: A Helm chart for Kubernetes\n\
         maintainers:\n- email: me@x\n  name: me\nname: mychart\ntype: application\nversion: 0.1.0\n"
    );
    let again = parse(md.to_yaml().as_bytes()).unwrap();
    assert_eq!(again, md);
    // v1 charts do not carry dependencies in Chart.yaml.
    let mut v1 = md.clone();
    v1.api_version = "v1".into();
    assert!(!v1.to_yaml().contains("dependencies"));
    // Strings that would read back as something else are quoted.
    let q =
        parse(b"name: a\nversion: 1.0.0\nappVersion: '1.10'\nannotations: {x: 'yes', y: '1e3'}\n")
            .unwrap();
    assert_eq!(parse(q.to_yaml().as_bytes()).unwrap(), q);
    assert!(q.to_yaml().contains("appVersion: \"1.10\""));
}

#[test]
fn lock_round_trip() {
    let l = parse_lock(
        b"dependencies:\n- name: sub\n  repository: file://../sub\n  version: 0.1.0\n\
          digest: sha256:abc\ngenerated: \"2024-05-06T07:08:09.120000+00:00\"\n",
    )
    .unwrap();
    assert_eq!(l.generated, "2024-05-06T07:08:09.12Z");
    assert_eq!(parse_lock(l.to_yaml().as_bytes()).unwrap(), l);
    assert_eq!(parse_lock(b"digest: x\n").unwrap().generated, GO_ZERO_TIME);
    assert!(parse_lock(b"generated: yesterday\n").is_err());
    assert!(parse_lock(b"generated: 2024-05-06T07:08:09+08:00\n").is_ok());
}
