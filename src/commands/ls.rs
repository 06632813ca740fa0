//! `helm ccr ls REPO | REPO/CHART`: charts of a repository, or versions of a chart.

use anyhow::Result;
use serde_json::Value;

use crate::cli::Format;
use crate::repo_ref::{self, CcrUrl, RepoArg};
use crate::settings::{self, Global};
use crate::version;

/// What `ls` was asked for.
pub struct LsSettings {
    pub target: String,
    pub format: Format,
    pub devel: bool,
}

/// Splits `REPO` from `REPO/CHART`.
fn parse_target(target: &str) -> Result<(RepoArg, Option<String>)> {
    if target.starts_with("ccr://") {
        let url = CcrUrl::parse(target)?;
        if url.rest.is_some() {
            let (repo, chart) = repo_ref::parse_chart_ref(target)?;
            return Ok((repo, Some(chart)));
        }
        return Ok((RepoArg::Url(url), None));
    }
    let trimmed = target.trim_end_matches('/');
    if trimmed.contains('/') {
        let (repo, chart) = repo_ref::parse_chart_ref(trimmed)?;
        return Ok((repo, Some(chart)));
    }
    Ok((repo_ref::parse_repo(trimmed)?, None))
}

pub fn run(s: &LsSettings, global: &Global) -> Result<()> {
    let (repo_arg, chart) = parse_target(&s.target)?;
    let repo = settings::resolve_repo(&repo_arg, &global.env)?;
    let client = settings::connect(&repo.url, repo.credentials.clone(), global)?;
    let out = global.output();
    match chart {
        None => {
            let charts = client.list_charts()?;
            let text = match s.format {
                Format::Table => {
                    let mut rows = vec![vec![
                        "NAME".to_string(),
                        "LATEST VERSION".to_string(),
                        "VERSIONS".to_string(),
                        "UPDATED".to_string(),
                    ]];
                    for c in &charts {
                        rows.push(vec![
                            c.name.clone(),
                            c.latest_version.clone().unwrap_or_default(),
                            c.total_versions.map(|n| n.to_string()).unwrap_or_default(),
                            c.updated.clone().or(c.created.clone()).unwrap_or_default(),
                        ]);
                    }
                    table(&rows)
                }
                f => render(
                    f,
                    charts
                        .iter()
                        .map(crate::api::HelmChart::raw_value)
                        .collect(),
                )?,
            };
            out.result(&text);
        }
        Some(chart) => {
            let mut versions = client.existing_versions(&chart, &repo.display)?;
            version::sort_newest_first(&mut versions);
            versions.retain(|v| s.devel || !version::is_prerelease(&v.version));
            let text = match s.format {
                Format::Table => {
                    let mut rows = vec![vec![
                        "NAME".to_string(),
                        "VERSION".to_string(),
                        "APP VERSION".to_string(),
                        "CREATED".to_string(),
                        "DESCRIPTION".to_string(),
                    ]];
                    for v in &versions {
                        rows.push(vec![
                            v.name.clone(),
                            v.version.clone(),
                            v.app_version.clone().unwrap_or_default(),
                            v.created.clone().unwrap_or_default(),
                            v.description.clone().unwrap_or_default(),
                        ]);
                    }
                    table(&rows)
                }
                f => render(
                    f,
                    versions
                        .iter()
                        .map(crate::api::HelmChartVersion::raw_value)
                        .collect(),
                )?,
            };
            out.result(&text);
        }
    }
    Ok(())
}

fn render(format: Format, items: Vec<Value>) -> Result<String> {
    let value = Value::Array(items);
    Ok(match format {
        // JSON escapes C0 controls itself; C1 controls (a terminal may act on them) are escaped
        // here, which only ever occur inside strings.
        Format::Json => serde_json::to_string_pretty(&value)?
            .chars()
            .map(|c| {
                if c.is_control() && c != '\n' {
                    format!("\\u{:04x}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
        _ => serde_saphyr::to_string(&value)
            .map_err(|e| anyhow::anyhow!("writing YAML: {e}"))?
            .trim_end()
            .to_string(),
    })
}

/// Aligned columns like `helm search`: each column padded to its widest cell plus a tab stop
/// of spaces; no trailing blanks; control characters from the registry shown as spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let clean = |s: &str| -> String { crate::output::printable(s).into_owned() };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = Vec::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count() + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push(line.trim_end().to_string());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(&[
            vec!["NAME".into(), "VERSION".into()],
            vec!["a-long-name".into(), "1.0.0".into()],
            vec!["b".into(), "".into()],
        ]);
        assert_eq!(t, "NAME         VERSION\na-long-name  1.0.0\nb");
    }

    #[test]
    fn targets() {
        assert!(matches!(
            parse_target("r").unwrap(),
            (RepoArg::Named(_), None)
        ));
        assert!(matches!(
            parse_target("r/").unwrap(),
            (RepoArg::Named(_), None)
        ));
        assert_eq!(parse_target("r/c").unwrap().1.as_deref(), Some("c"));
        assert_eq!(parse_target("ccr://i/n/c").unwrap().1.as_deref(), Some("c"));
        assert!(parse_target("ccr://i/n").unwrap().1.is_none());
        assert!(parse_target("r/c/d").is_err());
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;

    #[test]
    fn machine_output_escapes_control_characters() {
        let v = serde_json::json!([{"name": "a\u{1b}[2J\u{7}b\u{9b}c\r\nd"}]);
        for f in [Format::Json, Format::Yaml] {
            let text = render(f, v.as_array().unwrap().clone()).unwrap();
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
