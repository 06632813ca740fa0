//! The synthesised `index.yaml` served to Helm by the getter.
//!
//! CCR has no `index.yaml`: the getter lists the charts and their versions and this module turns
//! them into a Helm repository index (`apiVersion: v1`). Everything here is pure: the caller
//! supplies the versions and the `generated` timestamp, so the same input always gives the same
//! text. Entries are sorted by chart name, versions newest first (SemVer precedence, read as
//! loosely as Helm does), and every chart URL is relative (`NAME-VERSION.tgz`), so Helm resolves
//! it against the `ccr://` repository URL and asks the getter for it again.
//!
//! Every string scalar is written double-quoted with YAML escapes: nothing a registry returns
//! can change the document's structure or turn a version like `1.10` into a number.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One chart version as the index needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexVersion {
    /// Chart name.
    pub name: String,
    /// Chart version, as the registry stores it.
    pub version: String,
    /// The chart's own `apiVersion` (`v1` or `v2`), when known.
    pub api_version: Option<String>,
    pub app_version: Option<String>,
    pub description: Option<String>,
    /// Upload time; written only when it reads as an RFC 3339 time (Helm parses it as one).
    pub created: Option<String>,
    /// sha256 hex of the .tgz the getter serves. Helm 4 caches charts by it without checking,
    /// so it must be the real one: the caller computes it when the registry gives none.
    pub digest: Option<String>,
    /// The relative URL (file name) the getter serves the .tgz under; see [`chart_file_name`].
    pub url: String,
    pub home: Option<String>,
    pub icon: Option<String>,
    pub sources: Vec<String>,
    pub deprecated: bool,
}

/// The file name a chart version is served under: the base name of the registry's first URL
/// when that is a plain `.tgz` file name (the registry downloads by it), else `NAME-VERSION.tgz`.
pub fn chart_file_name(name: &str, version: &str, registry_urls: &[String]) -> String {
    if let Some(first) = registry_urls.first() {
        let base = first.rsplit('/').next().unwrap_or("");
        if is_safe_file_name(base) && base.ends_with(".tgz") {
            return base.to_string();
        }
    }
    format!("{name}-{version}.tgz")
}

/// A name that can go into a `ccr://…/NAME` URL and a download path unchanged.
pub fn is_safe_file_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'~'))
}

/// The one digest normaliser (see [`crate::registry::model::normalize_digest`]).
pub use crate::registry::model::normalize_digest;

/// Builds the index text. `generated` is written as given (see [`crate::support::clock::rfc3339_utc`]).
/// Versions with an empty name or version are left out; a repeated (name, version) keeps its
/// first occurrence.
pub fn build_index(versions: &[IndexVersion], generated: &str) -> String {
    let mut charts: BTreeMap<&str, Vec<&IndexVersion>> = BTreeMap::new();
    for v in versions {
        if v.name.is_empty() || v.version.is_empty() {
            continue;
        }
        let list = charts.entry(v.name.as_str()).or_default();
        if !list.iter().any(|o| o.version == v.version) {
            list.push(v);
        }
    }

    let mut out = String::from("apiVersion: v1\n");
    if charts.is_empty() {
        out.push_str("entries: {}\n");
    } else {
        out.push_str("entries:\n");
    }
    for (name, list) in &mut charts {
        list.sort_by(|a, b| crate::chart::constraint::compare(&b.version, &a.version));
        let _ = writeln!(out, "  {}:", quote(name));
        for v in list.iter() {
            write_version(&mut out, v);
        }
    }
    let _ = writeln!(out, "generated: {}", quote(generated));
    out
}

