//! The CCR Helm chart API on top of [`crate::transport`]: the eight endpoints of one
//! namespace and paging here; uploads settled exactly once when an answer is lost, and the
//! replace transaction, in [`upload`]; the one verified download in [`download`].
pub mod model;
pub mod multipart;

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::transport::auth;
use crate::transport::Transport;
use crate::ui::text::suggest_on_not_found;
use model::{HelmChart, HelmChartVersion};

pub mod download;
pub mod upload;

pub use download::{Expected, KeepAt, PartIn, Spool, Verified};
pub use upload::{Upload, UploadOutcome};

/// Page size for list calls (the API's maximum).
const PAGE_SIZE: usize = 100;
/// Pages followed at most, so that a server that never ends its list cannot hang us.
const MAX_PAGES: usize = 10_000;
/// Default for the most entries one listing (or the getter's whole index) takes in: far above
/// any real repository, far below what would strain memory. `HELM_CCR_LIST_LIMIT` changes it.
pub const DEFAULT_LIST_LIMIT: usize = 100_000;

/// The chart API of one CCR namespace.
pub struct Registry {
    transport: Transport,
    instance: String,
    namespace: String,
    list_limit: usize,
}

impl Registry {
    pub fn new(transport: Transport, instance: &str, namespace: &str) -> Registry {
        Registry {
            transport,
            instance: instance.to_string(),
            namespace: namespace.to_string(),
            list_limit: DEFAULT_LIST_LIMIT,
        }
    }

    /// The most entries one listing takes in (see [`DEFAULT_LIST_LIMIT`]).
    pub fn with_list_limit(mut self, limit: usize) -> Registry {
        self.list_limit = limit.max(1);
        self
    }

    pub fn list_limit(&self) -> usize {
        self.list_limit
    }

    /// The transport underneath (retry budget, backoff, output).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// `/v1/instances/{instance}/projects/{namespace}/charts/{extra...}`, each segment encoded.
    fn path(&self, extra: &[&str]) -> Result<String> {
        let mut segs = vec![
            "v1",
            "instances",
            self.instance.as_str(),
            "projects",
            self.namespace.as_str(),
            "charts",
        ];
        segs.extend_from_slice(extra);
        auth::build_path(&segs).map_err(|e| anyhow!("bad request path: {e}"))
    }

    /// Follows every page of a list endpoint, keeping each item's JSON text (bounded per page by
    /// the transport and [`model::MAX_PAGE_ITEMS`], in all by the list limit).
    fn list_all(&self, extra: &[&str], filter: Option<(&str, &str)>) -> Result<Vec<Box<RawValue>>> {
        let mut pages = Pages::new(self, extra, filter);
        while pages.next_page()?.is_some() {}
        Ok(pages.items)
    }

    /// One signed list call (the first chart of the namespace), proving that the endpoint, the
    /// credentials and the namespace work together. Returns the number of charts the registry
    /// says the namespace holds, when it says.
    pub fn probe(&self) -> Result<Option<u64>> {
        let query = vec![
            ("pageNo".to_string(), "1".to_string()),
            ("pageSize".to_string(), "1".to_string()),
        ];
        let body = self.transport.call("GET", &self.path(&[])?, &query, None)?;
        Ok(model::parse_page(&body)?.total)
    }

    /// Every chart of the namespace, sorted by name.
    pub fn list_charts(&self) -> Result<Vec<HelmChart>> {
        let mut charts: Vec<HelmChart> = self
            .list_all(&[], None)?
            .into_iter()
            .filter_map(HelmChart::from_raw)
            .collect();
        charts.sort_by(|a, b| a.name.cmp(&b.name));
        charts.dedup_by(|a, b| a.name == b.name);
        Ok(charts)
    }

