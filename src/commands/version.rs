//! `helm ccr version`.

use crate::ui::output::Output;

pub fn run(out: &Output) {
    out.result(concat!("helm-ccr ", env!("CARGO_PKG_VERSION")));
}
