//! Interrupted means clean. Every temporary file or directory a command makes is either inside
//! the run's private temporary directory (where `tempfile` puts everything by default once
//! [`start`] ran) or registered here by [`create`] (a download's `.part` file beside its
//! destination, an unpack's staging directory). SIGINT, SIGTERM and SIGHUP remove them all, then
//! the process exits with 128 + the signal's number: 130, 143, 129. The destination keeps what
//! it had: nothing is renamed into place after the signal.
//!
//! Registration and removal share one lock, so a signal finds a temporary path either already
//! registered or not yet created (the process ends while holding the lock).
//!
//! A step that must not be cut in two (`push --force` between deleting the old version and
//! storing the new one or the old one again) runs inside a [`Critical`] section ([`hold`]):
//! a signal that arrives then is remembered, said on stderr, and acted on (the same removal,
//! message and status) when the last section ends. SIGKILL cannot be held: such a step keeps
//! what it needs to recover outside the temporary files, and says where.

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

/// Stops removing `path` on a signal: it is kept past the run from now on (its owner removes
/// it when it is no longer needed).
pub fn forget(path: &Path) {
    registered().retain(|p| p != path);
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

/// Removes every registered path, says which signal ended the run, and ends it with 128 + the
/// signal's number.
fn interrupt(signal: i32) -> ! {
    let reg = registered();
    remove_all(&reg);
    let (status, name) = exit_status(signal);
    eprintln!("Error: interrupted by {name}; temporary files removed");
    // Ends the process with the lock held: nothing new gets created.
    std::process::exit(status);
}

/// Whether a signal ends the run now or waits for the critical sections to end: the state
/// shared by the signal watcher and [`Critical`] sections.
#[derive(Debug, Default)]
struct Gate {
    /// The open sections: an id and what each is doing (said when a signal waits for it).
    open: Vec<(u64, String)>,
    next_id: u64,
    /// The first signal that arrived while a section was open.
    pending: Option<i32>,
}

/// What the watcher does with a signal.
#[derive(Debug, PartialEq, Eq)]
enum OnSignal {
    /// No section is open: end the run.
    Act(i32),
    /// A section is open: the run ends when the last one ends; say what it waits for.
    Wait(Vec<String>),
}

impl Gate {
    fn open(&mut self, what: String) -> u64 {
        self.next_id += 1;
        self.open.push((self.next_id, what));
        self.next_id
    }

    fn signal(&mut self, signal: i32) -> OnSignal {
        if self.open.is_empty() {
            return OnSignal::Act(signal);
        }
        // A second signal does not replace the first: the status says what stopped the run.
        self.pending.get_or_insert(signal);
        OnSignal::Wait(self.open.iter().map(|(_, w)| w.clone()).collect())
    }

    /// Ends section `id`; the signal to act on now that none is open, if one waited.
    fn close(&mut self, id: u64) -> Option<i32> {
        self.open.retain(|(i, _)| *i != id);
        if self.open.is_empty() {
            self.pending.take()
        } else {
            None
        }
    }
}

static GATE: Mutex<Gate> = Mutex::new(Gate {
    open: Vec::new(),
    next_id: 0,
    pending: None,
});

fn gate() -> MutexGuard<'static, Gate> {
    GATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A step SIGINT, SIGTERM and SIGHUP do not cut in two (see [`hold`]). Ending it (dropping it,
/// or [`Critical::end`]) acts on a signal that arrived meanwhile, once no other section is
/// open: temporary files removed, the process ended with 128 + the signal.
#[must_use = "the section ends when this is dropped"]
pub struct Critical {
    id: u64,
    /// Said on stderr before the run ends for a signal that waited for this section.
    outcome: Option<String>,
}

/// Opens a critical section; `what` says what it is doing (`replacing app 1.0.0 in myccr`),
/// on stderr, if a signal has to wait for it.
pub fn hold(what: &str) -> Critical {
    Critical {
        id: gate().open(what.to_string()),
        outcome: None,
    }
}

impl Critical {
    /// Ends the section; `outcome` (one line) is said on stderr first if a signal waited for
    /// it, so that the run that ends for that signal still says how the step ended.
    pub fn end(mut self, outcome: String) {
        self.outcome = Some(outcome);
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        let waited = gate().close(self.id);
        if let Some(signal) = waited {
            if let Some(line) = &self.outcome {
                eprintln!("{line}");
            }
            interrupt(signal);
        }
    }
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
            for signal in signals.forever() {
                let mut g = gate();
                match g.signal(signal) {
                    // Decided with the gate held: no section opens in between.
                    OnSignal::Act(signal) => interrupt(signal),
                    OnSignal::Wait(steps) => {
                        drop(g);
                        let (_, name) = exit_status(signal);
                        for step in steps {
                            eprintln!(
                                "{name} received while {step}: finishing that first, then stopping (SIGKILL would stop now and leave it unfinished)"
                            );
                        }
                    }
                }
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

    #[test]
    fn forgotten_paths_are_no_longer_registered() {
        let base = tempfile::tempdir().unwrap();
        let dir = create(|| tempfile::tempdir_in(base.path())).unwrap();
        assert!(registered().iter().any(|p| p == dir.path()));
        forget(dir.path());
        assert!(!registered().iter().any(|p| p == dir.path()));
    }

    #[test]
    fn without_an_open_section_a_signal_acts_at_once() {
        let mut g = Gate::default();
        assert_eq!(g.signal(15), OnSignal::Act(15));
        let id = g.open("a".into());
        assert_eq!(g.close(id), None);
        assert_eq!(g.signal(2), OnSignal::Act(2));
    }

    #[test]
    fn a_signal_inside_a_section_waits_for_its_end() {
        let mut g = Gate::default();
        let id = g.open("replacing app 1.0.0".into());
        assert_eq!(
            g.signal(15),
            OnSignal::Wait(vec!["replacing app 1.0.0".into()])
        );
        // The first signal is the one acted on.
        assert!(matches!(g.signal(2), OnSignal::Wait(_)));
        assert_eq!(g.close(id), Some(15));
        // Acted on once: the next section starts clean.
        let id = g.open("b".into());
        assert_eq!(g.close(id), None);
    }

    #[test]
    fn the_last_of_several_sections_acts() {
        let mut g = Gate::default();
        let a = g.open("a".into());
        let b = g.open("b".into());
        assert_eq!(
            g.signal(1),
            OnSignal::Wait(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(g.close(b), None);
        assert_eq!(g.signal(2), OnSignal::Wait(vec!["a".to_string()]));
        assert_eq!(g.close(a), Some(1));
        assert_eq!(g.signal(2), OnSignal::Act(2));
    }

    #[test]
    fn sections_without_a_signal_end_quietly() {
        // Through the process-wide gate: nothing pending, so ending does not exit.
        let outer = hold("outer");
        let inner = hold("inner");
        inner.end("done".into());
        drop(outer);
        assert!(gate()
            .open
            .iter()
            .all(|(_, w)| w != "outer" && w != "inner"));
    }
}
