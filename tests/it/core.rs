//! The core commands against the emulator: push → ls → pull → rm, duplicates, errors,
//! integrity.

use ccr_emulator::{Config, Fault, Key};
use serde_json::Value;

use crate::common::*;

#[test]
fn push_ls_pull_rm_round_trip() {
    let w = World::new();
    let v1 = chart_tgz("app", "1.0.0", "one");
    let v2 = chart_tgz("app", "1.2.0", "two");
    let rc = chart_tgz("app", "2.0.0-rc.1", "rc");
    let prov = b"-----BEGIN PGP SIGNED MESSAGE-----\nfake provenance\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n".to_vec();
    w.write("app-1.0.0.tgz", &v1);
    w.write("app-1.0.0.tgz.prov", &prov);
    w.write("app-1.2.0.tgz", &v2);
    w.write("app-2.0.0-rc.1.tgz", &rc);
    w.write("other-0.1.0.tgz", &chart_tgz("other", "0.1.0", "x"));

    for f in [
        "app-1.0.0.tgz",
        "app-1.2.0.tgz",
        "app-2.0.0-rc.1.tgz",
        "other-0.1.0.tgz",
    ] {
        let out = w.ok(&["push", f, REPO]);
        let line = stdout(&out);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.starts_with("Pushed "), "{line}");
        assert!(line.contains("sha256:"), "{line}");
    }
    assert_eq!(w.stored("app", "1.0.0").unwrap(), v1);
    assert_eq!(
        w.emu.prov_bytes(INSTANCE, NS, "app", "1.0.0").unwrap(),
        prov,
        "the sibling .prov travels with its package"
    );
    assert!(w.emu.prov_bytes(INSTANCE, NS, "app", "1.2.0").is_none());

    // ls REPO: table and json.
    let out = w.ok(&["ls", REPO]);
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("LATEST VERSION"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("app ") && lines[1].contains("1.2.0"),
        "{table}"
    );
    assert!(lines[2].starts_with("other "), "{table}");
    let out = w.cmd().args(["ls", REPO, "-o", "json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "other"]);

    // ls REPO/CHART: newest first, pre-releases only with --devel.
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/app"), "-o", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.2.0", "1.0.0"]);
    assert_eq!(json[1]["digest"].as_str().unwrap(), sha256(&v1));
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/app"), "--devel"])
        .output()
        .unwrap();
    let table = stdout(&out);
    assert!(
        table.lines().nth(1).unwrap().contains("2.0.0-rc.1"),
        "{table}"
    );
    let out = w
        .cmd()
        .args(["ls", &format!("{REPO}/app"), "-o", "yaml"])
        .output()
        .unwrap();
    let yaml: Value = serde_saphyr::from_str(&stdout(&out)).unwrap();
    assert_eq!(yaml[0]["version"], "1.2.0", "{}", stdout(&out));

    // pull: latest, exact, constraint, --devel; identical bytes each time.
    let pull = |args: &[&str], dir: &str| {
        let mut c = w.cmd();
        c.args(["pull", &format!("{REPO}/app"), "-d", dir])
            .args(args);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    let p = pull(&[], "latest");
    assert!(p.ends_with("app-1.2.0.tgz"), "{p}");
    assert_eq!(std::fs::read(w.path(&p)).unwrap(), v2);
    let p = pull(&["--version", "1.0.0"], "exact");
    assert_eq!(std::fs::read(w.path(&p)).unwrap(), v1);
    let p = pull(&["--version", "~1.0"], "tilde");
    assert_eq!(std::fs::read(w.path(&p)).unwrap(), v1);
    let p = pull(&["--version", ">=1.0 <2.0"], "range");
    assert_eq!(std::fs::read(w.path(&p)).unwrap(), v2);
    let p = pull(&["--devel"], "devel");
    assert_eq!(std::fs::read(w.path(&p)).unwrap(), rc);
    assert_eq!(
        files_below(&w.path("devel")),
        ["app-2.0.0-rc.1.tgz"],
        "no temporary files left"
    );

    // --untar unpacks the chart directory and keeps no package or temporary file.
    let p = pull(
        &["--version", "1.0.0", "--untar", "--untardir", "charts"],
        "u",
    );
    assert_eq!(
        p,
        w.path("u/charts/app")
            .display()
            .to_string()
            .replace(&(w.work.path().display().to_string() + "/"), "")
    );
    assert_eq!(
        files_below(&w.path("u")),
        [
            "charts/app/Chart.yaml",
            "charts/app/templates/cm.yaml",
            "charts/app/values.yaml"
        ]
    );

    // rm --version: one, then several in one batch call.
    w.ok(&["rm", &format!("{REPO}/app"), "--version", "2.0.0-rc.1"]);
    assert_eq!(w.versions("app"), ["1.0.0", "1.2.0"]);
    let before = w.count("DELETE");
    w.ok(&[
        "rm",
        &format!("{REPO}/app"),
        "--version",
        "1.0.0",
        "--version",
        "1.2.0",
    ]);
    assert_eq!(
        w.count("DELETE") - before,
        1,
        "several versions go in one call"
    );
    assert!(w.versions("app").is_empty());

    // rm --all deletes whole charts.
    w.cmd()
        .args(["push", "app-1.0.0.tgz", REPO])
        .assert()
        .success();
    let before = w.count("DELETE");
    w.ok(&[
        "rm",
        &format!("{REPO}/app"),
        &format!("{REPO}/other"),
        "--all",
    ]);
    assert_eq!(
        w.count("DELETE") - before,
        1,
        "several charts go in one call"
    );
    assert!(w.versions("app").is_empty() && w.versions("other").is_empty());
}

