//! Where credentials come from, first found wins: the Helm repository entry (or the getter's
//! `HELM_PLUGIN_USERNAME`/`HELM_PLUGIN_PASSWORD`), `BCE_*` variables, the BCE CLI profile in
//! `~/.bce/config.json`, then bcecmd's `~/.go-bcecli/credentials`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::settings::env::{read_if_exists, Env};
use crate::settings::source::Source;
use crate::transport::auth::Keys;

/// Keys and where they came from (the source names them in `helm ccr env` and debug output).
/// Derefs to the [`Keys`] the transport signs with.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Credentials {
    pub keys: Keys,
    pub source: Source,
}

impl std::ops::Deref for Credentials {
    type Target = Keys;
    fn deref(&self) -> &Keys {
        &self.keys
    }
}

impl Credentials {
    /// The key pair, trimmed; None when either half is empty.
    pub fn new(
        ak: &str,
        sk: &str,
        token: Option<&str>,
        source: impl Into<Source>,
    ) -> Option<Credentials> {
        Some(Credentials {
            keys: Keys::new(ak, sk, token)?,
            source: source.into(),
        })
    }
}

/// The BCE CLI configuration, `~/.bce/config.json`.
#[derive(Debug, Default, Deserialize)]
struct BceConfig {
    #[serde(default)]
    current: Option<String>,
    #[serde(default)]
    profiles: Vec<Profile>,
}

/// One profile of the BCE CLI configuration.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    #[serde(default)]
    pub security_token: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Not where requests go (see [`crate::settings::explain_endpoint`]), but an endpoint the
    /// user configured: ambient credentials may go to its host.
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn bce_config_path(env: &Env) -> Option<PathBuf> {
    env.home().map(|h| h.join(".bce").join("config.json"))
}

fn bcecli_credentials_path(env: &Env) -> Option<PathBuf> {
    env.home().map(|h| h.join(".go-bcecli").join("credentials"))
}

/// Warns when a file holding secrets is readable by group or others.
fn check_permissions(path: &Path, warn: &mut dyn FnMut(String)) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                warn(format!(
                    "{} is readable by others (mode {:o}); run chmod 600 {}",
                    path.display(),
                    mode & 0o777,
                    path.display()
                ));
            }
        }
    }
}

/// The selected profile of `~/.bce/config.json` (`BCE_PROFILE`, else `current`, else
/// `default`), if the file exists. A file that exists but cannot be read is an error.
pub fn bce_profile(env: &Env, warn: &mut dyn FnMut(String)) -> Result<Option<Profile>> {
    let Some(path) = bce_config_path(env) else {
        return Ok(None);
    };
    let Some(text) = read_if_exists(&path)? else {
        return Ok(None);
    };
    check_permissions(&path, warn);
    // The file holds secrets: a parse error names its place and kind, never its text
    // (serde_json's messages may quote a value).
    let config: BceConfig = serde_json::from_str(&text).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Syntax => "a JSON syntax error",
            serde_json::error::Category::Data => "a value of the wrong type",
            serde_json::error::Category::Eof => "an unexpected end of file",
            serde_json::error::Category::Io => "a read error",
        };
        anyhow::anyhow!(
            "{} is not valid BCE CLI configuration: {kind} at line {}, column {}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let wanted = env
        .get("BCE_PROFILE")
        .map(str::to_string)
        .or(config.current.clone())
        .unwrap_or_else(|| "default".to_string());
    let found = config
        .profiles
        .iter()
        .find(|p| p.name.as_deref() == Some(wanted.as_str()))
        .cloned();
    if found.is_none() && env.get("BCE_PROFILE").is_some() {
        bail!("profile {wanted:?} not found in {}", path.display());
    }
    Ok(found)
}

/// Reads `[Defaults]` `Ak`/`Sk`/`Sts` from bcecmd's INI file.
fn bcecli_credentials(env: &Env, warn: &mut dyn FnMut(String)) -> Result<Option<Credentials>> {
    let Some(path) = bcecli_credentials_path(env) else {
        return Ok(None);
    };
    let Some(text) = read_if_exists(&path)? else {
        return Ok(None);
    };
    check_permissions(&path, warn);
    let (mut ak, mut sk, mut sts) = (String::new(), String::new(), String::new());
    let mut in_defaults = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_defaults = line
                .trim_matches(['[', ']'])
                .trim()
                .eq_ignore_ascii_case("defaults");
            continue;
        }
        if !in_defaults || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "ak" => ak = v,
                "sk" => sk = v,
                "sts" => sts = v,
                _ => {}
            }
        }
    }
    Ok(Credentials::new(
        &ak,
        &sk,
        Some(&sts),
        Source::BcecliCredentials(path),
    ))
}

/// Whether the environment names credentials (`BCE_ACCESS_KEY_ID` or `BCE_SECRET_ACCESS_KEY`
/// set): then they come from there, or [`resolve`] says what is missing.
pub fn env_names_credentials(env: &Env) -> bool {
    ["BCE_ACCESS_KEY_ID", "BCE_SECRET_ACCESS_KEY"]
        .iter()
        .any(|k| env.get(k).is_some_and(|v| !v.trim().is_empty()))
}

