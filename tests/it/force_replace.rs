//! `push --force` on a registry that refuses overwrites (409) deletes the old version before it
//! uploads the new one. No interruption it can catch leaves the registry without the version:
//! SIGINT, SIGTERM and SIGHUP wait from the delete until the new package (or the old one again)
//! is stored. SIGKILL cannot wait: the old package is kept under Helm's cache, at a path said
//! on stderr before the delete, from where pushing it back restores the registry.
//!
//! Each step is reached by holding one request in the emulator (a latency fault), noticed
//! from the emulator's record of the requests it received; the signal is sent while it is
//! held. Assertions are about outcomes (what the registry holds, the exit status, the files
//! left), never about time.
#![cfg(unix)]

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use ccr_emulator::Fault;

use crate::common::*;

/// How long the emulator holds the request the signal is sent during. Only makes the step
/// likely to still be under way when the signal lands; no assertion depends on it.
const HOLD_MS: u64 = 3000;

const OLD_PROV: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nold provenance\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n";

/// A registry that refuses overwrites, holding `app` 1.0.0 (with a provenance file when
/// `with_prov`), and `new.tgz`, another `app` 1.0.0, in the work directory.
struct Setup {
    w: World,
    old: Vec<u8>,
    new: Vec<u8>,
}

fn setup(with_prov: bool) -> Setup {
    let w = World::new();
    w.emu.set_overwrite(false);
    let old = chart_tgz("app", "1.0.0", "old");
    w.write("old/app-1.0.0.tgz", &old);
    if with_prov {
        w.write("old/app-1.0.0.tgz.prov", OLD_PROV);
    }
    w.ok(&["push", "old/app-1.0.0.tgz", REPO]);
    let new = chart_tgz("app", "1.0.0", "new");
    w.write("new.tgz", &new);
    w.emu.clear_requests();
    Setup { w, old, new }
}

/// Where `push --force` keeps the old package: Helm's cache in the world's home.
fn replaced_dir(w: &World) -> PathBuf {
    w.home.path().join(".cache/helm/ccr/replaced")
}

fn hold() -> Fault {
    Fault::Latency { ms: HOLD_MS }
}

