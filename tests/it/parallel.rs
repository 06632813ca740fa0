//! Work done in parallel: the getter's index (versions listed with up to HELM_CCR_PARALLEL
//! requests in flight, as soon as the first page of charts arrives) and multi-chart push.

use ccr_emulator::Fault;

use crate::common::*;

/// 230 charts of 2 versions, and one (`c000`) of 120: pages of charts 1..3, one versions page
/// per chart, two for c000.
fn many_charts(w: &World) -> usize {
    for i in 0..230 {
        let name = format!("c{i:03}");
        let versions = if i == 0 { 120 } else { 2 };
        for v in 0..versions {
            let version = format!("1.{v}.0");
            w.emu.put_raw(
                INSTANCE,
                NS,
                &name,
                &version,
                chart_tgz(&name, &version, ""),
            );
        }
    }
    3 + 230 + 1
}

#[test]
fn index_in_parallel_is_the_sequential_index_with_the_same_requests() {
    let w = World::new();
    let expected_requests = many_charts(&w);
    let mut texts = Vec::new();
    for parallel in ["1", "32"] {
        w.emu.clear_requests();
        let out = w.index(parallel);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            w.emu.requests().len(),
            expected_requests,
            "HELM_CCR_PARALLEL={parallel}"
        );
        texts.push(without_time(&out.stdout));
    }
    assert_eq!(texts[0], texts[1]);
    let text = &texts[0];
    assert!(text.contains("\"c229\":") && text.contains("version: \"1.119.0\""));
    assert_eq!(text.matches("  - apiVersion:").count(), 120 + 229 * 2);
}

#[test]
fn index_lists_versions_before_the_last_page_of_charts() {
    let w = World::new();
    many_charts(&w);
    // Each answer takes 50 ms: the third page of charts cannot be asked for before two
    // answers came back, while the first page's charts are listed as soon as it arrives.
    w.emu.set_latency(50);
    w.emu.clear_requests();
    let out = w.index("32");
    assert!(out.status.success(), "{}", stderr(&out));
    let paths: Vec<String> = w.emu.requests().into_iter().map(|r| r.path).collect();
    let last_page = paths
        .iter()
        .position(|p| !p.contains("/versions") && p.contains("pageNo=3"))
        .expect("third page of charts");
    let first_versions = paths
        .iter()
        .position(|p| p.contains("/versions"))
        .expect("a version listing");
    assert!(first_versions < last_page, "{paths:#?}");
}

#[test]
fn one_failing_version_listing_fails_the_whole_index() {
    let w = World::new();
    many_charts(&w);
    for parallel in ["1", "32"] {
        w.emu.push_fault_for(
            "GET",
            "/charts/c150/versions",
            Fault::Status {
                status: 400,
                code: None,
            },
        );
        let out = w.index(parallel);
        assert_one_error(&out, 1, "c150");
        assert!(out.stdout.is_empty(), "no partial index reaches Helm");
        w.emu.clear_faults();
    }
}

#[test]
fn a_bad_parallel_setting_is_refused_by_name() {
    let w = World::new();
    w.push_chart("app", "1.0.0");
    for bad in ["0", "many", "-3"] {
        let out = w.index(bad);
        assert_one_error(&out, 1, "HELM_CCR_PARALLEL");
        assert!(out.stdout.is_empty());
    }
}

/// Chart directories `charts/dNN` (the last one broken: no version), for multi-chart push.
fn chart_dirs(w: &World, n: usize) -> Vec<String> {
    let mut dirs = Vec::new();
    for i in 0..n {
        let dir = format!("charts/d{i:02}");
        let version = if i + 1 == n { "" } else { "1.0.0" };
        w.write(
            &format!("{dir}/Chart.yaml"),
            format!("apiVersion: v2\nname: d{i:02}\nversion: \"{version}\"\n").as_bytes(),
        );
        w.write(
            &format!("{dir}/values.yaml"),
            format!("n: {i}\n").as_bytes(),
        );
        w.write(
            &format!("{dir}/templates/cm.yaml"),
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        );
        dirs.push(dir);
    }
    dirs
}

#[test]
fn multi_chart_push_overlaps_and_pushes_what_single_pushes_would() {
    for parallel in ["1", "32"] {
        let w = World::new();
        let dirs = chart_dirs(&w, 17);
        let mut args = vec!["push".to_string()];
        args.extend(dirs.iter().cloned());
        args.push(REPO.to_string());
        let out = w
            .cmd()
            .env("HELM_CCR_PARALLEL", parallel)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        // One line for the chart that failed, one for the whole.
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
        assert_eq!(errors.len(), 2, "{err}");
        assert!(errors
            .iter()
            .any(|l| l.contains("charts/d16") && l.contains("version")));
        assert!(errors.contains(&"Error: 1 of 17 charts failed"), "{err}");
        let text = stdout(&out);
        assert_eq!(
            text.lines().filter(|l| l.starts_with("Pushed ")).count(),
            16,
            "{text}"
        );
        for (i, dir) in dirs.iter().enumerate().take(16) {
            assert_eq!(w.versions(&format!("d{i:02}")), ["1.0.0"]);
            // A single push of the same directory makes the same package.
            let again = w
                .cmd()
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args(["push", dir, REPO, "--skip-existing", "--dry-run"])
                .output()
                .unwrap();
            assert!(
                stdout(&again).starts_with("Unchanged "),
                "{}",
                stdout(&again)
            );
        }
    }
}
