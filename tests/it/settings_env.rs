//! `helm ccr env` explains what the other commands do: it resolves the settings as they do,
//! so a broken `~/.bce/config.json` that `ls` never reads does not stop `env` either, and both
//! name the same endpoint and the same source of credentials.

use crate::common::*;

/// The `endpoint X, access key Y (from Z)` line a command logs with `HELM_DEBUG=true`.
fn debug_line(stderr: &str) -> (String, String) {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("[debug] endpoint "))
        .unwrap_or_else(|| panic!("no endpoint line in {stderr}"));
    let (endpoint, rest) = line.split_once(", access key ").unwrap();
    let (key, from) = rest.split_once(" (from ").unwrap();
    (
        endpoint.to_string(),
        format!("access key {key} from {}", from.strip_suffix(')').unwrap()),
    )
}

/// `helm ccr env`'s `endpoint:` (without its source) and `credentials:` values.
fn env_rows(stdout: &str) -> (String, String) {
    let row = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
            .trim()
            .to_string()
    };
    let endpoint = row("endpoint:");
    let endpoint = endpoint.split(" (from ").next().unwrap().to_string();
    (endpoint, row("credentials:"))
}

/// Runs `env REPO` and `ls REPO` with debug output, asserts both succeed, and returns what
/// each says of the endpoint and the credentials.
fn env_and_ls(
    mut cmd: impl FnMut() -> std::process::Command,
    repo: &str,
) -> ((String, String), (String, String)) {
    let env = cmd()
        .env("HELM_DEBUG", "true")
        .args(["env", repo])
        .output()
        .unwrap();
    assert!(env.status.success(), "env: {}", stderr(&env));
    let ls = cmd()
        .env("HELM_DEBUG", "true")
        .args(["ls", repo])
        .output()
        .unwrap();
    assert!(ls.status.success(), "ls: {}", stderr(&ls));
    assert!(stdout(&ls).contains("web"), "{}", stdout(&ls));
    assert!(!stdout(&env).contains(SK) && !stderr(&ls).contains(SK));
    (env_rows(&stdout(&env)), debug_line(&stderr(&ls)))
}

#[test]
fn env_and_ls_agree_with_a_broken_bce_config() {
    let w = World::new();
    w.push_chart("web", "1.0.0");
    std::fs::create_dir_all(w.home.path().join(".bce")).unwrap();
    std::fs::write(
        w.home.path().join(".bce/config.json"),
        "{\"profiles\": [oops",
    )
    .unwrap();

    // Credentials from the environment, endpoint from HELM_CCR_ENDPOINT.
    let (env, ls) = env_and_ls(|| w.std_cmd(), REPO);
    assert_eq!(env, ls);
    assert_eq!(env.0, w.emu.url().trim_end_matches('/'));
    assert_eq!(
        env.1,
        format!("access key {AK} from the environment (BCE_ACCESS_KEY_ID/BCE_SECRET_ACCESS_KEY)")
    );

    // The endpoint from --endpoint instead: the profile would give the region, which is not
    // needed; nor are the credentials.
    let url = w.emu.url();
    let (env, ls) = env_and_ls(
        || {
            let mut c = w.std_cmd();
            c.env_remove("HELM_CCR_ENDPOINT").args(["--endpoint", &url]);
            c
        },
        REPO,
    );
    assert_eq!(env, ls);

    // Credentials from the Helm repository entry, none in the environment.
    std::fs::write(
        w.home.path().join("repositories.yaml"),
        format!("apiVersion: \"\"\nrepositories:\n- name: myccr\n  url: {REPO}\n  username: {AK}\n  password: {SK}\n"),
    )
    .unwrap();
    let (env, ls) = env_and_ls(|| w.std_bare(), "myccr");
    assert_eq!(env, ls);
    assert_eq!(
        env.1,
        format!("access key {AK} from Helm repository \"myccr\"")
    );
}
