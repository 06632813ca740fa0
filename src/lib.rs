//! helm-ccr: a Helm plugin for Baidu AI Cloud CCR Enterprise Edition.

pub mod api;
pub mod chart;
pub mod client;
pub mod commands;
pub mod credentials;
pub mod error;
pub mod index;
pub mod multipart;
pub mod output;
pub mod repo_ref;
pub mod settings;
pub mod sign;

pub fn run_main() -> i32 {
    0
}