/// Resolves credentials through the chain. `explicit` are the repository entry's (or the
/// getter's) credentials. `profile` is the BCE CLI profile already read, if any.
pub fn resolve(
    explicit: Option<Credentials>,
    env: &Env,
    profile: Option<&Profile>,
    warn: &mut dyn FnMut(String),
) -> Result<Credentials> {
    if let Some(c) = explicit {
        return Ok(c);
    }
    match (
        env.get("BCE_ACCESS_KEY_ID")
            .filter(|v| !v.trim().is_empty()),
        env.get("BCE_SECRET_ACCESS_KEY")
            .filter(|v| !v.trim().is_empty()),
    ) {
        (Some(ak), Some(sk)) => {
            if let Some(c) =
                Credentials::new(ak, sk, env.get("BCE_SECURITY_TOKEN"), Source::EnvKeyPair)
            {
                return Ok(c);
            }
        }
        (Some(_), None) => bail!(
            "BCE_ACCESS_KEY_ID is set but BCE_SECRET_ACCESS_KEY is not: set both (or neither)"
        ),
        (None, Some(_)) => bail!(
            "BCE_SECRET_ACCESS_KEY is set but BCE_ACCESS_KEY_ID is not: set both (or neither)"
        ),
        (None, None) => {}
    }
    if let Some(p) = profile {
        let token = if p
            .mode
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("StsToken"))
        {
            p.security_token.as_deref()
        } else {
            p.security_token.as_deref().filter(|t| !t.is_empty())
        };
        if let Some(c) = Credentials::new(
            p.access_key_id.as_deref().unwrap_or(""),
            p.secret_access_key.as_deref().unwrap_or(""),
            token,
            Source::BceProfile,
        ) {
            return Ok(c);
        }
    }
    if let Some(c) = bcecli_credentials(env, warn)? {
        return Ok(c);
    }
    bail!(
        "no credentials found: set BCE_ACCESS_KEY_ID and BCE_SECRET_ACCESS_KEY, add the repository \
         with `helm repo add NAME ccr://INSTANCE_ID/NAMESPACE --username AK --password-stdin`, or \
         configure ~/.bce/config.json"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with_home(home: &Path, pairs: &[(&str, &str)]) -> Env {
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.push(("HOME".into(), home.display().to_string()));
        Env::from_pairs(v)
    }

    #[test]
    fn chain_order_and_sources() {
        let home = tempfile::tempdir().unwrap();
        let mut warnings = Vec::new();
        let mut warn = |w: String| warnings.push(w);
        let env = env_with_home(home.path(), &[]);
        assert!(resolve(None, &env, None, &mut warn).is_err());

        std::fs::create_dir_all(home.path().join(".go-bcecli")).unwrap();
        std::fs::write(
            home.path().join(".go-bcecli/credentials"),
            "[Defaults]\nAk = iniak\nSk = inisk\nSts = \n",
        )
        .unwrap();
        let c = resolve(None, &env, None, &mut warn).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.security_token.clone()),
            ("iniak", None)
        );

        std::fs::create_dir_all(home.path().join(".bce")).unwrap();
        std::fs::write(
            home.path().join(".bce/config.json"),
            r#"{"current":"dev","profiles":[{"name":"dev","mode":"StsToken","access_key_id":"pak","secret_access_key":"psk","security_token":"tok","region":"gz"}]}"#,
        )
        .unwrap();
        let profile = bce_profile(&env, &mut warn).unwrap().unwrap();
        assert_eq!(profile.region.as_deref(), Some("gz"));
        let c = resolve(None, &env, Some(&profile), &mut warn).unwrap();
        assert_eq!(c.access_key_id, "pak");
        assert_eq!(c.security_token.as_deref(), Some("tok"));

        let env = env_with_home(
            home.path(),
            &[
                ("BCE_ACCESS_KEY_ID", "eak"),
                ("BCE_SECRET_ACCESS_KEY", "esk"),
            ],
        );
        let c = resolve(None, &env, Some(&profile), &mut warn).unwrap();
        assert_eq!(c.access_key_id, "eak");

        let explicit = Credentials::new("rak", "rsk", None, "repo");
        let c = resolve(explicit, &env, Some(&profile), &mut warn).unwrap();
        assert_eq!(c.access_key_id, "rak");
        assert!(!format!("{c:?}").contains("rsk"));
    }

    #[test]
    fn half_a_key_pair_names_the_missing_half() {
        let home = tempfile::tempdir().unwrap();
        let mut warn = |_: String| {};
        let env = env_with_home(home.path(), &[("BCE_ACCESS_KEY_ID", "ak")]);
        let e = resolve(None, &env, None, &mut warn)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("BCE_ACCESS_KEY_ID is set but BCE_SECRET_ACCESS_KEY is not"),
            "{e}"
        );
        let env = env_with_home(home.path(), &[("BCE_SECRET_ACCESS_KEY", "sk")]);
        let e = resolve(None, &env, None, &mut warn)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("BCE_SECRET_ACCESS_KEY is set but BCE_ACCESS_KEY_ID is not"),
            "{e}"
        );
        assert!(!e.contains("sk\""), "{e}");
        // The repository entry's credentials come first: a stray variable does not matter.
        let explicit = Credentials::new("rak", "rsk", None, "repo");
        assert_eq!(
            resolve(explicit, &env, None, &mut warn)
                .unwrap()
                .access_key_id,
            "rak"
        );
    }

    #[test]
    fn unknown_profile_is_an_error_and_loose_files_warn() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".bce")).unwrap();
        let path = home.path().join(".bce/config.json");
        std::fs::write(&path, r#"{"profiles":[]}"#).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut warnings = Vec::new();
        let env = env_with_home(home.path(), &[("BCE_PROFILE", "nope")]);
        assert!(bce_profile(&env, &mut |w| warnings.push(w)).is_err());
        assert!(
            warnings.iter().any(|w| w.contains("readable by others")),
            "{warnings:?}"
        );
    }
}
