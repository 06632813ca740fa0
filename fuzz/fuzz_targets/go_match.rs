//! Go `filepath.Match`: pattern and name split at the first NUL.
#![no_main]
use helm_ccr::chart::ignore::go_match;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pattern, name) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let _ = go_match(pattern, name);
});
