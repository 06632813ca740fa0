//! A registry that lists one version and serves another: `pull --verify` of a validly signed
//! package of another version fails (the signed chart data names what was signed), every pull
//! refuses a package whose Chart.yaml is another chart or version, and nothing is written.
//! And a signer's user id reaches the terminal only escaped.

use std::process::Output;

use crate::common::*;

/// The stored package of `app` `version`, pushed with `--sign` by `g`'s key, and its `.prov`.
fn signed_package(w: &World, g: &TestGpg, version: &str) -> (Vec<u8>, Vec<u8>) {
    let file = format!("app-{version}.tgz");
    w.write(&file, &chart_tgz("app", version, ""));
    let out = w
        .cmd()
        .env("GNUPGHOME", g.home())
        .args(["push", &file, REPO, "--sign"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (
        w.stored("app", version).unwrap(),
        w.emu.prov_bytes(INSTANCE, NS, "app", version).unwrap(),
    )
}

/// A registry listing `listed` (version, file name) entries of `app`, every one with the
/// digest of `package`, which it serves for any `.tgz`; `prov` for any `.tgz.prov`.
fn substituting(listed: &[(&str, &str)], package: Vec<u8>, prov: Option<Vec<u8>>) -> Scripted {
    let digest = sha256(&package);
    let items: Vec<serde_json::Value> = listed
        .iter()
        .map(|(version, file)| {
            serde_json::json!({
                "name": "app", "version": version, "digest": digest,
                "urls": [format!("charts/{file}")]
            })
        })
        .collect();
    let items = serde_json::Value::Array(items);
    Scripted::start(Box::new(move |_, url, _| {
        if url.contains("/download/") && url.ends_with(".prov") {
            match &prov {
                Some(p) => Answer::Bytes(p.clone()),
                None => Answer::Json(404, "{\"code\":\"NotFound\"}".into(), vec![]),
            }
        } else if url.contains("/download/") {
            Answer::Bytes(package.clone())
        } else {
            versions_page(items.clone())
        }
    }))
}

fn assert_refused_writing_nothing(w: &World, out: &Output, needle: &str, dest: &str) {
    assert_one_error(out, 1, needle);
    assert_eq!(stdout(out), "", "nothing on stdout");
    assert_eq!(
        files_below(&w.path(dest)),
        Vec::<String>::new(),
        "nothing written"
    );
}

#[test]
fn pull_verify_refuses_a_signed_package_of_another_version() {
    let w = World::new();
    let g = TestGpg::with_key("Release Signer <release@helm-ccr.invalid>");
    let pubring = w.path("pubring.gpg");
    g.export_public(&pubring);
    let (package, prov) = signed_package(&w, &g, "1.1.0");
    // 2.0.0 is listed (as the newest) under the file name of 1.1.0, with its digest.
    let reg = substituting(
        &[("2.0.0", "app-1.1.0.tgz"), ("1.1.0", "app-1.1.0.tgz")],
        package,
        Some(prov),
    );
    let pull = |extra: &[&str]| {
        w.cmd_at(&reg.url)
            .env("GNUPGHOME", g.home())
            .args(["pull", &format!("{REPO}/app"), "--verify", "--keyring"])
            .arg(&pubring)
            .args(extra)
            .output()
            .unwrap()
    };
    // The signature is good: 1.1.0 itself verifies.
    let out = pull(&["--version", "1.1.0", "-d", "good"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Chart Hash Verified: sha256:"),
        "{}",
        stdout(&out)
    );
    assert_eq!(files_below(&w.path("good")), ["app-1.1.0.tgz"]);
    // 2.0.0 (the newest, or asked for) is that package: refused, nothing written.
    for (i, extra) in [
        &[][..],
        &["--version", "2.0.0"],
        &["--prov"],
        &["--untar"],
        &["--untar", "--prov"],
        &["-o", "json"],
    ]
    .iter()
    .enumerate()
    {
        let dest = format!("out{i}");
        let mut args = extra.to_vec();
        args.extend(["-d", &dest]);
        let out = pull(&args);
        assert_refused_writing_nothing(
            &w,
            &out,
            "the provenance file of app-1.1.0.tgz signs app 1.1.0, not the selected app 2.0.0",
            &dest,
        );
        assert!(!stderr(&out).contains("Verified"), "{}", stderr(&out));
    }
}

#[test]
fn pull_refuses_a_package_whose_chart_yaml_is_another_version() {
    let w = World::new();
    for (package, says) in [
        (chart_tgz("app", "1.1.0", ""), "app 1.1.0"),
        (chart_tgz("other", "2.0.0", ""), "other 2.0.0"),
    ] {
        // Listed as app 2.0.0 under its own name, with the digest of what is served.
        let reg = substituting(&[("2.0.0", "app-2.0.0.tgz")], package, None);
        for (i, extra) in [&[][..], &["--untar"], &["-o", "json"]].iter().enumerate() {
            let dest = format!("{}-{i}", says.replace(' ', "-"));
            let out = w
                .cmd_at(&reg.url)
                .args(["pull", &format!("{REPO}/app"), "-d", &dest])
                .args(*extra)
                .output()
                .unwrap();
            assert_refused_writing_nothing(
                &w,
                &out,
                &format!("app-2.0.0.tgz is not app 2.0.0: its Chart.yaml says {says}"),
                &dest,
            );
        }
    }
}

#[test]
fn a_signers_user_id_is_shown_escaped() {
    let w = World::new();
    let uid = "Evil \u{1b}[31mRed\u{1b}]0;pwned\u{7} <evil@helm-ccr.invalid>";
    let g = TestGpg::with_key(uid);
    let pubring = w.path("pubring.gpg");
    g.export_public(&pubring);
    signed_package(&w, &g, "1.0.0");
    for (dest, extra) in [("text", &[][..]), ("json", &["-o", "json"])] {
        let out = w
            .cmd()
            .env("GNUPGHOME", g.home())
            .args(["pull", &format!("{REPO}/app"), "--verify", "-d", dest])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.iter().any(|&b| b == 0x1b || b == 0x07),
                "{dest}: a raw escape on {what}: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // Shown where `helm verify` shows it: stdout, or stderr when stdout is the JSON list.
        let shown = if dest == "text" {
            stdout(&out)
        } else {
            stderr(&out)
        };
        assert!(
            shown.contains("Signed by: Evil  [31mRed ]0;pwned  <evil@helm-ccr.invalid>"),
            "{dest}: {shown}"
        );
        assert_eq!(files_below(&w.path(dest)), ["app-1.0.0.tgz"]);
    }
}
