//! The getter serves Helm only what the index it synthesises lists, as that index lists it:
//! a package whose bytes match the registry's digest and whose Chart.yaml is the listed
//! version, under the listed file name (or NAME-VERSION.tgz), and the provenance file of a
//! listed package. Anything else is one error and nothing on stdout, so that Helm 4, which
//! caches chart content by the index's digest without checking it, never caches bytes under
//! a digest they do not have.

use std::path::Path;
use std::process::Output;

use crate::common::*;

/// `helm-ccr download "" "" "" ccr://ccr-test/ns/FILE` against `registry`, without retries.
fn get(w: &World, registry: &str, file: &str) -> Output {
    w.cmd_at(registry)
        .env("HELM_CCR_RETRIES", "1")
        .args(["download", "", "", "", &format!("{REPO}/{file}")])
        .output()
        .unwrap()
}

fn assert_refused(out: &Output, needle: &str, what: &str) {
    assert_one_error(out, 1, needle);
    assert!(
        out.stdout.is_empty(),
        "{what}: {} bytes on stdout",
        out.stdout.len()
    );
}

#[test]
fn bytes_that_do_not_match_the_listed_digest_are_refused() {
    let bytes = chart_tgz("app", "1.0.0", "");
    let other = sha256(&chart_tgz("app", "1.0.0", "another package"));
    // Listed under NAME-VERSION.tgz, and under a file name of the registry's choosing (which
    // the getter once served unchecked).
    for (urls, listed) in [
        (serde_json::json!(["charts/app-1.0.0.tgz"]), "app-1.0.0.tgz"),
        (serde_json::json!(["charts/custom.tgz"]), "custom.tgz"),
    ] {
        let reg = one_version(bytes.clone(), other.clone().into(), urls);
        let w = World::new();
        for file in [listed, "app-1.0.0.tgz"] {
            let out = get(&w, &reg.url, file);
            assert_refused(&out, "digest mismatch", file);
            assert!(
                error_line(&out).contains(&format!("the registry lists sha256:{other}")),
                "{}",
                error_line(&out)
            );
        }
    }
}

#[test]
fn only_files_the_index_lists_are_served() {
    let bytes = chart_tgz("app", "1.0.0", "");
    let reg = one_version(
        bytes.clone(),
        sha256(&bytes).into(),
        serde_json::json!(["charts/custom.tgz"]),
    );
    let w = World::new();
    // The index lists the package under its URL's base name.
    let index = get(&w, &reg.url, "index.yaml");
    assert!(index.status.success(), "{}", stderr(&index));
    assert!(stdout(&index).contains("custom.tgz"), "{}", stdout(&index));
    // Served: the listed name, NAME-VERSION.tgz, and their provenance files (the scripted
    // registry answers every download with the same bytes).
    for file in [
        "custom.tgz",
        "app-1.0.0.tgz",
        "custom.tgz.prov",
        "app-1.0.0.tgz.prov",
    ] {
        let out = get(&w, &reg.url, file);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        assert_eq!(out.stdout, bytes, "{file}");
        assert!(
            !stderr(&out).contains("Warning"),
            "{file}: {}",
            stderr(&out)
        );
    }
    // Refused: whatever the registry would serve, no listed version has these names.
    for file in [
        "other-1.0.0.tgz",
        "app-1.0.1.tgz",
        "app.tgz",
        "custom2.tgz",
        "other-1.0.0.tgz.prov",
        "x.tgz.prov",
    ] {
        let out = get(&w, &reg.url, file);
        assert_refused(
            &out,
            "the ccr getter serves only the files its index.yaml lists",
            file,
        );
    }
}

#[test]
fn a_package_of_another_version_is_refused() {
    // The registry lists app 1.0.0 with the right digest of what it serves: a 0.9.0.
    let old = chart_tgz("app", "0.9.0", "");
    let reg = one_version(
        old.clone(),
        sha256(&old).into(),
        serde_json::json!(["app-1.0.0.tgz"]),
    );
    let w = World::new();
    let out = get(&w, &reg.url, "app-1.0.0.tgz");
    assert_refused(
        &out,
        "app-1.0.0.tgz is not app 1.0.0: its Chart.yaml says app 0.9.0",
        "substituted",
    );
}

/// Files below `dir` whose content is `bytes`.
fn files_holding(dir: &Path, bytes: &[u8]) -> Vec<String> {
    files_below(dir)
        .into_iter()
        .filter(|f| std::fs::read(dir.join(f)).is_ok_and(|b| b == bytes))
        .collect()
}

#[test]
fn helm_4_caches_nothing_whose_digest_does_not_match() {
    let w = World::new();
    let h = PluginHelm::install(4, &w);
    let cache = h.dir.path().join("cache");
    // Helm writes into an existing directory only.
    for d in ["honest-out", "hostile-out"] {
        std::fs::create_dir_all(h.dir.path().join(d)).unwrap();
    }
    let run = |registry: &str, args: &[&str]| -> Output {
        h.cmd()
            .env("HELM_CCR_ENDPOINT", registry)
            .env("HELM_CCR_RETRIES", "1")
            .env("BCE_ACCESS_KEY_ID", AK)
            .env("BCE_SECRET_ACCESS_KEY", SK)
            .args(args)
            .output()
            .unwrap()
    };
    // A registry that serves what it lists: Helm 4 pulls the chart, and caches its content
    // when it loads it (`show`, `template`), so the cache is where this test looks.
    let good = chart_tgz("app", "1.0.0", "");
    let honest = one_version(
        good.clone(),
        sha256(&good).into(),
        serde_json::json!(["charts/custom.tgz"]),
    );
    for args in [
        &["repo", "add", "honest", REPO][..],
        &["pull", "honest/app", "-d", "honest-out"],
        &["show", "chart", "honest/app"],
        &["template", "x", "honest/app"],
    ] {
        let out = run(&honest.url, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(
        files_below(&h.dir.path().join("honest-out")),
        ["custom.tgz"]
    );
    assert!(
        !files_holding(&cache, &good).is_empty(),
        "Helm 4 caches pulled content below {}: {:?}",
        cache.display(),
        files_below(&cache)
    );

    // A registry that lists the digest of a package it does not serve, under a file name of
    // its choosing: Helm gets an error, and nothing of what was served lands in the cache.
    let served = chart_tgz("app", "1.0.0", "poisoned");
    let victim = sha256(&chart_tgz("app", "1.0.0", "victim"));
    let hostile = one_version(
        served.clone(),
        victim.clone().into(),
        serde_json::json!(["charts/custom.tgz"]),
    );
    let out = run(&hostile.url, &["repo", "add", "hostile", REPO]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `show` and `template` go through Helm 4's content cache (`pull` does not use it).
    for args in [
        &["show", "chart", "hostile/app"][..],
        &["template", "x", "hostile/app"],
        &["pull", "hostile/app", "-d", "hostile-out"],
        &["pull", &format!("{REPO}/custom.tgz"), "-d", "hostile-out"],
    ] {
        let out = run(&hostile.url, args);
        assert!(!out.status.success(), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("digest mismatch"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(files_below(&h.dir.path().join("hostile-out")).is_empty());
        assert_eq!(files_holding(&cache, &served), Vec::<String>::new());
        assert!(
            !files_below(&cache).iter().any(|f| f.contains(&victim)),
            "{:?}",
            files_below(&cache)
        );
    }
}
