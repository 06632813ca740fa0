//! What the user sees: result lines on stdout, warnings and debug lines on stderr, progress
//! bars only on a terminal. Nothing here ever prints a secret: callers pass redacted text.

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
        Format::Json | Format::Text => serde_json::to_string_pretty(value)?,
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
            eprintln!("Warning: {msg}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            eprintln!("[debug] {msg}");
        }
    }

    /// A byte progress bar for a transfer of `len` bytes, or None off a terminal, when quiet,
    /// or for small transfers.
    pub fn transfer_bar(&self, len: u64, label: &str) -> Option<ProgressBar> {
        if self.quiet || len < 1 << 20 || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        Some(bar)
    }
}

fn println_flush(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not worth a panic.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
