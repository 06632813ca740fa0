//! Interrupted means clean. Every temporary file or directory a command makes is either inside
//! the run's private temporary directory (where `tempfile` puts everything by default once
//! [`start`] ran) or registered here by [`create`] (a download's `.part` file beside its
//! destination, an unpack's staging directory). SIGINT, SIGTERM and SIGHUP remove them all, then
//! the process exits with 128 + the signal's number: 130, 143, 129. The destination keeps what
//! it had: nothing is renamed into place after the signal.
//!
//! Registration and removal share one lock, so a signal finds a temporary path either already
//! registered or not yet created (the process ends while holding the lock).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn registered() -> MutexGuard<'static, Vec<PathBuf>> {
    REGISTERED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Something temporary that lives at a path.
pub trait TempPath {
    fn temp_path(&self) -> &Path;
}

impl TempPath for tempfile::NamedTempFile {
    fn temp_path(&self) -> &Path {
        self.path()
    }
}

impl TempPath for tempfile::TempDir {
    fn temp_path(&self) -> &Path {
        self.path()
    }
}

/// Runs `make` (which creates a temporary file or directory) and registers its path for
/// removal on a signal. Files renamed into place later are simply gone from that path.
pub fn create<T: TempPath>(make: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let mut reg = registered();
    let made = make()?;
    reg.push(made.temp_path().to_path_buf());
    Ok(made)
}

/// Removes every registered path, files and whole directories; what is gone already is fine.
fn remove_all(paths: &[PathBuf]) {
    for p in paths.iter().rev() {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                // A file created inside while this runs makes one pass fail: try again.
                for _ in 0..3 {
                    if std::fs::remove_dir_all(p).is_ok() || !p.exists() {
                        break;
                    }
                }
            }
            Ok(_) => {
                let _ = std::fs::remove_file(p);
            }
            Err(_) => {}
        }
    }
}

/// The run's private temporary directory (removed when this is dropped) and the signal
/// watcher.
pub struct Session {
    _dir: Option<tempfile::TempDir>,
}

/// Makes a private temporary directory in the system's (`$TMPDIR`), has `tempfile` put every
/// temporary file there, and starts watching for SIGINT, SIGTERM and SIGHUP. Call once, at the
/// start of a command.
pub fn start() -> Session {
    let dir = create(|| tempfile::Builder::new().prefix("helm-ccr-").tempdir()).ok();
    if let Some(d) = &dir {
        let _ = tempfile::env::override_temp_dir(d.path());
    }
    watch();
    Session { _dir: dir }
}

/// The exit status for a signal and its name: `(130, "SIGINT")`.
pub fn exit_status(signal: i32) -> (i32, &'static str) {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    };
    (128 + signal, name)
}

#[cfg(unix)]
fn watch() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("helm-ccr-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let reg = registered();
                remove_all(&reg);
                let (status, name) = exit_status(signal);
                eprintln!("Error: interrupted by {name}; temporary files removed");
                // Ends the process with the lock held: nothing new gets created.
                std::process::exit(status);
            }
        });
}

#[cfg(not(unix))]
fn watch() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_shell_convention() {
        assert_eq!(exit_status(2), (130, "SIGINT"));
        assert_eq!(exit_status(15), (143, "SIGTERM"));
        assert_eq!(exit_status(1), (129, "SIGHUP"));
    }

    #[test]
    fn registered_paths_are_removed_files_and_directories() {
        let base = tempfile::tempdir().unwrap();
        let file = create(|| tempfile::NamedTempFile::new_in(base.path())).unwrap();
        let dir = create(|| tempfile::tempdir_in(base.path())).unwrap();
        std::fs::write(dir.path().join("inner"), b"x").unwrap();
        let paths = vec![file.path().to_path_buf(), dir.path().to_path_buf()];
        remove_all(&paths);
        assert!(!file.path().exists() && !dir.path().exists());
        // Twice is harmless.
        remove_all(&paths);
        assert!(registered().contains(&paths[0]));
    }
}
