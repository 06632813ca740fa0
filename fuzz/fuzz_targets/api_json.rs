//! The registry's JSON: list pages, items, error bodies, file names and HTTP dates.
#![no_main]
use helm_ccr::registry::model::{parse_page, safe_file_name, HelmChart, HelmChartVersion, MAX_PAGE_ITEMS};
use helm_ccr::transport::parse_retry_after;
use helm_ccr::support::clock::parse_http_date;
use helm_ccr::error::ApiError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ApiError::from_body(500, data, None).to_string();
    if let Ok(page) = parse_page(data) {
        assert!(page.items.len() <= MAX_PAGE_ITEMS);
        for item in page.items {
            assert!(item.get().starts_with('{'));
            let _ = HelmChart::from_raw(item.clone());
            if let Some(v) = HelmChartVersion::from_raw(item) {
                let name = v.file_name();
                assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.'));
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(name) = safe_file_name(s) {
            assert!(!name.is_empty() && !name.contains('/') && name != "..");
        }
        let _ = parse_http_date(s);
        let _ = parse_retry_after(s, 0);
    }
});
