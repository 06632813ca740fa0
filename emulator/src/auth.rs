//! BCE auth v1: the emulator's own canonicaliser, signer and verifier.
//!
//! The verifier canonicalises the request *as received*: it decodes the raw path segment by
//! segment and re-encodes each one, decodes and re-encodes every query pair, and takes the signed
//! headers' values from the request. A client that encodes differently from the spec therefore
//! fails here exactly as it would against CCR.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock;
use crate::Key;

/// Largest allowed distance between the auth timestamp and the emulator's clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// `E(s)` of the spec: unreserved bytes stay, everything else becomes `%XX` (uppercase hex).
pub fn uri_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// Decodes `%XX` escapes. A `%` not followed by two hex digits is kept literally (lenient, like
/// most servers). `+` is *not* turned into a space.
pub fn percent_decode(s: &str) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Canonical URI: every segment of the raw path decoded and re-encoded with [`uri_encode`].
pub fn canonical_uri(raw_path: &str) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    path.split('/')
        .map(|seg| uri_encode(&percent_decode(seg)))
        .collect::<Vec<_>>()
        .join("/")
}

/// Splits a raw query string into decoded `(key, value)` pairs (empty pieces are skipped).
pub fn parse_query(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), Vec::new()),
        })
        .collect()
}

/// Canonical query string from decoded pairs: `E(k)=E(v)`, sorted, joined by `&`. The
/// `authorization` parameter (if any) is excluded, as the official SDKs do.
pub fn canonical_query_pairs(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    let mut items: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(b"authorization"))
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect();
    items.sort();
    items.join("&")
}

/// Canonical query string of a raw (still encoded) query.
pub fn canonical_query(raw_query: &str) -> String {
    canonical_query_pairs(&parse_query(raw_query))
}

/// Canonical headers: for each signed header present with a non-empty value,
/// `E(lowercase name):E(trimmed value)`, sorted, joined by `\n`. `headers` names are matched
/// case-insensitively; the first occurrence wins.
pub fn canonical_headers(headers: &[(String, String)], signed: &[String]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for name in signed {
        let lname = name.trim().to_ascii_lowercase();
        if let Some((_, v)) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(&lname)) {
            let v = v.trim();
            if !v.is_empty() {
                lines.push(format!(
                    "{}:{}",
                    uri_encode(lname.as_bytes()),
                    uri_encode(v.as_bytes())
                ));
            }
        }
    }
    lines.sort();
    lines.join("\n")
}

/// The full canonical request for a request as it travels on the wire.
pub fn canonical_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    signed: &[String],
) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(raw_path),
        canonical_query(raw_query),
        canonical_headers(headers, signed)
    )
}

fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// `bce-auth-v1/{ak}/{timestamp}/{expiration}`.
pub fn auth_string_prefix(ak: &str, timestamp: &str, expiration: u64) -> String {
    format!("bce-auth-v1/{ak}/{timestamp}/{expiration}")
}

/// Signing key: lowercase hex of HMAC-SHA256(secret, authStringPrefix).
pub fn signing_key(secret: &str, prefix: &str) -> String {
    hmac_hex(secret.as_bytes(), prefix.as_bytes())
}

/// Signature: lowercase hex of HMAC-SHA256(signing key hex bytes, canonical request).
pub fn signature(signing_key_hex: &str, canonical_request: &str) -> String {
    hmac_hex(signing_key_hex.as_bytes(), canonical_request.as_bytes())
}

/// Computes a complete `Authorization` header value for a request (used by tests and by anyone
/// who wants to talk to the emulator without a full client).
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    ak: &str,
    sk: &str,
    timestamp: &str,
    expiration: u64,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    signed: &[String],
) -> String {
    let mut names: Vec<String> = signed
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    names.sort();
    let prefix = auth_string_prefix(ak, timestamp, expiration);
    let key = signing_key(sk, &prefix);
    let canon = canonical_request(method, raw_path, raw_query, headers, &names);
    format!("{prefix}/{}/{}", names.join(";"), signature(&key, &canon))
}

