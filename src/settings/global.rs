//! The global flags and what the environment adds to them ([`Global`]), and the command's
//! overall time limit ([`resolve_timeout`] -> [`TimeLimit`]).
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::UsageError;
use crate::settings::duration::parse_duration;
use crate::settings::env::vars as env_vars;
use crate::settings::env::Env;
use crate::settings::source::{Source, Sourced};
use crate::transport::{duration_text, Deadline};
use crate::ui::output::Output;

/// Default number of attempts for a request that meets a transient fault.
pub const DEFAULT_ATTEMPTS: u32 = 4;

/// The global flags plus what the environment adds, shared by every command.
#[derive(Debug, Clone)]
pub struct Global {
    /// `--region`: picks `https://ccr.{region}.baidubce.com`.
    pub region: Option<String>,
    /// `--endpoint`: the API endpoint URL, overriding everything else.
    pub endpoint: Option<String>,
    /// `--timeout` (or `HELM_CCR_TIMEOUT`, or the getter's default): bounds the whole command.
    pub timeout: Option<TimeLimit>,
    /// `--ca-file`: PEM certificates to trust instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Where `ca_file` came from: `--ca-file`, unless the getter took Helm's.
    pub ca_file_source: Source,
    /// `--insecure-skip-tls-verify`.
    pub insecure_skip_tls_verify: bool,
    /// `--cert-file` and `--key-file` (both or neither): a client certificate, PEM.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Where `client_cert` came from: `--cert-file/--key-file`, unless the getter took Helm's.
    pub client_cert_source: Source,
    /// `-q/--quiet`: only errors and what a command exists to print.
    pub quiet: bool,
    /// `HELM_DEBUG=true`: log each request (secrets redacted).
    pub debug: bool,
    /// Attempts per request for transient faults (`HELM_CCR_RETRIES`).
    pub attempts: u32,
    /// When the command started; with `timeout`, its deadline.
    pub started: Instant,
    pub env: Env,
}

impl Global {
    /// The settings of `env` alone; a `HELM_CCR_RETRIES` that does not parse counts as unset
    /// (see [`Global::from_env`]).
    pub fn new(env: Env) -> Global {
        let attempts = env.retries().ok().flatten().unwrap_or(DEFAULT_ATTEMPTS);
        Global {
            region: None,
            endpoint: None,
            timeout: None,
            ca_file: None,
            ca_file_source: Source::Flag("--ca-file"),
            insecure_skip_tls_verify: false,
            client_cert: None,
            client_cert_source: Source::Flag("--cert-file/--key-file"),
            quiet: false,
            debug: env.debug(),
            attempts,
            started: Instant::now(),
            env,
        }
    }

    /// [`Global::new`], refusing numeric settings of the environment that do not parse
    /// (`HELM_CCR_RETRIES=abc`) with a usage error naming the variable.
    pub fn from_env(env: Env) -> Result<Global> {
        env.retries()?;
        Ok(Global::new(env))
    }

    /// [`Global::attempts`] and where it came from: `HELM_CCR_RETRIES`, the default, or the
    /// code that set it (completion makes one attempt).
    pub fn attempts_sourced(&self) -> Sourced<u32> {
        let source = match self.env.retries() {
            Ok(Some(n)) if n == self.attempts => Source::Env(env_vars::RETRIES),
            _ if self.attempts == DEFAULT_ATTEMPTS => Source::Default,
            _ => Source::Given("set by the command".into()),
        };
        Sourced::new(self.attempts, source)
    }

    pub fn deadline(&self) -> Option<Deadline> {
        let t = self.timeout.as_ref()?;
        Some(Deadline {
            at: self.started.checked_add(t.limit)?,
            limit: t.limit,
            source: t.source.clone(),
            knob: t.knob,
        })
    }

    pub fn output(&self) -> Output {
        Output::new(self.quiet, self.debug)
    }
}

/// An overall time limit and how the user set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeLimit {
    pub limit: Duration,
    /// `--timeout 4s`, `HELM_CCR_TIMEOUT=4s`, or `the getter's default`.
    pub source: String,
    /// What to raise: `--timeout` or `HELM_CCR_TIMEOUT`.
    pub knob: &'static str,
}

impl TimeLimit {
    /// Where the limit came from, read from the label [`resolve_timeout`] gives it; a limit
    /// set in code (completion's) is [`Source::Given`] its label.
    pub fn origin(&self) -> Source {
        if self.source.starts_with("--timeout ") {
            Source::Flag("--timeout")
        } else if self.source.starts_with("HELM_CCR_TIMEOUT=") {
            Source::Env(env_vars::TIMEOUT)
        } else if self.source.starts_with("the getter's default") {
            Source::Default
        } else {
            Source::Given(self.source.clone())
        }
    }
}

