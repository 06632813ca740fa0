//! The registry's JSON, read leniently: numbers may come as strings, any field may be null or
//! missing, and everything the registry gave is kept for `-o json`/`-o yaml`.
//!
//! Memory is bounded whatever the registry sends: a page is stream-parsed, each item kept as
//! its own JSON text (no generic JSON tree of the page), the fields the client uses parsed
//! out of it, and a page holding more than [`MAX_PAGE_ITEMS`] entries is refused while it is
//! read.

use std::fmt;

use anyhow::{anyhow, Result};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Entries one list page may hold: the client asks for 100, so this is a registry ignoring
/// the page size or a hostile one.
pub const MAX_PAGE_ITEMS: usize = 5_000;

/// A chart as the list-charts endpoint describes it.
#[derive(Debug, Clone)]
pub struct HelmChart {
    pub name: String,
    pub latest_version: Option<String>,
    pub total_versions: Option<u64>,
    pub created: Option<String>,
    pub updated: Option<String>,
    /// Every field the registry sent, as it sent them.
    pub raw: Box<RawValue>,
}

/// One version of a chart as the list-versions endpoint describes it.
#[derive(Debug, Clone)]
pub struct HelmChartVersion {
    pub name: String,
    pub version: String,
    pub app_version: Option<String>,
    pub api_version: Option<String>,
    pub description: Option<String>,
    pub created: Option<String>,
    /// sha256 hex of the package (lowercase), when the registry gives a well-formed one; see
    /// [`normalize_digest`].
    pub digest: Option<String>,
    /// The registry's digest text when it gave one that is not a sha256 (empty included):
    /// treated as no digest, named in the warning.
    pub malformed_digest: Option<String>,
    pub urls: Vec<String>,
    pub deprecated: bool,
    pub home: Option<String>,
    pub icon: Option<String>,
    pub sources: Vec<String>,
    /// Every field the registry sent, as it sent them.
    pub raw: Box<RawValue>,
}

/// One page of a list answer: each item's JSON text (objects only).
#[derive(Debug, Clone)]
pub struct Page {
    pub total: Option<u64>,
    pub items: Vec<Box<RawValue>>,
}

/// A string field; numbers and booleans are taken as their text.
pub fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A count that may come as a number or a string.
pub fn count(map: &Map<String, Value>, key: &str) -> Option<u64> {
    count_value(map.get(key)?)
}

fn count_value(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(map: &Map<String, Value>, key: &str) -> bool {
    match map.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Normalises a registry digest to lowercase sha256 hex: surrounding blanks and a `sha256:`
/// prefix (in any case) removed, the 64 hex digits compared case-insensitively. `None` when
/// what is left is not a sha256 (empty, the wrong length, not hex): such a digest is treated
/// like a missing one, in pull and in the getter alike.
pub fn normalize_digest(d: &str) -> Option<String> {
    let d = d.trim();
    let d = match d.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256:") => &d[7..],
        _ => d,
    };
    (d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())).then(|| d.to_ascii_lowercase())
}

/// Parses one page of a list endpoint, stream-reading its `items` and refusing a page with
/// more than [`MAX_PAGE_ITEMS`] entries as soon as it sees one more.
pub fn parse_page(body: &[u8]) -> Result<Page> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let page = PageSeed.deserialize(&mut de).map_err(|e| {
        if e.is_data() && e.to_string().contains(TOO_MANY) {
            anyhow!("the registry sent a list page with more than {MAX_PAGE_ITEMS} entries")
        } else {
            anyhow!("the registry sent a list that is not valid: {e}")
        }
    })?;
    de.end()
        .map_err(|e| anyhow!("the registry sent a list that is not valid: {e}"))?;
    Ok(page)
}

const TOO_MANY: &str = "too many entries on one page";

struct PageSeed;

impl<'de> DeserializeSeed<'de> for PageSeed {
    type Value = Page;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Page, D::Error> {
        d.deserialize_map(PageVisitor)
    }
}

struct PageVisitor;

