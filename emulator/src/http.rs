//! A small HTTP/1.1 server core: request heads, Content-Length and chunked bodies, responses
//! with Content-Length, keep-alive. Hand-written so faults can act on the raw socket.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (a hard safety cap; the chart size limit is separate).
pub const MAX_BODY: u64 = 1024 * 1024 * 1024;

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, as received.
    pub method: String,
    /// Raw request target (path plus `?query`).
    pub target: String,
    /// Raw path (still percent-encoded).
    pub path: String,
    /// Raw query without `?` (empty when none).
    pub query: String,
    /// Headers: lowercase names, values as received (trimmed).
    pub headers: Vec<(String, String)>,
    /// The body (read later, see [`read_body`]).
    pub body: Vec<u8>,
    /// Whether the client wants the connection kept open.
    pub keep_alive: bool,
}

impl Request {
    /// First value of a header (name is matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A bad request: status and message.
#[derive(Debug)]
pub enum ReadError {
    /// The connection closed (or timed out) cleanly between requests.
    Closed,
    /// An I/O error mid-request.
    Io,
    /// Malformed input: answer this status and close.
    Bad(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    let mut limited = r.take(*budget as u64 + 1);
    let n = limited.read_until(b'\n', &mut line)?;
    if n > *budget {
        return Err(ReadError::Bad(431, "request head too large".into()));
    }
    *budget -= n;
    if n == 0 || line.last() != Some(&b'\n') {
        return Err(ReadError::Closed);
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Reads one request head. Returns `Closed` on a clean EOF before any byte.
pub fn read_head<R: BufRead>(r: &mut R) -> Result<Request, ReadError> {
    let mut budget = MAX_HEAD;
    // Tolerate stray empty lines before a request line (RFC 9112 §2.2).
    let mut line = read_line(r, &mut budget)?;
    let mut skipped = 0;
    while line.is_empty() {
        skipped += 1;
        if skipped > 4 {
            return Err(ReadError::Bad(400, "empty request line".into()));
        }
        line = read_line(r, &mut budget)?;
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => return Err(ReadError::Bad(400, "malformed request line".into())),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Bad(400, "malformed method".into()));
    }
    if !target.starts_with('/') {
        return Err(ReadError::Bad(
            400,
            "request target must be an absolute path".into(),
        ));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505, "unsupported HTTP version".into())),
    };
    let mut headers = Vec::new();
    loop {
        let l = match read_line(r, &mut budget) {
            Err(ReadError::Closed) => return Err(ReadError::Bad(400, "truncated head".into())),
            other => other?,
        };
        if l.is_empty() {
            break;
        }
        if l[0] == b' ' || l[0] == b'\t' {
            return Err(ReadError::Bad(400, "obsolete header folding".into()));
        }
        let l = String::from_utf8_lossy(&l).into_owned();
        let (n, v) = l
            .split_once(':')
            .ok_or_else(|| ReadError::Bad(400, "header without colon".into()))?;
        if n.is_empty() || n.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(ReadError::Bad(400, "malformed header name".into()));
        }
        if headers.len() >= 200 {
            return Err(ReadError::Bad(431, "too many headers".into()));
        }
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        path,
        query,
        headers,
        body: Vec::new(),
        keep_alive: !http10,
    };
    if let Some(c) = req.header("connection") {
        let c = c.to_ascii_lowercase();
        if c.split(',').any(|t| t.trim() == "close") {
            req.keep_alive = false;
        } else if c.split(',').any(|t| t.trim() == "keep-alive") {
            req.keep_alive = true;
        }
    }
    Ok(req)
}

/// What framing the body uses.
pub fn body_length(req: &Request) -> Result<Option<u64>, ReadError> {
    if let Some(te) = req.header("transfer-encoding") {
        if te.to_ascii_lowercase().trim().ends_with("chunked") {
            return Ok(None);
        }
        return Err(ReadError::Bad(501, "unsupported transfer-encoding".into()));
    }
    let mut len: Option<u64> = None;
    for (n, v) in &req.headers {
        if n == "content-length" {
            let l: u64 = v
                .parse()
                .ok()
                .filter(|_| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| ReadError::Bad(400, "bad content-length".into()))?;
            if len.is_some_and(|x| x != l) {
                return Err(ReadError::Bad(400, "conflicting content-length".into()));
            }
            len = Some(l);
        }
    }
    Ok(Some(len.unwrap_or(0)))
}

