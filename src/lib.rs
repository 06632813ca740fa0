//! helm-ccr: a Helm plugin for Baidu AI Cloud CCR Enterprise Edition.

pub mod chart;
pub mod cli;
pub mod commands;
pub mod copy;
pub mod error;
pub mod getter;
pub mod mirror;
pub mod provenance;
pub mod registry;
pub mod serve;
pub mod settings;
pub mod support;
pub mod transport;
pub mod ui;

use std::ffi::OsString;

use anyhow::Result;

use crate::cli::{
    Cli, Command, CopyArgs, EnvArgs, GlobalArgs, ListFormat, LsArgs, MirrorArgs, PullArgs,
    PushArgs, ResultFormat, RmArgs, ServeArgs, Usage,
};
use crate::commands::copy::CopySettings;
use crate::commands::env::EnvSettings;
use crate::commands::ls::LsSettings;
use crate::commands::mirror::MirrorSettings;
use crate::commands::pull::PullSettings;
use crate::commands::push::{Existing, PushSettings, SignSettings};
use crate::commands::rm::RmSettings;
use crate::commands::serve::ServeSettings;
use crate::error::{AlreadyReported, UsageError, EXIT_FAILURE, EXIT_USAGE};
use crate::settings::env::vars as env_vars;
use crate::settings::reference;
use crate::settings::{Env, Global};
use crate::support::cleanup;
use crate::ui::output::Format;
use crate::ui::report;

/// Parses the command line, runs the command, prints one `Error:` line on failure and returns
/// the exit status: 0 success, 1 failure, 2 usage error.
pub fn run_main() -> i32 {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!("Error: internal error: {msg} (please report this)");
    }));
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "__complete") {
        // Helm's plugin.complete: candidates on stdout, never an error.
        let words: Vec<String> = args[2..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let env = Env::from_process();
        return match std::panic::catch_unwind(|| commands::complete::run(&words, &env)) {
            Ok(()) => 0,
            Err(_) => 0,
        };
    }
    if cli::take_debug(&mut args) {
        // As `helm --debug` does: for helm-ccr and for what it runs (helm, gpg). Nothing else
        // runs yet: no thread reads the environment.
        std::env::set_var("HELM_DEBUG", "true");
    }
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        Err(u) => return usage(u),
    };
    let subcommand = cli.command.name();
    let env = Env::from_process();
    // Removes the run's temporary files when dropped, and on SIGINT/SIGTERM/SIGHUP.
    let _session = cli.command.makes_temporary_files().then(cleanup::start);
    match std::panic::catch_unwind(|| run(cli, env)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) if e.downcast_ref::<AlreadyReported>().is_some() => EXIT_FAILURE,
        Ok(Err(e)) => {
            let line = report::one_line(&format!("{e:#}"));
            eprintln!("Error: {line}");
            let names_variable = env_vars::ALL.iter().any(|v| line.contains(v));
            if e.downcast_ref::<UsageError>().is_some() {
                if names_variable {
                    eprintln!("{ENVIRONMENT_POINTER}");
                } else {
                    eprintln!("Run 'helm ccr {subcommand} --help' for usage.");
                }
                return EXIT_USAGE;
            }
            // A setting that is wrong, named first (`HELM_CCR_PARALLEL "x" is not ...`).
            if env_vars::ALL.iter().any(|v| line.starts_with(v)) {
                eprintln!("{ENVIRONMENT_POINTER}");
            }
            EXIT_FAILURE
        }
        Err(_) => EXIT_FAILURE,
    }
}

/// Where an error about a `HELM_CCR_*` variable points.
const ENVIRONMENT_POINTER: &str = "Run 'helm ccr help environment' for the variables.";

/// `pull REPO`, a repository where a chart belongs: a usage error saying REPO/CHART is needed.
fn chart_is_missing(arg: &str) -> Option<UsageError> {
    if reference::parse_chart_ref(arg).is_ok() {
        return None;
    }
    reference::parse_repo(arg).ok()?;
    let shown = ui::text::redact_userinfo(arg.trim_end_matches('/'));
    Some(UsageError(format!(
        "pull needs a chart: REPO/CHART (as in {shown}/mychart); {shown:?} is a repository, \
         'helm ccr ls {shown}' lists its charts"
    )))
}

/// Prints what clap found instead of a command and returns the exit status.
fn usage(u: Usage) -> i32 {
    match u {
        Usage::Text(text) => {
            print!("{text}");
            0
        }
        Usage::Missing(text) => {
            eprint!("{text}");
            EXIT_USAGE
        }
        Usage::Error {
            message,
            tip,
            subcommand,
        } => {
            eprintln!("Error: {message}");
            if let Some(tip) = tip {
                eprintln!("{tip}");
            }
            match subcommand {
                Some(s) => eprintln!("Run 'helm ccr {s} --help' for usage."),
                None => eprintln!("Run 'helm ccr --help' for usage."),
            }
            EXIT_USAGE
        }
    }
}

fn result_format(f: ResultFormat) -> Format {
    match f {
        ResultFormat::Text => Format::Text,
        ResultFormat::Json => Format::Json,
        ResultFormat::Yaml => Format::Yaml,
    }
}