#[test]
fn rm_needs_all_for_whole_charts_and_names_what_is_missing() {
    let w = World::new();
    w.push_chart("a", "1.0.0");
    let out = w.cmd().args(["rm", &format!("{REPO}/a")]).output().unwrap();
    assert_one_error(&out, 2, "--all");
    let out = w
        .cmd()
        .args(["rm", &format!("{REPO}/a"), "--version", "1.0.0,9.9.9"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "9.9.9");
    assert_eq!(
        w.versions("a"),
        ["1.0.0"],
        "nothing deleted when one version is missing"
    );
    let out = w
        .cmd()
        .args(["rm", &format!("{REPO}/nope"), "--all"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "nope");
    let out = w
        .cmd()
        .args([
            "rm",
            &format!("{REPO}/a"),
            "--version",
            "1.0.0",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("Would delete a 1.0.0"));
    assert_eq!(w.versions("a"), ["1.0.0"]);
}

fn duplicate_push_behaviour(overwrite: bool) {
    let mut config = Config::new(vec![Key::new(AK, SK)]);
    config.overwrite = overwrite;
    let w = World::with(config);
    let first = chart_tgz("dup", "1.0.0", "first");
    let second = chart_tgz("dup", "1.0.0", "second");
    w.write("first/dup-1.0.0.tgz", &first);
    w.write("second/dup-1.0.0.tgz", &second);
    w.cmd()
        .args(["push", "first/dup-1.0.0.tgz", REPO])
        .assert()
        .success();

    let posts = w.count("POST");
    let out = w
        .cmd()
        .args(["push", "second/dup-1.0.0.tgz", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "already exists");
    assert_eq!(
        w.stored("dup", "1.0.0").unwrap(),
        first,
        "stored chart unchanged"
    );
    assert_eq!(w.count("POST"), posts, "nothing uploaded");

    let out = w.ok(&["push", "second/dup-1.0.0.tgz", REPO, "--skip-existing"]);
    assert!(
        stdout(&out).starts_with("Skipped dup 1.0.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.count("POST"), posts, "--skip-existing uploads nothing");
    assert_eq!(w.stored("dup", "1.0.0").unwrap(), first);

    w.ok(&["push", "second/dup-1.0.0.tgz", REPO, "--force"]);
    assert_eq!(
        w.stored("dup", "1.0.0").unwrap(),
        second,
        "--force replaces"
    );
    assert_eq!(w.versions("dup"), ["1.0.0"]);
}

#[test]
fn duplicate_push_against_a_registry_that_refuses_duplicates() {
    duplicate_push_behaviour(false);
}

#[test]
fn duplicate_push_against_a_registry_that_silently_overwrites() {
    duplicate_push_behaviour(true);
}

#[test]
fn dry_run_checks_but_uploads_nothing() {
    let w = World::new();
    let bytes = chart_tgz("dry", "0.1.0", "");
    w.write("dry-0.1.0.tgz", &bytes);
    let out = w.ok(&["push", "dry-0.1.0.tgz", REPO, "--dry-run"]);
    let line = stdout(&out);
    assert!(line.contains("dry-0.1.0.tgz"), "{line}");
    assert!(
        line.contains(&format!("sha256:{}", sha256(&bytes))),
        "{line}"
    );
    assert!(line.contains(&format!("{} bytes", bytes.len())), "{line}");
    assert_eq!(w.count("POST"), 0);
    assert!(w.count("GET") >= 1, "the existence check ran");
}

#[test]
fn credential_and_reference_errors_are_one_clear_line() {
    let w = World::new();
    w.push_chart("e", "1.0.0");

    let out = w
        .bare()
        .env("BCE_ACCESS_KEY_ID", AK)
        .env("BCE_SECRET_ACCESS_KEY", "wrong-secret")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "SignatureDoesNotMatch");
    let line = stderr(&out);
    assert!(
        line.contains("403") && line.contains("request id"),
        "{line}"
    );
    assert!(!line.contains("wrong-secret"));

    let out = w
        .bare()
        .env("BCE_ACCESS_KEY_ID", "unknown-ak")
        .env("BCE_SECRET_ACCESS_KEY", SK)
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "InvalidAccessKeyId");

    let before = w.emu.requests().len();
    let out = w
        .bare()
        .args(["pull", &format!("{REPO}/e")])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "no credentials");
    assert_eq!(
        w.emu.requests().len(),
        before,
        "no request without credentials"
    );

    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/missing")])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "not found");
    assert!(stderr(&out).contains("NotFound"), "{}", stderr(&out));
    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/e"), "--version", "3.0.0"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "3.0.0");

    for (bad, code) in [
        ("ccr://only-instance", 1),
        // A repository where the chart belongs: a usage error saying REPO/CHART is needed.
        ("no-slash", 2),
        ("ccr://i/n/c/extra", 1),
        // Not a CCR repository at all: a usage error saying which forms are accepted.
        ("https://x/y/z", 2),
    ] {
        let out = w.cmd().args(["pull", bad]).output().unwrap();
        assert_one_error(&out, code, "");
    }
    let out = w.cmd().args(["ls", "unknown-repo"]).output().unwrap();
    assert_one_error(&out, 1, "unknown-repo");

    let out = w
        .cmd()
        .args(["pull", &format!("{REPO}/e"), "--version", ">=>1"])
        .output()
        .unwrap();
    // A usage error: exit 2, said once.
    assert_one_error(&out, 2, "--version");
    assert_eq!(stderr(&out).matches(">=>1").count(), 1, "{}", stderr(&out));
    let before = w.emu.requests().len();
    let out = w
        .cmd()
        .args(["push", "e-1.0.0.tgz", REPO, "--version", "1.2.3.4"])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "1.2.3.4");
    assert_eq!(
        w.emu.requests().len(),
        before,
        "bad --version sends nothing"
    );

    let out = w.cmd().args(["push", "only-one-arg"]).output().unwrap();
    assert_one_error(&out, 2, "");
    let out = w.cmd().args(["frobnicate"]).output().unwrap();
    assert_one_error(&out, 2, "frobnicate");
    let out = w
        .cmd()
        .args(["push", "a.tgz", "b.tgz", REPO, "--version", "1.0.0"])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "--version");
    let out = w
        .cmd()
        .args(["ls", REPO, "--timeout", "soon"])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "--timeout");
}

