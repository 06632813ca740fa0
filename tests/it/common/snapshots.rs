//! Helpers for insta snapshots: text made stable from run to run.

use super::world::World;

/// Replaces what changes from run to run: request ids and the emulator's address.
pub fn stable(w: &World, text: &str) -> String {
    let text = text.replace(&w.emu.url(), "http://EMULATOR");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("request id ") {
        let (head, tail) = rest.split_at(i + "request id ".len());
        out.push_str(head);
        out.push_str("ID");
        let end = tail
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}