fn list_format(f: ListFormat) -> Format {
    match f {
        ListFormat::Table => Format::Text,
        ListFormat::Json => Format::Json,
        ListFormat::Yaml => Format::Yaml,
    }
}

/// The global settings: the environment's, then the global flags over them; the overall time
/// limit (the getter has a default one).
fn global_settings(g: GlobalArgs, env: Env, getter: bool) -> Result<Global> {
    let mut global = Global::from_env(env)?;
    global.region = g.region;
    global.endpoint = g.endpoint;
    global.ca_file = g.ca_file;
    global.insecure_skip_tls_verify = g.insecure_skip_tls_verify;
    global.client_cert = g.cert_file.zip(g.key_file);
    global.quiet = g.quiet;
    global.timeout = settings::resolve_timeout(g.timeout.as_deref(), &global.env, getter)?;
    Ok(global)
}

fn push_settings(a: PushArgs) -> PushSettings {
    let existing = if a.force {
        Existing::Replace
    } else if a.skip_existing {
        Existing::Skip
    } else {
        Existing::Fail
    };
    PushSettings {
        charts: a.charts.into_iter().map(Into::into).collect(),
        repo: a.repo,
        version: a.version,
        app_version: a.app_version,
        dependency_update: a.dependency_update,
        existing,
        dry_run: a.dry_run,
        format: result_format(a.output),
        sign: a.signing.sign.then_some(SignSettings {
            key: a.signing.key,
            keyring: a.signing.keyring,
        }),
    }
}

/// Refuses `pull REPO` (a repository where a chart belongs) unless `--all` pulls them all.
fn pull_settings(a: PullArgs) -> Result<PullSettings> {
    if let Some(e) = chart_is_missing(&a.chart).filter(|_| !a.all) {
        return Err(e.into());
    }
    Ok(PullSettings {
        chart: a.chart,
        all: a.all,
        version: a.version,
        devel: a.devel,
        destination: a.destination,
        untar: a.untar,
        untardir: a.untardir,
        format: result_format(a.output),
        verify: a.verifying.verify,
        keyring: a.verifying.keyring,
        prov: a.verifying.prov,
    })
}

fn copy_settings(a: CopyArgs) -> CopySettings {
    CopySettings {
        sources: a.sources,
        dest: a.dest,
        version: a.version,
        devel: a.devel,
        all: a.all,
        force: a.force,
        dry_run: a.dry_run,
        format: result_format(a.output),
    }
}

fn ls_settings(a: LsArgs) -> LsSettings {
    LsSettings {
        target: a.target,
        format: list_format(a.output),
        devel: a.devel,
    }
}

fn rm_settings(a: RmArgs) -> RmSettings {
    RmSettings {
        charts: a.charts,
        versions: a.versions,
        all: a.all,
        keep: a.keep,
        older_than: a.older_than,
        devel: a.devel,
        dry_run: a.dry_run,
        format: result_format(a.output),
    }
}

fn mirror_settings(a: MirrorArgs) -> MirrorSettings {
    MirrorSettings {
        source: a.source,
        dest: a.dest,
        charts: a.charts,
        version: a.version,
        devel: a.devel,
        dry_run: a.dry_run,
        username: a.username,
        password_stdin: a.password_stdin,
        format: result_format(a.output),
    }
}

fn env_settings(a: EnvArgs) -> EnvSettings {
    EnvSettings {
        repo: a.repo,
        check: a.check,
    }
}

/// `serve`'s flags as the server takes them.
fn serve_settings(a: ServeArgs) -> ServeSettings {
    ServeSettings {
        repo: a.repo,
        repos: a.repos,
        listen: a.listen,
        htpasswd: a.htpasswd,
        token_file: a.token_file,
        sts_credentials_file: a.sts_credentials_file,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        index_ttl: a.index_ttl,
        full_refresh: a.full_refresh,
        max_stale: a.max_stale,
        cache_dir: a.cache_dir,
        cache_size: a.cache_size,
        log_json: a.log_format == cli::LogFormat::Json,
        grace: a.grace_period,
        public_provenance: a.public_provenance,
    }
}

/// Converts the command line into the command's settings and runs the command.
fn run(cli: Cli, env: Env) -> Result<()> {
    let getter = matches!(cli.command, Command::Download(_));
    let global = global_settings(cli.global, env, getter)?;
    match cli.command {
        Command::Push(a) => commands::push::run(&push_settings(a), &global),
        Command::Pull(a) => commands::pull::run(&pull_settings(a)?, &global),
        Command::Copy(a) => commands::copy::run(&copy_settings(a), &global),
        Command::Ls(a) => commands::ls::run(&ls_settings(a), &global),
        Command::Rm(a) => commands::rm::run(&rm_settings(a), &global),
        Command::Mirror(a) => commands::mirror::run(&mirror_settings(a), &global),
        Command::Env(a) => commands::env::run(&env_settings(a), &global),
        Command::Version => {
            commands::version::run(&global.output());
            Ok(())
        }
        Command::Serve(a) => commands::serve::run(&serve_settings(a), &global),
        // cli::parse answers help itself.
        Command::Help(_) => Ok(()),
        Command::Download(a) => {
            commands::download::run_args(&a.cert_file, &a.key_file, &a.ca_file, &a.url, &global)
        }
    }
}
