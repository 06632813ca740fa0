//! The command line, parsed by clap and turned once into plain settings. Nothing else in the
//! crate knows clap: [`parse`] hands back either the parsed command line or a [`Usage`] saying
//! what to print.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand, ValueEnum};

const ROOT_EXAMPLES: &str = "\
Examples:
  helm ccr push ./mychart myccr                         package and upload a chart
  helm ccr push charts/*/ myccr --skip-existing -o json  the monorepo pipeline
  helm ccr pull myccr/mychart --version '^1.2'          download the newest 1.x
  helm ccr ls myccr                                     list the charts
  helm ccr env myccr --check                            show the settings in use and test access

Credentials come from the Helm repository entry (--username/--password of `helm repo add`), \
BCE_ACCESS_KEY_ID/BCE_SECRET_ACCESS_KEY/BCE_SECURITY_TOKEN, ~/.bce/config.json, or \
~/.go-bcecli/credentials.
Debug output: helm --debug ccr ... (HELM_DEBUG=true).
Run 'helm ccr help COMMAND' (or 'helm ccr COMMAND --help') for a command's flags and examples.";

const PUSH_EXAMPLES: &str = "\
Examples:
  helm ccr push ./mychart myccr
  helm ccr push mychart-1.2.0.tgz ccr://ccr-4k74gw7d/ns-test --force
  helm ccr push charts/*/ myccr --skip-existing -o json     (CI: every chart, idempotent)";

const PULL_EXAMPLES: &str = "\
Examples:
  helm ccr pull myccr/mychart
  helm ccr pull myccr/mychart --version '^1.2' -d ./vendor
  helm ccr pull myccr/mychart --version 1.2.3 --untar -o json";

const LS_EXAMPLES: &str = "\
Examples:
  helm ccr ls myccr
  helm ccr ls myccr/mychart --devel
  helm ccr ls ccr://ccr-4k74gw7d/ns-test -o json";

const RM_EXAMPLES: &str = "\
Examples:
  helm ccr rm myccr/mychart --version 1.0.0,1.0.1
  helm ccr rm myccr/mychart --version 1.0.0 --dry-run
  helm ccr rm myccr/old-chart myccr/other --all";

const ENV_EXAMPLES: &str = "\
Examples:
  helm ccr env
  helm ccr env myccr --check
  helm ccr env ccr://ccr-4k74gw7d/ns-test --region gz";

const SERVE_EXAMPLES: &str = "\
Examples:
  helm ccr serve myccr                                   one repository at http://127.0.0.1:8080/
  helm ccr serve --repo stable=myccr --repo dev=ccr://ccr-4k74gw7d/dev --listen 0.0.0.0:8080 \\
      --htpasswd /etc/helm-ccr/htpasswd
  helm repo add mine http://127.0.0.1:8080 --username alice --password-stdin

Every Helm client (and Argo CD, Flux) reads it as a plain HTTP Helm repository: \
/index.yaml, /charts/NAME-VERSION.tgz (under /NAME/ with --repo). Operations: /healthz, \
/readyz, /metrics. Stops on SIGTERM or SIGINT after the requests in flight.";

const VERSION_TEMPLATE: &str = "\
{about-with-newline}
Usage: {usage}

Flags:
  -h, --help  Print help

Examples:
  helm ccr version
";