fn write_version(out: &mut String, v: &IndexVersion) {
    // Keys in alphabetical order, like `helm repo index`.
    let mut first = true;
    let mut field = |out: &mut String, key: &str, value: &str| {
        let lead = if first { "  - " } else { "    " };
        first = false;
        if value.is_empty() {
            let _ = writeln!(out, "{lead}{key}:");
        } else {
            let _ = writeln!(out, "{lead}{key}: {value}");
        }
    };
    let api = v
        .api_version
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or("v1");
    field(out, "apiVersion", &quote(api));
    if let Some(a) = v.app_version.as_deref().filter(|a| !a.is_empty()) {
        field(out, "appVersion", &quote(a));
    }
    if let Some(c) = v.created.as_deref().and_then(normalize_time) {
        field(out, "created", &quote(&c));
    }
    if v.deprecated {
        field(out, "deprecated", "true");
    }
    if let Some(d) = v.description.as_deref().filter(|d| !d.is_empty()) {
        field(out, "description", &quote(d));
    }
    if let Some(d) = v.digest.as_deref().and_then(normalize_digest) {
        field(out, "digest", &quote(&d));
    }
    if let Some(h) = v.home.as_deref().filter(|h| !h.is_empty()) {
        field(out, "home", &quote(h));
    }
    if let Some(i) = v.icon.as_deref().filter(|i| !i.is_empty()) {
        field(out, "icon", &quote(i));
    }
    field(out, "name", &quote(&v.name));
    let sources: Vec<&String> = v.sources.iter().filter(|s| !s.is_empty()).collect();
    if !sources.is_empty() {
        field(out, "sources", "");
        for s in sources {
            let _ = writeln!(out, "    - {}", quote(s));
        }
    }
    field(out, "urls", "");
    let _ = writeln!(out, "    - {}", quote(&v.url));
    field(out, "version", &quote(&v.version));
}

