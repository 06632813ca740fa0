//! A strict-enough `multipart/form-data` parser for the upload endpoint.

/// One form part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The `name` parameter of Content-Disposition.
    pub name: String,
    /// The `filename` parameter, if any.
    pub filename: Option<String>,
    /// The part's content.
    pub data: Vec<u8>,
}

/// Extracts the boundary from a Content-Type header value.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut it = content_type.split(';');
    let mime = it.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    for p in it {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("boundary") {
                let v = v.trim().trim_matches('"');
                if !v.is_empty() && v.len() <= 200 {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() || hay.len() - from < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = from;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(off) => {
                i += off;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

fn param(disposition: &str, key: &str) -> Option<String> {
    for p in disposition.split(';').skip(1) {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case(key) {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .unwrap_or(v);
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Parses a multipart body. Errors are human-readable reasons for a 400.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}").into_bytes();
    let mut pos = match find(body, &delim, 0) {
        Some(p) => p + delim.len(),
        None => return Err("multipart body has no boundary".into()),
    };
    let close = format!("\r\n--{boundary}").into_bytes();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        // Skip transport padding, then CRLF.
        while pos < body.len() && (body[pos] == b' ' || body[pos] == b'\t') {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("malformed multipart delimiter".into());
        }
        pos += 2;
        let (headers_raw, data_start) = if body[pos..].starts_with(b"\r\n") {
            (&body[pos..pos], pos + 2)
        } else {
            let he = find(body, b"\r\n\r\n", pos).ok_or("multipart part without header end")?;
            (&body[pos..he], he + 4)
        };
        let headers = String::from_utf8_lossy(headers_raw);
        let mut name = None;
        let mut filename = None;
        for line in headers.split("\r\n") {
            if let Some((k, v)) = line.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-disposition") {
                    let v = v.trim();
                    if !v.to_ascii_lowercase().starts_with("form-data") {
                        return Err("part is not form-data".into());
                    }
                    name = param(v, "name");
                    filename = param(v, "filename");
                }
            }
        }
        let end = find(body, &close, data_start).ok_or("multipart body is not terminated")?;
        parts.push(Part {
            name: name.ok_or("part without a name")?,
            filename,
            data: body[data_start..end].to_vec(),
        });
        pos = end + close.len();
        if parts.len() > 100 {
            return Err("too many parts".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"chart\"; filename=\"a-1.tgz\"\r\nContent-Type: application/gzip\r\n\r\n\x1f\x8b\r\n--XyZ\r\n\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name=prov\r\n\r\nPGP\r\n--XyZ--\r\n";
        let b = boundary("multipart/form-data; boundary=\"XyZ\"").unwrap();
        let err = parse(body, &b).unwrap_err();
        assert!(err.contains("name"), "{err}");
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"chart\"; filename=\"a-1.tgz\"\r\n\r\n\x1f\x8b\r\n--XyZ\r\nContent-Disposition: form-data; name=prov\r\n\r\nPGP\r\n--XyZ--";
        let parts = parse(body, &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "chart");
        assert_eq!(parts[0].filename.as_deref(), Some("a-1.tgz"));
        assert_eq!(parts[0].data, b"\x1f\x8b");
        assert_eq!(parts[1].data, b"PGP");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(boundary("application/json").is_none());
        assert!(boundary("multipart/form-data").is_none());
        for body in [
            &b""[..],
            b"--B",
            b"--B\r\nfoo",
            b"--Bxx",
            b"--B\r\n\r\nabc",
            b"--B\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--",
        ] {
            assert!(
                parse(body, "B").is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
