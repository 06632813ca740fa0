//! Packages and provenance files, fetched from CCR on first request and kept on disk.
//!
//! A package is downloaded through [`Registry::download_verified`] against the digest its index
//! entry lists, and its `Chart.yaml` is checked to name that chart and version, before it gets
//! a name in the cache: nothing unchecked is ever served. Files are keyed by the package's
//! digest (`<sha256>.tgz`, `<sha256>.prov` for its provenance file), so a version replaced
//! with `push --force` is a new key and never served stale. Concurrent first requests for one
//! file share one download. The cache is bounded by `--cache-size`: least recently used out
//! first.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context, Result};
use tokio::sync::OnceCell;

use super::metrics::Metrics;
use crate::getter::index::IndexVersion;
use crate::provenance::identity::{self, Selected};
use crate::registry::download::{Dest, Expected};
use crate::registry::{self, Registry};

/// Why a file could not be had.
#[derive(Debug, Clone)]
pub struct Failure {
    /// 404 (the registry has no such file) or 502 (anything else upstream: unreachable, a
    /// digest mismatch, a package that is not what the index lists).
    pub status: u16,
    pub reason: String,
}

type Shared = Arc<OnceCell<Result<(PathBuf, u64), Failure>>>;

/// The disk cache of every served repository.
pub struct Packages {
    dir: PathBuf,
    limit: u64,
    metrics: Arc<Metrics>,
    lru: Mutex<Lru>,
    in_flight: Mutex<HashMap<String, Shared>>,
}

#[derive(Default)]
struct Lru {
    /// Key → (size, last use).
    entries: HashMap<String, (u64, u64)>,
    total: u64,
    tick: u64,
}

/// A cache file being written: a `.part` file in the cache directory, renamed into place once
/// checked (so the cache never holds a partial or unchecked file under a key).
struct PartInCache<'a>(&'a Path);

impl Dest for PartInCache<'_> {
    type Temp = tempfile::NamedTempFile;
    type Landed = tempfile::NamedTempFile;
    fn create(&self) -> Result<Self::Temp> {
        tempfile::Builder::new()
            .prefix(".download-")
            .suffix(".part")
            .tempfile_in(self.0)
            .with_context(|| format!("creating a file in {}", self.0.display()))
    }
    fn file(temp: &mut Self::Temp) -> &mut File {
        temp.as_file_mut()
    }
    fn land(&self, temp: Self::Temp) -> Result<Self::Landed> {
        Ok(temp)
    }
}

impl Packages {
    /// Opens (creating) the cache directory and takes stock of what it holds: files of an
    /// earlier run are kept (by their modification time, oldest first out); `.part` files
    /// are removed.
    pub fn open(dir: PathBuf, limit: u64, metrics: Arc<Metrics>) -> Result<Packages> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the cache directory {}", dir.display()))?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir)
            .with_context(|| format!("reading the cache directory {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".part") {
                let _ = std::fs::remove_file(entry.path());
                continue;
            }
            if !(name.ends_with(".tgz") || name.ends_with(".prov")) {
                continue;
            }
            let Ok(md) = entry.metadata() else { continue };
            let when = md.modified().unwrap_or(std::time::UNIX_EPOCH);
            found.push((when, name, md.len()));
        }
        found.sort();
        let mut lru = Lru::default();
        for (_, name, size) in found {
            lru.tick += 1;
            lru.total += size;
            lru.entries.insert(name, (size, lru.tick));
        }
        let p = Packages {
            dir,
            limit,
            metrics,
            lru: Mutex::new(lru),
            in_flight: Mutex::new(HashMap::new()),
        };
        p.evict();
        Ok(p)
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cache file for `file` of `version` (its package, or its provenance file), with its
    /// size: from the cache, or downloaded and checked first.
    pub async fn get(
        &self,
        registry: &Arc<Registry>,
        file: &str,
        version: &Arc<IndexVersion>,
    ) -> Result<(PathBuf, u64), Failure> {
        let Some(digest) = version.digest.clone() else {
            return Err(Failure {
                status: 502,
                reason: format!("{file}: the index lists no digest for it"),
            });
        };
        let prov = file.ends_with(".prov");
        let key = format!("{digest}.{}", if prov { "prov" } else { "tgz" });
        if let Some(hit) = self.touch(&key) {
            Metrics::add(&self.metrics.cache_hits, 1);
            return Ok(hit);
        }
        let cell = {
            let mut m = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(key.clone()).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async {
                Metrics::add(&self.metrics.cache_misses, 1);
                let registry = registry.clone();
                let dir = self.dir.clone();
                let file = file.to_string();
                let version = version.clone();
                let target = self.dir.join(&key);
                let job = tokio::task::spawn_blocking(move || {
                    fetch(&registry, &dir, &file, &version, &digest, &target)
                });
                let outcome = match job.await {
                    Ok(r) => r,
                    Err(e) => Err(anyhow!("the download stopped: {e}")),
                };
                Metrics::add(&self.metrics.upstream_requests, 1);
                match outcome {
                    Ok(size) => {
                        self.insert(&key, size);
                        Ok((self.dir.join(&key), size))
                    }
                    Err(e) => {
                        Metrics::add(&self.metrics.upstream_failures, 1);
                        let status = if registry::is_not_found(&e) { 404 } else { 502 };
                        Err(Failure {
                            status,
                            reason: crate::ui::report::one_line(&format!("{e:#}")),
                        })
                    }
                }
            })
            .await
            .clone();
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        result
    }

