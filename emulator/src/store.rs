//! The chart store: in memory, optionally mirrored to a directory.
//!
//! Directory layout (every name component is `n-` + the spec's encoder `E(name)`, so any chart
//! name or version is a safe file name):
//! `DIR/n-{instance}/n-{project}/n-{chart}/n-{version}/{chart.tgz, chart.tgz.prov, meta.json}`.
//! `meta.json` is written last (via rename), so a version is visible after a restart only once
//! complete.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::uri_encode;
use crate::clock;

/// One stored chart version.
#[derive(Debug, Clone)]
pub struct VersionEntry {
    /// The `HelmChartVersion` JSON served by the list endpoint (patchable).
    pub meta: Value,
    /// The chart archive.
    pub tgz: Arc<Vec<u8>>,
    /// The provenance file, if uploaded.
    pub prov: Option<Arc<Vec<u8>>>,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Upload sequence number (orders versions created in the same second).
    pub seq: u64,
    /// The download file name, `NAME-VERSION.tgz`.
    pub file_name: String,
}

/// Chart metadata read from `Chart.yaml`.
#[derive(Debug, Clone)]
pub struct ParsedChart {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
    /// The whole Chart.yaml as JSON.
    pub yaml: Value,
}

type Charts = BTreeMap<String, BTreeMap<String, VersionEntry>>;

/// The store.
#[derive(Debug, Default)]
pub struct Store {
    projects: BTreeMap<(String, String), Charts>,
    seq: u64,
    dir: Option<PathBuf>,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Already exists (409).
    Conflict(String),
    /// Does not exist (404).
    NotFound(String),
    /// Persisting failed (500).
    Io(String),
}

fn dir_name(s: &str) -> String {
    format!("n-{}", uri_encode(s.as_bytes()))
}

fn undir_name(s: &str) -> Option<String> {
    let rest = s.strip_prefix("n-")?;
    String::from_utf8(crate::auth::percent_decode(rest)).ok()
}

/// Semver-ish precedence: `MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]` with an optional leading `v`;
/// releases rank above their pre-releases; unparsable versions rank below parsable ones and
/// compare as strings; ties fall back to string order so the result is total.
pub fn cmp_versions(a: &str, b: &str) -> Ordering {
    type Parsed<'a> = (Vec<u64>, Vec<&'a str>);
    fn parse(v: &str) -> Option<Parsed<'_>> {
        let v = v.strip_prefix('v').unwrap_or(v);
        let v = v.split('+').next().unwrap_or("");
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, p.split('.').collect()),
            None => (v, Vec::new()),
        };
        let nums: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
        let mut nums = nums?;
        if nums.is_empty() || nums.len() > 3 {
            return None;
        }
        nums.resize(3, 0);
        Some((nums, pre))
    }
    fn cmp_pre(a: &[&str], b: &[&str]) -> Ordering {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {}
        }
        for (x, y) in a.iter().zip(b) {
            let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(i), Ok(j)) => i.cmp(&j),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                _ => x.cmp(y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.len().cmp(&b.len())
    }
    let o = match (parse(a), parse(b)) {
        (Some((x, p)), Some((y, q))) => x.cmp(&y).then_with(|| cmp_pre(&p, &q)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    };
    o.then_with(|| a.cmp(b))
}

fn is_prerelease(v: &str) -> bool {
    v.split('+').next().unwrap_or("").contains('-')
}

fn yaml_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn valid_component(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.contains('/') && !s.chars().any(char::is_control)
}

