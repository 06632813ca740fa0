//! helm-ccr: a Helm plugin for Baidu AI Cloud CCR Enterprise Edition.

pub mod chart;
pub mod commands;
pub mod index;
pub mod sign;

pub fn run_main() -> i32 {
    0
}
