//! TLS failures in the user's words, at once (issue 18): `https://` to a plain-HTTP port.

use crate::common::world::{World, REPO};

#[test]
fn https_to_a_plain_http_port_says_so_at_once() {
    let w = World::new();
    let base = w.emu.url();
    let authority = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let requests_before = w.emu.requests().len();
    let out = w
        .cmd()
        .env("HELM_CCR_ENDPOINT", format!("HTTPS://{authority}"))
        .args(["ls", REPO])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("Error: {authority} does not speak TLS; use http://{authority} if it is a plain-HTTP endpoint")
    );
    assert_eq!(
        w.emu.requests().len(),
        requests_before,
        "no request got through"
    );
}