/// Push, pull, list and delete Helm charts in Baidu AI Cloud CCR Enterprise Edition.
///
/// REPO is ccr://INSTANCE_ID/NAMESPACE, ccr://API_HOST/INSTANCE_ID/NAMESPACE, or the name of a
/// Helm repository added with `helm repo add NAME ccr://...`.
#[derive(Debug, Parser)]
#[command(
    name = "helm ccr",
    bin_name = "helm ccr",
    version = env!("CARGO_PKG_VERSION"),
    disable_help_flag = true,
    disable_version_flag = true,
    next_help_heading = "Flags",
    after_help = ROOT_EXAMPLES
)]
pub struct Cli {
    /// Print the plugin's version
    #[arg(short = 'V', long = "version", action = ArgAction::Version)]
    pub show_version: Option<bool>,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Flags")]
pub struct GlobalArgs {
    /// Print help
    #[arg(short = 'h', long = "help", global = true, action = ArgAction::Help, help_heading = "Flags", display_order = 999)]
    pub help: Option<bool>,
    /// CCR region (bj, bd, gz, su, fwh, hkg, cd, yq); default from BCE_REGION, the BCE CLI profile, or bj
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// API endpoint URL, e.g. https://ccr.bj.baidubce.com (overrides the region; also HELM_CCR_ENDPOINT)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Time limit for the whole command, e.g. 90s, 5m
    #[arg(long, global = true, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Verify the registry's TLS certificate with this PEM CA bundle
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification (insecure)
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
    /// Print only errors and what the command exists to print
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
#[command(next_help_heading = "Flags")]
pub enum Command {
    /// Package (if needed) and upload charts: CHART_DIR|CHART.tgz... REPO
    #[command(after_help = PUSH_EXAMPLES, next_help_heading = "Flags")]
    Push(PushArgs),
    /// Download a chart: REPO/CHART
    #[command(after_help = PULL_EXAMPLES, next_help_heading = "Flags")]
    Pull(PullArgs),
    /// List the charts of a repository, or the versions of a chart
    #[command(after_help = LS_EXAMPLES, next_help_heading = "Flags")]
    Ls(LsArgs),
    /// Delete chart versions, or whole charts with --all
    #[command(after_help = RM_EXAMPLES, next_help_heading = "Flags")]
    Rm(RmArgs),
    /// Show the endpoint, region, instance, namespace and credentials in use (--check: test them)
    #[command(after_help = ENV_EXAMPLES, next_help_heading = "Flags")]
    Env(EnvArgs),
    /// Print the plugin's version
    #[command(help_template = VERSION_TEMPLATE, override_usage = "helm ccr version")]
    Version,
    /// Serve CCR repositories over HTTP as plain Helm repositories: REPO | --repo NAME=REPO...
    #[command(after_help = SERVE_EXAMPLES, next_help_heading = "Flags")]
    Serve(ServeArgs),
    /// Helm downloader entry point: CERT KEY CA URL
    #[command(hide = true)]
    Download(DownloadArgs),
}

impl Command {
    /// The subcommand's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Push(_) => "push",
            Command::Pull(_) => "pull",
            Command::Ls(_) => "ls",
            Command::Rm(_) => "rm",
            Command::Env(_) => "env",
            Command::Version => "version",
            Command::Serve(_) => "serve",
            Command::Download(_) => "download",
        }
    }

    /// Whether the command makes temporary files (packages, downloads, unpacking), which a
    /// signal must clean up. The others skip that setup: `version` stays instant.
    pub fn makes_temporary_files(&self) -> bool {
        matches!(
            self,
            Command::Push(_) | Command::Pull(_) | Command::Download(_)
        )
    }
}

/// `-o` of the commands that report results: push, pull, rm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    Text,
    Json,
    Yaml,
}

/// `-o` of `ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Chart directories or packaged .tgz files
    #[arg(required = true, num_args = 1.., value_name = "CHART", help_heading = "Arguments")]
    pub charts: Vec<String>,
    /// The repository: ccr://INSTANCE_ID/NAMESPACE or a `helm repo add`ed name
    #[arg(required = true, value_name = "REPO", help_heading = "Arguments")]
    pub repo: String,
    /// Set the chart version (one chart only)
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Set the appVersion (one chart only)
    #[arg(long, value_name = "VERSION")]
    pub app_version: Option<String>,
    /// Run `helm dependency update` on chart directories first
    #[arg(long, short = 'u')]
    pub dependency_update: bool,
    /// Replace a version that already exists
    #[arg(long, conflicts_with = "skip_existing")]
    pub force: bool,
    /// Succeed without uploading when the version already exists
    #[arg(long)]
    pub skip_existing: bool,
    /// Do everything but upload
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the results
    #[arg(short, long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: ResultFormat,
    #[command(flatten)]
    pub signing: SignArgs,
}

/// `push --sign`: provenance files made with GnuPG.
#[derive(Debug, Args)]
#[command(next_help_heading = "Provenance")]
pub struct SignArgs {
    /// Sign each package with GnuPG and upload its provenance file (.prov) with it
    #[arg(long)]
    pub sign: bool,
    /// Key to sign with: a name, email or fingerprint (default: HELM_CCR_SIGN_KEY, then gpg's default key)
    #[arg(long, value_name = "NAME", requires = "sign")]
    pub key: Option<String>,
    /// Sign from this legacy secret keyring file (e.g. secring.gpg) instead of the GnuPG home
    #[arg(
        long = "keyring",
        id = "sign_keyring",
        value_name = "FILE",
        requires = "sign"
    )]
    pub keyring: Option<PathBuf>,
}