/// The getter's overall limit when neither `--timeout` nor `HELM_CCR_TIMEOUT` sets one: Helm
/// runs it with no flag of ours, and a stuck getter would hang `helm install`.
pub const GETTER_DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The overall limit: `--timeout`, else `HELM_CCR_TIMEOUT`, else (for the getter only)
/// [`GETTER_DEFAULT_TIMEOUT`]. `0` (or `0s`, ...) means no limit. A value that does not parse,
/// or that is longer than a year, is a usage error naming where it came from.
pub fn resolve_timeout(flag: Option<&str>, env: &Env, getter: bool) -> Result<Option<TimeLimit>> {
    let (text, source_name, knob) = match (flag, env.timeout()) {
        (Some(f), _) => (f.to_string(), "--timeout ", "--timeout"),
        (None, Some(e)) => (e.to_string(), "HELM_CCR_TIMEOUT=", "HELM_CCR_TIMEOUT"),
        (None, None) if getter => {
            return Ok(Some(TimeLimit {
                limit: GETTER_DEFAULT_TIMEOUT,
                source: format!(
                    "the getter's default limit of {}",
                    duration_text(GETTER_DEFAULT_TIMEOUT)
                ),
                knob: "HELM_CCR_TIMEOUT",
            }))
        }
        (None, None) => return Ok(None),
    };
    let limit = parse_duration(&text).map_err(|e| {
        UsageError(format!(
            "{}: {e:#}",
            source_name.trim_end_matches([' ', '='])
        ))
    })?;
    if limit.is_zero() {
        return Ok(None);
    }
    Ok(Some(TimeLimit {
        limit,
        source: format!("{source_name}{}", duration_text(limit)),
        knob,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_resolve_from_flag_env_and_getter_default() {
        let env = |pairs: &[(&str, &str)]| {
            Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        };
        let none = env(&[]);
        assert_eq!(resolve_timeout(None, &none, false).unwrap(), None);
        let t = resolve_timeout(Some("4"), &none, false).unwrap().unwrap();
        assert_eq!(
            (t.limit, t.source.as_str(), t.knob),
            (Duration::from_secs(4), "--timeout 4s", "--timeout")
        );
        let e = env(&[("HELM_CCR_TIMEOUT", "90s")]);
        let t = resolve_timeout(None, &e, false).unwrap().unwrap();
        assert_eq!(t.source, "HELM_CCR_TIMEOUT=90s");
        assert_eq!(t.knob, "HELM_CCR_TIMEOUT");
        // The flag wins; 0 and 0s alike mean no limit, for the getter too.
        assert_eq!(resolve_timeout(Some("0"), &e, true).unwrap(), None);
        assert_eq!(resolve_timeout(Some("0s"), &e, true).unwrap(), None);
        assert_eq!(
            resolve_timeout(None, &env(&[("HELM_CCR_TIMEOUT", "0")]), true).unwrap(),
            None
        );
        let t = resolve_timeout(None, &none, true).unwrap().unwrap();
        assert_eq!(t.limit, GETTER_DEFAULT_TIMEOUT);
        for (flag, env_value, named) in [
            (Some("99999999999999999999"), None, "--timeout"),
            (Some("soon"), None, "--timeout"),
            (None, Some("18446744073709551615"), "HELM_CCR_TIMEOUT"),
            (None, Some("x"), "HELM_CCR_TIMEOUT"),
        ] {
            let e = env_value.map_or_else(|| env(&[]), |v| env(&[("HELM_CCR_TIMEOUT", v)]));
            let err = resolve_timeout(flag, &e, true).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{err}");
            assert!(err.to_string().starts_with(named), "{err}");
        }
    }

    #[test]
    fn time_limits_and_attempts_say_where_they_came_from() {
        let env = Env::from_pairs([("HELM_CCR_TIMEOUT".to_string(), "9s".to_string())]);
        let origin = |flag: Option<&str>, getter: bool, env: &Env| {
            resolve_timeout(flag, env, getter)
                .unwrap()
                .unwrap()
                .origin()
        };
        assert_eq!(origin(Some("4"), false, &env), Source::Flag("--timeout"));
        assert_eq!(origin(None, false, &env), Source::Env("HELM_CCR_TIMEOUT"));
        assert_eq!(origin(None, true, &Env::default()), Source::Default);
        let mut g = Global::new(Env::default());
        g.attempts = 1;
        assert_eq!(
            g.attempts_sourced().source,
            Source::Given("set by the command".into())
        );
    }
}
