//! Registries that misbehave on purpose: a scripted HTTP server answering by a closure (no
//! signature check), and the secret whose absence from every output the tests assert.

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::output::{stderr, stdout};

// ---------------------------------------------------------------------------------------------
// A scripted registry: answers by a closure, ignores signatures, records what it was asked.

pub type Handler = dyn Fn(&str, &str, usize) -> Answer + Send + Sync;

/// What the scripted registry answers.
pub enum Answer {
    Json(u16, String, Vec<(&'static str, String)>),
    Bytes(Vec<u8>),
    /// An endless body (chunked): `prefix` then `fill` forever.
    Endless(Vec<u8>, u8),
}

pub struct Scripted {
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scripted {
    /// `handler(method, url, n)`: `n` counts requests from 0.
    pub fn start(handler: Box<Handler>) -> Scripted {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s2, seen2) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for req in s2.incoming_requests() {
                let n = {
                    let mut seen = seen2.lock().unwrap();
                    seen.push(format!("{} {}", req.method(), req.url()));
                    seen.len() - 1
                };
                let answer = handler(req.method().as_str(), req.url(), n);
                let _ = match answer {
                    Answer::Json(status, body, headers) => {
                        let mut resp = tiny_http::Response::from_string(body)
                            .with_status_code(status)
                            .with_header(
                                tiny_http::Header::from_bytes("Content-Type", "application/json")
                                    .unwrap(),
                            );
                        for (k, v) in headers {
                            resp.add_header(tiny_http::Header::from_bytes(k, v).unwrap());
                        }
                        req.respond(resp)
                    }
                    Answer::Bytes(b) => req.respond(tiny_http::Response::from_data(b)),
                    Answer::Endless(prefix, fill) => {
                        let reader = std::io::Cursor::new(prefix).chain(std::io::repeat(fill));
                        req.respond(tiny_http::Response::new(
                            200.into(),
                            vec![
                                tiny_http::Header::from_bytes("Content-Type", "application/json")
                                    .unwrap(),
                            ],
                            reader,
                            None,
                            None,
                        ))
                    }
                };
            }
        });
        Scripted {
            url: format!("http://127.0.0.1:{port}"),
            seen,
            server,
            thread: Some(thread),
        }
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn ok_json(body: serde_json::Value) -> Answer {
    Answer::Json(200, body.to_string(), Vec::new())
}

pub fn versions_page(items: serde_json::Value) -> Answer {
    let total = items.as_array().map_or(0, Vec::len);
    ok_json(serde_json::json!({"total": total, "pageNo": 1, "pageSize": 100, "items": items}))
}

/// A registry holding one version, `app` 1.0.0, with the given `digest` and `urls` fields:
/// every download answers `bytes`, every other request the page of that one version.
pub fn one_version(bytes: Vec<u8>, digest: serde_json::Value, urls: serde_json::Value) -> Scripted {
    Scripted::start(Box::new(move |_, url, _| {
        if url.contains("/download/") {
            Answer::Bytes(bytes.clone())
        } else {
            versions_page(serde_json::json!([{
                "name": "app", "version": "1.0.0", "digest": digest, "urls": urls
            }]))
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// Secrets.

pub const SECRET: &str = "Sk-VERY-secret-4242";
pub const TOKEN: &str = "sts-token-VERY-secret-4242";

pub fn assert_no_secret(out: &std::process::Output, what: &str) {
    for text in [stdout(out), stderr(out)] {
        for s in [SECRET, TOKEN, "VERY-secret"] {
            assert!(!text.contains(s), "{what}: the secret shows in: {text}");
        }
    }
}

/// The 409 a registry that refuses to overwrite answers an upload of an existing version.
pub fn conflict() -> ccr_emulator::Fault {
    ccr_emulator::Fault::Status {
        status: 409,
        code: Some("StatusConflict".into()),
    }
}

/// A `--force` replacement on `emu` that goes wrong twice: the first upload meets the 409, and
/// after the delete both the new upload and the restore of the old one are refused (400).
pub fn refuse_replacement_and_restore(emu: &ccr_emulator::Emulator) {
    emu.push_fault_for("POST", "", conflict());
    for _ in 0..2 {
        emu.push_fault_for(
            "POST",
            "",
            ccr_emulator::Fault::Status {
                status: 400,
                code: None,
            },
        );
    }
}
