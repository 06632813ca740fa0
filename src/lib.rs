//! helm-ccr: a Helm plugin for Baidu AI Cloud CCR Enterprise Edition.

pub mod api;
pub mod chart;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod credentials;
pub mod env;
pub mod error;
pub mod gpg;
pub mod index;
pub mod multipart;
pub mod output;
pub mod pool;
pub mod provenance;
pub mod registry;
pub mod repo_ref;
pub mod settings;
pub mod sign;
pub mod transport;
pub mod version;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{UsageError, EXIT_FAILURE, EXIT_USAGE};
use crate::settings::{Env, Global};

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let env = Env::from_process();
    match std::panic::catch_unwind(|| run(cli, env)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            if let Some(u) = e.downcast_ref::<UsageError>() {
                eprintln!("Error: {u}");
                eprintln!("Run 'helm ccr --help' for usage.");
                return EXIT_USAGE;
            }
            eprintln!("Error: {}", one_line(&format!("{e:#}")));
            EXIT_FAILURE
        }
        Err(_) => EXIT_FAILURE,
    }
}

fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            EXIT_USAGE
        }
        _ => {
            let text = e.render().to_string();
            let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
            let mut first = lines
                .next()
                .unwrap_or("invalid arguments")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            // "the following required arguments were not provided:" names them below.
            if first.ends_with(':') {
                let named: Vec<&str> = lines
                    .take_while(|l| l.starts_with(' '))
                    .map(str::trim)
                    .collect();
                if !named.is_empty() {
                    first = format!("{first} {}", named.join(", "));
                }
            }
            eprintln!("Error: {first}");
            eprintln!("Run 'helm ccr --help' for usage.");
            EXIT_USAGE
        }
    }
}

/// Joins a multi-line message into one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(cli: Cli, env: Env) -> Result<()> {
    let mut global = Global::new(env);
    let g = cli.global;
    global.region = g.region;
    global.endpoint = g.endpoint;
    global.ca_file = g.ca_file;
    global.insecure_skip_tls_verify = g.insecure_skip_tls_verify;
    global.quiet = g.quiet;
    if let Some(t) = g.timeout {
        global.timeout =
            Some(settings::parse_duration(&t).map_err(|e| UsageError(format!("--timeout: {e}")))?);
    }
    match cli.command {
        Command::Push(a) => {
            let mut args = a.args;
            let repo = args.pop().unwrap_or_default();
            let existing = if a.force {
                commands::push::Existing::Replace
            } else if a.skip_existing {
                commands::push::Existing::Skip
            } else {
                commands::push::Existing::Fail
            };
            commands::push::run(
                &commands::push::PushSettings {
                    charts: args.into_iter().map(Into::into).collect(),
                    repo,
                    version: a.version,
                    app_version: a.app_version,
                    dependency_update: a.dependency_update,
                    existing,
                    dry_run: a.dry_run,
                    sign: a.signing.sign.then_some(commands::push::SignSettings {
                        key: a.signing.key,
                        keyring: a.signing.keyring,
                    }),
                },
                &global,
            )
        }
        Command::Pull(a) => commands::pull::run(
            &commands::pull::PullSettings {
                chart: a.chart,
                version: a.version,
                devel: a.devel,
                destination: a.destination,
                untar: a.untar,
                untardir: a.untardir,
                verify: a.verifying.verify,
                keyring: a.verifying.keyring,
                prov: a.verifying.prov,
            },
            &global,
        ),
        Command::Ls(a) => commands::ls::run(
            &commands::ls::LsSettings {
                target: a.target,
                format: a.output,
                devel: a.devel,
            },
            &global,
        ),
        Command::Rm(a) => commands::rm::run(
            &commands::rm::RmSettings {
                charts: a.charts,
                versions: a.versions,
                all: a.all,
                dry_run: a.dry_run,
            },
            &global,
        ),
        Command::Version => {
            commands::version::run(&global.output());
            Ok(())
        }
        Command::Download(a) => {
            commands::download::run_args(&a.cert_file, &a.key_file, &a.ca_file, &a.url, &global)
        }
    }
}
