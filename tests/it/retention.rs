//! Retention: `rm REPO[/CHART]... (--keep N | --older-than DURATION)` against the emulator, with
//! `created` times set per version, checked by `ls -o json` before and after.

use std::time::{SystemTime, UNIX_EPOCH};

use ccr_emulator::Fault;
use serde_json::{json, Value};

use crate::common::*;

const DAY: i64 = 86_400;

/// `YYYY-MM-DDThh:mm:ssZ` for `secs` after the epoch.
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(DAY);
    let rem = secs.rem_euclid(DAY);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Stores `chart` `version`, created `age_days` ago (`None`: the registry gives no time).
fn put(w: &World, chart: &str, version: &str, age_days: Option<i64>) {
    w.emu
        .put_raw(INSTANCE, NS, chart, version, chart_tgz(chart, version, ""));
    let created = match age_days {
        Some(d) => json!(rfc3339(now() - d * DAY)),
        None => json!(""),
    };
    assert!(w
        .emu
        .patch_version(INSTANCE, NS, chart, version, json!({ "created": created })));
}

/// Two charts of six versions each, pre-releases included, and a chart of one old version.
fn namespace() -> World {
    let w = World::new();
    for (version, age) in [
        ("1.0.0", 400),
        ("1.1.0", 200),
        ("1.2.0", 100),
        ("2.0.0-rc.1", 60),
        ("2.0.0", 30),
        ("2.1.0-rc.1", 5),
    ] {
        put(&w, "app", version, Some(age));
    }
    for (version, age) in [
        ("0.1.0", 90),
        ("0.2.0", 80),
        ("0.3.0-beta.1", 70),
        ("0.3.0", 10),
        ("0.4.0", 3),
        ("0.5.0-alpha", 1),
    ] {
        put(&w, "web", version, Some(age));
    }
    put(&w, "solo", "1.0.0", Some(500));
    w.emu.clear_requests();
    w
}

