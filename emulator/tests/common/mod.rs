//! A tiny raw HTTP client that signs requests with the emulator's own signer.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use ccr_emulator::{auth, clock, Emulator, Key};

pub const AK: &str = "ak-test";
pub const SK: &str = "sk-test";
pub const BASE: &str = "/v1/instances/ccr-1/projects/ns/charts";

pub fn key() -> Key {
    Key::new(AK, SK)
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_string()
    }
}

pub struct Client {
    pub host: String,
    pub conn: Option<BufReader<TcpStream>>,
    pub key: Key,
    pub clock_offset: i64,
}

pub fn host_of(emu: &Emulator) -> String {
    emu.url().trim_start_matches("http://").to_string()
}

impl Client {
    pub fn new(emu: &Emulator) -> Client {
        Client {
            host: host_of(emu),
            conn: None,
            key: key(),
            clock_offset: 0,
        }
    }

    fn stream(&mut self) -> io::Result<&mut BufReader<TcpStream>> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.host)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.conn = Some(BufReader::new(s));
        }
        Ok(self.conn.as_mut().unwrap())
    }

    /// Sends raw bytes on the (kept-alive) connection and reads one response.
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<Resp> {
        let r = (|| {
            let s = self.stream()?;
            s.get_mut().write_all(bytes)?;
            read_response(s)
        })();
        if r.is_err() {
            self.conn = None;
        }
        if let Ok(resp) = &r {
            if resp.header("connection") == Some("close") {
                self.conn = None;
            }
        }
        r
    }

    pub fn signed_headers(&self, method: &str, path: &str, query: &str) -> Vec<(String, String)> {
        let ts = clock::rfc3339(clock::real_now() + self.clock_offset);
        let mut headers = vec![
            ("host".to_string(), self.host.clone()),
            ("x-bce-date".to_string(), ts.clone()),
        ];
        let mut signed = vec!["host".to_string(), "x-bce-date".to_string()];
        if let Some(t) = &self.key.security_token {
            headers.push(("x-bce-security-token".into(), t.clone()));
            signed.push("x-bce-security-token".into());
        }
        let a = auth::authorization(
            &self.key.access_key_id,
            &self.key.secret_access_key,
            &ts,
            1800,
            method,
            path,
            query,
            &headers,
            &signed,
        );
        headers.push(("authorization".into(), a));
        headers
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Resp> {
        let headers = self.signed_headers(method, path, query);
        let target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let mut req = format!("{method} {target} HTTP/1.1\r\n");
        for (n, v) in &headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        for (n, v) in extra {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
    }

    pub fn get(&mut self, path: &str, query: &str) -> io::Result<Resp> {
        self.send("GET", path, query, &[], b"")
    }

    pub fn delete(&mut self, path: &str, body: &[u8]) -> io::Result<Resp> {
        self.send("DELETE", path, "", &[], body)
    }

    pub fn upload(&mut self, tgz: &[u8], prov: Option<&[u8]>) -> io::Result<Resp> {
        let (ct, body) = multipart(tgz, prov);
        self.send("POST", BASE, "", &[("content-type", &ct)], &body)
    }
}

pub fn multipart(tgz: &[u8], prov: Option<&[u8]>) -> (String, Vec<u8>) {
    let b = "----emutestboundary42";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"chart\"; filename=\"c.tgz\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(tgz);
    if let Some(p) = prov {
        body.extend_from_slice(
            format!("\r\n--{b}\r\nContent-Disposition: form-data; name=\"prov\"; filename=\"c.tgz.prov\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(p);
    }
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

pub fn read_response<R: BufRead>(r: &mut R) -> io::Result<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed before status line",
        ));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed in headers",
            ));
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l)?;
            let n = usize::from_str_radix(l.trim(), 16).map_err(io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        return Ok(Resp {
            status,
            headers,
            body,
        });
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

pub fn chart(name: &str, version: &str) -> Vec<u8> {
    ccr_emulator::store::make_chart_tgz(
        name,
        &format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"9.9\"\ndescription: test chart\n"),
        &[("values.yaml", b"replicas: 1\n")],
    )
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}