/// `pull --verify` and `--prov`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Provenance")]
pub struct VerifyArgs {
    /// Check the package against its provenance file (.prov) before writing it
    #[arg(long)]
    pub verify: bool,
    /// Public keyring for --verify (default: ~/.gnupg/pubring.gpg and the GnuPG public keys)
    #[arg(
        long = "keyring",
        id = "verify_keyring",
        value_name = "FILE",
        requires = "verify"
    )]
    pub keyring: Option<PathBuf>,
    /// Also write the provenance file (.prov) next to the package
    #[arg(long)]
    pub prov: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The chart: REPO/CHART
    #[arg(value_name = "REPO/CHART", help_heading = "Arguments")]
    pub chart: String,
    /// Exact version or constraint (e.g. ^1.2, ~1.2.3, ">=1.0 <2.0"); default: the latest
    #[arg(long, value_name = "CONSTRAINT")]
    pub version: Option<String>,
    /// Consider pre-release versions too
    #[arg(long)]
    pub devel: bool,
    /// Directory to write the package to
    #[arg(
        short = 'd',
        long = "destination",
        value_name = "DIR",
        default_value = "."
    )]
    pub destination: PathBuf,
    /// Unpack the chart after downloading it
    #[arg(long)]
    pub untar: bool,
    /// Directory to unpack into with --untar (relative to --destination)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub untardir: PathBuf,
    /// Output format of the result
    #[arg(short, long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: ResultFormat,
    #[command(flatten)]
    pub verifying: VerifyArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// REPO, or REPO/CHART for the versions of a chart
    #[arg(value_name = "REPO[/CHART]", help_heading = "Arguments")]
    pub target: String,
    /// Output format
    #[arg(
        short,
        long,
        value_enum,
        default_value = "table",
        value_name = "FORMAT"
    )]
    pub output: ListFormat,
    /// Show pre-release versions too
    #[arg(long)]
    pub devel: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Charts to delete from: REPO/CHART...
    #[arg(required = true, value_name = "REPO/CHART", help_heading = "Arguments")]
    pub charts: Vec<String>,
    /// Versions to delete (repeat the flag or separate with commas)
    #[arg(
        long = "version",
        value_name = "VERSION",
        value_delimiter = ',',
        conflicts_with = "all"
    )]
    pub versions: Vec<String>,
    /// Delete the whole charts, every version
    #[arg(long)]
    pub all: bool,
    /// Print what would be deleted and delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the results
    #[arg(short, long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: ResultFormat,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The repository to resolve: ccr://INSTANCE_ID/NAMESPACE or a `helm repo add`ed name
    #[arg(value_name = "REPO", help_heading = "Arguments")]
    pub repo: Option<String>,
    /// Make one signed list call to prove access (needs REPO)
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The repository served at /: ccr://INSTANCE_ID/NAMESPACE or a `helm repo add`ed name
    #[arg(value_name = "REPO", help_heading = "Arguments")]
    pub repo: Option<String>,
    /// Serve REPO under /NAME/ (repeatable; instead of the REPO argument)
    #[arg(long = "repo", value_name = "NAME=REPO")]
    pub repos: Vec<String>,
    /// Address to listen on (port 0: any free port; the URL is printed on stdout)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Require HTTP basic auth from this htpasswd file of bcrypt entries (htpasswd -B); re-read when it changes
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Refresh an index at most this often
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub index_ttl: String,
    /// List every chart's versions again at least this often (refreshes in between list only changed charts)
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub full_refresh: String,
    /// Serve the last good index this long while refreshing it fails, then answer 503
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub max_stale: String,
    /// Where downloaded packages are kept (default: ccr/serve in Helm's cache directory)
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Bound of the package cache; least recently used packages go first
    #[arg(long, value_name = "SIZE", default_value = "1GiB")]
    pub cache_size: String,
    /// Serve .prov files without --htpasswd authentication (Helm 4 fetches them without the repository's credentials)
    #[arg(long)]
    pub public_provenance: bool,
    /// How long requests in flight may take to finish after SIGTERM or SIGINT
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub grace_period: String,
    /// Request log lines on stderr: text or json
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub log_format: LogFormat,
}

