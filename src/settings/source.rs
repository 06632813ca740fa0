//! Where a setting came from: every value [`crate::settings::resolve`] finds carries one, so
//! that `helm ccr env` and `--debug` output can say why a command does what it does.

use std::fmt;
use std::path::PathBuf;

/// The origin of one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, by name: `--endpoint`, `--region`, `--timeout`, `--ca-file`,
    /// `--insecure-skip-tls-verify`.
    Flag(&'static str),
    /// An environment variable, by name: `HELM_CCR_ENDPOINT`, `BCE_REGION`, ...
    Env(&'static str),
    /// The key pair of the environment: `BCE_ACCESS_KEY_ID`, `BCE_SECRET_ACCESS_KEY` (and
    /// `BCE_SECURITY_TOKEN`).
    EnvKeyPair,
    /// A Helm repository entry of `repositories.yaml` (its `username`/`password`), by name;
    /// `by_url` when the getter found it by its URL rather than Helm passing it.
    Repository { name: String, by_url: bool },
    /// What Helm handed the getter, described: the repository entry's credentials
    /// (`HELM_PLUGIN_USERNAME`/`HELM_PLUGIN_PASSWORD`) or its CA file.
    Helm(&'static str),
    /// The selected profile of `~/.bce/config.json` (`BCE_PROFILE`, else `current`).
    BceProfile,
    /// bcecmd's credentials file (`~/.go-bcecli/credentials`), at this path.
    BcecliCredentials(PathBuf),
    /// `serve --sts-credentials-file`, at this path: keys for every served repository.
    StsFile(PathBuf),
    /// The API host written in the `ccr://` URL.
    UrlApiHost,
    /// The region's API host, `ccr.{region}.baidubce.com`.
    Region(String),
    /// helm-ccr's built-in default.
    Default,
    /// Set by the code that called, with its own label (a test's credentials, completion's
    /// time limit).
    Given(String),
}

impl Source {
    /// Credentials' source as the message texts name it.
    pub const HELM_PLUGIN_CREDENTIALS: Source =
        Source::Helm("the Helm repository (HELM_PLUGIN_USERNAME/HELM_PLUGIN_PASSWORD)");
}

/// The label messages use: `HELM_CCR_ENDPOINT`, `Helm repository "myccr"`, `region gz`,
/// `~/.bce/config.json`, ...
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) | Source::Env(name) | Source::Helm(name) => f.write_str(name),
            Source::EnvKeyPair => {
                f.write_str("the environment (BCE_ACCESS_KEY_ID/BCE_SECRET_ACCESS_KEY)")
            }
            Source::Repository { name, by_url } => {
                write!(f, "Helm repository {name:?}")?;
                if *by_url {
                    f.write_str(" (same URL)")?;
                }
                Ok(())
            }
            Source::BceProfile => f.write_str("~/.bce/config.json"),
            Source::BcecliCredentials(path) => write!(f, "{}", path.display()),
            Source::StsFile(path) => write!(f, "--sts-credentials-file {}", path.display()),
            Source::UrlApiHost => f.write_str("the API host in the repository URL"),
            Source::Region(region) => write!(f, "region {region}"),
            Source::Default => f.write_str("default"),
            Source::Given(label) => f.write_str(label),
        }
    }
}

/// A caller's own label (`Credentials::new(.., "test")`).
impl From<&str> for Source {
    fn from(label: &str) -> Source {
        Source::Given(label.to_string())
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Sourced<T> {
        Sourced { value, source }
    }

    /// The value from the environment variable `name` when it gave one, else `default`.
    pub fn env_or(value: Option<T>, name: &'static str, default: T) -> Sourced<T> {
        match value {
            Some(v) => Sourced::new(v, Source::Env(name)),
            None => Sourced::new(default, Source::Default),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_texts_messages_use() {
        let cases = [
            (Source::Flag("--endpoint"), "--endpoint"),
            (Source::Env("HELM_CCR_ENDPOINT"), "HELM_CCR_ENDPOINT"),
            (
                Source::EnvKeyPair,
                "the environment (BCE_ACCESS_KEY_ID/BCE_SECRET_ACCESS_KEY)",
            ),
            (
                Source::Repository {
                    name: "myccr".into(),
                    by_url: false,
                },
                "Helm repository \"myccr\"",
            ),
            (
                Source::Repository {
                    name: "mine".into(),
                    by_url: true,
                },
                "Helm repository \"mine\" (same URL)",
            ),
            (
                Source::HELM_PLUGIN_CREDENTIALS,
                "the Helm repository (HELM_PLUGIN_USERNAME/HELM_PLUGIN_PASSWORD)",
            ),
            (Source::BceProfile, "~/.bce/config.json"),
            (Source::UrlApiHost, "the API host in the repository URL"),
            (Source::Region("gz".into()), "region gz"),
            (Source::Default, "default"),
            (Source::from("test"), "test"),
        ];
        for (source, text) in cases {
            assert_eq!(source.to_string(), text);
        }
    }
}
