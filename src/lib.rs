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
pub mod settings;
pub mod support;
pub mod transport;
pub mod ui;

use std::ffi::OsString;

use anyhow::Result;

use crate::cli::{Cli, Command, ListFormat, ResultFormat, Usage};
use crate::error::{UsageError, EXIT_FAILURE, EXIT_USAGE};
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

fn run(cli: Cli, env: Env) -> Result<()> {
    let mut global = Global::from_env(env)?;
    let g = cli.global;
    global.region = g.region;
    global.endpoint = g.endpoint;
    global.ca_file = g.ca_file;
    global.insecure_skip_tls_verify = g.insecure_skip_tls_verify;
    global.client_cert = g.cert_file.zip(g.key_file);
    global.quiet = g.quiet;
    global.timeout = settings::resolve_timeout(
        g.timeout.as_deref(),
        &global.env,
        matches!(cli.command, Command::Download(_)),
    )?;
    match cli.command {
        Command::Push(a) => {
            let existing = if a.force {
                commands::push::Existing::Replace
            } else if a.skip_existing {
                commands::push::Existing::Skip
            } else {
                commands::push::Existing::Fail
            };
            commands::push::run(
                &commands::push::PushSettings {
                    charts: a.charts.into_iter().map(Into::into).collect(),
                    repo: a.repo,
                    version: a.version,
                    app_version: a.app_version,
                    dependency_update: a.dependency_update,
                    existing,
                    dry_run: a.dry_run,
                    format: result_format(a.output),
                    sign: a.signing.sign.then_some(commands::push::SignSettings {
                        key: a.signing.key,
                        keyring: a.signing.keyring,
                    }),
                },
                &global,
            )
        }
        Command::Pull(a) => {
            if let Some(e) = chart_is_missing(&a.chart).filter(|_| !a.all) {
                return Err(e.into());
            }
            commands::pull::run(
                &commands::pull::PullSettings {
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
                },
                &global,
            )
        }
        Command::Copy(a) => commands::copy::run(
            &commands::copy::CopySettings {
                sources: a.sources,
                dest: a.dest,
                version: a.version,
                devel: a.devel,
                all: a.all,
                force: a.force,
                dry_run: a.dry_run,
                format: result_format(a.output),
            },
            &global,
        ),
        Command::Ls(a) => commands::ls::run(
            &commands::ls::LsSettings {
                target: a.target,
                format: list_format(a.output),
                devel: a.devel,
            },
            &global,
        ),
        Command::Rm(a) => commands::rm::run(
            &commands::rm::RmSettings {
                charts: a.charts,
                versions: a.versions,
                all: a.all,
                keep: a.keep,
                older_than: a.older_than,
                devel: a.devel,
                dry_run: a.dry_run,
                format: result_format(a.output),
            },
            &global,
        ),
        Command::Mirror(a) => commands::mirror::run(
            &commands::mirror::MirrorSettings {
                source: a.source,
                dest: a.dest,
                charts: a.charts,
                version: a.version,
                devel: a.devel,
                dry_run: a.dry_run,
                username: a.username,
                password_stdin: a.password_stdin,
                format: result_format(a.output),
            },
            &global,
        ),
        Command::Env(a) => commands::env::run(
            &commands::env::EnvSettings {
                repo: a.repo,
                check: a.check,
            },
            &global,
        ),
        Command::Version => {
            commands::version::run(&global.output());
            Ok(())
        }
        // cli::parse answers help itself.
        Command::Help(_) => Ok(()),
        Command::Download(a) => {
            commands::download::run_args(&a.cert_file, &a.key_file, &a.ca_file, &a.url, &global)
        }
    }
}
