//! Registry list pages: the input as a whole page, and as the items of a page (split at
//! 0xff bytes), through the streaming page parser and the item readers. A page is never kept
//! with more than `MAX_PAGE_ITEMS` entries and only objects become items.
#![no_main]
use helm_ccr::registry::model::{parse_page, HelmChart, HelmChartVersion, MAX_PAGE_ITEMS};
use libfuzzer_sys::fuzz_target;

fn check(body: &[u8]) {
    if let Ok(page) = parse_page(body) {
        assert!(page.items.len() <= MAX_PAGE_ITEMS);
        for item in page.items {
            assert!(item.get().starts_with('{'));
            let _ = HelmChart::from_raw(item.clone()).map(|c| c.raw_value());
            if let Some(v) = HelmChartVersion::from_raw(item) {
                let name = v.file_name();
                assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.'));
                if let Some(d) = &v.digest {
                    assert!(d.len() == 64 && d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
                }
                let _ = v.raw_value();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut body = b"{\"total\":3,\"pageNo\":1,\"items\":[".to_vec();
    for (i, part) in data.split(|b| *b == 0xff).enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(part);
    }
    body.extend_from_slice(b"]}");
    check(&body);
});
