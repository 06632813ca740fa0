//! Running the binary with its peak memory measured.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::world::World;

/// A finished run and its peak resident set size.
pub struct Measured {
    pub out: Output,
    pub peak_mib: u64,
}

/// The high-water mark of a process's resident memory (`VmHWM`), in KiB; `None` once it has
/// exited.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd` to its end (killing it after `limit`) and samples its peak memory every
/// millisecond or so. `VmHWM` is the kernel's own high-water mark of the process (after exec,
/// so none of the test process's pages count, unlike a forked child's `ru_maxrss`): a sample
/// can miss only what is allocated in the last moment before exit.
pub fn run_measured(mut cmd: Command, limit: Duration) -> Measured {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let sampler = std::thread::spawn(move || {
        let started = Instant::now();
        let mut peak = 0u64;
        while !done2.load(Ordering::SeqCst) {
            if let Some(kib) = vm_hwm_kib(pid) {
                peak = peak.max(kib);
            }
            if started.elapsed() > limit {
                // SAFETY: signalling our own child, which has not been reaped (done is false).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        peak
    });
    let status = child.wait().unwrap();
    done.store(true, Ordering::SeqCst);
    Measured {
        out: Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        peak_mib: sampler.join().unwrap() / 1024,
    }
}

pub fn measured(w: &World, endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Measured {
    let mut c = w.std_cmd_at(endpoint);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run_measured(c, Duration::from_secs(120))
}
