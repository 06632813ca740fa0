//! helm-ccr: a Helm plugin for Baidu AI Cloud CCR Enterprise Edition.

pub fn run_main() -> i32 {
    0
}