    /// The charts of the namespace page by page, as the registry lists them (a name may repeat
    /// across pages), for callers that start work on a page as soon as it arrives.
    pub fn chart_pages(&self) -> ChartPages<'_> {
        ChartPages(Pages::new(self, &[], None))
    }

    /// Every version of `chart` (exact name). A chart that does not exist is an [`ApiError`]
    /// with status 404.
    pub fn list_versions(&self, chart: &str) -> Result<Vec<HelmChartVersion>> {
        Ok(self
            .list_all(&[chart, "versions"], None)?
            .into_iter()
            .filter_map(HelmChartVersion::from_raw)
            .filter(|v| v.name == chart)
            .collect())
    }

    /// Every version of `chart`; a chart that does not exist (404, or no version at all) is an
    /// error naming it and `repo`, with the registry's answer when there was one, and the
    /// closest chart name the registry has when one is close (one more list request, only then).
    pub fn existing_versions(&self, chart: &str, repo: &str) -> Result<Vec<HelmChartVersion>> {
        let not_found = match self.list_versions(chart) {
            Ok(v) if !v.is_empty() => return Ok(v),
            Ok(_) => anyhow!("chart {chart:?} not found in {repo}"),
            Err(e) if is_not_found(&e) => anyhow!("chart {chart:?} not found in {repo}: {e}"),
            Err(e) => return Err(e),
        };
        Err(suggest_on_not_found(
            not_found,
            &format!("chart {chart:?} not found"),
            chart,
            || {
                self.list_charts()
                    .ok()
                    .map(|cs| cs.into_iter().map(|c| c.name).collect())
            },
        ))
    }

    /// The versions of `chart`, or None when the chart does not exist.
    pub fn find_versions(&self, chart: &str) -> Result<Option<Vec<HelmChartVersion>>> {
        match self.list_versions(chart) {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One version of a chart (exact match), if it exists.
    pub fn find_version(&self, chart: &str, version: &str) -> Result<Option<HelmChartVersion>> {
        let items = match self.list_all(&[chart, "versions"], Some(("chartVersion", version))) {
            Ok(items) => items,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(items
            .into_iter()
            .filter_map(HelmChartVersion::from_raw)
            .find(|v| v.name == chart && v.version == version))
    }

    /// Streams `/download/{file_name}` into `out`. Failures before the body starts are
    /// retried; a body cut short is a [`crate::transport::BodyBroken`] error (the caller starts
    /// again on a fresh file).
    pub fn download(&self, file_name: &str, out: &mut dyn Write) -> Result<u64> {
        self.transport
            .get_to(&self.path(&["download", file_name])?, file_name, out)
    }

    /// Deletes one version.
    pub fn delete_version(&self, chart: &str, version: &str) -> Result<()> {
        self.transport.call(
            "DELETE",
            &self.path(&[chart, "versions", version])?,
            &[],
            None,
        )?;
        Ok(())
    }

    /// Deletes several versions of a chart in one call.
    pub fn delete_versions(&self, chart: &str, versions: &[String]) -> Result<()> {
        let body = serde_json::json!({ "items": versions }).to_string();
        self.transport.call(
            "DELETE",
            &self.path(&[chart, "versions"])?,
            &[],
            Some(body.as_bytes()),
        )?;
        Ok(())
    }

    /// Deletes a chart with every version.
    pub fn delete_chart(&self, chart: &str) -> Result<()> {
        self.transport
            .call("DELETE", &self.path(&[chart])?, &[], None)?;
        Ok(())
    }

    /// Deletes several charts in one call.
    pub fn delete_charts(&self, charts: &[String]) -> Result<()> {
        let body = serde_json::json!({ "items": charts }).to_string();
        self.transport
            .call("DELETE", &self.path(&[])?, &[], Some(body.as_bytes()))?;
        Ok(())
    }
}

/// Follows a list endpoint one page at a time, checking that it ends.
struct Pages<'a> {
    registry: &'a Registry,
    extra: Vec<String>,
    filter: Option<(String, String)>,
    /// The last page fetched (0 before the first).
    page_no: usize,
    /// Every item so far, as the registry wrote it.
    items: Vec<Box<RawValue>>,
    done: bool,
}

impl<'a> Pages<'a> {
    fn new(registry: &'a Registry, extra: &[&str], filter: Option<(&str, &str)>) -> Self {
        Pages {
            registry,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            filter: filter.map(|(k, v)| (k.to_string(), v.to_string())),
            page_no: 0,
            items: Vec::new(),
            done: false,
        }
    }

    /// The items of the next page, or None after the last.
    fn next_page(&mut self) -> Result<Option<&[Box<RawValue>]>> {
        if self.done {
            return Ok(None);
        }
        if self.page_no >= MAX_PAGES {
            bail!("the registry's list did not end after {MAX_PAGES} pages");
        }
        let page_no = self.page_no + 1;
        let mut query = vec![
            ("pageNo".to_string(), page_no.to_string()),
            ("pageSize".to_string(), PAGE_SIZE.to_string()),
        ];
        if let Some((k, v)) = &self.filter {
            query.push((k.clone(), v.clone()));
        }
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let path = self.registry.path(&extra)?;
        let body = self.registry.transport.call("GET", &path, &query, None)?;
        let page = model::parse_page(&body)?;
        let got = page.items.len();
        let items = &mut self.items;
        let same = |a: &[Box<RawValue>], b: &[Box<RawValue>]| {
            a.iter().map(|r| r.get()).eq(b.iter().map(|r| r.get()))
        };
        if got > 0 && items.len() >= got && same(&items[items.len() - got..], &page.items) {
            // A server that ignores pageNo would otherwise be followed to MAX_PAGES.
            bail!(
                "the registry answered page {page_no} of a list with the same items as page {}",
                page_no - 1
            );
        }
        self.page_no = page_no;
        items.extend(page.items);
        let limit = self.registry.list_limit;
        if items.len() > limit {
            bail!(
                "the registry listed more than {limit} entries; stopped there (set HELM_CCR_LIST_LIMIT to a higher number if the repository really holds that many)"
            );
        }
        self.done = match page.total {
            Some(total) => items.len() as u64 >= total || got == 0,
            None => got < PAGE_SIZE,
        };
        Ok(Some(&items[items.len() - got..]))
    }
}

/// The charts of a namespace page by page: see [`Registry::chart_pages`].
pub struct ChartPages<'a>(Pages<'a>);

impl ChartPages<'_> {
    /// The charts of the next page, or None after the last.
    pub fn next_page(&mut self) -> Result<Option<Vec<HelmChart>>> {
        Ok(self.0.next_page()?.map(|items| {
            items
                .iter()
                .cloned()
                .filter_map(HelmChart::from_raw)
                .collect()
        }))
    }
}

/// True when the error is the registry's 404.
pub fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(ApiError::is_not_found)
}

/// True when the error is the registry's 409.
pub fn is_conflict(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(ApiError::is_conflict)
}
