//! Reading a finished run: its output as text, and its one `Error:` line.

use std::process::Output;

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure with the given exit code and exactly one `Error:` line naming `needle`.
pub fn assert_one_error(out: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(errors.len(), 1, "one Error: line expected, got: {err}");
    assert!(
        errors[0].contains(needle),
        "error line {:?} should mention {needle:?}",
        errors[0]
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The one `Error:` line of a failed run (asserting there is exactly one).
pub fn error_line(out: &Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(lines.len(), 1, "one Error: line expected: {err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

/// An index's text without its `generated:` time (the one line that differs between builds).
pub fn without_time(text: &[u8]) -> String {
    String::from_utf8(text.to_vec())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("generated:"))
        .collect::<Vec<_>>()
        .join("\n")
}