/// Reads `Chart.yaml` from a chart archive: a gzip tar whose top-level directory holds it.
pub fn parse_chart(tgz: &[u8]) -> Result<ParsedChart, String> {
    const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;
    let gz = flate2::read::GzDecoder::new(tgz);
    let mut archive = tar::Archive::new(gz.take(MAX_UNPACKED));
    let entries = archive
        .entries()
        .map_err(|e| format!("not a gzip tar archive: {e}"))?;
    let mut yaml_bytes = None;
    for (count, entry) in entries.enumerate() {
        if count > 100_000 {
            break;
        }
        let entry = entry.map_err(|e| format!("not a gzip tar archive: {e}"))?;
        let path = match entry.path() {
            Ok(p) => p.into_owned(),
            Err(_) => continue,
        };
        let comps: Vec<_> = path.components().collect();
        let is_chart_yaml = comps.len() == 2
            && matches!(comps[0], std::path::Component::Normal(_))
            && comps[1].as_os_str() == "Chart.yaml";
        if is_chart_yaml {
            let mut buf = Vec::new();
            entry
                .take(1024 * 1024)
                .read_to_end(&mut buf)
                .map_err(|e| format!("cannot read Chart.yaml: {e}"))?;
            yaml_bytes = Some(buf);
            break;
        }
    }
    let bytes = yaml_bytes.ok_or("the archive has no top-level <dir>/Chart.yaml")?;
    let text = String::from_utf8(bytes).map_err(|_| "Chart.yaml is not UTF-8".to_string())?;
    let yaml: Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("Chart.yaml is not valid YAML: {e}"))?;
    if !yaml.is_object() {
        return Err("Chart.yaml is not a mapping".into());
    }
    let name = yaml_string(yaml.get("name")).unwrap_or_default();
    let version = yaml_string(yaml.get("version")).unwrap_or_default();
    if !valid_component(&name) {
        return Err("Chart.yaml has no valid name".into());
    }
    if !valid_component(&version) {
        return Err("Chart.yaml has no valid version".into());
    }
    Ok(ParsedChart {
        name,
        version,
        yaml,
    })
}

/// The `HelmChartVersion` JSON for a parsed chart.
fn version_meta(p: &ParsedChart, tgz: &[u8], created: i64, file_name: &str) -> Value {
    let y = &p.yaml;
    let s = |k: &str| {
        yaml_string(y.get(k))
            .map(Value::String)
            .unwrap_or(Value::String(String::new()))
    };
    let list = |k: &str| match y.get(k) {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        _ => Value::Array(Vec::new()),
    };
    json!({
        "name": p.name,
        "version": p.version,
        "appVersion": s("appVersion"),
        "apiVersion": s("apiVersion"),
        "description": s("description"),
        "created": clock::rfc3339(created),
        "digest": hex::encode(Sha256::digest(tgz)),
        "urls": [file_name],
        "deprecated": y.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
        "removed": false,
        "engine": s("engine"),
        "home": s("home"),
        "icon": s("icon"),
        "sources": list("sources"),
        "maintainers": list("maintainers"),
    })
}

fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp-write");
    fs::write(&tmp, data)?;
    fs::rename(&tmp, path)
}

impl Store {
    /// An empty in-memory store, or one loaded from (and mirrored to) `dir`.
    pub fn open(dir: Option<PathBuf>) -> io::Result<Store> {
        let mut store = Store {
            dir: dir.clone(),
            ..Store::default()
        };
        if let Some(dir) = dir {
            fs::create_dir_all(&dir)?;
            store.load(&dir)?;
        }
        Ok(store)
    }

    fn load(&mut self, dir: &Path) -> io::Result<()> {
        fn subdirs(p: &Path) -> io::Result<Vec<(String, PathBuf)>> {
            let mut out = Vec::new();
            for e in fs::read_dir(p)? {
                let e = e?;
                if e.file_type()?.is_dir() {
                    if let Some(n) = e.file_name().to_str().and_then(undir_name) {
                        out.push((n, e.path()));
                    }
                }
            }
            Ok(out)
        }
        for (inst, ip) in subdirs(dir)? {
            for (proj, pp) in subdirs(&ip)? {
                for (chart, cp) in subdirs(&pp)? {
                    for (version, vp) in subdirs(&cp)? {
                        let Ok(meta_raw) = fs::read(vp.join("meta.json")) else {
                            continue;
                        };
                        let Ok(rec) = serde_json::from_slice::<Value>(&meta_raw) else {
                            continue;
                        };
                        let Ok(tgz) = fs::read(vp.join("chart.tgz")) else {
                            continue;
                        };
                        let prov = fs::read(vp.join("chart.tgz.prov")).ok().map(Arc::new);
                        let seq = rec.get("seq").and_then(Value::as_u64).unwrap_or(0);
                        self.seq = self.seq.max(seq);
                        let entry = VersionEntry {
                            meta: rec.get("meta").cloned().unwrap_or(Value::Null),
                            tgz: Arc::new(tgz),
                            prov,
                            created: rec.get("created").and_then(Value::as_i64).unwrap_or(0),
                            seq,
                            file_name: rec
                                .get("file_name")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                                .unwrap_or_else(|| format!("{chart}-{version}.tgz")),
                        };
                        self.projects
                            .entry((inst.clone(), proj.clone()))
                            .or_default()
                            .entry(chart.clone())
                            .or_default()
                            .insert(version, entry);
                    }
                }
            }
        }
        Ok(())
    }

