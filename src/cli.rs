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
Debug output: --debug anywhere (helm --debug ccr ..., helm ccr ... --debug; HELM_DEBUG=true).
Run 'helm ccr help COMMAND' (or 'helm ccr COMMAND --help') for a command's flags and examples,
'helm ccr help environment' for the environment variables helm-ccr reads.";

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

const MIRROR_EXAMPLES: &str = "\
Examples:
  helm ccr mirror https://charts.example.com myccr
  echo \"$PASSWORD\" | helm ccr mirror https://charts.example.com myccr --username ci --password-stdin
  helm ccr mirror bitnami myccr --chart nginx --version '>=15.0.0' --dry-run
  helm ccr mirror ./export ccr://ccr-4k74gw7d/ns-prod      (a directory of .tgz: the air-gap import)

The source's TLS settings are --ca-file, --cert-file/--key-file and --insecure-skip-tls-verify
(as helm repo add takes them), or its repository entry's; the destination's credentials come
from the usual chain.";

const HELP_TEMPLATE: &str = "\
{about-with-newline}
Usage: {usage}

Arguments:
  [COMMAND]    push, pull, ls (or list), rm (or delete), env, version: the command's help
  environment  the environment variables helm-ccr reads

Flags:
  -h, --help  Print help

Examples:
  helm ccr help
  helm ccr help push
  helm ccr help environment
