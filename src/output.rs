//! What the user sees: result lines on stdout, warnings and debug lines on stderr, progress
//! bars only on a terminal. Nothing here ever prints a secret: callers pass redacted text.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

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
}
