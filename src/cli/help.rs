//! Help beyond clap's: `helm ccr help [COMMAND | environment]`, and the command line described
//! for completion (subcommands and their flags, with their help text).

use clap::CommandFactory;

use super::Cli;

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
