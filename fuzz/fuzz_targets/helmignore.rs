//! `.helmignore` parsing and matching: the last line is the path to test.
#![no_main]
use helm_ccr::chart::ignore::Rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (rules, path) = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"templates/x.yaml"[..]),
    };
    if let Ok(r) = Rules::parse(rules) {
        let _ = r.ignore_bytes(path, false);
        let _ = r.ignore_bytes(path, true);
    }
});
