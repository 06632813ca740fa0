//! `ccr://` URLs, repository and chart references.
#![no_main]
use helm_ccr::chart::metadata::check_chart_name;
use helm_ccr::settings::reference::{parse_chart_ref, parse_repo, CcrUrl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = CcrUrl::parse(s) {
        // What parses prints back to something that parses the same.
        let again = CcrUrl::parse(&u.repo_url()).expect("repo_url parses");
        assert_eq!(again.instance, u.instance);
        assert_eq!(again.namespace, u.namespace);
    }
    let _ = parse_repo(s);
    if let Ok((_, chart)) = parse_chart_ref(s) {
        assert!(check_chart_name(&chart).is_ok());
    }
});
