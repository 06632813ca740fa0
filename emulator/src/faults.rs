//! Fault injection: what can go wrong, and the queue of faults waiting for a request.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

/// A way for the emulator to misbehave on one request (queued) or on all (fail-all).
///
/// JSON form (admin API): `{"kind":"status","status":500}`, `{"kind":"status","status":409,
/// "code":"Conflict"}`, `{"kind":"reset"}`, `{"kind":"reset_after_handling"}`,
/// `{"kind":"truncate"}`, `{"kind":"truncate","keep_bytes":10}`, `{"kind":"corrupt"}`,
/// `{"kind":"latency","ms":500}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer this status with a CCR JSON error body without handling the request. `code`
    /// defaults by status (500 `InternalError`, 503 `ServiceUnavailable`, 429 `TooManyRequests`...).
    Status {
        /// HTTP status to answer.
        status: u16,
        /// CCR error code; `None` picks the usual one for the status.
        #[serde(default)]
        code: Option<String>,
    },
    /// Close the connection before handling, without reading the body or answering.
    Reset,
    /// Handle the request fully (an upload IS stored), then close without answering.
    #[serde(alias = "reset-after-handling", alias = "resetafterhandling")]
    ResetAfterHandling,
    /// Send the headers with the full Content-Length but only part of the body, then close.
    Truncate {
        /// Bytes of body to send; `None` sends half; at most the body length minus one.
        #[serde(default)]
        keep_bytes: Option<u64>,
    },
    /// Flip one byte in the middle of the response body (length unchanged).
    Corrupt,
    /// Sleep this long before answering.
    Latency {
        /// Milliseconds to sleep.
        ms: u64,
    },
}

impl Fault {
    /// Whether an unfiltered fault of this kind only applies to downloads. `Truncate` and
    /// `Corrupt` are about bodies, so an unfiltered one waits for the next download
    /// (`GET .../charts/download/...`), letting a client list versions first.
    pub(crate) fn download_only(&self) -> bool {
        matches!(self, Fault::Truncate { .. } | Fault::Corrupt)
    }
}

/// The usual CCR error code for a status.
pub fn default_code(status: u16) -> &'static str {
    match status {
        400 => "InvalidParameter",
        401 => "Unauthorized",
        403 => "AccessDenied",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "StatusConflict",
        412 => "QuotaExceed",
        413 => "EntityTooLarge",
        429 => "TooManyRequests",
        500 => "InternalError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    }
}

/// `Retry-After` (seconds) of a 429 from the in-flight limit ([`InFlight`]).
pub const THROTTLE_RETRY_AFTER_SECS: u64 = 1;

/// API requests being served, for the throttling mode: a registry that answers `429
/// TooManyRequests` with `Retry-After: 1` to a request arriving while `max` are already in
/// flight (as a gateway's concurrency limit does). A refused request holds no slot.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
}

/// One request's place among those in flight; leaves on drop.
#[derive(Debug)]
pub(crate) struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl InFlight {
    /// Takes a place for an arriving request: `None` (throttled) when `max` are in flight
    /// already; with no limit, always a place (still counted).
    pub fn enter(&self, max: Option<usize>) -> Option<Slot<'_>> {
        let before = self.count.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(&self.count);
        match max {
            Some(max) if before >= max => None,
            _ => Some(slot),
        }
    }

    /// Requests in flight now.
    pub fn now(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// A queued fault with an optional filter.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub fault: Fault,
}

impl Queued {
    fn matches(&self, method: &str, target: &str, is_download: bool) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        match &self.path_contains {
            Some(p) => target.contains(p.as_str()),
            None => !self.fault.download_only() || is_download,
        }
    }
}

/// The queue: consumed one fault per matching request, first queued first.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    items: Vec<Queued>,
}

