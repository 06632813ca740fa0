//! First contact: usage errors that keep what matters, help with examples, argument mistakes
//! with the right hint, multi-chart errors, file modes, machine-readable results, `env`, the
//! pre-release rule of `ls` and `pull`, the `ls` table. Messages are pinned by snapshots.

use std::path::Path;

use crate::common::*;

/// Runs with [`World::cmd`] and returns (exit code, stdout, stderr).
fn run(w: &World, args: &[&str]) -> (Option<i32>, String, String) {
    let out = w.cmd().args(args).output().unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

/// A usage error: exit 2, one `Error:` line, at most one tip line, then the help pointer
/// naming `sub`. Returns stderr.
fn usage_error(w: &World, args: &[&str], sub: Option<&str>) -> String {
    let (code, out, err) = run(w, args);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert_eq!(out, "", "{args:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert!((2..=3).contains(&lines.len()), "{args:?}: {err}");
    assert!(lines[0].starts_with("Error: "), "{err}");
    if lines.len() == 3 {
        assert!(lines[1].starts_with("tip: "), "{err}");
    }
    let pointer = match sub {
        Some(s) => format!("Run 'helm ccr {s} --help' for usage."),
        None => "Run 'helm ccr --help' for usage.".to_string(),
    };
    assert_eq!(*lines.last().unwrap(), pointer, "{err}");
    err
}

#[test]
fn usage_errors_keep_what_matters() {
    let w = World::new();
    let err = usage_error(&w, &["push"], Some("push"));
    assert!(err.contains("<CHART>... <REPO>"), "{err}");
    insta::assert_snapshot!("usage_push_nothing", err);
    let err = usage_error(&w, &["push", "./mychart"], Some("push"));
    insta::assert_snapshot!("usage_push_one_argument", err);
    let err = usage_error(&w, &["psh", "./mychart", REPO], None);
    assert!(
        err.contains("tip: a similar subcommand exists: 'push'"),
        "{err}"
    );
    insta::assert_snapshot!("usage_unknown_subcommand", err);
    let err = usage_error(&w, &["ls", REPO, "--ouput", "json"], Some("ls"));
    assert!(err.contains("'--output'"), "{err}");
    insta::assert_snapshot!("usage_unknown_flag", err);
    let err = usage_error(&w, &["pull", "r/c", "-o", "xml"], Some("pull"));
    assert!(err.contains("[possible values: text, json, yaml]"), "{err}");
    insta::assert_snapshot!("usage_bad_output", err);
    let err = usage_error(
        &w,
        &["--region", "bj", "rm", "r/c", "--all", "-o", "csv"],
        Some("rm"),
    );
    assert!(err.contains("text, json, yaml"), "{err}");
    // A usage error found by the command itself names its subcommand too.
    let err = usage_error(&w, &["rm", "r/c"], Some("rm"));
    assert!(err.contains("--all"), "{err}");
}

/// The rough edges a new user met (issue 17), each pinned.
#[test]
fn first_contact_rough_edges() {
    let w = World::new();
    w.push_chart("web", "1.0.0");

    // A repository where pull wants a chart: a usage error saying what is needed.
    let err = usage_error(&w, &["pull", "myccr"], Some("pull"));
    assert!(
        err.contains("REPO/CHART") && err.contains("myccr/mychart"),
        "{err}"
    );
    insta::assert_snapshot!("usage_pull_repository", err);
    let err = usage_error(&w, &["pull", REPO], Some("pull"));
    assert!(err.contains(&format!("helm ccr ls {REPO}")), "{err}");
    // Charts but no repository: REPO is named as the missing one.
    let err = usage_error(&w, &["push", "-o", "json", "./mychart"], Some("push"));
    assert!(err.contains("missing REPO"), "{err}");

    // A negative --timeout: one clear message, not clap's `-- -1s` tip.
    let err = usage_error(&w, &["ls", REPO, "--timeout", "-1s"], Some("ls"));
    assert!(!err.contains("'--"), "{err}");
    insta::assert_snapshot!("usage_negative_timeout", err);

    // `list` and `delete` are `ls` and `rm`.
    let (code, listed, err) = run(&w, &["list", REPO]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(listed, run(&w, &["ls", REPO]).1);
    assert!(listed.contains("web"), "{listed}");
    let web = format!("{REPO}/web");
    let (code, out, err) = run(&w, &["delete", &web, "--version", "1.0.0", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        run(&w, &["rm", &web, "--version", "1.0.0", "--dry-run"]).1
    );
    assert_eq!(w.versions("web"), ["1.0.0"]);
    usage_error(&w, &["delete", &web], Some("rm"));

    // --debug anywhere on the plugin's command line, as HELM_DEBUG=true.
    let (code, out, err) = run(&w, &["ls", REPO, "--debug"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, listed);
    assert!(err.contains("[debug] GET "), "{err}");
    let (_, _, quiet) = run(&w, &["ls", REPO]);
    assert!(!quiet.contains("[debug]"), "{quiet}");

    // --force over an existing version says Replaced, as -o json says replaced (over other
    // content: over the same content it uploads nothing and says Unchanged).
    let (code, out, err) = run(&w, &["push", "web-1.0.0.tgz", REPO, "--force"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("Unchanged web 1.0.0: "), "{out}");
    w.write(
        "changed/web-1.0.0.tgz",
        &chart_tgz("web", "1.0.0", "changed"),
    );
    let (code, out, err) = run(&w, &["push", "changed/web-1.0.0.tgz", REPO, "--force"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("Replaced web 1.0.0 in "), "{out}");
    insta::assert_snapshot!("text_push_replaced", out);

    // HELM_CCR_* mistakes point to the page that lists the variables.
    let out = w
        .cmd()
        .env("HELM_CCR_PARALLEL", "many")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "HELM_CCR_PARALLEL");
    assert!(
        stderr(&out).ends_with("Run 'helm ccr help environment' for the variables.\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_covers_the_environment_and_itself() {
    let w = World::new();
    let help = |args: &[&str]| {
        let out = w.bare().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
        stdout(&out)
    };
    let own = help(&["help", "--help"]);
    assert!(own.contains("environment"), "{own}");
    insta::assert_snapshot!("help_help", own);
    let env = help(&["help", "environment"]);
    for name in helm_ccr::settings::env::vars::ALL {
        assert!(env.contains(name), "{name} missing: {env}");
    }
    insta::assert_snapshot!("help_environment", env);
    assert!(help(&["--help"]).contains("helm ccr help environment"));
    // The aliases in the root help, and their help is their command's.
    let root = help(&["--help"]);
    assert!(
        root.contains("[alias: list]") && root.contains("[alias: delete]"),
        "{root}"
    );
    assert_eq!(help(&["list", "--help"]), help(&["ls", "--help"]));
    assert_eq!(help(&["help", "delete"]), help(&["rm", "--help"]));
    let err = usage_error(&w, &["help", "nope"], Some("help"));
    assert!(err.contains("environment"), "{err}");
}

#[test]
fn help_teaches() {
    let w = World::new();
    let help = |args: &[&str]| {
        let out = w.bare().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    for sub in ["push", "pull", "ls", "rm", "env"] {
        let text = help(&[sub, "--help"]);
        assert_eq!(help(&["help", sub]), text, "helm ccr help {sub}");
        let flags = text.find("\nFlags:").expect("Flags section");
        let globals = text.find("\nGlobal Flags:").expect("Global Flags section");
        let examples = text.find("\nExamples:").expect("Examples section");
        assert!(flags < globals && globals < examples, "{text}");
        // --region is a global flag, listed only under Global Flags.
        assert!(text[globals..examples].contains("--region"), "{text}");
        assert!(!text[flags..globals].contains("--region"), "{text}");
        assert!(
            text[examples..].contains(&format!("helm ccr {sub}")),
            "{text}"
        );
    }
    assert!(help(&["push", "--help"]).contains("Usage: helm ccr push [OPTIONS] <CHART>... <REPO>"));
    assert!(help(&["push", "--help"]).contains("helm ccr push charts/*/ myccr -o json"));
    assert_eq!(help(&["help"]), help(&["--help"]));
    let version_help = help(&["version", "--help"]);
    assert!(!version_help.contains("--region"), "{version_help}");
    assert!(!version_help.contains("--quiet"), "{version_help}");
    insta::assert_snapshot!("version_help", version_help);
    insta::assert_snapshot!("env_help", help(&["env", "--help"]));
    let v = concat!("helm-ccr ", env!("CARGO_PKG_VERSION"), "\n");
    assert_eq!(help(&["--version"]), v);
    assert_eq!(help(&["-V"]), v);
    assert_eq!(help(&["version"]), v);
}

#[test]
fn argument_mistakes_get_the_right_hint() {
    let w = World::new();
    w.write("mychart-1.0.0.tgz", &chart_tgz("mychart", "1.0.0", ""));
    w.write(
        "dir/Chart.yaml",
        b"apiVersion: v2\nname: dir\nversion: 1.0.0\n",
    );

    let err = usage_error(&w, &["push", REPO, "mychart-1.0.0.tgz"], Some("push"));
    assert!(err.contains("the repository comes last"), "{err}");
    insta::assert_snapshot!("hint_swapped", stable(&w, &err));
    let err = usage_error(&w, &["push", "myccr", "./dir"], Some("push"));
    assert!(err.contains("the repository comes last"), "{err}");
    // Swapped, with a chart that is not there (yet): still the order is named first.
    let err = usage_error(&w, &["push", REPO, "./missing"], Some("push"));
    insta::assert_snapshot!("hint_swapped_missing_chart", stable(&w, &err));
    // A path where REPO/CHART belongs.
    let err = usage_error(&w, &["ls", "./dir"], Some("ls"));
    insta::assert_snapshot!("hint_path_for_reference", stable(&w, &err));

    let err = usage_error(
        &w,
        &["push", "./dir", "oci://registry.example.com/charts"],
        Some("push"),
    );
    assert!(err.contains("ccr://INSTANCE_ID/NAMESPACE"), "{err}");
    insta::assert_snapshot!("hint_oci", err);
    let err = usage_error(
        &w,
        &["pull", "https://charts.example.com/web"],
        Some("pull"),
    );
    insta::assert_snapshot!("hint_https", err);

    let err = usage_error(
        &w,
        &["pull", &format!("{REPO}/web"), "--version", "latest"],
        Some("pull"),
    );
    assert_eq!(err.matches("latest").count(), 1, "said once: {err}");
    insta::assert_snapshot!("hint_bad_constraint", err);

    assert_eq!(w.emu.requests().len(), 0, "no request for any of these");

    // Numeric settings of the environment.
    let out = w
        .cmd()
        .env("HELM_CCR_RETRIES", "abc")
        .args(["ls", REPO])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "HELM_CCR_RETRIES");
    insta::assert_snapshot!("hint_retries", stderr(&out));
    let out = w
        .cmd()
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args(["push", "./dir", REPO, "--dry-run"])
        .output()
        .unwrap();
    assert_one_error(&out, 2, "SOURCE_DATE_EPOCH");

    // Half a key pair.
    for (set, missing) in [
        ("BCE_ACCESS_KEY_ID", "BCE_SECRET_ACCESS_KEY"),
        ("BCE_SECRET_ACCESS_KEY", "BCE_ACCESS_KEY_ID"),
    ] {
        let out = w.bare().env(set, "x").args(["ls", REPO]).output().unwrap();
        assert_one_error(&out, 1, &format!("{set} is set but {missing} is not"));
        if set == "BCE_ACCESS_KEY_ID" {
            insta::assert_snapshot!("hint_half_key", stderr(&out));
        }
    }

    // Half a key pair in the Helm repository entry.
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("repositories:\n- name: myccr\n  url: {REPO}\n  username: {AK}\n"),
    )
    .unwrap();
    let out = w.cmd().args(["ls", "myccr"]).output().unwrap();
    assert_one_error(&out, 1, "has a username (access key id) but no password");
    insta::assert_snapshot!(
        "hint_repo_half_key",
        stderr(&out).replace(&w.home.path().display().to_string(), "HOME")
    );

    // -u without a usable helm names HELM_BIN.
    w.write(
        "parent/Chart.yaml",
        b"apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 1.0.0\n  repository: file://../sub\n",
    );
    let out = w
        .cmd()
        .env("HELM_BIN", "/nonexistent/helm")
        .args(["push", "./parent", REPO, "-u"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "HELM_BIN");
    insta::assert_snapshot!("hint_helm_bin", stderr(&out));
    // Missing dependencies suggest -u.
    let out = w.cmd().args(["push", "./parent", REPO]).output().unwrap();
    assert_one_error(&out, 1, "-u/--dependency-update");
    insta::assert_snapshot!("hint_dependencies", stderr(&out));
}

#[test]
fn multi_chart_errors_name_each_chart_once_then_sum_up() {
    let w = World::new();
    w.write("a/Chart.yaml", b"apiVersion: v2\nname: a\nversion: 1.0.0\n");
    w.write("b/Chart.yaml", b"apiVersion: v2\nname: b\nversion: 1.0.0\n");
    w.write("empty/values.yaml", b"x: 1\n");
    let (code, out, err) = run(&w, &["push", "./a", "./x", "./empty", "./b", REPO]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let mut lines: Vec<&str> = err.lines().collect();
    let summary = lines.pop().unwrap();
    assert_eq!(summary, "Error: 2 of 4 charts failed");
    lines.sort();
    assert_eq!(lines[1], "Error: ./x: no such chart directory");
    assert!(lines[0].starts_with("Error: ./empty: "), "{err}");
    for l in &lines {
        let name = if l.contains("./x") { "x" } else { "empty" };
        assert_eq!(l.matches(name).count(), 1, "named once: {l}");
    }
    insta::assert_snapshot!(
        "multi_chart_errors",
        format!("{}\n{summary}", lines.join("\n"))
    );
    assert_eq!(w.versions("a"), ["1.0.0"]);
    assert_eq!(w.versions("b"), ["1.0.0"]);
}

/// Runs `helm-ccr ARGS` under `umask MASK` (through sh).
#[cfg(unix)]
fn under_umask(w: &World, mask: &str, args: &[&str]) -> std::process::Output {
    let mut script = format!("umask {mask}; exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${{{i}}}\""));
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_helm-ccr"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.home.path())
        .env("HELM_CCR_ENDPOINT", w.emu.url())
        .env("BCE_ACCESS_KEY_ID", AK)
        .env("BCE_SECRET_ACCESS_KEY", SK)
        .current_dir(w.work.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn pulled_files_have_the_modes_helm_gives_them() {
    let w = World::new();
    w.push_chart("web", "1.0.0");
    let chart = format!("{REPO}/web");
    // Helm writes 0644 files and 0755 directories, less what the umask takes away: under
    // umask 002 too (a plain create would give 0664 and 0775 there).
    for (mask, file, dir) in [
        ("022", 0o644, 0o755),
        ("002", 0o644, 0o755),
        ("077", 0o600, 0o700),
    ] {
        let d = format!("out{mask}");
        under_umask(&w, mask, &["pull", &chart, "-d", &d]);
        assert_eq!(
            mode(&w.path(&format!("{d}/web-1.0.0.tgz"))),
            file,
            "umask {mask}"
        );
        under_umask(
            &w,
            mask,
            &["pull", &chart, "-d", &d, "--untar", "--untardir", "u"],
        );
        let top = w.path(&format!("{d}/u/web"));
        assert_eq!(mode(&top), dir, "umask {mask}: {}", top.display());
        assert_eq!(mode(&top.join("templates")), dir, "umask {mask}");
        for f in ["Chart.yaml", "values.yaml", "templates/cm.yaml"] {
            assert_eq!(mode(&top.join(f)), file, "umask {mask}: {f}");
        }
    }
}

/// The value of `-o json` as JSON.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn results_are_machine_readable() {
    let w = World::new();
    let web = chart_tgz("web", "1.0.0", "");
    w.write("web-1.0.0.tgz", &web);
    w.write(
        "api/Chart.yaml",
        b"apiVersion: v2\nname: api\nversion: 0.3.0\n",
    );
    let digest = format!("sha256:{}", sha256(&web));

    let (code, out, err) = run(
        &w,
        &["push", "web-1.0.0.tgz", REPO, "--dry-run", "-o", "json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let v = json(&out);
    assert_eq!(v[0]["action"], "would push");
    assert_eq!(v[0]["digest"], digest);
    assert_eq!(v[0]["size"], web.len());
    insta::assert_snapshot!("json_push_dry_run", out);

    let (_, out, _) = run(&w, &["push", "web-1.0.0.tgz", REPO, "-o", "json"]);
    let v = json(&out);
    assert_eq!(
        (
            v[0]["name"].as_str(),
            v[0]["version"].as_str(),
            v[0]["repository"].as_str()
        ),
        (Some("web"), Some("1.0.0"), Some(REPO))
    );
    assert_eq!(v[0]["action"], "pushed");

    // Several charts, one of them failing: one object each, in the order given, the failure
    // with its error; stdout is only the JSON.
    let (code, out, err) = run(
        &w,
        &[
            "push",
            "web-1.0.0.tgz",
            "./missing",
            "./api",
            REPO,
            "--skip-existing",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let v = json(&out);
    let actions: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["unchanged", "failed", "pushed"]);
    assert_eq!(v[1]["source"], "./missing");
    assert_eq!(v[1]["error"], "no such chart directory");
    assert!(
        err.contains("Error: ./missing: no such chart directory"),
        "{err}"
    );

    let (_, out, _) = run(
        &w,
        &["push", "web-1.0.0.tgz", REPO, "--force", "-o", "yaml"],
    );
    // The same content: --force uploads nothing over it.
    assert!(out.contains("action: unchanged"), "{out}");
    insta::assert_snapshot!("yaml_push_force_unchanged", out);

    let (code, out, err) = run(
        &w,
        &["pull", &format!("{REPO}/web"), "-d", "dl", "-o", "json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let v = json(&out);
    assert_eq!(v[0]["action"], "pulled");
    assert_eq!(
        v[0]["path"],
        Path::new("dl").join("web-1.0.0.tgz").display().to_string()
    );
    assert_eq!(v[0]["digest"], digest);
    insta::assert_snapshot!("json_pull", out);

    let (code, out, err) = run(
        &w,
        &[
            "rm",
            &format!("{REPO}/web"),
            &format!("{REPO}/api"),
            "--all",
            "--dry-run",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let v = json(&out);
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["action"], "would delete");
    let (_, out, _) = run(
        &w,
        &[
            "rm",
            &format!("{REPO}/web"),
            "--version",
            "1.0.0",
            "-o",
            "json",
        ],
    );
    let v = json(&out);
    assert_eq!(v[0]["action"], "deleted");
    assert_eq!(v[0]["digest"], digest);
    insta::assert_snapshot!("json_rm", out);
    // The text form stays the default.
    let (_, out, _) = run(&w, &["push", "web-1.0.0.tgz", REPO]);
    assert!(out.starts_with("Pushed web 1.0.0 to "), "{out}");
}

#[test]
fn env_shows_where_settings_come_from() {
    let w = World::new();
    w.push_chart("web", "1.0.0");
    let (code, out, err) = run(&w, &["env", REPO]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains(SK), "never the secret");
    insta::assert_snapshot!("env_url", stable(&w, &out));

    let (code, out, err) = run(&w, &["env", REPO, "--check"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("check:"), "{out}");
    insta::assert_snapshot!("env_check_ok", stable(&w, &out));
    assert_eq!(
        w.count("GET"),
        2,
        "one signed list call (the push made one)"
    );

    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("repositories:\n- name: myccr\n  url: ccr://ccr.gz.baidubce.com/{INSTANCE}/{NS}\n  username: repo-ak\n  password: repo-sk\n"),
    )
    .unwrap();
    let out = w
        .bare()
        .env_remove("HELM_CCR_ENDPOINT")
        .env("BCE_REGION", "su")
        .args(["env", "myccr"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("repo-sk"));
    insta::assert_snapshot!("env_named", stdout(&out));

    let out = w
        .bare()
        .env_remove("HELM_CCR_ENDPOINT")
        .args(["env"])
        .output()
        .unwrap();
    insta::assert_snapshot!("env_nothing", format!("{}{}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.code(), Some(1));

    let err = usage_error(&w, &["env", "--check"], Some("env"));
    insta::assert_snapshot!("env_check_without_repo", err);

    let out = w
        .bare()
        .env("BCE_ACCESS_KEY_ID", AK)
        .env("BCE_SECRET_ACCESS_KEY", "wrong-secret")
        .args(["env", REPO, "--check"])
        .output()
        .unwrap();
    assert_one_error(&out, 1, "access check failed");
    assert!(
        stderr(&out).contains("SignatureDoesNotMatch"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("wrong-secret"));
    insta::assert_snapshot!("env_check_failed", stable(&w, &stderr(&out)));
}

#[test]
fn one_prerelease_rule_for_ls_and_pull() {
    let w = World::new();
    w.push_chart("web", "1.0.0");
    w.push_chart("web", "1.1.0-rc.1");
    w.push_chart("beta", "0.1.0-rc.1");
    let col = |out: &str, chart: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.starts_with(&format!("{chart} ")))
            .unwrap_or_else(|| panic!("{chart} in {out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let (_, out, err) = run(&w, &["ls", REPO]);
    assert_eq!(&col(&out, "web")[1..3], ["1.0.0", "1"], "{out}");
    assert_eq!(&col(&out, "beta")[1..3], ["0.1.0-rc.1", "1"], "{out}");
    assert!(err.contains("\"beta\""), "a note names it: {err}");
    insta::assert_snapshot!("ls_prerelease_only_note", err);
    let (_, out, err) = run(&w, &["ls", REPO, "--devel"]);
    assert_eq!(&col(&out, "web")[1..3], ["1.1.0-rc.1", "2"], "{out}");
    assert_eq!(err, "");

    // The same rule for the versions of a chart...
    let (_, out, _) = run(&w, &["ls", &format!("{REPO}/web")]);
    assert!(!out.contains("rc.1"), "{out}");
    let (_, out, err) = run(&w, &["ls", &format!("{REPO}/beta")]);
    assert!(
        out.contains("0.1.0-rc.1"),
        "shown, not an empty table: {out}"
    );
    assert!(err.starts_with("Note: "), "{err}");
    // ...and for pull.
    let (_, out, _) = run(&w, &["pull", &format!("{REPO}/web"), "-o", "json"]);
    assert_eq!(json(&out)[0]["version"], "1.0.0");
    let (_, out, _) = run(
        &w,
        &["pull", &format!("{REPO}/web"), "--devel", "-o", "json"],
    );
    assert_eq!(json(&out)[0]["version"], "1.1.0-rc.1");

    // A --devel that changes nothing says so.
    let (code, _, err) = run(
        &w,
        &[
            "pull",
            &format!("{REPO}/web"),
            "--version",
            "1.0.0",
            "--devel",
            "-d",
            "x",
        ],
    );
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("devel_exact_version", err);
    let (_, _, err) = run(&w, &["ls", REPO, "--devel", "-o", "json"]);
    assert!(err.starts_with("Warning: --devel changes nothing"), "{err}");
    insta::assert_snapshot!("devel_ls_json", err);
}

/// A registry answering the list calls with fixed JSON (no signature check: it only feeds the
/// table).
fn fixed_registry(
    charts: serde_json::Value,
    versions: serde_json::Value,
) -> (
    String,
    std::thread::JoinHandle<()>,
    std::sync::Arc<tiny_http::Server>,
) {
    let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!(
        "http://127.0.0.1:{}",
        server.server_addr().to_ip().unwrap().port()
    );
    let s = server.clone();
    let t = std::thread::spawn(move || {
        for req in s.incoming_requests() {
            let path = req.url().split('?').next().unwrap_or("").to_string();
            let body = if path.ends_with("/versions") {
                &versions
            } else {
                &charts
            };
            let resp = tiny_http::Response::from_string(body.to_string()).with_header(
                "Content-Type: application/json"
                    .parse::<tiny_http::Header>()
                    .unwrap(),
            );
            let _ = req.respond(resp);
        }
    });
    (url, t, server)
}

#[test]
fn ls_table_cuts_descriptions_and_shows_zero_times_as_a_dash() {
    let zero = "0001-01-01T00:00:00Z";
    let long =
        "A web server that does a great many things, far more than fits in a column of a table";
    let (url, thread, server) = fixed_registry(
        serde_json::json!({"total": 1, "items": [{"name": "web", "latestVersion": "1.0.0", "totalVersions": 1, "created": zero, "updated": zero}]}),
        serde_json::json!({"total": 1, "items": [{"name": "web", "version": "1.0.0", "appVersion": "2", "created": zero, "description": long}]}),
    );
    let w = World::new();
    let out = w.cmd_at(&url).args(["ls", REPO]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.lines().nth(1).unwrap().ends_with("  -"), "{table}");
    insta::assert_snapshot!("ls_zero_time", table);
    let out = w
        .cmd_at(&url)
        .args(["ls", &format!("{REPO}/web")])
        .output()
        .unwrap();
    let table = stdout(&out);
    assert!(!table.contains(long), "{table}");
    assert!(table.contains(&format!("{}...", &long[..47])), "{table}");
    insta::assert_snapshot!("ls_cut_description", table);
    server.unblock();
    thread.join().unwrap();
}

/// Runs `helm-ccr ARGS` on a terminal (`script` gives it one) and returns what the terminal
/// showed, stdout and stderr together.
#[cfg(unix)]
fn on_a_terminal(w: &World, args: &[&str]) -> String {
    let mut line = format!("'{}'", env!("CARGO_BIN_EXE_helm-ccr"));
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.home.path())
        .env("TERM", "xterm")
        .env("HELM_CCR_ENDPOINT", w.emu.url())
        .env("BCE_ACCESS_KEY_ID", AK)
        .env("BCE_SECRET_ACCESS_KEY", SK)
        .current_dir(w.work.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    assert!(out.status.success(), "{}", stdout(&out));
    stdout(&out)
}

#[cfg(unix)]
#[test]
fn progress_says_what_it_does_on_a_terminal_only_and_is_cleared_first() {
    let w = World::new();
    w.write(
        "big/Chart.yaml",
        b"apiVersion: v2\nname: big\nversion: 1.0.0\n",
    );
    w.write("big/files/a.bin", &noise(3 << 20, 3));
    w.write("big/files/b.bin", &noise(2 << 20, 5));
    // Slow enough for the bars to be drawn.
    w.emu.set_throttle(4 << 20);
    let shown = on_a_terminal(&w, &["push", "./big", REPO]);
    assert!(
        shown.contains("Packaging ./big (3 files, 5 MiB)"),
        "{shown:?}"
    );
    assert!(shown.contains("Uploading big-1.0.0.tgz"), "{shown:?}");
    let result = shown.find("Pushed big 1.0.0").expect("the result line");
    let cleared = shown[..result]
        .rfind("\u{1b}[2K")
        .expect("the bar is cleared");
    assert!(
        shown[..result].rfind("Uploading").unwrap() < cleared,
        "{shown:?}"
    );

    let shown = on_a_terminal(&w, &["pull", &format!("{REPO}/big"), "-d", "dl"]);
    assert!(shown.contains("Downloading big-1.0.0.tgz"), "{shown:?}");
    let result = shown.find("dl/big-1.0.0.tgz").expect("the result line");
    assert!(shown[..result].rfind("\u{1b}[2K").is_some(), "{shown:?}");

    // Nothing of the kind off a terminal (CI logs).
    let (_, _, err) = run(&w, &["pull", &format!("{REPO}/big"), "-d", "dl2"]);
    assert_eq!(err, "");
}