impl<'de> Visitor<'de> for PageVisitor {
    type Value = Page;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page, A::Error> {
        let mut page = Page {
            total: None,
            items: Vec::new(),
        };
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "items" => page.items = map.next_value_seed(ItemsSeed)?,
                "total" => {
                    page.total = count_value(&map.next_value::<Value>()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
}

struct ItemsSeed;

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Vec<Box<RawValue>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(ItemsVisitor)
    }
}

struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Vec<Box<RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(ItemsVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        let mut seen = 0usize;
        while let Some(item) = seq.next_element::<Box<RawValue>>()? {
            seen += 1;
            if seen > MAX_PAGE_ITEMS {
                return Err(de::Error::custom(TOO_MANY));
            }
            // Only objects are items; anything else is skipped, as before.
            if item.get().starts_with('{') {
                items.push(item);
            }
        }
        Ok(items)
    }
}

/// One item's fields as a map (the item alone, never a page).
fn fields(raw: &RawValue) -> Option<Map<String, Value>> {
    serde_json::from_str(raw.get()).ok()
}

impl HelmChart {
    /// None when the item has no name.
    pub fn from_raw(raw: Box<RawValue>) -> Option<HelmChart> {
        let map = fields(&raw)?;
        Some(HelmChart {
            name: text(&map, "name").filter(|n| !n.is_empty())?,
            latest_version: text(&map, "latestVersion"),
            total_versions: count(&map, "totalVersions"),
            created: text(&map, "created"),
            updated: text(&map, "updated"),
            raw,
        })
    }

    /// The fields the registry sent, as JSON.
    pub fn raw_value(&self) -> Value {
        serde_json::from_str(self.raw.get()).unwrap_or(Value::Null)
    }
}

impl HelmChartVersion {
    /// None when the item has no name or version.
    pub fn from_raw(raw: Box<RawValue>) -> Option<HelmChartVersion> {
        let map = fields(&raw)?;
        let urls = match map.get("urls") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let sources = match map.get("sources") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let given_digest = text(&map, "digest");
        let digest = given_digest.as_deref().and_then(normalize_digest);
        let malformed_digest = match (&given_digest, &digest) {
            (Some(g), None) => Some(g.clone()),
            _ => None,
        };
        Some(HelmChartVersion {
            name: text(&map, "name").filter(|n| !n.is_empty())?,
            version: text(&map, "version").filter(|v| !v.is_empty())?,
            app_version: text(&map, "appVersion"),
            api_version: text(&map, "apiVersion"),
            description: text(&map, "description"),
            created: text(&map, "created"),
            digest,
            malformed_digest,
            urls,
            deprecated: flag(&map, "deprecated"),
            home: text(&map, "home"),
            icon: text(&map, "icon"),
            sources,
            raw,
        })
    }

    /// [`HelmChartVersion::from_raw`] from JSON text (tests, tools).
    pub fn from_json(json: &str) -> Option<HelmChartVersion> {
        HelmChartVersion::from_raw(RawValue::from_string(json.to_string()).ok()?)
    }

    /// The fields the registry sent, as JSON.
    pub fn raw_value(&self) -> Value {
        serde_json::from_str(self.raw.get()).unwrap_or(Value::Null)
    }

    /// The file name to download: the base name of `urls[0]`, reduced to something that can
    /// only name a file in the destination directory; `NAME-VERSION.tgz` when that fails.
    pub fn file_name(&self) -> String {
        let fallback = || safe_file_name(&format!("{}-{}.tgz", self.name, self.version));
        self.urls
            .first()
            .and_then(|u| safe_file_name(u))
            .or_else(fallback)
            .unwrap_or_else(|| "chart.tgz".to_string())
    }
}