    fn version_dir(&self, inst: &str, proj: &str, chart: &str, version: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| {
            d.join(dir_name(inst))
                .join(dir_name(proj))
                .join(dir_name(chart))
                .join(dir_name(version))
        })
    }

    fn persist(
        &self,
        inst: &str,
        proj: &str,
        chart: &str,
        version: &str,
    ) -> Result<(), StoreError> {
        let Some(vd) = self.version_dir(inst, proj, chart, version) else {
            return Ok(());
        };
        let Some(e) = self.get(inst, proj, chart, version) else {
            return Ok(());
        };
        let io = |e: io::Error| StoreError::Io(e.to_string());
        fs::create_dir_all(&vd).map_err(io)?;
        write_atomic(&vd.join("chart.tgz"), &e.tgz).map_err(io)?;
        match &e.prov {
            Some(p) => write_atomic(&vd.join("chart.tgz.prov"), p).map_err(io)?,
            None => {
                let _ = fs::remove_file(vd.join("chart.tgz.prov"));
            }
        }
        let rec =
            json!({"meta": e.meta, "created": e.created, "seq": e.seq, "file_name": e.file_name});
        write_atomic(&vd.join("meta.json"), rec.to_string().as_bytes()).map_err(io)
    }

    fn unpersist(&self, inst: &str, proj: &str, chart: &str, version: Option<&str>) {
        if let Some(d) = &self.dir {
            let mut p = d
                .join(dir_name(inst))
                .join(dir_name(proj))
                .join(dir_name(chart));
            if let Some(v) = version {
                p = p.join(dir_name(v));
            }
            let _ = fs::remove_dir_all(p);
        }
    }

    fn charts(&self, inst: &str, proj: &str) -> Option<&Charts> {
        self.projects.get(&(inst.to_string(), proj.to_string()))
    }

    /// One version, if stored.
    pub fn get(&self, inst: &str, proj: &str, chart: &str, version: &str) -> Option<&VersionEntry> {
        self.charts(inst, proj)?.get(chart)?.get(version)
    }

    /// Stores a chart. With `overwrite` false an existing version is a conflict.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        inst: &str,
        proj: &str,
        parsed: &ParsedChart,
        tgz: Vec<u8>,
        prov: Option<Vec<u8>>,
        now: i64,
        overwrite: bool,
    ) -> Result<(), StoreError> {
        if !overwrite
            && self
                .get(inst, proj, &parsed.name, &parsed.version)
                .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "chart {} version {} already exists",
                parsed.name, parsed.version
            )));
        }
        self.seq += 1;
        let file_name = format!("{}-{}.tgz", parsed.name, parsed.version);
        let entry = VersionEntry {
            meta: version_meta(parsed, &tgz, now, &file_name),
            tgz: Arc::new(tgz),
            prov: prov.map(Arc::new),
            created: now,
            seq: self.seq,
            file_name,
        };
        self.projects
            .entry((inst.to_string(), proj.to_string()))
            .or_default()
            .entry(parsed.name.clone())
            .or_default()
            .insert(parsed.version.clone(), entry);
        self.persist(inst, proj, &parsed.name, &parsed.version)
    }

    /// Replaces an existing version's entry wholesale (and persists it).
    pub fn replace(
        &mut self,
        inst: &str,
        proj: &str,
        chart: &str,
        version: &str,
        entry: VersionEntry,
    ) {
        let key = (inst.to_string(), proj.to_string());
        if let Some(slot) = self
            .projects
            .get_mut(&key)
            .and_then(|c| c.get_mut(chart))
            .and_then(|vs| vs.get_mut(version))
        {
            *slot = entry;
            let _ = self.persist(inst, proj, chart, version);
        }
    }

    /// `HelmChart` items whose name contains `filter`, sorted by name.
    pub fn list_charts(&self, inst: &str, proj: &str, filter: &str) -> Vec<Value> {
        let Some(charts) = self.charts(inst, proj) else {
            return Vec::new();
        };
        charts
            .iter()
            .filter(|(name, vs)| name.contains(filter) && !vs.is_empty())
            .map(|(name, vs)| {
                let latest = latest_version(vs);
                let le = latest.and_then(|v| vs.get(v));
                let created = vs.values().map(|e| e.created).min().unwrap_or(0);
                let updated = vs.values().map(|e| e.created).max().unwrap_or(0);
                let field = |k: &str| le.and_then(|e| e.meta.get(k)).cloned().unwrap_or(json!(""));
                json!({
                    "name": name,
                    "latestVersion": latest.unwrap_or(""),
                    "totalVersions": vs.len(),
                    "created": clock::rfc3339(created),
                    "updated": clock::rfc3339(updated),
                    "deprecated": false,
                    "home": field("home"),
                    "icon": field("icon"),
                })
            })
            .collect()
    }

    /// `HelmChartVersion` items whose version contains `filter`, newest created first;
    /// `None` when the chart does not exist.
    pub fn list_versions(
        &self,
        inst: &str,
        proj: &str,
        chart: &str,
        filter: &str,
    ) -> Option<Vec<Value>> {
        let vs = self.charts(inst, proj)?.get(chart)?;
        let mut items: Vec<&VersionEntry> = vs
            .iter()
            .filter(|(v, _)| v.contains(filter))
            .map(|(_, e)| e)
            .collect();
        items.sort_by_key(|e| std::cmp::Reverse(e.seq));
        Some(items.into_iter().map(|e| e.meta.clone()).collect())
    }

    /// Version strings of a chart, ascending by precedence.
    pub fn versions(&self, inst: &str, proj: &str, chart: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .charts(inst, proj)
            .and_then(|c| c.get(chart))
            .map(|vs| vs.keys().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| cmp_versions(a, b));
        v
    }

    /// A download by file name: `NAME-VERSION.tgz` or `NAME-VERSION.tgz.prov`.
    pub fn download(&self, inst: &str, proj: &str, file: &str) -> Option<Arc<Vec<u8>>> {
        let charts = self.charts(inst, proj)?;
        let (base, prov) = match file.strip_suffix(".prov") {
            Some(b) => (b, true),
            None => (file, false),
        };
        for vs in charts.values() {
            for e in vs.values() {
                if e.file_name == base {
                    return if prov {
                        e.prov.clone()
                    } else {
                        Some(e.tgz.clone())
                    };
                }
            }
        }
        None
    }

    /// Deletes whole charts; if any is missing nothing is deleted.
    pub fn delete_charts(
        &mut self,
        inst: &str,
        proj: &str,
        names: &[String],
    ) -> Result<(), StoreError> {
        let key = (inst.to_string(), proj.to_string());
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| {
                self.projects
                    .get(&key)
                    .and_then(|c| c.get(n.as_str()))
                    .is_none()
            })
            .collect();
        if !missing.is_empty() {
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Err(StoreError::NotFound(format!(
                "chart not found: {}",
                list.join(", ")
            )));
        }
        for n in names {
            if let Some(c) = self.projects.get_mut(&key) {
                c.remove(n);
            }
            self.unpersist(inst, proj, n, None);
        }
        Ok(())
    }

    /// Deletes versions of a chart; if the chart or any version is missing nothing is deleted.
    /// A chart left without versions disappears.
    pub fn delete_versions(
        &mut self,
        inst: &str,
        proj: &str,
        chart: &str,
        versions: &[String],
    ) -> Result<(), StoreError> {
        let key = (inst.to_string(), proj.to_string());
        let Some(vs) = self.projects.get_mut(&key).and_then(|c| c.get_mut(chart)) else {
            return Err(StoreError::NotFound(format!("chart not found: {chart}")));
        };
        let missing: Vec<&str> = versions
            .iter()
            .filter(|v| !vs.contains_key(v.as_str()))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::NotFound(format!(
                "chart {chart} version not found: {}",
                missing.join(", ")
            )));
        }
        for v in versions {
            vs.remove(v);
        }
        let empty = vs.is_empty();
        if empty {
            if let Some(c) = self.projects.get_mut(&key) {
                c.remove(chart);
            }
            self.unpersist(inst, proj, chart, None);
        } else {
            for v in versions {
                self.unpersist(inst, proj, chart, Some(v));
            }
        }
        Ok(())
    }

    /// Merges `patch`'s fields into a version's JSON. Returns false when the version is missing.
    pub fn patch(
        &mut self,
        inst: &str,
        proj: &str,
        chart: &str,
        version: &str,
        patch: &Value,
    ) -> bool {
        let key = (inst.to_string(), proj.to_string());
        let Some(e) = self
            .projects
            .get_mut(&key)
            .and_then(|c| c.get_mut(chart))
            .and_then(|vs| vs.get_mut(version))
        else {
            return false;
        };
        if let (Some(obj), Some(p)) = (e.meta.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                obj.insert(k.clone(), v.clone());
            }
        } else if !e.meta.is_object() {
            e.meta = Value::Object(Map::new());
        }
        let _ = self.persist(inst, proj, chart, version);
        true
    }
}

