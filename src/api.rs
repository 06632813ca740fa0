//! The registry's JSON, read leniently: numbers may come as strings, any field may be null or
//! missing, and everything the registry gave is kept for `-o json`/`-o yaml`.

use anyhow::{bail, Result};
use serde_json::{Map, Value};

/// A chart as the list-charts endpoint describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HelmChart {
    pub name: String,
    pub latest_version: Option<String>,
    pub total_versions: Option<u64>,
    pub created: Option<String>,
    pub updated: Option<String>,
    /// Every field the registry sent.
    pub raw: Map<String, Value>,
}

/// One version of a chart as the list-versions endpoint describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HelmChartVersion {
    pub name: String,
    pub version: String,
    pub app_version: Option<String>,
    pub api_version: Option<String>,
    pub description: Option<String>,
    pub created: Option<String>,
    /// sha256 hex of the package.
    pub digest: Option<String>,
    pub urls: Vec<String>,
    pub deprecated: bool,
    /// Every field the registry sent.
    pub raw: Map<String, Value>,
}

/// One page of a list answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total: Option<u64>,
    pub items: Vec<Map<String, Value>>,
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
    match map.get(key)? {
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

/// Parses one page of a list endpoint.
pub fn parse_page(body: &[u8]) -> Result<Page> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("the registry sent a list that is not JSON: {e}"))?;
    let Value::Object(map) = value else {
        bail!("the registry sent a list that is not a JSON object");
    };
    let items = match map.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::Object(m) => Some(m.clone()),
                _ => None,
            })
            .collect(),
        Some(_) => bail!("the registry sent a list whose items are not an array"),
    };
    Ok(Page {
        total: count(&map, "total"),
        items,
    })
}

impl HelmChart {
    /// None when the item has no name.
    pub fn from_raw(raw: Map<String, Value>) -> Option<HelmChart> {
        Some(HelmChart {
            name: text(&raw, "name").filter(|n| !n.is_empty())?,
            latest_version: text(&raw, "latestVersion"),
            total_versions: count(&raw, "totalVersions"),
            created: text(&raw, "created"),
            updated: text(&raw, "updated"),
            raw,
        })
    }
}

impl HelmChartVersion {
    /// None when the item has no name or version.
    pub fn from_raw(raw: Map<String, Value>) -> Option<HelmChartVersion> {
        let urls = match raw.get("urls") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        Some(HelmChartVersion {
            name: text(&raw, "name").filter(|n| !n.is_empty())?,
            version: text(&raw, "version").filter(|v| !v.is_empty())?,
            app_version: text(&raw, "appVersion"),
            api_version: text(&raw, "apiVersion"),
            description: text(&raw, "description"),
            created: text(&raw, "created"),
            digest: text(&raw, "digest")
                .map(|d| d.trim_start_matches("sha256:").to_ascii_lowercase()),
            urls,
            deprecated: flag(&raw, "deprecated"),
            raw,
        })
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
        let p = parse_page(br#"{"total":0,"items":null}"#).unwrap();
        assert_eq!(p.total, Some(0));
        assert!(p.items.is_empty());
        assert!(parse_page(b"[]").is_err());
        assert!(parse_page(b"not json").is_err());
    }

    #[test]
    fn versions_parse_leniently() {
        let raw: Map<String, Value> = serde_json::from_str(
            r#"{"name":"app","version":"1.0.0","appVersion":1.1,"digest":null,"urls":["charts/app-1.0.0.tgz"],
                "maintainers":["x",{"name":"y"}],"deprecated":null}"#,
        )
        .unwrap();
        let v = HelmChartVersion::from_raw(raw).unwrap();
        assert_eq!(v.app_version.as_deref(), Some("1.1"));
        assert_eq!(v.digest, None);
        assert_eq!(v.file_name(), "app-1.0.0.tgz");
        assert!(!v.deprecated);
        let raw: Map<String, Value> = serde_json::from_str(r#"{"name":"app"}"#).unwrap();
        assert!(HelmChartVersion::from_raw(raw).is_none());
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
                    let _ = HelmChart::from_raw(item.clone());
                    if let Some(v) = HelmChartVersion::from_raw(item) {
                        let name = v.file_name();
                        prop_assert!(safe_file_name(&name).as_deref() == Some(name.as_str()) || name == "chart.tgz");
                    }
                }
            }
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