";

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
    disable_help_subcommand = true,
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
    /// Identify to the registry with this PEM client certificate (with --key-file)
    #[arg(long, global = true, value_name = "FILE", requires = "key_file")]
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of --cert-file (RSA, ECDSA or Ed25519; PKCS#8 or traditional)
    #[arg(long, global = true, value_name = "FILE", requires = "cert_file")]
    pub key_file: Option<PathBuf>,
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
    #[command(
        visible_alias = "list",
        after_help = LS_EXAMPLES,
        next_help_heading = "Flags"
    )]
    Ls(LsArgs),
    /// Delete chart versions, or whole charts with --all
    #[command(
        visible_alias = "delete",
        after_help = RM_EXAMPLES,
        next_help_heading = "Flags"
    )]
    Rm(RmArgs),
    /// Copy every package of a Helm chart repository or a directory into CCR: SOURCE DEST
    #[command(after_help = MIRROR_EXAMPLES, next_help_heading = "Flags")]
    Mirror(MirrorArgs),
    /// Show the endpoint, region, instance, namespace and credentials in use (--check: test them)
    #[command(after_help = ENV_EXAMPLES, next_help_heading = "Flags")]
    Env(EnvArgs),
    /// Print the plugin's version
    #[command(help_template = VERSION_TEMPLATE, override_usage = "helm ccr version")]
    Version,
    /// Print help: of a command, or of the environment variables (help environment)
    #[command(
        help_template = HELP_TEMPLATE,
        override_usage = "helm ccr help [COMMAND | environment]"
    )]
    Help(HelpArgs),
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
            Command::Mirror(_) => "mirror",
            Command::Env(_) => "env",
            Command::Version => "version",
            Command::Help(_) => "help",
            Command::Download(_) => "download",
        }
    }

    /// Whether the command makes temporary files (packages, downloads, unpacking), which a
    /// signal must clean up. The others skip that setup: `version` stays instant.
    pub fn makes_temporary_files(&self) -> bool {
        matches!(
            self,
            Command::Push(_) | Command::Pull(_) | Command::Download(_) | Command::Mirror(_)
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
pub struct MirrorArgs {
    /// A Helm chart repository (https://... with its index.yaml), a Helm repository name, or a
    /// directory of .tgz (+ .prov) files
    #[arg(value_name = "SOURCE", help_heading = "Arguments", display_order = 1)]
    pub source: String,
    /// The repository: ccr://INSTANCE_ID/NAMESPACE or a `helm repo add`ed name
    #[arg(value_name = "DEST", help_heading = "Arguments", display_order = 2)]
    pub dest: String,
    /// Only this chart (repeat the flag for several)
    #[arg(long = "chart", value_name = "NAME")]
    pub charts: Vec<String>,
    /// Only versions matching this constraint (e.g. ^1.2, ">=1.0 <2.0")
    #[arg(long, value_name = "CONSTRAINT")]
    pub version: Option<String>,
    /// With --version, let pre-release versions match too
    #[arg(long)]
    pub devel: bool,
    /// Print what would be mirrored and upload nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The source's basic auth user (with --password-stdin)
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the source's basic auth password from standard input
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
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
pub struct HelpArgs {
    /// A command, or `environment`
    #[arg(value_name = "COMMAND")]
    pub topic: Option<String>,
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

/// Variables helm-ccr reads that are not its own (`HELM_CCR_*`): (names, what they do).
const OTHER_VARIABLES: &[(&str, &[(&str, &str)])] = &[
    (
        "Credentials and region (as the BCE CLI reads them)",
        &[
            ("BCE_ACCESS_KEY_ID", "The access key id; with BCE_SECRET_ACCESS_KEY, the credentials when the Helm repository entry has none."),
            ("BCE_SECRET_ACCESS_KEY", "The secret access key that goes with BCE_ACCESS_KEY_ID."),
            ("BCE_SECURITY_TOKEN", "The STS security token of temporary credentials."),
            ("BCE_PROFILE", "The profile of ~/.bce/config.json to use (default: its current one, else default)."),
            ("BCE_REGION", "The region when --region names none (bj, bd, gz, su, fwh, hkg, cd, yq)."),
        ],
    ),
    (
        "Helm's (Helm sets most of them when it runs the plugin)",
        &[
            ("HELM_DEBUG", "true: log every request, the signature and token redacted (helm --debug, or --debug anywhere on the command line)."),
            ("HELM_BIN", "The helm that push --dependency-update runs (default: helm)."),
            ("HELM_REPOSITORY_CONFIG", "Helm's repositories.yaml, where repository names are looked up (default: HELM_CONFIG_HOME/repositories.yaml, then XDG_CONFIG_HOME/helm, then ~/.config/helm)."),
            ("HELM_PLUGIN_USERNAME, HELM_PLUGIN_PASSWORD", "The repository entry's credentials, which Helm hands the ccr:// getter."),
            ("HELM_KEY_PASSPHRASE", "The signing key's passphrase for push --sign (HELM_CCR_GPG_PASSPHRASE_FILE is safer)."),
        ],
    ),
    (
        "Others",
        &[
            ("SOURCE_DATE_EPOCH", "Seconds since 1970: the file times of packages push makes, for byte-identical packages."),
            ("GNUPGHOME", "The GnuPG home of push --sign and pull --verify (default: ~/.gnupg)."),
            ("HOME", "Where ~/.bce, ~/.go-bcecli, ~/.gnupg and ~/.config/helm are."),
        ],
    ),
];

/// The text of `helm ccr help environment`: every `HELM_CCR_*` variable (from
/// [`vars::TABLE`](crate::settings::env::vars::TABLE), so that it never drifts from what is
/// read), then the others helm-ccr reads.
pub fn environment_help() -> String {
    let mut out = String::new();
    for line in wrap(
        "The environment variables helm-ccr reads. A flag beats its variable; an empty variable \
         counts as unset; a value that does not parse is refused, naming the variable.",
        100,
    ) {
        out.push_str(&line);
        out.push('\n');
    }
    let mut section = |title: &str, rows: &[(&str, &str)]| {
        out.push_str(&format!("\n{title}:\n"));
        for (name, text) in rows {
            out.push_str(&format!("  {name}\n"));
            for line in wrap(text, 92) {
                out.push_str(&format!("      {line}\n"));
            }
        }
    };
    section("helm-ccr's own", crate::settings::env::vars::TABLE);
    for (title, rows) in OTHER_VARIABLES {
        section(title, rows);
    }
    out.push_str(
        "\nExamples:\n  HELM_CCR_TIMEOUT=5m HELM_CCR_RETRIES=6 helm ccr push ./mychart myccr\n  \
         helm ccr env myccr    shows the endpoint, region and credentials in use, and where each came from\n",
    );
    out
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
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

/// The visible subcommand `name` is, or is an alias of (`list`: `ls`).
pub fn canonical_subcommand(name: &str) -> Option<String> {
    let cmd = Cli::command();
    let found = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .find(|c| c.get_name() == name || c.get_visible_aliases().any(|a| a == name))
        .map(|c| c.get_name().to_string());
    found
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

/// A flag as shell completion sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagInfo {
    /// `--output`.
    pub long: String,
    /// `-o`.
    pub short: Option<String>,
    pub takes_value: bool,
}

/// The visible subcommands, in the order help lists them, each followed by its aliases
/// (`ls`, `list`).
pub fn subcommands() -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.get_subcommands()
        .filter(|c| !c.is_hide_set())
        .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_visible_aliases()))
        .map(str::to_string)
        .collect()
}

/// The visible flags of a subcommand (or alias), global flags included; None for an unknown
/// one.
pub fn flags_of(subcommand: &str) -> Option<Vec<FlagInfo>> {
    let subcommand = canonical_subcommand(subcommand)?;
    let subcommand = subcommand.as_str();
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
        // Charts but no repository: REPO is named, not the charts clap would name.
        for args in [
            &["push", "./x"][..],
            &["push", "-o", "json", "--version", "1.0.0", "./x"],
        ] {
            let (m, tip, _) = err(args);
            assert!(m.contains("missing REPO") && !m.contains("<CHART>"), "{m}");
            assert!(tip.unwrap().contains("CHART... REPO"));
        }
        // A flag's missing companion stays named.
        let (m, _, _) = err(&["push", "./x", "r", "--key", "k"]);
        assert!(m.contains("--sign"), "{m}");
    }

    fn text(args: &[&str]) -> String {
        let mut v = vec!["helm-ccr"];
        v.extend_from_slice(args);
        match parse(v) {
            Err(Usage::Text(t)) => t,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn list_and_delete_are_ls_and_rm() {
        let cli = parse(["helm-ccr", "list", "r"]).unwrap();
        assert!(matches!(cli.command, Command::Ls(_)));
        let cli = parse(["helm-ccr", "-q", "delete", "r/c", "--all"]).unwrap();
        assert!(matches!(cli.command, Command::Rm(_)));
        assert_eq!(text(&["help", "list"]), text(&["ls", "--help"]));
        assert_eq!(text(&["delete", "--help"]), text(&["rm", "--help"]));
        let (_, _, sub) = err(&["list"]);
        assert_eq!(sub.as_deref(), Some("ls"));
        assert_eq!(canonical_subcommand("delete").as_deref(), Some("rm"));
        assert_eq!(flags_of("list"), flags_of("ls"));
        let subs = subcommands();
        let at = |n: &str| subs.iter().position(|s| s == n).unwrap();
        assert_eq!((at("ls") + 1, at("rm") + 1), (at("list"), at("delete")));
    }

    #[test]
    fn help_has_topics_and_its_own_help() {
        assert_eq!(text(&["help"]), text(&["--help"]));
        assert_eq!(text(&["help", "push"]), text(&["push", "--help"]));
        let own = text(&["help", "--help"]);
        assert!(
            own.contains("Usage: helm ccr help [COMMAND | environment]"),
            "{own}"
        );
        assert_eq!(text(&["help", "-h"]), own);
        let env = text(&["help", "environment"]);
        for (name, _) in crate::settings::env::vars::TABLE {
            assert!(env.contains(&format!("\n  {name}\n")), "{name}: {env}");
        }
        for name in ["BCE_ACCESS_KEY_ID", "BCE_REGION", "HELM_DEBUG", "HELM_BIN"] {
            assert!(env.contains(name), "{name}");
        }
        assert!(env.lines().all(|l| l.chars().count() <= 100), "{env}");
        let (m, _, sub) = err(&["help", "nope"]);
        assert!(m.contains("environment"), "{m}");
        assert_eq!(sub.as_deref(), Some("help"));
    }

    #[test]
    fn debug_is_taken_anywhere_before_a_double_dash() {
        let take = |args: &[&str]| {
            let mut v: Vec<OsString> = args.iter().map(OsString::from).collect();
            let on = take_debug(&mut v);
            (
                on,
                v.iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            take(&["b", "ls", "r", "--debug"]),
            (true, vec!["b".into(), "ls".into(), "r".into()])
        );
        assert_eq!(
            take(&["b", "--debug", "ls"]),
            (true, vec!["b".into(), "ls".into()])
        );
        assert_eq!(
            take(&["b", "ls", "--debug=false"]),
            (false, vec!["b".into(), "ls".into()])
        );
        assert!(take(&["b", "ls", "--debug=true"]).0);
        assert_eq!(
            take(&["b", "ls", "--", "--debug"]),
            (
                false,
                vec!["b".into(), "ls".into(), "--".into(), "--debug".into()]
            )
        );
    }

    #[test]
    fn negative_timeouts_are_named() {
        for args in [
            &["ls", "r", "--timeout", "-1s"][..],
            &["--timeout=-1s", "ls", "r"],
            &["ls", "r", "--timeout", "-.5m"],
        ] {
            let (m, tip, sub) = err(args);
            assert!(
                m.contains("cannot be negative") && m.contains("use 0 for no limit"),
                "{m}"
            );
            assert_eq!(tip, None);
            assert_eq!(sub.as_deref(), Some("ls"));
        }
        assert!(parse(["helm-ccr", "ls", "r", "--timeout", "0"]).is_ok());
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
