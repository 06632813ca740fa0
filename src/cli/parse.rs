//! From the arguments to a [`Cli`] or a [`Usage`]: clap's errors condensed to one line and a
//! tip, `--debug` taken anywhere, negative durations named, the subcommand a usage error is
//! about.

use std::ffi::OsString;

use clap::{CommandFactory, Parser};

use super::help::{canonical_subcommand, environment_help, flags_of, subcommands};
use super::{Cli, Command};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usage {
    /// Help or version text asked for: print it on stdout, exit 0.
    Text(String),
    /// `helm ccr` alone: the help, on stderr, exit 2.
    Missing(String),
    /// A usage error: one message, at most one tip, and the subcommand whose help to point at.
    Error {
        message: String,
        tip: Option<String>,
        subcommand: Option<String>,
    },
}

/// Parses the arguments after the program name's position (`args[0]` is the program).
pub fn parse<I, T>(args: I) -> Result<Cli, Usage>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(u) = negative_timeout(&args) {
        return Err(u);
    }
    let cli = Cli::try_parse_from(&args).map_err(|e| usage_of(e, &args))?;
    if let Command::Help(h) = &cli.command {
        return Err(help_topic(h.topic.as_deref()));
    }
    Ok(cli)
}

/// Takes `--debug` (and `--debug=true|false`) out of the arguments, wherever it is before a
/// `--`: Helm users put it anywhere, and Helm itself turns it into `HELM_DEBUG=true` before the
/// plugin runs; called directly, the plugin does the same. True when debug output is asked for.
pub fn take_debug(args: &mut Vec<OsString>) -> bool {
    let mut debug = false;
    let mut end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut i = 1;
    while i < end {
        let on = match args[i].to_str() {
            Some("--debug") => Some(true),
            Some(a) => a
                .strip_prefix("--debug=")
                .map(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            None => None,
        };
        match on {
            Some(on) => {
                debug = on;
                args.remove(i);
                end -= 1;
            }
            None => i += 1,
        }
    }
    debug
}

/// `--timeout -1s` (clap would take `-1s` for flags and suggest `-- -1s`) or `--timeout=-1s`:
/// one clear usage error.
fn negative_timeout(args: &[OsString]) -> Option<Usage> {
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = words.next() {
        if a == "--" {
            break;
        }
        let value = if a == "--timeout" {
            words.next().map(|v| v.into_owned())
        } else if let Some(v) = a.strip_prefix("--timeout=") {
            Some(v.to_string())
        } else {
            continue;
        };
        let Some(value) = value else { break };
        let negative = value
            .strip_prefix('-')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'));
        if negative {
            return Some(Usage::Error {
                message: format!(
                    "--timeout {value}: a duration cannot be negative (use 0 for no limit)"
                ),
                tip: None,
                subcommand: subcommand_of(args),
            });
        }
    }
    None
}

pub(super) fn usage_of(e: clap::Error, args: &[OsString]) -> Usage {
    use clap::error::ErrorKind;
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp => Usage::Text(text),
        // As `helm ccr version` says it.
        ErrorKind::DisplayVersion => {
            Usage::Text(concat!("helm-ccr ", env!("CARGO_PKG_VERSION"), "\n").into())
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Usage::Missing(text),
        kind => {
            let (mut message, mut tip) = condense(&text);
            let subcommand = subcommand_of(args);
            if kind == ErrorKind::MissingRequiredArgument && subcommand.as_deref() == Some("push") {
                // Charts given but no repository: clap would name the charts as missing.
                let positional_missing = message.contains("<CHART>") || message.contains("<REPO>");
                if positional_missing && positionals_after("push", args) > 0 {
                    message = "missing REPO: the repository comes after the charts".into();
                }
                tip = Some(
                    "tip: push takes one or more charts, then the repository: helm ccr push CHART... REPO"
                        .into(),
                );
            }
            Usage::Error {
                message,
                tip,
                subcommand,
            }
        }
    }
}

/// Turns clap's rendered error into one line (the first line with its indented continuation,
/// such as the missing arguments or the possible values) and the first tip.
fn condense(text: &str) -> (String, Option<String>) {
    let mut message = String::new();
    let mut tip = None;
    let mut in_message = true;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Usage:") || t.starts_with("For more information") {
            break;
        }
        if t.is_empty() {
            in_message = message.is_empty();
            continue;
        }
        if let Some(rest) = t.strip_prefix("tip:") {
            if tip.is_none() {
                tip = Some(format!("tip: {}", rest.trim()));
            }
            in_message = false;
            continue;
        }
        if in_message {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(t.trim_start_matches("error:").trim());
        }
    }
    if message.is_empty() {
        message = "invalid arguments".into();
    }
    (message, tip)
}

/// How many positional arguments follow the subcommand `sub` on the command line.
fn positionals_after(sub: &str, args: &[OsString]) -> usize {
    let flags = flags_of(sub).unwrap_or_default();
    let takes_value = |w: &str| {
        flags
            .iter()
            .any(|f| f.takes_value && (f.long == w || f.short.as_deref() == Some(w)))
    };
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    // Up to the subcommand.
    for w in words.by_ref() {
        if canonical_subcommand(&w).as_deref() == Some(sub) {
            break;
        }
    }
    let mut count = 0;
    let mut skip_next = false;
    for w in words {
        if skip_next {
            skip_next = false;
        } else if w.starts_with('-') && w.len() > 1 {
            skip_next = !w.contains('=') && takes_value(&w);
        } else {
            count += 1;
        }
    }
    count
}

/// The (visible) subcommand named on the command line, skipping global flags and their values;
/// an alias gives the subcommand's name (`list`: `ls`).
pub fn subcommand_of(args: &[OsString]) -> Option<String> {
    let cmd = Cli::command();
    let takes_value: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
        .flat_map(|a| {
            let mut names: Vec<String> = Vec::new();
            if let Some(l) = a.get_long() {
                names.push(format!("--{l}"));
            }
            if let Some(s) = a.get_short() {
                names.push(format!("-{s}"));
            }
            names
        })
        .collect();
    let mut skip_next = false;
    for a in args.iter().skip(1) {
        let a = a.to_string_lossy();
        if skip_next {
            skip_next = false;
            continue;
        }
        if a.starts_with('-') {
            skip_next = !a.contains('=') && takes_value.iter().any(|n| *n == a);
            continue;
        }
        return canonical_subcommand(&a);
    }
    None
}

/// `helm ccr help [TOPIC]`: the root help, a command's (as `COMMAND --help` prints it), or the
/// environment variables.
fn help_topic(topic: Option<&str>) -> Usage {
    let help_of = |words: &[&str]| -> Usage {
        let mut argv = vec!["helm-ccr"];
        argv.extend_from_slice(words);
        argv.push("--help");
        match Cli::try_parse_from(argv) {
            Err(e) => usage_of(e, &[]),
            Ok(_) => Usage::Text(String::new()),
        }
    };
    match topic {
        None => help_of(&[]),
        Some("environment") => Usage::Text(environment_help()),
        Some(t) if canonical_subcommand(t).is_some() => help_of(&[t]),
        Some(t) => Usage::Error {
            message: format!(
                "unknown help topic {t:?}: name a command ({}) or environment",
                subcommands()
                    .iter()
                    .filter(|s| *s != "help")
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            tip: None,
            subcommand: Some("help".into()),
        },
    }
}