    /// A cached file's path and size, marked as just used.
    fn touch(&self, key: &str) -> Option<(PathBuf, u64)> {
        let mut lru = self.lru();
        lru.tick += 1;
        let tick = lru.tick;
        let e = lru.entries.get_mut(key)?;
        e.1 = tick;
        let size = e.0;
        Some((self.dir.join(key), size))
    }

    fn insert(&self, key: &str, size: u64) {
        {
            let mut lru = self.lru();
            lru.tick += 1;
            let tick = lru.tick;
            if let Some((old, _)) = lru.entries.insert(key.to_string(), (size, tick)) {
                lru.total -= old;
            }
            lru.total += size;
        }
        self.evict();
    }

    /// Removes the least recently used files until the cache fits its bound (the newest file
    /// stays even when it alone is larger). A file being sent stays readable to its reader.
    fn evict(&self) {
        let mut lru = self.lru();
        while lru.total > self.limit && lru.entries.len() > 1 {
            let Some(oldest) = lru
                .entries
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((size, _)) = lru.entries.remove(&oldest) {
                lru.total -= size;
                let _ = std::fs::remove_file(self.dir.join(&oldest));
            }
        }
        self.metrics
            .cache_bytes
            .store(lru.total, std::sync::atomic::Ordering::Relaxed);
    }

    /// Forgets a cached file that is gone from disk (removed by hand).
    pub fn forget(&self, path: &Path) {
        let Some(key) = path.file_name().map(|k| k.to_string_lossy().into_owned()) else {
            return;
        };
        let mut lru = self.lru();
        if let Some((size, _)) = lru.entries.remove(&key) {
            lru.total -= size;
        }
    }
}

/// Downloads `file` into a part file in `dir`, checks it (a package against `digest` and its
/// `Chart.yaml`, a provenance file by its length) and renames it to `target`.
fn fetch(
    client: &Registry,
    dir: &Path,
    file: &str,
    version: &IndexVersion,
    digest: &str,
    target: &Path,
) -> Result<u64> {
    let dest = PartInCache(dir);
    let got = if file.ends_with(".prov") {
        client.download_verified(file, Expected::Unlisted, &dest)?
    } else {
        let mut got = client.download_verified(file, Expected::Sha256(digest), &dest)?;
        let selected = Selected {
            name: &version.name,
            version: &version.version,
        };
        got.file
            .as_file_mut()
            .rewind()
            .context("rewinding a downloaded file")?;
        identity::check_package(BufReader::new(got.file.as_file_mut()), file, selected)?;
        got
    };
    got.file
        .persist(target)
        .map_err(|e| io::Error::new(e.error.kind(), e.error))
        .with_context(|| format!("writing {}", target.display()))?;
    Ok(got.size)
}