/// Why a request was refused: the HTTP status and the CCR error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// HTTP status to answer.
    pub status: u16,
    /// CCR error code, e.g. `SignatureDoesNotMatch`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

fn err(status: u16, code: &'static str, message: impl Into<String>) -> AuthError {
    AuthError {
        status,
        code,
        message: message.into(),
    }
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// Access key id.
    pub ak: String,
    /// Timestamp as sent.
    pub timestamp: String,
    /// Timestamp in Unix seconds.
    pub timestamp_secs: i64,
    /// Expiration in seconds.
    pub expiration: u64,
    /// Signed header names, as sent (lowercase expected).
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// Parses `bce-auth-v1/{ak}/{timestamp}/{expiration}/{signedHeaders}/{signature}`.
pub fn parse_authorization(value: &str) -> Result<AuthHeader, AuthError> {
    let bad = |m: &str| err(400, "InvalidHTTPAuthHeader", m);
    let parts: Vec<&str> = value.trim().split('/').collect();
    if parts.len() != 6 || parts[0] != "bce-auth-v1" {
        return Err(bad("Authorization is not bce-auth-v1/{ak}/{timestamp}/{expiration}/{signedHeaders}/{signature}"));
    }
    if parts[1].is_empty() {
        return Err(bad("empty access key id"));
    }
    let timestamp_secs = clock::parse_rfc3339(parts[2])
        .ok_or_else(|| bad("timestamp is not YYYY-MM-DDThh:mm:ssZ"))?;
    let expiration: u64 = match parts[3].parse() {
        Ok(e) if parts[3].bytes().all(|b| b.is_ascii_digit()) && e > 0 => e,
        _ => return Err(bad("expiration is not a positive integer")),
    };
    let signed_headers: Vec<String> = parts[4].split(';').map(str::to_string).collect();
    if parts[4].is_empty() || signed_headers.iter().any(|h| h.is_empty()) {
        return Err(bad("signed headers list is empty or malformed"));
    }
    if parts[5].is_empty() {
        return Err(err(400, "SignatureEmpty", "signature is empty"));
    }
    if parts[5].len() != 64 || !parts[5].bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("signature is not 64 hex digits"));
    }
    Ok(AuthHeader {
        ak: parts[1].to_string(),
        timestamp: parts[2].to_string(),
        timestamp_secs,
        expiration,
        signed_headers,
        signature: parts[5].to_string(),
    })
}

