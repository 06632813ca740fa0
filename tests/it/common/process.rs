//! Driving a running `helm-ccr`: waiting for a condition while it runs, and signalling it.

use std::process::Child;
use std::time::{Duration, Instant};

/// Waits until `cond` holds, polling every 20 ms; panics naming `what` when the command ends
/// first, or when `limit` passes (a hang guard, not a timing assertion).
pub fn wait_for(what: &str, child: &mut Child, limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the command ended ({status}) before {what}");
        }
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends signal `name` (`TERM`, `INT`, `HUP`, `KILL`) to `child` with kill(1).
pub fn signal(child: &Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}
