//! The counters `/metrics` shows, in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Everything the server counts. Cheap to update from any thread.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub upstream_requests: AtomicU64,
    pub upstream_failures: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Bytes held in the package cache now.
    pub cache_bytes: AtomicU64,
    /// Bytes of packages and provenance files sent to clients.
    pub served_bytes: AtomicU64,
    pub index_builds: AtomicU64,
    pub index_build_failures: AtomicU64,
}

/// One repository's index as `/metrics` reports it.
pub struct IndexGauge {
    pub repo: String,
    /// Seconds the last successful build took.
    pub build_seconds: Option<f64>,
    /// Seconds since the last successful build.
    pub age_seconds: Option<f64>,
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route, status)).or_default() += 1;
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The text of `/metrics`.
    pub fn render(&self, indexes: &[IndexGauge]) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.push_str("# HELP helm_ccr_serve_requests_total HTTP requests answered, by route and status.\n# TYPE helm_ccr_serve_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "helm_ccr_serve_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let mut counter = |name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        counter(
            "helm_ccr_serve_upstream_requests_total",
            "Listings and downloads asked of CCR.",
            "counter",
            get(&self.upstream_requests),
        );
        counter(
            "helm_ccr_serve_upstream_failures_total",
            "Listings and downloads of CCR that failed.",
            "counter",
            get(&self.upstream_failures),
        );
        counter(
            "helm_ccr_serve_cache_hits_total",
            "Package requests answered from the disk cache.",
            "counter",
            get(&self.cache_hits),
        );
        counter(
            "helm_ccr_serve_cache_misses_total",
            "Package requests that needed a download from CCR.",
            "counter",
            get(&self.cache_misses),
        );
        counter(
            "helm_ccr_serve_cache_bytes",
            "Bytes in the package cache.",
            "gauge",
            get(&self.cache_bytes),
        );
        counter(
            "helm_ccr_serve_served_bytes_total",
            "Bytes of packages and provenance files sent.",
            "counter",
            get(&self.served_bytes),
        );
        counter(
            "helm_ccr_serve_index_builds_total",
            "Index builds and refreshes.",
            "counter",
            get(&self.index_builds),
        );
        counter(
            "helm_ccr_serve_index_build_failures_total",
            "Index builds and refreshes that failed.",
            "counter",
            get(&self.index_build_failures),
        );
        out.push_str("# HELP helm_ccr_serve_index_build_seconds Duration of the last successful index build.\n# TYPE helm_ccr_serve_index_build_seconds gauge\n");
        for g in indexes {
            if let Some(s) = g.build_seconds {
                let _ = writeln!(
                    out,
                    "helm_ccr_serve_index_build_seconds{{repo=\"{}\"}} {s:.6}",
                    g.repo
                );
            }
        }
        out.push_str("# HELP helm_ccr_serve_index_age_seconds Seconds since the served index was built.\n# TYPE helm_ccr_serve_index_age_seconds gauge\n");
        for g in indexes {
            if let Some(s) = g.age_seconds {
                let _ = writeln!(
                    out,
                    "helm_ccr_serve_index_age_seconds{{repo=\"{}\"}} {s:.3}",
                    g.repo
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let m = Metrics::default();
        m.request("index", 200);
        m.request("index", 200);
        m.request("other", 404);
        Metrics::add(&m.cache_hits, 3);
        let text = m.render(&[IndexGauge {
            repo: "stable".into(),
            build_seconds: Some(0.5),
            age_seconds: Some(2.0),
        }]);
        assert!(text.contains("helm_ccr_serve_requests_total{route=\"index\",status=\"200\"} 2\n"));
        assert!(text.contains("helm_ccr_serve_requests_total{route=\"other\",status=\"404\"} 1\n"));
        assert!(text.contains("helm_ccr_serve_cache_hits_total 3\n"));
        assert!(text.contains("helm_ccr_serve_index_age_seconds{repo=\"stable\"} 2.000\n"));
    }
}