/// The versions of `chart` as `ls REPO/CHART -o json --devel` lists them, sorted.
fn ls(w: &World, chart: &str) -> Vec<String> {
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/{chart}"), "-o", "json", "--devel"])
        .output()
        .unwrap();
    if !out.status.success() && stderr(&out).contains("not found") {
        return Vec::new();
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut versions: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect();
    versions.sort();
    versions
}

fn without(all: &[String], gone: &[&str]) -> Vec<String> {
    all.iter()
        .filter(|v| !gone.contains(&v.as_str()))
        .cloned()
        .collect()
}

fn rm(w: &World, args: &[&str]) -> std::process::Output {
    let mut c = w.cmd();
    c.arg("rm");
    c.args(args);
    c.output().unwrap()
}

#[test]
fn keep_2_deletes_all_but_the_newest_two_stable_and_two_prereleases() {
    let w = namespace();
    let (app, web) = (ls(&w, "app"), ls(&w, "web"));
    assert_eq!(app.len(), 6);
    w.emu.clear_requests();
    let out = rm(&w, &[&format!("{REPO}/app"), "--keep", "2", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records: Value = serde_json::from_slice(&out.stdout).unwrap();
    let deleted: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["action"], "deleted");
            assert_eq!(r["name"], "app");
            assert!(r["digest"].as_str().unwrap().starts_with("sha256:"));
            r["version"].as_str().unwrap()
        })
        .collect();
    assert_eq!(deleted, ["1.1.0", "1.0.0"]);
    assert_eq!(w.count("DELETE"), 1, "one batch call for the chart");
    assert_eq!(ls(&w, "app"), without(&app, &["1.0.0", "1.1.0"]));
    assert_eq!(ls(&w, "web"), web, "another chart is untouched");

    // --devel: pre-releases compete with the stable versions for the two places.
    let out = rm(&w, &[&format!("{REPO}/web"), "--keep", "2", "--devel"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "web"), ["0.4.0", "0.5.0-alpha"]);
    assert!(
        stdout(&out).starts_with("Deleted web 0.3.0, 0.3.0-beta.1, 0.2.0, 0.1.0 from "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn older_than_deletes_by_created_time_and_combines_with_keep() {
    let w = namespace();
    let app = ls(&w, "app");
    let out = rm(&w, &[&format!("{REPO}/app"), "--older-than", "90d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "app"), without(&app, &["1.0.0", "1.1.0", "1.2.0"]));

    // Both: only what is beyond the newest 2 (0.2.0, 0.1.0 and no pre-release) AND older
    // than 85 days (0.1.0).
    let web = ls(&w, "web");
    let out = rm(
        &w,
        &[&format!("{REPO}/web"), "--keep", "2", "--older-than", "85d"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "web"), without(&web, &["0.1.0"]));
    // Weeks are accepted too: 0.2.0 (80 days) and 0.3.0-beta.1 (70) are older than 9 weeks,
    // and the pre-release is beyond no newest-2 of its own.
    let out = rm(&w, &[&format!("{REPO}/web"), "--older-than", "9w"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "web"), ["0.3.0", "0.4.0", "0.5.0-alpha"]);
}

#[test]
fn repo_alone_prunes_every_chart_and_several_charts_combine() {
    let w = namespace();
    let out = rm(&w, &[REPO, "--keep", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "app"), ["2.0.0", "2.1.0-rc.1"]);
    assert_eq!(ls(&w, "web"), ["0.4.0", "0.5.0-alpha"]);
    assert_eq!(ls(&w, "solo"), ["1.0.0"]);
    assert_eq!(
        w.count("DELETE"),
        2,
        "one call per chart that loses versions"
    );
    let text = stdout(&out);
    assert!(text.contains("Nothing to delete from solo"), "{text}");

    // Several charts named, the same chart twice.
    let w = namespace();
    let out = rm(
        &w,
        &[
            &format!("{REPO}/app"),
            &format!("{REPO}/web"),
            &format!("{REPO}/app"),
            "--older-than",
            "75d",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "app"), ["2.0.0", "2.0.0-rc.1", "2.1.0-rc.1"]);
    assert_eq!(
        ls(&w, "web"),
        ["0.3.0", "0.3.0-beta.1", "0.4.0", "0.5.0-alpha"]
    );
    assert_eq!(ls(&w, "solo"), ["1.0.0"]);
}

#[test]
fn dry_run_lists_and_deletes_nothing() {
    let w = namespace();
    let (app, web, solo) = (ls(&w, "app"), ls(&w, "web"), ls(&w, "solo"));
    w.emu.clear_requests();
    let out = rm(
        &w,
        &[REPO, "--keep", "2", "--older-than", "1d", "--dry-run"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.count("DELETE"), 0);
    let text = stdout(&out);
    assert!(
        text.contains("Would delete app 1.1.0, 1.0.0 from ccr://ccr-test/ns (4 kept)"),
        "{text}"
    );
    assert!(
        text.contains("Would delete web 0.2.0, 0.1.0 from ccr://ccr-test/ns (4 kept)"),
        "{text}"
    );
    assert_eq!(
        (ls(&w, "app"), ls(&w, "web"), ls(&w, "solo")),
        (app, web, solo)
    );

    let out = rm(&w, &[REPO, "--older-than", "1d", "--dry-run", "-o", "yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("action: would delete"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.count("DELETE"), 0);
}

#[test]
fn older_than_alone_keeps_the_newest_version_unless_all() {
    let w = namespace();
    let out = rm(&w, &[&format!("{REPO}/solo"), "--older-than", "30d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Note: kept solo 1.0.0, its newest version"));
    assert_eq!(ls(&w, "solo"), ["1.0.0"]);
    assert_eq!(w.count("DELETE"), 0);
    // Every app version is older than an hour: the newest stable one stays.
    let out = rm(&w, &[&format!("{REPO}/app"), "--older-than", "1h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "app"), ["2.0.0"]);

    let out = rm(
        &w,
        &[&format!("{REPO}/solo"), "--older-than", "30d", "--all"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ls(&w, "solo"), Vec::<String>::new());
}

#[test]
fn a_version_without_a_creation_time_is_never_deleted_by_age() {
    let w = namespace();
    put(&w, "app", "0.9.0", None);
    let out = rm(&w, &[&format!("{REPO}/app"), "--older-than", "150d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Warning: app: the registry gives no creation time for 0.9.0"),
        "{}",
        stderr(&out)
    );
    let left = ls(&w, "app");
    assert!(left.contains(&"0.9.0".to_string()), "{left:?}");
    assert!(!left.contains(&"1.0.0".to_string()) && !left.contains(&"1.1.0".to_string()));
}

#[test]
fn a_failed_delete_fails_the_run_and_the_other_charts_go_on() {
    let w = namespace();
    w.emu.push_fault_for(
        "DELETE",
        "/charts/app",
        Fault::Status {
            status: 403,
            code: Some("AccessDenied".into()),
        },
    );
    let out = rm(&w, &[REPO, "--keep", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Error: app: "), "{err}");
    assert!(err.contains("deleting failed for 1 of 2 charts"), "{err}");
    assert_eq!(ls(&w, "app").len(), 6);
    assert_eq!(
        ls(&w, "web"),
        ["0.3.0", "0.3.0-beta.1", "0.4.0", "0.5.0-alpha"]
    );
}

#[test]
fn bad_input_is_one_error_line() {
    let w = namespace();
    let app = format!("{REPO}/app");
    // --keep 0 would delete every version: a usage error.
    let out = rm(&w, &[&app, "--keep", "0"]);
    assert_one_error(&out, 2, "--keep 0");
    for bad in ["30", "soon", "0d", "1y"] {
        let out = rm(&w, &[&app, "--older-than", bad]);
        assert_one_error(&out, 2, "--older-than");
    }
    // An unknown chart: nothing is deleted, even from the charts that exist.
    let out = rm(&w, &[&app, &format!("{REPO}/nope"), "--keep", "1"]);
    assert_one_error(&out, 1, "\"nope\" not found");
    // ... nor from another repository (every repository is judged before the first delete).
    let out = rm(&w, &["ccr://ccr-test/ns2/nope", &app, "--older-than", "1d"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(error_line(&out).contains("\"nope\" not found"));
    // REPO alone without a retention rule.
    let out = rm(&w, &[REPO, "--all"]);
    assert_one_error(&out, 2, "--keep N or --older-than");
    // Conflicts.
    let out = rm(&w, &[&app, "--keep", "1", "--version", "1.0.0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = rm(&w, &[&app, "--keep", "1", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = rm(&w, &[&app, "--devel", "--older-than", "1d"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.count("DELETE"), 0);
    assert_eq!(ls(&w, "app").len(), 6);
}