fn latest_version(vs: &BTreeMap<String, VersionEntry>) -> Option<&str> {
    let best = |pre: bool| {
        vs.keys()
            .filter(|v| pre || !is_prerelease(v))
            .max_by(|a, b| cmp_versions(a, b))
            .map(String::as_str)
    };
    best(false).or_else(|| best(true))
}

/// Builds a chart `.tgz` in memory: `{name}/Chart.yaml` with the given YAML plus any extra
/// files (`(path inside the chart dir, content)`). Handy for tests.
pub fn make_chart_tgz(name: &str, chart_yaml: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let mut add = |path: String, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            // Paths are ours and short; failures only on absurd input.
            let _ = b.append_data(&mut h, path, data);
        };
        add(format!("{name}/Chart.yaml"), chart_yaml.as_bytes());
        for (p, d) in extra {
            add(format!("{name}/{p}"), d);
        }
        if let Ok(gz) = b.into_inner() {
            let _ = gz.finish();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(name: &str, version: &str) -> Vec<u8> {
        make_chart_tgz(
            name,
            &format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"1.0\"\nhome: https://h\nmaintainers:\n  - name: me\n    email: me@x\nsources: [https://s]\n"),
            &[("values.yaml", b"a: 1\n")],
        )
    }

    #[test]
    fn version_order() {
        let mut v = vec![
            "1.10.0",
            "1.2.0",
            "1.2.0-rc.1",
            "1.2.0-alpha",
            "v2",
            "junk",
            "0.1.0+b",
        ];
        v.sort_by(|a, b| cmp_versions(a, b));
        assert_eq!(
            v,
            [
                "junk",
                "0.1.0+b",
                "1.2.0-alpha",
                "1.2.0-rc.1",
                "1.2.0",
                "1.10.0",
                "v2"
            ]
        );
    }

    #[test]
    fn parses_chart_yaml() {
        let p = parse_chart(&chart("demo", "1.2.3")).unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("demo", "1.2.3"));
        let m = version_meta(&p, b"x", 0, "demo-1.2.3.tgz");
        assert_eq!(m["appVersion"], "1.0");
        assert_eq!(m["maintainers"][0]["name"], "me");
        assert_eq!(m["urls"][0], "demo-1.2.3.tgz");
        assert_eq!(m["digest"], hex::encode(Sha256::digest(b"x")));
        // A numeric version is still a version.
        let p = parse_chart(&make_chart_tgz("n", "name: n\nversion: 1.0\n", &[])).unwrap();
        assert_eq!(p.version, "1.0");
    }

    #[test]
    fn rejects_bad_archives() {
        assert!(parse_chart(b"").is_err());
        assert!(parse_chart(b"not gzip at all").is_err());
        assert!(parse_chart(&make_chart_tgz("x", "name: x\n", &[])).is_err());
        assert!(parse_chart(&make_chart_tgz("x", "version: 1.0.0\n", &[])).is_err());
        assert!(parse_chart(&make_chart_tgz("x", ": : :\n- [", &[])).is_err());
        assert!(parse_chart(&make_chart_tgz("x", "- a\n- b\n", &[])).is_err());
        assert!(parse_chart(&make_chart_tgz("x", "name: a/b\nversion: 1\n", &[])).is_err());
        let mut gz = Vec::new();
        {
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            std::io::Write::write_all(&mut e, b"plain text, not a tar").unwrap();
            e.finish().unwrap();
        }
        assert!(parse_chart(&gz).is_err());
    }

    #[test]
    fn insert_list_delete_persist() {
        let dir = std::env::temp_dir().join(format!("ccr-emu-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut s = Store::open(Some(dir.clone())).unwrap();
        for (i, v) in ["1.0.0", "1.1.0-rc.1", "0.9.0", "1.0.0+build.1"]
            .iter()
            .enumerate()
        {
            let tgz = chart("a", v);
            let p = parse_chart(&tgz).unwrap();
            s.insert(
                "i",
                "p",
                &p,
                tgz,
                Some(b"prov".to_vec()),
                100 + i as i64,
                false,
            )
            .unwrap();
        }
        let tgz = chart("a", "0.9.0");
        let p = parse_chart(&tgz).unwrap();
        assert!(matches!(
            s.insert("i", "p", &p, tgz.clone(), None, 1, false),
            Err(StoreError::Conflict(_))
        ));
        let list = s.list_charts("i", "p", "");
        assert_eq!(list[0]["latestVersion"], "1.0.0+build.1");
        assert_eq!(list[0]["totalVersions"], 4);
        let vs = s.list_versions("i", "p", "a", "").unwrap();
        assert_eq!(vs[0]["version"], "1.0.0+build.1");
        assert_eq!(vs[3]["version"], "1.0.0");
        assert_eq!(s.list_versions("i", "p", "a", "1.0.0").unwrap().len(), 2);
        assert!(s.download("i", "p", "a-1.0.0+build.1.tgz").is_some());
        assert_eq!(
            s.download("i", "p", "a-0.9.0.tgz.prov").unwrap().as_slice(),
            b"prov"
        );

        // Reload from disk.
        let s2 = Store::open(Some(dir.clone())).unwrap();
        assert_eq!(
            s2.versions("i", "p", "a"),
            ["0.9.0", "1.0.0", "1.0.0+build.1", "1.1.0-rc.1"]
        );
        assert_eq!(s2.list_versions("i", "p", "a", "").unwrap(), vs);

        assert!(s
            .delete_versions("i", "p", "a", &["0.9.0".into(), "nope".into()])
            .is_err());
        assert_eq!(s.versions("i", "p", "a").len(), 4);
        s.delete_versions("i", "p", "a", &["0.9.0".into()]).unwrap();
        assert!(s
            .delete_charts("i", "p", &["a".into(), "b".into()])
            .is_err());
        s.delete_charts("i", "p", &["a".into()]).unwrap();
        assert!(s.list_charts("i", "p", "").is_empty());
        let s3 = Store::open(Some(dir.clone())).unwrap();
        assert!(s3.list_charts("i", "p", "").is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