impl FaultQueue {
    pub fn push(&mut self, q: Queued) {
        self.items.push(q);
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Removes and returns the first fault matching this request.
    pub fn take(&mut self, method: &str, target: &str, is_download: bool) -> Option<Fault> {
        let i = self
            .items
            .iter()
            .position(|q| q.matches(method, target, is_download))?;
        Some(self.items.remove(i).fault)
    }
}

/// Parses the admin API's fault list: a JSON array of faults (or a single fault object), each
/// optionally carrying `"method"` and `"path_contains"` filters.
pub(crate) fn parse_fault_list(v: &serde_json::Value) -> Result<Vec<Queued>, String> {
    let items: Vec<&serde_json::Value> = match v {
        serde_json::Value::Array(a) => a.iter().collect(),
        serde_json::Value::Object(_) => vec![v],
        _ => return Err("expected a JSON array of faults".into()),
    };
    items
        .into_iter()
        .map(|item| {
            let fault: Fault = serde_json::from_value(item.clone())
                .map_err(|e| format!("bad fault {item}: {e}"))?;
            let s = |k: &str| item.get(k).and_then(|x| x.as_str()).map(str::to_string);
            Ok(Queued {
                method: s("method"),
                path_contains: s("path_contains"),
                fault,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_forms() {
        let v: serde_json::Value = serde_json::from_str(
            r#"[{"kind":"status","status":500},{"kind":"reset"},{"kind":"reset_after_handling"},
                {"kind":"truncate"},{"kind":"truncate","keep_bytes":3},{"kind":"corrupt"},
                {"kind":"latency","ms":5},{"kind":"status","status":409,"code":"Conflict","method":"POST","path_contains":"/charts"}]"#,
        )
        .unwrap();
        let q = parse_fault_list(&v).unwrap();
        assert_eq!(q.len(), 8);
        assert_eq!(
            q[0].fault,
            Fault::Status {
                status: 500,
                code: None
            }
        );
        assert_eq!(
            q[4].fault,
            Fault::Truncate {
                keep_bytes: Some(3)
            }
        );
        assert_eq!(q[7].method.as_deref(), Some("POST"));
        assert!(parse_fault_list(&serde_json::json!([{"kind":"nope"}])).is_err());
        assert!(parse_fault_list(&serde_json::json!(3)).is_err());
    }

    #[test]
    fn in_flight_limit_refuses_above_max_and_a_refusal_holds_no_place() {
        let f = InFlight::default();
        let a = f.enter(Some(2)).unwrap();
        let b = f.enter(Some(2)).unwrap();
        assert_eq!(f.now(), 2);
        assert!(f.enter(Some(2)).is_none());
        assert!(f.enter(Some(2)).is_none());
        assert_eq!(f.now(), 2, "refused requests hold no place");
        drop(a);
        let c = f.enter(Some(2)).unwrap();
        assert!(f.enter(Some(2)).is_none());
        // No limit: always a place, still counted.
        let many: Vec<_> = (0..5).map(|_| f.enter(None).unwrap()).collect();
        assert_eq!(f.now(), 7);
        drop((b, c, many));
        assert_eq!(f.now(), 0);
    }

    #[test]
    fn queue_matching() {
        let mut q = FaultQueue::default();
        q.push(Queued {
            method: None,
            path_contains: None,
            fault: Fault::Corrupt,
        });
        q.push(Queued {
            method: Some("POST".into()),
            path_contains: None,
            fault: Fault::Reset,
        });
        q.push(Queued {
            method: None,
            path_contains: None,
            fault: Fault::Latency { ms: 1 },
        });
        // A GET list: the corrupt waits for a download, the POST filter does not match.
        assert_eq!(
            q.take("GET", "/v1/x/charts", false),
            Some(Fault::Latency { ms: 1 })
        );
        assert_eq!(q.take("GET", "/v1/x/charts", false), None);
        assert_eq!(q.take("post", "/v1/x/charts", false), Some(Fault::Reset));
        assert_eq!(
            q.take("GET", "/v1/x/charts/download/a-1.tgz", true),
            Some(Fault::Corrupt)
        );
        assert_eq!(q.len(), 0);
    }
}