/// A YAML double-quoted scalar. Escapes what YAML would read as a line break or refuse as
/// non-printable, so any registry text stays one scalar.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// `t` as RFC 3339 when it reads as a time Helm can parse: RFC 3339 itself (kept as it is),
/// or `YYYY-MM-DD hh:mm:ss[.frac]` without a zone (taken as UTC).
pub fn normalize_time(t: &str) -> Option<String> {
    let t = t.trim();
    let b = t.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let date_ok = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !date_ok || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let mut i = 19;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let zone = &t[i..];
    let zone_ok = zone.is_empty()
        || zone.eq_ignore_ascii_case("z")
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[1..3].iter().all(u8::is_ascii_digit)
            && zone.as_bytes()[3] == b':'
            && zone.as_bytes()[4..6].iter().all(u8::is_ascii_digit));
    if !zone_ok {
        return None;
    }
    let mut s = String::with_capacity(t.len() + 1);
    s.push_str(&t[..10]);
    s.push('T');
    s.push_str(&t[11..i]);
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") {
        s.push('Z');
    } else {
        s.push_str(zone);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, version: &str) -> IndexVersion {
        IndexVersion {
            name: name.into(),
            version: version.into(),
            url: format!("{name}-{version}.tgz"),
            ..Default::default()
        }
    }

    #[test]
    fn empty_repository_is_a_valid_index() {
        assert_eq!(
            build_index(&[], "2024-01-02T03:04:05Z"),
            "apiVersion: v1\nentries: {}\ngenerated: \"2024-01-02T03:04:05Z\"\n"
        );
    }

    #[test]
    fn full_entry_layout() {
        let x = IndexVersion {
            name: "app".into(),
            version: "1.10".into(),
            api_version: Some("v2".into()),
            app_version: Some("1.16.0".into()),
            description: Some("A chart: with \"quotes\"\nand a line".into()),
            created: Some("2022-08-16T07:14:26.854394381Z".into()),
            digest: Some("56D2E2AB42167C5BF7E28E4E8C73A87DF43B8A48AA4BD3AFB36A275566B77AE3".into()),
            url: "app-1.10.tgz".into(),
            home: Some("https://example.com".into()),
            icon: None,
            sources: vec!["https://src.example.com".into()],
            deprecated: true,
        };
        let got = build_index(&[x], "G");
        let want = r#"apiVersion: v1
entries:
  "app":
  - apiVersion: "v2"
    appVersion: "1.16.0"
    created: "2022-08-16T07:14:26.854394381Z"
    deprecated: true
    description: "A chart: with \"quotes\"\nand a line"
    digest: "56d2e2ab42167c5bf7e28e4e8c73a87df43b8a48aa4bd3afb36a275566b77ae3"
    home: "https://example.com"
    name: "app"
    sources:
    - "https://src.example.com"
    urls:
    - "app-1.10.tgz"
    version: "1.10"
generated: "G"
"#;
        assert_eq!(got, want);
    }

    #[test]
    fn minimal_entry_defaults_api_version_and_skips_unknowns() {
        let mut x = v("a", "0.1.0");
        x.created = Some("yesterday".into());
        x.digest = Some("not-a-digest".into());
        let got = build_index(&[x], "G");
        assert_eq!(
            got,
            "apiVersion: v1\nentries:\n  \"a\":\n  - apiVersion: \"v1\"\n    name: \"a\"\n    urls:\n    - \"a-0.1.0.tgz\"\n    version: \"0.1.0\"\ngenerated: \"G\"\n"
        );
    }

    #[test]
    fn charts_sorted_by_name_versions_newest_first() {
        let input = vec![
            v("zeta", "1.0.0"),
            v("alpha", "1.2.0"),
            v("alpha", "1.10.0"),
            v("alpha", "1.9.0-rc.1"),
            v("alpha", "1.9.0"),
            v("alpha", "v2"),
            v("alpha", "weird"),
            v("alpha", "1.2.0"), // duplicate: dropped
            v("mid", "0.0.1"),
            v("", "1.0.0"), // no name: dropped
            v("empty", ""), // no version: dropped
        ];
        let out = build_index(&input, "G");
        let names: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim().trim_end_matches(':'))
            .collect();
        assert_eq!(names, ["\"alpha\"", "\"mid\"", "\"zeta\""]);
        let versions: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("    version: "))
            .collect();
        assert_eq!(
            versions,
            [
                "\"v2\"",
                "\"1.10.0\"",
                "\"1.9.0\"",
                "\"1.9.0-rc.1\"",
                "\"1.2.0\"",
                "\"weird\"",
                "\"0.0.1\"",
                "\"1.0.0\""
            ]
        );
    }

    #[test]
    fn deterministic_whatever_the_input_order() {
        let a = vec![v("b", "1.0.0"), v("a", "2.0.0"), v("a", "1.0.0")];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(build_index(&a, "G"), build_index(&b, "G"));
    }

    #[test]
    fn output_parses_as_yaml_with_string_versions() {
        let mut x = v("c", "1.10");
        x.description =
            Some("tab\there \u{85} nel \u{7f} del \u{2028} ls: - [x] {y} #z 'q'".into());
        x.app_version = Some("1.0".into());
        let text = build_index(&[x.clone(), v("d", "true")], "2024-01-01T00:00:00Z");
        let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
        assert_eq!(doc["apiVersion"], "v1");
        let e = &doc["entries"]["c"][0];
        assert_eq!(e["version"], "1.10");
        assert_eq!(e["appVersion"], "1.0");
        assert_eq!(e["description"], x.description.unwrap().as_str());
        assert_eq!(e["urls"][0], "c-1.10.tgz");
        assert_eq!(doc["entries"]["d"][0]["version"], "true");
    }

    #[test]
    fn file_names() {
        assert_eq!(
            chart_file_name("a", "1.0.0", &["charts/a-1.0.0.tgz".into()]),
            "a-1.0.0.tgz"
        );
        assert_eq!(
            chart_file_name("a", "1.0.0", &["other.tgz".into()]),
            "other.tgz"
        );
        assert_eq!(chart_file_name("a", "1.0.0", &[]), "a-1.0.0.tgz");
        assert_eq!(
            chart_file_name("a", "1.0.0", &["x/../?q=1".into()]),
            "a-1.0.0.tgz"
        );
        assert!(is_safe_file_name("a-1.0.0+b.1.tgz"));
        assert!(!is_safe_file_name(".."));
        assert!(!is_safe_file_name("a b.tgz"));
    }

    #[test]
    fn digests() {
        let h = "ab".repeat(32);
        assert_eq!(normalize_digest(&h), Some(h.clone()));
        assert_eq!(
            normalize_digest(&format!("sha256:{}", h.to_uppercase())),
            Some(h)
        );
        assert_eq!(normalize_digest("abc"), None);
        assert_eq!(normalize_digest(&"zz".repeat(32)), None);
    }

    #[test]
    fn times() {
        assert_eq!(
            normalize_time("2022-08-01T06:39:05.756871973Z").as_deref(),
            Some("2022-08-01T06:39:05.756871973Z")
        );
        assert_eq!(
            normalize_time("2022-08-01 06:39:05").as_deref(),
            Some("2022-08-01T06:39:05Z")
        );
        assert_eq!(
            normalize_time("2022-08-01T06:39:05+08:00").as_deref(),
            Some("2022-08-01T06:39:05+08:00")
        );
        assert_eq!(normalize_time("2022-08-01"), None);
        assert_eq!(normalize_time("2022-08-01T06:39:05.Z"), None);
        assert_eq!(normalize_time("2022-08-01T06:39:05 CST"), None);
    }
}