#[test]
fn a_pushed_file_must_be_a_chart_package() {
    let w = World::new();
    w.write("junk.tgz", b"this is not gzip");
    let out = w.cmd().args(["push", "junk.tgz", REPO]).output().unwrap();
    assert_one_error(&out, 1, "junk.tgz");
    w.write(
        "nochart.tgz",
        &tgz_of(&[("x/values.yaml".to_string(), b"a: 1\n".to_vec())]),
    );
    let out = w
        .cmd()
        .args(["push", "nochart.tgz", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "Chart.yaml");
    w.write(
        "noversion.tgz",
        &tgz_of(&[(
            "x/Chart.yaml".to_string(),
            b"apiVersion: v2\nname: x\n".to_vec(),
        )]),
    );
    let out = w
        .cmd()
        .args(["push", "noversion.tgz", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "version");
    let out = w
        .cmd()
        .args(["push", "missing.tgz", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "missing.tgz");
    assert_eq!(w.count("POST"), 0);
}

#[test]
fn a_bad_digest_or_truncated_download_leaves_no_file() {
    let w = World::new();
    let bytes = w.push_chart("d", "1.0.0");

    // The registry lists another digest: every attempt fails the check.
    w.emu.patch_version(
        INSTANCE,
        NS,
        "d",
        "1.0.0",
        serde_json::json!({"digest": "00".repeat(32)}),
    );
    std::fs::create_dir_all(w.path("out")).unwrap();
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "2")
        .args(["pull", &format!("{REPO}/d"), "-d", "out"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "digest mismatch");
    assert!(
        files_below(&w.path("out")).is_empty(),
        "{:?}",
        files_below(&w.path("out"))
    );
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "2")
        .args(["pull", &format!("{REPO}/d"), "-d", "out", "--untar"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "digest mismatch");
    assert!(files_below(&w.path("out")).is_empty());

    // The right digest, but every download is cut short.
    w.emu.patch_version(
        INSTANCE,
        NS,
        "d",
        "1.0.0",
        serde_json::json!({"digest": sha256(&bytes)}),
    );
    w.emu
        .set_fail_all(Some(Fault::Truncate { keep_bytes: None }));
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "2")
        .args(["pull", &format!("{REPO}/d"), "-d", "out"])
        .output()
        .unwrap();
    w.emu.set_fail_all(None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        files_below(&w.path("out")).is_empty(),
        "{:?}",
        files_below(&w.path("out"))
    );

    // And a download corrupted once is retried into a good file.
    w.emu.push_fault_for("GET", "/download/", Fault::Corrupt);
    w.ok(&["pull", &format!("{REPO}/d"), "-d", "out"]);
    assert_eq!(std::fs::read(w.path("out/d-1.0.0.tgz")).unwrap(), bytes);
    assert_eq!(files_below(&w.path("out")), ["d-1.0.0.tgz"]);
}

#[test]
fn named_repositories_supply_url_and_credentials() {
    let w = World::new();
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!(
            "apiVersion: \"\"\nrepositories:\n- name: myccr\n  url: {REPO}\n  username: {AK}\n  password: {SK}\n"
        ),
    )
    .unwrap();
    w.write("named-1.0.0.tgz", &chart_tgz("named", "1.0.0", ""));
    let out = w
        .bare()
        .args(["push", "named-1.0.0.tgz", "myccr"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("to myccr"), "{}", stdout(&out));
    let out = w.bare().args(["ls", "myccr/named", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn sts_tokens_are_sent_and_signed() {
    let w = World::with(Config::new(vec![Key::with_token(
        "sts-ak",
        "sts-sk",
        "sts-token",
    )]));
    let out = w
        .bare()
        .env("BCE_ACCESS_KEY_ID", "sts-ak")
        .env("BCE_SECRET_ACCESS_KEY", "sts-sk")
        .env("BCE_SECURITY_TOKEN", "sts-token")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w
        .bare()
        .env("BCE_ACCESS_KEY_ID", "sts-ak")
        .env("BCE_SECRET_ACCESS_KEY", "sts-sk")
        .env("BCE_SECURITY_TOKEN", "wrong-token")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "403");
}

#[test]
fn quiet_push_prints_nothing_and_version_prints_itself() {
    let w = World::new();
    w.write("q-1.0.0.tgz", &chart_tgz("q", "1.0.0", ""));
    let out = w
        .cmd()
        .args(["push", "q-1.0.0.tgz", REPO, "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let out = w.bare().arg("version").output().unwrap();
    assert_eq!(
        stdout(&out).trim(),
        concat!("helm-ccr ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn lists_follow_every_page_and_filter_exactly() {
    let w = World::new();
    for i in 0..230 {
        let v = format!("1.{i}.0");
        w.emu
            .put_raw(INSTANCE, NS, "paged", &v, chart_tgz("paged", &v, ""));
    }
    // A chart whose name contains the other's: the server's filter is fuzzy, ours is not.
    w.emu.put_raw(
        INSTANCE,
        NS,
        "paged-extra",
        "9.9.9",
        chart_tgz("paged-extra", "9.9.9", ""),
    );
    for i in 0..120 {
        let name = format!("c{i:03}");
        w.emu
            .put_raw(INSTANCE, NS, &name, "0.1.0", chart_tgz(&name, "0.1.0", ""));
    }
    let out = w.ok(&["ls", &format!("{REPO}/paged"), "-o", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions = json.as_array().unwrap();
    assert_eq!(versions.len(), 230);
    assert_eq!(versions[0]["version"], "1.229.0", "newest first by SemVer");
    assert!(versions.iter().all(|v| v["name"] == "paged"));
    let out = w.cmd().args(["ls", REPO, "-o", "json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 122);
    let pages: Vec<String> = w
        .emu
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path.clone())
        .collect();
    assert!(
        pages
            .iter()
            .any(|p| p.contains("pageNo=3") && p.contains("pageSize=100")),
        "{pages:?}"
    );
    // pull --version of an exact version picks that one even among 230.
    w.ok(&[
        "pull",
        &format!("{REPO}/paged"),
        "--version",
        "1.7.0",
        "-d",
        "o",
    ]);
    assert_eq!(
        std::fs::read(w.path("o/paged-1.7.0.tgz")).unwrap(),
        chart_tgz("paged", "1.7.0", "")
    );
}

#[test]
fn uploads_carry_an_exact_content_length() {
    let w = World::new();
    let bytes = w.push_chart("len", "1.0.0");
    let post = w
        .emu
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.header("transfer-encoding"), None, "never chunked");
    let len: usize = post.header("content-length").unwrap().parse().unwrap();
    assert_eq!(len, post.body_len);
    assert!(len > bytes.len());
    assert!(post
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
}