/// Reads the body according to its framing into `req.body`.
pub fn read_body<R: BufRead>(r: &mut R, req: &mut Request) -> Result<(), ReadError> {
    let eof = |e: io::Error| {
        let kind = e.kind();
        if kind == io::ErrorKind::UnexpectedEof {
            ReadError::Bad(400, "body shorter than announced".into())
        } else {
            ReadError::Io
        }
    };
    match body_length(req)? {
        Some(n) => {
            if n > MAX_BODY {
                return Err(ReadError::Bad(413, "request body too large".into()));
            }
            let mut body = Vec::with_capacity(n.min(64 * 1024 * 1024) as usize);
            let got = r.take(n).read_to_end(&mut body)?;
            if (got as u64) < n {
                return Err(ReadError::Bad(400, "body shorter than announced".into()));
            }
            req.body = body;
        }
        None => {
            let mut body = Vec::new();
            loop {
                let mut budget = 4096;
                let line = match read_line(r, &mut budget) {
                    Err(ReadError::Closed) => {
                        return Err(ReadError::Bad(400, "truncated chunked body".into()))
                    }
                    other => other?,
                };
                let line = String::from_utf8_lossy(&line).into_owned();
                let size_s = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_s, 16)
                    .ok()
                    .filter(|_| !size_s.is_empty() && !size_s.starts_with('+'))
                    .ok_or_else(|| ReadError::Bad(400, "bad chunk size".into()))?;
                if size == 0 {
                    // Trailers until an empty line.
                    let mut tb = 16 * 1024;
                    loop {
                        let t = match read_line(r, &mut tb) {
                            Err(ReadError::Closed) => {
                                return Err(ReadError::Bad(400, "truncated trailers".into()))
                            }
                            other => other?,
                        };
                        if t.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                if body.len() as u64 + size > MAX_BODY {
                    return Err(ReadError::Bad(413, "request body too large".into()));
                }
                let start = body.len();
                body.resize(start + size as usize, 0);
                r.read_exact(&mut body[start..]).map_err(eof)?;
                let mut crlf = [0u8; 2];
                r.read_exact(&mut crlf).map_err(eof)?;
                if &crlf != b"\r\n" {
                    return Err(ReadError::Bad(400, "chunk not followed by CRLF".into()));
                }
            }
            req.body = body;
        }
    }
    Ok(())
}

/// A response body, shared to avoid copying stored charts.
#[derive(Debug, Clone)]
pub enum Body {
    /// Owned bytes.
    Bytes(Vec<u8>),
    /// Shared stored bytes.
    Shared(Arc<Vec<u8>>),
}

impl Body {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Body::Bytes(b) => b,
            Body::Shared(b) => b,
        }
    }
}

/// A response to write.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Extra headers (Content-Length, Date and Connection are added when writing).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
}

impl Response {
    /// A response with a body and content type.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Bytes(body),
        }
    }

    /// A JSON response.
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Self::new(
            status,
            "application/json; charset=utf-8",
            v.to_string().into_bytes(),
        )
    }

    /// An empty response.
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }
}

/// Reason phrase for a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Serialises the status line and headers: Content-Length `declared_len`, or
/// `Transfer-Encoding: chunked` when `None`.
pub fn head_bytes(
    resp: &Response,
    date: &str,
    keep_alive: bool,
    declared_len: Option<usize>,
) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (n, v) in &resp.headers {
        h.push_str(n);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str(&format!(
        "Date: {date}\r\n{}Server: ccr-emulator\r\n",
        match declared_len {
            Some(n) => format!("Content-Length: {n}\r\n"),
            None => "Transfer-Encoding: chunked\r\n".to_string(),
        }
    ));
    h.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    h.into_bytes()
}

/// Writes a full response.
/// A reader or writer that moves at most `bytes_per_sec` bytes a second, in steps of about a
/// tenth of a second.
pub struct Throttled<T> {
    inner: T,
    bytes_per_sec: u64,
}

impl<T> Throttled<T> {
    pub fn new(inner: T, bytes_per_sec: u64) -> Self {
        Throttled {
            inner,
            bytes_per_sec: bytes_per_sec.max(1),
        }
    }

    fn step(&self) -> usize {
        (self.bytes_per_sec / 10).clamp(1, 1 << 20) as usize
    }

    fn pause(&self, n: usize) {
        if n > 0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(
                n as f64 / self.bytes_per_sec as f64,
            ));
        }
    }
}

impl<R: Read> Read for Throttled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = self.step().min(buf.len());
        let n = self.inner.read(&mut buf[..step])?;
        self.pause(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Throttled<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let step = self.step();
        let buf = self.inner.fill_buf()?;
        Ok(&buf[..buf.len().min(step)])
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.pause(amt);
    }
}

impl<W: Write> Write for Throttled<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let step = self.step().min(buf.len());
        let n = self.inner.write(&buf[..step])?;
        self.inner.flush()?;
        self.pause(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub fn write_response<W: Write + ?Sized>(
    w: &mut W,
    resp: &Response,
    date: &str,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let body = resp.body.as_slice();
    w.write_all(&head_bytes(resp, date, keep_alive, Some(body.len())))?;
    if !head_only {
        w.write_all(body)?;
    }
    w.flush()
}

/// Writes a full response with a chunked body (64 KiB chunks).
pub fn write_chunked<W: Write>(
    w: &mut W,
    resp: &Response,
    date: &str,
    keep_alive: bool,
) -> io::Result<()> {
    w.write_all(&head_bytes(resp, date, keep_alive, None))?;
    for chunk in resp.body.as_slice().chunks(64 * 1024) {
        w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        w.write_all(chunk)?;
        w.write_all(b"\r\n")?;
    }
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn parse(raw: &[u8]) -> Result<Request, ReadError> {
        let mut r = BufReader::new(raw);
        let mut req = read_head(&mut r)?;
        read_body(&mut r, &mut req)?;
        Ok(req)
    }

    #[test]
    fn content_length_and_chunked() {
        let r =
            parse(b"POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc").unwrap();
        assert_eq!(
            (r.path.as_str(), r.query.as_str(), r.body.as_slice()),
            ("/a/b", "x=1", &b"abc"[..])
        );
        assert_eq!(r.header("HOST"), Some("h"));
        let r = parse(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"GARBAGE\r\n\r\n",
            b"GET nopath HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x",
            b"\xff\xfe / HTTP/1.1\r\n\r\n",
        ];
        for c in cases {
            assert!(parse(c).is_err(), "{:?}", String::from_utf8_lossy(c));
        }
        assert!(matches!(parse(b""), Err(ReadError::Closed)));
    }
}
