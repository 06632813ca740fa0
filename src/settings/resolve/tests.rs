use super::*;
use crate::settings::env::Env;
use crate::settings::global::{resolve_timeout, DEFAULT_ATTEMPTS};

fn global(pairs: &[(&str, &str)]) -> Global {
    Global::new(Env::from_pairs(
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    ))
}

#[test]
fn endpoint_precedence() {
    let url = CcrUrl::parse("ccr://inst/ns").unwrap();
    let host_url = CcrUrl::parse("ccr://ccr.su.baidubce.com/inst/ns").unwrap();
    let g = global(&[]);
    assert_eq!(
        resolve_endpoint(&url, &g, None).unwrap().host,
        "ccr.bj.baidubce.com"
    );
    assert_eq!(
        resolve_endpoint(&url, &g, Some("gz")).unwrap().host,
        "ccr.gz.baidubce.com"
    );
    let g = global(&[("BCE_REGION", "cd")]);
    assert_eq!(
        resolve_endpoint(&url, &g, Some("gz")).unwrap().host,
        "ccr.cd.baidubce.com"
    );
    assert_eq!(
        resolve_endpoint(&host_url, &g, None).unwrap().host,
        "ccr.su.baidubce.com"
    );
    // The URL's host beats the environment; the environment beats the region.
    let g = global(&[
        ("HELM_CCR_ENDPOINT", "http://127.0.0.1:9"),
        ("BCE_REGION", "cd"),
    ]);
    let e = explain_endpoint(Some(&host_url), &g, None).unwrap();
    assert_eq!(e.value.base_url(), "https://ccr.su.baidubce.com");
    assert_eq!(e.source, Source::UrlApiHost);
    let e = explain_endpoint(Some(&url), &g, None).unwrap();
    assert_eq!(e.value.base_url(), "http://127.0.0.1:9");
    assert_eq!(e.source, Source::Env(env_vars::ENDPOINT));
    // --endpoint beats both.
    let mut g = global(&[("HELM_CCR_ENDPOINT", "http://127.0.0.1:9")]);
    g.endpoint = Some("http://localhost:1".into());
    assert_eq!(
        resolve_endpoint(&url, &g, None).unwrap().base_url(),
        "http://localhost:1"
    );
    assert_eq!(
        resolve_endpoint(&host_url, &g, None).unwrap().base_url(),
        "http://localhost:1"
    );
    let mut g = global(&[]);
    g.region = Some("mars".into());
    assert!(resolve_endpoint(&url, &g, None).is_err());
}

/// A home whose `~/.bce/config.json` does not parse.
fn broken_profile_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".bce")).unwrap();
    std::fs::write(home.path().join(".bce/config.json"), "{ broken").unwrap();
    home
}

/// The settings of an environment of `pairs` and `HOME=home`.
fn global_in(home: &std::path::Path, pairs: &[(&str, &str)]) -> Global {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.push(("HOME".into(), home.display().to_string()));
    Global::new(Env::from_pairs(v))
}