/// `serve --log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    #[arg(id = "getter_cert_file", value_name = "CERT")]
    pub cert_file: String,
    #[arg(id = "getter_key_file", value_name = "KEY")]
    pub key_file: String,
    // Not `ca_file`: that id is the global --ca-file (a PathBuf); sharing it panics in clap.
    #[arg(id = "getter_ca_file", value_name = "CA")]
    pub ca_file: String,
    pub url: String,
}

/// What to print instead of running a command.
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
    Cli::try_parse_from(&args).map_err(|e| usage_of(e, &args))
}

fn usage_of(e: clap::Error, args: &[OsString]) -> Usage {
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
            let (message, mut tip) = condense(&text);
            let subcommand = subcommand_of(args);
            if kind == ErrorKind::MissingRequiredArgument && subcommand.as_deref() == Some("push") {
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

/// The (visible) subcommand named on the command line, skipping global flags and their values.
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
    let known: Vec<&str> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name())
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
        return known.contains(&a.as_ref()).then(|| a.to_string());
    }
    None
}

/// A flag as shell completion sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagInfo {
    /// `--output`.
    pub long: String,
    /// `-o`.
    pub short: Option<String>,
    pub takes_value: bool,
}

/// The visible subcommands, in the order help lists them.
pub fn subcommands() -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

/// The visible flags of a subcommand, global flags included; None for an unknown one.
pub fn flags_of(subcommand: &str) -> Option<Vec<FlagInfo>> {
    let mut cmd = Cli::command();
    cmd.build();
    let sub = cmd
        .get_subcommands()
        .find(|c| c.get_name() == subcommand && !c.is_hide_set())?;
    // `version` takes none of the global flags (clap accepts them everywhere; its help and
    // completion list only what applies).
    let globals_apply = subcommand != "version";
    Some(
        sub.get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_positional())
            .filter(|a| globals_apply || !a.is_global_set() || a.get_id() == "help")
            .filter_map(|a| {
                Some(FlagInfo {
                    long: format!("--{}", a.get_long()?),
                    short: a.get_short().map(|c| format!("-{c}")),
                    takes_value: a.get_action().takes_values(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(args: &[&str]) -> (String, Option<String>, Option<String>) {
        let mut v = vec!["helm-ccr"];
        v.extend_from_slice(args);
        match parse(v) {
            Err(Usage::Error {
                message,
                tip,
                subcommand,
            }) => (message, tip, subcommand),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn completion_sees_flags_with_the_global_ones() {
        let push = flags_of("push").unwrap();
        let out = push.iter().find(|f| f.long == "--output").unwrap();
        assert_eq!(out.short.as_deref(), Some("-o"));
        assert!(out.takes_value);
        assert!(push.iter().any(|f| f.long == "--region" && f.takes_value));
        assert!(push.iter().any(|f| f.long == "--force" && !f.takes_value));
        assert!(flags_of("download").is_none());
        assert!(subcommands().contains(&"env".to_string()));
        assert!(subcommands().contains(&"help".to_string()));
        assert!(!subcommands().contains(&"download".to_string()));
    }

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn push_takes_charts_then_the_repository() {
        let cli = parse(["helm-ccr", "push", "a", "b", "r"]).unwrap();
        let Command::Push(p) = cli.command else {
            panic!()
        };
        assert_eq!(p.charts, ["a", "b"]);
        assert_eq!(p.repo, "r");
    }

    #[test]
    fn missing_arguments_are_named() {
        let (m, _, sub) = err(&["push"]);
        assert!(m.contains("<CHART>...") && m.contains("<REPO>"), "{m}");
        assert_eq!(sub.as_deref(), Some("push"));
        let (m, tip, _) = err(&["push", "./x"]);
        assert!(m.contains("<CHART>..."), "{m}");
        assert!(tip.unwrap().contains("CHART... REPO"));
    }

    #[test]
    fn tips_and_possible_values_survive() {
        let (m, tip, sub) = err(&["psh"]);
        assert!(m.contains("'psh'"), "{m}");
        assert!(tip.unwrap().contains("'push'"));
        assert_eq!(sub, None);
        let (m, _, sub) = err(&["--region", "bj", "pull", "r/c", "-o", "xml"]);
        assert!(m.contains("text, json, yaml"), "{m}");
        assert_eq!(sub.as_deref(), Some("pull"));
    }
}
