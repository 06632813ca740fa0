//! Reading chart packages: `inspect` (push) and `untar` (pull --untar), which must never write
//! outside its target nor leave links behind.
#![no_main]
use helm_ccr::chart::tgz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("p.tgz");
    std::fs::write(&pkg, data).unwrap();
    let _ = tgz::inspect(&pkg);
    let out = dir.path().join("out");
    let _ = tgz::untar(&pkg, &out);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(names.len() <= 2, "wrote next to the target: {names:?}");
});
