//! Chart.yaml / Chart.lock reader and the YAML parser under it.
#![no_main]
use helm_ccr::chart::{metadata, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut md) = metadata::parse(data) {
        let _ = md.validate();
        let _ = md.to_yaml();
        let _ = md.semver();
    }
    let _ = metadata::parse_lock(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = yaml::parse_first_document(text);
    }
});