/// The last path component of `s` (either slash), if it is a usable file name: not empty, not
/// `.`/`..`, no control characters, no drive letters, not hidden.
pub fn safe_file_name(s: &str) -> Option<String> {
    let s = s.split(['?', '#']).next().unwrap_or("");
    let base = s.rsplit(['/', '\\']).next().unwrap_or("");
    let ok = !base.is_empty()
        && base != "."
        && base != ".."
        && !base.starts_with('.')
        && !base.contains(':')
        && !base.chars().any(char::is_control)
        && base.len() <= 255;
    ok.then(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_accept_numbers_strings_and_nulls() {
        let p = parse_page(
            br#"{"total":"3","pageNo":1,"pageSize":"10","items":[{"name":"a"},null,{"name":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(p.total, Some(3));
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.items[1].get(), r#"{"name":"b"}"#);
        let p = parse_page(br#"{"total":0,"items":null}"#).unwrap();
        assert_eq!(p.total, Some(0));
        assert!(p.items.is_empty());
        assert!(parse_page(b"[]").is_err());
        assert!(parse_page(b"not json").is_err());
        assert!(parse_page(br#"{"items":{}}"#).is_err());
        assert!(parse_page(br#"{"items":[]} trailing"#).is_err());
    }

    #[test]
    fn a_page_with_too_many_entries_is_refused_while_read() {
        let mut body = String::from(r#"{"total":1,"items":["#);
        body.push_str(&vec!["1"; MAX_PAGE_ITEMS].join(","));
        body.push_str("]}");
        assert!(parse_page(body.as_bytes()).unwrap().items.is_empty());
        let mut body = String::from(r#"{"items":["#);
        body.push_str(&vec!["{}"; MAX_PAGE_ITEMS + 1].join(","));
        body.push_str("]}");
        let err = parse_page(body.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("more than 5000 entries"), "{err}");
        // Refused as soon as the entry past the limit is seen: the rest need not even be JSON.
        let body = format!(r#"{{"items":[{}"#, "{},".repeat(MAX_PAGE_ITEMS + 1));
        let err = parse_page(body.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("more than 5000 entries"), "{err}");
    }

    #[test]
    fn digests_are_normalised_or_treated_as_missing() {
        let h = "ab".repeat(32);
        assert_eq!(normalize_digest(&h), Some(h.clone()));
        for given in [
            format!("sha256:{}", h.to_uppercase()),
            format!("SHA256:{h}"),
            format!("Sha256:{}", h.to_uppercase()),
            format!("  {h}\n"),
        ] {
            assert_eq!(normalize_digest(&given), Some(h.clone()), "{given}");
        }
        for bad in [
            "",
            "sha256:",
            "abc",
            "sha512:abcd",
            &"zz".repeat(32),
            &format!("md5:{h}"),
        ] {
            assert_eq!(normalize_digest(bad), None, "{bad}");
        }
        let v = HelmChartVersion::from_json(r#"{"name":"a","version":"1","digest":""}"#).unwrap();
        assert_eq!((v.digest, v.malformed_digest.as_deref()), (None, Some("")));
        let v = HelmChartVersion::from_json(&format!(
            r#"{{"name":"a","version":"1","digest":"SHA256:{}"}}"#,
            h.to_uppercase()
        ))
        .unwrap();
        assert_eq!((v.digest, v.malformed_digest), (Some(h), None));
    }

    #[test]
    fn versions_parse_leniently() {
        let v = HelmChartVersion::from_json(
            r#"{"name":"app","version":"1.0.0","appVersion":1.1,"digest":null,"urls":["charts/app-1.0.0.tgz"],
                "maintainers":["x",{"name":"y"}],"deprecated":null,"home":"https://h","sources":["s",3]}"#,
        )
        .unwrap();
        assert_eq!(v.app_version.as_deref(), Some("1.1"));
        assert_eq!(v.digest, None);
        assert_eq!(v.malformed_digest, None);
        assert_eq!(v.file_name(), "app-1.0.0.tgz");
        assert!(!v.deprecated);
        assert_eq!(v.home.as_deref(), Some("https://h"));
        assert_eq!(v.sources, ["s"]);
        assert_eq!(v.raw_value()["maintainers"][1]["name"], "y");
        assert!(HelmChartVersion::from_json(r#"{"name":"app"}"#).is_none());
    }

    #[test]
    fn hostile_file_names_are_reduced() {
        assert_eq!(
            safe_file_name("../../evil.tgz").as_deref(),
            Some("evil.tgz")
        );
        assert_eq!(safe_file_name("/etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(safe_file_name("a\\..\\b.tgz").as_deref(), Some("b.tgz"));
        assert_eq!(safe_file_name(".."), None);
        assert_eq!(safe_file_name("x/"), None);
        assert_eq!(safe_file_name("c:evil"), None);
        assert_eq!(safe_file_name(".hidden"), None);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::*;
    use crate::error::ApiError;

    /// Any JSON value, the registry's field names more likely than others.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        let key = prop_oneof![
            Just("name".to_string()),
            Just("version".to_string()),
            Just("items".to_string()),
            Just("total".to_string()),
            Just("urls".to_string()),
            Just("digest".to_string()),
            Just("deprecated".to_string()),
            Just("totalVersions".to_string()),
            Just("maintainers".to_string()),
            Just("code".to_string()),
            Just("message".to_string()),
            Just("errors".to_string()),
            Just("error".to_string()),
            Just("requestId".to_string()),
            ".{0,6}",
        ];
        leaf.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        #[test]
        fn page_parsing_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_page(&bytes);
            let _ = ApiError::from_body(500, &bytes, None).to_string();
        }

        #[test]
        fn page_and_item_parsing_never_panic_on_json(v in json()) {
            let body = serde_json::to_vec(&v).unwrap();
            let _ = ApiError::from_body(400, &body, Some("r".into())).to_string();
            if let Ok(page) = parse_page(&body) {
                for item in page.items {
                    prop_assert!(item.get().starts_with('{'), "{}", item.get());
                    let _ = HelmChart::from_raw(item.clone());
                    if let Some(v) = HelmChartVersion::from_raw(item) {
                        let name = v.file_name();
                        prop_assert!(safe_file_name(&name).as_deref() == Some(name.as_str()) || name == "chart.tgz");
                    }
                }
            }
        }

        #[test]
        fn list_pages_keep_exactly_their_object_items(
            items in prop::collection::vec(json(), 0..40),
            total in prop_oneof![Just(Value::Null), any::<u32>().prop_map(Value::from), any::<u32>().prop_map(|n| Value::String(n.to_string()))],
            extra in prop::collection::vec((".{0,6}", json()), 0..3),
            items_first: bool,
        ) {
            // A page as a registry might write it: other keys before or after the items.
            let mut page = Map::new();
            if items_first {
                page.insert("items".into(), Value::Array(items.clone()));
            }
            for (k, v) in extra {
                if k != "items" && k != "total" {
                    page.insert(k, v);
                }
            }
            page.insert("total".into(), total.clone());
            if !items_first {
                page.insert("items".into(), Value::Array(items.clone()));
            }
            let body = serde_json::to_vec(&Value::Object(page)).unwrap();
            let parsed = parse_page(&body).unwrap();
            let objects: Vec<&Value> = items.iter().filter(|v| v.is_object()).collect();
            prop_assert_eq!(parsed.items.len(), objects.len());
            for (raw, want) in parsed.items.iter().zip(objects) {
                // Kept as the registry wrote it, byte for byte.
                prop_assert_eq!(raw.get(), serde_json::to_string(want).unwrap());
            }
            prop_assert_eq!(parsed.total, count_value(&total));
        }

        #[test]
        fn list_pages_with_too_many_entries_are_refused(extra in 1usize..50, object: bool) {
            let item = if object { "{\"name\":\"x\"}" } else { "0" };
            let body = format!(
                "{{\"items\":[{}]}}",
                vec![item; MAX_PAGE_ITEMS + extra].join(",")
            );
            let err = parse_page(body.as_bytes()).unwrap_err().to_string();
            prop_assert!(err.contains("more than 5000 entries"), "{}", err);
        }

        #[test]
        fn safe_file_names_name_a_file_in_the_directory(s in ".{0,40}", prefix in "(\\.\\./|/|[a-z]+/|\\\\|\\./){0,4}") {
            let s = format!("{prefix}{s}");
            if let Some(name) = safe_file_name(&s) {
                prop_assert!(!name.is_empty());
                prop_assert!(!name.contains(['/', '\\', ':', '\0']));
                prop_assert!(!name.starts_with('.'));
                prop_assert!(!name.chars().any(char::is_control));
                let p = std::path::Path::new(&name);
                prop_assert_eq!(p.components().count(), 1);
                prop_assert!(matches!(p.components().next(), Some(std::path::Component::Normal(_))));
            }
        }
    }
}
