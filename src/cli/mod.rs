//! The command line, parsed by clap and turned once into plain settings. Nothing else in the
//! crate knows clap: [`parse`] hands back either the parsed command line or a [`Usage`] saying
//! what to print.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

const ROOT_EXAMPLES: &str = "\
Examples:
  helm ccr push ./mychart myccr                         package and upload a chart
  helm ccr push charts/*/ myccr -o json                  the monorepo pipeline (re-runs are safe)
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
  helm ccr push charts/*/ myccr -o json     (CI: every chart; identical ones are unchanged)";

const PULL_EXAMPLES: &str = "\
Examples:
  helm ccr pull myccr/mychart
  helm ccr pull myccr/mychart --version '^1.2' -d ./vendor
  helm ccr pull myccr/mychart --version 1.2.3 --untar -o json
  helm ccr pull myccr --all -d ./export        (air gap: every version of every chart)";

const COPY_EXAMPLES: &str = "\
Examples:
  helm ccr copy staging/web prod                         the latest stable version of web
  helm ccr copy staging/web staging/api prod --version '^1.2'
  helm ccr copy ccr://ccr-a1/dev/web ccr://ccr.gz.baidubce.com/ccr-b2/prod --all
  helm ccr copy staging prod --all --dry-run -o json     every version of every chart

SRC and DEST are each a ccr:// URL or a Helm repository name, each with its own credentials
(its repository entry's, else the usual chain). The packages are copied byte for byte, with
their provenance files (.prov). A version the destination holds with the same content is
left unchanged; another chart under the same version is refused unless --force.";

const LS_EXAMPLES: &str = "\
Examples:
  helm ccr ls myccr
  helm ccr ls myccr/mychart --devel
  helm ccr ls ccr://ccr-4k74gw7d/ns-test -o json";

const RM_EXAMPLES: &str = "\
Examples:
  helm ccr rm myccr/mychart --version 1.0.0,1.0.1
  helm ccr rm myccr/mychart --version 1.0.0 --dry-run
  helm ccr rm myccr/old-chart myccr/other --all
  helm ccr rm myccr/mychart --keep 5 --dry-run     keep the newest 5 (and 5 pre-releases)
  helm ccr rm myccr --older-than 90d               every chart: what is over 90 days old
  helm ccr rm myccr --keep 3 --older-than 30d      only what both select";

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
  [COMMAND]    push, pull, copy, mirror, ls (or list), rm (or delete), env, serve, version:
               the command's help
  environment  the environment variables helm-ccr reads

Flags:
  -h, --help  Print help

Examples:
  helm ccr help
  helm ccr help push
  helm ccr help environment
";

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
    /// Copy chart versions between repositories: SRC/CHART... DEST, or SRC DEST --all
    #[command(after_help = COPY_EXAMPLES, next_help_heading = "Flags")]
    Copy(CopyArgs),
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
    /// Serve CCR repositories over HTTP as plain Helm repositories: REPO | --repo NAME=REPO...
    #[command(after_help = SERVE_EXAMPLES, next_help_heading = "Flags")]
    Serve(ServeArgs),
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
            Command::Copy(_) => "copy",
            Command::Ls(_) => "ls",
            Command::Rm(_) => "rm",
            Command::Mirror(_) => "mirror",
            Command::Env(_) => "env",
            Command::Version => "version",
            Command::Serve(_) => "serve",
            Command::Help(_) => "help",
            Command::Download(_) => "download",
        }
    }

    /// Whether the command makes temporary files (packages, downloads, unpacking), which a
    /// signal must clean up. The others skip that setup: `version` stays instant.
    pub fn makes_temporary_files(&self) -> bool {
        matches!(
            self,
            Command::Push(_)
                | Command::Pull(_)
                | Command::Copy(_)
                | Command::Mirror(_)
                | Command::Download(_)
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
    /// Replace a version that already exists with different content
    #[arg(long, conflicts_with = "skip_existing")]
    pub force: bool,
    /// Keep a version that already exists with different content (a warning says what differs)
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
    /// The chart: REPO/CHART (with --all: REPO, or REPO/CHART)
    #[arg(value_name = "REPO/CHART", help_heading = "Arguments")]
    pub chart: String,
    /// Write every version (and its .prov) of every chart of REPO, or of REPO/CHART, into --destination
    #[arg(long, conflicts_with_all = ["version", "devel", "untar", "verify"])]
    pub all: bool,
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
pub struct CopyArgs {
    /// The charts to copy: SRC/CHART..., or SRC alone with --all
    #[arg(
        required = true,
        num_args = 1..,
        value_name = "SRC/CHART",
        help_heading = "Arguments",
        display_order = 1
    )]
    pub sources: Vec<String>,
    /// The repository to copy to: ccr://INSTANCE_ID/NAMESPACE or a `helm repo add`ed name
    #[arg(
        required = true,
        value_name = "DEST",
        help_heading = "Arguments",
        display_order = 2
    )]
    pub dest: String,
    /// Exact version or constraint (e.g. ^1.2, ~1.2.3); default: the latest stable
    #[arg(long, value_name = "CONSTRAINT")]
    pub version: Option<String>,
    /// Consider pre-release versions too
    #[arg(long)]
    pub devel: bool,
    /// Copy every version (of the charts named, or of every chart of SRC)
    #[arg(long)]
    pub all: bool,
    /// Replace a version the destination holds with another chart
    #[arg(long)]
    pub force: bool,
    /// Print what would be copied and copy nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the results
    #[arg(short, long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: ResultFormat,
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
    /// Charts to delete from: REPO/CHART..., or REPO (every chart) with --keep/--older-than
    #[arg(
        required = true,
        value_name = "REPO[/CHART]",
        help_heading = "Arguments"
    )]
    pub charts: Vec<String>,
    /// Versions to delete (repeat the flag or separate with commas)
    #[arg(
        long = "version",
        value_name = "VERSION",
        value_delimiter = ',',
        conflicts_with_all = ["all", "keep", "older_than"]
    )]
    pub versions: Vec<String>,
    /// Keep the newest N versions of each chart, delete the rest (pre-releases counted apart)
    #[arg(long, value_name = "N", conflicts_with = "all")]
    pub keep: Option<usize>,
    /// Delete the versions created more than DURATION ago (e.g. 30d, 12w, 36h)
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// With --keep: count pre-releases with the stable versions
    #[arg(long, requires = "keep")]
    pub devel: bool,
    /// Delete the whole charts, every version (with --older-than: the last version too)
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
    /// Accept `Authorization: Bearer TOKEN` with a token of this file (one a line, '#' comments); re-read when it changes. With --htpasswd, either is accepted
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Sign upstream requests with the keys of this file, re-read when it changes (a rotating Secret): BCE_ACCESS_KEY_ID=..., BCE_SECRET_ACCESS_KEY=..., BCE_SECURITY_TOKEN=... lines. They replace the credential chain's for every repository
    #[arg(long, value_name = "FILE")]
    pub sts_credentials_file: Option<PathBuf>,
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
    /// Serve .prov files without --htpasswd/--token-file authentication (Helm 4 fetches them without the repository's credentials)
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
mod help;
mod parse;
#[cfg(test)]
mod tests;

pub use help::{canonical_subcommand, environment_help, flags_of, subcommands, FlagInfo};
pub use parse::{parse, subcommand_of, take_debug, Usage};
