//! BCE auth v1 request signing (Baidu AI Cloud's `bce-auth-v1` scheme).
//!
//! Everything here is pure: the clock is an argument, so the output for a given request is
//! exact and testable against the vectors computed by Baidu's own SDK.

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;

/// Bytes left as they are by BCE's URI encoding: `A-Z a-z 0-9 - _ . ~`.
const BCE_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Default lifetime of a signature, in seconds.
pub const DEFAULT_EXPIRATION_SECONDS: u64 = 1800;

/// The keys requests are signed with: an access key pair, with the session token of STS
/// temporary credentials. Where they came from is the settings layer's business
/// (`settings::credentials::Credentials`); `Debug` never shows the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub security_token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Keys {
    /// The key pair, trimmed; None when either half is empty (an empty token is none).
    pub fn new(ak: &str, sk: &str, token: Option<&str>) -> Option<Keys> {
        let ak = ak.trim();
        let sk = sk.trim();
        if ak.is_empty() || sk.is_empty() {
            return None;
        }
        Some(Keys {
            access_key_id: ak.to_string(),
            secret_access_key: sk.to_string(),
            security_token: token
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }
}

/// An access key pair borrowed for one signature.
#[derive(Clone)]
pub struct SigningKey<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
}

/// BCE's encoding `E(s)`: every byte but the unreserved ones becomes `%XX` (uppercase hex).
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, BCE_ENCODE).to_string()
}

/// The canonical (and wire) query string: `E(k)=E(v)` pairs, sorted, joined by `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

fn hmac_hex(key: &[u8], data: &str) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Builds the canonical (and wire) path from unencoded segments: each segment encoded by
/// [`encode`] (so a `/` inside a chart name stays inside its segment), joined by `/`.
/// Empty, `.` and `..` segments are refused: they would name another path.
pub fn build_path(segments: &[&str]) -> Result<String, String> {
    let mut path = String::new();
    for seg in segments {
        if seg.is_empty() || *seg == "." || *seg == ".." {
            return Err(format!("{seg:?} cannot be a path segment"));
        }
        path.push('/');
        path.push_str(&encode(seg));
    }
    Ok(path)
}

/// A request to sign. `path` is the encoded path as it goes on the wire (see [`build_path`]);
/// `headers` are (name, value) pairs, every one of which is signed (pass only the headers to
/// sign: `host`, `x-bce-date` and, under STS, `x-bce-security-token`).
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
}

/// Every intermediate value of a signature, for tests and debugging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub canonical_request: String,
    pub signing_key: String,
    pub signed_headers: String,
    pub authorization: String,
}

/// Signs `req` with `key` at `timestamp` (already formatted by [`crate::support::clock::format_timestamp`]).
pub fn sign(
    req: &Request<'_>,
    key: &SigningKey<'_>,
    timestamp: &str,
    expiration_seconds: u64,
) -> Signature {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.sort();
    let canonical_headers = headers
        .iter()
        .map(|(k, v)| format!("{}:{}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("\n");
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        req.path,
        canonical_query(req.query),
        canonical_headers
    );
    let prefix = format!(
        "bce-auth-v1/{}/{}/{}",
        key.access_key_id, timestamp, expiration_seconds
    );
    let signing_key = hmac_hex(key.secret_access_key.as_bytes(), &prefix);
    let signature = hmac_hex(signing_key.as_bytes(), &canonical_request);
    let authorization = format!("{prefix}/{signed_headers}/{signature}");
    Signature {
        canonical_request,
        signing_key,
        signed_headers,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_bce_rules() {
        assert_eq!(encode("a b+c/~._-"), "a%20b%2Bc%2F~._-");
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(
            build_path(&["v1", "x", "1.0.0+b"]).unwrap(),
            "/v1/x/1.0.0%2Bb"
        );
        assert_eq!(build_path(&["c", "../x"]).unwrap(), "/c/..%2Fx");
        assert!(build_path(&["c", ".."]).is_err());
        assert!(build_path(&["c", ""]).is_err());
    }

    #[test]
    fn query_is_sorted_and_encoded() {
        let q = vec![
            ("pageSize".to_string(), "100".to_string()),
            ("chartName".to_string(), "a b".to_string()),
            ("empty".to_string(), String::new()),
        ];
        assert_eq!(canonical_query(&q), "chartName=a%20b&empty=&pageSize=100");
    }

    /// Every vector computed by Baidu's SDK: canonical request, signing key and authorization.
    #[test]
    fn reproduces_every_shared_vector() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/bce-auth-v1.json")).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 9);
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            // The vectors give the path as it travels on the wire; we sign the decoded path.
            let wire_path = s("path");
            let segments: Vec<String> = wire_path
                .split('/')
                .skip(1)
                .map(|seg| {
                    percent_encoding::percent_decode_str(seg)
                        .decode_utf8()
                        .unwrap()
                        .to_string()
                })
                .collect();
            let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
            let path = build_path(&segments).unwrap();
            assert_eq!(path, wire_path, "{name}: wire path");
            let query: Vec<(String, String)> = v["query"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
                .collect();
            let signed: Vec<String> = v["signed_headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect();
            let headers: Vec<(String, String)> = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| signed.contains(&k.to_ascii_lowercase()))
                .map(|(k, val)| (k.clone(), val.as_str().unwrap().to_string()))
                .collect();
            let req = Request {
                method: v["method"].as_str().unwrap(),
                path: &path,
                query: &query,
                headers: &headers,
            };
            let key = SigningKey {
                access_key_id: v["access_key_id"].as_str().unwrap(),
                secret_access_key: v["secret_access_key"].as_str().unwrap(),
            };
            let got = sign(
                &req,
                &key,
                v["timestamp"].as_str().unwrap(),
                v["expiration_seconds"].as_u64().unwrap(),
            );
            assert_eq!(got.canonical_request, s("canonical_request"), "{name}");
            assert_eq!(got.signing_key, s("signing_key"), "{name}");
            assert_eq!(got.authorization, s("authorization"), "{name}");
        }
    }
}