fn spawn_force(w: &World, extra: &[&str]) -> Child {
    w.std_cmd()
        .args(["push", "new.tgz", REPO, "--force"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (up to two minutes) until the emulator received a request that `is` picks, the
/// `nth` (from 1) of them.
fn wait_for_request(
    w: &World,
    child: &mut Child,
    what: &str,
    nth: usize,
    is: impl Fn(&ccr_emulator::Recorded) -> bool,
) {
    wait_for(what, child, Duration::from_secs(120), || {
        w.emu.requests().iter().filter(|r| is(r)).count() >= nth
    });
}

fn finish(child: Child) -> (Option<i32>, String, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

/// The path said on stderr when the replacement started.
fn announced(err: &str) -> PathBuf {
    let line = err
        .lines()
        .find(|l| l.starts_with("Replacing app 1.0.0 in "))
        .unwrap_or_else(|| panic!("no announcement: {err}"));
    PathBuf::from(line.rsplit("kept at ").next().unwrap().trim())
}

fn is_method(method: &'static str) -> impl Fn(&ccr_emulator::Recorded) -> bool {
    move |r| r.method == method
}

/// The steps of a replacement a signal can land in, and what the registry then holds.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Keeping the copy (the old package's download): nothing deleted yet.
    BeforeDelete,
    /// The delete in flight: the replacement finishes, then the run stops.
    Delete,
    /// The new package's upload in flight.
    Upload,
    /// The new package was refused; the old one's upload in flight.
    Restore,
}

fn interrupted_at(step: Step, sig: &str, status: i32) {
    let Setup { w, old, new } = setup(true);
    // The first upload meets the registry's refusal; queued faults go to the first matching
    // request, so the refusal is queued too whenever a later upload is to be held.
    let (want, nth, what): (&[u8], usize, &str) = match step {
        Step::BeforeDelete => {
            w.emu.push_fault_for("GET", "/download/", hold());
            (&old, 1, "the old package's download")
        }
        Step::Delete => {
            w.emu.push_fault_for("DELETE", "", hold());
            (&new, 1, "the delete")
        }
        Step::Upload => {
            w.emu.push_fault_for("POST", "", conflict());
            w.emu.push_fault_for("POST", "", hold());
            (&new, 2, "the new package's upload")
        }
        Step::Restore => {
            w.emu.push_fault_for("POST", "", conflict());
            w.emu.push_fault_for(
                "POST",
                "",
                Fault::Status {
                    status: 400,
                    code: Some("InvalidChart".into()),
                },
            );
            w.emu.push_fault_for("POST", "", hold());
            (&old, 3, "the old package's upload again")
        }
    };
    let mut child = spawn_force(&w, &[]);
    let held: Box<dyn Fn(&ccr_emulator::Recorded) -> bool> = match step {
        Step::BeforeDelete => Box::new(|r| r.method == "GET" && r.path.contains("/download/")),
        Step::Delete => Box::new(is_method("DELETE")),
        Step::Upload | Step::Restore => Box::new(is_method("POST")),
    };
    wait_for_request(&w, &mut child, what, nth, held);
    signal(&child, sig);
    let (code, _, err) = finish(child);
    assert_eq!(code, Some(status), "{step:?}: {err}");
    assert!(
        err.contains(&format!("interrupted by SIG{sig}; temporary files removed")),
        "{step:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // The registry holds the version: the old one or the new one, as the step decides.
    assert_eq!(
        w.stored("app", "1.0.0").map(|b| sha256(&b)),
        Some(sha256(want)),
        "{step:?} (old sha256:{}, new sha256:{}): {err}",
        sha256(&old),
        sha256(&new)
    );
    if matches!(step, Step::BeforeDelete | Step::Restore) {
        assert_eq!(
            w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").as_deref(),
            Some(OLD_PROV),
            "{step:?}: the old provenance file is there too"
        );
    }
    if !matches!(step, Step::BeforeDelete) {
        // The signal waited, and the run said for what, then how the step ended.
        assert!(
            err.contains(&format!(
                "SIG{sig} received while replacing app 1.0.0 in {REPO}"
            )),
            "{step:?}: {err}"
        );
        let settled = match step {
            Step::Restore => "the old package was uploaded again",
            _ => "Replaced app 1.0.0 in",
        };
        assert!(err.contains(settled), "{step:?}: {err}");
    }
    // Settled (or never started): no copy is left in the cache.
    assert_eq!(
        files_below(&replaced_dir(&w)),
        Vec::<String>::new(),
        "{step:?}: {err}"
    );
}

#[test]
fn sigterm_while_keeping_the_copy_leaves_the_old_version() {
    interrupted_at(Step::BeforeDelete, "TERM", 143);
}

#[test]
fn sigterm_during_the_delete_waits_for_the_new_version() {
    interrupted_at(Step::Delete, "TERM", 143);
}

#[test]
fn sigterm_during_the_new_upload_waits_for_it() {
    interrupted_at(Step::Upload, "TERM", 143);
}

#[test]
fn sigint_during_the_new_upload_waits_for_it() {
    interrupted_at(Step::Upload, "INT", 130);
}

#[test]
fn sigterm_during_the_restore_waits_for_the_old_version() {
    interrupted_at(Step::Restore, "TERM", 143);
}

#[test]
fn sighup_during_the_delete_waits_for_the_new_version() {
    interrupted_at(Step::Delete, "HUP", 129);
}

/// SIGKILL once the delete reached the registry: the registry lost the version, the path said
/// at the start holds the old package (and its provenance file only when it had one), and
/// pushing it back restores the registry.
fn killed_after_the_delete(with_prov: bool) {
    let Setup { w, old, .. } = setup(with_prov);
    w.emu.push_fault_for("DELETE", "", hold());
    let mut child = spawn_force(&w, &[]);
    wait_for_request(&w, &mut child, "the delete", 1, is_method("DELETE"));
    signal(&child, "KILL");
    let (code, _, err) = finish(child);
    assert_eq!(code, None, "killed: {err}");
    // The emulator handles the held delete all the same: wait for its answer.
    let started = Instant::now();
    while w
        .emu
        .requests()
        .iter()
        .any(|r| r.method == "DELETE" && r.status.is_none())
    {
        assert!(started.elapsed() < Duration::from_secs(120), "the delete");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(w.stored("app", "1.0.0").is_none(), "the registry lost it");

    let kept = announced(&err);
    assert!(kept.starts_with(replaced_dir(&w)), "{}", kept.display());
    assert_eq!(
        sha256(&std::fs::read(&kept).unwrap()),
        sha256(&old),
        "the old package, byte for byte"
    );
    let dir = kept.parent().unwrap();
    let mut want = vec!["app-1.0.0.tgz".to_string()];
    if with_prov {
        want.push("app-1.0.0.tgz.prov".into());
        assert_eq!(
            std::fs::read(dir.join("app-1.0.0.tgz.prov")).unwrap(),
            OLD_PROV
        );
    }
    // No provenance file where the registry had none (not even an empty one).
    assert_eq!(files_below(dir), want);

    w.ok(&["push", kept.to_str().unwrap(), REPO]);
    assert_eq!(w.stored("app", "1.0.0").unwrap(), old);
    assert_eq!(
        w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").as_deref(),
        with_prov.then_some(OLD_PROV)
    );
}

#[test]
fn sigkill_after_the_delete_leaves_the_old_package_where_it_said() {
    killed_after_the_delete(true);
}

#[test]
fn sigkill_after_the_delete_keeps_no_provenance_file_that_was_not_there() {
    killed_after_the_delete(false);
}

#[test]
fn the_kept_path_is_said_even_quiet_or_as_json_and_removed_once_replaced() {
    for extra in [&["-q"][..], &["-o", "json"]] {
        let Setup { w, new, .. } = setup(true);
        let out = w
            .cmd()
            .args(["push", "new.tgz", REPO, "--force"])
            .args(extra)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{extra:?}: {err}");
        let kept = announced(&err);
        assert!(kept.starts_with(replaced_dir(&w)), "{}", kept.display());
        assert!(!kept.exists(), "removed once replaced");
        assert_eq!(files_below(&replaced_dir(&w)), Vec::<String>::new());
        assert_eq!(w.stored("app", "1.0.0").unwrap(), new);
        if extra[0] == "-o" {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v[0]["action"], "replaced", "{v}");
        }
    }
}

#[test]
fn the_cache_follows_helm_cache_home() {
    let Setup { w, .. } = setup(false);
    let cache = w.path("cache");
    refuse_replacement_and_restore(&w.emu);
    let out = w
        .cmd()
        .env("HELM_CACHE_HOME", &cache)
        .args(["push", "new.tgz", REPO, "--force"])
        .output()
        .unwrap();
    // Uncertain outcome: the copy stays, and the error says where.
    let line = error_line(&out);
    let saved = PathBuf::from(line.rsplit("saved at ").next().unwrap().trim());
    assert_eq!(saved, announced(&stderr(&out)));
    assert!(
        saved.starts_with(cache.join("ccr/replaced/ccr-test/ns")),
        "{line}"
    );
    assert!(saved.is_file(), "{line}");
}

#[test]
fn a_sibling_prov_that_is_not_clear_signed_is_refused_before_uploading() {
    let w = World::new();
    let tgz = chart_tgz("app", "1.0.0", "x");
    for (i, text) in [
        &b""[..],
        b"signature\n",
        b"-----BEGIN PGP SIGNED MESSAGE-----\nno signature\n",
    ]
    .into_iter()
    .enumerate()
    {
        let dir = format!("c{i}");
        w.write(&format!("{dir}/app-1.0.0.tgz"), &tgz);
        let prov = w.write(&format!("{dir}/app-1.0.0.tgz.prov"), text);
        let out = w
            .cmd()
            .args(["push", &format!("{dir}/app-1.0.0.tgz"), REPO])
            .output()
            .unwrap();
        assert_one_error(&out, 1, "is not a provenance file");
        assert!(
            error_line(&out).contains(&prov.display().to_string())
                || error_line(&out).contains(&format!("{dir}/app-1.0.0.tgz.prov")),
            "{}",
            error_line(&out)
        );
    }
    assert_eq!(w.count("POST"), 0, "nothing uploaded");
    assert!(w.versions("app").is_empty());
    // A clear-signed one goes with its package.
    w.write("ok/app-1.0.0.tgz", &tgz);
    w.write("ok/app-1.0.0.tgz.prov", OLD_PROV);
    w.ok(&["push", "ok/app-1.0.0.tgz", REPO]);
    assert_eq!(
        w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").as_deref(),
        Some(OLD_PROV)
    );
}

#[test]
fn a_refused_delete_keeps_the_old_version_and_no_copy() {
    let Setup { w, old, .. } = setup(true);
    w.emu.push_fault_for(
        "DELETE",
        "",
        Fault::Status {
            status: 403,
            code: None,
        },
    );
    let out = w
        .cmd()
        .args(["push", "new.tgz", REPO, "--force"])
        .output()
        .unwrap();
    assert_one_error(
        &out,
        1,
        &format!("holds app 1.0.0 as before (sha256:{})", sha256(&old)),
    );
    assert_eq!(w.stored("app", "1.0.0").unwrap(), old);
    assert_eq!(files_below(&replaced_dir(&w)), Vec::<String>::new());
}

#[test]
fn a_delete_whose_answer_is_lost_still_ends_in_the_new_version() {
    let Setup { w, new, .. } = setup(true);
    w.emu
        .push_fault_for("DELETE", "", Fault::ResetAfterHandling);
    let out = w
        .cmd()
        .args(["push", "new.tgz", REPO, "--force"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.stored("app", "1.0.0").unwrap(), new);
    assert_eq!(files_below(&replaced_dir(&w)), Vec::<String>::new());
}
