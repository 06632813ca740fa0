//! Results of `push`, `pull` and `rm`, one [`Record`] per chart (per version for `rm`): printed
//! at once as the human line, or collected and printed once, in the order the charts were
//! named, as a JSON or YAML list (`-o json|yaml`). The schema is documented in README.md
//! ("Machine-readable results").

use std::sync::Mutex;

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::ui::output::{self, Format, Output};

/// What happened to a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    #[serde(rename = "pushed")]
    Pushed,
    /// `--force` replaced a version that was there.
    #[serde(rename = "replaced")]
    Replaced,
    /// `--skip-existing` found the version there and changed nothing.
    #[serde(rename = "skipped")]
    Skipped,
    /// The registry holds the same chart (same files, same content): nothing was uploaded.
    #[serde(rename = "unchanged")]
    Unchanged,
    #[serde(rename = "would push")]
    WouldPush,
    #[serde(rename = "would replace")]
    WouldReplace,
    /// `--dry-run`: the chart changed without a version bump, so the push would fail; the
    /// command exits 1 as the push would.
    #[serde(rename = "would fail")]
    WouldFail,
    #[serde(rename = "pulled")]
    Pulled,
    #[serde(rename = "deleted")]
    Deleted,
    #[serde(rename = "would delete")]
    WouldDelete,
    #[serde(rename = "failed")]
    Failed,
    /// `copy`: the version was copied to the destination.
    #[serde(rename = "copied")]
    Copied,
    /// `copy --dry-run`: the version would be copied.
    #[serde(rename = "would copy")]
    WouldCopy,
    /// `mirror`: the package was copied from the source.
    #[serde(rename = "mirrored")]
    Mirrored,
    /// `mirror --dry-run`: it would be.
    #[serde(rename = "would mirror")]
    WouldMirror,
}

/// One chart's result. Absent fields are left out of JSON and YAML.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The repository as the user named it (`myccr` or the `ccr://` URL).
    pub repository: String,
    /// `sha256:HEX` of the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Bytes of the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub action: Action,
    /// What the user named: the chart directory or package (push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where the chart was written (pull).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why it failed (a chart of a multi-chart push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The line a person reads (`Pushed web 1.0.0 to myccr (sha256:...)`); empty: none.
    #[serde(skip)]
    pub line: String,
}

impl Record {
    /// A record with only the repository and the action set.
    pub fn new(repository: &str, action: Action) -> Record {
        Record {
            name: None,
            version: None,
            repository: repository.to_string(),
            digest: None,
            size: None,
            action,
            source: None,
            path: None,
            error: None,
            line: String::new(),
        }
    }
}

/// `err` as one line that names `source` once, first: `./x: no such chart directory`. A message
/// that already starts with `source` is kept; a leading `chart "LABEL": ` naming the same
/// chart is dropped.
pub fn error_line(source: &str, err: &anyhow::Error) -> String {
    let msg = one_line(&format!("{err:#}"));
    if msg.starts_with(source) {
        return msg;
    }
    let label = std::path::Path::new(source.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest = msg
        .strip_prefix(&format!("chart {label:?}: "))
        .unwrap_or(&msg);
    format!("{source}: {rest}")
}

/// Joins a multi-line message into one line.
pub fn one_line(s: &str) -> String {
    // Whatever a registry put in the message, no control character reaches the terminal.
    let joined = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    output::printable(&joined).into_owned()
}

/// Prints records as they come (text) or once at the end (JSON, YAML). Shared by the threads
/// of a multi-chart push: they only hand over results.
pub struct Reporter {
    format: Format,
    out: Output,
    /// Text lines are what the command exists to print (`pull`'s path) rather than status.
    lines_are_results: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    records: Vec<(usize, Record)>,
    failed: usize,
    /// `--dry-run` records of pushes that would fail.
    would_fail: usize,
    total: usize,
}

impl Reporter {
    pub fn new(format: Format, out: Output, lines_are_results: bool) -> Reporter {
        Reporter {
            format,
            out,
            lines_are_results,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The result of the `index`th chart named: its line is printed now in text form.
    pub fn add(&self, index: usize, record: Record) {
        let mut st = self.state();
        st.total += 1;
        match record.action {
            Action::Failed => st.failed += 1,
            Action::WouldFail => st.would_fail += 1,
            _ => {}
        }
        if self.format == Format::Text && !record.line.is_empty() {
            if self.lines_are_results {
                self.out.result(&record.line);
            } else {
                self.out.info(&record.line);
            }
        }
        st.records.push((index, record));
    }

    /// The `index`th chart (`source` as the user named it) failed: `Error: SOURCE: ...` now,
    /// on stderr, whatever the format; a `failed` record for JSON and YAML.
    pub fn fail(&self, index: usize, source: &str, repository: &str, err: &anyhow::Error) {
        let line = error_line(source, err);
        // Held while printing so that concurrent lines never interleave.
        let mut st = self.state();
        eprintln!("Error: {line}");
        st.total += 1;
        st.failed += 1;
        let mut r = Record::new(repository, Action::Failed);
        r.source = Some(source.to_string());
        r.error = Some(
            line.strip_prefix(&format!("{source}: "))
                .unwrap_or(&line)
                .to_string(),
        );
        st.records.push((index, r));
    }

    /// Prints the list (JSON, YAML), then fails with one summary line if any chart failed:
    /// `2 of 5 charts failed`.
    pub fn finish(self) -> Result<()> {
        let st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut records = st.records;
        records.sort_by_key(|(i, _)| *i);
        if self.format != Format::Text {
            let list: Vec<&Record> = records.iter().map(|(_, r)| r).collect();
            self.out.result(&output::render(self.format, &list)?);
        }
        if st.failed > 0 {
            return Err(anyhow!("{} of {} charts failed", st.failed, st.total));
        }
        if st.would_fail > 0 {
            return Err(anyhow!(
                "{} of {} charts would fail (changed without a version bump)",
                st.would_fail,
                st.total
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_chart_once() {
        let e = anyhow!("./x: no such chart directory");
        assert_eq!(error_line("./x", &e), "./x: no such chart directory");
        let e = anyhow!("chart \"web\": Chart.yaml is missing");
        assert_eq!(
            error_line("charts/web/", &e),
            "charts/web/: Chart.yaml is missing"
        );
        let e = anyhow!("web 1.0.0 already exists in r").context("ignored? no: outer");
        assert_eq!(
            error_line("web.tgz", &e),
            "web.tgz: ignored? no: outer: web 1.0.0 already exists in r"
        );
    }

    #[test]
    fn actions_serialise_as_documented() {
        let mut r = Record::new("myccr", Action::WouldPush);
        r.name = Some("web".into());
        r.line = "not in JSON".into();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "web", "repository": "myccr", "action": "would push"})
        );
    }
}
