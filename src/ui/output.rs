//! What the user sees: result lines on stdout, warnings and debug lines on stderr, progress
//! bars only on a terminal. Nothing here ever prints a secret: callers pass redacted text.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// How a command prints its results: for people (text lines; `ls`'s table) or for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Yaml,
}

/// `value` as pretty JSON or as YAML (no trailing newline); `Text` has no generic form and
/// gives JSON.
pub fn render<T: Serialize>(format: Format, value: &T) -> Result<String> {
    Ok(match format {
        Format::Yaml => serde_saphyr::to_string(value)
            .map_err(|e| anyhow::anyhow!("writing YAML: {e}"))?
            .trim_end()
            .to_string(),
        // JSON escapes C0 controls itself; C1 controls (a terminal may act on them) are
        // escaped here, where they can only occur inside strings.
        Format::Json | Format::Text => {
            let json = serde_json::to_string_pretty(value)?;
            let mut out = String::with_capacity(json.len());
            for c in json.chars() {
                if c.is_control() && c != '\n' {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push(c);
                }
            }
            out
        }
    })
}

/// Output policy of one command run.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub quiet: bool,
    pub debug: bool,
}

impl Output {
    pub fn new(quiet: bool, debug: bool) -> Output {
        Output { quiet, debug }
    }

    /// A status line (`Pushed ...`); `--quiet` drops it.
    pub fn info(&self, line: &str) {
        if !self.quiet {
            println_flush(line);
        }
    }

    /// What the command exists to print (`ls` output, the pulled path); always printed.
    pub fn result(&self, text: &str) {
        println_flush(text);
    }

    /// Something worth knowing about the result (`Note: ...` on stderr); `--quiet` drops it.
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("Note: {msg}");
        }
    }

    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("Warning: {}", printable(msg));
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            eprintln!("[debug] {}", printable(msg));
        }
    }

    /// Progress is shown on a terminal only, and never with `--quiet`.
    pub fn shows_progress(&self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }

    /// A byte progress bar for a transfer of `len` bytes (`Uploading mychart-1.0.0.tgz [===>  ]
    /// ...`), or None off a terminal, when quiet, or for small transfers. The caller clears it
    /// before the result line.
    pub fn transfer_bar(&self, len: u64, activity: Activity, what: &str) -> Option<ProgressBar> {
        if len < 1 << 20 || !self.shows_progress() {
            return None;
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(progress_message(activity, what));
        Some(bar)
    }

    /// A spinner saying what is going on (`Packaging ./big (1200 files, 48 MiB)`), or None off
    /// a terminal or when quiet. The caller clears it.
    pub fn spinner(&self, activity: Activity, what: &str) -> Option<ProgressBar> {
        if !self.shows_progress() {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(progress_message(activity, what));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    }
}

/// What a progress bar or spinner says the command is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Uploading,
    Downloading,
    Packaging,
}

/// The message of a progress bar: `Uploading mychart-1.0.0.tgz`.
pub fn progress_message(activity: Activity, what: &str) -> String {
    let verb = match activity {
        Activity::Uploading => "Uploading",
        Activity::Downloading => "Downloading",
        Activity::Packaging => "Packaging",
    };
    format!("{verb} {what}")
}

/// Text from outside (a registry's error code, message, request id, chart names) made safe for
/// a terminal and a log line: control characters (escape sequences, line breaks, NUL, DEL, C1)
/// and the invisible Unicode marks that reorder or hide text become spaces.
pub fn printable(s: &str) -> Cow<'_, str> {
    let bad = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if s.chars().any(bad) {
        Cow::Owned(s.chars().map(|c| if bad(c) { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(s)
    }
}

fn println_flush(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not worth a panic.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_neutralises_controls() {
        assert_eq!(printable("plain ä 中"), "plain ä 中");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\x1b[31mred\r\nb\u{7}\u{9b}c\u{202e}d\0"),
            "a [31mred  b  c d "
        );
    }

    #[test]
    fn progress_says_what_it_is_doing() {
        assert_eq!(
            progress_message(Activity::Uploading, "a-1.0.0.tgz"),
            "Uploading a-1.0.0.tgz"
        );
        assert_eq!(
            progress_message(Activity::Downloading, "a-1.0.0.tgz"),
            "Downloading a-1.0.0.tgz"
        );
        assert_eq!(
            progress_message(Activity::Packaging, "./big (3 files, 12 MiB)"),
            "Packaging ./big (3 files, 12 MiB)"
        );
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn machine_output_escapes_control_characters() {
        let v = serde_json::json!([{"name": "a\u{1b}[2J\u{7}b\u{9b}c\r\nd"}]);
        for f in [Format::Json, Format::Yaml] {
            let text = render(f, &v).unwrap();
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{f:?}: {text:?}"
            );
            let back: Value = match f {
                Format::Json => serde_json::from_str(&text).unwrap(),
                _ => serde_saphyr::from_str(&text).unwrap(),
            };
            assert_eq!(back, v, "{f:?}: the same data");
        }
    }
}