/// Byte-wise constant-time equality (for equal lengths; unequal lengths are just `false`).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the verifier needs to know about a request.
pub struct RequestParts<'a> {
    /// Method as received.
    pub method: &'a str,
    /// Raw (still percent-encoded) path.
    pub raw_path: &'a str,
    /// Raw query string (without `?`).
    pub raw_query: &'a str,
    /// Headers as received (any case).
    pub headers: &'a [(String, String)],
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Verifies a request's signature against the known keys at time `now` (Unix seconds).
/// Returns the access key id on success.
pub fn verify(req: &RequestParts<'_>, keys: &[Key], now: i64) -> Result<String, AuthError> {
    let value = match header(req.headers, "authorization") {
        Some(v) if !v.trim().is_empty() => v,
        _ => {
            return Err(err(
                400,
                "InvalidHTTPAuthHeader",
                "the Authorization header is missing",
            ))
        }
    };
    let auth = parse_authorization(value)?;
    let key = keys
        .iter()
        .find(|k| k.access_key_id == auth.ak)
        .ok_or_else(|| {
            err(
                403,
                "InvalidAccessKeyId",
                format!("unknown access key id {}", auth.ak),
            )
        })?;

    let date = header(req.headers, "x-bce-date").map(str::trim);
    match date {
        None => {
            return Err(err(
                400,
                "InvalidHTTPAuthHeader",
                "the x-bce-date header is missing",
            ))
        }
        Some(d) if d != auth.timestamp => {
            return Err(err(
                400,
                "InvalidHTTPAuthHeader",
                "x-bce-date does not equal the Authorization timestamp",
            ))
        }
        Some(_) => {}
    }
    if (auth.timestamp_secs - now).abs() > MAX_SKEW_SECS {
        return Err(err(
            400,
            "RequestExpired",
            format!(
                "request timestamp {} is more than 15 minutes away from server time {}",
                auth.timestamp,
                clock::rfc3339(now)
            ),
        ));
    }
    if now
        > auth
            .timestamp_secs
            .saturating_add(auth.expiration.min(i64::MAX as u64) as i64)
    {
        return Err(err(
            400,
            "RequestExpired",
            format!(
                "the signature expired {} seconds after {}",
                auth.expiration, auth.timestamp
            ),
        ));
    }
    let signed_lower: Vec<String> = auth
        .signed_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for required in ["host", "x-bce-date"] {
        if !signed_lower.iter().any(|h| h == required) {
            return Err(err(
                403,
                "SignatureDoesNotMatch",
                format!("the {required} header must be signed"),
            ));
        }
    }
    if let Some(token) = &key.security_token {
        let sent = header(req.headers, "x-bce-security-token").map(str::trim);
        if sent != Some(token.as_str()) {
            return Err(err(
                403,
                "InvalidSessionToken",
                "the x-bce-security-token header is missing or wrong",
            ));
        }
        if !signed_lower.iter().any(|h| h == "x-bce-security-token") {
            return Err(err(
                403,
                "SignatureDoesNotMatch",
                "the x-bce-security-token header must be signed",
            ));
        }
    }
    let prefix = auth_string_prefix(&auth.ak, &auth.timestamp, auth.expiration);
    let skey = signing_key(&key.secret_access_key, &prefix);
    let canon = canonical_request(
        req.method,
        req.raw_path,
        req.raw_query,
        req.headers,
        &signed_lower,
    );
    let expected = signature(&skey, &canon);
    if !ct_eq(
        expected.as_bytes(),
        auth.signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(err(
            403,
            "SignatureDoesNotMatch",
            "the request signature we calculated does not match the signature you provided",
        ));
    }
    Ok(auth.ak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder() {
        assert_eq!(uri_encode(b"a-Z_0.~"), "a-Z_0.~");
        assert_eq!(uri_encode(b" +/:="), "%20%2B%2F%3A%3D");
        assert_eq!(uri_encode("é".as_bytes()), "%C3%A9");
        assert_eq!(percent_decode("1.0.0%2Bbuild.1"), b"1.0.0+build.1");
        assert_eq!(percent_decode("%zz%2"), b"%zz%2");
        assert_eq!(percent_decode("%"), b"%");
        assert_eq!(percent_decode("a%2f"), b"a/");
        assert_eq!(canonical_uri("/a b/1.0.0+x"), "/a%20b/1.0.0%2Bx");
        assert_eq!(canonical_query("b=2&a=&c"), "a=&b=2&c=");
    }

    #[test]
    fn parse_rejects_garbage() {
        for h in [
            "",
            "bce-auth-v1",
            "bce-auth-v2/ak/2022-08-01T08:26:41Z/1800/host/aa",
            "bce-auth-v1//2022-08-01T08:26:41Z/1800/host/aa",
            "bce-auth-v1/ak/yesterday/1800/host/aa",
            "bce-auth-v1/ak/2022-08-01T08:26:41Z/-1/host/aa",
            "bce-auth-v1/ak/2022-08-01T08:26:41Z/1800//aa",
            "bce-auth-v1/ak/2022-08-01T08:26:41Z/1800/host/",
            "bce-auth-v1/ak/2022-08-01T08:26:41Z/1800/host/zz",
        ] {
            assert!(parse_authorization(h).is_err(), "{h}");
        }
    }
}
