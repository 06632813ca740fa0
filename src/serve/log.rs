//! The server's log on stderr: one line per request (method, path, status, bytes, duration)
//! and one per event, as text or JSON (`--log-format json`). Nothing here ever sees a
//! request's headers, so credentials cannot reach the log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

static JSON: AtomicBool = AtomicBool::new(false);

/// Chooses JSON lines for the rest of the run.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

fn now() -> String {
    crate::support::clock::rfc3339_utc(SystemTime::now())
}

/// A path as logged: control characters escaped, at most 512 bytes.
fn shown(path: &str) -> String {
    let mut s: String = path.chars().take(512).collect();
    if s.chars().any(char::is_control) {
        s = s.escape_default().to_string();
    }
    s
}

/// One request's line.
pub fn request(method: &str, path: &str, status: u16, bytes: u64, took: Duration) {
    let ms = took.as_secs_f64() * 1000.0;
    let line = if JSON.load(Ordering::Relaxed) {
        serde_json::json!({
            "time": now(),
            "method": method,
            "path": path,
            "status": status,
            "bytes": bytes,
            "duration_ms": (ms * 1000.0).round() / 1000.0,
        })
        .to_string()
    } else {
        format!(
            "{} {} {} {} {} {:.1}ms",
            now(),
            shown(method),
            shown(path),
            status,
            bytes,
            ms
        )
    };
    eprintln!("{line}");
}

/// An event of the server (start, refresh failures, shutdown).
pub fn event(message: &str) {
    let line = if JSON.load(Ordering::Relaxed) {
        serde_json::json!({ "time": now(), "message": message }).to_string()
    } else {
        format!("{} {}", now(), message)
    };
    eprintln!("{line}");
}