#[test]
fn the_bce_profile_is_read_only_when_needed() {
    let home = broken_profile_home();
    let url = CcrUrl::parse("ccr://inst/ns").unwrap();
    let g = |pairs: &[(&str, &str)]| global_in(home.path(), pairs);
    let creds = [("BCE_ACCESS_KEY_ID", "ak"), ("BCE_SECRET_ACCESS_KEY", "sk")];
    let mut warnings = Vec::new();
    // Credentials and region from elsewhere: not read at all.
    let global = g(&[creds[0], creds[1], ("BCE_REGION", "gz")]);
    assert!(
        needed_profile(Some(&url), false, &global, &mut |w| warnings.push(w))
            .unwrap()
            .is_none()
    );
    assert!(
        needed_profile(Some(&url), true, &g(&[("BCE_REGION", "gz")]), &mut |w| {
            warnings.push(w)
        })
        .unwrap()
        .is_none()
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    // Only the region would come from it: a warning, and the default region.
    let global = g(&creds);
    assert!(
        needed_profile(Some(&url), false, &global, &mut |w| warnings.push(w))
            .unwrap()
            .is_none()
    );
    assert!(
        warnings.iter().any(|w| w.contains("using region bj")),
        "{warnings:?}"
    );
    // The credentials would come from it: an error naming the file.
    let err = needed_profile(Some(&url), false, &g(&[("BCE_REGION", "gz")]), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json is not valid BCE CLI configuration"),
        "{err}"
    );
}

#[test]
fn resolve_gives_every_value_its_source() {
    let home = broken_profile_home();
    let url = CcrUrl::parse("ccr://inst/ns").unwrap();
    let g = |pairs: &[(&str, &str)]| global_in(home.path(), pairs);
    // Environment credentials and endpoint: the broken profile is never read.
    let global = g(&[
        ("BCE_ACCESS_KEY_ID", "ak"),
        ("BCE_SECRET_ACCESS_KEY", "sk"),
        ("HELM_CCR_ENDPOINT", "http://127.0.0.1:9"),
        ("HELM_CCR_PARALLEL", "4"),
    ]);
    let r = resolve(Some(&url), None, &global).unwrap();
    assert_eq!(r.endpoint.source, Source::Env("HELM_CCR_ENDPOINT"));
    assert_eq!(r.region, Sourced::new("bj".to_string(), Source::Default));
    assert_eq!(r.credentials.unwrap().source, Source::EnvKeyPair);
    let c = r.connection.unwrap();
    assert_eq!(
        c.parallel,
        Sourced::new(4, Source::Env("HELM_CCR_PARALLEL"))
    );
    assert_eq!(
        c.max_download,
        Sourced::new(DEFAULT_MAX_DOWNLOAD, Source::Default)
    );
    assert_eq!(c.list_limit.source, Source::Default);
    assert_eq!(c.attempts, Sourced::new(DEFAULT_ATTEMPTS, Source::Default));
    assert!(c.deadline.is_none() && c.ca_file.is_none());
    assert_eq!(c.insecure_skip_tls_verify.source, Source::Default);

    // Flags and the caller's credentials; a bad per-connection value stays inside.
    let mut global = g(&[("HELM_CCR_RETRIES", "2"), ("HELM_CCR_LIST_LIMIT", "0")]);
    global.region = Some("gz".into());
    global.ca_file = Some("ca.pem".into());
    global.timeout = resolve_timeout(Some("5s"), &global.env, false).unwrap();
    let r = resolve(
        Some(&url),
        Credentials::new("ak", "sk", None, "test"),
        &global,
    )
    .unwrap();
    assert_eq!(r.endpoint.source, Source::Region("gz".into()));
    assert_eq!(r.endpoint.value.host, "ccr.gz.baidubce.com");
    assert_eq!(r.region.source, Source::Flag("--region"));
    assert_eq!(r.credentials.unwrap().source, Source::from("test"));
    let err = r.connection.unwrap_err().to_string();
    assert!(err.contains("HELM_CCR_LIST_LIMIT"), "{err}");
    let global = Global {
        env: Env::from_pairs([("HELM_CCR_RETRIES".to_string(), "2".to_string())]),
        ..global
    };
    let c = resolve_connection(&global, None).unwrap();
    assert_eq!(c.attempts, Sourced::new(2, Source::Env("HELM_CCR_RETRIES")));
    assert_eq!(c.deadline.unwrap().source, Source::Flag("--timeout"));
    assert_eq!(c.ca_file.unwrap().source, Source::Flag("--ca-file"));

    // No credentials anywhere: the error is kept, the rest resolved.
    let global = g(&[("HELM_CCR_ENDPOINT", "http://127.0.0.1:9")]);
    std::fs::remove_file(home.path().join(".bce/config.json")).unwrap();
    let r = resolve(None, None, &global).unwrap();
    assert!(r.credentials.is_err());
    assert!(r.connection.is_ok());
    assert_eq!(r.endpoint.value.base_url(), "http://127.0.0.1:9");
}

#[test]
fn ambient_credentials_may_go_to_configured_endpoints_only() {
    let home = tempfile::tempdir().unwrap();
    let evil = CcrUrl::parse("ccr://ccr.evil.example/i/ns").unwrap();
    let g = |pairs: &[(&str, &str)]| {
        let mut v: Vec<(String, String)> = [
            ("BCE_ACCESS_KEY_ID", "ak"),
            ("BCE_SECRET_ACCESS_KEY", "sk"),
            ("BCE_SECURITY_TOKEN", "tok"),
        ]
        .iter()
        .chain(pairs)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        v.push(("HOME".into(), home.path().display().to_string()));
        Global::new(Env::from_pairs(v))
    };
    let sending = |g: &Global| resolve(Some(&evil), None, g).unwrap().sending.unwrap();
    let err = sending(&g(&[])).unwrap_err().to_string();
    assert!(
        err.starts_with("refusing to send credentials to ccr.evil.example (named in ccr://ccr.evil.example/i/ns)"),
        "{err}"
    );
    let r = resolve(Some(&evil), None, &g(&[])).unwrap();
    assert!(r.into_registry(&evil, Output::new(true, false)).is_err());
    // Configured by the variable, the flag, or the BCE CLI profile (read for this alone).
    assert_eq!(
        sending(&g(&[("HELM_CCR_ENDPOINT", "https://ccr.evil.example")])).unwrap(),
        Trust::Configured(Source::Env("HELM_CCR_ENDPOINT"))
    );
    let mut flagged = g(&[]);
    flagged.endpoint = Some("ccr.evil.example:443".into());
    assert_eq!(
        sending(&flagged).unwrap(),
        Trust::Configured(Source::Flag("--endpoint"))
    );
    std::fs::create_dir_all(home.path().join(".bce")).unwrap();
    std::fs::write(
        home.path().join(".bce/config.json"),
        r#"{"current":"p","profiles":[{"name":"p","endpoint":"https://ccr.evil.example"}]}"#,
    )
    .unwrap();
    assert_eq!(
        sending(&g(&[])).unwrap(),
        Trust::Configured(Source::BceProfile)
    );
    // The repository entry's own credentials go to its URL's host.
    std::fs::remove_file(home.path().join(".bce/config.json")).unwrap();
    let entry = Credentials::new(
        "rak",
        "rsk",
        None,
        Source::Repository {
            name: "third".into(),
            by_url: true,
        },
    );
    let r = resolve(Some(&evil), entry, &g(&[])).unwrap();
    assert_eq!(r.sending.unwrap().unwrap(), Trust::RepositoryUrl);
}
