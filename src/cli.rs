//! The command line, parsed by clap and turned once into plain settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Push, pull, list and delete Helm charts in Baidu AI Cloud CCR Enterprise Edition.
///
/// REPO is ccr://INSTANCE_ID/NAMESPACE, ccr://API_HOST/INSTANCE_ID/NAMESPACE, or the name of a
/// Helm repository added with `helm repo add NAME ccr://...`.
#[derive(Debug, Parser)]
#[command(
    name = "helm ccr",
    bin_name = "helm ccr",
    disable_version_flag = true,
    disable_help_subcommand = true,
    after_help = "Credentials come from the Helm repository entry (--username/--password of `helm repo add`), \
BCE_ACCESS_KEY_ID/BCE_SECRET_ACCESS_KEY/BCE_SECURITY_TOKEN, ~/.bce/config.json, or ~/.go-bcecli/credentials.\n\
Debug output: helm --debug ccr ... (HELM_DEBUG=true)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
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
pub enum Command {
    /// Package (if needed) and upload charts: CHART_DIR|CHART.tgz... REPO
    Push(PushArgs),
    /// Download a chart: REPO/CHART
    Pull(PullArgs),
    /// List the charts of a repository, or the versions of a chart
    Ls(LsArgs),
    /// Delete chart versions, or whole charts with --all
    Rm(RmArgs),
    /// Print the plugin's version
    Version,
    /// Helm downloader entry point: CERT KEY CA URL
    #[command(hide = true)]
    Download(DownloadArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "helm ccr push [OPTIONS] <CHART_DIR|CHART.tgz>... <REPO>")]
pub struct PushArgs {
    /// Chart directories or packaged .tgz files, then the repository
    #[arg(required = true, num_args = 2.., value_name = "CHART|REPO")]
    pub args: Vec<String>,
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
    #[arg(value_name = "REPO/CHART")]
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
    #[command(flatten)]
    pub verifying: VerifyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// REPO, or REPO/CHART for the versions of a chart
    #[arg(value_name = "REPO[/CHART]")]
    pub target: String,
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Format,
    /// Show pre-release versions too
    #[arg(long)]
    pub devel: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Charts to delete from: REPO/CHART...
    #[arg(required = true, value_name = "REPO/CHART")]
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
